"""The plugin API: the objects a plugin hands to the host, the context an action runs in, and
the host's query tools that an action uses.

Plugins import from here, ``host.errors`` and ``host.hookspecs``; everything else in ``host`` is
internal and may change (a test holds the plugin to it). What is here is documented and kept.

The sections:

- **Declarations** a plugin returns from its hooks: ``Action``, ``Badge``, ``Job``, ``Migration``,
  ``UIEntry``, ``UIExtension``; and what an action answers besides JSON: ``Raw``.
- **The action context** (``ActionContext``): the caller, its parameters, and its scope:
  ``in_scope`` (which of these ids may the caller see), ``where`` (the SQL condition of the
  caller's rows), ``widen`` (a read of every user's rows, for a user whose flag allows it),
  ``run_generic`` (the generic list/get/create/update/destroy, from a custom one).
  Who owns a row is said once, by the collection's ``[acl.scope]``; an action never writes
  ``user_id = $1`` by hand.
- **Parameters** as they arrive from either transport: ``read_ids``, ``read_names``,
  ``read_page``, ``parse_filter``; and bound values: ``Params``, ``coerce``, ``like_pattern``.
- **Rows and answers**: ``make_selection``, ``fetch_rows``, ``count_rows``, ``read_sort``,
  ``order_sql``, ``answer_row``, ``db_errors``, ``snake_case``.
- **Routes** a plugin registers (``register_routes``): ``public_route``, ``request_user``,
  ``request_host``.
- **For annotations only** (import them under ``TYPE_CHECKING``): ``Host`` (what hooks such as
  ``startup`` receive), ``Collection``, ``Selection``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, TypeVar

from host import keys
from host.actions import GENERIC
from host.actions.common import db_errors, scoped_where
from host.actions.common import selection as _selection
from host.errors import BadRequest, Forbidden, NotFound
from host.query.filters import parse_filter
from host.query.params import read_names, read_page, read_tk
from host.query.select import answer_row, count_rows, fetch_rows, make_selection, order_sql, read_sort
from host.query.values import CoercionError, Params, coerce, ident, like_pattern
from host.schema import snake_case

if TYPE_CHECKING:  # pragma: no cover
    import asyncpg
    from aiohttp import web

    from host.query.select import Selection
    from host.runtime import Host
    from host.schema import Collection

__all__ = [
    "Action",
    "ActionContext",
    "Badge",
    "Job",
    "Migration",
    "Raw",
    "UIEntry",
    "UIExtension",
    "User",
    "read_ids",
    "read_names",
    "read_page",
    "parse_filter",
    "Params",
    "coerce",
    "CoercionError",
    "like_pattern",
    "make_selection",
    "fetch_rows",
    "count_rows",
    "read_sort",
    "order_sql",
    "answer_row",
    "db_errors",
    "scope_where",
    "snake_case",
    "public_route",
    "request_user",
    "request_host",
]


@dataclass(frozen=True)
class User:
    id: int
    email: str
    role: str  # "root" | "member"
    nickname: str = ""

    @property
    def is_root(self) -> bool:
        return self.role == "root"


@dataclass
class ActionContext:
    """What one call of ``<collection>:<action>`` sees, whichever transport it came by.

    ``params`` holds the merged parameters (query string, then the JSON body's keys for actions
    other than create/update); ``values`` holds the record values of create/update (else ``{}``).
    ``user`` is None only for public actions called without a token. ``token`` is the bearer
    token the call came with (what ``auth:signOut`` revokes); ``client`` the caller's network
    address (what the sign-in limit counts by).
    """

    host: "Host"
    collection: "Collection"
    action: str
    params: dict[str, Any]
    values: dict[str, Any]
    user: User | None
    # uploaded files of a multipart request: name -> list of (filename, content_type, bytes)
    files: dict[str, list[tuple[str, str, bytes]]] = field(default_factory=dict)
    token: str | None = None
    client: str | None = None
    # set by ``widen``: this read sees every user's rows (no collection's [acl.scope] applies)
    widened: bool = False

    @property
    def scope_user(self) -> User | None:
        """The user whose scope this call reads in: the caller, or None once ``widen`` lifted it."""
        return None if self.widened else self.user

    async def widen(self, flag: str, *, name: str = "scope") -> bool:
        """Parameter ``name`` (``scope``): absent or ``"own"`` reads the caller's own rows (False);
        ``"all"`` lifts every collection's ``[acl.scope]`` for the rest of this call (True), only
        when the caller's record in ``users`` has the boolean field ``flag`` set (else 403); anything
        else is a 400. For read actions only: an action that changes something never calls it, so
        its ids stay checked against the caller's scope (404)."""
        raw = self.params.get(name)
        if isinstance(raw, list) and len(raw) == 1:
            raw = raw[0]
        if raw in (None, "", "own"):
            return False
        if raw != "all":
            raise BadRequest(f'\'{name}\' must be "own" or "all".', code="INVALID_VALUE", field=name)
        users = self.collection_named("users")
        column = users.fields[flag].column
        assert column is not None and users.fields[flag].type == "boolean"
        allowed = self.user is not None and await self.db.fetchval(
            f"SELECT t.{ident(column)} FROM {ident(users.table)} t WHERE t.id = $1", self.user.id
        )
        if not allowed:
            raise Forbidden(f'Only a user with {flag} may read with {name} "all".')
        self.widened = True
        return True

    @property
    def db(self) -> "asyncpg.Pool":
        return self.host.db

    def collection_named(self, name: str) -> "Collection":
        """Another collection of the registry (e.g. ``mailAccounts`` from a ``mailMessages`` action)."""
        return self.host.registry[name]

    def where(
        self,
        params: "Params",
        *,
        flt: dict | None = None,
        ids: list[Any] | None = None,
        collection: "Collection | str | None" = None,
    ) -> str:
        """The SQL condition (on alias ``t``) of the caller's rows of ``collection`` (this action's
        by default): its ``[acl.scope]`` for the caller, AND ``flt`` (a parsed filter), AND primary
        key in ``ids``. Values go into ``params``."""
        coll = self._collection(collection)
        return scoped_where(coll, self.scope_user, params, flt, ids)

    async def in_scope(
        self, raw: Any = None, *, name: str = "filterByTk", collection: "Collection | str | None" = None, db: Any = None
    ) -> list[Any]:
        """The ids of parameter ``name`` (or ``raw``), each a row of ``collection`` the caller may see;
        a missing parameter is a 400, and any id outside the caller's scope a 404, the same answer
        as for an id that does not exist. Answers them de-duplicated, in the order given."""
        coll = self._collection(collection)
        read = read_tk(coll, self.params.get(name) if raw is None else raw, name)
        if read is None:
            raise _missing(name)
        ids = read[0]
        params = Params()
        # only a relation field has no column, and a primary key is never a relation (host.schema)
        assert coll.primary_key.column is not None
        pk = ident(coll.primary_key.column)
        rows = await (db or self.db).fetch(
            f"SELECT t.{pk} FROM {ident(coll.table)} t WHERE {scoped_where(coll, self.scope_user, params, None, ids)}",
            *params.values,
        )
        if len(rows) != len(ids):
            raise NotFound(f"No such record in {coll.name}.")
        return ids

    def selection(self, mode: str = "list") -> "Selection":
        """What the caller's ``fields``, ``appends`` and ``except`` ask of this collection."""
        return _selection(self, mode)

    async def run_generic(self, action: str) -> Any:
        """Run the generic ``list``, ``get``, ``create``, ``update`` or ``destroy`` with this context:
        for a custom action that adds a step before or after the generic one."""
        if action not in GENERIC:
            raise ValueError(f"no generic action {action!r}")
        return await GENERIC[action](self)

    def _collection(self, collection: "Collection | str | None") -> "Collection":
        if collection is None:
            return self.collection
        return self.collection_named(collection) if isinstance(collection, str) else collection


@dataclass(frozen=True)
class Raw:
    """An answer that is not JSON (a download, an HTML page). Only the REST form can carry it."""

    body: bytes
    content_type: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[ActionContext], Awaitable[Any]]


@dataclass(frozen=True)
class Action:
    """``<collection>:<name>`` implemented by ``handler``.

    The handler answers a dict (``{"data": ..., "meta"?: ...}``) or a ``Raw``. A plugin action
    with the name of a generic one (list, get, create, update, destroy) replaces it for that
    collection. Who may call it is the collection's ``[acl]``; ``public`` actions need no token.

    ``reads``: the action changes nothing, so a GET with only the session cookie may call it
    (a browser can't add a header to a download link or an event stream). Every other action
    needs the ``Authorization`` header: the cookie travels with any request the browser makes,
    including one a link or an image inside the app makes, and must never change state.

    ``session``: ``"start"`` when the answer's ``data.token`` begins a browser session (the REST
    transport sets the cookie from it), ``"end"`` when the call ends one (it clears the cookie).
    The action itself does the work; a transport only carries its result.
    """

    collection: str
    name: str
    handler: Handler
    public: bool = False
    summary: str = ""
    reads: bool = False
    session: str | None = None


@dataclass(frozen=True)
class Badge:
    """A top-bar icon with a count for the signed-in user."""

    name: str
    icon: str
    href: str
    count: Callable[["Host", User], Awaitable[int]]
    title: str = ""


@dataclass(frozen=True)
class Job:
    """A periodic job: across all processes on one database it runs once per ``interval`` seconds."""

    name: str
    interval: float | Callable[["Host"], float]
    run: Callable[["Host"], Awaitable[None]]


@dataclass(frozen=True)
class Migration:
    """Hand-written SQL run once, after the collection tables exist (indexes, triggers...).

    ``replaces``: checksums (``host.db.migrate.checksum``) of earlier texts of this migration
    that databases may have recorded and that count as applied; for a migration that had to be
    fixed because it could not run everywhere (never to change what it did where it ran)."""

    plugin: str
    version: int
    name: str
    sql: str
    replaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class UIEntry:
    """A page of the admin shell: a side-menu entry and the ES module that renders it.

    ``path`` is under ``/admin`` (e.g. ``/admin/mail``); ``module`` is a URL the browser imports;
    the module default-exports an ``async function mount(element, shell)``. ``static_dir`` is
    served under ``/static/plugins/<plugin>/``.
    """

    plugin: str
    path: str
    title: str
    module: str
    icon: str = ""
    static_dir: Path | None = None
    menu: bool = True


@dataclass(frozen=True)
class UIExtension:
    """An ES module that adds to the host's own pages, returned from ``register_ui`` beside pages.

    ``module`` is a URL the browser imports; it exports ``extendCollectionPage(registry)``, which
    may add cell renderers for fields of an ``interface``, tabs on a record's page and actions on
    the selected rows of the generic collection page (the registry is documented at the top of
    ``host/static/js/extensions.js``). ``static_dir`` is served under ``/static/plugins/<plugin>/``,
    as a ``UIEntry``'s (one of the two is enough for a plugin with both).
    """

    plugin: str
    module: str
    static_dir: Path | None = None


# ---------------------------------------------------------------- parameters, rows, routes


def _missing(name: str) -> BadRequest:
    return BadRequest(f"'{name}' is required.", code="MISSING_PARAMETER", field=name)


def read_ids(collection: "Collection", raw: Any, name: str = "filterByTk") -> tuple[list[Any], bool] | None:
    """An id parameter (``filterByTk``, ``accountId``...) as (ids coerced to the collection's
    primary key type, whether a list was given); None when absent; a 400 when malformed.
    Reading is not checking: ``ActionContext.in_scope`` says which the caller may see."""
    return read_tk(collection, raw, name)


def scope_where(
    collection: "Collection", user: User | None, params: "Params", flt: dict | None = None, ids: list[Any] | None = None
) -> str:
    """``ActionContext.where`` outside an action (a badge count, a job): the condition on alias
    ``t`` of ``user``'s rows of ``collection``, by its ``[acl.scope]``."""
    return scoped_where(collection, user, params, flt, ids)


PUBLIC_ATTR = "__host_public__"

_RouteHandler = TypeVar("_RouteHandler", bound=Callable[..., Any])


def public_route(handler: _RouteHandler) -> _RouteHandler:
    """Mark a route handler under ``/api/`` as reachable without a token (it then checks what it
    needs itself, e.g. a signed URL)."""
    setattr(handler, PUBLIC_ATTR, True)
    return handler


def request_user(request: "web.Request") -> User | None:
    """The signed-in user of a plugin route's request (None on a public route without a token)."""
    return request[keys.USER]


def request_host(request: "web.Request") -> "Host":
    """The ``Host`` of a plugin route's request."""
    return request.app[keys.HOST]
