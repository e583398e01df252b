"""A message whose text the mail server will not hand out (a broken file on the server) says so in
the reader, in the server's words, instead of "no text"; the rest of its conversation list reads as
usual. In Chromium against Dovecot behind a proxy that refuses that one message's text, at 1280x800
and 390 px."""

from __future__ import annotations

from playwright.async_api import expect

from tests.plugin_email_manager.helpers import message
from tests.servers.imap_proxy import BrokenTexts
from tests.ui.conftest import screenshot
from tests.ui.mail_fixtures import dovecot, mail_stack, mailbox, oauth_provider, smtp_sink  # noqa: F401 - fixtures
from tests.ui.test_mail import row


async def test_the_reader_says_why_a_message_has_no_text(page, mailbox):
    server = mailbox.stack.dovecot
    server.append(mailbox.address, message("bob@example.test", mailbox.address, "Readable", "Plain words here."))
    broken = server.append(mailbox.address, message("carol@example.test", mailbox.address, "Broken file", "Gone."))
    proxy = BrokenTexts(server.port, {broken}).start()
    try:
        status, body = await mailbox.api(
            "mailAccounts:create",
            {"provider": "imap", **mailbox.imap_form(), "imapPort": proxy.port, "displayName": "Alice Example"},
        )
        assert status == 200, body
        await mailbox.wait_ready()
        await mailbox.sign_in(page)

        await row(page, "Broken file").locator("a").click()
        reader = page.get_by_role("region", name="Conversation")
        note = reader.get_by_role("note")
        await expect(note).to_have_text(
            "The mail server would not hand out this message's text: [SERVERBUG] Internal error occurred. "
            "Refer to server log for more information."
        )
        await expect(reader).not_to_contain_text("This message has no text")
        await screenshot(page, "reader-unreadable-text-1280")
        await page.set_viewport_size({"width": 390, "height": 844})
        await expect(note).to_be_in_viewport()
        await screenshot(page, "reader-unreadable-text-390")

        await page.set_viewport_size({"width": 1280, "height": 800})
        await page.get_by_role("button", name="Back").click()
        await row(page, "Readable").locator("a").click()
        await expect(reader.get_by_role("heading", name="Readable")).to_be_visible()
        await expect(reader.locator(".mail-message iframe").content_frame.locator("body")).to_contain_text(
            "Plain words here."
        )
        assert page.errors == []
    finally:
        proxy.stop()
