"""The email manager's hook implementations: everything it gives the host, in one place."""
from __future__ import annotations

from pathlib import Path

from host.api import Action, Badge, Job, UIEntry
from host.hookspecs import hookimpl
from plugin_email_manager import (accounts, attachments, unread_badge, linking, messages, metrics, runtime, sending,
                                  settings_actions, snippets, threads)
from plugin_email_manager.mailsync.parsepass import ParsePass
from plugin_email_manager.mailsync.supervisor import Supervisor
from plugin_email_manager.migrations import migrations

HERE = Path(__file__).resolve().parent


@hookimpl
def register_actions():
    return [
        Action("mailAccounts", "create", accounts.create, summary="Add an IMAP/SMTP account (logins checked first)"),
        Action("mailAccounts", "link", linking.link, summary="Start linking a Google or Microsoft account"),
        Action("mailAccounts", "oauthCallback", linking.callback, public=True,
               summary="Where the OAuth provider sends the person back"),
        Action("mailAccounts", "update", accounts.update, summary="Rename, or give a new password or server"),
        Action("mailAccounts", "sync", accounts.sync, summary="Sync now (Refresh); wait: true answers when done"),
        Action("mailAccounts", "destroy", accounts.destroy, summary="Remove an account and all of its mail here"),
        Action("mailMessages", "get", messages.get, reads=True, summary="One message with its bodies and attachments"),
        Action("mailMessages", "list", threads.list_messages, reads=True, summary="Messages, with full-text search"),
        Action("mailMessages", "listThreads", threads.list_threads, reads=True, summary="One row per conversation"),
        Action("mailMessages", "getThread", threads.get_thread, reads=True, summary="Every message of a conversation"),
        Action("mailMessages", "markRead", messages.mark_read, summary="Mark read, here and on the server"),
        Action("mailMessages", "markUnread", messages.mark_unread, summary="Mark unread, here and on the server"),
        Action("mailMessages", "update", messages.update, summary="Change read or flagged, here and on the server"),
        Action("mailMessages", "destroy", messages.destroy, summary="Move to Trash (from Trash: delete for good)"),
        Action("mailMessages", "prepareReply", sending.prepare_reply, summary="A reply draft for the compose dialog"),
        Action("mailMessages", "prepareForward", sending.prepare_forward, summary="A forward draft"),
        Action("mailMessages", "send", sending.send, summary="Send a message over SMTP"),
        Action("mailMessages", "reply", sending.reply, summary="Reply in one call"),
        Action("mailMessages", "forward", sending.forward, summary="Forward in one call"),
        Action("mailMessages", "saveDraft", sending.save_draft, summary="Store a draft here and on the server"),
        Action("mailAttachments", "download", attachments.download, reads=True, summary="The attachment's bytes"),
        Action("mailSettings", "create", settings_actions.create, summary="Provider or general settings (root)"),
        Action("mailSignatures", "create", snippets.create, summary="A signature (its HTML sanitized)"),
        Action("mailSignatures", "update", snippets.update, summary="Change a signature (HTML sanitized)"),
        Action("mailTemplates", "create", snippets.create, summary="A template (its HTML sanitized)"),
        Action("mailTemplates", "update", snippets.update, summary="Change a template (HTML sanitized)"),
        Action("mailSettings", "update", settings_actions.update, summary="Change settings (root)"),
    ]


@hookimpl
def register_routes():
    return attachments.routes()


@hookimpl
def register_migrations():
    return migrations()


@hookimpl
def register_badges():
    return [Badge(name="mail", icon="mail", href="/admin/mail", count=unread_badge.unread_count, title="Unread mail")]


@hookimpl
def register_ui():
    return [UIEntry(plugin="email_manager", path="/admin/mail", title="Email", icon="mail",
                    module="/static/plugins/email_manager/mail.js", static_dir=HERE / "ui")]


@hookimpl
def register_jobs():
    return [Job(name="mail-oauth-states-cleanup", interval=3600, run=_cleanup)]


async def _cleanup(host) -> None:
    await host.db.execute("DELETE FROM mail_oauth_states WHERE expires_at < now() - interval '1 day'")


@hookimpl
def register_metrics(registry):
    metrics.register(registry)


@hookimpl
async def collect_metrics(host):
    return await metrics.accounts(host)


@hookimpl
async def startup(host):
    await settings_actions.seed_providers(host)
    await settings_actions.load_overrides(host)
    await host.listen("mail_settings_changed", lambda _payload: settings_actions.load_overrides(host))
    parse_pass = ParsePass(host, accounts=lambda: list(supervisor.workers),
                           syncing=lambda account_id: supervisor.syncing(account_id))
    supervisor = Supervisor(host, after_sync=parse_pass.wake)
    runtime.attach(host, runtime.MailRuntime(supervisor, parse_pass))
    await parse_pass.start()
    await supervisor.start()


@hookimpl
async def shutdown(host):
    mail = runtime.of(host)
    await mail.supervisor.release_all()
    await mail.parse_pass.close()
