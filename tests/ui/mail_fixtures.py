"""The full mail stack for the email center's browser tests: a real Dovecot, the recording SMTP
sink, and the real server with the email plugin, on one PostgreSQL.

    from tests.ui.mail_fixtures import mail_stack, mailbox  # noqa: F401 - fixtures

``mail_stack`` (module scope) starts everything once per test module. ``mailbox`` (per test)
gives each test a mailbox of its own: a fresh Dovecot login and a fresh app member, so that
tests never see each other's mail. Mail is seeded by APPENDing to Dovecot, as a real server
would hold it; the app then syncs it like any other mail.

The server's attachment limit is set low (``SERVER_LIMIT_MIB``) so that a test can reach the
server's own 413 without building a 25 MiB upload; the page checks 25 MiB by itself first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest

from tests.servers.app import Client, running_server
from tests.servers.dovecot import Dovecot
from tests.servers.oauth_provider import CLIENT_ID, CLIENT_SECRET, OAuthProvider
from tests.servers.smtp import SmtpSink
from tests.ui.conftest import sign_in

SERVER_LIMIT_MIB = 2
MEMBER_PASSWORD = "member-pass-1234"
_serial = itertools.count(1)


@dataclass
class MailStack:
    client: Client
    dovecot: Dovecot
    sink: SmtpSink
    oauth: OAuthProvider

    @property
    def base_url(self) -> str:
        return self.client.base_url

    async def point_google(self) -> None:
        """As root: "Google" signs in at the local provider and reads mail from the test Dovecot."""
        urls = self.oauth.urls
        status, body = await self.client.api(
            self.client.root_token,
            "mailSettings:update",
            {
                "clientId": CLIENT_ID,
                "clientSecret": CLIENT_SECRET,
                "authorizationUrl": urls["authorizationUrl"],
                "tokenUrl": urls["tokenUrl"],
                "userinfoUrl": urls["userinfoUrl"],
                "imapHost": self.dovecot.host,
                "imapPort": self.dovecot.port,
                "imapSecurity": "none",
                "smtpHost": self.sink.host,
                "smtpPort": self.sink.port,
                "smtpSecurity": "none",
            },
            query={"filter": {"provider": "google"}},
        )
        assert status == 200, body


@dataclass
class Mailbox:
    """One person: a Dovecot login (``address``/``password``) and an app member (``token``)."""

    stack: MailStack
    address: str
    password: str
    member_email: str
    token: str
    account_id: int | None = None

    # -- the mail server side ---------------------------------------------------------------

    def deliver(
        self,
        *,
        subject: str,
        frm: str = "Bob Builder <bob@example.test>",
        to: str | None = None,
        cc: str | None = None,
        text: str | None = "Hello there.",
        html: str | None = None,
        msgid: str | None = None,
        in_reply_to: str | None = None,
        references: str | None = None,
        date: dt.datetime | None = None,
        attachments: list[tuple[str, str, bytes]] = (),
        mailbox: str = "INBOX",
        seen: bool = False,
        flagged: bool = False,
    ) -> str:
        """APPENDs one message to this person's Dovecot mailbox; answers its Message-ID."""
        msg = EmailMessage()
        msg["From"] = frm
        msg["To"] = to or self.address
        if cc:
            msg["Cc"] = cc
        msg["Subject"] = subject
        msg["Date"] = format_datetime(date or dt.datetime.now(dt.timezone.utc))
        msg["Message-ID"] = msgid or make_msgid(domain="example.test")
        if in_reply_to:
            msg["In-Reply-To"] = in_reply_to
            msg["References"] = references or in_reply_to
        if html is not None:
            msg.set_content(text or "")
            msg.add_alternative(html, subtype="html")
        else:
            msg.set_content(text or "")
        for filename, ctype, data in attachments:
            main, sub = ctype.split("/", 1)
            msg.add_attachment(data, maintype=main, subtype=sub, filename=filename)
        flags = " ".join(f for f, on in (("\\Seen", seen), ("\\Flagged", flagged)) if on)
        self.stack.dovecot.append(self.address, msg, mailbox=mailbox, flags=flags, when=date)
        return msg["Message-ID"]

    def deliver_raw(self, raw: bytes, mailbox: str = "INBOX") -> None:
        self.stack.dovecot.append(self.address, raw, mailbox=mailbox)

    def seen_on_server(self, mailbox: str = "INBOX") -> dict[str, bool]:
        """Subject → whether the message carries \\Seen on the mail server."""
        return self.flag_on_server("\\Seen", mailbox)

    def flagged_on_server(self, subject: str, mailbox: str = "INBOX") -> bool:
        return self.flag_on_server("\\Flagged", mailbox).get(subject, False)

    def flag_on_server(self, flag: str, mailbox: str = "INBOX") -> dict[str, bool]:
        """Subject → whether the message carries ``flag`` on the mail server."""
        client = self.stack.dovecot.imap(self.address)
        try:
            client.select(f'"{mailbox}"', readonly=True)
            _typ, data = client.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        finally:
            client.logout()
        out = {}
        for item in data:
            if isinstance(item, tuple):
                flags, header = item[0].decode(), item[1].decode(errors="replace")
                subject = header.split(":", 1)[1].strip() if ":" in header else ""
                out[subject] = flag in flags
        return out

    # -- the app side -----------------------------------------------------------------------

    async def api(self, action: str, body=None, query=None, method: str = "POST"):
        return await self.stack.client.api(self.token, action, body, query=query, method=method)

    def imap_form(self) -> dict:
        """The values a person types in the IMAP/SMTP form for this mailbox."""
        d, s = self.stack.dovecot, self.stack.sink
        return {
            "email": self.address,
            "username": self.address,
            "password": self.password,
            "imapHost": d.host,
            "imapPort": d.port,
            "imapSecurity": "none",
            "smtpHost": s.host,
            "smtpPort": s.port,
            "smtpSecurity": "none",
        }

    async def link(self) -> int:
        """Adds the IMAP account through the API and waits for its first sync (for tests that
        are not about linking)."""
        status, body = await self.api(
            "mailAccounts:create", {"provider": "imap", **self.imap_form(), "displayName": "Alice Example"}
        )
        assert status == 200, body
        self.account_id = body["data"]["id"]
        await self.wait_ready()
        return self.account_id

    async def wait_ready(self, timeout: float = 30) -> dict:
        end = asyncio.get_running_loop().time() + timeout
        while True:
            status, body = await self.api("mailAccounts:list", method="GET")
            assert status == 200, body
            accounts = body["data"]
            if accounts and all(a["status"] == "ready" and not a.get("parsePending") for a in accounts):
                self.account_id = accounts[0]["id"]
                return accounts[0]
            if asyncio.get_running_loop().time() > end:
                raise TimeoutError(f"accounts not ready: {accounts}")
            await asyncio.sleep(0.2)

    async def sync(self) -> None:
        status, body = await self.api("mailAccounts:sync", {"filterByTk": self.account_id, "wait": True})
        assert status == 200, body

    async def threads(self, **params) -> list[dict]:
        status, body = await self.api("mailMessages:listThreads", params)
        assert status == 200, body
        return body["data"]

    async def sign_in(self, page, next_path: str = "/admin/mail") -> None:
        await sign_in(page, self.stack.base_url, self.member_email, MEMBER_PASSWORD, next_path=next_path)


@pytest.fixture(scope="module")
def oauth_provider():
    """The local OAuth provider that "Google" is pointed at (see ``MailStack.point_google``)."""
    provider = OAuthProvider().start()
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def dovecot(oauth_provider):
    # XOAUTH2 logins are checked against the provider's introspection endpoint
    server = Dovecot(introspection_url=oauth_provider.urls["introspectionUrl"]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def smtp_sink(dovecot, oauth_provider):
    # the sink checks the same logins as Dovecot: SMTP AUTH with the mailbox's password, or a
    # live access token of the provider for XOAUTH2
    def live(user: str, token: str) -> bool:
        grant = oauth_provider.access_tokens.get(token)
        return grant is not None and grant.user == user and grant.expires_at > time.time()

    sink = SmtpSink(users=dovecot.users, validate_token=live).start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
async def mail_stack(pg_cluster, dovecot, smtp_sink, oauth_provider):
    env = {"EMAIL_CENTER_MAX_MESSAGE_MIB": str(SERVER_LIMIT_MIB)}
    async with running_server(pg_cluster.create_database(), env=env) as client:
        yield MailStack(client, dovecot, smtp_sink, oauth_provider)


@pytest.fixture
async def mailbox(mail_stack) -> Mailbox:
    """A person with an empty Dovecot mailbox and an app member of their own (no account linked)."""
    n = next(_serial)
    address, password = f"alice{n}@example.test", f"secret-{n:04d}"
    mail_stack.dovecot.add_user(address, password)
    mail_stack.sink.users[address] = password
    member_email = f"member{n}@corp.test"
    token = await mail_stack.client.member(member_email, MEMBER_PASSWORD)
    mail_stack.sink.reset()
    return Mailbox(mail_stack, address, password, member_email, token)
