"""``email-center serve`` with no database URL and no ``pgserver`` (the optional extra ``embedded``,
which has wheels for x86_64 Linux up to Python 3.12 only): it stops with exit status 2 and one line
that says how to get either, not with a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from host.db.embedded import MISSING
from tests.servers.app import SECRET_KEY
from tests.servers.net import free_port

ROOT = Path(__file__).resolve().parents[2]
HIDERS = {
    # not installed: a meta-path entry of None makes both the import and find_spec miss it
    "not installed": ("sitecustomize.py", "import sys\nsys.modules['pgserver'] = None\n"),
    # installed but unusable, e.g. a wheel for another platform left behind
    "cannot import": ("pgserver.py", "raise ImportError('pgserver: no binaries for this platform')\n"),
}


@pytest.mark.parametrize("how", HIDERS)
def test_serve_without_a_database_url_or_pgserver_says_how_to_get_one(tmp_path, how):
    hide = tmp_path / "hide"
    hide.mkdir()
    name, code = HIDERS[how]
    (hide / name).write_text(code)
    env = {k: v for k, v in os.environ.items() if k != "EMAIL_CENTER_DATABASE_URL"}
    env.update(
        PYTHONPATH=os.pathsep.join([str(hide), str(ROOT)]),
        EMAIL_CENTER_SECRET_KEY=SECRET_KEY,
        INIT_ROOT_EMAIL="root@example.test",
        INIT_ROOT_PASSWORD="root-pass-1234",
    )
    exe = Path(sys.executable).parent / "email-center"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "host.cli"]
    run = subprocess.run(
        [*cmd, "serve", "--port", str(free_port())], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    lines = run.stderr.splitlines()
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"email-center: cannot start: {MISSING}" in lines, run.stderr
    assert MISSING.startswith("no database: set EMAIL_CENTER_DATABASE_URL=postgresql://")
    assert "pip install 'email-center[embedded]'" in MISSING
    assert "Traceback" not in run.stderr, run.stderr
    assert not (tmp_path / "storage" / "pgdata").exists()
