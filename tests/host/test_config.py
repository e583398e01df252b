"""A bad configuration stops start-up before anything starts: one line naming the variable and
what it must be, exit status 2, the database untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from host.config import Config
from host.errors import ConfigError
from tests.servers.app import SECRET_KEY
from tests.servers.net import free_port

ROOT = Path(__file__).resolve().parents[2]


def serve(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "email-center"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "host.cli"]
    base = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_CENTER_")}
    return subprocess.run(
        [*cmd, "serve", "--port", str(free_port())],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, "PYTHONPATH": str(ROOT), "EMAIL_CENTER_SECRET_KEY": SECRET_KEY, **env},
    )


def one_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, (result.returncode, result.stdout, result.stderr)
    return lines[0]


@pytest.mark.parametrize(
    "name, value, must",
    [
        ("EMAIL_CENTER_TOKEN_TTL", "abc", "whole number"),
        ("EMAIL_CENTER_TOKEN_TTL", "-5", "at least 1"),
        ("EMAIL_CENTER_DATABASE_URL", "mysql://x", "postgresql://"),
        ("EMAIL_CENTER_PUBLIC_URL", "example.com", "http://"),
        ("INIT_ROOT_EMAIL", "not an address", "email address"),
    ],
)
def test_a_malformed_variable_is_named_with_what_it_must_be(name, value, must):
    with pytest.raises(ConfigError) as caught:
        Config.from_environment({name: value})
    assert name in str(caught.value) and must in str(caught.value) and repr(value) in str(caught.value)


def test_a_malformed_token_ttl_stops_serve_in_one_line_before_the_database(tmp_path):
    # the database address leads nowhere: the answer must be about the TTL, not the database
    line = one_line(
        serve(
            {
                "EMAIL_CENTER_TOKEN_TTL": "abc",
                "EMAIL_CENTER_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x",
            },
            tmp_path,
        )
    )
    assert "EMAIL_CENTER_TOKEN_TTL" in line and "whole number" in line


def test_a_malformed_plugin_setting_stops_serve(tmp_path):
    line = one_line(
        serve(
            {
                "EMAIL_CENTER_SYNC_INTERVAL": "soon",
                "EMAIL_CENTER_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x",
            },
            tmp_path,
        )
    )
    assert "EMAIL_CENTER_SYNC_INTERVAL" in line and "number" in line


def test_a_bad_log_level_stops_serve(tmp_path):
    line = one_line(serve({"EMAIL_CENTER_LOG_LEVEL": "LOUD"}, tmp_path))
    assert "EMAIL_CENTER_LOG_LEVEL" in line and "DEBUG" in line


async def test_a_bad_secret_key_stops_serve_before_the_database_is_migrated(pg_cluster, tmp_path):
    url = pg_cluster.create_database()
    line = one_line(serve({"EMAIL_CENTER_SECRET_KEY": "too-short", "EMAIL_CENTER_DATABASE_URL": url}, tmp_path))
    assert "EMAIL_CENTER_SECRET_KEY" in line and "Fernet key" in line
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
    finally:
        await conn.close()
