"""``mailWebhooks``: a user's webhooks (each event of its accounts POSTed, signed, to a URL) and
``mailWebhooks:test``. The URL passes the SSRF guard (``webhooks/guard.py``), the secret is
stored encrypted and never answered, ``allUsers`` is root's. Deliveries: ``mailWebhookDeliveries``
(generic list/get, scoped to the webhook's owner)."""

from __future__ import annotations

from typing import Any

from host.api import Action, ActionContext
from host.errors import BadRequest, Forbidden
from plugin_email_manager import events
from plugin_email_manager.webhooks import guard, queue

MAX_SECRET = 500


async def _checked(ctx: ActionContext) -> None:
    """The values of a create or update, checked; the secret encrypted."""
    values: dict[str, Any] = dict(ctx.values)
    if "url" in values or ctx.action == "create":
        values["url"] = await guard.check_url(
            values.get("url"), bool(ctx.host.settings.get("webhook_allow_private", False))
        )
    if "events" in values:
        kinds = values["events"]
        if kinds is None:
            kinds = []
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            raise BadRequest("'events' must be a list of event names.", code="INVALID_VALUE", field="events")
        unknown = sorted(set(kinds) - set(events.EVENTS))
        if unknown:
            raise BadRequest(
                f"Unknown event {unknown[0]!r}; events are {', '.join(events.EVENTS)}.",
                code="INVALID_VALUE",
                field="events",
            )
        values["events"] = list(dict.fromkeys(kinds))
    if values.get("allUsers") and not (ctx.user and ctx.user.is_root):
        raise Forbidden("Only root may set allUsers.", field="allUsers")
    if "secret" in values:
        secret = values["secret"]
        if secret is not None and (not isinstance(secret, str) or len(secret) > MAX_SECRET):
            raise BadRequest("'secret' must be a string.", code="INVALID_VALUE", field="secret")
        values["secret"] = ctx.host.secrets.encrypt(secret) if secret else None
    ctx.values = values


async def create(ctx: ActionContext) -> dict:
    await _checked(ctx)
    return await ctx.run_generic("create")


async def update(ctx: ActionContext) -> dict:
    await _checked(ctx)
    return await ctx.run_generic("update")


async def test(ctx: ActionContext) -> dict:
    """Queue a ``ping`` event for one webhook (whatever events it takes); answers the delivery's
    id and the event's: ``mailWebhookDeliveries`` shows how it went."""
    (webhook_id,) = (await ctx.in_scope())[:1]
    event = events.payload(events.PING, None, webhookId=webhook_id)
    delivery = await queue.enqueue_for(ctx.host, webhook_id, event, events.body_of(event))
    return {"data": {"deliveryId": delivery, "eventId": event["id"]}}


ACTIONS = [
    Action("mailWebhooks", "create", create, summary="Add a webhook (URL checked, secret write-only)"),
    Action("mailWebhooks", "update", update, summary="Change a webhook"),
    Action("mailWebhooks", "test", test, summary="Send a ping event to a webhook"),
]
