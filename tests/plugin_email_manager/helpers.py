"""A person's view of the email plugin in tests: one member, one mailbox on the real Dovecot."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from plugin_email_manager import connections


class Opens:
    """``connections`` as one module sees it (monkeypatch it over that module's ``connections``),
    counting its IMAP login attempts: a proxy's count would also take the account's sync worker's,
    which connects and reconnects when it likes (IDLE), so it cannot say how often that module did."""

    def __init__(self) -> None:
        self.count = 0

    def __getattr__(self, name: str):
        return getattr(connections, name)

    async def open_imap(self, *args, **kwargs):
        self.count += 1
        return await connections.open_imap(*args, **kwargs)


def imap_account(address: str, password: str, dovecot, smtp) -> dict:
    """``mailAccounts:create``'s values for a login of the test Dovecot and SMTP sink."""
    return {
        "provider": "imap",
        "email": address,
        "password": password,
        "imapHost": "127.0.0.1",
        "imapPort": dovecot.port,
        "imapSecurity": "none",
        "smtpHost": "127.0.0.1",
        "smtpPort": smtp.port,
        "smtpSecurity": "none",
    }


def provider_settings(provider, client_id: str, client_secret: str, dovecot, smtp) -> dict:
    """``mailSettings:update``'s values pointing an OAuth provider at the local one, and its mail
    at the test Dovecot and SMTP sink."""
    return {
        "clientId": client_id,
        "clientSecret": client_secret,
        **{k: provider.urls[k] for k in ("authorizationUrl", "tokenUrl", "userinfoUrl")},
        "imapHost": "127.0.0.1",
        "imapPort": dovecot.port,
        "imapSecurity": "none",
        "smtpHost": "127.0.0.1",
        "smtpPort": smtp.port,
        "smtpSecurity": "none",
    }


def message(
    frm: str,
    to: str,
    subject: str,
    body: str = "Hello there.",
    *,
    msgid: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    cc: str | None = None,
    reply_to: str | None = None,
    date: datetime | None = None,
    attachment=None,
    html: str | None = None,
) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = frm, to, subject
    if cc:
        m["Cc"] = cc
    if reply_to:
        m["Reply-To"] = reply_to
    m["Date"] = format_datetime(date or datetime.now(timezone.utc))
    m["Message-ID"] = msgid or make_msgid(domain="example.test")
    if in_reply_to:
        m["In-Reply-To"] = in_reply_to
    if references:
        m["References"] = references
    m.set_content(body)
    if html:
        m.add_alternative(html, subtype="html")
    if attachment:
        name, data, ctype = attachment
        maintype, subtype = ctype.split("/")
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return m


@dataclass
class Mailbox:
    server: object
    dovecot: object
    smtp: object
    token: str
    address: str
    password: str
    account_id: int | None = None

    async def api(self, action: str, body=None, query=None, method: str = "POST"):
        return await self.server.api(self.token, action, body, query=query, method=method)

    def account_values(self, **overrides) -> dict:
        return {
            **imap_account(self.address, self.password, self.dovecot, self.smtp),
            "username": self.address,
            **overrides,
        }

    async def link(self, **overrides) -> int:
        status, body = await self.api("mailAccounts:create", self.account_values(**overrides))
        assert status == 200, body
        self.account_id = body["data"]["id"]
        return self.account_id

    async def sync(self) -> dict:
        status, body = await self.api("mailAccounts:sync", {"filterByTk": self.account_id, "wait": True})
        assert status == 200, body
        await self.parsed()
        return body["data"]

    async def parsed(self, within: float = 30) -> None:
        end = time.monotonic() + within
        while time.monotonic() < end:
            status, body = await self.api("mailAccounts:get", query={"filterByTk": self.account_id}, method="GET")
            if status == 200 and not body["data"]["parsePending"]:
                return
            await asyncio.sleep(0.1)
        raise AssertionError("messages were not decoded in time")

    async def arrival(self, subject: str, within: float = 5) -> list[dict]:
        """The listed messages with this subject, as soon as there are any (mail pushed by the
        server, with no Refresh); AssertionError after ``within`` seconds."""
        end = time.monotonic() + within
        while not (rows := await self.messages({"subject": subject})):
            if time.monotonic() > end:
                raise AssertionError(f"{subject!r} did not arrive within {within} s")
            await asyncio.sleep(0.1)
        return rows

    def append(self, msg: EmailMessage, mailbox: str = "INBOX", flags: str = "") -> int:
        return self.dovecot.append(self.address, msg, mailbox=mailbox, flags=flags)

    async def messages(self, flt=None, **query) -> list[dict]:
        q = {"paginate": "false", **query}
        if flt is not None:
            q["filter"] = flt
        status, body = await self.api("mailMessages:list", query=q, method="GET")
        assert status == 200, body
        return body["data"]

    async def one(self, subject: str) -> dict:
        rows = await self.messages({"subject": subject})
        assert len(rows) == 1, rows
        status, body = await self.api("mailMessages:get", query={"filterByTk": rows[0]["id"]}, method="GET")
        assert status == 200, body
        return body["data"]


GMAIL_FOLDERS = ("[Gmail]/All Mail", "[Gmail]/Sent Mail", "[Gmail]/Spam", "[Gmail]/Trash")


def gmail_layout(dovecot, user: str) -> None:
    """Gives a Dovecot user Gmail's folders (``tests/servers/gmail_proxy.py`` marks them)."""
    client = dovecot.imap(user)
    try:
        for name in GMAIL_FOLDERS:
            typ, data = client.create(f'"{name}"')
            assert typ == "OK" or b"ALREADYEXISTS" in data[0], data
    finally:
        client.logout()


def gmail_receive(dovecot, user: str, msg, *keywords: str) -> int:
    """Gmail's side of a delivery: the message in All Mail with its labels (keywords, see
    GmailProxy), and in INBOX too while it has the label \\Inbox. Answers its All Mail UID."""
    uid = dovecot.append(user, msg, mailbox="[Gmail]/All Mail", flags=" ".join(keywords))
    if "GmInbox" in keywords:
        dovecot.append(user, msg, mailbox="INBOX")
    return uid
