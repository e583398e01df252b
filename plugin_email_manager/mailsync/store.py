"""SQL for the sync engine: folders, their sync state, and the messages fetched into them.

A message row is written in one statement with its raw bytes and the fields read from its
headers (stage 1), so it is listable at once; the parse pass decodes the rest later.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterable

from plugin_email_manager.mailsync import gmail, pending_flags
from plugin_email_manager.mailsync.imap import FlagUpdate

if TYPE_CHECKING:
    from asyncpg import Connection, Pool, Record

FOLDER_COLUMNS = (
    "id, account_id, name, delimiter, type, special_use, uid_validity, uid_next, "
    "highest_modseq, synced_down_to, last_seen_uid, synced_at"
)


@dataclass
class FolderState:
    id: int
    name: str
    type: str
    uid_validity: int | None
    uid_next: int | None
    highest_modseq: int | None
    last_seen_uid: int | None
    special_use: str | None = None


def _state(row: Record) -> FolderState:
    return FolderState(
        id=row["id"],
        name=row["name"],
        type=row["type"],
        uid_validity=row["uid_validity"],
        uid_next=row["uid_next"],
        highest_modseq=row["highest_modseq"],
        last_seen_uid=row["last_seen_uid"],
        special_use=row["special_use"],
    )


async def upsert_folders(
    conn: Connection, account_id: int, folders: Iterable[tuple[str, str | None, str, str | None]]
) -> list[FolderState]:
    """Record the server's folders ``(name, delimiter, type, special_use)``; answers their states.

    A folder gone from the server is removed here with its messages.
    """
    folders = list(folders)
    names = [f[0] for f in folders]
    await conn.execute(
        "DELETE FROM mail_folders WHERE account_id = $1 AND NOT (name = ANY($2::text[]))", account_id, names
    )
    for name, delimiter, type_, special in folders:
        await conn.execute(
            "INSERT INTO mail_folders (account_id, name, delimiter, type, special_use) "
            "SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS "
            "(SELECT 1 FROM mail_folders WHERE account_id = $1 AND name = $2)",
            account_id,
            name,
            delimiter,
            type_,
            special,
        )
        await conn.execute(
            "UPDATE mail_folders SET type = $3, special_use = $4 WHERE account_id = $1 AND name = $2",
            account_id,
            name,
            type_,
            special,
        )
    rows = await conn.fetch(f"SELECT {FOLDER_COLUMNS} FROM mail_folders WHERE account_id = $1", account_id)
    order = {n: i for i, n in enumerate(names)}
    return sorted((_state(r) for r in rows), key=lambda s: order.get(s.name, 1 << 30))


async def reset_folder(conn: Connection, folder_id: int, uid_validity: int | None) -> int:
    """UIDVALIDITY changed: every stored UID of the folder is void. Drop its messages, start again."""
    deleted = await conn.fetchval(
        "WITH d AS (DELETE FROM mail_messages WHERE folder_id = $1 AND outbox IS NULL RETURNING 1) "
        "SELECT count(*) FROM d",
        folder_id,
    )
    await conn.execute(
        "UPDATE mail_folders SET uid_validity = $2, uid_next = NULL, highest_modseq = NULL, "
        "last_seen_uid = NULL, synced_down_to = NULL WHERE id = $1",
        folder_id,
        uid_validity,
    )
    return deleted


async def reset_account(conn: Connection, account_id: int) -> int:
    """A re-sync from scratch: the account's synced messages go (its drafts and sends in the outbox
    stay) and every folder's state is reset, so the next sync fetches every message again."""
    deleted = await conn.fetchval(
        "WITH d AS (DELETE FROM mail_messages WHERE account_id = $1 AND outbox IS NULL AND folder_id IS NOT NULL "
        "RETURNING 1) SELECT count(*) FROM d",
        account_id,
    )
    await conn.execute(
        "UPDATE mail_folders SET uid_validity = NULL, uid_next = NULL, highest_modseq = NULL, "
        "last_seen_uid = NULL, synced_down_to = NULL WHERE account_id = $1",
        account_id,
    )
    return deleted


async def save_folder_state(conn: Pool | Connection, folder_id: int, **values: Any) -> None:
    cols = list(values)
    sets = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(cols))
    await conn.execute(f"UPDATE mail_folders SET {sets} WHERE id = $1", folder_id, *values.values())


@contextlib.asynccontextmanager
async def keyed_lookups(conn: Connection) -> AsyncIterator[None]:
    """Plan the reads inside for their own parameters, by index (in the caller's transaction).

    asyncpg prepares its statements, and after five runs PostgreSQL may keep one generic plan
    per connection. A first sync starts on empty tables, so that plan is a sequential scan, and
    it stays one while the tables grow: each ``message_id = ANY($2)`` probe of a batch then
    compared every key with every row, growing with the mailbox. Custom plans alone are not
    enough for the conversation candidates: the planner prices ``subject_keys && <250 keys>`` as
    one comparison a row and scans a young table, where the GIN index answers in a fraction of
    the time (bench/README.md has the figures). The reads of a batch each fetch a handful of rows
    by key, so sequential scans are off for them. Writes come after, with cached plans again:
    forced custom plans also replan the foreign-key checks of every inserted row."""
    await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL enable_seqscan = off")
    yield
    # not in a finally: after an error the transaction is aborted and refuses any statement
    await conn.execute("SET LOCAL plan_cache_mode TO DEFAULT; SET LOCAL enable_seqscan TO DEFAULT")


async def refresh_statistics(conn: Pool | Connection) -> None:
    """Fresh planner statistics for the tables a first sync grows from nothing faster than
    autovacuum (a minute's nap) notices. Planned on the numbers of empty tables, the candidate
    lookup walked every conversation of the account through its ``account_id`` index, and the
    batch's own checks (stored UIDs, local copies to adopt) slowed as the mailbox grew
    (bench/README.md has the figures). ANALYZE samples and skips wide values without reading
    them, so it is cheap even on mail_messages."""
    await conn.execute("ANALYZE mail_threads, mail_thread_ids, mail_messages")


async def stored_uids(conn: Pool | Connection, folder_id: int) -> set[int]:
    rows = await conn.fetch("SELECT uid FROM mail_messages WHERE folder_id = $1 AND uid IS NOT NULL", folder_id)
    return {r["uid"] for r in rows}


async def stored_among(conn: Pool | Connection, folder_id: int, uids: list[int]) -> set[int]:
    """Which of these UIDs of the folder are stored."""
    if not uids:
        return set()
    rows = await conn.fetch(
        "SELECT uid FROM mail_messages WHERE folder_id = $1 AND uid = ANY($2::bigint[])", folder_id, uids
    )
    return {r["uid"] for r in rows}


async def count_stored(conn: Pool | Connection, folder_id: int) -> int:
    return await conn.fetchval("SELECT count(*) FROM mail_messages WHERE folder_id = $1 AND uid IS NOT NULL", folder_id)


INSERT = """
INSERT INTO mail_messages (account_id, folder_id, uid, type, message_id, in_reply_to, refs, provider_thread_id,
  subject, from_addr, to_addrs, cc_addrs, bcc_addrs, reply_to_addrs, date, read, flagged, answered, forwarded,
  has_attachments, size, flags, modseq, parse_state, raw, snippet, thread_id, texts, text_structure)
SELECT $1, $2, x.uid, coalesce(x.type, $3), x.message_id, x.in_reply_to, x.refs::jsonb, x.provider_thread_id, x.subject,
  x.from_addr::jsonb, x.to_addrs::jsonb, x.cc_addrs::jsonb, x.bcc_addrs::jsonb, x.reply_to_addrs::jsonb, x.date, x.read,
  x.flagged, x.answered, x.forwarded, x.has_attachments, x.size, x.flags::jsonb, x.modseq, 'pending', x.raw, x.snippet,
  x.thread_id, x.texts, x.text_structure::jsonb
FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
  $12::text[], $13::text[], $14::text[], $15::timestamptz[], $16::bool[], $17::bool[], $18::bool[], $19::bool[],
  $20::bool[], $21::int[], $22::text[], $23::bigint[], $24::bytea[], $25::text[], $26::text[], $27::bigint[],
  $28::bytea[], $29::text[])
  AS x(uid, message_id, in_reply_to, refs, provider_thread_id, subject, from_addr, to_addrs, cc_addrs, bcc_addrs,
  reply_to_addrs, date, read, flagged, answered, forwarded, has_attachments, size, flags, modseq, raw, snippet, type,
  thread_id, texts, text_structure)
ON CONFLICT (folder_id, uid) DO NOTHING
RETURNING id
"""

# json columns travel as text: asyncpg would read a list inside an array parameter as a dimension
JSON_COLUMNS = {"refs", "from_addr", "to_addrs", "cc_addrs", "bcc_addrs", "reply_to_addrs", "flags", "text_structure"}
COLUMNS = (
    "uid",
    "message_id",
    "in_reply_to",
    "refs",
    "provider_thread_id",
    "subject",
    "from_addr",
    "to_addrs",
    "cc_addrs",
    "bcc_addrs",
    "reply_to_addrs",
    "date",
    "read",
    "flagged",
    "answered",
    "forwarded",
    "has_attachments",
    "size",
    "flags",
    "modseq",
    "raw",
    "snippet",
    "type",
    "thread_id",
    "texts",
    "text_structure",
)


async def insert_messages(
    conn: Connection, account_id: int, folder_id: int, folder_type: str, rows: list[dict], *, adopt: bool = True
) -> list[int]:
    """Insert fetched messages (dicts keyed by COLUMNS; ``thread_id`` may be set already); a UID
    already stored is skipped. Answers new ids. ``adopt=False``: the caller ran ``unstored``."""
    if adopt:
        rows = await _adopt_local_copies(conn, account_id, folder_id, rows)
    if not rows:
        return []
    arrays = [[_json(r.get(c)) for r in rows] if c in JSON_COLUMNS else [r.get(c) for r in rows] for c in COLUMNS]
    records = await conn.fetch(INSERT, account_id, folder_id, folder_type, *arrays)
    labelled = [r for r in rows if r.get("labels")]  # Gmail's user labels (gmail.user_labels)
    if labelled and records:
        await conn.execute(
            "UPDATE mail_messages m SET labels = x.labels::jsonb "
            "FROM unnest($2::bigint[], $3::text[]) AS x(uid, labels) "
            "WHERE m.folder_id = $1 AND m.uid = x.uid AND m.id = ANY($4::bigint[])",
            folder_id,
            [r["uid"] for r in labelled],
            [_json(r["labels"]) for r in labelled],
            [r["id"] for r in records],
        )
    return [r["id"] for r in records]


LISTED_ATTACHMENTS = """
INSERT INTO mail_attachments (mail_message_id, filename, content_type, size, content_id, inline, section, encoding)
SELECT m.id, x.filename, x.content_type, x.size, x.content_id, x.inline, x.section, x.encoding
FROM unnest($2::bigint[], $3::text[], $4::text[], $5::int[], $6::text[], $7::bool[], $8::text[], $9::text[])
  AS x(uid, filename, content_type, size, content_id, inline, section, encoding)
JOIN mail_messages m ON m.folder_id = $1 AND m.uid = x.uid AND m.id = ANY($10::bigint[])
"""


async def insert_listed_attachments(conn: Connection, folder_id: int, ids: list[int], rows: list[dict]) -> None:
    """The attachments a headers-first sync read from the structure of the rows just inserted
    (``ids``): names, types, sizes and sections, their bytes fetched when first wanted
    (``bodies.attachment_bytes``)."""
    files = [(r["uid"], a) for r in rows for a in r.get("attachments") or ()]
    if not files or not ids:
        return
    await conn.execute(
        LISTED_ATTACHMENTS,
        folder_id,
        [uid for uid, _ in files],
        *([a[k] for _, a in files] for k in ("filename", "contentType", "size", "contentId", "inline")),
        [a["section"] for _, a in files],
        [a["encoding"] for _, a in files],
        ids,
    )


async def unstored(conn: Connection, account_id: int, folder_id: int, rows: list[dict]) -> list[dict]:
    """The fetched rows still to insert: local copies adopted (see below), UIDs stored meanwhile
    left out (so that what is threaded before the INSERT is exactly what it inserts)."""
    rows = await _adopt_local_copies(conn, account_id, folder_id, rows)
    if not rows:
        return rows
    taken = await stored_among(conn, folder_id, [r["uid"] for r in rows])
    return [r for r in rows if r["uid"] not in taken] if taken else rows


_ENCODE = json.JSONEncoder(ensure_ascii=False).encode
# _ENCODE's own C encoder, made once: JSONEncoder.encode makes one a value (a third of building
# a batch's INSERT arrays). Without the check for circular lists, which parsed mail cannot hold.
_MAKE_ENCODER = getattr(json.encoder, "c_make_encoder", None)  # None without the C accelerator
_C_ENCODE = (
    _MAKE_ENCODER(
        None, json.JSONEncoder().default, json.encoder.encode_basestring, None, ": ", ", ", False, False, True
    )
    if _MAKE_ENCODER is not None
    else None
)


def _json(value: Any) -> str | None:
    """A JSON column's text: what ``json.dumps(value, ensure_ascii=False)`` writes, sooner."""
    if value is None:
        return None
    if _C_ENCODE is None or isinstance(value, str):
        return _ENCODE(value)
    if value == []:
        return "[]"
    return "".join(_C_ENCODE(value, 0))


async def _adopt_local_copies(conn: Connection, account_id: int, folder_id: int, rows: list[dict]) -> list[dict]:
    """A message sent from here is stored at once without a UID; when the server files it (Sent
    folder, APPEND without UIDPLUS, Gmail's All Mail with the label \\Sent), the fetched copy of
    the same type takes over that row instead of a duplicate."""
    ids = [r["message_id"] for r in rows if r.get("message_id")]
    if not ids:
        return rows
    adopted = await conn.fetch(
        "WITH x AS (SELECT * FROM unnest($3::text[], $4::bigint[], $5::text[]) AS x(message_id, uid, type)) "
        "UPDATE mail_messages m SET folder_id = $2, uid = x.uid FROM x "
        "WHERE m.account_id = $1 AND m.uid IS NULL AND m.outbox IS NULL AND m.message_id = x.message_id "
        "AND m.type = coalesce(x.type, (SELECT type FROM mail_folders WHERE id = $2)) RETURNING x.uid",
        account_id,
        folder_id,
        [r.get("message_id") for r in rows],
        [r["uid"] for r in rows],
        [r.get("type") for r in rows],
    )
    taken = {r["uid"] for r in adopted}
    return [r for r in rows if r["uid"] not in taken] if taken else rows


async def delete_uids(
    conn: Pool | Connection, folder_id: int, uids: Iterable[int], *, gone: list[dict] | None = None
) -> int:
    """Delete these UIDs of the folder; ``gone`` collects the rows as they were (for events)."""
    uids = list(uids)
    if not uids:
        return 0
    rows = await conn.fetch(
        "DELETE FROM mail_messages WHERE folder_id = $1 AND uid = ANY($2::bigint[]) "
        "RETURNING id, account_id, folder_id, type, message_id, thread_id, subject, date",
        folder_id,
        uids,
    )
    if gone is not None:
        gone += [
            {
                "id": r["id"],
                "accountId": r["account_id"],
                "folderId": r["folder_id"],
                "type": r["type"],
                "messageId": r["message_id"],
                "threadId": r["thread_id"],
                "subject": r["subject"],
                "date": r["date"].isoformat() if r["date"] else None,
            }
            for r in rows
        ]
    return len(rows)


async def apply_flags(
    conn: Pool | Connection,
    folder_id: int,
    changes: list[FlagUpdate],
    folder_type: str | None = None,
    *,
    changed: list[tuple[int, tuple[str, ...]]] | None = None,
) -> int:
    """Server flags into read/flagged/answered; a message with a change still to push keeps its
    own (``pending_flags.UNPUSHED``). On Gmail, a change may carry labels: with ``folder_type``
    (the folder's own type) they give the message's type, so archiving or moving it there moves
    it here, and the person's own labels among them are the message's ``labels``
    (``gmail.user_labels``). ``changed`` collects (message id, what changed of "read", "flagged",
    "moved", "labels") for events."""
    if not changes:
        return 0
    uids = [c.uid for c in changes]
    flags = [_json(list(c.flags)) for c in changes]
    modseqs = [c.modseq for c in changes]
    types = [
        gmail.type_from_labels(c.labels, folder_type) if folder_type and c.labels is not None else None for c in changes
    ]
    labels = [_json(gmail.user_labels(c.labels)) if c.labels is not None else None for c in changes]
    rows = await conn.fetch(
        f"""
        WITH x AS (SELECT uid, flags::jsonb AS flags, modseq, type, labels::jsonb AS labels
                   FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[])
                   AS x(uid, flags, modseq, type, labels)),
        u AS (
          UPDATE mail_messages m SET flags = x.flags, modseq = coalesce(x.modseq, m.modseq),
            read = x.flags ? '\\Seen', flagged = x.flags ? '\\Flagged', answered = x.flags ? '\\Answered',
            forwarded = x.flags ? '$Forwarded', type = coalesce(x.type, m.type),
            labels = CASE WHEN x.labels = coalesce(m.labels, '[]') THEN m.labels ELSE coalesce(x.labels, m.labels) END
          FROM x, mail_messages o WHERE o.id = m.id AND m.folder_id = $1 AND m.uid = x.uid
            AND {pending_flags.UNPUSHED}
            AND (m.flags IS DISTINCT FROM x.flags OR m.type IS DISTINCT FROM coalesce(x.type, m.type)
                 OR x.labels <> coalesce(m.labels, '[]'))
          RETURNING m.id, o.read IS DISTINCT FROM m.read AS read, o.flagged IS DISTINCT FROM m.flagged AS flagged,
            o.type IS DISTINCT FROM m.type AS moved, o.labels IS DISTINCT FROM m.labels AS labels)
        SELECT * FROM u""",
        folder_id,
        uids,
        flags,
        modseqs,
        types,
        labels,
    )
    if changed is not None:
        for r in rows:
            what = tuple(c for c in ("read", "flagged", "moved", "labels") if r[c])
            if what:
                changed.append((r["id"], what))
    return len(rows)


def now() -> datetime:
    return datetime.now(timezone.utc)


def without_nul(value):
    """PostgreSQL text and jsonb refuse NUL characters; hostile mail carries them (in headers,
    bodies, file names). Strings, and the lists and dicts holding them, lose theirs."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, dict):
        return {k: without_nul(v) for k, v in value.items()}
    return value
