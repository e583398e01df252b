"""The first pass's fast paths for a listed row (issue 18) answer exactly what the full paths
they skip would: a header block of one line a field read in one findall, a plain Date read
without parsedate_tz, a display name without the substitutions that would change nothing, a
JSON column encoded without a new encoder a value. Each is run against its full path on the
corpora's messages and on generated inputs made of the characters that decide between the two."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from plugin_email_manager.mailparse import address_headers, headers
from plugin_email_manager.mailsync import store

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
if not CORPORA.is_dir():
    CORPORA = Path("/work/shared/corpora")


def corpus_messages() -> list[bytes]:
    return [p.read_bytes() for p in sorted(CORPORA.glob("*/*")) if p.suffix in (".raw", ".eml")]


def full_date(value: str) -> tuple:
    errors: list[str] = []
    saved = headers._PLAIN_DATE
    headers._PLAIN_DATE = re.compile(r"(?!)")  # never matches: parsedate_tz reads every value
    try:
        return headers.parse_date(value, errors), errors
    finally:
        headers._PLAIN_DATE = saved


def fast_date(value: str) -> tuple:
    errors: list[str] = []
    return headers.parse_date(value, errors), errors


def same_date(value: str) -> None:
    fast, full = fast_date(value), full_date(value)
    assert fast == full and repr(fast) == repr(full), value  # repr: the same zone, not only the same instant


def test_plain_dates_read_as_parsedate_tz_reads_them():
    for value in (
        "Sun, 01 Jan 2023 00:09:23 +0000",
        "Mon, 1 Jan 2024 23:59:60 -0000",
        "Tue, 31 Feb 2023 10:00:00 +0100",
        "Wed, 10 Jan 2024 03:02:36 +0530",
        "Thu, 10 Jan 2024 03:02:36 -1259",
        "Fri, 10 Jan 2024 03:02:36 +9999",
        "Sat, 10 Jan 9999 23:59:59 -2359",
        "Sat, 10 Jan 1000 24:00:00 +0000",
        "Sun, 01 Jan 2023 00:09:23 +0000\r\n (UTC)",
        "Sun, 01 Jan 2023\r\n 00:09:23 +0000",
    ):
        same_date(value)
    assert headers._PLAIN_DATE.fullmatch("Sun, 01 Jan 2023 00:09:23 +0000")  # the fast path is taken


@settings(max_examples=2000, deadline=None)
@given(
    st.sampled_from(["Mon", "Tue", "Sun", "Xyz"]),
    st.integers(0, 40).map(str) | st.sampled_from(["01", "09", "00", "٣"]),
    st.sampled_from(["Jan", "Feb", "Jun", "Dec", "jan", "Foo"]),
    st.integers(0, 10000).map(str) | st.sampled_from(["0099", "2023", "1969"]),
    st.integers(0, 99).map(lambda n: f"{n:02d}"),
    st.integers(0, 99).map(lambda n: f"{n:02d}"),
    st.integers(0, 99).map(lambda n: f"{n:02d}"),
    st.sampled_from(["+", "-"]),
    st.integers(0, 9999).map(lambda n: f"{n:04d}"),
)
def test_generated_dates_read_the_same_by_both_paths(dow, day, month, year, hour, minute, second, sign, zone):
    same_date(f"{dow}, {day} {month} {year} {hour}:{minute}:{second} {sign}{zone}")


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30)), st.integers(-1439, 1439))
def test_formatted_dates_read_the_same_by_both_paths(when, minutes):
    same_date(format_datetime(when.replace(tzinfo=timezone(timedelta(minutes=minutes)))))


def test_the_corpora_dates_read_the_same_by_both_paths():
    dates = [v for raw in corpus_messages() for v in headers._read_fields(raw, []).get("date", [])]
    assert len(dates) > 50
    for value in dates:
        same_date(value)


@settings(max_examples=2000, deadline=None)
@given(st.text(st.sampled_from(list("ab <>\"'@=?\t\r\n\x00\x1f\x7f\xa0\u2003\x85")), max_size=20))
def test_a_tidy_name_is_one_the_substitutions_leave_alone(name):
    untouched = address_headers._SPACES.sub(" ", address_headers._CONTROL.sub(" ", name)) == name
    assert (address_headers._UNTIDY.search(name) is None) == untouched


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=1000, deadline=None)
@given(json_values)
def test_a_json_column_is_the_same_text_as_the_standard_encoder_writes(value):
    # None is the column's NULL; anything else the standard library's text
    assert store._json(value) == (None if value is None else json.dumps(value, ensure_ascii=False))


def test_the_corpora_addresses_read_the_same_with_and_without_the_tidy_check(monkeypatch):
    values = [
        v
        for raw in corpus_messages()
        for name, found in headers._read_fields(raw, []).items()
        if name in ("from", "to", "cc", "bcc", "reply-to")
        for v in found
    ]
    assert len(values) > 50
    fast = [address_headers.parse_address_list([v]) for v in values]
    monkeypatch.setattr(address_headers, "_UNTIDY", re.compile(r""))  # always "untidy": always substituted
    assert [address_headers.parse_address_list([v]) for v in values] == fast


def loop_fields(raw: bytes) -> dict:
    """``_read_fields`` by its line loop alone (the plain block's findall never taken)."""
    saved = headers._PLAIN_BLOCK
    headers._PLAIN_BLOCK = re.compile(rb"(?!)")
    try:
        return headers._read_fields(raw, [])
    finally:
        headers._PLAIN_BLOCK = saved


def test_the_corpora_header_blocks_read_the_same_by_both_paths():
    raws = corpus_messages()
    plain = [raw for raw in raws if headers._PLAIN_BLOCK.fullmatch(headers.header_block(raw))]
    assert plain  # some take the findall (else this would compare the loop with itself)
    for raw in raws:
        assert headers._read_fields(raw, []) == loop_fields(raw)


LINES = [
    b"From: Ann <ann@x.org>",
    b"To: bob@y.org,",
    b"Subject: caf\xc3\xa9 \t",
    b"subject:",
    b"Date: Sun, 01 Jan 2023 00:09:23 +0000",
    b"Message-ID: <a@b>",
    b"X-Other: 1",
    b"Content-Type: text/plain; charset=latin-1",
    b"Subject : obsolete",
    b" folded",
    b"\tfolded",
    b"junk without a colon",
    b'name="x.pdf"',
    b":no name",
    b"To:\xe9t\xe9",
    b"--boundary",
    b"X\x01Y: z",
    b"",
]


@settings(max_examples=3000, deadline=None)
@given(
    st.lists(st.sampled_from(LINES), max_size=8),
    st.sampled_from([b"\r\n", b"\n", b"\r\r\n"]),
    st.sampled_from([b"\r\n", b"\n", b"", b"\r\nbody", b"\nbody\n"]),
)
def test_generated_header_blocks_read_the_same_by_both_paths(lines, newline, end):
    raw = b"".join(line + newline for line in lines) + end
    assert headers._read_fields(raw, []) == loop_fields(raw)
