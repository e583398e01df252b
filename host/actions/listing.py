"""``<collection>:list``: a page of the caller's records, with ``meta`` unless ``paginate=false``."""

from __future__ import annotations

import math

from host.actions.common import db_errors, scoped_where, selection
from host.query.filters import parse_filter
from host.query.params import read_names, read_page
from host.query.select import count_rows, fetch_rows, read_sort
from host.query.values import Params


async def run(ctx) -> dict:
    coll = ctx.collection
    flt = parse_filter(ctx.params.get("filter"))
    sel = selection(ctx, "list")
    sort = read_sort(coll, read_names(ctx.params.get("sort"), "sort"))
    page, page_size, paginate = read_page(ctx.params)
    params = Params()
    where = scoped_where(coll, ctx.scope_user, params, flt)
    async with db_errors(coll, "list"):
        if not paginate:
            return {"data": await fetch_rows(ctx.db, coll, sel, where, params, sort=sort, user=ctx.scope_user)}
        count = await count_rows(ctx.db, coll, where, params)
        rows = await fetch_rows(
            ctx.db,
            coll,
            sel,
            where,
            params,
            sort=sort,
            limit=page_size,
            offset=(page - 1) * page_size,
            user=ctx.scope_user,
        )
    return {
        "data": rows,
        "meta": {"count": count, "page": page, "pageSize": page_size, "totalPage": math.ceil(count / page_size)},
    }
