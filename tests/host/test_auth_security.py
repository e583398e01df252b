"""Sign-in and the session as an attacker tries them: a cookie that only reads, sign-out on both
transports, the sign-in limit, timing that tells nothing, password hashes upgraded."""

from __future__ import annotations

import statistics
import time

import pytest

from host import keys
from host.passwords import hash_password_sync, verify_password_sync
from tests.servers.app import DEMO_PLUGIN, running_server

PASSWORD = "member-pass-1234"
# these change without any request: the periodic jobs' bookkeeping, and the demo plugin's job
MOVING_TABLES = {"host_jobs", "demo_ticks"}


@pytest.fixture(scope="module")
async def server(pg_cluster):
    # the whole app, email plugin included, so that every registered action is covered
    async with running_server(pg_cluster.create_database(), plugins=(DEMO_PLUGIN,)) as client:
        client.alice = await client.member("alice@example.test")
        client.victim = await client.member("victim@example.test")
        yield client


async def _database_digest(db) -> dict[str, str]:
    tables = await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    out = {}
    for (name,) in tables:
        if name in MOVING_TABLES:
            continue
        out[name] = await db.fetchval(
            f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM \"{name}\" t"
        )
    return out


def _writes(server) -> list[tuple[str, str]]:
    """Every action any role may call that is neither public nor a read: from the registry, so
    that an action added tomorrow is covered without touching this test."""
    dispatcher = server.app[keys.DISPATCHER]
    found = {
        (c, a)
        for role in ("root", "member")
        for c, a, action in dispatcher.callable_by(role)
        if not action.public and not action.reads
    }
    return sorted(found)


async def test_the_registry_has_writes_to_check(server):
    writes = _writes(server)
    # the list is computed, so make sure it holds what an attacker wants most
    for expected in [
        ("users", "destroy"),
        ("users", "update"),
        ("auth", "signOut"),
        ("mailAccounts", "create"),
        ("mailMessages", "send"),
        ("mailMessages", "markRead"),
        ("demoItems", "create"),
    ]:
        assert expected in writes


async def test_a_cookie_alone_calls_no_write_action_by_get_or_post(server):
    root_cookie = {"Cookie": f"ec_session={server.root_token}"}
    victim_id = (await server.api(server.victim, "auth:check", method="GET"))[1]["data"]["id"]
    # control: the same cookie reads
    status, body = await server.call("GET", "/api/users:list", headers=root_cookie)
    assert status == 200 and victim_id in [u["id"] for u in body["data"]]
    before = await _database_digest(server.host.db)
    refused = []
    for collection, action in _writes(server):
        params = {"filterByTk": victim_id if collection == "users" else 1}
        for method in ("GET", "POST"):
            status, body = await server.call(
                method,
                f"/api/{collection}:{action}",
                headers=root_cookie,
                query=params if method == "GET" else None,
                body=params if method == "POST" else None,
            )
            code = (body or {}).get("errors", [{}])[0].get("code") if isinstance(body, dict) else None
            refused.append((collection, action, method, status, code))
    wrong = [r for r in refused if r[3:] != (401, "TOKEN_REQUIRED")]
    assert wrong == []
    assert await _database_digest(server.host.db) == before
    # and the victim is still there, its token still good
    assert (await server.api(server.victim, "auth:check", method="GET"))[0] == 200


async def test_read_actions_work_with_the_cookie_by_get_only(server):
    cookie = {"Cookie": f"ec_session={server.alice}"}
    assert (await server.call("GET", "/api/auth:check", headers=cookie))[0] == 200
    assert (await server.call("GET", "/api/mailMessages:listThreads", headers=cookie))[0] == 200
    status, body = await server.call("POST", "/api/auth:check", headers=cookie, body={})
    assert status == 401 and body["errors"][0]["code"] == "TOKEN_REQUIRED"


async def test_sign_out_over_json_rpc_revokes_the_token_everywhere(server):
    token = await server.sign_in("alice@example.test", PASSWORD)
    status, body = await server.call(
        "POST", "/api/rpc", token, body={"jsonrpc": "2.0", "method": "auth:signOut", "id": 1}
    )
    assert status == 200 and body["result"] == {"data": True}
    assert (await server.api(token, "auth:check", method="GET"))[0] == 401
    status, _ = await server.call("POST", "/api/rpc", token, body={"jsonrpc": "2.0", "method": "auth:check", "id": 2})
    assert status == 401


async def test_sign_out_over_rest_revokes_the_token_and_clears_the_cookie(server):
    token = await server.sign_in("alice@example.test", PASSWORD)
    async with server.session.post(
        server.base_url + "/api/auth:signOut", headers={"Authorization": f"Bearer {token}"}
    ) as r:
        assert r.status == 200
        cleared = r.cookies.get("ec_session")
        assert cleared is not None and cleared.value == ""
    assert (await server.api(token, "auth:check", method="GET"))[0] == 401
    # the cookie of a revoked token reads nothing either
    assert (await server.call("GET", "/api/auth:check", headers={"Cookie": f"ec_session={token}"}))[0] == 401


async def test_ten_wrong_passwords_lock_the_address_not_another(server):
    await server.member("locked@example.test")
    await server.member("neighbour@example.test")
    for i in range(10):
        status, body = await server.api(None, "auth:signIn", {"email": "locked@example.test", "password": f"wrong-{i}"})
        assert status == 401
    async with server.session.post(
        server.base_url + "/api/auth:signIn", json={"email": "locked@example.test", "password": PASSWORD}
    ) as r:
        body = await r.json()
        assert r.status == 429 and body["errors"][0]["code"] == "TOO_MANY_ATTEMPTS"
        assert 1 <= int(r.headers["Retry-After"]) <= 15 * 60
    # over JSON-RPC too: the limit is the action's, not the transport's
    status, body = await server.call(
        "POST",
        "/api/rpc",
        body={
            "jsonrpc": "2.0",
            "method": "auth:signIn",
            "id": 1,
            "params": {"email": "locked@example.test", "password": PASSWORD},
        },
    )
    assert body["error"]["data"]["code"] == "TOO_MANY_ATTEMPTS" and body["error"]["data"]["status"] == 429
    assert await server.sign_in("neighbour@example.test", PASSWORD)


async def test_the_lock_ends_when_the_window_has_passed(server):
    await server.member("patient@example.test")
    for i in range(10):
        await server.api(None, "auth:signIn", {"email": "patient@example.test", "password": f"wrong-{i}"})
    assert (await server.api(None, "auth:signIn", {"email": "patient@example.test", "password": PASSWORD}))[0] == 429
    # fifteen minutes later (the failures aged in the database, where every process reads them)
    await server.host.db.execute(
        "UPDATE auth_attempts SET failed_at = failed_at - interval '15 minutes 1 second' "
        "WHERE email = 'patient@example.test'"
    )
    assert await server.sign_in("patient@example.test", PASSWORD)


async def test_a_success_forgets_earlier_failures(server):
    await server.member("forgetful@example.test")
    for _ in range(2):
        for i in range(9):
            assert (await server.api(None, "auth:signIn", {"email": "forgetful@example.test", "password": f"no{i}"}))[
                0
            ] == 401
        assert await server.sign_in("forgetful@example.test", PASSWORD)


async def test_an_unknown_address_costs_as_much_as_a_wrong_password(server):
    await server.member("timed@example.test")

    async def timed(email):
        t = time.perf_counter()
        status, _ = await server.api(None, "auth:signIn", {"email": email, "password": "not-the-password"})
        assert status == 401
        return time.perf_counter() - t

    unknown, known = [], []
    for i in range(8):  # interleaved; under the address limit for the known one
        unknown.append(await timed(f"nobody-{i}@example.test"))
        known.append(await timed("timed@example.test"))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 <= ratio <= 2, (unknown, known)


async def test_an_old_scrypt_hash_is_upgraded_at_the_next_sign_in(server):
    await server.member("legacy@example.test")
    # a hash as the server wrote them before argon2 (scrypt, N=2^14, r=8, p=1)
    legacy = "scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$fO84yo8OAXBQSJ9iSv4ene/C2DG3vQnOh/G2cn5nYgM="
    assert verify_password_sync("legacy-pass-1", legacy).ok  # the fixture is a real scrypt hash
    await server.host.db.execute("UPDATE users SET password_hash = $1 WHERE email = 'legacy@example.test'", legacy)
    assert await server.sign_in("legacy@example.test", "wrong") is None
    assert (
        await server.host.db.fetchval("SELECT password_hash FROM users WHERE email = 'legacy@example.test'") == legacy
    )
    assert await server.sign_in("legacy@example.test", "legacy-pass-1")
    stored = await server.host.db.fetchval("SELECT password_hash FROM users WHERE email = 'legacy@example.test'")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await server.sign_in("legacy@example.test", "legacy-pass-1")


def test_new_hashes_are_argon2id_at_owasp_parameters():
    stored = hash_password_sync("correct horse")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password_sync("correct horse", stored) == (True, False)
    assert verify_password_sync("wrong horse", stored) == (False, False)
    assert verify_password_sync("anything", None) == (False, False)


async def test_the_client_limit_holds_across_addresses(pg_cluster):
    async with running_server(pg_cluster.create_database(), entry_points=False) as client:
        for i in range(50):
            status, _ = await client.api(None, "auth:signIn", {"email": f"guess{i}@example.test", "password": "x"})
            assert status == 401
        status, body = await client.api(
            None, "auth:signIn", {"email": "root@example.test", "password": "root-pass-1234"}
        )
        assert status == 429 and body["errors"][0]["code"] == "TOO_MANY_ATTEMPTS"
