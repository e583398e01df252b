"""``email-center serve`` without a database URL: the new user's one command. It runs its own
PostgreSQL (pgserver, whose build lacks some options the system one has, lz4 among them) under
``./storage`` and comes up with every collection and plugin migration applied."""

from __future__ import annotations

import shutil

import aiohttp

from tests.servers.app import ROOT_EMAIL, ROOT_PASSWORD, ServerProcess


async def test_serve_without_a_database_url_runs_its_own_postgresql():
    server = ServerProcess(None)
    try:
        await server.start(wait=180)
        async with aiohttp.ClientSession() as s:
            async with s.post(
                f"{server.base_url}/api/auth:signIn", json={"email": ROOT_EMAIL, "password": ROOT_PASSWORD}
            ) as r:
                assert r.status == 200, await r.text()
                token = (await r.json())["data"]["token"]
            headers = {"Authorization": f"Bearer {token}"}
            async with s.get(f"{server.base_url}/api/mailMessages:list", headers=headers) as r:
                assert r.status == 200, await r.text()
                assert (await r.json())["data"] == []
        assert (server.dir / "storage").is_dir()
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)
