"""Flag changes made here on their way to the mail server: the one owner of ``pending_flags``.

A person (or sending) changes read, flagged, answered or forwarded here; the column changes at
once and the change is noted in the message's ``pending_flags`` (``{"\\Seen": true, ...}``), then
pushed to the server with ``UID STORE``. Until the server has it:

- ``record`` notes it (and ``push_now`` tries at once, from the action);
- a sync pushes whatever is still noted for a folder (``push``), before it reads the server's flags;
- the server's flags never overwrite a message with a change still noted (``UNPUSHED`` is the
  condition ``store.apply_flags`` keeps to), so a change made while the server was unreachable
  is neither lost nor undone by the server's older state;
- once pushed, the note is cleared, unless the row was changed again meanwhile.

On Gmail, labels travel the same way: ``record_labels`` sets a message's labels here and notes
each one added or removed as ``{"X-GM-LABELS <name>": true|false}`` (``gmail.LABEL_KEY``), which
``push`` sends with ``UID STORE +X-GM-LABELS/-X-GM-LABELS``; until then the server's labels leave
the message's alone (``UNPUSHED`` again). Elsewhere labels are the person's own, kept here only.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from plugin_email_manager import imap_pool
from plugin_email_manager.mailsync import gmail

if TYPE_CHECKING:
    from asyncpg import Connection, Pool, Record

    from host.api import Host
    from plugin_email_manager.mailsync.imap import ImapSession

log = logging.getLogger(__name__)

# columns that mirror an IMAP flag; a person sets read and flagged, sending answered and forwarded
SERVER_FLAGS = {"read": "\\Seen", "flagged": "\\Flagged", "answered": "\\Answered", "forwarded": "$Forwarded"}
# a message whose server flags a sync may apply: nothing of its own waits to be pushed
UNPUSHED = "m.pending_flags IS NULL"


async def record(db: Pool | Connection, ids: list[int], column: str, value: bool) -> list[int]:
    """Set ``column`` (a key of ``SERVER_FLAGS``) of these messages here and note the change for
    the server. Answers the ids with a change to push (those on the server: a message with no UID,
    a draft being sent, has nothing to push)."""
    flag = SERVER_FLAGS[column]
    changed = await db.fetch(
        f"UPDATE mail_messages SET {column} = $2::boolean, pending_flags = coalesce(pending_flags, '{{}}'::jsonb) || "
        "jsonb_build_object($3::text, $2::boolean) WHERE id = ANY($1::bigint[]) AND uid IS NOT NULL RETURNING id",
        ids,
        value,
        flag,
    )
    await db.execute(f"UPDATE mail_messages SET {column} = $2 WHERE id = ANY($1::bigint[]) AND uid IS NULL", ids, value)
    return [r["id"] for r in changed]


async def record_labels(db: Pool, ids: list[int], labels: list[str]) -> list[int]:
    """Set the labels of these messages here (sorted, unique) and, for those on Gmail, note what
    was added and removed for the server. Answers the ids with a change to push."""
    wanted = sorted(set(labels))
    noted: list[int] = []
    async with db.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            f"SELECT m.id, coalesce(m.labels, '[]'::jsonb) AS labels, {gmail.ON_GMAIL} AS gmail "
            "FROM mail_messages m WHERE m.id = ANY($1::bigint[]) ORDER BY m.id FOR UPDATE",
            ids,
        )
        await conn.execute("UPDATE mail_messages SET labels = $2 WHERE id = ANY($1::bigint[])", ids, wanted)
        for row in rows:
            had = set(row["labels"]) if isinstance(row["labels"], list) else set()
            changes = {gmail.LABEL_KEY + name: True for name in set(wanted) - had}
            changes |= {gmail.LABEL_KEY + name: False for name in had - set(wanted)}
            if row["gmail"] and changes:
                await conn.execute(
                    "UPDATE mail_messages SET pending_flags = coalesce(pending_flags, '{}'::jsonb) || $2::jsonb "
                    "WHERE id = $1",
                    row["id"],
                    changes,
                )
                noted.append(row["id"])
    return noted


async def push(db: Pool | Connection, session: ImapSession, folder_id: int) -> int:
    """Push what is noted for the messages of the selected folder ``folder_id``; answers how many
    messages had a change. A failure raises and leaves everything noted."""
    rows = await _noted(db, folder_id)
    if rows:
        await _send(session, rows)
        await _clear(db, {row["id"]: row["pending_flags"] for row in rows})
    return len(rows)


async def push_now(host: Host, ids: list[int]) -> None:
    """Push the noted changes of these messages now, from an action, on a session the account
    keeps (``imap_pool``: marking ten messages in a row logs in once, not ten times); when the
    server can't be reached they stay noted and the next sync pushes them."""
    folders = await host.db.fetch(
        "SELECT DISTINCT f.id, f.name, f.account_id, f.uid_validity FROM mail_messages m "
        "JOIN mail_folders f ON f.id = m.folder_id WHERE m.id = ANY($1::bigint[]) AND m.pending_flags IS NOT NULL",
        ids,
    )
    by_account: dict[int, list] = {}
    for f in folders:
        by_account.setdefault(f["account_id"], []).append(f)
    for account_id, account_folders in by_account.items():
        noted = [(f, await _noted(host.db, f["id"])) for f in account_folders]
        try:
            sent = await imap_pool.of(host).run(
                account_id, functools.partial(_send_kept, noted), folder=account_folders[0]["name"]
            )
        except Exception as e:  # kept noted: the next sync pushes it
            log.warning("account %s: flags or labels not pushed yet (%s: %s)", account_id, type(e).__name__, e)
            continue
        await _clear(host.db, {row["id"]: row["pending_flags"] for row in sent})


async def _send_kept(noted: list[tuple[Record, list[Record]]], lease: imap_pool.Lease) -> list[Record]:
    """``_send`` of each folder's noted changes on a kept session; answers the rows sent."""
    sent: list[Record] = []
    for folder, rows in noted:
        if rows and await lease.select(folder["name"], folder["uid_validity"]):
            await _send(lease.session, rows)
            sent += rows
        # else its UIDs name other messages now: the next sync reads the folder again
    return sent


async def _noted(db: Pool | Connection, folder_id: int) -> list[Record]:
    """The messages of this folder with a change noted for the server."""
    return await db.fetch(
        "SELECT id, uid, pending_flags FROM mail_messages "
        "WHERE folder_id = $1 AND pending_flags IS NOT NULL AND uid IS NOT NULL",
        folder_id,
    )


async def _send(session: ImapSession, rows: list[Record]) -> None:
    """``UID STORE`` of these noted changes, one command per flag or label and direction, in the
    folder selected (read-write). Safe to send twice: it sets what is set already."""
    by_change: dict[tuple[str, bool], list[int]] = {}
    for row in rows:
        for flag, on in row["pending_flags"].items():
            by_change.setdefault((flag, bool(on)), []).append(row["uid"])
    for (flag, on), uids in by_change.items():
        if flag.startswith(gmail.LABEL_KEY):
            label = flag[len(gmail.LABEL_KEY) :]
            await session.store_labels(uids, add=[label] if on else [], remove=[] if on else [label])
        else:
            await session.store_flags(uids, add=[flag] if on else [], remove=[] if on else [flag])


async def _clear(db: Pool | Connection, sent: dict[int, dict]) -> None:
    """Forget pushed changes, unless the row was changed again meanwhile (compare what was sent)."""
    for id_, changes in sent.items():
        await db.execute(
            "UPDATE mail_messages SET pending_flags = NULL WHERE id = $1 AND pending_flags = $2::jsonb", id_, changes
        )
