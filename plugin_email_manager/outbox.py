"""Rows of messages written here: drafts, sends in progress or failed, and sent copies.

A message being sent is stored first (``outbox = 'sending'``) with the exact bytes and
Message-ID it will carry, so a failure leaves a draft to retry and a retry sends the same
message, never a second one. ``outbox`` is NULL once the server accepted it.
"""

from __future__ import annotations

import logging
from email import policy
from email.message import EmailMessage
from typing import TYPE_CHECKING

from plugin_email_manager import connections, conversations
from plugin_email_manager.mailparse.headers import parse_headers
from plugin_email_manager.mailsync.store import without_nul

if TYPE_CHECKING:
    from asyncpg import Pool, Record

    from host.api import Host

log = logging.getLogger(__name__)


async def folder_of(db: Pool, account_id: int, type_: str) -> Record | None:
    return await db.fetchrow(
        "SELECT id, name FROM mail_folders WHERE account_id = $1 AND type = $2 "
        "ORDER BY (special_use IS NOT NULL) DESC, id LIMIT 1",
        account_id,
        type_,
    )


async def store(
    db: Pool,
    account_id: int,
    msg: EmailMessage,
    *,
    type_: str,
    outbox: str | None,
    bcc: list[dict],
    text: str | None,
    html: str | None,
    draft_id: int | None = None,
) -> int:
    """Insert or replace (``draft_id``) the row of a message written here; answers its id."""
    raw = msg.as_bytes(policy=policy.SMTP)
    h = without_nul(parse_headers(raw))
    folder = await folder_of(db, account_id, type_)
    values = (
        h["messageId"],
        h["inReplyTo"],
        h["references"],
        h["subject"],
        h["from"],
        h["to"],
        h["cc"],
        without_nul(bcc),
        h["replyTo"],
        h["date"],
        raw,
        outbox,
        type_,
        folder["id"] if folder else None,
        without_nul(text),
        without_nul(html),
        bool(h["hasAttachments"]),
        len(raw),
    )
    async with db.acquire() as conn, conn.transaction():
        if draft_id is not None:
            await conn.execute(
                "UPDATE mail_messages SET message_id = $2, in_reply_to = $3, refs = $4, subject = $5, from_addr = $6, "
                "to_addrs = $7, cc_addrs = $8, bcc_addrs = $9, reply_to_addrs = $10, date = $11, raw = $12, "
                "outbox = $13, type = $14, folder_id = $15, text = $16, html = $17, has_attachments = $18, "
                "size = $19, parse_state = 'pending', uid = NULL, read = true WHERE id = $1",
                draft_id,
                *values,
            )
            message_id = draft_id
        else:
            message_id = await conn.fetchval(
                "INSERT INTO mail_messages (message_id, in_reply_to, refs, subject, from_addr, to_addrs, cc_addrs, "
                "bcc_addrs, reply_to_addrs, date, raw, outbox, type, folder_id, text, html, has_attachments, size, "
                "account_id, read, parse_state, flags) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
                "$14, $15, $16, $17, $18, $19, true, 'pending', '[\"\\\\Seen\"]'::jsonb) RETURNING id",
                *values,
                account_id,
            )
        await conversations.assign_threads(conn, account_id, [message_id])
        await conn.execute("UPDATE mail_accounts SET parse_pending = parse_pending + 1 WHERE id = $1", account_id)
    return message_id


async def mark(
    db: Pool, message_id: int, *, outbox: str | None, type_: str | None = None, folder_id: int | None = None
) -> None:
    if type_ is None:
        await db.execute("UPDATE mail_messages SET outbox = $2 WHERE id = $1", message_id, outbox)
    else:
        await db.execute(
            "UPDATE mail_messages SET outbox = $2, type = $3, folder_id = $4 WHERE id = $1",
            message_id,
            outbox,
            type_,
            folder_id,
        )


async def append(
    host: Host, account: connections.Account, message_id: int, folder_type: str, flags: list[str]
) -> int | None:
    """APPEND the stored bytes to the server's folder of ``folder_type``; record the UID it got.

    A failure is logged, not raised: the message is sent (or saved) already, and a later sync
    adopts the server's copy by its Message-ID.
    """
    row = await host.db.fetchrow("SELECT raw, date FROM mail_messages WHERE id = $1", message_id)
    folder = await folder_of(host.db, account.id, folder_type)
    if row is None or folder is None:
        return None
    try:
        session = await connections.open_imap(host, account, timeout=30)
        try:
            uid = await session.append(folder["name"], bytes(row["raw"]), flags, row["date"])
        finally:
            await session.logout()
    except Exception as e:
        log.warning("account %s: could not file message %s in %s: %s", account.id, message_id, folder["name"], e)
        return None
    if uid:
        await host.db.execute(
            "UPDATE mail_messages SET folder_id = $2, uid = $3 WHERE id = $1 AND NOT EXISTS "
            "(SELECT 1 FROM mail_messages WHERE folder_id = $2 AND uid = $3)",
            message_id,
            folder["id"],
            uid,
        )
    return uid


async def remove_server_copy(host: Host, account: connections.Account, message_id: int) -> None:
    """Delete a draft's copy in the server's Drafts folder (it was sent, or replaced)."""
    row = await host.db.fetchrow(
        "SELECT m.uid, f.name FROM mail_messages m JOIN mail_folders f ON f.id = m.folder_id "
        "WHERE m.id = $1 AND m.uid IS NOT NULL",
        message_id,
    )
    if row is None:
        return
    try:
        session = await connections.open_imap(host, account, timeout=30)
        try:
            await session.select(row["name"])
            await session.store_flags([row["uid"]], add=["\\Deleted"])
            await session.expunge([row["uid"]])
        finally:
            await session.logout()
    except Exception as e:
        log.warning("account %s: could not remove the draft copy of %s: %s", account.id, message_id, e)
