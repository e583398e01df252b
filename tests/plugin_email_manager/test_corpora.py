"""Mail written by other projects (enmime, flanker, CPython's email tests) decodes without errors
escaping, and the samples with a known meaning read as a mail client would show them."""

from __future__ import annotations

import email
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from plugin_email_manager.mailparse import parse_headers, parse_message

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
if not CORPORA.is_dir():
    CORPORA = Path("/work/shared/corpora")
ENMIME = CORPORA / "enmime"
FLANKER = CORPORA / "flanker"


def _cpython_data() -> Path | None:
    try:
        import test.test_email  # noqa: PLC0415 - absent where Python ships without its tests
    except ImportError:
        return None
    folder = Path(os.path.dirname(test.test_email.__file__)) / "data"
    return folder if folder.is_dir() else None


CPYTHON = _cpython_data()
ALL_FILES = sorted(ENMIME.glob("*.raw")) + sorted(p for p in FLANKER.iterdir() if p.name != "LICENSE")
if CPYTHON is not None:
    ALL_FILES += sorted(CPYTHON.glob("msg_*.txt"))


def test_the_corpora_are_there():
    assert len(list(ENMIME.glob("*.raw"))) >= 80
    assert len([p for p in FLANKER.iterdir() if p.name != "LICENSE"]) >= 45


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_message_decodes_without_raising(path: Path):
    raw = path.read_bytes()
    headers = parse_headers(raw)
    assert isinstance(headers["subject"], str)
    assert headers["date"] is None or headers["date"].tzinfo is not None
    for address in headers["to"] + headers["cc"] + ([headers["from"]] if headers["from"] else []):
        assert set(address) == {"name", "address"} and address["address"]
    assert all(ref.startswith("<") and ref.endswith(">") for ref in headers["references"])

    parsed = parse_message(raw)
    assert isinstance(parsed.text, str) and isinstance(parsed.errors, list)
    assert len(parsed.snippet) <= 200
    for attachment in parsed.attachments:
        assert attachment["filename"] and "/" not in attachment["filename"]
        assert attachment["size"] == len(attachment["content"])
    assert parsed.has_attachments == any(not a["inline"] for a in parsed.attachments)


def _read(folder: Path, name: str):
    raw = (folder / name).read_bytes()
    return parse_headers(raw), parse_message(raw)


def test_utf8_subject_and_recipient_names():
    headers, parsed = _read(ENMIME, "mail__qp-utf8-header.raw")
    assert headers["subject"] == "MIME UTF8 Test ¢ More Text"
    assert headers["from"] == {"name": "James Hillyerd", "address": "jamehi03@jamehi03lx.noa.com"}
    assert headers["to"] == [{"name": "Mirosław Marczak", "address": "marczak@inbucket.com"}]
    assert headers["messageId"] == "<5081A889.3020108@jamehi03lx.noa.com>"
    assert headers["date"].utcoffset() == timedelta(hours=-7)
    assert parsed.text.startswith("Lorem ipsum dolor sit amet")
    assert parsed.html and "<html" in parsed.html


def test_encoded_name_with_a_comma_stays_one_address():
    headers, _ = _read(FLANKER, "encoded-header.eml")
    assert headers["from"] == {"name": "Foo, Bar", "address": "foo.bar@example.com"}


def test_two_mailboxes_in_a_from_header_without_comma():
    headers, parsed = _read(ENMIME, "mail__malformed-multiple-address-header-values.raw")
    assert headers["from"] == {"name": "Bob Dunite", "address": "bob@extern"}
    assert [a["filename"] for a in parsed.attachments] == ["test.pdf", "test.txt"]


def test_attachment_name_and_size():
    headers, parsed = _read(FLANKER, "mailgun-pic.eml")
    assert headers["hasAttachments"] is True
    [picture] = parsed.attachments
    assert (picture["filename"], picture["contentType"], picture["size"]) == ("mailgun.png", "image/png", 60168)
    assert picture["content"].startswith(b"\x89PNG\r\n")
    assert parsed.text.startswith("Мейлган! Хахах!")
    assert parsed.snippet == "Мейлган! Хахах!"  # the signature below "-- " is left out


def test_pdf_attachment_bytes_are_a_pdf():
    _, parsed = _read(FLANKER, "attached-pdf.eml")
    [pdf] = parsed.attachments
    assert pdf["filename"] == "test.pdf" and pdf["contentType"] == "application/pdf"
    assert pdf["content"].startswith(b"%PDF") and pdf["size"] == 6940
    assert parsed.has_attachments and parsed.text.startswith("Test - body content")


def test_bad_base64_attachment_still_yields_the_attachment():
    _, parsed = _read(ENMIME, "low-quality__malformed-base64-attach.raw")
    assert parsed.text == "A text section"
    [doc] = parsed.attachments
    assert doc["filename"] == "some.doc" and doc["contentType"] == "application/msword"
    assert doc["content"] == b"<html>\n"  # the stray '*' is skipped, the rest decodes


def test_raw_8bit_utf8_filename():
    _, parsed = _read(ENMIME, "mail__mime-bad-8bit-filename.raw")
    assert [a["filename"] for a in parsed.attachments] == ["管理.doc"]


def test_inline_cid_image_is_not_counted_as_attachment():
    headers, parsed = _read(ENMIME, "mail__html-mime-inline.raw")
    [image] = parsed.attachments
    assert image["inline"] is True and image["filename"] == "favicon.png"
    assert image["contentId"] == "8B8481A2-25CA-4886-9B5A-8EB9115DD064@skynet"
    assert f"cid:{image['contentId']}" in parsed.html
    assert parsed.has_attachments is False and parsed.text == "Test of text section"


def test_utf8_body_labelled_us_ascii_reads_as_utf8():
    _, parsed = _read(ENMIME, "low-quality__incorrect-charset.raw")
    assert "∮ E⋅da = Q" in parsed.text and "ℝ" in parsed.text


def test_unlabelled_big5_and_latin1_bodies_are_recognised():
    _, big5 = _read(ENMIME, "parts__chardet-success-big-5.raw")
    assert big5.text.startswith("顏是家訓")
    _, latin1 = _read(ENMIME, "parts__chardet-success-iso-8859-1.raw")
    assert latin1.text.startswith("DIE Drachenköpfe unserer Boote") and "dreißig" in latin1.text


def test_multipart_without_boundary_still_shows_its_text():
    headers, parsed = _read(ENMIME, "mail__multipart-wo-boundary.raw")
    assert headers["subject"] == "Delivery Status Notification (Failure)"
    assert "multipart message without boundary" in parsed.text
    assert any("NoBoundaryInMultipartDefect" in e for e in parsed.errors)


def test_text_mislabelled_as_base64_is_kept_as_sent():
    _, parsed = _read(ENMIME, "mail__mime-bad-content-transfer-encoding.raw")
    assert parsed.text.startswith("ploozdect  nispplul")


def test_cyrillic_subject_and_body():
    headers, parsed = _read(FLANKER, "bilingual-simple.eml")
    assert headers["subject"] == "Simple text. How are you? Как ты поживаешь?"
    assert "А эта линия по-русски." in parsed.text


def test_forwarded_message_is_an_eml_attachment_that_opens_again():
    _, parsed = _read(FLANKER, "enclosed.eml")
    [enclosed] = parsed.attachments
    assert enclosed["filename"] == "thanks.eml" and enclosed["contentType"] == "message/rfc822"
    inner = email.message_from_bytes(enclosed["content"])
    assert inner.get_content_type() == "multipart/alternative"
    assert parsed.text == "Hello"


def test_the_torture_test_lists_its_enclosed_messages():
    headers, parsed = _read(FLANKER, "torture.eml")
    assert headers["from"] == {"name": "Mark Crispin", "address": "mrc@CAC.Washington.EDU"}
    names = [a["filename"] for a in parsed.attachments]
    assert "Re  a MIME-Version misfeature.eml" in names and "attachment-3.au" in names
    assert parsed.snippet.startswith("This is a demonstration of multi-part mail")


def test_eight_bit_header_in_from_and_a_reply_snippet_without_the_quote():
    headers, parsed = _read(FLANKER, "from-encoding.eml")
    assert headers["from"] == {"name": "Ingo Lütkebohle", "address": "ingo@blank.pages.de"}
    assert headers["references"] == ["<Pine.BSF.3.95q.970712135859.28530B-100000@valis.worldgate.com>"]
    assert headers["date"] == datetime.fromisoformat("1997-07-12T22:11:13+02:00")
    assert parsed.snippet.startswith("Isn't that the case for almost every other server")


@pytest.mark.skipif(CPYTHON is None, reason="this Python ships without its test suite")
def test_cpython_gif_attachment():
    headers, parsed = _read(CPYTHON, "msg_07.txt")
    assert headers["subject"] == "Here is your dingus fish"
    [gif] = parsed.attachments
    assert gif["filename"] == "dingusfish.gif" and gif["contentType"] == "image/gif"
    assert gif["content"].startswith(b"GIF8") and gif["size"] == 3512
    assert parsed.text.startswith("Hi there,")
