"""The email manager's metrics in ``GET /api/metrics``, as a sync against the real Dovecot moves them."""

from __future__ import annotations

import asyncio
import time

from tests.host.test_metrics import names, sample, scrape
from tests.plugin_email_manager.helpers import message

PLUGIN_METRICS = {
    "email_center_sync_runs_total",
    "email_center_messages_synced_total",
    "email_center_idle_connections",
    "email_center_accounts",
}


async def metrics(server) -> str:
    status, content_type, text = await scrape(server, server.root_token)
    assert status == 200 and content_type.startswith("text/plain"), text
    return text


async def test_a_sync_counts_its_run_and_the_messages_it_stored(mailbox):
    server = mailbox.server
    before = await metrics(server)
    assert PLUGIN_METRICS | {
        "email_center_http_requests_total",
        "email_center_http_request_duration_seconds_count",
    } <= names(before)
    for i in range(3):
        mailbox.append(message(f"s{i}@example.test", mailbox.address, f"Counted {i}"))
    await mailbox.link()
    await mailbox.sync()

    after = await metrics(server)
    assert (
        sample(after, "email_center_messages_synced_total") == sample(before, "email_center_messages_synced_total") + 3
    )
    ok_runs = [sample(text, "email_center_sync_runs_total", status="ok") for text in (before, after)]
    assert ok_runs[1] > ok_runs[0]
    assert sample(after, "email_center_sync_runs_total", status="error") == sample(
        before, "email_center_sync_runs_total", status="error"
    )
    assert sample(after, "email_center_accounts", status="ready") == 1
    assert sample(after, "email_center_accounts", status="error") == 0

    # the account's IDLE connection on its inbox is held open
    end = time.monotonic() + 5
    while sample(await metrics(server), "email_center_idle_connections") < 1:
        assert time.monotonic() < end, "no IDLE connection was counted"
        await asyncio.sleep(0.1)
