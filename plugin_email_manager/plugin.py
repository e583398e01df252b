"""The email manager's hook implementations: everything it gives the host, in one place."""
from __future__ import annotations

from host.api import Badge, User
from host.hookspecs import hookimpl


async def unread_count(host, user: User) -> int:
    """The mail badge: unread messages in the inboxes of the user's accounts."""
    return await host.db.fetchval(
        "SELECT count(*) FROM mail_messages m JOIN mail_accounts a ON a.id = m.account_id "
        "WHERE a.user_id = $1 AND m.type = 'inbox' AND NOT m.read", user.id)


@hookimpl
def register_badges():
    return [Badge(name="mail", icon="mail", href="/admin/mail", count=unread_count, title="Unread mail")]
