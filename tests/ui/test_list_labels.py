"""Labels in the conversation list, in Chromium at 1280x800 and 390 px: each row shows its main
message's labels as coloured chips (the person's colour, else a stable one from the name), the
filter panel's "Labels" section narrows the list to one label (kept in the URL, so a reload keeps
it), and the panel links to the Batches page."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.ui.conftest import screenshot
from tests.ui.mail_fixtures import dovecot, mail_stack, mailbox, oauth_provider, smtp_sink  # noqa: F401 - fixtures

WORK_COLOR = "#d4380d"


def row(page, subject: str):
    return page.locator(".mail-row[data-thread-id]").filter(has=page.locator(".mail-row-subject", has_text=subject))


async def labelled_mail(mailbox) -> None:
    """Three conversations: one "Work", one "Homework" and "Kids", one with no label."""
    for subject in ("Quarterly plan", "Science fair", "Lunch on Friday"):
        mailbox.deliver(subject=subject)
    await mailbox.link()
    status, body = await mailbox.api("mailLabels:create", {"name": "Work", "color": WORK_COLOR})
    assert status == 200, body
    status, body = await mailbox.api("mailMessages:list", query={"paginate": "false"}, method="GET")
    assert status == 200, body
    ids = {m["subject"]: m["id"] for m in body["data"]}
    for subject, labels in (("Quarterly plan", ["Work"]), ("Science fair", ["Homework", "Kids"])):
        status, body = await mailbox.api("mailMessages:update", {"labels": labels}, query={"filterByTk": ids[subject]})
        assert status == 200, body


async def chip_color(chip) -> str:
    return await chip.evaluate("el => getComputedStyle(el.querySelector('.mail-label-dot')).backgroundColor")


async def test_rows_show_label_chips_and_the_panel_filters_by_one(page, mailbox):
    await labelled_mail(mailbox)
    await mailbox.sign_in(page)
    await expect(row(page, "Lunch on Friday")).to_be_visible(timeout=15_000)

    work = row(page, "Quarterly plan").locator(".mail-label-chip")
    await expect(work).to_have_text(["Work"])
    assert await chip_color(work) == "rgb(212, 56, 13)"  # the person's own colour for Work
    await expect(row(page, "Science fair").locator(".mail-label-chip")).to_have_text(["Homework", "Kids"])
    await expect(row(page, "Lunch on Friday").locator(".mail-label-chip")).to_have_count(0)
    # a label's fallback colour is the same wherever it shows
    homework_row = row(page, "Science fair").locator(".mail-label-chip", has_text="Homework")
    panel = page.get_by_role("region", name="Labels")
    homework_panel = panel.get_by_role("button", name="Homework", exact=True)
    assert await chip_color(homework_row) == await chip_color(homework_panel)
    await expect(panel.get_by_role("button")).to_have_text(["Homework", "Kids", "Work"])
    await screenshot(page, "list-labels-desktop")

    await panel.get_by_role("button", name="Work", exact=True).click()
    await expect(row(page, "Science fair")).to_have_count(0)
    await expect(row(page, "Quarterly plan")).to_be_visible()
    await expect(page.locator(".mail-row[data-thread-id]")).to_have_count(1)
    assert "label=Work" in page.url
    await expect(panel.get_by_role("button", name="Work", exact=True)).to_have_attribute("aria-pressed", "true")
    await screenshot(page, "list-labels-filtered-desktop")

    await page.reload()
    await expect(row(page, "Quarterly plan")).to_be_visible()
    await expect(page.locator(".mail-row[data-thread-id]")).to_have_count(1)
    await panel.get_by_role("button", name="Clear").click()
    await expect(page.locator(".mail-row[data-thread-id]")).to_have_count(3)
    assert "label=" not in page.url

    # the Batches page, from the panel
    batches = page.get_by_role("navigation", name="More").get_by_role("link", name="Batches")
    await expect(batches).to_have_attribute("href", "/admin/mail/batches")
    await batches.click()
    await expect(page).to_have_title(re.compile("^Batches"))
    assert page.url.endswith("/admin/mail/batches")
    assert page.errors == []


async def test_on_a_phone_the_labels_are_in_the_filters_drawer(phone_page, mailbox):
    page = phone_page
    await labelled_mail(mailbox)
    await mailbox.sign_in(page)
    await expect(row(page, "Science fair").locator(".mail-label-chip")).to_have_text(
        ["Homework", "Kids"], timeout=15_000
    )
    await screenshot(page, "list-labels-phone", full_page=False)

    await page.get_by_role("button", name="Filters").click()
    panel = page.get_by_role("region", name="Labels")
    await panel.get_by_role("button", name="Kids", exact=True).click()
    await expect(page.locator(".mail-row[data-thread-id]")).to_have_count(1)
    await expect(row(page, "Science fair")).to_be_visible()
    await screenshot(page, "list-labels-filtered-phone", full_page=False)
    assert page.errors == []
