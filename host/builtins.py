"""The host's own actions and routes: health, ``collections:list``, ``app:shell``."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from host import keys
from host.api import Action, ActionContext, UIEntry
from host.hookspecs import hookimpl
from host.jsonio import response
from host.rest import public

log = logging.getLogger(__name__)

HEALTH_TIMEOUT = 2.0  # seconds the database has to answer a health check


async def list_collections(ctx: ActionContext) -> dict:
    # the schema is no secret: every signed-in user may read it (rows stay behind each ACL)
    rows = [c.describe() for c in ctx.host.registry.values() if not c.internal]
    return (
        {"data": rows}
        if str(ctx.params.get("paginate", "true")).lower() == "false"
        else {"data": rows, "meta": {"count": len(rows), "page": 1, "pageSize": len(rows), "totalPage": 1}}
    )


def _page(entry: UIEntry) -> dict:
    return {
        "plugin": entry.plugin,
        "path": entry.path,
        "title": entry.title,
        "module": entry.module,
        "icon": entry.icon,
        "menu": entry.menu,
    }


async def shell(ctx: ActionContext) -> dict:
    """What the admin shell needs at start: the user, the plugin pages, the collections, and the
    modules that extend the host's pages (``UIExtension``)."""
    registry = ctx.host.registry
    return {
        "data": {
            "user": {"id": ctx.user.id, "email": ctx.user.email, "nickname": ctx.user.nickname, "role": ctx.user.role},
            "pages": [_page(e) for e in ctx.host.ui_entries],
            "extensions": [e.module for e in ctx.host.ui_extensions],
            "collections": [
                {"name": c.name, "title": c.title or c.name}
                for c in registry.values()
                if not c.internal and c.acl.allows(ctx.user.role, "list")
            ],
        }
    }


@public
async def health(request: web.Request) -> web.Response:
    """Readiness: 200 once migrations ran and plugins started, 503 while the database does not
    answer ``SELECT 1`` within ``HEALTH_TIMEOUT`` (a probe must never hang on a silent network)."""
    host = request.app.get(keys.HOST)
    if host is None:
        return response({"data": {"status": "starting", "database": "unavailable"}}, status=503)
    try:
        await _database_answers(host.db)
    except Exception as e:  # refused, reset, timed out, pool closed: all mean "not now"
        log.warning("health: the database is unavailable: %s: %s", type(e).__name__, e)
        return response({"data": {"status": "unavailable", "database": "unavailable"}}, status=503)
    return response({"data": {"status": "ok", "database": "ok"}})


async def _database_answers(db) -> None:
    """``SELECT 1`` within ``HEALTH_TIMEOUT``. A connection whose query timed out is dropped:
    handed back, asyncpg would wait for the cancel to reach a server that does not answer."""
    deadline = time.monotonic() + HEALTH_TIMEOUT
    conn = await db.acquire(timeout=HEALTH_TIMEOUT)
    try:
        await conn.fetchval("SELECT 1", timeout=max(deadline - time.monotonic(), 0.1))
    except BaseException:
        conn.terminate()
        raise
    finally:
        await db.release(conn)


ACTIONS = [
    Action("collections", "list", list_collections, reads=True, summary="Every collection with its fields"),
    Action(
        "app",
        "shell",
        shell,
        reads=True,
        summary="The signed-in user, plugin pages, collections and page extensions for the admin shell",
    ),
]


async def home(request: web.Request) -> web.Response:
    raise web.HTTPFound("/admin")


# ---------------------------------------------------------------- a default plugin (host.plugins)


@hookimpl(tryfirst=True)
def register_actions():
    return ACTIONS


@hookimpl(tryfirst=True)
def register_routes():
    return [web.get("/api/health", health), web.get("/", home)]
