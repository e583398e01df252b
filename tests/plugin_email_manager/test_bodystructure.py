"""BODYSTRUCTURE as Dovecot sends it, read by our client: what the headers-first sync lists
(attachment names, types, sizes) and where it finds a message's text, before any body is fetched."""

from __future__ import annotations

import base64
from email.message import EmailMessage

from plugin_email_manager.mailparse import parse_message
from plugin_email_manager.mailsync.imap import session as imap
from plugin_email_manager.mailsync.imap.bodystructure import attachments, text_message, text_parts, text_tree
from tests.plugin_email_manager.helpers import message

PDF = b"%PDF-1.4 " + bytes(range(256)) * 40


async def structures(dovecot, user, raws: list[bytes]) -> dict:
    """Each message APPENDed, then fetched headers-first by our client: {uid: FetchedMessage}."""
    uids = [dovecot.append(user[0], raw) for raw in raws]
    s = await imap.connect(dovecot.host, dovecot.port, "none")
    try:
        await s.login(*user)
        await s.select("INBOX")
        fetched = {m.uid: m async for m in s.fetch_messages(uids, headers_only=True)}
        texts = {}
        for uid, m in fetched.items():
            wanted = [p.section for p in text_parts(m.structure)]
            texts[uid] = (await s.fetch_sections([uid], wanted)).get(uid, {}) if wanted else {}
    finally:
        await s.logout()
    return {uid: (fetched[uid], texts[uid]) for uid in uids}


def nested() -> bytes:
    """mixed( alternative(plain, related(html, cid image)), pdf, an attached message with its own file )"""
    inner = message("carol@example.test", "ann@example.test", "Minutes of Monday", "Inner text.")
    inner.add_attachment(b"inner file", maintype="application", subtype="octet-stream", filename="inner.bin")
    m = message("bob@example.test", "ann@example.test", "Quarterly", "Plain body, ünïcode.")
    m.add_alternative('<p>HTML body <img src="cid:logo@x"></p>', subtype="html")
    html = m.get_payload()[1]
    html.add_related(b"\x89PNG" + b"\0" * 600, maintype="image", subtype="png", cid="<logo@x>")
    m.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    m.add_attachment(inner)
    return m.as_bytes()


def rfc2231_and_encoded_words() -> bytes:
    b64 = base64.encodebytes(b"x" * 3000).decode()
    return (
        "From: a@example.test\r\nTo: b@example.test\r\nSubject: names\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        "Caf=E9 cr=E8me\r\n"
        "--B\r\nContent-Type: application/octet-stream\r\n"
        "Content-Disposition: attachment; filename*0*=utf-8''%E2%82%AC%20Rechnung; filename*1=\" 2024.pdf\"\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n"
        '--B\r\nContent-Type: image/jpeg; name="=?utf-8?B?0YTQvtGC0L4uanBn?="\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n"
        "--B\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{b64}\r\n--B--\r\n"
    ).encode("latin-1")


async def test_nested_multiparts_and_an_attached_message_are_listed_from_the_structure(dovecot, mail_user):
    ((m, texts),) = (await structures(dovecot, mail_user, [nested()])).values()
    assert m.structure.type == "multipart/mixed"
    assert b"Subject: Quarterly" in m.raw and b"Plain body" not in m.raw  # the header fields alone
    listed = attachments(m.structure)
    assert [(a["filename"], a["contentType"], a["section"]) for a in listed] == [
        ("attachment-1.png", "image/png", "1.2.2"),
        ("report.pdf", "application/pdf", "2"),
        ("Minutes of Monday.eml", "message/rfc822", "3"),  # one attachment, its own file not walked
    ]
    image, pdf, _ = listed
    assert image["contentId"] == "logo@x" and image["inline"] and not pdf["inline"]
    assert abs(pdf["size"] - len(PDF)) < len(PDF) * 0.02  # decoded size, from base64's
    assert [p.section for p in text_parts(m.structure)] == ["1.1", "1.2.1"]
    # the text parts alone decode to the whole message's text and HTML (as the server keeps it: CRLF)
    whole = parse_message(nested().replace(b"\n", b"\r\n"))
    alone = parse_message(text_message(text_tree(m.structure), texts))
    assert (alone.text, alone.html) == (whole.text, whole.html)
    assert "ünïcode" in alone.text and "cid:logo@x" in alone.html and not alone.attachments


async def test_rfc_2231_names_and_encoded_words_in_names_are_decoded(dovecot, mail_user):
    ((m, texts),) = (await structures(dovecot, mail_user, [rfc2231_and_encoded_words()])).values()
    listed = attachments(m.structure)
    assert [a["filename"] for a in listed] == ["€ Rechnung 2024.pdf", "фото.jpg", "attachment-3.zip"]
    assert [a["encoding"] for a in listed] == ["base64"] * 3
    assert all(abs(a["size"] - 3000) < 80 for a in listed)
    (part,) = text_parts(m.structure)
    assert (part.section, part.charset, part.encoding) == ("1", "iso-8859-1", "quoted-printable")
    assert parse_message(text_message(text_tree(m.structure), texts)).text.strip() == "Café crème"


async def test_raw_8bit_and_quoted_names_come_as_literals_and_are_read(dovecot, mail_user):
    raw = (
        "Subject: raw names\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
        "--B\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
        "--B\r\nContent-Type: application/pdf\r\n"
        'Content-Disposition: attachment; filename="Résumé – été.pdf"\r\n\r\nx\r\n'
        '--B\r\nContent-Type: text/csv; name="say \\"hi\\".csv"\r\nContent-Disposition: attachment\r\n\r\na,b\r\n'
        "--B--\r\n"
    ).encode("utf-8")
    ((m, _),) = (await structures(dovecot, mail_user, [raw])).values()
    assert [a["filename"] for a in attachments(m.structure)] == ["Résumé – été.pdf", 'say "hi".csv']


async def test_a_single_part_message_is_its_section_1_and_has_no_attachment(dovecot, mail_user):
    plain = message("a@example.test", "b@example.test", "one part", "Only text.")
    only_file = EmailMessage()
    only_file["Subject"] = "just a file"
    only_file.set_content(PDF, maintype="application", subtype="pdf", disposition="attachment", filename="a.pdf")
    (m1, t1), (m2, t2) = (await structures(dovecot, mail_user, [plain.as_bytes(), only_file.as_bytes()])).values()
    assert [p.section for p in text_parts(m1.structure)] == ["1"] and not attachments(m1.structure)
    assert parse_message(text_message(text_tree(m1.structure), t1)).text.strip() == "Only text."
    assert text_parts(m2.structure) == []
    assert [(a["filename"], a["section"]) for a in attachments(m2.structure)] == [("a.pdf", "1")]


async def test_a_deep_tree_and_many_parts_parse_quickly(dovecot, mail_user):
    """A hostile structure: 60 nested multiparts, then one of 2,000 parts; both read in one FETCH,
    the first 1,000 parts listed (as mailparse lists them)."""
    deep = b"Subject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    for i in range(1, 60):
        deep += b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i - 1, i)
    deep += b"--b59\r\nContent-Type: text/plain\r\n\r\ndeep text\r\n"
    wide = b"Subject: wide\r\nContent-Type: multipart/mixed; boundary=w\r\n\r\n" + b"".join(
        b'--w\r\nContent-Type: application/octet-stream; name="f%d.bin"\r\n\r\nx\r\n' % i for i in range(2000)
    )
    found = await structures(dovecot, mail_user, [deep, wide + b"--w--\r\n"])
    (md, _), (mw, _) = found.values()
    assert md.structure.type == "multipart/mixed"
    names = [a["filename"] for a in attachments(mw.structure)]
    assert len(names) == 1000 and names[0] == "f0.bin" and names[-1] == "f999.bin"
