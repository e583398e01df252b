"""A mail manager's "All mail" in Chromium (1280x800 and 390 px): the switch reads every user's
mail (scope "all"), each row says whose it is, nothing that writes is offered (toolbar actions,
row checkboxes, Write email, the keyboard's writing shortcuts), and the switch is in the URL, so a
reload keeps it. A member who is no manager never sees the switch, even with ?scope=all."""

from __future__ import annotations

import uuid

from playwright.async_api import expect

from tests.ui.conftest import screenshot
from tests.ui.mail_fixtures import (  # noqa: F401 - fixtures
    MEMBER_PASSWORD,
    Mailbox,
    dovecot,
    mail_stack,
    mailbox,
    oauth_provider,
    smtp_sink,
)


def row(page, subject: str):
    return page.locator(".mail-row[data-thread-id]").filter(has=page.locator(".mail-row-subject", has_text=subject))


async def colleague_of(stack) -> Mailbox:
    """Another person of the team, with a mailbox of their own, linked."""
    n = uuid.uuid4().hex[:8]
    address, password = f"colleague-{n}@example.test", f"secret-{n}"
    stack.dovecot.add_user(address, password)
    stack.sink.users[address] = password
    member_email = f"colleague-{n}@corp.test"
    token = await stack.client.member(member_email, MEMBER_PASSWORD)
    return Mailbox(stack, address, password, member_email, token)


async def make_manager(mailbox) -> None:
    """Root gives this member users.mailManager, as in the Users page."""
    client = mailbox.stack.client
    status, body = await client.api(
        client.root_token, "users:list", query={"filter": {"email": mailbox.member_email}}, method="GET"
    )
    assert status == 200 and len(body["data"]) == 1, body
    status, body = await client.api(
        client.root_token, "users:update", {"mailManager": True}, query={"filterByTk": body["data"][0]["id"]}
    )
    assert status == 200, body


async def team(mailbox) -> tuple[Mailbox, str, str]:
    """A colleague with a contract in their inbox, and this member, a manager, with a note:
    (the colleague, the contract's subject, the note's subject), unique to the test (the server,
    and so All mail, is shared by the module's tests)."""
    colleague = await colleague_of(mailbox.stack)
    tag = colleague.address.split("@")[0]
    contract, note = f"Contract of {tag}", f"Note of the manager of {tag}"
    colleague.deliver(subject=contract, text="The signed contract is attached.")
    await colleague.link()
    mailbox.deliver(subject=note)
    await mailbox.link()
    await make_manager(mailbox)
    return colleague, contract, note


async def test_a_manager_reads_everyones_mail_read_only(page, mailbox):
    colleague, contract, note = await team(mailbox)
    await mailbox.sign_in(page)
    whose = page.get_by_role("group", name="Whose mail")
    # the first view waits for the page to load: generous on a busy machine
    await expect(whose.get_by_role("button", name="My mail")).to_have_attribute("aria-pressed", "true", timeout=15_000)
    await expect(row(page, note)).to_be_visible()
    await expect(row(page, contract)).to_have_count(0)
    await expect(page.get_by_role("button", name="Write email")).to_be_visible()

    await whose.get_by_role("button", name="All mail").click()
    await expect(row(page, contract)).to_be_visible()
    await expect(row(page, note)).to_be_visible()
    assert "scope=all" in page.url
    await expect(row(page, contract).locator(".mail-row-owner")).to_have_text(colleague.address)
    await expect(row(page, note).locator(".mail-row-owner")).to_have_text(mailbox.address)
    # nothing that writes
    await expect(page.get_by_role("button", name="Write email")).to_have_count(0)
    await expect(page.locator(".mail-row input[type=checkbox]")).to_have_count(0)
    toolbar = page.get_by_role("toolbar", name="Conversation actions")
    for name in ("Mark as read", "Mark as unread", "Move to…", "Delete"):
        await expect(toolbar.get_by_role("button", name=name)).to_have_count(0)
    await expect(toolbar).to_contain_text("read-only")
    await screenshot(page, "all-mail-desktop")

    # the keyboard's writing shortcuts do nothing: no compose, no delete
    await page.locator("body").click(position={"x": 5, "y": 400})
    await page.keyboard.press("j")
    for key in ("c", "#", "Shift+I", "r"):
        await page.keyboard.press(key)
    await expect(page.get_by_role("dialog")).to_have_count(0)
    await page.reload()  # the switch is in the URL
    await expect(row(page, contract)).to_be_visible()
    await expect(page.get_by_role("group", name="Whose mail").get_by_role("button", name="All mail")).to_have_attribute(
        "aria-pressed", "true"
    )

    # the colleague's conversation opens in the reader, and stays theirs: unread, in their inbox
    await row(page, contract).locator("a").click()
    reader = page.get_by_role("region", name="Conversation")
    await expect(reader.get_by_role("heading", name=contract)).to_be_visible()
    await expect(reader.frame_locator("iframe").first.locator("body")).to_contain_text(
        "The signed contract is attached."
    )
    assert "scope=all" in page.url
    await screenshot(page, "all-mail-reader-desktop")
    assert colleague.seen_on_server() == {contract: False}
    status, body = await colleague.api("mailMessages:list", query={"paginate": "false"}, method="GET")
    assert status == 200 and [(m["subject"], m["read"], m["type"]) for m in body["data"]] == [
        (contract, False, "inbox")
    ]

    # back to My mail: the manager's own, writable again
    await page.goto(f"{mailbox.stack.base_url}/admin/mail")
    await page.get_by_role("group", name="Whose mail").get_by_role("button", name="My mail").click()
    await expect(row(page, contract)).to_have_count(0)
    await expect(page.get_by_role("button", name="Write email")).to_be_visible()
    await expect(row(page, note).get_by_role("checkbox")).to_be_visible()
    assert page.errors == []


async def test_on_a_phone_the_switch_is_in_the_filters_drawer(phone_page, mailbox):
    page = phone_page
    colleague, contract, note = await team(mailbox)
    await mailbox.sign_in(page)
    await page.get_by_role("button", name="Filters").click()
    await page.get_by_role("group", name="Whose mail").get_by_role("button", name="All mail").click()
    await expect(row(page, contract).locator(".mail-row-owner")).to_have_text(colleague.address)
    await expect(page.get_by_role("button", name="Write email")).to_have_count(0)
    await screenshot(page, "all-mail-phone", full_page=False)
    assert page.errors == []


async def test_a_member_who_is_no_manager_never_sees_the_switch(page, mailbox):
    mailbox.deliver(subject="Just mine")
    await mailbox.link()
    await mailbox.sign_in(page, next_path="/admin/mail?scope=all")
    await expect(row(page, "Just mine")).to_be_visible(timeout=15_000)
    await expect(page.get_by_role("group", name="Whose mail")).to_have_count(0)
    await expect(page.get_by_role("button", name="Write email")).to_be_visible()
    await expect(row(page, "Just mine").get_by_role("checkbox")).to_be_visible()
    assert page.errors == []


async def test_a_manager_without_a_mailbox_reads_all_mail_from_the_welcome_page(page, mailbox):
    colleague = await colleague_of(mailbox.stack)
    contract = f"Contract of {colleague.address}"
    colleague.deliver(subject=contract)
    await colleague.link()
    await make_manager(mailbox)
    await mailbox.sign_in(page)
    await expect(page.get_by_role("heading", name="Welcome to your email center")).to_be_visible(timeout=15_000)
    await page.get_by_role("button", name="Read everyone’s mail (All mail)").click()
    await expect(row(page, contract).locator(".mail-row-owner")).to_have_text(colleague.address)
    assert "scope=all" in page.url
    await page.get_by_role("group", name="Whose mail").get_by_role("button", name="My mail").click()
    await expect(page.get_by_role("heading", name="Welcome to your email center")).to_be_visible()
    assert page.errors == []
