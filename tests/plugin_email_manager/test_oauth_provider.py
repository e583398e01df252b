"""The local OAuth provider on its own: what a real provider does that the client relies on."""

from __future__ import annotations

import base64
import hashlib
import imaplib
import json
import secrets
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest

from tests.servers.dovecot import start_dovecot
from tests.servers.oauth_provider import CLIENT_ID, CLIENT_SECRET, OAuthProvider

REDIRECT = "http://127.0.0.1:1/callback"


@pytest.fixture(scope="module")
def provider():
    p = OAuthProvider().start()
    yield p
    p.stop()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def authorize(http, provider, challenge: str, scope: str = "openid email", state: str = "s1") -> dict:
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    async with http.get(f"{provider.base_url}/authorize?{urlencode(query)}", allow_redirects=False) as r:
        assert r.status == 302, await r.text()
        location = r.headers["Location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def token(http, provider, **form) -> tuple[int, dict]:
    form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **form}
    async with http.post(f"{provider.base_url}/token", data=form) as r:
        return r.status, await r.json()


async def exchange(http, provider, code: str, verifier: str) -> tuple[int, dict]:
    return await token(
        http, provider, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier
    )


async def introspect(http, provider, access_token: str) -> dict:
    async with http.post(f"{provider.base_url}/introspect", data={"token": access_token}) as r:
        assert r.status == 200
        return await r.json()


def jwt_claims(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def test_code_with_pkce_gives_tokens_for_the_consenting_user(http, provider):
    verifier, challenge = pkce()
    back = await authorize(http, provider, challenge, scope="openid email https://mail.google.com/")
    assert back["state"] == "s1" and back["code"]
    status, tokens = await exchange(http, provider, back["code"], verifier)
    assert status == 200, tokens
    assert tokens["access_token"] and tokens["refresh_token"] and tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == provider.token_ttl
    assert jwt_claims(tokens["id_token"])["email"] == "alice@example.test"
    assert provider.issued[-1].scopes == ["openid", "email", "https://mail.google.com/"]
    async with http.get(
        f"{provider.base_url}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ) as r:
        assert r.status == 200
        assert (await r.json())["email"] == "alice@example.test"


async def test_no_id_token_without_openid(http, provider):
    verifier, challenge = pkce()
    back = await authorize(http, provider, challenge, scope="email")
    status, tokens = await exchange(http, provider, back["code"], verifier)
    assert status == 200 and "id_token" not in tokens


async def test_wrong_verifier_is_refused(http, provider):
    _, challenge = pkce()
    back = await authorize(http, provider, challenge)
    status, answer = await exchange(http, provider, back["code"], pkce()[0])
    assert status == 400 and answer["error"] == "invalid_grant"


async def test_authorization_without_pkce_is_refused(http, provider):
    query = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT, "state": "x"}
    async with http.get(f"{provider.base_url}/authorize?{urlencode(query)}", allow_redirects=False) as r:
        assert r.status == 302
        assert parse_qs(urlsplit(r.headers["Location"]).query)["error"] == ["invalid_request"]


async def test_code_works_once(http, provider):
    verifier, challenge = pkce()
    back = await authorize(http, provider, challenge)
    assert (await exchange(http, provider, back["code"], verifier))[0] == 200
    status, answer = await exchange(http, provider, back["code"], verifier)
    assert status == 400 and answer["error"] == "invalid_grant"


async def test_denied_consent_comes_back_as_access_denied(http, provider):
    provider.deny = True
    try:
        back = await authorize(http, provider, pkce()[1], state="s9")
    finally:
        provider.deny = False
    assert back == {"error": "access_denied", "error_description": "The user denied access", "state": "s9"}


async def test_refresh_gives_a_new_access_token_and_is_counted(http, provider):
    verifier, challenge = pkce()
    back = await authorize(http, provider, challenge)
    _, first = await exchange(http, provider, back["code"], verifier)
    before = provider.token_requests["refresh_token"]
    status, second = await token(http, provider, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert status == 200, second
    assert second["access_token"] != first["access_token"]
    assert "refresh_token" not in second  # Google-like: the refresh token stays the same
    assert provider.token_requests["refresh_token"] == before + 1
    assert (await introspect(http, provider, second["access_token"]))["active"] is True


async def test_rotating_refresh_tokens_retire_the_old_one(http, provider):
    verifier, challenge = pkce()
    back = await authorize(http, provider, challenge)
    _, first = await exchange(http, provider, back["code"], verifier)
    provider.rotate_refresh_tokens = True
    try:
        _, second = await token(http, provider, grant_type="refresh_token", refresh_token=first["refresh_token"])
    finally:
        provider.rotate_refresh_tokens = False
    assert second["refresh_token"] != first["refresh_token"]
    status, answer = await token(http, provider, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert status == 400 and answer["error"] == "invalid_grant"


async def test_revoked_refresh_token_is_refused(http, provider):
    verifier, challenge = pkce()
    back = await authorize(http, provider, challenge)
    _, tokens = await exchange(http, provider, back["code"], verifier)
    async with http.post(
        f"{provider.base_url}/revoke",
        data={"token": tokens["refresh_token"], "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    ) as r:
        assert r.status == 200
    status, answer = await token(http, provider, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert status == 400 and answer["error"] == "invalid_grant"


async def test_revoking_a_user_kills_its_tokens(http, provider):
    access = provider.issue_token("bob@example.test")
    assert (await introspect(http, provider, access))["active"] is True
    provider.revoke(user="bob@example.test")
    assert await introspect(http, provider, access) == {"active": False}


async def test_introspection_tells_dovecot_who_a_live_token_is(http, provider):
    access = provider.issue_token("carol@example.test", ttl=1)
    answer = await introspect(http, provider, access)
    assert answer["active"] is True and answer["username"] == "carol@example.test"
    assert await introspect(http, provider, "not-a-token") == {"active": False}
    time.sleep(1.1)  # the provider runs in its own thread: blocking here does not stall it
    assert await introspect(http, provider, access) == {"active": False}


async def test_token_endpoint_refuses_a_wrong_client_secret(http, provider):
    verifier, challenge = pkce()
    back = await authorize(http, provider, challenge)
    status, answer = await token(
        http,
        provider,
        grant_type="authorization_code",
        code=back["code"],
        redirect_uri=REDIRECT,
        code_verifier=verifier,
        client_secret="nope",
    )
    assert status == 401 and answer["error"] == "invalid_client"


@pytest.fixture(scope="module")
def dovecot(provider):
    server = start_dovecot(introspection_url=provider.urls["introspectionUrl"])
    yield server
    server.stop()


def xoauth2_login(dovecot, user: str, token: str) -> imaplib.IMAP4:
    client = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=10)
    # a refusal comes as a "+ <base64 JSON>" challenge; answering it with an empty line gets the NO
    client.authenticate(
        "XOAUTH2", lambda challenge: b"" if challenge else f"user={user}\x01auth=Bearer {token}\x01\x01".encode()
    )
    return client


def test_dovecot_takes_a_live_token_and_refuses_a_revoked_one(dovecot, provider):
    token = provider.issue_token("dave@example.test", scopes="https://mail.google.com/")
    client = xoauth2_login(dovecot, "dave@example.test", token)
    assert client.select("INBOX")[0] == "OK"
    client.logout()
    provider.revoke(user="dave@example.test")
    with pytest.raises(imaplib.IMAP4.error):
        xoauth2_login(dovecot, "dave@example.test", token)
