"""What a recipient's mail client sees of a message we build: parse the bytes back and compare."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

import pytest

from host.errors import BadRequest
from plugin_email_manager.errors import AttachmentTooLarge, InvalidAddress
from plugin_email_manager.sendmail.compose import (
    attachments_size,
    build_message,
    check_size,
    envelope_recipients,
    html_to_text,
)
from plugin_email_manager.sendmail.recipients import format_address, parse_recipients

ANN = {"name": "Ann Müller", "address": "ann@example.com"}
PDF = bytes(range(256)) * 40  # every byte value, so any transfer-encoding slip shows


def parse(msg):
    return BytesParser(policy=policy.default).parsebytes(msg.as_bytes())


def content(part) -> str:
    # on the wire every line ends in CRLF; a reader shows lines, whichever ending
    return part.get_content().replace("\r\n", "\n")


def names_and_addresses(header):
    return [(a.display_name, a.addr_spec) for a in header.addresses]


def test_full_message_parses_back_to_what_was_written():
    msg = build_message(
        from_addr=ANN,
        to=["Bob <bob@example.org>", '"Doe, Carol" <carol@example.net>'],
        cc=[{"name": "Zoë", "address": "zoe@example.org"}],
        bcc=["hidden@example.org"],
        subject="Grüße und Angebot ✓",
        text="Hallo Bob,\nanbei das Angebot.\n\n.\nÄ",
        html="<p>Hallo Bob,<br>anbei das <b>Angebot</b>.</p>",
        attachments=[{"filename": "Angebot März.pdf", "contentType": "application/pdf", "content": PDF}],
        in_reply_to="<orig@example.org>",
        references=["<root@example.org>", "<orig@example.org>"],
    )
    raw = msg.as_bytes()
    got = BytesParser(policy=policy.default).parsebytes(raw)

    assert names_and_addresses(got["from"]) == [("Ann Müller", "ann@example.com")]
    assert names_and_addresses(got["to"]) == [("Bob", "bob@example.org"), ("Doe, Carol", "carol@example.net")]
    assert names_and_addresses(got["cc"]) == [("Zoë", "zoe@example.org")]
    assert got["subject"] == "Grüße und Angebot ✓"
    assert got["mime-version"] == "1.0"
    assert got["in-reply-to"] == "<orig@example.org>"
    assert got["references"].split() == ["<root@example.org>", "<orig@example.org>"]
    assert got["message-id"].startswith("<") and got["message-id"].endswith("@example.com>")
    assert parsedate_to_datetime(got["date"]).tzinfo is not None
    assert content(got.get_body(("plain",))) == "Hallo Bob,\nanbei das Angebot.\n\n.\nÄ\n"
    assert "<b>Angebot</b>" in got.get_body(("html",)).get_content()
    [attachment] = list(got.iter_attachments())
    assert attachment.get_filename() == "Angebot März.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF
    # 7-bit clean: no 8BITMIME needed anywhere on the way
    assert raw.isascii()


def test_bcc_is_in_the_envelope_only():
    msg = build_message(
        from_addr=ANN,
        to=["bob@example.org"],
        cc=["Carol <CAROL@example.net>"],
        bcc=["hidden@example.org", "carol@example.net"],
        subject="s",
        text="t",
    )
    raw = msg.as_bytes()
    assert b"hidden@" not in raw and b"bcc" not in raw.lower()
    # each address once, whatever its case
    assert envelope_recipients(msg, ["hidden@example.org", "carol@example.net"]) == [
        "bob@example.org",
        "CAROL@example.net",
        "hidden@example.org",
    ]


def test_html_only_gets_a_readable_text_alternative():
    msg = build_message(
        from_addr=ANN,
        to=["bob@example.org"],
        subject="s",
        html="<h1>Offer</h1><p>Fish &amp; chips for 5&nbsp;&euro;</p>"
        '<p>See <a href="https://example.org/offer">the offer</a>.</p>'
        "<ul><li>one</li><li>two</li></ul><script>alert(1)</script>",
    )
    got = parse(msg)
    assert got.get_content_type() == "multipart/alternative"
    text = content(got.get_body(("plain",)))
    assert text == "Offer\n\nFish & chips for 5 €\n\nSee the offer <https://example.org/offer>.\n\n- one\n- two\n"


def test_text_only_is_a_single_text_part():
    got = parse(build_message(from_addr=ANN, to=["bob@example.org"], subject="s", text="just text"))
    assert got.get_content_type() == "text/plain"
    assert not got.is_multipart()
    assert content(got) == "just text\n"


def test_inline_image_travels_with_the_html():
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    got = parse(
        build_message(
            from_addr=ANN,
            to=["bob@example.org"],
            subject="s",
            html='<p>Logo: <img src="cid:logo@x"></p>',
            attachments=[
                {"filename": "logo.png", "contentType": "image/png", "content": png, "contentId": "logo@x"},
                {"filename": "a.txt", "contentType": "text/plain", "content": b"plain file"},
                # inline in the original, but this HTML does not show it: must stay visible
                {
                    "filename": "old.png",
                    "contentType": "image/png",
                    "content": png,
                    "contentId": "old@x",
                    "inline": True,
                },
            ],
        )
    )
    assert got.get_content_type() == "multipart/mixed"
    related = got.get_body(("related",))
    assert related.get_content_type() == "multipart/related"
    image = [p for p in related.iter_parts() if p.get_content_type() == "image/png"][0]
    assert image["content-id"] == "<logo@x>" and image.get_content() == png
    assert [a.get_filename() for a in got.iter_attachments()] == ["a.txt", "old.png"]


def test_extra_headers_and_a_forwarded_message_file():
    eml = b"From: ann@example.com\r\nSubject: Old\r\n\r\nBody\r\n"
    got = parse(
        build_message(
            from_addr=ANN,
            to=["bob@example.org"],
            subject="s",
            text="t",
            extra_headers={"X-Mailer": "Email Center"},
            attachments=[{"filename": "old.eml", "contentType": "message/rfc822", "content": eml}],
        )
    )
    assert got["x-mailer"] == "Email Center"
    [attached] = list(got.iter_attachments())
    assert attached.get_content_type() == "message/rfc822" and attached.get_filename() == "old.eml"
    assert attached.get_content()["subject"] == "Old"
    for bad in ({"Bcc": "victim@example.org"}, {"X-Ok": "a\r\nBcc: victim@example.org"}, {"Bad Name": "x"}):
        with pytest.raises(BadRequest):
            build_message(from_addr=ANN, to=["bob@example.org"], subject="s", text="t", extra_headers=bad)


@pytest.mark.parametrize(
    "subject", ["Hello\r\nBcc: victim@example.org", "Hello\nBcc: victim@example.org", "Hello\rBcc: victim@example.org"]
)
def test_line_breaks_in_the_subject_cannot_add_a_header(subject):
    msg = build_message(from_addr=ANN, to=["bob@example.org"], subject=subject, text="t")
    got = parse(msg)
    assert "bcc" not in {k.lower() for k in got.keys()}
    assert got["subject"] == "Hello Bcc: victim@example.org"
    assert envelope_recipients(msg) == ["bob@example.org"]


@pytest.mark.parametrize(
    "field,value",
    [
        ("from_addr", {"name": "Ann\r\nBcc: victim@example.org", "address": "ann@example.com"}),
        ("to", [{"name": "Bob\nX-Evil: 1", "address": "bob@example.org"}]),
        ("cc", [{"name": "", "address": "bob@example.org\r\nBcc: victim@example.org"}]),
    ],
)
def test_line_breaks_in_names_or_addresses_are_refused(field, value):
    kwargs = {"from_addr": ANN, "to": ["bob@example.org"], "subject": "s", "text": "t", field: value}
    with pytest.raises(BadRequest) as err:
        build_message(**kwargs)
    assert err.value.code == "INVALID_HEADER" and err.value.status == 400


def test_typed_address_with_a_line_break_is_refused():
    with pytest.raises(InvalidAddress):
        build_message(from_addr=ANN, to=['"Bob\r\nBcc: victim@example.org" <bob@example.org>'], subject="s", text="t")


def test_message_id_is_on_the_senders_domain_and_idn_goes_out_as_a_labels():
    msg = build_message(
        from_addr={"name": "", "address": "info@bücher.example"}, to=["kunde@straße.example"], subject="s", text="t"
    )
    got = parse(msg)
    assert got["message-id"].endswith("@xn--bcher-kva.example>")
    assert got["from"].addresses[0].addr_spec == "info@xn--bcher-kva.example"
    assert envelope_recipients(msg) == ["kunde@xn--strae-oqa.example"]


def test_size_limit_counts_decoded_bytes():
    mib = 1024 * 1024
    files = [
        {"filename": "a.bin", "contentType": "application/octet-stream", "content": bytes(mib)},
        {"filename": "b.bin", "contentType": "application/octet-stream", "content": bytes(mib + 1)},
    ]
    assert attachments_size(files) == 2 * mib + 1
    check_size(files[:1], 1)
    with pytest.raises(AttachmentTooLarge) as err:
        check_size(files, 2)
    assert err.value.status == 413 and err.value.code == "ATTACHMENT_TOO_LARGE"
    assert "2 MiB" in err.value.message


def test_recipients_as_people_type_them():
    assert parse_recipients(
        'Ann <ann@example.com>, bob@example.org; "Doe, Carol" <carol@x>\nDave <dave@example.net>'
    ) == [
        {"name": "Ann", "address": "ann@example.com"},
        {"name": "", "address": "bob@example.org"},
        {"name": "Doe, Carol", "address": "carol@x"},
        {"name": "Dave", "address": "dave@example.net"},
    ]
    assert parse_recipients(["ann@example.com", "Jürgen <j@bücher.example>", ""]) == [
        {"name": "", "address": "ann@example.com"},
        {"name": "Jürgen", "address": "j@bücher.example"},
    ]
    assert parse_recipients([{"name": "Ann", "address": "ann@example.com"}]) == [
        {"name": "Ann", "address": "ann@example.com"}
    ]
    assert parse_recipients("") == [] and parse_recipients(None) == []


@pytest.mark.parametrize(
    "bad",
    [
        "garbage",
        "ann@",
        "@example.com",
        "a b@example.com",
        "ann@exa mple.com",
        "ann@example..com",
        "ann.@example.com",
        "ann@-example.com",
        "Ann <ann@example.com",
        "Ann Doe ann@example.com",
        "müller@example.com",
    ],
)
def test_bad_addresses_are_named(bad):
    with pytest.raises(InvalidAddress) as err:
        parse_recipients(["ok@example.com", bad])
    assert err.value.code == "INVALID_ADDRESS" and err.value.status == 400
    assert err.value.extra["address"] == bad


def test_format_address_round_trips():
    for addr in (
        {"name": "Doe, Ann", "address": "ann@x.example"},
        {"name": "", "address": "a@b.example"},
        {"name": "Jürgen", "address": "j@bücher.example"},
        {"name": 'Say "hi"', "address": "h@x.example"},
    ):
        assert parse_recipients(format_address(addr)) == [addr]
    assert format_address({"name": "Doe, Ann", "address": "ann@x"}) == '"Doe, Ann" <ann@x>'


def test_html_to_text_quotes_blockquotes_and_keeps_pre():
    text = html_to_text(
        "<p>Top</p><blockquote><p>quoted</p><blockquote>deeper</blockquote></blockquote>"
        "<pre>  a\n    b</pre><p>x&lt;y &#x2713;</p>"
    )
    assert text == "Top\n\n> quoted\n>\n> > deeper\n\n  a\n    b\n\nx<y ✓\n"
