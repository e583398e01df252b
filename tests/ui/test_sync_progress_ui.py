"""The first sync's progress bar in Chromium (1280x800 and 390 px): a mailbox of 3,000 messages
linked through the IMAP form, with the network to Dovecot held still for a moment (a TCP proxy
paused) so that the sync is caught half-way: the account's row in Account settings and the top of
the list show "N of 3,000 listed" with the numbers the API gives, and the bar goes once the sync
and its indexing are done, the conversations all there."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from playwright.async_api import expect

from tests.plugin_email_manager.helpers import message
from tests.servers.tcpproxy import TcpProxy
from tests.ui.conftest import screenshot
from tests.ui.mail_fixtures import dovecot, mail_stack, mailbox, oauth_provider, smtp_sink  # noqa: F401 - fixtures

MESSAGES = 3000


@pytest.fixture
def proxy(dovecot):
    """A TCP proxy in front of Dovecot, which the test can pause."""
    server = TcpProxy(dovecot.port).start()
    yield server
    server.stop()


async def progress_midway(mailbox) -> dict:
    """The account's syncProgress as soon as the first sync has listed some but not all."""
    end = time.monotonic() + 60
    while time.monotonic() < end:
        status, body = await mailbox.api("mailAccounts:list", method="GET")
        assert status == 200, body
        progress = body["data"][0]["syncProgress"] if body["data"] else None
        if progress and 0 < progress["listed"] < progress["total"]:
            return progress
        await asyncio.sleep(0.03)
    raise AssertionError("the first sync was never seen half-way")


async def listed_when_still(mailbox) -> int:
    """syncProgress.listed once it stops moving (the same twice, a second apart)."""
    before = None
    for _ in range(10):
        status, body = await mailbox.api("mailAccounts:list", method="GET")
        assert status == 200, body
        listed = body["data"][0]["syncProgress"]["listed"]
        if listed == before:
            return listed
        before = listed
        await asyncio.sleep(1)
    raise AssertionError("listing went on with the network paused")


async def test_the_progress_bar_follows_a_first_sync_then_goes(page, phone_page, mailbox, proxy):
    body = "A line of an ordinary message, long enough to weigh something.\n" * 30
    mailbox.stack.dovecot.write_maildir(
        mailbox.address,
        [message("Bob <bob@example.test>", mailbox.address, f"Report {i}", body).as_bytes() for i in range(MESSAGES)],
    )
    await mailbox.sign_in(page)
    await page.get_by_role("button", name="Link account").click()
    await (
        page.get_by_role("dialog", name="Link account")
        .get_by_role("button", name="IMAP/SMTP Any other mail server")
        .click()
    )
    form = page.get_by_role("dialog", name="Link an IMAP/SMTP account")
    values = mailbox.imap_form()
    await form.get_by_label("Email address").fill(values["email"])
    await form.get_by_label("Password").fill(mailbox.password)
    await form.get_by_label("IMAP server").fill(proxy.host)
    await form.get_by_label("IMAP security").select_option("none")
    await form.get_by_label("IMAP port").fill(str(proxy.port))
    await form.get_by_label("SMTP server").fill(values["smtpHost"])
    await form.get_by_label("SMTP security").select_option("none")
    await form.get_by_label("SMTP port").fill(str(values["smtpPort"]))
    await form.get_by_role("button", name="Link account").click()

    progress = await progress_midway(mailbox)
    proxy.pause()  # the mail server goes quiet: listing stops (for well under the 30 s timeout)
    try:
        listed = await listed_when_still(mailbox)  # what was on its way when the network stopped is stored
        assert progress["total"] == MESSAGES and progress["listed"] <= listed < MESSAGES
        of_total = re.compile(rf"^{listed:,} of 3,000 listed")

        settings = page.get_by_role("dialog", name="Account settings")
        row_bar = settings.get_by_role("progressbar", name=f"Sync progress of {mailbox.address}")
        await expect(row_bar).to_have_attribute("aria-valuenow", str(listed))
        await expect(row_bar).to_have_attribute("aria-valuemax", str(MESSAGES))
        await expect(settings.locator(".mail-account .mail-sync-text")).to_have_text(of_total)
        await screenshot(page, "sync-progress-settings-desktop", full_page=False)
        await settings.get_by_role("button", name="Close").click()

        list_bar = page.get_by_role("region", name="Conversations").get_by_role("progressbar", name="Sync progress")
        await expect(list_bar).to_have_attribute("aria-valuenow", str(listed))
        await expect(page.locator(".mail-list .mail-sync-text")).to_have_text(of_total)
        await screenshot(page, "sync-progress-list-desktop", full_page=False)

        await mailbox.sign_in(phone_page)
        await expect(phone_page.locator(".mail-list .mail-sync-text")).to_have_text(of_total)
        await screenshot(phone_page, "sync-progress-list-phone", full_page=False)
    finally:
        proxy.resume()

    # the rest is listed and indexed; the bar goes by itself (no reload), the mail is all there
    await expect(list_bar).to_have_count(0, timeout=120_000)
    await expect(page.locator(".mail-list-sub")).to_contain_text(f"{MESSAGES} conversations")
    status, body = await mailbox.api("mailAccounts:list", method="GET")
    assert body["data"][0]["syncProgress"] is None and body["data"][0]["status"] == "ready"
    assert page.errors == [] and phone_page.errors == []
