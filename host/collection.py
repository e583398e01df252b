"""What a collection is once its file is read: ``Field``, ``Acl``, ``Collection``, ``Registry``.

``host.schema`` reads the TOML files into these; everything else in the host works with them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from host.errors import ConfigError

SQL_TYPES = {
    "string": "text",
    "text": "text",
    "integer": "integer",
    "bigInt": "bigint",
    "float": "double precision",
    "boolean": "boolean",
    "date": "timestamp with time zone",
    "json": "jsonb",
    "binary": "bytea",
}
RELATIONS = ("belongsTo", "hasMany")
INTERFACES = {
    "string": "input",
    "text": "textarea",
    "integer": "integer",
    "bigInt": "integer",
    "float": "number",
    "boolean": "checkbox",
    "date": "datetime",
    "json": "json",
    "belongsTo": "m2o",
    "hasMany": "o2m",
}
ON_DELETE = ("cascade", "set null", "restrict")
# interfaces a collection may declare on a field (``interface = "email"``): what the value means
DECLARED_INTERFACES = ("email", "domain")
USER_TEMPLATE = re.compile(r"\{\{\s*\$user\.(\w+)\s*\}\}")
USER_ATTRS = ("id", "email", "role", "nickname")


def snake_case(name: str) -> str:
    """``mailMessages`` -> ``mail_messages``; ``mailOAuthStates`` -> ``mail_o_auth_states``."""
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


@dataclass
class Field:
    name: str
    type: str
    column: str | None = None
    primary_key: bool = False
    unique: bool = False
    index: bool = False
    required: bool = False
    default: Any = None
    enum: list[str] | None = None
    hidden: bool = False
    write_only: bool = False
    read_only: bool = False
    list_default: bool = True
    shape: str | None = None
    target: str | None = None
    foreign_key: str | None = None
    on_delete: str | None = None
    title: str = ""
    description: str = ""
    # what the value is, beyond its type: "email" (an address, or a list of them), "domain"
    interface: str | None = None

    @property
    def is_relation(self) -> bool:
        return self.type in RELATIONS

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]

    @property
    def answered(self) -> bool:
        """Whether a record's answer may carry this field."""
        return not (self.hidden or self.write_only or self.type == "binary" or self.is_relation)

    @property
    def filterable(self) -> bool:
        """Whether a caller may filter or sort on it (hidden and secret values may not be probed)."""
        return self.answered or (self.is_relation and not self.hidden)

    @property
    def settable(self) -> bool:
        """Whether generic create/update may set it (read-only fields are refused separately)."""
        return not (self.hidden or self.type == "binary" or self.type == "hasMany")


def fill_template(value: Any, user) -> Any:
    """Replace ``{{$user.id}}`` (and email, role, nickname) in a scope or default template.

    A string that is exactly one template becomes the attribute itself (an ``int`` for id), so
    that the filter compares it with the field's own type.
    """
    if isinstance(value, dict):
        return {k: fill_template(v, user) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_template(v, user) for v in value]
    if isinstance(value, str):
        whole = USER_TEMPLATE.fullmatch(value.strip())
        if whole:
            return getattr(user, whole.group(1))
        return USER_TEMPLATE.sub(lambda m: str(getattr(user, m.group(1))), value)
    return value


@dataclass
class Acl:
    """``[acl]``: which role may call which action, the rows it sees, what create fills in."""

    actions: dict[str, list[str]] = dc_field(default_factory=dict)
    scope: dict[str, dict] = dc_field(default_factory=dict)
    defaults: dict[str, Any] = dc_field(default_factory=dict)
    internal: bool = False

    def allows(self, role: str | None, action: str) -> bool:
        if self.internal or role is None:
            return False
        allowed = self.actions.get(role, [])
        return "*" in allowed or action in allowed

    def scope_filter(self, user) -> dict | None:
        """The filter every query of ``user`` is ANDed with; None when unrestricted (or no user)."""
        if user is None:
            return None
        template = self.scope.get(user.role, self.scope.get("*"))
        return fill_template(template, user) if template else None

    def defaults_for(self, user) -> dict[str, Any]:
        if user is None:
            return {}
        return {name: fill_template(value, user) for name, value in self.defaults.items()}


@dataclass
class Collection:
    name: str
    table: str
    fields: dict[str, Field]
    primary_key: Field
    title: str = ""
    internal: bool = False
    default_sort: list[str] = dc_field(default_factory=list)
    acl: Acl = dc_field(default_factory=Acl)
    source: str = ""
    # set by Registry.add: relations are resolved through it
    registry: "Registry | None" = dc_field(default=None, repr=False, compare=False)

    def field(self, name: str) -> Field | None:
        return self.fields.get(name)

    @functools.cached_property
    def answered_fields(self) -> dict[str, Field]:
        """The fields an answer may carry, in order (computed once: rows are answered often)."""
        return {name: f for name, f in self.fields.items() if f.answered}

    def related(self, field: Field) -> "Collection":
        target = self.registry.get(field.target) if self.registry is not None else None
        if target is None:
            raise ConfigError(f"{self.name}.{field.name}: target {field.target!r} is not registered")
        return target

    def scope_filter(self, user) -> dict | None:
        return self.acl.scope_filter(user)

    def defaults_for(self, user) -> dict[str, Any]:
        return self.acl.defaults_for(user)

    def describe(self) -> dict[str, Any]:
        """This collection as ``collections:list`` answers it (hidden fields left out)."""
        fields = []
        for f in self.fields.values():
            if f.hidden or f.type == "binary":
                continue
            d: dict[str, Any] = {
                "name": f.name,
                "type": f.type,
                "interface": f.interface or ("select" if f.enum else INTERFACES[f.type]),
            }
            if f.title:
                d["title"] = f.title
            if f.target:
                d["target"] = f.target
            if f.foreign_key:
                d["foreignKey"] = f.foreign_key
            if f.enum:
                d["enum"] = list(f.enum)
            for key, on in (
                ("primaryKey", f.primary_key),
                ("required", f.required),
                ("readOnly", f.read_only),
                ("writeOnly", f.write_only),
            ):
                if on:
                    d[key] = True
            fields.append(d)
        return {"name": self.name, "title": self.title or self.name, "fields": fields}


class Registry(Mapping):
    """Every collection, by name. Iterating yields names (like a dict); ``values()`` the collections."""

    def __init__(self, collections: Iterable[Collection] = ()):
        self._by_name: dict[str, Collection] = {}
        for c in collections:
            self.add(c)

    def add(self, collection: Collection) -> None:
        old = self._by_name.get(collection.name)
        if old is not None:
            raise ConfigError(
                f"{collection.source}: collection {collection.name!r} is already declared in {old.source}"
            )
        self._by_name[collection.name] = collection
        collection.registry = self

    def get(self, name: str, default: Any = None) -> Collection | None:
        return self._by_name.get(name, default)

    def __getitem__(self, name: str) -> Collection:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)
