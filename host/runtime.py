"""``Host``: what plugins and actions reach at run time (one per process).

The database pool, settings, the secret box, background tasks and cross-process notifications.
Built by ``host.app`` inside its cleanup context; plugins get it in ``startup(host)`` and
actions as ``ctx.host``.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid
from collections import defaultdict
from typing import Any, Awaitable, Callable

import asyncpg

from host.secrets import SecretBox
from host.settings import Settings

log = logging.getLogger(__name__)

Listener = Callable[[Any], Awaitable[None] | None]


class Host:
    def __init__(self, *, db: asyncpg.Pool, dsn: str, settings: Settings, secrets: SecretBox,
                 registry, plugins, base_url: str = ""):
        self.db = db
        self.dsn = dsn
        self.settings = settings
        self.secrets = secrets
        self.registry = registry  # host.schema.Registry: every collection
        self.plugins = plugins    # host.plugins.Plugins
        self.base_url = base_url  # e.g. http://127.0.0.1:13000, for links the server hands out
        # a process id that is unique across hosts and restarts (for leases)
        self.process_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._tasks: set[asyncio.Task] = set()
        self._listeners: dict[str, list[Listener]] = defaultdict(list)
        self._listen_conn: asyncpg.Connection | None = None

    # ------------------------------------------------------------ background work

    def spawn(self, coro: Awaitable, name: str = "") -> asyncio.Task:
        """Run ``coro`` in the background; it is cancelled when the host stops. Errors are logged."""
        task = asyncio.ensure_future(coro)
        if name:
            task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._listen_conn is not None:
            await self._listen_conn.close()
            self._listen_conn = None

    # ------------------------------------------------------------ cross-process notifications

    async def notify(self, channel: str, payload: Any) -> None:
        """Send ``payload`` (JSON) to every process's listeners of ``channel`` (PostgreSQL NOTIFY)."""
        await self.db.execute("SELECT pg_notify($1, $2)", channel, json.dumps(payload))

    async def listen(self, channel: str, listener: Listener) -> None:
        """Call ``listener(payload)`` for every ``notify(channel, ...)`` of any process."""
        if self._listen_conn is None:
            self._listen_conn = await asyncpg.connect(self.dsn)
        if channel not in self._listeners:
            await self._listen_conn.add_listener(channel, self._dispatch)
        self._listeners[channel].append(listener)

    def _dispatch(self, _conn, _pid, channel: str, payload: str) -> None:
        try:
            value = json.loads(payload)
        except ValueError:
            value = payload
        for listener in self._listeners.get(channel, []):
            result = listener(value)
            if asyncio.iscoroutine(result):
                self.spawn(result, name=f"listener:{channel}")

    async def badges_changed(self, user_id: int) -> None:
        """Tell every process that ``user_id``'s badge counts may have changed (live badge stream)."""
        await self.notify("host_badges", {"userId": user_id})
