"""NocoBase filter JSON -> a SQL condition with bound parameters.

A filter is an object: ``{"field": value}`` (a bare value means ``$eq``, a bare list ``$in``),
``{"field": {"$op": value, ...}}``, ``{"$and": [...]}``, ``{"$or": [...]}``. Keys may be dotted
(``"account.userId"``) or nested (``{"from": {"address": ...}}``); a path walks through

- belongsTo relations: ``EXISTS`` on the target, recursively (``message.account.userId``);
  operators on the relation itself apply to its foreign key;
- hasMany relations: some related row matches (``$empty`` / ``$notEmpty``: none / some);
- json fields: ``col #> '{a,b}'``, compared by the type of the value given;
- json lists (``shape = "list"``): some element matches (containment ``@>`` for plain equality).

Hidden, write-only and binary fields cannot be filtered on (their values could be probed);
scopes from collection files are ``trusted`` and may use them.
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace
from typing import Any

from host.errors import InvalidFilter
from host.query.operators import OPERATORS, column_op, json_op
from host.query.values import Params, ident


def parse_filter(raw: Any) -> dict | None:
    """The ``filter`` parameter as an object (a query string carries it JSON-encoded)."""
    if raw is None or raw == "" or raw == {}:
        return None
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except ValueError as e:
            raise InvalidFilter(f"filter is not valid JSON: {e}") from None
        except RecursionError:  # json's decoder recurses: "[[[[..." a hundred thousand deep
            raise InvalidFilter(f"filter nested deeper than {MAX_DEPTH} levels") from None
        if raw is None or raw == {}:
            return None
    if not isinstance(raw, dict):
        raise InvalidFilter("filter must be a JSON object")
    return raw


def compile_filter(collection, flt: dict | None, params: Params, alias: str = "t", trusted: bool = False) -> str:
    """A SQL condition on ``collection`` (as ``alias``); ``"TRUE"`` for no filter."""
    if not flt:
        return "TRUE"
    _check_bindable(flt)
    return _Walker(params, trusted).object(collection, flt, alias)


MAX_DEPTH = 32  # deeper is no filter a person means; the walker recurses, so stop it early


def _check_bindable(value: Any, depth: int = 0) -> None:
    """Refuse what no parameter can carry, before any of it is bound. PostgreSQL text and jsonb
    cannot hold NUL, UTF-8 cannot encode a lone surrogate (JSON's ``"\\ud800"`` decodes to one),
    and jsonb has no NaN or Infinity (Python's json reads them): bound, each is a driver or
    database error, a 500, where the caller's input deserves a 400. Keys count too: they become
    json paths and containment objects."""
    if depth > MAX_DEPTH:
        raise InvalidFilter(f"filter nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        if "\x00" in value or not _encodable(value):
            raise InvalidFilter(f"filter text may not contain NUL or unpaired surrogates: {value!r}")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidFilter(f"filter numbers must be finite, not {value!r}")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_bindable(k, depth + 1)
            _check_bindable(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_bindable(v, depth + 1)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_scope(collection, template: dict) -> None:
    """Compile a scope template for a stand-in user, so a bad path fails at start-up."""
    from host.schema import fill_template

    user = SimpleNamespace(id=0, email="", role="", nickname="")
    compile_filter(collection, fill_template(template, user), Params(), trusted=True)


def _and(parts: list[str]) -> str:
    parts = [p for p in parts if p != "TRUE"]
    if not parts:
        return "TRUE"
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


def _or(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def _split(value: Any) -> tuple[dict, dict]:
    """An object value's operators and its nested keys (dotted keys expanded one level)."""
    ops, nested = {}, {}
    for key, v in value.items():
        if not isinstance(key, str):
            raise InvalidFilter(f"bad filter key {key!r}")
        (ops if key.startswith("$") else nested)[key] = v
    return ops, nested


def _nest(segments: list[str], value: Any) -> Any:
    for seg in reversed(segments):
        value = {seg: value}
    return value


def _groups(op: str, value: Any, label: str) -> list:
    if not isinstance(value, list):
        raise InvalidFilter(f"{op} in {label!r} takes a list of filters")
    return value


class _Walker:
    def __init__(self, params: Params, trusted: bool):
        self.params = params
        self.trusted = trusted

    def alias(self, prefix: str) -> str:
        return self.params.alias(prefix)

    # ------------------------------------------------------------ a collection's filter object

    def object(self, coll, flt: Any, alias: str, where: str = "") -> str:
        if not isinstance(flt, dict):
            raise InvalidFilter(
                f"filter{' on ' + repr(where) if where else ''} must be an object, not {json.dumps(flt)}"
            )
        parts = []
        for key, value in flt.items():
            if key in ("$and", "$or"):
                subs = [self.object(coll, v, alias, where) for v in _groups(key, value, where or coll.name)]
                parts.append((_and if key == "$and" else _or)(subs) if subs else "TRUE")
            elif not isinstance(key, str) or key.startswith("$"):
                raise InvalidFilter(
                    f"operator {key!r} needs a field (in {where or coll.name!r})"
                    if key in OPERATORS
                    else f"unknown operator {key!r}"
                )
            else:
                first, *rest = key.split(".")
                parts.append(
                    self.field(
                        coll,
                        first,
                        _nest(rest, value) if rest else value,
                        alias,
                        f"{where}.{first}" if where else first,
                    )
                )
        return _and(parts)

    def field(self, coll, name: str, value: Any, alias: str, label: str) -> str:
        f = coll.fields.get(name)
        if f is None or not (f.filterable or self.trusted):
            raise InvalidFilter(f"unknown field {label!r} in {coll.name!r}", field=label)
        if f.type == "belongsTo":
            return self.belongs_to(coll, f, value, alias, label)
        if f.type == "hasMany":
            return self.has_many(coll, f, value, alias, label)
        column = f"{alias}.{ident(f.column)}"
        if f.type == "json":
            return self.json(column, [], value, label, f.shape == "list")
        return self.column(f.type, column, value, label)

    def column(self, type_: str, expr: str, value: Any, label: str) -> str:
        if not isinstance(value, dict):
            return column_op(type_, expr, "$eq", value, self.params, label)
        ops, nested = _split(value)
        if nested:
            raise InvalidFilter(f"field {label!r} has no sub-field {next(iter(nested))!r}", field=label)
        return _and(
            [
                self.op(lambda o, v: column_op(type_, expr, o, v, self.params, label), op, v, label)
                for op, v in ops.items()
            ]
        )

    def op(self, apply, op: str, value: Any, label: str) -> str:
        """One operator, where $and/$or group operator objects ({"$or": [{"$lt": 1}, {"$gt": 9}]})."""
        if op in ("$and", "$or"):
            subs = []
            for group in _groups(op, value, label):
                if not isinstance(group, dict) or not group or not all(k.startswith("$") for k in group):
                    raise InvalidFilter(f"{op} on {label!r} takes a list of operator objects")
                subs.append(_and([self.op(apply, o, v, label) for o, v in group.items()]))
            return (_and if op == "$and" else _or)(subs) if subs else "TRUE"
        if op not in OPERATORS:
            raise InvalidFilter(f"unknown operator {op!r} on {label!r}", field=label)
        return apply(op, value)

    # ------------------------------------------------------------ relations

    def belongs_to(self, coll, f, value: Any, alias: str, label: str) -> str:
        target = coll.related(f)
        fk = coll.fields[f.foreign_key]
        fk_expr = f"{alias}.{ident(fk.column)}"
        if not isinstance(value, dict):  # {"account": 5}: the foreign key
            return self.column(fk.type, fk_expr, value, label)
        ops, nested = _split(value)
        groups = {k: ops.pop(k) for k in ("$and", "$or") if k in ops}
        parts = [self.column(fk.type, fk_expr, ops, label)] if ops else []
        if nested or groups:
            r = self.alias("r")
            sub = self.object(target, {**nested, **groups}, r, label)
            parts.append(
                f"EXISTS (SELECT 1 FROM {ident(target.table)} {r} WHERE "
                f"{r}.{ident(target.primary_key.column)} = {fk_expr} AND {sub})"
            )
        return _and(parts)

    def has_many(self, coll, f, value: Any, alias: str, label: str) -> str:
        target = coll.related(f)
        if not isinstance(value, dict):
            raise InvalidFilter(f"{label!r} is a list of {target.name}: filter on its fields", field=label)
        ops, nested = _split(value)
        groups = {k: ops.pop(k) for k in ("$and", "$or") if k in ops}
        r = self.alias("r")
        link = f"{r}.{ident(target.fields[f.foreign_key].column)} = {alias}.{ident(coll.primary_key.column)}"
        exists = f"EXISTS (SELECT 1 FROM {ident(target.table)} {r} WHERE {link})"
        parts = []
        for op, v in ops.items():
            if op not in ("$empty", "$notEmpty", "$exists"):
                raise InvalidFilter(f"{op} does not apply to {label!r} (a list of {target.name})", field=label)
            want = (op != "$empty") == (v not in (False, "false", 0))
            parts.append(exists if want else f"NOT {exists}")
        if nested or groups:
            sub = self.object(target, {**nested, **groups}, r, label)
            parts.append(f"EXISTS (SELECT 1 FROM {ident(target.table)} {r} WHERE {link} AND {sub})")
        return _and(parts)

    # ------------------------------------------------------------ json

    def json(self, column: str, path: list[str], value: Any, label: str, is_list: bool) -> str:
        """A condition on ``column #> path``; ``is_list`` while at the root of a json list."""
        ops, nested = _split(value) if isinstance(value, dict) else ({"$eq": value}, {})
        # bind the path only when used: an unused parameter has no type and fails the statement
        needs = any(op not in ("$and", "$or") for op in ops) or (nested and is_list)
        expr = column if not path or not needs else f"({column} #> {self.params.add(path, 'text[]')})"
        parts = []
        for op, v in ops.items():
            if op in ("$and", "$or"):
                subs = [self.json(column, path, g, label, is_list) for g in _groups(op, v, label)]
                parts.append((_and if op == "$and" else _or)(subs) if subs else "TRUE")
            elif op not in OPERATORS:
                raise InvalidFilter(f"unknown operator {op!r} on {label!r}", field=label)
            else:
                parts.append(json_op(expr, op, v, self.params, label))
        if nested and is_list:
            parts.append(self.json_any(expr, nested, label))
        elif nested:
            for key, v in nested.items():
                first, *rest = key.split(".")
                parts.append(
                    self.json(column, [*path, first], _nest(rest, v) if rest else v, f"{label}.{first}", False)
                )
        return _and(parts)

    def json_any(self, expr: str, nested: dict, label: str) -> str:
        """Some element of the json list ``expr`` matches ``nested``."""
        contained = _containment(nested)
        if contained is not None:  # plain equality: jsonb containment, which a GIN index serves
            return f"COALESCE({expr} @> {self.params.add(json.dumps([contained]), 'text::jsonb')}, FALSE)"
        e = self.alias("e")
        cond = self.json(f"{e}.v", [], nested, label, False)
        return (
            f"EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof({expr}) = 'array' "
            f"THEN {expr} END) AS {e}(v) WHERE {cond})"
        )


def _containment(value: Any) -> Any:
    """``{"address": {"$eq": "x"}}`` as ``{"address": "x"}``; None when not plain equality."""
    if isinstance(value, dict):
        if set(value) == {"$eq"}:
            return _containment(value["$eq"])
        if not value or any(not isinstance(k, str) or k.startswith("$") for k in value):
            return None
        out = {}
        for key, v in value.items():
            first, *rest = key.split(".")
            inner = _containment(_nest(rest, v) if rest else v)
            if inner is None or first in out:
                return None
            out[first] = inner
        return out
    if isinstance(value, (str, int, float, bool)):
        return value
    return None
