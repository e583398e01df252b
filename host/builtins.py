"""The host's own actions and routes: health, ``collections:list``, ``app:shell``."""
from __future__ import annotations

from aiohttp import web

from host import keys
from host.api import Action, ActionContext, UIEntry
from host.jsonio import response
from host.rest import public


async def list_collections(ctx: ActionContext) -> dict:
    # the schema is no secret: every signed-in user may read it (rows stay behind each ACL)
    rows = [c.describe() for c in ctx.host.registry.values() if not c.internal]
    return {"data": rows} if str(ctx.params.get("paginate", "true")).lower() == "false" else \
        {"data": rows, "meta": {"count": len(rows), "page": 1, "pageSize": len(rows), "totalPage": 1}}


def _page(entry: UIEntry) -> dict:
    return {"plugin": entry.plugin, "path": entry.path, "title": entry.title, "module": entry.module,
            "icon": entry.icon, "menu": entry.menu}


async def shell(ctx: ActionContext) -> dict:
    """What the admin shell needs at start: the user, the plugin pages, the collections."""
    registry = ctx.host.registry
    return {"data": {
        "user": {"id": ctx.user.id, "email": ctx.user.email, "nickname": ctx.user.nickname, "role": ctx.user.role},
        "pages": [_page(e) for e in ctx.host.ui_entries],
        "collections": [{"name": c.name, "title": c.title or c.name} for c in registry.values()
                        if not c.internal and c.acl.allows(ctx.user.role, "list")],
    }}


@public
async def health(request: web.Request) -> web.Response:
    return response({"data": {"status": "ok"}})


ACTIONS = [
    Action("collections", "list", list_collections, summary="Every collection with its fields"),
    Action("app", "shell", shell, summary="The signed-in user, plugin pages and collections for the admin shell"),
]


async def home(request: web.Request) -> web.Response:
    raise web.HTTPFound("/admin")


def routes() -> list[web.RouteDef]:
    return [web.get("/api/health", health), web.get("/", home)]
