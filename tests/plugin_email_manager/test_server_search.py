"""Search during a first sync misses nothing: a message listed but whose text is not decoded yet
is found by a word of its body, through the mail server's own search (Dovecot's ``TEXT``,
Gmail's ``X-GM-RAW`` through the Gmail stand-in); once decoded, through the index alone, with no
round trip to the server; and a server that does not answer leaves the list to what is here."""

from __future__ import annotations

import asyncio
import socket
import time
from contextlib import asynccontextmanager

import pytest

from plugin_email_manager import server_search
from plugin_email_manager.server_search import criteria
from tests.plugin_email_manager.helpers import gmail_layout, gmail_receive, message
from tests.servers.imap_proxy import ImapProxy


@pytest.fixture
def imap_proxy(dovecot):
    """Dovecot behind a proxy that counts the commands it passes."""
    proxy = ImapProxy(dovecot.port).start()
    yield proxy
    proxy.stop()


@asynccontextmanager
async def text_not_decoded(mailbox, subjects: list[str]):
    """These messages as a first sync leaves them before their text is decoded (parse_state
    pending, not in the index), held so while the block runs: their rows are locked, so the
    parse pass, which takes pending mail, cannot write them back meanwhile."""
    db = mailbox.server.host.db
    where = "account_id = $1 AND subject = ANY($2::text[])"
    await db.execute(
        f"UPDATE mail_messages SET parse_state = 'pending', search_vector = NULL WHERE {where}",
        mailbox.account_id,
        subjects,
    )
    async with db.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute(f"SELECT 1 FROM mail_messages WHERE {where} FOR UPDATE", mailbox.account_id, subjects)
            yield
        finally:
            await tx.rollback()


async def decoded(mailbox, within: float = 30) -> None:
    """The account's next sync fetches the text that is not here and decodes it (the second
    pass of a first sync); waits until every message of the account is decoded again."""
    await mailbox.sync()
    end = time.monotonic() + within
    while await mailbox.server.host.db.fetchval(
        "SELECT count(*) FROM mail_messages WHERE account_id = $1 AND parse_state = 'pending'", mailbox.account_id
    ):
        assert time.monotonic() < end, "the parse pass did not decode the messages in time"
        await asyncio.sleep(0.2)


async def found(mailbox, words: str) -> tuple[list[str], list[str]]:
    """(subjects mailMessages:list finds, subjects of the conversations listThreads finds)."""
    status, body = await mailbox.api("mailMessages:list", query={"search": words}, method="GET")
    assert status == 200, body
    listed = sorted(r["subject"] for r in body["data"])
    assert body["meta"]["count"] == len(listed)
    status, body = await mailbox.api("mailMessages:listThreads", query={"search": words}, method="GET")
    assert status == 200, body
    return listed, sorted(r["subject"] for r in body["data"])


def test_a_search_becomes_imap_search_keys():
    def keys(search):
        return b"".join(k if isinstance(k, bytes) else b"{" + k.data + b"}" for k in criteria(search))

    assert keys("zeppelin") == b' TEXT "zeppelin"'
    assert keys('"quarterly report" budget') == b' TEXT "quarterly report" TEXT "budget"'
    assert keys("budget or zeppelin -draft") == b' OR TEXT "budget" TEXT "zeppelin" NOT TEXT "draft"'
    assert keys("Grüße") == " TEXT {Grüße}".encode()  # a literal, sent with CHARSET UTF-8
    assert criteria("-draft") is None


async def test_a_word_of_a_body_not_decoded_yet_is_found_through_the_server(mailbox, imap_proxy):
    me = mailbox.address
    mailbox.append(message("ann@example.test", me, "Travel plans", "The zeppelin leaves at noon from Friedrichshafen."))
    mailbox.append(message("bob@example.test", me, "Lunch", "Soup or salad?"))
    mailbox.append(message("eva@example.test", me, "Grüße", "Viele Grüße aus München, und ein Zeppelin."))
    await mailbox.link(imapPort=imap_proxy.port)
    await mailbox.sync()

    async with text_not_decoded(mailbox, ["Travel plans", "Lunch", "Grüße"]):
        before = imap_proxy.commands["UID SEARCH"]
        # no subject says it: only the server's search of the bodies finds them
        assert await found(mailbox, "zeppelin") == (["Grüße", "Travel plans"], ["Grüße", "Travel plans"])
        assert imap_proxy.commands["UID SEARCH"] > before
        assert await found(mailbox, "München") == (["Grüße"], ["Grüße"])  # a word sent as UTF-8
        assert await found(mailbox, "zeppelin -noon") == (["Grüße"], ["Grüße"])
        assert await found(mailbox, "submarine") == ([], [])
        # filters still apply to what the server found
        status, body = await mailbox.api(
            "mailMessages:list", query={"search": "zeppelin", "filter": '{"subject": "Lunch"}'}, method="GET"
        )
        assert status == 200 and body["data"] == [], body

    await decoded(mailbox)
    before, rounds = imap_proxy.commands["UID SEARCH"], server_search.rounds
    assert await found(mailbox, "zeppelin") == (["Grüße", "Travel plans"], ["Grüße", "Travel plans"])
    assert await found(mailbox, "salad") == (["Lunch"], ["Lunch"])
    # all decoded: the index answers, the server is not asked
    assert imap_proxy.commands["UID SEARCH"] == before and server_search.rounds == rounds


async def test_another_users_mail_is_never_found_through_the_server(mailbox, imap_proxy, mail_server):
    mailbox.append(message("ann@example.test", mailbox.address, "Travel plans", "The zeppelin leaves at noon."))
    await mailbox.link(imapPort=imap_proxy.port)
    await mailbox.sync()
    other = await mail_server.member("someone-else@example.test")
    async with text_not_decoded(mailbox, ["Travel plans"]):
        before = imap_proxy.commands["UID SEARCH"]
        status, body = await mail_server.api(other, "mailMessages:list", query={"search": "zeppelin"}, method="GET")
        assert status == 200 and body["data"] == [], body
        assert imap_proxy.commands["UID SEARCH"] == before  # nothing of theirs is pending: no round


async def test_a_server_that_does_not_answer_leaves_the_list_to_what_is_here(mailbox):
    me = mailbox.address
    mailbox.append(message("ann@example.test", me, "Zeppelin tickets", "Two seats, please."))
    mailbox.append(message("bob@example.test", me, "Travel plans", "The zeppelin leaves at noon."))
    await mailbox.link()
    await mailbox.sync()
    # a server that accepts connections and never says a word
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        await mailbox.server.host.db.execute(
            "UPDATE mail_accounts SET imap_port = $2 WHERE id = $1", mailbox.account_id, silent.getsockname()[1]
        )
        async with text_not_decoded(mailbox, ["Zeppelin tickets", "Travel plans"]):
            started = time.monotonic()
            # the subject still finds its message; the body's word would need the server
            assert await found(mailbox, "zeppelin") == (["Zeppelin tickets"], ["Zeppelin tickets"])
            assert time.monotonic() - started < server_search.TIMEOUT + 3
            # the next page does not wait for that server again
            started = time.monotonic()
            status, body = await mailbox.api("mailMessages:list", query={"search": "zeppelin", "page": 2}, method="GET")
            assert status == 200 and body["meta"]["count"] == 1, body
            assert time.monotonic() - started < server_search.TIMEOUT
    finally:
        silent.close()


async def test_gmail_is_asked_with_its_own_search(mailbox, gmail):
    me = mailbox.address
    gmail_layout(mailbox.dovecot, me)
    gmail_receive(
        mailbox.dovecot, me, message("ann@example.test", me, "Travel plans", "The zeppelin is late."), "GmInbox"
    )
    gmail_receive(mailbox.dovecot, me, message("bob@example.test", me, "Lunch", "Soup or salad?"), "GmInbox")
    await mailbox.link(imapPort=gmail.port)
    await mailbox.sync()
    async with text_not_decoded(mailbox, ["Travel plans", "Lunch"]):
        before = gmail.commands["UID SEARCH"]
        assert await found(mailbox, "zeppelin") == (["Travel plans"], ["Travel plans"])
        assert gmail.commands["UID SEARCH"] > before
    await decoded(mailbox)
    before = gmail.commands["UID SEARCH"]
    assert await found(mailbox, "zeppelin") == (["Travel plans"], ["Travel plans"])
    assert gmail.commands["UID SEARCH"] == before
