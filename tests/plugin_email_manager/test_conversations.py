"""Conversations from Message-ID, In-Reply-To, References, Gmail's thread id and, carefully, the
subject: messages stored as the sync stores them (rows in mail_messages), then threaded by
``assign_threads`` in the same transaction. A person checks which messages end up together.

The helpers here (``mail`` fixture, ``Mail``) are shared with test_threads_api and test_search.
"""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest

from host.api import User
from host.db.migrate import migrate
from host.schema import load_registry
from plugin_email_manager.conversations import assign_threads, rebuild_threads
from plugin_email_manager.migrations import migrations
from plugin_email_manager.search import index_messages

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = load_registry([ROOT / "collections"])
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)
_uids = itertools.count(1)


def addr(value: str | None) -> dict | None:
    """``"Ann <ann@x>"`` or ``"ann@x"`` -> ``{"name", "address"}``."""
    if value is None:
        return None
    if "<" in value:
        name, _, rest = value.partition("<")
        return {"name": name.strip(), "address": rest.rstrip(">").strip()}
    return {"name": "", "address": value.strip()}


class Mail:
    """A migrated database with users, accounts and folders, and messages stored like the sync does."""

    def __init__(self, pool):
        self.pool = pool
        self.folders: dict[tuple[int, str], int] = {}

    async def user(self, email: str, role: str = "member") -> User:
        uid = await self.pool.fetchval("INSERT INTO users (email, role) VALUES ($1, $2) RETURNING id", email, role)
        return User(id=uid, email=email, role=role)

    async def account(self, user: User, email: str | None = None) -> int:
        return await self.pool.fetchval(
            "INSERT INTO mail_accounts (user_id, provider, email) VALUES ($1, 'imap', $2) RETURNING id",
            user.id,
            email or user.email,
        )

    async def folder(self, account: int, type_: str) -> int:
        key = (account, type_)
        if key not in self.folders:
            self.folders[key] = await self.pool.fetchval(
                "INSERT INTO mail_folders (account_id, name, type) VALUES ($1, $2, $3) RETURNING id",
                account,
                type_.capitalize(),
                type_,
            )
        return self.folders[key]

    async def store(self, account: int, *messages: dict, assign: bool = True, index: bool = False) -> list[int]:
        """Insert messages (dicts of: subject, frm, to, cc, msgid, refs, irt, date, type, read,
        flagged, attachments, gm, text) in one transaction, threaded as the sync does."""
        ids = []
        async with self.pool.acquire() as conn, conn.transaction():
            for m in messages:
                type_ = m.get("type", "inbox")
                refs = m.get("refs")
                if isinstance(refs, str):
                    refs = refs.split()
                ids.append(
                    await conn.fetchval(
                        "INSERT INTO mail_messages (account_id, folder_id, uid, type, message_id, in_reply_to, refs, "
                        "provider_thread_id, subject, from_addr, to_addrs, cc_addrs, date, read, flagged, "
                        "has_attachments, text, snippet, parse_state) "
                        "VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8, $9, $10::text::jsonb, "
                        "$11::text::jsonb, $12::text::jsonb, $13, $14, $15, $16, $17, $18, 'ok') "
                        "RETURNING id",
                        account,
                        await self.folder(account, type_),
                        next(_uids),
                        type_,
                        m.get("msgid"),
                        m.get("irt"),
                        json.dumps(refs or []),
                        m.get("gm"),
                        m.get("subject", ""),
                        json.dumps(addr(m.get("frm"))),
                        json.dumps([addr(a) for a in m.get("to", [])]),
                        json.dumps([addr(a) for a in m.get("cc", [])]),
                        m.get("date", T0),
                        m.get("read", False),
                        m.get("flagged", False),
                        m.get("attachments", False),
                        m.get("text"),
                        (m.get("text") or "")[:100],
                    )
                )
            if assign:
                await assign_threads(conn, account, ids)
            if index:
                await index_messages(conn, ids)
        return ids

    async def thread(self, message_id: int) -> int | None:
        return await self.pool.fetchval("SELECT thread_id FROM mail_messages WHERE id = $1", message_id)

    async def threads(self, *ids: int) -> list[int | None]:
        return [await self.thread(i) for i in ids]


@pytest.fixture(scope="module")
async def mail_template(pg_cluster):
    """One migrated database per module; each test gets a copy (CREATE DATABASE ... TEMPLATE)."""
    url = pg_cluster.create_database()
    conn = await asyncpg.connect(url)
    await migrate(conn, REGISTRY, migrations())
    await conn.close()
    return url.rsplit("/", 1)[1]


@pytest.fixture
async def mail(pg_cluster, mail_template):
    name = "t_" + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(pg_cluster.url())
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{mail_template}"')
    await admin.close()
    pool = await asyncpg.create_pool(pg_cluster.url(name), min_size=1, max_size=4)
    yield Mail(pool)
    await pool.close()


@pytest.fixture
async def alice(mail):
    user = await mail.user("alice@example.test")
    return user, await mail.account(user)


A = "Alice <alice@example.test>"
BOB = "Bob <bob@example.test>"


def at(hours: float = 0, days: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, days=days)


class Counting:
    """A connection that notes every statement sent through it."""

    def __init__(self, conn):
        self.conn, self.calls = conn, []

    def __getattr__(self, name):
        method = getattr(self.conn, name)
        if name not in ("fetch", "fetchrow", "fetchval", "execute"):
            return method

        async def counted(sql, *args):
            self.calls.append(sql)
            return await method(sql, *args)

        return counted


# ---------------------------------------------------------------- JWZ cases


async def test_reply_chain_with_a_changed_subject_is_one_conversation(mail, alice):
    _, acc = alice
    ids = await mail.store(
        acc,
        dict(frm=BOB, to=[A], subject="Lunch on Thursday?", msgid="<l1@x>", date=at(0)),
        dict(
            frm=A,
            to=[BOB],
            subject="Re: Lunch on Thursday?",
            msgid="<l2@x>",
            irt="<l1@x>",
            refs="<l1@x>",
            date=at(1),
            type="sent",
            read=True,
        ),
        dict(
            frm=BOB,
            to=[A],
            subject="Re: Lunch moved to Friday",
            msgid="<l3@x>",
            irt="<l2@x>",
            refs="<l1@x> <l2@x>",
            date=at(2),
        ),
    )
    threads = await mail.threads(*ids)
    assert threads[0] is not None and len(set(threads)) == 1


async def test_missing_parent_still_links_its_children(mail, alice):
    _, acc = alice
    eva = "Eva <eva@de.example>"
    # a1 is here, a2 never arrived, a3 answers a2: a3's References still name a1
    ids = await mail.store(
        acc,
        dict(frm=eva, to=[A], subject="Angebot", msgid="<a1@de>", date=at(0)),
        dict(
            frm=eva,
            to=[A],
            subject="AW: AW: Angebot",
            msgid="<a3@de>",
            irt="<a2@de>",
            refs="<a1@de> <a2@de>",
            date=at(5),
        ),
    )
    assert len(set(await mail.threads(*ids))) == 1
    # two children of the same missing parent, stored in separate batches, meet through it
    (c1,) = await mail.store(
        acc, dict(frm=BOB, to=[A], subject="Re: gone", msgid="<c1@x>", irt="<gone@x>", refs="<gone@x>", date=at(10))
    )
    (c2,) = await mail.store(
        acc,
        dict(
            frm="Carl <carl@x>",
            to=[A],
            subject="Re: gone",
            msgid="<c2@x>",
            irt="<gone@x>",
            refs="<gone@x>",
            date=at(11),
        ),
    )
    assert await mail.thread(c1) == await mail.thread(c2)


async def test_siblings_through_a_shared_reference(mail, alice):
    _, acc = alice
    (root,) = await mail.store(acc, dict(frm=BOB, to=[A], subject="Plan", msgid="<p0@x>", date=at(0)))
    # two answers to p1 (which we never got); each also names the root
    s1, s2 = await mail.store(
        acc,
        dict(
            frm="Carl <carl@x>",
            to=[A],
            subject="Re: Plan",
            msgid="<s1@x>",
            irt="<p1@x>",
            refs="<p0@x> <p1@x>",
            date=at(3),
        ),
        dict(frm="Dora <dora@x>", to=[A], subject="Re: Plan", msgid="<s2@x>", irt="<p1@x>", refs="<p1@x>", date=at(4)),
    )
    assert await mail.threads(root, s1, s2) == [await mail.thread(root)] * 3


async def test_reference_loops_and_self_references_break_nothing(mail, alice):
    _, acc = alice
    x, y, z = await mail.store(
        acc,
        dict(frm=BOB, to=[A], subject="Loop", msgid="<x@x>", refs="<y@x> <x@x>", irt="<x@x>", date=at(0)),
        dict(frm=BOB, to=[A], subject="Re: Loop", msgid="<y@x>", refs="<x@x>", irt="<x@x>", date=at(1)),
        dict(frm=BOB, to=[A], subject="Self", msgid="<z@x>", refs="<z@x>", irt="<z@x>", date=at(2)),
    )
    tx, ty, tz = await mail.threads(x, y, z)
    assert tx == ty and tz not in (None, tx)


async def test_forward_with_references_joins_without_starts_its_own(mail, alice):
    _, acc = alice
    (orig,) = await mail.store(acc, dict(frm=BOB, to=[A], subject="Report", msgid="<r1@x>", date=at(0)))
    fwd_linked, fwd_new = await mail.store(
        acc,
        dict(
            frm=A, to=["Carl <carl@x>"], subject="Fwd: Report", msgid="<f1@x>", refs="<r1@x>", date=at(1), type="sent"
        ),
        # forwarded to someone new, no References: a conversation of its own
        dict(frm=A, to=["Dora <dora@x>"], subject="Fwd: Report", msgid="<f2@x>", date=at(2), type="sent"),
    )
    t_orig, t_linked, t_new = await mail.threads(orig, fwd_linked, fwd_new)
    assert t_linked == t_orig and t_new != t_orig


async def test_late_parent_joins_two_conversations(mail, alice):
    _, acc = alice
    # two replies that each name only their own parent: apart until the parent chain arrives
    (r1,) = await mail.store(
        acc, dict(frm=BOB, to=[A], subject="Re: Trip", msgid="<t2@x>", irt="<t1@x>", refs="<t1@x>", date=at(2))
    )
    (r2,) = await mail.store(
        acc,
        dict(
            frm="Carl <carl@x>", to=[A], subject="Re: Budget", msgid="<u2@x>", irt="<u1@x>", refs="<u1@x>", date=at(3)
        ),
    )
    first_two = await mail.threads(r1, r2)
    assert first_two[0] != first_two[1]
    # u1 turns out to answer t1: the late message names both and joins the two conversations
    (late,) = await mail.store(
        acc,
        dict(
            frm=A,
            to=[BOB],
            subject="Re: Trip",
            msgid="<u1@x>",
            irt="<t1@x>",
            refs="<t1@x>",
            date=at(1),
            type="sent",
            read=True,
        ),
    )
    t = await mail.threads(r1, r2, late)
    assert len(set(t)) == 1 and t[0] == min(first_two)  # the older conversation id stays
    # the merged-away conversation is gone, and every id of it now maps to the survivor
    left = await mail.pool.fetchval("SELECT count(*) FROM mail_threads WHERE id = $1", max(first_two))
    mapped = await mail.pool.fetch("SELECT DISTINCT thread_id FROM mail_thread_ids WHERE account_id = $1", acc)
    assert left == 0 and [r["thread_id"] for r in mapped] == [t[0]]


async def test_gmail_thread_id_links_messages_without_references(mail, alice):
    _, acc = alice
    a, b, c = await mail.store(
        acc,
        dict(frm=BOB, to=[A], subject="Invoice", msgid="<g1@x>", gm="1790001", date=at(0)),
        dict(frm="Carl <carl@x>", to=[A], subject="Something else", msgid="<g2@x>", gm="1790001", date=at(1)),
        dict(frm=BOB, to=[A], subject="Invoice", msgid="<g3@x>", gm="1790002", date=at(2)),
    )
    ta, tb, tc = await mail.threads(a, b, c)
    assert ta == tb and tc != ta


# ---------------------------------------------------------------- the subject fallback


async def test_two_strangers_saying_hello_stay_apart(mail, alice):
    _, acc = alice
    h1, h2 = await mail.store(
        acc,
        dict(frm="Carl <carl@one.example>", to=[A], subject="Hello", msgid="<h1@one>", date=at(0)),
        dict(frm="Dora <dora@two.example>", to=[A], subject="Hello", msgid="<h2@two>", date=at(days=1)),
    )
    # even a Re: Hello without References from a third stranger joins neither
    (h3,) = await mail.store(
        acc, dict(frm="Emil <emil@three.example>", to=[A], subject="Re: Hello", msgid="<h3@three>", date=at(days=2))
    )
    assert len(set(await mail.threads(h1, h2, h3))) == 3


@pytest.mark.parametrize("prefix", ["Re: ", "RE: ", "AW: ", "SV: ", "Antw: ", "回复：", "Re[2]: ", "[team] Re: "])
async def test_reply_without_references_joins_by_subject_and_participant(mail, alice, prefix):
    _, acc = alice
    (first,) = await mail.store(acc, dict(frm=BOB, to=[A], subject="Quarterly numbers", msgid="<q1@x>", date=at(0)))
    # a client that sets no In-Reply-To/References (some webmail, some phones)
    (reply,) = await mail.store(
        acc, dict(frm=A, to=[BOB], subject=f"{prefix}Quarterly numbers", msgid="<q2@x>", date=at(days=2), type="sent")
    )
    assert await mail.thread(reply) == await mail.thread(first)


async def test_subject_fallback_needs_the_time_window(mail, alice):
    _, acc = alice
    (first,) = await mail.store(acc, dict(frm=BOB, to=[A], subject="Status", msgid="<st1@x>", date=at(0)))
    (late,) = await mail.store(acc, dict(frm=BOB, to=[A], subject="Re: Status", msgid="<st2@x>", date=at(days=90)))
    assert await mail.thread(late) != await mail.thread(first)


async def test_reply_arriving_before_its_original_is_joined_by_it(mail, alice):
    _, acc = alice
    # the sync fetches newest first: the reply (no References) is stored before the original
    (reply,) = await mail.store(
        acc, dict(frm=A, to=[BOB], subject="Re: Keys", msgid="<k2@x>", date=at(days=1), type="sent")
    )
    (original,) = await mail.store(acc, dict(frm=BOB, to=[A], subject="Keys", msgid="<k1@x>", date=at(0)))
    assert await mail.thread(original) == await mail.thread(reply)


async def test_batch_is_threaded_in_date_order_and_rebuild_gives_the_same(mail, alice):
    _, acc = alice
    ids = await mail.store(
        acc,
        dict(frm=BOB, to=[A], subject="Re: Dinner", msgid="<d2@x>", irt="<d1@x>", refs="<d1@x>", date=at(2)),
        dict(frm="Carl <carl@x>", to=[A], subject="Hello", msgid="<e1@x>", date=at(1)),
        dict(frm=BOB, to=[A], subject="Dinner", msgid="<d1@x>", date=at(0)),
        dict(frm=BOB, to=[A], subject="Re: Dinner", msgid="<d3@x>", date=at(3)),
    )
    before = await mail.threads(*ids)
    assert before[0] == before[2] == before[3] != before[1]
    async with mail.pool.acquire() as conn, conn.transaction():
        await rebuild_threads(conn, acc)
    after = await mail.threads(*ids)
    assert after[0] == after[2] == after[3] != after[1]


async def test_threads_are_per_account(mail, alice):
    user, acc = alice
    other = await mail.account(user, "alice@work.example")
    (a,) = await mail.store(acc, dict(frm=BOB, to=[A], subject="Shared", msgid="<same@x>", date=at(0)))
    (b,) = await mail.store(
        other, dict(frm=BOB, to=["alice@work.example"], subject="Shared", msgid="<same@x>", date=at(0))
    )
    assert await mail.thread(a) != await mail.thread(b)


async def test_same_message_in_two_folders_is_one_conversation(mail, alice):
    _, acc = alice
    a, b = await mail.store(
        acc,
        dict(frm=BOB, to=[A], subject="Copy", msgid="<cp@x>", date=at(0)),
        dict(frm=BOB, to=[A], subject="Copy", msgid="<cp@x>", date=at(0), type="archive"),
    )
    assert await mail.thread(a) == await mail.thread(b)


async def test_a_big_batch_costs_a_fixed_number_of_statements(mail, alice):
    _, acc = alice
    msgs = []
    for i in range(400):
        root = f"<root{i // 4}@x>"
        msgs.append(
            dict(
                frm=f"P{i % 7} <p{i % 7}@x>",
                to=[A],
                subject=("Re: " if i % 4 else "") + f"Topic {i // 4}",
                msgid=f"<big{i}@x>" if i % 4 else root,
                refs=root if i % 4 else None,
                irt=root if i % 4 else None,
                date=at(hours=i),
            )
        )
    ids = await mail.store(acc, *msgs, assign=False)
    async with mail.pool.acquire() as conn, conn.transaction():
        counted = Counting(conn)
        await assign_threads(counted, acc, ids)
    calls = counted.calls
    assert len(calls) <= 12, calls  # two of them set and reset the planning of the lookups
    assert len(set(await mail.threads(*ids))) == 100
