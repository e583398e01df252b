"""A search of a common word answers the planner's estimate of its count (``meta.countIsEstimate``,
see conversations/listing.py); the list says "about" then, in its heading and its pager, and
nothing when the count is exact. The server's answer is the real one, with only that flag set on
it, since an estimated count needs thousands of matching messages."""

from __future__ import annotations

import json

from playwright.async_api import expect

from tests.ui.mail_fixtures import dovecot, mail_stack, mailbox, oauth_provider, smtp_sink  # noqa: F401 - fixtures


async def test_an_estimated_count_reads_about(page, mailbox):
    mailbox.deliver(subject="Quarterly figures")
    await mailbox.link()
    await mailbox.sign_in(page)
    head = page.locator(".mail-list-sub")
    await expect(head).to_contain_text("1 conversation")
    await expect(head).not_to_contain_text("about")

    async def estimated(route):
        response = await route.fetch()
        body = await response.json()
        body["meta"]["countIsEstimate"] = True
        await route.fulfill(response=response, body=json.dumps(body))

    await page.route("**/api/mailMessages:listThreads*", estimated)
    await page.get_by_role("button", name="Refresh").first.click()
    await expect(head).to_contain_text("about 1 conversation")
    await expect(page.get_by_test_id("range")).to_have_text("1–1 of about 1")
