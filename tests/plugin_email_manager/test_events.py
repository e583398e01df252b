"""Mail events and webhooks, against the real servers: the ``mail_event`` hook as a plugin hears
it (``plugins/events_demo``), webhooks POSTed to receivers on 127.0.0.1 (signed, retried, in
order, never to another user), the SSRF guard, and bounces read from a real DSN."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import json
import time
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from aiohttp import web

from plugin_email_manager import events, hookspecs
from tests.plugin_email_manager.helpers import Mailbox, message
from tests.plugin_email_manager.plugins.events_demo import hooks as demo

DEMO = Path(__file__).parent / "plugins" / "events_demo" / "plugin.toml"
PROTOCOL_KEYS = {"id", "event", "createdAt", "accountId"}


@pytest.fixture(scope="module")
async def mail_server(pg_cluster):
    """The server with the email plugin and the events demo plugin; webhooks may reach
    127.0.0.1 (the receivers here), retries come after 1 s, receivers have 2 s to answer."""
    from tests.servers.app import running_server

    env = {
        "EMAIL_CENTER_SYNC_INTERVAL": "300",
        "EMAIL_CENTER_WEBHOOK_ALLOW_PRIVATE": "1",
        "EMAIL_CENTER_WEBHOOK_RETRY_SECONDS": "1",
        "EMAIL_CENTER_WEBHOOK_TIMEOUT": "2",
    }
    async with running_server(pg_cluster.create_database(), plugins=(DEMO,), env=env) as client:
        yield client


class Receiver:
    """A webhook receiver on 127.0.0.1 (port 0): records (headers, raw body, parsed) per path;
    ``fail[path] = n`` answers 500 to the first n POSTs, ``hang`` paths never answer in time."""

    def __init__(self):
        self.posts: dict[str, list[tuple[dict, bytes, dict]]] = {}
        self.fail: dict[str, int] = {}
        self.hang: set[str] = set()
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        got = self.posts.setdefault(request.path, [])
        got.append((dict(request.headers), raw, json.loads(raw)))
        if request.path in self.hang:
            await asyncio.sleep(30)
        if self.fail.get(request.path, 0) > 0:
            self.fail[request.path] -= 1
            return web.Response(status=500, text="not now " * 500)
        return web.Response(text="thanks")

    async def __aenter__(self) -> "Receiver":
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        await self.runner.cleanup()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, path: str) -> list[dict]:
        return [p for _, _, p in self.posts.get(path, [])]

    async def wait(self, path: str, test, within: float = 8) -> tuple[dict, bytes, dict]:
        end = time.monotonic() + within
        while time.monotonic() < end:
            for hit in self.posts.get(path, []):
                if test(hit[2]):
                    return hit
            await asyncio.sleep(0.05)
        raise AssertionError(f"nothing matching on {path} within {within} s: {self.bodies(path)}")


def about(subject: str):
    return lambda p: isinstance(p.get("message"), dict) and p["message"].get("subject") == subject


async def heard(event: str, test, within: float = 8) -> dict:
    """What the demo plugin heard: the first ``event`` whose payload passes ``test``."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        for e, payload in list(demo.RECEIVED):
            if e == event and test(payload):
                return payload
        await asyncio.sleep(0.05)
    raise AssertionError(
        f"no {event} heard within {within} s: {[(e, p.get('message', {}).get('subject')) for e, p in demo.RECEIVED]}"
    )


def as_protocol_says(payload: dict, event: str, account_id: int) -> None:
    assert PROTOCOL_KEYS <= set(payload)
    assert payload["event"] == event and payload["accountId"] == account_id
    assert isinstance(payload["id"], str) and payload["createdAt"].endswith("+00:00")
    if "message" in payload:
        assert not {"text", "html", "raw"} & set(payload["message"])


async def linked(mailbox: Mailbox, *old: str) -> int:
    for subject in old:
        mailbox.append(message("old@example.test", mailbox.address, subject))
    await mailbox.link()
    await mailbox.sync()
    return mailbox.account_id


async def webhook(mailbox: Mailbox, url: str, kinds: list[str], secret: str = "whsec-test") -> int:
    status, body = await mailbox.api("mailWebhooks:create", {"url": url, "events": kinds, "secret": secret})
    assert status == 200, body
    assert secret not in json.dumps(body)
    return body["data"]["id"]


async def deliveries(mailbox: Mailbox, webhook_id: int) -> list[dict]:
    status, body = await mailbox.api(
        "mailWebhookDeliveries:list",
        query={"filter": json.dumps({"webhookId": webhook_id}), "paginate": "false", "sort": "id"},
        method="GET",
    )
    assert status == 200, body
    return body["data"]


# ---------------------------------------------------------------- the hook


def test_the_mail_event_hook_is_documented_like_the_hosts():
    doc = inspect.getdoc(hookspecs.mail_event) or ""
    assert "called" in doc.lower() and ":param payload:" in doc and ":return:" in doc
    for name in events.EVENTS:
        assert name in doc


async def test_a_plugin_hears_each_event_as_the_protocol_says(mailbox, dovecot, smtp_sink):
    acc = await linked(mailbox, "Before the first sync")
    assert not [p for e, p in demo.RECEIVED if e == "messageNew" and p["accountId"] == acc], (
        "a first sync raises no messageNew"
    )

    mailbox.append(message("ann@example.test", mailbox.address, "Fresh news"))
    (row,) = await mailbox.arrival("Fresh news", within=8)  # IDLE brings it
    new = await heard("messageNew", about("Fresh news"))
    as_protocol_says(new, "messageNew", acc)
    assert new["message"]["id"] == row["id"] and new["message"]["from"]["address"] == "ann@example.test"

    status, body = await mailbox.api("mailMessages:markRead", {"filterByTk": [row["id"]]})
    assert status == 200, body
    read = await heard("messageUpdated", lambda p: about("Fresh news")(p) and p["changes"] == ["read"])
    assert read["message"]["read"] is True
    status, body = await mailbox.api("mailMessages:update", {"flagged": True}, query={"filterByTk": row["id"]})
    assert status == 200, body
    await heard("messageUpdated", lambda p: about("Fresh news")(p) and p["changes"] == ["flagged"])
    status, body = await mailbox.api("mailMessages:update", {"labels": ["work"]}, query={"filterByTk": row["id"]})
    assert status == 200, body
    labelled = await heard("messageUpdated", lambda p: about("Fresh news")(p) and p["changes"] == ["labels"])
    assert labelled["message"]["labels"] == ["work"]

    # flags changed in another client come with the next sync
    old = (await mailbox.messages({"subject": "Before the first sync"}))[0]
    client = dovecot.imap(mailbox.address)
    try:
        client.select("INBOX")
        typ, _ = client.uid("STORE", "1", "+FLAGS", "(\\Flagged)")
        assert typ == "OK"
    finally:
        client.logout()
    await mailbox.sync()
    server = await heard("messageUpdated", lambda p: about("Before the first sync")(p) and "flagged" in p["changes"])
    assert server["message"]["id"] == old["id"] and server["message"]["flagged"] is True

    # deleted: to Trash (moved) when there is one, else for good
    status, body = await mailbox.api("mailMessages:destroy", {"filterByTk": row["id"]})
    assert status == 200, body
    end = time.monotonic() + 8
    while not (
        gone := [
            (e, p)
            for e, p in demo.RECEIVED
            if p.get("message", {}).get("id") == row["id"] and (e == "messageDeleted" or p.get("changes") == ["moved"])
        ]
    ):
        assert time.monotonic() < end, "destroy raised neither messageDeleted nor a move"
        await asyncio.sleep(0.05)
    as_protocol_says(gone[0][1], gone[0][0], acc)

    # expunged in another client: deleted with the next sync
    client = dovecot.imap(mailbox.address)
    try:
        client.select("INBOX")
        client.uid("STORE", "1", "+FLAGS", "(\\Deleted)")
        client.expunge()
    finally:
        client.logout()
    await mailbox.sync()
    expunged = await heard("messageDeleted", lambda p: p["message"]["id"] == old["id"])
    as_protocol_says(expunged, "messageDeleted", acc)

    status, body = await mailbox.api(
        "mailMessages:send", {"accountId": acc, "to": ["bob@example.test"], "subject": "Sent from here", "text": "x"}
    )
    assert status == 200, body
    as_protocol_says(await heard("messageSent", about("Sent from here")), "messageSent", acc)
    smtp_sink.refuse.add("nobody@example.test")
    status, body = await mailbox.api(
        "mailMessages:send", {"accountId": acc, "to": ["nobody@example.test"], "subject": "Refused here", "text": "x"}
    )
    assert status != 200
    failed = await heard("messageFailed", about("Refused here"))
    as_protocol_says(failed, "messageFailed", acc)
    assert failed["error"]

    # a login refused: the account turns to error, once
    dovecot.add_user(mailbox.address, "another-password")
    status, body = await mailbox.api("mailAccounts:sync", {"filterByTk": acc, "wait": True})
    assert status != 200
    broken = await heard("accountError", lambda p: p["accountId"] == acc)
    as_protocol_says(broken, "accountError", acc)
    assert broken["error"] and "message" not in broken
    await mailbox.api("mailAccounts:sync", {"filterByTk": acc, "wait": True})
    assert len([p for e, p in demo.RECEIVED if e == "accountError" and p["accountId"] == acc]) == 1
    dovecot.add_user(mailbox.address, mailbox.password)
    ids = [p["id"] for _, p in demo.RECEIVED]
    assert len(ids) == len(set(ids)), "each event has its own id"


# ---------------------------------------------------------------- webhooks


async def test_a_webhook_gets_new_mail_signed_within_seconds(mailbox):
    acc = await linked(mailbox, "Before the webhook")
    async with Receiver() as r:
        secret = "whsec-0123456789"
        await webhook(mailbox, r.url("/new"), ["messageNew"], secret)
        mailbox.append(message("ann@example.test", mailbox.address, "Signed news"))
        t0 = time.monotonic()
        headers, raw, payload = await r.wait("/new", about("Signed news"), within=8)
        assert time.monotonic() - t0 < 5
        as_protocol_says(payload, "messageNew", acc)
        good = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Email-Center-Signature"], good)
        assert not hmac.compare_digest(
            headers["X-Email-Center-Signature"], "sha256=" + hmac.new(b"wrong", raw, hashlib.sha256).hexdigest()
        )
        assert all(p["event"] == "messageNew" for p in r.bodies("/new")), "only the events it asked for"


async def test_a_failing_receiver_gets_the_event_again_with_the_same_id(mailbox):
    await linked(mailbox)
    async with Receiver() as r:
        r.fail["/flaky"] = 2
        hook = await webhook(mailbox, r.url("/flaky"), ["messageNew"])
        mailbox.append(message("ann@example.test", mailbox.address, "Try again"))
        await r.wait("/flaky", about("Try again"), within=8)
        end = time.monotonic() + 15
        while len(r.bodies("/flaky")) < 3 and time.monotonic() < end:
            await asyncio.sleep(0.1)
        ids = [p["id"] for p in r.bodies("/flaky")]
        assert len(ids) == 3 and len(set(ids)) == 1, ids
        await asyncio.sleep(0.5)
        (d,) = await deliveries(mailbox, hook)
        assert d["status"] == "ok" and d["attempts"] == 3 and d["eventId"] == ids[0]
        assert d["responseStatus"] == 200 and d["response"] == "thanks"
        await asyncio.sleep(2.5)
        assert len(r.bodies("/flaky")) == 3, "delivered once it was answered 2xx"


async def test_a_hanging_receiver_holds_up_neither_the_sync_nor_the_order(mailbox):
    await linked(mailbox)
    async with Receiver() as r:
        r.hang.add("/slow")
        hook = await webhook(mailbox, r.url("/slow"), ["messageNew"])
        mailbox.append(message("ann@example.test", mailbox.address, "Slow one"))
        await r.wait("/slow", about("Slow one"), within=8)
        mailbox.append(message("ann@example.test", mailbox.address, "Slow two"))
        t0 = time.monotonic()
        await mailbox.arrival("Slow two", within=5)  # the sync is not held up
        assert time.monotonic() - t0 < 5
        await asyncio.sleep(1.0)
        subjects = [p["message"]["subject"] for p in r.bodies("/slow")]
        assert "Slow two" not in subjects, "a later event waits for the earlier one to the same webhook"
        end = time.monotonic() + 10
        rows = []
        while time.monotonic() < end:
            rows = await deliveries(mailbox, hook)
            if rows and rows[0]["attempts"] >= 1:
                break
            await asyncio.sleep(0.2)
        assert rows[0]["status"] == "retrying" and "No answer" in rows[0]["error"]
        r.hang.clear()
        await r.wait("/slow", about("Slow two"), within=15)
        subjects = [p["message"]["subject"] for p in r.bodies("/slow")]
        assert subjects.index("Slow one") < subjects.index("Slow two")


async def test_a_private_address_is_refused_unless_the_setting_allows_it(mailbox, mail_server):
    root = mail_server.root_token
    status, body = await mail_server.api(
        root, "mailSettings:create", {"provider": "general", "values": {"webhook_allow_private": False}}
    )
    assert status == 200, body
    await asyncio.sleep(0.5)  # every process reloads the settings
    try:
        for url in (
            "http://127.0.0.1:9/x",
            "http://10.1.2.3/x",
            "http://169.254.169.254/latest",
            "http://localhost/x",
            "http://[::1]/x",
            "ftp://example.com/x",
        ):
            status, body = await mailbox.api("mailWebhooks:create", {"url": url, "events": ["messageNew"]})
            assert status == 400 and body["errors"][0]["code"] == "INVALID_URL", (url, body)
    finally:
        status, body = await mail_server.api(
            root, "mailSettings:update", {"values": {}}, query={"filter": json.dumps({"provider": "general"})}
        )
        assert status == 200, body
        await asyncio.sleep(0.5)
    status, body = await mailbox.api("mailWebhooks:create", {"url": "http://127.0.0.1:9/x", "events": ["messageNew"]})
    assert status == 200, body  # the control: allowed by the setting


async def test_a_webhook_never_gets_another_users_events(mailbox, dovecot, smtp_sink, mail_server):
    acc = await linked(mailbox)
    eve = f"eve{time.monotonic_ns()}@example.test"
    dovecot.add_user(eve, "eve-password")
    other = Mailbox(
        mail_server, dovecot, smtp_sink, await mail_server.member(eve.replace("@", "+member@")), eve, "eve-password"
    )
    smtp_sink.users[other.address] = other.password
    other_acc = await linked(other)
    async with Receiver() as r:
        mine = await webhook(mailbox, r.url("/mine"), [])
        await webhook(other, r.url("/eve"), [])
        mailbox.append(message("ann@example.test", mailbox.address, "Only mine"))
        other.append(message("ann@example.test", other.address, "Only eve's"))
        await r.wait("/mine", about("Only mine"))
        await r.wait("/eve", about("Only eve's"))
        await asyncio.sleep(1)
        assert {p["accountId"] for p in r.bodies("/mine")} == {acc}
        assert {p["accountId"] for p in r.bodies("/eve")} == {other_acc}
        status, body = await other.api("mailWebhooks:get", query={"filterByTk": mine}, method="GET")
        assert status == 404
        assert await deliveries(other, mine) == []
        status, body = await other.api("mailWebhooks:test", {"filterByTk": mine})
        assert status == 404
        status, body = await mailbox.api("mailWebhooks:create", {"url": r.url("/all"), "allUsers": True})
        assert status == 403, body


async def test_send_test_pings_a_webhook(mailbox):
    async with Receiver() as r:
        hook = await webhook(mailbox, r.url("/ping"), ["messageSent"])
        status, body = await mailbox.api("mailWebhooks:test", {"filterByTk": hook})
        assert status == 200, body
        _, _, payload = await r.wait("/ping", lambda p: p["event"] == "ping", within=5)
        assert payload["id"] == body["data"]["eventId"] and payload["accountId"] is None


# ---------------------------------------------------------------- bounces


def dsn(original: EmailMessage, sender: str, recipient: str) -> bytes:
    """A delivery status notification as Postfix writes one (RFC 3464), returning the headers."""
    boundary = "dsn-" + make_msgid().strip("<>").replace("@", ".")
    headers = "".join(f"{k}: {v}\r\n" for k, v in original.items())
    return (
        f"From: MAILER-DAEMON@mx.example.test (Mail Delivery System)\r\nTo: {sender}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: {make_msgid(domain='mx.example.test')}\r\n"
        f"Date: {format_datetime(datetime.now(timezone.utc))}\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="{boundary}"\r\n\r\n'
        f"This is a MIME-encapsulated message.\r\n\r\n--{boundary}\r\n"
        "Content-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients.\r\n"
        f"\r\n--{boundary}\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.test\r\nArrival-Date: Mon,  1 Jan 2024 10:00:00 +0000 (UTC)\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\nAction: failed\r\n"
        "Status: 5.1.1\r\nRemote-MTA: dns; mx.example.test\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User\r\n    unknown\r\n"
        f"\r\n--{boundary}\r\nContent-Description: Undelivered Message Headers\r\n"
        f"Content-Type: text/rfc822-headers\r\n\r\n{headers}\r\n--{boundary}--\r\n"
    ).encode()


async def test_a_bounce_fails_the_message_it_returns(mailbox, dovecot):
    acc = await linked(mailbox)
    status, body = await mailbox.api(
        "mailMessages:send",
        {"accountId": acc, "to": ["ghost@example.test"], "subject": "Into the void", "text": "hello?"},
    )
    assert status == 200, body
    sent = body["data"]
    original = EmailMessage()
    for k in ("From", "To", "Subject"):
        original[k] = {"From": mailbox.address, "To": "ghost@example.test", "Subject": "Into the void"}[k]
    original["Message-ID"] = sent["messageId"]
    dovecot.deliver(
        mailbox.address, dsn(original, mailbox.address, "ghost@example.test"), sender="MAILER-DAEMON@mx.example.test"
    )  # by LMTP, as a bounce arrives
    failed = await heard(
        "messageFailed", lambda p: p.get("deliveryFailure") and p["message"]["id"] == sent["id"], within=10
    )
    as_protocol_says(failed, "messageFailed", acc)
    assert failed["deliveryFailure"]["status"] == "5.1.1"
    assert "User unknown" in failed["deliveryFailure"]["diagnostic"]
    assert failed["deliveryFailure"]["recipient"] == "ghost@example.test"
    status, body = await mailbox.api("mailMessages:get", query={"filterByTk": sent["id"]}, method="GET")
    assert status == 200 and body["data"]["deliveryFailure"]["status"] == "5.1.1", body
