"""docs/error-codes.md is the catalogue of every error code the server answers, generated from the
code by scripts/error_codes.py. These tests fail when a raised code is missing from it, when it is
stale, or when a code breaks the rules (UPPER_SNAKE_CASE, one status, readable at its site).

Codes, statuses and classes are compared; file:line lists are not, so moving a module does not
fail the test (regenerate with ``scripts/error_codes.py --write`` all the same).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "regenerate it: .venv/bin/python scripts/error_codes.py --write"


def _load_script():
    spec = importlib.util.spec_from_file_location("error_codes", ROOT / "scripts" / "error_codes.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


error_codes = _load_script()


@pytest.fixture(scope="module")
def catalogue():
    return error_codes.collect()


def _table(text: str, heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the Markdown table under ``## heading...``."""
    section = re.search(rf"^## {re.escape(heading)}.*?\n(.*?)(?=^## |\Z)", text, re.DOTALL | re.MULTILINE)
    assert section, f"docs/error-codes.md has no section '{heading}': {REGENERATE}"
    rows = [line for line in section.group(1).splitlines() if line.startswith("|")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows[2:]]


def _codes_table(text: str) -> dict[str, tuple[str, ...]]:
    """code -> (status, JSON-RPC code, class): the columns that do not drift as modules move."""
    return {row[0].strip("`"): tuple(row[1:4]) for row in _table(text, "The ")}


def _dynamic_table(text: str) -> set[tuple[str, str]]:
    """(expression, what it resolves to), without the site: a moved module must not fail this."""
    return {(row[1], row[2]) for row in _table(text, "Codes not written as literals")}


def test_every_code_the_server_answers_is_in_the_catalogue_with_its_status_and_class(catalogue):
    documented = _codes_table((ROOT / "docs" / "error-codes.md").read_text(encoding="utf-8"))
    generated = _codes_table(error_codes.render(catalogue))
    missing = sorted(set(generated) - set(documented))
    gone = sorted(set(documented) - set(generated))
    changed = {
        c: (documented[c], generated[c]) for c in set(generated) & set(documented) if documented[c] != generated[c]
    }
    assert not missing, f"raised but not in docs/error-codes.md: {missing}; {REGENERATE}"
    assert not gone, f"in docs/error-codes.md but raised nowhere: {gone}; {REGENERATE}"
    assert not changed, f"(status, JSON-RPC, class) in the file vs in the code: {changed}; {REGENERATE}"


def test_every_computed_code_is_listed_in_the_catalogue(catalogue):
    text = (ROOT / "docs" / "error-codes.md").read_text(encoding="utf-8")
    generated = error_codes.render(catalogue)
    assert _dynamic_table(text) == _dynamic_table(generated), REGENERATE
    multi = re.search(r"^## Codes without a single status\n.*?(?=^## |\Z)", generated, re.DOTALL | re.MULTILINE)
    if multi:
        assert multi.group(0).strip() in text, REGENERATE


def test_every_code_is_upper_snake_case_with_one_status_and_readable_at_its_site(catalogue):
    # two statuses for one code is a bug unless error_codes.DELIBERATE_MULTI_STATUS says why
    assert error_codes.problems(catalogue) == []


def test_the_catalogue_finds_literal_class_computed_and_hidden_codes(tmp_path):
    # the scanner itself: a tree it must read right, so that an empty catalogue cannot pass
    (tmp_path / "host").mkdir()
    shutil.copy(ROOT / "host" / "errors.py", tmp_path / "host" / "errors.py")
    (tmp_path / "plugin_email_manager" / "deep").mkdir(parents=True)
    (tmp_path / "plugin_email_manager" / "deep" / "mod.py").write_text(
        '''
from host import errors
from host.errors import BadRequest, HostError, NotFound

CODES = {"a": "FROM_TABLE"}

class Gone(NotFound):
    """The thing went away."""
    code = "GONE"

def f(x, code):
    raise BadRequest(f"bad {x}", code="LITERAL_ONE")
    raise errors.BadRequest("same code, another status", code="TWICE")
    raise HostError("same code, another status", code="TWICE", status=409)
    raise Gone
    raise BadRequest("looked up", code=CODES[x])
    raise BadRequest("from the caller", code=code)
    raise HostError("hidden", **x)
    return {"errors": [{"message": "written", "code": "lowerCase"}]}
''',
        encoding="utf-8",
    )
    cat = error_codes.collect(tmp_path)
    codes = cat.codes()
    assert codes["LITERAL_ONE"]["statuses"] == {400}
    assert codes["LITERAL_ONE"]["meaning"] == "bad {x}"
    assert codes["GONE"]["statuses"] == {404} and codes["GONE"]["meaning"] == "The thing went away."
    assert codes["FROM_TABLE"]["classes"] == {"BadRequest"}
    assert codes["TWICE"]["statuses"] == {400, 409}
    assert "lowerCase" in codes
    problems = "\n".join(error_codes.problems(cat))
    assert "TWICE: answered with statuses [400, 409]" in problems
    assert "lowerCase: not UPPER_SNAKE_CASE" in problems
    assert "code `code` cannot be resolved" in problems
    assert "code `**x` cannot be resolved" in problems
