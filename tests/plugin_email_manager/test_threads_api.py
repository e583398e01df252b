"""listThreads, getThread and the mail badge as the email center's list and reader use them: which
conversations a filter shows, with which main message and counts, in which order, page by page,
and never another user's mail."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from types import SimpleNamespace

import pytest

from host.api import ActionContext
from host.errors import BadRequest, NotFound
from plugin_email_manager.actions.mail_messages import get_thread, list_threads
from plugin_email_manager.conversations import assign_threads
from plugin_email_manager.unread_badge import unread_count
from tests.plugin_email_manager.test_conversations import REGISTRY, T0, Mail, mail, mail_template  # noqa: F401 - fixtures

A = "Alice <alice@example.test>"
BOB = "Bob <bob@example.test>"


class Box:
    """Alice's mailbox of the acceptance story, and Bob's, with calls as each of them."""

    def __init__(self, mail: Mail):
        self.mail = mail
        self.host = SimpleNamespace(db=mail.pool, registry=REGISTRY, secrets=None, base_url="")

    async def call(self, handler, user, **params):
        ctx = ActionContext(
            host=self.host,
            collection=REGISTRY["mailMessages"],
            action=handler.__name__,
            params=params,
            values={},
            user=user,
        )
        return await handler(ctx)

    async def threads(self, user=None, **params):
        if isinstance(params.get("filter"), dict):
            params["filter"] = json.dumps(params["filter"])  # as a query string carries it
        return await self.call(list_threads, user or self.alice, **params)


def at(hours=0, days=0):
    return T0 + timedelta(hours=hours, days=days)


@pytest.fixture
async def box(mail):
    b = Box(mail)
    b.alice = await mail.user("alice@example.test")
    b.bob = await mail.user("bob@example.test")
    b.acc = await mail.account(b.alice)
    b.bob_acc = await mail.account(b.bob)
    s = mail.store
    b.lunch = await s(
        b.acc,
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
            flagged=True,
        ),
    )
    b.hello = await s(
        b.acc,
        dict(frm="Carl <carl@one.example>", to=[A], subject="Hello", msgid="<h1@one>", date=at(0)),
        dict(
            frm="Dora <dora@two.example>", to=[A], subject="Hello", msgid="<h2@two>", date=at(days=1), attachments=True
        ),
    )
    b.angebot = await s(
        b.acc,
        dict(frm="Eva <eva@de.example>", to=[A], subject="Angebot", msgid="<a1@de>", date=at(0)),
        dict(
            frm="Eva <eva@de.example>",
            to=[A],
            cc=["Finn <finn@de.example>"],
            subject="AW: AW: Angebot",
            msgid="<a3@de>",
            irt="<a2@de>",
            refs="<a1@de> <a2@de>",
            date=at(5),
        ),
    )
    b.digest = await s(
        b.acc,
        dict(
            frm="News <news@example.test>", to=[A], subject="Weekly digest", msgid="<w1@x>", date=at(days=-1), read=True
        ),
    )
    b.bobs = await s(b.bob_acc, dict(frm=A, to=[BOB], subject="Lunch on Thursday?", msgid="<bl1@x>", date=at(3)))
    return b


def subjects(answer) -> list[str]:
    return [r["subject"] for r in answer["data"]]


async def test_inbox_view_one_row_per_conversation(box):
    got = await box.threads(filter={"type": "inbox"}, pageSize=50)
    assert got["meta"] == {"count": 5, "page": 1, "pageSize": 50, "totalPage": 1}
    # newest main first: Dora's Hello (day 1), Angebot (5 h), lunch (2 h), Carl's Hello, digest
    assert subjects(got) == ["Hello", "AW: AW: Angebot", "Re: Lunch moved to Friday", "Hello", "Weekly digest"]
    lunch = got["data"][2]
    assert lunch["count"] == 3 and lunch["unreadCount"] == 2 and lunch["threadId"]
    assert lunch["main"]["id"] == box.lunch[2] and lunch["main"]["type"] == "inbox"
    assert lunch["main"]["date"] == at(2).isoformat() and lunch["main"]["from"]["address"] == "bob@example.test"
    assert lunch["participants"] == [
        {"name": "Bob", "address": "bob@example.test"},
        {"name": "Alice", "address": "alice@example.test"},
    ]
    assert lunch["latestDate"] == at(2).isoformat() and lunch["hasAttachments"] is False
    assert "text" not in lunch["main"] and "html" not in lunch["main"]  # as list answers it
    assert [r["hasAttachments"] for r in got["data"]] == [True, False, False, False, False]


async def test_no_filter_shows_every_conversation_with_its_newest_message(box):
    got = await box.threads(pageSize=50)
    assert got["meta"]["count"] == 5
    assert [r["main"]["id"] for r in got["data"]][:3] == [box.hello[1], box.angebot[1], box.lunch[2]]


async def test_a_sent_only_filter_shows_the_sent_message_and_the_full_count(box):
    got = await box.threads(filter={"type": "sent"})
    assert len(got["data"]) == 1 and got["meta"]["count"] == 1
    row = got["data"][0]
    assert row["count"] == 3 and row["main"]["type"] == "sent" and row["main"]["id"] == box.lunch[1]
    assert row["subject"] == "Re: Lunch on Thursday?" and row["unreadCount"] == 2


async def test_unread_filter(box):
    got = await box.threads(filter={"read": False})
    assert got["meta"]["count"] == 4 and all(r["unreadCount"] > 0 for r in got["data"])
    assert "Weekly digest" not in subjects(got)
    # the main message is the newest *unread* one: the sent reply (read) never is
    lunch = next(r for r in got["data"] if r["count"] == 3)
    assert lunch["main"]["id"] == box.lunch[2]
    both = await box.threads(filter={"type": "inbox", "read": False})
    assert [r["threadId"] for r in both["data"]] == [r["threadId"] for r in got["data"]]


@pytest.mark.parametrize(
    "flt, expected",
    [
        ({"flagged": True}, ["Re: Lunch moved to Friday"]),
        ({"from": {"address": {"$eq": "eva@de.example"}}}, ["AW: AW: Angebot"]),
        ({"from.address": "carl@one.example"}, ["Hello"]),
        ({"to": {"address": "bob@example.test"}}, ["Re: Lunch on Thursday?"]),
        ({"cc": {"address": {"$includes": "finn"}}}, ["AW: AW: Angebot"]),
        ({"subject": {"$includes": "lunch"}}, ["Re: Lunch moved to Friday"]),
        (
            {"date": {"$dateBetween": [at(days=-1).date().isoformat(), at(days=-1).date().isoformat()]}},
            ["Weekly digest"],
        ),
        ({"date": {"$gte": at(4).isoformat()}}, ["Hello", "AW: AW: Angebot"]),
        ({"hasAttachments": True}, ["Hello"]),
        (
            {"type": "inbox", "read": False, "from.address": {"$in": ["bob@example.test", "eva@de.example"]}},
            ["AW: AW: Angebot", "Re: Lunch moved to Friday"],
        ),
        ({"$or": [{"type": "sent"}, {"read": True}]}, ["Re: Lunch on Thursday?", "Weekly digest"]),
        ({"type": "trash"}, []),
    ],
)
async def test_each_filter_and_their_combinations(box, flt, expected):
    got = await box.threads(filter=flt)
    assert subjects(got) == expected and got["meta"]["count"] == len(expected)


async def test_account_filter_and_scope(box):
    mine = await box.threads(filter={"type": "inbox", "accountId": box.acc})
    assert mine["meta"]["count"] == 5
    # naming Bob's account, directly or in a list, narrows to nothing (never Bob's mail)
    for flt in (
        {"accountId": box.bob_acc},
        {"accountId": {"$in": [box.bob_acc]}},
        {"accountId": box.bob_acc, "subject": {"$includes": "Lunch"}},
    ):
        got = await box.threads(filter=flt)
        assert got["data"] == [] and got["meta"]["count"] == 0
    bobs = await box.threads(user=box.bob, pageSize=50)
    assert [r["main"]["id"] for r in bobs["data"]] == box.bobs and bobs["data"][0]["count"] == 1


async def test_pages_and_meta(box):
    pages = [await box.threads(filter={"type": "inbox"}, pageSize=2, page=p) for p in (1, 2, 3, 4)]
    assert [p["meta"] for p in pages] == [{"count": 5, "page": p, "pageSize": 2, "totalPage": 3} for p in (1, 2, 3, 4)]
    assert [len(p["data"]) for p in pages] == [2, 2, 1, 0]
    ids = [r["threadId"] for p in pages for r in p["data"]]
    assert len(set(ids)) == 5
    # the grouped path (any other filter) pages the same way, also past the end
    grouped = [await box.threads(filter={"type": "inbox", "id": {"$gt": 0}}, pageSize=2, page=p) for p in (1, 2, 3, 4)]
    assert [p["meta"] for p in grouped] == [p["meta"] for p in pages]
    assert [r["threadId"] for p in grouped for r in p["data"]] == ids


async def test_oldest_first_sort(box):
    newest = await box.threads(filter={"type": "inbox"})
    oldest = await box.threads(filter={"type": "inbox"}, sort="date")
    assert [r["threadId"] for r in oldest["data"]] == [r["threadId"] for r in reversed(newest["data"])]
    with pytest.raises(BadRequest):
        await box.threads(sort="subject")


async def test_bad_filters_are_400(box):
    with pytest.raises(BadRequest):
        await box.threads(filter={"nope": 1})
    with pytest.raises(BadRequest):
        await box.threads(filter="{not json")


async def test_kept_heads_agree_with_grouping_after_changes(box):
    """The default views read mail_thread_heads (kept by triggers); any other filter groups the
    messages themselves. After merges, moves, deletes and new mail both must answer the same."""
    mail = box.mail
    # a late message joins Carl's and Dora's Hello threads; one message moves to the archive;
    # one is deleted; a new inbox message arrives in the lunch conversation
    await mail.store(
        box.acc,
        dict(
            frm=A,
            to=["carl@one.example"],
            subject="Re: Hello",
            msgid="<hx@x>",
            refs="<h1@one> <h2@two>",
            date=at(days=2),
            type="sent",
            read=True,
        ),
    )
    await mail.pool.execute("UPDATE mail_messages SET type = 'archive' WHERE id = $1", box.angebot[1])
    await mail.pool.execute("DELETE FROM mail_messages WHERE id = $1", box.digest[0])
    await mail.store(
        box.acc,
        dict(
            frm=BOB,
            to=[A],
            subject="Re: Lunch moved to Friday",
            msgid="<l4@x>",
            irt="<l3@x>",
            refs="<l3@x>",
            date=at(days=3),
        ),
    )
    for kind in ("inbox", "sent", "archive", None):
        fast = await box.threads(filter={"type": kind} if kind else None, pageSize=50)
        slow = await box.threads(filter={**({"type": kind} if kind else {}), "id": {"$gt": 0}}, pageSize=50)
        assert [(r["threadId"], r["main"]["id"], r["count"]) for r in fast["data"]] == [
            (r["threadId"], r["main"]["id"], r["count"]) for r in slow["data"]
        ], kind
        assert fast["meta"] == slow["meta"]
    inbox = await box.threads(filter={"type": "inbox"})
    assert [r["subject"] for r in inbox["data"]] == ["Re: Lunch moved to Friday", "Hello", "Angebot"]
    assert inbox["data"][1]["count"] == 3


async def test_get_thread_oldest_first_with_bodies(box):
    first = await box.threads(filter={"type": "sent"})
    tid = first["data"][0]["threadId"]
    got = await box.call(get_thread, box.alice, threadId=str(tid))
    assert [m["messageId"] for m in got["data"]] == ["<l1@x>", "<l2@x>", "<l3@x>"]
    assert all("text" in m and "html" in m and m["attachments"] == [] for m in got["data"])


async def test_get_thread_outside_scope_is_404(box):
    bobs_thread = await box.mail.thread(box.bobs[0])
    with pytest.raises(NotFound):
        await box.call(get_thread, box.alice, threadId=bobs_thread)
    with pytest.raises(NotFound):
        await box.call(get_thread, box.alice, threadId=987654)
    with pytest.raises(BadRequest):
        await box.call(get_thread, box.alice)
    with pytest.raises(BadRequest):
        await box.call(get_thread, box.alice, threadId="abc")


async def test_badge_counts_unread_inbox_mail_of_the_user(box):
    host = box.host
    assert await unread_count(host, box.alice) == 6
    assert await unread_count(host, box.bob) == 1
    await box.mail.pool.execute("UPDATE mail_messages SET read = true WHERE id = ANY($1::bigint[])", box.hello)
    assert await unread_count(host, box.alice) == 4


async def same_as_grouping(box, user=None):
    for kind in ("inbox", "sent", None):
        fast = await box.threads(user, filter={"type": kind} if kind else None, pageSize=100)
        slow = await box.threads(user, filter={**({"type": kind} if kind else {}), "id": {"$gt": 0}}, pageSize=100)
        assert [(r["threadId"], r["main"]["id"]) for r in fast["data"]] == [
            (r["threadId"], r["main"]["id"]) for r in slow["data"]
        ], kind
        assert fast["meta"] == slow["meta"], kind


async def test_view_counts_stay_right_through_folding_and_account_removal(box):
    for i in range(70):  # each store appends count rows; a reader folds them past a threshold
        await box.mail.store(
            box.acc,
            dict(
                frm=f"P{i} <p{i}@x.example>", to=[A], subject=f"Note {i}", msgid=f"<n{i}@x>", date=at(days=3, hours=i)
            ),
        )
    got = await box.threads(filter={"type": "inbox"})
    assert got["meta"]["count"] == 75
    rows = await box.mail.pool.fetchval("SELECT count(*) FROM mail_thread_counts WHERE user_id = $1", box.alice.id)
    assert rows <= 6  # folded: one row per (account, kind)
    await same_as_grouping(box)
    await box.mail.pool.execute("DELETE FROM mail_accounts WHERE id = $1", box.acc)
    got = await box.threads(filter={"type": "inbox"})
    assert got["data"] == [] and got["meta"]["count"] == 0
    assert (await box.threads(user=box.bob))["meta"]["count"] == 1


async def test_concurrent_writers_of_one_conversation_keep_its_head_right(box):
    """A sync storing a reply and the user deleting a message of the same conversation, at once:
    whichever commits last recomputes the head from what the other committed."""
    pool = box.mail.pool
    async with pool.acquire() as c1, pool.acquire() as c2:
        t1 = c1.transaction()
        await t1.start()
        reply = await c1.fetchval(
            "INSERT INTO mail_messages (account_id, folder_id, uid, type, message_id, in_reply_to, refs, subject, "
            "from_addr, to_addrs, date) VALUES ($1, $2, 999, 'inbox', '<l5@x>', '<l3@x>', '[\"<l3@x>\"]', "
            '\'Re: Lunch moved to Friday\', \'{"name": "Bob", "address": "bob@example.test"}\', \'[]\', $3) '
            "RETURNING id",
            box.acc,
            await box.mail.folder(box.acc, "inbox"),
            at(days=4),
        )
        await assign_threads(c1, box.acc, [reply])
        # the user deletes the lunch conversation's first message meanwhile: it waits for the sync
        delete = asyncio.ensure_future(c2.execute("DELETE FROM mail_messages WHERE id = $1", box.lunch[0]))
        await asyncio.sleep(0.3)
        assert not delete.done()
        await t1.commit()
        await delete
    inbox = await box.threads(filter={"type": "inbox"})
    thread = await box.mail.thread(reply)
    lunch = next(r for r in inbox["data"] if r["threadId"] == thread)
    assert lunch["main"]["id"] == reply and lunch["count"] == 3
    await same_as_grouping(box)


async def test_parity_labels_notes_templates_signatures_are_each_users_own(pg_cluster):
    """NocoBase's extras as a person uses them: label a message, note it, keep templates."""
    from tests.servers.app import running_server

    async with running_server(pg_cluster.create_database()) as server:
        ann, bob = await server.member("ann-p@example.test"), await server.member("bob-p@example.test")
        status, body = await server.api(
            ann, "mailTemplates:create", {"name": "Thanks", "subject": "Thank you", "html": "<p>Thanks!</p>"}
        )
        assert status == 200, body
        template = body["data"]["id"]
        assert (await server.api(bob, "mailTemplates:get", query={"filterByTk": template}, method="GET"))[0] == 404
        status, body = await server.api(bob, "mailTemplates:list", method="GET")
        assert body["data"] == []
        status, body = await server.api(
            ann, "mailSignatures:create", {"name": "Work", "html": "<p>Ann</p>", "isDefault": True}
        )
        assert status == 200 and body["data"]["isDefault"] is True
        status, body = await server.api(ann, "mailLabels:create", {"name": "Invoices", "color": "#1677ff"})
        assert status == 200
        # a note must be on a message of one's own: there is none, so any id is out of scope
        status, body = await server.api(ann, "mailMessageNotes:create", {"mailMessageId": 999999, "content": "x"})
        assert status == 404
