"""``mailAccounts``: add an IMAP/SMTP account, link Google or Microsoft (and the OAuth callback),
change, Refresh, delete.

Secrets are encrypted before they are stored and never answered: the generic ``list``/``get``
leave out the hidden ``secret`` field. The callback is public: it completes from its single-use
state alone (bound server-side to the user who asked for the link), stores the account, starts
its first sync and answers a page that follows it (``oauth/callback_page.py``).
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from typing import Any, Literal, overload

from host.api import Action, ActionContext, Raw, answer_row
from host.errors import BadRequest, HostError, NotFound
from plugin_email_manager import account_store, message_store, process_state
from plugin_email_manager.errors import MailAuthFailed
from plugin_email_manager.mailsync import imap, store
from plugin_email_manager.oauth.callback_page import PROGRESS, page
from plugin_email_manager.oauth.flow import complete_link, start_link
from plugin_email_manager.oauth.providers import load_provider
from plugin_email_manager.sendmail import smtp

SECURITY = ("tls", "starttls", "none")
IMAP_FIELDS = {
    "provider",
    "email",
    "username",
    "password",
    "displayName",
    "imapHost",
    "imapPort",
    "imapSecurity",
    "smtpHost",
    "smtpPort",
    "smtpSecurity",
    "syncSince",
    "appendSent",
}


@overload
def _text(values: dict, name: str, required: Literal[True] = True) -> str: ...
@overload
def _text(values: dict, name: str, required: bool) -> str | None: ...
def _text(values: dict, name: str, required: bool = True) -> str | None:
    value = values.get(name)
    if value is None or value == "":
        if required:
            raise BadRequest(f"'{name}' is required.", code="MISSING_PARAMETER", field=name)
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be a string.", code="INVALID_VALUE", field=name)
    if any(c in value for c in "\r\n\x00"):
        raise BadRequest(f"'{name}' must be one line.", code="INVALID_VALUE", field=name)
    return value.strip()


def _port(values: dict, name: str) -> int:
    value: Any = values.get(name)  # any JSON value: int() refuses the wrong ones, None included
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"'{name}' must be a port number.", code="INVALID_VALUE", field=name) from None
    if not 0 < port < 65536 or isinstance(value, bool):
        raise BadRequest(f"'{name}' must be a port number.", code="INVALID_VALUE", field=name)
    return port


def _host(values: dict, name: str) -> str:
    """A server's name: ``_text``, and encodable as the resolver will encode it (IDNA), so that a
    name no DNS can hold is a 400 here rather than a UnicodeError out of the connection."""
    value = _text(values, name)
    try:
        value.encode("idna")
    except UnicodeError:
        raise BadRequest(f"'{name}' is not a host name.", code="INVALID_VALUE", field=name) from None
    return value


def _security(values: dict, name: str) -> str:
    value = values.get(name, "tls")
    if value not in SECURITY:
        raise BadRequest(f"'{name}' must be one of tls, starttls, none.", code="INVALID_VALUE", field=name)
    return value


def _since(values: dict) -> datetime | None:
    raw = values.get("syncSince")
    if raw in (None, ""):
        return None
    try:
        when = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest("'syncSince' must be an ISO 8601 date.", code="INVALID_VALUE", field="syncSince") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _append_sent(values: dict) -> bool:
    value = values.get("appendSent", True)
    if not isinstance(value, bool):
        raise BadRequest("'appendSent' must be true or false.", code="INVALID_VALUE", field="appendSent")
    return value


def _access(values: dict) -> tuple[str, dict[str, Any]]:
    """The password and the server columns (``imap_host``, ... ``smtp_security``) of ``values``."""
    password = values.get("password")
    if not isinstance(password, str) or not password:
        raise BadRequest("'password' is required.", code="MISSING_PARAMETER", field="password")
    return password, {
        "imap_host": _host(values, "imapHost"),
        "imap_port": _port(values, "imapPort"),
        "imap_security": _security(values, "imapSecurity"),
        "smtp_host": _host(values, "smtpHost"),
        "smtp_port": _port(values, "smtpPort"),
        "smtp_security": _security(values, "smtpSecurity"),
    }


async def _check_logins(servers: dict[str, Any], username: str, password: str) -> None:
    """Both logins, before anything is stored (an account that cannot sync or send is refused)."""
    try:
        await check_imap_login(servers["imap_host"], servers["imap_port"], servers["imap_security"], username, password)
    except MailAuthFailed as e:
        raise MailAuthFailed(
            f"The IMAP server {servers['imap_host']} refused the login: {e.message}", server="imap"
        ) from None
    await smtp.check_login(servers["smtp_host"], servers["smtp_port"], servers["smtp_security"], username, password)


async def check_imap_login(host_: str, port: int, security: str, username: str, password: str) -> None:
    session = await imap.connect(host_, port, security, timeout=20)
    try:
        await session.login(username, password)
    finally:
        await session.logout()


async def _row(ctx: ActionContext, account_id: int) -> dict:
    return answer_row(ctx.collection, await account_store.record(ctx.db, account_id))


async def create(ctx: ActionContext) -> dict:
    v = ctx.values
    unknown = set(v) - IMAP_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        raise BadRequest(f"Unknown field {name!r}.", code="UNKNOWN_FIELD", field=name)
    provider = v.get("provider", "imap")
    if provider in ("google", "microsoft"):
        raise BadRequest("Google and Microsoft accounts are linked with mailAccounts:link.", code="USE_LINK")
    if provider != "imap":
        raise BadRequest("provider must be 'imap' here.", code="INVALID_VALUE", field="provider")
    email = _text(v, "email")
    if "@" not in email:
        raise BadRequest("'email' is not an email address.", code="INVALID_VALUE", field="email")
    username = _text(v, "username", required=False) or email
    password, servers = _access(v)
    since = _since(v)
    append_sent = _append_sent(v)
    await _check_logins(servers, username, password)

    assert ctx.user is not None  # not a public action: the host refuses a call without a user
    account_id = await account_store.insert_imap(
        ctx.db,
        ctx.user.id,
        email=email,
        display_name=_text(v, "displayName", required=False),
        username=username,
        servers=servers,
        secret=ctx.host.secrets.encrypt({"password": password}),
        sync_since=since,
        append_sent=append_sent,
    )
    await process_state.of(ctx.host).supervisor.claim(account_id)
    return {"data": await _row(ctx, account_id)}


async def sync(ctx: ActionContext) -> dict:
    (account_id, *_rest) = await ctx.in_scope()
    wait = str(ctx.params.get("wait", "false")).lower() in ("true", "1")
    result = await process_state.of(ctx.host).supervisor.sync(account_id, wait=wait)
    if isinstance(result, dict) and "error" in result:  # answered by the process that holds the account
        raise HostError(result["error"], code=result.get("code", "SYNC_FAILED"), status=result.get("status", 502))
    counts = result.get("counts", result) if isinstance(result, dict) else None
    return {"data": {"account": await _row(ctx, account_id), "counts": counts}}


async def resync(ctx: ActionContext) -> dict:
    """Sync the account again from scratch: its synced messages go, every folder's state is reset,
    and every message is fetched again; labels, to-do marks and notes go back on their messages
    (the same folder and Message-ID). Answers as ``sync`` with ``wait``."""
    (account_id, *_rest) = await ctx.in_scope()
    async with ctx.db.acquire() as conn, conn.transaction():
        marks = await message_store.marks_of(conn, account_id)
        await store.reset_account(conn, account_id)
    assert ctx.user is not None  # not a public action: the host refuses a call without a user
    await ctx.host.badges_changed(ctx.user.id)
    try:
        result = await process_state.of(ctx.host).supervisor.sync(account_id, wait=True)
    finally:
        await message_store.restore_marks(ctx.db, account_id, marks)
    if isinstance(result, dict) and "error" in result:  # answered by the process that holds the account
        raise HostError(result["error"], code=result.get("code", "SYNC_FAILED"), status=result.get("status", 502))
    counts = result.get("counts", result) if isinstance(result, dict) else None
    return {"data": {"account": await _row(ctx, account_id), "counts": counts}}


async def destroy(ctx: ActionContext) -> dict:
    ids = await ctx.in_scope()
    supervisor = process_state.of(ctx.host).supervisor
    for account_id in ids:
        supervisor.stop_worker(account_id)
    deleted = await account_store.delete(ctx.db, ids)
    for account_id in ids:
        await ctx.host.notify("mail_account_deleted", {"accountId": account_id})
    assert ctx.user is not None  # not a public action: the host refuses a call without a user
    await ctx.host.badges_changed(ctx.user.id)
    return {"data": deleted}


UPDATABLE = IMAP_FIELDS - {"provider", "email"}
CREDENTIALS = {"username", "password", "imapHost", "imapPort", "imapSecurity", "smtpHost", "smtpPort", "smtpSecurity"}


async def update(ctx: ActionContext) -> dict:
    """Change an account: its name and options, or (IMAP accounts) a new password or server, which
    is checked against both servers before it is stored — how an account in error is repaired."""
    (account_id,) = await ctx.in_scope()
    v = ctx.values
    unknown = set(v) - UPDATABLE
    if unknown or not v:
        name = sorted(unknown)[0] if unknown else "displayName"
        raise BadRequest(f"{name!r} cannot be changed here.", code="READ_ONLY", field=name)
    row = await account_store.record(ctx.db, account_id)
    assert row is not None  # in_scope found it
    sets: dict[str, Any] = {}
    if "displayName" in v:
        sets["display_name"] = _text(v, "displayName", required=False)
    if "syncSince" in v:
        sets["sync_since"] = _since(v)
    if "appendSent" in v:
        sets["append_sent"] = _append_sent(v)
    if CREDENTIALS & set(v):
        if row["provider"] != "imap":
            raise BadRequest(
                "Sign in again with the provider (re-link) to change this account's access.", code="USE_LINK"
            )
        merged = {
            "username": row["username"],
            "imapHost": row["imap_host"],
            "imapPort": row["imap_port"],
            "imapSecurity": row["imap_security"],
            "smtpHost": row["smtp_host"],
            "smtpPort": row["smtp_port"],
            "smtpSecurity": row["smtp_security"],
            "password": (ctx.host.secrets.decrypt(row["secret"]) or {}).get("password"),
            **v,
        }
        username = _text(merged, "username")
        password, servers = _access(merged)
        await _check_logins(servers, username, password)
        sets.update(
            servers,
            username=username,
            secret=ctx.host.secrets.encrypt({"password": password}),
            status="syncing",
            error=None,
            error_code=None,
        )
    await account_store.update(ctx.db, account_id, sets)
    if "secret" in sets:
        await process_state.of(ctx.host).supervisor.sync(account_id, wait=False)
    return {"data": await _row(ctx, account_id)}


CALLBACK = "/api/mailAccounts:oauthCallback"


async def link(ctx: ActionContext) -> dict:
    provider = ctx.params.get("provider")
    if provider not in ("google", "microsoft"):
        raise BadRequest("provider must be 'google' or 'microsoft'.", code="INVALID_VALUE", field="provider")
    relink = ctx.params.get("accountId")
    if relink is not None:
        (account_id,) = await ctx.in_scope(_int(relink), name="accountId", collection="mailAccounts")
        if await account_store.provider_of(ctx.db, account_id) != provider:
            raise NotFound("No such mail account.")  # the same answer: re-linking keeps the provider
    assert ctx.user is not None  # not a public action: the host refuses a call without a user
    url = await start_link(
        ctx.host,
        ctx.user.id,
        provider,
        ctx.host.base_url + CALLBACK,
        account_id=_int(relink) if relink is not None else None,
        sync_since=_since(ctx.params),  # for the account the callback creates (a re-link keeps its own)
    )
    return {"data": {"authorizationUrl": url}}


def _int(value: Any) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = None
    if n is None or not -(2**63) <= n < 2**63:  # ids are bigints: a larger number would reach SQL
        raise BadRequest("accountId must be an id.", code="INVALID_VALUE", field="accountId")
    return n


async def callback(ctx: ActionContext) -> Raw:
    try:
        result = await complete_link(ctx.host, ctx.params.get("state"), ctx.params.get("code"), ctx.params.get("error"))
    except HostError as e:
        return page("Linking failed", f"<p class=err>{html.escape(e.message)}</p>", status=e.status)
    config = await load_provider(ctx.host, result.provider)
    secret = ctx.host.secrets.encrypt(result.tokens)
    account_id = await account_store.linked_account(
        ctx.db, result.user_id, result.provider, result.account_id, result.email
    )
    if account_id is None:
        servers = {
            "imap_host": config.imap_host,
            "imap_port": config.imap_port,
            "imap_security": config.imap_security,
            "smtp_host": config.smtp_host,
            "smtp_port": config.smtp_port,
            "smtp_security": config.smtp_security,
        }
        account_id = await account_store.insert_linked(
            ctx.db,
            result.user_id,
            result.provider,
            email=result.email,
            display_name=result.display_name,
            servers=servers,
            secret=secret,
            sync_since=result.sync_since,
        )
    else:  # a re-link: new tokens for the same mailbox
        await account_store.relink(ctx.db, account_id, secret)
    await process_state.of(ctx.host).supervisor.sync(account_id, wait=False)
    return page(f"Linking {html.escape(result.email)}", PROGRESS, account_id=account_id)


ACTIONS = [
    Action("mailAccounts", "create", create, summary="Add an IMAP/SMTP account (logins checked first)"),
    Action("mailAccounts", "link", link, summary="Start linking a Google or Microsoft account"),
    Action(
        "mailAccounts", "oauthCallback", callback, public=True, summary="Where the OAuth provider sends the person back"
    ),
    Action("mailAccounts", "update", update, summary="Rename, or give a new password or server"),
    Action("mailAccounts", "sync", sync, summary="Sync now (Refresh); wait: true answers when done"),
    Action("mailAccounts", "resync", resync, summary="Sync again from scratch, keeping labels, to-dos and notes"),
    Action("mailAccounts", "destroy", destroy, summary="Remove an account and all of its mail here"),
]
