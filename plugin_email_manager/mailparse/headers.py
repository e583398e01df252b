"""Stage 1: the header fields a message list needs, fast enough to run inline during sync.

Only the header block is read, and in it only the fields we store:
its lines are split once and a field name looked up per line, so the Received and DKIM lines
that are most of a header block cost a set lookup each, and only the wanted values are decoded, by hand
(``charsets``, ``addresses``). compat32's ``BytesHeaderParser`` splits every line of the block
(a fifth of the first sync's time went there) and policy.default would decode every header
through its registry at a third of that speed again (LAB.md "Parsing cost"). Obsolete white
space before a colon and lines that are neither fields nor indented are read as ``header_lines``
says. The values are what compat32 gives (folds kept), except raw 8-bit bytes: UTF-8 where they
are UTF-8, else in the charset the message declares for its text (the mailer wrote both: for a
multipart, the first ``charset=`` in the body's first 16 KB, the one read of the body), else in a
charset guessed from all such values at once (``charsets.raw_header_charset``). The defects of a broken
header block are the parse pass's to record. ``parse_headers`` never raises; what it could not
read is named in ``errors``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_tz
from typing import Any, Callable

from .address_headers import parse_address, parse_address_list
from .charsets import decode_words, fix_8bit, raw_header_charset
from .header_lines import continues_block, continues_field, field_name

# the fields read here: all a headers-first sync fetches of a message (BODY.PEEK[HEADER.FIELDS ...])
LISTED_FIELDS = _WANTED = frozenset(
    {
        b"message-id",
        b"in-reply-to",
        b"references",
        b"subject",
        b"from",
        b"to",
        b"cc",
        b"bcc",
        b"reply-to",
        b"date",
        b"content-type",
        b"content-disposition",
        b"list-unsubscribe",
    }
)
_MSGID = re.compile(r"<([^<>]*)>")
# starts only where a token starts: tried at every offset, a 1 MB run without "@" took minutes
# (quadratic); the matches are the same, since the first offset of a token matching does too
_BARE_MSGID = re.compile(r"(?<![^\s<>,;()\"])[^\s<>,;()\"]+@[^\s<>,;()\"]+")
_FOLD = re.compile(r"\r?\n")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_CHARSET_SCAN = 16 * 1024
_INDENTS = (b" ", b"\t")
# the usual block, as a server answers HEADER.FIELDS: one line a field (its name printable ASCII
# without white space), no continuation, no junk; read in one findall, as the loop would read it
_PLAIN_BLOCK = re.compile(rb"(?:[!-9;-~]+:[^\r\n]*\r?\n)*(?:\r?\n)?")
_PLAIN_FIELD = re.compile(rb"([!-9;-~]+):[ \t]*([^\r\n]*)\r?\n")


def header_block(raw: bytes) -> bytes:
    """The header lines up to and including the first empty line (all of ``raw`` when there is none)."""
    if raw.startswith((b"\n", b"\r\n")):
        return b""
    # the first "\n\r\n" (so also "\r\n\r\n") or an earlier "\n\n", found by bytes.find: a
    # regular expression with optional characters walks the block one byte at a time
    crlf = raw.find(b"\n\r\n")
    lf = raw.find(b"\n\n", 0, crlf if crlf >= 0 else len(raw))
    if lf >= 0:
        return raw[: lf + 2]
    return raw[: crlf + 3] if crlf >= 0 else raw


def parse_headers(raw: bytes) -> dict[str, Any]:
    """Decode the listing fields of one message (see the module doc); never raises.

    :return: ``messageId``, ``inReplyTo``, ``references``, ``subject`` ("" when absent), ``from``
        (``{"name","address"}`` or None), ``to``/``cc``/``bcc``/``replyTo`` (lists of those),
        ``date`` (aware datetime or None), ``hasAttachments`` (a first guess), ``listUnsubscribe``
        (str or None) and ``errors`` (list of str).
    """
    out: dict[str, Any] = {
        "messageId": None,
        "inReplyTo": None,
        "references": [],
        "subject": "",
        "from": None,
        "to": [],
        "cc": [],
        "bcc": [],
        "replyTo": [],
        "date": None,
        "hasAttachments": False,
        "listUnsubscribe": None,
        "errors": [],
    }
    errors: list[str] = out["errors"]
    try:
        fields = _read_fields(raw if isinstance(raw, bytes) else bytes(raw), errors)
    except Exception as exc:  # noqa: BLE001 - a header block we cannot split at all
        errors.append(f"headers: {type(exc).__name__}: {exc}")
        return out
    # one step a field, each a function made once (not a closure a call): one bad header costs
    # only its own field
    for key, step in _STEPS:
        try:
            out[key] = step(fields, errors)
        except Exception as exc:  # noqa: BLE001 - one bad header must not cost the others
            errors.append(f"{key}: {type(exc).__name__}: {exc}")
    return out


Fields = dict[str, list[str]]


def _addresses(name: str) -> Callable[[Fields, list[str]], list[dict[str, str]]]:
    return lambda fields, errors: parse_address_list(fields.get(name, []))


_STEPS: tuple[tuple[str, Callable[[Fields, list[str]], Any]], ...] = (
    ("messageId", lambda fields, errors: normalize_msgid(_first(fields, "message-id"))),
    ("inReplyTo", lambda fields, errors: next(iter(parse_msgid_list(_first(fields, "in-reply-to"))), None)),
    ("references", lambda fields, errors: parse_msgid_list(" ".join(fields.get("references", [])))),
    ("subject", lambda fields, errors: decode_unstructured(_first(fields, "subject") or "")),
    ("from", lambda fields, errors: parse_address(fields.get("from", []))),
    ("to", _addresses("to")),
    ("cc", _addresses("cc")),
    ("bcc", _addresses("bcc")),
    ("replyTo", _addresses("reply-to")),
    ("date", lambda fields, errors: parse_date(_first(fields, "date"), errors)),
    ("hasAttachments", lambda fields, errors: _attachment_guess(fields)),
    ("listUnsubscribe", lambda fields, errors: _unfold(_first(fields, "list-unsubscribe")) or None),
)


def _read_fields(raw: bytes, errors: list[str]) -> dict[str, list[str]]:
    """The wanted fields' values, each with the continuation lines that fold it (line breaks kept)."""
    fields: dict[str, list[str]] = {}
    whole = header_block(raw)
    if _PLAIN_BLOCK.fullmatch(whole) is not None:
        for field, value in _PLAIN_FIELD.findall(whole):
            lowered = field.lower()
            if lowered in _WANTED:
                fields.setdefault(lowered.decode("ascii"), []).append(value.decode("ascii", "surrogateescape"))
        return _fix_8bit_fields(raw, fields)
    name: str | None = None  # the wanted field being read, lower-case
    lines: list[bytes] = []
    block = whole.split(b"\n")
    for index, line in enumerate(block):
        if line.startswith(_INDENTS):
            if name is not None:
                lines.append(line)
            continue
        colon = line.find(b":")
        field = line[:colon] if colon > 0 else None
        if field is None or b" " in field or b"\t" in field:
            field = field_name(line)  # obsolete white space before the colon, or no field at all
        if field is None and line.rstrip(b"\r") and continues_block(block, index):
            if name is not None and continues_field(lines[-1], line):
                lines.append(b" " + line)  # a continuation its mailer did not indent
            continue  # else junk inside the block, skipped
        if name is not None:
            value = lines[0] if len(lines) == 1 else b"\n".join(lines)
            fields.setdefault(name, []).append(value.decode("ascii", "surrogateescape").rstrip("\r\n"))
        if field is None and line.rstrip(b"\r"):
            name = None  # kept just above: not again after the loop
            break  # the body, without a blank line before it (header_lines)
        lowered = field.lower() if field is not None else None
        if lowered in _WANTED:
            name = lowered.decode("ascii")
            lines = [line[colon + 1 :].lstrip(b" \t")]
        else:
            name = None
    if name is not None:
        value = lines[0] if len(lines) == 1 else b"\n".join(lines)
        fields.setdefault(name, []).append(value.decode("ascii", "surrogateescape").rstrip("\r\n"))
    return _fix_8bit_fields(raw, fields)


def _fix_8bit_fields(raw: bytes, fields: dict[str, list[str]]) -> dict[str, list[str]]:
    raw_values = [v for values in fields.values() for v in values if not v.isascii()]
    if raw_values:
        charset = raw_header_charset(raw_values, _declared_charset(raw, _first(fields, "content-type")))
        for key, values in fields.items():
            fields[key] = [fix_8bit(v, charset) for v in values]
    return fields


def _declared_charset(raw: bytes, content_type: str | None) -> str | None:
    """The charset the message declares for its text: in its Content-Type, else (a multipart) the
    first a part declares within the first ``_CHARSET_SCAN`` bytes."""
    value = (content_type or "").encode("ascii", "surrogateescape")
    m = _CHARSET.search(value) or _CHARSET.search(raw, 0, _CHARSET_SCAN)
    return m.group(1).decode("ascii") if m else None


def _first(fields: dict[str, list[str]], key: str) -> str | None:
    values = fields.get(key)
    return values[0] if values else None


def _unfold(value: str | None) -> str:
    return _FOLD.sub("", value).strip() if value else ""


def decode_unstructured(value: str) -> str:
    """An unstructured header (Subject) unfolded, RFC 2047-decoded, without control characters."""
    text = decode_words(_unfold(value))
    return _CONTROL.sub(" ", text.replace("\t", " ")).strip()


def normalize_msgid(value: str | None) -> str | None:
    """``<id@host>`` from a Message-ID value: brackets added when missing, inner spaces removed."""
    ids = parse_msgid_list(value)
    if ids:
        return ids[0]
    token = "".join((value or "").split()).strip("<>")
    return f"<{token}>" if token else None


def parse_msgid_list(value: str | None) -> list[str]:
    """The msg-ids of References/In-Reply-To in order, deduplicated, each with its brackets.

    Bracketed ids win; only a value without any is scanned for bare ``local@domain`` tokens, so the
    phrase of an old-style ``In-Reply-To: joe@x.org's message of ... <id@x>`` is not taken for an id.
    """
    if not value:
        return []
    value = _FOLD.sub(" ", value)
    found = ["".join(m.split()) for m in _MSGID.findall(value)]
    if not any(found):
        found = [m.strip(".") for m in _BARE_MSGID.findall(value)]
    seen: set[str] = set()
    out: list[str] = []
    for token in found:
        if token and token not in seen:
            seen.add(token)
            out.append(f"<{token}>")
    return out


def parse_date(value: str | None, errors: list[str] | None = None) -> datetime | None:
    """An aware datetime keeping the header's own offset; None when missing or unreadable.

    ``-0000`` and a missing zone mean "UTC, local time unknown" (RFC 5322 3.3) and give UTC.
    """
    if not value:
        return None
    value = _unfold(value)
    m = _PLAIN_DATE.fullmatch(value)
    if m is not None:  # the common form, read as parsedate_tz reads it (else it reads it below)
        day, month, year, hour, minute, second, zone = m.groups()
        try:
            return datetime(
                int(year),
                _MONTHS[month],
                int(day),
                int(hour),
                int(minute),
                min(int(second), 59),
                tzinfo=_zone(int(zone[1:3]) * 3600 + int(zone[3:]) * 60, zone[0]),
            )
        except (ValueError, OverflowError):
            pass  # out of range: the full path below says so in errors
    parts = parsedate_tz(value)
    if parts is None:
        if errors is not None:
            errors.append(f"date: unreadable {value[:80]!r}")
        return None
    *fields, offset = parts
    year, month, day, hour, minute, second = fields[:6]
    try:
        zone = timezone(timedelta(seconds=offset or 0))
    except ValueError:
        zone = timezone.utc
    try:
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=zone)
    except (ValueError, OverflowError, TypeError):
        if errors is not None:
            errors.append(f"date: out of range {value[:80]!r}")
        return None


# "Sun, 01 Jan 2023 00:09:23 +0000": most Date fields, in one fullmatch instead of parsedate_tz's
# splitting (a four-digit year, so none of its two-digit year guesses apply)
_PLAIN_DATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"([1-9][0-9]{3}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-][0-9]{4})"
)
_MONTHS = {m: i for i, m in enumerate(("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec").split(), 1)}
_ZONES: dict[int, timezone] = {}


def _zone(seconds: int, sign: str) -> timezone:
    """The zone of an offset as ``parse_date`` makes it (beyond a day: UTC), one object each."""
    if sign == "-":
        seconds = -seconds
    zone = _ZONES.get(seconds)
    if zone is None:
        try:
            zone = timezone(timedelta(seconds=seconds))
        except ValueError:
            zone = timezone.utc
        if len(_ZONES) < 2000:
            _ZONES[seconds] = zone
    return zone


def _attachment_guess(fields: dict[str, list[str]]) -> bool:
    ctype = (_first(fields, "content-type") or "").split(";", 1)[0].strip().lower()
    disposition = (_first(fields, "content-disposition") or "").split(";", 1)[0].strip().lower()
    if ctype == "multipart/mixed" or disposition == "attachment":
        return True
    main = ctype.split("/", 1)[0]
    return bool(ctype) and main not in ("text", "multipart") and "/" in ctype
