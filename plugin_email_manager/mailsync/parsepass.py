"""The parse pass: decodes stored messages (bodies, attachments, search index) in the background.

A message is listable as soon as the sync stored its bytes and headers; this pass does the slow
part (``plugin_email_manager.mailparse``) in worker processes, so both cores work and the event loop
never blocks. It takes the messages of the accounts this process syncs, newest first, and keeps
each account's ``parsePending`` count for the UI and for ``mailAccounts:sync`` callers.
"""
from __future__ import annotations

import asyncio
import logging

from plugin_email_manager import search
from plugin_email_manager.mailparse.pool import ParsePool

log = logging.getLogger(__name__)

BATCH = 64
IDLE_SECONDS = 2.0


class ParsePass:
    def __init__(self, host, accounts: callable):
        self.host = host
        self.accounts = accounts  # -> ids of the accounts this process holds
        self.pool = ParsePool()
        self._wake = asyncio.Event()

    async def start(self) -> None:
        await self.host.listen("mail_stored", lambda _payload: self._wake.set())
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
        """Decode one batch per core; answers whether there was anything to do."""
        ids = list(account_ids if account_ids is not None else self.accounts())
        if not ids:
            return False
        rows = await self.host.db.fetch(
            "SELECT id, account_id, raw FROM mail_messages WHERE account_id = ANY($1::bigint[]) "
            "AND parse_state = 'pending' ORDER BY id DESC LIMIT $2", ids, BATCH * 4)
        if not rows:
            return False
        parsed = await self.pool.parse_many([bytes(r["raw"] or b"") for r in rows])
        async with self.host.db.acquire() as conn, conn.transaction():
            for row, p in zip(rows, parsed):
                await store_parsed(conn, row["id"], p)
            await search.index_messages(conn, [r["id"] for r in rows])
            for account_id in {r["account_id"] for r in rows}:
                await conn.execute(
                    "UPDATE mail_accounts SET parse_pending = (SELECT count(*) FROM mail_messages "
                    "WHERE account_id = $1 AND parse_state = 'pending') WHERE id = $1", account_id)
        return True


def _clean(text):
    return text.replace("\x00", "") if isinstance(text, str) else text


async def store_parsed(conn, message_id: int, p) -> None:
    state = "error" if p.errors and not (p.text or p.html) else "ok"
    await conn.execute(
        "UPDATE mail_messages SET text = $2, html = $3, snippet = $4, has_attachments = $5, parse_state = $6, "
        "parse_error = $7 WHERE id = $1 AND parse_state = 'pending'",
        message_id, _clean(p.text), _clean(p.html), _clean(p.snippet), bool(p.has_attachments),
        state, _clean("; ".join(p.errors)[:2000]) if p.errors else None)
    await conn.execute("DELETE FROM mail_attachments WHERE mail_message_id = $1", message_id)
    if p.attachments:
        await conn.executemany(
            "INSERT INTO mail_attachments (mail_message_id, filename, content_type, size, content_id, inline, content) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [(message_id, _clean(a["filename"]), _clean(a["contentType"]), a["size"], _clean(a.get("contentId")),
              bool(a.get("inline")), a["content"]) for a in p.attachments])
