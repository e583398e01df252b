"""``mailMessages:sendBatch`` and ``mailBatches``: one separate message to each recipient, sent
by ``batches.JOB`` at the pace of ``batch_per_minute``; ``mailBatches:retry`` sends again to the
failed ones.

The messages are from the account or one of its identities (``from``, as ``mailMessages:send``
takes it). Recipients are plain ``recipients`` (addresses) and/or ``records``: ``{"collection",
"filterByTk" or "filter", "field"}``, read with the caller's scope (a record the caller can't
see is no recipient), ``field`` an email field (``interface = "email"``: an address or a list of
them). Each recipient's ``{{name}}`` placeholders are filled from its record's answered fields
(hidden ones never), empty for a plain address. An address is a recipient once per batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from host.api import Action, ActionContext, Params, db_errors, fetch_rows, make_selection, parse_filter, read_ids
from host.errors import BadRequest, Forbidden, NotFound
from plugin_email_manager import batches, connections, identities
from plugin_email_manager.errors import InvalidAddress
from plugin_email_manager.sendmail.recipients import parse_recipients

if TYPE_CHECKING:
    from host.api import Collection

MAX_RECIPIENTS = 50_000


def _string(p: dict, name: str) -> str | None:
    value = p.get(name)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"'{name}' must be a string.", code="INVALID_VALUE", field=name)
    return value


def _record_collection(ctx: ActionContext, spec: dict) -> tuple[Collection, str]:
    name, field_name = spec.get("collection"), spec.get("field")
    for key, value in (("collection", name), ("field", field_name)):
        if not isinstance(value, str) or not value:
            raise BadRequest(f"'records.{key}' is required.", code="MISSING_PARAMETER", field=f"records.{key}")
    assert isinstance(name, str) and isinstance(field_name, str)
    if name not in ctx.host.registry:
        raise NotFound(f"No collection {name!r}.")
    coll = ctx.collection_named(name)
    role = ctx.user.role if ctx.user is not None else None
    if not (coll.acl.allows(role, "list") or coll.acl.allows(role, "get")):
        raise Forbidden(f"You may not read {name}.")
    field = coll.field(field_name)
    if field is None or field.interface != "email" or not field.answered:
        raise BadRequest(
            f"'{field_name}' is not an email field of {name}.", code="INVALID_VALUE", field="records.field"
        )
    return coll, field_name


async def _from_records(ctx: ActionContext, spec: Any) -> list[tuple[str, Any, dict]]:
    """(address, record id, the record's answered values) of each record the caller can see."""
    if not isinstance(spec, dict):
        raise BadRequest("'records' must be an object.", code="INVALID_VALUE", field="records")
    coll, field_name = _record_collection(ctx, spec)
    ids = None
    if spec.get("filterByTk") is not None:
        read = read_ids(coll, spec["filterByTk"], "records.filterByTk")
        ids = read[0] if read is not None else None
    flt = parse_filter(spec.get("filter")) if spec.get("filter") is not None else None
    if ids is None and flt is None:
        raise BadRequest(
            "'records' needs 'filterByTk' or 'filter'.", code="MISSING_PARAMETER", field="records.filterByTk"
        )
    params = Params()
    where = ctx.where(params, flt=flt, ids=ids, collection=coll)
    sel = make_selection(coll, mode="record", user=ctx.user)
    async with db_errors(coll, "list"):
        rows = await fetch_rows(ctx.db, coll, sel, where, params, user=ctx.user, limit=MAX_RECIPIENTS + 1)
    pk = coll.primary_key.name
    found = []
    for row in rows:
        value = row.get(field_name)
        for address in value if isinstance(value, list) else [value]:
            if isinstance(address, str) and address.strip():
                found.append((address.strip(), row.get(pk), row))
    return found


async def send_batch(ctx: ActionContext) -> dict:
    p = ctx.params
    if p.get("accountId") is None:
        raise BadRequest("'accountId' is required.", code="MISSING_PARAMETER", field="accountId")
    (account_id,) = await ctx.in_scope(p.get("accountId"), name="accountId", collection="mailAccounts")
    # send as the account or one of its identities, as mailMessages:send (400 INVALID_FROM else)
    account = await connections.load_account(ctx.db, account_id)
    sender = identities.choose(await identities.of_account(ctx.db, account), p.get("from"))
    subject, text, html = _string(p, "subject") or "", _string(p, "text"), _string(p, "html")
    if text is None and html is None:
        raise BadRequest("'text' or 'html' is required.", code="MISSING_PARAMETER", field="text")
    raw = p.get("recipients")
    if raw is not None and not isinstance(raw, (list, str)):
        raise BadRequest("'recipients' must be a list of addresses.", code="INVALID_VALUE", field="recipients")
    found: list[tuple[str, Any, dict]] = [(a["address"], None, {}) for a in parse_recipients(raw)]
    if p.get("records") is not None:
        found += await _from_records(ctx, p["records"])
    good: list[tuple[str, Any, dict]] = []
    refused: list[tuple[str, Any, str]] = []
    seen: set[str] = set()
    for address, record_id, values in found:
        try:
            (parsed,) = parse_recipients([address])
        except (InvalidAddress, ValueError):  # a record's stored value: that one fails, not the batch
            refused.append((address, record_id, f"Not a valid email address: {address}"))
            continue
        key = parsed["address"].lower()
        if key not in seen:
            seen.add(key)
            good.append((parsed["address"], record_id, values))
    if not good and not refused:
        raise BadRequest("Add at least one recipient.", code="NO_RECIPIENTS", field="recipients")
    if len(good) + len(refused) > MAX_RECIPIENTS:
        raise BadRequest(f"A batch has at most {MAX_RECIPIENTS} recipients.", code="INVALID_VALUE", field="recipients")
    records = p.get("records")
    batch_id = await batches.create(
        ctx.db,
        account_id,
        subject=subject,
        text=text,
        html=html,
        recipients=good,
        refused=refused,
        collection=records["collection"] if records is not None else None,
        sender=sender,
    )
    return {"data": {"batchId": batch_id}}


async def retry(ctx: ActionContext) -> dict:
    """The failed recipients of the batch are sent again (the sent ones never)."""
    ids = await ctx.in_scope()
    retried = 0
    for batch_id in ids:
        retried += await batches.retry(ctx.db, batch_id)
    return {"data": {"batchId": ids[0] if len(ids) == 1 else ids, "retried": retried}}


ACTIONS = [
    Action("mailMessages", "sendBatch", send_batch, summary="One separate message to each recipient, paced"),
    Action("mailBatches", "retry", retry, summary="Send a batch again to its failed recipients"),
]
