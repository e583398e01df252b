"""``mailUserSettings``: the caller's own mail settings, one record per person.

``get`` answers ``{"undoSendSeconds"}`` (the defaults until the person changes one); ``update``
``{"undoSendSeconds": 0..30}`` changes them (400 ``INVALID_VALUE`` otherwise) and answers them.
Neither takes ``filterByTk``: a person has one record, found by the signed-in user.
"""

from __future__ import annotations

from host.api import Action, ActionContext
from plugin_email_manager import user_settings


def _user_id(ctx: ActionContext) -> int:
    assert ctx.user is not None  # not a public action: the host refuses a call without a user
    return ctx.user.id


async def get(ctx: ActionContext) -> dict:
    return {"data": await user_settings.of(ctx.db, _user_id(ctx))}


async def update(ctx: ActionContext) -> dict:
    values = user_settings.check(dict(ctx.values or {}))
    await user_settings.save(ctx.db, _user_id(ctx), values)
    return {"data": await user_settings.of(ctx.db, _user_id(ctx))}


ACTIONS = [
    Action("mailUserSettings", "get", get, reads=True, summary="The caller's own mail settings"),
    Action("mailUserSettings", "update", update, summary="Change the caller's own mail settings"),
]
