"""Fixtures of the email manager's tests: one real Dovecot for the session, a fresh login per test."""

from __future__ import annotations

import uuid

import pytest

from tests.servers.dovecot import Dovecot
from tests.servers.net import free_port


@pytest.fixture(scope="session")
def dovecot():
    """Dovecot with IMAP (+STARTTLS), IMAPS and LMTP; its oauth2 passdb asks
    ``dovecot.introspection_url``, where nothing listens unless a test starts a server there."""
    server = Dovecot(introspection_url=f"http://127.0.0.1:{free_port()}/introspect").start()
    yield server
    server.stop()


@pytest.fixture
def gmail(dovecot):
    """Gmail's IMAP in front of the session's Dovecot (``tests/servers/gmail_proxy.py``)."""
    from tests.servers.gmail_proxy import GmailProxy

    proxy = GmailProxy(dovecot.port).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def mail_user(dovecot) -> tuple[str, str]:
    """A new Dovecot login with an empty mailbox: (address, password)."""
    address, password = f"u{uuid.uuid4().hex[:10]}@example.test", "pw-" + uuid.uuid4().hex[:8]
    dovecot.add_user(address, password)
    return address, password


@pytest.fixture(scope="session")
def smtp_sink():
    """An SMTP server that records what arrives; logins are those of ``mail_user``."""
    from tests.servers.smtp import SmtpSink

    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
async def mail_server(pg_cluster):
    """The real server with the email plugin, on a fresh database, for one test module."""
    from tests.servers.app import running_server

    async with running_server(pg_cluster.create_database(), env={"EMAIL_CENTER_SYNC_INTERVAL": "300"}) as client:
        yield client


@pytest.fixture
async def mailbox(dovecot, smtp_sink, mail_server, mail_user):
    """A member of the server with an IMAP account on a fresh Dovecot user: ``Mailbox``."""
    from tests.plugin_email_manager.helpers import Mailbox

    address, password = mail_user
    smtp_sink.users[address] = password
    token = await mail_server.member(address.replace("@", "+member@"))
    return Mailbox(mail_server, dovecot, smtp_sink, token, address, password)
