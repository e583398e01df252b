"""The connection under ``ImapSession``: the command loop, untagged bookkeeping, login, logout.

Every command goes through ``_run``, which holds the session's lock, sends the command (with
LITERAL+ when the server has it, else waiting for ``+`` before each literal), collects the
untagged responses until the tagged one, and raises ``ImapCommandFailed`` on NO/BAD. On any
other failure, cancellation included, the connection is closed: its state is unknown.

Logging in lives here too, because it is what changes the connection's own state (whether it is
authenticated, which capabilities count) and needs nothing of a selected folder. LOGIN and
AUTHENTICATE XOAUTH2 tell a refusal (``MailAuthFailed``) from an outage (``ImapUnavailable``, for
the RFC 5530 codes that mean "not now"). XOAUTH2 is done here rather than with aioimaplib's
``xoauth2()``: a server that refuses the token answers a ``+ <base64 JSON>`` challenge and waits
for an empty line, which aioimaplib never sends, so the call hung until its timeout. Here the
empty line is sent, the NO read, and the refusal raised at once.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Callable, Iterable

from host.errors import HostError
from plugin_email_manager.errors import ImapCommandFailed, ImapUnavailable, MailAuthFailed
from plugin_email_manager.mailsync.imap.codec import Literal, parse_uid_set, quote
from plugin_email_manager.mailsync.imap.wire import ProtocolError, Response, Wire

# Response codes (RFC 5530) that say "not now" rather than "not you".
TEMPORARY_CODES = {"UNAVAILABLE", "SERVERBUG", "LIMIT", "INUSE", "OVERQUOTA"}


def capabilities_in(responses: Iterable[Response]) -> set[str] | None:
    for r in responses:
        if r.name == "CAPABILITY":
            return {v.decode("ascii", "replace").upper() for v in r.values if isinstance(v, bytes)}
        if r.is_status and r.code and r.code.upper().startswith("CAPABILITY "):
            return set(r.code.upper().split()[1:])
    return None


def _astring(text: str) -> bytes | Literal:
    """Quoted when it can be; a literal for non-ASCII or control characters (passwords may hold them)."""
    if text.isascii() and not any(c in text for c in "\r\n\x00"):
        return quote(text)
    return Literal(text.encode("utf-8"))


class ImapConnection:
    """One connection to an IMAP server, up to logged in; ``ImapSession`` adds the folder commands."""

    def __init__(self, wire: Wire, host: str, port: int):
        self.wire, self.host, self.port = wire, host, port
        self.capabilities: set[str] = set()
        self.enabled: set[str] = set()
        self.authenticated = False
        self.selected: str | None = None
        self.exists = 0
        self._tagnum = 0
        self._lock = asyncio.Lock()
        self._inflight: set[bytes] = set()  # tags of FETCHes sent by a fetch_messages left early
        self._fetch_owner: object | None = None
        self._pushes: list[str] = []  # new mail announced during other commands, for idle()
        self._own_changes = False  # during SELECT, APPEND, MOVE: an EXISTS is our own doing

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def closed(self) -> bool:
        return self.wire.closed

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.logout()

    # -- reading and running --------------------------------------------------------------------

    def _next_tag(self) -> bytes:
        self._tagnum += 1
        return b"E%d" % self._tagnum

    def _observe(self, r: Response) -> None:
        if r.name == "EXISTS":
            if r.number is None:  # `* EXISTS` with no count is not IMAP
                raise ProtocolError(f"The IMAP server {self.where} sent EXISTS without a count.", server="imap")
            if r.number > self.exists and not self._own_changes:
                self._pushes.append(r.line())
            self.exists = r.number
        elif r.name == "EXPUNGE":
            self.exists = max(0, self.exists - 1)
        elif r.name == "VANISHED" and r.values and not isinstance(r.values[0], list):  # not (EARLIER)
            self.exists = max(0, self.exists - len(parse_uid_set(r.values[-1])))
        elif r.name == "ENABLED":
            self.enabled |= {v.decode("ascii", "replace").upper() for v in r.values if isinstance(v, bytes)}

    async def _read(self) -> Response:
        r = await self.wire.read()
        if r.kind == "untagged":
            self._observe(r)
        return r

    def _failed(self, r: Response, command: bytes) -> ImapCommandFailed:
        words = command.split(b" ")
        verb = b" ".join(words[:2] if words[0] == b"UID" else words[:1]).decode("ascii", "replace").strip()
        failed = ImapCommandFailed(
            f"The IMAP server {self.where} answered {r.name} to {verb}: {r.text}",
            server="imap",
            responseCode=r.code,
            serverText=r.text,
        )
        failed.answer = r.name
        return failed

    def _broken(self, e: BaseException) -> None:
        """After a failure: keep the connection only when the server's answer was read whole."""
        if not isinstance(e, HostError) or isinstance(e, ImapUnavailable):
            self.wire.abort()

    async def _settle(self) -> None:
        """Reads away the answers of FETCHes whose consumer stopped iterating."""
        self._fetch_owner = None
        while self._inflight:
            r = await self._read()
            if r.kind == "tagged":
                self._inflight.discard(r.tag)

    async def _run(
        self, *parts: bytes | Literal, on_continuation: Callable[[str], bytes] | None = None, own_changes: bool = False
    ) -> tuple[Response, list[Response]]:
        """Sends one command; answers its tagged OK and the untagged responses that came with it."""
        async with self._lock:
            self._own_changes = own_changes
            try:
                await self._settle()
                return await self._exchange(parts, on_continuation)
            except BaseException as e:
                self._broken(e)
                raise
            finally:
                self._own_changes = False

    async def _exchange(
        self, parts: tuple[bytes | Literal, ...], on_continuation: Callable[[str], bytes] | None
    ) -> tuple[Response, list[Response]]:
        tag = self._next_tag()
        command = parts[0]
        assert isinstance(command, bytes)  # a command starts with its name, never with a literal
        untagged: list[Response] = []
        buf = bytearray(tag + b" ")
        for part in parts:
            if not isinstance(part, Literal):
                buf += part
            elif "LITERAL+" in self.capabilities:
                buf += b"{%d+}\r\n" % len(part.data) + part.data
            else:  # a synchronizing literal: the server must say "+" first
                buf += b"{%d}\r\n" % len(part.data)
                await self.wire.send(bytes(buf))
                while (r := await self._read()).kind != "continuation":
                    if r.kind == "tagged" and r.tag == tag:
                        raise self._failed(r, command)
                    if r.kind == "untagged":
                        untagged.append(r)
                buf = bytearray(part.data)
        await self.wire.send(bytes(buf + b"\r\n"))
        while True:
            r = await self._read()
            if r.kind == "tagged":
                if r.tag == tag:
                    break
                self._inflight.discard(r.tag)
            elif r.kind == "continuation":
                if on_continuation is None:
                    raise ProtocolError(f"The IMAP server {self.where} asked for data nobody sends.", server="imap")
                await self.wire.send(on_continuation(r.text) + b"\r\n")
            else:
                untagged.append(r)
        if r.name != "OK":
            raise self._failed(r, command)
        return r, untagged

    # -- greeting, capabilities, login ----------------------------------------------------------

    async def _greeting(self) -> None:
        r = await self.wire.read()
        if r.kind != "untagged" or r.name not in ("OK", "PREAUTH"):
            self.wire.abort()
            raise ImapUnavailable(f"The IMAP server {self.where} refused the connection: {r.line()}", server="imap")
        self.authenticated = r.name == "PREAUTH"
        caps = capabilities_in([r])
        if caps:
            self.capabilities = caps
        else:
            await self.refresh_capabilities()

    async def refresh_capabilities(self) -> set[str]:
        """CAPABILITY (done by itself after login and STARTTLS); answers the new set."""
        _, untagged = await self._run(b"CAPABILITY")
        self.capabilities = capabilities_in(untagged) or set()
        return self.capabilities

    async def _after_auth(self, tagged: Response, untagged: list[Response]) -> None:
        self.authenticated = True
        caps = capabilities_in([tagged, *untagged])  # servers tell more after login
        if caps:
            self.capabilities = caps
        else:
            await self.refresh_capabilities()

    def _refused(self, e: ImapCommandFailed, how: str, detail: str = "") -> Exception:
        code = (e.extra.get("responseCode") or "").split(" ")[0].upper()
        text = e.extra.get("serverText") or ""
        if code in TEMPORARY_CODES:
            return ImapUnavailable(
                f"The IMAP server {self.where} could not check the login now: {text}", server="imap", responseCode=code
            )
        message = f"The IMAP server {self.where} refused the {how}: {text or 'authentication failed'}"
        failed = MailAuthFailed(message + (f" ({detail})" if detail else ""), server="imap")
        if code:
            failed.extra["responseCode"] = code
        return failed

    async def login(self, username: str, password: str) -> None:
        """LOGIN. :raises MailAuthFailed: refused (``server="imap"``); ImapUnavailable: not now."""
        if "LOGINDISABLED" in self.capabilities:
            raise MailAuthFailed(
                f"The IMAP server {self.where} refuses a password login on an unencrypted "
                "connection; use TLS or STARTTLS.",
                server="imap",
            )
        try:
            tagged, untagged = await self._run(b"LOGIN ", _astring(username), b" ", _astring(password))
        except ImapCommandFailed as e:
            raise self._refused(e, "login") from None
        await self._after_auth(tagged, untagged)

    async def authenticate_xoauth2(self, username: str, access_token: str) -> None:
        """AUTHENTICATE XOAUTH2; a refused token raises ``MailAuthFailed`` at once, never hangs."""
        if not any(c in username + access_token for c in "\x01\r\n"):
            sasl = base64.b64encode(f"user={username}\x01auth=Bearer {access_token}\x01\x01".encode()).decode()
        else:
            raise MailAuthFailed("The user name or token holds characters XOAUTH2 cannot carry.", server="imap")
        error_detail: list[str] = []
        sent_initial = "SASL-IR" in self.capabilities

        def on_challenge(challenge: str) -> bytes:
            nonlocal sent_initial
            if not sent_initial:
                sent_initial = True
                return sasl.encode()
            # A challenge after the credentials is the server's error report (a base64 JSON); the
            # exchange must be ended with an empty response for the tagged NO to come.
            try:
                report = json.loads(base64.b64decode(challenge))
                error_detail.append(", ".join(f"{k}={v}" for k, v in report.items()))
            except (ValueError, TypeError):
                pass
            return b""

        command = (
            b"AUTHENTICATE XOAUTH2 " + sasl.encode() if "SASL-IR" in self.capabilities else b"AUTHENTICATE XOAUTH2"
        )
        try:
            tagged, untagged = await self._run(command, on_continuation=on_challenge)
        except ImapCommandFailed as e:
            raise self._refused(e, "OAuth token", "; ".join(error_detail)) from None
        await self._after_auth(tagged, untagged)

    # -- the end --------------------------------------------------------------------------------

    async def logout(self) -> None:
        """LOGOUT and close; never raises (it runs in ``finally`` blocks, after failures too)."""
        if self.wire.closed:
            return
        try:
            async with asyncio.timeout(5):
                await self._run(b"LOGOUT")
        except (HostError, TimeoutError, OSError):
            pass
        finally:
            self.wire.abort()

    async def close(self) -> None:
        """Drops the connection without a word (after an error)."""
        self.wire.abort()
