"""Small IMAP encodings: UID sets, modified UTF-7 folder names, dates, quoted strings, flags.

Pure functions both ways (a command's arguments out, a response's values in), with no I/O, so
that the layers above and the sync engine (``search_date``) share one spelling of each format.
"""

from __future__ import annotations

import base64
import re
from datetime import date, datetime, timedelta, timezone
from typing import Iterable

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {m.encode(): i + 1 for i, m in enumerate(MONTHS)}

# -- UID sets (RFC 3501 sequence-set) -----------------------------------------------------------


def uid_set(uids: Iterable[int] | str) -> str:
    """``[1, 2, 3, 7]`` -> ``"1:3,7"``; a string (``"1:*"``) is checked and passed through."""
    if isinstance(uids, str):
        if not re.fullmatch(r"(\d+|\*)(:(\d+|\*))?(,(\d+|\*)(:(\d+|\*))?)*", uids):
            raise ValueError(f"not a UID set: {uids!r}")
        return uids
    ordered = sorted(set(int(u) for u in uids))
    if not ordered:
        raise ValueError("an empty UID set")
    parts, start, prev = [], ordered[0], ordered[0]
    for uid in ordered[1:]:
        if uid != prev + 1:
            parts.append(f"{start}:{prev}" if prev != start else str(start))
            start = uid
        prev = uid
    parts.append(f"{start}:{prev}" if prev != start else str(start))
    return ",".join(parts)


def uid_batches(uids: Iterable[int], size: int) -> list[str]:
    """UIDs in commands of at most ``size`` UIDs each, in the order given (newest first stays so)."""
    ordered = list(dict.fromkeys(int(u) for u in uids))
    return [uid_set(ordered[i : i + size]) for i in range(0, len(ordered), size)]


def parse_uid_set(text: str | bytes) -> list[int]:
    """``"1:3,7"`` -> ``[1, 2, 3, 7]`` (a server never sends ``*`` in the sets parsed here)."""
    if isinstance(text, bytes):
        text = text.decode("ascii")
    out: list[int] = []
    for part in text.split(","):
        if not part:
            continue
        low, _, high = part.partition(":")
        a, b = int(low), int(high or low)
        out.extend(range(min(a, b), max(a, b) + 1))
    return out


# -- modified UTF-7 (RFC 3501 5.1.3) -------------------------------------------------------------


def decode_mutf7(raw: bytes | str) -> str:
    text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
    if "&" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        amp = text.find("&", i)
        if amp < 0:
            out.append(text[i:])
            break
        out.append(text[i:amp])
        end = text.find("-", amp)
        if end < 0:  # malformed: keep it as it came
            out.append(text[amp:])
            break
        chunk = text[amp + 1 : end]
        if not chunk:
            out.append("&")
        else:
            b64 = chunk.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            try:
                out.append(base64.b64decode(b64).decode("utf-16-be"))
            except (ValueError, UnicodeDecodeError):
                out.append(text[amp : end + 1])
        i = end + 1
    return "".join(out)


def encode_mutf7(name: str) -> str:
    out: list[str] = []
    pending: list[str] = []

    def flush():
        if pending:
            b64 = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + b64.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


# -- strings and flags ---------------------------------------------------------------------------


class Literal:
    """A command argument sent as a literal (``{n}`` then the bytes): messages, odd passwords."""

    __slots__ = ("data",)

    def __init__(self, data: bytes):
        self.data = data


def quote(text: str) -> bytes:
    """A quoted string; CR, LF and NUL cannot be quoted (they would end the command)."""
    if re.search(r"[\r\n\x00]", text):
        raise ValueError("CR, LF and NUL are not allowed here")
    return b'"' + text.replace("\\", "\\\\").replace('"', '\\"').encode("utf-8") + b'"'


def mailbox_arg(name: str) -> bytes:
    return quote(encode_mutf7(name))


_FLAG = re.compile(r"\\?[^\s()\"{%*\\\]\x00-\x1f\x7f]+")


def flag_list(flags: Iterable[str]) -> bytes:
    """``["\\Seen", "$Forwarded"]`` -> ``(\\Seen $Forwarded)``; anything else is refused."""
    flags = list(flags)
    for flag in flags:
        if not _FLAG.fullmatch(flag):
            raise ValueError(f"not an IMAP flag: {flag!r}")
    return ("(" + " ".join(flags) + ")").encode("ascii")


# -- dates ---------------------------------------------------------------------------------------

_INTERNALDATE = re.compile(rb" ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)")


def parse_internaldate(raw: bytes | None) -> datetime | None:
    """``b"17-Jul-1996 02:44:25 -0700"`` -> an aware datetime (None when absent or malformed)."""
    m = _INTERNALDATE.match(raw or b"")
    if not m:
        return None
    day, mon, year, hh, mm, ss, sign, oh, om = m.groups()
    offset = timedelta(hours=int(oh), minutes=int(om)) * (-1 if sign == b"-" else 1)
    month = _MONTH_NUMBER.get(mon.capitalize())
    if month is None:
        return None
    return datetime(int(year), month, int(day), int(hh), int(mm), int(ss), tzinfo=timezone(offset))


def format_internaldate(when: datetime) -> bytes:
    """An aware (or UTC if naive) datetime as a quoted IMAP date-time, month names in English."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    utcoffset = when.utcoffset()
    assert utcoffset is not None  # an aware datetime (made so above) has an offset
    offset = int(utcoffset.total_seconds()) // 60
    sign = "-" if offset < 0 else "+"
    offset = abs(offset)
    return (
        f'"{when.day:02d}-{MONTHS[when.month - 1]}-{when.year:04d} '
        f'{when.hour:02d}:{when.minute:02d}:{when.second:02d} {sign}{offset // 60:02d}{offset % 60:02d}"'
    ).encode("ascii")


def search_date(when: date) -> str:
    """A date for SEARCH SINCE/BEFORE: ``1-Jan-2025``."""
    return f"{when.day}-{MONTHS[when.month - 1]}-{when.year}"
