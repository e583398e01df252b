"""Gmail over IMAP: every message is in "All Mail", and its folders are labels.

Syncing each label's folder would store a message once per label. With X-GM-EXT-1 the sync
takes only All Mail (plus Junk and Trash, which All Mail leaves out), reads the labels of each
message (X-GM-LABELS) for its type, and its conversation from X-GM-THRID.

A person's own Gmail labels (not the system ones: ``\\Inbox``, ``\\Sent``, ``\\Important``, ...)
are the message's ``labels`` here, both ways: the sync reads them (``user_labels``; a label
applied here waiting to be pushed is never overwritten, see ``pending_flags``), and one applied or
removed here is noted under ``LABEL_KEY`` and pushed with ``UID STORE +X-GM-LABELS/-X-GM-LABELS``
(``pending_flags.record_labels`` and ``push``). Elsewhere labels stay here only.
"""

from __future__ import annotations

GMAIL_CAPABILITY = "X-GM-EXT-1"
SYNCED_SPECIAL_USE = ("\\all", "\\junk", "\\trash")
# the system labels that name a type, in order of precedence
LABEL_TYPES = (
    ("\\draft", "drafts"),
    ("\\sent", "sent"),
    ("\\inbox", "inbox"),
    ("\\trash", "trash"),
    ("\\spam", "junk"),
)


# the key prefix of a label change in a message's pending_flags: "X-GM-LABELS Receipts": true
# (a space is in no IMAP flag, so it never names one)
LABEL_KEY = "X-GM-LABELS "
# the messages whose labels are Gmail's (alias m): Gmail gives every message a thread id
# (X-GM-THRID), and only a server with X-GM-EXT-1 does, so a message that has one came from Gmail
ON_GMAIL = "m.uid IS NOT NULL AND m.provider_thread_id IS NOT NULL"


def user_labels(labels: list[str]) -> list[str]:
    """Of a message's X-GM-LABELS, the person's own labels, sorted and unique: the system labels
    (``\\Inbox``, ``\\Sent``, ``\\Important``, ``\\Starred``, ...) start with a backslash."""
    return sorted({label for label in labels if label and not label.startswith("\\")})


def is_gmail(capabilities: set[str]) -> bool:
    return GMAIL_CAPABILITY in {c.upper() for c in capabilities}


def synced_folders(
    folders: list[tuple[str, str | None, str, str | None]],
) -> list[tuple[str, str | None, str, str | None]]:
    """Of ``(name, delimiter, type, special_use)``, the folders a Gmail account syncs."""
    if not any((f[3] or "").lower() == "\\all" for f in folders):
        return folders  # no All Mail (hidden from IMAP by the person): sync folders as usual
    return [f for f in folders if (f[3] or "").lower() in SYNCED_SPECIAL_USE]


def holds(special_use: str | None, wanted: str) -> bool:
    """Whether a Gmail folder holds the messages of type ``wanted`` besides the folders of that
    type: the inbox is a label there, and its messages are in All Mail (what a sync of the inbox,
    after IDLE announced new mail, must look at)."""
    return wanted == "inbox" and (special_use or "").lower() == "\\all"


def type_from_labels(labels: list[str], folder_type: str) -> str:
    """A message's type from its Gmail labels; in All Mail, one without a system label is archived.
    Trash and Spam are places of their own: a message there is trash or junk, whatever labels it
    kept (one moved to Trash may still carry \\Inbox)."""
    if folder_type in ("trash", "junk"):
        return folder_type
    lowered = {label.lower() for label in labels}
    for label, kind in LABEL_TYPES:
        if label in lowered:
            return kind
    return folder_type
