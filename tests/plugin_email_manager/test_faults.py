"""Faults with real processes: PostgreSQL, Dovecot, the OAuth provider and a server process each
go down in the middle of the work and come back. After each, a person finds every message once,
the account telling what went wrong while it lasted, and nothing to do by hand afterwards."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter

import aiohttp
import asyncpg
import pytest

from plugin_email_manager import metrics
from tests.plugin_email_manager.helpers import imap_account, message, provider_settings
from tests.plugin_email_manager.test_linking import follow_consent
from tests.servers.app import ROOT_EMAIL, ROOT_PASSWORD, ServerProcess, running_server
from tests.servers.dovecot import Dovecot
from tests.servers.oauth_provider import CLIENT_ID, CLIENT_SECRET, OAuthProvider
from tests.servers.postgres import PostgresCluster

MESSAGES = 3000  # a first sync long enough (a few seconds) to be hit in its middle


async def until(what: str, within: float, check, every: float = 0.2):
    """``check()``'s first truthy answer; AssertionError naming ``what`` after ``within`` s."""
    end = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {within} s (last: {found!r})")
        await asyncio.sleep(every)


def mailbox_of(dovecot: Dovecot, user: str, n: int = MESSAGES, tag: str = "Fault") -> list[str]:
    """``n`` messages in the user's Maildir; answers their subjects."""
    subjects = [f"{tag} {i}" for i in range(n)]
    dovecot.write_maildir(
        user, [message(f"s{i}@example.test", user, s, "z" * 3000).as_bytes() for i, s in enumerate(subjects)]
    )
    return subjects


class Api:
    """A person's HTTP client for one server: every request bounded, never waiting on a hang."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, token: str | None = None):
        self.http, self.base_url, self.token = http, base_url, token

    async def call(self, action: str, body=None, query=None, method: str = "POST", timeout: float = 30):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.http.request(
            method,
            f"{self.base_url}/api/{action}",
            json=body,
            params=query,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as r:
            return r.status, await r.json(content_type=None)

    async def health(self, timeout: float = 10):
        async with self.http.get(f"{self.base_url}/api/health", timeout=aiohttp.ClientTimeout(total=timeout)) as r:
            return r.status, await r.json(content_type=None)

    async def account(self, account_id: int) -> dict:
        status, body = await self.call("mailAccounts:get", query={"filterByTk": account_id}, method="GET")
        assert status == 200, body
        return body["data"]

    async def message_ids(self) -> Counter:
        """How many times each Message-ID is listed."""
        status, body = await self.call(
            "mailMessages:list", method="GET", query={"paginate": "false", "fields": "id,messageId,subject"}
        )
        assert status == 200, body
        return Counter(m["messageId"] for m in body["data"])


async def person(http, base_url: str, email: str) -> Api:
    """Root creates a member, who signs in."""
    root = Api(http, base_url)
    _, body = await root.call("auth:signIn", {"email": ROOT_EMAIL, "password": ROOT_PASSWORD})
    root.token = body["data"]["token"]
    status, body = await root.call("users:create", {"email": email, "password": "member-pass-1234"})
    assert status == 200, body
    _, body = await root.call("auth:signIn", {"email": email, "password": "member-pass-1234"})
    return Api(http, base_url, body["data"]["token"])


async def link_imap(api: Api, dovecot: Dovecot, address: str, password: str, smtp_sink) -> int:
    smtp_sink.users[address] = password
    status, body = await api.call(
        "mailAccounts:create",
        imap_account(address, password, dovecot, smtp_sink),
    )
    assert status == 200, body
    return body["data"]["id"]


async def stored(url: str, account_id: int) -> int:
    """Messages stored for the account, counted in the database (0 while it cannot be reached)."""
    try:
        conn = await asyncpg.connect(url, timeout=2)
    except (OSError, asyncpg.PostgresError):
        return 0
    try:
        return await conn.fetchval("SELECT count(*) FROM mail_messages WHERE account_id = $1", account_id)
    finally:
        await conn.close()


def every_message_once(ids: Counter, expected: int) -> None:
    doubled = {k: v for k, v in ids.items() if v > 1}
    assert not doubled, f"{len(doubled)} messages listed twice or more"
    assert len(ids) == expected, f"{len(ids)} of {expected} messages listed"


@pytest.fixture(scope="module")
def oauth_provider():
    server = OAuthProvider().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def restartable_dovecot(oauth_provider):
    """A Dovecot of this module's own, which its tests stop and start again (XOAUTH2 logins are
    checked against ``oauth_provider``)."""
    server = Dovecot(introspection_url=oauth_provider.urls["introspectionUrl"]).start()
    yield server
    server.stop()


# ------------------------------------------------------------------------------ PostgreSQL


async def test_postgresql_restarted_mid_sync_answers_cleanly_and_loses_nothing(dovecot, mail_user, smtp_sink):
    address, password = mail_user
    mailbox_of(dovecot, address)
    cluster = PostgresCluster().start()  # its own: stopping the session's would break other tests
    url = cluster.create_database()
    env = {"EMAIL_CENTER_SYNC_INTERVAL": "300"}
    first = second = None
    try:
        first = await ServerProcess(url, env=env).start()
        second = await ServerProcess(url, env=env).start()
        async with aiohttp.ClientSession() as http:
            api = await person(http, first.base_url, "pat@example.test")
            elsewhere = Api(http, second.base_url, api.token)
            account = await link_imap(api, dovecot, address, password, smtp_sink)
            await until("the first sync under way", 30, lambda: _at_least(url, account, 250), every=0.05)
            assert await stored(url, account) < MESSAGES, "the sync ended before the stop: nothing tested"
            cluster.halt()
            down = time.monotonic()
            assert (await api.health(timeout=5)) == (
                503,
                {"data": {"status": "unavailable", "database": "unavailable"}},
            )
            for client, action, query in (
                (api, "mailMessages:list", {"pageSize": "20"}),
                (api, "mailAccounts:get", {"filterByTk": account}),
                (elsewhere, "mailAccounts:list", None),
            ):
                start = time.monotonic()
                status, body = await client.call(action, query=query, method="GET", timeout=10)
                assert time.monotonic() - start < 3, f"{action} took {time.monotonic() - start:.1f} s"
                assert status == 503, (action, status, body)
                assert body["errors"][0]["code"] == "DATABASE_UNAVAILABLE", body
            await asyncio.sleep(max(0.0, 3 - (time.monotonic() - down)))  # down for a few seconds
            cluster.resume()

            await until("health back to 200", 15, lambda: _healthy(api))
            assert (await elsewhere.health()) == (200, {"data": {"status": "ok", "database": "ok"}})
            # the interrupted sync resumes by itself (its retry), no Refresh asked
            await until("every message stored", 60, lambda: _at_least(url, account, MESSAGES))
            every_message_once(await api.message_ids(), MESSAGES)
            # a Refresh through the other process still reaches the one syncing the account
            # (their messages go through PostgreSQL's NOTIFY, whose connection was cut)
            status, body = await elsewhere.call("mailAccounts:sync", {"filterByTk": account, "wait": True}, timeout=20)
            assert status == 200, body
            row = await api.account(account)
            assert row["status"] == "ready" and row["error"] is None, row
            every_message_once(await elsewhere.message_ids(), MESSAGES)
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.stop()
        cluster.stop()


async def _at_least(url: str, account: int, n: int) -> bool:
    return await stored(url, account) >= n


async def _healthy(api: Api) -> bool:
    try:
        return (await api.health(timeout=5))[0] == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


# ------------------------------------------------------------------------------ Dovecot


async def test_dovecot_restarted_mid_sync_and_mid_idle_brings_the_rest_by_itself(
    restartable_dovecot, pg_cluster, smtp_sink
):
    dovecot = restartable_dovecot
    address, password = "dora@example.test", "dora-pass-1234"
    dovecot.add_user(address, password)
    mailbox_of(dovecot, address)
    async with running_server(pg_cluster.create_database(), env={"EMAIL_CENTER_SYNC_INTERVAL": "300"}) as server:
        http = server.session
        api = await person(http, server.base_url, "dora+member@example.test")
        account = await link_imap(api, dovecot, address, password, smtp_sink)
        db = server.host.db
        count = "SELECT count(*) FROM mail_messages WHERE account_id = $1"
        await until("the first sync under way", 30, lambda: _count_at_least(db, count, account, 250), every=0.05)
        dovecot.halt()
        assert await db.fetchval(count, account) < MESSAGES, "the sync ended before the stop: nothing tested"
        try:
            row = await until("the account shows the failure", 15, lambda: _in_error(api, account))
            # "... is unavailable: Connection lost." (the cut sync) or "... could not be reached" (its retry)
            assert row["error"].startswith(f"The IMAP server 127.0.0.1:{dovecot.port} "), row
            assert "unavailable" in row["error"] or "could not be reached" in row["error"], row
        finally:
            dovecot.resume()
        # no Refresh: the worker's retry brings the rest, and the account is well again
        await until("every message stored", 40, lambda: _count_at_least(db, count, account, MESSAGES))
        row = await until("the account ready again", 20, lambda: _ready(api, account))
        every_message_once(await api.message_ids(), MESSAGES)

        # mid-IDLE: the connection is dropped under it, and mail comes while it reconnects
        await until("the inbox IDLE in place", 20, _idling)
        dovecot.halt()
        await asyncio.sleep(1)
        dovecot.resume()
        dovecot.deliver(address, message("late@example.test", address, "After the restart"))
        start = time.monotonic()
        await until(
            "mail delivered after the restart listed", 30, lambda: _listed(api, "After the restart"), every=0.25
        )
        print(f"IDLE brought the new mail {time.monotonic() - start:.1f} s after the restart")
        every_message_once(await api.message_ids(), MESSAGES + 1)
        assert (await api.account(account))["status"] == "ready"


async def _count_at_least(db, sql: str, account: int, n: int) -> bool:
    return await db.fetchval(sql, account) >= n


async def _in_error(api: Api, account: int) -> dict | None:
    row = await api.account(account)
    return row if row["status"] == "error" and row["error"] else None


async def _ready(api: Api, account: int) -> dict | None:
    row = await api.account(account)
    return row if row["status"] == "ready" and row["error"] is None else None


async def _idling() -> bool:
    return metrics.IDLE_CONNECTIONS._value.get() >= 1  # this process's IDLE connections


async def _listed(api: Api, subject: str) -> list:
    status, body = await api.call(
        "mailMessages:list", method="GET", query={"paginate": "false", "filter": f'{{"subject": "{subject}"}}'}
    )
    assert status == 200, body
    return body["data"]


# ------------------------------------------------------------------------------ OAuth provider


async def test_an_unreachable_token_endpoint_shows_on_the_account_and_heals_by_itself(
    restartable_dovecot, oauth_provider, pg_cluster, smtp_sink
):
    dovecot, provider = restartable_dovecot, oauth_provider
    user = "olga@example.test"
    dovecot.add_user(user, "unused-password")
    provider.consent_user = user
    async with running_server(pg_cluster.create_database(), env={"EMAIL_CENTER_SYNC_INTERVAL": "300"}) as server:
        status, body = await server.api(
            server.root_token,
            "mailSettings:update",
            provider_settings(provider, CLIENT_ID, CLIENT_SECRET, dovecot, smtp_sink),
            query={"filter": {"provider": "google"}},
        )
        assert status == 200, body
        token = await server.member("olga+member@example.test")
        api = Api(server.session, server.base_url, token)
        dovecot.append(user, message("a@example.test", user, "Before the outage"))
        status, _, _ = await follow_consent(server, token)
        assert status == 200
        _, body = await api.call("mailAccounts:list", method="GET")
        (account,) = [a["id"] for a in body["data"]]
        await until("the first sync done", 20, lambda: _listed(api, "Before the outage"))

        # the stored token has 30 s left, under the 60 s margin: the next login must refresh it
        host = server.host
        tokens = host.secrets.decrypt(await host.db.fetchval("SELECT secret FROM mail_accounts WHERE id = $1", account))
        tokens["expiresAt"] = time.time() + 30
        await host.db.execute(
            "UPDATE mail_accounts SET secret = $2 WHERE id = $1", account, host.secrets.encrypt(tokens)
        )
        refreshes = provider.token_requests["refresh_token"]
        provider.stop()
        try:
            dovecot.append(user, message("b@example.test", user, "During the outage"))
            start = time.monotonic()
            status, body = await api.call("mailAccounts:sync", {"filterByTk": account, "wait": True}, timeout=30)
            assert time.monotonic() - start < 25
            assert status == 502 and body["errors"][0]["code"] == "OAUTH_UNAVAILABLE", body
            row = await until("the account shows the failure", 10, lambda: _in_error(api, account))
            assert "Google could not be reached" in row["error"], row
        finally:
            provider.start()  # the same port: the stored endpoints are right again
        # no Refresh, no re-link: the worker's retry refreshes the token and syncs
        await until("mail of the outage listed", 30, lambda: _listed(api, "During the outage"), every=0.25)
        await until("the account ready again", 10, lambda: _ready(api, account))
        assert provider.token_requests["refresh_token"] > refreshes
        every_message_once(await api.message_ids(), 2)


# ------------------------------------------------------------------------------ a server process


async def test_a_process_killed_mid_sync_hands_its_account_over_and_nothing_is_lost(
    pg_cluster, dovecot, mail_user, smtp_sink
):
    address, password = mail_user
    mailbox_of(dovecot, address)
    url = pg_cluster.create_database()
    env = {"EMAIL_CENTER_LEASE_SECONDS": "3", "EMAIL_CENTER_SYNC_INTERVAL": "300"}
    first = await ServerProcess(url, env=env).start()
    second = await ServerProcess(url, env=env).start()
    db = await asyncpg.connect(url)
    try:
        async with aiohttp.ClientSession() as http:
            api = await person(http, first.base_url, "kim@example.test")
            account = await link_imap(api, dovecot, address, password, smtp_sink)
            await until("the first sync under way", 30, lambda: _at_least(url, account, 250), every=0.05)
            owner = await db.fetchval("SELECT lease_owner FROM mail_accounts WHERE id = $1", account)
            assert f":{first.proc.pid}:" in owner

            first.stop(signal.SIGKILL)  # mid-sync, its lease not released
            killed = time.monotonic()
            assert await stored(url, account) < MESSAGES, "the sync ended before the kill: nothing tested"
            later = Api(http, second.base_url, api.token)

            async def taken_over():
                owner = await db.fetchval("SELECT lease_owner FROM mail_accounts WHERE id = $1", account)
                return owner and f":{second.proc.pid}:" in owner

            await until("the second process holding the account", 15, taken_over)
            print(f"taken over {time.monotonic() - killed:.1f} s after the kill")
            await until("every message stored", 60, lambda: _at_least(url, account, MESSAGES))
            await until("the account ready", 20, lambda: _ready(later, account))
            every_message_once(await later.message_ids(), MESSAGES)
    finally:
        await db.close()
        first.stop()
        second.stop()
