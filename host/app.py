"""``create_app(config)``: builds the whole application without I/O; the I/O (the database, the
migrations, the plugins' start-up, the jobs) lives in ``lifecycle``, aiohttp's cleanup context.
"""
from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from host import auth, badges, builtins, keys, metrics, openapi, rest, rpc
from host.api import Action
from host.auth import Authenticator, ensure_root
from host.badges import Badges
from host.config import Config, data_dir
from host.db.embedded import EmbeddedPostgres
from host.db.migrate import migrate
from host.db.pool import create_pool
from host.dispatcher import Dispatcher
from host.errors import ConfigError
from host import jobs as jobs_mod
from host.plugins import Plugins, discover
from host.runtime import Host
from host.schema import load_registry
from host.secrets import SecretBox
from host.security_headers import install_security_headers
from host.settings import Settings

log = logging.getLogger(__name__)

HOST_COLLECTIONS = ("users", "authTokens", "authAttempts", "hostJobs")
HOST_ACTIONS: list[Action] = [*auth.ACTIONS, *badges.ACTIONS, *builtins.ACTIONS]


def create_app(config: Config) -> web.Application:
    plugins = Plugins(discover(config.plugin_manifests, config.entry_points))
    folder = data_dir() / "collections"
    files = [folder / f"{n}.toml" for n in HOST_COLLECTIONS] + plugins.collection_files()
    files += [Path(p) for p in plugins.call_sync("register_collections")]
    registry = load_registry(files)
    actions = HOST_ACTIONS + plugins.call_sync("register_actions")
    dispatcher = Dispatcher(registry, actions)
    settings = Settings(plugins.settings_defaults())
    # every setting and the secret key are checked now, before the database is touched: a bad
    # one is a ConfigError naming it, not a traceback after the migrations ran
    settings.check()
    secrets = SecretBox.from_environment(config.storage)
    max_mib = float(settings.get("max_message_mib", 25))
    app_metrics = metrics.Metrics(plugins)  # outermost middleware: it sees every answer's status
    # base64 in JSON grows a file by a third: let the body through, so that our own 413
    # (ATTACHMENT_TOO_LARGE, with the limit) is the answer, not aiohttp's plain one
    app = web.Application(client_max_size=int((max_mib * 1.4 + 16) * 1024 * 1024),
                          middlewares=[app_metrics.middleware, rest.errors_middleware, rest.auth_middleware])
    app[keys.CONFIG] = config
    app[keys.PLUGINS] = plugins
    app[keys.DISPATCHER] = dispatcher
    install_security_headers(app)

    ui_entries = plugins.call_sync("register_ui")
    # plugin routes before the catch-all /api/<collection>:<action>, which would shadow them
    route_defs = [*builtins.routes(), *app_metrics.routes(), *openapi.routes(), *badges.routes(),
                  *rpc.routes(), *plugins.call_sync("register_routes"), *rest.routes()]
    try:
        from host.ui import ui_routes
        route_defs += ui_routes()
    except ImportError:
        log.warning("the admin UI is not available (host.ui missing)")
    app.add_routes(route_defs)
    for entry in ui_entries:
        if entry.static_dir is not None:
            app.router.add_static(f"/static/plugins/{entry.plugin}/", entry.static_dir)

    app.cleanup_ctx.append(_lifecycle(config, plugins, registry, settings, secrets, ui_entries))
    return app


def _lifecycle(config: Config, plugins: Plugins, registry, settings: Settings, secrets: SecretBox, ui_entries: list):
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
            host = Host(db=pool, dsn=dsn, settings=settings, secrets=secrets,
                        registry=registry, plugins=plugins, base_url=config.base_url)
            host.auth = Authenticator(pool, config.token_ttl)
            host.badges = Badges(plugins.call_sync("register_badges"))
            host.ui_entries = ui_entries
            await host.listen("host_badges", host.badges.changed)
            app[keys.HOST] = host
            await plugins.call("startup", host=host)
            jobs_mod.start(host, plugins.call_sync("register_jobs"))
            yield
            await plugins.call("shutdown", host=host)
            await host.close()
        finally:
            await pool.close()
            if embedded:
                embedded.stop()

    return lifecycle
