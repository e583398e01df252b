"""A recording SMTP server for tests: aiosmtpd in its own thread, on a free port of 127.0.0.1.

    sink = SmtpSink(users={"ann@example.test": "secret"}, tokens={"tok-1": "ann@example.test"})
    sink.start()
    ...  # send to 127.0.0.1:sink.port, security "none"
    mail_from, rcpt_tos, content = sink.messages[0]   # also .login: who had authenticated
    sink.stop()

AUTH PLAIN and LOGIN check ``users``; XOAUTH2 checks the bearer token with ``validate_token(user,
token)`` (by default: ``tokens[token] == user``) and refuses a bad one the way Gmail does: a
``334`` challenge carrying a base64 JSON error, then ``535`` after the client's empty line.
Login is never required (Dovecot's submission relays here without AUTH), but each delivery
records who had logged in, and ``auth_log`` records every attempt.

Failure controls, each for the next matching command only where it says "next":
``refuse`` (addresses answered 550 at RCPT, case-insensitive), ``fail_next_data`` (a reply such
as ``"421 4.3.0 Try again later"`` or ``"554 5.6.0 Rejected"`` to the next DATA), ``cut_next``
(drop the connection at the next DATA, before answering).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Callable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword

from tests.servers.net import free_port

XOAUTH2_ERROR = base64.b64encode(
    json.dumps({"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"}).encode()
).decode()


class Delivery(tuple):
    """One accepted message: unpacks as ``(mail_from, rcpt_tos, content)``; ``.login`` is the
    user the session had authenticated as, or None."""

    def __new__(cls, mail_from: str, rcpt_tos: list[str], content: bytes, login: str | None = None):
        self = super().__new__(cls, (mail_from, rcpt_tos, content))
        self.login = login
        return self

    mail_from = property(lambda self: self[0])
    rcpt_tos = property(lambda self: self[1])
    content = property(lambda self: self[2])

    def parsed(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.content)


def _login_of(session) -> str | None:
    data = session.auth_data if session.authenticated else None
    if isinstance(data, LoginPassword):
        return data.login.decode("utf-8", "replace")
    return data


class _Handler:
    def __init__(self, sink: "SmtpSink"):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in {a.lower() for a in self.sink.refuse}:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        sink = self.sink
        with sink._lock:
            cut, sink.cut_next = sink.cut_next, False
            failure, sink.fail_next_data = sink.fail_next_data, None
        if cut:
            server.transport.abort()  # gone before the final reply: the client can't know the outcome
            raise ConnectionResetError("cut by the test")
        if failure:
            return failure
        content = envelope.original_content or envelope.content
        with sink._lock:
            sink.messages.append(
                Delivery(envelope.mail_from, list(envelope.rcpt_tos), bytes(content), _login_of(session))
            )
            number = len(sink.messages)
        return f"250 2.0.0 Ok: queued as SINK{number}"

    async def auth_XOAUTH2(self, server, args):
        if len(args) > 1:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except ValueError:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        else:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        fields = dict(f.split("=", 1) for f in blob.decode("utf-8", "replace").split("\x01") if "=" in f)
        user, auth = fields.get("user", ""), fields.get("auth", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        ok = bool(token) and self.sink.validate_token(user, token)
        self.sink.auth_log.append(("XOAUTH2", user, ok))
        if ok:
            return AuthResult(success=True, auth_data=user)
        await server.challenge_auth(XOAUTH2_ERROR, encode_to_b64=False)  # reads the empty line
        return AuthResult(success=False, handled=False, message="535 5.7.8 Username and Password not accepted")


class SmtpSink:
    def __init__(
        self,
        users: dict[str, str] | None = None,
        tokens: dict[str, str] | None = None,
        validate_token: Callable[[str, str], bool] | None = None,
        *,
        hostname: str = "sink.example.test",
    ):
        self.host = "127.0.0.1"
        self.port = free_port()
        self.users = dict(users or {})
        self.tokens = dict(tokens or {})  # token -> the user it belongs to
        self.validate_token = validate_token or (lambda user, token: self.tokens.get(token) == user)
        self.messages: list[Delivery] = []
        self.auth_log: list[tuple[str, str, bool]] = []  # (mechanism, login, accepted)
        self.refuse: set[str] = set()
        self.fail_next_data: str | None = None
        self.cut_next = False
        self._lock = threading.Lock()
        self._controller = Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            server_hostname=hostname,
            authenticator=self._authenticate,
            auth_required=False,
            auth_require_tls=False,
        )

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        ok = login in self.users and self.users[login] == password
        self.auth_log.append((mechanism, login, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def start(self) -> "SmtpSink":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget deliveries and attempts, and disarm every failure control."""
        with self._lock:
            self.messages.clear()
            self.auth_log.clear()
            self.refuse.clear()
            self.fail_next_data, self.cut_next = None, False

    async def wait_for(self, count: int = 1, timeout: float = 5) -> list[Delivery]:
        """The deliveries once there are ``count`` of them (for mail relayed by another server)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while len(self.messages) < count:
            if loop.time() > end:
                raise TimeoutError(f"{len(self.messages)} of {count} messages arrived in {timeout} s")
            await asyncio.sleep(0.05)
        return list(self.messages)
