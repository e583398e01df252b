"""A message written here goes out: at once (``send``), or held until a time (``sendAt``, or
now + the person's ``undoSendSeconds``) and then sent by whichever process finds it due.

Its state is the row's ``outbox`` (``type`` in brackets); this module makes every change of it
once the message is stored, and ``deliver`` is the one path to the SMTP server for both::

    send ──────────────────────────────► sending (drafts) ──► NULL (sent)   the server took it
                                                          └─► failed (drafts) error to the caller
    send + sendAt / undo ──► scheduled (scheduled) ──claim──► sending (scheduled, leased)
                               ▲    ▲                          ├─► NULL (sent)
                   resend ─────┘    │ lease lapsed,            ├─► failed (drafts, sendError)
                                    └─ SMTP not begun ─────────┤
                                       lease lapsed,           │
                               unknown (scheduled) ◄───────────┘ SMTP begun: maybe sent
    cancelSend: scheduled | unknown ──► draft (drafts, filed in the server's Drafts again);
                sending | sent ──► 409 ALREADY_SENT

The lease: ``claim`` moves due messages to ``sending`` in one ``UPDATE … WHERE outbox =
'scheduled' AND send_at <= now()`` over ``FOR UPDATE SKIP LOCKED`` rows, naming this process
(``send_lease_owner``) until ``send_lease_until``, renewed every third of ``lease_seconds``
while it sends. Exactly one process holds a message; a ``cancelSend`` racing it waits for the
row lock and then finds it ``sending`` (409). Just before talking to the SMTP server the holder
records ``send_smtp_at`` (only if it still holds the lease: a process that lost it never
sends). A process that dies leaves its lease to lapse; the job then gives the message back to
``scheduled`` when SMTP had not begun (nothing went out), else marks it ``unknown``: the
server may have accepted it, so it is shown for a person to decide (``resend`` or
``cancelSend`` to a draft), never sent again by itself.

The job (``JOB``, every ``scheduled_send_interval`` seconds, one process at a time through
``host.jobs``) first settles lapsed leases, then claims and sends what is due.

Test-only: ``EMAIL_CENTER_TEST_SEND_PAUSE=<where>:<seconds>`` (``claimed``: after the claim,
before SMTP begins; ``smtp``: after ``send_smtp_at``, before connecting) makes the job wait
there, so a test can kill the process at that point. Read here only; never set it in service.
"""

from __future__ import annotations

import asyncio
import email
import logging
import os
from datetime import UTC, datetime, timedelta
from email import policy
from typing import TYPE_CHECKING, Any

from host.api import Job
from host.errors import BadRequest, HostError, NotFound
from plugin_email_manager import connections, events, outbox, user_settings
from plugin_email_manager.errors import AlreadySent, SendScheduled
from plugin_email_manager.mailsync import pending_flags
from plugin_email_manager.sendmail import compose, smtp

if TYPE_CHECKING:
    from email.message import EmailMessage

    from asyncpg import Connection, Pool, Record

    from host.api import ActionContext, Host

log = logging.getLogger(__name__)

HELD = ("scheduled", "sending", "unknown")  # outbox states of a message held for later
BATCH = 20  # due messages one run claims at a time

# ---------------------------------------------------------------- holding a send


def read_send_at(raw: Any, now: datetime | None = None) -> datetime:
    """``sendAt``: an ISO 8601 time in the future (without an offset: UTC); else 400."""
    now = now or datetime.now(UTC)
    try:
        when = datetime.fromisoformat(raw.strip()) if isinstance(raw, str) else None
    except ValueError:
        when = None
    if when is None:
        raise BadRequest(f"sendAt {raw!r} is not an ISO 8601 time.", code="INVALID_VALUE", field="sendAt")
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when <= now:
        raise BadRequest("sendAt is in the past.", code="INVALID_VALUE", field="sendAt")
    return when.astimezone(UTC)


async def hold_until(ctx: ActionContext, p: dict) -> datetime | None:
    """When a send goes out: ``sendAt``, else now + the caller's ``undoSendSeconds``; None: now."""
    if p.get("sendAt") not in (None, ""):
        return read_send_at(p["sendAt"])
    if ctx.user is None:
        return None
    seconds = (await user_settings.of(ctx.db, ctx.user.id))["undoSendSeconds"]
    return datetime.now(UTC) + timedelta(seconds=seconds) if seconds > 0 else None


def check_not_held(state: str | None) -> None:
    """A draft named by a send or a save must not be one held for sending (cancel it first)."""
    if state in HELD:
        raise SendScheduled("This message is scheduled to be sent; cancel that first.")


async def hold(
    db: Pool,
    account_id: int,
    msg: EmailMessage,
    *,
    send_at: datetime,
    bcc: list[dict],
    text: str | None,
    html: str | None,
    draft_id: int | None,
    original_id: int | None,
    forwarded: bool,
) -> dict:
    """Store the message to go out at ``send_at``; answers ``{"id","status":"scheduled","sendAt"}``."""
    # stored as a draft first, then scheduled in one statement with its time: never claimable
    # with a send_at left from before
    row_id = await outbox.store(
        db, account_id, msg, type_="scheduled", outbox="draft", bcc=bcc, text=text, html=html, draft_id=draft_id
    )
    await db.execute(
        "UPDATE mail_messages SET outbox = 'scheduled', send_at = $2, send_error = NULL, send_original_id = $3, "
        "send_forwarded = $4, send_lease_owner = NULL, send_lease_until = NULL, send_smtp_at = NULL WHERE id = $1",
        row_id,
        send_at,
        original_id,
        forwarded,
    )
    return {"id": row_id, "status": "scheduled", "sendAt": send_at.isoformat()}


async def cancel(host: Host, message_id: int) -> dict:
    """``cancelSend``: a scheduled (or unknown) message becomes a draft again, filed in the
    server's Drafts; 409 ``ALREADY_SENT`` once it is being sent or went."""
    db = host.db
    drafts_of = (
        "(SELECT f.id FROM mail_folders f WHERE f.account_id = m.account_id AND f.type = 'drafts' "
        "ORDER BY (f.special_use IS NOT NULL) DESC, f.id LIMIT 1)"
    )
    row = await db.fetchrow(
        f"UPDATE mail_messages m SET outbox = 'draft', type = 'drafts', folder_id = {drafts_of}, uid = NULL, "
        "send_at = NULL, send_lease_owner = NULL, send_lease_until = NULL, send_smtp_at = NULL "
        "WHERE m.id = $1 AND m.outbox IN ('scheduled', 'unknown') RETURNING m.account_id",
        message_id,
    )
    if row is None:
        state = await db.fetchrow("SELECT outbox, type FROM mail_messages WHERE id = $1", message_id)
        if state is not None and state["outbox"] in ("draft", "failed"):
            return {"id": message_id, "status": "draft"}  # a draft already: cancelling twice is once
        if state is not None and (state["outbox"] == "sending" or state["type"] == "sent"):
            raise AlreadySent("This message has been sent (or is being sent): it can no longer be cancelled.")
        raise NotFound("No such scheduled message.")
    account = await connections.load_account(db, row["account_id"])
    await outbox.append(host, account, message_id, "drafts", ["\\Draft", "\\Seen"])
    await host.notify("mail_stored", {"accountId": row["account_id"]})
    return {"id": message_id, "status": "draft"}


async def resend(db: Pool, message_id: int) -> dict:
    """``resend``: an ``unknown`` (or failed) message is scheduled again, due now: a person
    decided it did not go out."""
    when = await db.fetchval(
        "UPDATE mail_messages SET outbox = 'scheduled', type = 'scheduled', folder_id = NULL, uid = NULL, "
        "send_at = now(), send_error = NULL, send_lease_owner = NULL, send_lease_until = NULL, send_smtp_at = NULL "
        "WHERE id = $1 AND outbox IN ('unknown', 'failed') RETURNING send_at",
        message_id,
    )
    if when is None:
        state = await db.fetchval("SELECT outbox FROM mail_messages WHERE id = $1", message_id)
        if state in ("scheduled", "sending"):
            raise SendScheduled("This message is already on its way.")
        raise NotFound("No message to send again: only one whose sending failed or is unknown.")
    return {"id": message_id, "status": "scheduled", "sendAt": when.isoformat()}


# ---------------------------------------------------------------- sending


async def deliver(
    host: Host,
    account: connections.Account,
    row_id: int,
    msg: EmailMessage,
    bcc: Any,
    *,
    original_id: int | None = None,
    forwarded: bool = False,
) -> None:
    """Send the stored message ``row_id`` (outbox ``sending``) over SMTP, then file it as sent
    (and in the server's Sent folder), flag the original it answers or forwards, and tell the list.

    :raises HostError: the SMTP server refused it or could not be reached; the message is a
        draft again (outbox ``failed``, the error in ``sendError``).
    """
    try:
        await smtp.deliver(
            msg,
            **connections.smtp_credentials(host, account),
            # MAIL FROM stays the account's own address even when the From header is one of its
            # identities (send as): servers accept only the address the account signs in as
            envelope_from=account.email,
            recipients=compose.envelope_recipients(msg, bcc),
        )
    except HostError as e:
        drafts = await outbox.folder_of(host.db, account.id, "drafts")
        await host.db.execute(
            "UPDATE mail_messages SET outbox = 'failed', type = 'drafts', folder_id = $2, "
            "send_error = $3 WHERE id = $1",
            row_id,
            drafts["id"] if drafts else None,
            e.message,
        )
        await events.emit(host, "messageFailed", account.id, [row_id], error=e.message)
        raise
    sent = await outbox.folder_of(host.db, account.id, "sent")
    await outbox.mark(host.db, row_id, outbox=None, type_="sent", folder_id=sent["id"] if sent else None)
    if account.append_sent:
        await outbox.append(host, account, row_id, "sent", ["\\Seen"])
    if original_id is not None:
        changed = await pending_flags.record(host.db, [original_id], "forwarded" if forwarded else "answered", True)
        if changed:
            await pending_flags.push_now(host, changed)
        await host.badges_changed(account.user_id)
    await host.notify("mail_stored", {"accountId": account.id})
    await events.emit(host, "messageSent", account.id, [row_id])


# ---------------------------------------------------------------- the job: lapsed leases, due messages

SETTLE = """
UPDATE mail_messages SET outbox = CASE WHEN send_smtp_at IS NULL THEN 'scheduled' ELSE 'unknown' END,
       send_lease_owner = NULL, send_lease_until = NULL
WHERE outbox = 'sending' AND send_lease_until < now()
RETURNING id, outbox
"""
CLAIM = """
UPDATE mail_messages m SET outbox = 'sending', send_lease_owner = $1,
       send_lease_until = now() + make_interval(secs => $2), send_smtp_at = NULL
WHERE m.id IN (SELECT id FROM mail_messages WHERE outbox = 'scheduled' AND type = 'scheduled' AND send_at <= now()
               ORDER BY send_at LIMIT $3 FOR UPDATE SKIP LOCKED)
  AND m.outbox = 'scheduled'
RETURNING m.id, m.account_id, m.raw, m.bcc_addrs, m.send_original_id, m.send_forwarded
"""
RENEW = (
    "UPDATE mail_messages SET send_lease_until = now() + make_interval(secs => $3) "
    "WHERE id = ANY($1::bigint[]) AND outbox = 'sending' AND send_lease_owner = $2"
)
BEGIN_SMTP = (
    "UPDATE mail_messages SET send_smtp_at = now() WHERE id = $1 AND outbox = 'sending' "
    "AND send_lease_owner = $2 AND send_lease_until > now() RETURNING id"
)


def _lease(host: Host) -> float:
    return max(float(host.settings.get("lease_seconds", 60)), 1.0)


async def _test_pause(where: str) -> None:
    spec = os.environ.get("EMAIL_CENTER_TEST_SEND_PAUSE", "")
    name, _, seconds = spec.partition(":")
    if name == where and seconds:
        log.warning("EMAIL_CENTER_TEST_SEND_PAUSE: waiting %ss (%s)", seconds, where)
        await asyncio.sleep(float(seconds))


async def settle(db: Pool | Connection) -> list[Record]:
    """Messages whose sender's lease lapsed: back to ``scheduled`` or ``unknown``."""
    rows = await db.fetch(SETTLE)
    for r in rows:
        log.warning("message %s: its sending process stopped holding it; now %s", r["id"], r["outbox"])
    return rows


async def claim(db: Pool | Connection, owner: str, lease: float, limit: int = BATCH) -> list[Record]:
    return await db.fetch(CLAIM, owner, lease, limit)


async def _renew(host: Host, ids: list[int], lease: float) -> None:
    while True:
        await asyncio.sleep(lease / 3)
        try:
            await host.db.execute(RENEW, ids, host.process_id, lease)
        except Exception:  # the database went away for a moment: the next renewal may make it
            log.exception("renewing the send lease of %s", ids)


async def _send_claimed(host: Host, row: Record) -> None:
    await _test_pause("claimed")
    if await host.db.fetchval(BEGIN_SMTP, row["id"], host.process_id) is None:
        log.warning("message %s: lease lost before sending; left to its new holder", row["id"])
        return
    await _test_pause("smtp")
    account = await connections.load_account(host.db, row["account_id"])
    msg = email.message_from_bytes(bytes(row["raw"]), policy=policy.default)
    try:
        await deliver(
            host,
            account,
            row["id"],
            msg,
            row["bcc_addrs"] or [],
            original_id=row["send_original_id"],
            forwarded=row["send_forwarded"],
        )
    except HostError as e:
        log.warning("message %s: scheduled send failed: %s", row["id"], e.message)


async def run_due(host: Host) -> None:
    """One run of the job: settle lapsed leases, then send every due message."""
    await settle(host.db)
    lease = _lease(host)
    while rows := await claim(host.db, host.process_id, lease):
        renewal = asyncio.create_task(_renew(host, [r["id"] for r in rows], lease))
        try:
            results = await asyncio.gather(*(_send_claimed(host, r) for r in rows), return_exceptions=True)
        finally:
            renewal.cancel()
        for r, result in zip(rows, results):
            if isinstance(result, Exception):  # left 'sending': its lease lapses, then settle decides
                log.error("message %s: sending stopped: %r", r["id"], result)


JOB = Job(
    name="mail-scheduled-send",
    interval=lambda host: float(host.settings.get("scheduled_send_interval", 2)),
    run=run_due,
)
