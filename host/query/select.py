"""Reading records: which fields to answer, in what order, and how a row looks on the wire.

A ``Selection`` is the fields of one collection to answer plus the relations to append (each
with its own selection). ``fetch_rows`` runs one SELECT for the rows and one per appended
relation (batched over all rows, never one per row). ``answer_row`` turns a record into its
answer: camelCase names, dates in ISO 8601 with an explicit offset, json as JSON, and never a
hidden, write-only or binary field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime, timezone
from typing import Any

from host.errors import BadRequest
from host.query.filters import compile_filter
from host.query.values import Params, ident

_MISSING = object()


@dataclass
class Selection:
    fields: list[str]
    appends: dict[str, "Selection"] = dc_field(default_factory=dict)


def _default_fields(coll, every: bool) -> list[str]:
    names = [n for n, f in coll.fields.items() if f.answered and (every or f.list_default)]
    pk = coll.primary_key.name
    return [pk] + [n for n in names if n != pk]


def _tree(names: list[str]) -> dict[str, list[str]]:
    """``["a", "a.b", "c.d.e"]`` -> ``{"a": ["b"], "c": ["d.e"]}``."""
    out: dict[str, list[str]] = {}
    for name in names:
        first, _, rest = name.partition(".")
        out.setdefault(first, [])
        if rest:
            out[first].append(rest)
    return out


def make_selection(
    coll,
    *,
    fields: list[str] | None = None,
    appends: list[str] | None = None,
    except_: list[str] | None = None,
    mode: str = "list",
    user=None,
) -> Selection:
    """What to answer. ``mode``: "list" (list-default fields), "get" (every answered field, and
    relations declared ``list = false`` appended) or "record" (every answered field)."""
    wanted = _tree(fields or [])
    if fields:
        names = [coll.primary_key.name]
        for name, sub in wanted.items():
            f = _known(coll, name, "fields")
            if f.is_relation:
                continue
            if sub:
                raise BadRequest(f"fields: {name!r} has no sub-fields", field="fields")
            names.append(name)
    else:
        names = _default_fields(coll, mode != "list")
    rel: dict[str, tuple[list[str] | None, list[str]]] = {}
    for name, sub in wanted.items():  # fields=account.email: append account with those fields
        if coll.fields[name].is_relation:
            rel[name] = (sub or None, [])
    if mode == "get" and not fields:
        for name, f in coll.fields.items():
            if f.is_relation and not f.list_default and not f.hidden:
                rel.setdefault(name, (None, []))
    for name, sub in _tree(appends or []).items():
        f = _known(coll, name, "appends")
        if not f.is_relation:  # appends=text: a field left out of lists by default
            if sub:
                raise BadRequest(f"appends: {name!r} is not a relation", field="appends")
            if name not in names:
                names.append(name)
            continue
        chosen, deeper = rel.get(name, (None, []))
        rel[name] = (chosen, deeper + sub)
    for name in except_ or []:
        _known(coll, name, "except")
        if name != coll.primary_key.name:
            names = [n for n in names if n != name]
            rel.pop(name, None)
    sel = Selection(names)
    for name, (chosen, deeper) in rel.items():
        target = coll.related(coll.fields[name])
        if user is not None and not (target.acl.allows(user.role, "list") or target.acl.allows(user.role, "get")):
            raise BadRequest(f"appends: {name!r} cannot be read", field="appends")
        sel.appends[name] = make_selection(target, fields=chosen, appends=deeper, user=user)
    return sel


def _known(coll, name: str, param: str):
    f = coll.fields.get(name)
    if f is None or not (f.answered or (f.is_relation and not f.hidden)):
        raise BadRequest(f"{param}: unknown field {name!r} in {coll.name!r}", field=param)
    return f


def read_sort(coll, names: list[str] | None) -> list[str]:
    """Sort keys (``-date``), checked; the primary key ends them so that pages are stable."""
    keys = list(names) if names else list(coll.default_sort)
    for key in keys:
        f = coll.fields.get(key.lstrip("-"))
        if f is None or not f.answered:
            raise BadRequest(f"sort: unknown field {key.lstrip('-')!r} in {coll.name!r}", field="sort")
    pk = coll.primary_key.name
    if pk not in (k.lstrip("-") for k in keys):
        keys.append(pk)
    return keys


def order_sql(coll, keys: list[str], alias: str = "t") -> str:
    parts = [f"{alias}.{ident(coll.fields[k.lstrip('-')].column)}{' DESC' if k.startswith('-') else ''}" for k in keys]
    return " ORDER BY " + ", ".join(parts) if parts else ""


def _value(f, v: Any, json_text: bool) -> Any:
    if v is None:
        return None
    if f.type == "date" and isinstance(v, datetime):
        return (v.replace(tzinfo=timezone.utc) if v.tzinfo is None else v).astimezone(timezone.utc).isoformat()
    if isinstance(v, date) and not isinstance(v, datetime):
        return v.isoformat()
    if f.type == "json" and json_text and isinstance(v, str):
        return json.loads(v)
    return v


def answer_row(collection, record, fields: list[str] | None = None, *, json_text: bool = False) -> dict[str, Any]:
    """A record (asyncpg Record or dict, keyed by field name or by column) as its answer.

    ``fields``: names to answer (default: every answered field the record holds). Hidden,
    write-only, binary and relation fields are never answered, whatever ``fields`` says.
    json values are taken as decoded (``host.db.pool``'s codec); ``json_text=True`` when they
    are JSON text (a pool without the codec, or ``col::text`` as ``fetch_rows`` selects them).
    """
    answered = collection.answered_fields
    out: dict[str, Any] = {}
    for name in fields if fields is not None else answered:
        f = answered.get(name)
        if f is None:
            continue
        v = record.get(name, _MISSING)
        if v is _MISSING and f.column != name:
            v = record.get(f.column, _MISSING)
        if v is not _MISSING:
            out[name] = _value(f, v, json_text)
    return out


def _column(alias: str, f) -> str:
    # json as text: the same answer whether or not the pool decodes jsonb itself
    col = f"{alias}.{ident(f.column)}"
    return f"{col}::text AS {ident(f.name)}" if f.type == "json" else f"{col} AS {ident(f.name)}"


async def _fetch(
    db,
    coll,
    sel: Selection,
    where: str,
    params: Params,
    *,
    order: str = "",
    limit: int | None = None,
    offset: int | None = None,
    user=None,
    link: str | None = None,
) -> tuple[list[dict], list]:
    cols = [_column("t", coll.fields[n]) for n in sel.fields]
    keys = {"__pk": coll.primary_key.column}
    if link:
        keys["__link"] = link
    for name in sel.appends:
        f = coll.fields[name]
        if f.type == "belongsTo":
            keys[f"__fk_{name}"] = coll.fields[f.foreign_key].column
    cols += [f"t.{ident(c)} AS {ident(k)}" for k, c in keys.items()]
    sql = f"SELECT {', '.join(cols)} FROM {ident(coll.table)} t WHERE {where}{order}"
    if limit is not None:
        sql += f" LIMIT {params.add(limit, 'bigint')}"
    if offset:
        sql += f" OFFSET {params.add(offset, 'bigint')}"
    records = await db.fetch(sql, *params.values)
    rows = [answer_row(coll, r, sel.fields, json_text=True) for r in records]
    for name, sub in sel.appends.items():
        await _append(db, coll, name, sub, records, rows, user)
    return rows, records


async def _append(db, coll, name: str, sub: Selection, records, rows, user) -> None:
    f = coll.fields[name]
    target = coll.related(f)
    params = Params()
    scope = compile_filter(target, target.scope_filter(user), params, trusted=True)
    if f.type == "belongsTo":
        ids = list({r[f"__fk_{name}"] for r in records} - {None})
        found = {}
        if ids:
            cond = f"t.{ident(target.primary_key.column)} = ANY({params.array(target.primary_key.type, ids)})"
            got, recs = await _fetch(db, target, sub, f"{cond} AND {scope}", params, user=user)
            found = {rec["__pk"]: row for rec, row in zip(recs, got)}
        for rec, row in zip(records, rows):
            row[name] = found.get(rec[f"__fk_{name}"])
        return
    fk = target.fields[f.foreign_key]
    ids = [r["__pk"] for r in records]
    groups: dict[Any, list] = {i: [] for i in ids}
    if ids:
        cond = f"t.{ident(fk.column)} = ANY({params.array(fk.type, ids)})"
        order = order_sql(target, read_sort(target, None))
        got, recs = await _fetch(db, target, sub, f"{cond} AND {scope}", params, order=order, user=user, link=fk.column)
        for rec, row in zip(recs, got):
            groups.setdefault(rec["__link"], []).append(row)
    for rec, row in zip(records, rows):
        row[name] = groups.get(rec["__pk"], [])


async def fetch_rows(
    db,
    coll,
    sel: Selection,
    where: str,
    params: Params,
    *,
    sort: list[str] | None = None,
    limit: int | None = None,
    offset: int | None = None,
    user=None,
) -> list[dict]:
    """Answered rows of ``coll`` matching ``where`` (bound in ``params``), appends included.

    ``db`` is a pool or a connection; ``user`` scopes the appended relations.
    """
    order = order_sql(coll, sort) if sort else ""
    rows, _ = await _fetch(db, coll, sel, where, params, order=order, limit=limit, offset=offset, user=user)
    return rows


async def count_rows(db, coll, where: str, params: Params) -> int:
    return await db.fetchval(f"SELECT count(*) FROM {ident(coll.table)} t WHERE {where}", *params.values)
