"""Sending later: a scheduled message goes out once at its time, whichever process runs then; a
cancel before then makes it a draft again; the undo window holds every send; a process killed
while sending never makes a second copy (plugin_email_manager/sending.py)."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg

from tests.plugin_email_manager.helpers import imap_account
from tests.servers.app import ROOT_EMAIL, ROOT_PASSWORD, ServerProcess


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def _copies(sink, subject: str) -> int:
    return sum(str(d.parsed()["Subject"]) == subject for d in list(sink.messages))


async def _arrival(sink, subject: str, within: float) -> float | None:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if _copies(sink, subject):
            return time.time()
        await asyncio.sleep(0.1)
    return None


async def _linked(mailbox):
    mailbox.smtp.users[mailbox.address] = mailbox.password
    await mailbox.link()
    await mailbox.sync()


async def _schedule(mailbox, subject: str, send_at: str | None, **extra):
    body = {
        "accountId": mailbox.account_id,
        "to": ["later@example.test"],
        "subject": subject,
        "text": "later",
        **({"sendAt": send_at} if send_at else {}),
        **extra,
    }
    return await mailbox.api("mailMessages:send", body)


async def test_a_scheduled_message_goes_out_once_at_its_time(mailbox):
    await _linked(mailbox)
    due = time.time() + 3
    status, body = await _schedule(mailbox, "Later, once", _in(3))
    assert status == 200, body
    answer = body["data"]
    assert answer["status"] == "scheduled" and answer["id"] and answer["sendAt"]
    assert _copies(mailbox.smtp, "Later, once") == 0
    (row,) = await mailbox.messages({"subject": "Later, once"})
    assert row["type"] == "scheduled" and row["outbox"] == "scheduled" and row["sendAt"]
    status, threads = await mailbox.api(
        "mailMessages:listThreads", query={"filter": {"type": "scheduled"}}, method="GET"
    )
    assert [t["main"]["subject"] for t in threads["data"]] == ["Later, once"]

    arrived = await _arrival(mailbox.smtp, "Later, once", 15)
    assert arrived is not None, "never arrived"
    assert arrived >= due - 0.5, f"{due - arrived:.1f}s early"
    await asyncio.sleep(3)
    assert _copies(mailbox.smtp, "Later, once") == 1
    (row,) = await mailbox.messages({"subject": "Later, once"})
    assert row["type"] == "sent" and row["outbox"] is None
    status, body = await mailbox.api("mailMessages:cancelSend", {"filterByTk": answer["id"]})
    assert status == 409 and body["errors"][0]["code"] == "ALREADY_SENT", body


async def test_a_time_in_the_past_or_not_a_time_is_refused(mailbox):
    await _linked(mailbox)
    for when in (_in(-60), "tomorrow at eight", "2024-13-45T25:00:00Z"):
        status, body = await _schedule(mailbox, "Never", when)
        assert status == 400 and body["errors"][0]["field"] == "sendAt", (when, body)
    assert await mailbox.messages({"subject": "Never"}) == []


async def test_cancelled_before_its_time_it_is_a_draft_and_never_goes(mailbox):
    await _linked(mailbox)
    status, body = await _schedule(mailbox, "Cancelled in time", _in(3))
    assert status == 200, body
    message_id = body["data"]["id"]
    status, body = await mailbox.api("mailMessages:cancelSend", {"filterByTk": message_id})
    assert status == 200 and body["data"]["status"] == "draft", body
    (draft,) = await mailbox.messages({"type": "drafts", "subject": "Cancelled in time"})
    assert draft["id"] == message_id and draft["outbox"] == "draft"
    status, _ = await mailbox.api("mailMessages:cancelSend", {"filterByTk": message_id})
    assert status == 200  # a draft already: once or twice is the same
    assert await _arrival(mailbox.smtp, "Cancelled in time", 6) is None
    # edited and sent later, it is the same message, sent once
    status, body = await _schedule(mailbox, "Cancelled in time", None, draftId=message_id, text="edited")
    assert status == 200 and body["data"]["type"] == "sent", body
    assert _copies(mailbox.smtp, "Cancelled in time") == 1


async def test_undo_send_holds_a_send_for_the_chosen_seconds(mailbox):
    await _linked(mailbox)
    status, body = await mailbox.api("mailUserSettings:get", method="GET")
    assert status == 200 and body["data"] == {"undoSendSeconds": 0}
    status, body = await mailbox.api("mailUserSettings:update", {"undoSendSeconds": 31})
    assert status == 400, body
    status, body = await mailbox.api("mailUserSettings:update", {"undoSendSeconds": 3})
    assert status == 200 and body["data"] == {"undoSendSeconds": 3}, body

    status, body = await _schedule(mailbox, "Undone", None)
    assert status == 200 and body["data"]["status"] == "scheduled", body
    status, body = await mailbox.api("mailMessages:cancelSend", {"filterByTk": body["data"]["id"]})
    assert status == 200, body
    start = time.time()
    status, body = await _schedule(mailbox, "Not undone", None)
    assert status == 200 and body["data"]["status"] == "scheduled", body
    arrived = await _arrival(mailbox.smtp, "Not undone", 15)
    assert arrived is not None and arrived - start >= 2.5
    assert _copies(mailbox.smtp, "Undone") == 0
    assert [m["type"] for m in await mailbox.messages({"subject": "Undone"})] == ["drafts"]


# ---------------------------------------------------------------- several processes, killed ones


class _Proc:
    """One ``email-center serve`` with a signed-in member and the member's account."""

    def __init__(self, server: ServerProcess, session: aiohttp.ClientSession):
        self.server, self.session, self.token = server, session, None

    async def call(self, action, body=None, token=None):
        headers = {"Authorization": f"Bearer {token or self.token}"} if (token or self.token) else {}
        async with self.session.post(f"{self.server.base_url}/api/{action}", json=body, headers=headers) as r:
            return r.status, await r.json()


async def _started(url, session, **env) -> _Proc:
    base = {"EMAIL_CENTER_LEASE_SECONDS": "3", "EMAIL_CENTER_SCHEDULED_SEND_INTERVAL": "1"}
    return _Proc(await ServerProcess(url, env={**base, **env}).start(), session)


async def _member_with_account(proc: _Proc, dovecot, smtp_sink, mail_user) -> int:
    address, password = mail_user
    smtp_sink.users[address] = password
    _, body = await proc.call("auth:signIn", {"email": ROOT_EMAIL, "password": ROOT_PASSWORD})
    root = body["data"]["token"]
    await proc.call("users:create", {"email": "pat@example.test", "password": "pat-pass-1234"}, token=root)
    _, body = await proc.call("auth:signIn", {"email": "pat@example.test", "password": "pat-pass-1234"})
    proc.token = body["data"]["token"]
    status, body = await proc.call(
        "mailAccounts:create",
        imap_account(address, password, dovecot, smtp_sink),
    )
    assert status == 200, body
    return body["data"]["id"]


async def _signed_in(proc: _Proc) -> None:
    _, body = await proc.call("auth:signIn", {"email": "pat@example.test", "password": "pat-pass-1234"})
    proc.token = body["data"]["token"]


async def _state(db, message_id) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT outbox, type, send_lease_owner, send_smtp_at FROM mail_messages WHERE id = $1", message_id
    )


async def _until(check, within: float, step: float = 0.2):
    end = time.monotonic() + within
    while time.monotonic() < end:
        if result := await check():
            return result
        await asyncio.sleep(step)
    return None


async def test_processes_killed_mid_send_never_make_a_second_copy(pg_cluster, dovecot, smtp_sink, mail_user):
    url = pg_cluster.create_database()
    db = await asyncpg.connect(url)
    procs: list[ServerProcess] = []
    try:
        async with aiohttp.ClientSession() as s:
            # 1. killed right after claiming (before SMTP began): another process sends it, once
            a = await _started(url, s, EMAIL_CENTER_TEST_SEND_PAUSE="claimed:60")
            procs.append(a.server)
            account = await _member_with_account(a, dovecot, smtp_sink, mail_user)
            send = {"accountId": account, "to": ["later@example.test"], "text": "later"}
            status, body = await a.call(
                "mailMessages:send", {**send, "subject": "Killed after the claim", "sendAt": _in(3)}
            )
            assert status == 200, body
            first = body["data"]["id"]
            claimed = await _until(lambda: _claimed_by(db, first, a.server), 15)
            assert claimed, await _state(db, first)
            a.server.stop(signal.SIGKILL)
            b = await _started(url, s)
            procs.append(b.server)
            await _signed_in(b)
            assert await _arrival(smtp_sink, "Killed after the claim", 30) is not None
            # 2. killed while talking to the SMTP server: 'unknown', shown, never sent by itself
            c = await _started(url, s, EMAIL_CENTER_TEST_SEND_PAUSE="smtp:60")
            procs.append(c.server)
            await _signed_in(c)
            b.server.stop(signal.SIGKILL)  # only c may claim the next one
            status, body = await c.call(
                "mailMessages:send", {**send, "subject": "Killed during SMTP", "sendAt": _in(3)}
            )
            assert status == 200, body
            second = body["data"]["id"]
            status, body = await c.call(
                "mailMessages:send", {**send, "subject": "Due at the restart", "sendAt": _in(8)}
            )
            assert status == 200, body
            due = time.time() + 8
            began = await _until(lambda: _smtp_begun(db, second), 15)
            assert began, await _state(db, second)
            c.server.stop(signal.SIGKILL)
            assert (await _state(db, body["data"]["id"]))["outbox"] == "scheduled"
            # 3. a restart: a message due while no process ran is sent by the next one
            await asyncio.sleep(max(0.0, due + 1 - time.time()))
            d = await _started(url, s)
            procs.append(d.server)
            await _signed_in(d)
            unknown = await _until(lambda: _outbox_is(db, second, "unknown"), 20)
            assert unknown, await _state(db, second)
            await asyncio.sleep(4)
            assert _copies(smtp_sink, "Killed during SMTP") == 0
            status, body = await d.call("mailMessages:list", {"filter": {"outbox": "unknown"}})
            assert status == 200 and [m["id"] for m in body["data"]] == [second], body
            status, body = await d.call("mailMessages:cancelSend", {"filterByTk": second})
            assert status == 200 and body["data"]["status"] == "draft", body
            assert await _arrival(smtp_sink, "Due at the restart", 20) is not None
            assert _copies(smtp_sink, "Killed after the claim") == 1

            # 4. many due at once across two live processes: each exactly once
            e = await _started(url, s)
            procs.append(e.server)
            await _signed_in(e)
            when = _in(2)
            for i in range(12):
                status, body = await (d if i % 2 else e).call(
                    "mailMessages:send", {**send, "subject": f"Crowd {i}", "sendAt": when}
                )
                assert status == 200, body
            assert await _until(lambda: _copies_async_all(smtp_sink, [f"Crowd {i}" for i in range(12)]), 30)
            await asyncio.sleep(3)
            assert [_copies(smtp_sink, f"Crowd {i}") for i in range(12)] == [1] * 12
            assert _copies(smtp_sink, "Killed during SMTP") == 0
    finally:
        await db.close()
        for p in procs:
            p.stop(signal.SIGKILL)


async def _claimed_by(db, message_id, server) -> bool:
    row = await _state(db, message_id)
    return row["outbox"] == "sending" and f":{server.proc.pid}:" in (row["send_lease_owner"] or "")


async def _smtp_begun(db, message_id) -> bool:
    row = await _state(db, message_id)
    return row["outbox"] == "sending" and row["send_smtp_at"] is not None


async def _outbox_is(db, message_id, state) -> bool:
    return (await _state(db, message_id))["outbox"] == state


async def _copies_async_all(sink, subjects) -> bool:
    return all(_copies(sink, s) for s in subjects)
