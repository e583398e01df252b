"""The rules: what makes two messages one conversation. Pure decisions, no I/O (``placing``
reads their inputs and writes their outcome).

JWZ in spirit, made incremental and per account. Every Message-ID an account has seen — a
message's own, and every id its In-Reply-To and References name, found here or not (a missing
parent) — maps to a conversation (``mail_thread_ids``). A new message joins the conversation of
any of those ids; when they name several (a late parent between two threads that were apart),
the conversations merge into the oldest one. Gmail's X-GM-THRID is one more such id
(``gm:<id>``). No tree is built, so reference loops and self-references cannot break anything.

Only when no id links a message does the subject count, and only when that is safe: the same
normalized subject (``subjects``), a shared participant other than the account itself, within
``WINDOW`` of the conversation, and either the message looks like a reply (a Re:/Fwd: prefix,
or References that point nowhere known) or the conversation lacks its first message (the sync
fetches newest first, so replies often arrive before what they answer). Two strangers' "Hello"
never merge.

A message is reduced to ``MessageFacts`` (its ids, subject key, participants, date), a
conversation to ``ThreadFacts`` (what the subject fallback compares), and a ``Batch`` places
messages among conversations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from plugin_email_manager.conversations.subjects import is_forward_subject, is_reply_subject, normalize_subject

WINDOW = timedelta(days=30)
MAX_ID_LENGTH = 500  # longer "Message-IDs" are garbage; they link nothing
MAX_PARTICIPANTS = 100
MAX_SUBJECT_KEYS = 8
# References kept for threading: the first (the conversation's root) and the last ones (the
# nearest parents: RFC 5322 3.6.4 has a reply name its parent's References, then its parent).
# Hostile mail names 10,000 ids: each one would become a Message-ID link to write and look up.
MAX_REFERENCES = 100
EPOCH = datetime(1, 1, 1, tzinfo=timezone.utc)


def subject_key(subject: str | None) -> str:
    """What two subjects of one conversation share: prefixes and tags gone, case and spaces folded."""
    return normalize_subject(subject or "")


@dataclass
class MessageFacts:
    id: int
    keys: list[str]  # own Message-ID, then parents, then gm:<thread id>
    own: str | None
    parents: list[str]
    key: str  # normalized subject
    reply: bool  # Re:/Fwd: prefix
    root: bool  # neither a reply nor referencing anything: a conversation's start
    people: set[str]  # participants other than the account
    date: datetime | None
    thread_id: int | None  # already assigned (a second call)


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


def kept_references(refs: list[str]) -> list[str]:
    """``refs`` cut to ``MAX_REFERENCES``: the first and the last ones."""
    if len(refs) <= MAX_REFERENCES:
        return refs
    return [refs[0], *refs[len(refs) - MAX_REFERENCES + 1 :]]


def message_of(row: Mapping[str, Any], own_addresses: set[str]) -> MessageFacts:
    """A ``LOAD`` row (or a not yet stored row in its shape) as the rules see it."""
    own = msgid(row["message_id"])
    parents: list[str] = []
    seen = {own}  # a self-reference links nothing; a set, not the list: refs may be many
    for ref in [*kept_references(list(row["refs"] or [])), row["in_reply_to"]]:
        ref = msgid(ref)
        if ref and ref not in seen:
            seen.add(ref)
            parents.append(ref)
    keys = ([own] if own else []) + parents
    gm = (row["provider_thread_id"] or "").strip()
    if gm:
        keys.append(f"gm:{gm}")
    subject = row["subject"] or ""
    people = {a for a in row["addrs"] if a} - own_addresses
    reply = is_reply_subject(subject)
    # a forward without References starts a conversation, but may still join one by subject
    return MessageFacts(
        id=row["id"],
        keys=keys,
        own=own,
        parents=parents,
        key=subject_key(subject),
        reply=reply or is_forward_subject(subject),
        root=not reply and not parents,
        people=people,
        date=row["date"],
        thread_id=row["thread_id"],
    )


class Batch:
    """The decisions for one batch of messages, in memory: ``place`` each message (parents
    first, mostly), then ``placing`` writes them in a few statements."""

    def __init__(self, known: dict[str, int], threads: dict[int, ThreadFacts]):
        self.known = known  # Message-ID / gm key -> thread (maybe merged since)
        self.threads = threads  # stored candidates and everything touched
        self.parent: dict[int, int] = {}  # merged thread -> the one it joined
        self.by_key: dict[str, set[int]] = {}
        for t in threads.values():
            for k in t.keys:
                self.by_key.setdefault(k, set()).add(t.id)
        self.new_ids = 0
        self.assigned: dict[int, int] = {}  # message id -> thread
        self.ids_touched: set[str] = set()

    def find(self, t: int) -> int:
        root = t
        while root in self.parent:
            root = self.parent[root]
        while t != root:  # path compression
            self.parent[t], t = root, self.parent[t]
        return root

    def thread(self, t: int) -> ThreadFacts:
        return self.threads.setdefault(t, ThreadFacts(t))

    def union(self, found: set[int]) -> int:
        # stored threads before new ones, then the smallest id: the oldest conversation stays
        keep = min(found, key=lambda t: (t < 0, abs(t)))
        for t in found - {keep}:
            self.parent[t] = keep
            self.thread(keep).absorb(self.thread(t))
            for k in self.thread(t).keys:
                self.by_key.setdefault(k, set()).add(keep)
        return keep

    def fallback(self, m: MessageFacts) -> int | None:
        if not m.key or m.date is None or not m.people:
            return None
        dangling = bool(m.parents)  # called only when none of them is known
        best: ThreadFacts | None = None
        for t in {self.find(t) for t in self.by_key.get(m.key, ())}:
            th = self.thread(t)
            if not (m.reply or dangling or not th.has_root):
                continue  # an original only joins a conversation that lacks its first message
            if m.key not in th.keys or not (th.people & m.people) or not th.near(m.date):
                continue
            if best is None or (th.last or EPOCH) > (best.last or EPOCH):
                best = th
        return best.id if best else None

    def place(self, m: MessageFacts) -> None:
        found = {self.find(self.known[k]) for k in m.keys if k in self.known}
        if m.thread_id is not None:
            found.add(self.find(m.thread_id))
        t: int | None
        if found:
            t = self.union(found) if len(found) > 1 else found.pop()
        else:
            t = self.fallback(m)
            if t is None:
                self.new_ids -= 1
                t = self.new_ids
        self.thread(t).add(m)
        if m.key:
            self.by_key.setdefault(m.key, set()).add(t)
        for k in m.keys:
            self.known[k] = t
            self.ids_touched.add(k)
        self.assigned[m.id] = t
