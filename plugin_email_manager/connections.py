"""Connections to an account's servers, from its stored (encrypted) credentials.

One place decides password or XOAUTH2; the sync engine, the read-state writer and the sender all
come here. Factories are module attributes so a test can swap them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from host.errors import NotFound
from plugin_email_manager.errors import MailAuthFailed
from plugin_email_manager.mailsync import imap
from plugin_email_manager.oauth.tokens import TokenProvider

if TYPE_CHECKING:
    from asyncpg import Connection, Pool

    from host.api import Host

ACCOUNT_COLUMNS = (
    "id, user_id, provider, email, display_name, username, imap_host, imap_port, imap_security, "
    "smtp_host, smtp_port, smtp_security, secret, status, sync_since, append_sent"
)


@dataclass
class Account:
    id: int
    user_id: int
    provider: str
    email: str
    display_name: str
    username: str
    imap_host: str
    imap_port: int
    imap_security: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    secret: str | None
    status: str
    sync_since: Any
    append_sent: bool

    @property
    def oauth(self) -> bool:
        return self.provider in ("google", "microsoft")

    @property
    def login(self) -> str:
        return self.username or self.email


async def load_account(db: Pool | Connection, account_id: int) -> Account:
    row = await db.fetchrow(f"SELECT {ACCOUNT_COLUMNS} FROM mail_accounts WHERE id = $1", account_id)
    if row is None:
        raise NotFound("This mail account does not exist.")
    values = dict(row)
    values["display_name"] = values["display_name"] or ""
    values["username"] = values["username"] or ""
    return Account(**values)


def password_of(host: Host, account: Account) -> str:
    return (host.secrets.decrypt(account.secret) or {}).get("password", "")


async def open_imap(host: Host, account: Account, *, timeout: float = 30) -> "imap.ImapSession":
    """A logged-in IMAP session. An OAuth token the server refuses is refreshed once and retried."""
    session = await imap.connect(account.imap_host, account.imap_port, account.imap_security, timeout=timeout)
    try:
        if not account.oauth:
            await session.login(account.login, password_of(host, account))
            return session
        tokens = TokenProvider(host, account.id)
        token = await tokens()
        try:
            await session.authenticate_xoauth2(account.login, token)
            return session
        except MailAuthFailed:
            await session.close()
        session = await imap.connect(account.imap_host, account.imap_port, account.imap_security, timeout=timeout)
        await session.authenticate_xoauth2(account.login, await tokens(refresh=True, rejected=token))
        return session
    except BaseException:
        await session.close()
        raise


def smtp_credentials(host: Host, account: Account) -> dict:
    """Keyword arguments for ``sendmail.smtp.deliver`` / ``check_login``."""
    creds: dict[str, Any] = {
        "host": account.smtp_host,
        "port": account.smtp_port,
        "security": account.smtp_security,
        "username": account.login,
    }
    if account.oauth:
        creds["token_provider"] = TokenProvider(host, account.id)
    else:
        creds["password"] = password_of(host, account)
    return creds
