"""What a headers-first sync fetches after listing: the text of messages, and attachments' bytes.

    first sync of a folder: header fields + BODYSTRUCTURE (folder_sync) ──► listed, raw NULL,
        │                    attachments listed with their sections, content NULL
        ▼ then, once every folder is listed (account_sync):
    fetch_texts: per folder, newest UID first, the text parts (BODY.PEEK[<section>]) of many
        messages per UID FETCH ──► decoded by the parse pass's workers (mailparse, as a whole
        message would be) ──► one write: text, HTML, snippet, search vector (parse_state 'ok':
        searchable; the fetched parts are not kept); two batches are written while the next is fetched
    texts_now: someone opens a message whose text is not here yet: fetched at once (get, getThread),
        then decoded by the parse pass (``decode_now``), which decodes any ``texts`` stored alone
    attachment_bytes: an attachment downloaded, shown inline or forwarded: its section fetched
        once, its transfer encoding undone, kept in mail_attachments.content from then on
    (these two on a logged-in session the API process keeps per account, ``imap_pool``)

New mail in a folder synced before is fetched whole, as ever (``raw``): a few messages, read at
once by events and bounces. A message without text parts gets ``texts`` at once (nothing to
fetch). ``syncProgress.bodiesPending`` counts the listed messages without ``raw`` or ``texts``
(``sync_progress``). What the server no longer has (the message gone) stays pending here until
the sync removes its row.

One message the server will not hand out (a broken file: Dovecot's ``NO [SERVERBUG]``, Gmail's
"Some messages could not be FETCHed") makes it refuse the whole UID FETCH of its batch. The batch
is then asked a message at a time, so that the others are stored; one refused alone while others
are handed out is set to ``parse_state`` 'error' with the server's words in ``parse_error``
(searchable by its subject and addresses; a re-sync tries it again), so that the first sync's
progress ends instead of asking for it at every sync. A refusal that says "not now"
(``TRANSIENT``) leaves the batch pending, and so does a batch none of whose messages is handed out
alone, or a batch of one (the server's trouble cannot be told from the message's).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Awaitable, Callable

from plugin_email_manager import imap_pool, search
from plugin_email_manager.errors import ImapCommandFailed
from plugin_email_manager.mailparse.parts import decode_transfer
from plugin_email_manager.mailsync import parsepass, sync_progress
from plugin_email_manager.mailsync.imap.bodystructure import text_message, tree_sections

if TYPE_CHECKING:
    from asyncpg import Pool, Record

    from host.api import Host
    from plugin_email_manager.mailparse import ParsedMessage
    from plugin_email_manager.mailsync.imap import ImapSession
    from plugin_email_manager.mailsync.store import FolderState

log = logging.getLogger(__name__)

PAGE = 1000  # pending rows read at a time
BATCH = 50  # messages per UID FETCH of text parts (two batches decoded at once: memory as one of 100)
WRITERS = 2  # batches decoded and written at once (see fetch_texts)
UNFETCHED = "m.raw IS NULL AND m.texts IS NULL AND m.parse_state = 'pending' AND m.uid IS NOT NULL"
# response codes (RFC 5530, and Gmail's) of a refusal that may pass: the text is asked for again
TRANSIENT = frozenset({"UNAVAILABLE", "INUSE", "LIMIT", "OVERQUOTA", "THROTTLED", "EXPUNGEISSUED"})
REFUSED_ALONE = 3  # of a refused batch asked alone, refused with none handed out: the server refuses all

_PENDING = f"""
SELECT m.id, m.uid, m.text_structure FROM mail_messages m
WHERE m.folder_id = $1 AND {UNFETCHED} AND ($2::bigint IS NULL OR m.uid < $2)
ORDER BY m.uid DESC LIMIT $3
"""
_STORE = f"""
UPDATE mail_messages m SET texts = x.texts
FROM unnest($1::bigint[], $2::bytea[]) AS x(id, texts)
WHERE m.id = x.id AND {UNFETCHED}
RETURNING m.id
"""
# texts refused for good (see the module doc): out of the pending set, searchable by what is here
_REFUSED = f"""
UPDATE mail_messages m SET parse_state = 'error', parse_error = x.reason, search_vector = {search.vector_sql("m")}
FROM unnest($1::bigint[], $2::text[]) AS x(id, reason)
WHERE m.id = x.id AND {UNFETCHED}
RETURNING m.id
"""


@dataclass
class Fetched:
    """What one UID FETCH of text parts brought: ``texts`` by UID (a message gone is absent), and
    the messages the server refused to hand out for good, with its words."""

    texts: dict[int, dict[str, bytes]] = field(default_factory=dict)
    refused: dict[int, str] = field(default_factory=dict)


Decode = Callable[[list[bytes]], Awaitable[list["ParsedMessage"]]]  # ParsePool.parse_many


async def fetch_texts(
    db: Pool,
    session: ImapSession,
    account_id: int,
    folder: FolderState,
    on_batch: Callable[[int], Awaitable[None]],
    decode: Decode | None = None,
) -> int:
    """The second pass over one folder: the text of every listed message still without it, newest
    first; ``on_batch(n)`` after each stored batch. With ``decode`` (the parse pass's workers) a
    batch is decoded and indexed instead of stored: searchable at once, each row written once more
    rather than twice, and its text parts not kept beside their decoded text (opening it again
    never needs them; a message set back to pending is fetched again). Answers how many were
    stored."""
    if not await db.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM mail_messages m WHERE m.folder_id = $1 AND {UNFETCHED})", folder.id
    ):
        return 0
    info = await session.select(folder.name, readonly=True)
    if info.uidvalidity != folder.uid_validity:
        return 0  # the next sync fetches the folder again
    stored, below = 0, None
    # batches being decoded and written while the next is fetched: two, so that PostgreSQL
    # (indexing one batch's words) and the parse workers (decoding the other's) both have work,
    # on two cores; measured by bench/sync.py (README: pass 2)
    writing: collections.deque[asyncio.Future[tuple[int, int]]] = collections.deque()

    async def written(keep: int) -> None:
        nonlocal stored
        while len(writing) > keep:
            n, refused = await writing.popleft()
            if n or refused:
                stored += n
                await sync_progress.texts_fetched(db, account_id, n, decoded=decode is not None, refused=refused)
                await on_batch(n)

    try:
        while rows := await db.fetch(_PENDING, folder.id, below, PAGE):
            below = rows[-1]["uid"]
            for batch in _batches(rows):
                got = await _fetch(session, batch)
                await written(WRITERS - 1)
                writing.append(asyncio.ensure_future(_store(db, batch, got, decode)))
        await written(0)
    finally:
        # a failed fetch: the batches fetched before it still count
        while writing:
            with contextlib.suppress(Exception):
                await written(len(writing) - 1)
    return stored


def _batches(rows: list[Record]) -> list[list[Record]]:
    """Rows grouped by the sections they need (most messages share a shape), ``BATCH`` at most."""
    groups: dict[tuple[str, ...], list[Record]] = defaultdict(list)
    for r in rows:
        groups[tuple(tree_sections(r["text_structure"]))].append(r)
    return [g[i : i + BATCH] for g in groups.values() for i in range(0, len(g), BATCH)]


async def _fetch(session: ImapSession | imap_pool.Lease, rows: list[Record]) -> Fetched:
    """The text parts of these messages (one shape); a batch refused is asked a message at a
    time (see the module doc)."""
    sections = tree_sections(rows[0]["text_structure"])
    if not sections:
        return Fetched({r["uid"]: {} for r in rows})
    try:
        return Fetched(await session.fetch_sections([r["uid"] for r in rows], sections))
    except ImapCommandFailed as e:
        log.warning("text of UIDs %s..%s refused: %s", rows[-1]["uid"], rows[0]["uid"], e)
        if len(rows) == 1 or _not_now(e):
            # "not now", our command, or one message with none to set it against: asked again later
            return Fetched()
    return await _one_by_one(session, rows, sections)


async def _one_by_one(session: ImapSession | imap_pool.Lease, rows: list[Record], sections: list[str]) -> Fetched:
    """A refused batch, each message alone: those refused while others are handed out are
    refused for good. None handed out is the server's trouble (a broken index, a disk gone), not
    the messages': nothing is marked, and the asking stops after ``REFUSED_ALONE``."""
    out = Fetched()
    for r in rows:
        try:
            out.texts.update(await session.fetch_sections([r["uid"]], sections))
        except ImapCommandFailed as e:
            if not _not_now(e):
                code = e.extra.get("responseCode")
                said = " ".join(w for w in (f"[{code}]" if code else "", e.extra.get("serverText") or "") if w)
                out.refused[r["uid"]] = f"The mail server would not hand out this message's text: {said}"
        if len(out.refused) >= REFUSED_ALONE and not out.texts:
            break
    return out if out.texts else Fetched()


def _not_now(e: ImapCommandFailed) -> bool:
    """A refusal that is no verdict on the message: BAD (our command) or a "not now" code."""
    code = e.extra.get("responseCode") or ""
    return e.answer != "NO" or code.split(" ")[0].upper() in TRANSIENT


async def _store(db: Pool, rows: list[Record], got: Fetched, decode: Decode | None = None) -> tuple[int, int]:
    """Stores (or with ``decode`` decodes and indexes) the texts fetched and marks the texts
    refused; answers how many of ``rows`` got their text, and how many were refused for good."""
    refused = [(r["id"], got.refused[r["uid"]]) for r in rows if r["uid"] in got.refused]
    n = len(await db.fetch(_REFUSED, [i for i, _ in refused], [why for _, why in refused])) if refused else 0
    done = [(r["id"], text_message(r["text_structure"], got.texts[r["uid"]])) for r in rows if r["uid"] in got.texts]
    if not done:
        return 0, n
    ids, texts = [i for i, _ in done], [t for _, t in done]
    if decode is None:
        return len(await db.fetch(_STORE, ids, texts)), n
    parsed = await decode(texts)
    async with db.acquire() as conn, conn.transaction():
        return len(await parsepass.store_parsed_many(conn, ids, parsed)), n


async def texts_now(host: Host, message_ids: list[int]) -> None:
    """Fetch now the text of these messages if it is not here yet (someone opens them), on a kept
    session of their account (``imap_pool``). Raises ImapUnavailable (502) when their server
    cannot be reached."""
    db = host.db
    rows = await db.fetch(
        f"SELECT m.id, m.uid, m.account_id, m.folder_id, m.text_structure, f.name AS folder, f.uid_validity "
        f"FROM mail_messages m "
        f"JOIN mail_folders f ON f.id = m.folder_id WHERE m.id = ANY($1::bigint[]) AND {UNFETCHED}",
        message_ids,
    )
    by_account: dict[int, dict[tuple[str, int], list[Record]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_account[r["account_id"]][(r["folder"], r["uid_validity"])].append(r)
    for account_id, by_folder in by_account.items():
        fetched = await imap_pool.of(host).run(
            account_id, functools.partial(_texts_of, by_folder), folder=next(iter(by_folder))[0]
        )
        # written once the session is back: another request may use it meanwhile
        n = refused = 0
        for batch, got in fetched:
            texts, no = await _store(db, batch, got)
            n, refused = n + texts, refused + no
        if n or refused:
            await sync_progress.texts_fetched(db, account_id, n, refused=refused)


async def _texts_of(
    by_folder: dict[tuple[str, int], list[Record]], lease: imap_pool.Lease
) -> list[tuple[list[Record], Fetched]]:
    fetched = []
    for (folder, uid_validity), todo in by_folder.items():
        if not await lease.examine(folder, uid_validity):
            continue  # its UIDs name other messages now: the next sync fetches the folder again
        fetched += [(batch, await _fetch(lease, batch)) for batch in _batches(todo)]
    return fetched


async def attachment_bytes(host: Host, attachment_id: int) -> bytes:
    """An attachment's bytes: kept ones at once, else its section fetched from the server now (on
    a kept session, ``imap_pool``) and kept (with its exact size). Raises ImapUnavailable (502)
    when the server cannot be reached."""
    db = host.db
    row = await db.fetchrow(
        "SELECT a.content, a.section, a.encoding, m.uid, m.account_id, f.name AS folder, f.uid_validity "
        "FROM mail_attachments a "
        "JOIN mail_messages m ON m.id = a.mail_message_id LEFT JOIN mail_folders f ON f.id = m.folder_id "
        "WHERE a.id = $1",
        attachment_id,
    )
    if row is None:
        return b""
    if row["content"] is not None or not row["section"] or row["uid"] is None or row["folder"] is None:
        return bytes(row["content"] or b"")

    async def fetch(lease: imap_pool.Lease) -> dict[int, dict[str, bytes]]:
        if not await lease.examine(row["folder"], row["uid_validity"]):
            return {}  # its UID names another message now
        return await lease.fetch_sections([row["uid"]], [row["section"]])

    got = await imap_pool.of(host).run(row["account_id"], fetch, folder=row["folder"])
    data = got.get(row["uid"], {}).get(row["section"])
    if data is None:  # the message is gone from the server: nothing to keep
        return b""
    content = decode_transfer(data, (row["encoding"] or "").lower(), [])
    await db.execute(
        "UPDATE mail_attachments SET content = $2, size = $3 WHERE id = $1 AND content IS NULL",
        attachment_id,
        content,
        len(content),
    )
    return content


async def attachments_now(host: Host, message_id: int) -> None:
    """Every attachment of this message fetched and kept (a forward carries them)."""
    for r in await host.db.fetch(
        "SELECT id FROM mail_attachments WHERE mail_message_id = $1 AND content IS NULL AND section IS NOT NULL",
        message_id,
    ):
        await attachment_bytes(host, r["id"])
