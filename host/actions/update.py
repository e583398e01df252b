"""``<collection>:update``: change the records named by ``filterByTk`` or ``filter``.

With ``filterByTk`` every id must name a record in the caller's scope (else 404, nothing
changed). A record may not be moved out of the scope, and a foreign key must name a record the
caller may see. Answers the updated record; a list when several (or a list of ids) were named.
"""

from __future__ import annotations

from host.actions.common import (
    answer_records,
    check_references,
    db_errors,
    not_found,
    scoped_where,
    target,
    transaction,
)
from host.errors import BadRequest
from host.query.values import Params, ident
from host.query.writes import check_values, update_sql


async def run(ctx) -> dict:
    coll = ctx.collection
    tk, flt = target(ctx, required=True)
    values = dict(ctx.values or {}) if isinstance(ctx.values, dict) or ctx.values is None else None
    if values is None:
        raise BadRequest("values must be a JSON object")
    pk = coll.primary_key
    if pk.name in values:  # a form sending the record back: its own id is no change
        if tk is None or len(tk[0]) != 1 or check_values(coll, {pk.name: values[pk.name]})[pk.name] != tk[0][0]:
            raise BadRequest(f"field {pk.name!r} cannot be changed", field=pk.name)
        del values[pk.name]
    values = check_values(coll, values)
    ids = tk[0] if tk else None
    table = ident(coll.table)
    async with db_errors(coll, "update"):
        async with transaction(ctx.db) as conn:
            params = Params()
            where = scoped_where(coll, ctx.user, params, flt, ids)
            pks = [
                r["pk"]
                for r in await conn.fetch(
                    f"SELECT t.{ident(pk.column)} AS pk FROM {table} t WHERE {where} FOR UPDATE", *params.values
                )
            ]
            if ids is not None and len(pks) != len(ids):
                raise not_found(coll)
            if values and pks:
                await check_references(conn, ctx, values)
                params = Params()
                where = scoped_where(coll, None, params, tk=pks)
                await conn.execute(update_sql(coll, values, where, params), *params.values)
                params = Params()
                where = scoped_where(coll, ctx.user, params, tk=pks)
                if await conn.fetchval(f"SELECT count(*) FROM {table} t WHERE {where}", *params.values) != len(pks):
                    raise not_found(coll)  # moved out of the caller's scope: rolled back
        rows = await answer_records(ctx.db, ctx, pks) if pks else []
    if (tk is not None and tk[1]) or len(rows) > 1:
        return {"data": rows}
    return {"data": rows[0] if rows else None}
