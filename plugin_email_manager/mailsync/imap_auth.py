"""Logging in: LOGIN and AUTHENTICATE XOAUTH2, with refusals told apart from outages.

XOAUTH2 is done here rather than with aioimaplib's ``xoauth2()``: a server that refuses the token
answers a ``+ <base64 JSON>`` challenge and waits for an empty line, which aioimaplib never sends,
so the call hung until its timeout. Here the empty line is sent, the NO read, and the refusal
raised at once.
"""
from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING

from plugin_email_manager.errors import ImapCommandFailed, ImapUnavailable, MailAuthFailed
from plugin_email_manager.mailsync.imap_codec import Literal, quote

if TYPE_CHECKING:
    from plugin_email_manager.mailsync.imap import ImapSession

# Response codes (RFC 5530) that say "not now" rather than "not you".
TEMPORARY_CODES = {"UNAVAILABLE", "SERVERBUG", "LIMIT", "INUSE", "OVERQUOTA"}


def _astring(text: str) -> bytes | Literal:
    """Quoted when it can be; a literal for non-ASCII or control characters (passwords may hold them)."""
    if text.isascii() and not any(c in text for c in "\r\n\x00"):
        return quote(text)
    return Literal(text.encode("utf-8"))


def _refused(session: "ImapSession", e: ImapCommandFailed, how: str, detail: str = "") -> Exception:
    code = (e.extra.get("responseCode") or "").split(" ")[0].upper()
    text = e.extra.get("serverText") or ""
    if code in TEMPORARY_CODES:
        return ImapUnavailable(f"The IMAP server {session.where} could not check the login now: {text}",
                               server="imap", responseCode=code)
    message = f"The IMAP server {session.where} refused the {how}: {text or 'authentication failed'}"
    return MailAuthFailed(message + (f" ({detail})" if detail else ""), server="imap",
                          **({"responseCode": code} if code else {}))


async def login(session: "ImapSession", username: str, password: str) -> None:
    if "LOGINDISABLED" in session.capabilities:
        raise MailAuthFailed(f"The IMAP server {session.where} refuses a password login on an unencrypted "
                             "connection; use TLS or STARTTLS.", server="imap")
    try:
        tagged, untagged = await session._run(b"LOGIN ", _astring(username), b" ", _astring(password))
    except ImapCommandFailed as e:
        raise _refused(session, e, "login") from None
    await session._after_auth(tagged, untagged)


async def authenticate_xoauth2(session: "ImapSession", username: str, access_token: str) -> None:
    if not any(c in username + access_token for c in "\x01\r\n"):
        sasl = base64.b64encode(f"user={username}\x01auth=Bearer {access_token}\x01\x01".encode()).decode()
    else:
        raise MailAuthFailed("The user name or token holds characters XOAUTH2 cannot carry.", server="imap")
    error_detail: list[str] = []
    sent_initial = "SASL-IR" in session.capabilities

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

    command = b"AUTHENTICATE XOAUTH2 " + sasl.encode() if "SASL-IR" in session.capabilities \
        else b"AUTHENTICATE XOAUTH2"
    try:
        tagged, untagged = await session._run(command, on_continuation=on_challenge)
    except ImapCommandFailed as e:
        raise _refused(session, e, "OAuth token", "; ".join(error_detail)) from None
    await session._after_auth(tagged, untagged)
