"""Record values for create and update: checked against the collection, then as SQL.

A caller may set a field unless it is hidden, binary, a hasMany, or read-only (a 400 naming it:
silently dropping it would hide a client's mistake). ``{"account": 5}`` or
``{"account": {"id": 5}}`` sets a belongsTo's foreign key.
"""

from __future__ import annotations

from typing import Any

from host.errors import BadRequest
from host.query.values import CoercionError, Params, coerce, ident


def _bad(name: str, message: str) -> BadRequest:
    return BadRequest(f"field {name!r} {message}", field=name)


def check_value(f, value: Any) -> Any:
    """One value, coerced to the field's type; enum and required checked."""
    try:
        v = coerce(f.type, value)
    except CoercionError as e:
        raise _bad(f.name, f"is invalid: {e}") from None
    if f.enum and v is not None and v not in f.enum:
        raise _bad(f.name, f"must be one of {', '.join(f.enum)}")
    if f.required and (v is None or v == ""):
        raise _bad(f.name, "is required")
    return v


def check_values(coll, values: Any) -> dict[str, Any]:
    """The caller's values (field name -> value), coerced; raises ``BadRequest``."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise BadRequest("values must be a JSON object")
    out: dict[str, Any] = {}
    for name, value in values.items():
        f = coll.fields.get(name)
        if f is None or not f.settable:
            if f is not None and f.type == "hasMany":
                raise _bad(name, f"is a list of {f.target}: change those records instead")
            raise BadRequest(f"unknown field {name!r} in {coll.name!r}", field=name)
        if f.type == "belongsTo":
            fk = coll.fields[f.foreign_key]
            if fk.read_only:
                raise _bad(name, "is read-only")
            target_pk = coll.related(f).primary_key.name
            if isinstance(value, dict):
                value = value.get(target_pk)
            out[fk.name] = check_value(fk, value)
            continue
        if f.read_only:
            raise _bad(name, "is read-only")
        out[name] = check_value(f, value)
    return out


def check_required(coll, values: dict[str, Any]) -> None:
    for f in coll.fields.values():
        if f.required and f.default is None and values.get(f.name) in (None, ""):
            raise _bad(f.name, "is required")


def insert_sql(coll, values: dict[str, Any], params: Params) -> str:
    """INSERT ... RETURNING the primary key (as ``pk``)."""
    pk = ident(coll.primary_key.column)
    if not values:
        return f"INSERT INTO {ident(coll.table)} DEFAULT VALUES RETURNING {pk} AS pk"
    cols = [ident(coll.fields[n].column) for n in values]
    vals = [params.typed(coll.fields[n].type, v) for n, v in values.items()]
    return f"INSERT INTO {ident(coll.table)} ({', '.join(cols)}) VALUES ({', '.join(vals)}) RETURNING {pk} AS pk"


def update_sql(coll, values: dict[str, Any], where: str, params: Params) -> str:
    """UPDATE the rows matching ``where`` (alias ``t``) ... RETURNING their primary keys."""
    sets = [f"{ident(coll.fields[n].column)} = {params.typed(coll.fields[n].type, v)}" for n, v in values.items()]
    return (
        f"UPDATE {ident(coll.table)} t SET {', '.join(sets)} WHERE {where} "
        f"RETURNING t.{ident(coll.primary_key.column)} AS pk"
    )
