"""The fast MIME path builds exactly the tree the stdlib feed parser builds, or steps aside.

Every corpus message (enmime, flanker, CPython's email tests) goes through both; wherever the
fast path answers, the two trees must match header for header and payload for payload, and
the feed parser must have found no defect there (the fast path would hide it).
"""

from __future__ import annotations

from email.message import Message
from email.parser import BytesParser

import pytest

from plugin_email_manager.mailparse import parse_message
from plugin_email_manager.mailparse.fastmime import split_message
from plugin_email_manager.mailparse.parts import RAW_COMPAT32

from .test_corpora import ALL_FILES

FEED = BytesParser(policy=RAW_COMPAT32)


def _assert_same(fast: Message, slow: Message, where: str = "root") -> None:
    assert fast._headers == slow._headers, where
    assert fast.get_content_type() == slow.get_content_type(), where
    assert fast.get_default_type() == slow.get_default_type(), where
    assert not slow.defects, f"{where}: the feed parser found {slow.defects}"
    assert fast.is_multipart() == slow.is_multipart(), where
    if fast.is_multipart():
        assert len(fast.get_payload()) == len(slow.get_payload()), where
        for i, (a, b) in enumerate(zip(fast.get_payload(), slow.get_payload())):
            _assert_same(a, b, f"{where}/{i}")
    else:
        assert fast._payload == slow._payload, where


def test_every_corpus_message_splits_as_the_feed_parser_does_or_is_left_to_it():
    fast_count = 0
    for path in ALL_FILES:
        raw = path.read_bytes()
        fast = split_message(raw, RAW_COMPAT32)
        if fast is None:
            continue
        fast_count += 1
        _assert_same(fast, FEED.parsebytes(raw), path.name)
    # most of the corpus is ordinary mail: the fast path must really be taken
    assert fast_count >= len(ALL_FILES) // 2, (fast_count, len(ALL_FILES))


def _mail(*lines: str, eol: str = "\r\n") -> bytes:
    return eol.join(lines).encode("utf-8", "surrogateescape")


NESTED = (
    "From: a@example.com",
    "Subject: nested",
    "Content-Type: multipart/mixed;",
    '\tboundary="outer"',
    "",
    "preamble text",
    "--outer",
    'Content-Type: multipart/alternative; boundary="outer-inner"',
    "",
    "--outer-inner",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "plain body",
    "",
    "--outer-inner",
    "Content-Type: text/html",
    "",
    "<p>html body</p>",
    "--outer-inner--",
    "inner epilogue",
    "--outer",
    'Content-Type: application/pdf; name="a.pdf"',
    "Content-Transfer-Encoding: base64",
    "",
    "JVBERi0xLjQK",
    "--outer",
    "Content-Type: text/plain",
    "--outer",
    "",
    "no headers here",
    "--outer--  ",
    "epilogue",
)


@pytest.mark.parametrize("eol", ["\r\n", "\n"])
def test_nested_parts_empty_parts_and_a_boundary_that_prefixes_another(eol):
    raw = _mail(*NESTED, eol=eol)
    fast = split_message(raw, RAW_COMPAT32)
    assert fast is not None
    _assert_same(fast, FEED.parsebytes(raw))
    parsed = parse_message(raw)
    assert parsed.text.startswith("plain body") and "no headers here" in parsed.text
    assert parsed.html.startswith("<p>html body</p>")
    assert [a["filename"] for a in parsed.attachments] == ["a.pdf"]
    assert parsed.attachments[0]["content"] == b"%PDF-1.4\n"


@pytest.mark.parametrize(
    "raw",
    [
        _mail(*NESTED).replace(b"\r\nno headers", b"\nno headers"),  # mixed line breaks
        _mail(*NESTED).replace(b"--outer--  ", b"--outer-missing"),  # never closed
        _mail(*NESTED).replace(b"--outer-inner--", b"--outer-inner-x"),  # inner never closed
        _mail("Subject: x", "Content-Type: multipart/mixed", "", "--b", "", "x", "--b--"),  # no boundary
        _mail("Subject: x", "Content-Type: multipart/digest; boundary=b", "", "--b", "", "x", "--b--"),
        _mail("Subject: x", "Content-Type: message/rfc822", "", "Subject: inner", "", "body"),
        _mail("From someone Mon Jan 1 00:00:00 2024", "Subject: x", "", "body"),  # mbox envelope
        _mail("Subject: x", "not a header line", "", "body"),
        _mail(" continued", "Subject: x", "", "body"),
        _mail(
            "Subject: x",
            "Content-Type: multipart/mixed; boundary=b",
            "Content-Transfer-Encoding: base64",
            "",
            "--b",
            "",
            "x",
            "--b--",
        ),
    ],
)
def test_anything_not_plainly_well_formed_is_left_to_the_feed_parser(raw):
    assert split_message(raw, RAW_COMPAT32) is None
    assert isinstance(parse_message(raw).text, str)  # and the feed parser still reads it


def test_folded_and_8bit_headers_keep_the_values_the_feed_parser_gives():
    raw = _mail(
        "Subject: a long",
        "\tfolded subject",
        "X-Empty:",
        "  continued only",
        "From: J\xc3\xb6rg <j@example.com>",
        "Content-Type: text/plain;",
        ' charset="utf-8"',
        "",
        "body line",
        "",
    )
    fast = split_message(raw, RAW_COMPAT32)
    assert fast is not None
    _assert_same(fast, FEED.parsebytes(raw))
    assert fast["subject"] == "a long\r\n\tfolded subject"
