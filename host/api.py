"""The objects a plugin hands to the host, and the context an action runs in.

Plugins import from here (and from ``host.errors``); everything else in ``host`` is internal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

if TYPE_CHECKING:  # pragma: no cover
    from host.runtime import Host
    from host.schema import Collection


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

    @property
    def db(self):
        return self.host.db


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
