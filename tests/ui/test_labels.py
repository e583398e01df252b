"""The reader's panel of labels, to-do and notes in the browser, at 1280x800 and 390 px: a label
applied from the person's list, one created and applied at once with its colour, one removed, a
note added (and one deleted), the to-do mark with a due day; everything there again after a
reload, and in the API. In All mail a manager reads another person's conversation with no
control that writes, and sees whose mail it is."""

from __future__ import annotations

import asyncio
import time

from playwright.async_api import expect

from tests.ui.conftest import screenshot
from tests.ui.mail_fixtures import dovecot, mail_stack, mailbox, oauth_provider, smtp_sink  # noqa: F401 - fixtures


def row(page, subject: str):
    return page.locator(".mail-row[data-thread-id]").filter(has=page.locator(".mail-row-subject", has_text=subject))


async def messages_of(mailbox, subject: str) -> list[dict]:
    status, body = await mailbox.api(
        "mailMessages:list", query={"filter": {"subject": subject}, "paginate": "false"}, method="GET"
    )
    assert status == 200, body
    return body["data"]


def refusals(page) -> list[str]:
    """The console's CSP refusals from now on (the panel sets colours through CSSOM, never inline)."""
    seen: list[str] = []
    page.on("console", lambda msg: seen.append(msg.text) if "Content Security Policy" in msg.text else None)
    return seen


async def open_conversation(page, subject: str):
    await row(page, subject).locator("a").click()
    panel = page.get_by_role("complementary", name="Labels, to-do and notes")
    await expect(panel.get_by_role("region", name="Labels")).to_be_visible()
    return panel


async def add_label(
    page, panel, typed: str, *, pick: str | None = None, colour: str | None = None, shot: str | None = None
) -> None:
    await panel.get_by_role("button", name="Add label").click()
    await panel.get_by_label("Find or create a label").fill(typed)
    if colour:
        await panel.get_by_role("radio", name=f"Colour {colour}").click()
        await expect(panel.get_by_role("radio", name=f"Colour {colour}")).to_have_attribute("aria-checked", "true")
    if shot:
        await screenshot(page, shot)
    option = panel.get_by_role("option", name=pick) if pick else panel.get_by_role("option", name=f"Create “{typed}”")
    await option.click()


async def test_labels_notes_and_todo_in_the_reader_on_a_desktop(page, mailbox):
    mailbox.deliver(subject="Quarterly plan", text="Numbers for Q3 attached soon.")
    mailbox.deliver(subject="Lunch on Friday")
    await mailbox.link()
    status, body = await mailbox.api("mailLabels:create", {"name": "Work", "color": "#1677ff"})
    assert status == 200, body
    await mailbox.api("mailLabels:create", {"name": "Travel", "color": "#389e0d"})
    refused = refusals(page)
    await mailbox.sign_in(page)
    panel = await open_conversation(page, "Quarterly plan")
    await expect(panel.get_by_role("region", name="Labels")).to_contain_text("No labels")

    # apply one of the person's labels, found by typing part of it
    await add_label(page, panel, "wor", pick="Work")
    await expect(panel.get_by_role("button", name="Remove label Work")).to_be_visible()
    # create one with a colour of one's choosing, applied at once
    await add_label(page, panel, "Project X", colour="#c41d7f", shot="labels-desktop-create")
    await expect(panel.get_by_role("button", name="Remove label Project X")).to_be_visible()
    await expect(page.locator(".mail-reader-title")).to_contain_text("Project X")
    # remove the first
    await panel.get_by_role("button", name="Remove label Work").click()
    await expect(panel.get_by_role("button", name="Remove label Work")).to_have_count(0)

    # a note, and a second one deleted again
    await panel.get_by_label("New note").fill("Call Bob on Monday about the numbers.")
    await panel.get_by_role("button", name="Add note").click()
    await expect(panel.locator(".mail-note")).to_have_count(1)
    await panel.get_by_label("New note").fill("Scratch this.")
    await panel.get_by_role("button", name="Add note").click()
    await expect(panel.locator(".mail-note")).to_have_count(2)
    await panel.locator(".mail-note").filter(has_text="Scratch this.").get_by_role("button", name="Delete note").click()
    await expect(panel.locator(".mail-note")).to_have_count(1)

    # to-do, with a due day
    await expect(panel.get_by_label("Due date")).to_be_disabled()
    await panel.get_by_label("Mark as to-do").check()
    await expect(panel.get_by_label("Due date")).to_be_enabled()
    await panel.get_by_label("Due date").fill("2026-12-24")
    await expect(page.locator(".mail-message .mail-todo-tag")).to_have_text("To-do · due Dec 24, 2026")
    assert await _due(mailbox, "Quarterly plan", "2026-12-24") == "2026-12-24"
    await screenshot(page, "labels-desktop")

    # all of it is there after a reload
    await page.reload()
    panel = page.get_by_role("complementary", name="Labels, to-do and notes")
    await expect(panel.get_by_role("button", name="Remove label Project X")).to_be_visible()
    await expect(panel.get_by_role("button", name="Remove label Work")).to_have_count(0)
    await expect(panel.locator(".mail-note-text")).to_have_text(["Call Bob on Monday about the numbers."])
    await expect(panel.get_by_label("Mark as to-do")).to_be_checked()
    await expect(panel.get_by_label("Due date")).to_have_value("2026-12-24")
    (msg,) = await messages_of(mailbox, "Quarterly plan")
    assert (msg["labels"], msg["todo"], msg["todoDue"]) == (["Project X"], True, "2026-12-24")
    status, body = await mailbox.api("mailLabels:list", query={"paginate": "false"}, method="GET")
    assert {d["name"]: d["color"] for d in body["data"]} == {
        "Project X": "#c41d7f",
        "Travel": "#389e0d",
        "Work": "#1677ff",
    }
    status, body = await mailbox.api("mailMessageNotes:list", query={"paginate": "false"}, method="GET")
    assert [(n["mailMessageId"], n["content"]) for n in body["data"]] == [
        (msg["id"], "Call Bob on Monday about the numbers.")
    ]

    # the list shows the conversation's label
    await page.get_by_role("button", name="Back").click()
    await expect(row(page, "Quarterly plan")).to_contain_text("Project X")
    assert page.errors == [] and refused == []


async def _due(mailbox, subject: str, expected: str, within: float = 5):
    """The message's due day as the API answers it, once it is ``expected`` (or after ``within`` s)."""
    end = time.monotonic() + within
    while True:
        rows = await messages_of(mailbox, subject)
        due = rows[0]["todoDue"] if rows else None
        if due == expected or time.monotonic() > end:
            return due
        await asyncio.sleep(0.1)


async def test_labels_notes_and_todo_in_the_reader_on_a_phone(phone_page, mailbox):
    page = phone_page
    mailbox.deliver(subject="Boarding pass", text="Your flight leaves at 7:05.")
    await mailbox.link()
    await mailbox.api("mailLabels:create", {"name": "Travel", "color": "#389e0d"})
    refused = refusals(page)
    await mailbox.sign_in(page)
    panel = await open_conversation(page, "Boarding pass")
    # below the message, as wide as the screen
    box, message = await panel.bounding_box(), await page.locator(".mail-message").first.bounding_box()
    assert box["y"] >= message["y"] + message["height"] - 1 and box["width"] > 340, (box, message)

    await add_label(page, panel, "Trav", pick="Travel")
    await add_label(page, panel, "Receipts", shot="labels-phone-create")
    await expect(panel.get_by_role("button", name="Remove label Receipts")).to_be_visible()
    await panel.get_by_role("button", name="Remove label Travel").click()
    await expect(panel.get_by_role("button", name="Remove label Travel")).to_have_count(0)
    await panel.get_by_label("New note").fill("Check in online.")
    await panel.get_by_role("button", name="Add note").click()
    await expect(panel.locator(".mail-note")).to_have_count(1)
    await panel.get_by_label("Mark as to-do").check()
    await panel.get_by_label("Due date").fill("2027-01-05")
    assert await _due(mailbox, "Boarding pass", "2027-01-05") == "2027-01-05"
    await panel.scroll_into_view_if_needed()
    await screenshot(page, "labels-phone", full_page=False)
    assert await page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth"
    )  # nothing wider than the phone

    await page.reload()
    panel = page.get_by_role("complementary", name="Labels, to-do and notes")
    await expect(panel.get_by_role("button", name="Remove label Receipts")).to_be_visible()
    await expect(panel.locator(".mail-note")).to_contain_text("Check in online.")
    await expect(panel.get_by_label("Mark as to-do")).to_be_checked()
    await expect(panel.get_by_label("Due date")).to_have_value("2027-01-05")
    (msg,) = await messages_of(mailbox, "Boarding pass")
    assert (msg["labels"], msg["todo"], msg["todoDue"]) == (["Receipts"], True, "2027-01-05")
    assert page.errors == [] and refused == []


async def test_a_manager_reads_a_colleagues_conversation_with_nothing_to_change(page, mailbox):
    from tests.ui.test_all_mail import team  # the manager and a colleague, as All mail's own test makes them

    colleague, contract, _ = await team(mailbox)
    (mine,) = await messages_of(colleague, contract)
    status, body = await colleague.api(
        "mailMessages:update",
        {"labels": ["Legal"], "todo": True, "todoDue": "2027-02-01"},
        query={"filterByTk": mine["id"]},
    )
    assert status == 200, body
    await mailbox.sign_in(page, next_path="/admin/mail?scope=all")
    await row(page, contract).locator("a").click()
    await expect(page.get_by_role("note")).to_have_text(f"Read only: the mail of {colleague.address}")
    reader = page.get_by_role("region", name="Conversation")
    await expect(reader.frame_locator("iframe").first.get_by_text("The signed contract is attached.")).to_be_visible()
    for name in ("Reply", "Reply all", "Forward", "Move to…", "Delete", "Mark as unread", "More actions"):
        await expect(reader.get_by_role("button", name=name, exact=True)).to_have_count(0)
    panel = page.get_by_role("complementary", name="Labels, to-do and notes")
    await expect(panel.get_by_role("region", name="Labels")).to_contain_text("Legal")
    await expect(panel.get_by_role("region", name="To-do")).to_contain_text("To do by 2027-02-01")
    await expect(panel.get_by_role("button")).to_have_count(0)  # no Add label, no Remove, no note
    await expect(panel.get_by_role("checkbox")).to_have_count(0)
    await screenshot(page, "labels-read-only")
    # reading it there marked nothing read: that would be a write to the colleague's mail
    (after,) = await messages_of(colleague, contract)
    assert after["read"] is False and after["labels"] == ["Legal"]
    assert page.errors == []
