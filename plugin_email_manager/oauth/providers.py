"""OAuth providers (Google, Microsoft): their settings, and the one call both flows make to them.

A provider's settings come from three layers, the later winning:

1. ``plugin.toml``'s ``[settings.providers.<name>]`` (the real endpoints, scopes, mail servers);
2. the environment: ``EMAIL_CENTER_<NAME>_<FIELD>``, e.g. ``EMAIL_CENTER_GOOGLE_CLIENT_ID``,
   ``EMAIL_CENTER_GOOGLE_CLIENT_SECRET``, ``EMAIL_CENTER_MICROSOFT_TOKEN_URL``; FIELD is one of
   CLIENT_ID, CLIENT_SECRET, AUTHORIZATION_URL, TOKEN_URL, USERINFO_URL, SCOPES,
   AUTH_PARAMS (JSON), IMAP_HOST, IMAP_PORT, IMAP_SECURITY, SMTP_HOST, SMTP_PORT, SMTP_SECURITY;
3. the provider's ``mailSettings`` record (root edits it at run time); NULL or '' there means
   "not overridden". Its ``client_secret`` is stored Fernet-encrypted (``host.secrets``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from oauthlib.oauth2.rfc6749.errors import OAuth2Error
from oauthlib.oauth2.rfc6749.parameters import parse_token_response

from host.errors import BadRequest
from plugin_email_manager.errors import OAuthUnavailable

if TYPE_CHECKING:
    from host.api import Host

SETTINGS_TABLE = "mail_settings"
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=20)
TITLES = {"google": "Google", "microsoft": "Microsoft"}


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    client_id: str = ""
    client_secret: str = ""
    authorization_url: str = ""
    token_url: str = ""
    userinfo_url: str = ""
    scopes: str = ""
    auth_params: dict[str, str] = field(default_factory=dict)
    imap_host: str = ""
    imap_port: int = 993
    imap_security: str = "tls"
    smtp_host: str = ""
    smtp_port: int = 465
    smtp_security: str = "tls"

    @property
    def title(self) -> str:
        """The name a person knows the provider by, for messages."""
        return TITLES.get(self.name, self.name.capitalize())


# the plugin.toml keys (camelCase) of each ProviderConfig field
_TOML_KEYS = {
    f.name: "".join(w.capitalize() if i else w for i, w in enumerate(f.name.split("_")))
    for f in fields(ProviderConfig)
    if f.name != "name"
}
_INTS = {"imap_port", "smtp_port"}


def _given(value: Any) -> bool:
    return value is not None and value != ""


def _coerce(name: str, value: Any) -> Any:
    if name in _INTS:
        return int(value)
    if name == "auth_params":
        value = json.loads(value) if isinstance(value, str) else value
        if not isinstance(value, dict):
            raise ValueError("auth_params must be a JSON object")
        return {str(k): str(v) for k, v in value.items()}
    return str(value)


def _is_secure(url: str) -> bool:
    """https, or http to this machine (RFC 8252 §8.3: loopback needs no TLS)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


async def load_provider(host: Host, name: str) -> ProviderConfig:
    """The settings of provider ``name``, merged from plugin.toml, environment and mailSettings.

    :raises BadRequest: ``OAUTH_UNKNOWN_PROVIDER`` for a name that is not configured anywhere,
        ``OAUTH_NOT_CONFIGURED`` when the client ID (or an endpoint) is missing or not https.
    """
    defaults = (host.settings.get("providers") or {}).get(name)
    row = await host.db.fetchrow(f"SELECT * FROM {SETTINGS_TABLE} WHERE provider = $1", name)
    if defaults is None and row is None:
        raise BadRequest(f"Unknown mail provider {name!r}.", code="OAUTH_UNKNOWN_PROVIDER", provider=name)
    values: dict[str, Any] = {}
    for attr, key in _TOML_KEYS.items():
        value = (defaults or {}).get(key)
        env = host.settings.get(f"{name}_{attr}")  # reads EMAIL_CENTER_<NAME>_<FIELD>
        if _given(env):
            value = env
        if row is not None and _given(row.get(attr)):
            value = row[attr]
            if attr == "client_secret":
                value = host.secrets.decrypt(value)
        if _given(value):
            values[attr] = _coerce(attr, value)
    config = ProviderConfig(name=name, **values)
    where = (
        f'set it in the mail settings of {config.title} (mailSettings, provider "{name}") '
        f"or as EMAIL_CENTER_{name.upper()}_CLIENT_ID / _CLIENT_SECRET"
    )
    if not config.client_id:
        raise BadRequest(
            f"{config.title} sign-in is not configured: the administrator must {where}.",
            code="OAUTH_NOT_CONFIGURED",
            provider=name,
        )
    for attr in ("authorization_url", "token_url"):
        if not _is_secure(getattr(config, attr)):
            raise BadRequest(
                f"{config.title} {_TOML_KEYS[attr]} must be an https:// URL: the administrator "
                f"must correct it in the mail settings.",
                code="OAUTH_NOT_CONFIGURED",
                provider=name,
            )
    if config.userinfo_url and not _is_secure(config.userinfo_url):
        raise BadRequest(
            f"{config.title} userinfoUrl must be an https:// URL.", code="OAUTH_NOT_CONFIGURED", provider=name
        )
    return config


class TokenRefused(Exception):
    """The token endpoint answered 4xx: the grant (code, verifier, refresh token) or client is bad."""

    def __init__(self, error: str, description: str, status: int):
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description
        self.status = status


async def token_request(config: ProviderConfig, body: str) -> dict[str, Any]:
    """POST a form ``body`` (built by oauthlib) to the token endpoint; answers the parsed token.

    :raises OAuthUnavailable: the endpoint is unreachable, times out or answers 5xx / 429.
    :raises TokenRefused: it refused the request (4xx, or an ``error`` in the answer).
    """
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    try:
        async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
            async with http.post(config.token_url, data=body.encode(), headers=headers) as answer:
                status, text = answer.status, await answer.text()
    except (aiohttp.ClientError, asyncio.TimeoutError) as e:
        raise OAuthUnavailable(
            f"{config.title} could not be reached to sign in ({type(e).__name__}); try again later.",
            provider=config.name,
        ) from None
    if status >= 500 or status == 429:
        raise OAuthUnavailable(
            f"{config.title} answered {status} to a sign-in request; try again later.", provider=config.name
        )
    try:
        # scope=None: providers may widen or reorder scopes (Google does); that is no error
        return dict(parse_token_response(text, scope=None))
    except OAuth2Error as e:
        if status < 400 and e.error == "missing_token":  # a 200 without a token: the provider is broken
            raise OAuthUnavailable(
                f"{config.title} answered a sign-in request without a token.", provider=config.name
            ) from None
        raise TokenRefused(e.error, e.description or "", status) from None
    except ValueError:  # a malformed expires_in
        raise OAuthUnavailable(
            f"{config.title} answered a sign-in request with a malformed token.", provider=config.name
        ) from None


async def get_json(config: ProviderConfig, url: str, access_token: str) -> dict[str, Any]:
    """GET a JSON resource of the provider (userinfo) with the access token."""
    try:
        async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
            async with http.get(
                url, headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
            ) as answer:
                status = answer.status
                data = await answer.json(content_type=None) if status == 200 else None
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:
        raise OAuthUnavailable(
            f"{config.title} could not be reached to read the account ({type(e).__name__}).", provider=config.name
        ) from None
    if status != 200 or not isinstance(data, dict):
        raise OAuthUnavailable(f"{config.title} answered {status} when asked who signed in.", provider=config.name)
    return data
