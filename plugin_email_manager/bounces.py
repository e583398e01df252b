"""Bounces: a delivery status notification (RFC 3464: ``multipart/report;
report-type=delivery-status``) that a sync stores, for a message sent from here, marks that
message ``deliveryFailure`` (what ``get`` answers and the reader shows) and is announced as its
``messageFailed`` (``events.new_mail``).

The original is found by the report's ``Original-Message-ID`` (a field some servers add to the
per-message part), else by the ``Message-ID`` of the returned headers (``message/rfc822-headers``
or ``message/rfc822``), among the sent messages of the same user's accounts. Only recipients
whose ``Action`` is ``failed`` count: a delay or a relay is no failure.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from email.message import Message
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncpg import Pool

HEAD = 16 * 1024  # the headers where a report says what it is (after a long Received chain)
_REPORT = re.compile(rb"multipart/report", re.IGNORECASE)
_DSN = re.compile(rb"delivery-status", re.IGNORECASE)


def looks_like_report(head: bytes) -> bool:
    return bool(_REPORT.search(head) and _DSN.search(head))


def _field(block: Message, name: str) -> str:
    value = block.get(name)
    return " ".join(str(value).split()) if value is not None else ""


def _typed(value: str) -> str:
    """``rfc822; ann@example.com`` -> ``ann@example.com``; ``smtp; 550 ...`` -> ``550 ...``."""
    return value.split(";", 1)[1].strip() if ";" in value else value.strip()


def read_report(raw: bytes) -> dict[str, Any] | None:
    """A failed delivery report's facts: ``messageId`` of the original, and of its first failed
    recipient ``status`` (``5.1.1``), ``diagnostic``, ``recipient``; None when ``raw`` is no
    delivery status notification or reports no failure."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if (
        msg.get_content_type() != "multipart/report"
        or str(msg.get_param("report-type") or "").lower() != "delivery-status"
    ):
        return None
    original = ""
    failed: dict[str, str] | None = None
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            payload = part.get_payload()
            if isinstance(payload, list):
                blocks: list[Message] = [b for b in payload if isinstance(b, Message)]
            else:  # an unparsed body: read its blocks as headers
                text = part.get_payload(decode=True)
                text = text if isinstance(text, bytes) else b""
                blocks = [email.message_from_bytes(b + b"\n") for b in re.split(rb"\r?\n\r?\n", text) if b.strip()]
            for block in blocks:
                original = original or _field(block, "Original-Message-ID")
                if failed is None and _field(block, "Action").lower() == "failed":
                    failed = {
                        "status": _field(block, "Status"),
                        "diagnostic": _typed(_field(block, "Diagnostic-Code")),
                        "recipient": _typed(_field(block, "Final-Recipient") or _field(block, "Original-Recipient")),
                    }
        elif ctype in ("message/rfc822-headers", "text/rfc822-headers", "message/rfc822") and not original:
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                original = _field(inner[0], "Message-ID")
            elif isinstance(inner, str):
                original = _field(email.message_from_string(inner), "Message-ID")
    if failed is None or not original:
        return None
    text = " ".join(v for v in (failed["status"], failed["diagnostic"]) if v) or "The message was not delivered."
    if failed["status"] and failed["diagnostic"].startswith(failed["status"]):
        text = failed["diagnostic"]
    return {"messageId": original.strip(), **failed, "text": text}


async def record(db: Pool, account_id: int, ids: list[int]) -> list[tuple[int, dict[str, Any]]]:
    """Among newly stored messages ``ids`` of an account, the bounces of messages sent from
    here: each original gets its ``delivery_failure``. Answers (original id, the failure)."""
    heads = await db.fetch(
        "SELECT id, substring(raw FROM 1 FOR $2) AS head FROM mail_messages "
        "WHERE id = ANY($1::bigint[]) AND raw IS NOT NULL",
        ids,
        HEAD,
    )
    found = []
    for h in heads:
        if not looks_like_report(bytes(h["head"])):
            continue
        raw = await db.fetchval("SELECT raw FROM mail_messages WHERE id = $1", h["id"])
        report = read_report(bytes(raw or b""))
        if report is None:
            continue
        failure = {k: report[k] for k in ("status", "diagnostic", "recipient", "text")}
        failure["reportId"] = h["id"]
        failure["reportedAt"] = datetime.now(UTC).isoformat(timespec="seconds")
        original = await db.fetchval(
            "UPDATE mail_messages m SET delivery_failure = $3::jsonb FROM mail_accounts a, mail_accounts mine "
            "WHERE mine.id = $1 AND a.user_id = mine.user_id AND m.account_id = a.id AND m.type = 'sent' "
            "AND m.message_id = $2 RETURNING m.id",
            account_id,
            report["messageId"],
            failure,
        )
        if original is not None:
            found.append((original, failure))
    return found
