"""The real server for tests: in-process (``running_server``) or as ``email-center serve``
subprocesses (``ServerProcess``), with a root user and an HTTP client that speaks the contract.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from host.app import create_app
from host.config import Config
from tests.servers.net import free_port

ROOT_EMAIL, ROOT_PASSWORD = "root@example.test", "root-pass-1234"
SECRET_KEY = base64.urlsafe_b64encode(b"t" * 32).decode()
DEMO_PLUGIN = Path(__file__).resolve().parents[1] / "host" / "plugins" / "demo" / "plugin.toml"


@dataclass
class Client:
    base_url: str
    session: aiohttp.ClientSession
    root_token: str | None = None
    app: web.Application | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        query: dict | None = None,
        raw: bytes | None = None,
        headers: dict | None = None,
    ):
        """Answers (status, parsed JSON or bytes)."""
        h = {"Content-Type": "application/json", **(headers or {})}
        if token:
            h["Authorization"] = f"Bearer {token}"
        q = {
            k: (json.dumps(v) if isinstance(v, (dict, list)) and k == "filter" else v) for k, v in (query or {}).items()
        }
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        async with self.session.request(method, self.base_url + path, params=_flat(q), data=data, headers=h) as r:
            payload = await r.read()
            try:
                return r.status, json.loads(payload) if payload else None
            except ValueError:
                return r.status, payload

    async def api(
        self, token: str | None, action: str, body: Any = None, query: dict | None = None, method: str = "POST"
    ):
        return await self.call(method, f"/api/{action}", token, body=body, query=query)

    async def sign_in(self, email: str, password: str) -> str | None:
        status, body = await self.call("POST", "/api/auth:signIn", body={"email": email, "password": password})
        return body["data"]["token"] if status == 200 else None

    async def member(self, email: str, password: str = "member-pass-1234") -> str:
        status, body = await self.api(
            self.root_token, "users:create", {"email": email, "password": password, "nickname": email.split("@")[0]}
        )
        assert status == 200, body
        token = await self.sign_in(email, password)
        self.tokens[email] = token
        return token

    @property
    def host(self):
        from host import keys

        return self.app[keys.HOST]


def _flat(query: dict) -> list[tuple[str, str]]:
    out = []
    for k, v in query.items():
        for item in v if isinstance(v, list) else [v]:
            out.append(
                (
                    k,
                    item
                    if isinstance(item, str)
                    else json.dumps(item)
                    if not isinstance(item, (int, float))
                    else str(item),
                )
            )
    return out


@contextlib.asynccontextmanager
async def running_server(
    database_url: str, *, plugins: tuple[Path, ...] = (), env: dict[str, str] | None = None, entry_points: bool = True
):
    """The real app in this process on a free port; yields a signed-in ``Client`` (root)."""
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    os.environ.setdefault("EMAIL_CENTER_SECRET_KEY", SECRET_KEY)
    port = free_port()
    storage = Path(tempfile.mkdtemp(prefix="ec-storage-"))
    config = Config(
        database_url=database_url,
        port=port,
        storage=storage,
        plugin_manifests=list(plugins),
        entry_points=entry_points,
        root_email=ROOT_EMAIL,
        root_password=ROOT_PASSWORD,
    )
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(f"http://127.0.0.1:{port}", session, app=app)
            client.root_token = await client.sign_in(ROOT_EMAIL, ROOT_PASSWORD)
            yield client
    finally:
        await runner.cleanup()
        shutil.rmtree(storage, ignore_errors=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class ServerProcess:
    """``email-center serve`` as a subprocess (for tests of several processes on one database)."""

    def __init__(self, database_url: str | None, *, plugins: tuple[Path, ...] = (), env: dict[str, str] | None = None):
        """``database_url=None``: the server runs its embedded PostgreSQL under ``self.dir``."""
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.dir = Path(tempfile.mkdtemp(prefix="ec-proc-"))
        self.log = self.dir / "server.log"
        self.env = {
            **os.environ,
            "EMAIL_CENTER_DATABASE_URL": database_url,
            "INIT_ROOT_EMAIL": ROOT_EMAIL,
            "INIT_ROOT_PASSWORD": ROOT_PASSWORD,
            "EMAIL_CENTER_SECRET_KEY": SECRET_KEY,
            "EMAIL_CENTER_PLUGINS": os.pathsep.join(str(p) for p in plugins),
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            **(env or {}),
        }
        if database_url is None:
            del self.env["EMAIL_CENTER_DATABASE_URL"]

    async def start(self, wait: float = 60) -> "ServerProcess":
        exe = Path(sys.executable).parent / "email-center"
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "host.cli"]
        self.proc = subprocess.Popen(
            [*cmd, "serve", "--port", str(self.port)],
            env=self.env,
            cwd=self.dir,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        end = time.monotonic() + wait
        async with aiohttp.ClientSession() as s:
            while time.monotonic() < end:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with s.get(self.base_url + "/api/health") as r:
                        if r.status == 200:
                            return self
                await asyncio.sleep(0.2)
        raise RuntimeError(f"server not healthy in {wait}s: {self.log.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
