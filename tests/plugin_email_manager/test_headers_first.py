"""A first sync lists from headers and structure, then fetches the text; attachments on demand.

Against the real Dovecot, behind a proxy that can hold the second pass back (it refuses a FETCH
of body sections while ``hold`` is set), so what pass 1 alone gives can be seen."""

from __future__ import annotations

import asyncio
import re
import time

from tests.plugin_email_manager.helpers import gmail_layout, gmail_receive, message
from tests.servers.imap_proxy import BrokenTexts, ImapProxy

PDF = b"%PDF-1.4 " + bytes(range(256)) * 300  # 76 KB
_SECTION_FETCH = re.compile(rb"BODY\.PEEK\[\d")


class HoldTexts(ImapProxy):
    """Dovecot, except that while ``hold`` is set a FETCH of body sections is refused (BAD)."""

    def __init__(self, target_port: int):
        super().__init__(target_port)
        self.hold = True
        self.section_fetches: list[bytes] = []

    def rewrite_command(self, line: bytes) -> bytes:
        if _SECTION_FETCH.search(line):
            self.section_fetches.append(line)
            if self.hold:
                return line.replace(b"BODY.PEEK[", b"BODY.HELD[")
        return line


async def linked_with_texts_held(mailbox, dovecot) -> tuple[HoldTexts, dict[str, dict]]:
    """Two messages on the server, the account linked and synced with the second pass held:
    {subject: listed row}."""
    mailbox.append(
        message(
            "bob@example.test",
            mailbox.address,
            "Report attached",
            "See the figures.",
            attachment=("report.pdf", PDF, "application/pdf"),
        )
    )
    mailbox.append(message("carol@example.test", mailbox.address, "Travel", "Zanzibar in spring, then Tanzania."))
    proxy = HoldTexts(dovecot.port).start()
    await mailbox.link(imapPort=proxy.port)
    await mailbox.sync()
    return proxy, {m["subject"]: m for m in await mailbox.messages()}


async def progress(mailbox) -> dict | None:
    status, body = await mailbox.api("mailAccounts:get", query={"filterByTk": mailbox.account_id}, method="GET")
    assert status == 200, body
    return body["data"]["syncProgress"]


async def attachments_of(mailbox, message_id: int) -> list[dict]:
    status, body = await mailbox.api(
        "mailAttachments:list",
        query={"filter": f'{{"mailMessageId": {message_id}}}', "paginate": "false"},
        method="GET",
    )
    assert status == 200, body
    return body["data"]


async def test_pass_one_lists_messages_and_their_attachments_before_any_text_is_fetched(mailbox, dovecot):
    proxy, listed = await linked_with_texts_held(mailbox, dovecot)
    try:
        assert set(listed) == {"Report attached", "Travel"}
        report = listed["Report attached"]
        assert report["hasAttachments"] is True and listed["Travel"]["hasAttachments"] is False
        assert report["from"]["address"] == "bob@example.test"
        (pdf,) = await attachments_of(mailbox, report["id"])
        assert pdf["filename"] == "report.pdf" and pdf["contentType"] == "application/pdf"
        assert abs(pdf["size"] - len(PDF)) < len(PDF) * 0.02
        assert proxy.section_fetches, "the second pass did not even try"
        assert await progress(mailbox) == {"listed": 2, "total": 2, "bodiesPending": 2, "indexPending": 0}
        status, body = await mailbox.api("mailMessages:list", query={"search": "zanzibar"}, method="GET")
        assert status == 200 and [m["subject"] for m in body["data"] if m.get("parseState") == "ok"] == [], body

        # the text of a message opened now is fetched at once
        proxy.hold = False
        travel = await mailbox.one("Travel")
        assert "Zanzibar in spring" in travel["text"]
        assert (await progress(mailbox))["bodiesPending"] == 1

        # an attachment downloaded is fetched once, then kept
        for _ in range(2):
            status, body = await mailbox.api("mailAttachments:download", query={"filterByTk": pdf["id"]}, method="GET")
            assert status == 200 and body == PDF
        fetched_pdf = [line for line in proxy.section_fetches if b"BODY.PEEK[2]" in line]
        assert len(fetched_pdf) == 1, fetched_pdf

        # the next sync's second pass fetches the rest: every message searchable, progress over
        await mailbox.sync()
        end = time.monotonic() + 20
        while await progress(mailbox) is not None:
            assert time.monotonic() < end, await progress(mailbox)
            await asyncio.sleep(0.1)
        status, body = await mailbox.api("mailMessages:list", query={"search": "zanzibar"}, method="GET")
        assert status == 200 and [m["subject"] for m in body["data"]] == ["Travel"], body
        report = await mailbox.one("Report attached")
        assert "See the figures." in report["text"] and [a["filename"] for a in report["attachments"]] == ["report.pdf"]
    finally:
        proxy.stop()


async def test_opening_a_message_whose_text_is_not_here_with_the_server_down_is_a_502(mailbox, dovecot):
    proxy, listed = await linked_with_texts_held(mailbox, dovecot)
    try:
        dovecot.halt()
        try:
            status, body = await mailbox.api(
                "mailMessages:get", query={"filterByTk": listed["Travel"]["id"]}, method="GET"
            )
            assert status == 502 and body["errors"][0]["code"] == "IMAP_UNAVAILABLE", body
        finally:
            dovecot.resume()
        proxy.hold = False
        assert "Zanzibar" in (await mailbox.one("Travel"))["text"]  # back: fetched when opened
    finally:
        proxy.stop()


async def test_forwarding_a_message_whose_attachment_was_never_fetched_sends_its_bytes(mailbox, dovecot, smtp_sink):
    proxy, listed = await linked_with_texts_held(mailbox, dovecot)
    try:
        proxy.hold = False
        smtp_sink.reset()
        status, body = await mailbox.api(
            "mailMessages:forward",
            {"filterByTk": listed["Report attached"]["id"], "to": ["dave@example.test"], "text": "FYI"},
        )
        assert status == 200, body
        (sent,) = await smtp_sink.wait_for(1)
        parts = {p.get_filename(): p.get_content() for p in sent.parsed().iter_attachments()}
        assert parts == {"report.pdf": PDF}
    finally:
        proxy.stop()


async def test_a_gmail_account_is_listed_headers_first_then_searchable_and_its_files_download(mailbox, gmail):
    gmail_layout(mailbox.dovecot, mailbox.address)
    gmail_receive(
        mailbox.dovecot,
        mailbox.address,
        message(
            "bob@example.test",
            mailbox.address,
            "Contract",
            "Kilimanjaro clause, page two.",
            attachment=("contract.pdf", PDF, "application/pdf"),
        ),
        "GmInbox",
        "GmThr-9001",
    )
    await mailbox.link(imapPort=gmail.port)
    await mailbox.sync()
    (row,) = await mailbox.messages()
    assert row["type"] == "inbox" and row["hasAttachments"] is True
    status, body = await mailbox.api("mailMessages:list", query={"search": "kilimanjaro"}, method="GET")
    assert status == 200 and [m["subject"] for m in body["data"]] == ["Contract"], body
    (pdf,) = await attachments_of(mailbox, row["id"])
    status, data = await mailbox.api("mailAttachments:download", query={"filterByTk": pdf["id"]}, method="GET")
    assert status == 200 and data == PDF
    assert await progress(mailbox) is None


async def test_an_image_the_html_shows_is_inline_and_one_it_does_not_is_an_attachment(mailbox):
    m = message("bob@example.test", mailbox.address, "Newsletter", "Plain.")
    m.add_alternative('<p>Logo: <img src="cid:logo@news"></p>', subtype="html")
    html = m.get_payload()[1]
    html.add_related(b"\x89PNG shown", maintype="image", subtype="png", cid="<logo@news>")
    html.add_related(b"\x89PNG unseen", maintype="image", subtype="png", cid="<spare@news>")
    mailbox.append(m)
    await mailbox.link()
    await mailbox.sync()
    got = await mailbox.one("Newsletter")
    assert {a["contentId"]: a["inline"] for a in got["attachments"]} == {"logo@news": True, "spare@news": False}
    assert got["hasAttachments"] is True
    (shown,) = [a for a in got["attachments"] if a["inline"]]
    assert f"id={shown['id']}" in got["html"]  # the signed inline URL, whose bytes come on demand
    url = re.search(r'src="(/api/mailAttachments:inline[^"]+)"', got["html"]).group(1).replace("&amp;", "&")
    status, data = await mailbox.server.call("GET", url)
    assert status == 200 and data == b"\x89PNG shown"


async def test_a_text_the_server_will_not_hand_out_is_said_so_and_the_others_of_its_batch_are_fetched(mailbox, dovecot):
    mailbox.append(message("bob@example.test", mailbox.address, "Alpha", "Aardvark notes."))
    broken = mailbox.append(message("carol@example.test", mailbox.address, "Broken file", "Never readable."))
    mailbox.append(message("dave@example.test", mailbox.address, "Gamma", "Gazelle notes."))
    proxy = BrokenTexts(dovecot.port, {broken}).start()
    try:
        await mailbox.link(imapPort=proxy.port)
        await mailbox.sync()
        # the batch the server refused as a whole was asked again a message at a time
        assert "Aardvark notes." in (await mailbox.one("Alpha"))["text"]
        assert "Gazelle notes." in (await mailbox.one("Gamma"))["text"]
        got = await mailbox.one("Broken file")
        assert got["parseState"] == "error" and not got["text"], got
        assert got["parseError"] == (
            "The mail server would not hand out this message's text: [SERVERBUG] Internal error occurred. "
            "Refer to server log for more information."
        )
        # still found by its subject and sender, and the first sync is over (no progress left hanging)
        status, body = await mailbox.api("mailMessages:list", query={"search": "carol broken"}, method="GET")
        assert status == 200 and [m["subject"] for m in body["data"]] == ["Broken file"], body
        assert await progress(mailbox) is None
        # not asked for again by every sync
        asked = len(proxy.section_fetches)
        await mailbox.sync()
        assert len(proxy.section_fetches) == asked, proxy.section_fetches[asked:]
    finally:
        proxy.stop()


async def test_a_text_refused_for_now_waits_and_the_next_sync_fetches_it(mailbox, dovecot):
    mailbox.append(message("bob@example.test", mailbox.address, "Alpha", "Aardvark notes."))
    busy = mailbox.append(message("carol@example.test", mailbox.address, "Later", "Okapi notes."))
    proxy = BrokenTexts(dovecot.port, {busy}, code=b"UNAVAILABLE").start()
    try:
        await mailbox.link(imapPort=proxy.port)
        await mailbox.sync()
        # "not now" holds the batch: nothing marked as unreadable, both still to fetch
        assert {m["subject"]: m["parseState"] for m in await mailbox.messages()} == {
            "Alpha": "pending",
            "Later": "pending",
        }
        assert (await progress(mailbox))["bodiesPending"] == 2
        proxy.broken.clear()
        await mailbox.sync()
        end = time.monotonic() + 20
        while await progress(mailbox) is not None:
            assert time.monotonic() < end, await progress(mailbox)
            await asyncio.sleep(0.1)
        assert "Okapi notes." in (await mailbox.one("Later"))["text"]
        assert "Aardvark notes." in (await mailbox.one("Alpha"))["text"]
    finally:
        proxy.stop()


async def test_a_server_refusing_every_text_marks_nothing_unreadable(mailbox, dovecot):
    uids = {mailbox.append(message("bob@example.test", mailbox.address, f"Note {i}", f"Body {i}.")) for i in range(5)}
    proxy = BrokenTexts(dovecot.port, set(uids)).start()
    try:
        await mailbox.link(imapPort=proxy.port)
        await mailbox.sync()
        # a server in trouble (every message refused, each alone too): its trouble, not theirs
        assert {m["parseState"] for m in await mailbox.messages()} == {"pending"}
        assert (await progress(mailbox))["bodiesPending"] == 5
        alone = [line for line in proxy.section_fetches if re.search(rb"UID FETCH \d+ ", line)]
        batches = len(proxy.section_fetches) - len(alone)
        # each sync asked the batch, then one by one until three were refused
        assert batches and len(alone) == 3 * batches, proxy.section_fetches
        proxy.broken.clear()
        await mailbox.sync()
        assert "Body 3." in (await mailbox.one("Note 3"))["text"]
    finally:
        proxy.stop()
