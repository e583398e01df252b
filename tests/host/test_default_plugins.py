"""The host's own features are plugins: registered through the same hooks as any plugin, before
the plugins; and the ``Host`` keeps each plugin's per-process state in a slot of its own.

``create_app`` does no I/O, so what it builds is read here without a database.
"""

from __future__ import annotations

import sys
import textwrap

import pytest
from aiohttp.test_utils import make_mocked_request

from host import rest
from host.app import create_app
from host.auth import Authenticator
from host.badges import Badges
from host.config import Config
from host.errors import ConfigError, HostError
from host.keys import DISPATCHER, PLUGINS
from host.metrics import Metrics
from host.plugins import DEFAULT_PLUGINS, Plugins, discover, read_manifest
from host.runtime import Host
from host.settings import Settings
from tests.servers.app import DEMO_PLUGIN, SECRET_KEY

# a database nobody answers on: create_app must not need one
NOWHERE = "postgresql://127.0.0.1:1/none"


@pytest.fixture
def secret_key(monkeypatch):
    monkeypatch.setenv("EMAIL_CENTER_SECRET_KEY", SECRET_KEY)


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    """Write a plugin (its hooks module and manifest) under tmp_path; answers the manifest path."""
    made = []

    def make(name: str, hooks: str):
        folder = tmp_path / name
        (folder / "collections").mkdir(parents=True)
        (folder / f"{name}_hooks.py").write_text(textwrap.dedent(hooks))
        (folder / "plugin.toml").write_text(f"name = '{name}'\nentry = '{name}_hooks'\n")
        monkeypatch.syspath_prepend(str(folder))
        made.append(f"{name}_hooks")
        return folder / "plugin.toml"

    yield make
    for module in made:
        sys.modules.pop(module, None)


def _app(tmp_path, *manifests):
    return create_app(
        Config(database_url=NOWHERE, storage=tmp_path / "storage", entry_points=False, plugin_manifests=list(manifests))
    )


def _host(plugins: Plugins) -> Host:
    return Host(
        db=None,
        dsn=NOWHERE,
        settings=Settings({}),
        secrets=None,
        registry=None,
        plugins=plugins,
        auth=Authenticator(None, 60),
        badges=Badges([]),
        metrics=Metrics(plugins),
    )


def test_the_host_features_are_registered_before_the_plugins():
    plugins = Plugins([read_manifest(DEMO_PLUGIN)], defaults=DEFAULT_PLUGINS)
    assert plugins.names() == [*DEFAULT_PLUGINS, "demo"]


def test_the_app_gets_the_host_collections_and_actions_through_the_hooks(tmp_path, secret_key):
    app = _app(tmp_path, DEMO_PLUGIN)
    dispatcher = app[DISPATCHER]
    assert {"users", "authTokens", "authAttempts", "hostJobs", "demoItems"} <= set(dispatcher.registry)
    for collection, action in [
        ("auth", "signIn"),
        ("auth", "signOut"),
        ("auth", "check"),
        ("users", "create"),
        ("badges", "list"),
        ("collections", "list"),
        ("app", "shell"),
        ("demoItems", "touch"),
    ]:
        assert dispatcher.resolve(collection, action)[1].name == action
    # the host's answers come before any plugin's, as when they were listed by hand
    actions = app[PLUGINS].call_sync("register_actions")
    assert actions[-1].name == "touch"


async def _handler(app, method: str, path: str):
    match = await app.router.resolve(make_mocked_request(method, path, app=app))
    return match.handler


async def test_every_host_route_answers_from_its_own_handler(tmp_path, secret_key):
    app = _app(tmp_path)
    for method, path in [
        ("GET", "/api/health"),
        ("GET", "/api/openapi.json"),
        ("GET", "/api/metrics"),
        ("POST", "/api/rpc"),
        ("GET", "/api/badges:stream"),
    ]:
        assert await _handler(app, method, path) is not rest.action_route, path
    assert await _handler(app, "GET", "/api/users:list") is rest.action_route


async def test_a_plugin_route_of_the_collection_action_form_is_not_shadowed_by_the_catch_all(
    tmp_path, secret_key, plugin_module
):
    manifest = plugin_module(
        "reports",
        """
        from aiohttp import web
        from host.hookspecs import hookimpl

        async def report(request):
            return web.Response(text="report")

        @hookimpl
        def register_routes():
            return [web.get("/api/reports:export", report)]
    """,
    )
    app = _app(tmp_path, manifest)
    assert (await _handler(app, "GET", "/api/reports:export")).__name__ == "report"
    # the catch-all is the last /api/ resource: nothing added by a hook comes after it
    paths = [r.canonical for r in app.router.resources() if r.canonical.startswith("/api/")]
    assert paths[-1] == "/api/{collection}:{action}"


def test_a_misspelled_hook_implementation_stops_create_app(tmp_path, secret_key, plugin_module):
    manifest = plugin_module(
        "typo",
        """
        from host.hookspecs import hookimpl

        @hookimpl
        async def statrup(host):
            pass
    """,
    )
    with pytest.raises(ConfigError, match="unknown hook 'statrup'"):
        _app(tmp_path, manifest)


def test_a_misspelled_hook_implementation_in_a_default_plugin_stops_start_up_too(plugin_module):
    plugin_module(
        "broken_default",
        """
        from host.hookspecs import hookimpl

        @hookimpl(tryfirst=True)
        def register_route():
            return []
    """,
    )
    with pytest.raises(ConfigError, match="unknown hook 'register_route'"):
        Plugins([], defaults=[*DEFAULT_PLUGINS, "broken_default_hooks"])


def test_each_plugin_keeps_its_state_in_a_slot_of_its_own():
    host = _host(Plugins([read_manifest(DEMO_PLUGIN)], defaults=DEFAULT_PLUGINS))
    host.state("demo")["cache"] = {"a": 1}
    assert host.state("demo")["cache"] == {"a": 1}
    assert host.state("demo") is host.state("demo")
    assert host.state("host.badges") == {}
    # another host (another app in this process) starts empty
    assert _host(Plugins([read_manifest(DEMO_PLUGIN)])).state("demo") == {}


def test_a_misspelled_plugin_name_gets_no_state():
    host = _host(Plugins([read_manifest(DEMO_PLUGIN)]))
    with pytest.raises(KeyError, match="dmeo"):
        host.state("dmeo")


def test_the_email_plugin_finds_its_runtime_in_its_slot_of_the_host():
    from plugin_email_manager import process_state

    plugins = Plugins(discover([], use_entry_points=True), defaults=DEFAULT_PLUGINS)
    host, other = _host(plugins), _host(plugins)
    with pytest.raises(HostError) as not_started:
        process_state.of(host)
    assert not_started.value.code == "MAIL_NOT_STARTED"
    mail = process_state.MailRuntime(supervisor=object(), parse_pass=object())
    process_state.attach(host, mail)
    assert process_state.of(host) is mail
    with pytest.raises(HostError):
        process_state.of(other)
