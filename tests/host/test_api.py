"""The collections API as a client sees it: auth, CRUD, scopes, JSON-RPC, errors, badges."""

from __future__ import annotations

import asyncio
import json

import pytest


async def test_health_and_sign_in(server):
    assert await server.call("GET", "/api/health") == (200, {"data": {"status": "ok", "database": "ok"}})
    status, body = await server.call(
        "POST", "/api/auth:signIn", body={"email": "alice@example.test", "password": "member-pass-1234"}
    )
    assert status == 200 and body["data"]["user"]["email"] == "alice@example.test"
    assert "passwordHash" not in json.dumps(body)
    status, body = await server.call(
        "POST", "/api/auth:signIn", body={"email": "alice@example.test", "password": "nope"}
    )
    assert status == 401 and body["errors"][0]["code"] == "INVALID_CREDENTIALS"


async def test_no_token_is_401_and_a_cookie_alone_cannot_post(server):
    status, _ = await server.call("GET", "/api/demoItems:list")
    assert status == 401
    status, _ = await server.call("GET", "/api/demoItems:list", token="not-a-token")
    assert status == 401
    cookie = {"Cookie": f"ec_session={server.alice}"}
    status, body = await server.call("GET", "/api/demoItems:list", headers=cookie)
    assert status == 200
    status, body = await server.call("POST", "/api/demoItems:create", body={"title": "via cookie"}, headers=cookie)
    assert status == 401 and body["errors"][0]["code"] == "TOKEN_REQUIRED"


async def test_sign_out_revokes_the_token(server):
    token = await server.sign_in("bob@example.test", "member-pass-1234")
    assert (await server.api(token, "auth:check", method="GET"))[0] == 200
    assert (await server.api(token, "auth:signOut"))[0] == 200
    assert (await server.api(token, "auth:check", method="GET"))[0] == 401


async def test_only_root_creates_users(server):
    status, body = await server.api(
        server.alice, "users:create", {"email": "eve@example.test", "password": "longenough1"}
    )
    assert status == 403
    status, body = await server.api(
        server.root_token, "users:create", {"email": "eve@example.test", "password": "longenough1"}
    )
    assert status == 200 and body["data"]["role"] == "member" and "password" not in json.dumps(body)
    status, body = await server.api(
        server.root_token, "users:create", {"email": "eve@example.test", "password": "longenough1"}
    )
    assert status == 400 and body["errors"][0]["code"] == "DUPLICATE"


async def test_crud_and_pagination_through_rest(server):
    for i in range(25):
        status, body = await server.api(server.alice, "demoItems:create", {"title": f"item {i:02}", "rank": i})
        assert status == 200, body
    status, body = await server.api(
        server.alice, "demoItems:list", query={"pageSize": 10, "page": 3, "sort": "rank"}, method="GET"
    )
    assert status == 200
    assert body["meta"] == {"count": 25, "page": 3, "pageSize": 10, "totalPage": 3}
    assert [r["rank"] for r in body["data"]] == [20, 21, 22, 23, 24]
    item = body["data"][0]
    assert item["ownerId"] == (await server.api(server.alice, "auth:check", method="GET"))[1]["data"]["id"]
    status, body = await server.api(server.alice, "demoItems:update", {"done": True}, query={"filterByTk": item["id"]})
    assert status == 200 and body["data"]["done"] is True
    status, body = await server.api(
        server.alice, "demoItems:list", query={"filter": {"done": True}, "paginate": "false"}, method="GET"
    )
    assert [r["id"] for r in body["data"]] == [item["id"]] and "meta" not in body


async def test_a_member_never_reaches_another_members_rows(server):
    status, body = await server.api(server.alice, "demoItems:create", {"title": "alice's secret"})
    secret_id = body["data"]["id"]
    for action, values, query in (
        ("get", None, {"filterByTk": secret_id}),
        ("update", {"title": "bob was here"}, {"filterByTk": secret_id}),
        ("destroy", None, {"filterByTk": secret_id}),
    ):
        status, body = await server.api(server.bob, f"demoItems:{action}", values, query=query)
        assert status == 404, (action, body)
        assert "secret" not in json.dumps(body)
        rpc = {
            "jsonrpc": "2.0",
            "method": f"demoItems:{action}",
            "id": 1,
            "params": {**query, **({"values": values} if values else {})},
        }
        status, body = await server.call("POST", "/api/rpc", server.bob, body=rpc)
        assert status == 200 and body["error"]["code"] == -32000 and body["error"]["data"]["status"] == 404
    # a filter aimed at alice's row narrows to bob's rows: nothing
    status, body = await server.api(server.bob, "demoItems:list", query={"filter": {"id": secret_id}}, method="GET")
    assert status == 200 and body["data"] == []
    status, body = await server.api(server.bob, "demoItems:destroy", query={"filter": json.dumps({"id": {"$gt": 0}})})
    status, body = await server.api(server.alice, "demoItems:get", query={"filterByTk": secret_id}, method="GET")
    assert status == 200 and body["data"]["title"] == "alice's secret"


async def test_a_custom_action_gets_query_and_body_merged(server):
    status, body = await server.call(
        "POST", "/api/demoItems:touch", server.alice, body={"b": [1, 2], "a": "body"}, query={"a": "query", "c": "3"}
    )
    assert status == 200 and body["data"]["params"] == {"a": "body", "b": [1, 2], "c": "3"}
    status, body = await server.call("POST", "/api/demoItems:touch", server.alice, query={"filterByTk": ["5", "6"]})
    assert body["data"]["params"]["filterByTk"] == ["5", "6"]


async def test_json_rpc_single_batch_and_error_codes(server):
    def call(method, params=None, id_=1):
        return {"jsonrpc": "2.0", "method": method, "params": params or {}, "id": id_}

    status, body = await server.call("POST", "/api/rpc", server.alice, body=call("demoItems:list", {"pageSize": 2}, 7))
    assert (
        status == 200
        and body["id"] == 7
        and len(body["result"]["data"]) == 2
        and body["result"]["meta"]["pageSize"] == 2
    )
    status, body = await server.call(
        "POST",
        "/api/rpc",
        server.alice,
        body=[
            call("demoItems:create", {"values": {"title": "by rpc"}}, 1),
            call("nothing:here", id_=2),
            {"jsonrpc": "2.0", "method": "demoItems:list"},
            call("demoItems:list", {"filter": {"title": {"$nope": 1}}}, 3),
        ],
    )
    assert status == 200 and [a["id"] for a in body] == [1, 2, 3]  # the notification gets no answer
    assert body[0]["result"]["data"]["title"] == "by rpc"
    assert body[1]["error"]["code"] == -32601
    assert body[2]["error"]["code"] == -32602 and body[2]["error"]["data"]["status"] == 400
    status, body = await server.call("POST", "/api/rpc", server.alice, raw=b"{oops")
    assert status == 200 and body["error"]["code"] == -32700
    status, body = await server.call("POST", "/api/rpc", server.alice, body={"method": 5})
    assert body["error"]["code"] == -32600
    status, body = await server.call("POST", "/api/rpc", server.alice, body=[])
    assert body["error"]["code"] == -32600
    status, body = await server.call("POST", "/api/rpc", None, body=call("demoItems:list"))
    assert status == 401


BAD_INPUT = [
    ("GET", "/api/demoItems:list", {"filter": "{bad"}, None, 400),
    ("GET", "/api/demoItems:list", {"filter": json.dumps({"title": {"$like": "x"}})}, None, 400),
    ("GET", "/api/demoItems:list", {"filter": json.dumps({"nope": 1})}, None, 400),
    ("GET", "/api/demoItems:list", {"filter": json.dumps({"rank": "abc"})}, None, 400),
    ("GET", "/api/demoItems:list", {"filter": json.dumps({"dueAt": {"$dateOn": "not a date"}})}, None, 400),
    ("GET", "/api/demoItems:list", {"filter": json.dumps([1, 2])}, None, 400),
    ("GET", "/api/demoItems:list", {"sort": "nope"}, None, 400),
    ("GET", "/api/demoItems:list", {"page": "first"}, None, 400),
    ("GET", "/api/demoItems:list", {"pageSize": "-3"}, None, 400),
    ("GET", "/api/demoItems:get", {"filterByTk": "abc"}, None, 400),
    ("GET", "/api/demoItems:get", {"filterByTk": "999999"}, None, 404),
    ("POST", "/api/demoItems:create", None, {"title": "x", "rank": "high"}, 400),
    ("POST", "/api/demoItems:create", None, {"rank": 1}, 400),
    ("POST", "/api/demoItems:create", None, {"title": "x", "colour": "red"}, 400),
    ("POST", "/api/demoItems:create", None, {"title": "x", "done": "maybe"}, 400),
    ("POST", "/api/demoItems:update", {"filterByTk": "1"}, {"rank": {"$gt": 1}}, 400),
    ("POST", "/api/demoItems:destroy", None, {}, 400),
    ("GET", "/api/noSuchCollection:list", None, None, 404),
    ("GET", "/api/demoItems:fly", None, None, 404),
    ("GET", "/api/authTokens:list", None, None, 404),
    ("POST", "/api/demoItems:create", None, "raw:{not json", 400),
    ("POST", "/api/demoItems:create", None, "raw:[1,2]", 400),
]


@pytest.mark.parametrize("method, path, query, body, expected", BAD_INPUT)
async def test_bad_input_gets_a_clear_4xx(server, method, path, query, body, expected):
    raw = body[4:].encode() if isinstance(body, str) else None
    status, answer = await server.call(method, path, server.alice, body=None if raw else body, query=query, raw=raw)
    assert status == expected, answer
    error = answer["errors"][0]
    assert error["code"] and error["message"]


async def test_collections_list_and_openapi(server):
    status, body = await server.api(server.alice, "collections:list", query={"paginate": "false"}, method="GET")
    by_name = {c["name"]: c for c in body["data"]}
    assert {"users", "demoItems"} <= set(by_name)
    assert "authTokens" not in by_name
    fields = {f["name"]: f for f in by_name["demoItems"]["fields"]}
    assert fields["owner"]["type"] == "belongsTo" and fields["owner"]["target"] == "users"
    assert "passwordHash" not in {f["name"] for f in by_name["users"]["fields"]}
    status, doc = await server.call("GET", "/api/openapi.json")
    assert status == 200 and "/api/demoItems:list" in doc["paths"] and "/api/auth:signIn" in doc["paths"]


async def test_badges_list_and_live_stream(server):
    status, body = await server.api(server.bob, "badges:list", method="GET")
    demo = [b for b in body["data"] if b["name"] == "demo"]
    assert demo and demo[0]["count"] == 0
    events: asyncio.Queue = asyncio.Queue()

    async def listen():
        async with server.session.get(
            server.base_url + "/api/badges:stream", headers={"Cookie": f"ec_session={server.bob}"}
        ) as r:
            assert r.status == 200
            async for line in r.content:
                if line.startswith(b"data: "):
                    await events.put(json.loads(line[6:]))

    task = asyncio.create_task(listen())
    try:
        first = await asyncio.wait_for(events.get(), 5)
        assert [b["count"] for b in first if b["name"] == "demo"] == [0]
        await server.api(server.bob, "demoItems:create", {"title": "open"})
        me = (await server.api(server.bob, "auth:check", method="GET"))[1]["data"]["id"]
        await server.host.badges_changed(me)
        pushed = await asyncio.wait_for(events.get(), 5)
        assert [b["count"] for b in pushed if b["name"] == "demo"] == [1]
    finally:
        task.cancel()


async def test_a_multipart_body_without_a_boundary_is_a_400(server):
    status, body = await server.call(
        "POST", "/api/demoItems:list", server.alice, raw=b"{}", headers={"Content-Type": "multipart/form-data"}
    )
    assert status == 400 and body["errors"][0]["code"] == "INVALID_BODY"
