"""The email manager's Prometheus metrics: what the sync engine counts, and the accounts by status.

The counters and the gauge belong to the process (one sync engine per process) and are
registered in each app's registry by ``register_metrics``; the accounts are read from the
database at each scrape (``collect_metrics``), so every process answers the same numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge
from prometheus_client.core import GaugeMetricFamily

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from host.api import Host

ACCOUNT_STATUSES = ("syncing", "ready", "error")

SYNC_RUNS = Counter(
    "email_center_sync_runs_total", "Sync runs of an account that ended, by outcome", ["status"], registry=None
)
MESSAGES_SYNCED = Counter(
    "email_center_messages_synced_total", "Messages fetched from a mail server and stored", registry=None
)
IDLE_CONNECTIONS = Gauge(
    "email_center_idle_connections",
    "IMAP connections held open to hear of new mail (IDLE, or NOOP polling)",
    registry=None,
)

for _status in ("ok", "error"):  # both series exist from the start, at 0
    SYNC_RUNS.labels(_status)


def register(registry: CollectorRegistry) -> None:
    for collector in (SYNC_RUNS, MESSAGES_SYNCED, IDLE_CONNECTIONS):
        registry.register(collector)


async def accounts(host: Host) -> list[GaugeMetricFamily]:
    """``email_center_accounts{status}``: every account in the database, by status."""
    rows = await host.db.fetch("SELECT status, count(*) AS n FROM mail_accounts GROUP BY status")
    counts = dict.fromkeys(ACCOUNT_STATUSES, 0) | {r["status"]: r["n"] for r in rows}
    family = GaugeMetricFamily("email_center_accounts", "Mail accounts, by status", labels=["status"])
    for status, n in counts.items():
        family.add_metric([status], n)
    return [family]
