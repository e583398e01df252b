"""The walls of the house, read from the source: a plugin reaches the host only through its API,
the host knows nothing of the plugin, and the mail protocol layers know nothing of the web.

Every import counts, at the top of a module or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "plugin_email_manager"
HOST = ROOT / "host"
# what a plugin may import of the host: the documented plugin API
PLUGIN_API = {"host.api", "host.errors", "host.hookspecs"}
# the mail protocol layers: IMAP (sync) and SMTP (sending), MIME reading and building
PROTOCOL_LAYERS = [PLUGIN / "mailsync", PLUGIN / "sendmail", PLUGIN / "mailparse"]


def imports(folder: Path, root: Path = ROOT) -> list[tuple[str, int, str]]:
    """(file, line, module) of every import under ``folder``; relative imports resolved."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(root)), node.lineno, a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                # `from host import keys` imports host.keys: name each imported module
                found += [(str(path.relative_to(root)), node.lineno, f"{base}.{a.name}") for a in node.names]
                found.append((str(path.relative_to(root)), node.lineno, base))
    return found


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_the_plugin_uses_the_host_only_through_its_api():
    wrong = []
    for where, line, module in imports(PLUGIN):
        if not within(module, "host"):
            continue
        # `from host.api import Action` is listed as host.api and host.api.Action: both fine
        if module == "host" or not any(within(module, allowed) for allowed in PLUGIN_API):
            wrong.append(f"{where}:{line} imports {module}")
    assert wrong == []


def test_the_host_imports_nothing_of_the_plugin():
    wrong = [f"{w}:{line} imports {m}" for w, line, m in imports(HOST) if within(m, "plugin_email_manager")]
    assert wrong == []


def test_the_mail_protocol_layers_know_nothing_of_the_web_side():
    wrong = []
    for layer in PROTOCOL_LAYERS:
        for where, line, module in imports(layer):
            if (
                within(module, "aiohttp.web")
                or within(module, "aiohttp.web_request")
                or within(module, "plugin_email_manager.plugin")
                or within(module, "host.api.public_route")
            ):
                wrong.append(f"{where}:{line} imports {module}")
    assert wrong == []


def test_the_check_sees_imports_inside_functions_and_relative_ones(tmp_path):
    # the walls above hold only if the reader finds imports wherever they are
    sample = tmp_path / "plugin_email_manager" / "sub"
    sample.mkdir(parents=True)
    (sample / "bad.py").write_text("def f():\n    from host.query import values\n    from ..x import y\n")
    found = [m for _, _, m in imports(tmp_path / "plugin_email_manager", root=tmp_path)]
    assert "host.query.values" in found and "plugin_email_manager.x.y" in found
