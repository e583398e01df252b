"""Send as in the browser (1280x800): add an identity in Account settings, send as it from
compose's From, and a reply to mail written to it answers from it."""

from __future__ import annotations

from playwright.async_api import expect

from tests.ui.mail_fixtures import dovecot, mail_stack, mailbox, oauth_provider, smtp_sink  # noqa: F401 - fixtures


async def test_add_an_identity_send_as_it_and_reply_from_it(page, mailbox):
    sink = mailbox.stack.sink
    mailbox.deliver(subject="For the sales desk", to="Sales <sales@example.test>", text="Any offers?")
    await mailbox.link()
    await mailbox.sign_in(page)

    await page.get_by_role("button", name="Account settings").click()
    settings = page.get_by_role("dialog", name="Account settings")
    send_as = settings.get_by_role("region", name="Send as")
    await expect(send_as.get_by_text("No other address yet.")).to_be_visible()
    await send_as.get_by_label("Identity name").fill("Sales Desk")
    await send_as.get_by_label("Identity address").fill("sales@example.test")
    await send_as.get_by_role("button", name="Add address").click()
    await expect(send_as.locator(".mail-identity")).to_contain_text("Sales Desk <sales@example.test>")
    await settings.get_by_role("button", name="Close").click()

    # compose lists the account and its identity in From; sent as the identity
    await page.get_by_role("button", name="Write email").click()
    compose = page.get_by_role("dialog", name="New message")
    from_select = compose.get_by_label("From", exact=True)
    await expect(from_select.locator("option")).to_have_count(2)
    await expect(from_select.locator("option").first).to_contain_text(mailbox.address)
    await expect(from_select.locator("option").last).to_have_text("Sales Desk <sales@example.test>")
    await from_select.select_option(label="Sales Desk <sales@example.test>")
    await compose.get_by_label("To", exact=True).fill("dan@example.test")
    await compose.get_by_label("Subject").fill("Our offer")
    await compose.get_by_role("button", name="Send", exact=True).click()
    await expect(compose).to_be_hidden()
    (sent,) = await sink.wait_for(1)
    assert sent.parsed()["From"].addresses[0].addr_spec == "sales@example.test"
    assert sent[0] == mailbox.address  # MAIL FROM: the account

    # a reply to mail written to the identity is from it
    await page.locator(".mail-row[data-thread-id]", has_text="For the sales desk").locator("a").click()
    await page.get_by_role("button", name="Reply", exact=True).click()
    reply = page.get_by_role("dialog", name="Reply")
    await expect(reply.get_by_label("From", exact=True).locator("option:checked")).to_have_text(
        "Sales Desk <sales@example.test>"
    )
