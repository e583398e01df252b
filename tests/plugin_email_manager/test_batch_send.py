"""Batch send against the real servers: one message to each recipient (from addresses, or from
records of a collection with an email field, ``plugins/contacts``), placeholders filled from each
record, refused recipients failed with their error while the others go, retry to the failed
only, and processes killed mid-batch never making a second copy."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import signal
import time
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from plugin_email_manager.batches import UNKNOWN
from tests.plugin_email_manager.helpers import imap_account
from tests.servers.app import ROOT_EMAIL, ROOT_PASSWORD, ServerProcess

CONTACTS = Path(__file__).parent / "plugins" / "contacts" / "plugin.toml"


@pytest.fixture(scope="module")
async def mail_server(pg_cluster):
    """The server with the contacts plugin, pacing fast (6000 a minute) and looking often."""
    from tests.servers.app import running_server

    env = {
        "EMAIL_CENTER_SYNC_INTERVAL": "300",
        "EMAIL_CENTER_BATCH_PER_MINUTE": "6000",
        "EMAIL_CENTER_SCHEDULED_SEND_INTERVAL": "1",
    }
    async with running_server(pg_cluster.create_database(), plugins=(CONTACTS,), env=env) as client:
        yield client


def _of(sink, subject_start: str) -> list:
    out = []
    for d in sink.messages:
        msg = email.message_from_bytes(d[2], policy=email.policy.default)
        if str(msg["Subject"] or "").startswith(subject_start):
            out.append((d[1], msg))
    return out


async def _until(check, within: float, step: float = 0.2):
    end = time.monotonic() + within
    while time.monotonic() < end:
        if result := await check():
            return result
        await asyncio.sleep(step)
    return None


async def _done(mailbox, batch_id, within: float = 60, sent: int | None = None) -> dict:
    async def look():
        status, body = await mailbox.api("mailBatches:get", query={"filterByTk": batch_id}, method="GET")
        assert status == 200, body
        b = body["data"]
        return b if b["status"] == "done" and (sent is None or b["sent"] == sent) else None

    batch = await _until(look, within)
    assert batch, await mailbox.api("mailBatches:get", query={"filterByTk": batch_id}, method="GET")
    return batch


async def _linked(mailbox):
    mailbox.smtp.users[mailbox.address] = mailbox.password
    await mailbox.link()


async def test_a_batch_to_200_records_reaches_each_once_alone_and_retries_only_the_refused(mailbox):
    await _linked(mailbox)
    sink = mailbox.smtp
    refused = ["refused-1@batch.test", "refused-2@batch.test"]
    ids = []
    for i in range(200):
        address = refused[i // 100] if i in (37, 150) else f"person{i:03d}@batch.test"
        nickname = "Zed & <Co>" if i == 5 else f"Person {i}"
        status, body = await mailbox.api(
            "contacts:create",
            {"email": address, "nickname": nickname, "company": "Acme"},
        )
        assert status == 200, body
        ids.append(body["data"]["id"])
    await mailbox.server.host.db.execute("UPDATE contacts SET secret_note = 'never in mail'")  # hidden
    # another user's contact of the same company: not the caller's to see, so no recipient
    other = await mailbox.server.member("other-batch@example.test")
    status, body = await mailbox.server.api(other, "contacts:create", {"email": "hidden@batch.test", "company": "Acme"})
    assert status == 200, body

    sink.refuse.update(refused)
    try:
        started = time.monotonic()
        status, body = await mailbox.api(
            "mailMessages:sendBatch",
            {
                "accountId": mailbox.account_id,
                "subject": "News for {{nickname}}",
                "text": "Dear {{nickname}} of {{company}},\nour news.{{missing}}{{secretNote}}",
                "html": "<p>Dear {{nickname}},</p><p>our news.</p>",
                "records": {"collection": "contacts", "filter": {"company": "Acme"}, "field": "email"},
            },
        )
        assert status == 200, body
        answered = time.monotonic() - started
        batch_id = body["data"]["batchId"]
        assert answered < 5  # at once: the sending is the job's
        batch = await _done(mailbox, batch_id, within=120)
        elapsed = time.monotonic() - started
        print(f"200 recipients: answered in {answered:.2f}s, done in {elapsed:.1f}s")
        assert (batch["total"], batch["sent"], batch["failed"]) == (200, 198, 2)
        assert (batch["subject"], batch["collection"]) == ("News for {{nickname}}", "contacts")

        got = _of(sink, "News for ")
        assert len(got) == 198
        by_address = {}
        for rcpts, msg in got:
            assert len(rcpts) == 1
            to = [a.addr_spec for a in msg["To"].addresses]
            assert to == rcpts and msg["Cc"] is None
            # nobody else's address anywhere in it (headers or body)
            assert set(re.findall(r"[\w.+-]+@batch\.test", msg.as_string())) == set(rcpts)
            by_address.setdefault(rcpts[0], []).append(msg)
        expected = {f"person{i:03d}@batch.test" for i in range(200) if i not in (37, 150)}
        assert set(by_address) == expected and all(len(v) == 1 for v in by_address.values())
        (first,) = by_address["person001@batch.test"]
        assert str(first["Subject"]) == "News for Person 1"
        plain = first.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert plain.startswith("Dear Person 1 of Acme,\nour news.") and "never" not in plain and "{{" not in plain
        (zed,) = by_address["person005@batch.test"]
        assert str(zed["Subject"]) == "News for Zed & <Co>"
        assert "Dear Zed &amp; &lt;Co&gt;," in zed.get_body(("html",)).get_content()

        status, body = await mailbox.api(
            "mailBatchRecipients:list", {"filter": {"batchId": batch_id}, "paginate": False}
        )
        assert status == 200, body
        rows = body["data"]
        assert len(rows) == 200 and {r["recordId"] for r in rows} == set(ids)
        failed = sorted((r["address"], r["error"]) for r in rows if r["status"] == "failed")
        assert [a for a, _ in failed] == refused and all("550" in e or "rejected" in e.lower() for _, e in failed)

        # retry while still refused: the two are tried again, nobody else gets anything
        before = len(sink.messages)
        status, body = await mailbox.api("mailBatches:retry", {"filterByTk": batch_id})
        assert status == 200 and body["data"]["retried"] == 2, body
        batch = await _done(mailbox, batch_id)
        assert (batch["sent"], batch["failed"]) == (198, 2) and len(sink.messages) == before
    finally:
        sink.refuse.difference_update(refused)
    # accepted now: exactly the two get their one copy
    status, body = await mailbox.api("mailBatches:retry", {"filterByTk": batch_id})
    assert status == 200 and body["data"]["retried"] == 2, body
    batch = await _done(mailbox, batch_id, sent=200)
    assert batch["failed"] == 0
    await asyncio.sleep(1)
    late = [rcpts[0] for rcpts, _ in _of(sink, "News for ")[198:]]
    assert sorted(late) == refused
    # each went through the outbox: filed as sent, the failed drafts sent again (none left over)
    sent = await mailbox.messages({"type": "sent", "subject": {"$startsWith": "News for "}}, paginate="false")
    assert len(sent) == 200
    assert await mailbox.messages({"outbox": {"$in": ["failed", "sending"]}}) == []


async def test_what_a_batch_refuses_and_whose_it_is(mailbox):
    await _linked(mailbox)
    base = {"accountId": mailbox.account_id, "subject": "S", "text": "T"}
    cases = [
        ({**base}, 400, "NO_RECIPIENTS"),
        ({**base, "text": None, "recipients": ["a@batch.test"]}, 400, "MISSING_PARAMETER"),
        ({**base, "recipients": ["not an address"]}, 400, "INVALID_ADDRESS"),
        ({**base, "records": {"collection": "contacts", "filter": {}, "field": "backup"}}, 400, "INVALID_VALUE"),
        ({**base, "records": {"collection": "contacts", "field": "email"}}, 400, "MISSING_PARAMETER"),
        ({**base, "records": {"collection": "nothing", "filter": {}, "field": "email"}}, 404, None),
        ({**base, "records": {"collection": "users", "filterByTk": 1, "field": "passwordHash"}}, 400, "INVALID_VALUE"),
    ]
    for params, want, code in cases:
        status, body = await mailbox.api("mailMessages:sendBatch", params)
        assert status == want, (params, body)
        assert code is None or body["errors"][0]["code"] == code, (params, body)

    # one address twice is one recipient; another user can neither see the batch nor retry it
    status, body = await mailbox.api(
        "mailMessages:sendBatch", {**base, "recipients": ["Twice <twice@batch.test>", "TWICE@batch.test"]}
    )
    assert status == 200, body
    batch_id = body["data"]["batchId"]
    batch = await _done(mailbox, batch_id)
    assert (batch["total"], batch["sent"], batch["collection"]) == (1, 1, None)
    other = await mailbox.server.member("nosy-batch@example.test")
    for action in ("mailBatches:get", "mailBatches:retry"):
        status, body = await mailbox.server.api(other, action, {"filterByTk": batch_id})
        assert status == 404, body
    status, body = await mailbox.server.api(other, "mailBatchRecipients:list", {"filter": {"batchId": batch_id}})
    assert status == 200 and body["data"] == [], body
    status, body = await mailbox.server.api(other, "mailMessages:sendBatch", base)
    assert status == 404, body


async def test_a_batch_goes_out_from_an_identity_with_its_reply_to(mailbox):
    await _linked(mailbox)
    status, body = await mailbox.api(
        "mailIdentities:create",
        {
            "accountId": mailbox.account_id,
            "name": "Support",
            "email": "support@example.test",
            "replyTo": "desk@example.test",
        },
    )
    assert status == 200, body
    base = {"accountId": mailbox.account_id, "subject": "From support {{x}}", "text": "Hello."}
    status, body = await mailbox.api(
        "mailMessages:sendBatch", {**base, "from": "nobody@example.test", "recipients": ["a@batch.test"]}
    )
    assert status == 400 and body["errors"][0]["code"] == "INVALID_FROM", body
    status, body = await mailbox.api(
        "mailMessages:sendBatch",
        {**base, "from": "SUPPORT@example.test", "recipients": ["a@batch.test", "b@batch.test"]},
    )
    assert status == 200, body
    batch = await _done(mailbox, body["data"]["batchId"], sent=2)
    assert (batch["fromName"], batch["fromAddress"], batch["replyTo"]) == (
        "Support",
        "support@example.test",
        "desk@example.test",
    )
    arrived = _of(mailbox.smtp, "From support")
    assert sorted(r for rcpts, _ in arrived for r in rcpts) == ["a@batch.test", "b@batch.test"]
    for _, msg in arrived:
        assert (
            msg["From"].addresses[0].addr_spec == "support@example.test"
            and msg["From"].addresses[0].display_name == "Support"
        )
        assert str(msg["Reply-To"]) == "desk@example.test"
    # without "from": the account's own address, no Reply-To
    status, body = await mailbox.api(
        "mailMessages:sendBatch", {**base, "subject": "Plain batch", "recipients": ["c@batch.test"]}
    )
    assert status == 200, body
    await _done(mailbox, body["data"]["batchId"], sent=1)
    ((_, msg),) = _of(mailbox.smtp, "Plain batch")
    assert msg["From"].addresses[0].addr_spec == mailbox.address and msg["Reply-To"] is None


# ---------------------------------------------------------------- processes killed mid-batch


class _Proc:
    def __init__(self, server: ServerProcess, session: aiohttp.ClientSession):
        self.server, self.session, self.token = server, session, None

    async def call(self, action, body=None, token=None):
        headers = {"Authorization": f"Bearer {token or self.token}"}
        async with self.session.post(f"{self.server.base_url}/api/{action}", json=body, headers=headers) as r:
            return r.status, await r.json()

    async def sign_in(self) -> None:
        _, body = await self.call("auth:signIn", {"email": "bea@example.test", "password": "bea-pass-1234"})
        self.token = body["data"]["token"]


async def _started(url, session, **env) -> _Proc:
    base = {
        "EMAIL_CENTER_LEASE_SECONDS": "3",
        "EMAIL_CENTER_SCHEDULED_SEND_INTERVAL": "1",
        "EMAIL_CENTER_BATCH_PER_MINUTE": "600",
    }
    return _Proc(await ServerProcess(url, env={**base, **env}).start(), session)


async def test_processes_killed_mid_batch_never_send_a_recipient_two_copies(pg_cluster, smtp_sink, dovecot, mail_user):
    url = pg_cluster.create_database()
    db = await asyncpg.connect(url)
    address, password = mail_user
    smtp_sink.users[address] = password
    recipients = [f"crash{i:02d}@batch.test" for i in range(60)]
    procs: list[ServerProcess] = []
    try:
        async with aiohttp.ClientSession() as s:
            # 1. a process that stops right after SMTP began (the pause), killed there
            a = await _started(url, s, EMAIL_CENTER_TEST_SEND_PAUSE="batch:60")
            procs.append(a.server)
            _, body = await a.call("auth:signIn", {"email": ROOT_EMAIL, "password": ROOT_PASSWORD})
            await a.call(
                "users:create", {"email": "bea@example.test", "password": "bea-pass-1234"}, token=body["data"]["token"]
            )
            await a.sign_in()
            values = imap_account(address, password, dovecot, smtp_sink)
            status, body = await a.call("mailAccounts:create", values)
            assert status == 200, body
            account = body["data"]["id"]
            status, body = await a.call(
                "mailMessages:sendBatch",
                {"accountId": account, "subject": "Crash {{x}}once", "text": "Once only.", "recipients": recipients},
            )
            assert status == 200, body
            batch_id = body["data"]["batchId"]

            async def begun():
                return await db.fetchval(
                    "SELECT count(*) FROM mail_batch_recipients WHERE batch_id = $1 AND smtp_at IS NOT NULL", batch_id
                )

            assert await _until(begun, 20)
            await asyncio.sleep(0.5)
            stuck = {
                r["address"]
                for r in await db.fetch(
                    "SELECT address FROM mail_batch_recipients WHERE batch_id = $1 AND smtp_at IS NOT NULL", batch_id
                )
            }
            a.server.stop(signal.SIGKILL)

            # 2. the next process settles those (unknown: never sent by itself) and goes on, paced;
            # killed at an arbitrary point mid-batch
            b = await _started(url, s)
            procs.append(b.server)

            async def sent_some():
                n = await db.fetchval(
                    "SELECT count(*) FROM mail_batch_recipients WHERE batch_id = $1 AND status = 'sent'", batch_id
                )
                return n >= 20

            began = time.monotonic()
            assert await _until(sent_some, 30, step=0.05)
            took = time.monotonic() - began
            b.server.stop(signal.SIGKILL)

            # 3. a restart finishes it
            c = await _started(url, s)
            procs.append(c.server)
            await c.sign_in()

            async def done():
                _, body = await c.call("mailBatches:get", {"filterByTk": batch_id})
                return body["data"] if body["data"]["status"] == "done" else None

            batch = await _until(done, 60)
            assert batch, await c.call("mailBatches:get", {"filterByTk": batch_id})
            await asyncio.sleep(2)
            copies = {r: 0 for r in recipients}
            for rcpts, _ in _of(smtp_sink, "Crash once"):
                for r in rcpts:
                    copies[r] += 1
            assert max(copies.values()) == 1, {r: n for r, n in copies.items() if n > 1}
            assert all(copies[r] == 0 for r in stuck)
            _, body = await c.call("mailBatchRecipients:list", {"filter": {"batchId": batch_id}, "paginate": False})
            rows = {r["address"]: r for r in body["data"]}
            assert batch["total"] == 60 and batch["sent"] + batch["failed"] == 60
            assert all(rows[r]["status"] == "failed" and rows[r]["error"] == UNKNOWN for r in stuck)
            for r, row in rows.items():
                if row["status"] == "sent":
                    assert copies[r] == 1, r
                else:  # only an outcome the kills left unknown
                    assert row["error"] == UNKNOWN, row
            # paced: 600 a minute is one each 0.1 s, across its four senders
            assert took >= 1.5, took
            print(f"stuck {len(stuck)}, failed {batch['failed']}, 20 sent in {took:.1f}s")
    finally:
        await db.close()
        for p in procs:
            p.stop(signal.SIGKILL)
