"""FETCH: what a fetched message is, and reading FETCH responses into it.

The message bodies come through ``ImapSession.fetch_messages`` (``session.py``), which keeps a few
``UID FETCH`` commands in flight and hands each message on as soon as it has been read, so memory
holds about one message plus the stream's read-ahead, whatever the mailbox's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from plugin_email_manager.mailparse.headers import LISTED_FIELDS
from plugin_email_manager.mailsync.imap.bodystructure import BodyPart, parse_bodystructure
from plugin_email_manager.mailsync.imap.codec import decode_mutf7, parse_internaldate

BODY_ITEMS = "UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[]"
# the headers-first sync's first pass: what the list, conversations and filters read, and the
# MIME tree (attachments, and where the text is) instead of the bytes
HEADER_ITEMS = (
    "UID FLAGS INTERNALDATE RFC822.SIZE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS ("
    + " ".join(sorted(f.decode().upper() for f in LISTED_FIELDS))
    + ")]"
)
GMAIL_ITEMS = " X-GM-MSGID X-GM-THRID X-GM-LABELS"


class FlagUpdate(NamedTuple):
    """A message's flags now (from FETCH FLAGS), with its MODSEQ when the server has CONDSTORE,
    and on Gmail its labels (X-GM-LABELS: archiving or moving a message there changes only them)."""

    uid: int
    flags: list[str]
    modseq: int | None
    labels: list[str] | None = None


@dataclass
class FetchedMessage:
    uid: int
    flags: list[str]
    internaldate: datetime | None
    size: int
    modseq: int | None
    raw: bytes  # the whole message, or with ``structure`` the header fields alone
    gm_msgid: int | None = None
    gm_thrid: int | None = None
    gm_labels: list[str] = field(default_factory=list)
    structure: BodyPart | None = None  # fetched headers-first: the MIME tree, no body in ``raw``


def fetch_attributes(values: list) -> dict[bytes, object]:
    """``(UID 5 FLAGS (\\Seen) BODY[] <bytes>)`` -> ``{b"UID": b"5", b"FLAGS": [...], b"BODY[]": ...}``."""
    if not values or not isinstance(values[0], list):
        return {}
    items = values[0]
    return {items[i].upper(): items[i + 1] for i in range(0, len(items) - 1, 2) if isinstance(items[i], bytes)}


def _int(value: Any) -> int | None:
    if isinstance(value, list):  # MODSEQ (12)
        value = value[0] if value else None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _flags(value: Any) -> list[str]:
    # \Recent belongs to one session, not to the message: kept, it would look like a change.
    if not isinstance(value, list):
        return []
    return [f.decode("utf-8", "replace") for f in value if isinstance(f, bytes) and f.upper() != b"\\RECENT"]


def flag_update(attrs: dict) -> FlagUpdate | None:
    uid = _int(attrs.get(b"UID"))
    if uid is None or b"FLAGS" not in attrs:
        return None
    return FlagUpdate(uid, _flags(attrs[b"FLAGS"]), _int(attrs.get(b"MODSEQ")), _labels(attrs))


def _labels(attrs: dict) -> list[str] | None:
    labels = attrs.get(b"X-GM-LABELS")
    return [decode_mutf7(x) for x in labels if isinstance(x, bytes)] if isinstance(labels, list) else None


def body_of(attrs: dict) -> bytes | None:
    """The whole message, else the header fields fetched without it."""
    for key, value in attrs.items():
        if key.startswith(b"BODY[]") or key == b"RFC822" or key.startswith(b"BODY[HEADER"):
            return value if isinstance(value, bytes) else b""
    return None


def sections_of(attrs: dict) -> dict[str, bytes]:
    """``BODY[1.2]`` items of a FETCH response by section (``"1.2"``); NIL as no bytes."""
    out = {}
    for key, value in attrs.items():
        if key.startswith(b"BODY[") and key[5:6].isdigit():
            section = key[5:].split(b"]", 1)[0].decode("ascii", "replace")
            out[section] = value if isinstance(value, bytes) else b""
    return out


def fetched_message(attrs: dict) -> FetchedMessage | None:
    """A FetchedMessage from a FETCH response that carries a body, else None (a flag push)."""
    raw = body_of(attrs)
    uid = _int(attrs.get(b"UID"))
    if raw is None or uid is None:
        return None
    return FetchedMessage(
        uid=uid,
        flags=_flags(attrs.get(b"FLAGS")),
        internaldate=parse_internaldate(attrs.get(b"INTERNALDATE")),
        size=_int(attrs.get(b"RFC822.SIZE")) or len(raw),
        modseq=_int(attrs.get(b"MODSEQ")),
        raw=raw,
        gm_msgid=_int(attrs.get(b"X-GM-MSGID")),
        gm_thrid=_int(attrs.get(b"X-GM-THRID")),
        gm_labels=_labels(attrs) or [],
        structure=parse_bodystructure(attrs[b"BODYSTRUCTURE"]) if b"BODYSTRUCTURE" in attrs else None,
    )
