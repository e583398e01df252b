"""The webhook queue in PostgreSQL: ``mail_webhook_deliveries`` is both the queue and the log.

A row is one event for one webhook. ``status`` is ``retrying`` until it is delivered (``ok``) or
given up (``failed``); ``next_at`` is when it may be tried; ``lease_until`` keeps it to the one
process trying it now. A process claims due rows with ``FOR UPDATE SKIP LOCKED`` and a lease
(so several processes share the queue, and a process that dies mid-delivery leaves a row that
another takes when the lease lapses), delivers outside the transaction, and records the answer.

Order: a row is due only when no earlier row of the same (webhook, account) is still
``retrying``, so an account's events reach each receiver in the order they happened; a failing
receiver holds back only its own later events of that account, until they are delivered or
given up. ``NOTIFY mail_webhooks`` wakes the deliverers when rows are queued.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncpg import Pool, Record

    from host.api import Host

CHANNEL = "mail_webhooks"
RESPONSE_LIMIT = 1024  # the receiver's answer kept in the log
MAX_DELAY = 3600  # the backoff's longest wait between two attempts

# one row per matching webhook of each event: its user's (the account's owner), or root's with
# allUsers; an empty events list takes every event
ENQUEUE = """
INSERT INTO mail_webhook_deliveries (webhook_id, event_id, event, account_id, status, attempts, body, next_at,
                                     created_at)
SELECT w.id, x.event_id, x.event, x.account_id, 'retrying', 0, x.body, now(), now()
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) WITH ORDINALITY AS x(event_id, event, account_id, body, n)
JOIN mail_accounts a ON a.id = x.account_id
JOIN mail_webhooks w ON w.enabled AND (w.user_id = a.user_id OR w.all_users)
  AND (w.events IS NULL OR jsonb_array_length(w.events) = 0 OR w.events ? x.event)
ORDER BY x.n, w.id
RETURNING id
"""

CLAIM = """
WITH due AS (
  SELECT d.id FROM mail_webhook_deliveries d
  WHERE d.status = 'retrying' AND d.next_at <= now() AND (d.lease_until IS NULL OR d.lease_until < now())
    AND NOT EXISTS (SELECT 1 FROM mail_webhook_deliveries e WHERE e.webhook_id = d.webhook_id
                    AND e.account_id IS NOT DISTINCT FROM d.account_id AND e.status = 'retrying' AND e.id < d.id)
  ORDER BY d.id LIMIT $1
  FOR UPDATE OF d SKIP LOCKED)
UPDATE mail_webhook_deliveries d SET lease_until = now() + $2 * interval '1 second'
FROM due, mail_webhooks w WHERE d.id = due.id AND w.id = d.webhook_id
RETURNING d.id, d.webhook_id, d.event_id, d.event, d.body, d.attempts, d.created_at, w.url, w.secret
"""

# the heads of the queue only: a row behind an earlier one of its (webhook, account) is not due
NEXT_DUE = """
SELECT min(greatest(d.next_at, coalesce(d.lease_until, d.next_at))) FROM mail_webhook_deliveries d
WHERE d.status = 'retrying'
  AND NOT EXISTS (SELECT 1 FROM mail_webhook_deliveries e WHERE e.webhook_id = d.webhook_id
                  AND e.account_id IS NOT DISTINCT FROM d.account_id AND e.status = 'retrying' AND e.id < d.id)
"""


async def enqueue(host: Host, events: list[tuple[dict[str, Any], str]]) -> int:
    """Queue each (event, its body) for the webhooks that want it; wake the deliverers."""
    if not events:
        return 0
    rows = await host.db.fetch(
        ENQUEUE,
        [e["id"] for e, _ in events],
        [e["event"] for e, _ in events],
        [e.get("accountId") for e, _ in events],
        [b for _, b in events],
    )
    if rows:
        await host.notify(CHANNEL, {})
    return len(rows)


async def enqueue_for(host: Host, webhook_id: int, event: dict[str, Any], body: str) -> int:
    """Queue one event for one webhook, whatever it subscribes to (``mailWebhooks:test``)."""
    delivery = await host.db.fetchval(
        "INSERT INTO mail_webhook_deliveries (webhook_id, event_id, event, account_id, status, attempts, body, "
        "next_at, created_at) VALUES ($1, $2, $3, $4, 'retrying', 0, $5, now(), now()) RETURNING id",
        webhook_id,
        event["id"],
        event["event"],
        event.get("accountId"),
        body,
    )
    await host.notify(CHANNEL, {})
    return delivery


async def claim(db: Pool, limit: int, lease_seconds: float) -> list[Record]:
    """Due rows, each now leased to this process for ``lease_seconds``."""
    async with db.acquire() as conn, conn.transaction():
        return await conn.fetch(CLAIM, limit, lease_seconds)


def backoff(attempts: int, first: float) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: first, 2x, 4x..."""
    return min(first * 2 ** max(attempts - 1, 0), MAX_DELAY)


async def finish(
    db: Pool,
    row: Record,
    *,
    ok: bool,
    status: int | None,
    response: str | None,
    error: str | None,
    first_retry: float,
    give_up_after: float,
) -> str:
    """Record one attempt: ``ok``, or ``retrying`` at the next backoff, or ``failed`` when that
    would fall after ``give_up_after`` seconds from the event. Answers the new status."""
    attempts = row["attempts"] + 1
    now = datetime.now(UTC)
    next_at = now + timedelta(seconds=backoff(attempts, first_retry))
    if ok:
        state = "ok"
    elif next_at > row["created_at"] + timedelta(seconds=give_up_after):
        state = "failed"
    else:
        state = "retrying"
    await db.execute(
        "UPDATE mail_webhook_deliveries SET status = $2, attempts = $3, response_status = $4, response = $5, "
        "error = $6, next_at = $7, lease_until = NULL, delivered_at = CASE WHEN $2 = 'ok' THEN now() END "
        "WHERE id = $1",
        row["id"],
        state,
        attempts,
        status,
        (response or "")[:RESPONSE_LIMIT] or None,
        error,
        None if state != "retrying" else next_at,
    )
    return state


async def next_due(db: Pool) -> float | None:
    """Seconds until the earliest queued row is due (0 if one is), None when nothing waits."""
    at = await db.fetchval(NEXT_DUE)
    if at is None:
        return None
    return max((at - datetime.now(UTC)).total_seconds(), 0.0)
