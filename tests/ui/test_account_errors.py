"""An account in error, in Account settings, offers what would repair it: Try again when its mail
server was down (a new password would not help), a new password when the server refused the old
one. In Chromium against the real server and Dovecot (halted, its password changed), at 1280x800
and 390 px."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.ui.conftest import screenshot
from tests.ui.mail_fixtures import dovecot, mail_stack, mailbox, oauth_provider, smtp_sink  # noqa: F401 - fixtures

PHONE = {"width": 390, "height": 844}


async def sync_answers(mailbox, status: int, within: float = 20) -> None:
    """Sync until the sync answers ``status`` (Dovecot rereads its password file by itself)."""
    end = asyncio.get_running_loop().time() + within
    while True:
        got, body = await mailbox.api("mailAccounts:sync", {"filterByTk": mailbox.account_id, "wait": True})
        if got == status:
            return
        assert asyncio.get_running_loop().time() < end, body
        await asyncio.sleep(0.2)


async def account_in_settings(page, mailbox):
    await page.get_by_role("button", name="Account settings").click()
    settings = page.get_by_role("dialog", name="Account settings")
    account = settings.locator(".mail-account", has_text=mailbox.address)
    await expect(account.locator("[data-status]")).to_have_attribute("data-status", "error")
    return settings, account


async def test_an_account_whose_server_is_down_offers_try_again_and_no_password_field(page, mailbox):
    mailbox.deliver(subject="Before the outage", text="Hello.")
    await mailbox.link()
    await mailbox.sign_in(page)
    stack = mailbox.stack
    stack.dovecot.halt()
    try:
        await sync_answers(mailbox, 502)
        settings, account = await account_in_settings(page, mailbox)
        await expect(account.get_by_role("alert")).to_contain_text(f"The IMAP server 127.0.0.1:{stack.dovecot.port}")
        await expect(account.get_by_role("button", name="Try again")).to_be_visible()
        await expect(account.get_by_label(f"New password for {mailbox.address}")).to_have_count(0)
        await expect(account.get_by_role("button", name="Save and sync")).to_have_count(0)
        await screenshot(page, "account-error-unreachable-1280")
        await page.set_viewport_size(PHONE)
        await expect(account.get_by_role("button", name="Try again")).to_be_in_viewport()
        await screenshot(page, "account-error-unreachable-390")
        # still down: Try again says so, and the account stays as it was
        await account.get_by_role("button", name="Try again").click()
        await expect(settings.locator(".mail-alert-error")).to_contain_text(f"127.0.0.1:{stack.dovecot.port}")
        await expect(account.locator("[data-status]")).to_have_attribute("data-status", "error")
        await expect(account.get_by_role("button", name="Try again")).to_be_enabled()
    finally:
        stack.dovecot.resume()
    mailbox.deliver(subject="After the outage", text="Back.")
    await account.get_by_role("button", name="Try again").click()
    await expect(account.locator("[data-status]")).to_have_attribute("data-status", "ready", timeout=20_000)
    await expect(account.get_by_role("button", name="Try again")).to_have_count(0)
    assert "After the outage" in [t["subject"] for t in await mailbox.threads()]
    assert page.errors == []


async def test_an_account_whose_password_was_refused_asks_for_a_new_one(page, mailbox):
    await mailbox.link()
    await mailbox.sign_in(page)
    mailbox.stack.dovecot.add_user(mailbox.address, "changed-elsewhere")  # at the mail server: IMAP and SMTP
    mailbox.stack.sink.users[mailbox.address] = "changed-elsewhere"
    await sync_answers(mailbox, 400)
    settings, account = await account_in_settings(page, mailbox)
    await expect(account.get_by_role("alert")).to_contain_text("refused the login")
    await expect(account.get_by_label(f"New password for {mailbox.address}")).to_be_visible()
    await expect(account.get_by_role("button", name="Try again")).to_have_count(0)
    await screenshot(page, "account-error-password-1280")
    await page.set_viewport_size(PHONE)
    await expect(account.get_by_label(f"New password for {mailbox.address}")).to_be_in_viewport()
    await screenshot(page, "account-error-password-390")
    await account.get_by_label(f"New password for {mailbox.address}").fill("changed-elsewhere")
    await account.get_by_role("button", name="Save and sync").click()
    await expect(account.locator("[data-status]")).to_have_attribute("data-status", "ready", timeout=20_000)
    assert page.errors == []
