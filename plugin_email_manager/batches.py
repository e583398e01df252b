"""Batch send: one separate message to each recipient of a ``mailBatches`` record, its
``{{name}}`` placeholders filled from that recipient's record, at a pace, by whichever process
is running, and never twice to one recipient.

A recipient (``mailBatchRecipients``) goes through these states; the message itself goes
through ``outbox.store`` and ``sending.deliver``, the one path to SMTP (a refused one is a
failed draft, a sent one is filed as sent, events are raised there)::

    pending ──claim──► pending, leased ──begin──► pending, smtp_at set ──deliver──► sent
       ▲                   │ lease lapsed              │                      └──► failed (its SMTP reply)
       │                   │ (SMTP not begun)          │ lease lapsed: settle reads its message row:
       └───────────────────┘                           ├─► sent (the server took it, then the process died)
                                                       ├─► failed (the server refused it)
       retry (a person) ◄── failed ◄────────────────── └─► failed "unknown outcome" (never sent again by itself)

The lease: ``CLAIM`` takes one due batch row (``FOR UPDATE SKIP LOCKED``, ``nextAt`` passed) and
one of its pending recipients whose SMTP never began (``FOR UPDATE SKIP LOCKED``, unleased or
its lease lapsed), names this process until ``now + lease_seconds`` and moves the batch's
``nextAt`` on by 60 / ``batch_per_minute`` seconds: the pace holds across every process, since
each claim of a batch waits for that time. The holder renews its lease every third of
``lease_seconds`` while it sends; just before SMTP it records ``smtp_at`` (only while it still
holds the lease). A recipient whose ``smtp_at`` is set is never claimed again: after a crash
``settle`` decides from its message row whether it went (outbox NULL), was refused (outbox
``failed``), or is unknown (still ``sending``: failed, "unknown outcome", for a person to retry).

Counts: each outcome is written by one conditional UPDATE (``status = 'pending'``) that also
adds to the batch's ``sent`` or ``failed``; the batch is ``done`` when they add up to ``total``.
``retry`` moves the failed back to pending (their failed draft is sent again, the same row).

The job (``JOB``, every ``scheduled_send_interval`` seconds, one run at a time per process)
settles lapsed leases, then sends with ``WORKERS`` concurrent loops while a batch has work.

Test-only: ``EMAIL_CENTER_TEST_SEND_PAUSE=batch:<seconds>`` waits after ``smtp_at`` is recorded,
before connecting (as ``sending``'s ``smtp``), so that a test can kill the process there.
"""

from __future__ import annotations

import asyncio
import html as html_lib
import json
import logging
import os
import re
import time
from typing import TYPE_CHECKING, Any

from host.api import Job
from host.errors import HostError
from plugin_email_manager import connections, outbox, sending
from plugin_email_manager.sendmail import compose

if TYPE_CHECKING:
    from asyncpg import Connection, Pool, Record

    from host.api import Host
    from plugin_email_manager.identities import Identity

log = logging.getLogger(__name__)

WORKERS = 4  # recipients one process sends at once (each still waits for its batch's pace)
RUN_SECONDS = 30.0  # a run ends by then; the next run goes on
UNKNOWN = "Unknown outcome: the process sending it stopped while talking to the SMTP server; it may have arrived."

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def fill(template: str | None, values: dict[str, Any], *, escape: bool = False) -> str | None:
    """``{{name}}`` replaced by the record's field ``name`` (empty when absent; HTML-escaped with
    ``escape``); anything else is left as written."""
    if template is None:
        return None

    def value(m: re.Match) -> str:
        v = values.get(m.group(1))
        if v is None:
            text = ""
        elif isinstance(v, str):
            text = v
        elif isinstance(v, (dict, list)):
            text = json.dumps(v, ensure_ascii=False)
        else:
            text = str(v)
        return html_lib.escape(text) if escape else text

    return PLACEHOLDER.sub(value, template)


def _json_safe(values: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(values, default=str))


# ---------------------------------------------------------------- a new batch, a retry


async def create(
    db: Pool,
    account_id: int,
    *,
    subject: str,
    text: str | None,
    html: str | None,
    recipients: list[tuple[str, Any, dict[str, Any]]],
    refused: list[tuple[str, Any, str]] | None = None,
    collection: str | None = None,
    sender: Identity | None = None,
) -> int:
    """Store a batch and its recipients ``(address, record id, the record's values)``; those in
    ``refused`` ``(address, record id, why)`` are failed at once; ``collection``: the records';
    ``sender``: who the messages are from (None: the account itself). Answers the batch's id."""
    refused = refused or []
    total = len(recipients) + len(refused)
    async with db.acquire() as conn, conn.transaction():
        batch_id = await conn.fetchval(
            "INSERT INTO mail_batches (account_id, status, total, sent, failed, subject, text, html, collection, "
            "from_name, from_address, reply_to, created_at) "
            "VALUES ($1, $2, $3, 0, $4, $5, $6, $7, $8, $9, $10, $11, now()) RETURNING id",
            account_id,
            "running" if recipients else "done",
            total,
            len(refused),
            subject,
            text,
            html,
            collection,
            sender.name if sender else None,
            sender.email if sender else None,
            sender.reply_to if sender else None,
        )
        await conn.executemany(
            "INSERT INTO mail_batch_recipients (batch_id, address, record_id, status, error, record_values) "
            "VALUES ($1, $2, $3::jsonb, $4, $5, $6::jsonb)",
            [
                (batch_id, address, record_id, "pending", None, _json_safe(values))
                for address, record_id, values in recipients
            ]
            + [(batch_id, address, record_id, "failed", why, {}) for address, record_id, why in refused],
        )
    return batch_id


RETRY = """
WITH r AS (
    UPDATE mail_batch_recipients SET status = 'pending', error = NULL, smtp_at = NULL, lease_owner = NULL,
           lease_until = NULL
    WHERE batch_id = $1 AND status = 'failed' RETURNING id
)
UPDATE mail_batches SET failed = failed - (SELECT count(*) FROM r),
       status = CASE WHEN (SELECT count(*) FROM r) > 0 THEN 'running' ELSE status END, next_at = NULL
WHERE id = $1 RETURNING (SELECT count(*) FROM r)
"""


async def retry(db: Pool, batch_id: int) -> int:
    """The failed recipients of a batch are pending again (their failed drafts go out again);
    answers how many."""
    return await db.fetchval(RETRY, batch_id) or 0


# ---------------------------------------------------------------- claiming, settling, sending

CLAIMABLE = "r.status = 'pending' AND r.smtp_at IS NULL AND (r.lease_until IS NULL OR r.lease_until < now())"
CLAIM = f"""
WITH b AS (
    SELECT b.id FROM mail_batches b
    WHERE b.status = 'running' AND (b.next_at IS NULL OR b.next_at <= now())
      AND EXISTS (SELECT 1 FROM mail_batch_recipients r WHERE r.batch_id = b.id AND {CLAIMABLE})
    ORDER BY b.next_at NULLS FIRST, b.id LIMIT 1 FOR UPDATE SKIP LOCKED
), one AS (
    SELECT r.id FROM mail_batch_recipients r JOIN b ON r.batch_id = b.id
    WHERE {CLAIMABLE} ORDER BY r.id LIMIT 1 FOR UPDATE OF r SKIP LOCKED
), claimed AS (
    UPDATE mail_batch_recipients t SET lease_owner = $1, lease_until = now() + make_interval(secs => $2)
    FROM one WHERE t.id = one.id
    RETURNING t.id, t.batch_id, t.address, t.record_values, t.message_id
), paced AS (
    UPDATE mail_batches t SET next_at = now() + make_interval(secs => $3)
    FROM b WHERE t.id = b.id AND EXISTS (SELECT 1 FROM claimed)
)
SELECT c.*, m.account_id, m.subject, m.text, m.html, m.from_name, m.from_address, m.reply_to
FROM claimed c JOIN mail_batches m ON m.id = c.batch_id
"""
NEXT_DUE = f"""
SELECT extract(epoch FROM min(coalesce(b.next_at, now())) - now()) FROM mail_batches b
WHERE b.status = 'running'
  AND EXISTS (SELECT 1 FROM mail_batch_recipients r WHERE r.batch_id = b.id AND {CLAIMABLE})
"""
RENEW = (
    "UPDATE mail_batch_recipients SET lease_until = now() + make_interval(secs => $3) "
    "WHERE id = $1 AND lease_owner = $2 AND status = 'pending'"
)
BEGIN_SMTP = (
    "UPDATE mail_batch_recipients SET smtp_at = now(), message_id = $3 WHERE id = $1 AND status = 'pending' "
    "AND lease_owner = $2 AND lease_until > now() AND smtp_at IS NULL RETURNING id"
)
# the outcome, once: only a recipient still pending counts it into its batch
OUTCOME = """
WITH r AS (
    UPDATE mail_batch_recipients SET status = $2, error = $3, lease_owner = NULL, lease_until = NULL
    WHERE id = $1 AND status = 'pending' RETURNING batch_id
)
UPDATE mail_batches b SET sent = b.sent + $4, failed = b.failed + $5,
       status = CASE WHEN b.sent + $4 + b.failed + $5 >= b.total THEN 'done' ELSE b.status END
FROM r WHERE b.id = r.batch_id RETURNING b.id
"""
LAPSED = """
SELECT r.id, r.message_id, m.outbox, m.type, m.send_error FROM mail_batch_recipients r
LEFT JOIN mail_messages m ON m.id = r.message_id
WHERE r.status = 'pending' AND r.smtp_at IS NOT NULL AND r.lease_until < now()
"""


def _pace(host: Host) -> float:
    """Seconds between two messages of one batch."""
    per_minute = float(host.settings.get("batch_per_minute", 60))
    return 60.0 / max(per_minute, 0.001)


async def _outcome(db: Pool | Connection, recipient_id: int, status: str, error: str | None) -> bool:
    sent, failed = (1, 0) if status == "sent" else (0, 1)
    return await db.fetchval(OUTCOME, recipient_id, status, error, sent, failed) is not None


async def settle(db: Pool) -> None:
    """Recipients whose sender stopped after SMTP began: sent, failed or unknown, from their
    message row; never claimed again."""
    for r in await db.fetch(LAPSED):
        if r["outbox"] is None and r["type"] == "sent":
            status, error = "sent", None
        elif r["outbox"] == "failed":
            status, error = "failed", r["send_error"] or "Refused by the SMTP server."
        else:
            status, error = "failed", UNKNOWN
            if r["message_id"] is not None:  # a failed draft: what retry sends again
                await db.execute(
                    "UPDATE mail_messages SET outbox = 'failed', send_error = $2 WHERE id = $1 AND outbox = 'sending'",
                    r["message_id"],
                    UNKNOWN,
                )
        if await _outcome(db, r["id"], status, error):
            log.warning("batch recipient %s: its sending process stopped; now %s", r["id"], status)


async def _renew(host: Host, recipient_id: int, lease: float) -> None:
    while True:
        await asyncio.sleep(lease / 3)
        try:
            await host.db.execute(RENEW, recipient_id, host.process_id, lease)
        except Exception:  # the database went away for a moment: the next renewal may make it
            log.exception("renewing the lease of batch recipient %s", recipient_id)


async def _test_pause() -> None:
    name, _, seconds = os.environ.get("EMAIL_CENTER_TEST_SEND_PAUSE", "").partition(":")
    if name == "batch" and seconds:
        log.warning("EMAIL_CENTER_TEST_SEND_PAUSE: waiting %ss (batch)", seconds)
        await asyncio.sleep(float(seconds))


async def _reusable(db: Pool, message_id: int | None) -> int | None:
    """The recipient's earlier message row when it can be sent again (a failed draft, or one
    stored by a claim that lapsed before SMTP); None: store a new one."""
    if message_id is None:
        return None
    return await db.fetchval(
        "SELECT id FROM mail_messages WHERE id = $1 AND outbox IN ('failed', 'sending')", message_id
    )


async def send_one(host: Host, row: Record) -> None:
    """Send the claimed recipient ``row`` its own message, and record the outcome."""
    db = host.db
    values = row["record_values"] or {}
    try:
        account = await connections.load_account(db, row["account_id"])
    except HostError as e:
        await _outcome(db, row["id"], "failed", e.message)
        return
    text, html = fill(row["text"], values), fill(row["html"], values, escape=True)
    try:
        msg = compose.build_message(
            from_addr=(
                {"name": row["from_name"] or "", "address": row["from_address"]}
                if row["from_address"]
                else {"name": account.display_name or "", "address": account.email}
            ),
            reply_to=row["reply_to"],
            to=[row["address"]],
            subject=fill(row["subject"], values) or "",
            text=text,
            html=html,
        )
    except HostError as e:  # e.g. a placeholder filled with a line break into the subject
        await _outcome(db, row["id"], "failed", e.message)
        return
    draft_id = await _reusable(db, row["message_id"])
    message_id = await outbox.store(
        db, account.id, msg, type_="drafts", outbox="sending", bcc=[], text=text, html=html, draft_id=draft_id
    )
    if await db.fetchval(BEGIN_SMTP, row["id"], host.process_id, message_id) is None:
        log.warning("batch recipient %s: lease lost before sending; left to its new holder", row["id"])
        await db.execute(
            "UPDATE mail_batch_recipients SET message_id = $2 WHERE id = $1 AND smtp_at IS NULL", row["id"], message_id
        )
        return
    await _test_pause()
    try:
        await sending.deliver(host, account, message_id, msg, [])
    except HostError as e:
        await _outcome(db, row["id"], "failed", e.message)
        return
    await _outcome(db, row["id"], "sent", None)


async def _worker(host: Host, deadline: float) -> None:
    lease = float(host.settings.get("lease_seconds", 60))
    lease = max(lease, 1.0)
    while time.monotonic() < deadline:
        row = await host.db.fetchrow(CLAIM, host.process_id, lease, _pace(host))
        if row is None:
            wait = await host.db.fetchval(NEXT_DUE)
            if wait is None or time.monotonic() + float(wait) > deadline:
                return
            await asyncio.sleep(min(max(float(wait), 0.005), 5.0))
            continue
        renewal = asyncio.create_task(_renew(host, row["id"], lease))
        try:
            await send_one(host, row)
        except Exception:  # left pending: its lease lapses, then settle (or a new claim) decides
            log.exception("batch recipient %s: sending stopped", row["id"])
        finally:
            renewal.cancel()


async def run(host: Host) -> None:
    """One run of the job: settle lapsed leases, then send while a batch has work."""
    await settle(host.db)
    deadline = time.monotonic() + RUN_SECONDS
    await asyncio.gather(*(_worker(host, deadline) for _ in range(WORKERS)))


JOB = Job(
    name="mail-batch-send",
    interval=lambda host: float(host.settings.get("scheduled_send_interval", 2)),
    run=run,
)
