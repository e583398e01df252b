"""A local OAuth 2.0 authorization server with a touch of OpenID Connect, for the tests.

Built on oauthlib's ``WebApplicationServer`` (authorization code with PKCE S256, refresh tokens,
revocation, RFC 7662 introspection) and served by aiohttp on its own event loop in a background
thread, so that sync tests, async tests and Dovecot (its oauth2 passdb POSTs tokens to
``/introspect``) can all reach it.

- ``GET /authorize``: no sign-in page; consents at once for ``consent_user`` and redirects back
  with ``code`` and ``state`` (with ``deny = True``: ``error=access_denied``).
- ``POST /token``: ``authorization_code`` (``code_verifier`` required) and ``refresh_token``;
  adds an HS256 ``id_token`` (claims ``email``, ``preferred_username``) when ``openid`` is asked.
- ``POST /introspect``: ``{"active": true, "username": <email>, ...}`` for a live access token.
- ``GET /userinfo``: Bearer → ``{"sub", "email", "email_verified"}`` as Google answers.
- ``POST /revoke``: RFC 7009, client authenticated.

Everything lives in memory. Every public method may be called from any thread.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from oauthlib.common import add_params_to_uri, generate_token
from oauthlib.oauth2 import RequestValidator, WebApplicationServer
from oauthlib.oauth2.rfc6749.errors import FatalClientError, OAuth2Error

CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_jwt(claims: dict[str, Any], key: str) -> str:
    """An HS256-signed JWT, as OIDC providers sign ID tokens for a confidential client."""
    head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64url(json.dumps(claims).encode())
    sig = hmac.new(key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64url(sig)}"


@dataclass
class Client:
    client_id: str
    client_secret: str
    # None accepts any absolute redirect URI (the app under test picks its callback port at run time)
    redirect_uris: list[str] | None = None


@dataclass
class Grant:
    """What an authorization code, access token or refresh token stands for."""

    user: str
    client_id: str
    scopes: list[str]
    expires_at: float = float("inf")
    redirect_uri: str | None = None
    challenge: str | None = None
    challenge_method: str | None = None


class Validator(RequestValidator):
    """oauthlib's storage and policy hooks, over the provider's in-memory tables."""

    def __init__(self, provider: "OAuthProvider"):
        self.p = provider

    # ---------------------------------------------------------------- clients

    def _basic_credentials(self, request) -> tuple[str, str] | None:
        auth = (request.headers or {}).get("Authorization", "")
        if not auth.lower().startswith("basic "):
            return None
        try:
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return None
        return client_id, secret

    def client_authentication_required(self, request, *args, **kwargs):
        # Dovecot introspects with no client credentials (introspection_mode = post).
        return urlsplit(request.uri).path != "/introspect"

    def authenticate_client(self, request, *args, **kwargs):
        basic = self._basic_credentials(request)
        client_id, secret = basic or (request.client_id, request.client_secret)
        client = self.p.clients.get(client_id or "")
        if client is None or not hmac.compare_digest(client.client_secret, secret or ""):
            return False
        request.client = client
        request.client_id = client_id
        return True

    def authenticate_client_id(self, client_id, request, *args, **kwargs):
        # Only reached by unauthenticated introspection: a local resource server is trusted.
        return urlsplit(request.uri).path == "/introspect"

    def validate_client_id(self, client_id, request, *args, **kwargs):
        return client_id in self.p.clients

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs):
        allowed = self.p.clients[client_id].redirect_uris
        return allowed is None or redirect_uri in allowed

    def get_default_redirect_uri(self, client_id, request, *args, **kwargs):
        allowed = self.p.clients[client_id].redirect_uris
        return allowed[0] if allowed else None

    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs):
        return response_type == "code"

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        return grant_type in ("authorization_code", "refresh_token")

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        return True

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        return ["openid", "email"]

    # ---------------------------------------------------------------- codes and PKCE

    def is_pkce_required(self, client_id, request):
        return True

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        self.p.codes[code["code"]] = Grant(
            user=request.user,
            client_id=client_id,
            scopes=list(request.scopes),
            expires_at=time.time() + self.p.code_ttl,
            redirect_uri=request.redirect_uri,
            challenge=request.code_challenge,
            challenge_method=request.code_challenge_method,
        )

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        grant = self.p.codes.get(code)
        if grant is None or grant.client_id != client_id or grant.expires_at < time.time():
            return False
        request.user = grant.user
        request.scopes = grant.scopes
        return True

    def get_code_challenge(self, code, request):
        grant = self.p.codes.get(code)
        return grant.challenge if grant else None

    def get_code_challenge_method(self, code, request):
        grant = self.p.codes.get(code)
        return grant.challenge_method if grant else None

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *args, **kwargs):
        grant = self.p.codes.get(code)
        return grant is not None and grant.redirect_uri == redirect_uri

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        self.p.codes.pop(code, None)

    # ---------------------------------------------------------------- tokens

    def save_bearer_token(self, token, request, *args, **kwargs):
        self.p._store_token(token, request.user, request.client_id, list(request.scopes or []))

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        grant = self.p.refresh_tokens.get(refresh_token)
        if grant is None or grant.client_id != client.client_id:
            return False
        request.user = grant.user
        return True

    def get_original_scopes(self, refresh_token, request, *args, **kwargs):
        return self.p.refresh_tokens[refresh_token].scopes

    def rotate_refresh_token(self, request):
        return self.p.rotate_refresh_tokens

    def validate_bearer_token(self, token, scopes, request):
        grant = self.p.access_tokens.get(token or "")
        if grant is None or grant.expires_at < time.time():
            return False
        request.user = grant.user
        request.scopes = grant.scopes
        return True

    def introspect_token(self, token, token_type_hint, request, *args, **kwargs):
        # Access tokens only: a refresh token must never open a mailbox.
        grant = self.p.access_tokens.get(token)
        if grant is None or grant.expires_at < time.time():
            return None
        return {
            "username": grant.user,
            "sub": self.p.sub(grant.user),
            "client_id": grant.client_id,
            "scope": " ".join(grant.scopes),
            "exp": int(grant.expires_at),
            "token_type": "Bearer",
        }

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs):
        self.p.access_tokens.pop(token, None)
        self.p.refresh_tokens.pop(token, None)


class OAuthProvider:
    """The server. ``start()`` before use, ``stop()`` after; ``base_url`` once started."""

    def __init__(self, port: int = 0):
        self.port = port
        self.base_url = ""
        self.consent_user: str | None = "alice@example.test"
        self.deny = False  # /authorize answers error=access_denied
        self.token_ttl = 3600  # access-token lifetime, seconds
        self.code_ttl = 600
        self.rotate_refresh_tokens = False  # Google keeps the refresh token; Microsoft rotates it
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Grant] = {}
        self.access_tokens: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.token_requests: collections.Counter[str] = collections.Counter()  # by grant_type
        self.issued: list[Grant] = []  # every access token issued, with its user and scopes
        self.userinfo_requests = 0
        self._lock = threading.RLock()
        self.server = WebApplicationServer(Validator(self), token_expires_in=lambda _r: self.token_ttl)
        self.server.auth_grant.register_token_modifier(self._add_id_token)
        self.server.refresh_grant.register_token_modifier(self._keep_refresh_token)
        self.add_client(CLIENT_ID, CLIENT_SECRET)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # ---------------------------------------------------------------- test helpers

    def add_client(self, client_id: str, client_secret: str, redirect_uris: list[str] | None = None) -> Client:
        with self._lock:
            self.clients[client_id] = Client(client_id, client_secret, redirect_uris)
            return self.clients[client_id]

    @staticmethod
    def sub(user: str) -> str:
        return hashlib.sha256(user.encode()).hexdigest()[:21]

    def issue_token(
        self, user: str, scopes: str = "openid email", client_id: str = CLIENT_ID, ttl: float | None = None
    ) -> str:
        """A live access token for ``user`` (e.g. for an XOAUTH2 login), without the flow."""
        token = generate_token()
        with self._lock:
            self.access_tokens[token] = Grant(
                user, client_id, scopes.split(), time.time() + (self.token_ttl if ttl is None else ttl)
            )
        return token

    def revoke(self, refresh_token: str | None = None, user: str | None = None) -> None:
        """Revoke one refresh token, or every token of ``user``, as a user does in the provider's UI."""
        with self._lock:
            if refresh_token is not None:
                self.refresh_tokens.pop(refresh_token, None)
            if user is not None:
                for table in (self.access_tokens, self.refresh_tokens):
                    for token in [t for t, g in table.items() if g.user == user]:
                        del table[token]

    def expire_access_tokens(self) -> None:
        """Kill every live access token: the next IMAP/SMTP login is refused, forcing a refresh."""
        with self._lock:
            for grant in self.access_tokens.values():
                grant.expires_at = 0

    # ---------------------------------------------------------------- oauthlib glue

    def _store_token(self, token: dict, user: str, client_id: str, scopes: list[str]) -> None:
        grant = Grant(user, client_id, scopes, time.time() + token["expires_in"])
        self.access_tokens[token["access_token"]] = grant
        self.issued.append(grant)
        refresh = token.get("refresh_token")
        if refresh and refresh not in self.refresh_tokens:
            self.refresh_tokens[refresh] = Grant(user, client_id, scopes)

    def _add_id_token(self, token, token_handler, request):
        if "openid" in (request.scopes or []):
            now = int(time.time())
            claims = {
                "iss": self.base_url,
                "sub": self.sub(request.user),
                "aud": request.client_id,
                "iat": now,
                "exp": now + self.token_ttl,
                "email": request.user,
                "preferred_username": request.user,
            }
            token["id_token"] = hs256_jwt(claims, self.clients[request.client_id].client_secret)
        return token

    def _keep_refresh_token(self, token, token_handler, request):
        if self.rotate_refresh_tokens:
            # the old refresh token dies with its replacement's birth (save_token runs after us)
            self.refresh_tokens.pop(request.refresh_token, None)
        else:
            token.pop("refresh_token", None)  # Google answers no refresh_token on refresh
        return token

    # ---------------------------------------------------------------- HTTP

    @staticmethod
    async def _oauth_request(request: web.Request) -> tuple[str, str, str, dict[str, str]]:
        body = await request.text() if request.can_read_body else ""
        uri = str(request.url)
        return uri, request.method, body, dict(request.headers)

    @staticmethod
    def _answer(headers, body, status) -> web.Response:
        headers = {k: v for k, v in (headers or {}).items() if k.lower() != "content-type"}
        return web.Response(
            body=body or b"", status=status, headers=headers, content_type="application/json" if body else None
        )

    async def _authorize(self, request: web.Request) -> web.Response:
        uri, method, body, headers = await self._oauth_request(request)
        with self._lock:
            try:
                scopes, info = self.server.validate_authorization_request(uri, method, body, headers)
            except FatalClientError as e:  # bad client or redirect URI: never redirect
                return web.Response(status=e.status_code, text=f"{e.error}: {e.description}")
            except OAuth2Error as e:
                raise web.HTTPFound(add_params_to_uri(e.redirect_uri, e.twotuples)) from None
            if self.deny or self.consent_user is None:
                params = [("error", "access_denied"), ("error_description", "The user denied access")]
                if info.get("state"):
                    params.append(("state", info["state"]))
                raise web.HTTPFound(add_params_to_uri(info["redirect_uri"], params))
            headers, body, status = self.server.create_authorization_response(
                uri, method, body, headers, scopes, {"user": self.consent_user}
            )
        if status == 302:
            raise web.HTTPFound(headers["Location"])
        return self._answer(headers, body, status)

    async def _token(self, request: web.Request) -> web.Response:
        uri, method, body, headers = await self._oauth_request(request)
        form = await request.post()
        with self._lock:
            self.token_requests[str(form.get("grant_type", ""))] += 1
            return self._answer(*self.server.create_token_response(uri, method, body, headers))

    async def _introspect(self, request: web.Request) -> web.Response:
        uri, method, body, headers = await self._oauth_request(request)
        with self._lock:
            return self._answer(*self.server.create_introspect_response(uri, method, body, headers))

    async def _revoke(self, request: web.Request) -> web.Response:
        uri, method, body, headers = await self._oauth_request(request)
        with self._lock:
            return self._answer(*self.server.create_revocation_response(uri, method, body, headers))

    async def _userinfo(self, request: web.Request) -> web.Response:
        uri, method, body, headers = await self._oauth_request(request)
        with self._lock:
            self.userinfo_requests += 1
            valid, oauth_request = self.server.verify_request(uri, method, body, headers)
        if not valid:
            return web.json_response(
                {"error": "invalid_token"}, status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        user = oauth_request.user
        return web.json_response({"sub": self.sub(user), "email": user, "email_verified": True})

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/authorize", self._authorize)
        app.router.add_post("/token", self._token)
        app.router.add_post("/introspect", self._introspect)
        app.router.add_post("/revoke", self._revoke)
        app.router.add_get("/userinfo", self._userinfo)
        return app

    # ---------------------------------------------------------------- life cycle

    @property
    def urls(self) -> dict[str, str]:
        """The endpoints, under the names a provider's settings use."""
        return {
            "authorizationUrl": f"{self.base_url}/authorize",
            "tokenUrl": f"{self.base_url}/token",
            "userinfoUrl": f"{self.base_url}/userinfo",
            "introspectionUrl": f"{self.base_url}/introspect",
            "revocationUrl": f"{self.base_url}/revoke",
        }

    def start(self) -> "OAuthProvider":
        sock = socket.socket()
        # a port another test server used moments ago may still have connections in TIME_WAIT
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        ready = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            self._runner = web.AppRunner(self._app(), access_log=None)
            await self._runner.setup()
            await web.SockSite(self._runner, sock).start()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(serve())
            except BaseException as e:  # noqa: BLE001 - handed to the starting thread
                failure.append(e)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="oauth-provider", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = self._thread = None
