"""Which process syncs which account, and when.

Each process runs one ``Supervisor``. An account is synced by the process holding its lease
(``mail_accounts.lease_owner``/``lease_until``), renewed every few seconds; a process that dies
stops renewing, and another takes the account over once the lease lapses (``lease_seconds``).

The accounts are shared out: every process records a heartbeat (``mail_sync_processes``), and
one holding more than its share (the accounts over the processes alive, rounded up) lets the
excess go, which the others then claim; a process never claims past its share either. So a
second process started beside a first takes half the accounts within a few ticks, and when
one dies its heartbeat and its leases lapse together and the others take its accounts.
For each account it holds, a process runs a ``Worker``: a full sync at start and every
``sync_interval``, a sync on request (Refresh), and an IDLE connection on the inbox that syncs
the inbox as soon as the server announces new mail.

A Refresh that arrives at a process not holding the lease is passed to the holder through
PostgreSQL NOTIFY (``mail_sync_request``); the holder answers on ``mail_sync_done``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from typing import TYPE_CHECKING, Callable

from plugin_email_manager.mailsync.worker import Worker

if TYPE_CHECKING:
    from host.api import Host

log = logging.getLogger(__name__)

TICK = 5.0
CLAIM_BATCH = 50


class Supervisor:
    def __init__(self, host: Host, after_sync: Callable[[], None] | None = None):
        self.host = host
        self.after_sync = after_sync  # handed to every worker (see Worker)
        self.workers: dict[int, Worker] = {}
        self._waiting: dict[str, asyncio.Future] = {}
        self._wake = asyncio.Event()

    @property
    def lease_seconds(self) -> float:
        return float(self.host.settings.get("lease_seconds", 30))

    async def start(self) -> None:
        await self.host.listen("mail_sync_request", self._on_request)
        await self.host.listen("mail_sync_done", self._on_done)
        await self.host.listen("mail_account_deleted", self._on_deleted)
        self.host.spawn(self._run(), name="mail-supervisor")

    async def _run(self) -> None:
        while True:
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("mail supervisor tick failed")
            try:
                await asyncio.wait_for(self._wake.wait(), TICK + random.uniform(0, 0.5))
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def _share(self) -> int:
        """How many accounts this process should hold: all of them over the processes alive."""
        # alive: a heartbeat within a lease, or within three ticks when the lease is shorter
        owner, secs = self.host.process_id, max(self.lease_seconds, 3 * TICK)
        alive, total = await self.host.db.fetchrow(
            "WITH beat AS (INSERT INTO mail_sync_processes (process_id, seen_at) VALUES ($1, now()) "
            "ON CONFLICT (process_id) DO UPDATE SET seen_at = now()) "
            "SELECT (SELECT count(*) FROM mail_sync_processes WHERE seen_at > now() - make_interval(secs => $2) "
            "AND process_id <> $1) + 1, (SELECT count(*) FROM mail_accounts)",
            owner,
            secs,
        )
        await self.host.db.execute(
            "DELETE FROM mail_sync_processes WHERE seen_at < now() - make_interval(secs => $1 * 10)", secs
        )
        return -(-total // alive)  # rounded up: together the shares cover every account

    async def _tick(self) -> None:
        owner, secs = self.host.process_id, self.lease_seconds
        share = await self._share()
        kept = {
            r["id"]
            for r in await self.host.db.fetch(
                "UPDATE mail_accounts SET lease_until = now() + make_interval(secs => $2) "
                "WHERE lease_owner = $1 RETURNING id",
                owner,
                secs,
            )
        }
        if len(kept) > share:  # more than our share (another process started): let the excess go
            excess = sorted(kept)[share:]
            await self.host.db.execute(
                "UPDATE mail_accounts SET lease_owner = NULL, lease_until = NULL "
                "WHERE id = ANY($2::bigint[]) AND lease_owner = $1",
                owner,
                excess,
            )
            kept -= set(excess)
        for account_id in list(self.workers):
            if account_id not in kept:  # deleted, let go, or taken over after we failed to renew in time
                self.stop_worker(account_id)
        room = min(CLAIM_BATCH, share - len(kept))
        claimed = (
            []
            if room <= 0
            else await self.host.db.fetch(
                "UPDATE mail_accounts SET lease_owner = $1, lease_until = now() + make_interval(secs => $2) "
                "WHERE id IN (SELECT id FROM mail_accounts WHERE lease_until IS NULL OR lease_until < now() "
                "ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING id",
                owner,
                secs,
                room,
            )
        )
        for row in claimed:
            self._start_worker(row["id"])
        for account_id in kept:
            if account_id not in self.workers:
                self._start_worker(account_id)

    async def claim(self, account_id: int) -> bool:
        """Take a free account now (a new one, or one whose holder is gone)."""
        got = await self.host.db.fetchval(
            "UPDATE mail_accounts SET lease_owner = $1, lease_until = now() + make_interval(secs => $3) "
            "WHERE id = $2 AND (lease_until IS NULL OR lease_until < now() OR lease_owner = $1) RETURNING id",
            self.host.process_id,
            account_id,
            self.lease_seconds,
        )
        if got is not None and account_id not in self.workers:
            self._start_worker(account_id)
        return got is not None

    def _start_worker(self, account_id: int) -> None:
        # A new account can be claimed twice in this process at once, by a tick (its lease is
        # still NULL after the INSERT) and by claim() from mailAccounts:create: a second Worker
        # would replace the first in self.workers, both would sync (into two sets of folders)
        # and IDLE, and the first could never be stopped.
        if account_id in self.workers:
            return
        worker = Worker(self.host, account_id, self.after_sync)
        self.workers[account_id] = worker
        worker.start()

    def syncing(self, account_id: int) -> bool:
        """Whether a sync of this account is running in this process."""
        worker = self.workers.get(account_id)
        return worker is not None and worker.syncing

    def stop_worker(self, account_id: int) -> None:
        worker = self.workers.pop(account_id, None)
        if worker:
            worker.stop()

    async def release_all(self) -> None:
        for account_id in list(self.workers):
            self.stop_worker(account_id)
        await self.host.db.execute(
            "UPDATE mail_accounts SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1",
            self.host.process_id,
        )
        await self.host.db.execute("DELETE FROM mail_sync_processes WHERE process_id = $1", self.host.process_id)

    # ------------------------------------------------------------ Refresh, from any process

    async def sync(self, account_id: int, *, wait: bool, timeout: float = 600) -> dict | None:
        """Sync an account now. With ``wait``, answers that sync's counts when it is done."""
        if account_id not in self.workers:
            await self.claim(account_id)
        worker = self.workers.get(account_id)
        if worker is not None:
            future = worker.request_sync()
            return await asyncio.wait_for(asyncio.shield(future), timeout) if wait else None
        request = uuid.uuid4().hex
        done = asyncio.get_running_loop().create_future()
        self._waiting[request] = done
        try:
            await self.host.notify("mail_sync_request", {"accountId": account_id, "request": request})
            return await asyncio.wait_for(done, timeout) if wait else None
        finally:
            self._waiting.pop(request, None)

    async def _on_request(self, payload: dict) -> None:
        account_id = payload.get("accountId")
        worker = self.workers.get(account_id) if account_id is not None else None
        if worker is None:
            return
        result: dict = {}
        try:
            result = {"counts": await worker.request_sync()}
        except Exception as e:
            result = {
                "error": str(getattr(e, "message", e)),
                "code": getattr(e, "code", "SYNC_FAILED"),
                "status": getattr(e, "status", 502),
            }
        await self.host.notify("mail_sync_done", {"request": payload.get("request"), **result})

    async def _on_done(self, payload: dict) -> None:
        request = payload.get("request")
        future = self._waiting.get(request) if request is not None else None
        if future and not future.done():
            future.set_result(payload)

    async def _on_deleted(self, payload: dict) -> None:
        account_id = payload.get("accountId")
        if account_id is not None:
            self.stop_worker(account_id)
