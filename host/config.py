"""Process configuration read once at start-up (``email-center serve`` flags and environment)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def data_dir() -> Path:
    """Where ``collections/`` and ``plugin.toml`` are: the wheel's data folder, else the checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "email_center_data", here.parent):
        if (candidate / "collections").is_dir():
            return candidate
    raise FileNotFoundError("the collections/ folder was not found beside the host package")


@dataclass
class Config:
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 13000
    storage: Path = field(default_factory=lambda: Path("storage"))
    # extra plugin manifests (plugin.toml paths) besides the entry-point group
    plugin_manifests: list[Path] = field(default_factory=list)
    entry_points: bool = True
    root_email: str = "admin@nocobase.com"
    root_password: str | None = None
    token_ttl: int = 7 * 24 * 3600
    public_url: str | None = None

    @classmethod
    def from_environment(cls, **overrides) -> "Config":
        env = os.environ
        extra = [Path(p) for p in env.get("EMAIL_CENTER_PLUGINS", "").split(os.pathsep) if p.strip()]
        cfg = cls(
            database_url=env.get("EMAIL_CENTER_DATABASE_URL") or None,
            storage=Path(env.get("EMAIL_CENTER_STORAGE", "storage")),
            plugin_manifests=extra,
            root_email=env.get("INIT_ROOT_EMAIL", "admin@nocobase.com"),
            root_password=env.get("INIT_ROOT_PASSWORD") or None,
            token_ttl=int(env.get("EMAIL_CENTER_TOKEN_TTL", 7 * 24 * 3600)),
            public_url=env.get("EMAIL_CENTER_PUBLIC_URL") or None,
        )
        for name, value in overrides.items():
            if value is not None:
                setattr(cfg, name, value)
        return cfg

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
