#!/usr/bin/env python3
"""The error-code catalogue, read from the code: every ``code`` the server can answer.

``scripts/error_codes.py`` prints it as Markdown; ``--write`` writes ``docs/error-codes.md``;
``tests/test_error_codes.py`` fails when that file lacks a code or is stale.

It walks every module under ``host/`` and ``plugin_email_manager/`` with ``ast`` (no module list,
no imports: modules move) and collects

- the ``code = "..."`` attribute of every subclass of ``HostError`` (wherever it is defined), with
  its ``status`` (inherited when not set) and its docstring;
- every construction of such a class (``raise BadRequest("...", code="X")``, ``NotFound(...)``,
  ``HostError(..., code=..., status=...)``, raised or passed on): the code and status given by
  keyword, else the class's;
- error objects written as dicts, as the middleware does: a dict with a ``"code"`` key inside an
  ``"errors": [...]`` list (its status from the ``status=`` of the call it is passed to), or a
  dict with both ``"code"`` and ``"status"`` keys (the JSON-RPC ``error.data``, a relayed error).

A code that is not a string literal is *dynamic*: it is resolved when it comes from something
readable (a module or local constant, a dict literal looked up with ``.get``/``[]``, the default of
``x.get("code", "X")`` or ``getattr(e, "code", "X")``), and every such site is listed with its
expression, so no code can be hidden behind a variable. A site that resolves to nothing is listed
as unresolved (and the test fails on it).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("host", "plugin_email_manager")
BASE = "HostError"
DOC = ROOT / "docs" / "error-codes.md"
VARIES = "varies"  # a status read at run time (e.g. that of an aiohttp exception)

# How host/rpc.py's _one answers an error class as JSON-RPC ``error.code`` (its except clauses, in
# order); an error written as a dict is the REST middleware's, except INTERNAL_ERROR, -32000 in both.
RPC_CODES = (("UnknownAction", -32601), ("BadRequest", -32602), (BASE, -32000))

# A code answered with more than one status (or a status known only at run time) is a bug unless
# it is listed here with the reason; the test fails on any other.
DELIBERATE_MULTI_STATUS = {
    "HTTP_ERROR": "the status of the aiohttp `web.HTTPException` (a 4xx/5xx other than 404, 405 and "
    "413) that reached the middleware under `/api/`; the code says only that it was not ours.",
}


@dataclass
class ErrorClass:
    name: str
    bases: list[str]
    path: str
    line: int
    code: ast.expr | None = None  # the class-level ``code = ...`` value, if set here
    status: ast.expr | None = None
    doc: str = ""


@dataclass
class Site:
    """One place where a code is answered."""

    code: str
    status: int | str  # an HTTP status, or VARIES
    cls: str  # the error class, or "—" for an error written as a dict
    path: str
    line: int
    where: str  # the enclosing function (or class)
    message: str = ""  # the message text, "" when it is not readable
    fallback: str = ""  # what the site says when its message is not readable


@dataclass
class Dynamic:
    """A site whose code is not a literal: what it is, what it could be resolved to."""

    path: str
    line: int
    where: str
    expression: str
    resolved: list[str] = field(default_factory=list)
    relays: bool = False  # also passes on a code it received (each one catalogued where raised)


@dataclass
class Catalogue:
    classes: dict[str, ErrorClass]
    sites: list[Site]
    dynamic: list[Dynamic]

    def codes(self) -> dict[str, dict]:
        """code -> {"statuses", "classes", "sites", "meaning"}, sorted by code."""
        out: dict[str, dict] = {}
        for s in sorted(self.sites, key=lambda s: (s.path, s.line)):
            entry = out.setdefault(
                s.code, {"statuses": set(), "classes": set(), "sites": [], "messages": [], "fallbacks": []}
            )
            entry["statuses"].add(s.status)
            entry["classes"].add(s.cls)
            if s.path:
                entry["sites"].append(f"{s.path}:{s.line}")
            if s.message:
                entry["messages"].append(s.message)
            elif s.fallback:
                entry["fallbacks"].append(s.fallback)
        for code, entry in out.items():
            entry["meaning"] = self._meaning(code, entry)
        return dict(sorted(out.items()))

    def _meaning(self, code: str, entry: dict) -> str:
        own = [c for c in self.classes.values() if _literal(c.code) == code and c.name != BASE]
        for c in own:  # a class's docstring says what its code means; a message says one case
            if c.doc:
                return c.doc.replace("``", "`")
        if entry["messages"]:
            return entry["messages"][0]
        return next(iter(entry["fallbacks"]), "")


# --- reading the source ----------------------------------------------------------------------


def source_files(root: Path = ROOT) -> list[Path]:
    files: list[Path] = []
    for package in PACKAGES:
        files += [p for p in (root / package).rglob("*.py") if "__pycache__" not in p.parts]
    return sorted(files)


def _parse(path: Path) -> ast.Module:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            child.parent = node  # type: ignore[attr-defined]
    return tree


def _name(node: ast.expr) -> str | None:
    """``Foo`` or ``errors.Foo`` -> "Foo"."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _literal(node: ast.expr | None):
    return node.value if isinstance(node, ast.Constant) else None


def _first_line(text: str | None) -> str:
    return " ".join((text or "").strip().split("\n\n")[0].split())


def _enclosing(node: ast.AST, kinds=(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
    while (node := getattr(node, "parent", None)) is not None:
        if isinstance(node, kinds):
            return node
    return None


def _where(node: ast.AST) -> str:
    scope = _enclosing(node)
    return scope.name if scope is not None else "<module>"


def _message(resolver: _Resolver, node: ast.expr | None) -> str:
    """The message text at a site; a name bound to one string constant is read through."""
    if isinstance(node, ast.Name):
        values = resolver.values(node, node)[0]
        if len(values) == 1 and isinstance(values[0][0], str):
            return values[0][0]
    return _text(node)


def _text(node: ast.expr | None) -> str:
    """The message as a reader sees it: f-string fields as ``{expr}``; "" when not a string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) else "{" + ast.unparse(v.value) + "}" for v in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        return left + right if left and right else ""
    return ""


def collect_classes(trees: dict[str, ast.Module]) -> dict[str, ErrorClass]:
    """Every subclass of HostError (and HostError itself), by name."""
    defined: dict[str, list[ErrorClass]] = {}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            cls = ErrorClass(
                node.name,
                [n for b in node.bases if (n := _name(b))],
                path,
                node.lineno,
                doc=_first_line(ast.get_docstring(node)),
            )
            for stmt in node.body:
                target = (
                    stmt.targets[0]
                    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                    else stmt.target
                    if isinstance(stmt, ast.AnnAssign) and stmt.value is not None
                    else None
                )
                if isinstance(target, ast.Name) and target.id in ("code", "status"):
                    setattr(cls, target.id, stmt.value)
            defined.setdefault(node.name, []).append(cls)
    every = {name: found[0] for name, found in defined.items()}
    errors = {name: cls for name, cls in every.items() if _is_error(name, every)}
    for name in errors:
        if len(defined[name]) > 1:
            raise SystemExit(
                f"two classes named {name} ({', '.join(f'{c.path}:{c.line}' for c in defined[name])}):"
                " the catalogue keys error classes by name; rename one"
            )
    return errors


def _is_error(name: str, every: dict[str, ErrorClass], seen=(), stop: str = BASE) -> bool:
    """Whether the class ``name`` is ``stop`` or a subclass of it."""
    if name == stop:
        return True
    cls = every.get(name)
    return cls is not None and name not in seen and any(_is_error(b, every, seen + (name,), stop) for b in cls.bases)


def _inherited(name: str, attr: str, classes: dict[str, ErrorClass]) -> tuple[ast.expr | None, str]:
    """The class's own ``code``/``status``, else the first base's that sets it (depth first)."""
    cls = classes.get(name)
    if cls is None:
        return None, name
    if getattr(cls, attr) is not None:
        return getattr(cls, attr), name
    for base in cls.bases:
        value, owner = _inherited(base, attr, classes)
        if value is not None:
            return value, owner
    return None, name


class _Resolver:
    """What a non-literal expression may evaluate to, from what a reader can see in the module."""

    def __init__(self, tree: ast.Module):
        self.module = {
            t.id: n.value for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)
        }

    def values(self, node: ast.expr, at: ast.AST, depth: int = 0) -> tuple[list[tuple[object, object]], bool]:
        """[(value, key)], relays: each possible literal value (with its dict key when it was looked
        up in a dict, else None), and whether the expression also passes on a value from elsewhere."""
        if depth > 8:
            return [], True
        if isinstance(node, ast.Constant):
            return [(node.value, None)], False
        if isinstance(node, ast.IfExp):
            a, ra = self.values(node.body, at, depth + 1)
            b, rb = self.values(node.orelse, at, depth + 1)
            return a + b, ra or rb
        if isinstance(node, ast.Name):
            assigned = self._assigned(node.id, at)
            if not assigned:
                return [], True
            out, relays = [], False
            for value in assigned:
                v, r = self.values(value, value, depth + 1)
                out += v
                relays = relays or r
            return out, relays
        if isinstance(node, ast.Subscript):  # CODES[x]
            table = self._dict(node.value, at)
            if table is not None:
                return [(v, k) for k, v in table], False
            return [], True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            table = self._dict(node.func.value, at)
            default = node.args[1:2] or [kw.value for kw in node.keywords if kw.arg == "default"]
            out, relays = [], table is None  # x.get("code", "X"): X, or whatever x carried
            if table is not None:
                out = [(v, k) for k, v in table]
            if default:
                v, r = self.values(default[0], at, depth + 1)
                out += v
                relays = relays or r
            elif table is not None:
                out.append((None, None))
            return out, relays
        if isinstance(node, ast.Call) and _name(node.func) == "getattr" and len(node.args) == 3:
            v, _ = self.values(node.args[2], at, depth + 1)  # getattr(e, "code", "X"): X, or e's code
            return v, True
        return [], True

    def _dict(self, node: ast.expr, at: ast.AST) -> list[tuple[object, object]] | None:
        if isinstance(node, ast.Name):
            assigned = self._assigned(node.id, at)
            node = assigned[0] if len(assigned) == 1 else node
        if isinstance(node, ast.Dict) and all(
            isinstance(k, ast.Constant) and isinstance(v, ast.Constant) for k, v in zip(node.keys, node.values)
        ):
            return [(k.value, v.value) for k, v in zip(node.keys, node.values)]
        return None

    def _assigned(self, name: str, at: ast.AST) -> list[ast.expr]:
        """Values assigned to ``name`` in the enclosing function, else at module level."""
        scope = _enclosing(at, (ast.FunctionDef, ast.AsyncFunctionDef))
        if scope is not None:
            if name in {a.arg for a in scope.args.args + scope.args.kwonlyargs + scope.args.posonlyargs}:
                return []  # a parameter: known only to the caller
            found = [
                n.value
                for n in ast.walk(scope)
                if isinstance(n, ast.Assign)
                for t in n.targets
                if isinstance(t, ast.Name) and t.id == name
            ]
            if found:
                return found
        return [self.module[name]] if name in self.module else []


def collect(root: Path = ROOT) -> Catalogue:
    trees = {p.relative_to(root).as_posix(): _parse(p) for p in source_files(root)}
    classes = collect_classes(trees)
    sites: list[Site] = []
    dynamic: list[Dynamic] = []

    def add(path, node, cls_name, code_node, status_node, message):
        """Record the codes of one site; code_node/status_node None means the class's."""
        code_path = status_path = path
        own_code = code_node is not None or _is_definition_node(node)
        if code_node is None:
            code_node, owner = _inherited(cls_name, "code", classes)
            code_path = classes[owner].path
        if status_node is None and cls_name:
            status_node, owner = _inherited(cls_name, "status", classes)
            status_path = classes[owner].path
        codes, relays = resolvers[code_path].values(code_node, code_node)
        statuses = (
            set()
            if status_node is None
            else {  # a dict with no status anywhere: VARIES
                v
                for v, _ in resolvers[status_path].values(status_node, status_node)[0]
                if isinstance(v, int) and not isinstance(v, bool)
            }
        )
        for code, key in codes:
            if not isinstance(code, str):
                continue
            if isinstance(key, int) and not isinstance(status_node, ast.Constant):
                status = key  # looked up by the status itself: {404: "NOT_FOUND"}.get(e.status, ...)
            else:
                status = next(iter(statuses)) if len(statuses) == 1 else VARIES
            sites.append(
                Site(
                    code,
                    status,
                    cls_name or "—",
                    path,
                    node.lineno,
                    _where(node),
                    message,
                    _fallback(node, cls_name, status),
                )
            )
        if own_code and not isinstance(code_node, ast.Constant):  # once, where it is written
            dynamic.append(
                Dynamic(
                    path,
                    node.lineno,
                    _where(node),
                    ast.unparse(code_node),
                    sorted({c for c, _ in codes if isinstance(c, str)}),
                    relays,
                )
            )

    resolvers = {path: _Resolver(tree) for path, tree in trees.items()}
    for cls in classes.values():  # every class's own code, raised or not
        if cls.code is not None:
            node = cls.code
            add(cls.path, node, cls.name, None, None, "")
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in classes:
                kw = {k.arg: k.value for k in node.keywords}
                for splat in (k.value for k in node.keywords if k.arg is None):
                    if not _harmless_splat(splat, trees):
                        dynamic.append(Dynamic(path, node.lineno, _where(node), "**" + ast.unparse(splat)))
                add(
                    path,
                    node,
                    _name(node.func),
                    kw.get("code"),
                    kw.get("status"),
                    _message(resolvers[path], node.args[0]) if node.args else "",
                )
            elif (
                isinstance(node, ast.Raise)
                and node.exc is not None
                and _name(node.exc) in classes
                and not isinstance(node.exc, ast.Call)
            ):
                add(path, node, _name(node.exc), None, None, "")
            elif isinstance(node, ast.Dict):
                keys = {k.value: v for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant)}
                if "code" not in keys or not ("status" in keys or _in_errors_list(node)):
                    continue
                status = keys.get("status") or _call_keyword(node, "status")
                add(path, node, "", keys["code"], status, _message(resolvers[path], keys.get("message")))
    # a class's own code counts as a site only through the class: drop the definition line itself
    # when the class is raised elsewhere, keep it when never raised (it is still answerable by a subclass
    # or a caller we cannot see, and its definition is where a reader finds it)
    raised = {(s.code, s.cls) for s in sites if not _is_definition(s, classes)}
    sites = [s for s in sites if not _is_definition(s, classes) or (s.code, s.cls) not in raised]
    return Catalogue(classes, sites, dynamic)


def _fallback(node: ast.AST, cls_name: str, status) -> str:
    """For a site with no readable message: the exception it answers for, or the class raised."""
    if _is_definition_node(node):
        return f"`{cls_name}` raised without a code of its own (no site does so by name today)"
    handler = _enclosing(node, (ast.ExceptHandler, ast.FunctionDef, ast.AsyncFunctionDef))
    if not isinstance(handler, ast.ExceptHandler):
        return f"raised as `{cls_name}`" if cls_name else f"written by `{_where(node)}`"
    caught = ast.unparse(handler.type) if handler.type is not None else "BaseException"
    if caught == "Exception":
        return f"`{_where(node)}` answers any other exception with it"
    with_status = f" with status {status}" if isinstance(status, int) and not cls_name else ""
    return f"`{_where(node)}` answers a `{caught}`{with_status} with it"


def _is_definition_node(node: ast.AST) -> bool:
    """Whether the node is the value of a class-level ``code = ...``."""
    parent = getattr(node, "parent", None)
    return isinstance(parent, ast.Assign) and isinstance(getattr(parent, "parent", None), ast.ClassDef)


def _is_definition(site: Site, classes: dict[str, ErrorClass]) -> bool:
    cls = classes.get(site.cls)
    return cls is not None and cls.code is not None and site.path == cls.path and site.line == cls.code.lineno


def _harmless_splat(node: ast.expr, trees: dict[str, ast.Module]) -> bool:
    """Whether ``**x`` cannot carry a code or a status: a dict display (or a choice of them) without
    those keys, or the function's own ``**kwargs`` when no call of the function passes them."""
    if isinstance(node, ast.IfExp):
        return _harmless_splat(node.body, trees) and _harmless_splat(node.orelse, trees)
    if isinstance(node, ast.Dict):
        return all(isinstance(k, ast.Constant) and k.value not in ("code", "status") for k in node.keys)
    scope = _enclosing(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    if isinstance(node, ast.Name) and scope is not None and scope.args.kwarg and scope.args.kwarg.arg == node.id:
        calls = [
            c
            for tree in trees.values()
            for c in ast.walk(tree)
            if isinstance(c, ast.Call) and _name(c.func) == scope.name
        ]
        return all(kw.arg not in (None, "code", "status") for c in calls for kw in c.keywords)
    return False


def _in_errors_list(node: ast.Dict) -> bool:
    """Whether the dict is an item of ``{"errors": [...]}``."""
    lst = getattr(node, "parent", None)
    outer = getattr(lst, "parent", None)
    return (
        isinstance(lst, ast.List)
        and isinstance(outer, ast.Dict)
        and any(
            isinstance(k, ast.Constant) and k.value == "errors" and v is lst for k, v in zip(outer.keys, outer.values)
        )
    )


def _call_keyword(node: ast.AST, name: str) -> ast.expr | None:
    """The ``name=`` keyword of the nearest call the node is an argument of."""
    while (node := getattr(node, "parent", None)) is not None and not isinstance(node, ast.stmt):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == name:
                    return kw.value
    return None


# --- writing the catalogue -------------------------------------------------------------------

HEADER = """\
# Error codes

Generated from the code by `scripts/error_codes.py --write` (which reads `host/` and
`plugin_email_manager/` with `ast`); do not edit by hand. `tests/test_error_codes.py` fails when
a code the server can answer is missing here, or when this file is stale.

Every error answer of the REST form is `{"errors": [{"message": "...", "code": "...", ...}]}` with
an HTTP status:

- `code` is stable: a client branches on it (and on the extra keys the error carries, such as
  `retryAfter`, `field`, `draftId`), never on `message`, which is for a person and may change.
- `status` is the HTTP status of the answer; one code always comes with the same status.
- JSON-RPC (`POST /api/rpc`, see `host/rpc.py`) answers the same errors as `error`, with the
  `error.code` of the JSON-RPC column: `-32602` (invalid params) for bad input (a `BadRequest`),
  `-32601` (method not found) for `UNKNOWN_ACTION`, `-32000` for the rest; `error.data` is the
  REST error object above with its HTTP `status` added. The envelope's own errors (`-32700` parse
  error, `-32600` invalid request) carry no `code` of ours.

A *class* of `—` is an error written as a dict (by the REST middleware, or relayed from the process
that syncs the account) rather than raised; a JSON-RPC of `—`, one only the REST form answers.
"""


def rpc_codes(cat: Catalogue, code: str, classes: set[str]) -> str:
    """The JSON-RPC ``error.code`` the code comes with ("—": only the REST form answers it)."""
    found = {
        next(rpc for base, rpc in RPC_CODES if _is_error(cls, cat.classes, stop=base)) for cls in classes if cls != "—"
    }
    if not found:
        found = {-32000 if code == "INTERNAL_ERROR" else "—"}
    return ", ".join(str(c) for c in sorted(found, key=str))


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(cat: Catalogue) -> str:
    codes = cat.codes()
    out = [
        HEADER,
        f"## The {len(codes)} codes\n",
        "| code | status | JSON-RPC | class | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for code, e in codes.items():
        statuses = ", ".join(str(s) for s in sorted(e["statuses"], key=str))
        classes = ", ".join(f"`{c}`" if c != "—" else c for c in sorted(e["classes"]))
        rpc = rpc_codes(cat, code, e["classes"])
        out.append(f"| `{code}` | {statuses} | {rpc} | {classes} | {_cell(e['meaning'])} |")
    out += ["", "## Where each code is answered\n"]
    for code, e in codes.items():
        sites = ", ".join(e["sites"]) or "(defined, not raised by name)"
        out.append(f"- `{code}`: {sites}")
    out += [
        "",
        "## Codes not written as literals\n",
        "Each site whose code is computed, and the codes it was resolved to. *relays* means it",
        "also passes on a code received from elsewhere (each catalogued where it is raised).\n",
        "| site | expression | resolves to |",
        "| --- | --- | --- |",
    ]
    for d in sorted(cat.dynamic, key=lambda d: (d.path, d.line)):
        resolved = ", ".join(f"`{c}`" for c in d.resolved) or "**unresolved**"
        out.append(
            f"| {d.path}:{d.line} ({d.where}) | `{_cell(d.expression)}` | "
            f"{resolved}{' (relays)' if d.relays and d.resolved else ''} |"
        )
    multi = {c: e for c, e in codes.items() if len(e["statuses"]) > 1 or VARIES in e["statuses"]}
    if multi:
        out += ["", "## Codes without a single status\n"]
        for code in multi:
            why = DELIBERATE_MULTI_STATUS.get(code, "**not deliberate: a bug to mend**")
            out.append(f"- `{code}`: {why}")
    return "\n".join(out) + "\n"


def problems(cat: Catalogue) -> list[str]:
    """What the catalogue forbids: a code not UPPER_SNAKE_CASE, a code with two statuses (unless
    deliberate), a site whose code cannot be resolved."""
    found = []
    for code, e in cat.codes().items():
        if not re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*", code):
            found.append(f"{code}: not UPPER_SNAKE_CASE ({', '.join(e['sites'])})")
        if (len(e["statuses"]) > 1 or VARIES in e["statuses"]) and code not in DELIBERATE_MULTI_STATUS:
            found.append(f"{code}: answered with statuses {sorted(e['statuses'], key=str)} ({', '.join(e['sites'])})")
    for d in cat.dynamic:
        if not d.resolved:
            found.append(f"{d.path}:{d.line} ({d.where}): code `{d.expression}` cannot be resolved")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write {DOC.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    cat = collect()
    text = render(cat)
    if args.write:
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
        print(f"wrote {DOC.relative_to(ROOT)}: {len(cat.codes())} codes", file=sys.stderr)
    else:
        sys.stdout.write(text)
    for problem in problems(cat):
        print(f"error-codes: {problem}", file=sys.stderr)
    return 1 if problems(cat) else 0


if __name__ == "__main__":
    sys.exit(main())
