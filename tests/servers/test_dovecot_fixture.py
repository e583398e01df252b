"""The test Dovecot's helpers do what other tests rely on."""

from __future__ import annotations

import imaplib
import uuid

import pytest

from tests.servers.dovecot import start_dovecot


@pytest.fixture(scope="module")
def dovecot():
    server = start_dovecot()
    yield server
    server.stop()


@pytest.fixture
def mail_user(dovecot) -> tuple[str, str]:
    address = f"f{uuid.uuid4().hex[:10]}@example.test"
    dovecot.add_user(address, "secret")
    return address, "secret"


def _uids(dovecot, user, mailbox="INBOX") -> list[int]:
    client = dovecot.imap(user)
    client.select(f'"{mailbox}"')
    _, data = client.uid("SEARCH", "ALL")
    client.logout()
    return [int(x) for x in data[0].split()]


def test_bump_uidvalidity_gives_a_new_uidvalidity_and_keeps_the_mail(dovecot, mail_user):
    address = mail_user[0]
    for i in range(3):
        dovecot.append(address, b"Subject: %d\r\n\r\nbody\r\n" % i)
    dovecot.write_maildir(address, [b"Subject: a\r\n\r\nx\r\n"] * 2, mailbox="Archive")
    before, archive = dovecot.status(address), dovecot.status(address, "Archive")
    new = dovecot.bump_uidvalidity(address)
    after = dovecot.status(address)
    assert new == after["uidvalidity"] != before["uidvalidity"]
    assert after["messages"] == 3 and _uids(dovecot, address) == [1, 2, 3]
    assert dovecot.bump_uidvalidity(address, "Archive") != archive["uidvalidity"]
    assert dovecot.status(address, "Archive")["messages"] == 2


def test_write_maildir_is_picked_up_with_flags_and_dates(dovecot, mail_user):
    address = mail_user[0]
    dovecot.write_maildir(
        address, [b"Subject: %d\r\n\r\nbody\r\n" % i for i in range(10)], seen_every=5, start=1_700_000_000
    )
    client = dovecot.imap(address)
    client.select("INBOX")
    _, seen = client.uid("SEARCH", "SEEN")
    _, first = client.uid("FETCH", "1", "(INTERNALDATE)")
    client.logout()
    assert len(seen[0].split()) == 2 and dovecot.status(address)["messages"] == 10
    assert b"14-Nov-2023" in first[0]


def test_a_new_user_logs_in_at_once_and_a_changed_password_is_taken(dovecot):
    dovecot.add_user("fixture-user@example.test", "first")
    dovecot.imap("fixture-user@example.test").logout()
    dovecot.add_user("fixture-user@example.test", "other")
    with pytest.raises(imaplib.IMAP4.error):
        imaplib.IMAP4(dovecot.host, dovecot.port).login("fixture-user@example.test", "first")
    dovecot.imap("fixture-user@example.test").logout()


def test_deliver_puts_mail_in_the_inbox_over_lmtp(dovecot, mail_user):
    dovecot.deliver(mail_user[0], b"From: a@example.test\r\nSubject: lmtp\r\n\r\nhello\r\n")
    assert dovecot.status(mail_user[0])["messages"] == 1


def test_non_ascii_folders_work_through_the_helpers(dovecot, mail_user):
    client = dovecot.imap(mail_user[0])
    client.create('"Entw&APw-rfe"')
    client.logout()
    dovecot.append(mail_user[0], b"Subject: x\r\n\r\ny\r\n", mailbox="Entwürfe")
    dovecot.write_maildir(mail_user[0], [b"Subject: z\r\n\r\nw\r\n"], mailbox="Entwürfe")
    assert dovecot.status(mail_user[0], "Entwürfe")["messages"] == 2
