"""Linking a Google account through the whole server: mailAccounts:link, the provider's consent
redirect, the callback, the first sync over XOAUTH2 (Dovecot asks the local provider), sending
over XOAUTH2, token refresh and a revoked sign-in; and every state the callback must refuse."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import aiohttp
import pytest

from tests.plugin_email_manager.helpers import gmail_layout, gmail_receive, message, provider_settings
from tests.servers.oauth_provider import CLIENT_ID, CLIENT_SECRET, OAuthProvider

USER = "gina@example.test"


@pytest.fixture(scope="module")
def provider(dovecot):
    """The local OAuth provider, where the session's Dovecot introspects tokens."""
    server = OAuthProvider(port=urlsplit(dovecot.introspection_url).port).start()
    dovecot.add_user(USER, "unused-password")
    yield server
    server.stop()


@pytest.fixture
async def google(provider, mail_server, dovecot, smtp_sink):
    """Root points the google provider at the local servers, as an admin would in settings."""
    provider.consent_user, provider.token_ttl, provider.deny = USER, 3600, False
    smtp_sink.validate_token = lambda user, token: any(
        g.user == user and token == t and g.expires_at > time.time() for t, g in provider.access_tokens.items()
    )
    status, body = await mail_server.api(
        mail_server.root_token,
        "mailSettings:update",
        provider_settings(provider, CLIENT_ID, CLIENT_SECRET, dovecot, smtp_sink),
        query={"filter": {"provider": "google"}},
    )
    assert status == 200, body
    assert "test-secret" not in str(body)
    token = await mail_server.member(f"linker-{time.monotonic_ns()}@example.test")
    return token


async def start_link(server, token) -> str:
    """The authorization URL ``mailAccounts:link`` answers, checked for what Google needs."""
    status, body = await server.api(token, "mailAccounts:link", {"provider": "google"})
    assert status == 200, body
    url = body["data"]["authorizationUrl"]
    query = dict(p.split("=", 1) for p in urlsplit(url).query.split("&"))
    assert query["code_challenge_method"] == "S256" and query["access_type"] == "offline"
    assert query["prompt"] == "consent" and "mail.google.com" in query["scope"]
    return url


async def consent(url: str) -> tuple[int, str, str]:
    """Let the provider consent and land on the callback as the browser would."""
    async with aiohttp.ClientSession() as browser:
        async with browser.get(url, allow_redirects=False) as r:
            assert r.status in (302, 303), await r.text()
            callback = r.headers["Location"]
        async with browser.get(callback) as r:
            return r.status, await r.text(), callback


async def follow_consent(server, token) -> tuple[int, str, str]:
    return await consent(await start_link(server, token))


async def accounts_of(server, token) -> list[dict]:
    status, body = await server.api(token, "mailAccounts:list", method="GET")
    return body["data"]


async def test_the_whole_link_flow_syncs_over_xoauth2_and_sends(
    google, provider, mail_server, dovecot, smtp_sink, gmail
):
    # the IMAP side speaks Gmail's extension, as imap.gmail.com does (XOAUTH2 goes through it)
    status, body = await mail_server.api(
        mail_server.root_token,
        "mailSettings:update",
        {"imapPort": gmail.port},
        query={"filter": {"provider": "google"}},
    )
    assert status == 200, body
    gmail_layout(dovecot, USER)
    gmail_receive(dovecot, USER, message("Hal <hal@example.test>", USER, "Welcome to the link"), "GmInbox")
    status, page, callback = await follow_consent(mail_server, google)
    assert status == 200 and "first sync" in page.lower()
    (account,) = await accounts_of(mail_server, google)
    assert account["provider"] == "google" and account["email"] == USER
    status, body = await mail_server.api(google, "mailAccounts:sync", {"filterByTk": account["id"], "wait": True})
    assert status == 200, body
    status, body = await mail_server.api(
        google, "mailMessages:list", method="GET", query={"filter": {"subject": "Welcome to the link"}}
    )
    # All Mail's copy, typed by its label; INBOX's copy is the same message
    assert [m["type"] for m in body["data"]] == ["inbox"]
    # the same callback again (a replayed state, with its code) stores nothing more
    async with aiohttp.ClientSession() as browser:
        async with browser.get(callback) as r:
            assert r.status == 400
    assert len(await accounts_of(mail_server, google)) == 1
    # sending goes over XOAUTH2 with the same tokens
    smtp_sink.reset()
    status, body = await mail_server.api(
        google,
        "mailMessages:send",
        {"accountId": account["id"], "to": ["hal@example.test"], "subject": "Linked", "text": "It works."},
    )
    assert status == 200, body
    assert smtp_sink.auth_log[-1][:2] == ("XOAUTH2", USER) and smtp_sink.auth_log[-1][2]


async def test_a_token_that_expires_is_refreshed_and_the_sync_finishes(google, provider, mail_server, dovecot):
    status, _, _ = await follow_consent(mail_server, google)
    assert status == 200
    (account,) = await accounts_of(mail_server, google)
    await mail_server.api(google, "mailAccounts:sync", {"filterByTk": account["id"], "wait": True})
    # the stored token now has 30 s left: under the client's 60 s margin, so the next connection
    # must renew it first (set here rather than waited for: a loaded machine makes waits flaky)
    host = mail_server.host
    tokens = host.secrets.decrypt(
        await host.db.fetchval("SELECT secret FROM mail_accounts WHERE id = $1", account["id"])
    )
    tokens["expiresAt"] = time.time() + 30
    await host.db.execute(
        "UPDATE mail_accounts SET secret = $2 WHERE id = $1", account["id"], host.secrets.encrypt(tokens)
    )
    before = provider.token_requests["refresh_token"]
    dovecot.append(USER, message("Ivy <ivy@example.test>", USER, "After the refresh"))
    status, body = await mail_server.api(google, "mailAccounts:sync", {"filterByTk": account["id"], "wait": True})
    assert status == 200, body
    assert provider.token_requests["refresh_token"] > before
    status, body = await mail_server.api(
        google, "mailMessages:list", query={"filter": {"subject": "After the refresh"}}, method="GET"
    )
    assert len(body["data"]) == 1
    # a token the server rejects before its time (revoked access, clock skew) is refreshed too
    provider.token_ttl = 3600
    provider.expire_access_tokens()
    before = provider.token_requests["refresh_token"]
    status, body = await mail_server.api(google, "mailAccounts:sync", {"filterByTk": account["id"], "wait": True})
    assert status == 200, body
    # (the inbox's IDLE connection may race the Refresh to the provider: at most one more)
    assert before + 1 <= provider.token_requests["refresh_token"] <= before + 2


async def test_a_revoked_sign_in_marks_the_account_to_relink(google, provider, mail_server):
    await follow_consent(mail_server, google)
    (account,) = await accounts_of(mail_server, google)
    provider.revoke(user=USER)
    provider.expire_access_tokens()
    status, body = await mail_server.api(google, "mailAccounts:sync", {"filterByTk": account["id"], "wait": True})
    assert status == 400 and body["errors"][0]["code"] == "OAUTH_REAUTH_REQUIRED"
    (account,) = await accounts_of(mail_server, google)
    assert account["status"] == "error" and "sign in again" in account["error"]
    # re-linking the same mailbox repairs it
    status, page, _ = await follow_consent(mail_server, google)
    assert status == 200
    (account,) = await accounts_of(mail_server, google)
    status, body = await mail_server.api(google, "mailAccounts:sync", {"filterByTk": account["id"], "wait": True})
    assert status == 200
    (account,) = await accounts_of(mail_server, google)
    assert account["status"] == "ready"


async def _callback(server, query: str) -> int:
    async with aiohttp.ClientSession() as browser:
        async with browser.get(server.base_url + "/api/mailAccounts:oauthCallback?" + query) as r:
            return r.status


async def test_states_never_issued_used_or_expired_are_refused(google, provider, mail_server):
    assert await _callback(mail_server, "state=never-issued&code=whatever") == 400
    url = await start_link(mail_server, google)
    await mail_server.host.db.execute("UPDATE mail_oauth_states SET expires_at = now() - interval '1 second'")
    assert (await consent(url))[0] == 400
    assert await accounts_of(mail_server, google) == []


async def test_a_wrong_pkce_verifier_is_refused_and_nothing_is_stored(google, provider, mail_server):
    url = await start_link(mail_server, google)
    host = mail_server.host
    row = await host.db.fetchrow("SELECT id, code_verifier FROM mail_oauth_states ORDER BY id DESC LIMIT 1")
    pending = host.secrets.decrypt(row["code_verifier"])
    pending["verifier"] = "x" * 64  # not the one the challenge was made from
    await host.db.execute(
        "UPDATE mail_oauth_states SET code_verifier = $2 WHERE id = $1", row["id"], host.secrets.encrypt(pending)
    )
    assert (await consent(url))[0] == 400
    assert await accounts_of(mail_server, google) == []


async def test_a_denied_consent_stores_nothing(google, provider, mail_server):
    provider.deny = True
    status, page, _ = await follow_consent(mail_server, google)
    assert status == 400
    assert await accounts_of(mail_server, google) == []
