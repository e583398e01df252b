"""``create_app(config)``: builds the whole application without I/O; the I/O (the database, the
migrations, the plugins' start-up, the jobs) lives in ``lifecycle``, aiohttp's cleanup context.

What the app holds comes through the hooks (``host.hookspecs``), from the host's own features
(``host.plugins.DEFAULT_PLUGINS``) and from the plugins alike; only the middlewares and the
catch-all routes, whose place matters, are added here by name.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from aiohttp import web

from host import jobs as jobs_mod
from host import keys, logs, memory, metrics, rest
from host.api import UIEntry, UIExtension
from host.auth import Authenticator, ensure_root
from host.badges import Badges
from host.config import Config
from host.db.embedded import EmbeddedPostgres
from host.db.migrate import migrate
from host.db.pool import create_pool
from host.dispatcher import Dispatcher
from host.errors import ConfigError
from host.plugins import DEFAULT_PLUGINS, Plugins, discover
from host.runtime import Host
from host.schema import load_registry
from host.secrets import SecretBox
from host.security_headers import install_security_headers
from host.settings import Settings
from host.ui import ui_routes

log = logging.getLogger(__name__)


def create_app(config: Config) -> web.Application:
    memory.limit_malloc_arenas()  # before any thread allocates (host/memory.py says why)
    plugins = Plugins(discover(config.plugin_manifests, config.entry_points), defaults=DEFAULT_PLUGINS)
    # the host's collections (users, authTokens, authAttempts, hostJobs) come first, by the hook
    files = [Path(p) for p in plugins.call_sync("register_collections")] + plugins.collection_files()
    registry = load_registry(files)
    dispatcher = Dispatcher(registry, plugins.call_sync("register_actions"))
    settings = Settings(plugins.settings_defaults())
    # every setting and the secret key are checked now, before the database is touched: a bad
    # one is a ConfigError naming it, not a traceback after the migrations ran
    settings.check()
    secrets = SecretBox.from_environment(config.storage)
    max_mib = float(settings.get("max_message_mib", 25))
    app_metrics = metrics.Metrics(plugins)  # outermost middleware: it sees every answer's status
    # base64 in JSON grows a file by a third: let the body through, so that our own 413
    # (ATTACHMENT_TOO_LARGE, with the limit) is the answer, not aiohttp's plain one
    app = web.Application(
        client_max_size=int((max_mib * 1.4 + 16) * 1024 * 1024),
        middlewares=[logs.access_middleware, app_metrics.middleware, rest.errors_middleware, rest.auth_middleware],
    )
    app[keys.CONFIG] = config
    app[keys.PLUGINS] = plugins
    app[keys.DISPATCHER] = dispatcher
    install_security_headers(app)
    logs.install_access_log(app)

    app.add_routes(plugins.call_sync("register_routes"))
    # Last, after every hook's routes: the catch-all /api/<collection>:<action> and the admin
    # pages' /admin/{tail}, which would shadow any route added after them.
    app.add_routes(rest.routes())
    app.add_routes(ui_routes())
    ui = plugins.call_sync("register_ui")
    ui_entries = [e for e in ui if isinstance(e, UIEntry)]
    ui_extensions = [e for e in ui if isinstance(e, UIExtension)]
    served: set[str] = set()  # one static route per plugin, whether its pages or extensions name it
    for entry in ui:
        if entry.static_dir is not None and entry.plugin not in served:
            served.add(entry.plugin)
            app.router.add_static(f"/static/plugins/{entry.plugin}/", entry.static_dir)

    # the Host's slots that need no database, bound now; the lifecycle adds the rest
    make_host = functools.partial(
        Host,
        settings=settings,
        secrets=secrets,
        registry=registry,
        plugins=plugins,
        badges=Badges(plugins.call_sync("register_badges")),
        metrics=app_metrics,
        ui_entries=ui_entries,
        ui_extensions=ui_extensions,
        base_url=config.base_url,
    )
    app.cleanup_ctx.append(_lifecycle(config, plugins, registry, make_host))
    return app


def _lifecycle(config: Config, plugins: Plugins, registry, make_host):
    async def lifecycle(app: web.Application):
        embedded = None
        dsn = config.database_url
        if not dsn:
            embedded = EmbeddedPostgres(config.storage)
            dsn = embedded.start()
        try:
            pool = await create_pool(dsn)
        except Exception as e:
            if embedded:
                embedded.stop()
            raise ConfigError(f"cannot connect to the database: {e}") from e
        try:
            await migrate(pool, registry, plugins.call_sync("register_migrations"))  # it logs what it did
            generated = await ensure_root(pool, config.root_email, config.root_password)
            if generated:
                print(f"Root user {config.root_email} created with the password: {generated}", flush=True)
            host: Host = make_host(db=pool, dsn=dsn, auth=Authenticator(pool, config.token_ttl))
            app[keys.HOST] = host
            await plugins.call("startup", host=host)  # the host's own first (host.badges listens)
            jobs_mod.start(host, plugins.call_sync("register_jobs"))
            yield
            await plugins.call("shutdown", host=host)
            await host.close()
        finally:
            await pool.close()
            if embedded:
                embedded.stop()

    return lifecycle
