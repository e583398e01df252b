"""NocoBase filter operators as SQL, on a column of a known type or on a jsonb value.

``column_op`` compiles one operator on a typed column; ``json_op`` on a jsonb expression (a json
field, or a path into one), where the comparison follows the type of the value given. Negative
operators ($ne, $notIn, $notIncludes, $dateNotOn) also match NULL, as a person reading "subject
does not include x" expects.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from host.errors import InvalidFilter
from host.query.values import CoercionError, Params, coerce, like_pattern, parse_datetime

COMPARE = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
TEXT_OPS = {"$includes", "$notIncludes", "$startsWith", "$endWith", "$endsWith", "$notStartsWith", "$notEndWith"}
DATE_OPS = {"$dateOn", "$dateNotOn", "$dateBefore", "$dateAfter", "$dateOnOrBefore", "$dateOnOrAfter", "$dateBetween"}
POSITIVE = {"$notIncludes": "$includes", "$notStartsWith": "$startsWith", "$notEndWith": "$endWith"}
OPERATORS = (
    {"$eq", "$ne", "$in", "$notIn", "$empty", "$notEmpty", "$exists", "$isTruly", "$isFalsy", "$and", "$or"}
    | set(COMPARE)
    | TEXT_OPS
    | DATE_OPS
)
# a date-time expression of a jsonb string, NULL when it does not look like one
JSON_DATE = (
    "(CASE WHEN jsonb_typeof({e}) = 'string' AND ({e} #>> '{{}}') ~ "
    "'^\\d{{4}}-\\d{{2}}-\\d{{2}}' THEN ({e} #>> '{{}}')::timestamptz END)"
)


def _bad(label: str, message: str) -> InvalidFilter:
    return InvalidFilter(f"filter on {label!r}: {message}", field=label)


def _coerce(type_: str, value: Any, label: str) -> Any:
    try:
        return coerce(type_, value)
    except CoercionError as e:
        raise _bad(label, str(e)) from None


def _text_op(op: str, expr: str, value: Any, params: Params, label: str) -> str:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) for v in values):
        raise _bad(label, f"{op} takes a string or a list of strings")
    negate = op.startswith("$not")
    start = op in ("$includes", "$notIncludes", "$endWith", "$endsWith", "$notEndWith")
    end = op in ("$includes", "$notIncludes", "$startsWith", "$notStartsWith")
    likes = [f"{expr} ILIKE {params.add(like_pattern(v, start, end), 'text')}" for v in values]
    if negate:
        return f"({expr} IS NULL OR NOT ({' OR '.join(likes)}))"
    return "(" + " OR ".join(likes) + ")"


def _day(value: Any, label: str):
    """(start, end, exact): the day a date names (UTC, or the given offset's day), and whether
    the value was a full date-time (then before/after compare with the instant itself)."""
    try:
        dt, only_date = parse_datetime(value)
    except CoercionError as e:
        raise _bad(label, str(e)) from None
    start = dt.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1), (None if only_date else dt)


def _date_op(op: str, expr: str, value: Any, params: Params, label: str) -> str:
    def p(v):
        return params.add(v, "timestamptz")

    if op == "$dateBetween":
        if not isinstance(value, list) or len(value) != 2:
            raise _bad(label, "$dateBetween takes [from, to]")
        (s1, _, a), (_, e2, b) = _day(value[0], label), _day(value[1], label)
        upper = f"{expr} <= {p(b)}" if b else f"{expr} < {p(e2)}"
        return f"({expr} >= {p(a or s1)} AND {upper})"
    start, end, exact = _day(value, label)
    if op in ("$dateOn", "$dateNotOn"):
        on = f"({expr} >= {p(start)} AND {expr} < {p(end)})"
        return on if op == "$dateOn" else f"({expr} IS NULL OR NOT {on})"
    if op == "$dateBefore":
        return f"{expr} < {p(exact or start)}"
    if op == "$dateAfter":
        return f"{expr} > {p(exact)}" if exact else f"{expr} >= {p(end)}"
    if op == "$dateOnOrBefore":
        return f"{expr} <= {p(exact)}" if exact else f"{expr} < {p(end)}"
    return f"{expr} >= {p(exact or start)}"  # $dateOnOrAfter


def _truthy(op: str, value: Any) -> tuple[str, bool]:
    """$empty: false means $notEmpty (and so on): a UI toggling the value gets the opposite."""
    flip = {"$empty": "$notEmpty", "$notEmpty": "$empty", "$isTruly": "$isFalsy", "$isFalsy": "$isTruly"}
    if value is False or value in ("false", 0):
        return flip.get(op, op), True
    return op, False


def column_op(type_: str, expr: str, op: str, value: Any, params: Params, label: str) -> str:
    """SQL for ``expr <op> value`` where ``expr`` is a column of field type ``type_``."""
    if op in ("$empty", "$notEmpty", "$isTruly", "$isFalsy"):
        op, _ = _truthy(op, value)
    if op in ("$eq", "$ne") and isinstance(value, list):
        op = "$in" if op == "$eq" else "$notIn"
    if op in ("$eq", "$ne") and value is None:
        return f"{expr} IS {'' if op == '$eq' else 'NOT '}NULL"
    if op == "$eq":
        return f"{expr} = {params.typed(type_, _coerce(type_, value, label))}"
    if op == "$ne":
        return f"{expr} IS DISTINCT FROM {params.typed(type_, _coerce(type_, value, label))}"
    if op in COMPARE:
        if type_ in ("boolean", "json") or value is None:
            raise _bad(label, f"{op} does not apply to a {type_} field" if value is not None else f"{op} needs a value")
        return f"{expr} {COMPARE[op]} {params.typed(type_, _coerce(type_, value, label))}"
    if op in ("$in", "$notIn"):
        values = value if isinstance(value, list) else [value]
        nulls = any(v is None for v in values)
        items = [_coerce(type_, v, label) for v in values if v is not None]
        any_ = f"{expr} = ANY({params.array(type_, items)})" if items else "FALSE"
        if nulls:
            any_ = f"({any_} OR {expr} IS NULL)"
        return any_ if op == "$in" else f"NOT COALESCE({any_}, FALSE)"
    if op in ("$empty", "$notEmpty", "$exists"):
        empty = f"({expr} IS NULL OR {expr} = '')" if type_ in ("string", "text") else f"{expr} IS NULL"
        if op == "$exists":
            return f"{expr} IS NOT NULL" if value not in (False, "false", 0) else f"{expr} IS NULL"
        return empty if op == "$empty" else f"NOT {empty}"
    if op in ("$isTruly", "$isFalsy"):
        if type_ != "boolean":
            raise _bad(label, f"{op} applies to boolean fields only")
        return f"{expr} IS {'' if op == '$isTruly' else 'NOT '}TRUE"
    if op in TEXT_OPS:
        if type_ not in ("string", "text"):
            raise _bad(label, f"{op} applies to text fields only")
        return _text_op(op, expr, value, params, label)
    if op in DATE_OPS:
        if type_ != "date":
            raise _bad(label, f"{op} applies to date fields only")
        return _date_op(op, expr, value, params, label)
    raise _bad(label, f"unknown operator {op!r}")


def _jsonb(value: Any, params: Params) -> str:
    return params.add(_json_text(value), "text::jsonb")


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def json_op(expr: str, op: str, value: Any, params: Params, label: str) -> str:
    """SQL for ``expr <op> value`` where ``expr`` is a jsonb value; typed by ``value``."""
    text = f"({expr} #>> '{{}}')"
    if op in ("$empty", "$notEmpty", "$isTruly", "$isFalsy"):
        op, _ = _truthy(op, value)
    if op in ("$eq", "$ne"):
        if value is None:
            null = f"({expr} IS NULL OR {expr} = 'null'::jsonb)"
            return null if op == "$eq" else f"NOT {null}"
        return f"{expr} {'=' if op == '$eq' else 'IS DISTINCT FROM'} {_jsonb(value, params)}"
    if op in ("$in", "$notIn"):
        values = value if isinstance(value, list) else [value]
        texts = [_json_text(v) for v in values]
        any_ = f"{expr} = ANY({params.add(texts, 'text[]')}::jsonb[])" if texts else "FALSE"
        return any_ if op == "$in" else f"NOT COALESCE({any_}, FALSE)"
    if op in COMPARE:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            num = f"(CASE WHEN jsonb_typeof({expr}) = 'number' THEN {text}::numeric END)"
            return f"{num} {COMPARE[op]} {params.add(value, 'numeric')}"
        if isinstance(value, str):
            return f"{text} {COMPARE[op]} {params.add(value, 'text')}"
        raise _bad(label, f"{op} takes a number or a string")
    if op in ("$empty", "$notEmpty", "$exists"):
        if op == "$exists":
            return f"{expr} IS NOT NULL" if value not in (False, "false", 0) else f"{expr} IS NULL"
        empty = f"({expr} IS NULL OR {expr} IN ('null'::jsonb, '\"\"'::jsonb, '[]'::jsonb, '{{}}'::jsonb))"
        return empty if op == "$empty" else f"NOT {empty}"
    if op in ("$isTruly", "$isFalsy"):
        return f"{expr} = 'true'::jsonb" if op == "$isTruly" else f"{expr} IS DISTINCT FROM 'true'::jsonb"
    if op in TEXT_OPS:
        if op in ("$includes", "$notIncludes") and not isinstance(value, str):
            # a structure or number: JSON containment ([1, 2] includes 1, {"a": 1, "b": 2} {"a": 1})
            inner = value if isinstance(value, (dict, list)) else [value]
            has = f"COALESCE({expr} @> {_jsonb(inner, params)} OR {expr} = {_jsonb(value, params)}, FALSE)"
            return has if op == "$includes" else f"NOT {has}"
        # any string inside (the value itself, or any depth of an object or list)
        strings = (
            f"(SELECT v #>> '{{}}' AS s FROM jsonb_path_query({expr}, 'strict $.**') v "
            "WHERE jsonb_typeof(v) = 'string')"
        )
        cond = _text_op(POSITIVE.get(op, op), "x.s", value, params, label)
        found = f"EXISTS (SELECT 1 FROM {strings} x WHERE {cond})"
        return f"NOT {found}" if op.startswith("$not") else found
    if op in DATE_OPS:
        return _date_op(op, JSON_DATE.format(e=expr), value, params, label)
    raise _bad(label, f"unknown operator {op!r}")
