"""Properties of the MIME builder (``sendmail.compose.build_message``): display names and
subjects of any Unicode, addresses with Unicode domains, survive building and parsing back with
the standard ``email`` package (``policy.default``), and nothing a caller writes adds a header.

The documented normalization: names and addresses are stripped and a control character in
either is refused (``BadRequest``); the subject has line breaks and control characters folded
to spaces, then is stripped (``clean_subject``); domains go out as IDNA A-labels."""

from __future__ import annotations

import email
from datetime import datetime, timezone
from email import policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.errors import BadRequest
from plugin_email_manager.sendmail.compose import build_message, clean_subject
from plugin_email_manager.sendmail.recipients import ascii_domain

PROPERTY = settings(max_examples=300, deadline=None)
HEADERS = {
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
}

# what breaks headers: quotes, commas, angle brackets, encoded-word look-alikes, line breaks
# followed by something that reads as a header, very long runs
tricky = st.sampled_from(
    [
        '"',
        "\\",
        ",",
        ";",
        "<",
        ">",
        "@",
        ":",
        "(",
        ")",
        "=?utf-8?q?x?=",
        "\r\n",
        "\n",
        "\r",
        "\r\nBcc: eve@evil.test",
        "\nX-Injected: 1",
        " ",
        "\t",
        "Ünï",
        "日本",
        "😀",
        "x" * 80,
        "a b " * 30,
    ]
)
texts = st.one_of(st.text(), st.lists(tricky | st.text(max_size=5), max_size=10).map("".join))
locals_ = st.from_regex(r"\A[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\.[A-Za-z0-9_-]{1,8}){0,2}\Z")
domains = st.sampled_from(["example.test", "x.org", "bücher.example", "例え.テスト", "[192.0.2.1]"])


@st.composite
def people(draw):
    return {"name": draw(texts), "address": f"{draw(locals_)}@{draw(domains)}"}


def parse(msg):
    return email.message_from_bytes(msg.as_bytes(), policy=policy.default)


def built(**kw):
    return build_message(date=datetime(2024, 3, 1, tzinfo=timezone.utc), text="hi", **kw)


def expected(person) -> tuple[str, str]:
    local, _, domain = person["address"].rpartition("@")
    return person["name"].strip(), f"{local}@{ascii_domain(domain)}"


def same_name(got: str, want: str) -> bool:
    """Equal; for a name long enough to take several encoded-words, equal but for spaces:
    Python's parser puts a space between adjacent encoded-words of a display name, which RFC
    2047 (6.2) says to ignore, and which mail clients do ignore."""
    if got == want or len(want.encode()) <= 42:
        return got == want
    return got.replace(" ", "") == want.replace(" ", "")


def has_control(text: str) -> bool:
    return any(ord(c) < 32 or 127 <= ord(c) <= 159 or c in "\u2028\u2029" for c in text)


@PROPERTY
@given(
    sender=people(),
    to=st.lists(people(), min_size=1, max_size=3),
    cc=st.lists(people(), max_size=2),
    bcc=st.lists(people(), max_size=2),
)
def test_names_and_addresses_come_back_as_given(sender, to, cc, bcc):
    everyone = [sender, *to, *cc, *bcc]
    if any(has_control(p["name"].strip()) for p in everyone):
        with pytest.raises(BadRequest):
            built(from_addr=sender, to=to, cc=cc, bcc=bcc, subject="s")
        return
    back = parse(built(from_addr=sender, to=to, cc=cc, bcc=bcc, subject="s"))
    for header, given_ in (("From", [sender]), ("To", to), ("Cc", cc)):
        got = [(a.display_name, a.addr_spec) for a in back[header].addresses] if given_ else []
        assert [(same_name(g[0], e[0]), g[1]) for g, e in zip(got, map(expected, given_))] == [
            (True, e[1]) for e in map(expected, given_)
        ] and len(got) == len(given_), header
    assert set(back.keys()) == HEADERS - (set() if cc else {"Cc"})
    assert len(back.keys()) == len(set(back.keys()))


@PROPERTY
@given(subject=texts | st.text(min_size=200, max_size=2000))
def test_the_subject_comes_back_with_line_breaks_folded_and_adds_no_header(subject):
    back = parse(built(from_addr={"name": "A", "address": "a@example.test"}, to=["b@example.test"], subject=subject))
    assert back["Subject"] == clean_subject(subject)
    assert not has_control(back["Subject"])
    assert sorted(back.keys()) == sorted(HEADERS - {"Cc"})


# what hypothesis found, as plain cases
def test_a_long_name_with_commas_stays_one_address():
    name = ("Doe, Ann " * 12).strip()
    back = parse(
        built(
            from_addr={"name": name, "address": "ann@example.test"},
            to=[{"name": "x, eve@evil.test, " * 6, "address": "bob@example.test"}],
            subject="s",
        )
    )
    assert [a.addr_spec for a in back["From"].addresses] == ["ann@example.test"]
    assert [a.addr_spec for a in back["To"].addresses] == ["bob@example.test"]
    assert same_name(back["From"].addresses[0].display_name, name)


def test_a_quote_at_the_end_of_a_long_name_keeps_the_address():
    name = "0" * 74 + '"'
    back = parse(built(from_addr={"name": name, "address": "a@example.test"}, to=["b@example.test"], subject="s"))
    assert [a.addr_spec for a in back["From"].addresses] == ["a@example.test"]
    assert same_name(back["From"].addresses[0].display_name, name)


@pytest.mark.parametrize("text", ["=??Q??=", "=?utf-8?q?x?=", "Grüße =?utf-8?q?x?="])
def test_encoded_word_look_alikes_come_back_as_written(text):
    back = parse(built(from_addr={"name": text, "address": "a@example.test"}, to=["b@example.test"], subject=text))
    assert back["Subject"] == text and back["From"].addresses[0].display_name == text


@pytest.mark.parametrize("subject", ["a\u2028b", "a\x85b", "a\u2029b"])
def test_unicode_line_breaks_in_the_subject_fold_to_a_space(subject):
    assert (
        parse(built(from_addr={"name": "", "address": "a@example.test"}, to=["b@example.test"], subject=subject))[
            "Subject"
        ]
        == "a b"
    )


def test_a_non_ascii_subject_gains_no_space_where_it_is_folded():
    subject = "0" * 70 + " é"
    assert (
        parse(built(from_addr={"name": "", "address": "a@example.test"}, to=["b@example.test"], subject=subject))[
            "Subject"
        ]
        == subject
    )


def test_a_subject_folded_before_its_first_word_gains_no_leading_space():
    subject = "0" * 59 + " " + "0" * 10
    assert (
        parse(built(from_addr={"name": "", "address": "a@example.test"}, to=["b@example.test"], subject=subject))[
            "Subject"
        ]
        == subject
    )


def test_a_next_line_character_in_a_name_is_refused():
    with pytest.raises(BadRequest):
        built(from_addr={"name": "0 \x850", "address": "a@example.test"}, to=["b@example.test"], subject="s")
