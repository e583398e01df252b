"""Session-wide real servers. Each is started once per test session, on free ports."""

from __future__ import annotations

import pytest

from tests.servers.postgres import PostgresCluster


@pytest.fixture(scope="session")
def pg_cluster():
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def database_url(pg_cluster) -> str:
    """A fresh, empty database for one test."""
    return pg_cluster.create_database()
