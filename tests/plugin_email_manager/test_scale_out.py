"""Several ``email-center serve`` processes on one database: each account is synced by one of
them at a time, and another takes over when that one dies."""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp
import asyncpg

from tests.plugin_email_manager.helpers import imap_account, message
from tests.servers.app import ROOT_EMAIL, ROOT_PASSWORD, ServerProcess


async def _call(session, base, token, action, body=None, method="POST", query=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.request(method, f"{base}/api/{action}", json=body, params=query, headers=headers) as r:
        return r.status, await r.json()


async def test_one_process_syncs_an_account_and_another_takes_over(pg_cluster, dovecot, smtp_sink, mail_user):
    url = pg_cluster.create_database()
    address, password = mail_user
    smtp_sink.users[address] = password
    env = {"EMAIL_CENTER_LEASE_SECONDS": "3"}
    first = await ServerProcess(url, env=env).start()
    second = await ServerProcess(url, env=env).start()
    db = await asyncpg.connect(url)
    try:
        async with aiohttp.ClientSession() as s:
            _, body = await _call(
                s, first.base_url, None, "auth:signIn", {"email": ROOT_EMAIL, "password": ROOT_PASSWORD}
            )
            root = body["data"]["token"]
            await _call(
                s, first.base_url, root, "users:create", {"email": "pat@example.test", "password": "pat-pass-1234"}
            )
            _, body = await _call(
                s, second.base_url, None, "auth:signIn", {"email": "pat@example.test", "password": "pat-pass-1234"}
            )
            pat = body["data"]["token"]
            for i in range(50):
                dovecot.append(address, message("a@example.test", address, f"Shared {i}"))
            status, body = await _call(
                s,
                first.base_url,
                pat,
                "mailAccounts:create",
                imap_account(address, password, dovecot, smtp_sink),
            )
            assert status == 200, body
            account = body["data"]["id"]
            # Refreshes through both processes at once: one process runs them, never two at a time
            answers = await asyncio.gather(
                *[
                    _call(s, proc.base_url, pat, "mailAccounts:sync", {"filterByTk": account, "wait": True})
                    for proc in (first, second, first, second)
                ]
            )
            assert [a[0] for a in answers] == [200, 200, 200, 200], answers
            owner = await db.fetchval("SELECT lease_owner FROM mail_accounts WHERE id = $1", account)
            assert f":{first.proc.pid}:" in owner
            runs = await db.fetch(
                "SELECT started_at, finished_at FROM mail_sync_logs WHERE account_id = $1 ORDER BY started_at", account
            )
            assert len(runs) >= 2
            for a, b in zip(runs, runs[1:]):
                assert a["finished_at"] <= b["started_at"], "two syncs of one account overlapped"
            assert await db.fetchval("SELECT count(*) FROM mail_messages WHERE account_id = $1", account) == 50

            first.stop(signal.SIGKILL)  # dies without releasing its lease
            start = time.monotonic()
            while time.monotonic() - start < 30:
                owner = await db.fetchval("SELECT lease_owner FROM mail_accounts WHERE id = $1", account)
                if f":{second.proc.pid}:" in owner:
                    break
                await asyncio.sleep(0.25)
            taken = time.monotonic() - start
            assert f":{second.proc.pid}:" in owner, "no process took the account over"
            assert taken < 15
            dovecot.append(address, message("b@example.test", address, "After the takeover"))
            start = time.monotonic()
            while time.monotonic() - start < 10:
                if await db.fetchval("SELECT count(*) FROM mail_messages WHERE subject = 'After the takeover'"):
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("the surviving process does not sync the account")
            assert await db.fetchval("SELECT count(*) FROM mail_messages WHERE account_id = $1", account) == 51
    finally:
        await db.close()
        first.stop()
        second.stop()


async def _owners(db, accounts: list[int]) -> dict[int, str]:
    rows = await db.fetch("SELECT id, lease_owner FROM mail_accounts WHERE id = ANY($1::bigint[])", accounts)
    return {r["id"]: r["lease_owner"] or "" for r in rows}


async def _wait_for(predicate, seconds: float):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if await predicate():
            return time.monotonic() - (end - seconds)
        await asyncio.sleep(0.25)
    raise AssertionError(f"not within {seconds} s")


async def test_two_processes_share_the_accounts_and_one_takes_them_all_when_the_other_dies(
    pg_cluster, dovecot, smtp_sink
):
    url = pg_cluster.create_database()
    env = {"EMAIL_CENTER_LEASE_SECONDS": "3"}
    first = await ServerProcess(url, env=env).start()
    db = await asyncpg.connect(url)
    second = None
    try:
        async with aiohttp.ClientSession() as s:
            _, body = await _call(
                s, first.base_url, None, "auth:signIn", {"email": ROOT_EMAIL, "password": ROOT_PASSWORD}
            )
            root = body["data"]["token"]
            accounts, addresses = [], []
            for i in range(6):
                address, password = f"share{i}-{first.port}@example.test", f"pw-share-{i}"
                dovecot.add_user(address, password)
                smtp_sink.users[address] = password
                dovecot.append(address, message("a@example.test", address, f"Before {i}"))
                status, body = await _call(
                    s,
                    first.base_url,
                    root,
                    "mailAccounts:create",
                    imap_account(address, password, dovecot, smtp_sink),
                )
                assert status == 200, body
                accounts.append(body["data"]["id"])
                addresses.append(address)

            # one process alone holds them all (it claims a new account's lease on its next round)
            async def all_first() -> bool:
                owners = await _owners(db, accounts)
                return all(f":{first.proc.pid}:" in o for o in owners.values())

            await _wait_for(all_first, 20)

            second = await ServerProcess(url, env=env).start()

            async def shared() -> bool:
                owners = await _owners(db, accounts)
                held = [sum(f":{p.proc.pid}:" in o for o in owners.values()) for p in (first, second)]
                return held == [3, 3]

            await _wait_for(shared, 30)
            # each account is synced by its holder: new mail everywhere arrives exactly once
            for i, address in enumerate(addresses):
                dovecot.append(address, message("b@example.test", address, f"Shared out {i}"))

            async def all_arrived() -> bool:
                n = await db.fetchval("SELECT count(*) FROM mail_messages WHERE subject LIKE 'Shared out %'")
                return n >= len(accounts)

            await _wait_for(all_arrived, 30)
            assert await db.fetchval("SELECT count(*) FROM mail_messages WHERE subject LIKE 'Shared out %'") == 6

            first.stop(signal.SIGKILL)  # dies without releasing its leases

            async def all_taken() -> bool:
                owners = await _owners(db, accounts)
                return all(f":{second.proc.pid}:" in o for o in owners.values())

            taken = await _wait_for(all_taken, 30)
            assert taken < 20
            for i, address in enumerate(addresses):
                dovecot.append(address, message("c@example.test", address, f"After the death {i}"))

            async def after() -> bool:
                n = await db.fetchval("SELECT count(*) FROM mail_messages WHERE subject LIKE 'After the death %'")
                return n >= len(accounts)

            await _wait_for(after, 30)
            for account in accounts:  # nothing lost, nothing doubled
                assert await db.fetchval("SELECT count(*) FROM mail_messages WHERE account_id = $1", account) == 3
    finally:
        await db.close()
        first.stop()
        if second is not None:
            second.stop()
