"""The OpenAPI 3.1 document of the collections API, built from the registered actions."""
from __future__ import annotations

from aiohttp import web

from host import keys
from host.jsonio import response
from host.rest import public

PARAMS = {
    "list": ["filter", "sort", "fields", "appends", "except", "page", "pageSize", "paginate"],
    "get": ["filterByTk", "fields", "appends"],
    "update": ["filterByTk", "filter"],
    "destroy": ["filterByTk", "filter"],
}


def document(dispatcher, registry) -> dict:
    paths: dict = {}
    for name, action_name, action in dispatcher.callable_by("root") + dispatcher.callable_by("member"):
        op = {
            "operationId": f"{name}:{action_name}",
            "summary": action.summary or f"{action_name} {name}",
            "tags": [name],
            "parameters": [{"name": p, "in": "query", "required": False, "schema": {"type": "string"}}
                           for p in PARAMS.get(action_name, [])],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                          "400": {"$ref": "#/components/responses/Error"},
                          "401": {"$ref": "#/components/responses/Error"},
                          "404": {"$ref": "#/components/responses/Error"}},
        }
        if action.public:
            op["security"] = []
        paths[f"/api/{name}:{action_name}"] = {"get": {k: v for k, v in op.items() if k != "requestBody"},
                                               "post": op}
    schemas = {}
    for c in registry.values():
        if c.internal:
            continue
        desc = c.describe()
        schemas[c.name] = {"type": "object", "title": desc.get("title") or c.name,
                           "properties": {f["name"]: {"description": f"{f['type']} ({f.get('interface', '')})"}
                                          for f in desc["fields"]}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Email center API", "version": "0.1.0",
                 "description": "NocoBase-style collections API: /api/<collection>:<action>, and JSON-RPC 2.0 at /api/rpc."},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {"description": "An error", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"errors": {"type": "array", "items": {"type": "object", "properties": {
                    "message": {"type": "string"}, "code": {"type": "string"}}}}}}}}}},
        },
        "security": [{"bearer": []}],
    }


@public
async def openapi_route(request: web.Request) -> web.Response:
    return response(document(request.app[keys.DISPATCHER], request.app[keys.HOST].registry))


def routes() -> list[web.RouteDef]:
    return [web.get("/api/openapi.json", openapi_route)]
