"""The sync engine against a real Dovecot: first sync, changes made by other clients, UIDVALIDITY,
cut connections, restarts, IDLE push. Each test is what a person would see in the mail list."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from plugin_email_manager import imap_pool
from plugin_email_manager.mailsync.account_sync import sync_account
from plugin_email_manager.mailsync.imap import session  # POLL_SECONDS is read there
from tests.plugin_email_manager.helpers import Opens, message
from tests.servers.imap_proxy import ImapProxy
from tests.servers.tcpproxy import TcpProxy

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"


def corpus_messages() -> list[bytes]:
    files = sorted((CORPORA / "enmime").glob("*.raw")) + sorted((CORPORA / "flanker").glob("*.eml"))
    return [f.read_bytes() for f in files]


def uid_of(client, subject: str) -> bytes:
    """The UID of the message with this subject, as another IMAP client finds it."""
    _, data = client.uid("SEARCH", None, "SUBJECT", f'"{subject}"')
    return data[0]


async def test_first_sync_of_varied_mail_stores_everything_once(mailbox):
    base = datetime.now(timezone.utc) - timedelta(days=20)
    for i in range(120):
        att = (f"report-{i}.pdf", b"%PDF-1.4 " + bytes(range(256)) * 4, "application/pdf") if i % 10 == 0 else None
        mailbox.append(
            message(
                f"Sender {i} <s{i}@example.test>",
                mailbox.address,
                f"Number {i} — é ü 漢",
                f"Body {i}\n" * (i % 30 + 1),
                date=base + timedelta(hours=i),
                attachment=att,
            ),
            flags="\\Seen" if i % 3 == 0 else "",
        )
    hostile = corpus_messages()
    mailbox.dovecot.write_maildir(mailbox.address, hostile, mailbox="Archive")
    for i in range(4):
        mailbox.append(message(mailbox.address, f"r{i}@example.test", f"Sent {i}"), mailbox="Sent", flags="\\Seen")
    await mailbox.link()
    data = await mailbox.sync()
    assert data["account"]["status"] == "ready"
    rows = await mailbox.messages()
    assert len(rows) == 120 + len(hostile) + 4
    assert len({(r["folderId"], r["uid"]) for r in rows}) == len(rows)
    by_type = {t: [r for r in rows if r["type"] == t] for t in ("inbox", "sent", "archive")}
    assert (len(by_type["inbox"]), len(by_type["sent"]), len(by_type["archive"])) == (120, 4, len(hostile))
    assert sum(1 for r in by_type["inbox"] if not r["read"]) == 80
    assert sum(1 for r in by_type["inbox"] if r["hasAttachments"]) == 12
    seven = await mailbox.one("Number 7 — é ü 漢")
    assert seven["from"] == {"name": "Sender 7", "address": "s7@example.test"}
    assert seven["text"].startswith("Body 7") and seven["date"].endswith("+00:00")
    ten = await mailbox.one("Number 10 — é ü 漢")
    assert [a["filename"] for a in ten["attachments"]] == ["report-10.pdf"]
    status, got = await mailbox.server.call(
        "GET", "/api/mailAttachments:download", mailbox.token, query={"filterByTk": ten["attachments"][0]["id"]}
    )
    assert status == 200 and got == b"%PDF-1.4 " + bytes(range(256)) * 4
    # a second sync changes nothing
    again = await mailbox.sync()
    assert again["counts"] == {"new": 0, "updated": 0, "deleted": 0}
    assert len(await mailbox.messages()) == len(rows)


async def test_changes_made_in_another_client_show_up(mailbox):
    await _changes_in_another_client_show_up(mailbox)


async def test_without_condstore_changes_still_show_up(mailbox, dovecot):
    """A server without CONDSTORE and QRESYNC (Microsoft's IMAP has neither): flags come from
    rechecking the newest messages, deletions and moves from comparing UID lists."""
    plain = ImapProxy(dovecot.port, drop={"CONDSTORE", "QRESYNC"}).start()
    try:
        await _changes_in_another_client_show_up(mailbox, imapPort=plain.port)
        assert (
            await mailbox.server.host.db.fetchval(
                "SELECT count(*) FROM mail_folders WHERE account_id = $1 AND highest_modseq IS NOT NULL",
                mailbox.account_id,
            )
            == 0
        )
    finally:
        plain.stop()


async def _changes_in_another_client_show_up(mailbox, **account):
    for i in range(6):
        mailbox.append(message("a@example.test", mailbox.address, f"Item {i}"))
    await mailbox.link(**account)
    await mailbox.sync()
    other = mailbox.dovecot.imap(mailbox.address)
    other.select("INBOX")
    other.uid("STORE", uid_of(other, "Item 1"), "+FLAGS", "(\\Seen \\Flagged)")
    other.uid("STORE", uid_of(other, "Item 2"), "+FLAGS", "(\\Deleted)")
    other.expunge()
    other.uid("MOVE", uid_of(other, "Item 3"), "Archive")
    other.logout()
    mailbox.append(message("b@example.test", mailbox.address, "Item new"))
    data = await mailbox.sync()
    assert data["counts"]["new"] == 2 and data["counts"]["deleted"] == 2  # the move: new in Archive, gone from INBOX
    one = (await mailbox.messages({"subject": "Item 1"}))[0]
    assert one["read"] is True and one["flagged"] is True
    assert await mailbox.messages({"subject": "Item 2"}) == []
    assert [r["type"] for r in await mailbox.messages({"subject": "Item 3"})] == ["archive"]
    assert len(await mailbox.messages({"subject": "Item new"})) == 1


async def test_read_state_reaches_the_server_both_ways(mailbox):
    mailbox.append(message("a@example.test", mailbox.address, "Read me"))
    await mailbox.link()
    await mailbox.sync()
    (row,) = await mailbox.messages({"subject": "Read me"})
    other = mailbox.dovecot.imap(mailbox.address)
    other.select("INBOX")
    assert other.uid("SEARCH", None, "UNSEEN")[1][0].split(), "the sync must not mark mail read (BODY.PEEK)"
    status, _ = await mailbox.api("mailMessages:markRead", {"filterByTk": [row["id"]]})
    assert status == 200
    # Dovecot answers another session's first command from its view before that command; a
    # NOOP is how a client learns of changes made elsewhere
    other.noop()
    assert other.uid("SEARCH", None, "UNSEEN")[1][0].split() == []
    await mailbox.api("mailMessages:markUnread", {"filterByTk": row["id"]})
    other.noop()
    assert other.uid("SEARCH", None, "UNSEEN")[1][0].split() != []
    other.logout()
    status, badges = await mailbox.api("badges:list", method="GET")
    assert [b["count"] for b in badges["data"] if b["name"] == "mail"] == [1]


async def test_a_changed_uidvalidity_refetches_without_duplicates(mailbox):
    for i in range(5):
        mailbox.append(message("a@example.test", mailbox.address, f"Valid {i}"))
    await mailbox.link()
    await mailbox.sync()
    mailbox.dovecot.bump_uidvalidity(mailbox.address, "INBOX")
    await mailbox.sync()
    rows = await mailbox.messages({"type": "inbox"})
    assert sorted(r["subject"] for r in rows) == [f"Valid {i}" for i in range(5)]


async def test_cut_connections_lose_nothing_and_duplicate_nothing(mailbox):
    bodies = [message(f"s{i}@example.test", mailbox.address, f"Cut {i}", "x" * 4000).as_bytes() for i in range(1500)]
    mailbox.dovecot.write_maildir(mailbox.address, bodies)
    proxy = TcpProxy(mailbox.dovecot.port).start()
    db = mailbox.server.host.db
    stored = "SELECT count(*) FROM mail_messages WHERE account_id = $1"
    try:
        proxy.cut_after_bytes(40_000)  # the first connection dies early, whichever it is
        await mailbox.link(imapPort=proxy.port)
        for threshold in (200, 600, 1000):  # then every connection at once, in the middle of a fetch
            start = time.monotonic()
            while await db.fetchval(stored, mailbox.account_id) < threshold:
                assert time.monotonic() - start < 30, "the sync stopped making progress"
                await mailbox.api("mailAccounts:sync", {"filterByTk": mailbox.account_id})
                await asyncio.sleep(0.02)
            proxy.cut_all()
        await mailbox.sync()
    finally:
        proxy.stop()
    failed = await db.fetchval(
        "SELECT count(*) FROM mail_sync_logs WHERE account_id = $1 AND status = 'error'", mailbox.account_id
    )
    assert failed >= 1, "no sync was cut: the test proved nothing"
    rows = await mailbox.messages()
    assert len(rows) == 1500 and len({r["uid"] for r in rows}) == 1500
    assert sorted(r["subject"] for r in rows) == sorted(f"Cut {i}" for i in range(1500))


async def test_a_restart_mid_sync_resumes(mailbox):
    bodies = [message(f"s{i}@example.test", mailbox.address, f"Resume {i}", "y" * 3000).as_bytes() for i in range(1500)]
    mailbox.dovecot.write_maildir(mailbox.address, bodies)
    account_id = await mailbox.link()
    host = mailbox.server.host
    # stop this process's worker, then run a sync by hand and cancel it half way: a crash mid-sync
    from plugin_email_manager import process_state

    process_state.of(host).supervisor.stop_worker(account_id)
    task = asyncio.create_task(sync_account(host, account_id))
    start = time.monotonic()
    while await host.db.fetchval("SELECT count(*) FROM mail_messages WHERE account_id = $1", account_id) < 300:
        assert time.monotonic() - start < 30
        await asyncio.sleep(0.01)
    task.cancel()
    partial = await host.db.fetchval("SELECT count(*) FROM mail_messages WHERE account_id = $1", account_id)
    assert 0 < partial < 1500
    await mailbox.sync()
    rows = await mailbox.messages({"type": "inbox"})
    assert len(rows) == 1500 and len({r["uid"] for r in rows}) == 1500


async def test_new_mail_arrives_without_refresh_through_idle(mailbox):
    await mailbox.link()
    await mailbox.sync()
    # at once: mail that lands while the IDLE connection is still being set up must come too
    mailbox.append(message("late@example.test", mailbox.address, "Pushed by IDLE"))
    await mailbox.arrival("Pushed by IDLE")


async def test_without_idle_new_mail_arrives_by_polling(mailbox, dovecot, monkeypatch):
    monkeypatch.setattr(session, "POLL_SECONDS", 0.5)  # 30 s in service: a NOOP each half second here
    plain = ImapProxy(dovecot.port, drop={"IDLE"}).start()
    try:
        await mailbox.link(imapPort=plain.port)
        await mailbox.sync()
        start = time.monotonic()
        while plain.commands["NOOP"] < 2:  # the poller is in its loop (its first look came earlier)
            assert time.monotonic() - start < 5, f"no polling: {plain.commands}"
            await asyncio.sleep(0.05)
        mailbox.append(message("late@example.test", mailbox.address, "Found by NOOP"))
        await mailbox.arrival("Found by NOOP")
    finally:
        plain.stop()


async def test_read_state_the_server_missed_is_pushed_by_the_next_sync(mailbox, monkeypatch):
    mailbox.append(message("a@example.test", mailbox.address, "Read while offline"))
    proxy = TcpProxy(mailbox.dovecot.port).start()
    pushes = Opens()
    monkeypatch.setattr(imap_pool, "connections", pushes)  # where markRead's push connects
    try:
        await mailbox.link(imapPort=proxy.port)
        await mailbox.sync()
        (row,) = await mailbox.messages({"subject": "Read while offline"})
        proxy.cut_after_bytes(0)  # the push's connection dies before the greeting
        status, _ = await mailbox.api("mailMessages:markRead", {"filterByTk": [row["id"]]})
        assert status == 200 and pushes.count == 1  # it tried the server once, and was cut
        (row,) = await mailbox.messages({"subject": "Read while offline"})
        assert row["read"] is True  # here at once, whatever the server did
        other = mailbox.dovecot.imap(mailbox.address)
        other.select("INBOX")
        assert other.uid("SEARCH", None, "UNSEEN")[1][0].split(), "the push should have failed"
        other.logout()
        await mailbox.sync()
    finally:
        proxy.stop()
    other = mailbox.dovecot.imap(mailbox.address)
    other.select("INBOX")
    assert other.uid("SEARCH", None, "UNSEEN")[1][0].split() == []
    other.logout()
    (row,) = await mailbox.messages({"subject": "Read while offline"})
    assert row["read"] is True


async def test_a_flag_set_here_reaches_the_server_and_read_only_fields_stay(mailbox):
    mailbox.append(message("a@example.test", mailbox.address, "Flag me"))
    await mailbox.link()
    await mailbox.sync()
    (row,) = await mailbox.messages({"subject": "Flag me"})
    status, body = await mailbox.api("mailMessages:update", {"flagged": True}, query={"filterByTk": row["id"]})
    assert status == 200 and body["data"]["flagged"] is True
    other = mailbox.dovecot.imap(mailbox.address)
    other.select("INBOX")
    assert other.uid("SEARCH", None, "FLAGGED")[1][0].split()
    other.logout()
    status, body = await mailbox.api("mailMessages:update", {"subject": "Changed"}, query={"filterByTk": row["id"]})
    assert status == 400
    status, body = await mailbox.api(
        "mailMessages:update", {"labels": ["Invoices", "Invoices", "Q3"], "todo": True}, query={"filterByTk": row["id"]}
    )
    assert status == 200 and body["data"]["labels"] == ["Invoices", "Q3"] and body["data"]["todo"] is True
    await mailbox.sync()
    (row,) = await mailbox.messages({"subject": "Flag me"})
    assert row["flagged"] is True and row["labels"] == ["Invoices", "Q3"]
    assert [r["subject"] for r in await mailbox.messages({"todo": True})] == ["Flag me"]


async def test_deleting_moves_to_trash_at_once_and_from_trash_for_good(mailbox):
    mailbox.append(message("a@example.test", mailbox.address, "Bin me"))
    await mailbox.link()
    await mailbox.sync()
    (row,) = await mailbox.messages({"subject": "Bin me"})
    status, _ = await mailbox.api("mailMessages:destroy", query={"filterByTk": row["id"]})
    assert status == 200
    (trashed,) = await mailbox.messages({"subject": "Bin me"})
    assert trashed["type"] == "trash"  # shown in Trash without waiting for a sync
    await mailbox.sync()
    assert [r["type"] for r in await mailbox.messages({"subject": "Bin me"})] == ["trash"]
    other = mailbox.dovecot.imap(mailbox.address)
    other.select("Trash")
    assert other.uid("SEARCH", None, "ALL")[1][0].split()
    status, _ = await mailbox.api("mailMessages:destroy", query={"filterByTk": trashed["id"]})
    assert status == 200 and await mailbox.messages({"subject": "Bin me"}) == []
    other.noop()
    assert other.uid("SEARCH", None, "ALL")[1][0].split() == []
    other.logout()


async def test_an_incremental_sync_asks_qresync_for_changes_instead_of_every_uid(mailbox, monkeypatch):
    from plugin_email_manager.mailsync.imap import ImapSession

    for i in range(30):
        mailbox.append(message("a@example.test", mailbox.address, f"Quiet {i}"))
    await mailbox.link()
    await mailbox.sync()
    searches: list[str] = []
    real_search = ImapSession.uid_search

    async def spy(self, criteria: str = "ALL"):
        searches.append(criteria)
        return await real_search(self, criteria)

    monkeypatch.setattr(ImapSession, "uid_search", spy)
    other = mailbox.dovecot.imap(mailbox.address)
    other.select("INBOX")
    other.uid("STORE", uid_of(other, "Quiet 4"), "+FLAGS", "(\\Seen)")
    other.uid("STORE", uid_of(other, "Quiet 5"), "+FLAGS", "(\\Deleted)")
    other.expunge()
    other.logout()
    mailbox.append(message("b@example.test", mailbox.address, "Quiet new"))
    await mailbox.sync()
    # not this sync's counts: the account's IDLE may have woken a sync of the INBOX first, which
    # then took some of these changes (on a loaded machine it did); all of them are here after both
    assert (await mailbox.messages({"subject": "Quiet 4"}))[0]["read"] is True
    assert await mailbox.messages({"subject": "Quiet 5"}) == []
    assert len(await mailbox.messages({"subject": "Quiet new"})) == 1
    # the INBOX (and every other folder) told what changed; no folder listed all its UIDs
    assert searches and "ALL" not in searches, searches


async def test_a_row_lost_here_is_fetched_again_when_the_counts_do_not_add_up(mailbox):
    for i in range(8):
        mailbox.append(message("a@example.test", mailbox.address, f"Counted {i}"))
    await mailbox.link()
    await mailbox.sync()
    db = mailbox.server.host.db
    await db.execute("DELETE FROM mail_messages WHERE account_id = $1 AND subject = 'Counted 3'", mailbox.account_id)
    data = await mailbox.sync()  # QRESYNC reports nothing new; the count says one is missing
    assert data["counts"]["new"] == 1
    assert len(await mailbox.messages({"subject": "Counted 3"})) == 1
    assert len(await mailbox.messages({"subject": {"$includes": "Counted"}})) == 8


def test_a_row_from_hostile_headers_carries_no_nul_for_postgresql():
    from plugin_email_manager.mailsync.folder_sync import message_row
    from plugin_email_manager.mailsync.imap import FetchedMessage

    raw = (
        b"Message-ID: <a\x00b@example.com>\r\nIn-Reply-To: <p\x00@example.com>\r\n"
        b"Subject: =?utf-8?q?nul=00here?=\r\nFrom: Ann\x00 <ann@example.com>\r\n\r\nbody\x00"
    )
    row = message_row(FetchedMessage(uid=7, flags=["\\Seen"], internaldate=None, size=0, modseq=None, raw=raw), "inbox")
    assert row["message_id"] == "<ab@example.com>" and row["in_reply_to"] == "<p@example.com>"
    assert all("\x00" not in str(v) for k, v in row.items() if k != "raw")
    assert row["raw"] == raw and row["read"] is True  # the stored bytes stay as sent


async def test_opening_a_message_the_parse_pass_has_not_reached_shows_its_body(mailbox, monkeypatch):
    from plugin_email_manager import process_state

    mailbox.append(message("a@example.test", mailbox.address, "Opened early", "The body, decoded on demand."))
    await mailbox.link()
    await mailbox.sync()
    parse_pass = process_state.of(mailbox.server.host).parse_pass

    async def busy(*_args, **_kwargs):  # the pass is elsewhere (say, holding a first sync back)
        return False

    monkeypatch.setattr(parse_pass, "run_once", busy)
    db = mailbox.server.host.db
    await db.execute(
        "UPDATE mail_messages SET parse_state = 'pending', text = NULL, html = NULL, snippet = NULL "
        "WHERE account_id = $1",
        mailbox.account_id,
    )
    opened = await mailbox.one("Opened early")
    assert opened["text"].startswith("The body, decoded on demand.")
    assert await db.fetchval("SELECT parse_state FROM mail_messages WHERE account_id = $1", mailbox.account_id) == "ok"
