"""A running host with the demo plugin (and the email plugin) on a fresh database per module."""

from __future__ import annotations

import pytest

from tests.servers.app import DEMO_PLUGIN, running_server


@pytest.fixture(scope="module")
async def server(pg_cluster):
    # the host alone with the demo plugin: the host must not need the email plugin
    async with running_server(pg_cluster.create_database(), plugins=(DEMO_PLUGIN,), entry_points=False) as client:
        client.alice = await client.member("alice@example.test")
        client.bob = await client.member("bob@example.test")
        yield client
