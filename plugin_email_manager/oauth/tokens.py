"""Access tokens of one linked account, refreshed before they expire.

``TokenProvider(host, account_id)`` is an async callable answering a usable access token, fit
for aiosmtplib's ``oauth_token_generator`` and for IMAP's XOAUTH2. The tokens live encrypted in
``mail_accounts.secret`` as ``{"accessToken", "refreshToken", "expiresAt", "scope"}``.

One refresh at a time per account: an ``asyncio.Lock`` shared by every provider of that account
in this process, and ``SELECT ... FOR UPDATE`` on the account's row across processes. A caller
that waited re-reads the row, and takes the token another caller refreshed meanwhile instead of
spending the refresh token again (Microsoft rotates refresh tokens: a second refresh with the
old one could fail). Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import TYPE_CHECKING, Any

from oauthlib.oauth2 import WebApplicationClient

from host.errors import NotFound
from plugin_email_manager.errors import TokenRefreshFailed
from plugin_email_manager.oauth.providers import TokenRefused, load_provider, token_request

if TYPE_CHECKING:
    from asyncpg import Connection, Pool

    from host.api import Host

log = logging.getLogger(__name__)

ACCOUNTS_TABLE = "mail_accounts"
REFRESH_MARGIN = 60  # seconds: a token this close to expiry could die mid-login

_locks: "weakref.WeakValueDictionary[int, asyncio.Lock]" = weakref.WeakValueDictionary()


def _fresh(tokens: dict[str, Any]) -> bool:
    return bool(tokens.get("accessToken")) and float(tokens.get("expiresAt") or 0) - time.time() > REFRESH_MARGIN


def refused_message(title: str, error: str) -> str:
    if error == "invalid_grant":
        return f"{title} sign-in expired or was revoked: sign in again to re-link this account."
    return (
        f"{title} refused to renew the sign-in ({error}): the administrator should check the OAuth "
        f"client settings; then sign in again to re-link this account."
    )


class TokenProvider:
    def __init__(self, host: Host, account_id: int) -> None:
        self.host = host
        self.account_id = account_id
        lock = _locks.get(account_id)
        if lock is None:
            lock = _locks[account_id] = asyncio.Lock()
        self._lock = lock  # held here so that the weak entry lives as long as a provider does

    async def _read(self, conn: Pool | Connection, for_update: bool = False) -> tuple[str, dict[str, Any]]:
        row = await conn.fetchrow(
            f"SELECT provider, secret FROM {ACCOUNTS_TABLE} WHERE id = $1" + (" FOR UPDATE" if for_update else ""),
            self.account_id,
        )
        if row is None:
            raise NotFound("This mail account does not exist.")
        return row["provider"], self.host.secrets.decrypt(row["secret"]) or {}

    async def __call__(self, refresh: bool = False, rejected: str | None = None) -> str:
        """A usable access token; ``refresh=True`` when a server refused the last one
        (``rejected``: that token, so that a token someone else refreshed meanwhile is reused).

        :raises TokenRefreshFailed: the provider refused the refresh token (the account is
            marked ``status='error'`` with a message telling the person to sign in again).
        :raises OAuthUnavailable: the provider could not be reached (the account is unchanged).
        """
        _, seen = await self._read(self.host.db)
        if _fresh(seen) and (not refresh or (rejected is not None and seen["accessToken"] != rejected)):
            return seen["accessToken"]
        async with self._lock:
            async with self.host.db.acquire() as conn:
                async with conn.transaction():
                    provider, tokens = await self._read(conn, for_update=True)
                    if _fresh(tokens) and (not refresh or tokens.get("accessToken") != seen.get("accessToken")):
                        return tokens["accessToken"]  # someone refreshed while we waited
                    failure = await self._refresh(conn, provider, tokens)
                    if failure is None:
                        return tokens["accessToken"]
        raise failure  # raised after the commit, so that the account's error status is kept

    async def _refresh(self, conn: Connection, provider: str, tokens: dict[str, Any]) -> TokenRefreshFailed | None:
        """Refresh ``tokens`` in place and store them; on a refusal mark the account and answer why."""
        config = await load_provider(self.host, provider)
        if not tokens.get("refreshToken"):
            return await self._mark_error(conn, refused_message(config.title, "invalid_grant"))
        client = WebApplicationClient(config.client_id)
        body = client.prepare_refresh_body(
            refresh_token=tokens["refreshToken"], client_id=config.client_id, client_secret=config.client_secret
        )
        try:
            answer = await token_request(config, body)
        except TokenRefused as e:
            log.warning("account %s: %s refused the token refresh (%s)", self.account_id, config.title, e.error)
            return await self._mark_error(conn, refused_message(config.title, e.error))
        tokens.update(
            {
                "accessToken": answer["access_token"],
                # Google answers no refresh token on refresh: the old one stays good
                "refreshToken": answer.get("refresh_token") or tokens["refreshToken"],
                "expiresAt": int(answer.get("expires_at") or time.time() + 3600),
                "scope": " ".join(answer["scope"]) if answer.get("scope") else tokens.get("scope", ""),
            }
        )
        await conn.execute(
            f"UPDATE {ACCOUNTS_TABLE} SET secret = $2 WHERE id = $1", self.account_id, self.host.secrets.encrypt(tokens)
        )
        log.info("account %s: access token refreshed", self.account_id)
        return None

    async def _mark_error(self, conn: Connection, message: str) -> TokenRefreshFailed:
        await conn.execute(
            f"UPDATE {ACCOUNTS_TABLE} SET status = 'error', error = $2, error_code = $3 WHERE id = $1",
            self.account_id,
            message,
            TokenRefreshFailed.code,
        )
        return TokenRefreshFailed(message, accountId=self.account_id)
