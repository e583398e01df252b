"""Sync of one IMAP folder into PostgreSQL.

    SELECT ──► UIDVALIDITY changed? ──yes──► drop the folder's rows, state reset ─┐
      │no (with QRESYNC: apply the flag changes it reported)                      │
      ▼◄──────────────────────────────────────────────────────────────────────────┘
    push read/flag changes made here (pending_flags)
      ▼
    QRESYNC and an earlier sync to build on:        otherwise, UID SEARCH ALL:
      VANISHED ──► deleted here                       stored − on server ──► deleted here
      UIDs above the last seen ──► fetched            wanted − stored    ──► fetched
      counts differ? ──► compare as on the right      flags: CONDSTORE CHANGEDSINCE the stored
      ▼                                               HIGHESTMODSEQ, else the newest ones
    save UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, last seen UID

Fetching goes newest first, in batches; each batch is one transaction (rows + threads), so a
cut connection loses at most one batch. Deleted here means expunged or moved away in another
client.

Headers first: a folder's first sync (and its re-sync) fetches the header fields and
BODYSTRUCTURE only, so a big mailbox is listable, threaded and filterable after a fraction of its
bytes; its attachments are listed from the structure, and the text follows once every folder
is listed (``bodies.fetch_texts``, called by ``account_sync``). New mail in a folder synced
before is fetched whole, as few messages as arrive.

UIDVALIDITY rule (RFC 3501 2.3.1.1): UIDs are meaningful only with the UIDVALIDITY they came
with; when it changes, every stored UID of the folder is void, so the rows go and the folder is
fetched again. Duplicates are impossible by construction: a row is keyed by (folder, UID) and
inserted with ON CONFLICT DO NOTHING, and what to fetch is computed from what is stored, not
from a cursor that a crash could leave behind. A restart therefore resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Awaitable, Callable

import asyncpg

from plugin_email_manager import conversations
from plugin_email_manager.conversations.rules import kept_references
from plugin_email_manager.mailparse.headers import parse_headers
from plugin_email_manager.mailsync import gmail, pending_flags, store
from plugin_email_manager.mailsync.imap import search_date
from plugin_email_manager.mailsync.imap.bodystructure import EMPTY_TEXT, attachments, text_tree

if TYPE_CHECKING:
    from asyncpg import Pool

    from plugin_email_manager.connections import Account
    from plugin_email_manager.mailsync.imap import FetchedMessage, ImapSession, SelectInfo

log = logging.getLogger(__name__)

BATCH = 250  # messages per transaction
BATCH_BYTES = 32 << 20  # a batch ends sooner at this many raw bytes: 250 messages of 50 MB are 12 GB
AHEAD = 1  # fetched batches waiting to be stored (memory: ~BATCH x 11 KB each)
FLAG_RECHECK = 2000  # without CONDSTORE, the newest messages whose flags are checked each sync
ANALYZE_FIRST = 1000  # a long fetch refreshes planner statistics at 1,000, 10,000, ... new messages


@dataclass
class Counts:
    new: int = 0
    updated: int = 0
    deleted: int = 0
    unfetched: int = 0  # of the new, those listed without their text (headers first)
    # what events.py announces; left empty by a folder's first sync and its re-sync (old mail)
    new_ids: list[int] = field(default_factory=list)
    changed: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)  # (id, "read"/"flagged"/"moved")
    gone: list[dict] = field(default_factory=list)  # deleted rows, as they were

    def add(self, other: "Counts") -> None:
        self.new += other.new
        self.updated += other.updated
        self.deleted += other.deleted
        self.unfetched += other.unfetched
        self.new_ids += other.new_ids
        self.changed += other.changed
        self.gone += other.gone

    def as_json(self) -> dict:
        return {"new": self.new, "updated": self.updated, "deleted": self.deleted}


def message_row(fetched: FetchedMessage, folder_type: str) -> dict:
    """A mail_messages row from a fetched message: its bytes, flags, and its headers (stage 1)."""
    h = parse_headers(fetched.raw)
    flags = [str(f) for f in fetched.flags]
    thrid = fetched.gm_thrid
    row = {
        "type": gmail.type_from_labels(fetched.gm_labels, folder_type) if fetched.gm_labels else folder_type,
        "labels": gmail.user_labels(fetched.gm_labels),  # the person's own Gmail labels (store.insert_messages)
        "uid": fetched.uid,
        "message_id": h["messageId"],
        "in_reply_to": h["inReplyTo"],
        "refs": kept_references(h["references"]),  # 10,000 of them thread no better than 100
        "provider_thread_id": str(thrid) if thrid else None,
        "subject": h["subject"],
        "from_addr": h["from"],
        "to_addrs": h["to"],
        "cc_addrs": h["cc"],
        "bcc_addrs": h["bcc"],
        "reply_to_addrs": h["replyTo"],
        "date": h["date"] or fetched.internaldate,
        "read": "\\Seen" in flags,
        "flagged": "\\Flagged" in flags,
        "answered": "\\Answered" in flags,
        "forwarded": "$Forwarded" in flags,
        "has_attachments": bool(h["hasAttachments"]),
        "size": fetched.size or len(fetched.raw),
        "flags": flags,
        "modseq": fetched.modseq,
        "snippet": None,
    }
    if fetched.structure is not None:  # headers first: the text and attachments come later
        listed = attachments(fetched.structure)
        row["has_attachments"] = any(not a["inline"] for a in listed)
        row["attachments"] = listed
        row["text_structure"] = text_tree(fetched.structure)
    # repr() shows a NUL as \x00: one pass in C finds the rare row that needs the walk
    if "\\x00" in repr(row):
        row = store.without_nul(row)
    if fetched.structure is None:
        row["raw"] = fetched.raw
    elif row["text_structure"] is None:
        row["texts"] = EMPTY_TEXT  # nothing to fetch: decoded at once as an empty body
    return row


async def sync_folder(
    db: Pool,
    session: ImapSession,
    account: Account,
    folder: store.FolderState,
    *,
    on_batch: Callable[[Counts], Awaitable[None]] | None = None,
) -> Counts:
    counts = Counts()
    # QRESYNC needs a whole earlier sync to build on; a date-limited account always compares lists
    since = (
        (folder.uid_validity, folder.highest_modseq)
        if (
            folder.uid_validity
            and folder.highest_modseq
            and folder.last_seen_uid is not None
            and not account.sync_since
        )
        else None
    )
    info = await session.select(folder.name, qresync=since)
    if folder.uid_validity is not None and info.uidvalidity != folder.uid_validity:
        log.warning(
            "account %s folder %s: UIDVALIDITY %s -> %s, fetching it again",
            account.id,
            folder.name,
            folder.uid_validity,
            info.uidvalidity,
        )
        async with db.acquire() as conn, conn.transaction():
            counts.deleted += await store.reset_folder(conn, folder.id, info.uidvalidity)
        folder.highest_modseq = None
        folder.last_seen_uid = None  # as reset_folder left it: a re-sync, announced as no new mail
    elif info.qresync:
        # before the push below: this news is older than a change made here and pushed now
        counts.updated += await store.apply_flags(db, folder.id, info.changed, folder.type, changed=counts.changed)
    await pending_flags.push(db, session, folder.id)

    last_seen = None
    if info.qresync and info.uidvalidity == folder.uid_validity:
        last_seen = await _sync_since_last(db, session, account, folder, info, counts, on_batch)
    if last_seen is None:
        last_seen = await _sync_by_comparing(db, session, account, folder, info, counts, on_batch)
    await store.save_folder_state(
        db,
        folder.id,
        uid_validity=info.uidvalidity,
        uid_next=info.uidnext,
        highest_modseq=info.highestmodseq,
        last_seen_uid=last_seen,
        synced_at=store.now(),
    )
    folder.uid_validity, folder.highest_modseq = info.uidvalidity, info.highestmodseq
    folder.last_seen_uid = last_seen
    return counts


async def _sync_since_last(
    db: Pool,
    session: ImapSession,
    account: Account,
    folder: store.FolderState,
    info: SelectInfo,
    counts: Counts,
    on_batch: Callable[[Counts], Awaitable[None]] | None,
) -> int | None:
    """QRESYNC (RFC 7162): the SELECT listed what vanished and what changed since the last sync;
    new mail is above the last UID seen. No list of every UID crosses the wire or leaves the
    database. Answers the last UID seen now, or None when the folder's count does not add up
    (a change went unreported): then the caller compares the lists, and the sync heals itself."""
    if info.vanished:
        counts.deleted += await store.delete_uids(db, folder.id, info.vanished, gone=counts.gone)
    last = folder.last_seen_uid or 0
    fresh = [u for u in await session.uid_search(f"UID {last + 1}:*") if u > last] if info.exists else []
    missing = sorted(set(fresh) - await store.stored_among(db, folder.id, fresh), reverse=True)
    # session.exists follows the EXISTS/EXPUNGE news that came since the SELECT
    if await store.count_stored(db, folder.id) + len(missing) != session.exists:
        log.info("account %s folder %s: counts differ after QRESYNC, comparing UID lists", account.id, folder.name)
        return None
    if missing:
        await _fetch_and_store(db, session, account.id, folder, missing, counts, on_batch)
    return max(fresh, default=last)


async def _sync_by_comparing(
    db: Pool,
    session: ImapSession,
    account: Account,
    folder: store.FolderState,
    info: SelectInfo,
    counts: Counts,
    on_batch: Callable[[Counts], Awaitable[None]] | None,
) -> int:
    """The server's UID list against ours: what is gone goes, what is missing is fetched, flags
    are asked for (CONDSTORE ``CHANGEDSINCE``, else the newest ones). Answers the last UID."""
    on_server = set(await session.uid_search("ALL")) if session.exists else set()
    stored = await store.stored_uids(db, folder.id)
    gone = stored - on_server
    if gone:
        counts.deleted += await store.delete_uids(db, folder.id, gone, gone=counts.gone)
    wanted = on_server
    if account.sync_since and on_server:
        wanted = set(await session.uid_search(f"SINCE {search_date(account.sync_since)}"))
    missing = sorted(wanted - stored, reverse=True)  # newest first: the inbox is usable at once
    if missing:
        await _fetch_and_store(
            db, session, account.id, folder, missing, counts, on_batch, headers_first=folder.last_seen_uid is None
        )
    counts.updated += await _sync_flags(db, session, folder, info, stored & on_server, counts)
    return max(on_server, default=0)


async def _fetch_and_store(
    db: Pool,
    session: ImapSession,
    account_id: int,
    folder: store.FolderState,
    uids: list[int],
    counts: Counts,
    on_batch: Callable[[Counts], Awaitable[None]] | None,
    *,
    headers_first: bool = False,
) -> None:
    """Fetch (and read the headers of) batch k+1 while batch k is stored: the server, this
    process and PostgreSQL work at once instead of in turn. At most ``AHEAD`` batches wait
    between the two, so memory stays bounded whatever the mailbox's size. ``headers_first``:
    the header fields and structure only; ``bodies.fetch_texts`` brings the text after."""
    queue: asyncio.Queue = asyncio.Queue(maxsize=AHEAD)

    async def fetch() -> None:
        try:
            rows: list[dict] = []
            size = 0
            fetched = session.fetch_messages(uids, headers_only=headers_first)
            async with contextlib.aclosing(fetched) as messages:
                async for m in messages:
                    rows.append(message_row(m, folder.type))
                    size += len(m.raw)
                    # Let the storing side run as soon as PostgreSQL answers it. The reader does
                    # not wait while Dovecot's bytes are buffered, so without this it read and
                    # parsed a whole batch between two steps of a store, and every step of the
                    # store waited for it (measured by bench/sync.py; figures in bench/README.md).
                    await asyncio.sleep(0)
                    if len(rows) >= BATCH or size >= BATCH_BYTES:
                        await queue.put(rows)
                        rows, size = [], 0
            if rows:
                await queue.put(rows)
            await queue.put(None)
        except Exception as e:  # the storing side raises it
            await queue.put(e)

    fetcher = asyncio.create_task(fetch(), name=f"mail-fetch:{folder.id}")
    analyze_at = ANALYZE_FIRST
    try:
        while (rows := await queue.get()) is not None:
            if isinstance(rows, Exception):
                raise rows
            ids, unfetched = await _store_batch(db, account_id, folder, rows)
            if counts.new + len(ids) >= analyze_at:  # the tables grew tenfold since planned
                await store.refresh_statistics(db)
                analyze_at *= 10
            # new mail is announced only in a folder synced before (events.py)
            step = Counts(new=len(ids), unfetched=unfetched, new_ids=ids if folder.last_seen_uid is not None else [])
            counts.add(step)
            if on_batch:
                await on_batch(step)
    finally:
        if not fetcher.done():
            fetcher.cancel()
        await asyncio.gather(fetcher, return_exceptions=True)


async def _store_batch(db: Pool, account_id: int, folder: store.FolderState, rows: list[dict]) -> tuple[list[int], int]:
    """Rows and their conversations (and attachments listed from a structure) in one transaction;
    answers the new ids and how many of them wait for their text. Writers of one conversation
    lock its thread rows; a deadlock between two of them is retried, as PostgreSQL advises."""
    for attempt in range(3):
        try:
            async with db.acquire() as conn, conn.transaction():
                async with store.keyed_lookups(conn):
                    todo = await store.unstored(conn, account_id, folder.id, rows)
                threads = await conversations.thread_ids_for(conn, account_id, todo)
                # each row is written once, with its conversation (no UPDATE of every new row)
                todo = [{**row, "thread_id": t} for row, t in zip(todo, threads)]
                ids = await store.insert_messages(conn, account_id, folder.id, folder.type, todo, adopt=False)
                await store.insert_listed_attachments(conn, folder.id, ids, todo)
                return ids, sum(1 for r in todo if r.get("raw") is None and r.get("texts") is None)
        except asyncpg.DeadlockDetectedError:
            if attempt == 2:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
    return [], 0


async def _sync_flags(
    db: Pool, session: ImapSession, folder: store.FolderState, info: SelectInfo, known: set[int], counts: Counts
) -> int:
    """Flags changed in other clients since the last sync."""
    if not known:
        return 0
    if folder.highest_modseq and info.highestmodseq:
        if info.highestmodseq == folder.highest_modseq:
            return 0
        changes = await session.fetch_flags("1:*", changedsince=folder.highest_modseq)
    else:
        newest = sorted(known)[-FLAG_RECHECK:]
        changes = await session.fetch_flags(f"{newest[0]}:*")
    changes = [c for c in changes if c[0] in known]
    return await store.apply_flags(db, folder.id, changes, folder.type, changed=counts.changed)
