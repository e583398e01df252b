"""Placing: assigning stored (or about to be stored) messages to their conversations.

``rules`` decides in memory; this module reads what it needs (the messages, the Message-IDs
already known, the candidate conversations) and writes the outcome to ``mail_threads``,
``mail_thread_ids`` and each message's ``thread_id``. From there, triggers on ``mail_messages``
keep each conversation's newest message (``mail_thread_heads``) and the views' counts up to date
(``migrations/002_conversations.sql``, ``004_conversation_counts.sql``).

``assign_threads`` runs in the caller's transaction, right after the rows are inserted, under
a per-account advisory lock (a send storing its copy and a sync never interleave); the sync calls
``thread_ids_for`` instead, before its INSERT, and inserts its rows with their ``thread_id``. A
batch costs a fixed handful of statements, whatever its size.
"""

from __future__ import annotations

import json
from datetime import timezone
from typing import TYPE_CHECKING, Any

from plugin_email_manager.conversations.rules import EPOCH, WINDOW, Batch, ThreadFacts, message_of
from plugin_email_manager.conversations.sql import (
    CANDIDATES,
    LOAD,
    MERGE_IDS,
    MERGE_MESSAGES,
    SET_IDS,
    SET_MESSAGES,
    UPSERT_THREADS,
)
from plugin_email_manager.mailsync.store import keyed_lookups

if TYPE_CHECKING:
    from asyncpg import Connection, Record

LOCK_CLASS = 0x6D746872  # "mthr": the first key of pg_advisory_xact_lock(int, int)


async def lock_account(conn: Connection, account_id: int) -> None:
    """The per-account lock every change of conversations takes (until the transaction ends)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1::int, $2::int)", LOCK_CLASS, account_id % 2147483647)


async def assign_threads(conn: Connection, account_id: int, message_ids: list[int]) -> None:
    """Set ``thread_id`` of these just-stored messages of one account (in the caller's transaction).

    Messages of another account among ``message_ids`` are ignored; calling it again for a
    message already placed is harmless (it may merge conversations its ids link).
    """
    message_ids = list(dict.fromkeys(message_ids))
    if not message_ids:
        return
    await lock_account(conn, account_id)
    rows = await conn.fetch(LOAD, account_id, message_ids)
    if not rows:
        return
    batch = await _decide(conn, account_id, rows)
    await _write(conn, account_id, batch)


async def thread_ids_for(conn: Connection, account_id: int, rows: list[dict]) -> list[int]:
    """The conversations of messages about to be inserted (``mail_messages`` row dicts of the
    sync: message_id, in_reply_to, refs, provider_thread_id, subject, from/to/cc, date), in
    their order; threads and Message-ID links are written here, in the caller's transaction.

    The same decisions as ``assign_threads``, made before the INSERT, so that each new row is
    written once, with its ``thread_id``, instead of inserted and then updated (a second write
    of every row, and not a HOT one: ``thread_id`` is indexed). The caller inserts every row.
    """
    if not rows:
        return []
    await lock_account(conn, account_id)
    batch = await _decide(conn, account_id, [_unstored(i, r) for i, r in enumerate(rows)])
    placed = await _write(conn, account_id, batch, set_messages=False)
    return [placed[i] for i in range(len(rows))]


def _text(value: Any) -> str | None:
    """A JSON value as ``->>`` reads it."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _unstored(index: int, row: dict) -> dict:
    """What ``LOAD`` reads of a stored row, from a row not stored yet (its index as its id:
    ids grow in insertion order, so the tie-break of equal dates stays the same)."""
    refs = row.get("refs")
    people = [e for v in (row.get("to_addrs"), row.get("cc_addrs")) if isinstance(v, list) for e in v]
    sender = row.get("from_addr")
    if isinstance(sender, dict):
        people.append(sender)
    date = row.get("date")
    if date is not None and date.tzinfo is None:
        date = date.replace(tzinfo=timezone.utc)
    return {
        "id": index,
        "message_id": row.get("message_id"),
        "in_reply_to": row.get("in_reply_to"),
        "provider_thread_id": row.get("provider_thread_id"),
        "subject": row.get("subject"),
        "date": date,
        "thread_id": None,
        "refs": [_text(r) for r in refs] if isinstance(refs, list) else [],
        "addrs": [
            address.lower() for e in people if isinstance(e, dict) and (address := _text(e.get("address"))) is not None
        ],
    }


async def _decide(conn: Connection, account_id: int, rows: list[Record]) -> Batch:
    """Place these messages (``LOAD`` rows) among the account's conversations, in memory."""
    account = await conn.fetchrow(
        "SELECT lower(email) AS email, lower(username) AS username FROM mail_accounts WHERE id = $1", account_id
    )
    own_addresses = {a for a in (account["email"], account["username"]) if a and "@" in a} if account else set()
    messages = sorted(
        (message_of(r, own_addresses) for r in rows), key=lambda m: (m.date or EPOCH, m.id)
    )  # parents before replies, mostly
    keys = sorted({k for m in messages for k in m.keys})
    subject_keys = sorted({m.key for m in messages if m.key})
    dates = [m.date for m in messages if m.date is not None]
    threads: dict[int, ThreadFacts] = {}
    async with keyed_lookups(conn):
        known = (
            {
                r["message_id"]: r["thread_id"]
                for r in await conn.fetch(
                    "SELECT message_id, thread_id FROM mail_thread_ids WHERE account_id = $1 "
                    "AND message_id = ANY($2::text[])",
                    account_id,
                    keys,
                )
            }
            if keys
            else {}
        )
        linked = sorted(set(known.values()) | {m.thread_id for m in messages if m.thread_id})
        if linked or (subject_keys and dates):
            low, high = (min(dates) - WINDOW, max(dates) + WINDOW) if dates else (None, None)
            for r in await conn.fetch(CANDIDATES, account_id, linked, subject_keys, low, high):
                threads[r["id"]] = ThreadFacts(
                    r["id"],
                    set(r["subject_keys"]),
                    set(r["participants"]),
                    r["has_root"],
                    r["first_date"],
                    r["last_date"],
                )
    batch = Batch(known, threads)
    for m in messages:
        batch.place(m)
    return batch


async def _write(conn: Connection, account_id: int, batch: Batch, *, set_messages: bool = True) -> dict[int, int]:
    """Apply a batch's decisions; answers message id -> its conversation. ``set_messages=False``
    leaves the messages' own ``thread_id`` to the caller (rows not inserted yet)."""
    roots = {t for t in batch.threads if batch.find(t) == t and batch.threads[t].touched}
    fresh = sorted((t for t in roots if t < 0), reverse=True)
    real: dict[int, int] = {}
    if fresh:
        got = await conn.fetch("SELECT nextval('mail_threads_id_seq') AS id FROM generate_series(1, $1)", len(fresh))
        real = {t: r["id"] for t, r in zip(fresh, got)}

    def final(t: int) -> int:
        t = batch.find(t)
        return real.get(t, t)

    upsert = [batch.threads[t] for t in roots]
    await conn.execute(
        UPSERT_THREADS,
        account_id,
        [final(t.id) for t in upsert],
        [json.dumps(sorted(t.keys)) for t in upsert],
        [json.dumps(sorted(t.people)) for t in upsert],
        [t.has_root for t in upsert],
        [t.first for t in upsert],
        [t.last for t in upsert],
    )
    losers = [t for t in batch.parent if t > 0]
    if losers:
        winners = [final(t) for t in losers]
        await conn.execute(MERGE_IDS, losers, winners)
        await conn.execute(MERGE_MESSAGES, losers, winners)
        await conn.execute("DELETE FROM mail_threads WHERE id = ANY($1::bigint[])", losers)
    placed = {i: final(t) for i, t in batch.assigned.items()}
    if set_messages:
        ids = list(placed)
        await conn.execute(SET_MESSAGES, ids, [placed[i] for i in ids])
    keys = sorted(batch.ids_touched)
    if keys:
        await conn.execute(SET_IDS, account_id, keys, [final(batch.known[k]) for k in keys])
    return placed


async def rebuild_threads(conn: Connection, account_id: int, batch_size: int = 1000) -> None:
    """Thread every message of an account again from scratch (after a resync or a rule change)."""
    await lock_account(conn, account_id)
    await conn.execute(
        "UPDATE mail_messages SET thread_id = NULL WHERE account_id = $1 AND thread_id IS NOT NULL", account_id
    )
    await conn.execute("DELETE FROM mail_thread_ids WHERE account_id = $1", account_id)
    await conn.execute("DELETE FROM mail_threads WHERE account_id = $1", account_id)
    ids = [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM mail_messages WHERE account_id = $1 ORDER BY date NULLS FIRST, id", account_id
        )
    ]
    for start in range(0, len(ids), batch_size):
        await assign_threads(conn, account_id, ids[start : start + batch_size])
