"""``Host``: what plugins and actions reach at run time (one per process).

The database pool, settings, the secret box, background tasks, cross-process notifications, the
host's own features (sign-in, badges, the admin pages, metrics) and each plugin's per-process
state. Every slot is declared here and given to the constructor: nothing is attached later.
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
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import asyncpg

from host import logs
from host.secrets import SecretBox
from host.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from host.api import UIEntry, UIExtension
    from host.auth import Authenticator
    from host.badges import Badges
    from host.metrics import Metrics
    from host.plugins import Plugins
    from host.schema import Registry

log = logging.getLogger(__name__)

Listener = Callable[[Any], Awaitable[None] | None]


class Host:
    def __init__(
        self,
        *,
        db: asyncpg.Pool,
        dsn: str,
        settings: Settings,
        secrets: SecretBox,
        registry: Registry,
        plugins: Plugins,
        auth: Authenticator,
        badges: Badges,
        metrics: Metrics,
        ui_entries: Sequence[UIEntry] = (),
        ui_extensions: Sequence[UIExtension] = (),
        base_url: str = "",
    ):
        self.db = db
        self.dsn = dsn
        self.settings = settings
        self.secrets = secrets
        self.registry = registry  # every collection
        self.plugins = plugins
        self.base_url = base_url  # e.g. http://127.0.0.1:13000, for links the server hands out
        # the host's own features (host.auth, host.badges, host.metrics, the admin shell's pages)
        self.auth = auth
        self.badges = badges
        self.metrics = metrics
        self.ui_entries: tuple[UIEntry, ...] = tuple(ui_entries)
        self.ui_extensions: tuple[UIExtension, ...] = tuple(ui_extensions)  # modules the host's pages import
        # a process id that is unique across hosts and restarts (for leases)
        self.process_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._tasks: set[asyncio.Task] = set()
        self._listeners: dict[str, list[Listener]] = defaultdict(list)
        self._listen_conn: asyncpg.Connection | None = None
        self._state: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------ per-plugin state

    def state(self, plugin: str) -> dict[str, Any]:
        """The per-process state of ``plugin``: where it keeps the objects it builds at start-up.

        :param plugin: the plugin's name, as its ``plugin.toml`` spells it (``name``).
        :return: the same dict at every call with that name (empty at the first), one per
            plugin, so that plugins never share keys. A plugin fills it in ``startup(host)`` (a
            supervisor, a cache) and finds it again in its actions through ``ctx.host`` and in
            its routes through ``host.api.request_host``. It lives as long as this host, in this
            process only: never shared with another process, never kept across a restart (what
            must survive belongs in the database).
        :raises KeyError: no plugin of that name is loaded; a misspelled name fails here rather
            than keeping state that nobody finds.
        """
        found = self._state.get(plugin)
        if found is None:
            if plugin not in self.plugins.names():
                raise KeyError(f"no plugin named {plugin!r} is loaded")
            found = self._state[plugin] = {}
        return found

    # ------------------------------------------------------------ background work

    def spawn(self, coro: Awaitable, name: str = "") -> asyncio.Task:
        """Run ``coro`` in the background; it is cancelled when the host stops. Errors are logged.

        It runs without the request id of a request that started it (``host.logs``): a sync
        worker made by ``mailAccounts:create`` outlives that request."""
        if asyncio.iscoroutine(coro):
            task = asyncio.get_running_loop().create_task(coro, context=logs.detached())
        else:
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
        conn, self._listen_conn = self._listen_conn, None  # first: closing it is no loss to mend
        if conn is not None:
            await conn.close()

    # ------------------------------------------------------------ cross-process notifications

    async def notify(self, channel: str, payload: Any) -> None:
        """Send ``payload`` (JSON) to every process's listeners of ``channel`` (PostgreSQL NOTIFY)."""
        await self.db.execute("SELECT pg_notify($1, $2)", channel, json.dumps(payload))

    async def listen(self, channel: str, listener: Listener) -> None:
        """Call ``listener(payload)`` for every ``notify(channel, ...)`` of any process."""
        if self._listen_conn is None:
            await self._connect_listener()
        if channel not in self._listeners:
            await self._listen_conn.add_listener(channel, self._dispatch)
        self._listeners[channel].append(listener)

    async def _connect_listener(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            for channel in self._listeners:
                await conn.add_listener(channel, self._dispatch)
        except BaseException:
            conn.terminate()
            raise
        conn.add_termination_listener(self._listener_lost)
        self._listen_conn = conn

    def _listener_lost(self, conn: asyncpg.Connection) -> None:
        # PostgreSQL restarted or the network was cut: without a new connection every later
        # NOTIFY would be lost too (a Refresh relayed to the process syncing the account waited
        # out its whole timeout). What was sent while it was down is lost all the same.
        if conn is self._listen_conn:
            self._listen_conn = None
            self.spawn(self._listen_again(), name="host-listen-again")

    async def _listen_again(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._connect_listener()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
                log.warning("the LISTEN connection is lost; trying again in %.1fs: %s: %s", delay, type(e).__name__, e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            else:
                log.info("the LISTEN connection is back")
                return

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
