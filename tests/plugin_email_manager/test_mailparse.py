"""Messages built here, each with one thing mail clients get wrong, decode as a reader expects."""

from __future__ import annotations

import asyncio
import base64
import os
import pickle
from datetime import datetime, timedelta
from email.message import EmailMessage

import pytest

from plugin_email_manager.mailparse import ParsedMessage, parse_headers, parse_message, parse_msgid_list
from plugin_email_manager.mailparse.pool import ParsePool


def _word(text: str, charset: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def _raw_with_headers(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\nbody\r\n").encode("utf-8")


@pytest.mark.parametrize(
    "word, expected",
    [
        (_word("Grüße aus München", "utf-8"), "Grüße aus München"),
        (_word("Café crème", "iso-8859-1"), "Café crème"),
        (_word("会議の議事録", "iso-2022-jp"), "会議の議事録"),
        (_word("会议纪要", "gb2312"), "会议纪要"),
        ("=?x-klingon?Q?caf=C3=A9_ol=C3=A9?=", "café olé"),  # unknown label, UTF-8 bytes
        ("=?x-unknown?Q?caf=E9?=", "café"),  # unknown label, Latin-1 bytes
        ("=?utf-8?b?w6k=?= =?utf-8?b?w6k=?= and =?iso-8859-1?q?=E9t=E9?=", "éé and été"),
        ("=?utf-8?B?8J+Y?= =?utf-8?B?gA==?=", "😀"),  # one character split over two words
    ],
)
def test_encoded_subjects_in_any_charset(word: str, expected: str):
    headers = parse_headers(_raw_with_headers("From: a@example.com", f"Subject: {word}"))
    assert headers["subject"] == expected


def test_folded_subject_is_unfolded_and_stripped():
    headers = parse_headers(_raw_with_headers("Subject:   A long subject\r\n\tthat was folded   "))
    assert headers["subject"] == "A long subject\tthat was folded".replace("\t", " ")


def test_raw_8bit_headers_are_read_as_utf8_or_latin1():
    raw = b"From: J\xc3\xb6rg <j@example.com>\r\nSubject: Caf\xe9\r\n\r\nx"
    headers = parse_headers(raw)
    assert headers["from"] == {"name": "Jörg", "address": "j@example.com"}
    assert headers["subject"] == "Café"


def test_address_lists_with_encoded_names_groups_and_junk():
    headers = parse_headers(
        _raw_with_headers(
            "From: =?utf-8?q?Doe=2C_J=C3=B6rg?= <jd@example.com>",
            'To: "Smith, Ann" <ann@example.com>, bob@example.com,',
            "Cc: Team: carl@example.com, dora@example.com;, undisclosed-recipients:;",
            "Bcc: eve@example.com frank@example.com",
            "Reply-To: <replies@example.com>",
        )
    )
    assert headers["from"] == {"name": "Doe, Jörg", "address": "jd@example.com"}
    assert headers["to"] == [
        {"name": "Smith, Ann", "address": "ann@example.com"},
        {"name": "", "address": "bob@example.com"},
    ]
    assert [a["address"] for a in headers["cc"]] == ["carl@example.com", "dora@example.com"]
    assert [a["address"] for a in headers["bcc"]] == ["eve@example.com", "frank@example.com"]
    assert headers["replyTo"] == [{"name": "", "address": "replies@example.com"}]


def test_quoted_display_names_keep_their_commas_escapes_and_encoded_words():
    headers = parse_headers(
        _raw_with_headers(
            'To: "Lee, Ann" <ann@example.com>,"Bo \\"The Boss\\" Ek" <bo@example.com>, '
            '"=?utf-8?q?J=C3=B6rg?=" <j@example.com>'
        )
    )
    assert headers["to"] == [
        {"name": "Lee, Ann", "address": "ann@example.com"},
        {"name": 'Bo "The Boss" Ek', "address": "bo@example.com"},
        {"name": "Jörg", "address": "j@example.com"},
    ]


def test_date_keeps_its_offset():
    headers = parse_headers(_raw_with_headers("Date: Tue, 14 May 2024 09:15:00 +0530 (IST)"))
    assert headers["date"] == datetime.fromisoformat("2024-05-14T09:15:00+05:30")
    assert headers["date"].utcoffset() == timedelta(hours=5, minutes=30)


@pytest.mark.parametrize("date_line", [None, "Date: someday soon", "Date: "])
def test_missing_or_unreadable_date_is_none(date_line):
    lines = ["Subject: x"] + ([date_line] if date_line else [])
    headers = parse_headers(_raw_with_headers(*lines))
    assert headers["date"] is None
    if date_line == "Date: someday soon":
        assert any("date" in e for e in headers["errors"])


def test_minus_zero_zone_means_utc():
    headers = parse_headers(_raw_with_headers("Date: 1 Jan 2024 12:00:00 -0000"))
    assert headers["date"].isoformat() == "2024-01-01T12:00:00+00:00"


def test_message_ids_references_and_garbage():
    headers = parse_headers(
        _raw_with_headers(
            "Message-ID: < abc@example.com >",
            'In-Reply-To: Your message of "Mon, 1 Jan" <parent@example.com> (ann@example.com)',
            "References: <root@example.com> garbage <mid@\r\n example.com>\r\n\t<root@example.com> "
            "<parent@example.com>",
        )
    )
    assert headers["messageId"] == "<abc@example.com>"
    assert headers["inReplyTo"] == "<parent@example.com>"
    assert headers["references"] == ["<root@example.com>", "<mid@example.com>", "<parent@example.com>"]
    assert parse_msgid_list("a@example.com,b@example.com c@example.com") == [
        "<a@example.com>",
        "<b@example.com>",
        "<c@example.com>",
    ]
    assert parse_msgid_list("no ids here") == [] and parse_msgid_list(None) == []
    assert parse_headers(_raw_with_headers("Subject: x"))["messageId"] is None
    assert parse_headers(_raw_with_headers("Message-ID: bare-id@example.com"))["messageId"] == "<bare-id@example.com>"


def _message(subject: str = "Test") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Ann <ann@example.com>"
    msg["To"] = "bob@example.com"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 14 May 2024 09:15:00 +0200"
    msg["Message-ID"] = "<m1@example.com>"
    return msg


def test_html_only_message_gets_a_text_version():
    msg = _message()
    msg.set_content(
        "<html><head><style>p{color:red}</style></head><body><h1>Sale</h1>"
        "<p>Everything&nbsp;must go.<br>Today only.</p><ul><li>Shoes</li></ul></body></html>",
        subtype="html",
    )
    parsed = parse_message(msg.as_bytes())
    assert "<h1>Sale</h1>" in parsed.html
    assert parsed.text == "Sale\n\nEverything must go.\nToday only.\n\n- Shoes"
    assert "color:red" not in parsed.text
    assert parsed.snippet == "Sale Everything must go. Today only. - Shoes"


def test_alternative_gives_plain_text_and_html():
    msg = _message()
    msg.set_content("Plain version\n\nOn Mon, 13 May 2024, Bob <bob@example.com> wrote:\n> earlier\n")
    msg.add_alternative("<p>HTML <b>version</b></p>", subtype="html")
    parsed = parse_message(msg.as_bytes())
    assert parsed.text.startswith("Plain version")
    assert parsed.html.strip() == "<p>HTML <b>version</b></p>"
    assert parsed.snippet == "Plain version"
    assert parsed.attachments == [] and parsed.has_attachments is False


def test_rfc2231_filenames():
    msg = _message()
    msg.set_content("see attached")
    msg.add_attachment(
        b"%PDF-1.4 x",
        maintype="application",
        subtype="pdf",
        filename=("utf-8", "", "Résumé – Jörg Müller, 2024 (final version).pdf"),
    )
    msg.add_attachment(b"a,b\n", maintype="text", subtype="csv", filename="plain name.csv")
    msg.add_attachment(b"\x00\x01", maintype="application", subtype="octet-stream")
    raw = msg.as_bytes()
    assert b"filename*" in raw  # really RFC 2231 on the wire
    parsed = parse_message(raw)
    assert [a["filename"] for a in parsed.attachments] == [
        "Résumé – Jörg Müller, 2024 (final version).pdf",
        "plain name.csv",
        "attachment-3.bin",
    ]
    assert [a["size"] for a in parsed.attachments] == [10, 4, 2]
    assert parsed.has_attachments is True
    assert parse_headers(raw)["hasAttachments"] is True


def test_rfc2047_filename_and_path_parts_are_removed():
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
        b'--b\r\nContent-Type: application/pdf; name="=?utf-8?q?Rechnung_M=C3=A4rz.pdf?="\r\n'
        b"Content-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n"
        b'--b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename="C:\\\\tmp\\\\..\\\\x.png"\r\n'
        b"\r\nxx\r\n--b--\r\n"
    )
    parsed = parse_message(raw)
    assert [a["filename"] for a in parsed.attachments] == ["Rechnung März.pdf", "x.png"]
    assert parsed.attachments[0]["content"] == b"%PDF"


def test_inline_cid_image():
    msg = _message()
    msg.set_content("text")
    msg.add_alternative('<p>Logo: <img src="cid:logo123@example.com"></p>', subtype="html")
    msg.get_payload()[1].add_related(
        b"\x89PNG\r\n\x1a\nfake",
        maintype="image",
        subtype="png",
        cid="<logo123@example.com>",
        filename="logo.png",
        disposition="inline",
    )
    msg.add_attachment(b"report", maintype="application", subtype="pdf", filename="report.pdf")
    parsed = parse_message(msg.as_bytes())
    logo, report = parsed.attachments
    assert logo["inline"] is True and logo["contentId"] == "logo123@example.com"
    assert logo["filename"] == "logo.png" and logo["contentType"] == "image/png"
    assert report["inline"] is False and report["contentId"] is None
    assert parsed.has_attachments is True
    assert "cid:logo123@example.com" in parsed.html


def test_inline_images_only_do_not_count_as_attachments():
    msg = _message()
    msg.set_content('<img src="cid:pic@x">', subtype="html")
    msg.add_related(b"GIF89a", maintype="image", subtype="gif", cid="<pic@x>")
    parsed = parse_message(msg.as_bytes())
    assert [a["inline"] for a in parsed.attachments] == [True]
    assert parsed.has_attachments is False


def test_nested_message_rfc822_is_an_eml_attachment():
    inner = _message("Quarterly numbers")
    inner.set_content("inner body")
    outer = _message("Fwd: Quarterly numbers")
    outer.set_content("see below")
    outer.add_attachment(inner)
    parsed = parse_message(outer.as_bytes())
    [eml] = parsed.attachments
    assert eml["filename"] == "Quarterly numbers.eml" and eml["contentType"] == "message/rfc822"
    assert b"inner body" in eml["content"] and eml["size"] == len(eml["content"])
    assert parsed.text.strip() == "see below"


def test_five_megabyte_attachment_keeps_every_byte():
    payload = os.urandom(5 * 1024 * 1024)
    msg = _message()
    msg.set_content("big file")
    msg.add_attachment(payload, maintype="application", subtype="zip", filename="big.zip")
    parsed = parse_message(msg.as_bytes())
    [big] = parsed.attachments
    assert big["size"] == 5 * 1024 * 1024 and big["content"] == payload
    assert parsed.text.strip() == "big file"


def test_text_body_in_legacy_charsets():
    for text, charset in (("Привет, мир", "koi8-r"), ("こんにちは世界", "iso-2022-jp"), ("你好，世界", "gb2312")):
        raw = (
            f"Subject: x\r\nContent-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        ).encode() + text.encode(charset)
        assert parse_message(raw).text == text


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00" * 64,
        os.urandom(2048),
        b"Subject: only headers",
        b"\r\n\r\n\r\n",
        b'Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain; charset="\r\n\r\nhi',
        b"From: <<<@@@>>>\r\nTo: ,,,;;;\r\nDate: 99 Foo 99999 99:99:99 +9999\r\nSubject: =?utf-8?b?###?=\r\n\r\n",
    ],
)
def test_garbage_never_raises(raw: bytes):
    headers = parse_headers(raw)
    parsed = parse_message(raw)
    assert isinstance(headers["errors"], list) and isinstance(parsed, ParsedMessage)


def test_parsed_message_survives_pickling():
    msg = _message()
    msg.set_content("x")
    msg.add_attachment(b"1234", maintype="application", subtype="octet-stream", filename="a.bin")
    parsed = parse_message(msg.as_bytes())
    assert pickle.loads(pickle.dumps(parsed)) == parsed


def _numbered(n: int) -> bytes:
    msg = _message(f"Message {n}")
    msg.set_content(f"body {n}")
    return msg.as_bytes()


async def test_pool_parses_in_worker_processes_in_order():
    raws = [_numbered(n) for n in range(40)]
    async with ParsePool(max_workers=2) as pool:
        parsed = await pool.parse_many(raws)
        assert pool.uses_processes
    assert [p.text.strip() for p in parsed] == [f"body {n}" for n in range(40)]
    with pytest.raises(RuntimeError):
        await pool.parse_many(raws)


async def test_pool_falls_back_to_a_thread():
    pool = ParsePool(processes=False)
    try:
        parsed = await pool.parse_many([_numbered(1), _numbered(2)])
        assert [p.text.strip() for p in parsed] == ["body 1", "body 2"]
        assert (await pool.parse(_numbered(3))).text.strip() == "body 3"
        assert await pool.parse_many([]) == []
    finally:
        await pool.aclose()


async def test_a_message_someone_opens_is_parsed_ahead_of_the_workers_queue():
    """A first sync's second pass keeps the workers busy; a message opened meanwhile is decoded
    at once (``parse_now``), not after that queue."""
    big = [_numbered(n) + b"x" * 400_000 for n in range(200)]  # a few seconds of work for one worker
    async with ParsePool(max_workers=1) as pool:
        await pool.warm()
        backlog = asyncio.ensure_future(pool.parse_many(big))
        await asyncio.sleep(0.05)
        (opened,) = await pool.parse_now([_numbered(7)])
        assert opened.text.strip() == "body 7"
        assert not backlog.done()  # answered while the queue was still being worked through
        assert len(await backlog) == 200


def test_a_body_right_after_the_headers_leaves_the_last_header_read_once():
    """No blank line between the headers and the body: the last field (here To) is still one
    recipient, not the same address twice."""
    headers = parse_headers(b"From: a@x.test\r\nTo: Bea <b@y.test>\r\nHello there, this is the body.\r\nMore.\r\n")
    assert headers["to"] == [{"name": "Bea", "address": "b@y.test"}]
    assert headers["from"] == {"name": "", "address": "a@x.test"}
