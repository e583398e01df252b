"""The mail badge: how many inbox messages of the signed-in user's accounts are unread.

Answered from the partial index ``mail_messages_unread_idx`` (only unread messages have an
entry, so the count reads a few pages, not the mailbox) with the user's account ids resolved
first, so the planner probes that index once per account. Callers that change read state or
store mail call ``host.badges_changed(user_id)``; the host pushes the new count live.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from host.api import Params, User, scope_where

if TYPE_CHECKING:
    from host.api import Host

UNREAD = """
SELECT count(*) FROM mail_messages m
WHERE m.account_id = ANY (ARRAY(SELECT t.id FROM mail_accounts t WHERE {accounts}))
  AND m.type = 'inbox' AND NOT m.read
"""


async def unread_count(host: Host, user: User) -> int:
    """Unread messages in the inboxes of ``user``'s accounts (those ``mailAccounts``' scope gives it)."""
    params = Params()
    accounts = scope_where(host.registry["mailAccounts"], user, params)
    return await host.db.fetchval(UNREAD.format(accounts=accounts), *params.values)
