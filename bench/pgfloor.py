"""PostgreSQL's own part of a first sync, measured bare: the floor under bench/sync.py's (b).

Like the wire floor (imaplib reading the mailbox and nothing else), this is what PostgreSQL alone
needs for the three things every stored message costs it, whatever the code around it does:

- taking the listed rows: the columns a headers-first sync's first pass writes (``store.COLUMNS``,
  as the finished sync stored them), one COPY per pass-1 batch over one connection, into a table
  with every index ``mail_messages`` has (its triggers, threads and attachments left out, so a
  floor under pass 1's part in PostgreSQL, not a copy of it);

- taking the raw bytes: one COPY of every message file into a bare table whose ``raw`` column is
  compressed as ``mail_messages.raw`` is, over one connection (a sync stores its batches one
  after another);
- indexing the words: the very ``search_vector`` the parse pass writes (``search.vector_sql``),
  computed from the stored bodies and inserted into a table with a GIN index like
  ``mail_messages``', over two connections at once (the parse pass writes two batches at once).

Both run on the database of a finished first sync, once our server has stopped, and drop what they
made.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg

from plugin_email_manager import search
from plugin_email_manager.mailsync import folder_sync, store

CHUNK = 500  # files read per COPY call: the mailbox never sits in memory whole

_COMPRESSION = {"l": "lz4", "p": "pglz"}


async def measure_floor(url: str, account: int, maildir: Path) -> dict:
    conn = await asyncpg.connect(url)
    try:
        listed = await _copy_listed(conn, account)
        seconds, method = await _copy_raw(conn, maildir)
        return {"copy_listed": listed, "copy_raw": seconds, "compression": method, **await _index(url, conn, account)}
    finally:
        await conn.execute("DROP TABLE IF EXISTS bench_floor_rows, bench_floor_raw, bench_floor_fts")
        await conn.close()


async def _copy_listed(conn, account: int) -> float:
    """Seconds to COPY the account's rows as pass 1 lists them into a table indexed as
    ``mail_messages`` is, ``folder_sync.BATCH`` rows a COPY (a pass-1 transaction's worth)."""
    columns = ["account_id", "folder_id", "parse_state", *store.COLUMNS]
    # as pass 1 left them: not decoded yet, no snippet (pass 2 writes those)
    chosen = [{"parse_state": "'pending'", "snippet": "NULL::text"}.get(c, c) for c in columns]
    rows = await conn.fetch(f"SELECT {', '.join(chosen)} FROM mail_messages WHERE account_id = $1 ORDER BY id", account)
    # INCLUDING ALL: the indexes, defaults (ids from the same sequence) and lz4 columns
    await conn.execute("CREATE TABLE bench_floor_rows (LIKE mail_messages INCLUDING ALL)")
    seconds = 0.0
    for first in range(0, len(rows), folder_sync.BATCH):
        t = time.perf_counter()
        await conn.copy_records_to_table(
            "bench_floor_rows", records=rows[first : first + folder_sync.BATCH], columns=columns
        )
        seconds += time.perf_counter() - t
    return seconds


async def _copy_raw(conn, maildir: Path) -> tuple[float, str]:
    """Seconds to COPY every message file, and the compression used (``mail_messages.raw``'s)."""
    # ::text: asyncpg answers a "char" as bytes (b'l'), which no name below would match
    method = await conn.fetchval(
        "SELECT attcompression::text FROM pg_attribute WHERE attrelid = 'mail_messages'::regclass AND attname = 'raw'"
    )
    await conn.execute("CREATE TABLE bench_floor_raw (raw bytea)")
    if method not in _COMPRESSION:  # '' is the server's default_toast_compression: say which
        method = {"lz4": "l"}.get(await conn.fetchval("SHOW default_toast_compression"), "p")
    await conn.execute(f"ALTER TABLE bench_floor_raw ALTER COLUMN raw SET COMPRESSION {_COMPRESSION[method]}")
    files = sorted(p for sub in ("cur", "new") for p in (maildir / sub).iterdir())
    seconds = 0.0
    for first in range(0, len(files), CHUNK):
        records = [(p.read_bytes(),) for p in files[first : first + CHUNK]]  # read outside the clock
        t = time.perf_counter()
        await conn.copy_records_to_table("bench_floor_raw", records=records, columns=["raw"])
        seconds += time.perf_counter() - t
    return seconds, _COMPRESSION[method]


async def _index(url: str, conn, account: int) -> dict:
    """Seconds to compute the search vectors alone, and to compute and index them (2 connections)."""
    vector = search.vector_sql("m")
    await conn.execute("CREATE TABLE bench_floor_fts (v tsvector)")
    await conn.execute("CREATE INDEX ON bench_floor_fts USING gin (v)")
    computed = f"SELECT sum(length({vector})) FROM mail_messages m WHERE m.account_id = $1 AND m.id % 2 = $2"
    indexed = (
        f"INSERT INTO bench_floor_fts SELECT {vector} FROM mail_messages m WHERE m.account_id = $1 AND m.id % 2 = $2"
    )
    other = await asyncpg.connect(url)
    try:
        out = {}
        for name, sql in (("vectors", computed), ("vectors_indexed", indexed)):
            t = time.perf_counter()
            await asyncio.gather(conn.execute(sql, account, 0), other.execute(sql, account, 1))
            out[name] = time.perf_counter() - t
        return out
    finally:
        await other.close()
