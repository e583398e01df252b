"""Periodic jobs: every process runs the same loop, and a job runs once per period overall.

The claim is one atomic upsert on ``host_jobs``: it succeeds only for the process that finds the
last run at least one interval old, and the row lock it takes serializes the contenders.
"""

from __future__ import annotations

import asyncio
import logging
import random

from host.api import Job
from host.config import data_dir
from host.hookspecs import hookimpl

log = logging.getLogger(__name__)

CLAIM = """
INSERT INTO host_jobs (name, last_run_at, last_status) VALUES ($1, now(), 'running')
ON CONFLICT (name) DO UPDATE SET last_run_at = now(), last_status = 'running'
  WHERE host_jobs.last_run_at IS NULL OR host_jobs.last_run_at <= now() - make_interval(secs => $2)
RETURNING name
"""


def interval_of(job: Job, host) -> float:
    value = job.interval(host) if callable(job.interval) else job.interval
    return max(float(value), 0.5)


async def claim(db, job: Job, interval: float) -> bool:
    # a little slack, so a claim due "now" is not missed by clock jitter between processes
    return await db.fetchval(CLAIM, job.name, max(interval - 0.25, 0.25)) is not None


async def run_forever(host, job: Job) -> None:
    await asyncio.sleep(random.uniform(0, 0.5))
    while True:
        interval = interval_of(job, host)
        try:
            if await claim(host.db, job, interval):
                status, error = "ok", None
                try:
                    await job.run(host)
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    log.exception("job %s failed", job.name)
                    status, error = "error", f"{type(e).__name__}: {e}"
                await host.db.execute(
                    "UPDATE host_jobs SET last_status = $2, last_error = $3 WHERE name = $1", job.name, status, error
                )
        except asyncio.CancelledError:
            raise
        except Exception:  # the database went away for a moment: try again next tick
            log.exception("job loop %s", job.name)
        await asyncio.sleep(min(interval / 4, 5.0) + random.uniform(0, 0.1))


def start(host, jobs: list[Job]) -> None:
    for job in jobs:
        host.spawn(run_forever(host, job), name=f"job:{job.name}")


# ---------------------------------------------------------------- a default plugin (host.plugins)


@hookimpl(tryfirst=True)
def register_collections():
    # when each job last ran, shared by every process on the database
    return [data_dir() / "collections" / "hostJobs.toml"]
