"""BODYSTRUCTURE (RFC 3501 7.4.2): a message's MIME tree as the server read it, without its bytes.

The headers-first sync lists a message from its header fields and this tree: whether it has
attachments, their names, types and sizes, and which sections hold its text (what the second
pass fetches with ``BODY.PEEK[<section>]``). Pure functions over the values ``wire`` parsed
(bytes, None, nested lists), no I/O.

    ("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 12 1 NIL NIL NIL NIL)       -> section 1
    (("text" "plain" ...)("image" "png" ("name" "a.png") "<c@x>" NIL "base64" 300 ...) "related" ...)
                                                             -> sections 1 and 2 of a multipart

A part's section is its path of 1-based indexes; a single-part message's body is section 1. An
attached message (``message/rfc822``) is one attachment whatever it holds: its own parts are not
walked, as ``mailparse.body`` does with the bytes. Names are read as ``mailparse.parts.filename``
reads them: RFC 2231 (``filename*0*=utf-8''...``) joined and decoded, RFC 2047 words decoded.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from plugin_email_manager.mailparse.body import MAX_ATTACHMENTS
from plugin_email_manager.mailparse.charsets import decode_text, decode_words, fix_8bit
from plugin_email_manager.mailparse.parts import clean_filename, generated_name

MAX_DEPTH = 50  # nested multiparts followed; deeper ones are left out (a hostile tree)
_SECTION = re.compile(r"\d+(\.\d+)*")
_EML_TYPES = ("message/rfc822", "message/global")
_FILE_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
_STARRED = re.compile(r"([^*]+)\*(?:(\d+)(\*)?)?")  # RFC 2231: name*, name*0, name*0*
_TYPE_NAME = re.compile(r"[a-z0-9!#$&^_.+-]+")


@dataclass
class BodyPart:
    section: str
    type: str  # "text/plain", lower-case
    params: dict[str, str] = field(default_factory=dict)  # Content-Type parameters, names lower-case
    id: str | None = None  # Content-ID without its angle brackets
    encoding: str = "7bit"  # Content-Transfer-Encoding, lower-case
    size: int = 0  # octets as sent (before the transfer encoding is undone)
    disposition: str = ""  # "attachment", "inline" or ""
    disposition_params: dict[str, str] = field(default_factory=dict)
    parts: list[BodyPart] = field(default_factory=list)  # a multipart's children
    subject: str | None = None  # an attached message's subject (its envelope)

    @property
    def is_multipart(self) -> bool:
        return self.type.startswith("multipart/")

    @property
    def filename(self) -> str | None:
        name = self.disposition_params.get("filename") or self.params.get("name")
        return clean_filename(name) if name else None

    @property
    def charset(self) -> str | None:
        return self.params.get("charset") or None

    def decoded_size(self) -> int:
        """The size once the transfer encoding is undone: exact but for base64, where 76
        characters and a line break carry 57 bytes."""
        return self.size * 57 // 78 if self.encoding == "base64" else self.size


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        if value.isascii():  # what fix_8bit answers for ASCII, without its calls
            return value.decode("ascii")
        return fix_8bit(value.decode("ascii", "surrogateescape"))
    return ""


def _params(value: Any) -> dict[str, str]:
    """``("charset" "utf-8" "name*0*" "utf-8''a%20" "name*1*" "b.pdf")`` -> ``{"charset": "utf-8",
    "name": "a b.pdf"}``: RFC 2231 continuations joined in order and their charset applied."""
    if not isinstance(value, list):
        return {}
    plain: dict[str, str] = {}
    pieces: dict[str, list[tuple[int, bool, str]]] = {}
    for i in range(0, len(value) - 1, 2):
        key, val = _text(value[i]).strip().lower(), _text(value[i + 1])
        if not key:
            continue
        m = _STARRED.fullmatch(key) if "*" in key else None
        if m is None:
            plain.setdefault(key, val)
        else:
            encoded = m.group(2) is None or m.group(3) is not None
            pieces.setdefault(m.group(1), []).append((int(m.group(2) or 0), encoded, val))
    for name, chunks in pieces.items():
        chunks.sort(key=lambda c: c[0])
        charset, data = None, b""
        for n, encoded, val in chunks:
            if encoded:
                if n == 0 and val.count("'") >= 2:
                    charset, _language, val = val.split("'", 2)
                data += urllib.parse.unquote_to_bytes(val)
            else:
                data += val.encode("utf-8", "surrogateescape")
        plain[name] = decode_text(data, charset or "utf-8")  # the starred form wins over a plain one
    return plain


def _disposition(value: Any) -> tuple[str, dict[str, str]]:
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return _text(value[0]).strip().lower(), _params(value[1] if len(value) > 1 else None)
    return "", {}


def _int(value: Any) -> int:
    try:
        return max(0, int(value)) if isinstance(value, bytes) else 0
    except ValueError:
        return 0


def parse_bodystructure(value: Any, section: str = "", depth: int = 0) -> BodyPart:
    """The tree of one BODYSTRUCTURE value (the list after the ``BODYSTRUCTURE`` key); never
    raises: what a server got wrong is read as ``application/octet-stream``."""
    if not isinstance(value, list) or not value:
        return BodyPart(section or "1", "application/octet-stream")
    if isinstance(value[0], list):  # a multipart: its children, then its subtype and extensions
        n = 1
        while n < len(value) and isinstance(value[n], list):
            n += 1
        children, rest = value[:n], value[n:]  # then the subtype, its parameters, disposition...
        subtype = _text(rest[0]).strip().lower() if rest else "mixed"
        part = BodyPart(section, f"multipart/{subtype or 'mixed'}", params=_params(rest[1] if len(rest) > 1 else None))
        part.disposition, part.disposition_params = _disposition(rest[2] if len(rest) > 2 else None)
        if depth < MAX_DEPTH:
            prefix = f"{section}." if section else ""
            part.parts = [parse_bodystructure(c, f"{prefix}{i}", depth + 1) for i, c in enumerate(children, 1)]
        return part
    values = value if len(value) >= 7 else value + [None] * (7 - len(value))
    main, sub = _text(values[0]).strip().lower(), _text(values[1]).strip().lower()
    ctype = f"{main}/{sub}" if main and sub and _TYPE_NAME.fullmatch(main + sub) else "text/plain"
    cid = _text(values[3]).strip()
    part = BodyPart(
        section or "1",
        ctype,
        params=_params(values[2]),
        id=("".join(cid.split()).strip("<>") or None) if cid else None,
        encoding=_text(values[5]).strip().lower() or "7bit",
        size=_int(values[6]),
    )
    # the extension data's place depends on the type: text/* adds its line count, message/rfc822
    # its envelope, body structure and line count (RFC 3501 7.4.2)
    extra = 8 if main == "text" else 10 if ctype in _EML_TYPES and len(value) > 9 else 7
    if ctype in _EML_TYPES and len(value) > 7 and isinstance(value[7], list) and len(value[7]) > 1:
        subject = value[7][1]
        part.subject = decode_words(_text(subject)) if isinstance(subject, bytes) else None
    if len(value) > extra + 1:
        part.disposition, part.disposition_params = _disposition(value[extra + 1])
    return part


def is_text_body(part: BodyPart) -> bool:
    """A text part that is the message's body, as ``mailparse.body`` decides it."""
    return part.type in ("text/plain", "text/html") and part.disposition != "attachment" and not part.filename


def text_parts(root: BodyPart) -> list[BodyPart]:
    """The parts holding the message's text, in order: what the second pass fetches."""
    if root.is_multipart:
        return [p for child in root.parts for p in text_parts(child)]
    return [root] if is_text_body(root) else []


def attachments(root: BodyPart) -> list[dict]:
    """The attachments as ``mailparse.body`` lists them (``filename``, ``contentType``, ``size``
    decoded, ``contentId``, ``inline``; the first ``MAX_ATTACHMENTS``), each with its ``section``
    and transfer ``encoding``."""
    found: list[dict] = []

    def walk(part: BodyPart, related: bool) -> None:
        if part.is_multipart:
            for child in part.parts:
                walk(child, part.type == "multipart/related")
            return
        if is_text_body(part) or len(found) >= MAX_ATTACHMENTS:
            return
        index = len(found) + 1
        name = part.filename
        if not name and part.type in _EML_TYPES:
            subject = _FILE_UNSAFE.sub(" ", part.subject or "").strip(" .")[:120]
            name = f"{subject or f'message-{index}'}.eml"
        found.append(
            {
                "filename": name or generated_name(part.type, index),
                "contentType": part.type,
                "size": part.decoded_size(),
                "contentId": part.id,
                # known for sure once the HTML is read; an image of a related multipart is its
                "inline": bool(part.id) and part.disposition != "attachment" and related,
                "section": part.section,
                "encoding": part.encoding,
            }
        )

    walk(root, False)
    return found


def text_tree(root: BodyPart) -> dict | None:
    """The multiparts and text parts of the message, as JSON (what is stored to fetch the text
    later): ``{"type", "section", "charset", "encoding", "parts"}``; None when it has no text."""
    if root.is_multipart:
        parts = [t for t in (text_tree(c) for c in root.parts) if t is not None]
        return {"type": root.type, "section": root.section, "parts": parts} if parts else None
    if not is_text_body(root):
        return None
    return {"type": root.type, "section": root.section, "charset": root.charset, "encoding": root.encoding}


def tree_sections(tree: dict | None) -> list[str]:
    """The sections of a ``text_tree``'s text parts, in order."""
    if not tree:
        return []
    if "parts" in tree:
        return [s for child in tree["parts"] for s in tree_sections(child)]
    return [tree["section"]]


def text_message(tree: dict | None, bodies: dict[str, bytes]) -> bytes:
    """A MIME message of the text parts alone (a ``text_tree``), each with its bytes (``bodies``
    by section) as sent and its type, charset and transfer encoding from the structure, inside
    the multiparts that held them: decoded by ``mailparse.parse_message`` it gives the text and
    HTML the whole message would (alternatives chosen, mixed parts joined), without its
    attachments."""

    def build(part: dict) -> bytes:
        ctype = part["type"] if re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", part["type"]) else "text/plain"
        if "parts" in part:
            children = [build(c) for c in part["parts"]]
            boundary = b"=_text_" + str(part["section"] or "0").encode() + b"_" + b"b" * 8
            while any(boundary in c for c in children):
                boundary += b"x"
            body = b"".join(b"--" + boundary + b"\r\n" + c + b"\r\n" for c in children) + b"--" + boundary + b"--\r\n"
            return b"Content-Type: " + ctype.encode() + b'; boundary="' + boundary + b'"\r\n\r\n' + body
        head = b"Content-Type: " + ctype.encode()
        charset = part.get("charset")
        if charset and re.fullmatch(r"[A-Za-z0-9_.:-]+", charset):
            head += b"; charset=" + charset.encode()
        encoding = part.get("encoding") or "7bit"
        encoding = encoding if re.fullmatch(r"[a-z0-9_.-]+", encoding) else "7bit"
        head += b"\r\nContent-Transfer-Encoding: " + encoding.encode()
        return head + b"\r\n\r\n" + bodies.get(part["section"], b"")

    return build(tree) if tree else EMPTY_TEXT


EMPTY_TEXT = b"Content-Type: text/plain\r\n\r\n"  # a message without text


def valid_section(section: str) -> bool:
    return bool(_SECTION.fullmatch(section))
