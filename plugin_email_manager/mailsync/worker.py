"""The sync of one account in the process holding its lease: scheduled and requested full syncs,
and an IDLE connection on the inbox for new mail within seconds.

Syncs of one account never overlap (one lock); Refreshes that arrive together share one sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import TYPE_CHECKING, Callable

from host.errors import HostError
from plugin_email_manager import connections, metrics
from plugin_email_manager.errors import MailAuthFailed, TokenRefreshFailed
from plugin_email_manager.mailsync.account_sync import sync_account

if TYPE_CHECKING:
    from host.api import Host
    from plugin_email_manager.mailsync.folder_sync import Counts

log = logging.getLogger(__name__)

RETRY_SECONDS = (5, 15, 60, 300)  # after a failed connection, back off, then keep the schedule


class Worker:
    def __init__(self, host: Host, account_id: int, after_sync: Callable[[], None] | None = None):
        self.host = host
        self.account_id = account_id
        self.after_sync = after_sync  # told when a sync ends, however it ended
        self._lock = asyncio.Lock()
        self._requested: asyncio.Future | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.failures = 0
        self._recovered = asyncio.Event()  # set by a good scheduled sync, cleared by a failed one

    def start(self) -> None:
        self._tasks = [
            self.host.spawn(self._schedule(), name=f"mail-sync:{self.account_id}"),
            self.host.spawn(self._idle(), name=f"mail-idle:{self.account_id}"),
        ]

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._requested and not self._requested.done():
            self._requested.cancel()

    def request_sync(self) -> asyncio.Future:
        """A future for the next full sync's counts; requests made together share it."""
        if self._requested is None or self._requested.done():
            self._requested = asyncio.get_running_loop().create_future()
            self._requested.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "never retrieved"
        self._wake.set()
        return self._requested

    async def _notify(self, step: Counts) -> None:
        # stored with their text, or their text stored: the parse pass has work (a message listed
        # headers first gives it none, and waking it for each batch made it walk the account's
        # queue of messages without text each time)
        if step.new > step.unfetched or step.updated:
            await self.host.notify("mail_stored", {"accountId": self.account_id})
        if step.new:
            user_id = await self.host.db.fetchval("SELECT user_id FROM mail_accounts WHERE id = $1", self.account_id)
            if user_id is not None:
                await self.host.badges_changed(user_id)

    @property
    def syncing(self) -> bool:
        return self._lock.locked()

    async def run_sync(self, only: str | None = None) -> Counts:
        async with self._lock:
            try:
                return await sync_account(self.host, self.account_id, only=only, notify=self._notify)
            finally:
                if self.after_sync:
                    self.after_sync()

    async def _schedule(self) -> None:
        while True:
            future, self._requested = self._requested, None
            self._wake.clear()
            try:
                counts = await self.run_sync()
                self.failures = 0
                self._recovered.set()
                if future and not future.done():
                    future.set_result(counts.as_json())
            except asyncio.CancelledError:
                if future and not future.done():
                    future.cancel()
                raise
            except Exception as e:
                self.failures += 1
                self._recovered.clear()
                if future and not future.done():
                    future.set_exception(
                        e
                        if isinstance(e, HostError)
                        else HostError(f"The sync failed: {e}", code="SYNC_FAILED", status=502)
                    )
                if not isinstance(e, HostError):
                    log.exception("account %s: sync crashed", self.account_id)
            interval = float(self.host.settings.get("sync_interval", 300))
            if self.failures:
                interval = min(interval, RETRY_SECONDS[min(self.failures, len(RETRY_SECONDS)) - 1])
            try:
                await asyncio.wait_for(self._wake.wait(), interval)
            except asyncio.TimeoutError:
                pass

    async def _idle(self) -> None:
        """Hold an IDLE on the inbox; sync the inbox whenever the server announces a change."""
        await asyncio.sleep(0.2)  # let the first full sync start (it makes the folders)
        attempt = 0
        while True:
            try:
                account = await connections.load_account(self.host.db, self.account_id)
                if account.status == "error" and self.failures:
                    # the schedule retries the sync: IDLE waits for it (30 s at most) rather than
                    # knock on its own, and comes back as soon as it succeeded (a mail server back
                    # from a restart), not 30 s after
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._recovered.wait(), 30)
                    continue
                session = await connections.open_imap(self.host, account)
                metrics.IDLE_CONNECTIONS.inc()
                try:
                    info = await session.select("INBOX")
                    log.debug("account %s: IDLE on the inbox", self.account_id)
                    attempt = 0
                    # mail that came before this IDLE began announces nothing: catch up first;
                    # and after a failed sync (an inbox sync of this loop's, which no schedule
                    # retries) the server answers again: sync, or the account stays in error
                    known = await self.host.db.fetchval(
                        "SELECT uid_next FROM mail_folders WHERE account_id = $1 AND type = 'inbox' "
                        "ORDER BY id LIMIT 1",
                        self.account_id,
                    )
                    if known != info.uidnext or account.status == "error":
                        await self.run_sync(only="inbox")
                    renew = float(self.host.settings.get("idle_restart", 1500))
                    while True:
                        pushed = await session.idle(renew)
                        log.debug("account %s: IDLE woke: %s", self.account_id, pushed[:5])
                        if pushed:
                            await self.run_sync(only="inbox")
                finally:
                    metrics.IDLE_CONNECTIONS.dec()
                    await session.logout()
            except asyncio.CancelledError:
                raise
            except (MailAuthFailed, TokenRefreshFailed):
                await asyncio.sleep(60)
            except Exception as e:
                attempt += 1
                log.info("account %s: IDLE connection lost (%s), reconnecting", self.account_id, e)
                await asyncio.sleep(min(2**attempt, 60) + random.uniform(0, 1))
