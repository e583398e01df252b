"""The operator's commands, run as an operator runs them: ``email-center ...`` in a subprocess,
on a throwaway database, then checked through the API a person uses."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import asyncpg

from host.auth import CACHE_SECONDS
from tests.servers.app import SECRET_KEY, running_server

ROOT = Path(__file__).resolve().parents[2]


def email_center(
    *args: str, database_url: str | None = None, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "email-center"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "host.cli"]
    base = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_CENTER_")}
    extra = {"EMAIL_CENTER_DATABASE_URL": database_url} if database_url else {}
    return subprocess.run(
        [*cmd, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, "PYTHONPATH": str(ROOT), "EMAIL_CENTER_SECRET_KEY": SECRET_KEY, **extra, **(env or {})},
    )


async def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """``email_center`` without blocking the event loop (an in-process server may be running)."""
    return await asyncio.to_thread(email_center, *args, **kwargs)


def refused(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, (result.returncode, result.stdout, result.stderr)
    return lines[0]


def test_version_prints_the_installed_package_version():
    result = email_center("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"email-center {metadata.version('email-center')}"


async def test_migrate_creates_the_tables_says_what_ran_and_then_that_nothing_is_left(database_url):
    first = await run("migrate", database_url=database_url)
    assert first.returncode == 0, first.stderr
    assert "users v1: CREATE TABLE" in first.stdout and "email_manager migration 1" in first.stdout
    conn = await asyncpg.connect(database_url)
    try:
        tables = {
            r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert {"users", "auth_tokens", "mail_accounts", "mail_messages", "host_migrations"} <= tables
    finally:
        await conn.close()
    again = await run("migrate", database_url=database_url)
    assert again.returncode == 0 and again.stdout.strip() == "The database is up to date.", again


async def test_a_user_made_on_the_command_line_signs_in_over_the_api(database_url):
    made = await run(
        "create-user",
        "Ann@Example.test",
        "--nickname",
        "Ann",
        "--password-stdin",
        database_url=database_url,
        stdin="ann-pass-1234\n",
    )
    assert made.returncode == 0, made.stderr
    boss = await run(
        "create-user",
        "boss@example.test",
        "--root",
        "--password-stdin",
        database_url=database_url,
        stdin="boss-pass-1234\n",
    )
    assert boss.returncode == 0, boss.stderr

    assert "exists already" in refused(
        await run(
            "create-user", "ann@example.test", "--password-stdin", database_url=database_url, stdin="other-pass-1234\n"
        )
    )
    assert "at least 8" in refused(
        await run("create-user", "short@example.test", "--password-stdin", database_url=database_url, stdin="short\n")
    )

    async with running_server(database_url) as client:
        status, body = await client.api(None, "auth:signIn", {"email": "ann@example.test", "password": "ann-pass-1234"})
        assert status == 200, body
        assert body["data"]["user"] | {"id": 0} == {
            "id": 0,
            "email": "ann@example.test",
            "nickname": "Ann",
            "role": "member",
        }
        status, body = await client.api(
            None, "auth:signIn", {"email": "boss@example.test", "password": "boss-pass-1234"}
        )
        assert status == 200 and body["data"]["user"]["role"] == "root", body
        # the refused ones stored nothing
        status, _ = await client.api(None, "auth:signIn", {"email": "short@example.test", "password": "short"})
        assert status == 401
        status, _ = await client.api(None, "auth:signIn", {"email": "ann@example.test", "password": "other-pass-1234"})
        assert status == 401


async def test_reset_password_makes_the_old_one_fail_the_new_one_work_and_old_tokens_401(database_url):
    async with running_server(database_url) as client:
        token = await client.member("bea@example.test", "old-pass-1234")
        assert (await client.api(token, "auth:check", method="GET"))[0] == 200  # cached by the server now
        for _ in range(3):
            status, _ = await client.api(None, "auth:signIn", {"email": "bea@example.test", "password": "wrong-guess"})
            assert status == 401
        assert await client.host.db.fetchval("SELECT count(*) FROM auth_attempts WHERE email = 'bea@example.test'") == 3

        assert "at least 8" in refused(
            await run(
                "reset-password", "bea@example.test", "--password-stdin", database_url=database_url, stdin="short\n"
            )
        )
        assert "No user" in refused(
            await run(
                "reset-password",
                "nobody@example.test",
                "--password-stdin",
                database_url=database_url,
                stdin="new-pass-1234\n",
            )
        )
        reset = await run(
            "reset-password", "bea@example.test", "--password-stdin", database_url=database_url, stdin="new-pass-1234\n"
        )
        assert reset.returncode == 0, reset.stderr

        assert await client.host.db.fetchval("SELECT count(*) FROM auth_attempts WHERE email = 'bea@example.test'") == 0
        status, _ = await client.api(None, "auth:signIn", {"email": "bea@example.test", "password": "old-pass-1234"})
        assert status == 401
        assert await client.sign_in("bea@example.test", "new-pass-1234")
        # another process revoked it: this server sees that once its token cache expires
        deadline = time.monotonic() + CACHE_SECONDS + 5
        while (
            status := (await client.api(token, "auth:check", method="GET"))[0]
        ) == 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        assert status == 401
