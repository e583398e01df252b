"""Action parameters as they arrive, normalised.

A query string gives strings (``"5"``, ``["5", "6"]``, ``"id,subject"``, ``"false"``); a JSON
body gives typed values (``5``, ``[5, 6]``, ``["id", "subject"]``, ``false``). Both read the same.
"""

from __future__ import annotations

import json
from typing import Any

from host.errors import BadRequest
from host.query.values import CoercionError, coerce

MAX_PAGE_SIZE = 1000


def read_tk(collection, raw: Any, name: str = "filterByTk") -> tuple[list[Any], bool] | None:
    """``filterByTk`` (or another id parameter, ``name``) as (ids coerced to the primary key's
    type, whether a list was given)."""
    if raw is None or raw == "":
        return None
    many = isinstance(raw, (list, tuple))
    if isinstance(raw, str) and raw.strip().startswith("["):
        try:
            raw, many = json.loads(raw), True
        except ValueError:
            raise BadRequest(f"{name} {raw!r} is not an id or a JSON list of ids", field=name) from None
    items = list(raw) if isinstance(raw, (list, tuple)) else [raw]
    if not items:
        raise BadRequest(f"{name} is an empty list", field=name)
    pk = collection.primary_key
    ids = []
    for item in items:
        try:
            if item is None or isinstance(item, (dict, list)):
                raise CoercionError(f"{item!r} is not an id")
            ids.append(coerce(pk.type, item))
        except CoercionError as e:
            raise BadRequest(f"{name}: {e}", field=name) from None
    return list(dict.fromkeys(ids)), many


def read_names(raw: Any, name: str) -> list[str] | None:
    """``fields`` / ``appends`` / ``except`` / ``sort``: comma-separated, repeated, or a JSON list."""
    if raw is None:
        return None
    if isinstance(raw, str) and raw.strip().startswith("["):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise BadRequest(f"{name}: {raw!r} is not valid JSON", field=name) from None
    items = raw if isinstance(raw, (list, tuple)) else [raw]
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise BadRequest(f"{name} takes field names, not {json.dumps(item)}", field=name)
        out.extend(part.strip() for part in item.split(",") if part.strip())
    return out


def read_int(raw: Any, name: str, default: int, minimum: int = 1, maximum: int | None = None) -> int:
    if raw is None or raw == "":
        return default
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    try:
        value = coerce("integer", raw)
    except CoercionError:
        raise BadRequest(f"{name} must be an integer, not {raw!r}", field=name) from None
    if value < minimum:
        raise BadRequest(f"{name} must be at least {minimum}", field=name)
    return min(value, maximum) if maximum is not None else value


def read_bool(raw: Any, name: str, default: bool) -> bool:
    if raw is None or raw == "":
        return default
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    try:
        return coerce("boolean", raw)
    except CoercionError:
        raise BadRequest(f"{name} must be true or false, not {raw!r}", field=name) from None


def read_page(params: dict) -> tuple[int, int, bool]:
    """(page, pageSize, paginate); pageSize is capped at 1000."""
    return (
        read_int(params.get("page"), "page", 1),
        read_int(params.get("pageSize"), "pageSize", 20, maximum=MAX_PAGE_SIZE),
        read_bool(params.get("paginate"), "paginate", True),
    )
