"""Build the outgoing ``EmailMessage`` (RFC 5322 + MIME), ready for SMTP and for the Sent folder.

Structure, from the outside in (each level only when needed)::

    multipart/mixed            body + attachments
      multipart/alternative    text/plain + the HTML side
        multipart/related      text/html + inline images referenced as cid:
      attachment ...

Header injection: a CR or LF in a display name or an address is refused (``BadRequest``,
code ``INVALID_HEADER``): an address that is not one must not be "repaired" into another
recipient. In the subject, line breaks are folded to one space: a pasted multi-line subject is
an honest mistake, and folding cannot add a header.

Text parts go out 7bit, quoted-printable or base64 and attachments base64 (a message/rfc822
one as 7bit, or as application/octet-stream when it is not 7-bit clean), so the whole message is
7-bit clean and needs no 8BITMIME.
Domains go on the wire as IDNA A-labels. Bcc never becomes a header: pass it to
``envelope_recipients``.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime, timezone
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message, MIMEPart
from email.utils import make_msgid
from typing import Any, Iterable

from host.errors import BadRequest
from plugin_email_manager.errors import AttachmentTooLarge, InvalidAddress
from plugin_email_manager.plaintext import html_to_text
from plugin_email_manager.sendmail.recipients import address_key, ascii_domain, is_valid_address, parse_recipients

POLICY = policy.SMTP  # CRLF line ends, as SMTP and IMAP APPEND want them
MIB = 1024 * 1024
# C0 and C1 controls and the Unicode line and paragraph separators: NEL (\x85) in a display
# name came back from the parser as a space, U+2028 in a header value is refused by it
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# every line break str.splitlines knows: the email package refuses a header value holding any
_BREAKS = re.compile(r"\s*[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+\s*")
_LONG_WORD = re.compile(r"\S{60}")
# a display name written as it is: atoms and single spaces (no "=" or "?": no encoded-word look-alike)
_PLAIN_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+/^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/^_`{|}~-]+)*\Z")
_HEADER_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+\Z")
# headers build_message owns: extra_headers may not replace them
_OWN_HEADERS = {
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "sender",
    "reply-to",
    "return-path",
}


def _invalid_header(what: str) -> BadRequest:
    return BadRequest(f"{what} may not contain line breaks or control characters", code="INVALID_HEADER")


def _address(item: Any, role: str) -> Address:
    """One {"name","address"} (or a typed string) as a header Address with an A-label domain."""
    if isinstance(item, str):
        found = parse_recipients(item)
        if len(found) != 1:
            raise InvalidAddress(f"Not a valid email address: {item}", address=item)
        item = found[0]
    name, address = str(item.get("name") or "").strip(), str(item.get("address") or "").strip()
    if _CONTROL.search(name) or _CONTROL.search(address):
        raise _invalid_header(f"The {role} name or address")
    if not is_valid_address(address):
        raise InvalidAddress(f"Not a valid email address: {address}", address=address)
    local, _, domain = address.rpartition("@")
    return Address(display_name=name, addr_spec=f"{local}@{ascii_domain(domain)}")


def _encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 base64 encoded-words, each short enough for a line of its own after
    a header name (42 bytes: 56 base64 characters), never splitting a character."""
    chunks, chunk = [], b""
    for ch in text:
        b = ch.encode()
        if len(chunk) + len(b) > 42:
            chunks.append(chunk)
            chunk = b""
        chunk += b
    chunks.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(c).decode('ascii')}?=" for c in chunks if c]


def _fold_at_spaces(text: str, used: int) -> str:
    """ASCII ``text`` with no word of 60 characters or more, in lines of at most 78 characters
    (``used`` by the header name on the first), each break before a space: unfolded, it is
    ``text`` again."""
    lines, line = [], ""
    for piece in re.split(r"(?= )", text):
        if line and used + len(line) + len(piece) > 78:
            lines.append(line)
            line, used = "", 0
        line += piece
    lines.append(line)
    return "\r\n".join(lines)


def _address_header(addresses: list[Address]) -> str:
    """An address header's value, folded here, one address a line.

    Not left to the email package: folding a quoted display name longer than a line, it drops
    the quotes, so "Doe, Ann Doe, Ann ..." came out as a dozen addresses, and a name that reads
    as an encoded-word ("=?utf-8?q?x?=") came back decoded. A name that is not plain atoms is
    written as encoded-words, which fold between words and decode to exactly the name."""
    items = []
    for a in addresses:
        name, spec = a.display_name, a.addr_spec
        if not name:
            items.append(spec)
        elif _PLAIN_NAME.match(name) and len(name) + len(spec) <= 64:
            items.append(f"{name} <{spec}>")
        else:
            words = [name] if _PLAIN_NAME.match(name) and len(name) <= 64 else _encoded_words(name)
            items.append("\r\n ".join([*words, f"<{spec}>"]))
    return ",\r\n ".join(items)


def _addresses(items: Iterable[Any] | None, role: str) -> list[Address]:
    if isinstance(items, str):
        items = parse_recipients(items)
    return [_address(item, role) for item in items or ()]


def clean_subject(subject: str | None) -> str:
    """Line breaks (and other control characters) folded to single spaces."""
    subject = _BREAKS.sub(" ", subject or "")
    return _CONTROL.sub(" ", subject).strip()


def _msg_id(value: str) -> str:
    value = value.strip()
    if _CONTROL.search(value) or " " in value:
        raise _invalid_header("A message id")
    return value if value.startswith("<") else f"<{value.strip('<>')}>"


def _text_part(content: str, subtype: str) -> MIMEPart:
    part = MIMEPart(policy=POLICY)
    lines = content.splitlines() or [""]
    if content.isascii() and max(map(len, lines)) <= 78:
        cte = "7bit"
    else:  # mostly non-Latin text is shorter in base64; anything else stays readable in QP
        wide = sum(not ch.isascii() for ch in content)
        cte = "base64" if wide * 3 > len(content) else "quoted-printable"
    part.set_content(content, subtype=subtype, charset="utf-8", cte=cte)
    return part


def _container(subtype: str, parts: list[MIMEPart]) -> MIMEPart:
    if len(parts) == 1:
        return parts[0]
    box = MIMEPart(policy=POLICY)
    # RFC 2387: multipart/related names the type of its root part
    box["Content-Type"] = f"multipart/{subtype}" + ('; type="text/html"' if subtype == "related" else "")
    children: list[Message | str] = list(parts)  # typeshed's list[Message] is invariant
    box.set_payload(children)  # the generator adds the boundary
    return box


def _content_id(att: dict[str, Any]) -> str | None:
    cid = str(att.get("contentId") or "").strip().strip("<>")
    if _CONTROL.search(cid) or " " in cid:
        raise _invalid_header("A content id")
    return cid or None


def _safe_filename(name: Any) -> str:
    # no paths, no control characters: some clients save under the name as given
    name = _CONTROL.sub(" ", str(name or "")).replace("/", "_").replace("\\", "_").strip()
    return name or "attachment"


def _attachment_part(att: dict[str, Any], inline: bool) -> MIMEPart:
    content = att.get("content")
    if not isinstance(content, (bytes, bytearray, memoryview)):
        raise BadRequest("An attachment's content must be bytes", code="INVALID_ATTACHMENT")
    content = bytes(content)
    ctype = str(att.get("contentType") or "").split(";")[0].strip().lower()
    maintype, _, subtype = ctype.partition("/")
    if not maintype or not subtype or maintype == "multipart" or not _HEADER_NAME.match(ctype):
        maintype, subtype = "application", "octet-stream"
    filename = _safe_filename(att.get("filename"))
    cte = "base64"
    if maintype == "message":  # RFC 2046 5.2.1: message/* is never base64-encoded, so it must be
        # 7-bit clean to travel as such; anything else goes as an opaque file (the .eml name stays)
        if content.isascii() and b"\x00" not in content and all(len(x) <= 998 for x in content.splitlines()):
            cte = "7bit"
        else:
            maintype, subtype = "application", "octet-stream"
    part = MIMEPart(policy=POLICY)
    # filename= (Content-Disposition) and name= (Content-Type, what Outlook reads) are both
    # RFC 2231-encoded by the policy when not ASCII; parsers return the same string.
    part.set_content(
        content,
        maintype,
        subtype,
        cte=cte,
        filename=filename,
        disposition="inline" if inline else "attachment",
        cid=f"<{cid}>" if (cid := _content_id(att)) else None,
        params={"name": filename},
    )
    return part


def _is_inline(att: dict[str, Any], html: str | None) -> bool:
    # only an image the HTML shows goes into multipart/related: an unreferenced one there would
    # be invisible in most clients (a forward's inline images whose quote lost them, say)
    cid = _content_id(att)
    return bool(cid and html and f"cid:{cid}" in html and att.get("inline", True) is not False)


def build_message(
    *,
    from_addr: dict[str, Any],
    to: Iterable[Any] = (),
    cc: Iterable[Any] = (),
    bcc: Iterable[Any] = (),
    subject: str | None = "",
    text: str | None = None,
    html: str | None = None,
    attachments: Iterable[dict[str, Any]] = (),
    in_reply_to: str | None = None,
    references: Iterable[str] = (),
    message_id: str | None = None,
    date: datetime | None = None,
    extra_headers: dict[str, str] | None = None,
    reply_to: Any = None,
) -> EmailMessage:
    """The message to send. ``bcc`` is validated here but never written to a header; ``reply_to``
    (an address, as ``from_addr``) writes Reply-To.

    Addresses are ``{"name","address"}`` dicts or typed strings. With HTML only, a text
    alternative is made from it; with neither, an empty text part. Attachments are dicts
    ``{"filename","contentType","content": bytes, "contentId"?, "inline"?}``; one with a
    contentId that the HTML refers to (``cid:<contentId>``) goes into multipart/related unless
    ``inline`` is false; every other one is a plain attachment.
    """
    sender = _address(from_addr, "From")
    to_list, cc_list = _addresses(to, "To"), _addresses(cc, "Cc")
    _addresses(bcc, "Bcc")
    attachments = list(attachments or ())

    msg = EmailMessage(policy=POLICY)
    # set raw, folded by us (see _address_header); read back, they parse as usual
    msg.set_raw("From", _address_header([sender]))
    if to_list:
        msg.set_raw("To", _address_header(to_list))
    if cc_list:
        msg.set_raw("Cc", _address_header(cc_list))
    if reply_to:
        msg.set_raw("Reply-To", _address_header([_address(reply_to, "Reply-To")]))
    subject = clean_subject(subject)
    # written raw, folded here: the email package reads "=?...?=" as an encoded-word and
    # decodes it, adds a space where it folds non-ASCII or a long word, and folding right after
    # "Subject:" gives the subject a leading space. Plain ASCII is folded at its spaces, the
    # rest written as encoded-words.
    if "=?" in subject or not subject.isascii() or _LONG_WORD.search(subject):
        msg.set_raw("Subject", "\r\n ".join(_encoded_words(subject)))
    else:
        msg.set_raw("Subject", _fold_at_spaces(subject, len("Subject: ")))
    when = date or datetime.now(timezone.utc)
    msg["Date"] = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    msg["Message-ID"] = _msg_id(message_id) if message_id else make_msgid(domain=sender.domain)
    if in_reply_to:
        msg["In-Reply-To"] = _msg_id(in_reply_to)
    refs = [_msg_id(r) for r in references or () if r and r.strip()]
    if refs:
        msg["References"] = " ".join(refs)
    for name, value in (extra_headers or {}).items():
        if not _HEADER_NAME.match(name) or name.lower() in _OWN_HEADERS or name.lower().startswith("content-"):
            raise BadRequest(f"Header {name!r} may not be set here", code="INVALID_HEADER")
        if _CONTROL.search(str(value).replace("\t", " ")):
            raise _invalid_header(f"Header {name}")
        msg[name] = str(value)
    msg["MIME-Version"] = "1.0"

    inline = [a for a in attachments if _is_inline(a, html)]
    regular = [a for a in attachments if not _is_inline(a, html)]
    plain = text if text is not None else (html_to_text(html) if html is not None else "")
    body = _text_part(plain, "plain")
    if html is not None:
        rich = _container("related", [_text_part(html, "html"), *(_attachment_part(a, True) for a in inline)])
        body = _container("alternative", [body, rich])
    top = _container("mixed", [body, *(_attachment_part(a, False) for a in regular)])
    # move the top part's content into the message itself (parts built as MIMEPart carry no
    # MIME-Version header of their own, unlike EmailMessage.add_* would give them)
    for name, value in top.items():
        msg[name] = value
    msg.set_payload(top.get_payload())
    return msg


def envelope_recipients(msg: EmailMessage, bcc: Iterable[Any] = ()) -> list[str]:
    """RCPT TO addresses: To, Cc and Bcc, A-label domains, each once (case-insensitively)."""
    found: list[str] = []
    for name in ("To", "Cc"):
        for header in msg.get_all(name) or ():
            found.extend(a.addr_spec for a in header.addresses)
    found.extend(a.addr_spec for a in _addresses(bcc, "Bcc"))
    seen: set[str] = set()
    unique = []
    for address in found:
        if address_key(address) not in seen:
            seen.add(address_key(address))
            unique.append(address)
    return unique


def envelope_sender(msg: EmailMessage) -> str:
    """MAIL FROM: the From address as written in the header."""
    return msg["From"].addresses[0].addr_spec


def attachments_size(attachments: Iterable[dict[str, Any]] | None) -> int:
    """Decoded bytes of all attachments."""
    return sum(len(a.get("content") or b"") for a in attachments or ())


def check_size(attachments: Iterable[dict[str, Any]] | None, limit_mib: float) -> None:
    """Raise ``AttachmentTooLarge`` when the attachments together exceed ``limit_mib`` MiB."""
    size = attachments_size(attachments)
    if size > limit_mib * MIB:
        raise AttachmentTooLarge(
            f"The attachments come to {size / MIB:.1f} MiB; the limit is {limit_mib:g} MiB per message",
            limitMiB=limit_mib,
            sizeMiB=round(size / MIB, 2),
        )
