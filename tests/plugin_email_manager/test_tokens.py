"""An account's access token: refreshed before it expires, once, and stored encrypted."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from plugin_email_manager.errors import OAuthUnavailable, TokenRefreshFailed
from plugin_email_manager.oauth import TokenProvider
from tests.plugin_email_manager.test_oauth_flow import host, link, linked_settings, oauth_provider, provider_defaults  # noqa: F401 - fixtures
from tests.servers.net import free_port


async def add_account(host, name: str = "google") -> int:
    """Link through the real flow, then store the account as the link action does."""
    result = await link(host, name)
    return await host.db.fetchval(
        "INSERT INTO mail_accounts (user_id, provider, email, status, secret) VALUES ($1, $2, $3, 'ready', $4) "
        "RETURNING id",
        result.user_id,
        result.provider,
        result.email,
        host.secrets.encrypt(result.tokens),
    )


async def stored(host, account_id: int) -> dict:
    row = await host.db.fetchrow("SELECT status, error, secret FROM mail_accounts WHERE id = $1", account_id)
    return {
        "status": row["status"],
        "error": row["error"],
        "raw": row["secret"],
        "tokens": host.secrets.decrypt(row["secret"]),
    }


async def active(provider, token: str) -> bool:
    async with (
        aiohttp.ClientSession() as http,
        http.post(provider.urls["introspectionUrl"], data={"token": token}) as answer,
    ):
        return (await answer.json())["active"]


async def test_a_fresh_token_is_used_as_is(linked_settings, oauth_provider):
    account = await add_account(linked_settings)
    before = await stored(linked_settings, account)
    refreshes = oauth_provider.token_requests["refresh_token"]
    assert await TokenProvider(linked_settings, account)() == before["tokens"]["accessToken"]
    assert oauth_provider.token_requests["refresh_token"] == refreshes


async def test_an_expiring_token_is_refreshed_before_use(linked_settings, oauth_provider):
    oauth_provider.token_ttl = 2  # inside the 60 s margin: already "expiring"
    account = await add_account(linked_settings)
    before = await stored(linked_settings, account)
    oauth_provider.token_ttl = 3600
    refreshes = oauth_provider.token_requests["refresh_token"]
    token = await TokenProvider(linked_settings, account)()
    assert token != before["tokens"]["accessToken"] and await active(oauth_provider, token)
    assert oauth_provider.token_requests["refresh_token"] == refreshes + 1
    after = await stored(linked_settings, account)
    assert after["tokens"]["accessToken"] == token
    assert after["tokens"]["refreshToken"] == before["tokens"]["refreshToken"]  # Google sent none: kept
    assert after["tokens"]["expiresAt"] > before["tokens"]["expiresAt"] + 3000
    # the next call finds it fresh
    assert await TokenProvider(linked_settings, account)() == token
    assert oauth_provider.token_requests["refresh_token"] == refreshes + 1


async def test_refresh_true_refreshes_a_token_a_server_refused(linked_settings, oauth_provider):
    account = await add_account(linked_settings)
    tokens = TokenProvider(linked_settings, account)
    first = await tokens()
    refreshes = oauth_provider.token_requests["refresh_token"]
    second = await tokens(refresh=True)
    assert second != first and oauth_provider.token_requests["refresh_token"] == refreshes + 1


async def test_concurrent_callers_share_one_refresh(linked_settings, oauth_provider):
    oauth_provider.token_ttl = 2
    account = await add_account(linked_settings)
    oauth_provider.token_ttl = 3600
    refreshes = oauth_provider.token_requests["refresh_token"]
    shared = TokenProvider(linked_settings, account)
    callers = [shared, shared] + [TokenProvider(linked_settings, account) for _ in range(3)]
    tokens = await asyncio.gather(*(c() for c in callers))
    assert len(set(tokens)) == 1
    assert oauth_provider.token_requests["refresh_token"] == refreshes + 1


async def test_two_processes_share_one_refresh_through_the_row_lock(linked_settings, oauth_provider):
    oauth_provider.token_ttl = 2
    oauth_provider.rotate_refresh_tokens = True  # Microsoft-like: a second refresh with the old one would fail
    account = await add_account(linked_settings, "microsoft")
    oauth_provider.token_ttl = 3600
    refreshes = oauth_provider.token_requests["refresh_token"]
    here, there = TokenProvider(linked_settings, account), TokenProvider(linked_settings, account)
    there._lock = asyncio.Lock()  # another process: its own in-process lock
    tokens = await asyncio.gather(here(), there())
    assert tokens[0] == tokens[1]
    assert oauth_provider.token_requests["refresh_token"] == refreshes + 1
    assert (await stored(linked_settings, account))["status"] == "ready"


async def test_a_rotated_refresh_token_is_stored(linked_settings, oauth_provider):
    oauth_provider.rotate_refresh_tokens = True
    account = await add_account(linked_settings, "microsoft")
    before = (await stored(linked_settings, account))["tokens"]
    tokens = TokenProvider(linked_settings, account)
    await tokens(refresh=True)
    after = (await stored(linked_settings, account))["tokens"]
    assert after["refreshToken"] != before["refreshToken"] and after["refreshToken"] in oauth_provider.refresh_tokens
    assert await active(oauth_provider, await tokens(refresh=True))  # the new one works in turn


async def test_a_revoked_sign_in_marks_the_account_and_asks_to_relink(linked_settings, oauth_provider):
    account = await add_account(linked_settings)
    oauth_provider.revoke(refresh_token=(await stored(linked_settings, account))["tokens"]["refreshToken"])
    with pytest.raises(TokenRefreshFailed) as caught:
        await TokenProvider(linked_settings, account)(refresh=True)
    message = "Google sign-in expired or was revoked: sign in again to re-link this account."
    assert caught.value.code == "OAUTH_REAUTH_REQUIRED" and caught.value.message == message
    after = await stored(linked_settings, account)
    assert after["status"] == "error" and after["error"] == message


async def test_microsoft_accounts_name_microsoft(linked_settings, oauth_provider):
    account = await add_account(linked_settings, "microsoft")
    oauth_provider.revoke(user="alice@example.test")
    with pytest.raises(TokenRefreshFailed):
        await TokenProvider(linked_settings, account)(refresh=True)
    assert (await stored(linked_settings, account))["error"].startswith("Microsoft sign-in expired")


async def test_an_unreachable_provider_leaves_the_account_alone(linked_settings, oauth_provider):
    account = await add_account(linked_settings)
    await linked_settings.db.execute(
        "UPDATE mail_settings SET token_url = $1 WHERE provider = 'google'", f"http://127.0.0.1:{free_port()}/token"
    )
    before = await stored(linked_settings, account)
    with pytest.raises(OAuthUnavailable):
        await TokenProvider(linked_settings, account)(refresh=True)
    after = await stored(linked_settings, account)
    assert after["status"] == "ready" and after["error"] is None and after["tokens"] == before["tokens"]


async def test_the_stored_secret_holds_no_token_in_clear(linked_settings, oauth_provider):
    account = await add_account(linked_settings)
    await TokenProvider(linked_settings, account)(refresh=True)
    row = await stored(linked_settings, account)
    assert row["tokens"]["accessToken"] and row["tokens"]["refreshToken"]
    for value in (row["tokens"]["accessToken"], row["tokens"]["refreshToken"]):
        assert value not in row["raw"]
    assert "accessToken" not in row["raw"]
