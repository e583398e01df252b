"""Delivery over SMTP (aiosmtplib), with the server's answers mapped to the plugin's errors.

The transaction is driven command by command (MAIL, every RCPT, then DATA) rather than with
``send_message``: aiosmtplib sends the message when at least one recipient is accepted, and a
user must never have a message go out to half of its recipients while being told it failed.
If any RCPT is refused, we RSET and send nothing.

Errors::

    5xx to MAIL / RCPT / DATA            SmtpRejected  (422, extra "reply": "550 5.1.1 ...")
    4xx anywhere (421, 451, ...)         SmtpUnavailable (502, extra "reply")
    refused, timed out, dropped, TLS     SmtpUnavailable
    AUTH refused / not offered           MailAuthFailed (400, extra "server": "smtp")

XOAUTH2: ``token_provider`` is ``async def (refresh: bool = False) -> str``. When the server
refuses the token, the provider is asked once for a refreshed one (``refresh=True``) and the
login is tried again, on a new connection if the server hung up.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from email import policy
from email.message import EmailMessage
from typing import Any, Awaitable, Callable, Iterable, Iterator

import aiosmtplib

from host.errors import BadRequest, HostError
from plugin_email_manager.errors import MailAuthFailed, SmtpRejected, SmtpUnavailable

TokenProvider = Callable[..., Awaitable[str]]  # async def (refresh: bool = False) -> str
SECURITIES = ("tls", "starttls", "none")
_local_name: str | None = None


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


async def _local_hostname() -> str:
    """Our EHLO name, looked up once (socket.getfqdn can block on DNS)."""
    global _local_name
    if _local_name is None:
        name = await asyncio.to_thread(socket.getfqdn)
        _local_name = name if name and name.isascii() and " " not in name else "localhost"
    return _local_name


@contextlib.contextmanager
def _mapped(host: str, port: int) -> Iterator[None]:
    """aiosmtplib's and the network's exceptions as the plugin's errors."""
    where = f"{host}:{port}"
    try:
        yield
    except HostError:
        raise
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise MailAuthFailed(
            f"The SMTP server {where} refused the login: {_reply(exc)}", server="smtp", reply=_reply(exc)
        ) from exc
    except aiosmtplib.SMTPResponseException as exc:
        # 5xx here came before any message was offered (greeting, EHLO, STARTTLS): not a verdict
        # on the message, so it is the server that is unusable
        raise SmtpUnavailable(f"The SMTP server {where} answered: {_reply(exc)}", reply=_reply(exc)) from exc
    except (aiosmtplib.SMTPTimeoutError, asyncio.TimeoutError, TimeoutError) as exc:
        raise SmtpUnavailable(f"The SMTP server {where} did not answer in time") from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        # connection refused or dropped, TLS failures, a server without STARTTLS
        raise SmtpUnavailable(f"The SMTP server {where} is unavailable: {exc}") from exc


async def _connect(host: str, port: int, security: str, timeout: float) -> aiosmtplib.SMTP:
    if security not in SECURITIES:
        raise BadRequest(f"SMTP security must be one of {', '.join(SECURITIES)}", code="BAD_REQUEST")
    client = aiosmtplib.SMTP(
        hostname=host,
        port=port,
        timeout=timeout,
        use_tls=security == "tls",
        start_tls=security == "starttls",
        local_hostname=await _local_hostname(),
    )
    await client.connect()  # closes itself when it fails
    try:
        await client.ehlo()
    except BaseException:
        client.close()
        raise
    return client


async def _login(
    client: aiosmtplib.SMTP,
    host: str,
    port: int,
    security: str,
    timeout: float,
    username: str | None,
    password: str | None,
    token_provider: TokenProvider | None,
) -> aiosmtplib.SMTP:
    """Authenticate ``client``; answers the client to use from now on (a new one after a retry)."""
    if token_provider is None and password is None:
        return client  # a relay that needs no login
    if not client.supports_extension("auth"):
        raise MailAuthFailed(
            f"The SMTP server {host}:{port} offers no login on this connection"
            + (" (try TLS or STARTTLS)" if security == "none" else ""),
            server="smtp",
        )
    if token_provider is None:
        await client.login(username or "", password or "")
        return client
    try:
        await client.auth_xoauth2(username or "", await token_provider())
    except aiosmtplib.SMTPAuthenticationError:
        fresh = await token_provider(refresh=True)
        if not client.is_connected:
            client = await _connect(host, port, security, timeout)
        try:
            await client.auth_xoauth2(username or "", fresh)
        except BaseException:
            client.close()  # the caller only knows the first connection
            raise
    return client


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit(timeout=5)
    except Exception:  # the server may already be gone; nothing is lost by not saying goodbye
        client.close()


async def check_login(
    host: str,
    port: int,
    security: str,
    username: str | None,
    password: str | None = None,
    token_provider: TokenProvider | None = None,
    *,
    timeout: float = 30,
) -> None:
    """Connect, EHLO, AUTH, QUIT: what ``mailAccounts:create`` checks before storing an account.

    :raises MailAuthFailed: the login was refused (``server="smtp"``).
    :raises SmtpUnavailable: the server could not be reached or used.
    """
    with _mapped(host, port):
        client = await _connect(host, port, security, timeout)
        try:
            client = await _login(client, host, port, security, timeout, username, password, token_provider)
        except BaseException:
            client.close()
            raise
    await _quit(client)


async def deliver(
    msg: EmailMessage,
    *,
    host: str,
    port: int,
    security: str,
    username: str | None,
    password: str | None = None,
    token_provider: TokenProvider | None = None,
    envelope_from: str,
    recipients: Iterable[str],
    timeout: float = 60,
) -> str:
    """Send ``msg`` to ``recipients`` (the envelope: To, Cc and Bcc) and answer the server's final
    reply (``"250 2.0.0 Ok: queued as …"``). Either every recipient is accepted and the message
    is sent, or nothing is sent and an error is raised.

    :raises SmtpRejected: a 5xx to MAIL, a RCPT or DATA (extra ``reply``, and ``recipients``
        when recipients were refused).
    :raises SmtpUnavailable: a 4xx, a timeout, a refused or dropped connection.
    :raises MailAuthFailed: the login was refused.
    """
    recipients = list(dict.fromkeys(recipients))
    if not recipients:
        raise BadRequest("A message needs at least one recipient", code="NO_RECIPIENTS")
    data = msg.as_bytes(policy=policy.SMTP)
    with _mapped(host, port):
        client = await _connect(host, port, security, timeout)
        try:
            client = await _login(client, host, port, security, timeout, username, password, token_provider)
            reply = await _transaction(client, envelope_from, recipients, data)
        except BaseException:
            client.close()  # on failure (or cancellation) just hang up: no QUIT to wait for
            raise
    await _quit(client)
    return reply


def _verdict(exc: aiosmtplib.SMTPResponseException, what: str, **extra: Any) -> HostError:
    if exc.code >= 500:
        return SmtpRejected(f"The SMTP server refused {what}: {_reply(exc)}", reply=_reply(exc), **extra)
    return SmtpUnavailable(f"The SMTP server could not take {what} now: {_reply(exc)}", reply=_reply(exc), **extra)


async def _transaction(client: aiosmtplib.SMTP, envelope_from: str, recipients: list[str], data: bytes) -> str:
    options = []
    if client.supports_extension("size"):
        options.append(f"SIZE={len(data)}")  # lets the server refuse an oversize message up front
    if not data.isascii() and client.supports_extension("8bitmime"):
        options.append("BODY=8BITMIME")
    try:
        await client.mail(envelope_from, options=options)
    except aiosmtplib.SMTPSenderRefused as exc:
        raise _verdict(exc, f"the sender {envelope_from}") from exc
    refused: list[aiosmtplib.SMTPRecipientRefused] = []
    for rcpt in recipients:
        try:
            await client.rcpt(rcpt)
        except aiosmtplib.SMTPRecipientRefused as exc:
            refused.append(exc)
            if exc.code == 421:  # the server is closing the connection
                break
    if refused:
        with contextlib.suppress(aiosmtplib.SMTPException):
            await client.rset()
        worst = max(refused, key=lambda e: e.code >= 500)
        names = [e.recipient for e in refused]
        raise _verdict(worst, "the recipient" + ("s " if len(names) > 1 else " ") + ", ".join(names), recipients=names)
    try:
        response = await client.data(data)
    except aiosmtplib.SMTPDataError as exc:
        raise _verdict(exc, "the message") from exc
    return f"{response.code} {response.message}".strip()
