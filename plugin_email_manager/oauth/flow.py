"""Linking a Google or Microsoft mailbox: OAuth 2.0 authorization code with PKCE (RFC 7636).

``start_link`` stores a pending authorization (``mailOAuthStates``): the SHA-256 of a random
``state``, the user who asked, the provider, and the encrypted PKCE verifier and redirect URI;
it answers the provider's authorization URL. The provider sends the browser back to the
callback with ``state`` and ``code``; ``complete_link`` spends the state in one UPDATE (so a
replayed, expired or unknown state is refused before anything else happens), exchanges the code
with the verifier and reads the mailbox address: from ``userinfoUrl`` (Google) when set, else
from the ID token's claims (Microsoft). Storing the account is the caller's business.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from oauthlib.oauth2 import WebApplicationClient

from host.errors import BadRequest
from plugin_email_manager.oauth.providers import ProviderConfig, TokenRefused, get_json, load_provider, token_request

if TYPE_CHECKING:
    from asyncpg import Record

    from host.api import Host

STATES_TABLE = "mail_oauth_states"  # collections/mailOAuthStates.toml names its table explicitly
VERIFIER_LENGTH = 96  # RFC 7636: 43 to 128 characters
STATE_INVALID = (
    "This sign-in link is not valid: it was never issued, was already used, or has expired. "
    "Start linking the account again."
)


@dataclass(frozen=True)
class LinkResult:
    user_id: int
    provider: str
    email: str
    # {"accessToken", "refreshToken", "expiresAt" (epoch seconds), "scope"}: encrypt before storing
    tokens: dict[str, Any]
    display_name: str | None = None
    account_id: int | None = None  # set when start_link was asked to re-link that account
    sync_since: datetime | None = None  # the sync start date chosen when linking began


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _authorization_uri(client: WebApplicationClient, url: str, **params: Any) -> str:
    # oauthlib refuses any http:// URL unless OAUTHLIB_INSECURE_TRANSPORT is set for the whole
    # process; load_provider already allows http only to loopback (RFC 8252 §8.3), so build on
    # the https form and put the scheme back, rather than relax the check process-wide.
    if url.startswith("http://"):
        return "http://" + client.prepare_request_uri("https://" + url[7:], **params)[8:]
    return client.prepare_request_uri(url, **params)


async def start_link(
    host: Host,
    user_id: int,
    provider_name: str,
    redirect_uri: str,
    *,
    account_id: int | None = None,
    sync_since: datetime | None = None,
) -> str:
    """Answer the provider's authorization URL for ``user_id``; the state expires after the
    ``oauth_state_ttl`` setting (seconds). ``sync_since`` travels with the state (encrypted, as
    the verifier) to the account the callback creates.

    :raises BadRequest: ``OAUTH_NOT_CONFIGURED`` / ``OAUTH_UNKNOWN_PROVIDER`` (see load_provider).
    """
    config = await load_provider(host, provider_name)
    client = WebApplicationClient(config.client_id)
    verifier = client.create_code_verifier(VERIFIER_LENGTH)
    challenge = client.create_code_challenge(verifier, "S256")
    state = secrets.token_urlsafe(32)
    ttl = float(host.settings.get("oauth_state_ttl", 600))
    pending = host.secrets.encrypt(
        {"verifier": verifier, "redirectUri": redirect_uri, "syncSince": sync_since.isoformat() if sync_since else None}
    )
    async with host.db.acquire() as conn, conn.transaction():
        # states a day past their expiry are of no use, even to explain a refusal
        await conn.execute(f"DELETE FROM {STATES_TABLE} WHERE expires_at < now() - interval '1 day'")
        await conn.execute(
            f"INSERT INTO {STATES_TABLE} (state_hash, user_id, provider, code_verifier, account_id, expires_at) "
            "VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
            _hash(state),
            user_id,
            provider_name,
            pending,
            account_id,
            ttl,
        )
    return _authorization_uri(
        client,
        config.authorization_url,
        redirect_uri=redirect_uri,
        scope=config.scopes.split(),
        state=state,
        code_challenge=challenge,
        code_challenge_method="S256",
        **config.auth_params,
    )


async def _spend_state(host: Host, state: str | None) -> Record | None:
    """Mark the state used, in one statement: two callbacks with one state cannot both pass."""
    if not state:
        return None
    return await host.db.fetchrow(
        f"UPDATE {STATES_TABLE} SET used_at = now() "
        "WHERE state_hash = $1 AND used_at IS NULL AND expires_at > now() "
        "RETURNING user_id, provider, code_verifier, account_id",
        _hash(state),
    )


def _jwt_claims(jwt: str | None) -> dict[str, Any]:
    # Not verified on purpose: the ID token came straight from the token endpoint over TLS, and
    # only names the mailbox; the mail server checks the access token itself.
    if jwt is None:
        return {}
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (AttributeError, IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


async def _identity(config: ProviderConfig, token: dict[str, Any]) -> tuple[str, str | None]:
    """The mailbox address (and a display name) of whoever signed in."""
    if config.userinfo_url:
        claims = await get_json(config, config.userinfo_url, token["access_token"])
    else:
        claims = _jwt_claims(token.get("id_token"))
    for key in ("email", "preferred_username", "upn"):
        value = claims.get(key)
        if isinstance(value, str) and "@" in value:
            return value.strip(), claims.get("name") or None
    raise BadRequest(
        f"{config.title} did not tell which mailbox signed in (was the email scope granted?).",
        code="OAUTH_EXCHANGE_FAILED",
        provider=config.name,
    )


async def complete_link(host: Host, state: str | None, code: str | None, error: str | None = None) -> LinkResult:
    """Finish the link the provider's redirect carries (``state``, ``code`` or ``error``).

    :raises BadRequest: ``OAUTH_STATE_INVALID`` (unknown, used or expired state: nothing done),
        ``OAUTH_DENIED`` (the person refused consent), ``OAUTH_EXCHANGE_FAILED`` (the provider
        refused the code or verifier, or gave no refresh token or address).
    :raises OAuthUnavailable: the provider could not be reached.
    """
    if not all(v is None or isinstance(v, str) for v in (state, code, error)):
        # a repeated query key or a JSON body gives a list or an object: no state was issued as that
        raise BadRequest(STATE_INVALID, code="OAUTH_STATE_INVALID")
    pending = await _spend_state(host, state)
    if pending is None:
        raise BadRequest(STATE_INVALID, code="OAUTH_STATE_INVALID")
    config = await load_provider(host, pending["provider"])
    if error or not code:
        raise BadRequest(
            f"{config.title} sign-in was not completed ({error or 'no code'}): nothing was linked.",
            code="OAUTH_DENIED",
            provider=config.name,
            error=error or "",
        )
    secret = host.secrets.decrypt(pending["code_verifier"])
    client = WebApplicationClient(config.client_id)
    body = client.prepare_request_body(
        code=code,
        redirect_uri=secret["redirectUri"],
        include_client_id=True,
        code_verifier=secret["verifier"],
        client_secret=config.client_secret,
    )
    try:
        token = await token_request(config, body)
    except TokenRefused as e:
        raise BadRequest(
            f"{config.title} refused to complete the sign-in ({e}). Start linking the account again.",
            code="OAUTH_EXCHANGE_FAILED",
            provider=config.name,
            error=e.error,
        ) from None
    if not token.get("refresh_token"):
        raise BadRequest(
            f"{config.title} gave no refresh token, so the account could not stay linked. "
            "Start linking the account again.",
            code="OAUTH_EXCHANGE_FAILED",
            provider=config.name,
        )
    email, display_name = await _identity(config, token)
    since = secret.get("syncSince")  # absent in a state issued before it was kept
    tokens = {
        "accessToken": token["access_token"],
        "refreshToken": token["refresh_token"],
        "expiresAt": int(token.get("expires_at") or time.time() + 3600),
        "scope": " ".join(token.get("scope") or config.scopes.split()),
    }
    return LinkResult(
        user_id=pending["user_id"],
        provider=config.name,
        email=email,
        tokens=tokens,
        display_name=display_name,
        account_id=pending["account_id"],
        sync_since=datetime.fromisoformat(since) if since else None,
    )
