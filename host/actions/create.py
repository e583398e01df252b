"""``<collection>:create``: one record from the body's values.

The collection's ``[acl.defaults]`` for the caller (e.g. ``userId``) win over what was sent;
foreign keys must name records the caller may see; the new record must lie inside the caller's
scope, or nothing is stored (404, as for any id outside it).
"""

from __future__ import annotations

from host.actions.common import answer_records, check_references, db_errors, not_found, scoped_where, transaction
from host.errors import BadRequest
from host.query.values import Params, ident
from host.query.writes import check_required, check_value, check_values, insert_sql


async def run(ctx) -> dict:
    coll = ctx.collection
    if ctx.values is not None and not isinstance(ctx.values, dict):
        raise BadRequest("values must be a JSON object")
    defaults = coll.defaults_for(ctx.user)
    values = check_values(coll, {k: v for k, v in (ctx.values or {}).items() if k not in defaults})
    values.update({k: check_value(coll.fields[k], v) for k, v in defaults.items()})
    check_required(coll, values)
    async with db_errors(coll, "create"):
        async with transaction(ctx.db) as conn:
            await check_references(conn, ctx, values)
            params = Params()
            pk = await conn.fetchval(insert_sql(coll, values, params), *params.values)
            params = Params()
            where = scoped_where(coll, ctx.user, params, tk=[pk])
            if not await conn.fetchval(f"SELECT count(*) FROM {ident(coll.table)} t WHERE {where}", *params.values):
                raise not_found(coll)  # rolls the insert back
        rows = await answer_records(ctx.db, ctx, [pk])
    return {"data": rows[0]}
