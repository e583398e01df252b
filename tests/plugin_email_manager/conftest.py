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
def mail_user(dovecot) -> tuple[str, str]:
    """A new Dovecot login with an empty mailbox: (address, password)."""
    address, password = f"u{uuid.uuid4().hex[:10]}@example.test", "pw-" + uuid.uuid4().hex[:8]
    dovecot.add_user(address, password)
    return address, password
