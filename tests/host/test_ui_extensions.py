"""Plugins extend the host's own pages (host.api.UIExtension): app:shell names each extension's
module and the host serves it from the plugin's static folder, beside the pages of other plugins."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers.app import DEMO_PLUGIN, running_server

EXTENDS = Path(__file__).parent / "plugins" / "extends" / "plugin.toml"


@pytest.fixture(scope="module")
async def server(pg_cluster):
    async with running_server(
        pg_cluster.create_database(), plugins=(DEMO_PLUGIN, EXTENDS), entry_points=False
    ) as client:
        client.alice = await client.member("alice@example.test")
        yield client


async def test_app_shell_lists_extensions_apart_from_pages(server):
    status, body = await server.api(server.alice, "app:shell", method="GET")
    assert status == 200, body
    shell = body["data"]
    assert shell["extensions"] == ["/static/plugins/extends/extend.js"]
    # an extension is no page: the menu and the router see only the demo's
    assert [p["path"] for p in shell["pages"]] == ["/admin/demo"]


async def test_an_extensions_module_is_served_from_its_plugins_static_folder(server):
    async with server.session.get(f"{server.base_url}/static/plugins/extends/extend.js") as r:
        assert r.status == 200
        assert "javascript" in r.headers["Content-Type"]  # an ES module the browser will run
        assert "export function extendCollectionPage" in await r.text()
    async with server.session.get(f"{server.base_url}/static/plugins/demo/page.js") as r:
        assert r.status == 200  # the other plugin's page, still served
