"""The asyncpg pool every part of the server shares.

json and jsonb columns come back as Python values and take Python values as parameters (one
codec here, so that no module decodes JSON by hand).
"""

from __future__ import annotations

import json

import asyncpg


async def _init(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=lambda v: json.dumps(v, ensure_ascii=False), decoder=json.loads, schema="pg_catalog"
        )


def unreachable(error: BaseException) -> bool:
    """Whether ``error`` means the database could not be reached (refused, reset, shutting down,
    recovering), not that a query was wrong: the API answers it as a 503, not a 500. A bare
    ``ConnectionError`` reaching an action's caller comes from here: mail and OAuth failures are
    wrapped in domain errors (``BadGateway``) first."""
    if isinstance(
        error,
        (
            asyncpg.PostgresConnectionError,
            asyncpg.CannotConnectNowError,
            asyncpg.AdminShutdownError,
            asyncpg.CrashShutdownError,
            ConnectionError,
        ),
    ):
        return True
    # asyncpg's own "the underlying connection is closed" (e.g. at the end of a transaction)
    return isinstance(error, asyncpg.InterfaceError) and "connection is closed" in str(error)


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=120,
        init=_init,
        server_settings={"application_name": "email-center"},
    )


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection with the same codecs as the pool."""
    conn = await asyncpg.connect(dsn, server_settings={"application_name": "email-center"})
    await _init(conn)
    return conn
