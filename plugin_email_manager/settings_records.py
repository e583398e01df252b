"""``mailSettings`` records as run-time settings: root's "general" record wins over the environment
and the file, and each OAuth provider gets a record with the real providers' values to complete."""

from __future__ import annotations

from typing import TYPE_CHECKING

from host.api import snake_case

if TYPE_CHECKING:
    from host.api import Host


async def load_overrides(host: Host) -> None:
    """Root's run-time values (the "general" record) win over the environment and the file."""
    values = await host.db.fetchval("SELECT \"values\" FROM mail_settings WHERE provider = 'general'")
    host.settings.set_overrides(values if isinstance(values, dict) else {})


SEEDED = (
    "authorizationUrl",
    "tokenUrl",
    "userinfoUrl",
    "scopes",
    "authParams",
    "imapHost",
    "imapPort",
    "imapSecurity",
    "smtpHost",
    "smtpPort",
    "smtpSecurity",
)


async def seed_providers(host: Host) -> None:
    """One record per OAuth provider, with the real providers' values, for root to complete."""
    for name, values in (host.settings.get("providers") or {}).items():
        cols = [snake_case(k) for k in SEEDED]
        args = [values.get(k) for k in SEEDED]
        marks = ", ".join(f"${i + 2}" for i in range(len(cols)))
        await host.db.execute(
            f"INSERT INTO mail_settings (provider, {', '.join(cols)}) VALUES ($1, {marks}) "
            "ON CONFLICT (provider) DO NOTHING",
            name,
            *args,
        )
