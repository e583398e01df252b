"""Badges: ``badges:list`` from the plugins' providers, and their live stream (Server-Sent Events).

A plugin says a user's counts may have changed with ``host.badges_changed(user_id)`` (a
PostgreSQL NOTIFY, so every process hears it); each process recomputes the counts for the
streams of that user it holds and pushes them when they differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

from aiohttp import web

from host import keys
from host.api import Action, ActionContext, Badge, User
from host.hookspecs import hookimpl
from host.jsonio import dumps

log = logging.getLogger(__name__)
PING_SECONDS = 15


class Badges:
    def __init__(self, providers: list[Badge]):
        self.providers = providers
        self._streams: dict[int, set[asyncio.Queue]] = defaultdict(set)

    async def for_user(self, host, user: User) -> list[dict]:
        out = []
        for b in self.providers:
            try:
                count = await b.count(host, user)
            except Exception:  # one broken provider must not hide the others
                log.exception("badge provider %s failed", b.name)
                count = None
            out.append({"name": b.name, "count": count, "icon": b.icon, "href": b.href, "title": b.title or b.name})
        return out

    async def changed(self, payload) -> None:
        user_id = payload.get("userId") if isinstance(payload, dict) else None
        for queue in list(self._streams.get(user_id, ())):
            queue.put_nowait("changed")

    def subscribe(self, user_id: int) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=100)
        self._streams[user_id].add(queue)
        return queue

    def unsubscribe(self, user_id: int, queue: asyncio.Queue) -> None:
        self._streams[user_id].discard(queue)
        if not self._streams[user_id]:
            del self._streams[user_id]


async def list_badges(ctx: ActionContext) -> dict:
    return {"data": await ctx.host.badges.for_user(ctx.host, ctx.user)}


async def stream(request: web.Request) -> web.StreamResponse:
    """``GET /api/badges:stream``: an SSE stream of the badge list, sent again when it changes."""
    host, user = request.app[keys.HOST], request[keys.USER]
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await resp.prepare(request)
    queue = host.badges.subscribe(user.id)
    last = None
    try:
        while True:
            current = dumps(await host.badges.for_user(host, user))
            if current != last:
                await resp.write(f"event: badges\ndata: {current}\n\n".encode())
                last = current
            try:
                await asyncio.wait_for(queue.get(), PING_SECONDS)
                await asyncio.sleep(0.05)  # coalesce bursts (a sync stores many messages at once)
                while not queue.empty():
                    queue.get_nowait()
            except asyncio.TimeoutError:
                await resp.write(b": ping\n\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        host.badges.unsubscribe(user.id, queue)
    with contextlib.suppress(Exception):
        await resp.write_eof()
    return resp


ACTIONS = [Action("badges", "list", list_badges, reads=True, summary="Badge counts of the signed-in user")]


# ---------------------------------------------------------------- a default plugin (host.plugins)


@hookimpl(tryfirst=True)
def register_actions():
    return ACTIONS


@hookimpl(tryfirst=True)
def register_routes():
    return [web.get("/api/badges:stream", stream)]


@hookimpl(tryfirst=True)
async def startup(host):
    """Hear every process's ``host.badges_changed``, for the streams this process holds."""
    await host.listen("host_badges", host.badges.changed)
