"""Opening messages whose text is not here yet, marking them, moving and deleting them reuse a
logged-in IMAP session (``imap_pool``).

Against the real Dovecot, behind ``HoldTexts`` (test_headers_first): the sync lists the messages
with their text held back, then the proxy lets section fetches through, so every open fetches
from the server. The proxy counts the commands it passes (EXAMINE), can cut one connection, or
the one that a move's answer comes on; the account's sync worker keeps its own connection (IDLE)
through it too, and is left alone.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from plugin_email_manager import imap_pool
from tests.plugin_email_manager.helpers import Opens, message
from tests.plugin_email_manager.test_headers_first import HoldTexts
from tests.plugin_email_manager.test_move import held_in


@pytest.fixture
def opens(monkeypatch) -> Opens:
    counter = Opens()
    monkeypatch.setattr(imap_pool, "connections", counter)  # the pool's logins, not the sync worker's
    return counter


class Proxy(HoldTexts):
    """HoldTexts that can also cut one client's connection, or hold every greeting back a while."""

    greeting_delay = 0.0
    cut_moves = 0  # moves whose answer is lost: the connection is cut once the server has moved

    def rewrite_response(self, parts: list[bytes]) -> list[bytes]:
        if self.cut_moves and b"[COPYUID " in parts[0].upper():  # told as the move is done
            self.cut_moves -= 1
            raise ConnectionResetError("cut as the move was answered")  # the link is cut (ImapProxy)
        return super().rewrite_response(parts)

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


async def test_messages_of_one_account_opened_at_once_each_get_their_own_text(mailbox, dovecot, opens):
    """Six opens at once, in two folders: no session serves two of them at a time (each would
    EXAMINE the other's folder), and the account never holds more than two. (Logins counted in
    the pool: the proxy's connections also take the second pass's, which starts when the texts
    are let through.)"""
    proxy, ids = await listed(mailbox, dovecot, count=3, archive=3)
    try:
        logins = opens.count
        answers = await asyncio.gather(*(open_message(mailbox, ids[f"Trip {i}"]) for i in range(6)))
        for i, (status, body) in enumerate(answers):
            assert status == 200 and day(i) in body["data"]["text"], (i, body)
        assert opens.count - logins <= imap_pool.PER_ACCOUNT
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


def seen_on_server(mailbox) -> set[str]:
    """The subjects of INBOX's messages with \\Seen, as another IMAP client finds them."""
    client = mailbox.dovecot.imap(mailbox.address)
    try:
        client.select("INBOX", readonly=True)
        _, data = client.uid("SEARCH", None, "SEEN")
        uids = data[0].split()
        if not uids:
            return set()
        _, fetched = client.uid("FETCH", b",".join(uids).decode(), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        return {part[1].decode().split(":", 1)[1].strip() for part in fetched if isinstance(part, tuple)}
    finally:
        client.logout()


def copies(mailbox, folder: str, subject: str) -> int:
    """How many messages with this subject the server's folder holds."""
    client = mailbox.dovecot.imap(mailbox.address)
    try:
        client.select(folder, readonly=True)
        return len(client.uid("SEARCH", None, "SUBJECT", f'"{subject}"')[1][0].split())
    finally:
        client.logout()


@pytest.fixture
async def trips(mailbox, dovecot):
    """``listed`` with its proxy stopped after the test."""
    proxy, ids = await listed(mailbox, dovecot)
    yield proxy, ids
    proxy.stop()


async def mark_read(mailbox, message_id: int) -> None:
    status, body = await mailbox.api("mailMessages:markRead", {"filterByTk": [message_id]})
    assert status == 200, body


async def test_three_messages_marked_read_one_after_another_log_in_once(mailbox, trips, opens):
    _, ids = trips
    logins = opens.count
    for i in range(3):
        await mark_read(mailbox, ids[f"Trip {i}"])
    assert opens.count - logins == 1
    assert seen_on_server(mailbox) == {"Trip 0", "Trip 1", "Trip 2"}
    await mailbox.api("mailMessages:markUnread", {"filterByTk": [ids["Trip 1"]]})
    assert seen_on_server(mailbox) == {"Trip 0", "Trip 2"}  # a kept selection takes changes both ways
    assert opens.count - logins == 1


async def test_a_mark_reaches_the_server_when_the_kept_session_was_cut_before_it(mailbox, trips, opens):
    proxy, ids = trips
    logins = opens.count
    await mark_read(mailbox, ids["Trip 0"])
    (port,) = kept_ports(mailbox)
    assert proxy.cut_client(port) == 1
    await mark_read(mailbox, ids["Trip 1"])  # the cut found before the STORE or by it: either way
    assert seen_on_server(mailbox) == {"Trip 0", "Trip 1"}
    assert opens.count - logins == 2
    (row,) = await mailbox.messages({"subject": "Trip 1"})
    assert row["read"] is True


async def test_a_mark_on_mail_that_came_after_the_kept_session_selected_still_reaches_the_server(mailbox, trips, opens):
    """The kept session selected INBOX before this mail came; a server acts only on messages it
    has announced to a session, so the session catches up before it changes anything."""
    _, ids = trips
    await mark_read(mailbox, ids["Trip 0"])
    mailbox.append(message("dan@example.test", mailbox.address, "Later", "Came after the selection."))
    await mailbox.sync()
    (later,) = await mailbox.messages({"subject": "Later"})
    logins = opens.count
    await mark_read(mailbox, later["id"])
    assert opens.count == logins  # on the kept session
    assert seen_on_server(mailbox) == {"Trip 0", "Later"}


async def test_a_move_then_a_delete_reuse_the_session_and_the_server_has_both(mailbox, trips, opens):
    _, ids = trips
    logins = opens.count
    status, body = await mailbox.api("mailMessages:move", {"filterByTk": ids["Trip 0"], "folder": "archive"})
    assert status == 200, body
    status, body = await mailbox.api("mailMessages:destroy", query={"filterByTk": ids["Trip 1"]})
    assert status == 200, body
    status, body = await mailbox.api("mailMessages:destroy", query={"filterByTk": ids["Trip 1"]})
    assert status == 200, body  # from Trash: for good
    assert opens.count - logins == 1
    assert held_in(mailbox, "Archive", "Trip 0") and not held_in(mailbox, "INBOX", "Trip 0")
    assert not any(held_in(mailbox, folder, "Trip 1") for folder in ("INBOX", "Trash"))
    assert [r["type"] for r in await mailbox.messages({"subject": "Trip 0"})] == ["archive"]
    assert await mailbox.messages({"subject": "Trip 1"}) == []


async def test_a_move_whose_answer_the_network_lost_is_asked_again_and_done_once(mailbox, trips, opens):
    """The kept session is cut once the server has moved the message, before it says so: the
    move runs again on a new session, where the UID is gone from the folder (Dovecot answers OK,
    moving nothing), and the message is in Archive once; the next sync lists it there."""
    proxy, ids = trips
    await mark_read(mailbox, ids["Trip 2"])  # a kept session for the move
    logins = opens.count
    proxy.cut_moves = 1
    status, body = await mailbox.api("mailMessages:move", {"filterByTk": ids["Trip 0"], "folder": "archive"})
    assert status == 200, body
    assert proxy.cut_moves == 0 and opens.count - logins == 1
    assert copies(mailbox, "Archive", "Trip 0") == 1 and not held_in(mailbox, "INBOX", "Trip 0")
    await mailbox.sync()
    assert [r["type"] for r in await mailbox.messages({"subject": "Trip 0"})] == ["archive"]


async def test_with_the_server_down_a_mark_answers_at_once_and_the_next_sync_pushes_it(mailbox, dovecot, trips):
    _, ids = trips
    await mark_read(mailbox, ids["Trip 0"])
    assert len(kept_ports(mailbox)) == 1
    dovecot.halt()
    try:
        await mark_read(mailbox, ids["Trip 1"])  # 200: noted here, for the server later
        (row,) = await mailbox.messages({"subject": "Trip 1"})
        assert row["read"] is True
    finally:
        dovecot.resume()
    assert seen_on_server(mailbox) == {"Trip 0"}
    await mailbox.sync()
    assert seen_on_server(mailbox) == {"Trip 0", "Trip 1"}
    (row,) = await mailbox.messages({"subject": "Trip 1"})
    assert row["read"] is True
