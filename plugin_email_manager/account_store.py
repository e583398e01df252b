"""The SQL of ``mail_accounts`` rows as the account actions change them: added (IMAP, or linked
through OAuth), changed, re-linked, removed. Connecting to an account's servers starts from
``connections.load_account``; the sync keeps its own state in ``mailsync/store.py``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncpg import Pool, Record

# columns a caller may set with ``update`` (names of mail_accounts' columns, never user input)
UPDATABLE_COLUMNS = {
    "display_name",
    "sync_since",
    "append_sent",
    "username",
    "imap_host",
    "imap_port",
    "imap_security",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "secret",
    "status",
    "error",
    "error_code",
}


async def record(db: Pool, account_id: int) -> Record | None:
    return await db.fetchrow("SELECT * FROM mail_accounts WHERE id = $1", account_id)


async def provider_of(db: Pool, account_id: int) -> str | None:
    return await db.fetchval("SELECT provider FROM mail_accounts WHERE id = $1", account_id)


async def insert_imap(
    db: Pool,
    user_id: int,
    *,
    email: str,
    display_name: str | None,
    username: str,
    servers: dict[str, Any],
    secret: str,
    sync_since: datetime | None,
    append_sent: bool,
) -> int:
    """An IMAP/SMTP account whose logins were checked; its first sync comes next (status syncing)."""
    return await db.fetchval(
        "INSERT INTO mail_accounts (user_id, provider, email, display_name, username, imap_host, imap_port, "
        "imap_security, smtp_host, smtp_port, smtp_security, secret, status, sync_since, append_sent, progress) "
        "VALUES ($1, 'imap', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'syncing', $12, $13, '{}'::jsonb) RETURNING id",
        user_id,
        email,
        display_name,
        username,
        servers["imap_host"],
        servers["imap_port"],
        servers["imap_security"],
        servers["smtp_host"],
        servers["smtp_port"],
        servers["smtp_security"],
        secret,
        sync_since,
        append_sent,
    )


async def update(db: Pool, account_id: int, sets: dict[str, Any]) -> None:
    """Set these columns (keys of ``UPDATABLE_COLUMNS``)."""
    unknown = set(sets) - UPDATABLE_COLUMNS
    if unknown:
        raise ValueError(f"not an updatable column: {sorted(unknown)}")
    columns = list(sets)
    await db.execute(
        f"UPDATE mail_accounts SET {', '.join(f'{c} = ${i + 2}' for i, c in enumerate(columns))} WHERE id = $1",
        account_id,
        *sets.values(),
    )


async def delete(db: Pool, ids: list[int]) -> int:
    """Remove these accounts; their folders, messages, attachments, logs and sync state go with
    them (foreign keys, on delete cascade). Answers how many were removed."""
    return await db.fetchval(
        "WITH d AS (DELETE FROM mail_accounts WHERE id = ANY($1::bigint[]) RETURNING 1) SELECT count(*) FROM d", ids
    )


async def linked_account(db: Pool, user_id: int, provider: str, account_id: int | None, email: str) -> int | None:
    """The account an OAuth link completes: the one being re-linked, else one of the same user,
    provider and mailbox (linking twice keeps one account)."""
    return await db.fetchval(
        "SELECT id FROM mail_accounts WHERE user_id = $1 AND provider = $2 AND (id = $3 OR lower(email) = lower($4)) "
        "ORDER BY (id = $3) DESC LIMIT 1",
        user_id,
        provider,
        account_id or 0,
        email,
    )


async def insert_linked(
    db: Pool,
    user_id: int,
    provider: str,
    *,
    email: str,
    display_name: str | None,
    servers: dict[str, Any],
    secret: str,
    sync_since: datetime | None = None,
) -> int:
    """A Google or Microsoft account whose tokens came back; its first sync comes next."""
    return await db.fetchval(
        "INSERT INTO mail_accounts (user_id, provider, email, display_name, username, imap_host, imap_port, "
        "imap_security, smtp_host, smtp_port, smtp_security, secret, status, sync_since, append_sent, progress) "
        "VALUES ($1, $2, $3, $4, $3, $5, $6, $7, $8, $9, $10, $11, 'syncing', $12, false, '{}'::jsonb) RETURNING id",
        user_id,
        provider,
        email,
        display_name,
        servers["imap_host"],
        servers["imap_port"],
        servers["imap_security"],
        servers["smtp_host"],
        servers["smtp_port"],
        servers["smtp_security"],
        secret,
        sync_since,
    )


async def relink(db: Pool, account_id: int, secret: str) -> None:
    """New tokens for the same mailbox: the account syncs again, its error forgotten."""
    await db.execute(
        "UPDATE mail_accounts SET secret = $2, status = 'syncing', error = NULL, error_code = NULL WHERE id = $1",
        account_id,
        secret,
    )
