"""The parse pass: decodes stored messages (bodies, attachments, search index) in the background.

A message is listable as soon as the sync stored its bytes and headers; this pass does the slow
part (``plugin_email_manager.mailparse``) in worker processes, so both cores work and the event loop
never blocks. It takes the messages of the accounts this process syncs, newest first, and keeps
each account's ``parsePending`` count for the UI and for ``mailAccounts:sync`` callers.

While an account syncs, only its first ``FIRST_SCREEN`` new messages are decoded at once (the
newest: a first sync fetches newest first), so the top of the inbox shows its snippets within a
second or two; the rest waits until the sync ends. Decoding alongside a long fetch made both
slower: on 2 cores, 10,000 messages were all listable in 12.6 s instead of 7.6 s, for 1.5 s
sooner parsed, and all parties together spent 10% more CPU (bench/sync.py).

    read batch k+1 ──► parse it (workers) ──► write it (one transaction, a few statements)
          ▲ meanwhile: batch k is written, on its own connection (``WRITERS`` in flight)

A batch is written set-based: one UPDATE sets the decoded fields and the search vector (computed
in the same statement from the new body), one DELETE and one INSERT do its attachments. Writes of
two batches run at once on two connections, so PostgreSQL (``to_tsvector`` is most of its work)
uses both cores once fetching is done.

A batch also ends before ``BATCH_BYTES`` of raw messages (one bigger message is a batch of its
own): the pending rows are read with their sizes, and the bytes of a batch only when it is
parsed. So memory holds a few batches' bytes whatever the mail, and a 50 MB message neither
holds 128 messages' bytes with it nor keeps the newer messages of its batch from the list's
snippets and search while it is decoded.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Callable

from plugin_email_manager import search
from plugin_email_manager.mailparse.pool import ParsePool
from plugin_email_manager.mailsync import sync_progress
from plugin_email_manager.mailsync.store import without_nul

if TYPE_CHECKING:
    from asyncpg import Connection, Record

    from host.api import Host
    from plugin_email_manager.mailparse.pool import ParsedMessage

log = logging.getLogger(__name__)

BATCH = 128  # messages per parse call and per write transaction
BATCH_BYTES = 32 << 20  # raw bytes per batch (at least one message), see the module doc
WRITERS = 2  # write transactions in flight
MAX_BATCHES = 200  # per run_once: then rows stored meanwhile (newer mail) get their turn
FIRST_SCREEN = 500  # of an account being synced, decoded at once; the rest after its sync
IDLE_SECONDS = 2.0

# a message the parse pass can decode: fetched whole (raw), or its text parts (texts, a
# headers-first sync: see mailsync/bodies.py); the others wait for their text
FETCHED = "(m.raw IS NOT NULL OR m.texts IS NOT NULL)"

# Newest mail first (by its date): new mail before older backlog, and after a first sync the
# inbox from the top down; each batch reads on below the last one (keyset on date, id). One
# ordered index scan per account, merged: ``account_id = ANY(...)`` cannot walk an index in
# order, so it sorted every pending message for each batch (a million, for a big first sync).
PENDING = f"""
SELECT p.id, p.account_id, p.size, p.at FROM unnest($1::bigint[]) AS a(id)
CROSS JOIN LATERAL (
    SELECT m.id, m.account_id, coalesce(octet_length(m.raw), octet_length(m.texts), 0) AS size,
      coalesce(m.date, '-infinity') AS at
    FROM mail_messages m
    WHERE m.account_id = a.id AND m.parse_state = 'pending' AND {FETCHED}
      AND ($2::timestamptz IS NULL OR (coalesce(m.date, '-infinity'), m.id) < ($2, $3::bigint))
    ORDER BY coalesce(m.date, '-infinity') DESC, m.id DESC LIMIT $4) p
ORDER BY p.at DESC, p.id DESC LIMIT $4
"""
# progress after a batch: what it decoded comes off (exactly, under concurrent writers);
# syncProgress follows in the same write
DECODED = f"""
UPDATE mail_accounts a SET parse_pending = greatest(coalesce(a.parse_pending, 0) - x.n, 0),
    sync_progress = {sync_progress.mirror("greatest(coalesce(a.parse_pending, 0) - x.n, 0)")}
FROM (SELECT account_id, count(*) AS n FROM unnest($1::bigint[]) AS account_id GROUP BY 1) x
WHERE a.id = x.account_id
"""
# parsePending of these accounts, exactly (by mail_messages_parse_queue_idx); a row is written
# only when its count is wrong. It counts every pending message: run once a pass, not a batch.
RECOUNT = f"""
UPDATE mail_accounts a SET parse_pending = c.n, sync_progress = {sync_progress.mirror("c.n")}
FROM (SELECT x.id, (SELECT count(*) FROM mail_messages m
                    WHERE m.account_id = x.id AND m.parse_state = 'pending' AND {FETCHED}) AS n
      FROM unnest($1::bigint[]) AS x(id)) c
WHERE a.id = c.id AND a.parse_pending IS DISTINCT FROM c.n
"""
# a message decoded from its text parts keeps the attachments its structure listed
STORE = f"""
UPDATE mail_messages m SET text = x.text, html = x.html, snippet = x.snippet,
    has_attachments = CASE WHEN m.raw IS NULL THEN m.has_attachments ELSE x.has_attachments END,
    parse_state = x.parse_state, parse_error = x.parse_error,
    search_vector = {search.vector_sql("m", body="x")}
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::text[])
     AS x(id, text, html, snippet, has_attachments, parse_state, parse_error)
WHERE m.id = x.id AND m.parse_state = 'pending'
RETURNING m.id, m.raw IS NOT NULL AS whole
"""
UNSHOWN = """
WITH u AS (
  UPDATE mail_attachments a SET inline = false FROM mail_messages m
  WHERE m.id = a.mail_message_id AND m.id = ANY($1::bigint[]) AND a.inline
    AND strpos(lower(coalesce(m.html, '')), lower('cid:' || a.content_id)) = 0
  RETURNING a.mail_message_id)
UPDATE mail_messages m SET has_attachments = true WHERE m.id IN (SELECT mail_message_id FROM u)
"""
ATTACHMENTS = """
INSERT INTO mail_attachments (mail_message_id, filename, content_type, size, content_id, inline, content)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[], $6::bool[], $7::bytea[])
"""


class ParsePass:
    def __init__(
        self, host: Host, accounts: Callable[[], list[int]], syncing: Callable[[int], bool] = lambda account_id: False
    ):
        self.host = host
        self.accounts = accounts  # -> ids of the accounts this process holds
        self.syncing = syncing  # -> whether a sync of this account is running here
        self.pool = ParsePool()
        self._wake = asyncio.Event()
        self._screened: dict[int, int] = {}  # messages decoded during an account's running sync

    def wake(self) -> None:
        """Look for work now (a sync ended: what it held back may be decoded)."""
        self._wake.set()

    def _open(self, account_ids: list[int]) -> list[int]:
        """The accounts whose pending mail is decoded now: all but those syncing that already
        had their first screen."""
        out = []
        for a in account_ids:
            if not self.syncing(a):
                self._screened.pop(a, None)
                out.append(a)
            elif self._screened.get(a, 0) < FIRST_SCREEN:
                out.append(a)
        return out

    async def start(self) -> None:
        await self.host.listen("mail_stored", lambda _payload: self.wake())
        # the workers start now, not when the first mail is waiting (a second or so of imports)
        self.host.spawn(self.pool.warm(), name="mail-parse-warm")
        self.host.spawn(self._run(), name="mail-parse-pass")

    async def close(self) -> None:
        await asyncio.to_thread(self.pool.close)

    async def _run(self) -> None:
        while True:
            try:
                busy = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("parse pass failed; retrying")
                busy = False
                await asyncio.sleep(IDLE_SECONDS)
            if not busy:
                try:
                    await asyncio.wait_for(self._wake.wait(), IDLE_SECONDS)
                except asyncio.TimeoutError:
                    pass
                self._wake.clear()

    async def run_once(self, account_ids: list[int] | None = None) -> bool:
        """Decode what is pending (up to ``MAX_BATCHES`` batches), newest first, but no more of a
        syncing account than its first screen; answers whether there was anything to do. When
        there was not, parsePending is checked against the rows."""
        ids = self._open(list(account_ids if account_ids is not None else self.accounts()))
        if not ids:
            return False
        db = self.host.db
        rows = _within_bytes(await db.fetch(PENDING, ids, None, None, BATCH))
        if not rows:
            await db.execute(RECOUNT, ids)
            return False
        writes: set[asyncio.Task] = set()
        touched: set[int] = set()
        try:
            for _ in range(MAX_BATCHES):
                # rows being written are still 'pending': read on below them
                parsing = asyncio.ensure_future(self._parse(rows))
                try:
                    following = _within_bytes(await db.fetch(PENDING, ids, rows[-1]["at"], rows[-1]["id"], BATCH))
                finally:
                    parsed = await parsing
                while len(writes) >= WRITERS:
                    done, writes = await asyncio.wait(writes, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        task.result()
                touched.update(r["account_id"] for r in rows)
                writes.add(asyncio.ensure_future(self._write(rows, parsed)))
                for r in rows:
                    if self.syncing(r["account_id"]):
                        self._screened[r["account_id"]] = self._screened.get(r["account_id"], 0) + 1
                still = self._open(ids)
                if still != ids:  # an account filled its first screen: the rest waits for its sync
                    ids, following = still, [r for r in following if r["account_id"] in still]
                rows = following
                if not rows:
                    break
        finally:
            results = await asyncio.gather(*writes, return_exceptions=True)
            # the sync adds its batches and each write takes off what it decoded; once a pass,
            # the count is made exact (a batch the sync stored twice, an account deleted)
            if touched:
                await db.execute(RECOUNT, sorted(touched))
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return True

    async def decode_now(self, message_ids: list[int]) -> None:
        """Decode these messages now if they are still pending: someone opens (or answers) a
        message before the pass got to it, e.g. one a long first sync holds back."""
        rows = await self.host.db.fetch(
            f"SELECT id, account_id FROM mail_messages m WHERE id = ANY($1::bigint[]) AND parse_state = 'pending' "
            f"AND {FETCHED}",
            message_ids,
        )
        if rows:
            await self._write(rows, await self._parse(rows, now=True))

    async def _parse(self, rows: list[Record], *, now: bool = False) -> list[ParsedMessage]:
        """``parse_message`` of these messages' ``raw`` bytes, read now (see the module doc), in
        the workers; ``now``: for someone waiting, ahead of the workers' queue (``parse_now``)."""
        got = {
            r["id"]: r["raw"]
            for r in await self.host.db.fetch(
                "SELECT id, coalesce(raw, texts) AS raw FROM mail_messages WHERE id = ANY($1::bigint[])",
                [r["id"] for r in rows],
            )
        }
        raws = [bytes(got.get(r["id"]) or b"") for r in rows]
        return await (self.pool.parse_now(raws) if now else self.pool.parse_many(raws))

    async def _write(self, rows: list[Record], parsed: list[ParsedMessage]) -> None:
        async with self.host.db.acquire() as conn:
            async with conn.transaction():
                written = set(await store_parsed_many(conn, [r["id"] for r in rows], parsed))
            # progress for the UI, after the commit
            await conn.execute(DECODED, [r["account_id"] for r in rows if r["id"] in written])


def _within_bytes(rows: list[Record]) -> list[Record]:
    """The first of these ``PENDING`` rows, up to ``BATCH_BYTES`` of raw messages (at least one);
    the next batch reads on from the last row kept."""
    total = 0
    for i, r in enumerate(rows):
        total += r["size"]
        if total > BATCH_BYTES and i:
            return rows[:i]
    return rows


async def store_parsed_many(conn: Connection, message_ids: list[int], parsed: list[ParsedMessage]) -> list[int]:
    """Write what ``parse_message`` found for these messages and index them for search; a message
    no longer pending (parsed meanwhile) is left alone. Answers the ids written."""
    if not message_ids:
        return []
    states = ["error" if p.errors and not (p.text or p.html) else "ok" for p in parsed]
    records = await conn.fetch(
        STORE,
        message_ids,
        [without_nul(p.text) for p in parsed],
        [without_nul(p.html) for p in parsed],
        [without_nul(p.snippet) for p in parsed],
        [bool(p.has_attachments) for p in parsed],
        states,
        [without_nul("; ".join(p.errors)[:2000]) if p.errors else None for p in parsed],
    )
    written = [r["id"] for r in records]
    # the attachments of a message decoded from its text parts are those its structure listed:
    # an image the HTML does not show is listed as any attachment (as mailparse.body does)
    whole = [r["id"] for r in records if r["whole"]]
    if len(whole) < len(written):
        await conn.execute(UNSHOWN, [i for i in written if i not in set(whole)])
    if not whole:
        return written
    await conn.execute("DELETE FROM mail_attachments WHERE mail_message_id = ANY($1::bigint[])", whole)
    mine = set(whole)
    files = [(i, a) for i, p in zip(message_ids, parsed) if i in mine for a in p.attachments]
    if files:
        await conn.execute(
            ATTACHMENTS,
            [i for i, _ in files],
            [without_nul(a["filename"]) for _, a in files],
            [without_nul(a["contentType"]) for _, a in files],
            [a["size"] for _, a in files],
            [without_nul(a.get("contentId")) for _, a in files],
            [bool(a.get("inline")) for _, a in files],
            [a["content"] for _, a in files],
        )
    return written
