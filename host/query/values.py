"""Values between JSON and PostgreSQL: bound parameters, type coercion, quoting of names.

Every caller-supplied value goes through ``coerce`` (so "abc" for an integer is a 400 naming the
field, not a driver error) and is bound with ``Params.add``: nothing a caller sends is pasted
into SQL. json values are bound as text and cast (``$1::text::jsonb``), which works whether or
not the pool has a jsonb codec.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, time, timezone
from typing import Any

INT_RANGE = {"integer": (-(2**31), 2**31 - 1), "bigInt": (-(2**63), 2**63 - 1)}
CASTS = {
    "string": "text",
    "text": "text",
    "integer": "integer",
    "bigInt": "bigint",
    "float": "double precision",
    "boolean": "boolean",
    "date": "timestamptz",
    "json": "text::jsonb",
}
_INT_RE = re.compile(r"^[+-]?\d+$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class CoercionError(ValueError):
    """A value that does not fit a field's type; callers add the field's name."""


def ident(name: str) -> str:
    """A quoted SQL identifier (names come from collection files, but quote them all the same)."""
    return '"' + name.replace('"', '""') + '"'


class Params:
    """The bound parameters of one statement; ``add`` answers the placeholder for a value."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._aliases = 0

    def alias(self, prefix: str = "t") -> str:
        """A table alias unique within the statement (subqueries of filters and scopes)."""
        self._aliases += 1
        return f"{prefix}{self._aliases}"

    def add(self, value: Any, cast: str | None = None) -> str:
        self.values.append(value)
        placeholder = f"${len(self.values)}"
        return f"{placeholder}::{cast}" if cast else placeholder

    def typed(self, type_: str, value: Any) -> str:
        """Bind an already coerced value of a field type, with the cast that type needs."""
        return self.add(encode(type_, value), CASTS[type_])

    def array(self, type_: str, values: list[Any]) -> str:
        if type_ == "json":
            return self.add([encode(type_, v) for v in values], "text[]") + "::jsonb[]"
        return self.add(list(values), CASTS[type_] + "[]")


def encode(type_: str, value: Any) -> Any:
    if value is None:
        return None
    if type_ == "json":
        return json.dumps(value, ensure_ascii=False)
    return value


def parse_datetime(value: Any) -> tuple[datetime, bool]:
    """An ISO 8601 date or date-time, as an aware datetime, and whether only a date was given.

    A date alone, or a date-time without offset, is read as UTC.
    """
    if isinstance(value, datetime):
        dt, only_date = value, False
    elif isinstance(value, date):
        dt, only_date = datetime.combine(value, time()), True
    elif isinstance(value, str) and value.strip():
        s = value.strip()
        only_date = len(s) <= 10 and "T" not in s and ":" not in s
        try:
            dt = datetime.combine(date.fromisoformat(s), time()) if only_date else datetime.fromisoformat(s)
        except ValueError:
            raise CoercionError(f"{value!r} is not an ISO 8601 date") from None
    else:
        raise CoercionError(f"{value!r} is not an ISO 8601 date")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt, only_date


def coerce(type_: str, value: Any) -> Any:
    """``value`` as the Python value of a field type; raises ``CoercionError``. None stays None."""
    if value is None:
        return None
    if type_ in ("string", "text"):
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise CoercionError(f"{value!r} is not a string")
    if type_ in INT_RANGE:
        n: Any = None
        if isinstance(value, int) and not isinstance(value, bool):
            n = value
        elif isinstance(value, float) and value.is_integer():
            n = int(value)
        elif isinstance(value, str) and _INT_RE.match(value.strip()):
            n = int(value.strip())
        low, high = INT_RANGE[type_]
        if n is None or not low <= n <= high:
            raise CoercionError(f"{value!r} is not an integer" if n is None else f"{value!r} is out of range")
        return n
    if type_ == "float":
        try:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError
            f = float(value)
        except ValueError:
            raise CoercionError(f"{value!r} is not a number") from None
        if not math.isfinite(f):
            raise CoercionError(f"{value!r} is not a finite number")
        return f
    if type_ == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise CoercionError(f"{value!r} is not a boolean")
    if type_ == "date":
        return parse_datetime(value)[0]
    if type_ == "json":
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise CoercionError(f"{value!r} is not JSON") from None
        return value
    raise CoercionError(f"a {type_} field cannot take a value here")


def like_pattern(text: str, start: bool = True, end: bool = True) -> str:
    """An ILIKE pattern that matches ``text`` literally (``%``, ``_`` and ``\\`` escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return ("%" if start else "") + escaped + ("%" if end else "")
