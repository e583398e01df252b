"""Folders: LIST responses, and which kind of folder each one is.

A folder's kind comes from its SPECIAL-USE attribute (RFC 6154) when the server gives one, else
from the names that common servers and clients use, in several languages. Read from parsed
values only, no connection: the sync engine asks ``folder_type`` of folders it has stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from plugin_email_manager.mailsync.imap.codec import decode_mutf7

SPECIAL_USE_TYPES = {
    "\\sent": "sent",
    "\\drafts": "drafts",
    "\\trash": "trash",
    "\\junk": "junk",
    # Gmail's "All Mail" holds every message, the inbox's too: callers that sync it next to the
    # inbox must tell copies apart (X-GM-MSGID); it is reported as an archive.
    "\\archive": "archive",
    "\\all": "archive",
}

_NAMES = {
    "sent": [
        "sent",
        "sent items",
        "sent mail",
        "sent messages",
        "gesendet",
        "gesendete objekte",
        "gesendete elemente",
        "envoyés",
        "éléments envoyés",
        "enviados",
        "elementos enviados",
        "posta inviata",
        "inviata",
        "verzonden",
        "verzonden items",
        "skickat",
        "wysłane",
    ],
    "drafts": [
        "drafts",
        "draft",
        "entwürfe",
        "brouillons",
        "borradores",
        "bozze",
        "concepten",
        "utkast",
        "kopie robocze",
    ],
    "trash": [
        "trash",
        "deleted items",
        "deleted messages",
        "deleted",
        "bin",
        "papierkorb",
        "gelöschte objekte",
        "gelöschte elemente",
        "corbeille",
        "éléments supprimés",
        "papelera",
        "elementos eliminados",
        "cestino",
        "prullenbak",
        "verwijderde items",
        "papperskorgen",
        "kosz",
    ],
    "junk": [
        "junk",
        "junk e-mail",
        "junk email",
        "junk mail",
        "spam",
        "bulk mail",
        "spamverdacht",
        "junk-e-mail",
        "courrier indésirable",
        "indésirables",
        "correo no deseado",
        "posta indesiderata",
        "ongewenste e-mail",
        "skräppost",
    ],
    "archive": ["archive", "archives", "archiv", "archief", "archivio", "archivo", "arkiv", "all mail"],
}
NAME_TYPES = {name: kind for kind, names in _NAMES.items() for name in names}


@dataclass(frozen=True)
class Folder:
    """One mailbox as LIST shows it: ``name`` decoded from modified UTF-7, ``flags`` as sent
    (``\\HasNoChildren``, ``\\Sent``, ...), ``special_use`` the first SPECIAL-USE flag or None."""

    name: str
    delimiter: str | None
    flags: tuple[str, ...] = field(default_factory=tuple)
    special_use: str | None = None

    @property
    def selectable(self) -> bool:
        return not any(f.lower() in ("\\noselect", "\\nonexistent") for f in self.flags)


def folder_type(folder: Folder) -> str:
    """ "inbox", "sent", "drafts", "trash", "junk", "archive" or "other"."""
    if folder.name.upper() == "INBOX":
        return "inbox"
    for flag in (folder.special_use, *folder.flags):
        if flag and flag.lower() in SPECIAL_USE_TYPES:
            return SPECIAL_USE_TYPES[flag.lower()]
    leaf = folder.name
    if folder.delimiter and folder.delimiter in leaf:
        parent, _, leaf = leaf.rpartition(folder.delimiter)
        # Names count at the top, under INBOX (Courier, Cyrus) and under [Gmail]/[Google Mail];
        # "Projects/Sent" of a person's own is just a folder.
        if parent.upper() not in ("INBOX", "[GMAIL]", "[GOOGLE MAIL]"):
            return "other"
    return NAME_TYPES.get(leaf.strip().lower(), "other")


def parse_list(values: list) -> Folder | None:
    """``(\\HasNoChildren \\Sent) "/" Sent`` (parsed values) -> Folder."""
    if len(values) < 3 or not isinstance(values[0], list):
        return None
    flags = tuple(f.decode("ascii", "replace") for f in values[0] if isinstance(f, bytes))
    delimiter = values[1].decode("utf-8", "replace") if isinstance(values[1], bytes) else None
    raw_name = values[2]
    if not isinstance(raw_name, bytes):
        return None
    name = decode_mutf7(raw_name)
    special = next(
        (f for f in flags if f.lower() in SPECIAL_USE_TYPES or f.lower() in ("\\flagged", "\\important")), None
    )
    return Folder(name=name, delimiter=delimiter, flags=flags, special_use=special)
