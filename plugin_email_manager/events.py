"""Mail events: what happened to a user's mail, after it is committed, told to plugins (the
``mail_event`` hook, ``hookspecs.py``) and to webhooks (``webhooks/``: one row per webhook in a
queue in PostgreSQL, delivered by whichever process claims it).

Who calls ``emit``, each after its own transaction:

- ``messageNew``: the sync (scheduled, requested or woken by IDLE) for mail stored in a folder
  it had synced before (``folder_sync`` leaves a folder's first sync and its re-sync after a
  UIDVALIDITY change unannounced: that is old mail arriving here, not new mail arriving);
  ``bounces.py`` reads the same new rows for delivery status notifications.
- ``messageUpdated``: the API (read, flagged, labels; moved to Trash) and the server's flags or
  Gmail labels as the sync applies them; ``changes`` says which.
- ``messageDeleted``: the API (deleted for good) and the sync (expunged elsewhere).
- ``messageSent`` / ``messageFailed``: a send accepted / refused by the SMTP server; a bounce
  (``bounces.py``) is a ``messageFailed`` of the original, with ``deliveryFailure``.
- ``accountError``: an account's sync turning to error (not each failure while it stays so).

Delivery is at least once from the commit on: a process that dies between its commit and the
queue's INSERT loses that event (the change itself is kept).
"""

from __future__ import annotations

import copy
import json
import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from host.api import Params, fetch_rows, make_selection

if TYPE_CHECKING:
    from host.api import Host

log = logging.getLogger(__name__)

EVENTS = ("messageNew", "messageUpdated", "messageDeleted", "messageSent", "messageFailed", "accountError")
PING = "ping"  # mailWebhooks:test; never a hook event
CHANGES = ("read", "flagged", "labels", "moved")
BODY_LIMIT = 64 * 1024  # a webhook body; a larger message is cut to its id and subject
NO_BODY = ("text", "html", "raw")


def payload(event: str, account_id: int | None, **extra: Any) -> dict[str, Any]:
    """A new event with its stable id: the webhook's body and the hook's payload."""
    return {
        "id": str(uuid.uuid4()),
        "event": event,
        "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "accountId": account_id,
        **{k: v for k, v in extra.items() if v is not None},
    }


def body_of(event: dict[str, Any]) -> str:
    """The exact JSON a webhook POSTs (and signs), at most ``BODY_LIMIT`` bytes."""
    text = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)
    if len(text.encode()) > BODY_LIMIT and isinstance(event.get("message"), dict):
        m = event["message"]
        text = json.dumps(
            {**event, "message": {"id": m.get("id"), "subject": (m.get("subject") or "")[:200], "truncated": True}},
            ensure_ascii=False,
            separators=(",", ":"),
            default=str,
        )
    return text


async def listed(host: Host, ids: Iterable[int]) -> dict[int, dict]:
    """Messages as ``mailMessages:list`` answers them (no body), by id."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return {}
    coll = host.registry["mailMessages"]
    params = Params()
    where = f"t.id = ANY ({params.add(ids, 'bigint[]')})"
    rows = await fetch_rows(host.db, coll, make_selection(coll, mode="list"), where, params)
    return {r["id"]: {k: v for k, v in r.items() if k not in NO_BODY} for r in rows}


async def emit(
    host: Host,
    event: str,
    account_id: int | None,
    message_ids: Iterable[int] = (),
    *,
    messages: Iterable[dict] | None = None,
    **extra: Any,
) -> list[dict]:
    """Announce ``event``: one per message (``message_ids`` read now, or ``messages`` as they
    were, for what is gone), or one without a message (``accountError``). Queues it for the
    matching webhooks, then calls the ``mail_event`` hook. Never raises: the change it tells of
    is done already. Answers the events."""
    try:
        if messages is None:
            ids = list(message_ids)
            if not ids and event != "accountError":
                return []
            found = await listed(host, ids)
            messages = [found[i] for i in ids if i in found]
        else:
            messages = list(messages)
        if event == "accountError":
            events = [payload(event, account_id, **extra)]
        else:
            events = [payload(event, m.get("accountId", account_id), message=m, **extra) for m in messages]
        if not events:
            return []
        from plugin_email_manager.webhooks import (
            queue,  # the queue's SQL; it imports nothing of here
        )

        await queue.enqueue(host, [(e, body_of(e)) for e in events])
        for e in events:
            await _call_hook(host, e)
        return events
    except Exception:
        log.exception("event %s of account %s could not be announced", event, account_id)
        return []


async def _call_hook(host: Host, event: dict[str, Any]) -> None:
    try:
        await host.plugins.call("mail_event", event=event["event"], payload=copy.deepcopy(event))
    except Exception:
        log.exception("a mail_event hook failed on %s %s", event["event"], event["id"])


async def new_mail(host: Host, account_id: int, ids: list[int]) -> None:
    """Mail a sync stored after the account's first sync: ``messageNew``, then any bounce among
    it as ``messageFailed`` of the original (``bounces.py``)."""
    if not ids:
        return
    from plugin_email_manager import bounces

    await emit(host, "messageNew", account_id, ids)
    try:
        failures = await bounces.record(host.db, account_id, ids)
    except Exception:
        log.exception("account %s: reading bounces failed", account_id)
        return
    for original_id, failure in failures:
        await emit(host, "messageFailed", None, [original_id], error=failure.get("text"), deliveryFailure=failure)


async def changed(host: Host, account_id: int | None, changes: Iterable[tuple[int, Iterable[str]]]) -> None:
    """``messageUpdated`` for each (message id, what changed), grouped by what changed."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for message_id, what in changes:
        key = tuple(c for c in CHANGES if c in set(what))
        if key:
            groups.setdefault(key, []).append(message_id)
    for key, ids in groups.items():
        await emit(host, "messageUpdated", account_id, ids, changes=list(key))


async def deleted(host: Host, account_id: int | None, gone: Iterable[dict]) -> None:
    """``messageDeleted`` for rows as they were before they went."""
    await emit(host, "messageDeleted", account_id, messages=list(gone))


async def synced(host: Host, account_id: int, counts: Any) -> None:
    """What a folder's sync changed besides new mail (which ``new_mail`` told per batch):
    ``counts.changed`` and ``counts.gone`` of ``folder_sync.Counts``."""
    await changed(host, account_id, counts.changed)
    await deleted(host, account_id, counts.gone)
