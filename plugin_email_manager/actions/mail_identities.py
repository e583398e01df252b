"""``mailIdentities``: the send-as addresses of the caller's accounts. The generic actions do the
rest; create and update check the account (another user's: 404) and the addresses (400)."""

from __future__ import annotations

from host.api import Action, ActionContext
from plugin_email_manager.identities import one_address


async def _check(ctx: ActionContext, creating: bool) -> None:
    values = dict(ctx.values)
    if creating or "accountId" in values:
        # the scope goes through the account (account.userId): only one of the caller's own
        await ctx.in_scope(values.get("accountId"), name="accountId", collection="mailAccounts")
    if creating or "email" in values:
        values["email"] = one_address(values.get("email"), "email")
    if values.get("replyTo") not in (None, ""):
        values["replyTo"] = one_address(values["replyTo"], "replyTo")
    elif "replyTo" in values:
        values["replyTo"] = None
    ctx.values = values


async def create(ctx: ActionContext) -> dict:
    await _check(ctx, True)
    return await ctx.run_generic("create")


async def update(ctx: ActionContext) -> dict:
    await _check(ctx, False)
    return await ctx.run_generic("update")


ACTIONS = [
    Action("mailIdentities", "create", create, summary="A send-as address of one of the caller's accounts"),
    Action("mailIdentities", "update", update, summary="Change a send-as address"),
]
