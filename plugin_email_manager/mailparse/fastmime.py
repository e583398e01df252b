"""A fast path for well-formed MIME: the same compat32 ``Message`` tree the feed parser builds.

The stdlib feed parser reads a message line by line through several regular expressions and
compiles one more for every multipart boundary (it is unique per message, so the ``re`` cache
never helps): most of the parse pass's time on ordinary mail (bench/README.md has the
measurement). Nearly all mail is well formed,
and for that the structure can be found with ``str.find``: header blocks end at the first
empty line, parts lie between boundary lines. ``split_message`` builds ``Message`` objects
exactly as the feed parser would (headers through the policy's ``header_source_parse``, a
part's payload without the line break that belongs to the boundary after it), so everything
downstream (``body``, ``parts``) reads them unchanged.

It answers None the moment a message is not plainly well formed (mixed line breaks, a header
line the feed parser would flag, a boundary missing or never closed, boundary lines in a row,
``message/*`` parts, ``multipart/digest``, deep nesting, an encoded multipart), and the caller
parses it with the feed parser, which records the defects. Lenient recovery is the feed
parser's job, not this module's. ``tests/plugin_email_manager/test_fastmime.py`` checks both
paths give the same result on every corpus message.
"""

from __future__ import annotations

import re
from email.message import Message
from email.policy import Compat32

_MAX_DEPTH = 8
# a header line as the feed parser accepts it: a name of printable characters but ':', then ':'
_HEADER_LINE = re.compile(r"[\041-\071\073-\176]+:")
_PLAIN_CTE = ("7bit", "8bit", "binary")


def split_message(raw: bytes, policy: Compat32) -> Message | None:
    """The message's ``Message`` tree, or None when the feed parser must read it (see above)."""
    crlf = raw.count(b"\r\n")
    if crlf:
        if crlf != raw.count(b"\n") or crlf != raw.count(b"\r"):
            return None  # mixed line breaks
        eol = "\r\n"
    elif b"\r" in raw:
        return None  # old Mac line breaks
    else:
        eol = "\n"
    text = raw.decode("ascii", "surrogateescape")  # as BytesParser does
    return _message(text, eol, policy, 0)


def _message(text: str, eol: str, policy: Compat32, depth: int) -> Message | None:
    if depth > _MAX_DEPTH:
        return None
    if text.startswith(eol):
        block, body = "", text[len(eol) :]
    else:
        end = text.find(eol + eol)
        if end < 0:  # headers only (a part's last line break went to the boundary after it)
            block, body = (text[: -len(eol)] if text.endswith(eol) else text), ""
        else:
            block, body = text[:end], text[end + 2 * len(eol) :]
    msg = Message(policy)
    if block and not _read_headers(msg, block, eol, policy):
        return None
    maintype = msg.get_content_maintype()
    if maintype == "message":
        return None
    if maintype != "multipart":
        # what email.feedparser does: set_payload would only add a call per part
        msg._payload = body  # type: ignore[attr-defined]  # typeshed leaves out the private attribute
        return msg
    boundary = msg.get_boundary()
    if not boundary or msg.get_content_subtype() == "digest":
        return None
    if str(msg.get("content-transfer-encoding", "8bit")).lower() not in _PLAIN_CTE:
        return None
    parts = _split(body, "--" + boundary, eol)
    if parts is None:
        return None
    children = []
    for part in parts:
        child = _message(part, eol, policy, depth + 1)
        if child is None:
            return None
        children.append(child)
    msg._payload = children  # type: ignore[attr-defined]  # as above
    return msg


def _read_headers(msg: Message, block: str, eol: str, policy: Compat32) -> bool:
    lines = block.split(eol)
    current: list[str] | None = None
    for line in lines:
        if line[:1] in (" ", "\t"):
            if current is None:
                return False  # a continuation with nothing to continue
            current.append(line)
            continue
        if line.startswith("From ") or not _HEADER_LINE.match(line):
            return False
        if current is not None:
            msg.set_raw(*_source_parse(current, eol))
        current = [line]
    if current is not None:
        msg.set_raw(*_source_parse(current, eol))
    return True


def _source_parse(lines: list[str], eol: str) -> tuple[str, str]:
    """compat32's ``header_source_parse`` of these lines (given without their line breaks)."""
    name, value = lines[0].split(":", 1)
    value = value.lstrip(" \t") + "".join(eol + line for line in lines[1:])
    return name, value.rstrip("\r\n")


def _split(body: str, separator: str, eol: str) -> list[str] | None:
    """The parts between the boundary lines of a multipart body, each without the line break
    before the next boundary; None when the first boundary or the closing one is missing."""
    parts: list[str] = []
    start: int | None = None  # where the current part's text begins
    search = 0
    while True:
        at = body.find(separator, search)
        if at < 0:
            return None
        if at and body[at - len(eol) : at] != eol:  # not at the start of a line
            search = at + 1
            continue
        line_end = body.find(eol, at)
        if line_end < 0:
            line_end = len(body)
        rest = body[at + len(separator) : line_end].rstrip(" \t")
        if rest not in ("", "--"):  # a longer boundary that starts with ours
            search = at + 1
            continue
        if start is not None:
            if at == start:  # boundary lines in a row: the feed parser makes no part of them
                return None
            parts.append(body[start : at - len(eol)])
        if rest == "--":
            return parts if start is not None else None
        start = search = min(line_end + len(eol), len(body))
