"""``GET /api/health``: ready once started; 503, quickly, while the database cannot be reached."""

from __future__ import annotations

import time

from tests.servers.app import DEMO_PLUGIN, running_server
from tests.servers.tcpproxy import TcpProxy

OK = {"data": {"status": "ok", "database": "ok"}}


async def health(client) -> tuple[int, dict, float]:
    """(status, body, seconds it took), with no token: the probe is public."""
    started = time.monotonic()
    status, body = await client.call("GET", "/api/health")
    return status, body, time.monotonic() - started


async def test_a_started_server_is_healthy_without_a_token(server):
    status, body, _ = await health(server)
    assert (status, body) == (200, OK)


async def test_health_answers_503_at_once_while_the_database_is_silent_or_gone(pg_cluster):
    # the server reaches PostgreSQL through a proxy that can go silent, and then away
    proxy = TcpProxy(pg_cluster.port).start()
    url = pg_cluster.create_database().replace(f":{pg_cluster.port}/", f":{proxy.port}/")
    try:
        async with running_server(url, plugins=(DEMO_PLUGIN,), entry_points=False) as client:
            assert (await health(client))[:2] == (200, OK)

            proxy.pause()  # a network that drops everything: the check must time out, not hang
            status, body, took = await health(client)
            assert status == 503 and body["data"]["database"] == "unavailable", body
            assert body["data"]["status"] != "ok" and took < 4

            proxy.resume()
            status, body, _ = await health(client)
            assert (status, body) == (200, OK)

            proxy.stop()  # nothing listens any more: refused at once
            status, body, took = await health(client)
            assert status == 503 and body["data"]["database"] == "unavailable", body
            assert took < 4
    finally:
        proxy.stop()
