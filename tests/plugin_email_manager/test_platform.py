"""Mail in the platform, against the real servers: email fields, ``participants`` (who a message
was with), ``listForRecord`` (the mail of a person's record), and the read-only mail manager who
reads everyone's mail with ``scope: "all"`` and changes none of it, over REST and JSON-RPC."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tests.plugin_email_manager.helpers import Mailbox, message

T = datetime.now(timezone.utc) - timedelta(days=1)


def at(minutes: int) -> datetime:
    return T + timedelta(minutes=minutes)


async def rpc(server, token, method: str, params: dict) -> dict:
    status, body = await server.call(
        "POST", "/api/rpc", token, body={"jsonrpc": "2.0", "method": method, "params": params, "id": 1}
    )
    assert status == 200, body
    return body


def subjects(body) -> set[str]:
    rows = body["data"]
    return {(r.get("main") or r)["subject"] for r in rows}


async def threads(box: Mailbox, **params) -> tuple[int, dict]:
    if "participants" in params:
        params["participants"] = json.dumps(params["participants"])  # a query string carries JSON, as filter
    return await box.api("mailMessages:listThreads", query={"pageSize": 50, **params}, method="GET")


async def other_mailbox(mailbox: Mailbox, token: str) -> Mailbox:
    address, password = f"u{uuid.uuid4().hex[:10]}@example.test", "pw-" + uuid.uuid4().hex[:8]
    mailbox.dovecot.add_user(address, password)
    mailbox.smtp.users[address] = password
    return Mailbox(mailbox.server, mailbox.dovecot, mailbox.smtp, token, address, password)


async def test_collections_list_shows_users_email_as_an_email_field(mail_server):
    status, body = await mail_server.api(mail_server.root_token, "collections:list", query={"paginate": "false"})
    assert status == 200, body
    users = next(c for c in body["data"] if c["name"] == "users")
    fields = {f["name"]: f for f in users["fields"]}
    assert fields["email"]["interface"] == "email"
    assert fields["nickname"]["interface"] == "input"
    assert fields["mailManager"]["type"] == "boolean"


@pytest.fixture
async def alice(mailbox):
    A = mailbox.address
    mails = [
        (message("Ann <ann@acme.test>", A, "Quote from Ann", date=at(0)), "INBOX", ""),
        (message("Carol <carol@sub.acme.test>", A, "Note from Carol", date=at(1)), "INBOX", ""),
        (message("Dan <dan@other.test>", A, "Hello from Dan", date=at(2), reply_to="ann@acme.test"), "INBOX", ""),
        (message("Ann News <ann+news@acme.test>", A, "Newsletter from Ann", date=at(3)), "INBOX", ""),
        (message(A, "Bob <bob@Acme.Test>", "Offer to Bob", date=at(4)), "Sent", "\\Seen"),
        (message("Eve <eve@third.test>", A, "Eve copies Acme", date=at(5), cc="Ops <OPS@ACME.TEST>"), "INBOX", ""),
    ]
    secret = message("Fay <fay@fourth.test>", A, "Bcc to Ann", date=at(6))
    secret["Bcc"] = "ann@acme.test"
    mails.append((secret, "INBOX", ""))
    for msg, box, flags in mails:
        mailbox.append(msg, mailbox=box, flags=flags)
    await mailbox.link()
    await mailbox.sync()
    return mailbox


async def test_participants_match_exact_addresses_and_domains_of_from_to_and_cc(alice):
    status, body = await threads(alice)
    assert status == 200 and len(body["data"]) == 7, body
    cases = [
        ({"addresses": ["BOB@acme.test"]}, {"Offer to Bob"}),  # case-insensitive, in To of a sent one
        # not ann+news@ (a +tag), not Dan's (Reply-To), not Fay's (Bcc)
        ({"addresses": ["ann@acme.test"]}, {"Quote from Ann"}),
        ({"addresses": ["ann+news@acme.test"]}, {"Newsletter from Ann"}),
        ({"addresses": ["ops@acme.test", "dan@other.test"]}, {"Eve copies Acme", "Hello from Dan"}),
        # carol@sub.acme.test is a subdomain's
        ({"domains": ["ACME.test"]}, {"Quote from Ann", "Newsletter from Ann", "Offer to Bob", "Eve copies Acme"}),
        ({"domains": ["sub.acme.test"], "addresses": ["eve@third.test"]}, {"Note from Carol", "Eve copies Acme"}),
        ({"domains": ["test"]}, set()),
        ({"addresses": []}, set()),
    ]
    for participants, expected in cases:
        status, body = await threads(alice, participants=participants)
        assert status == 200 and subjects(body) == expected, (participants, body)
        assert body["meta"]["count"] == len(expected)
        # the participants' index alone answers it; through the messages (any filter) the same
        status, body = await threads(alice, participants=participants, filter=json.dumps({"id": {"$gt": 0}}))
        assert status == 200 and subjects(body) == expected, (participants, body)
        status, body = await alice.api(
            "mailMessages:list", {"participants": participants, "paginate": False, "fields": ["id", "subject"]}
        )
        assert status == 200 and subjects(body) == expected, (participants, body)
    # combined with filter and search
    both = {"domains": ["acme.test"]}
    status, body = await threads(alice, participants=both, filter=json.dumps({"type": "sent"}))
    assert status == 200 and subjects(body) == {"Offer to Bob"}, body
    status, body = await alice.api("mailMessages:list", {"participants": both, "search": "newsletter"})
    assert status == 200 and subjects(body) == {"Newsletter from Ann"}, body
    status, body = await threads(alice, participants=both, search="quote")
    assert status == 200 and subjects(body) == {"Quote from Ann"}, body
    # paged, newest first
    status, body = await threads(alice, participants=both, pageSize=2, page=2)
    assert status == 200 and [r["subject"] for r in body["data"]] == ["Newsletter from Ann", "Quote from Ann"], body
    assert body["meta"] == {"count": 4, "page": 2, "pageSize": 2, "totalPage": 2}
    # JSON-RPC answers the same
    body = await rpc(alice.server, alice.token, "mailMessages:listThreads", {"participants": both})
    assert subjects(body["result"]) == {"Quote from Ann", "Newsletter from Ann", "Offer to Bob", "Eve copies Acme"}


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        "[1]",
        '{"people": ["a@b.c"]}',
        '{"addresses": "x"}',
        '{"addresses": ["no-at"]}',
        '{"domains": ["a@b"]}',
    ],
)
async def test_malformed_participants_are_a_400(mailbox, bad):
    for action in ("listThreads", "list"):
        status, body = await mailbox.api(f"mailMessages:{action}", query={"participants": bad}, method="GET")
        assert status == 400, (action, bad, body)


async def test_a_record_s_mail_and_the_read_only_mail_manager(mailbox, mail_server):
    server, root_token = mail_server, mail_server.root_token
    alice = mailbox
    alice.append(message("Ann <ann@acme.test>", alice.address, "Alice: quote from Ann", date=at(0)))
    alice.append(message("Dan <dan@other.test>", alice.address, "Alice: hello from Dan", date=at(1)))
    await alice.link()
    await alice.sync()
    root = await other_mailbox(alice, root_token)
    root.append(message("Ann <ann@acme.test>", root.address, "Root: quote from Ann", date=at(2)))
    root.append(message("Dan <dan@other.test>", root.address, "Root: hello from Dan", date=at(3)))
    await root.link()
    await root.sync()
    status, body = await root.api("users:create", {"email": "ann@acme.test", "password": "ann-pass-1234"})
    if status != 200:  # the module's server is shared: made by an earlier run of this test
        status, body = await root.api("users:list", query={"filter": json.dumps({"email": "ann@acme.test"})})
        body = {"data": body["data"][0]}
    ann_id = body["data"]["id"]

    # listForRecord: the record's email fields give the participants; only the caller's own mail
    record = {"collection": "users", "filterByTk": ann_id}
    for q in (record, {**record, "field": "email"}):
        status, body = await root.api("mailMessages:listForRecord", q)
        assert status == 200 and subjects(body) == {"Root: quote from Ann"}, body
        assert body["meta"]["count"] == 1 and body["data"][0]["main"]["from"]["address"] == "ann@acme.test"
    status, body = await root.api("mailMessages:listForRecord", {**record, "field": "nickname"})
    assert status == 400, body
    for q in (
        {**record, "filterByTk": ann_id + 10_000},
        {**record, "collection": "nothing"},
        {**record, "collection": "authTokens"},
    ):
        status, body = await root.api("mailMessages:listForRecord", q)
        assert status == 404, (q, body)
    # alice may not get that user record: 404, nothing of it, on both transports
    status, body = await alice.api("mailMessages:listForRecord", record)
    assert status == 404 and "Root:" not in json.dumps(body), body
    body = await rpc(server, alice.token, "mailMessages:listForRecord", record)
    assert body["error"]["data"]["status"] == 404, body

    # scope all: 403 without mailManager, a member can't give it to itself
    for token in (alice.token, root_token):
        status, body = await server.api(token, "mailMessages:listThreads", {"scope": "all"})
        assert status == 403 and body["errors"][0]["code"] == "FORBIDDEN", body
    status, body = await alice.api("mailMessages:list", {"scope": "all"})
    assert status == 403, body
    alice_id = (await alice.api("auth:check", method="GET"))[1]["data"]["id"]
    status, body = await alice.api("users:update", {"mailManager": True}, query={"filterByTk": alice_id})
    assert status == 403, body
    mgr_email = f"mgr-{uuid.uuid4().hex[:6]}@example.test"
    mgr = await server.member(mgr_email)
    status, body = await server.api(root_token, "users:list", query={"filter": json.dumps({"email": mgr_email})})
    mgr_id = body["data"][0]["id"]
    status, body = await server.api(root_token, "users:update", {"mailManager": True}, query={"filterByTk": mgr_id})
    assert status == 200 and body["data"]["mailManager"] is True, body

    # the manager reads everyone's mail with scope all, each message saying whose account it is in
    mine = {"Alice: quote from Ann", "Alice: hello from Dan", "Root: quote from Ann", "Root: hello from Dan"}
    status, body = await server.api(mgr, "mailMessages:listThreads", {"scope": "all", "pageSize": 100})
    assert status == 200 and mine <= subjects(body), body
    owners = {r["subject"]: r["main"]["accountEmail"] for r in body["data"] if r["subject"] in mine}
    assert owners == {s: alice.address if s.startswith("Alice") else root.address for s in mine}
    status, body = await server.api(mgr, "mailMessages:listThreads", {})
    assert status == 200 and not subjects(body) & mine, body  # without scope: its own mail only
    body = await rpc(
        server, mgr, "mailMessages:list", {"scope": "all", "participants": {"addresses": ["ann@acme.test"]}}
    )
    rows = body["result"]["data"]
    assert {r["subject"] for r in rows} >= {"Alice: quote from Ann", "Root: quote from Ann"}
    assert all(r["accountEmail"] in (alice.address, root.address) for r in rows if r["subject"] in mine)
    hers = next(r["id"] for r in rows if r["subject"] == "Alice: quote from Ann")
    status, body = await server.api(mgr, "mailMessages:get", query={"filterByTk": hers, "scope": "all"}, method="GET")
    assert status == 200 and body["data"]["accountEmail"] == alice.address and body["data"]["text"], body
    status, body = await server.api(mgr, "mailMessages:get", query={"filterByTk": hers}, method="GET")
    assert status == 404, body
    thread_id = (await server.api(mgr, "mailMessages:get", {"filterByTk": hers, "scope": "all"}))[1]["data"]["threadId"]
    status, body = await server.api(mgr, "mailMessages:getThread", {"threadId": thread_id, "scope": "all"})
    assert status == 200 and [m["accountEmail"] for m in body["data"]] == [alice.address], body
    status, body = await server.api(mgr, "mailMessages:getThread", {"threadId": thread_id})
    assert status == 404, body
    # root, once a manager too, sees ann's conversations in everyone's mail
    root_id = (await root.api("auth:check", method="GET"))[1]["data"]["id"]
    status, body = await root.api("users:update", {"mailManager": True}, query={"filterByTk": root_id})
    assert status == 200, body
    status, body = await root.api("mailMessages:listForRecord", {**record, "scope": "all"})
    got = subjects(body)  # the module's server also holds earlier tests' mailboxes
    assert status == 200 and {"Alice: quote from Ann", "Root: quote from Ann"} <= got, body
    assert not [s for s in got if "Dan" in s or "Newsletter" in s], got
    owners = {r["subject"]: r["main"]["accountEmail"] for r in body["data"]}
    assert owners["Alice: quote from Ann"] == alice.address and owners["Root: quote from Ann"] == root.address

    # ... and changes none of it: every write naming alice's message is a 404, scope or not
    writes = [
        ("markRead", {"filterByTk": [hers]}),
        ("markUnread", {"filterByTk": hers}),
        ("destroy", {"filterByTk": hers}),
        ("prepareReply", {"filterByTk": hers}),
        ("prepareForward", {"filterByTk": hers}),
        ("reply", {"filterByTk": hers, "text": "hijack"}),
        ("forward", {"filterByTk": hers, "to": ["x@example.test"], "text": "hijack"}),
        ("cancelSend", {"filterByTk": hers}),
        ("send", {"accountId": alice.account_id, "to": ["x@example.test"], "text": "hijack"}),
        ("saveDraft", {"accountId": alice.account_id, "text": "hijack"}),
    ]
    for action, params in writes:
        for scope in ({}, {"scope": "all"}):
            status, body = await server.api(mgr, f"mailMessages:{action}", {**params, **scope})
            assert status == 404, (action, scope, status, body)
            body = await rpc(server, mgr, f"mailMessages:{action}", {**params, **scope})
            assert body["error"]["data"]["status"] == 404, (action, scope, body)
    status, body = await server.api(
        mgr, "mailMessages:update", {"read": True}, query={"filterByTk": hers, "scope": "all"}
    )
    assert status == 404, body
    body = await rpc(server, mgr, "mailMessages:update", {"filterByTk": hers, "scope": "all", "values": {"read": True}})
    assert body["error"]["data"]["status"] == 404, body
    # root, a manager with an account of its own, can't reply from it to alice's message either
    reply = {"accountId": root.account_id, "to": ["x@example.test"], "text": "hijack", "inReplyTo": hers}
    for params in (reply, {**reply, "scope": "all"}, {**reply, "inReplyTo": None, "forwardOf": hers}):
        status, body = await root.api("mailMessages:send", params)
        assert status == 404, (params, body)
        body = await rpc(server, root_token, "mailMessages:send", params)
        assert body["error"]["data"]["status"] == 404, (params, body)
    got = await alice.one("Alice: quote from Ann")
    assert got["read"] is False and got["type"] == "inbox"
    assert not [d for d in alice.smtp.messages if b"hijack" in d[2]]


async def test_participant_rows_follow_their_message(alice, mail_server):
    db = mail_server.host.db

    async def rows(mid):
        got = await db.fetch(
            "SELECT address, domain, thread_id, date FROM mail_message_participants WHERE message_id = $1 "
            "ORDER BY address",
            mid,
        )
        return [(r["address"], r["domain"]) for r in got], {(r["thread_id"], r["date"]) for r in got}

    m = await db.fetchrow(
        "SELECT id, thread_id, date FROM mail_messages WHERE subject = 'Quote from Ann' AND account_id = $1",
        alice.account_id,
    )
    assert await rows(m["id"]) == (
        [("ann@acme.test", "acme.test"), (alice.address.lower(), "example.test")],
        {(m["thread_id"], m["date"])},
    )
    # a new date, a conversation merged into another: the rows follow
    other = await db.fetchval("SELECT thread_id FROM mail_messages WHERE subject = 'Offer to Bob'")
    await db.execute(
        "UPDATE mail_messages SET date = date - interval '1 day', thread_id = $2 WHERE id = $1", m["id"], other
    )
    assert (await rows(m["id"]))[1] == {(other, m["date"] - timedelta(days=1))}
    # new addresses (a draft saved again): rewritten
    await db.execute(
        """UPDATE mail_messages SET to_addrs = '[{"name": "", "address": "Zed@Zeta.Test"}]' WHERE id = $1""", m["id"]
    )
    assert (await rows(m["id"]))[0] == [("ann@acme.test", "acme.test"), ("zed@zeta.test", "zeta.test")]
    # gone with the message
    await db.execute("DELETE FROM mail_messages WHERE id = $1", m["id"])
    assert await rows(m["id"]) == ([], set())
