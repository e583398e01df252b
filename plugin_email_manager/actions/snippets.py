"""``mailSignatures`` and ``mailTemplates``: a person's own HTML, sanitized before it is stored,
since compose puts it into the page (the generic actions do the rest)."""

from __future__ import annotations

from host.api import Action, ActionContext
from plugin_email_manager.sanitize import sanitize_html


def _clean(ctx: ActionContext) -> None:
    html = ctx.values.get("html")
    if isinstance(html, str):
        ctx.values = {**ctx.values, "html": sanitize_html(html).html}


async def create(ctx: ActionContext) -> dict:
    _clean(ctx)
    return await ctx.run_generic("create")


async def update(ctx: ActionContext) -> dict:
    _clean(ctx)
    return await ctx.run_generic("update")


ACTIONS = [
    Action("mailSignatures", "create", create, summary="A signature (its HTML sanitized)"),
    Action("mailSignatures", "update", update, summary="Change a signature (HTML sanitized)"),
    Action("mailTemplates", "create", create, summary="A template (its HTML sanitized)"),
    Action("mailTemplates", "update", update, summary="Change a template (HTML sanitized)"),
]
