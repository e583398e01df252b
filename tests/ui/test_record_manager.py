"""A mail manager on a record's Emails tab, in Chromium (1280x800 and 390 px): "My mail / All
mail" lists every user's conversations with the record, each saying whose it is; one opens
read-only in the email center's All mail, and the reader's Back (button, Escape) returns to the
record's tab as it was. A member who is no manager never sees the switch, and a `from` in the
reader's URL that leads off the site or out of the admin is ignored."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

from playwright.async_api import expect

from tests.ui.conftest import screenshot
from tests.ui.mail_fixtures import (  # noqa: F401 - fixtures
    dovecot,
    mailbox,
    oauth_provider,
    smtp_sink,
)
from tests.ui.test_all_mail import colleague_of, make_manager
from tests.ui.test_csp import Violations
from tests.ui.test_record_emails import create, mail_stack, thread_rows  # noqa: F401 - contacts' stack


def row(page, subject: str):
    return thread_rows(page).filter(has=page.locator(".mail-row-subject", has_text=subject))


async def contact_with_mail(mailbox):
    """A contact of this member, written to by a colleague and by the member: (the colleague,
    the contact's record path, the colleague's subject, the member's subject), unique to the test
    (All mail spans the module's shared server)."""
    colleague = await colleague_of(mailbox.stack)
    tag = uuid.uuid4().hex[:8]
    carol = f"carol-{tag}@client.test"
    theirs, mine = f"Contract {tag}", f"Lunch {tag}"
    colleague.deliver(subject=theirs, frm=f"Carol Client <{carol}>", text="The signed contract, as agreed.")
    colleague.deliver(subject=f"Unrelated {tag}", frm="Bob <bob@example.test>")
    await colleague.link()
    mailbox.deliver(subject=mine, frm=f"Carol Client <{carol}>")
    await mailbox.link()
    carol_id = await create(mailbox, "contacts", {"email": carol, "nickname": f"Carol {tag}"})
    return colleague, f"/admin/collections/contacts/{carol_id}", theirs, mine


async def test_a_manager_reads_a_colleagues_mail_with_a_contact_and_comes_back(page, mailbox):
    colleague, record, theirs, mine = await contact_with_mail(mailbox)
    await make_manager(mailbox)
    base = mailbox.stack.base_url
    violations = Violations()  # Content-Security-Policy refusals, none expected
    await violations.watch(page.context)
    await mailbox.sign_in(page, quote(f"{record}?tab=emails", safe="/"))

    # My mail first: the manager's own conversation with the contact
    whose = page.get_by_role("group", name="Whose mail")
    await expect(whose.get_by_role("button", name="My mail")).to_have_attribute("aria-pressed", "true", timeout=15_000)
    await expect(row(page, mine)).to_be_visible()
    await expect(row(page, theirs)).to_have_count(0)
    await expect(page.locator(".mail-record-rows .mail-row-owner")).to_have_count(0)

    # All mail: the colleague's too, each saying whose; Write email stays (the manager's account)
    await whose.get_by_role("button", name="All mail").click()
    await expect(row(page, theirs)).to_be_visible()
    await expect(page).to_have_url(re.compile(re.escape(record) + r"\?tab=emails&scope=all$"))
    await expect(row(page, theirs).locator(".mail-row-owner")).to_have_text(colleague.address)
    await expect(row(page, mine).locator(".mail-row-owner")).to_have_text(mailbox.address)
    await expect(thread_rows(page)).to_have_count(2)  # not the colleague's other mail
    await expect(page.locator(".mail-record-count")).to_have_text("2 conversations")
    await expect(page.get_by_role("button", name="Write email")).to_be_visible()
    await screenshot(page, "record-manager-all-mail-1280")
    await page.reload()  # the choice is in the URL
    await expect(whose.get_by_role("button", name="All mail")).to_have_attribute("aria-pressed", "true", timeout=15_000)
    await expect(thread_rows(page)).to_have_count(2)

    # the colleague's conversation opens in All mail, read-only, and stays unread
    await row(page, theirs).get_by_role("link").click()
    await expect(page).to_have_url(re.compile(r"/admin/mail/thread/\d+\?scope=all&from="))
    reader = page.get_by_role("region", name="Conversation")
    await expect(reader.get_by_role("heading", name=theirs)).to_be_visible()
    await expect(reader.frame_locator("iframe").first.locator("body")).to_contain_text("The signed contract")
    await expect(reader.locator(".mail-readonly-note")).to_contain_text(f"Read only: the mail of {colleague.address}")
    for name in ("Reply", "Reply all", "Forward", "Delete", "Mark as unread"):
        await expect(reader.get_by_role("button", name=name, exact=True)).to_have_count(0)
    await screenshot(page, "record-manager-reader-1280")
    thread_url = page.url

    # Back: to the record's tab as it was (All mail), one step back in history
    await reader.get_by_role("button", name="Back").click()
    await expect(page).to_have_url(f"{base}{record}?tab=emails&scope=all")
    await expect(whose.get_by_role("button", name="All mail")).to_have_attribute("aria-pressed", "true")
    await expect(row(page, theirs).locator(".mail-row-owner")).to_have_text(colleague.address)
    await page.go_forward()
    await expect(page).to_have_url(thread_url)

    # after a reload the way back is still a step back in history: Escape takes it
    await page.reload()
    await expect(reader.get_by_role("heading", name=theirs)).to_be_visible(timeout=15_000)
    await page.keyboard.press("Escape")
    await expect(page).to_have_url(f"{base}{record}?tab=emails&scope=all")
    await expect(row(page, theirs)).to_be_visible()
    # the address opened anew (its history entry unmarked): "u" opens the record's tab
    await page.goto(thread_url)
    await expect(reader.get_by_role("heading", name=theirs)).to_be_visible(timeout=15_000)
    await page.keyboard.press("u")
    await expect(page).to_have_url(f"{base}{record}?tab=emails&scope=all")
    await expect(row(page, theirs)).to_be_visible()
    assert colleague.seen_on_server() == {theirs: False, theirs.replace("Contract", "Unrelated"): False}

    # a `from` that leads off the site or out of the admin is ignored: Back goes to the list
    thread_id = re.search(r"/thread/(\d+)", thread_url).group(1)
    for unsafe in ("https://evil.example/admin/", "//evil.example/admin/", "/\\evil.example/admin/", "/signin?next=x"):
        await page.goto(f"{base}/admin/mail/thread/{thread_id}?scope=all&from={quote(unsafe, safe='')}")
        await expect(reader.get_by_role("heading", name=theirs)).to_be_visible(timeout=15_000)
        await reader.get_by_role("button", name="Back").click()
        await expect(page).to_have_url(f"{base}/admin/mail?scope=all")
        await expect(page.locator(".mail-row[data-thread-id]").first).to_be_visible()
    assert page.errors == []
    assert violations.all() == []


async def test_on_a_phone_a_manager_switches_to_all_mail_on_the_tab(phone_page, mailbox):
    page = phone_page
    colleague, record, theirs, mine = await contact_with_mail(mailbox)
    await make_manager(mailbox)
    await mailbox.sign_in(page, quote(f"{record}?tab=emails", safe="/"))
    whose = page.get_by_role("group", name="Whose mail")
    await expect(row(page, mine)).to_be_visible(timeout=15_000)
    await whose.get_by_role("button", name="All mail").click()
    await expect(row(page, theirs).locator(".mail-row-owner")).to_have_text(colleague.address)
    await expect(thread_rows(page)).to_have_count(2)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await screenshot(page, "record-manager-all-mail-390")
    await row(page, theirs).get_by_role("link").click()
    reader = page.get_by_role("region", name="Conversation")
    await expect(reader.get_by_role("heading", name=theirs)).to_be_visible()
    await expect(reader.get_by_role("button", name="Reply", exact=True)).to_have_count(0)
    await screenshot(page, "record-manager-reader-390", full_page=False)
    await reader.get_by_role("button", name="Back").click()
    await expect(page).to_have_url(re.compile(re.escape(record) + r"\?tab=emails&scope=all$"))
    await expect(row(page, theirs)).to_be_visible()
    assert page.errors == []


async def test_a_member_who_is_no_manager_sees_only_their_own_and_no_switch(page, mailbox):
    colleague, record, theirs, mine = await contact_with_mail(mailbox)
    await mailbox.sign_in(page, quote(f"{record}?tab=emails&scope=all", safe="/"))
    await expect(row(page, mine)).to_be_visible(timeout=15_000)
    await expect(page.get_by_role("group", name="Whose mail")).to_have_count(0)
    await expect(thread_rows(page)).to_have_count(1)
    await expect(page.locator(".mail-record-rows .mail-row-owner")).to_have_count(0)
    await expect(page.get_by_role("button", name="Write email")).to_be_visible()
    # their own conversation opens writable, and Back returns to the tab
    await row(page, mine).get_by_role("link").click()
    reader = page.get_by_role("region", name="Conversation")
    await expect(reader.get_by_role("button", name="Reply", exact=True)).to_be_visible()
    await page.keyboard.press("u")
    await expect(page).to_have_url(re.compile(re.escape(record) + r"\?tab=emails&scope=all$"))
    await expect(row(page, mine)).to_be_visible()
    assert page.errors == []


async def test_a_manager_without_a_mailbox_reads_all_mail_but_writes_none(page, mailbox):
    colleague = await colleague_of(mailbox.stack)
    carol = f"carol-{uuid.uuid4().hex[:8]}@client.test"
    theirs = f"Offer for {carol}"
    colleague.deliver(subject=theirs, frm=f"Carol <{carol}>")
    await colleague.link()
    carol_id = await create(mailbox, "contacts", {"email": carol, "nickname": "Carol"})
    await make_manager(mailbox)
    await mailbox.sign_in(page, quote(f"/admin/collections/contacts/{carol_id}?tab=emails&scope=all", safe="/"))
    await expect(row(page, theirs).locator(".mail-row-owner")).to_have_text(colleague.address, timeout=15_000)
    await expect(page.get_by_role("button", name="Write email")).to_be_hidden()
    await page.get_by_role("group", name="Whose mail").get_by_role("button", name="My mail").click()
    await expect(page.get_by_text(f"No conversations with {carol} yet")).to_be_visible()
    assert "scope=all" not in page.url
    assert page.errors == []
