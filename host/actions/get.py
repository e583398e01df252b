"""``<collection>:get``: one record by ``filterByTk`` (or the first matching ``filter``).

Every answered field, and relations declared ``list = false`` appended; 404 for a record that
does not exist or lies outside the caller's scope, in the same words.
"""

from __future__ import annotations

from host.actions.common import db_errors, not_found, scoped_where, selection, target
from host.errors import BadRequest
from host.query.select import fetch_rows, read_sort
from host.query.values import Params


async def run(ctx) -> dict:
    coll = ctx.collection
    tk, flt = target(ctx, required=True)
    if tk is not None and len(tk[0]) > 1:
        raise BadRequest("get takes one filterByTk", field="filterByTk")
    sel = selection(ctx, "get")
    params = Params()
    where = scoped_where(coll, ctx.scope_user, params, flt, tk[0] if tk else None)
    async with db_errors(coll, "get"):
        rows = await fetch_rows(
            ctx.db, coll, sel, where, params, sort=read_sort(coll, None), limit=1, user=ctx.scope_user
        )
    if not rows:
        raise not_found(coll)
    return {"data": rows[0]}
