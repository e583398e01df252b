"""Reply and forward drafts: the recipients, subject and quote a mail client would prepare."""

from __future__ import annotations

import pytest

from plugin_email_manager.sendmail.replies import (
    FORWARD_LINE,
    prepare_forward,
    prepare_reply,
    trim_references,
    with_quote,
)

ME = "me@example.com"
ACCOUNT = {ME, "Me.Alias@Example.com"}


def person(name, address):
    return {"name": name, "address": address}


def original(**changes):
    msg = {
        "messageId": "<m3@example.org>",
        "references": ["<m1@example.org>", "<m2@example.org>"],
        "subject": "Budget 2025",
        "from": person("Ann Lee", "ann@example.org"),
        "to": [person("Me", ME), person("Bob", "bob@example.org")],
        "cc": [person("Carol", "carol@example.net")],
        "replyTo": [],
        "date": "2025-03-03T14:05:00+00:00",
        "text": "Hi all,\nthe numbers are in.\n\n> earlier quote\nAnn",
        "html": None,
        "attachments": [],
    }
    msg.update(changes)
    return msg


def addresses(people):
    return [p["address"] for p in people]


def test_reply_goes_to_the_sender_only():
    draft = prepare_reply(original(), account_addresses=ACCOUNT, reply_all=False)
    assert draft["to"] == [person("Ann Lee", "ann@example.org")]
    assert draft["cc"] == []


def test_reply_all_adds_the_others_but_never_me():
    draft = prepare_reply(original(), account_addresses=ACCOUNT, reply_all=True)
    assert addresses(draft["to"]) == ["ann@example.org"]
    assert addresses(draft["cc"]) == ["bob@example.org", "carol@example.net"]


def test_reply_to_stands_for_the_author_in_reply_and_reply_all():
    msg = original(replyTo=[person("The List", "list@lists.example.org")])
    assert addresses(prepare_reply(msg, account_addresses=ACCOUNT, reply_all=False)["to"]) == ["list@lists.example.org"]
    draft = prepare_reply(msg, account_addresses=ACCOUNT, reply_all=True)
    assert addresses(draft["to"]) == ["list@lists.example.org"]
    assert addresses(draft["cc"]) == ["bob@example.org", "carol@example.net"]


def test_account_in_cc_under_another_spelling_is_left_out():
    msg = original(
        to=[person("Bob", "bob@example.org")],
        cc=[person("Me", "ME.ALIAS@example.COM"), person("Carol", "carol@example.net")],
    )
    draft = prepare_reply(msg, account_addresses=ACCOUNT, reply_all=True)
    assert addresses(draft["cc"]) == ["bob@example.org", "carol@example.net"]


def test_duplicates_across_to_and_cc_appear_once_whatever_their_case():
    msg = original(
        to=[person("Bob", "bob@example.org"), person("ANN", "Ann@Example.org"), person("", ME)],
        cc=[person("Bob B.", "BOB@EXAMPLE.ORG"), person("Carol", "carol@example.net"), person("", "Carol@Example.net")],
    )
    draft = prepare_reply(msg, account_addresses=ACCOUNT, reply_all=True)
    assert addresses(draft["to"]) == ["ann@example.org"]
    assert addresses(draft["cc"]) == ["bob@example.org", "carol@example.net"]


def test_replying_to_my_own_sent_message_writes_to_its_recipients():
    sent = original(
        **{
            "from": person("Me", ME),
            "to": [person("Bob", "bob@example.org")],
            "cc": [person("Carol", "carol@example.net")],
        }
    )
    assert addresses(prepare_reply(sent, account_addresses=ACCOUNT, reply_all=False)["to"]) == ["bob@example.org"]
    draft = prepare_reply(sent, account_addresses=ACCOUNT, reply_all=True)
    assert addresses(draft["to"]) == ["bob@example.org"]
    assert addresses(draft["cc"]) == ["carol@example.net"]


def test_a_note_to_myself_is_answered_to_myself():
    note = original(**{"from": person("Me", ME), "to": [person("Me", ME)], "cc": []})
    assert addresses(prepare_reply(note, account_addresses=ACCOUNT, reply_all=True)["to"]) == [ME]


@pytest.mark.parametrize(
    "subject,expected",
    [
        ("Budget 2025", "Re: Budget 2025"),
        ("Re: Budget 2025", "Re: Budget 2025"),
        ("RE: Budget 2025", "RE: Budget 2025"),
        ("AW: Budget 2025", "AW: Budget 2025"),
        ("SV: Budget 2025", "SV: Budget 2025"),
        ("Fwd: Budget 2025", "Re: Fwd: Budget 2025"),
        ("", "Re:"),
    ],
)
def test_re_is_added_once(subject, expected):
    assert prepare_reply(original(subject=subject), account_addresses=ACCOUNT, reply_all=False)["subject"] == expected


def test_reply_quotes_the_original_below_an_attribution():
    draft = prepare_reply(original(), account_addresses=ACCOUNT, reply_all=False)
    assert draft["text"] == (
        "\n\nOn Mon, 3 Mar 2025 at 14:05 +0000, Ann Lee <ann@example.org> wrote:\n"
        "> Hi all,\n> the numbers are in.\n>\n>> earlier quote\n> Ann\n"
    )
    assert '<blockquote type="cite"' in draft["html"]
    assert "the numbers are in." in draft["html"]
    text, html = with_quote(draft, text="Thanks, looks good.")
    assert text.startswith("Thanks, looks good.\n\nOn Mon, 3 Mar 2025")
    assert html is None


def test_reply_quote_escapes_text_and_uses_html_when_there_is_some():
    draft = prepare_reply(original(text="a <b> & c", html=None), account_addresses=ACCOUNT, reply_all=False)
    assert "a &lt;b&gt; &amp; c" in draft["html"]
    rich = original(text="", html="<p>Numbers <b>are</b> in</p>")
    draft = prepare_reply(rich, account_addresses=ACCOUNT, reply_all=False)
    assert "> Numbers are in" in draft["text"]  # html-only original: quoted as text too
    assert "<b>are</b>" in draft["html"]
    text, html = with_quote(draft, html="<p>Great</p>")
    assert html.startswith("<p>Great</p>") and html.index("Great") < html.index("<blockquote")
    assert text.startswith("Great\n")


def test_references_chain_ends_with_the_original():
    draft = prepare_reply(original(), account_addresses=ACCOUNT, reply_all=False)
    assert draft["inReplyTo"] == "<m3@example.org>"
    assert draft["references"] == ["<m1@example.org>", "<m2@example.org>", "<m3@example.org>"]
    first = prepare_reply(original(references=[]), account_addresses=ACCOUNT, reply_all=False)
    assert first["references"] == ["<m3@example.org>"]


def test_a_long_chain_keeps_its_root_and_the_nearest_parents():
    chain = [f"<message-{i:03d}.{'x' * 30}@mail.example.org>" for i in range(60)]
    draft = prepare_reply(
        original(references=chain[:-1], messageId=chain[-1]), account_addresses=ACCOUNT, reply_all=False
    )
    refs = draft["references"]
    assert refs[0] == chain[0] and refs[-1] == chain[-1]
    assert refs[1:] == chain[-(len(refs) - 1) :]  # a contiguous tail: the nearest parents
    assert len(refs) <= 20 and len("References: " + " ".join(refs)) <= 998
    assert len(refs) >= 4  # RFC 5537: the first and at least the last three
    short = [f"<{i}@x>" for i in range(60)]
    assert trim_references(short) == ["<0@x>", *short[-19:]]


def test_forward_has_a_header_block_the_body_and_the_attachments():
    files = [
        {"id": 7, "filename": "Angebot März.pdf", "contentType": "application/pdf", "size": 1234, "contentId": None}
    ]
    draft = prepare_forward(original(attachments=files))
    assert draft["to"] == [] and draft["cc"] == []
    assert draft["subject"] == "Fwd: Budget 2025"
    assert draft["text"] == (
        f"\n\n{FORWARD_LINE}\nFrom: Ann Lee <ann@example.org>\nDate: Mon, 3 Mar 2025 at 14:05 +0000\n"
        "Subject: Budget 2025\nTo: Me <me@example.com>, Bob <bob@example.org>\nCc: Carol <carol@example.net>\n\n"
        "Hi all,\nthe numbers are in.\n\n> earlier quote\nAnn"
    )
    assert FORWARD_LINE in draft["html"] and "Ann Lee &lt;ann@example.org&gt;" in draft["html"]
    assert draft["attachments"] == files
    assert prepare_forward(original(subject="Fwd: Budget"))["subject"] == "Fwd: Budget"
