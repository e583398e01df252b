"""The REST form: ``/api/<collection>:<action>`` (GET or POST), the error middleware and the
authentication middleware. Parameters are translated for the dispatcher; nothing else.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from host import keys
from host.api import PUBLIC_ATTR, Action, Raw, public_route
from host.auth import COOKIE
from host.db.pool import unreachable
from host.dispatcher import VALUE_ACTIONS
from host.errors import BadRequest, DatabaseUnavailable, HostError, PayloadTooLarge, Unauthorized
from host.jsonio import response

log = logging.getLogger(__name__)

# paths reachable without a token (besides public actions and public routes)
PUBLIC_PATHS = {"/api/health", "/api/openapi.json"}
# the one marker of a public route, shared with plugins (host.api.public_route)
public = public_route


def error_response(err: HostError) -> web.Response:
    resp = response({"errors": [err.as_json()]}, status=err.status)
    resp.headers.update(err.headers)
    return resp


@web.middleware
async def errors_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except HostError as e:
        return error_response(e)
    except web.HTTPRequestEntityTooLarge as e:
        return error_response(PayloadTooLarge(f"The request is too large ({e.text}).", code="REQUEST_TOO_LARGE"))
    except web.HTTPException as e:
        if request.path.startswith("/api/") and e.status >= 400:
            code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(e.status, "HTTP_ERROR")
            return response({"errors": [{"message": e.reason, "code": code}]}, status=e.status)
        raise
    except Exception as e:
        if unreachable(e):  # PostgreSQL down or restarting: a 503 the client may retry, no traceback
            log.warning("%s %s: the database is unavailable: %s: %s", request.method, request.path, type(e).__name__, e)
            return error_response(DatabaseUnavailable("The database cannot be reached; try again shortly."))
        log.exception("unhandled error on %s %s", request.method, request.path)
        return response({"errors": [{"message": "Internal server error.", "code": "INTERNAL_ERROR"}]}, status=500)


def _is_public(request: web.Request) -> bool:
    if not request.path.startswith("/api/") or request.path in PUBLIC_PATHS:
        return True
    match = request.match_info
    if getattr(match.handler, PUBLIC_ATTR, False):
        return True
    name, action = match.get("collection"), match.get("action")
    return bool(name and action and request.app[keys.DISPATCHER].is_public(name, action))


@web.middleware
async def auth_middleware(request: web.Request, handler):
    host = request.app[keys.HOST]
    try:
        caller = await host.auth.from_request(request)
    except Unauthorized:
        if _is_public(request):
            caller = None
        else:
            raise
    if caller is None and not _is_public(request):
        if request.method not in ("GET", "HEAD") and request.cookies.get(COOKIE):
            raise Unauthorized(
                "A POST needs the Authorization header; the cookie alone is not enough.", code="TOKEN_REQUIRED"
            )
        raise Unauthorized("Sign in first: send 'Authorization: Bearer <token>'.")
    request[keys.CALLER] = caller
    request[keys.USER] = caller.user if caller else None
    return await handler(request)


def query_params(request: web.Request) -> dict[str, Any]:
    """Query-string keys as parameters: a repeated key becomes a list (``filterByTk=5&filterByTk=6``)."""
    params: dict[str, Any] = {}
    for key in request.query.keys():
        if key in params:
            continue
        values = request.query.getall(key)
        params[key.removesuffix("[]")] = values if len(values) > 1 or key.endswith("[]") else values[0]
    return params


async def read_body(request: web.Request) -> tuple[Any, dict]:
    """The JSON body (or None), and uploaded files of a multipart body."""
    if request.method not in ("POST", "PUT", "PATCH") or not request.can_read_body:
        return None, {}
    if request.content_type.startswith("multipart/"):
        try:
            return await _read_multipart(request)
        except ValueError:  # no boundary, a part without a name...: the client's mistake
            raise BadRequest("The multipart body is malformed.", code="INVALID_BODY") from None
    raw = await request.read()
    if not raw.strip():
        return None, {}
    try:
        return json.loads(raw), {}
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The request body is not valid JSON.", code="INVALID_JSON") from None


async def _read_multipart(request: web.Request) -> tuple[dict, dict]:
    fields: dict[str, Any] = {}
    files: dict[str, list] = {}
    async for part in await request.multipart():
        data = await part.read(decode=True)
        if part.filename:
            files.setdefault(part.name, []).append(
                (part.filename, part.headers.get("Content-Type", "application/octet-stream"), bytes(data))
            )
        else:
            text = data.decode("utf-8", "replace")
            try:  # a form field may carry JSON (lists, objects, booleans)
                fields[part.name] = json.loads(text)
            except ValueError:
                fields[part.name] = text
    return fields, files


async def action_route(request: web.Request) -> web.StreamResponse:
    name, action = request.match_info["collection"], request.match_info["action"]
    dispatcher = request.app[keys.DISPATCHER]
    dispatcher.resolve(name, action)  # unknown collection/action: 404 before the body is read
    params = query_params(request)
    body, files = await read_body(request)
    values: dict[str, Any] = {}
    if body is not None and not isinstance(body, dict):
        raise BadRequest("The JSON body must be an object.", code="INVALID_BODY")
    if action in VALUE_ACTIONS:
        values = body or {}
    elif body:
        params.update(body)
    result = await dispatcher.call(
        request.app[keys.HOST], request[keys.CALLER], name, action, params, values, files, client=request.remote
    )
    return to_response(request, dispatcher.resolve(name, action)[1], result)


def to_response(request: web.Request, action: Action, result: Any) -> web.StreamResponse:
    if isinstance(result, Raw):
        return web.Response(
            body=result.body, status=result.status, headers={"Content-Type": result.content_type, **result.headers}
        )
    if isinstance(result, web.StreamResponse):
        return result
    resp = response(result)
    # the browser's session: the one thing a transport adds to an action's answer
    if action.session == "start":
        resp.set_cookie(
            COOKIE,
            result["data"]["token"],
            httponly=True,
            samesite="Strict",
            path="/",
            max_age=request.app[keys.CONFIG].token_ttl,
            secure=request.secure,
        )
    elif action.session == "end":
        resp.del_cookie(COOKIE, path="/")
    return resp


def routes() -> list[web.RouteDef]:
    path = r"/api/{collection:[A-Za-z][A-Za-z0-9_]*}:{action:[A-Za-z][A-Za-z0-9_]*}"
    return [web.get(path, action_route, allow_head=False), web.post(path, action_route)]
