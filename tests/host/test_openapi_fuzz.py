"""The OpenAPI document describes the real API, and schemathesis finds no 500 and no hang in it.

The server is ``email-center serve`` with the email plugin, on a fresh database, as a subprocess:
schemathesis is synchronous and must not share an event loop with the server it calls. The fuzz
runs in rounds, each a ``schemathesis run`` with its own token, ordered so that no round can take
away what a later one needs (a run can sign its own token out, or delete or demote root):

1. a member, on every operation but those of the later rounds (writes included: a member's
   writes reach only its own rows, so they cannot wipe what the fuzz needs);
2. root, on the operations only root may call (users, mailSettings), but users:update and
   users:destroy;
3. a second member on /api/rpc (its methods include auth:signOut, which may end its token);
4. a third member on auth:signOut, which ends its token;
5. root on users:update and users:destroy, last: they may demote or delete root itself.

Generation is deterministic (``--generation-deterministic``, no crash cache) with a few examples
per operation, so CI sees the same cases each run in about a minute; a request taking over
``REQUEST_TIMEOUT`` seconds is a failure (a hang).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import Request, urlopen

import asyncpg
import pytest

from host.secrets import SecretBox
from tests.servers.app import ROOT_EMAIL, ROOT_PASSWORD, SECRET_KEY, ServerProcess

REQUEST_TIMEOUT = 10
MAX_EXAMPLES = 20

LATER_ROUNDS = ("rpc", "auth:signOut", "users:update", "users:destroy")


def _post(base_url: str, path: str, body: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    with urlopen(Request(base_url + path, json.dumps(body).encode(), headers), timeout=30) as r:
        return json.loads(r.read())


async def _seed_mail(database_url: str, email: str) -> None:
    """Mail of the member, written as a sync would have left it, so that the fuzz's small ids
    (hypothesis tries 1, 2, ... first) reach real rows: an account whose servers refuse at once
    (port 9 on this machine), a folder, a conversation of two messages, an attachment."""
    raw = b"From: Ann <ann@example.test>\r\nSubject: Hello\r\n\r\nHi there.\r\n"
    db = await asyncpg.connect(database_url)
    try:
        user_id = await db.fetchval("SELECT id FROM users WHERE email = $1", email)
        account = await db.fetchval(
            "INSERT INTO mail_accounts (user_id, provider, email, username, imap_host, imap_port, imap_security, "
            "smtp_host, smtp_port, smtp_security, secret, status, append_sent) VALUES ($1, 'imap', $2, $2, "
            "'127.0.0.1', 9, 'none', '127.0.0.1', 9, 'none', $3, 'error', false) RETURNING id",
            user_id,
            email,
            SecretBox(SECRET_KEY).encrypt({"password": "pw"}),
        )
        folder = await db.fetchval(
            "INSERT INTO mail_folders (account_id, name, delimiter, type, uid_validity, "
            "uid_next) VALUES ($1, 'INBOX', '/', 'inbox', 1, 3) RETURNING id",
            account,
        )
        for uid, reply_to in ((1, None), (2, "<m1@example.test>")):
            message = await db.fetchval(
                "INSERT INTO mail_messages (account_id, folder_id, uid, type, message_id, in_reply_to, refs, "
                "thread_id, subject, from_addr, to_addrs, cc_addrs, bcc_addrs, reply_to_addrs, date, snippet, "
                "text, html, read, flagged, answered, has_attachments, size, labels, flags, parse_state, raw) "
                "VALUES ($1, $2, $3, 'inbox', $4, $5, $6::jsonb, NULL, 'Hello', "
                "'{\"name\": \"Ann\", \"address\": \"ann@example.test\"}', $7::jsonb, '[]', '[]', '[]', now(), "
                "'Hi there.', 'Hi there.', '<p>Hi <img src=\"cid:logo\"></p>', false, false, false, true, "
                "$8, '[]', '[]', 'done', $9) RETURNING id",
                account,
                folder,
                uid,
                f"<m{uid}@example.test>",
                reply_to,
                json.dumps([reply_to] if reply_to else []),
                json.dumps([{"name": "", "address": email}]),
                len(raw),
                raw,
            )
            await db.execute(
                "INSERT INTO mail_attachments (mail_message_id, filename, content_type, size, "
                "content_id, inline, content) VALUES ($1, 'logo.png', 'image/png', 4, 'logo', true, "
                "'\\x89504e47')",
                message,
            )
        await db.execute(
            "UPDATE mail_messages SET thread_id = (SELECT min(id) FROM mail_messages "
            "WHERE account_id = $1) WHERE account_id = $1",
            account,
        )
    finally:
        await db.close()


@pytest.fixture(scope="module")
def live(pg_cluster):
    """A running server with root and three members signed in: (server, {name: token})."""
    server = ServerProcess(pg_cluster.create_database())
    asyncio.run(server.start())
    try:
        tokens = {
            "root": _post(server.base_url, "/api/auth:signIn", {"email": ROOT_EMAIL, "password": ROOT_PASSWORD})[
                "data"
            ]["token"]
        }
        for name in ("member", "rpc", "signout"):
            email, password = f"fuzz-{name}@example.test", "member-pass-1234"
            _post(server.base_url, "/api/users:create", {"email": email, "password": password}, tokens["root"])
            tokens[name] = _post(server.base_url, "/api/auth:signIn", {"email": email, "password": password})["data"][
                "token"
            ]
        asyncio.run(_seed_mail(server.env["EMAIL_CENTER_DATABASE_URL"], "fuzz-member@example.test"))
        yield server, tokens
    finally:
        server.stop()


def _document(server) -> dict:
    with urlopen(server.base_url + "/api/openapi.json", timeout=30) as r:
        return json.loads(r.read())


def test_the_document_is_valid_openapi_3_1_with_typed_fields(live):
    import schemathesis

    server, _ = live
    doc = _document(server)
    assert doc["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(doc).validate()  # against the OpenAPI 3.1 meta-schema

    messages = doc["components"]["schemas"]["mailMessages"]["properties"]
    assert messages["subject"]["type"] == ["string", "null"]
    assert messages["read"]["type"] in ("boolean", ["boolean", "null"])
    assert messages["date"]["format"] == "date-time"
    accounts = doc["components"]["schemas"]["mailAccounts"]["properties"]
    assert "secret" not in accounts and "password" not in accounts  # secrets are never answered
    settings = doc["components"]["schemas"]
    assert "clientSecret" not in settings["mailSettings"]["properties"]
    assert settings["mailSettings.values"]["properties"]["clientSecret"]["writeOnly"] is True

    paths = doc["paths"]
    sign_in = paths["/api/auth:signIn"]["post"]
    assert sign_in["security"] == [] and "429" in sign_in["responses"]
    assert sign_in["requestBody"]["content"]["application/json"]["schema"]["required"] == ["email", "password"]
    assert paths["/api/health"]["get"]["security"] == []
    listing = {p["name"]: p for p in paths["/api/mailMessages:list"]["get"]["parameters"]}
    assert listing["page"]["schema"] == {"type": "integer", "minimum": 1}
    assert "application/json" in listing["filter"]["content"]  # filter travels JSON-encoded
    send = paths["/api/mailMessages:send"]["post"]
    assert {"413", "422", "502"} <= set(send["responses"])
    assert "mailMessages:send" in json.dumps(paths["/api/rpc"]["post"]["requestBody"])


# 502: a mail or OAuth server could not be reached (PROTOCOL "Status codes"); the fuzz names
# servers that do not exist. No crash cache: each run starts from the same seed, nothing else.
CONFIG = """
[cache]
enabled = false

[checks.not_a_server_error]
expected-statuses = ["2xx", "3xx", "4xx", "502"]
"""


def _ids(operation_ids: tuple[str, ...]) -> str:
    """A regex matching these operations, by GET (``users:get``) and POST (``users:get.post``)."""
    return f"^({'|'.join(re.escape(op) for op in operation_ids)})(\\.post)?$"


def _fuzz(
    server, workdir: Path, token: str, *, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()
) -> str | None:
    """One ``schemathesis run`` over the live document: None, or its report and the server's log."""
    config = workdir / "schemathesis.toml"
    config.write_text(CONFIG)
    exe = Path(sys.executable).parent / "schemathesis"
    cmd = [
        str(exe),
        "--config-file",
        str(config),
        "run",
        server.base_url + "/api/openapi.json",
        "--checks",
        "not_a_server_error",
        "--request-timeout",
        str(REQUEST_TIMEOUT),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--workers",
        "1",
        "--continue-on-failure",
        "--no-color",
        "--suppress-health-check",
        "all",
        "--header",
        f"Authorization: Bearer {token}",
    ]
    # one regex per option: given twice, the option keeps only the last
    if include:
        cmd += ["--include-operation-id-regex", _ids(include)]
    if exclude:
        cmd += ["--exclude-operation-id-regex", _ids(exclude)]
    log_start = server.log.stat().st_size if server.log.exists() else 0
    started = time.monotonic()
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=workdir)
    took = time.monotonic() - started
    if run.returncode == 0:
        return None
    server_log = server.log.read_text(errors="replace")[log_start:] if server.log.exists() else ""
    return (
        f"schemathesis {' '.join(include) or 'all but ' + ' '.join(exclude)} ({took:.0f} s):\n"
        f"{run.stdout[-20000:]}\n{run.stderr[-3000:]}\n--- server log ---\n{server_log[-8000:]}"
    )


def test_fuzzing_finds_no_server_error_nor_hang(live, tmp_path):
    server, tokens = live
    doc = _document(server)
    root_only = sorted(
        {
            op["operationId"].removesuffix(".post")
            for item in doc["paths"].values()
            for op in item.values()
            if op.get("tags", [""])[0] in ("users", "mailSettings")
        }
        - set(LATER_ROUNDS)
    )
    rounds = [
        (tokens["member"], {"exclude": (*LATER_ROUNDS, *root_only)}),
        (tokens["root"], {"include": tuple(root_only)}),
        (tokens["rpc"], {"include": ("rpc",)}),
        (tokens["signout"], {"include": ("auth:signOut",)}),
        (tokens["root"], {"include": ("users:update", "users:destroy")}),
    ]
    # every round runs even after one failed: the report then names every 500 at once
    failures = [f for f in (_fuzz(server, tmp_path, token, **ops) for token, ops in rounds) if f]
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
