"""JSON-RPC 2.0 at ``POST /api/rpc`` over the same dispatcher as the REST form.

``params`` is the merged parameter object of the HTTP form, with ``values`` for create/update.
Error codes: -32700 parse error, -32600 invalid request, -32601 unknown method, -32602 invalid
params (what the HTTP form answers 400 for), -32000 any other error, with the HTTP form's error
object and its status in ``error.data``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from host import keys
from host.api import Raw
from host.auth import COOKIE
from host.db.pool import unreachable
from host.dispatcher import VALUE_ACTIONS, UnknownAction
from host.errors import BadRequest, DatabaseUnavailable, HostError, Unauthorized
from host.hookspecs import hookimpl
from host.jsonio import response
from host.rest import public

log = logging.getLogger(__name__)

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, SERVER_ERROR = -32700, -32600, -32601, -32602, -32000
MAX_BATCH = 100


def _error(id_: Any, code: int, message: str, data: Any = None) -> dict:
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "error": err, "id": id_}


async def _one(request: web.Request, call: Any) -> dict | None:
    if not isinstance(call, dict) or call.get("jsonrpc") != "2.0" or not isinstance(call.get("method"), str):
        return _error(
            call.get("id") if isinstance(call, dict) else None,
            INVALID_REQUEST,
            "Invalid request: an object with jsonrpc '2.0' and a method is required.",
        )
    id_ = call.get("id")
    notification = "id" not in call
    params = call.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        return _error(id_, INVALID_PARAMS, "params must be an object.")
    name, sep, action = call["method"].partition(":")
    try:
        if not sep:
            raise UnknownAction(f"Unknown method {call['method']!r}: expected '<collection>:<action>'.")
        params = dict(params)
        values = params.pop("values", None) if action in VALUE_ACTIONS else None
        if values is not None and not isinstance(values, dict):
            raise BadRequest("values must be an object.", code="INVALID_BODY")
        result = await request.app[keys.DISPATCHER].call(
            request.app[keys.HOST], request[keys.CALLER], name, action, params, values or {}, client=request.remote
        )
        if isinstance(result, (Raw, web.StreamResponse)):
            raise BadRequest("This action answers a file or a page; call it over HTTP.", code="NOT_JSON")
    except UnknownAction as e:
        return None if notification else _error(id_, METHOD_NOT_FOUND, e.message, e.as_json() | {"status": e.status})
    except BadRequest as e:
        return None if notification else _error(id_, INVALID_PARAMS, e.message, e.as_json() | {"status": e.status})
    except HostError as e:
        return None if notification else _error(id_, SERVER_ERROR, e.message, e.as_json() | {"status": e.status})
    except Exception as e:
        if unreachable(e):  # as over REST: PostgreSQL down is a 503 to retry, not an internal error
            err = DatabaseUnavailable("The database cannot be reached; try again shortly.")
            return (
                None if notification else _error(id_, SERVER_ERROR, err.message, err.as_json() | {"status": err.status})
            )
        log.exception("unhandled error in JSON-RPC %s", call["method"])
        return (
            None
            if notification
            else _error(id_, SERVER_ERROR, "Internal server error.", {"code": "INTERNAL_ERROR", "status": 500})
        )
    return None if notification else {"jsonrpc": "2.0", "result": result, "id": id_}


def _needs_token(request: web.Request, body: Any) -> bool:
    """Whether a call of the body needs a token the request lacks (HTTP 401, as over REST)."""
    if request[keys.CALLER] is not None:
        return False
    dispatcher = request.app[keys.DISPATCHER]
    for call in body if isinstance(body, list) else [body]:
        method = call.get("method") if isinstance(call, dict) else None
        name, _, action = method.partition(":") if isinstance(method, str) else ("", "", "")
        if not dispatcher.is_public(name, action):
            return True
    return False


@public  # the route is; each call is checked as the REST form checks it (auth:signIn needs no token)
async def rpc_route(request: web.Request) -> web.Response:
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return response(_error(None, PARSE_ERROR, "Parse error: the body is not valid JSON."))
    if _needs_token(request, body):
        if request.cookies.get(COOKIE):
            raise Unauthorized(
                "JSON-RPC needs the Authorization header; the cookie alone is not enough.", code="TOKEN_REQUIRED"
            )
        raise Unauthorized("Sign in first: send 'Authorization: Bearer <token>'.")
    if isinstance(body, list):
        if not body:
            return response(_error(None, INVALID_REQUEST, "Invalid request: an empty batch."))
        if len(body) > MAX_BATCH:
            return response(_error(None, INVALID_REQUEST, f"A batch holds at most {MAX_BATCH} calls."))
        answers = [a for a in [await _one(request, c) for c in body] if a is not None]
        return response(answers) if answers else web.Response(status=204)
    answer = await _one(request, body)
    return response(answer) if answer is not None else web.Response(status=204)


# ---------------------------------------------------------------- a default plugin (host.plugins)


@hookimpl(tryfirst=True)
def register_routes():
    return [web.post("/api/rpc", rpc_route)]
