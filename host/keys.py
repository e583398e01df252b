"""Typed keys of the aiohttp application and request state (never string keys)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:  # pragma: no cover
    pass

CONFIG = web.AppKey("config", "Config")
PLUGINS = web.AppKey("plugins", "Plugins")
DISPATCHER = web.AppKey("dispatcher", "Dispatcher")
HOST = web.AppKey("host", "Host")

# request-level: the signed-in user (None on public routes without a token)
USER = web.RequestKey("user", "User | None")
# request-level: the user with its token and whether only the cookie brought it (None likewise)
CALLER = web.RequestKey("caller", "Caller | None")
# request-level: the request's id (host.logs: answered as X-Request-Id, on every log record)
REQUEST_ID = web.RequestKey("request_id", str)
