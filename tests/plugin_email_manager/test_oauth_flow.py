"""Linking a Google / Microsoft mailbox against the local OAuth provider, end to end."""

from __future__ import annotations

import base64
import hashlib
import tomllib
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import aiohttp
import asyncpg
import pytest
from cryptography.fernet import Fernet

from host.db.migrate import migrate
from host.errors import BadRequest
from host.schema import load_registry
from host.secrets import SecretBox
from host.settings import Settings
from plugin_email_manager.errors import OAuthUnavailable
from plugin_email_manager.oauth import complete_link, load_provider, start_link
from tests.servers.net import free_port
from tests.servers.oauth_provider import CLIENT_ID, CLIENT_SECRET, OAuthProvider

ROOT = Path(__file__).resolve().parents[2]
CALLBACK = "http://127.0.0.1:13000/api/mailAccounts:oauthCallback"


async def create_schema(pool: asyncpg.Pool) -> None:
    """Every collection's table, as the server's start-up makes them."""
    await migrate(pool, load_registry(sorted((ROOT / "collections").glob("*.toml"))), [])


def plugin_settings(env: dict[str, str] | None = None) -> Settings:
    with open(ROOT / "plugin.toml", "rb") as f:
        return Settings(tomllib.load(f)["settings"], env=env or {})


@pytest.fixture(scope="module")
def oauth_provider():
    provider = OAuthProvider().start()
    yield provider
    provider.stop()


@pytest.fixture(autouse=True)
def provider_defaults(oauth_provider):
    """Each test starts from a provider that consents, with long-lived, non-rotating tokens."""
    yield
    oauth_provider.consent_user = "alice@example.test"
    oauth_provider.deny = False
    oauth_provider.token_ttl = 3600
    oauth_provider.rotate_refresh_tokens = False


@pytest.fixture
async def host(database_url):
    """The parts of host.runtime.Host this package uses, on a fresh database."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=6)
    await create_schema(pool)
    stub = SimpleNamespace(db=pool, secrets=SecretBox(Fernet.generate_key()), settings=plugin_settings())
    stub.user_id = await pool.fetchval("INSERT INTO users (email) VALUES ('alice@corp.test') RETURNING id")
    yield stub
    await pool.close()


async def point_at(host, provider: OAuthProvider, name: str, **overrides) -> None:
    """A mailSettings record sending provider ``name`` to the local provider, as root would."""
    values = {
        "client_id": CLIENT_ID,
        "client_secret": host.secrets.encrypt(CLIENT_SECRET),
        "authorization_url": provider.urls["authorizationUrl"],
        "token_url": provider.urls["tokenUrl"],
        "userinfo_url": provider.urls["userinfoUrl"] if name == "google" else None,
        **overrides,
    }
    columns = ", ".join(values)
    marks = ", ".join(f"${i}" for i in range(2, len(values) + 2))
    await host.db.execute(
        f"INSERT INTO mail_settings (provider, {columns}) VALUES ($1, {marks})", name, *values.values()
    )


@pytest.fixture
async def linked_settings(host, oauth_provider):
    await point_at(host, oauth_provider, "google")
    await point_at(host, oauth_provider, "microsoft")
    return host


async def follow(url: str) -> dict[str, str]:
    """What the browser does: visit the authorization URL, land on the callback with its query."""
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as answer:
        assert answer.status == 302, await answer.text()
        location = answer.headers["Location"]
    assert location.startswith(CALLBACK)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def link(host, name: str = "google"):
    back = await follow(await start_link(host, host.user_id, name, CALLBACK))
    return await complete_link(host, back.get("state"), back.get("code"), back.get("error"))


async def state_rows(host) -> list[dict]:
    rows = await host.db.fetch(
        "SELECT state_hash, user_id, provider, used_at IS NOT NULL AS used FROM mail_oauth_states ORDER BY id"
    )
    return [dict(r) for r in rows]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# ---------------------------------------------------------------- the authorization URL


async def test_google_authorization_url(linked_settings, oauth_provider):
    host = linked_settings
    url = await start_link(host, host.user_id, "google", CALLBACK)
    assert url.startswith(oauth_provider.urls["authorizationUrl"] + "?")
    q = query_of(url)
    assert q["response_type"] == "code" and q["client_id"] == CLIENT_ID and q["redirect_uri"] == CALLBACK
    assert q["scope"] == "openid email https://mail.google.com/"
    assert q["access_type"] == "offline" and q["prompt"] == "consent"
    assert q["code_challenge_method"] == "S256"
    # the state is kept only as its hash, the verifier only encrypted, and it matches the challenge
    row = await host.db.fetchrow("SELECT * FROM mail_oauth_states")
    assert row["state_hash"] == hashlib.sha256(q["state"].encode()).hexdigest()
    assert row["user_id"] == host.user_id and row["provider"] == "google" and row["used_at"] is None
    verifier = host.secrets.decrypt(row["code_verifier"])["verifier"]
    assert 43 <= len(verifier) <= 128 and verifier not in row["code_verifier"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert q["code_challenge"] == challenge
    ttl = (row["expires_at"] - row["created_at"]).total_seconds()
    assert abs(ttl - 600) < 5


async def test_microsoft_authorization_url(linked_settings):
    host = linked_settings
    q = query_of(await start_link(host, host.user_id, "microsoft", CALLBACK))
    assert q["scope"] == (
        "openid email offline_access https://outlook.office.com/IMAP.AccessAsUser.All "
        "https://outlook.office.com/SMTP.Send"
    )
    assert "access_type" not in q and "prompt" not in q


async def test_each_link_gets_its_own_state(linked_settings):
    host = linked_settings
    first = query_of(await start_link(host, host.user_id, "google", CALLBACK))
    second = query_of(await start_link(host, host.user_id, "google", CALLBACK))
    assert first["state"] != second["state"] and first["code_challenge"] != second["code_challenge"]


# ---------------------------------------------------------------- completing the link


async def test_google_link_reads_the_address_from_userinfo(linked_settings, oauth_provider):
    oauth_provider.consent_user = "ann@gmail.test"
    before = oauth_provider.userinfo_requests
    result = await link(linked_settings, "google")
    assert (result.user_id, result.provider, result.email) == (linked_settings.user_id, "google", "ann@gmail.test")
    assert oauth_provider.userinfo_requests == before + 1
    assert result.tokens["accessToken"] in oauth_provider.access_tokens
    assert result.tokens["refreshToken"] in oauth_provider.refresh_tokens
    assert result.tokens["scope"] == "openid email https://mail.google.com/"
    assert result.tokens["expiresAt"] > 0
    assert [r["used"] for r in await state_rows(linked_settings)] == [True]


async def test_microsoft_link_reads_the_address_from_the_id_token(linked_settings, oauth_provider):
    oauth_provider.consent_user = "bob@outlook.test"
    before = oauth_provider.userinfo_requests
    result = await link(linked_settings, "microsoft")
    assert (result.provider, result.email) == ("microsoft", "bob@outlook.test")
    assert oauth_provider.userinfo_requests == before  # no userinfoUrl: the ID token named the mailbox
    assert "offline_access" in result.tokens["scope"].split()


# ---------------------------------------------------------------- refused callbacks store nothing


async def refused(host, oauth_provider, state, code, code_name: str = "OAUTH_STATE_INVALID", error=None):
    token_requests = sum(oauth_provider.token_requests.values())
    with pytest.raises(BadRequest) as caught:
        await complete_link(host, state, code, error)
    assert caught.value.code == code_name and caught.value.status == 400
    if code_name == "OAUTH_STATE_INVALID":
        assert sum(oauth_provider.token_requests.values()) == token_requests  # the code was never tried
    return caught.value


async def test_a_state_never_issued_is_refused(linked_settings, oauth_provider):
    host = linked_settings
    back = await follow(await start_link(host, host.user_id, "google", CALLBACK))
    before = await state_rows(host)
    await refused(host, oauth_provider, "forged-" + back["state"], back["code"])
    await refused(host, oauth_provider, None, back["code"])
    assert await state_rows(host) == before  # the real state is still pending, untouched
    assert back["code"] in oauth_provider.codes  # and the code was never spent


async def test_a_state_or_code_that_is_not_one_string_is_refused(linked_settings, oauth_provider):
    # a repeated query key (?state=a&state=b) or a JSON body gives a list: found by the API fuzz
    host = linked_settings
    back = await follow(await start_link(host, host.user_id, "google", CALLBACK))
    before = await state_rows(host)
    await refused(host, oauth_provider, [back["state"], back["state"]], back["code"])
    await refused(host, oauth_provider, back["state"], [back["code"]])
    await refused(host, oauth_provider, {"state": back["state"]}, back["code"])
    assert await state_rows(host) == before  # the real state is still pending, untouched


async def test_a_state_works_once_even_with_a_fresh_code(linked_settings, oauth_provider):
    host = linked_settings
    url = await start_link(host, host.user_id, "google", CALLBACK)
    back = await follow(url)
    assert (await complete_link(host, back["state"], back["code"])).email == "alice@example.test"
    again = await follow(url)  # the provider hands out a new, valid code for the same request
    error = await refused(host, oauth_provider, again["state"], again["code"])
    assert "already used" in error.message
    assert again["code"] in oauth_provider.codes
    assert [r["used"] for r in await state_rows(host)] == [True]


async def test_an_expired_state_is_refused(linked_settings, oauth_provider):
    host = linked_settings
    back = await follow(await start_link(host, host.user_id, "google", CALLBACK))
    await host.db.execute("UPDATE mail_oauth_states SET expires_at = now() - interval '1 second'")
    await refused(host, oauth_provider, back["state"], back["code"])
    assert [r["used"] for r in await state_rows(host)] == [False]


async def test_the_state_ttl_setting_is_honoured(linked_settings, oauth_provider):
    host = linked_settings
    host.settings = plugin_settings({"EMAIL_CENTER_OAUTH_STATE_TTL": "0"})
    back = await follow(await start_link(host, host.user_id, "google", CALLBACK))
    await refused(host, oauth_provider, back["state"], back["code"])


async def test_a_wrong_pkce_verifier_is_refused_and_spends_the_state(linked_settings, oauth_provider):
    host = linked_settings
    back = await follow(await start_link(host, host.user_id, "google", CALLBACK))
    forged = host.secrets.encrypt({"verifier": "x" * 64, "redirectUri": CALLBACK})
    await host.db.execute("UPDATE mail_oauth_states SET code_verifier = $1", forged)
    issued = len(oauth_provider.issued)
    error = await refused(host, oauth_provider, back["state"], back["code"], "OAUTH_EXCHANGE_FAILED")
    assert error.extra["error"] == "invalid_grant"
    assert len(oauth_provider.issued) == issued  # no token came out of it
    await refused(host, oauth_provider, back["state"], back["code"])  # and the state is spent


async def test_a_refused_consent_links_nothing(linked_settings, oauth_provider):
    host = linked_settings
    oauth_provider.deny = True
    back = await follow(await start_link(host, host.user_id, "microsoft", CALLBACK))
    assert back["error"] == "access_denied"
    error = await refused(host, oauth_provider, back["state"], None, "OAUTH_DENIED", error=back["error"])
    assert "Microsoft" in error.message
    await refused(host, oauth_provider, back["state"], None, error="access_denied")


async def test_an_unreachable_token_endpoint_is_a_502(linked_settings, oauth_provider):
    host = linked_settings
    back = await follow(await start_link(host, host.user_id, "google", CALLBACK))
    await host.db.execute(
        "UPDATE mail_settings SET token_url = $1 WHERE provider = 'google'", f"http://127.0.0.1:{free_port()}/token"
    )
    with pytest.raises(OAuthUnavailable) as caught:
        await complete_link(host, back["state"], back["code"])
    assert caught.value.status == 502 and caught.value.code == "OAUTH_UNAVAILABLE"


# ---------------------------------------------------------------- provider settings


async def test_without_a_client_id_the_admin_is_told_where_to_set_it(host):
    with pytest.raises(BadRequest) as caught:
        await start_link(host, host.user_id, "google", CALLBACK)
    assert caught.value.code == "OAUTH_NOT_CONFIGURED"
    assert "settings" in caught.value.message and "EMAIL_CENTER_GOOGLE_CLIENT_ID" in caught.value.message
    assert await state_rows(host) == []


async def test_unknown_provider_is_refused(host):
    with pytest.raises(BadRequest) as caught:
        await load_provider(host, "yahoo")
    assert caught.value.code == "OAUTH_UNKNOWN_PROVIDER"


async def test_settings_layers_record_over_environment_over_file(host):
    host.settings = plugin_settings(
        {
            "EMAIL_CENTER_GOOGLE_CLIENT_ID": "env-id",
            "EMAIL_CENTER_GOOGLE_CLIENT_SECRET": "env-secret",
            "EMAIL_CENTER_GOOGLE_IMAP_PORT": "1993",
        }
    )
    config = await load_provider(host, "google")
    assert (config.client_id, config.client_secret, config.imap_port) == ("env-id", "env-secret", 1993)
    assert config.token_url == "https://oauth2.googleapis.com/token"  # from plugin.toml
    assert config.auth_params == {"access_type": "offline", "prompt": "consent"}
    await host.db.execute(
        "INSERT INTO mail_settings (provider, client_id, client_secret, scopes, imap_host, smtp_host, auth_params) "
        "VALUES ('google', 'db-id', $1, '', NULL, 'smtp.corp.test', '{\"hd\": \"corp.test\"}')",
        host.secrets.encrypt("db-secret"),
    )
    config = await load_provider(host, "google")
    assert (config.client_id, config.client_secret) == ("db-id", "db-secret")
    assert config.scopes == "openid email https://mail.google.com/"  # '' does not override
    assert config.imap_host == "imap.gmail.com" and config.smtp_host == "smtp.corp.test"
    assert config.auth_params == {"hd": "corp.test"}


async def test_plain_http_to_a_remote_host_is_refused(host):
    await host.db.execute(
        "INSERT INTO mail_settings (provider, client_id, token_url) "
        "VALUES ('google', 'id', 'http://oauth.example.test/token')"
    )
    with pytest.raises(BadRequest) as caught:
        await load_provider(host, "google")
    assert caught.value.code == "OAUTH_NOT_CONFIGURED" and "https" in caught.value.message
