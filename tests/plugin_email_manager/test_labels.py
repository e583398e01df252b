"""Labels, the to-do mark with its due day, against the real servers: kept here on an ordinary
account, and on Gmail both ways (X-GM-LABELS, through ``GmailProxy`` in front of Dovecot):
a label set in Gmail shows here after a sync, one applied or removed here is in Gmail's view
and stays so through the next sync."""

from __future__ import annotations

import imaplib
import re

import pytest

from tests.plugin_email_manager.helpers import gmail_layout, gmail_receive, message
from tests.plugin_email_manager.plugins.events_demo import hooks as demo
from tests.plugin_email_manager.test_events import DEMO, heard
from tests.servers.gmail_proxy import keyword
from tests.servers.net import free_port


@pytest.fixture(scope="module")
async def mail_server(pg_cluster):
    """The server with the email plugin and the events demo plugin (what a hook hears of labels)."""
    from tests.servers.app import running_server

    env = {"EMAIL_CENTER_SYNC_INTERVAL": "300"}
    async with running_server(pg_cluster.create_database(), plugins=(DEMO,), env=env) as client:
        yield client


async def update(mailbox, message_id: int, **values) -> dict:
    status, body = await mailbox.api("mailMessages:update", values, query={"filterByTk": message_id})
    assert status == 200, body
    return body["data"]


async def collection(mailbox, name: str) -> list[dict]:
    status, body = await mailbox.api(f"{name}:list", query={"paginate": "false"}, method="GET")
    assert status == 200, body
    return body["data"]


def server_keywords(mailbox, uid: int, folder: str = "INBOX") -> set[str]:
    """The message's keywords as Dovecot holds them (what any other mail client sees)."""
    client = mailbox.dovecot.imap(mailbox.address)
    try:
        client.select(f'"{folder}"', readonly=True)
        typ, data = client.uid("FETCH", str(uid), "(FLAGS)")
        assert typ == "OK", data
        return set(re.search(rb"FLAGS \(([^)]*)\)", data[0]).group(1).decode().split())
    finally:
        client.logout()


async def test_labels_todo_and_its_due_day_are_kept_here_on_an_ordinary_account(mailbox):
    mailbox.append(message("bob@example.test", mailbox.address, "Quarterly plan"))
    mailbox.append(message("carol@example.test", mailbox.address, "Lunch"))
    await mailbox.link()
    await mailbox.sync()
    plan = (await mailbox.messages({"subject": "Quarterly plan"}))[0]
    before = server_keywords(mailbox, plan["uid"])

    row = await update(mailbox, plan["id"], labels=["Work", "Project X", "Work"], todo=True, todoDue="2026-12-24")
    assert row["labels"] == ["Project X", "Work"] and row["todo"] is True and row["todoDue"] == "2026-12-24"
    # each name applied has a definition, to give it a colour; the index says which message has which
    assert sorted(d["name"] for d in await collection(mailbox, "mailLabels")) == ["Project X", "Work"]
    pairs = await collection(mailbox, "mailMessageLabels")
    assert sorted((p["mailMessageId"], p["name"]) for p in pairs) == [(plan["id"], "Project X"), (plan["id"], "Work")]

    status, body = await mailbox.api("mailLabels:create", {"name": "Travel", "color": "#389e0d"})
    assert status == 200, body
    row = await update(mailbox, plan["id"], labels=["Travel"], todoDue=None)
    assert row["labels"] == ["Travel"] and row["todoDue"] is None and row["todo"] is True
    colours = {d["name"]: d["color"] for d in await collection(mailbox, "mailLabels")}
    assert colours["Travel"] == "#389e0d"  # applying it did not make a second one
    assert [p["name"] for p in await collection(mailbox, "mailMessageLabels")] == ["Travel"]

    for bad in ({"todoDue": "24/12/2026"}, {"todoDue": "2026-02-30"}, {"labels": [" "]}, {"labels": "Work"}):
        status, body = await mailbox.api("mailMessages:update", bad, query={"filterByTk": plan["id"]})
        assert status == 400 and body["errors"][0]["code"] == "INVALID_VALUE", (bad, body)

    await update(mailbox, plan["id"], todoDue="2027-01-05")
    await mailbox.sync()
    (again,) = await mailbox.messages({"subject": "Quarterly plan"})
    assert (again["labels"], again["todo"], again["todoDue"]) == (["Travel"], True, "2027-01-05")
    assert server_keywords(mailbox, plan["uid"]) == before  # an IMAP server holds no labels of ours

    # a re-sync fetches every message again: labels, the mark and its day stay on it
    status, body = await mailbox.api("mailAccounts:resync", {"filterByTk": mailbox.account_id})
    assert status == 200, body
    (again,) = await mailbox.messages({"subject": "Quarterly plan"})
    assert again["id"] != plan["id"]
    assert (again["labels"], again["todo"], again["todoDue"]) == (["Travel"], True, "2027-01-05")


async def test_someone_elses_labels_are_neither_seen_nor_changed(mailbox):
    mailbox.append(message("bob@example.test", mailbox.address, "Mine"))
    await mailbox.link()
    await mailbox.sync()
    (mine,) = await mailbox.messages()
    await update(mailbox, mine["id"], labels=["Private"])
    other = await mailbox.server.member("label-other@example.test")
    status, body = await mailbox.server.api(other, "mailLabels:list", method="GET")
    assert status == 200 and body["data"] == []
    status, body = await mailbox.server.api(other, "mailMessageLabels:list", method="GET")
    assert status == 200 and body["data"] == []
    status, body = await mailbox.server.api(
        other, "mailMessages:update", {"labels": ["Mine now"]}, query={"filterByTk": mine["id"]}
    )
    assert status == 404, body
    status, body = await mailbox.server.api(
        other, "mailMessageLabels:create", {"mailMessageId": mine["id"], "name": "x"}
    )
    assert status in (403, 404), body  # an index of mailMessages.labels, written by nobody
    (row,) = await mailbox.messages()
    assert row["labels"] == ["Private"]


# -- Gmail: labels both ways ------------------------------------------------------------------


@pytest.fixture
def gmail_box(mailbox, gmail):
    gmail_layout(mailbox.dovecot, mailbox.address)
    return mailbox


def gmail_labels(mailbox, proxy, uid: int) -> set[str]:
    """The message's labels as Gmail answers them (X-GM-LABELS through the stand-in)."""
    client = imaplib.IMAP4("127.0.0.1", proxy.port, timeout=30)
    try:
        client.login(mailbox.address, mailbox.password)
        client.select('"[Gmail]/All Mail"', readonly=True)
        typ, data = client.uid("FETCH", str(uid), "(FLAGS X-GM-LABELS)")  # the stand-in reads FLAGS
        assert typ == "OK", data
        raw = re.search(rb"X-GM-LABELS \(([^)]*)\)", data[0]).group(1).decode()
        return {re.sub(r"\\(.)", r"\1", q) or a for q, a in re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', raw)}
    finally:
        client.logout()


def gmail_set(mailbox, uid: int, *labels: str, remove: bool = False) -> None:
    """A label changed in Gmail's own web client (Dovecot's keyword, as the stand-in stores it)."""
    client = mailbox.dovecot.imap(mailbox.address)
    try:
        client.select('"[Gmail]/All Mail"')
        flags = "(" + " ".join(keyword(label) for label in labels) + ")"
        assert client.uid("STORE", str(uid), "-FLAGS" if remove else "+FLAGS", flags)[0] == "OK"
    finally:
        client.logout()


async def test_gmail_labels_reach_here_and_labels_set_here_reach_gmail(gmail_box, gmail):
    me = gmail_box.address
    receipt = gmail_receive(
        gmail_box.dovecot,
        me,
        message("shop@example.test", me, "Your receipt"),
        "GmInbox",
        "GmImportant",
        "GmL-Receipts",
    )
    plan = gmail_receive(gmail_box.dovecot, me, message("bob@example.test", me, "The plan"), "GmInbox")
    await gmail_box.link(imapPort=gmail.port)
    await gmail_box.sync()

    rows = {r["subject"]: r for r in await gmail_box.messages()}
    # the person's labels, not Gmail's system ones (\Inbox, \Important)
    assert rows["Your receipt"]["labels"] == ["Receipts"] and rows["The plan"]["labels"] in ([], None)
    assert [d["name"] for d in await collection(gmail_box, "mailLabels")] == ["Receipts"]

    # a label set in Gmail (with a space in its name) shows after the next sync
    gmail_set(gmail_box, plan, "Project X")
    await gmail_box.sync()
    assert (await gmail_box.messages({"subject": "The plan"}))[0]["labels"] == ["Project X"]

    # applied here: on Gmail at once, and the next sync keeps it
    await update(gmail_box, rows["The plan"]["id"], labels=["Project X", "Q3 Budget"])
    assert gmail_labels(gmail_box, gmail, plan) == {"\\Inbox", "Project X", "Q3 Budget"}
    await gmail_box.sync()
    assert (await gmail_box.messages({"subject": "The plan"}))[0]["labels"] == ["Project X", "Q3 Budget"]

    # removed here: gone from Gmail, and it does not come back
    await update(gmail_box, rows["Your receipt"]["id"], labels=[])
    assert gmail_labels(gmail_box, gmail, receipt) == {"\\Inbox", "\\Important"}
    await gmail_box.sync()
    assert (await gmail_box.messages({"subject": "Your receipt"}))[0]["labels"] == []

    # removed in Gmail: gone here after a sync; the message stays in the inbox
    gmail_set(gmail_box, plan, "Q3 Budget", remove=True)
    await gmail_box.sync()
    (row,) = await gmail_box.messages({"subject": "The plan"})
    assert row["labels"] == ["Project X"] and row["type"] == "inbox"


async def test_a_label_applied_while_gmail_is_unreachable_reaches_it_with_the_next_sync(gmail_box, gmail):
    me = gmail_box.address
    uid = gmail_receive(gmail_box.dovecot, me, message("bob@example.test", me, "Offline label"), "GmInbox")
    await gmail_box.link(imapPort=gmail.port)
    await gmail_box.sync()
    (row,) = await gmail_box.messages()
    db = gmail_box.server.host.db
    closed = free_port()  # Gmail out of reach: the account's server answers nothing
    await db.execute("UPDATE mail_accounts SET imap_port = $2 WHERE id = $1", gmail_box.account_id, closed)
    try:
        await update(gmail_box, row["id"], labels=["Later"])
    finally:
        await db.execute("UPDATE mail_accounts SET imap_port = $2 WHERE id = $1", gmail_box.account_id, gmail.port)
    assert gmail_labels(gmail_box, gmail, uid) == {"\\Inbox"}  # not there yet
    await gmail_box.sync()  # Gmail's older labels do not undo it, and the sync pushes it
    assert gmail_labels(gmail_box, gmail, uid) == {"\\Inbox", "Later"}
    assert (await gmail_box.messages())[0]["labels"] == ["Later"]


async def test_hooks_hear_gmail_label_changes_as_labels_and_a_read_as_read_only(gmail_box, gmail):
    me = gmail_box.address
    uid = gmail_receive(gmail_box.dovecot, me, message("bob@example.test", me, "Heard labels"), "GmInbox")
    await gmail_box.link(imapPort=gmail.port)
    await gmail_box.sync()
    (row,) = await gmail_box.messages()

    def about(changes: list[str]):
        return lambda p: p.get("message", {}).get("id") == row["id"] and p.get("changes") == changes

    demo.RECEIVED.clear()
    client = gmail_box.dovecot.imap(me)
    try:  # read in Gmail's web client: a flag, and Gmail's labels as they were (none of the person's)
        client.select('"[Gmail]/All Mail"')
        assert client.uid("STORE", str(uid), "+FLAGS", "(\\Seen)")[0] == "OK"
    finally:
        client.logout()
    await gmail_box.sync()
    await heard("messageUpdated", about(["read"]))
    assert not [p for e, p in demo.RECEIVED if e == "messageUpdated" and "labels" in p.get("changes", [])]

    gmail_set(gmail_box, uid, "Receipts")
    await gmail_box.sync()
    await heard("messageUpdated", about(["labels"]))
    assert (await gmail_box.messages())[0]["labels"] == ["Receipts"]


async def test_a_label_renamed_or_deleted_changes_the_messages_carrying_it(mailbox):
    mailbox.append(message("bob@example.test", mailbox.address, "Invoice 7"))
    mailbox.append(message("carol@example.test", mailbox.address, "Invoice 8"))
    await mailbox.link()
    await mailbox.sync()
    rows = {r["subject"]: r for r in await mailbox.messages()}
    await update(mailbox, rows["Invoice 7"]["id"], labels=["Invoices", "Q3"])
    await update(mailbox, rows["Invoice 8"]["id"], labels=["Invoices"])
    # someone else's label of the same name is theirs: untouched
    other = await mailbox.server.member("label-rename-other@example.test")
    status, body = await mailbox.server.api(other, "mailLabels:create", {"name": "Invoices", "color": "red"})
    assert status == 200, body
    definitions = {d["name"]: d for d in await collection(mailbox, "mailLabels")}

    status, body = await mailbox.api(
        "mailLabels:update", {"name": "Bills"}, query={"filterByTk": definitions["Invoices"]["id"]}
    )
    assert status == 200, body
    rows = {r["subject"]: r for r in await mailbox.messages()}
    assert rows["Invoice 7"]["labels"] == ["Bills", "Q3"] and rows["Invoice 8"]["labels"] == ["Bills"]
    assert sorted(d["name"] for d in await collection(mailbox, "mailLabels")) == ["Bills", "Q3"]
    carried = await collection(mailbox, "mailMessageLabels")
    assert sorted((c["mailMessageId"], c["name"]) for c in carried) == sorted(
        [(rows["Invoice 7"]["id"], "Bills"), (rows["Invoice 7"]["id"], "Q3"), (rows["Invoice 8"]["id"], "Bills")]
    )
    filtered = await mailbox.messages({"labels": {"$includes": "Bills"}})
    assert sorted(r["subject"] for r in filtered) == ["Invoice 7", "Invoice 8"]

    status, body = await mailbox.api("mailLabels:destroy", query={"filterByTk": definitions["Q3"]["id"]})
    assert status == 200, body
    rows = {r["subject"]: r for r in await mailbox.messages()}
    assert rows["Invoice 7"]["labels"] == ["Bills"]
    assert [d["name"] for d in await collection(mailbox, "mailLabels")] == ["Bills"]  # not defined again

    status, body = await mailbox.server.api(other, "mailLabels:list", method="GET")
    assert [d["name"] for d in body["data"]] == ["Invoices"]


async def test_a_label_renamed_here_is_renamed_on_gmail_with_the_next_sync(gmail_box, gmail):
    me = gmail_box.address
    uid = gmail_receive(gmail_box.dovecot, me, message("shop@example.test", me, "Receipt 9"), "GmInbox", "GmL-Receipts")
    await gmail_box.link(imapPort=gmail.port)
    await gmail_box.sync()
    (definition,) = await collection(gmail_box, "mailLabels")
    status, body = await gmail_box.api("mailLabels:update", {"name": "Paid"}, query={"filterByTk": definition["id"]})
    assert status == 200, body
    assert (await gmail_box.messages())[0]["labels"] == ["Paid"]
    await gmail_box.sync()  # pushes the rename; Gmail's older "Receipts" does not come back
    assert gmail_labels(gmail_box, gmail, uid) == {"\\Inbox", "Paid"}
    assert (await gmail_box.messages())[0]["labels"] == ["Paid"]
    assert [d["name"] for d in await collection(gmail_box, "mailLabels")] == ["Paid"]
