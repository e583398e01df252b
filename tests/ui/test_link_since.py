"""The link form's sync start date for Google (and Microsoft) in Chromium: chosen above the
providers, it reaches the account the OAuth callback creates, whose first sync brings only the
mail since that day. The chooser at 1280x800 and 390 px."""

from __future__ import annotations

import datetime as dt

from playwright.async_api import expect

from tests.ui.conftest import screenshot
from tests.ui.mail_fixtures import dovecot, mail_stack, mailbox, oauth_provider, smtp_sink  # noqa: F401 - fixtures


async def test_link_google_with_a_sync_start_date(page, mailbox):
    await mailbox.stack.point_google()
    mailbox.stack.oauth.consent_user = mailbox.address
    mailbox.deliver(subject="From long ago", date=dt.datetime(2021, 3, 1, 9, 0, tzinfo=dt.timezone.utc))
    mailbox.deliver(subject="From this year", date=dt.datetime(2024, 6, 1, 9, 0, tzinfo=dt.timezone.utc))
    await mailbox.sign_in(page)
    await page.get_by_role("button", name="Link account").click()
    dialog = page.get_by_role("dialog", name="Link account")
    await dialog.get_by_label("Sync mail since").fill("2024-01-01")
    await screenshot(page, "link-since-desktop", full_page=False)
    async with page.expect_popup() as info:
        await dialog.get_by_role("button", name="Google Gmail and Google Workspace").click()
    popup = await info.value
    await popup.wait_for_event("close", timeout=30_000)
    await expect(page.locator("ec-toasts")).to_contain_text("Account linked")
    await page.get_by_role("dialog", name="Account settings").get_by_role("button", name="Close").click()

    rows = page.locator(".mail-row[data-thread-id] .mail-row-subject")
    await expect(rows).to_have_text(["From this year"])
    status, body = await mailbox.api("mailAccounts:list", method="GET")
    assert status == 200, body
    ((provider, since),) = [(a["provider"], a["syncSince"]) for a in body["data"]]
    assert provider == "google" and since.startswith("2024-01-01")
    assert page.errors == []


async def test_the_chooser_with_its_date_on_a_phone(phone_page, mailbox):
    page = phone_page
    await mailbox.sign_in(page)
    await page.get_by_role("button", name="Link account").click()
    dialog = page.get_by_role("dialog", name="Link account")
    await expect(dialog.get_by_label("Sync mail since")).to_be_visible()
    await expect(dialog.get_by_role("button", name="Google Gmail and Google Workspace")).to_be_in_viewport()
    await screenshot(page, "link-since-phone", full_page=False)
    assert page.errors == []
