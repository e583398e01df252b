"""Plugin loading: manifests, hook validation, documentation of the plugin API."""

from __future__ import annotations

import inspect
import sys
import textwrap

import pytest

from host import hookspecs
from host.errors import ConfigError
from host.plugins import Plugins, discover, read_manifest

DEMO_PLUGIN = __import__("pathlib").Path(__file__).parent / "plugins" / "demo" / "plugin.toml"


def test_every_hook_is_documented():
    specs = [f for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(f, "email_center_spec")]
    assert len(specs) >= 9
    for spec in specs:
        doc = inspect.getdoc(spec) or ""
        assert "return" in doc.lower() or ":param" in doc, f"hook {spec.__name__} is not documented"
        assert "called" in doc.lower(), f"hook {spec.__name__} does not say when it is called"


def test_the_email_plugin_is_found_through_its_entry_point():
    names = [m.name for m in discover([], use_entry_points=True)]
    assert "email_manager" in names
    plugins = Plugins(discover([], use_entry_points=True))
    files = {f.stem for f in plugins.collection_files()}
    assert {"mailAccounts", "mailMessages"} <= files
    assert plugins.settings_defaults()["sync_interval"] == 300


def _manifest(tmp_path, text: str):
    path = tmp_path / "plugin.toml"
    path.write_text(textwrap.dedent(text))
    (tmp_path / "collections").mkdir(exist_ok=True)
    return path


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("name = 'x'\n", "entry"),
        ("name = 'x'\nentry = 'y'\nflavour = 1\n", "unknown keys flavour"),
        ("name = 'x'\nentry = 'y'\ncollections = ['nope']\n", "does not exist"),
        ("name = [\n", "plugin manifest"),
    ],
)
def test_a_bad_manifest_is_refused_with_a_clear_message(tmp_path, text, fragment):
    with pytest.raises(ConfigError, match=fragment):
        read_manifest(_manifest(tmp_path, text))


def test_a_misspelled_hook_implementation_stops_start_up(tmp_path, monkeypatch):
    module = tmp_path / "typo_plugin.py"
    module.write_text("from host.hookspecs import hookimpl\n\n@hookimpl\ndef register_actoins():\n    return []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = _manifest(tmp_path, "name = 'typo'\nentry = 'typo_plugin'\n")
    with pytest.raises(ConfigError, match="register_actoins"):
        Plugins([read_manifest(path)])
    sys.modules.pop("typo_plugin", None)


def test_an_entry_module_that_does_not_import_is_named(tmp_path):
    path = _manifest(tmp_path, "name = 'ghost'\nentry = 'no_such_module_here'\n")
    with pytest.raises(ConfigError, match="ghost"):
        Plugins([read_manifest(path)])


def test_the_demo_plugin_loads():
    plugins = Plugins([read_manifest(DEMO_PLUGIN)])
    assert [a.name for a in plugins.call_sync("register_actions")] == ["touch"]
    assert plugins.settings_defaults()["demo_interval"] == 1.0
