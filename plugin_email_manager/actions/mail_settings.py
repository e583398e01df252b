"""``mailSettings`` (root only): the client secret is encrypted before it is stored, and every
process reloads the run-time settings after a change (``settings_records``)."""

from __future__ import annotations

from host.api import Action, ActionContext


def _encrypt_secret(ctx: ActionContext) -> None:
    secret = ctx.values.get("clientSecret")
    if isinstance(secret, str) and secret:
        ctx.values = {**ctx.values, "clientSecret": ctx.host.secrets.encrypt(secret)}


async def create(ctx: ActionContext) -> dict:
    _encrypt_secret(ctx)
    answer = await ctx.run_generic("create")
    await ctx.host.notify("mail_settings_changed", {})
    return answer


async def update(ctx: ActionContext) -> dict:
    _encrypt_secret(ctx)
    answer = await ctx.run_generic("update")
    await ctx.host.notify("mail_settings_changed", {})
    return answer


ACTIONS = [
    Action("mailSettings", "create", create, summary="Provider or general settings (root)"),
    Action("mailSettings", "update", update, summary="Change settings (root)"),
]
