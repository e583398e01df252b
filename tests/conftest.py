"""Session-wide real servers. Each is started once per test session, on free ports."""

from __future__ import annotations

import asyncio
import faulthandler
import sys
import threading

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


# A test still running after this long is stuck, not slow (the longest take about a minute on a
# loaded machine): rather than hold CI until its limit, say where everything waits and fail it.
STUCK_SECONDS = 480
_loop: asyncio.AbstractEventLoop | None = None


@pytest.fixture(scope="session", autouse=True)
async def _test_loop():
    """The session's event loop, for the watchdog's thread to look into."""
    global _loop
    _loop = asyncio.get_running_loop()
    yield


@pytest.fixture(autouse=True)
def _watchdog(request):
    def fire() -> None:
        print(f"\n--- {request.node.nodeid} is stuck after {STUCK_SECONDS} s; threads:", file=sys.stderr)
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        loop = _loop
        if loop is None or loop.is_closed():
            return
        print("--- asyncio tasks:", file=sys.stderr)
        tasks = list(asyncio.all_tasks(loop))
        for task in tasks:
            task.print_stack(limit=12, file=sys.stderr)
        for task in tasks:  # the test's own coroutine: cancelled, it fails with the place it waited
            if getattr(task.get_coro(), "__name__", None) == request.node.originalname:
                loop.call_soon_threadsafe(task.cancel)

    timer = threading.Timer(STUCK_SECONDS, fire)
    timer.daemon = True
    timer.start()
    yield
    timer.cancel()
