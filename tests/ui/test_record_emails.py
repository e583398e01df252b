"""A record's emails on the generic collection pages, in the browser: an email field's value opens
compose addressed to it, a row opens its record (Details, and the email plugin's Emails tab with
the record's conversations as the email center lists them, each opening in the reader, paged), Write
email sends to the record, a domain field leads to its company's mail, and rows selected (a page,
then every row matching) go to "Send email". At 1280x800 and 390 px."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from playwright.async_api import expect

from tests.servers.app import running_server
from tests.ui.conftest import screenshot
from tests.ui.mail_fixtures import (  # noqa: F401 - fixtures
    SERVER_LIMIT_MIB,
    MailStack,
    dovecot,
    mailbox,
    oauth_provider,
    smtp_sink,
)
from tests.ui.test_csp import Violations

CONTACTS = Path(__file__).parents[1] / "plugin_email_manager" / "plugins" / "contacts" / "plugin.toml"
COMPANIES = Path(__file__).parent / "plugins" / "companies" / "plugin.toml"
LAST_MONTH = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)


@pytest.fixture(scope="module")
async def mail_stack(pg_cluster, dovecot, smtp_sink, oauth_provider):  # noqa: F811 - this module's stack
    """mail_fixtures' stack, with two collections of records: contacts (an email field) and
    companies (a domain field)."""
    env = {"EMAIL_CENTER_MAX_MESSAGE_MIB": str(SERVER_LIMIT_MIB)}
    async with running_server(pg_cluster.create_database(), plugins=(CONTACTS, COMPANIES), env=env) as client:
        yield MailStack(client, dovecot, smtp_sink, oauth_provider)


async def create(mailbox, collection: str, values: dict) -> int:
    status, body = await mailbox.api(f"{collection}:create", values)
    assert status == 200, body
    return body["data"]["id"]


def thread_rows(page):
    return page.locator(".mail-record-rows .mail-row")


async def step_with_j(page, within: float = 20) -> None:
    """Press j in the reader until it opens another conversation: it steps through the email
    center's list, which loads beside the reader (a j before it is there does nothing)."""
    opened = page.url
    end = asyncio.get_running_loop().time() + within
    while True:
        await page.keyboard.press("j")
        try:
            await page.wait_for_url(lambda url: url != opened, timeout=1000)
            return
        except PlaywrightTimeoutError:
            assert asyncio.get_running_loop().time() < end, "j did not step to another conversation"


async def test_a_contacts_emails_compose_to_it_and_send_email_from_selected_rows(page, mailbox):
    carol = "carol@client.test"
    first = mailbox.deliver(subject="Quote for Q3", frm=f"Carol Client <{carol}>")
    mailbox.deliver(
        subject="Re: Quote for Q3", frm=mailbox.address, to=carol, in_reply_to=first, mailbox="Sent", seen=True
    )
    mailbox.deliver(subject="Order from Acme", frm="Dan <dan@acme.test>", seen=True)
    for i in range(1, 12):
        mailbox.deliver(subject=f"Acme note {i:02d}", frm=f"Person {i} <p{i}@acme.test>", seen=True)
    mailbox.deliver(subject="Unrelated news", frm="Bob <bob@example.test>")
    # older than the rest: Carol's conversation is not the inbox's last, so j has one to step to
    mailbox.deliver(subject="Last month's digest", frm="News <news@example.test>", date=LAST_MONTH, seen=True)
    await mailbox.link()
    carol_id = await create(mailbox, "contacts", {"email": carol, "nickname": "Carol", "company": "Client Ltd"})
    for i in range(1, 12):
        await create(mailbox, "contacts", {"email": f"person{i}@people.test", "nickname": f"Person {i}"})
    acme_id = await create(mailbox, "companies", {"name": "Acme", "domain": "acme.test"})
    nameless_id = await create(mailbox, "companies", {"name": "Nameless"})

    violations = Violations()  # Content-Security-Policy refusals, none expected
    await violations.watch(page.context)
    await mailbox.sign_in(page, quote("/admin/collections/contacts?pageSize=10&sort=id", safe="/"))
    table = page.locator("ec-data-table")
    await expect(table.locator("tbody tr[data-id]")).to_have_count(10)

    # an email field's value is a link that opens compose addressed to it, on this page
    link = table.locator('td[data-column="email"]').get_by_role("link", name=carol)
    await expect(link).to_have_attribute("href", f"mailto:{carol}")
    await link.click()
    compose = page.get_by_role("dialog", name="New message")
    await expect(compose.locator(".mail-chip", has_text=carol)).to_be_visible()
    await expect(compose.get_by_label("From", exact=True)).to_contain_text(mailbox.address)
    await compose.get_by_role("button", name="Discard").click()
    await expect(compose).to_be_hidden()
    assert page.url.endswith("/admin/collections/contacts?pageSize=10&sort=id")

    # rows selected: the page, then every contact matching; "Send email" gets that selection
    await table.get_by_label("Select this page").check()
    bar = page.get_by_role("toolbar", name="Selected rows")
    await expect(bar.get_by_role("status")).to_have_text("10 selected")
    await screenshot(page, "record-emails-selection-1280")
    await bar.get_by_role("button", name="Select all 12").click()
    await expect(bar.get_by_role("status")).to_have_text("All 12 records selected")
    await bar.get_by_role("button", name="Send email").click()
    batch = page.get_by_role("dialog", name="Send email to records")
    await expect(batch.get_by_role("status").filter(has_text="12 records")).to_be_visible()
    await batch.get_by_role("button", name="Cancel").click()
    await expect(batch).to_be_hidden()
    await bar.get_by_role("button", name="Clear selection").click()
    await expect(bar).to_be_hidden()
    # every row matching a filter: the action gets the filter, not the rows shown
    await page.get_by_role("button", name="Filter").click()
    condition = page.get_by_role("group", name="Condition 1")
    await condition.get_by_label("Field").select_option("nickname")
    await condition.get_by_label("Operator").select_option(label="contains")
    await condition.get_by_label("Value").fill("Person")
    await page.get_by_role("button", name="Apply").click()
    await expect(page.get_by_test_id("range")).to_have_text("1–10 of 11")
    await table.get_by_label("Select this page").check()
    await bar.get_by_role("button", name="Select all 11 matching the filter").click()
    await expect(bar.get_by_role("status")).to_have_text("All 11 matching records selected")
    await bar.get_by_role("button", name="Send email").click()
    await expect(batch.get_by_role("status").filter(has_text="11 records")).to_be_visible()
    await batch.get_by_role("button", name="Cancel").click()
    await page.get_by_role("button", name="Reset").click()
    await expect(page.get_by_test_id("range")).to_have_text("1–10 of 12")
    await expect(bar).to_be_hidden()  # a new filter starts a new selection
    await expect(table.get_by_label("Select row", exact=False).first).not_to_be_checked()

    # a row opens its record: Details, formatted as the table formats them
    await table.locator(f'tr[data-id="{carol_id}"] td[data-column="nickname"]').click()
    await expect(page).to_have_url(re.compile(rf"/admin/collections/contacts/{carol_id}$"))
    await expect(page.get_by_role("heading", name="Carol", exact=True)).to_be_visible()
    details = page.get_by_role("tabpanel")
    await expect(details.locator('dd[data-field="company"]')).to_have_text("Client Ltd")
    await expect(details.locator('dd[data-field="email"]').get_by_role("link", name=carol)).to_be_visible()
    await screenshot(page, "record-details-1280")

    # the Emails tab: Carol's conversation only, unread, with its two messages
    await page.get_by_role("tab", name="Emails").click()
    await expect(page).to_have_url(re.compile(rf"/contacts/{carol_id}\?tab=emails$"))
    await expect(page.get_by_role("tab", name="Emails")).to_have_attribute("aria-selected", "true")
    await expect(thread_rows(page)).to_have_count(1)
    row = thread_rows(page).first
    await expect(row.locator(".mail-row-subject")).to_contain_text("Quote for Q3")  # the newest: the reply
    await expect(row.locator(".mail-row-count")).to_have_text("(2)")
    await expect(row.locator(".mail-row-from")).to_contain_text("Carol")
    await expect(row).to_have_class(re.compile(r"\bis-unread\b"))
    assert await row.locator(".mail-row-subject").evaluate("e => getComputedStyle(e).fontWeight") == "600"
    await expect(page.locator(".mail-record-count")).to_have_text("1 conversation")
    await screenshot(page, "record-emails-1280")

    # reload keeps the tab; the conversation opens in the email center's reader; Back returns
    await page.reload()
    await expect(thread_rows(page)).to_have_count(1)
    await thread_rows(page).first.get_by_role("link").click()
    tab = quote(f"/admin/collections/contacts/{carol_id}?tab=emails", safe="")
    await expect(page).to_have_url(re.compile(rf"/admin/mail/thread/\d+\?from={re.escape(tab)}$"))  # Back's way
    await expect(page.locator(".mail-reader")).to_contain_text("Quote for Q3")
    await expect(page.get_by_role("button", name="Reply", exact=True)).to_be_visible()
    await page.go_back()
    await expect(page).to_have_url(re.compile(rf"/contacts/{carol_id}\?tab=emails$"))
    await expect(thread_rows(page)).to_have_count(1)
    await expect(thread_rows(page).first).not_to_have_class(re.compile(r"\bis-unread\b"))  # read in the reader

    # j steps to the email center's next conversation and keeps the way back: the reader's Back
    # still returns to this tab
    await thread_rows(page).first.get_by_role("link").click()
    await expect(page.locator(".mail-reader")).to_contain_text("Quote for Q3")
    await step_with_j(page)
    await expect(page).to_have_url(re.compile(rf"/admin/mail/thread/\d+\?from={re.escape(tab)}$"))
    await expect(page.locator(".mail-reader")).not_to_contain_text("Quote for Q3")
    await page.locator(".mail-reader").get_by_role("button", name="Back", exact=True).click()
    await expect(page).to_have_url(re.compile(rf"/contacts/{carol_id}\?tab=emails$"))
    await expect(thread_rows(page)).to_have_count(1)

    # Write email: compose addressed to the record, sent through the SMTP server to Carol only
    await page.get_by_role("button", name="Write email").click()
    compose = page.get_by_role("dialog", name="New message")
    await expect(compose.locator(".mail-chip", has_text=carol)).to_be_visible()
    await compose.get_by_label("Subject").fill("Following up on the quote")
    await compose.locator(".mail-editor-body").fill("Any questions?")
    await compose.get_by_role("button", name="Send", exact=True).click()
    await expect(compose).to_be_hidden()
    await expect(page.locator("ec-toasts")).to_contain_text("Message sent")
    (sent,) = await mailbox.stack.sink.wait_for(1)
    assert sent[1] == [carol]
    assert sent.parsed()["Subject"] == "Following up on the quote"
    await expect(thread_rows(page).filter(has_text="Following up on the quote")).to_have_count(1)

    # a domain field leads to its company's Emails tab: the mail of acme.test, paged
    await page.goto(f"{mailbox.stack.base_url}/admin/collections/companies")
    await page.get_by_role("link", name="acme.test").click()
    await expect(page).to_have_url(re.compile(rf"/companies/{acme_id}\?tab=emails$"))
    await expect(page.locator(".mail-record-count")).to_have_text("12 conversations")
    await expect(thread_rows(page)).to_have_count(12)
    subjects = await thread_rows(page).locator(".mail-row-subject").all_inner_texts()
    assert "Order from Acme" in subjects and "Quote for Q3" not in subjects and "Unrelated news" not in subjects
    await page.get_by_label("Rows per page").select_option("10")
    await expect(page.get_by_test_id("range")).to_have_text("1–10 of 12")
    await page.get_by_role("button", name="Next page").click()
    await expect(page.get_by_test_id("range")).to_have_text("11–12 of 12")
    await expect(thread_rows(page)).to_have_count(2)
    assert "page=2" in page.url and "size=10" in page.url
    await screenshot(page, "record-company-emails-1280")

    # a record with no address nor domain: nothing to list, nobody to write to
    await page.goto(f"{mailbox.stack.base_url}/admin/collections/companies/{nameless_id}?tab=emails")
    await expect(page.get_by_text("No email address or domain on this record")).to_be_visible()
    await expect(page.get_by_role("button", name="Write email")).to_have_count(0)
    assert page.errors == []
    assert violations.all() == []


async def test_a_users_own_record_on_a_phone(phone_page, mailbox):
    page = phone_page
    mailbox.deliver(subject="From my other address", frm=f"Me Elsewhere <{mailbox.member_email}>")
    mailbox.deliver(subject="Not about me", frm="Bob <bob@example.test>")
    await mailbox.link()
    await mailbox.sign_in(page, "/admin/collections/users")
    table = page.locator("ec-data-table")
    await expect(table.locator("tbody tr[data-id]")).to_have_count(1)  # a member sees only itself
    await expect(table.get_by_role("link", name=mailbox.member_email)).to_be_visible()
    await table.get_by_label("Select this page").check()
    await expect(page.get_by_role("toolbar", name="Selected rows")).to_contain_text("1 selected")
    await expect(
        page.get_by_role("toolbar", name="Selected rows").get_by_role("button", name="Send email")
    ).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await screenshot(page, "record-users-390")
    await page.get_by_role("button", name="Clear selection").click()

    await table.locator('td[data-column="id"]').get_by_role("link").click()
    await expect(page.get_by_role("heading", name=mailbox.member_email.split("@")[0])).to_be_visible()
    await expect(page.get_by_role("tabpanel").locator('dd[data-field="email"]')).to_contain_text(mailbox.member_email)
    await screenshot(page, "record-details-390")
    await page.get_by_role("tab", name="Emails").click()
    await expect(thread_rows(page)).to_have_count(1)
    await expect(thread_rows(page).first).to_contain_text("From my other address")
    await expect(page.get_by_role("button", name="Write email")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await screenshot(page, "record-emails-390")
    await thread_rows(page).first.get_by_role("link").click()
    await expect(page.locator(".mail-reader")).to_contain_text("From my other address")
    assert page.errors == []
