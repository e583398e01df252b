"""Collections: the TOML files (one per collection) read into ``host.collection`` objects.

A file holds ``name``, ``title``, ``table``, ``internal``, ``sort``, ``[[fields]]`` and ``[acl]``
(see ``collections/*.toml``). ``load_collection`` checks one file; ``load_registry`` also checks
what spans files (relation targets, foreign keys, scope paths). Every problem is a
``ConfigError`` naming the file, so a typo stops the host at start-up, not at the first request.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from host.collection import (
    DECLARED_INTERFACES,
    INTERFACES,
    ON_DELETE,
    RELATIONS,
    SQL_TYPES,
    USER_ATTRS,
    USER_TEMPLATE,
    Acl,
    Collection,
    Field,
    Registry,
    fill_template,
    snake_case,
)
from host.errors import ConfigError

__all__ = [
    "Acl",
    "Collection",
    "Field",
    "Registry",
    "fill_template",
    "load_collection",
    "load_registry",
    "parse_collection",
    "snake_case",
    "INTERFACES",
    "SQL_TYPES",
]

# TOML flag -> Field attribute
FLAGS = {
    "primaryKey": "primary_key",
    "unique": "unique",
    "index": "index",
    "required": "required",
    "default": "default",
    "enum": "enum",
    "hidden": "hidden",
    "writeOnly": "write_only",
    "readOnly": "read_only",
    "list": "list_default",
    "column": "column",
    "shape": "shape",
    "target": "target",
    "foreignKey": "foreign_key",
    "onDelete": "on_delete",
    "title": "title",
    "description": "description",
    "interface": "interface",
}
BOOL_FLAGS = ("primaryKey", "unique", "index", "required", "hidden", "writeOnly", "readOnly", "list")
TOP_KEYS = {"name", "title", "table", "internal", "sort", "fields", "acl"}
NAME_RE = re.compile(r"^[a-z][A-Za-z0-9]*$")
FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SQL_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_registry(registry: Registry) -> None:
    """Check what spans collections; ``load_registry`` calls it after every file is added."""
    from host.query.filters import check_scope  # the filter compiler knows the paths

    tables: dict[str, str] = {}
    for c in registry.values():
        if c.table in tables:
            raise ConfigError(f"{c.source}: table {c.table!r} is also used by {tables[c.table]}")
        tables[c.table] = c.name
        for f in c.fields.values():
            if f.is_relation:
                _check_relation(c, f, registry.get(f.target))
        for role, template in c.acl.scope.items():
            try:
                check_scope(c, template)
            except Exception as e:  # InvalidFilter: say which file and role
                raise ConfigError(f"{c.source}: [acl.scope] {role!r}: {e}") from None


def _check_relation(c: Collection, f: Field, target: Collection | None) -> None:
    where = f"{c.source}: field {f.name!r}"
    if target is None:
        raise ConfigError(f"{where}: target collection {f.target!r} is unknown")
    # belongsTo: the key is ours and points at the target's primary key; hasMany: the reverse
    owner, keyed = (c, target) if f.type == "belongsTo" else (target, c)
    fk, pk = owner.fields.get(f.foreign_key), keyed.primary_key
    if fk is None or fk.is_relation:
        raise ConfigError(f"{where}: foreignKey {f.foreign_key!r} is not a field declared in {owner.name!r}")
    ints = {"integer", "bigInt"}
    if fk.type != pk.type and not (fk.type in ints and pk.type in ints):
        raise ConfigError(
            f"{where}: foreignKey {f.foreign_key!r} is {fk.type}, but the primary "
            f"key {pk.name!r} of {keyed.name!r} is {pk.type}"
        )


def _fail(path: Path | str, message: str):
    raise ConfigError(f"{path}: {message}")


def _field(path: Path, raw: Any, index: int) -> Field:
    if not isinstance(raw, dict):
        _fail(path, f"fields[{index}] must be a table")
    name, type_ = raw.get("name"), raw.get("type")
    if not isinstance(name, str) or not FIELD_RE.match(name):
        _fail(path, f"fields[{index}]: name {name!r} is missing or not an identifier")
    where = f"field {name!r}"
    if type_ not in SQL_TYPES and type_ not in RELATIONS:
        _fail(path, f"{where}: unknown type {type_!r} (known: {', '.join([*SQL_TYPES, *RELATIONS])})")
    f = Field(name=name, type=type_)
    for key, value in raw.items():
        if key in ("name", "type"):
            continue
        if key not in FLAGS:
            _fail(path, f"{where}: unknown flag {key!r}")
        if key in BOOL_FLAGS and not isinstance(value, bool):
            _fail(path, f"{where}: {key} must be true or false")
        setattr(f, FLAGS[key], value)
    relation_keys = {"target", "foreignKey", "onDelete"}
    if f.is_relation:
        if not isinstance(f.target, str) or not isinstance(f.foreign_key, str):
            _fail(path, f"{where}: a {type_} needs target and foreignKey")
        bad = set(raw) - {"name", "type", "title", "description", "hidden", "list"} - relation_keys
        if bad:
            _fail(path, f"{where}: {', '.join(sorted(bad))} not allowed on a relation")
        if type_ == "belongsTo":
            f.on_delete = f.on_delete or "set null"
            if f.on_delete not in ON_DELETE:
                _fail(path, f"{where}: onDelete must be one of {', '.join(ON_DELETE)}")
        elif f.on_delete is not None:
            _fail(path, f"{where}: onDelete belongs on the belongsTo side")
        return f
    if set(raw) & relation_keys:
        _fail(path, f"{where}: target/foreignKey/onDelete only apply to belongsTo and hasMany")
    f.column = f.column if f.column is not None else snake_case(name)
    if not isinstance(f.column, str) or not SQL_NAME_RE.match(f.column):
        _fail(path, f"{where}: column {f.column!r} is not a lower-case SQL name")
    if f.type == "binary":
        f.hidden = True  # bytes are never answered nor settable through the generic actions
    if f.shape is not None and (f.shape != "list" or f.type != "json"):
        _fail(path, f'{where}: shape must be "list", on a json field')
    if f.enum is not None and (
        f.type not in ("string", "text") or not isinstance(f.enum, list) or not all(isinstance(v, str) for v in f.enum)
    ):
        _fail(path, f"{where}: enum must be a list of strings, on a string field")
    if f.interface is not None and (
        f.interface not in DECLARED_INTERFACES
        or f.type not in ("string", "text", "json")
        or (f.type == "json" and f.shape != "list")
    ):
        _fail(
            path,
            f"{where}: interface must be one of {', '.join(DECLARED_INTERFACES)}, on a string field "
            "(or a json field of shape list)",
        )
    if f.primary_key and f.type not in ("string", "integer", "bigInt"):
        _fail(path, f"{where}: a primary key must be string, integer or bigInt")
    if f.default is not None:
        _check_default(path, f)
    return f


def _check_default(path: Path, f: Field) -> None:
    d, t = f.default, f.type
    ok = {
        "string": isinstance(d, str),
        "text": isinstance(d, str),
        "integer": isinstance(d, int) and not isinstance(d, bool),
        "bigInt": isinstance(d, int) and not isinstance(d, bool),
        "float": isinstance(d, (int, float)) and not isinstance(d, bool),
        "boolean": isinstance(d, bool),
        "json": True,
        "binary": False,
        "date": d == "now" or (hasattr(d, "isoformat") and not isinstance(d, str)),
    }[t]
    if not ok:
        _fail(path, f"field {f.name!r}: default {d!r} does not fit type {t}")
    if f.enum and d not in f.enum:
        _fail(path, f"field {f.name!r}: default {d!r} is not in its enum")


def _acl(path: Path, raw: Any, fields: dict[str, Field], internal: bool) -> Acl:
    if not isinstance(raw, dict):
        _fail(path, "[acl] must be a table")
    acl = Acl(internal=internal)
    for key, value in raw.items():
        if key == "scope":
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                _fail(path, '[acl.scope] must map a role (or "*") to a filter table')
            acl.scope = value
        elif key == "defaults":
            if not isinstance(value, dict):
                _fail(path, "[acl.defaults] must be a table")
            for name in value:
                if name not in fields or fields[name].is_relation:
                    _fail(path, f"[acl.defaults]: unknown field {name!r}")
            acl.defaults = value
        elif isinstance(value, list) and all(isinstance(a, str) for a in value):
            acl.actions[key] = value
        else:
            _fail(path, f"[acl]: {key!r} must be a list of action names")
    for attr in USER_TEMPLATE.findall(repr((acl.scope, acl.defaults))):
        if attr not in USER_ATTRS:
            _fail(path, f"[acl]: unknown template {{{{$user.{attr}}}}} (known: {', '.join(USER_ATTRS)})")
    return acl


def parse_collection(data: dict, path: Path | str = "<collection>") -> Collection:
    """A ``Collection`` from an already-parsed TOML document."""
    path = Path(path)
    unknown = set(data) - TOP_KEYS
    if unknown:
        _fail(path, f"unknown key(s) {', '.join(sorted(unknown))}")
    name = data.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        _fail(path, f"name {name!r} is missing or not camelCase")
    raw_fields = data.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        _fail(path, "no [[fields]]")
    fields: dict[str, Field] = {}
    columns: dict[str, str] = {}
    for i, raw in enumerate(raw_fields):
        f = _field(path, raw, i)
        if f.name in fields:
            _fail(path, f"field {f.name!r} is declared twice")
        if f.column is not None:
            if f.column in columns:
                _fail(path, f"fields {columns[f.column]!r} and {f.name!r} share column {f.column!r}")
            columns[f.column] = f.name
        fields[f.name] = f
    pks = [f for f in fields.values() if f.primary_key]
    if len(pks) != 1:
        _fail(path, f"needs exactly one primaryKey field, found {len(pks)}")
    table = data.get("table", snake_case(name))
    if not isinstance(table, str) or not SQL_NAME_RE.match(table):
        _fail(path, f"table {table!r} is not a lower-case SQL name")
    internal = data.get("internal", False)
    if not isinstance(internal, bool):
        _fail(path, "internal must be true or false")
    sort = data.get("sort", [pks[0].name])
    if isinstance(sort, str):
        sort = [s.strip() for s in sort.split(",") if s.strip()]
    if not isinstance(sort, list):
        _fail(path, "sort must be a list of field names")
    for s in sort:
        f = fields.get(s.lstrip("-")) if isinstance(s, str) else None
        if f is None or f.is_relation:
            _fail(path, f"sort: {s!r} is not a field")
    return Collection(
        name=name,
        table=table,
        fields=fields,
        primary_key=pks[0],
        title=str(data.get("title", "")),
        internal=internal,
        default_sort=list(sort),
        acl=_acl(path, data.get("acl", {}), fields, internal),
        source=str(path),
    )


def load_collection(path: Path | str) -> Collection:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: bad TOML: {e}") from None
    return parse_collection(data, path)


def load_registry(paths: Iterable[Path | str]) -> Registry:
    """Load collection files (a folder stands for its ``*.toml``) and check them together."""
    registry = Registry()
    for p in paths:
        p = Path(p)
        for file in sorted(p.glob("*.toml")) if p.is_dir() else [p]:
            registry.add(load_collection(file))
    check_registry(registry)
    return registry
