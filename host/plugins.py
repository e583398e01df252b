"""Plugin discovery: entry points and manifests, the PluginManager, and awaiting hook results.

A plugin is found through the ``email_center.plugins`` entry-point group, whose value is a
callable answering the path of the plugin's ``plugin.toml``. The manifest names the module with
the hook implementations (``entry``), the plugin's collection files and its settings.

The host's own features are plugins too (``DEFAULT_PLUGINS``): each module implements the same
hooks as any plugin, and is registered before the plugins found here. Their implementations are
marked ``tryfirst``, because pluggy calls the last registered first and the host's answers must
come first: its collections lead the registry, its routes lead the router, and a plugin action
of the same name as one of the host's replaces it (the dispatcher keeps the last).
"""

from __future__ import annotations

import importlib
import inspect
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pluggy

from host import hookspecs
from host.errors import ConfigError

ENTRY_POINT_GROUP = "email_center.plugins"
REQUIRED_KEYS = ("name", "entry")
KNOWN_KEYS = {"name", "title", "version", "entry", "collections", "settings", "description"}

# The host's own features, each a module of hook implementations, registered under its module
# name. The admin pages and the catch-all /api/<collection>:<action> are not here: they must be
# the router's last routes, so ``host.app.create_app`` adds them after every hook's.
DEFAULT_PLUGINS = ("host.auth", "host.badges", "host.builtins", "host.jobs", "host.openapi", "host.rpc", "host.metrics")


@dataclass
class Manifest:
    name: str
    entry: str
    path: Path
    title: str = ""
    version: str = ""
    collections: list[Path] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


def read_manifest(path: Path) -> Manifest:
    """Parse and check one ``plugin.toml``; every problem is a ConfigError naming the file."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"plugin manifest {path}: {e}") from None
    missing = [k for k in REQUIRED_KEYS if not isinstance(data.get(k), str) or not data[k]]
    if missing:
        raise ConfigError(f"plugin manifest {path}: missing or empty {', '.join(missing)}")
    unknown = set(data) - KNOWN_KEYS
    if unknown:
        raise ConfigError(f"plugin manifest {path}: unknown keys {', '.join(sorted(unknown))}")
    names = data.get("collections", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"plugin manifest {path}: collections must be a list of names")
    folder = Path(path).parent / "collections"
    files = [folder / f"{n}.toml" for n in names]
    for f in files:
        if not f.is_file():
            raise ConfigError(f"plugin manifest {path}: collection file {f} does not exist")
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise ConfigError(f"plugin manifest {path}: settings must be a table")
    return Manifest(
        name=data["name"],
        entry=data["entry"],
        path=Path(path),
        title=data.get("title", ""),
        version=str(data.get("version", "")),
        collections=files,
        settings=settings,
    )


def discover(extra: list[Path], use_entry_points: bool = True) -> list[Manifest]:
    paths: list[Path] = []
    if use_entry_points:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                target = ep.load()
                paths.append(Path(target() if callable(target) else target))
            except Exception as e:  # a broken plugin must say which one it is
                raise ConfigError(f"plugin entry point {ep.name!r} ({ep.value}): {e}") from e
    paths.extend(extra)
    manifests: dict[str, Manifest] = {}
    for p in paths:
        m = read_manifest(p)
        if m.name in manifests and manifests[m.name].path.resolve() != m.path.resolve():
            raise ConfigError(f"two plugins are named {m.name!r}: {manifests[m.name].path} and {m.path}")
        manifests[m.name] = m
    return list(manifests.values())


class Plugins:
    """The loaded plugins and their PluginManager.

    ``defaults``: modules registered before the manifests' plugins, under their module names
    (``DEFAULT_PLUGINS`` for the app; none for a test that loads one plugin alone).
    """

    def __init__(self, manifests: list[Manifest], *, defaults: Sequence[str] = ()):
        self.manifests = manifests
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        for name in defaults:
            self._register(name, importlib.import_module(name))
        for m in manifests:
            try:
                module = importlib.import_module(m.entry)
            except ImportError as e:
                raise ConfigError(f"plugin {m.name!r}: cannot import its entry module {m.entry!r}: {e}") from e
            self._register(m.name, module)
        try:
            for specs in self.pm.hook.register_hookspecs():  # hooks plugins declare for one another
                for module in specs or ():
                    self.pm.add_hookspecs(module)
            self.pm.check_pending()  # a misspelled hook implementation stops start-up here
        except pluggy.PluginValidationError as e:
            raise ConfigError(f"plugin {self.pm.get_name(e.plugin)!r}: {e}") from e

    def _register(self, name: str, module) -> None:
        try:
            self.pm.register(module, name=name)
        except (pluggy.PluginValidationError, ValueError) as e:  # ValueError: the name is taken
            raise ConfigError(f"plugin {name!r}: {e}") from e

    def names(self) -> list[str]:
        """The registered plugins' names, the host's own included."""
        return [name for name, _ in self.pm.list_name_plugin()]

    def collection_files(self) -> list[Path]:
        return [f for m in self.manifests for f in m.collections]

    def settings_defaults(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for m in self.manifests:
            merged.update(m.settings)
        return merged

    def call_sync(self, hook: str, **kwargs) -> list:
        """Call a registration hook; flatten the lists the implementations answer."""
        out: list = []
        for result in getattr(self.pm.hook, hook)(**kwargs):
            if result is None:
                continue
            if inspect.isawaitable(result):
                raise ConfigError(f"hook {hook} must not be a coroutine")
            out.extend(result if isinstance(result, (list, tuple)) else [result])
        return out

    async def call(self, hook: str, **kwargs) -> list:
        """Call a hook whose implementations may be coroutines; await each in turn."""
        out = []
        for result in getattr(self.pm.hook, hook)(**kwargs):
            if inspect.isawaitable(result):
                result = await result
            out.append(result)
        return out
