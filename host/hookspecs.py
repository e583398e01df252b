"""The whole plugin API.

A plugin is a module with functions decorated by ``host.hookspecs.hookimpl`` whose names match
the specs below. Hooks are called with keyword arguments; an implementation takes only the
arguments it needs. An implementation may be a coroutine function: the host awaits it
(``host.plugins.call``). A test fails when a hook here has no docstring.
"""

from __future__ import annotations

from pathlib import Path

import pluggy

from host.api import Action, Badge, Job, Migration, UIEntry, UIExtension

PROJECT = "email_center"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------- declaring (before start-up)


@hookspec
def register_hookspecs() -> list:
    """Called once while the plugins are loaded, before their hook implementations are checked
    (pytest's ``pytest_addhooks``).

    :return: modules (or classes) of hookspecs that this plugin defines and calls itself, for
        other plugins to implement: e.g. the email manager's ``mail_event``. They are marked with
        ``host.hookspecs.hookspec`` and documented like the specs here. A plugin that implements
        such a hook loads only beside the plugin that declares it.
    """


@hookspec
def register_collections() -> list[Path]:
    """Called once while the app is built, before migrations.

    :return: paths of collection TOML files this plugin owns, in addition to those its
        ``plugin.toml`` lists under ``collections``.
    """


@hookspec
def register_migrations() -> list[Migration]:
    """Called once before start-up, after the collection tables are migrated.

    :return: hand-written SQL migrations (indexes, triggers, functions); each runs once per
        database, in ``(plugin, version)`` order, recorded in the host's migrations table.
    """


@hookspec
def register_actions() -> list[Action]:
    """Called once while the app is built.

    :return: custom actions (``<collection>:<name>``). One with a generic action's name
        (list, get, create, update, destroy) replaces the generic one for that collection.
    """


@hookspec
def register_routes() -> list:
    """Called once while the app is built, before the router freezes.

    :return: aiohttp route definitions (``web.get(path, handler)``...) for what is not a
        collection action (streams, files). Paths under ``/api/`` need a token unless the
        handler is decorated with ``host.rest.public``.
    """


@hookspec
def register_badges() -> list[Badge]:
    """Called once while the app is built.

    :return: badge providers shown in the admin top bar and answered by ``badges:list``.
    """


@hookspec
def register_jobs() -> list[Job]:
    """Called once while the app is built.

    :return: periodic jobs; the host runs each once per interval across every process on the
        database (a PostgreSQL advisory lock plus the job's last run time).
    """


@hookspec
def register_ui() -> list[UIEntry | UIExtension]:
    """Called once while the app is built.

    :return: pages of the admin shell (``UIEntry``: side-menu entries, ES modules that render
        them) and modules that extend the host's own pages (``UIExtension``).
    """


# ---------------------------------------------------------------- lifecycle


@hookspec
async def startup(host) -> None:
    """Called once per process after migrations ran, before the server answers requests.

    :param host: the ``host.runtime.Host`` (database pool, settings, secrets, background tasks).
        Start long-running work with ``host.spawn`` so that shut-down cancels it.
    """


@hookspec
async def shutdown(host) -> None:
    """Called once per process when the server stops, before the database pool closes.

    :param host: the same ``host.runtime.Host`` as ``startup``.
    """


# ---------------------------------------------------------------- metrics


@hookspec
def register_metrics(registry) -> None:
    """Called once while the app is built, with the app's own Prometheus registry.

    :param registry: a ``prometheus_client.CollectorRegistry`` (one per app, never the global
        one). Register this plugin's collectors in it; names start with ``email_center_``. What
        they count appears in ``GET /api/metrics``.
    :return: nothing.
    """


@hookspec
async def collect_metrics(host) -> list:
    """Called at each scrape of ``GET /api/metrics``, before the answer is written.

    :param host: the ``host.runtime.Host``, to read values that live elsewhere (the database).
    :return: ``prometheus_client`` metric families (``GaugeMetricFamily``...) read now; they are
        answered with this scrape only.
    """
