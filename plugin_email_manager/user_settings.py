"""A person's own mail settings (``mailUserSettings``, one row per user, none until changed):
the SQL that reads them with their defaults and writes them. ``undoSendSeconds`` holds every
plain send that long (``sending.hold_until``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from host.errors import BadRequest

if TYPE_CHECKING:
    from asyncpg import Connection, Pool

DEFAULTS: dict[str, Any] = {"undoSendSeconds": 0}
UNDO_MAX = 30


async def of(db: Pool | Connection, user_id: int) -> dict[str, Any]:
    """The user's settings, the defaults where none is stored."""
    row = await db.fetchrow("SELECT undo_send_seconds FROM mail_user_settings WHERE user_id = $1", user_id)
    if row is None:
        return dict(DEFAULTS)
    return {"undoSendSeconds": row["undo_send_seconds"] or 0}


def check(values: dict[str, Any]) -> dict[str, Any]:
    """The settings a caller may change, checked: answers them; else 400."""
    unknown = set(values) - set(DEFAULTS)
    if unknown:
        name = min(unknown)
        raise BadRequest(f"Unknown setting {name!r}.", code="INVALID_VALUE", field=name)
    out = {}
    if "undoSendSeconds" in values:
        v = values["undoSendSeconds"]
        if isinstance(v, str) and v.strip().isdigit():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= UNDO_MAX:
            raise BadRequest(
                f"undoSendSeconds must be a whole number from 0 to {UNDO_MAX}.",
                code="INVALID_VALUE",
                field="undoSendSeconds",
            )
        out["undoSendSeconds"] = v
    return out


async def save(db: Pool | Connection, user_id: int, values: dict[str, Any]) -> None:
    if "undoSendSeconds" in values:
        await db.execute(
            "INSERT INTO mail_user_settings (user_id, undo_send_seconds) VALUES ($1, $2) "
            "ON CONFLICT (user_id) DO UPDATE SET undo_send_seconds = EXCLUDED.undo_send_seconds",
            user_id,
            values["undoSendSeconds"],
        )
