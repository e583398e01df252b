"""Sending later in a real Chromium: "Send later" in compose, the Scheduled view with Cancel and
Edit, and "Sending… Undo" after Send (plugin_email_manager/ui/later.js), at 1280x800 and 390 px."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import expect

from tests.ui.conftest import screenshot
from tests.ui.mail_fixtures import dovecot, mail_stack, mailbox, oauth_provider, smtp_sink  # noqa: F401 - fixtures


def row(page, subject: str):
    return page.locator(".mail-row[data-thread-id]").filter(has=page.locator(".mail-row-subject", has_text=subject))


def copies(sink, subject: str) -> int:
    return sum(str(d.parsed()["Subject"]) == subject for d in list(sink.messages))


async def opened(mailbox, page):
    mailbox.deliver(subject="Hello", text="Hi there.")
    await mailbox.link()
    await mailbox.sign_in(page)
    await expect(row(page, "Hello")).to_have_count(1)


async def written(page, subject: str):
    await page.get_by_role("button", name="Write email").click()
    compose = page.get_by_role("dialog", name="New message")
    await compose.get_by_label("To", exact=True).fill("frank@example.test")
    await compose.get_by_label("Subject").fill(subject)
    await compose.get_by_role("textbox", name="Message body").press_sequentially("See you then.")
    return compose


async def test_send_later_then_cancel_and_edit_in_the_scheduled_view(page, mailbox):
    sink = mailbox.stack.sink
    await opened(mailbox, page)
    compose = await written(page, "Agenda for Monday")
    await compose.get_by_role("button", name="Send later").click()
    panel = compose.get_by_role("dialog", name="Send later")
    await expect(panel.get_by_role("button", name=re.compile("^Tomorrow 8:00"))).to_be_visible()
    await expect(panel.get_by_role("button", name=re.compile("^Monday 8:00"))).to_be_visible()
    await screenshot(page, "mail-send-later-1280", full_page=False)
    await panel.get_by_role("button", name=re.compile("^Tomorrow 8:00")).click()
    await expect(compose).to_be_hidden()
    await expect(page.locator(".ec-toast")).to_contain_text("Scheduled for")

    await page.get_by_role("button", name=re.compile("^Scheduled")).click()
    scheduled = row(page, "Agenda for Monday")
    await expect(scheduled).to_have_count(1)
    await expect(scheduled.locator(".mail-sched")).to_contain_text("Sends")
    await screenshot(page, "mail-scheduled-1280", full_page=False)
    assert copies(sink, "Agenda for Monday") == 0

    # Edit: back to a draft, in compose; then sent later again with a chosen time
    await scheduled.get_by_role("button", name="Edit").click()
    compose = page.get_by_role("dialog", name="Draft")
    await expect(compose.get_by_label("Subject")).to_have_value("Agenda for Monday")
    await expect(row(page, "Agenda for Monday")).to_have_count(0)
    await compose.get_by_role("button", name="Send later").click()
    panel = compose.get_by_role("dialog", name="Send later")
    await panel.get_by_label("Date and time").fill("2099-06-01T09:30")
    await panel.get_by_role("button", name="Schedule send").click()
    await expect(compose).to_be_hidden()
    await expect(row(page, "Agenda for Monday").locator(".mail-sched")).to_contain_text("Sends", timeout=10_000)

    # Cancel: a draft again, listed in Drafts
    await row(page, "Agenda for Monday").get_by_role("button", name="Cancel").click()
    await expect(row(page, "Agenda for Monday")).to_have_count(0, timeout=10_000)
    await page.get_by_role("button", name=re.compile("^Drafts")).click()
    await expect(row(page, "Agenda for Monday")).to_have_count(1)
    status, body = await mailbox.api(
        "mailMessages:list", query={"filter": {"subject": "Agenda for Monday"}}, method="GET"
    )
    assert [(m["type"], m["outbox"]) for m in body["data"]] == [("drafts", "draft")], body
    assert copies(sink, "Agenda for Monday") == 0
    assert page.errors == []


async def test_undo_send_brings_the_message_back_and_nothing_goes(page, mailbox):
    sink = mailbox.stack.sink
    await opened(mailbox, page)
    # the setting lives in the settings dialog
    await page.get_by_role("button", name="Account settings").click()
    dialog = page.get_by_role("dialog", name="Account settings")
    setting = dialog.get_by_label("Undo send")
    await expect(setting).to_be_enabled()
    await setting.select_option("10")
    await expect(dialog.locator(".mail-undo-note")).to_have_text("Saved")
    await screenshot(page, "mail-undo-setting-1280", full_page=False)
    await dialog.get_by_role("button", name="Close").click()

    compose = await written(page, "Oops, not yet")
    await compose.get_by_role("button", name="Send", exact=True).click()
    await expect(compose).to_be_hidden()
    toast = page.locator(".ec-toast", has_text="Sending…")
    await expect(toast.get_by_role("button", name="Undo")).to_be_visible()
    await screenshot(page, "mail-undo-toast-1280", full_page=False)
    await toast.get_by_role("button", name="Undo").click()
    compose = page.get_by_role("dialog", name="Draft")
    await expect(compose.get_by_label("Subject")).to_have_value("Oops, not yet")
    await expect(compose.get_by_role("textbox", name="Message body")).to_contain_text("See you then.")
    await asyncio.sleep(11)
    assert copies(sink, "Oops, not yet") == 0

    # sent again and left alone: it goes when the window ends
    await compose.get_by_role("button", name="Send", exact=True).click()
    await expect(compose).to_be_hidden()
    await expect(page.locator(".ec-toast", has_text="Sending…")).to_be_visible()
    for _ in range(200):
        if copies(sink, "Oops, not yet"):
            break
        await asyncio.sleep(0.1)
    assert copies(sink, "Oops, not yet") == 1
    assert page.errors == []


async def test_send_later_and_the_scheduled_view_on_a_phone(phone_page, mailbox):
    page = phone_page
    await opened(mailbox, page)
    compose = await written(page, "From the phone")
    await compose.get_by_role("button", name="Send later").click()
    panel = compose.get_by_role("dialog", name="Send later")
    await screenshot(page, "mail-send-later-390", full_page=False)
    await expect(panel).to_be_in_viewport(ratio=1)
    await panel.get_by_role("button", name=re.compile("^In 1 hour")).click()
    await expect(compose).to_be_hidden()
    await page.get_by_role("button", name="Filters").click()
    await page.get_by_role("button", name=re.compile("^Scheduled")).click()
    scheduled = row(page, "From the phone")
    await expect(scheduled.get_by_role("button", name="Cancel")).to_be_in_viewport()
    await screenshot(page, "mail-scheduled-390", full_page=False)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await scheduled.get_by_role("button", name="Cancel").click()
    await expect(row(page, "From the phone")).to_have_count(0, timeout=10_000)
    assert page.errors == []
