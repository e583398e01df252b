"""Reading one MIME part: its type, disposition, file name, Content-ID and decoded bytes.

Works on compat32 ``Message`` objects, whose lenient parser never raises; every value is cleaned
here because real mail carries ``application/pdf name="x.pdf"`` as a type, 8-bit file names,
``base9000`` transfer encodings and base64 with stray characters.
"""

from __future__ import annotations

import binascii
import mimetypes
import re
from email.message import Message
from email.policy import Compat32
from email.utils import unquote

from .charsets import decode_text, decode_words, fix_8bit


class RawCompat32(Compat32):
    """compat32, except that header values keep their 8-bit bytes (surrogate-escaped).

    compat32 turns such a value into a ``Header`` whose ``str()`` puts U+FFFD for every 8-bit
    byte, so ``get_param("filename")`` of a raw GBK or UTF-8 name would be lost; ``fix_8bit``
    decodes the kept bytes properly where a value is read.

    A value read is cut at ``MAX_HEADER_VALUE`` characters: the stdlib's parameter parser
    (``get_param``, ``get_boundary``, ``get_content_charset``) copies the rest of the value at
    each ``;``, so a 1 MB ``Content-Type: a;a;a;...`` took minutes to read. No type, disposition
    or encoding of real mail comes near the cap; the raw header (``raw_items``) is kept whole.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value[:MAX_HEADER_VALUE]


MAX_HEADER_VALUE = 16 * 1024


RAW_COMPAT32 = RawCompat32()
_MIME_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_NOT_BASE64_OR_SPACE = re.compile(rb"[^A-Za-z0-9+/=\s]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "application/zip": ".zip",
    "application/octet-stream": ".bin",
    "application/pgp-signature": ".asc",
    "message/rfc822": ".eml",
    "message/global": ".eml",
}
_MIME_GUESSER = mimetypes.MimeTypes(filenames=())  # the built-in table only: same answer on every host


def content_type(part: Message) -> str:
    """The part's ``type/subtype``, lower-case, with junk around it cut off; defaults per RFC 2045."""
    value = part.get("content-type")
    if value is None:
        return part.get_default_type()
    m = _MIME_TYPE.match(fix_8bit(str(value)).strip().lower())
    return m.group(0) if m else "text/plain"


def disposition(part: Message) -> str:
    value = part.get("content-disposition")
    if value is None:
        return ""
    return fix_8bit(str(value)).split(";", 1)[0].strip().lower()


def content_id(part: Message) -> str | None:
    value = part.get("content-id")
    if value is None:
        return None
    cid = "".join(fix_8bit(str(value)).split()).strip("<>")
    return cid or None


def filename(part: Message) -> str | None:
    """The file name from Content-Disposition, else Content-Type ``name``: RFC 2231 and (non-standard
    but common) RFC 2047 decoded, path parts and control characters removed; None when absent."""
    raw = None
    for param, header in (("filename", "content-disposition"), ("name", "content-type")):
        try:
            raw = part.get_param(param, None, header)
        except Exception:  # noqa: BLE001 - a parameter list too broken to read
            raw = None
        if raw:
            break
    if not raw:
        return None
    if isinstance(raw, tuple):
        charset, _language, text = raw
        name = decode_text(text.encode("latin-1", "surrogateescape"), charset or "utf-8")
    else:
        name = fix_8bit(unquote(raw))
    return clean_filename(name)


def clean_filename(name: str) -> str | None:
    """A file name as a reader may see it: RFC 2047 words decoded, path parts and control
    characters removed, at most 255 characters; None when nothing is left."""
    if "=?" in name:
        name = decode_words(name)
    name = _CONTROL.sub("", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if name in ("", ".", ".."):
        return None
    return name[:255]


def generated_name(ctype: str, index: int) -> str:
    """``attachment-<n><ext>`` for an unnamed part, the extension from its type."""
    ext = _EXTENSIONS.get(ctype) or _MIME_GUESSER.guess_extension(ctype)
    if not ext:
        ext = ".txt" if ctype.startswith(("text/", "message/")) else ".bin"
    return f"attachment-{index}{ext}"


def payload_bytes(part: Message, errors: list[str]) -> bytes:
    """The part's body with its transfer encoding undone, as leniently as the encoding allows."""
    # The stored payload, not get_payload(): that re-decodes 8-bit bytes from the declared
    # charset with replacement characters, losing what decode_text would recover.
    payload = getattr(part, "_payload", None)
    if payload is None:
        payload = part.get_payload()
    if isinstance(payload, list):
        return b""
    if not isinstance(payload, str):
        return bytes(payload or b"")
    try:
        data = payload.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:  # a payload set from real text (not parsed from bytes)
        data = payload.encode("utf-8", "surrogateescape")
    cte = fix_8bit(str(part.get("content-transfer-encoding", ""))).strip().lower()
    if "uue" in cte or "uuencode" in cte:
        try:
            decoded = part.get_payload(decode=True)
            return decoded if isinstance(decoded, bytes) else data
        except Exception:  # noqa: BLE001
            errors.append("uuencode: unreadable, kept as sent")
            return data
    return decode_transfer(data, cte, errors)


def decode_transfer(data: bytes, cte: str, errors: list[str]) -> bytes:
    """Bytes with their transfer encoding (``cte``, lower-case) undone, as leniently as it allows;
    also for a part's bytes fetched alone (``BODY[<section>]``, its encoding from BODYSTRUCTURE)."""
    if "base64" in cte:
        return _base64(data, errors)
    if "quoted-printable" in cte or cte in ("qp", "quoted_printable"):
        return binascii.a2b_qp(data)
    if cte and cte not in ("7bit", "8bit", "binary", "7-bit", "8-bit"):
        errors.append(f"unknown transfer encoding {cte[:40]!r}, kept as sent")
    return data


def _base64(data: bytes, errors: list[str]) -> bytes:
    if _not_base64(data):
        errors.append("declared base64 but is not, kept as sent")
        return data
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        pass
    # Stray characters or a bad length: keep every valid character, drop a dangling one.
    clean = _NOT_BASE64.sub(b"", data)
    if len(clean) % 4 == 1:
        clean = clean[:-1]
    errors.append("invalid base64, decoded what was readable")
    try:
        return binascii.a2b_base64(clean + b"=" * (-len(clean) % 4))
    except binascii.Error:
        return b""


def _not_base64(data: bytes) -> bool:
    """Text mislabelled as base64: encoded lines never hold inner spaces or punctuation."""
    sample = data[:8192]
    junk = len(_NOT_BASE64_OR_SPACE.findall(sample))
    if junk >= 4 and junk * 20 > len(sample):
        return True
    if b" " not in sample and b"\t" not in sample:  # real base64: no line to look at
        return False
    lines = [line.strip() for line in sample.splitlines() if line.strip()]
    spaced = sum(1 for line in lines if b" " in line or b"\t" in line)
    return bool(lines) and spaced * 2 > len(lines)


def part_text(part: Message, ctype: str, errors: list[str]) -> str:
    """A text part decoded from its (declared, sniffed or guessed) charset."""
    data = payload_bytes(part, errors)
    try:
        charset = part.get_content_charset()
    except Exception:  # noqa: BLE001
        charset = None
    if not charset and ctype == "text/html":
        m = _META_CHARSET.search(data[:4096])
        charset = m.group(1).decode("ascii") if m else None
    return decode_text(data, charset)
