"""Logged-in IMAP sessions kept for requests: what a request that needs the server now reuses.

A request that must ask the mail server at once (the text of a message listed headers first,
an attachment's bytes, a server SEARCH during a first sync) used to connect, log in and EXAMINE
every time: on loopback about half the time of opening such a message, on a remote server a
login per click. The API process keeps a few sessions per account instead:

    got = await imap_pool.of(host).run(account_id, work, folder="INBOX")
    # work(lease): await lease.examine(folder, uid_validity); await lease.fetch_sections(uids, sections)

A change a person makes (read, flagged, labels: ``pending_flags.push_now``; a move or a delete)
goes the same way, with its folder selected read-write: ``await lease.select(folder,
uid_validity)``, then ``lease.session.store_flags(...)``, ``.move(...)``, ``.expunge(...)``.

The rules:

- a session serves one request at a time, checked out whole (``ImapSession``'s lock orders
  commands, not requests: two requests on one session would each EXAMINE the other's folder);
- at most ``PER_ACCOUNT`` per account and ``MAX_SESSIONS`` per process; a request beyond them
  waits for one to come back, or, at the process's bound, closes another account's idle one;
- at most one connection attempt per account at a time: requests that come meanwhile wait for
  it and share its failure (a server down, or a password it refuses, is tried once, not once per
  request);
- a session idle ``IDLE_SECONDS`` is logged out, and every one when the plugin stops (``close``);
- a session that died while kept (the server restarted, the network cut it) fails its first
  command with ``ImapUnavailable``: the request then runs once more on a new session, unseen by
  the person. A new session that fails raises as ``connections.open_imap`` does (502
  ``IMAP_UNAVAILABLE``, ``MAIL_AUTH_FAILED``); ``work`` must be safe to run twice. Reads are, and
  so are the changes made here, though the cut may have come after the server did them: STORE
  +FLAGS/-FLAGS (and Gmail's labels) sets what is set already; UID MOVE and UID EXPUNGE of UIDs
  gone from the folder answer OK and do nothing (Dovecot does so, as UID commands may), and a
  move that tells no new UID is one the sync of its target folder brings in;
- the folder a session selected stays selected: the next request there skips EXAMINE
  (``Lease.examine``). Mail that came after that EXAMINE may be unknown to the session (a server
  need not answer for UIDs it has not announced), so a UID missing from a FETCH on a kept
  selection is asked once more after a new EXAMINE; a kept selection whose UIDVALIDITY is not the
  one expected is examined again too;
- a change is made on a read-write selection (``Lease.select``): a kept one is brought up to
  date with NOOP first, since a server acts only on messages it has announced to the session
  and the UIDs to change may be of mail synced after it selected (a STORE would skip them and
  the change be taken as made); a read-only one is SELECTed again. A read-write selection
  serves reads as well (every fetch here is BODY.PEEK, which sets no \\Seen);
- a session logged in with what the account no longer says (another server, login or password:
  the account was edited) is closed instead of reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Awaitable, Callable, Iterable, TypeVar

from plugin_email_manager import connections
from plugin_email_manager.errors import ImapUnavailable
from plugin_email_manager.process_state import PLUGIN

if TYPE_CHECKING:
    from host.api import Host
    from plugin_email_manager.mailsync.imap import ImapSession

log = logging.getLogger(__name__)

PER_ACCOUNT = 2
MAX_SESSIONS = 32
IDLE_SECONDS = 60.0
_STATE_KEY = "imap_pool"

T = TypeVar("T")


def _key(account: connections.Account) -> tuple:
    """What a session's login was made with: a session made with other values is not reused.
    An OAuth account's secret changes at each token refresh, which leaves its session valid."""
    secret = None if account.oauth else hashlib.sha256((account.secret or "").encode()).hexdigest()
    return (account.imap_host, account.imap_port, account.imap_security, account.provider, account.login, secret)


def _alive(session: ImapSession) -> bool:
    """False when the connection is known to be gone already (closed here, or EOF or an error
    read from the server while it was kept); a silent cut is found by the next command."""
    reader = session.wire.reader
    return not session.closed and not reader.at_eof() and reader.exception() is None


class Lease:
    """One kept session, checked out to one request, and the folder it has selected."""

    def __init__(self, account_id: int, key: tuple, session: ImapSession):
        self.account_id, self.key, self.session = account_id, key, session
        self.fresh = True  # opened for this request: no earlier selection to doubt
        self.folder: str | None = None  # selected by examine() or select(); None: unknown
        self.uidvalidity: int | None = None
        self.readonly = True  # the selection was an EXAMINE (or the server allows no changes)
        self.idle_since = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.retired = False
        self._kept = False  # the current selection was made by an earlier request
        self._wanted: int | None = None  # the UIDVALIDITY the request's UIDs came with

    async def examine(self, folder: str, uid_validity: int | None = None, *, again: bool = False) -> bool:
        """``folder`` selected read-only (EXAMINE: reading sets no flag), kept from an earlier
        request (read-only or read-write) unless ``again``; answers whether its UIDVALIDITY is ``uid_validity`` (None:
        any), else its UIDs name other messages now."""
        self._wanted = uid_validity
        self._kept = not again and self.folder == folder and self.session.selected == folder
        if self._kept and uid_validity is not None and self.uidvalidity != uid_validity:
            self._kept = False  # may have changed since it was selected: ask the server
        if not self._kept:
            await self._examine(folder)
        return uid_validity is None or self.uidvalidity == uid_validity

    async def _examine(self, folder: str) -> None:
        self.folder = None  # a failed EXAMINE leaves nothing selected
        info = await self.session.select(folder, readonly=True)
        self.folder, self.uidvalidity, self.readonly = folder, info.uidvalidity, True

    async def select(self, folder: str, uid_validity: int | None = None) -> bool:
        """``folder`` selected read-write (SELECT), for a change: a kept read-write selection is
        brought up to date (NOOP) instead. Answers whether its UIDVALIDITY is ``uid_validity``
        (None: any), else its UIDs name other messages now and nothing may be changed by them."""
        self._wanted, self._kept = uid_validity, False  # up to date either way: fetches need no second ask
        kept = self.folder == folder and self.session.selected == folder and not self.readonly
        if kept and (uid_validity is None or self.uidvalidity == uid_validity):
            await self.session.noop()
        else:
            self.folder = None  # a failed SELECT leaves nothing selected
            info = await self.session.select(folder)
            self.folder, self.uidvalidity, self.readonly = folder, info.uidvalidity, info.readonly
        return uid_validity is None or self.uidvalidity == uid_validity

    async def fetch_sections(self, uids: Iterable[int], sections: Iterable[str]) -> dict[int, dict[str, bytes]]:
        """``ImapSession.fetch_sections`` in the folder ``examine`` selected; the UIDs a kept
        selection did not answer for are asked again after a new EXAMINE (mail newer than it)."""
        uids, sections = list(uids), list(sections)
        got = await self.session.fetch_sections(uids, sections)
        missing = [u for u in uids if u not in got]
        if missing and self._kept and self.folder is not None:
            self._kept = False
            await self._examine(self.folder)
            if self._wanted is None or self.uidvalidity == self._wanted:
                got.update(await self.session.fetch_sections(missing, sections))
        return got


@dataclass
class _Account:
    idle: list[Lease] = field(default_factory=list)  # the most recently used last
    count: int = 0  # sessions of this account: idle, in use, or being opened
    opening: asyncio.Future[Lease] | None = None  # the one connection attempt in flight


class ImapPool:
    """The kept sessions of one process; see the module's docstring."""

    def __init__(
        self,
        host: Host,
        *,
        per_account: int = PER_ACCOUNT,
        max_sessions: int = MAX_SESSIONS,
        idle_seconds: float = IDLE_SECONDS,
    ):
        self.host = host
        self.per_account, self.max_sessions, self.idle_seconds = per_account, max_sessions, idle_seconds
        self.opened = 0  # sessions opened so far (a figure for tests and the bench)
        self._accounts: dict[int, _Account] = {}
        self._total = 0
        self._changed = asyncio.Event()  # replaced at each change; waiters wait on the one they saw
        self._closing: set[asyncio.Task] = set()
        self._closed = False

    @property
    def sessions(self) -> int:
        """Sessions open now (idle, in use, or being opened)."""
        return self._total

    async def run(self, account_id: int, work: Callable[[Lease], Awaitable[T]], *, folder: str | None = None) -> T:
        """``work(lease)`` with a session of this account to itself (one that has ``folder``
        selected if one is idle); once more on a new session when a kept one proves dead."""
        for attempt in range(2):
            lease = await self._acquire(account_id, folder)
            reused, lease.fresh = not lease.fresh, False
            try:
                result = await work(lease)
            except ImapUnavailable as e:
                self._retire(lease, polite=False)
                if reused and attempt == 0:
                    log.info(
                        "a kept IMAP session of account %s was dead (%s): the request runs on a new one", account_id, e
                    )
                    continue
                raise
            except BaseException:
                self._release(lease)  # kept if the session survived (a NO, an error of our own)
                raise
            self._release(lease)
            return result
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def close(self) -> None:
        """Logs out every idle session, gives up connecting; one in use is closed when its request
        gives it back."""
        self._closed = True
        for slot in self._accounts.values():
            if slot.opening is not None:
                slot.opening.cancel()  # a server that never greets would hold the stop 30 s
            for lease in list(slot.idle):
                self._retire(lease)
        if self._closing:
            await asyncio.gather(*list(self._closing), return_exceptions=True)

    # -- checking out and back in --------------------------------------------------------------

    async def _acquire(self, account_id: int, folder: str | None) -> Lease:
        account = await connections.load_account(self.host.db, account_id)
        key = _key(account)
        slot = self._accounts.setdefault(account_id, _Account())
        while True:
            lease = self._take_idle(slot, key, folder)
            if lease is not None:
                return lease
            if slot.opening is not None:
                # one attempt at a time: its session goes to the request that started it, and its
                # failure is everyone's (shield: a caller that gives up does not cancel it)
                await asyncio.shield(slot.opening)
                continue
            if slot.count < self.per_account and (self._total < self.max_sessions or self._evict()):
                attempt = slot.opening = self._open(slot, account, key)
                try:
                    return await asyncio.shield(attempt)
                except asyncio.CancelledError:  # given up: its session is kept for the next request
                    attempt.add_done_callback(functools.partial(self._adopt, slot))
                    raise
            changed = self._changed
            await changed.wait()

    def _take_idle(self, slot: _Account, key: tuple, folder: str | None) -> Lease | None:
        for lease in list(slot.idle):
            if lease.key != key or not _alive(lease.session):
                self._retire(lease, polite=lease.key != key)
        if not slot.idle:
            return None
        lease = next((x for x in reversed(slot.idle) if folder and x.folder == folder), slot.idle[-1])
        slot.idle.remove(lease)
        if lease.timer is not None:
            lease.timer.cancel()
            lease.timer = None
        return lease

    def _open(self, slot: _Account, account: connections.Account, key: tuple) -> asyncio.Future[Lease]:
        slot.count += 1
        self._total += 1

        async def opening() -> Lease:
            try:
                session = await connections.open_imap(self.host, account)
            except BaseException:
                slot.count -= 1
                self._total -= 1
                raise
            finally:
                slot.opening = None
                self._notify()
            self.opened += 1
            return Lease(account.id, key, session)

        task = asyncio.ensure_future(opening())
        task.add_done_callback(_consume)
        return task

    def _adopt(self, slot: _Account, attempt: asyncio.Future[Lease]) -> None:
        if not attempt.cancelled() and attempt.exception() is None:
            self._idle(slot, attempt.result())

    def _release(self, lease: Lease) -> None:
        slot = self._accounts[lease.account_id]
        if self._closed or not _alive(lease.session):
            self._retire(lease, polite=False)
        else:
            self._idle(slot, lease)

    def _idle(self, slot: _Account, lease: Lease) -> None:
        lease.idle_since = time.monotonic()
        lease.timer = asyncio.get_running_loop().call_later(self.idle_seconds, self._retire, lease)
        slot.idle.append(lease)
        self._notify()

    def _evict(self) -> bool:
        """Room at the process's bound: the idle session unused longest, of any account, goes."""
        idle = [lease for slot in self._accounts.values() for lease in slot.idle]
        if not idle:
            return False
        self._retire(min(idle, key=lambda x: x.idle_since))
        return True

    def _retire(self, lease: Lease, *, polite: bool = True) -> None:
        """Closes a session for good (LOGOUT when it is in order; dropped when it failed)."""
        if lease.retired:
            return
        lease.retired = True
        slot = self._accounts[lease.account_id]
        if lease in slot.idle:
            slot.idle.remove(lease)
        if lease.timer is not None:
            lease.timer.cancel()
            lease.timer = None
        slot.count -= 1
        self._total -= 1
        if polite and _alive(lease.session):
            task = asyncio.ensure_future(lease.session.logout())  # never raises
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        else:
            lease.session.wire.abort()
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


def _consume(task: asyncio.Future) -> None:
    """A connection attempt nobody awaited any more still has its failure read (no warning)."""
    if not task.cancelled():
        task.exception()


def of(host: Host) -> ImapPool:
    """This process's pool, made at first use."""
    state = host.state(PLUGIN)
    pool = state.get(_STATE_KEY)
    if pool is None:
        pool = state[_STATE_KEY] = ImapPool(host)
    return pool


async def close(host: Host) -> None:
    """At the plugin's shutdown: every kept session logged out."""
    pool = host.state(PLUGIN).pop(_STATE_KEY, None)
    if pool is not None:
        with contextlib.suppress(Exception):
            await pool.close()
