"""Mail that breaks parsers, one class of breakage per test, each on a message built here: the
field a reader sees keeps its text in both stages (``parse_headers`` for the list,
``parse_message`` for the opened message)."""

from __future__ import annotations

import base64
import quopri

import pytest

from plugin_email_manager.mailparse import parse_headers, parse_message
from plugin_email_manager.mailparse.body import MAX_BODY_CHARS


def _mail(*lines: str | bytes, body: bytes = b"", eol: bytes = b"\r\n") -> bytes:
    head = eol.join(line if isinstance(line, bytes) else line.encode("ascii") for line in lines)
    return head + eol + eol + body


# --- 1. obsolete syntax: white space before the colon (RFC 5322 4.5) ---------------------------


def test_a_field_with_spaces_before_its_colon_still_counts():
    raw = _mail(
        "From : Ann Example <ann@example.com>",
        "Subject   : quarterly report",
        "To\t: bob@example.com",
        "Content-Type : text/plain; charset=koi8-r",
        "Content-Transfer-Encoding  : base64",
        body=base64.encodebytes("Привет, мир".encode("koi8-r")),
    )
    headers = parse_headers(raw)
    assert headers["subject"] == "quarterly report"
    assert headers["from"] == {"name": "Ann Example", "address": "ann@example.com"}
    assert headers["to"] == [{"name": "", "address": "bob@example.com"}]
    assert parse_message(raw).text == "Привет, мир"


def test_a_part_header_with_spaces_before_its_colon_still_counts():
    raw = _mail(
        "From: ann@example.com",
        "Subject: parts",
        'Content-Type: multipart/mixed; boundary="b1"',
        body=b"\r\n".join(
            [
                b"--b1",
                b"Content-Type   : text/plain; charset=utf-8",
                b"Content-Transfer-Encoding : base64",
                b"",
                base64.b64encode("Grüße".encode()),
                b"--b1",
                b"Content-Type : application/pdf",
                b'Content-Disposition : attachment; filename="r.pdf"',
                b"",
                b"%PDF-1.4",
                b"--b1--",
                b"",
            ]
        ),
    )
    parsed = parse_message(raw)
    assert parsed.text == "Grüße"
    assert [(a["filename"], a["contentType"]) for a in parsed.attachments] == [("r.pdf", "application/pdf")]


# --- 2. a line without a colon inside the header block -----------------------------------------


def test_fields_after_a_line_without_a_colon_still_count():
    # an address list wrapped without indentation goes on; a stray line is skipped, not added
    raw = _mail(
        "From: Ann Example <ann@example.com>",
        "To: bob@example.com,",
        "carl@example.com",
        "X-Mailer-Junk something broken",
        "Subject: still here",
        "Content-Type: text/html; charset=utf-8",
        body="<p>Grüße aus <b>Köln</b></p>".encode(),
    )
    headers = parse_headers(raw)
    assert headers["subject"] == "still here"
    assert [a["address"] for a in headers["to"]] == ["bob@example.com", "carl@example.com"]
    parsed = parse_message(raw)
    assert parsed.html == "<p>Grüße aus <b>Köln</b></p>"
    assert parsed.text == "Grüße aus Köln"


def test_a_part_header_wrapped_without_indentation_keeps_its_parameter():
    raw = _mail(
        "From: ann@example.com",
        "Subject: wrapped",
        'Content-Type: multipart/mixed; boundary="b1"',
        body=b"\r\n".join(
            [
                b"--b1",
                b"Content-Type: text/plain",
                b"",
                b"see attached",
                b"--b1",
                b"Content-Type: application/pdf;",
                b'name="report.pdf"',
                b"Content-Transfer-Encoding: base64",
                b"",
                base64.b64encode(b"%PDF-1.4 data"),
                b"--b1--",
                b"",
            ]
        ),
    )
    parsed = parse_message(raw)
    assert parsed.text == "see attached"
    [pdf] = parsed.attachments
    assert (pdf["filename"], pdf["content"]) == ("report.pdf", b"%PDF-1.4 data")


def test_a_body_without_a_blank_line_before_it_is_still_the_body():
    # no field follows the first line without a colon: the header block ends there, as before
    raw = b"From: ann@example.com\r\nSubject: no separator\r\nHello Bob,\r\nsee you.\r\n"
    assert parse_headers(raw)["subject"] == "no separator"
    assert parse_message(raw).text.startswith("Hello Bob,")


# --- 3. raw 8-bit bytes in a legacy charset ------------------------------------------------------


@pytest.mark.parametrize(
    "subject, charset", [("Formação e início", "iso-8859-1"), ("Formação – início", "windows-1252")]
)
def test_a_raw_latin1_subject_keeps_its_accents(subject: str, charset: str):
    raw = _mail(
        b"From: a@example.com",
        b"Subject: " + subject.encode(charset),
        f"Content-Type: text/plain; charset={charset}",
        body="Olá".encode(charset),
    )
    assert parse_headers(raw)["subject"] == subject


@pytest.mark.parametrize(
    "name, charset",
    [
        ("Иван Петров", "koi8-r"),
        ("Иван Петров", "cp1251"),
        ("山田太郎", "shift_jis"),
        ("山田 太郎", "euc-jp"),
        ("Paweł Łukasiewicz", "iso-8859-2"),
        ("Γιώργος Παπαδόπουλος", "iso-8859-7"),
    ],
)
def test_a_raw_legacy_from_name_is_decoded_with_the_body_charset_as_hint(name: str, charset: str):
    raw = _mail(
        b"From: " + name.encode(charset) + b" <sender@example.com>",
        b"Subject: hello",
        f"Content-Type: text/plain; charset={charset}",
        body="ok".encode(charset),
    )
    assert parse_headers(raw)["from"] == {"name": name, "address": "sender@example.com"}


@pytest.mark.parametrize(
    "subject, charset",
    [
        ("Отчёт о продажах за квартал", "koi8-r"),
        ("会議の議事録について", "shift_jis"),
        ("Formação profissional", "cp1252"),
    ],
)
def test_a_raw_legacy_subject_without_any_declared_charset_is_guessed(subject: str, charset: str):
    raw = _mail(b"From: a@example.com", b"Subject: " + subject.encode(charset), body=b"plain")
    assert parse_headers(raw)["subject"] == subject


def test_raw_utf8_header_bytes_read_as_utf8_whatever_the_body_says():
    raw = _mail(
        b"From: a@example.com", "Subject: Formação".encode(), b"Content-Type: text/plain; charset=koi8-r", body=b"x"
    )
    assert parse_headers(raw)["subject"] == "Formação"


def test_raw_8bit_attachment_name_and_enclosed_subject_are_decoded():
    inner = _mail(b"From: a@example.com", "Subject: Relatório anual".encode("cp1252"), body=b"inner")
    raw = _mail(
        "From: ann@example.com",
        "Subject: fwd",
        'Content-Type: multipart/mixed; boundary="b1"',
        body=b"\r\n".join(
            [
                b"--b1",
                b"Content-Type: text/plain; charset=windows-1252",
                b"",
                "Segue o relatório".encode("cp1252"),
                b"--b1",
                b'Content-Type: application/pdf; name="' + "Formação.pdf".encode("cp1252") + b'"',
                b"",
                b"%PDF",
                b"--b1",
                b"Content-Type: message/rfc822",
                b"",
                inner,
                b"--b1--",
                b"",
            ]
        ),
    )
    parsed = parse_message(raw)
    assert parsed.text == "Segue o relatório"
    assert [a["filename"] for a in parsed.attachments] == ["Formação.pdf", "Relatório anual.eml"]


# --- 4. RFC 2047 white space ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),
        ("=?utf-8?q?a?=   \t =?iso-8859-1?q?=E9?=", "aé"),
        ("=?utf-8?q?a?= b", "a b"),
        ("a =?utf-8?q?b?=", "a b"),
        ("=?utf-8?q?a?= b =?utf-8?q?c?=", "a b c"),
        ("=?utf-8?q?Gr=C3=BC?=\r\n =?utf-8?q?=C3=9Fe?=", "Grüße"),  # folded between two words
        ("=?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n aus\r\n =?utf-8?b?S8O2bG4=?=", "Grüße aus Köln"),  # folded around text
        ("=?UTF-8?Q?caf=C3=A9_?=\r\n\t=?UTF-8?Q?cr=C3=A8me?=", "café crème"),  # the space is inside the word
    ],
)
def test_white_space_between_encoded_words_is_dropped_and_beside_text_kept(value: str, expected: str):
    raw = _mail(
        b"From: =?utf-8?q?J=C3=B6rg?=\r\n =?utf-8?q?_M=C3=BCller?= <j@example.com>",
        b"Subject: " + value.encode(),
        body=b"x",
    )
    headers = parse_headers(raw)
    assert headers["subject"] == expected
    assert headers["from"] == {"name": "Jörg Müller", "address": "j@example.com"}


def test_white_space_rules_hold_in_an_encoded_attachment_name():
    raw = _mail(
        "From: ann@example.com",
        'Content-Type: multipart/mixed; boundary="b1"',
        body=b"\r\n".join(
            [
                b"--b1",
                b"Content-Type: text/plain",
                b"",
                b"hi",
                b"--b1",
                b"Content-Type: application/pdf",
                b'Content-Disposition: attachment; filename="=?utf-8?q?Gr=C3=BC?=\r\n =?utf-8?q?=C3=9Fe?= final.pdf"',
                b"",
                b"%PDF",
                b"--b1--",
                b"",
            ]
        ),
    )
    assert [a["filename"] for a in parse_message(raw).attachments] == ["Grüße final.pdf"]


# --- 5. a name and an address without angle brackets -------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Ann Example ann@example.com", {"name": "Ann Example", "address": "ann@example.com"}),
        ("Ann ann@example.com", {"name": "Ann", "address": "ann@example.com"}),
        ('"Ann Example" ann@example.com', {"name": "Ann Example", "address": "ann@example.com"}),
        ("=?utf-8?q?J=C3=B6rg?= joerg@example.com", {"name": "Jörg", "address": "joerg@example.com"}),
        ("Cron Daemon root@localhost", {"name": "Cron Daemon", "address": "root@localhost"}),
        ("root@localhost", {"name": "", "address": "root@localhost"}),
        ("Cron Daemon <root@localhost>", {"name": "Cron Daemon", "address": "root@localhost"}),
    ],
)
def test_an_address_without_angle_brackets_is_salvaged(value: str, expected: dict):
    raw = _mail(b"From: " + value.encode(), b"To: Bob bob@example.com, carl@mailhost", body=b"x")
    headers = parse_headers(raw)
    assert headers["from"] == expected
    assert headers["to"] == [{"name": "Bob", "address": "bob@example.com"}, {"name": "", "address": "carl@mailhost"}]


# --- 6. an attached message in base64 or quoted-printable ---------------------------------------


def _enclosed(cte: str) -> tuple[bytes, bytes]:
    """An outer message (text, the attached message in ``cte``, a PDF) and the inner message's bytes."""
    inner = _mail(
        "From: carl@example.com",
        "Subject: the original",
        'Content-Type: multipart/mixed; boundary="in"',
        body=b"\r\n".join(
            [
                b"--in",
                b"Content-Type: text/plain",
                b"",
                b"inner text",
                b"--in",
                b'Content-Type: image/png; name="inner.png"',
                b"Content-Transfer-Encoding: base64",
                b"",
                base64.b64encode(b"\x89PNG inner"),
                b"--in--",
                b"",
            ]
        ),
    )
    encoded = base64.encodebytes(inner) if cte == "base64" else quopri.encodestring(inner)
    return _mail(
        "From: ann@example.com",
        "Subject: Fwd: the original",
        'Content-Type: multipart/mixed; boundary="out"',
        body=b"\r\n".join(
            [
                b"--out",
                b"Content-Type: text/plain",
                b"",
                b"outer text",
                b"--out",
                b"Content-Type: message/rfc822",
                f"Content-Transfer-Encoding: {cte}".encode(),
                b"",
                encoded,
                b"--out",
                b'Content-Type: application/pdf; name="outer.pdf"',
                b"",
                b"%PDF",
                b"--out--",
                b"",
            ]
        ),
    ), inner


@pytest.mark.parametrize("cte", ["base64", "quoted-printable"])
def test_an_encoded_attached_message_is_one_attachment_not_body_text(cte: str):
    raw, inner = _enclosed(cte)
    parsed = parse_message(raw)
    assert parsed.text == "outer text"
    assert [(a["filename"], a["contentType"]) for a in parsed.attachments] == [
        ("the original.eml", "message/rfc822"),
        ("outer.pdf", "application/pdf"),
    ]
    eml = parsed.attachments[0]["content"]
    assert eml.replace(b"\r\n", b"\n") == inner.replace(b"\r\n", b"\n")
    assert parse_message(eml).text == "inner text"
    assert [a["filename"] for a in parse_message(eml).attachments] == ["inner.png"]


def test_the_attachments_of_a_plain_attached_message_belong_to_it():
    raw, inner = _enclosed("base64")
    raw = raw.replace(b"Content-Transfer-Encoding: base64\r\n", b"").replace(base64.encodebytes(inner), inner)
    parsed = parse_message(raw)
    assert parsed.text == "outer text"
    assert [a["filename"] for a in parsed.attachments] == ["the original.eml", "outer.pdf"]


# --- 7. text in no declared charset ----------------------------------------------------------------

LANGUAGES = {
    "polish": (
        (
            "Zażółć gęślą jaźń. Szanowni Państwo, w załączeniu przesyłam sprawozdanie finansowe za "
            "ostatni kwartał. Proszę o potwierdzenie otrzymania wiadomości."
        ),
        ["cp1250", "iso-8859-2"],
    ),
    "czech": (
        (
            "Příliš žluťoučký kůň úpěl ďábelské ódy. Dobrý den, posílám vám přehled objednávek za "
            "minulý měsíc a děkuji za spolupráci."
        ),
        ["cp1250", "iso-8859-2"],
    ),
    "greek": (
        ("Καλημέρα σας, σας στέλνω την αναφορά για τον προηγούμενο μήνα. Παρακαλώ επιβεβαιώστε ότι τη λάβατε."),
        ["iso-8859-7", "cp1253"],
    ),
    "hebrew": (
        "שלום רב, מצורף בזאת הדוח החודשי של המחלקה. אנא אשרו את קבלת ההודעה ותודה על שיתוף הפעולה.",
        ["windows-1255", "iso-8859-8"],
    ),
    "russian": (
        ("Здравствуйте! Высылаю вам отчёт о продажах за прошлый месяц. Пожалуйста, подтвердите получение письма."),
        ["koi8-r", "cp1251"],
    ),
    "turkish": (
        (
            "Merhaba, geçen ayın satış raporunu ekte gönderiyorum. Lütfen aldığınızı teyit ediniz. "
            "Teşekkür ederim, iyi çalışmalar dilerim."
        ),
        ["iso-8859-9", "cp1254"],
    ),
    "japanese": (
        "お世話になっております。先月の売上報告書を添付いたします。ご確認のほどよろしくお願いいたします。",
        ["shift_jis", "euc-jp"],
    ),
    "chinese": ("您好，附件是上个月的销售报告。请查收并确认，谢谢您的合作。祝工作顺利。", ["gb2312"]),
    "traditional chinese": ("您好，附件是上個月的銷售報告。請查收並確認，謝謝您的合作。祝工作順利。", ["big5"]),
}


@pytest.mark.parametrize(
    "language, text, charset",
    [
        pytest.param(language, text, charset, id=f"{language}-{charset}")
        for language, (text, charsets) in LANGUAGES.items()
        for charset in charsets
    ],
)
def test_a_body_without_a_charset_is_guessed(language: str, text: str, charset: str):
    raw = _mail(
        "From: a@example.com",
        "Subject: report",
        "Content-Type: text/plain",
        "Content-Transfer-Encoding: 8bit",
        body=text.encode(charset),
    )
    assert parse_message(raw).text == text


@pytest.mark.parametrize(
    "label, data, expected",
    [
        ("iso-8859-1", "“quoted” – €5".encode("cp1252"), "“quoted” – €5"),
        ("gb2312", "锟斤拷 𠀀".encode("gb18030"), "锟斤拷 𠀀"),
        ("ks_c_5601-1987", "안녕하세요 똠방각하".encode("cp949"), "안녕하세요 똠방각하"),
        ("shift_jis", "①髙橋".encode("cp932"), "①髙橋"),
        ("iso-8859-8-i", "שלום עולם".encode("iso-8859-8"), "שלום עולם"),
        ("iso-8859-2", "Zażółć gęślą jaźń".encode("iso-8859-2"), "Zażółć gęślą jaźń"),
        ("us-ascii", b"plain ascii text", "plain ascii text"),
    ],
)
def test_a_declared_charset_is_read_as_the_superset_mailers_mean(label: str, data: bytes, expected: str):
    raw = _mail(
        "From: a@example.com",
        f"Content-Type: text/plain; charset={label}",
        "Content-Transfer-Encoding: 8bit",
        body=data,
    )
    assert parse_message(raw).text == expected


def test_a_declared_charset_that_decodes_cleanly_is_never_second_guessed():
    # KOI8-R bytes read as ISO-8859-5 are gibberish, but the sender said so and they decode
    text = "Здравствуйте, высылаю отчёт о продажах"
    raw = _mail("From: a@example.com", "Content-Type: text/plain; charset=iso-8859-5", body=text.encode("koi8-r"))
    assert parse_message(raw).text == text.encode("koi8-r").decode("iso-8859-5")


def test_a_huge_unlabelled_body_is_decoded_whole_from_a_guess_on_a_sample():
    line = LANGUAGES["polish"][0] + "\r\n"
    text = line * (MAX_BODY_CHARS // len(line))  # about 1 MB: the most of a text that is kept
    raw = _mail("From: a@example.com", "Content-Type: text/plain", body=text.encode("cp1250"))
    assert parse_message(raw).text == text
