"""Reply and forward drafts made from an original message, as the API answers one.

Pure functions: the original is the dict of ``mailMessages:get`` (``messageId``, ``references``,
``subject``, ``from``, ``to``, ``cc``, ``replyTo``, ``date``, ``text``, ``html``, ``attachments``);
nothing is read or sent here.

Recipients follow what mail clients do: a reply goes to Reply-To, else to From; a reply to a
message the account sent itself goes to that message's recipients. Reply-all adds the other
To and Cc addresses, never the account's own, each address once (compared case-insensitively).
"""

from __future__ import annotations

import html as htmllib
from datetime import datetime
from typing import Any, Iterable

from plugin_email_manager.conversations import forward_subject, reply_subject
from plugin_email_manager.sendmail.compose import html_to_text
from plugin_email_manager.sendmail.recipients import address_key, format_address

FORWARD_LINE = "---------- Forwarded message ---------"
# RFC 5537 3.4.4: keep References under a line's 998 characters; we also cap the count
REFERENCES_MAX_CHARS = 998 - len("References: ")
REFERENCES_MAX_IDS = 20


# -- references -------------------------------------------------------------------------------


def trim_references(
    ids: Iterable[str], max_chars: int = REFERENCES_MAX_CHARS, max_ids: int = REFERENCES_MAX_IDS
) -> list[str]:
    """``ids`` without duplicates, trimmed as RFC 5537 3.4.4 says: keep the first (the thread's
    root) and as many of the last (the nearest parents) as fit in ``max_chars`` and ``max_ids``."""
    unique: list[str] = []
    for ref in ids:
        ref = (ref or "").strip()
        if ref and ref not in unique:
            unique.append(ref)
    if len(unique) <= max_ids and len(" ".join(unique)) <= max_chars:
        return unique
    first = unique[0]
    kept: list[str] = []
    used = len(first)
    for ref in reversed(unique[1:]):
        if len(kept) + 2 > max_ids or used + 1 + len(ref) > max_chars:
            break
        kept.append(ref)
        used += 1 + len(ref)
    return [first, *reversed(kept)]


def _references(original: dict[str, Any]) -> list[str]:
    refs = list(original.get("references") or [])
    if original.get("messageId"):
        refs.append(original["messageId"])
    return trim_references(refs)


# -- recipients -------------------------------------------------------------------------------


def _plain(addr: dict[str, Any] | None) -> dict[str, str] | None:
    if not addr or not addr.get("address"):
        return None
    return {"name": addr.get("name") or "", "address": addr["address"]}


def _unique(addrs: Iterable[dict[str, Any] | None], exclude: set[str]) -> list[dict[str, str]]:
    """Addresses in order, each once, none whose key is in ``exclude`` (which grows)."""
    found = []
    for addr in addrs:
        addr = _plain(addr)
        if addr and address_key(addr["address"]) not in exclude:
            exclude.add(address_key(addr["address"]))
            found.append(addr)
    return found


def reply_recipients(
    original: dict[str, Any], account_addresses: Iterable[str], reply_all: bool
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(to, cc) of a reply to ``original`` by the account owning ``account_addresses``."""
    mine = {address_key(a) for a in account_addresses}
    sender = _plain(original.get("from"))
    orig_to, orig_cc = list(original.get("to") or []), list(original.get("cc") or [])
    if sender and address_key(sender["address"]) in mine:
        # our own sent message: write to its recipients again (to ourselves if there were none)
        to = _unique(orig_to, set(mine)) or _unique(orig_to or [sender], set())
        others = orig_cc
    else:
        reply_to = [a for a in original.get("replyTo") or [] if _plain(a)]
        chosen = reply_to or [sender]
        to = _unique(chosen, set(mine)) or _unique(chosen, set())
        # Reply-To stands for the author (RFC 5322 3.6.3), as Thunderbird and Gmail read it:
        # reply-all goes to it and the other recipients, not to From besides
        others = orig_to + orig_cc
    cc = _unique(others, mine | {address_key(a["address"]) for a in to}) if reply_all else []
    return to, cc


# -- quoting ----------------------------------------------------------------------------------


def _when(value: Any) -> str:
    """The original's date as people read it: "Mon, 3 Mar 2025 at 14:05 +0000"."""
    if not value:
        return ""
    try:
        dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    zone = dt.strftime(" %z") if dt.tzinfo else ""
    return f"{dt:%a}, {dt.day} {dt:%b %Y} at {dt:%H:%M}{zone}"


def _original_text(original: dict[str, Any]) -> str:
    text = original.get("text") or ""
    if not text.strip() and original.get("html"):
        text = html_to_text(original["html"])
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _original_html(original: dict[str, Any]) -> str:
    """The original's HTML, sanitized again for embedding, or its text as HTML."""
    # imported here: sanitize pulls in nh3, which the pure text paths do not need
    from plugin_email_manager.sanitize import sanitize_html, text_to_html

    if original.get("html"):
        # the API's html is sanitized already; again here because it is about to be sent on
        return sanitize_html(original["html"]).html
    return text_to_html(_original_text(original).rstrip("\n"))


def quote_text(text: str) -> str:
    """Every line prefixed the way mail clients quote ("> ", ">" for empty ones, ">>" nested)."""
    lines = text.rstrip("\n").split("\n") if text.strip() else []
    return "".join((">" + line if line.startswith(">") else "> " + line if line else ">") + "\n" for line in lines)


def _attribution(original: dict[str, Any]) -> str:
    sender = _plain(original.get("from"))
    who = format_address(sender) if sender else "someone"
    when = _when(original.get("date"))
    return f"On {when}, {who} wrote:" if when else f"{who} wrote:"


def prepare_reply(original: dict[str, Any], *, account_addresses: Iterable[str], reply_all: bool) -> dict[str, Any]:
    """A reply draft: ``{"to","cc","subject","text","html","inReplyTo","references"}``.

    ``text`` and ``html`` hold only the quote, preceded by room to write; put the answer in
    front of them (``with_quote`` does that).
    """
    to, cc = reply_recipients(original, account_addresses, reply_all)
    attribution = _attribution(original)
    return {
        "to": to,
        "cc": cc,
        "subject": reply_subject(original.get("subject")),
        "text": f"\n\n{attribution}\n{quote_text(_original_text(original))}",
        "html": (
            f'<br><br><div class="ec-quote">{htmllib.escape(attribution)}<br>'
            f'<blockquote type="cite" style="margin:0 0 0 .8ex;border-left:1px solid #ccc;'
            f'padding-left:1ex">{_original_html(original)}</blockquote></div>'
        ),
        "inReplyTo": original.get("messageId"),
        "references": _references(original),
    }


def _header_block(original: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [
        ("From", format_address(_plain(original.get("from")) or {"name": "", "address": ""})),
        ("Date", _when(original.get("date"))),
        ("Subject", original.get("subject") or ""),
        ("To", ", ".join(format_address(a) for a in original.get("to") or [] if _plain(a))),
    ]
    cc = ", ".join(format_address(a) for a in original.get("cc") or [] if _plain(a))
    if cc:
        rows.append(("Cc", cc))
    return rows


def prepare_forward(original: dict[str, Any]) -> dict[str, Any]:
    """A forward draft: ``{"to": [], "cc": [], "subject": "Fwd: …", "text", "html",
    "attachments", "inReplyTo", "references"}``; ``attachments`` are the original's descriptors
    (``{"id","filename","contentType","size","contentId"}``) for the sender to carry over."""
    rows = _header_block(original)
    text = f"\n\n{FORWARD_LINE}\n" + "".join(f"{k}: {v}\n" for k, v in rows) + "\n" + _original_text(original)
    block = "<br>".join(f"{k}: {htmllib.escape(v)}" for k, v in rows)
    return {
        "to": [],
        "cc": [],
        "subject": forward_subject(original.get("subject")),
        "text": text,
        "html": (f'<br><br><div class="ec-forward">{FORWARD_LINE}<br>{block}<br><br>{_original_html(original)}</div>'),
        "attachments": [dict(a) for a in original.get("attachments") or []],
        "inReplyTo": original.get("messageId"),
        "references": _references(original),
    }


def with_quote(prepared: dict[str, Any], *, text: str | None = None, html: str | None = None) -> tuple[str, str | None]:
    """(text, html) of the message to send: the writer's words above the prepared quote.

    The HTML side exists only when the writer gave HTML; a plain-text answer stays plain.
    """
    top = text if text is not None else (html_to_text(html) if html is not None else "")
    out_text = top.rstrip("\n") + prepared["text"]
    out_html = html + prepared["html"] if html is not None else None
    return out_text, out_html
