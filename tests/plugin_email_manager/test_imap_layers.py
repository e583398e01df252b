"""The IMAP client stays a stack of layers: each module imports only those below it, at its top.

Read from the source with ``ast``, not by importing: an import cycle dodged by an import inside a
function, or under ``if TYPE_CHECKING:``, imports fine and fails only here. The order is the one
the package's docstring gives; a module added to the package must take its place in both.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from plugin_email_manager.mailsync import imap

PACKAGE = "plugin_email_manager.mailsync.imap"
# Bottom up: a module may import only the modules before it. The package's __init__ comes last.
LAYERS = ["wire", "codec", "bodystructure", "folders", "fetch", "protocol", "session", "__init__"]
# aiohttp's server side: the IMAP client knows nothing of HTTP.
SERVER_SIDE = re.compile(r"aiohttp\.(web|web_\w+|worker|test_utils|pytest_plugin)(\.|$)")
SOURCE = Path(imap.__file__).parent
ROOT = Path(__file__).resolve().parents[2]


def sources() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in sorted(SOURCE.glob("*.py"))}


def imports(module: str, tree: ast.Module) -> list[tuple[ast.stmt, str]]:
    """Every import statement of ``module`` with the absolute name of each thing it imports
    (``from package import session`` names the submodule ``package.session``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package (level 1) or above it
                here = PACKAGE.split(".")[: len(PACKAGE.split(".")) - (node.level - 1)]
                base = ".".join(here + ([node.module] if node.module else []))
            else:
                base = node.module
            found += [(node, f"{base}.{alias.name}") for alias in node.names]
    return found


def layer_of(name: str) -> str | None:
    """Which module of the package an imported name belongs to; None when it is outside."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    first = name[len(PACKAGE) + 1 :].split(".")[0]
    return first if first in LAYERS else "__init__"  # a name taken from the package itself


def upward_imports(module: str, tree: ast.Module) -> list[str]:
    rank = LAYERS.index(module)
    return [
        f"{module} line {node.lineno} imports {name}"
        for node, name in imports(module, tree)
        if (layer := layer_of(name)) is not None and LAYERS.index(layer) >= rank
    ]


def nested_imports(module: str, tree: ast.Module) -> list[str]:
    top = set(map(id, tree.body))
    return [
        f"{module} line {node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top
    ]


def server_side_imports(module: str, tree: ast.Module) -> list[str]:
    return [
        f"{module} line {node.lineno} imports {name}" for node, name in imports(module, tree) if SERVER_SIDE.match(name)
    ]


def test_every_module_of_the_package_has_its_place_in_the_layers():
    assert sorted(sources()) == sorted(LAYERS)


def test_the_package_docstring_lists_the_layers_in_this_order():
    listed = re.findall(r"^\d+\. ``(\w+)``", imap.__doc__, re.M)
    assert listed == LAYERS[:-1]


def test_no_module_imports_itself_or_one_above_it():
    tree = sources()
    assert [found for module in LAYERS for found in upward_imports(module, tree[module])] == []


def test_every_import_is_at_the_top_of_its_module():
    # not in a function, a class, or an ``if TYPE_CHECKING:`` block: the old cycle hid in both
    tree = sources()
    assert [found for module in LAYERS for found in nested_imports(module, tree[module])] == []


def test_nothing_of_aiohttps_server_side_is_imported():
    tree = sources()
    assert [found for module in LAYERS for found in server_side_imports(module, tree[module])] == []
    # nor anything the client's own imports bring along
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, {PACKAGE}; print(*sorted(m for m in sys.modules if m.startswith('aiohttp')))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert [m for m in loaded if SERVER_SIDE.match(m)] == []


@pytest.mark.parametrize(
    "module, code, check",
    [
        ("codec", "from plugin_email_manager.mailsync.imap.session import ImapSession", upward_imports),
        ("protocol", "from plugin_email_manager.mailsync.imap import connect", upward_imports),
        ("folders", "from .fetch import FlagUpdate", upward_imports),
        ("fetch", "from . import session", upward_imports),
        ("wire", "def f():\n    from plugin_email_manager.mailsync.imap import codec", nested_imports),
        ("wire", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import json", nested_imports),
        ("session", "from aiohttp import web", server_side_imports),
        ("session", "import aiohttp.web_request", server_side_imports),
    ],
)
def test_the_checks_catch_what_they_are_there_for(module, code, check):
    assert check(module, ast.parse(code))


def test_the_checks_let_a_downward_import_pass():
    code = (
        "from plugin_email_manager.mailsync.imap.wire import Response\nfrom .codec import quote\n"
        "from plugin_email_manager.errors import ImapUnavailable\nimport aiohttp"
    )
    assert upward_imports("protocol", ast.parse(code)) == []
    assert server_side_imports("protocol", ast.parse(code)) == []
