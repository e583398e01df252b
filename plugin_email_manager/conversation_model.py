"""What the conversation rules compare (``conversations``): a message reduced to its ids,
subject key, participants and date, and a conversation reduced to what the subject fallback
needs. Pure data; no I/O."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from plugin_email_manager.subjects import is_forward_subject, is_reply_subject, normalize_subject

WINDOW = timedelta(days=30)
MAX_ID_LENGTH = 500       # longer "Message-IDs" are garbage; they link nothing
MAX_PARTICIPANTS = 100
MAX_SUBJECT_KEYS = 8
EPOCH = datetime(1, 1, 1, tzinfo=timezone.utc)


def subject_key(subject: str | None) -> str:
    """What two subjects of one conversation share: prefixes and tags gone, case and spaces folded."""
    return normalize_subject(subject or "")


@dataclass
class MessageFacts:
    id: int
    keys: list[str]           # own Message-ID, then parents, then gm:<thread id>
    own: str | None
    parents: list[str]
    key: str                  # normalized subject
    reply: bool               # Re:/Fwd: prefix
    root: bool                # neither a reply nor referencing anything: a conversation's start
    people: set[str]          # participants other than the account
    date: datetime | None
    thread_id: int | None     # already assigned (a second call)


@dataclass
class ThreadFacts:
    """What the subject fallback compares; for a stored one also what this batch adds."""

    id: int
    keys: set[str] = field(default_factory=set)
    people: set[str] = field(default_factory=set)
    has_root: bool = False
    first: datetime | None = None
    last: datetime | None = None
    touched: bool = False

    def add(self, m: MessageFacts) -> None:
        self.touched = True
        if m.key and len(self.keys) < MAX_SUBJECT_KEYS:
            self.keys.add(m.key)
        for p in m.people:
            if len(self.people) >= MAX_PARTICIPANTS:
                break
            self.people.add(p)
        self.has_root = self.has_root or m.root
        if m.date is not None:
            self.first = m.date if self.first is None else min(self.first, m.date)
            self.last = m.date if self.last is None else max(self.last, m.date)

    def absorb(self, other: "ThreadFacts") -> None:
        self.touched = True
        self.keys |= set(list(other.keys)[: max(0, MAX_SUBJECT_KEYS - len(self.keys))])
        self.people |= set(list(other.people)[: max(0, MAX_PARTICIPANTS - len(self.people))])
        self.has_root = self.has_root or other.has_root
        dates = [d for d in (self.first, self.last, other.first, other.last) if d is not None]
        if dates:
            self.first, self.last = min(dates), max(dates)

    def near(self, when: datetime) -> bool:
        if self.first is None or self.last is None:
            return False
        return self.first - WINDOW <= when <= self.last + WINDOW


def msgid(value: str | None) -> str | None:
    value = (value or "").strip()
    return value if value and len(value) <= MAX_ID_LENGTH else None


def message_of(row, own_addresses: set[str]) -> MessageFacts:
    """A ``LOAD`` row (or a not yet stored row in its shape) as the rules see it."""
    own = msgid(row["message_id"])
    parents: list[str] = []
    for ref in [*(row["refs"] or []), row["in_reply_to"]]:
        ref = msgid(ref)
        if ref and ref != own and ref not in parents:  # a self-reference links nothing
            parents.append(ref)
    keys = ([own] if own else []) + parents
    gm = (row["provider_thread_id"] or "").strip()
    if gm:
        keys.append(f"gm:{gm}")
    subject = row["subject"] or ""
    people = {a for a in row["addrs"] if a} - own_addresses
    reply = is_reply_subject(subject)
    # a forward without References starts a conversation, but may still join one by subject
    return MessageFacts(id=row["id"], keys=keys, own=own, parents=parents, key=subject_key(subject),
                    reply=reply or is_forward_subject(subject), root=not reply and not parents,
                    people=people, date=row["date"], thread_id=row["thread_id"])
