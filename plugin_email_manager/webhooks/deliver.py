"""The deliverer of one process: claims due rows of the queue (``queue.py``), POSTs each in its
own task with a timeout (a slow receiver holds up nothing but its own later events), records the
answer and schedules the retry.

Woken by ``NOTIFY mail_webhooks`` when rows are queued (by any process) and when one of its own
deliveries ends; otherwise it sleeps until the earliest retry is due (30 s at most, for rows a
dead process left leased).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import aiohttp

from plugin_email_manager.webhooks import SIGNATURE_HEADER, guard, queue, signature

if TYPE_CHECKING:
    from asyncpg import Record

    from host.api import Host

log = logging.getLogger(__name__)

BATCH = 20  # rows claimed at once
MAX_SLEEP = 30.0  # seconds between two looks at the queue when nothing wakes it
USER_AGENT = "email-center-webhooks/1"


class Deliverer:
    def __init__(self, host: Host):
        self.host = host
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task] = set()
        self._session: aiohttp.ClientSession | None = None

    def allow_private(self) -> bool:
        return bool(self.host.settings.get("webhook_allow_private", False))

    async def start(self) -> None:
        await self.host.listen(queue.CHANNEL, lambda _payload: self._wake.set())
        self.host.spawn(self._run(), name="mail-webhooks")

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        connector = aiohttp.TCPConnector(resolver=guard.GuardedResolver(self.allow_private), limit=50)
        self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": USER_AGENT})
        try:
            while True:
                self._wake.clear()
                wait = MAX_SLEEP
                try:
                    rows = await queue.claim(self.host.db, BATCH, self._timeout() + 30)
                    for row in rows:
                        task = asyncio.create_task(self._deliver(row), name=f"mail-webhook:{row['id']}")
                        self._inflight.add(task)
                        task.add_done_callback(self._inflight.discard)
                    due = await queue.next_due(self.host.db)
                    if due is not None:
                        wait = min(max(due, 0.05), MAX_SLEEP)
                except (TimeoutError, OSError, Exception) as e:  # the database away: try again
                    log.warning("webhook queue: %s: %s", type(e).__name__, e)
                    wait = 2.0
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
        finally:
            for task in list(self._inflight):
                task.cancel()
            await asyncio.gather(*self._inflight, return_exceptions=True)
            await self._session.close()

    def _timeout(self) -> float:
        return float(self.host.settings.get("webhook_timeout", 10))

    async def _deliver(self, row: Record) -> None:
        status: int | None = None
        response: str | None = None
        error: str | None = None
        body = (row["body"] or "").encode()
        try:
            secret = self.host.secrets.decrypt(row["secret"]) if row["secret"] else ""
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature(secret or "", body),
                "X-Email-Center-Event": row["event"],
                "X-Email-Center-Delivery": row["event_id"],
            }
            guard.check_literal(row["url"], self.allow_private())
            assert self._session is not None
            async with self._session.post(
                row["url"],
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self._timeout()),
            ) as answer:
                status = answer.status
                response = (await answer.content.read(queue.RESPONSE_LIMIT)).decode("utf-8", "replace")
            if not 200 <= status < 300:
                error = f"The receiver answered {status}."
        except TimeoutError:
            error = f"No answer within {self._timeout():g} s."
        except guard.PrivateAddress as e:
            error = f"Refused: {e} (webhook_allow_private is off)."
        except (aiohttp.ClientError, OSError, ValueError) as e:
            error = f"{type(e).__name__}: {e}"[:500]
        ok = error is None
        try:
            state = await queue.finish(
                self.host.db,
                row,
                ok=ok,
                status=status,
                response=response,
                error=error,
                first_retry=float(self.host.settings.get("webhook_retry_seconds", 10)),
                give_up_after=float(self.host.settings.get("webhook_retry_hours", 24)) * 3600,
            )
            if not ok:
                log.info("webhook %s: %s %s: %s (%s)", row["webhook_id"], row["event"], row["event_id"], error, state)
        except Exception:
            log.exception("webhook %s: could not record delivery %s", row["webhook_id"], row["id"])
        self._wake.set()  # its successor of the same account may be due now
