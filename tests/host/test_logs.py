"""What an operator reads: one access line per request with its id, the id on every record of that
request, JSON lines on request, and a quiet start of the embedded PostgreSQL."""

from __future__ import annotations

import json
import logging
import shutil

import aiohttp
import pytest

from host import logs
from tests.host.test_config import one_line, serve
from tests.servers.app import DEMO_PLUGIN, ROOT_EMAIL, ROOT_PASSWORD, ServerProcess, running_server
from tests.servers.tcpproxy import TcpProxy


class Captured(logging.Handler):
    """The records that reach the console handler, with what ``host.logs.setup`` adds to them."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.addFilter(logs.RequestIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def access(self, rid: str) -> list[logging.LogRecord]:
        return [r for r in self.records if r.name == "email_center.access" and r.request_id == rid]


@pytest.fixture
def captured():
    handler, root = Captured(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


async def test_each_request_gets_an_id_answered_and_one_access_line(server, captured):
    async with aiohttp.ClientSession() as s:
        async with s.get(server.base_url + "/api/auth:check", headers={"Authorization": f"Bearer {server.alice}"}) as r:
            assert r.status == 200
            given = r.headers["X-Request-Id"]
        async with s.get(server.base_url + "/api/health", headers={"X-Request-Id": "lb-7f3a:42"}) as r:
            assert r.headers["X-Request-Id"] == "lb-7f3a:42"  # a sane id from a proxy is kept
        for insane in ("x" * 65, "two words", "<script>"):
            async with s.get(server.base_url + "/api/health", headers={"X-Request-Id": insane}) as r:
                assert r.headers["X-Request-Id"] not in (insane, "") and len(r.headers["X-Request-Id"]) <= 64
        async with s.get(server.base_url + "/api/noSuchThing:list") as r:
            unknown = r.headers["X-Request-Id"]
            assert r.status == 401

    assert len(given) >= 16 and given != unknown
    (line,) = captured.access(given)
    alice = (await server.api(server.alice, "auth:check", method="GET"))[1]["data"]["id"]
    assert (line.method, line.path, line.route, line.status, line.userId) == (
        "GET",
        "/api/auth:check",
        "/api/{collection}:{action}",
        200,
        alice,
    )
    assert line.durationMs >= 0 and f"user={alice}" in line.getMessage()
    (health,) = captured.access("lb-7f3a:42")
    assert (health.path, health.status, health.userId) == ("/api/health", 200, None)
    (refused,) = captured.access(unknown)
    assert refused.status == 401


async def test_what_a_request_logs_carries_its_id(pg_cluster, captured):
    proxy = TcpProxy(pg_cluster.port).start()
    url = pg_cluster.create_database().replace(f":{pg_cluster.port}/", f":{proxy.port}/")
    try:
        async with running_server(url, plugins=(DEMO_PLUGIN,), entry_points=False) as client:
            proxy.stop()  # the database is gone: the health check logs a warning while it answers
            status, _ = await client.call("GET", "/api/health", headers={"X-Request-Id": "probe-1"})
            assert status == 503
    finally:
        proxy.stop()
    warned = [r for r in captured.records if r.name == "host.builtins" and "unavailable" in r.getMessage()]
    assert warned and {r.request_id for r in warned} == {"probe-1"}
    assert [r.status for r in captured.access("probe-1")] == [503]


def test_a_record_outside_any_request_has_no_id_and_background_work_drops_it(captured):
    logging.getLogger("host.test").warning("at start")
    token = logs.REQUEST_ID.set("req-1")
    try:
        inside = logs.detached().run(logs.REQUEST_ID.get)
    finally:
        logs.REQUEST_ID.reset(token)
    assert captured.records[-1].request_id == "-" and inside is None


def test_a_bad_log_format_stops_serve_in_one_line(tmp_path):
    line = one_line(serve({"EMAIL_CENTER_LOG_FORMAT": "xml"}, tmp_path))
    assert "EMAIL_CENTER_LOG_FORMAT" in line and "json" in line and "'xml'" in line


async def test_json_logs_and_a_quiet_embedded_postgresql():
    server = ServerProcess(None, env={"EMAIL_CENTER_LOG_FORMAT": "json"})
    try:
        await server.start(wait=180)
        async with aiohttp.ClientSession() as s:
            async with s.post(
                f"{server.base_url}/api/auth:signIn",
                json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD},
                headers={"X-Request-Id": "signin-1"},
            ) as r:
                assert r.status == 200
                root_id = (await r.json())["data"]["user"]["id"]
                token = (await r.json())["data"]["token"]
            async with s.get(
                f"{server.base_url}/api/auth:check",
                headers={"Authorization": f"Bearer {token}", "X-Request-Id": "check-1"},
            ) as r:
                assert r.status == 200
    finally:
        server.stop()
    text = server.log.read_text()
    shutil.rmtree(server.dir, ignore_errors=True)
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("Email center on ")]
    records = [json.loads(line) for line in lines]  # every line a JSON object
    assert not [r for r in records if r["logger"] == "pgserver"], (
        "the embedded PostgreSQL's chatter reached the console"
    )
    assert "initdb" not in text and "pg_ctl" not in text
    access = {r["requestId"]: r for r in records if r["logger"] == "email_center.access"}
    assert access["signin-1"]["path"] == "/api/auth:signIn" and access["signin-1"]["status"] == 200
    assert access["check-1"]["userId"] == root_id and access["check-1"]["method"] == "GET"
    assert isinstance(access["check-1"]["durationMs"], (int, float))
    assert {"time", "level", "message"} <= set(access["check-1"])
