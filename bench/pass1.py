"""The first pass of a first sync alone (issue 18): from ``mailAccounts:create`` to every message
listable, ``--repeat`` times on one mailbox, each beside the header floor (imaplib, one ``UID
FETCH 1:*`` of the first pass's items), with this process's CPU seconds (the server runs in it).

    .venv/bin/python bench/pass1.py [--messages 3000] [--mailbox attachments] [--repeat 3]

It stops each run once all is listable (the server's shutdown ends the second pass), so a run
takes seconds where ``sync.py`` takes minutes: for trying changes to the first pass. The mailbox
and servers are ``sync.py``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg  # noqa: E402
import sync as bench  # noqa: E402  (bench/sync.py, beside this script)

from host import keys  # noqa: E402
from tests.plugin_email_manager.helpers import imap_account  # noqa: E402
from tests.servers.app import running_server  # noqa: E402


async def listable(cluster, dovecot, sink, n: int) -> tuple[float, float, float]:
    """(seconds to the first row, seconds to all listable, this process's CPU seconds)."""
    url = cluster.create_database()
    async with running_server(url, env={"EMAIL_CENTER_SYNC_INTERVAL": "3600"}) as client:
        storage = client.app[keys.CONFIG].storage
        token = await client.member("bench+member@example.test")
        db = await asyncpg.connect(url)
        values = imap_account(bench.USER, bench.PASSWORD, dovecot, sink)
        cpu, t0 = time.process_time(), time.perf_counter()
        status, body = await client.api(token, "mailAccounts:create", values)
        assert status == 200, body
        account, first = body["data"]["id"], None
        while True:
            now = time.perf_counter() - t0
            fetched = await db.fetchval(
                "SELECT coalesce((progress->>'fetched')::int, 0) FROM mail_accounts WHERE id = $1", account
            )
            if fetched and first is None:
                first = now
            if (
                fetched >= n
                and await db.fetchval("SELECT count(*) FROM mail_messages WHERE account_id = $1", account) >= n
            ):
                break
            await asyncio.sleep(0.02)
        cpu = time.process_time() - cpu
        await db.close()
    shutil.rmtree(storage, ignore_errors=True)
    return first or now, now, cpu


async def measure(args) -> None:
    started: list = []
    try:
        cluster = bench.PostgresCluster()
        started.append(cluster)
        cluster.start()
        dovecot = bench.Dovecot(users={bench.USER: bench.PASSWORD})
        started.append(dovecot)
        dovecot.start()
        sink = bench.SmtpSink(users={bench.USER: bench.PASSWORD})
        started.append(sink.start())
        bench.build_mailbox(dovecot, args.messages, args.mailbox)
        await bench.wire_ours(dovecot.port)  # Dovecot indexes the new Maildir once, unmeasured
        runs = []
        for i in range(args.repeat):
            floor = await asyncio.to_thread(bench.wire_imaplib, dovecot.port, f"({bench.HEADER_ITEMS})")
            first, done, cpu = await listable(cluster, dovecot, sink, args.messages)
            runs.append((floor["seconds"], first, done, cpu))
            print(
                f"run {i + 1}: header floor {floor['seconds']:.2f} s, first row {first:.2f} s, all listable "
                f"{done:.2f} s ({done / floor['seconds']:.1f}x the floor), CPU {cpu:.2f} s, "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        floor, first, done, cpu = (statistics.median(r[j] for r in runs) for j in range(4))
        print(
            f"medians: header floor {floor:.2f} s, first row {first:.2f} s, all listable {done:.2f} s "
            f"({done / floor:.1f}x the floor), CPU {cpu:.2f} s"
        )
    finally:
        for thing in reversed(started):
            try:
                thing.stop()
            except Exception as e:  # noqa: BLE001 - stop the rest all the same
                print(f"stopping {type(thing).__name__}: {e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--mailbox", choices=sorted(bench.MAILBOXES), default="attachments")
    ap.add_argument("--repeat", type=int, default=3)
    asyncio.run(measure(ap.parse_args()))


if __name__ == "__main__":  # the parse workers' fork server imports this module again
    main()
