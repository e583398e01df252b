"""Stage 2: the body, snippet and attachments of a message, run in the background parse pass.

The structure comes from ``fastmime`` for well-formed mail, else from compat32's
``BytesParser``, whose feed parser never raises and records defects instead (both build the
same tree). A header block the feed parser cut short (``MissingHeaderBodySeparatorDefect``:
obsolete white space before a colon, an unindented continuation line) is mended by
``header_lines`` and the message read again, so its later fields still count: only broken mail
pays for that. Parts are decoded here (``parts``, ``charsets``) rather than through
``policy.default``, which is several times slower on the same bytes (LAB.md "Parsing cost") and
raises on some broken parameter lists that compat32 reads fine. Only the parts shown or stored
are decoded.

Which part is what:
- ``text/plain`` / ``text/html`` without a file name and not ``attachment`` are the body; in
  ``multipart/alternative`` the first plain and the last HTML alternative win, elsewhere bodies
  are joined in order (Apple Mail's text, image, text); only the signed part of
  ``multipart/signed`` is read, its signature is an attachment.
- every other leaf, and ``message/*`` parts (``message/rfc822`` named ``<subject>.eml``), is an
  attachment; unnamed ones are called ``attachment-<n>.<ext>`` after their type. An attached
  message is one attachment: its own parts and attachments are its business, not the outer
  message's list. One sent in base64 or quoted-printable (RFC 2046 forbids it, mailers do it
  anyway) is a leaf, its content the decoded message, never read as a message in transfer
  encoding.
- an attachment is ``inline`` when it has a Content-ID, is not ``Content-Disposition:
  attachment`` and the HTML body refers to it (``cid:``): an inline image nobody refers to would
  be invisible, so it is listed like any attachment.

Hostile mail is read within bounds (``tests/plugin_email_manager/test_hostile_mail.py``):
- nesting deeper than ``MAX_DEPTH`` (multipart in multipart, message/rfc822 in message/rfc822)
  is not parsed further: the part at that depth is read as one flat part, so its words are
  still in the text (a multipart) or its bytes in an attachment (a message). The feed parser's
  work grows with depth times lines (1,000 levels took 23 s, then a RecursionError).
- a message with more than ``MAX_PARTS`` boundary lines is parsed up to that line; the rest is
  kept whole as one attachment (``remaining-parts.txt``). 100,000 parts took 9 s and 120 MB.
- ``MAX_ATTACHMENTS`` attachments are listed (rows); the others are named in ``errors`` and
  stay in the stored message.
- text and HTML are cut at ``MAX_BODY_CHARS`` each (search indexes less still:
  ``search.BODY_CHARS``); what is cut is named in ``errors``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.errors import MissingHeaderBodySeparatorDefect
from email.feedparser import FeedParser
from email.message import Message
from typing import Any, cast
from urllib.parse import unquote

from . import parts as P
from .charsets import decode_text, fix_8bit
from .fastmime import split_message
from .header_lines import mend
from .headers import decode_unstructured, header_block, parse_headers
from .snippets import html_to_text, make_snippet

_PLAIN_CTE = ("", "7bit", "8bit", "binary", "7-bit", "8-bit")


class _Part(Message):
    """A ``Message`` that tells the feed parser a ``message/*`` part in a transfer encoding is
    no message: the feed parser reads the body of every ``message/*`` part as a message, so a
    base64 one became a message without headers whose body was the base64 text."""

    def get_content_maintype(self) -> str:
        maintype = super().get_content_maintype()
        if maintype == "message" and str(self.get("content-transfer-encoding", "")).strip().lower() not in _PLAIN_CTE:
            return "application"
        return maintype


class _Flat(_Part):
    """A part nested deeper than ``MAX_DEPTH``: the feed parser reads its body as lines, not as
    parts or a message (``_Walker`` then reads a flat multipart's body as text)."""

    def get_content_type(self) -> str:
        return "text/plain"

    def get_content_maintype(self) -> str:
        return "text"


MAX_DEPTH = 30  # messages and parts nested in one another (see the module doc)
MAX_PARTS = 20_000  # lines starting with "--" (boundary lines) read per message
MAX_ATTACHMENTS = 1_000  # attachment rows per message
MAX_BODY_CHARS = 1_000_000  # of text, and of HTML


class _BoundedFeedParser(FeedParser):
    """compat32's feed parser (as ``BytesParser`` runs it), with nesting cut at ``MAX_DEPTH``
    (its stack holds the parts, and each message/* part with the message inside it)."""

    def __init__(self) -> None:
        super().__init__(_Part, policy=P.RAW_COMPAT32)

    def _new_message(self) -> None:
        super()._new_message()  # type: ignore[misc]  # the parser's own step, not in typeshed
        if len(self._msgstack) > MAX_DEPTH:  # type: ignore[attr-defined]
            self._cur.__class__ = _Flat  # type: ignore[attr-defined]


def _feed_parse(raw: bytes) -> Message:
    parser = _BoundedFeedParser()
    parser.feed(raw.decode("ascii", "surrogateescape"))  # as BytesParser does
    return parser.close()


_MAX_DEPTH = MAX_DEPTH
_EML_TYPES = ("message/rfc822", "message/global", "message/news")
_CID_REF = re.compile(r"cid:([^\"'\s)>]+)", re.IGNORECASE)
_FILE_UNSAFE = re.compile(r"[\\/:*?\"<>|\x00-\x1f]+")


@dataclass
class ParsedMessage:
    text: str = ""
    html: str | None = None  # as sent: the caller sanitizes it
    snippet: str = ""
    # {"filename", "contentType", "size", "contentId", "inline", "content"}: mailAttachments' names
    attachments: list[dict[str, Any]] = field(default_factory=list)
    has_attachments: bool = False
    errors: list[str] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        """The ``mailMessages`` values this stage decides (html still unsanitized)."""
        return {"text": self.text, "html": self.html, "snippet": self.snippet, "hasAttachments": self.has_attachments}


@dataclass
class _Body:
    text: str | None = None
    html: str | None = None


class _Walker:
    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        self.found: list[tuple[dict[str, Any], str]] = []  # with the part's disposition
        self.unlisted = 0  # attachments beyond MAX_ATTACHMENTS

    def visit(self, part: Message, depth: int = 0) -> _Body:
        ctype = P.content_type(part)
        self.errors.extend(f"{ctype}: {type(d).__name__}" for d in part.defects)
        if depth > _MAX_DEPTH:
            self.errors.append(f"{ctype}: nested deeper than {_MAX_DEPTH} levels, skipped")
            return _Body()
        try:
            if ctype.startswith("message/") and part.is_multipart():
                self._attach(part, ctype, embedded=True)
                return _Body()
            if part.is_multipart():
                return self._multipart(part, ctype, depth)
            return self._leaf(part, ctype)
        except RecursionError:
            self.errors.append(f"{ctype}: nested too deep, skipped")
        except Exception as exc:  # noqa: BLE001 - one unreadable part must not cost the others
            self.errors.append(f"{ctype}: {type(exc).__name__}: {exc}")
        return _Body()

    def _multipart(self, part: Message, ctype: str, depth: int) -> _Body:
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        if ctype == "multipart/signed" and children:
            body = self.visit(children[0], depth + 1)
            for child in children[1:]:
                self.visit(child, depth + 1)
            return body
        results = [self.visit(child, depth + 1) for child in children]
        if ctype == "multipart/alternative":
            # The plainest text (the first) and the richest HTML (the last), per RFC 2046 5.1.4.
            text = next((r.text for r in results if r.text), None)
            html = next((r.html for r in reversed(results) if r.html), None)
            return _Body(text, html)
        return _join(results)

    def _leaf(self, part: Message, ctype: str) -> _Body:
        disposition = P.disposition(part)
        name = P.filename(part)
        if ctype.startswith("multipart/"):
            # A multipart without a usable boundary: its body is all there is to read.
            return _Body(text=P.part_text(part, "text/plain", self.errors))
        if ctype in ("text/plain", "text/html") and disposition != "attachment" and not name:
            text = P.part_text(part, ctype, self.errors)
            return _Body(html=text) if ctype == "text/html" else _Body(text=text)
        self._attach(part, ctype, name=name, disposition=disposition)
        return _Body()

    def _attach(
        self, part: Message, ctype: str, *, name: str | None = None, disposition: str = "", embedded: bool = False
    ) -> None:
        if len(self.found) >= MAX_ATTACHMENTS:  # not even decoded: 10,000 parts cost seconds
            self.unlisted += 1
            return
        index = len(self.found) + 1
        if embedded:
            name = P.filename(part) or (
                _eml_name(part, index) if ctype in _EML_TYPES else P.generated_name(ctype, index)
            )
            content = _embedded_bytes(part, self.errors)
        else:
            content = P.payload_bytes(part, self.errors)
            if not name and ctype in _EML_TYPES:  # an attached message in a transfer encoding
                subject = _FILE_UNSAFE.sub(" ", parse_headers(content)["subject"]).strip(" .")[:120]
                name = f"{subject or f'message-{index}'}.eml"
            name = name or P.generated_name(ctype, index)
        attachment = {
            "filename": name,
            "contentType": ctype,
            "size": len(content),
            "contentId": P.content_id(part),
            "inline": False,
            "content": content,
        }
        self.found.append((attachment, disposition or P.disposition(part)))


def _join(results: list[_Body]) -> _Body:
    present = [r for r in results if (r.text and not r.text.isspace()) or (r.html and not r.html.isspace())]
    if not present:
        return _Body(text="" if any(r.text is not None or r.html is not None for r in results) else None)
    texts = [r.text if r.text else html_to_text(r.html or "") for r in present]
    if not any(r.html for r in present):
        return _Body(text="\n\n".join(t.strip("\r\n") for t in texts))
    from plugin_email_manager.sanitize import text_to_html  # noqa: PLC0415 - only mixed bodies need it

    html = "".join(r.html if r.html else text_to_html(r.text or "") for r in present)
    return _Body(text="\n\n".join(t.strip("\r\n") for t in texts), html=html)


def _eml_name(part: Message, index: int) -> str:
    inner = part.get_payload(0)
    # the feed parser reads the body of a message/* part as Messages (fastmime leaves those to it)
    assert isinstance(inner, Message)
    subject = ""
    for key, value in inner.raw_items():
        if key.lower() == "subject" and isinstance(value, str):
            subject = decode_unstructured(fix_8bit(value))
            break
    subject = _FILE_UNSAFE.sub(" ", subject).strip(" .")[:120]
    return f"{subject or f'message-{index}'}.eml"


def _embedded_bytes(part: Message, errors: list[str]) -> bytes:
    try:
        inner = part.get_payload()
        # the feed parser reads the body of a message/* part as Messages (fastmime leaves those to it)
        assert isinstance(inner, list) and all(isinstance(m, Message) for m in inner)
        messages = cast("list[Message]", inner)  # checked just above
        if len(messages) == 1:
            return messages[0].as_bytes()
        # message/delivery-status and kin: a list of header blocks.
        return b"\n".join(block.as_bytes() for block in messages)
    except Exception as exc:  # noqa: BLE001
        errors.append(f"embedded message: {type(exc).__name__}: {exc}")
        return b""


def _cut_short(msg: Message) -> bool:
    """Whether the feed parser ended a header block of this message at a line it could not read."""
    return any(isinstance(d, MissingHeaderBodySeparatorDefect) for part in msg.walk() for d in part.defects)


def _cut_parts(raw: bytes) -> tuple[bytes, bytes]:
    """(what is parsed, the rest): the message up to its ``MAX_PARTS``-th line starting with "--"."""
    if raw.count(b"\n--") <= MAX_PARTS:
        return raw, b""
    at = -1
    for _ in range(MAX_PARTS):
        at = raw.find(b"\n--", at + 1)
    return raw[: at + 1], raw[at + 1 :]


def _cut_text(text: str, what: str, errors: list[str]) -> str:
    if len(text) <= MAX_BODY_CHARS:
        return text
    errors.append(f"{what}: {len(text) - MAX_BODY_CHARS} characters after the first {MAX_BODY_CHARS} left out")
    return text[:MAX_BODY_CHARS]


def parse_message(raw: bytes) -> ParsedMessage:
    """Decode the body and attachments of one message (see the module doc); never raises."""
    result = ParsedMessage()
    errors = result.errors
    try:
        raw = bytes(raw or b"")
        raw, rest = _cut_parts(raw)
        msg = split_message(raw, P.RAW_COMPAT32)
        if msg is None:
            msg = _feed_parse(raw)
            mended = mend(raw) if _cut_short(msg) else None
            if mended is not None:
                msg = split_message(mended, P.RAW_COMPAT32) or _feed_parse(mended)
        walker = _Walker(errors)
        body = walker.visit(msg)
        if rest:
            errors.append(f"message: more than {MAX_PARTS} parts, the rest kept as remaining-parts.txt")
            walker.found.append(
                (
                    {
                        "filename": "remaining-parts.txt",
                        "contentType": "text/plain",
                        "size": len(rest),
                        "contentId": None,
                        "inline": False,
                        "content": rest,
                    },
                    "attachment",
                )
            )
        if walker.unlisted:
            errors.append(f"message: {walker.unlisted} attachments beyond the first {MAX_ATTACHMENTS} not listed")
    except Exception as exc:  # noqa: BLE001 - the parser gave up: show the body bytes as text
        errors.append(f"message: {type(exc).__name__}: {exc}")
        if not isinstance(raw, bytes):
            return result
        result.text = _cut_text(
            decode_text(raw[len(header_block(raw)) :].strip(), None).replace("\x00", ""), "text", errors
        )
        result.snippet = make_snippet(result.text)
        return result
    # NUL carries nothing readable, and PostgreSQL text refuses it.
    result.html = _cut_text(body.html.replace("\x00", ""), "html", errors) if body.html else body.html
    text = body.text if body.text is not None else (html_to_text(result.html) if result.html else "")
    result.text = _cut_text(text.replace("\x00", ""), "text", errors)
    referenced = {unquote(m).lower() for m in _CID_REF.findall(body.html or "")}
    for attachment, disposition in walker.found:
        cid = attachment["contentId"]
        attachment["inline"] = bool(cid) and disposition != "attachment" and cid.lower() in referenced
        result.attachments.append(attachment)
    result.has_attachments = any(not a["inline"] for a in result.attachments)
    result.snippet = make_snippet(result.text)
    return result
