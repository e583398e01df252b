"""Opening messages whose text is not here yet reuses a logged-in IMAP session (``imap_pool``).

Against the real Dovecot, behind ``HoldTexts`` (test_headers_first): the sync lists the messages
with their text held back, then the proxy lets section fetches through, so every open fetches
from the server. The proxy counts the commands it passes (EXAMINE) and can cut
one connection; the account's sync worker keeps its own connection (IDLE) through it too, and
is left alone.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from plugin_email_manager import imap_pool
from tests.plugin_email_manager.helpers import Opens, message
from tests.plugin_email_manager.test_headers_first import HoldTexts


@pytest.fixture
def opens(monkeypatch) -> Opens:
    counter = Opens()
    monkeypatch.setattr(imap_pool, "connections", counter)  # the pool's logins, not the sync worker's
    return counter


class Proxy(HoldTexts):
    """HoldTexts that can also cut one client's connection, or hold every greeting back a while."""

    greeting_delay = 0.0

    def cut_client(self, port: int) -> int:
        """Drops the connection coming from this local port; answers how many were dropped."""

        def cut() -> int:
            links = [link for link in self.links if link.client.get_extra_info("peername")[1] == port]
            for link in links:
                link.cut()
                self.links.discard(link)
            return len(links)

        return self._call(cut)

    def connected(self, port: int) -> bool:
        return self._call(lambda: any(link.client.get_extra_info("peername")[1] == port for link in self.links))

    async def _responses(self, reader, writer) -> None:
        if self.greeting_delay:
            await asyncio.sleep(self.greeting_delay)
        await super()._responses(reader, writer)


def day(i: int) -> str:
    return f"Day {i}: the ferry leaves Stone Town at {7 + i} o'clock."


async def listed(mailbox, dovecot, count: int = 4, archive: int = 0) -> tuple[Proxy, dict[str, int]]:
    """``count`` messages in INBOX and ``archive`` in Archive ("Trip 0", "Trip 1", ...), listed with
    their text held, then the proxy opened for fetches: {subject: message id}."""
    for i in range(count + archive):
        m = message("carol@example.test", mailbox.address, f"Trip {i}", day(i))
        mailbox.append(m, mailbox="INBOX" if i < count else "Archive")
    proxy = Proxy(dovecot.port).start()
    await mailbox.link(imapPort=proxy.port)
    await mailbox.sync()
    proxy.hold = False
    rows = await mailbox.messages()
    assert len(rows) == count + archive and all(r.get("parseState") != "ok" for r in rows), rows
    return proxy, {r["subject"]: r["id"] for r in rows}


async def open_message(mailbox, message_id: int) -> tuple[int, dict]:
    return await mailbox.api("mailMessages:get", query={"filterByTk": message_id}, method="GET")


def pool_of(mailbox) -> imap_pool.ImapPool:
    return imap_pool.of(mailbox.server.host)


def kept_ports(mailbox) -> list[int]:
    """The local ports of the sessions kept idle for this account."""
    slot = pool_of(mailbox)._accounts.get(mailbox.account_id)
    return [lease.session.wire.writer.get_extra_info("sockname")[1] for lease in (slot.idle if slot else [])]


async def test_two_opens_in_a_row_log_in_and_examine_the_folder_once(mailbox, dovecot, opens):
    proxy, ids = await listed(mailbox, dovecot)
    try:
        logins, examines = opens.count, proxy.commands["EXAMINE"]
        for i in range(3):
            status, body = await open_message(mailbox, ids[f"Trip {i}"])
            assert status == 200 and day(i) in body["data"]["text"], body
        assert opens.count - logins == 1
        assert proxy.commands["EXAMINE"] - examines == 1
        assert len(kept_ports(mailbox)) == 1
    finally:
        proxy.stop()


async def test_a_kept_session_cut_by_the_network_is_replaced_without_the_person_noticing(mailbox, dovecot, opens):
    proxy, ids = await listed(mailbox, dovecot)
    try:
        logins = opens.count
        status, body = await open_message(mailbox, ids["Trip 0"])
        assert status == 200 and day(0) in body["data"]["text"]
        (port,) = kept_ports(mailbox)
        assert proxy.cut_client(port) == 1
        await asyncio.sleep(0.1)  # the cut reaches the kept session's socket
        status, body = await open_message(mailbox, ids["Trip 1"])
        assert status == 200 and day(1) in body["data"]["text"], body
        assert opens.count - logins == 2
    finally:
        proxy.stop()


async def test_a_session_left_idle_is_logged_out(mailbox, dovecot, opens):
    pool = pool_of(mailbox)
    proxy, ids = await listed(mailbox, dovecot)
    saved, pool.idle_seconds = pool.idle_seconds, 0.5
    try:
        logins = opens.count
        status, _ = await open_message(mailbox, ids["Trip 0"])
        assert status == 200 and opens.count - logins == 1
        ports = kept_ports(mailbox)  # empty only if half a second went by already (a loaded machine)
        end = time.monotonic() + 5
        while kept_ports(mailbox) or any(proxy.connected(port) for port in ports):
            assert time.monotonic() < end, "the idle session was not closed"
            await asyncio.sleep(0.05)
        status, body = await open_message(mailbox, ids["Trip 1"])  # and a later open logs in again
        assert status == 200 and day(1) in body["data"]["text"]
        assert opens.count - logins == 2
    finally:
        pool.idle_seconds = saved
        proxy.stop()


async def test_with_the_server_down_a_kept_session_gives_way_to_a_502_then_opens_work_again(mailbox, dovecot):
    proxy, ids = await listed(mailbox, dovecot)
    try:
        status, _ = await open_message(mailbox, ids["Trip 0"])
        assert status == 200 and len(kept_ports(mailbox)) == 1
        dovecot.halt()
        try:
            status, body = await open_message(mailbox, ids["Trip 1"])
            assert status == 502 and body["errors"][0]["code"] == "IMAP_UNAVAILABLE", body
            assert kept_ports(mailbox) == []
        finally:
            dovecot.resume()
        status, body = await open_message(mailbox, ids["Trip 1"])
        assert status == 200 and day(1) in body["data"]["text"], body
    finally:
        proxy.stop()


async def test_messages_of_one_account_opened_at_once_each_get_their_own_text(mailbox, dovecot):
    """Six opens at once, in two folders: no session serves two of them at a time (each would
    EXAMINE the other's folder), and the account never holds more than two."""
    proxy, ids = await listed(mailbox, dovecot, count=3, archive=3)
    try:
        accepted = proxy.accepted
        answers = await asyncio.gather(*(open_message(mailbox, ids[f"Trip {i}"]) for i in range(6)))
        for i, (status, body) in enumerate(answers):
            assert status == 200 and day(i) in body["data"]["text"], (i, body)
        assert proxy.accepted - accepted <= imap_pool.PER_ACCOUNT
        assert pool_of(mailbox)._accounts[mailbox.account_id].count <= imap_pool.PER_ACCOUNT
    finally:
        proxy.stop()


async def test_opens_that_come_together_try_a_refused_password_once(mailbox, dovecot, opens):
    """The password changed on the server: three opens at once share one login attempt and its
    refusal, instead of three refused logins (which servers answer with penalties, then locks)."""
    proxy, ids = await listed(mailbox, dovecot)
    try:
        dovecot.add_user(mailbox.address, "changed-" + mailbox.password)
        proxy.greeting_delay = 0.5  # the attempt lasts long enough for all three to meet it
        logins = opens.count
        answers = await asyncio.gather(*(open_message(mailbox, ids[f"Trip {i}"]) for i in range(3)))
        assert [(status, body["errors"][0]["code"]) for status, body in answers] == [(400, "MAIL_AUTH_FAILED")] * 3
        assert opens.count - logins == 1
    finally:
        dovecot.add_user(mailbox.address, mailbox.password)
        proxy.stop()


async def test_a_session_given_back_and_closed_at_once_still_served_the_open_that_made_it(mailbox, dovecot, opens):
    """No idle time at all: each open logs in once and gets its text (the new session goes to
    the request that opened it, never through the idle list, where it could close first)."""
    pool = pool_of(mailbox)
    proxy, ids = await listed(mailbox, dovecot)
    saved, pool.idle_seconds = pool.idle_seconds, 0.0
    try:
        logins = opens.count
        for i in range(2):
            status, body = await open_message(mailbox, ids[f"Trip {i}"])
            assert status == 200 and day(i) in body["data"]["text"], body
        assert opens.count - logins == 2
    finally:
        pool.idle_seconds = saved
        proxy.stop()
