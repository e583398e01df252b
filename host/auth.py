"""Users and sign-in: bearer tokens (stored as SHA-256), the session cookie, the root user.

A request is authenticated by ``Authorization: Bearer <token>``; a GET may use the session
cookie instead, for actions that only read (downloads and the badge stream, where a browser
can't add a header). Anything else with only the cookie is refused (``TOKEN_REQUIRED``): the
cookie travels with every request the browser makes, so it alone must never change state.
Sign-in and sign-out are ordinary actions; a transport only turns their result into a cookie.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from host import signin_limit
from host.api import Action, ActionContext, User
from host.config import data_dir
from host.errors import BadRequest, NotFound, Unauthorized
from host.hookspecs import hookimpl
from host.passwords import hash_password, verify_password

log = logging.getLogger(__name__)

COOKIE = "ec_session"
# A short per-process cache of token -> user: most calls come in bursts, and the lookup is on
# every request. Revocation (sign-out) clears the entry in this process; other processes see it
# within CACHE_SECONDS.
CACHE_SECONDS = 10.0


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who made a request, and how: by the ``Authorization`` header or by the cookie alone."""

    user: User
    token: str
    by_cookie: bool


class Authenticator:
    def __init__(self, db, token_ttl: int):
        self.db = db
        self.token_ttl = token_ttl
        self._cache: dict[str, tuple[float, User]] = {}

    async def issue(self, user_id: int) -> str:
        token = secrets.token_urlsafe(32)
        await self.db.execute(
            "INSERT INTO auth_tokens (token_hash, user_id, expires_at) "
            "VALUES ($1, $2, now() + make_interval(secs => $3))",
            _digest(token),
            user_id,
            float(self.token_ttl),
        )
        return token

    async def revoke(self, token: str) -> None:
        self._cache.pop(_digest(token), None)
        await self.db.execute("DELETE FROM auth_tokens WHERE token_hash = $1", _digest(token))

    async def user_for(self, token: str | None) -> User | None:
        if not token:
            return None
        key = _digest(token)
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit and hit[0] > now:
            return hit[1]
        row = await self.db.fetchrow(
            "SELECT u.id, u.email, u.role, coalesce(u.nickname, '') AS nickname FROM auth_tokens t "
            "JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND t.expires_at > now()",
            key,
        )
        if row is None:
            self._cache.pop(key, None)
            return None
        user = User(id=row["id"], email=row["email"], role=row["role"], nickname=row["nickname"])
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (now + CACHE_SECONDS, user)
        return user

    async def from_request(self, request: web.Request) -> Caller | None:
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise Unauthorized("The Authorization header must be 'Bearer <token>'.", code="INVALID_TOKEN")
            user = await self.user_for(token)
            if user is None:
                raise Unauthorized("The token is invalid or expired: sign in again.", code="INVALID_TOKEN")
            return Caller(user, token, by_cookie=False)
        cookie = request.cookies.get(COOKIE)
        if cookie and request.method in ("GET", "HEAD"):
            user = await self.user_for(cookie)
            return Caller(user, cookie, by_cookie=True) if user else None
        return None


async def ensure_root(db, email: str, password: str | None) -> str | None:
    """Create the root user on first start. Answers the generated password when one was made."""
    if await db.fetchval("SELECT 1 FROM users WHERE role = 'root' LIMIT 1"):
        return None
    generated = None
    if not password:
        password = generated = secrets.token_urlsafe(12)
    await db.execute(
        "INSERT INTO users (email, nickname, role, password_hash) VALUES ($1, 'root', 'root', $2) "
        "ON CONFLICT (email) DO UPDATE SET role = 'root', password_hash = EXCLUDED.password_hash",
        email.strip().lower(),
        await hash_password(password),
    )
    return generated


def public_user(row: Any) -> dict:
    return {"id": row["id"], "email": row["email"], "nickname": row["nickname"] or "", "role": row["role"]}


# ---------------------------------------------------------------- actions


def _text(params: dict, name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"'{name}' is required.", code="MISSING_PARAMETER", field=name)
    return value


MAX_EMAIL = 320  # RFC 5321's longest address; longer is not an address, and not worth a row


async def sign_in(ctx: ActionContext) -> dict:
    email = _text(ctx.params, "email").strip().lower()
    password = _text(ctx.params, "password")
    if len(email) > MAX_EMAIL:
        raise BadRequest("The email address is too long.", code="INVALID_EMAIL", field="email")
    client = ctx.client or ""
    await signin_limit.check(ctx.db, email, client)
    row = await ctx.db.fetchrow("SELECT id, email, nickname, role, password_hash FROM users WHERE email = $1", email)
    # verified even for an unknown email (against a dummy hash), so timing does not tell which exist
    verdict = await verify_password(password, row["password_hash"] if row else None)
    if not row or not verdict.ok:
        await signin_limit.failed(ctx.db, email, client)
        raise Unauthorized("Wrong email or password.", code="INVALID_CREDENTIALS")
    await signin_limit.succeeded(ctx.db, email)
    if verdict.upgrade:
        await ctx.db.execute(
            "UPDATE users SET password_hash = $2 WHERE id = $1", row["id"], await hash_password(password)
        )
    token = await ctx.host.auth.issue(row["id"])
    return {"data": {"token": token, "user": public_user(row)}}


async def sign_out(ctx: ActionContext) -> dict:
    """Revoke the token this call came with, whichever transport brought it."""
    if ctx.token:
        await ctx.host.auth.revoke(ctx.token)
    return {"data": True}


async def check(ctx: ActionContext) -> dict:
    row = await ctx.db.fetchrow("SELECT id, email, nickname, role FROM users WHERE id = $1", ctx.user.id)
    return {"data": public_user(row)}


MIN_PASSWORD = 8


async def add_user(db, email: str, password: str, *, nickname: str | None = None, role: str = "member"):
    """Store a new user (``users:create`` and ``email-center create-user``).

    :return: the row (id, email, nickname, role, created_at).
    :raises BadRequest: a password under ``MIN_PASSWORD`` characters, an email that is not one,
        or an email that has a user already.
    """
    email = email.strip().lower()
    if len(password) < MIN_PASSWORD:
        raise BadRequest("The password must have at least 8 characters.", code="WEAK_PASSWORD", field="password")
    if "@" not in email or any(c.isspace() for c in email) or len(email) > MAX_EMAIL:
        raise BadRequest("The email address is not valid.", code="INVALID_EMAIL", field="email")
    if role not in ("member", "root"):
        raise BadRequest("role must be 'member' or 'root'.", code="INVALID_VALUE", field="role")
    row = await db.fetchrow(
        "INSERT INTO users (email, nickname, role, password_hash) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (email) DO NOTHING RETURNING id, email, nickname, role, created_at",
        email,
        str(nickname or email.split("@")[0]),
        role,
        await hash_password(password),
    )
    if row is None:
        raise BadRequest("A user with this email exists already.", code="DUPLICATE", field="email")
    return row


async def reset_password(db, email: str, password: str) -> int:
    """Give a user a new password, revoke all of its tokens and forget its failed sign-ins
    (``email-center reset-password``). A running server may still accept a revoked token for
    up to ``CACHE_SECONDS``.

    :param db: a connection: the three changes are one transaction.
    :return: the user's id.
    :raises BadRequest: a weak password; ``NotFound``: no user has this email.
    """
    if len(password) < MIN_PASSWORD:
        raise BadRequest("The password must have at least 8 characters.", code="WEAK_PASSWORD", field="password")
    email = email.strip().lower()
    hashed = await hash_password(password)
    async with db.transaction():
        user_id = await db.fetchval("UPDATE users SET password_hash = $2 WHERE email = $1 RETURNING id", email, hashed)
        if user_id is None:
            raise NotFound(f"No user has the email {email}.")
        await db.execute("DELETE FROM auth_tokens WHERE user_id = $1", user_id)
        await signin_limit.succeeded(db, email)
    return user_id


async def create_user(ctx: ActionContext) -> dict:
    values = dict(ctx.values)
    email = _text(values, "email")
    password = _text(values, "password")
    unknown = set(values) - {"email", "password", "nickname", "role"}
    if unknown:
        raise BadRequest(f"Unknown field {sorted(unknown)[0]!r}.", code="UNKNOWN_FIELD", field=sorted(unknown)[0])
    row = await add_user(ctx.db, email, password, nickname=values.get("nickname"), role=values.get("role", "member"))
    return {"data": {**public_user(row), "createdAt": row["created_at"].isoformat()}}


ACTIONS = [
    Action("auth", "signIn", sign_in, public=True, session="start", summary="Sign in with email and password"),
    Action("auth", "signOut", sign_out, session="end", summary="Sign out (revokes the token)"),
    Action("auth", "check", check, reads=True, summary="The signed-in user"),
    Action("users", "create", create_user, summary="Create a user (root only)"),
]


# ---------------------------------------------------------------- a default plugin (host.plugins)


@hookimpl(tryfirst=True)
def register_collections():
    folder = data_dir() / "collections"
    return [folder / f"{name}.toml" for name in ("users", "authTokens", "authAttempts")]


@hookimpl(tryfirst=True)
def register_actions():
    return ACTIONS
