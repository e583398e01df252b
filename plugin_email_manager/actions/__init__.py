"""The email manager's actions, one module per collection (``mail_messages`` for
``mailMessages``...); each module lists its own ``ACTIONS``. Domain work they share lives beside
them in the plugin (``reader``, ``conversations``, ``mailsync``, ``sendmail``...)."""

from __future__ import annotations

from plugin_email_manager.actions import (
    mail_accounts,
    mail_attachments,
    mail_batches,
    mail_identities,
    mail_messages,
    mail_settings,
    mail_user_settings,
    mail_webhooks,
    snippets,
)

ACTIONS = [
    *mail_accounts.ACTIONS,
    *mail_messages.ACTIONS,
    *mail_attachments.ACTIONS,
    *mail_settings.ACTIONS,
    *snippets.ACTIONS,
    *mail_user_settings.ACTIONS,
    *mail_webhooks.ACTIONS,
    *mail_batches.ACTIONS,
    *mail_identities.ACTIONS,
]
