"""Gmail's labels: one message stored once, its type read from its labels."""
from plugin_email_manager.mailsync.gmail import is_gmail, synced_folders, type_from_labels

FOLDERS = [("INBOX", "/", "inbox", None), ("[Gmail]/All Mail", "/", "archive", "\\All"),
           ("[Gmail]/Sent Mail", "/", "sent", "\\Sent"), ("[Gmail]/Spam", "/", "junk", "\\Junk"),
           ("[Gmail]/Trash", "/", "trash", "\\Trash"), ("Receipts", "/", "other", None)]


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
