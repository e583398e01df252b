"""Process configuration read once at start-up (``email-center serve`` flags and environment).

Every variable is checked here, before anything starts: a malformed one is a ``ConfigError``
naming the variable and what it must be (the command line prints it as one line, exit status 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from host.errors import ConfigError


def _whole(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ConfigError(f"{name} must be a whole number of at least {minimum} (it is {raw!r})")
    return value


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    try:
        parts = urlsplit(raw)
        ok = parts.scheme in schemes and bool(parts.hostname or parts.path or parts.query)
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(
            f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)} (it is {raw!r})"
        )
    return raw


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
    def from_environment(cls, env: Mapping[str, str] | None = None, **overrides) -> "Config":
        env = os.environ if env is None else env
        extra = [Path(p) for p in env.get("EMAIL_CENTER_PLUGINS", "").split(os.pathsep) if p.strip()]
        for path in extra:
            if not path.is_file():
                raise ConfigError(f"EMAIL_CENTER_PLUGINS must list plugin.toml files ({str(path)!r} is not one)")
        root_email = env.get("INIT_ROOT_EMAIL", "admin@nocobase.com").strip()
        if "@" not in root_email or any(c.isspace() for c in root_email):
            raise ConfigError(f"INIT_ROOT_EMAIL must be an email address (it is {root_email!r})")
        cfg = cls(
            database_url=_url(env, "EMAIL_CENTER_DATABASE_URL", ("postgresql", "postgres")),
            storage=Path(env.get("EMAIL_CENTER_STORAGE", "storage")),
            plugin_manifests=extra,
            root_email=root_email,
            root_password=env.get("INIT_ROOT_PASSWORD") or None,
            token_ttl=_whole(env, "EMAIL_CENTER_TOKEN_TTL", 7 * 24 * 3600),
            public_url=_url(env, "EMAIL_CENTER_PUBLIC_URL", ("http", "https")),
        )
        for name, value in overrides.items():
            if value is not None:
                setattr(cfg, name, value)
        return cfg

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
