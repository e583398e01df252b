"""``<collection>:destroy``: delete the records named by ``filterByTk`` or ``filter`` (one is
required: an unfiltered destroy would empty the collection). Answers how many were deleted.

With ``filterByTk`` every id must name a record in the caller's scope (else 404, nothing
deleted); a ``filter`` deletes what it matches inside the scope, perhaps nothing.
"""

from __future__ import annotations

from host.actions.common import db_errors, not_found, scoped_where, target, transaction
from host.query.values import Params, ident


async def run(ctx) -> dict:
    coll = ctx.collection
    tk, flt = target(ctx, required=True)
    ids = tk[0] if tk else None
    table = ident(coll.table)
    async with db_errors(coll, "destroy"):
        async with transaction(ctx.db) as conn:
            params = Params()
            where = scoped_where(coll, ctx.user, params, flt, ids)
            deleted = await conn.fetchval(
                f"WITH d AS (DELETE FROM {table} t WHERE {where} RETURNING 1) SELECT count(*) FROM d", *params.values
            )
            if ids is not None and deleted != len(ids):
                raise not_found(coll)  # rolls back what was deleted
    return {"data": deleted}
