"""The IMAP client against a real Dovecot: what the sync engine relies on, seen from outside."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from plugin_email_manager.errors import ImapCommandFailed, ImapUnavailable, MailAuthFailed
from plugin_email_manager.mailsync.imap import encode_mutf7
from plugin_email_manager.mailsync.imap import session as imap  # COMMAND_UIDS is read there
from tests.servers.tcpproxy import TcpProxy


def message(i: int, size: int = 0) -> bytes:
    body = f"Message number {i}.\r\n" + ("x" * 76 + "\r\n") * (size // 78)
    return (
        f"From: Ann <ann@example.test>\r\nTo: bob@example.test\r\nSubject: Test {i}\r\n"
        f"Message-ID: <m{i}@example.test>\r\nDate: Mon, 1 Sep 2025 10:00:00 +0000\r\n\r\n{body}"
    ).encode()


async def session_for(dovecot, user, port=None, **kwargs) -> imap.ImapSession:
    s = await imap.connect(dovecot.host, port or dovecot.port, "none", **kwargs)
    await s.login(*user)
    return s


@pytest.fixture
async def session(dovecot, mail_user):
    s = await session_for(dovecot, mail_user)
    yield s
    await s.logout()


def stdlib(dovecot, user):
    return dovecot.imap(user[0])


# -- login ---------------------------------------------------------------------------------------


async def test_login_gives_the_server_capabilities(session):
    assert session.authenticated
    assert {"IDLE", "CONDSTORE", "QRESYNC", "MOVE", "UIDPLUS", "SPECIAL-USE"} <= session.capabilities


async def test_a_wrong_password_is_refused_at_once(dovecot, mail_user):
    s = await imap.connect(dovecot.host, dovecot.port, "none", timeout=10)
    started = time.monotonic()
    with pytest.raises(MailAuthFailed) as failed:
        await s.login(mail_user[0], "not the password")
    assert time.monotonic() - started < 2
    assert (failed.value.code, failed.value.status, failed.value.extra["server"]) == ("MAIL_AUTH_FAILED", 400, "imap")
    await s.logout()


async def test_a_password_with_non_ascii_characters_goes_as_a_literal(dovecot):
    dovecot.add_user("zoe@example.test", 'pässwörd ünd "quotes"')
    s = await imap.connect(dovecot.host, dovecot.port, "none")
    await s.login("zoe@example.test", 'pässwörd ünd "quotes"')
    assert s.authenticated
    await s.logout()


async def test_tls_and_starttls_carry_the_login(dovecot, mail_user):
    for port, security in ((dovecot.tls_port, "tls"), (dovecot.port, "starttls")):
        s = await imap.connect(dovecot.host, port, security, ssl_context=dovecot.ssl_context())
        await s.login(*mail_user)
        assert (await s.select("INBOX")).uidvalidity
        await s.logout()


async def test_an_untrusted_certificate_is_an_unavailable_server(dovecot):
    # The default context trusts public CAs only: the test server's own certificate is refused.
    with pytest.raises(ImapUnavailable, match="TLS"):
        await imap.connect(dovecot.host, dovecot.tls_port, "tls", timeout=5)


async def test_nothing_listening_is_an_unavailable_server(dovecot):
    from tests.servers.net import free_port

    with pytest.raises(ImapUnavailable) as failed:
        await imap.connect("127.0.0.1", free_port(), "none", timeout=5)
    assert (failed.value.code, failed.value.status) == ("IMAP_UNAVAILABLE", 502)


@contextlib.asynccontextmanager
async def introspection(dovecot, tokens: dict[str, str]):
    """The RFC 7662 endpoint Dovecot's oauth2 passdb asks: active for the known tokens only."""

    async def introspect(request):
        user = tokens.get((await request.post()).get("token", ""))
        return web.json_response({"active": True, "username": user} if user else {"active": False})

    app = web.Application()
    app.router.add_post("/introspect", introspect)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", urlsplit(dovecot.introspection_url).port).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def test_xoauth2_takes_a_good_token_and_refuses_a_bad_one_at_once(dovecot, mail_user):
    address = mail_user[0]
    async with introspection(dovecot, {"good-token": address}):
        s = await imap.connect(dovecot.host, dovecot.port, "none", timeout=30)
        await s.authenticate_xoauth2(address, "good-token")
        assert (await s.select("INBOX")).exists == 0
        await s.logout()

        s = await imap.connect(dovecot.host, dovecot.port, "none", timeout=30)
        started = time.monotonic()
        with pytest.raises(MailAuthFailed) as failed:
            await s.authenticate_xoauth2(address, "revoked-token")
        assert time.monotonic() - started < 2  # aioimaplib waited for its whole timeout here
        assert failed.value.extra["server"] == "imap"
        # the session is still usable after the refusal
        await s.login(*mail_user)
        await s.logout()


async def test_xoauth2_without_an_initial_response(dovecot, mail_user):
    # servers without SASL-IR ask for the credentials with an empty "+" first
    address = mail_user[0]
    async with introspection(dovecot, {"good-token": address}):
        for token, works in (("good-token", True), ("bad-token", False)):
            s = await imap.connect(dovecot.host, dovecot.port, "none", timeout=30)
            s.capabilities.discard("SASL-IR")
            if works:
                await s.authenticate_xoauth2(address, token)
            else:
                with pytest.raises(MailAuthFailed):
                    await asyncio.wait_for(s.authenticate_xoauth2(address, token), 2)
            await s.logout()


async def test_xoauth2_with_the_token_server_down_is_an_outage_not_a_refusal(dovecot, mail_user):
    s = await imap.connect(dovecot.host, dovecot.port, "none", timeout=30)
    with pytest.raises(ImapUnavailable):
        await s.authenticate_xoauth2(mail_user[0], "any-token")
    await s.logout()


# -- folders -------------------------------------------------------------------------------------


async def test_folders_come_with_their_kind(dovecot, mail_user, session):
    client = stdlib(dovecot, mail_user)
    for name in ("Entwürfe", "Projects/Sent", "Spam", "Gesendete Objekte", "A & B"):
        client.create('"' + encode_mutf7(name) + '"')
    client.logout()
    folders = await session.list_folders()
    kinds = {f.name: imap.folder_type(f) for f in folders}
    assert kinds == {
        "INBOX": "inbox",
        "Sent": "sent",
        "Drafts": "drafts",
        "Trash": "trash",
        "Junk": "junk",
        "Archive": "archive",
        "Entwürfe": "drafts",
        "Projects/Sent": "other",
        "Spam": "junk",
        "Gesendete Objekte": "sent",
        "A & B": "other",
    }
    assert next(f for f in folders if f.name == "Sent").special_use == "\\Sent"
    # "Projects" exists only as the parent of "Projects/Sent": \Noselect, left out unless asked
    everything = await session.list_folders(include_noselect=True)
    assert [f.name for f in everything if not f.selectable] == ["Projects"]
    info = await session.select("Entwürfe")
    assert info.exists == 0 and info.uidvalidity


def test_well_known_names_without_special_use():
    def kind(name, delimiter="/"):
        return imap.folder_type(imap.Folder(name, delimiter))

    assert [kind(n) for n in ("inbox", "Sent Items", "Deleted Items", "Junk E-mail", "Papierkorb", "Archive")] == [
        "inbox",
        "sent",
        "trash",
        "junk",
        "trash",
        "archive",
    ]
    assert [kind(n) for n in ("[Gmail]/Sent Mail", "[Gmail]/Spam", "[Gmail]/Trash", "INBOX.Drafts")] == [
        "sent",
        "junk",
        "trash",
        "other",
    ]
    assert kind("INBOX.Drafts", ".") == "drafts"
    assert imap.folder_type(imap.Folder("[Gmail]/All Mail", "/", ("\\All",), "\\All")) == "archive"


async def test_a_missing_folder_is_a_failed_command_and_the_session_goes_on(session):
    with pytest.raises(ImapCommandFailed) as failed:
        await session.select("No such folder")
    assert failed.value.code == "IMAP_COMMAND_FAILED" and "doesn't exist" in failed.value.extra["serverText"]
    assert (await session.select("INBOX")).uidvalidity


# -- select, append, fetch -----------------------------------------------------------------------


async def test_select_reports_the_folder_state(dovecot, mail_user, session):
    for i in range(3):
        dovecot.append(mail_user[0], message(i))
    info = await session.select("INBOX")
    status = dovecot.status(mail_user[0])
    assert (info.exists, info.uidvalidity, info.uidnext, info.highestmodseq) == (
        3,
        status["uidvalidity"],
        4,
        status["highestmodseq"],
    )
    assert not info.readonly and "\\Seen" in info.permanent_flags
    assert (await session.select("INBOX", readonly=True)).readonly


async def test_append_then_fetch_gives_back_the_same_bytes_flags_and_date(session):
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = "Grüße, naïve café", "Ann <ann@example.test>", "bob@example.test"
    msg.set_content("Bonjour à tous.\n\n-- \nAnn\n", cte="8bit")
    raw = msg.as_bytes().replace(b"\n", b"\r\n")
    when = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=2)))
    await session.select("Sent")
    uid = await session.append("Sent", raw, ["\\Seen", "$Forwarded"], when)
    assert uid == 1
    fetched = [m async for m in session.fetch_messages([uid])]
    assert len(fetched) == 1
    m = fetched[0]
    assert (m.uid, m.raw, m.size, m.internaldate) == (uid, raw, len(raw), when)
    assert sorted(m.flags) == ["$Forwarded", "\\Seen"]
    assert m.modseq and m.gm_msgid is None


async def test_append_without_literal_plus_waits_for_the_go_ahead(session):
    session.capabilities.discard("LITERAL+")
    raw = message(1, 5000)
    uid = await session.append("INBOX", raw)
    await session.select("INBOX")
    assert [m.raw async for m in session.fetch_messages([uid])] == [raw]


async def test_a_thousand_messages_are_fetched_once_each(dovecot, mail_user, session):
    written = [message(i, 3000) for i in range(1000)]
    dovecot.write_maildir(mail_user[0], written, seen_every=4)
    info = await session.select("INBOX")
    assert info.exists == 1000
    uids = await session.uid_search("ALL")
    started = time.monotonic()
    got = [m async for m in session.fetch_messages(sorted(uids, reverse=True), batch_size=100)]
    elapsed = time.monotonic() - started
    assert len(got) == 1000 and len({m.uid for m in got}) == 1000
    assert sorted(m.raw for m in got) == sorted(written)
    assert sum("\\Seen" in m.flags for m in got) == 250
    # batches go newest first, as asked (within a batch the server answers in UID order)
    assert sorted((m.uid for m in got[:100]), reverse=True) == sorted(uids, reverse=True)[:100]
    assert elapsed < 5, f"1,000 messages took {elapsed:.1f} s"
    # the same through one UID-set command
    assert len({m.uid async for m in session.fetch_messages("1:*")}) == 1000


async def test_scattered_uids_go_in_several_commands(dovecot, mail_user, session, monkeypatch):
    dovecot.write_maildir(mail_user[0], [message(i) for i in range(300)])
    await session.select("INBOX")
    monkeypatch.setattr(imap, "COMMAND_UIDS", 40)  # 150 odd UIDs: four STOREs, four FETCHes
    odd = list(range(1, 301, 2))
    assert len(await session.store_flags(odd, add=["\\Flagged"])) == 150
    assert await session.uid_search("FLAGGED") == odd
    assert sorted(u.uid for u in await session.fetch_flags(odd)) == odd
    assert len(await session.move(odd[:50], "Archive")) == 50
    await session.expunge(odd[50:])
    assert len(await session.uid_search("ALL")) == 150


async def test_a_fetch_left_early_does_not_disturb_the_next_command(dovecot, mail_user, session):
    dovecot.write_maildir(mail_user[0], [message(i, 2000) for i in range(300)])
    await session.select("INBOX")
    async for m in session.fetch_messages(range(1, 301), batch_size=50):
        break
    assert await session.uid_search("ALL") == list(range(1, 301))
    assert [m.uid async for m in session.fetch_messages([7, 8])] == [7, 8]


async def test_uid_search_by_date(dovecot, mail_user, session):
    old = datetime(2020, 1, 1, tzinfo=timezone.utc)
    dovecot.append(mail_user[0], message(1), when=old)
    new_uid = dovecot.append(mail_user[0], message(2))
    await session.select("INBOX")
    assert await session.uid_search("SINCE 1-Jan-2025") == [new_uid]
    assert await session.uid_search("SEEN") == []


# -- changes -------------------------------------------------------------------------------------


async def test_stored_flags_are_seen_by_another_client(dovecot, mail_user, session):
    uids = [dovecot.append(mail_user[0], message(i)) for i in range(3)]
    await session.select("INBOX")
    updates = await session.store_flags(uids[:2], add=["\\Seen", "\\Flagged"])
    assert sorted(u.uid for u in updates) == uids[:2] and all(u.modseq for u in updates)
    await session.store_flags([uids[1]], remove=["\\Flagged"])
    client = stdlib(dovecot, mail_user)
    client.select("INBOX")
    _, seen = client.uid("SEARCH", "SEEN")
    _, flagged = client.uid("SEARCH", "FLAGGED")
    client.logout()
    assert seen[0].split() == [b"1", b"2"] and flagged[0].split() == [b"1"]


async def test_changedsince_answers_only_what_changed(dovecot, mail_user, session):
    for i in range(5):
        dovecot.append(mail_user[0], message(i))
    before = (await session.select("INBOX")).highestmodseq
    client = stdlib(dovecot, mail_user)
    client.select("INBOX")
    client.uid("STORE", "2,4", "+FLAGS", "(\\Seen)")
    client.logout()
    changed = await session.fetch_flags("1:*", changedsince=before)
    assert [(c.uid, c.flags) for c in sorted(changed)] == [(2, ["\\Seen"]), (4, ["\\Seen"])]
    assert all(c.modseq > before for c in changed)
    assert len(await session.fetch_flags("1:*")) == 5


async def test_qresync_select_tells_what_another_client_expunged_and_changed(dovecot, mail_user):
    for i in range(6):
        dovecot.append(mail_user[0], message(i))
    s = await session_for(dovecot, mail_user)
    assert await s.enable_qresync()
    info = await s.select("INBOX")
    await s.logout()
    client = stdlib(dovecot, mail_user)
    client.select("INBOX")
    client.uid("STORE", "2,5", "+FLAGS", "(\\Deleted)")
    client.expunge()
    client.uid("STORE", "3", "+FLAGS", "(\\Flagged)")
    client.logout()
    s = await session_for(dovecot, mail_user)
    again = await s.select("INBOX", qresync=(info.uidvalidity, info.highestmodseq))
    await s.logout()
    assert again.qresync and again.exists == 4
    assert sorted(again.vanished) == [2, 5]
    assert [(c.uid, c.flags) for c in again.changed] == [(3, ["\\Flagged"])]


async def test_move_and_expunge(dovecot, mail_user, session):
    uids = [dovecot.append(mail_user[0], message(i)) for i in range(4)]
    await session.select("INBOX")
    moved = await session.move(uids[:2], "Trash")
    assert moved == {1: 1, 2: 2}
    await session.expunge([uids[2]])
    assert await session.uid_search("ALL") == [uids[3]]
    assert dovecot.status(mail_user[0], "Trash")["messages"] == 2


# -- waiting for news ----------------------------------------------------------------------------


async def test_idle_sees_mail_from_another_connection_within_two_seconds(dovecot, mail_user, session):
    await session.select("INBOX")
    assert await session.idle(0.3) == []  # nothing happens: an empty answer at the timeout
    started = time.monotonic()
    waiting = asyncio.create_task(session.idle(30))
    await asyncio.sleep(0.2)
    await asyncio.to_thread(dovecot.append, mail_user[0], message(1))
    pushed = await asyncio.wait_for(waiting, 5)
    assert "1 EXISTS" in pushed and time.monotonic() - started < 2
    # after IDLE the session goes on as usual
    assert await session.uid_search("ALL") == [1]


async def test_idle_also_reports_expunges_and_flag_changes(dovecot, mail_user, session):
    dovecot.append(mail_user[0], message(1))
    await session.select("INBOX")
    waiting = asyncio.create_task(session.idle(30))
    await asyncio.sleep(0.2)

    def flag():
        client = stdlib(dovecot, mail_user)
        client.select("INBOX")
        client.uid("STORE", "1", "+FLAGS", "(\\Seen)")
        client.logout()

    await asyncio.to_thread(flag)
    pushed = await asyncio.wait_for(waiting, 5)
    assert any("FETCH" in p and "\\Seen" in p for p in pushed)


async def test_cancelling_idle_closes_the_session(session):
    await session.select("INBOX")
    waiting = asyncio.create_task(session.idle(30))
    await asyncio.sleep(0.2)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert session.closed  # left in IDLE, the connection cannot be trusted any more


# -- a bad network -------------------------------------------------------------------------------


@pytest.fixture
def proxy(dovecot):
    p = TcpProxy(dovecot.port).start()
    yield p
    p.stop()


async def test_a_connection_cut_mid_fetch_raises_promptly(dovecot, mail_user, proxy):
    dovecot.write_maildir(mail_user[0], [message(i, 20000) for i in range(300)])
    s = await session_for(dovecot, mail_user, port=proxy.port, timeout=30)
    await s.select("INBOX")
    got, started = [], None
    with pytest.raises(ImapUnavailable):
        async for m in s.fetch_messages(range(1, 301), batch_size=50):
            got.append(m.uid)
            if len(got) == 10:
                proxy.cut_all()
                started = time.monotonic()
    assert time.monotonic() - started < 1  # not the 30 s timeout
    assert 10 <= len(got) < 300 and len(set(got)) == len(got)
    assert s.closed
    with pytest.raises(ImapUnavailable):
        await s.uid_search("ALL")
    await s.logout()  # harmless on a dead session


async def test_a_connection_cut_inside_a_message_raises(dovecot, mail_user, proxy):
    dovecot.write_maildir(mail_user[0], [message(i, 20000) for i in range(50)])
    s = await session_for(dovecot, mail_user, port=proxy.port)
    await s.select("INBOX")
    await s.logout()
    proxy.cut_after_bytes(100_000)  # greeting, login, select, then about four messages
    s = await session_for(dovecot, mail_user, port=proxy.port)
    await s.select("INBOX")
    got = []
    with pytest.raises(ImapUnavailable, match="closed"):
        async for m in s.fetch_messages("1:*"):
            got.append(m)
    assert 0 < len(got) < 50 and all(len(m.raw) == m.size for m in got)


async def test_a_silent_network_times_out(dovecot, mail_user, proxy):
    s = await session_for(dovecot, mail_user, port=proxy.port, timeout=1)
    await s.select("INBOX")
    proxy.pause()
    started = time.monotonic()
    try:
        with pytest.raises(ImapUnavailable, match="no answer within 1 s"):
            await s.uid_search("ALL")
        assert time.monotonic() - started < 3
    finally:
        proxy.resume()
    assert s.closed
