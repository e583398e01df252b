"""The admin shell's pages and static files (public: the pages' JavaScript asks for a token).

``/signin`` and ``/admin`` (with every path under it: the browser's router reads the rest) answer
HTML; ``/static/...`` answers the files of ``host/static/``. ``/static/plugins/`` is left to the
plugins' own static routes, which the app adds beside these.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Spelled out because mimetypes depends on the machine's tables (.js as application/javascript,
# .mjs unknown, .svg missing on minimal images).
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}

# no-cache: the browser revalidates each time (ETag / Last-Modified answer 304), so a deploy is
# seen at once without a build step to fingerprint file names. The security headers (the pages'
# Content-Security-Policy, nosniff) are host.security_headers', set on every answer.
HEADERS = {"Cache-Control": "no-cache"}


def _file(path: Path, headers: dict[str, str]) -> web.FileResponse:
    content_type = (
        CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )
    return web.FileResponse(path, headers={**headers, "Content-Type": content_type})


async def signin_page(request: web.Request) -> web.StreamResponse:
    return _file(STATIC_DIR / "signin.html", HEADERS)


async def admin_page(request: web.Request) -> web.StreamResponse:
    return _file(STATIC_DIR / "index.html", HEADERS)


async def static_file(request: web.Request) -> web.StreamResponse:
    relative = request.match_info["path"]
    path = (STATIC_DIR / relative).resolve()
    # resolve() folds "..", so a path that climbs out of STATIC_DIR is simply not found
    if (
        not path.is_relative_to(STATIC_DIR)
        or not path.is_file()
        or any(p.startswith(".") for p in Path(relative).parts)
    ):
        raise web.HTTPNotFound()
    return _file(path, HEADERS)


def ui_routes() -> list[web.RouteDef]:
    """The routes of the pages and of ``/static/`` (all but ``/static/plugins/``)."""
    return [
        web.get("/signin", signin_page),
        web.get("/admin", admin_page),
        web.get("/admin/{tail:.*}", admin_page),
        web.get(r"/static/{path:(?!plugins/).+}", static_file),
    ]
