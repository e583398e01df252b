"""Full-text search as a person types it into the mail search box: words of a body, of a subject
that arrived MIME-encoded, an address or a name; ranked; combined with filters; only ever in the
searcher's own mail."""

from __future__ import annotations

from datetime import timedelta

import pytest

from host.errors import BadRequest
from plugin_email_manager.actions.mail_messages import list_messages, list_threads
from plugin_email_manager.conversations import listing
from plugin_email_manager.mailparse.headers import decode_unstructured
from tests.plugin_email_manager.test_conversations import T0, mail, mail_template  # noqa: F401
from tests.plugin_email_manager.test_threads_api import Box

A = "Alice <alice@example.test>"
BOB = "Bob <bob@example.test>"


def at(hours=0):
    return T0 + timedelta(hours=hours)


@pytest.fixture
async def box(mail):
    b = Box(mail)
    b.alice = await mail.user("alice@example.test")
    b.bob = await mail.user("bob@example.test")
    b.acc = await mail.account(b.alice)
    b.bob_acc = await mail.account(b.bob)
    s = mail.store
    # a subject as it came over the wire, decoded as the parser stores it
    b.munich_subject = decode_unstructured("=?utf-8?q?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen?=")
    b.ids = await s(
        b.acc,
        dict(
            frm=BOB,
            to=[A],
            subject="Budget review",
            msgid="<b1@x>",
            date=at(0),
            text="Please bring the spreadsheet to the quarterly meetings.",
        ),
        dict(
            frm=A,
            to=[BOB],
            subject="Re: Budget review",
            msgid="<b2@x>",
            refs="<b1@x>",
            irt="<b1@x>",
            date=at(1),
            type="sent",
            read=True,
            text="I will bring it. The zeppelin numbers look odd.",
        ),
        dict(
            frm="Eva Braun-Schmidt <eva@de.example>",
            to=[A],
            subject=b.munich_subject,
            msgid="<m1@de>",
            date=at(2),
            text="Viele Grüße vom Oktoberfest.",
        ),
        dict(
            frm="Carl <carl@one.example>",
            to=[A],
            subject="Spreadsheet attached",
            msgid="<c1@one>",
            date=at(3),
            text="Here it is.",
        ),
        index=True,
    )
    # Bob's own mail mentions the same words: Alice must never find it
    await s(
        b.bob_acc,
        dict(
            frm=A,
            to=[BOB],
            subject="Zeppelin spreadsheet",
            msgid="<z@x>",
            date=at(4),
            text="zeppelin zeppelin spreadsheet",
        ),
        index=True,
    )
    return b


async def search(box, words, user=None, **params):
    return await box.call(list_messages, user or box.alice, search=words, **params)


def ids(answer):
    return [r["id"] for r in answer["data"]]


async def test_finds_a_word_of_a_body(box):
    got = await search(box, "zeppelin")
    assert ids(got) == [box.ids[1]] and got["meta"]["count"] == 1


async def test_stems_english_words(box):
    # "meeting" finds "meetings"
    assert ids(await search(box, "meeting")) == [box.ids[0]]


async def test_finds_a_word_of_an_encoded_subject(box):
    assert box.munich_subject == "Grüße aus München"
    assert ids(await search(box, "München")) == [box.ids[2]]
    assert ids(await search(box, "münchen grüße")) == [box.ids[2]]


async def test_finds_addresses_and_names(box):
    assert ids(await search(box, "eva@de.example")) == [box.ids[2]]
    assert ids(await search(box, "Braun-Schmidt")) == [box.ids[2]]
    assert set(ids(await search(box, "carl"))) == {box.ids[3]}
    assert set(ids(await search(box, "de.example"))) == {box.ids[2]}


async def test_the_account_marker_in_the_index_is_not_findable(box):
    # every vector carries its account as a lexeme no typed query can produce
    account = await box.mail.pool.fetchval(
        "SELECT count(*) FROM mail_messages WHERE search_vector @@ $1::tsquery", f"'account {box.acc}'"
    )
    assert account == 4
    for typed in (f"account {box.acc}", f'"account {box.acc}"', "account"):
        assert ids(await search(box, typed)) == []


async def test_never_finds_another_users_mail(box):
    assert ids(await search(box, "zeppelin spreadsheet")) == []
    bob = await search(box, "zeppelin", user=box.bob)
    assert len(bob["data"]) == 1 and bob["data"][0]["subject"] == "Zeppelin spreadsheet"
    # a filter naming Bob's account does not help either
    got = await search(box, "zeppelin", filter={"accountId": box.bob_acc})
    assert got["data"] == [] and got["meta"]["count"] == 0


async def test_ranked_subject_above_body_unless_sorted(box):
    ranked = await search(box, "spreadsheet")
    assert ids(ranked) == [box.ids[3], box.ids[0]]  # in the subject beats in the body
    by_date = await search(box, "spreadsheet", sort="date")
    assert ids(by_date) == [box.ids[0], box.ids[3]]


async def test_combined_with_a_filter_and_web_search_syntax(box):
    assert ids(await search(box, "spreadsheet", filter='{"from.address": "bob@example.test"}')) == [box.ids[0]]
    assert ids(await search(box, "spreadsheet -quarterly")) == [box.ids[3]]
    assert ids(await search(box, '"zeppelin numbers"')) == [box.ids[1]]
    assert ids(await search(box, '"numbers zeppelin"')) == []  # a phrase keeps its order
    assert set(ids(await search(box, "zeppelin or oktoberfest"))) == {box.ids[1], box.ids[2]}


async def test_not_yet_indexed_mail_is_found_by_subject(box):
    (new,) = await box.mail.store(
        box.acc,
        dict(frm=BOB, to=[A], subject="Fresh avocado delivery", msgid="<n@x>", date=at(5), text="not indexed yet"),
    )
    assert ids(await search(box, "avocado")) == [new]
    assert ids(await search(box, "indexed")) == []  # its body waits for the parse pass


async def test_list_without_search_is_the_generic_list(box):
    got = await box.call(list_messages, box.alice, sort="-date", pageSize=2)
    assert got["meta"]["count"] == 4 and ids(got) == [box.ids[3], box.ids[2]]
    with pytest.raises(BadRequest):
        await search(box, "x" * 600)


async def test_list_threads_with_search(box):
    got = await box.call(list_threads, box.alice, search="zeppelin")
    assert len(got["data"]) == 1
    row = got["data"][0]
    # the conversation shows its matching message as main, and counts all of its messages
    assert row["main"]["id"] == box.ids[1] and row["count"] == 2 and row["main"]["type"] == "sent"
    inbox_only = await box.call(list_threads, box.alice, search="zeppelin", filter='{"type": "inbox"}')
    assert inbox_only["data"] == []
    both = await box.call(list_threads, box.alice, search="spreadsheet")
    assert [r["main"]["id"] for r in both["data"]] == [box.ids[3], box.ids[0]]
    assert both["meta"]["count"] == 2


async def test_a_word_in_very_many_messages_pages_as_grouping_them_all_and_counts_about(box, monkeypatch):
    # 300 invoices in 75 conversations of four, some received, some sent, one conversation per day
    invoices = []
    for i in range(300):
        first = f"<inv{i - i % 4}@x>"
        invoices.append(
            dict(
                frm=BOB if i % 2 else A,
                to=[A] if i % 2 else [BOB],
                subject=f"Invoice {i // 4}" if i % 4 == 0 else f"Re: Invoice {i // 4}",
                msgid=f"<inv{i}@x>",
                refs=None if i % 4 == 0 else first,
                irt=None if i % 4 == 0 else first,
                date=at(24 * (1 + i // 4) + 10 + i % 4),
                type="inbox" if i % 2 else "sent",
                text=f"The invoice number {i} is attached.",
            )
        )
    await box.mail.store(box.acc, *invoices, index=True)
    await box.mail.pool.execute("ANALYZE mail_messages")  # the planner's statistics of the words

    async def both(**params):
        monkeypatch.setattr(listing, "ESTIMATE_FROM", 10**9)  # every match grouped: exact
        monkeypatch.setattr(listing, "WALK_READS", 0.5)
        grouped = await box.threads(search="invoice", **params)
        monkeypatch.setattr(listing, "ESTIMATE_FROM", 50)  # walked newest first (a small mailbox:
        monkeypatch.setattr(listing, "WALK_READS", 10)  # reading it all would be cheaper still)
        walked = await box.threads(search="invoice", **params)
        return grouped, walked

    for params in ({"pageSize": 20}, {"pageSize": 20, "page": 3}, {"pageSize": 7, "filter": {"type": "inbox"}}):
        grouped, walked = await both(**params)
        # the same conversations, in the same order, each with the same main message
        assert [(r["threadId"], r["main"]["id"]) for r in walked["data"]] == [
            (r["threadId"], r["main"]["id"]) for r in grouped["data"]
        ], params
        assert len(walked["data"]) == params["pageSize"]
        assert grouped["meta"]["count"] == 75 and "countIsEstimate" not in grouped["meta"]
    # page 1 read a few pages' worth of the 300 matches: the count is an estimate, and says so
    grouped_page_1, walked = await both(pageSize=20)
    assert walked["meta"]["countIsEstimate"] is True, walked["meta"]
    assert 20 <= walked["meta"]["count"] <= 300 and walked["meta"]["totalPage"] >= 1, walked["meta"]
    # a walk that met every match (page 3 read them all) counts exactly
    grouped, walked = await both(pageSize=20, page=3)
    assert walked["meta"] == grouped["meta"] == {"count": 75, "page": 3, "pageSize": 20, "totalPage": 4}
    # ascending pages group (each conversation's newest match is its main), never walk
    grouped, walked = await both(sort="date", pageSize=10)
    assert walked == grouped and grouped["data"][0]["subject"] == "Re: Invoice 0"  # the oldest conversation
    grouped, walked = await both(pageSize=100)
    assert len(walked["data"]) == 75 and walked["meta"] == grouped["meta"]
    # as it stands, a walk that would read more than half as many messages as grouping: grouped
    monkeypatch.setattr(listing, "WALK_READS", 0.5)
    assert await box.threads(search="invoice", pageSize=20) == grouped_page_1
