"""The email manager's hook implementations: everything it gives the host, in one place."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from host.api import Badge, Job, UIEntry, UIExtension
from host.hookspecs import hookimpl
from plugin_email_manager import (
    actions,
    attachments,
    batches,
    hookspecs,
    imap_pool,
    metrics,
    process_state,
    sending,
    settings_records,
    unread_badge,
)
from plugin_email_manager.mailsync.parsepass import ParsePass
from plugin_email_manager.mailsync.supervisor import Supervisor
from plugin_email_manager.migrations import migrations
from plugin_email_manager.webhooks.deliver import Deliverer

if TYPE_CHECKING:
    from aiohttp import web
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import GaugeMetricFamily

    from host.api import Action, Host, Migration

HERE = Path(__file__).resolve().parent


@hookimpl
def register_hookspecs() -> list:
    return [hookspecs]  # mail_event, for other plugins


@hookimpl
def register_actions() -> list[Action]:
    return actions.ACTIONS


@hookimpl
def register_routes() -> list[web.RouteDef]:
    return attachments.routes()


@hookimpl
def register_migrations() -> list[Migration]:
    return migrations()


@hookimpl
def register_badges() -> list[Badge]:
    return [Badge(name="mail", icon="mail", href="/admin/mail", count=unread_badge.unread_count, title="Unread mail")]


@hookimpl
def register_ui() -> list[UIEntry | UIExtension]:
    return [
        # the generic collection pages: email fields open compose, a record's Emails tab, Send email
        UIExtension(plugin="email_manager", module="/static/plugins/email_manager/platform.js"),
        UIEntry(
            plugin="email_manager",
            path="/admin/mail",
            title="Email",
            icon="mail",
            module="/static/plugins/email_manager/mail.js",
            static_dir=HERE / "ui",
        ),
        # batch sends and their recipients (ui/batches.js), reached from the email center
        UIEntry(
            plugin="email_manager",
            path="/admin/mail/batches",
            title="Batches",
            icon="mail",
            module="/static/plugins/email_manager/batches.js",
            menu=False,
        ),
    ]


@hookimpl
def register_jobs() -> list[Job]:
    return [Job(name="mail-oauth-states-cleanup", interval=3600, run=_cleanup), sending.JOB, batches.JOB]


async def _cleanup(host: Host) -> None:
    await host.db.execute("DELETE FROM mail_oauth_states WHERE expires_at < now() - interval '1 day'")


@hookimpl
def register_metrics(registry: CollectorRegistry) -> None:
    metrics.register(registry)


@hookimpl
async def collect_metrics(host: Host) -> list[GaugeMetricFamily]:
    return await metrics.accounts(host)


@hookimpl
async def startup(host: Host) -> None:
    await settings_records.seed_providers(host)
    await settings_records.load_overrides(host)
    await host.listen("mail_settings_changed", lambda _payload: settings_records.load_overrides(host))
    parse_pass = ParsePass(
        host, accounts=lambda: list(supervisor.workers), syncing=lambda account_id: supervisor.syncing(account_id)
    )
    supervisor = Supervisor(host, after_sync=parse_pass.wake)
    process_state.attach(host, process_state.MailRuntime(supervisor, parse_pass))
    await parse_pass.start()
    await supervisor.start()
    await Deliverer(host).start()


@hookimpl
async def shutdown(host: Host) -> None:
    mail = process_state.of(host)
    await mail.supervisor.release_all()
    await mail.parse_pass.close()
    await imap_pool.close(host)  # the sessions kept for requests (opening a message not fetched yet)
