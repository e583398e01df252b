"""Gmail's labels: one message stored once, its type read from its labels, its conversation from
X-GM-THRID; label changes and new mail reach the list (through ``GmailProxy``, on a real Dovecot)."""

import pytest

from plugin_email_manager.mailsync.gmail import is_gmail, synced_folders, type_from_labels
from tests.plugin_email_manager.helpers import gmail_layout, gmail_receive, message

FOLDERS = [
    ("INBOX", "/", "inbox", None),
    ("[Gmail]/All Mail", "/", "archive", "\\All"),
    ("[Gmail]/Sent Mail", "/", "sent", "\\Sent"),
    ("[Gmail]/Spam", "/", "junk", "\\Junk"),
    ("[Gmail]/Trash", "/", "trash", "\\Trash"),
    ("Receipts", "/", "other", None),
]


def test_a_gmail_account_syncs_all_mail_junk_and_trash_only():
    assert is_gmail({"IMAP4REV1", "X-GM-EXT-1"}) and not is_gmail({"IMAP4REV1"})
    assert [f[0] for f in synced_folders(FOLDERS)] == ["[Gmail]/All Mail", "[Gmail]/Spam", "[Gmail]/Trash"]
    without_all_mail = [f for f in FOLDERS if f[3] != "\\All"]
    assert synced_folders(without_all_mail) == without_all_mail


def test_labels_give_the_type():
    assert type_from_labels(["\\Inbox", "\\Important", "Receipts"], "archive") == "inbox"
    assert type_from_labels(["\\Sent"], "archive") == "sent"
    assert type_from_labels(["\\Sent", "\\Inbox"], "archive") == "sent"  # a message to oneself: sent
    assert type_from_labels(["Receipts"], "archive") == "archive"
    assert type_from_labels(["\\Draft"], "archive") == "drafts"
    assert type_from_labels(["\\Inbox"], "trash") == "trash"  # in Trash or Spam, the folder says it
    assert type_from_labels(["\\Inbox", "Receipts"], "junk") == "junk"


# -- a Gmail account end to end: Dovecot holds the mail, GmailProxy speaks Gmail's IMAP --------


@pytest.fixture
def gmail_box(mailbox, gmail):
    """The person's Dovecot mailbox laid out as Gmail's, linked through the proxy."""
    gmail_layout(mailbox.dovecot, mailbox.address)
    return mailbox


def receive(mailbox, msg, *keywords: str) -> int:
    return gmail_receive(mailbox.dovecot, mailbox.address, msg, *keywords)


async def test_a_gmail_account_stores_each_message_once_typed_and_threaded_by_gmail(gmail_box, gmail):
    me = gmail_box.address
    receive(gmail_box, message("bob@example.test", me, "Lunch on Friday?"), "GmInbox", "GmThr-7001")
    # Gmail's thread, not the subject or References, joins this one to the first
    receive(
        gmail_box, message("bob@example.test", me, "Also: bring the slides"), "GmInbox", "GmImportant", "GmThr-7001"
    )
    receive(gmail_box, message(me, "carol@example.test", "Quarterly numbers"), "GmSent", "GmThr-7002")
    receive(gmail_box, message("shop@example.test", me, "Your receipt"), "GmL-Receipts", "GmThr-7003")
    gmail_box.append(message("spam@example.test", me, "You won a prize"), mailbox="[Gmail]/Spam")

    await gmail_box.link(imapPort=gmail.port)
    await gmail_box.sync()

    rows = {r["subject"]: r for r in await gmail_box.messages()}
    # INBOX's copies are the same messages as All Mail's: each is stored once
    assert len(rows) == 5, sorted(rows)
    assert {s: r["type"] for s, r in rows.items()} == {
        "Lunch on Friday?": "inbox",
        "Also: bring the slides": "inbox",
        "Quarterly numbers": "sent",
        "Your receipt": "archive",
        "You won a prize": "junk",
    }
    assert rows["Lunch on Friday?"]["threadId"] == rows["Also: bring the slides"]["threadId"]
    assert rows["Quarterly numbers"]["threadId"] != rows["Lunch on Friday?"]["threadId"]


async def test_archiving_in_gmail_moves_the_message_out_of_the_inbox_here(gmail_box, gmail):
    me = gmail_box.address
    uid = receive(gmail_box, message("bob@example.test", me, "Read me later"), "GmInbox", "GmThr-8001")
    await gmail_box.link(imapPort=gmail.port)
    await gmail_box.sync()
    assert [r["subject"] for r in await gmail_box.messages({"type": "inbox"})] == ["Read me later"]

    # archived in Gmail's web client: the label goes, the message stays in All Mail
    client = gmail_box.dovecot.imap(me)
    try:
        client.select('"[Gmail]/All Mail"')
        assert client.uid("STORE", str(uid), "-FLAGS", "(GmInbox)")[0] == "OK"
        client.select("INBOX")
        client.uid("STORE", "1:*", "+FLAGS", "(\\Deleted)")
        client.expunge()
    finally:
        client.logout()
    await gmail_box.sync()
    assert await gmail_box.messages({"type": "inbox"}) == []
    (row,) = await gmail_box.messages({"subject": "Read me later"})
    assert row["type"] == "archive"


async def test_new_gmail_mail_arrives_through_idle(gmail_box, gmail):
    await gmail_box.link(imapPort=gmail.port)
    await gmail_box.sync()
    receive(gmail_box, message("late@example.test", gmail_box.address, "Pushed on Gmail"), "GmInbox")
    assert [r["type"] for r in await gmail_box.arrival("Pushed on Gmail")] == ["inbox"]


async def test_mail_sent_from_here_is_listed_once_when_gmail_files_it(gmail_box, gmail):
    # Gmail files what its SMTP sends by itself: a Google account does not append a copy
    await gmail_box.link(imapPort=gmail.port, appendSent=False)
    await gmail_box.sync()
    status, body = await gmail_box.api(
        "mailMessages:send",
        {
            "accountId": gmail_box.account_id,
            "to": ["bob@example.test"],
            "subject": "Sent through Gmail",
            "text": "Hello Bob.",
        },
    )
    assert status == 200, body
    delivered = gmail_box.smtp.messages[-1][2]
    receive(gmail_box, delivered, "GmSent", "GmThr-9001")
    await gmail_box.sync()
    rows = await gmail_box.messages({"subject": "Sent through Gmail"})
    assert len(rows) == 1, rows
    assert rows[0]["type"] == "sent" and rows[0]["uid"] is not None


async def test_deleting_here_moves_a_gmail_message_to_its_trash(gmail_box, gmail):
    receive(gmail_box, message("bob@example.test", gmail_box.address, "Old news"), "GmInbox", "GmThr-9101")
    await gmail_box.link(imapPort=gmail.port)
    await gmail_box.sync()
    (row,) = await gmail_box.messages({"subject": "Old news"})
    status, body = await gmail_box.api("mailMessages:destroy", {"filterByTk": row["id"]})
    assert status == 200, body
    await gmail_box.sync()
    assert [r["type"] for r in await gmail_box.messages({"subject": "Old news"})] == ["trash"]
    client = gmail_box.dovecot.imap(gmail_box.address)
    try:
        assert client.select('"[Gmail]/All Mail"')[1] == [b"0"]
        assert client.select('"[Gmail]/Trash"')[1] == [b"1"]
    finally:
        client.logout()
