"""The OpenAPI 3.1 document of the API (``GET /api/openapi.json``), built from what is registered.

Records are described from the collection registry: each collection gives two schemas, the
record as answered (``<name>``: fields a caller may read, relations it may append) and the values
``create`` and ``update`` take (``<name>.values``: fields a caller may set). Operations come from
the dispatcher's actions, one path ``/api/<collection>:<action>`` each: POST for every action,
GET too for the actions that only read (a GET carries its parameters in the query string).

An action's parameters are, in this order of precedence: an ``Action.params`` attribute (a JSON
Schema object; ``host.api.Action`` may grow one), the ``ACTION_PARAMS`` table below (the known
actions of the host and of the email plugin), the generic table ``GENERIC_PARAMS``, else none.
Parameters are typed the way a JSON body gives them; a query string gives the same as text
(``filterByTk=5``), except ``filter``, which a query string carries JSON-encoded.

``/api/badges:stream`` is left out: it is an event stream that never ends, not a JSON answer.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from host import keys
from host.hookspecs import hookimpl
from host.jsonio import response
from host.rest import public

# actions a GET may call: they change nothing, so a cookie suffices (PROTOCOL "Users and auth")
READ_ACTIONS = {"list", "get", "listThreads", "getThread", "download", "oauthCallback", "check", "shell"}
# actions whose JSON body is the record's values (the others' body holds their parameters)
VALUE_ACTIONS = ("create", "update")

REF = "#/components/schemas/"

ID = {"type": "integer"}
IDS = {"anyOf": [ID, {"type": "array", "items": ID, "minItems": 1}], "description": "One id or a list of ids."}
FILTER = {
    "type": "object",
    "description": "NocoBase filter JSON ($eq, $in, $and, ...), JSON-encoded in a query string.",
}
NAMES = {"type": "string", "description": "Comma-separated field names (a JSON list in a body)."}
SEARCH = {"type": "string", "description": "Words to find in subject, addresses and body."}
PAGE = {"type": "integer", "minimum": 1}
ADDRESSES = {
    "type": "array",
    "items": {"type": "string"},
    "description": "Addresses as 'Ann <ann@example.com>' or 'ann@example.com'.",
}
ATTACHMENTS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "filename": {"type": "string"},
            "contentType": {"type": "string"},
            "content": {"type": "string", "contentEncoding": "base64"},
            "contentId": {"type": "string"},
        },
    },
}

# parameter name -> schema, shared by the generic actions and the plugin actions that read them alike
COMMON = {
    "filterByTk": IDS,
    "filter": FILTER,
    "sort": NAMES,
    "fields": NAMES,
    "appends": NAMES,
    "except": NAMES,
    "page": PAGE,
    "pageSize": {**PAGE, "description": "At most 1000."},
    "paginate": {"type": "boolean"},
    "search": SEARCH,
}


def _params(names: str, required: str = "", **extra: dict) -> dict:
    """A parameter object schema: ``names`` from ``COMMON`` (space-separated), ``extra`` by name."""
    props = {n: COMMON[n] for n in names.split()} | extra
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required.split()
    return schema


GENERIC_PARAMS = {
    "list": _params("filter sort fields appends except page pageSize paginate"),
    "get": _params("filterByTk fields appends except"),
    "update": _params("filterByTk filter"),
    "destroy": _params("filterByTk filter"),
}

_MESSAGE = {"type": "string"}
_SEND = dict(
    accountId=ID,
    to=ADDRESSES,
    cc=ADDRESSES,
    bcc=ADDRESSES,
    replyTo=ADDRESSES,
    subject=_MESSAGE,
    text=_MESSAGE,
    html=_MESSAGE,
    attachments=ATTACHMENTS,
    inReplyTo=ID,
    forwardOf=ID,
    draftId=ID,
)
_IMAP = dict(
    provider={"enum": ["imap"]},
    email={"type": "string", "format": "email"},
    username={"type": "string"},
    password={"type": "string"},
    displayName={"type": ["string", "null"]},
    imapHost={"type": "string"},
    imapPort={"type": "integer", "minimum": 1, "maximum": 65535},
    imapSecurity={"enum": ["tls", "starttls", "none"]},
    smtpHost={"type": "string"},
    smtpPort={"type": "integer", "minimum": 1, "maximum": 65535},
    smtpSecurity={"enum": ["tls", "starttls", "none"]},
    syncSince={"type": ["string", "null"], "format": "date"},
    appendSent={"type": "boolean"},
)


def _object(props: dict, required: str = "", closed: bool = True) -> dict:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required.split()
    if closed:
        schema["additionalProperties"] = False
    return schema


# The known non-generic actions: "params" (query or body), "values" (the body of create/update),
# "answer" (the schema of "data"), "errors" (statuses beyond 400/401/403/404), "produces" (a
# non-JSON answer). A plugin action not listed here is described with an open parameter object.
ACTION_PARAMS: dict[str, dict[str, Any]] = {
    "auth:signIn": {
        "params": _params("", "email password", email={"type": "string"}, password={"type": "string"}),
        "answer": _object({"token": {"type": "string"}, "user": {"$ref": REF + "User"}}, closed=False),
        "errors": [401, 429],
    },  # public, yet 401 for a wrong email or password
    "auth:signOut": {"params": _params(""), "answer": {"type": "boolean"}},
    "auth:check": {"params": _params(""), "answer": {"$ref": REF + "User"}},
    "users:create": {
        "values": _object(
            {
                "email": {"type": "string", "format": "email"},
                "password": {"type": "string", "minLength": 8},
                "nickname": {"type": "string"},
                "role": {"enum": ["member", "root"]},
            },
            "email password",
        ),
        "answer": {"$ref": REF + "User"},
    },
    "collections:list": {
        "params": _params("paginate"),
        "list": True,
        "answer": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "title": {"type": "string"},
                "fields": {"type": "array", "items": {"type": "object"}},
            },
        },
    },
    "app:shell": {"params": _params("")},
    "badges:list": {
        "params": _params(""),
        "answer": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "count": {"type": "integer"},
                    "icon": {"type": "string"},
                    "href": {"type": "string"},
                },
            },
        },
    },
    "mailAccounts:create": {
        "values": _object(_IMAP, "email password imapHost imapPort smtpHost smtpPort"),
        "errors": [502],
    },
    "mailAccounts:update": {
        "params": _params("filterByTk"),
        "values": _object({k: v for k, v in _IMAP.items() if k not in ("provider", "email")}),
        "errors": [502],
    },
    "mailAccounts:link": {
        "params": _params("", "provider", provider={"enum": ["google", "microsoft"]}, accountId=ID),
        "answer": _object({"authorizationUrl": {"type": "string"}}),
        "errors": [502],
    },
    "mailAccounts:oauthCallback": {
        "params": _params("", state={"type": "string"}, code={"type": "string"}, error={"type": "string"}),
        "produces": "text/html",
        "errors": [502],
    },
    "mailAccounts:sync": {"params": _params("filterByTk", "filterByTk", wait={"type": "boolean"}), "errors": [502]},
    "mailAccounts:destroy": {"params": _params("filterByTk filter")},
    "mailMessages:list": {
        "params": _params("filter sort fields appends except page pageSize paginate search"),
        "list": True,
    },
    "mailMessages:get": {"params": _params("filterByTk fields appends except", "filterByTk"), "errors": [502]},
    "mailMessages:listThreads": {
        "params": _params("filter search sort fields appends except page pageSize"),
        "list": True,
        "answer": {
            "type": "object",
            "properties": {
                "threadId": ID,
                "subject": {"type": ["string", "null"]},
                "count": {"type": "integer"},
                "unreadCount": {"type": "integer"},
                "participants": {"type": "array"},
                "main": {"$ref": REF + "mailMessages"},
            },
        },
    },
    "mailMessages:getThread": {
        "params": _params("", "threadId", threadId=ID),
        "answer": {"type": "array", "items": {"$ref": REF + "mailMessages"}},
    },
    "mailMessages:markRead": {"params": _params("filterByTk", "filterByTk"), "errors": [502]},
    "mailMessages:markUnread": {"params": _params("filterByTk", "filterByTk"), "errors": [502]},
    "mailMessages:update": {
        "params": _params("filterByTk"),
        "values": _object(
            {
                "read": {"type": "boolean"},
                "flagged": {"type": "boolean"},
                "todo": {"type": "boolean"},
                "labels": {"type": "array", "items": {"type": "string"}},
            }
        ),
        "answer": {
            "anyOf": [{"$ref": REF + "mailMessages"}, {"type": "array", "items": {"$ref": REF + "mailMessages"}}]
        },
        "errors": [502],
    },
    "mailMessages:destroy": {"params": _params("filterByTk", "filterByTk"), "errors": [502]},
    "mailMessages:prepareReply": {"params": _params("filterByTk", "filterByTk", all={"type": "boolean"})},
    "mailMessages:prepareForward": {"params": _params("filterByTk", "filterByTk")},
    "mailMessages:send": {"params": _params("", "accountId to", **_SEND), "errors": [413, 422, 502]},
    "mailMessages:saveDraft": {"params": _params("", "accountId", **_SEND), "errors": [413, 502]},
    "mailMessages:reply": {
        "params": _params(
            "filterByTk",
            "filterByTk",
            **{k: _SEND[k] for k in ("to", "cc", "bcc", "subject", "text", "html", "attachments")},
            all={"type": "boolean"},
            quote={"type": "boolean"},
        ),
        "errors": [413, 422, 502],
    },
    "mailMessages:forward": {
        "params": _params(
            "filterByTk",
            "filterByTk to",
            **{k: _SEND[k] for k in ("to", "cc", "bcc", "subject", "text", "html", "attachments")},
            quote={"type": "boolean"},
        ),
        "errors": [413, 422, 502],
    },
    "mailAttachments:download": {"params": _params("filterByTk", "filterByTk"), "produces": "application/octet-stream"},
}


# ---------------------------------------------------------------- records

_TYPES = {
    "string": "string",
    "text": "string",
    "integer": "integer",
    "bigInt": "integer",
    "float": "number",
    "boolean": "boolean",
}


def field_schema(f) -> dict:
    """The JSON Schema of one (non-relation) field's value, ``null`` allowed unless required."""
    if f.type == "date":
        s: dict[str, Any] = {"type": "string", "format": "date-time"}
    elif f.type == "json":
        s = {"type": "array"} if f.shape == "list" else {}
    else:
        s = {"type": _TYPES[f.type]}
    if f.enum:
        s["enum"] = list(f.enum)
    nullable = not (f.required or f.primary_key)
    if nullable and "type" in s:
        s["type"] = [s["type"], "null"]
        if "enum" in s:
            s["enum"].append(None)
    for key, value in (("title", f.title), ("description", f.description)):
        if value:
            s[key] = value
    if f.read_only or f.primary_key:
        s["readOnly"] = True
    if f.write_only:
        s["writeOnly"] = True
    return s


def record_schema(coll, registry) -> dict:
    """A record as answered: its readable fields, and its relations when appended."""
    props: dict[str, Any] = {}
    for f in coll.fields.values():
        if f.answered:
            props[f.name] = field_schema(f)
        elif f.is_relation and not f.hidden:
            target = registry.get(f.target)
            if target is None or target.internal:
                continue
            ref = {"$ref": REF + target.name}
            props[f.name] = (
                {"type": "array", "items": ref} if f.type == "hasMany" else {"anyOf": [ref, {"type": "null"}]}
            )
    schema = {"type": "object", "title": coll.title or coll.name, "properties": props}
    required = [coll.primary_key.name] if coll.primary_key.answered else []
    if required:
        schema["required"] = required
    return schema


def values_schema(coll, registry, *, create: bool) -> dict:
    """What create (``create=True``) or update takes: settable, not read-only fields."""
    props: dict[str, Any] = {}
    required = []
    for f in coll.fields.values():
        if not f.settable:
            continue
        if f.type == "belongsTo":
            fk = coll.fields[f.foreign_key]
            target = registry.get(f.target)
            if fk.read_only or target is None:
                continue
            pk = field_schema(target.primary_key)
            pk.pop("readOnly", None)
            props[f.name] = {
                "anyOf": [pk, {"type": "object", "properties": {target.primary_key.name: pk}}, {"type": "null"}],
                "description": f"Sets {fk.name}: an id of {target.name}, or a record with it.",
            }
            continue
        if f.read_only:
            continue
        s = field_schema(f)
        s.pop("readOnly", None)
        props[f.name] = s
        if create and f.required and f.default is None:
            required.append(f.name)
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


# ---------------------------------------------------------------- operations


def _error_ref(status: int) -> dict:
    return {"$ref": "#/components/responses/Error"}  # the same shape whatever the status


def _ok(answer: dict | None, *, listing: bool, produces: str | None) -> dict:
    if produces:
        return {"description": "OK", "content": {produces: {"schema": {"type": "string"}}}}
    data = answer if answer is not None else {}
    if listing:
        data = {"type": "array", "items": data}
    props: dict[str, Any] = {"data": data}
    if listing:
        props["meta"] = {"$ref": REF + "Meta"}
    return {
        "description": "OK",
        "content": {"application/json": {"schema": {"type": "object", "properties": props, "required": ["data"]}}},
    }


def _query_parameters(params: dict) -> list[dict]:
    out = []
    required = set(params.get("required", []))
    for name, schema in params.get("properties", {}).items():
        p: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        if (
            schema.get("type") == "object"
            or schema.get("type") == "array"
            and schema.get("items", {}).get("type") == "object"
        ):
            p["content"] = {"application/json": {"schema": schema}}  # filter: JSON-encoded
        else:
            p["schema"] = schema
            if schema.get("type") == "array" or "anyOf" in schema:
                p["style"], p["explode"] = "form", True  # filterByTk=5&filterByTk=6
        out.append(p)
    return out


def _spec(collection, action_name: str, action, registry) -> dict:
    """What ``ACTION_PARAMS``/``GENERIC_PARAMS`` (or the action itself) say of one action."""
    key = f"{collection}:{action_name}"
    spec = dict(ACTION_PARAMS.get(key, {}))
    own = getattr(action, "params", None)
    if own is not None:
        spec["params"] = own
    coll = registry.get(collection)
    if coll is not None and not coll.internal:
        if action_name in VALUE_ACTIONS:
            spec.setdefault("values", values_schema(coll, registry, create=action_name == "create"))
            spec.setdefault("params", GENERIC_PARAMS.get(action_name, _params("")))
        if action_name in GENERIC_PARAMS:
            spec.setdefault("params", GENERIC_PARAMS[action_name])
        spec.setdefault("list", action_name == "list")
        if action_name in ("list", "get", "create", "update"):
            spec.setdefault("answer", {"$ref": REF + collection})
    spec.setdefault("params", {"type": "object", "description": "Not described: see the plugin's README."})
    return spec


def operations(collection: str, action_name: str, action, registry) -> dict:
    """The path item of ``/api/<collection>:<action>``: POST always, GET for reading actions."""
    spec = _spec(collection, action_name, action, registry)
    statuses = {400, 404} | set(spec.get("errors", []))
    if not action.public:
        statuses |= {401, 403}
    base: dict[str, Any] = {
        "summary": action.summary or f"{action_name} {collection}",
        "tags": [collection],
        "responses": {"200": _ok(spec.get("answer"), listing=spec.get("list", False), produces=spec.get("produces"))},
    }
    if action.public:
        base["security"] = []
    item: dict[str, Any] = {}
    params = spec["params"]
    if action_name in READ_ACTIONS:
        get = {**base, "operationId": f"{collection}:{action_name}", "parameters": _query_parameters(params)}
        get["responses"] = {**base["responses"], **{str(s): _error_ref(s) for s in sorted(statuses)}}
        item["get"] = get
    post = {**base, "operationId": f"{collection}:{action_name}" + (".post" if "get" in item else "")}
    post_statuses = statuses | {413}  # every body is bounded
    if "values" in spec:
        post["parameters"] = _query_parameters(params)
        post["requestBody"] = {
            "required": action_name == "create",
            "content": {"application/json": {"schema": spec["values"]}},
        }
    else:
        post["requestBody"] = {
            "required": bool(params.get("required")),
            "content": {"application/json": {"schema": params}},
        }
    post["responses"] = {**base["responses"], **{str(s): _error_ref(s) for s in sorted(post_statuses)}}
    item["post"] = post
    return item


RPC_ID = {"type": ["integer", "string", "null"]}


def _rpc(methods: list[str]) -> dict:
    call = {
        "type": "object",
        "required": ["jsonrpc", "method"],
        "properties": {
            "jsonrpc": {"const": "2.0"},
            "method": {"enum": methods} if methods else {"type": "string"},
            "params": {
                "type": "object",
                "description": "The merged parameters of the HTTP form; 'values' for create and update.",
            },
            "id": RPC_ID,
        },
    }
    answer = {
        "type": "object",
        "required": ["jsonrpc", "id"],
        "properties": {
            "jsonrpc": {"const": "2.0"},
            "id": RPC_ID,
            "result": {"type": "object", "description": "What the HTTP form answers: {data, meta?}."},
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {
                        "type": "integer",
                        "description": "-32700 parse, -32600 invalid request, -32601 unknown "
                        "method, -32602 invalid params, -32000 other",
                    },
                    "message": {"type": "string"},
                    "data": {"type": "object", "description": "The HTTP form's error, with its status."},
                },
            },
        },
    }
    return {
        "post": {
            "operationId": "rpc",
            "summary": "JSON-RPC 2.0: one call or a batch (at most 100)",
            "tags": ["rpc"],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"oneOf": [call, {"type": "array", "items": call, "minItems": 1, "maxItems": 100}]}
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "The answer (an array for a batch)",
                    "content": {
                        "application/json": {"schema": {"oneOf": [answer, {"type": "array", "items": answer}]}}
                    },
                },
                "204": {"description": "Only notifications were sent: nothing to answer"},
                "401": _error_ref(401),
                "413": _error_ref(413),
            },
        }
    }


def _fixed_paths() -> dict:
    return {
        "/api/health": {
            "get": {
                "operationId": "health",
                "summary": "Readiness",
                "tags": ["app"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "Ready",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "data": {
                                            "type": "object",
                                            "properties": {
                                                "status": {"type": "string"},
                                                "database": {"type": "string"},
                                            },
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "503": {"description": "The database cannot be reached"},
                },
            }
        },
        "/api/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (root, or EMAIL_CENTER_METRICS_TOKEN)",
                "tags": ["app"],
                "responses": {
                    "200": {
                        "description": "Prometheus text format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "401": _error_ref(401),
                    "403": _error_ref(403),
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "tags": ["app"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI document",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }


def document(dispatcher, registry) -> dict:
    paths: dict = _fixed_paths()
    methods: set[str] = set()
    for name, action_name, action in dispatcher.callable_by("root") + dispatcher.callable_by("member"):
        methods.add(f"{name}:{action_name}")
        paths[f"/api/{name}:{action_name}"] = operations(name, action_name, action, registry)
    paths["/api/rpc"] = _rpc(sorted(methods))
    schemas: dict[str, Any] = {
        "Meta": {
            "type": "object",
            "properties": {k: {"type": "integer"} for k in ("count", "page", "pageSize", "totalPage")},
        },
        "User": {
            "type": "object",
            "properties": {
                "id": ID,
                "email": {"type": "string"},
                "nickname": {"type": "string"},
                "role": {"enum": ["root", "member"]},
            },
        },
        "Error": {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["message", "code"],
                        "properties": {"message": {"type": "string"}, "code": {"type": "string"}},
                    },
                }
            },
        },
    }
    for c in registry.values():
        if c.internal:
            continue
        schemas[c.name] = record_schema(c, registry)
        schemas[f"{c.name}.values"] = values_schema(c, registry, create=True)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Email center API",
            "version": "0.1.0",
            "description": "NocoBase-style collections API: /api/<collection>:<action> (GET for reading "
            "actions, POST for all), and JSON-RPC 2.0 at /api/rpc.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": {
                    "description": "An error: 'code' is stable, 'message' is for a person",
                    "content": {"application/json": {"schema": {"$ref": REF + "Error"}}},
                }
            },
        },
        "security": [{"bearer": []}],
    }


@public
async def openapi_route(request: web.Request) -> web.Response:
    return response(document(request.app[keys.DISPATCHER], request.app[keys.HOST].registry))


# ---------------------------------------------------------------- a default plugin (host.plugins)


@hookimpl(tryfirst=True)
def register_routes():
    return [web.get("/api/openapi.json", openapi_route)]
