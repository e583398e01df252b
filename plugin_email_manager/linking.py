"""Linking Google and Microsoft accounts: ``mailAccounts:link`` and the OAuth callback page.

The callback is public: it completes from its single-use state alone (bound server-side to the
user who asked for the link). It stores the account, starts its first sync, and answers a page
that follows the sync and closes itself, telling the window that opened it.
"""
from __future__ import annotations

import html

from host.api import ActionContext, Raw
from host.errors import BadRequest, HostError, NotFound
from plugin_email_manager import runtime
from plugin_email_manager.oauth.flow import complete_link, start_link
from plugin_email_manager.oauth.providers import load_provider

CALLBACK = "/api/mailAccounts:oauthCallback"


async def link(ctx: ActionContext) -> dict:
    provider = ctx.params.get("provider")
    if provider not in ("google", "microsoft"):
        raise BadRequest("provider must be 'google' or 'microsoft'.", code="INVALID_VALUE", field="provider")
    relink = ctx.params.get("accountId")
    if relink is not None:
        (account_id,) = await ctx.in_scope(_int(relink), name="accountId", collection="mailAccounts")
        if await ctx.db.fetchval("SELECT provider FROM mail_accounts WHERE id = $1", account_id) != provider:
            raise NotFound("No such mail account.")  # the same answer: re-linking keeps the provider
    url = await start_link(ctx.host, ctx.user.id, provider, ctx.host.base_url + CALLBACK,
                           account_id=_int(relink) if relink is not None else None)
    return {"data": {"authorizationUrl": url}}


def _int(value) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = None
    if n is None or not -2 ** 63 <= n < 2 ** 63:  # ids are bigints: a larger number would reach SQL
        raise BadRequest("accountId must be an id.", code="INVALID_VALUE", field="accountId")
    return n


async def callback(ctx: ActionContext) -> Raw:
    try:
        result = await complete_link(ctx.host, ctx.params.get("state"), ctx.params.get("code"),
                                     ctx.params.get("error"))
    except HostError as e:
        return page("Linking failed", f"<p class=err>{html.escape(e.message)}</p>", status=e.status)
    config = await load_provider(ctx.host, result.provider)
    secret = ctx.host.secrets.encrypt(result.tokens)
    account_id = await ctx.db.fetchval(
        "SELECT id FROM mail_accounts WHERE user_id = $1 AND provider = $2 AND (id = $3 OR lower(email) = lower($4)) "
        "ORDER BY (id = $3) DESC LIMIT 1", result.user_id, result.provider, result.account_id or 0, result.email)
    if account_id is None:
        account_id = await ctx.db.fetchval(
            "INSERT INTO mail_accounts (user_id, provider, email, display_name, username, imap_host, imap_port, "
            "imap_security, smtp_host, smtp_port, smtp_security, secret, status, append_sent, progress) "
            "VALUES ($1, $2, $3, $4, $3, $5, $6, $7, $8, $9, $10, $11, 'syncing', false, '{}'::jsonb) RETURNING id",
            result.user_id, result.provider, result.email, result.display_name, config.imap_host, config.imap_port,
            config.imap_security, config.smtp_host, config.smtp_port, config.smtp_security, secret)
    else:  # a re-link: new tokens for the same mailbox
        await ctx.db.execute("UPDATE mail_accounts SET secret = $2, status = 'syncing', error = NULL WHERE id = $1",
                             account_id, secret)
    await runtime.of(ctx.host).supervisor.sync(account_id, wait=False)
    return page(f"Linking {html.escape(result.email)}", PROGRESS, account_id=account_id)


# Its script and style are files of the plugin's static folder: the page's Content-Security-Policy
# (host.security_headers, as for every page) allows no inline <script> nor <style>.
STATIC = "/static/plugins/email_manager"
PROGRESS = """<p id=status>Account linked. The first sync is running…</p>
<progress id=bar></progress>"""


def page(title: str, body: str, status: int = 200, account_id: int | None = None) -> Raw:
    script = f'<script type=module src="{STATIC}/oauth-callback.js"></script>' if account_id is not None else ""
    main = f'<main data-account-id="{account_id}">' if account_id is not None else "<main>"
    doc = f"""<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>
<meta name=viewport content="width=device-width,initial-scale=1">
<link rel=stylesheet href="{STATIC}/oauth-callback.css">{script}</head>
<body>{main}<h1>{title}</h1>{body}</main></body></html>"""
    return Raw(doc.encode(), "text/html; charset=utf-8", status=status, headers={"Cache-Control": "no-store"})
