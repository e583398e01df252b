"""The IMAP session: ``connect``, then one ``ImapSession`` per connection, every call bounded.

The top layer, and the only one a caller needs: it adds to the connection (``protocol``) what is
done in a folder: ENABLE, LIST, SELECT with QRESYNC, SEARCH, FETCH with several commands in flight,
STORE, APPEND, MOVE, EXPUNGE, and waiting for news (IDLE, RFC 2177, else NOOP polling). Every read
has an inactivity timeout, and a dropped, stalled or cut connection raises ``ImapUnavailable`` and
closes the session. A NO or BAD raises ``ImapCommandFailed`` and leaves the session usable.
Cancelling a call closes the session (a half-read answer cannot be resumed). One session serves
one caller at a time; concurrent calls wait on a lock.

    session = await connect(host, port, "tls")
    await session.login(user, password)         # or authenticate_xoauth2(user, token)
    info = await session.select("INBOX", qresync=(uidvalidity, modseq))
    async for message in session.fetch_messages(uids): ...
    await session.logout()

Waiting for news: an announcement is an untagged EXISTS, EXPUNGE, VANISHED or FETCH. A new-mail
EXISTS that came during an earlier command (a FETCH, a SEARCH) was kept by the connection
(``ImapConnection._observe``) and is answered at once by the next ``idle`` or ``noop``.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import AsyncGenerator, Iterable

from plugin_email_manager.errors import ImapUnavailable
from plugin_email_manager.mailsync.imap.bodystructure import valid_section
from plugin_email_manager.mailsync.imap.codec import (
    Literal,
    flag_list,
    format_internaldate,
    mailbox_arg,
    parse_uid_set,
    uid_batches,
    uid_set,
)
from plugin_email_manager.mailsync.imap.fetch import (
    BODY_ITEMS,
    GMAIL_ITEMS,
    HEADER_ITEMS,
    FetchedMessage,
    FlagUpdate,
    fetch_attributes,
    fetched_message,
    flag_update,
    sections_of,
)
from plugin_email_manager.mailsync.imap.folders import Folder, folder_type, parse_list
from plugin_email_manager.mailsync.imap.protocol import ImapConnection
from plugin_email_manager.mailsync.imap.wire import Response, Wire

# Folder and folder_type are named here as well as in the package, as in the imap.py this module
# was: the client test binds this module (it patches COMMAND_UIDS) and reaches them through it.
__all__ = ["connect", "ImapSession", "SelectInfo", "Folder", "folder_type", "FetchedMessage", "FlagUpdate"]

SECURITIES = ("tls", "starttls", "none")
# UIDs per STORE/MOVE/EXPUNGE/flag FETCH: scattered UIDs make long lines, and servers cap a
# command line (Dovecot at 64 KiB by default).
COMMAND_UIDS = 1000
PUSHES = ("EXISTS", "EXPUNGE", "FETCH", "VANISHED")
POLL_SECONDS = 30.0  # NOOP interval when the server has no IDLE
BURST_SECONDS = 0.05  # a delivery comes as EXISTS, RECENT, maybe FETCH: one wake-up for all
_CODE_NUMBER = re.compile(r"(UIDVALIDITY|UIDNEXT|HIGHESTMODSEQ) (\d+)", re.I)


@dataclass
class SelectInfo:
    name: str
    exists: int = 0
    uidvalidity: int | None = None
    uidnext: int | None = None
    highestmodseq: int | None = None  # None: the server keeps no MODSEQs for it (NOMODSEQ / no CONDSTORE)
    vanished: list[int] = field(default_factory=list)  # QRESYNC: UIDs expunged since the given MODSEQ
    changed: list[FlagUpdate] = field(default_factory=list)  # QRESYNC: flags changed since then
    flags: list[str] = field(default_factory=list)
    permanent_flags: list[str] = field(default_factory=list)
    readonly: bool = False
    qresync: bool = False  # whether QRESYNC was used (else vanished/changed are empty by necessity)


async def connect(
    host: str, port: int, security: str = "tls", *, timeout: float = 30, ssl_context: ssl.SSLContext | None = None
) -> "ImapSession":
    """A connection that has read the greeting (and done STARTTLS), not logged in yet.

    :param security: "tls" (implicit, port 993), "starttls" (required, never skipped) or "none".
    :param timeout: seconds of silence after which any call fails with ``ImapUnavailable``.
    """
    if security not in SECURITIES:
        raise ValueError(f"security must be one of {SECURITIES}")
    context = None if security == "none" else (ssl_context or ssl.create_default_context())
    wire = await Wire.open(host, port, context if security == "tls" else None, timeout)
    session = ImapSession(wire, host, port)
    try:
        await session._greeting()
        if security == "starttls":
            if "STARTTLS" not in session.capabilities:
                raise ImapUnavailable(f"The IMAP server {session.where} offers no STARTTLS.", server="imap")
            await session._run(b"STARTTLS")
            assert context is not None  # only security "none" goes without one
            await wire.start_tls(context, host)
            await session.refresh_capabilities()  # what was said in clear text no longer counts
    except BaseException:
        wire.abort()
        raise
    return session


def _uid_sets(uids: Iterable[int] | str) -> list[str]:
    if isinstance(uids, str):
        return [uid_set(uids)]
    return uid_batches(sorted(set(uids)), COMMAND_UIDS)


def _copyuid(responses: Iterable[Response]) -> dict[int, int]:
    for r in responses:
        if r.is_status and r.code and r.code.upper().startswith("COPYUID "):
            _, _, source, dest = r.code.split()
            return dict(zip(parse_uid_set(source), parse_uid_set(dest)))
    return {}


def _is_push(r: Response) -> bool:
    return r.kind == "untagged" and r.name in PUSHES


class ImapSession(ImapConnection):
    """A logged-in (or about to be) IMAP connection; see the module's docstring."""

    async def enable_qresync(self) -> bool:
        """ENABLE QRESYNC (which implies CONDSTORE), else CONDSTORE; answers whether QRESYNC is on."""
        if "QRESYNC" in self.enabled or "ENABLE" not in self.capabilities:
            return "QRESYNC" in self.enabled
        wanted = [c for c in ("QRESYNC", "CONDSTORE") if c in self.capabilities and c not in self.enabled]
        if wanted:
            await self._run(b"ENABLE " + wanted[0].encode())
            if wanted[0] == "QRESYNC" and "QRESYNC" in self.enabled:
                self.enabled.add("CONDSTORE")
        return "QRESYNC" in self.enabled

    # -- folders --------------------------------------------------------------------------------

    async def list_folders(self, *, include_noselect: bool = False) -> list[Folder]:
        command = b'LIST "" "*"'
        if "SPECIAL-USE" in self.capabilities:
            command += b" RETURN (SPECIAL-USE)"
        _, untagged = await self._run(command)
        folders = [parse_list(r.values) for r in untagged if r.name == "LIST"]
        return [f for f in folders if f is not None and (include_noselect or f.selectable)]

    async def select(self, name: str, *, readonly: bool = False, qresync: tuple[int, int] | None = None) -> SelectInfo:
        """SELECT (EXAMINE when ``readonly``). With ``qresync=(uidvalidity, modseq)`` and a server
        that has QRESYNC, the answer lists what vanished and changed since that MODSEQ (only when
        the UIDVALIDITY still matches; compare ``info.uidvalidity``)."""
        parts = [b"EXAMINE " if readonly else b"SELECT ", mailbox_arg(name)]
        info = SelectInfo(name=name, readonly=readonly)
        if qresync and qresync[0] and qresync[1] and "QRESYNC" in self.capabilities and await self.enable_qresync():
            parts.append(b" (QRESYNC (%d %d))" % (int(qresync[0]), int(qresync[1])))
            info.qresync = True
        elif "CONDSTORE" in self.capabilities and "CONDSTORE" not in self.enabled:
            parts.append(b" (CONDSTORE)")  # so that HIGHESTMODSEQ is reported
        self.selected = None  # a failed SELECT leaves no folder selected (RFC 3501 6.3.1)
        tagged, untagged = await self._run(*parts, own_changes=True)
        if parts[-1] == b" (CONDSTORE)":
            self.enabled.add("CONDSTORE")  # the parameter enables it for the session (RFC 7162 3.1)
        for r in untagged:
            if r.name == "EXISTS":
                assert r.number is not None  # _observe refused an EXISTS without its number
                info.exists = r.number
            elif r.name == "FLAGS" and r.values and isinstance(r.values[0], list):
                info.flags = [f.decode("utf-8", "replace") for f in r.values[0] if isinstance(f, bytes)]
            elif r.name == "VANISHED":
                info.vanished.extend(parse_uid_set(r.values[-1]))
            elif r.name == "FETCH":
                update = flag_update(fetch_attributes(r.values))
                if update:
                    info.changed.append(update)
            elif r.name == "OK" and r.code:
                for key, number in _CODE_NUMBER.findall(r.code):
                    setattr(info, key.lower(), int(number))
                if r.code.upper().startswith("PERMANENTFLAGS"):
                    info.permanent_flags = re.findall(r"[^\s()]+", r.code[len("PERMANENTFLAGS") :])
        info.readonly = readonly or (tagged.code or "").upper() == "READ-ONLY"
        self.selected, self.exists = name, info.exists
        return info

    # -- messages -------------------------------------------------------------------------------

    async def uid_search(self, criteria: str = "ALL") -> list[int]:
        """UID SEARCH with ASCII criteria (``"ALL"``, ``"SINCE 1-Jan-2025"``); answers sorted UIDs."""
        if not criteria.isascii() or any(c in criteria for c in "\r\n\x00"):
            raise ValueError("search criteria must be ASCII without line breaks")
        esearch = "ESEARCH" in self.capabilities
        command = (b"UID SEARCH RETURN (ALL) " if esearch else b"UID SEARCH ") + criteria.encode()
        _, untagged = await self._run(command)
        uids: list[int] = []
        for r in untagged:
            if r.name == "SEARCH":
                uids.extend(int(v) for v in r.values if isinstance(v, bytes) and v.isdigit())
            elif r.name == "ESEARCH":
                values = r.values
                for i, v in enumerate(values[:-1]):
                    if isinstance(v, bytes) and v.upper() == b"ALL":
                        uids.extend(parse_uid_set(values[i + 1]))
        return sorted(set(uids))

    def _fetch_items(self, body: bool, headers_only: bool = False) -> str:
        items = (HEADER_ITEMS if headers_only else BODY_ITEMS) if body else "UID FLAGS"
        if "CONDSTORE" in self.capabilities:
            items += " MODSEQ"
        if "X-GM-EXT-1" in self.capabilities:
            items += GMAIL_ITEMS if body else " X-GM-LABELS"
        return items

    async def fetch_messages(
        self,
        uids: Iterable[int] | str,
        *,
        changedsince: int | None = None,
        batch_size: int = 200,
        window: int = 3,
        headers_only: bool = False,
    ) -> AsyncGenerator[FetchedMessage, None]:
        """Whole messages, each yielded as soon as it is read, each UID at most once. With
        ``headers_only``, the listed header fields and BODYSTRUCTURE instead of the bytes
        (``FetchedMessage.structure``).

        A list of UIDs goes in commands of ``batch_size`` UIDs (in the order given), ``window`` of
        them in flight; a UID-set string (``"1:*"``) in one command. Another call on the session
        while iterating ends the iteration with RuntimeError.
        """
        batches = deque([uid_set(uids)] if isinstance(uids, str) else uid_batches(uids, batch_size))
        if not batches:
            return
        command = f" ({self._fetch_items(True, headers_only)})" + (
            f" (CHANGEDSINCE {int(changedsince)})" if changedsince else ""
        )
        owner = object()
        mine: set[bytes] = set()
        seen: set[int] = set()

        async def refill():
            while batches and len(mine) < max(1, window):
                tag = self._next_tag()
                await self.wire.send(tag + b" UID FETCH " + batches.popleft().encode() + command.encode() + b"\r\n")
                mine.add(tag)
                self._inflight.add(tag)

        async with self._lock:
            await self._settle()
            self._fetch_owner = owner
            await refill()
        while mine:
            message = None
            async with self._lock:
                if self._fetch_owner is not owner:
                    raise RuntimeError("another call on this IMAP session interrupted fetch_messages")
                try:
                    r = await self._read()
                    if r.kind == "tagged" and r.tag in mine:
                        mine.discard(r.tag)
                        self._inflight.discard(r.tag)
                        if r.name != "OK":
                            raise self._failed(r, b"UID FETCH")
                        await refill()
                    elif r.name == "FETCH" and r.kind == "untagged":
                        message = fetched_message(fetch_attributes(r.values))
                except BaseException as e:
                    self._broken(e)
                    raise
            if message is not None and message.uid not in seen:
                seen.add(message.uid)
                yield message

    async def fetch_sections(self, uids: Iterable[int], sections: Iterable[str]) -> dict[int, dict[str, bytes]]:
        """The bytes of these body sections (``"1"``, ``"2.1"``) of these messages, as sent (still in
        their transfer encoding), without setting \\Seen: ``{uid: {section: bytes}}``. A message
        gone from the folder is absent; a section it lacks comes back empty."""
        wanted = list(dict.fromkeys(sections))
        if not wanted or not all(valid_section(s) for s in wanted):
            raise ValueError(f"not body sections: {wanted!r}")
        items = " ".join(f"BODY.PEEK[{s}]" for s in wanted)
        found: dict[int, dict[str, bytes]] = {}
        for uids_ in _uid_sets(uids):
            _, untagged = await self._run(f"UID FETCH {uids_} (UID {items})".encode())
            for r in untagged:
                if r.name == "FETCH":
                    attrs = fetch_attributes(r.values)
                    uid = attrs.get(b"UID")
                    if isinstance(uid, bytes) and uid.isdigit():
                        found.setdefault(int(uid), {}).update(sections_of(attrs))
        return found

    async def fetch_flags(self, uids: Iterable[int] | str, *, changedsince: int | None = None) -> list[FlagUpdate]:
        """Flags (and MODSEQ) without bodies; with ``changedsince`` only messages changed after it."""
        found: dict[int, FlagUpdate] = {}
        modifier = f" (CHANGEDSINCE {int(changedsince)})" if changedsince else ""
        for uids_ in _uid_sets(uids):
            _, untagged = await self._run(f"UID FETCH {uids_} ({self._fetch_items(False)}){modifier}".encode())
            found.update(self._flag_updates(untagged))
        return list(found.values())

    @staticmethod
    def _flag_updates(responses: list[Response]) -> dict[int, FlagUpdate]:
        found: dict[int, FlagUpdate] = {}
        for r in responses:
            if r.name == "FETCH":
                update = flag_update(fetch_attributes(r.values))
                if update:
                    found[update.uid] = update
        return found

    async def store_flags(
        self, uids: Iterable[int] | str, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> list[FlagUpdate]:
        """UID STORE +FLAGS / -FLAGS; answers the messages' flags afterwards (with MODSEQ)."""
        found: dict[int, FlagUpdate] = {}
        for sign, flags in ((b"+", list(add)), (b"-", list(remove))):
            if flags:
                for uids_ in _uid_sets(uids):
                    _, untagged = await self._run(
                        b"UID STORE " + uids_.encode() + b" " + sign + b"FLAGS " + flag_list(flags)
                    )
                    found.update(self._flag_updates(untagged))
        return list(found.values())

    async def store_labels(
        self, uids: Iterable[int] | str, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> None:
        """Gmail (X-GM-EXT-1): UID STORE +X-GM-LABELS / -X-GM-LABELS, each label a quoted string in
        modified UTF-7 (as Gmail names them; a label is not an IMAP flag, it may hold spaces)."""
        for sign, labels in ((b"+", list(add)), (b"-", list(remove))):
            if labels:
                items = b"(" + b" ".join(mailbox_arg(label) for label in labels) + b")"
                for uids_ in _uid_sets(uids):
                    await self._run(b"UID STORE " + uids_.encode() + b" " + sign + b"X-GM-LABELS " + items)

    async def append(
        self, folder: str, raw: bytes, flags: Iterable[str] = (), date: datetime | None = None
    ) -> int | None:
        """APPEND; answers the new message's UID when the server tells it (UIDPLUS), else None."""
        flags = list(flags)
        parts: list[bytes | Literal] = [b"APPEND ", mailbox_arg(folder)]
        if flags:
            parts += [b" ", flag_list(flags)]
        if date is not None:
            parts += [b" ", format_internaldate(date)]
        parts += [b" ", Literal(bytes(raw))]
        tagged, _ = await self._run(*parts, own_changes=True)
        m = re.match(r"APPENDUID \d+ (\d+)$", tagged.code or "", re.I)
        return int(m.group(1)) if m else None

    async def move(self, uids: Iterable[int] | str, dest: str) -> dict[int, int]:
        """UID MOVE (else COPY, then expunge); answers {old UID: UID in ``dest``} when told (UIDPLUS)."""
        moved: dict[int, int] = {}
        for uids_ in _uid_sets(uids):
            target = uids_.encode() + b" " + mailbox_arg(dest)
            if "MOVE" in self.capabilities:
                tagged, untagged = await self._run(b"UID MOVE " + target, own_changes=True)
            else:
                tagged, untagged = await self._run(b"UID COPY " + target, own_changes=True)
                await self.expunge(uids_)
            moved.update(_copyuid([*untagged, tagged]))
        return moved

    async def expunge(self, uids: Iterable[int] | str) -> None:
        """Deletes these messages for good: \\Deleted, then UID EXPUNGE (plain EXPUNGE without
        UIDPLUS, which also removes other messages already marked \\Deleted)."""
        for uids_ in _uid_sets(uids):
            await self._run(b"UID STORE " + uids_.encode() + b" +FLAGS.SILENT (\\Deleted)")
            await self._run(b"UID EXPUNGE " + uids_.encode() if "UIDPLUS" in self.capabilities else b"EXPUNGE")

    # -- waiting for news -----------------------------------------------------------------------

    async def noop(self) -> list[str]:
        """NOOP; answers what the server announced (``"5 EXISTS"``, ``"3 EXPUNGE"``, ...)."""
        _, untagged = await self._run(b"NOOP")
        # A new-mail EXISTS is already among the kept announcements (see ImapConnection._observe).
        pushed = self._pushes + [r.line() for r in untagged if _is_push(r) and r.name != "EXISTS"]
        self._pushes = []
        return pushed

    async def idle(self, timeout: float) -> list[str]:
        """Waits up to ``timeout`` s for the server to announce a change in the selected folder.

        Answers the announcements (``"6 EXISTS"``, ``"VANISHED 3"``, ``"2 FETCH (FLAGS ...)"``),
        or [] when nothing happened. IDLE when the server has it, else NOOP every 30 s.
        """
        if self._pushes:
            pushed, self._pushes = self._pushes, []
            return pushed
        if "IDLE" not in self.capabilities:
            return await self._poll(timeout)
        async with self._lock:
            try:
                await self._settle()
                pushed = await self._idle(timeout)
            except BaseException as e:
                self._broken(e)  # cancelled mid-IDLE: the connection is left in IDLE, so it goes
                raise
        self._pushes = []  # what came during IDLE is in ``pushed`` already
        return pushed

    async def _idle(self, timeout: float) -> list[str]:
        wire = self.wire
        tag = self._next_tag()
        await wire.send(tag + b" IDLE\r\n")
        pushed: list[str] = []
        while (r := await self._read()).kind != "continuation":
            if r.kind == "tagged" and r.tag == tag:
                raise self._failed(r, b"IDLE")
            if _is_push(r):
                pushed.append(r.line())
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not pushed and end - loop.time() > 0 and await wire.wait_readable(end - loop.time()):
            r = await self._read()
            if _is_push(r):
                pushed.append(r.line())
        while pushed and await wire.wait_readable(BURST_SECONDS):
            r = await self._read()
            if _is_push(r):
                pushed.append(r.line())
        await wire.send(b"DONE\r\n")
        while not ((r := await self._read()).kind == "tagged" and r.tag == tag):
            if _is_push(r):
                pushed.append(r.line())
        if r.name != "OK":
            raise self._failed(r, b"IDLE")
        return pushed

    async def _poll(self, timeout: float) -> list[str]:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            pushed = await self.noop()
            left = end - loop.time()
            if pushed or left <= 0:
                return pushed
            await asyncio.sleep(min(POLL_SECONDS, left))
