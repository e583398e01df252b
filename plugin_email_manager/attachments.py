"""Attachments as the browser gets them: a safe Content-Type and Content-Disposition (for
``mailAttachments:download``), and inline ``cid:`` images through short-lived signed URLs, which
the reader's sandboxed frame can load without a cookie. An attachment a headers-first sync listed
from the message's structure is fetched from the server the first time it is wanted.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from typing import TYPE_CHECKING

from aiohttp import web

from host.api import public_route, request_host
from host.errors import NotFound
from plugin_email_manager.mailsync import bodies

if TYPE_CHECKING:
    from asyncpg import Pool, Record

    from host.api import Host, Params

INLINE_PATH = "/api/mailAttachments:inline"
INLINE_TTL = 3600


def disposition(kind: str, filename: str) -> str:
    # a name from hostile mail may carry line breaks or controls: never into a header
    filename = re.sub(r"[\x00-\x1f\x7f]+", " ", filename).strip() or "attachment"
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'").replace("\\", "_") or "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(filename)}"


def safe_type(content_type: str | None) -> str:
    # never let stored mail be served as a page or script of our origin
    ctype = (content_type or "application/octet-stream").split(";")[0].strip().lower()
    if "html" in ctype or "xml" in ctype or "javascript" in ctype or ctype in ("image/svg+xml",):
        return "application/octet-stream"
    return ctype


async def file_of(db: Pool, scope: str, params: Params) -> Record | None:
    """The id, file name, type and bytes of the attachment within ``scope`` (a condition on alias
    ``t``); bytes None when not fetched yet (``content_of``)."""
    return await db.fetchrow(
        f"SELECT t.id, t.filename, t.content_type, t.content FROM mail_attachments t WHERE {scope}", *params.values
    )


async def content_of(host: Host, row: Record) -> bytes:
    """The attachment's bytes; listed from a structure and not fetched yet, fetched now and kept
    (``mailsync/bodies.attachment_bytes``; 502 IMAP_UNAVAILABLE when the server is out of reach)."""
    if row["content"] is not None:
        return bytes(row["content"])
    return await bodies.attachment_bytes(host, row["id"])


def inline_url(host: Host, attachment_id: int) -> str:
    expires = int(time.time()) + INLINE_TTL
    sig = host.secrets.signer.sign(f"inline:{attachment_id}:{expires}")
    return f"{INLINE_PATH}?id={attachment_id}&exp={expires}&sig={sig}"


@public_route
async def inline(request: web.Request) -> web.Response:
    host = request_host(request)
    try:
        attachment_id, expires = int(request.query["id"]), int(request.query["exp"])
    except (KeyError, ValueError):
        raise NotFound("No such image.") from None
    if expires < time.time() or not host.secrets.signer.verify(
        f"inline:{attachment_id}:{expires}", request.query.get("sig", "")
    ):
        raise NotFound("No such image (the link expired).")
    row = await host.db.fetchrow("SELECT id, content_type, content FROM mail_attachments WHERE id = $1", attachment_id)
    if row is None:
        raise NotFound("No such image.")
    content = await content_of(host, row)
    ctype = safe_type(row["content_type"])
    if not ctype.startswith("image/"):
        ctype = "application/octet-stream"
    return web.Response(
        body=content,
        content_type=ctype,
        headers={
            "Cache-Control": "private, max-age=3600",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
        },
    )


def routes() -> list[web.RouteDef]:
    return [web.get(INLINE_PATH, inline)]
