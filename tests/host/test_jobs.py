"""Two ``email-center serve`` processes on one database run a periodic job once per period."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.servers.app import DEMO_PLUGIN, ServerProcess


async def test_two_processes_run_a_job_once_per_period(pg_cluster):
    url = pg_cluster.create_database()
    env = {"EMAIL_CENTER_DEMO_INTERVAL": "1"}
    first = await ServerProcess(url, plugins=(DEMO_PLUGIN,), env=env).start()
    second = await ServerProcess(url, plugins=(DEMO_PLUGIN,), env=env).start()
    try:
        conn = await asyncpg.connect(url)
        try:
            since = await conn.fetchval("SELECT clock_timestamp()")
            await asyncio.sleep(5)
            # the window as PostgreSQL timed it: on a loaded machine the sleep above overran it
            # (7 ticks in what was taken for 5 s, each gap >= 0.7 s)
            until = await conn.fetchval("SELECT clock_timestamp()")
            rows = await conn.fetch("SELECT process, at FROM demo_ticks ORDER BY at")
        finally:
            await conn.close()
    finally:
        first.stop()
        second.stop()
    gaps = [(b["at"] - a["at"]).total_seconds() for a, b in zip(rows, rows[1:])]
    assert min(gaps) >= 0.7, gaps  # never twice in one period, whichever process claimed it
    window = [r for r in rows if since <= r["at"] <= until]
    seconds = (until - since).total_seconds()
    # once per second while both run (a claim may slip a tick)
    assert seconds - 2 <= len(window) <= seconds + 1, (seconds, window)
