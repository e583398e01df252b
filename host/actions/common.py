"""What the generic actions share: the scoped WHERE, database errors as 400s, connections.

Every query of an action goes through ``scoped_where``, which ANDs the collection's scope for
the caller: a record outside it is, for that caller, a record that does not exist.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, AsyncIterator

import asyncpg

from host.errors import BadRequest, NotFound
from host.query.filters import compile_filter, parse_filter
from host.query.params import read_names, read_tk
from host.query.select import Selection, fetch_rows, make_selection, read_sort
from host.query.values import Params, ident


def scoped_where(coll, user, params: Params, flt: dict | None = None, tk: list[Any] | None = None) -> str:
    """``scope AND filter AND primary key in tk``, on alias ``t``."""
    parts = [compile_filter(coll, coll.scope_filter(user), params, trusted=True), compile_filter(coll, flt, params)]
    if tk is not None:
        pk = coll.primary_key
        parts.append(f"t.{ident(pk.column)} = ANY({params.array(pk.type, tk)})")
    parts = [p for p in parts if p != "TRUE"]
    return " AND ".join(parts) if parts else "TRUE"


def target(ctx, *, required: bool) -> tuple[tuple[list[Any], bool] | None, dict | None]:
    """``filterByTk`` and ``filter`` of the call; with ``required``, one of them must be given."""
    tk = read_tk(ctx.collection, ctx.params.get("filterByTk"))
    flt = parse_filter(ctx.params.get("filter"))
    # {"$and": []} narrows nothing either: never update or destroy a whole collection by accident
    if required and tk is None and compile_filter(ctx.collection, flt, Params()) == "TRUE":
        raise BadRequest("filterByTk or filter is required", code="MISSING_FILTER")
    return tk, flt


def not_found(coll) -> NotFound:
    # the same words for a record that does not exist and one outside the caller's scope
    return NotFound(f"no such record in {coll.name}")


def selection(ctx, mode: str) -> Selection:
    p = ctx.params
    return make_selection(
        ctx.collection,
        fields=read_names(p.get("fields"), "fields"),
        appends=read_names(p.get("appends"), "appends"),
        except_=read_names(p.get("except"), "except"),
        mode=mode,
        user=ctx.user,
    )


async def answer_records(db, ctx, pks: list[Any]) -> list[dict]:
    """The records with these primary keys, every answered field, in the collection's order."""
    coll = ctx.collection
    params = Params()
    where = f"t.{ident(coll.primary_key.column)} = ANY({params.array(coll.primary_key.type, pks)})"
    return await fetch_rows(
        db,
        coll,
        make_selection(coll, mode="record", user=ctx.user),
        where,
        params,
        sort=read_sort(coll, None),
        user=ctx.user,
    )


async def check_references(conn, ctx, values: dict[str, Any]) -> None:
    """A foreign key the caller sets must name a record the caller may see (else 404)."""
    coll = ctx.collection
    for f in coll.fields.values():
        if f.type != "belongsTo" or values.get(f.foreign_key) is None:
            continue
        target = coll.related(f)
        params = Params()
        scope = compile_filter(target, target.scope_filter(ctx.user), params, trusted=True)
        pk = target.primary_key
        found = await conn.fetchval(
            f"SELECT 1 FROM {ident(target.table)} t WHERE t.{ident(pk.column)} = "
            f"{params.typed(pk.type, values[f.foreign_key])} AND {scope}",
            *params.values,
        )
        if not found:
            raise NotFound(f"no such record in {target.name}", field=f.foreign_key)


@contextlib.asynccontextmanager
async def transaction(db) -> AsyncIterator[asyncpg.Connection]:
    """A connection in a transaction, from a pool or a connection (then a savepoint if needed)."""
    if isinstance(db, asyncpg.Pool) or hasattr(db, "acquire"):
        async with db.acquire() as conn, conn.transaction():
            yield conn
    else:
        async with db.transaction():
            yield db


def _field_of(coll, error) -> str | None:
    column = getattr(error, "column_name", None)
    if not column:
        m = re.search(r"Key \(([^)]+)\)", getattr(error, "detail", None) or "")
        column = m.group(1) if m else None
    for f in coll.fields.values():
        if f.column is not None and f.column == column:
            return f.name
    return None


@contextlib.asynccontextmanager
async def db_errors(coll, action: str) -> AsyncIterator[None]:
    """Database refusals caused by the caller's input, as 400 (404 for a missing reference)."""
    try:
        yield
    except asyncpg.UniqueViolationError as e:
        name = _field_of(coll, e)
        raise BadRequest(
            f"a record with this {name or 'value'} already exists",
            code="DUPLICATE",
            **({"field": name} if name else {}),
        ) from None
    except asyncpg.ForeignKeyViolationError as e:
        if action == "destroy":
            raise BadRequest("the record is still referenced by others", code="REFERENCED") from None
        name = _field_of(coll, e)
        raise NotFound("the referenced record does not exist", **({"field": name} if name else {})) from None
    except asyncpg.NotNullViolationError as e:
        name = _field_of(coll, e) or "a field"
        raise BadRequest(f"field {name!r} is required", field=name) from None
    except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as e:
        raise BadRequest(f"invalid value: {e.__class__.__name__}: {str(e).splitlines()[0]}") from None
