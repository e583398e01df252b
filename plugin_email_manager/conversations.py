"""Conversations: which thread each stored message belongs to.

JWZ in spirit, made incremental and per account. Every Message-ID an account has seen — a
message's own, and every id its In-Reply-To and References name, found here or not (a missing
parent) — maps to a conversation in ``mail_thread_ids``. A new message joins the conversation of
any of those ids; when they name several (a late parent between two threads that were apart),
the conversations merge into the oldest one. Gmail's X-GM-THRID is one more such id
(``gm:<id>``). No tree is built, so reference loops and self-references cannot break anything.

Only when no id links a message does the subject count, and only when that is safe: the same
normalized subject, a shared participant other than the account itself, within ``WINDOW`` of
the conversation, and either the message looks like a reply (a Re:/Fwd: prefix, or References
that point nowhere known) or the conversation lacks its first message (the sync fetches newest
first, so replies often arrive before what they answer). Two strangers' "Hello" never merge.

``assign_threads`` runs in the caller's transaction, right after the rows are inserted, under
a per-account advisory lock (a send storing its copy and a sync never interleave); the sync calls
``thread_ids_for`` instead, before its INSERT, and inserts its rows with their ``thread_id``. A
batch costs a fixed handful of statements, whatever its size.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from plugin_email_manager.subjects import is_forward_subject, is_reply_subject, normalize_subject

LOCK_CLASS = 0x6D746872  # "mthr": the first key of pg_advisory_xact_lock(int, int)
WINDOW = timedelta(days=30)
MAX_ID_LENGTH = 500       # longer "Message-IDs" are garbage; they link nothing
MAX_PARTICIPANTS = 100
MAX_SUBJECT_KEYS = 8
_EPOCH = datetime(1, 1, 1, tzinfo=timezone.utc)

LOAD = """
SELECT m.id, m.message_id, m.in_reply_to, m.provider_thread_id, m.subject, m.date, m.thread_id,
       ARRAY(SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof(m.refs) = 'array' THEN m.refs END))
           AS refs,
       ARRAY(SELECT lower(e ->> 'address') FROM jsonb_array_elements(
                 CASE WHEN jsonb_typeof(m.to_addrs) = 'array' THEN m.to_addrs ELSE '[]' END ||
                 CASE WHEN jsonb_typeof(m.cc_addrs) = 'array' THEN m.cc_addrs ELSE '[]' END ||
                 CASE WHEN jsonb_typeof(m.from_addr) = 'object' THEN jsonb_build_array(m.from_addr)
                      ELSE '[]' END) e
             WHERE e ->> 'address' IS NOT NULL) AS addrs
FROM mail_messages m WHERE m.id = ANY($2::bigint[]) AND m.account_id = $1
"""
# Two index lookups, not one OR. Planned as one statement, the OR walked every conversation of
# the account through its account_id index, testing each against the batch's ids and keys;
# the planner prices ``&&`` with a few hundred keys as one comparison a row, so the key lookup
# is fenced off (MATERIALIZED) from the account test, leaving it the GIN index alone.
CANDIDATES = """
WITH by_key AS MATERIALIZED (
    SELECT id, account_id, subject_keys, participants, has_root, first_date, last_date FROM mail_threads
    WHERE subject_keys && $3::text[])
SELECT id, subject_keys, participants, has_root, first_date, last_date FROM mail_threads
WHERE id = ANY($2::bigint[]) AND account_id = $1
UNION ALL
SELECT id, subject_keys, participants, has_root, first_date, last_date FROM by_key
WHERE account_id = $1 AND last_date >= $4 AND first_date <= $5
"""
UPSERT_THREADS = """
INSERT INTO mail_threads AS t (id, account_id, subject_keys, participants, has_root, first_date, last_date)
SELECT x.id, $1, ARRAY(SELECT jsonb_array_elements_text(x.k::jsonb)),
       ARRAY(SELECT jsonb_array_elements_text(x.p::jsonb)), x.r, x.f, x.l
FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bool[], $6::timestamptz[], $7::timestamptz[])
     AS x(id, k, p, r, f, l)
ON CONFLICT (id) DO UPDATE SET
    subject_keys = (ARRAY(SELECT DISTINCT unnest(t.subject_keys || EXCLUDED.subject_keys)))[1:{keys}],
    participants = (ARRAY(SELECT DISTINCT unnest(t.participants || EXCLUDED.participants)))[1:{people}],
    has_root = t.has_root OR EXCLUDED.has_root,
    first_date = LEAST(t.first_date, EXCLUDED.first_date),
    last_date = GREATEST(t.last_date, EXCLUDED.last_date)
""".format(keys=MAX_SUBJECT_KEYS, people=MAX_PARTICIPANTS)
MERGE_IDS = """
UPDATE mail_thread_ids i SET thread_id = x.w FROM unnest($1::bigint[], $2::bigint[]) AS x(l, w)
WHERE i.thread_id = x.l
"""
MERGE_MESSAGES = """
UPDATE mail_messages m SET thread_id = x.w FROM unnest($1::bigint[], $2::bigint[]) AS x(l, w)
WHERE m.thread_id = x.l
"""
SET_MESSAGES = """
UPDATE mail_messages m SET thread_id = x.t FROM unnest($1::bigint[], $2::bigint[]) AS x(id, t)
WHERE m.id = x.id AND m.thread_id IS DISTINCT FROM x.t
"""
SET_IDS = """
INSERT INTO mail_thread_ids (account_id, message_id, thread_id)
SELECT $1, x.k, x.t FROM unnest($2::text[], $3::bigint[]) AS x(k, t)
ON CONFLICT (account_id, message_id) DO UPDATE SET thread_id = EXCLUDED.thread_id
WHERE mail_thread_ids.thread_id <> EXCLUDED.thread_id
"""


def subject_key(subject: str | None) -> str:
    """What two subjects of one conversation share: prefixes and tags gone, case and spaces folded."""
    return normalize_subject(subject or "")


@dataclass
class _Message:
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
class _Thread:
    """What the subject fallback compares; for a stored one also what this batch adds."""

    id: int
    keys: set[str] = field(default_factory=set)
    people: set[str] = field(default_factory=set)
    has_root: bool = False
    first: datetime | None = None
    last: datetime | None = None
    touched: bool = False

    def add(self, m: _Message) -> None:
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

    def absorb(self, other: "_Thread") -> None:
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


def _msgid(value: str | None) -> str | None:
    value = (value or "").strip()
    return value if value and len(value) <= MAX_ID_LENGTH else None


def _message(row, own_addresses: set[str]) -> _Message:
    own = _msgid(row["message_id"])
    parents: list[str] = []
    for ref in [*(row["refs"] or []), row["in_reply_to"]]:
        ref = _msgid(ref)
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
    return _Message(id=row["id"], keys=keys, own=own, parents=parents, key=subject_key(subject),
                    reply=reply or is_forward_subject(subject), root=not reply and not parents,
                    people=people, date=row["date"], thread_id=row["thread_id"])


class _Batch:
    """The decisions for one batch, in memory; ``write`` applies them in a few statements."""

    def __init__(self, known: dict[str, int], threads: dict[int, _Thread]):
        self.known = known                    # Message-ID / gm key -> thread (maybe merged since)
        self.threads = threads                # stored candidates and everything touched
        self.parent: dict[int, int] = {}      # merged thread -> the one it joined
        self.by_key: dict[str, set[int]] = {}
        for t in threads.values():
            for k in t.keys:
                self.by_key.setdefault(k, set()).add(t.id)
        self.new_ids = 0
        self.assigned: dict[int, int] = {}    # message id -> thread
        self.ids_touched: set[str] = set()

    def find(self, t: int) -> int:
        root = t
        while root in self.parent:
            root = self.parent[root]
        while t != root:  # path compression
            self.parent[t], t = root, self.parent[t]
        return root

    def thread(self, t: int) -> _Thread:
        return self.threads.setdefault(t, _Thread(t))

    def union(self, found: set[int]) -> int:
        # stored threads before new ones, then the smallest id: the oldest conversation stays
        keep = min(found, key=lambda t: (t < 0, abs(t)))
        for t in found - {keep}:
            self.parent[t] = keep
            self.thread(keep).absorb(self.thread(t))
            for k in self.thread(t).keys:
                self.by_key.setdefault(k, set()).add(keep)
        return keep

    def fallback(self, m: _Message) -> int | None:
        if not m.key or m.date is None or not m.people:
            return None
        dangling = bool(m.parents)  # called only when none of them is known
        best: _Thread | None = None
        for t in {self.find(t) for t in self.by_key.get(m.key, ())}:
            th = self.thread(t)
            if not (m.reply or dangling or not th.has_root):
                continue  # an original only joins a conversation that lacks its first message
            if m.key not in th.keys or not (th.people & m.people) or not th.near(m.date):
                continue
            if best is None or (th.last or _EPOCH) > (best.last or _EPOCH):
                best = th
        return best.id if best else None

    def place(self, m: _Message) -> None:
        found = {self.find(self.known[k]) for k in m.keys if k in self.known}
        if m.thread_id is not None:
            found.add(self.find(m.thread_id))
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

    async def write(self, conn, account_id: int, *, set_messages: bool = True) -> dict[int, int]:
        """Apply the decisions; answers message id -> its conversation. ``set_messages=False``
        leaves the messages' own ``thread_id`` to the caller (rows not inserted yet)."""
        roots = {t for t in self.threads if self.find(t) == t and self.threads[t].touched}
        fresh = sorted((t for t in roots if t < 0), reverse=True)
        real: dict[int, int] = {}
        if fresh:
            got = await conn.fetch("SELECT nextval('mail_threads_id_seq') AS id FROM generate_series(1, $1)",
                                   len(fresh))
            real = {t: r["id"] for t, r in zip(fresh, got)}

        def final(t: int) -> int:
            t = self.find(t)
            return real.get(t, t)

        upsert = [self.threads[t] for t in roots]
        await conn.execute(
            UPSERT_THREADS, account_id, [final(t.id) for t in upsert],
            [json.dumps(sorted(t.keys)) for t in upsert], [json.dumps(sorted(t.people)) for t in upsert],
            [t.has_root for t in upsert], [t.first for t in upsert], [t.last for t in upsert])
        losers = [t for t in self.parent if t > 0]
        if losers:
            winners = [final(t) for t in losers]
            await conn.execute(MERGE_IDS, losers, winners)
            await conn.execute(MERGE_MESSAGES, losers, winners)
            await conn.execute("DELETE FROM mail_threads WHERE id = ANY($1::bigint[])", losers)
        placed = {i: final(t) for i, t in self.assigned.items()}
        if set_messages:
            ids = list(placed)
            await conn.execute(SET_MESSAGES, ids, [placed[i] for i in ids])
        keys = sorted(self.ids_touched)
        if keys:
            await conn.execute(SET_IDS, account_id, keys, [final(self.known[k]) for k in keys])
        return placed


async def lock_account(conn, account_id: int) -> None:
    """The per-account lock every change of conversations takes (until the transaction ends)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1::int, $2::int)", LOCK_CLASS,
                       account_id % 2147483647)


async def assign_threads(conn, account_id: int, message_ids: list[int]) -> None:
    """Set ``thread_id`` of these just-stored messages of one account (in the caller's transaction).

    Messages of another account among ``message_ids`` are ignored; calling it again for a
    message already placed is harmless (it may merge conversations its ids link).
    """
    message_ids = list(dict.fromkeys(message_ids))
    if not message_ids:
        return
    await lock_account(conn, account_id)
    rows = await conn.fetch(LOAD, account_id, message_ids)
    if not rows:
        return
    batch = await _decide(conn, account_id, rows)
    await batch.write(conn, account_id)


async def thread_ids_for(conn, account_id: int, rows: list[dict]) -> list[int]:
    """The conversations of messages about to be inserted (``mail_messages`` row dicts of the
    sync: message_id, in_reply_to, refs, provider_thread_id, subject, from/to/cc, date), in
    their order; threads and Message-ID links are written here, in the caller's transaction.

    The same decisions as ``assign_threads``, made before the INSERT, so that each new row is
    written once, with its ``thread_id``, instead of inserted and then updated (a second write
    of every row, and not a HOT one: ``thread_id`` is indexed). The caller inserts every row.
    """
    if not rows:
        return []
    await lock_account(conn, account_id)
    batch = await _decide(conn, account_id, [_unstored(i, r) for i, r in enumerate(rows)])
    placed = await batch.write(conn, account_id, set_messages=False)
    return [placed[i] for i in range(len(rows))]


def _text(value) -> str | None:
    """A JSON value as ``->>`` reads it."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _unstored(index: int, row: dict) -> dict:
    """What ``LOAD`` reads of a stored row, from a row not stored yet (its index as its id:
    ids grow in insertion order, so the tie-break of equal dates stays the same)."""
    refs = row.get("refs")
    people = [e for v in (row.get("to_addrs"), row.get("cc_addrs")) if isinstance(v, list) for e in v]
    sender = row.get("from_addr")
    if isinstance(sender, dict):
        people.append(sender)
    date = row.get("date")
    if date is not None and date.tzinfo is None:
        date = date.replace(tzinfo=timezone.utc)
    return {"id": index, "message_id": row.get("message_id"), "in_reply_to": row.get("in_reply_to"),
            "provider_thread_id": row.get("provider_thread_id"), "subject": row.get("subject"),
            "date": date, "thread_id": None,
            "refs": [_text(r) for r in refs] if isinstance(refs, list) else [],
            "addrs": [_text(e["address"]).lower() for e in people
                      if isinstance(e, dict) and e.get("address") is not None]}


async def _decide(conn, account_id: int, rows) -> _Batch:
    """Place these messages (``LOAD`` rows) among the account's conversations, in memory."""
    account = await conn.fetchrow("SELECT lower(email) AS email, lower(username) AS username "
                                  "FROM mail_accounts WHERE id = $1", account_id)
    own_addresses = {a for a in (account["email"], account["username"]) if a and "@" in a} if account else set()
    messages = sorted((_message(r, own_addresses) for r in rows),
                      key=lambda m: (m.date or _EPOCH, m.id))  # parents before replies, mostly
    keys = sorted({k for m in messages for k in m.keys})
    known = {r["message_id"]: r["thread_id"] for r in await conn.fetch(
        "SELECT message_id, thread_id FROM mail_thread_ids WHERE account_id = $1 "
        "AND message_id = ANY($2::text[])", account_id, keys)} if keys else {}
    linked = sorted(set(known.values()) | {m.thread_id for m in messages if m.thread_id})
    subject_keys = sorted({m.key for m in messages if m.key})
    dates = [m.date for m in messages if m.date is not None]
    threads: dict[int, _Thread] = {}
    if linked or (subject_keys and dates):
        low, high = (min(dates) - WINDOW, max(dates) + WINDOW) if dates else (None, None)
        for r in await conn.fetch(CANDIDATES, account_id, linked, subject_keys, low, high):
            threads[r["id"]] = _Thread(r["id"], set(r["subject_keys"]), set(r["participants"]),
                                       r["has_root"], r["first_date"], r["last_date"])
    batch = _Batch(known, threads)
    for m in messages:
        batch.place(m)
    return batch


async def rebuild_threads(conn, account_id: int, batch_size: int = 1000) -> None:
    """Thread every message of an account again from scratch (after a resync or a rule change)."""
    await lock_account(conn, account_id)
    await conn.execute("UPDATE mail_messages SET thread_id = NULL WHERE account_id = $1 "
                       "AND thread_id IS NOT NULL", account_id)
    await conn.execute("DELETE FROM mail_thread_ids WHERE account_id = $1", account_id)
    await conn.execute("DELETE FROM mail_threads WHERE account_id = $1", account_id)
    ids = [r["id"] for r in await conn.fetch(
        "SELECT id FROM mail_messages WHERE account_id = $1 ORDER BY date NULLS FIRST, id", account_id)]
    for start in range(0, len(ids), batch_size):
        await assign_threads(conn, account_id, ids[start:start + batch_size])
