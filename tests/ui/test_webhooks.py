"""The webhook settings in the browser: add a webhook, send a test, see the delivery (1280x800)."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from playwright.async_api import expect

from tests.ui.conftest import screenshot
from tests.ui.mail_fixtures import dovecot, mail_stack, mailbox, oauth_provider, smtp_sink  # noqa: F401 - fixtures


async def receiver(got: list):
    async def handle(request: web.Request) -> web.Response:
        got.append(json.loads(await request.read()))
        return web.Response(text="got it")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


async def test_add_a_webhook_send_a_test_and_see_the_delivery(page, mailbox):
    client = mailbox.stack.client
    # the receiver is on this machine: root allows private addresses for this server
    status, body = await client.api(
        client.root_token, "mailSettings:create", {"provider": "general", "values": {"webhook_allow_private": True}}
    )
    assert status == 200, body
    await asyncio.sleep(0.5)
    got: list = []
    runner, port = await receiver(got)
    try:
        mailbox.deliver(subject="Hello webhooks", text="Hi.")
        await mailbox.link()
        await mailbox.sign_in(page)
        await page.get_by_role("button", name="Account settings").click()
        settings = page.get_by_role("dialog", name="Account settings")
        hooks = settings.get_by_role("region", name="Webhooks")
        await expect(hooks.get_by_text("No webhook yet.")).to_be_visible()
        await hooks.get_by_role("button", name="Add webhook").click()
        form = hooks.get_by_role("form", name="Add webhook")
        await form.get_by_label("URL").fill(f"http://127.0.0.1:{port}/hook")
        await form.get_by_label("Secret").fill("whsec-ui-0123456789")
        await form.get_by_label("messageSent").check()
        await form.get_by_role("button", name="Add webhook").click()
        item = hooks.locator(".mail-webhook", has_text=f"127.0.0.1:{port}/hook")
        await expect(item).to_contain_text("messageNew, messageSent")
        await item.get_by_role("button", name="Send test").click()
        delivery = item.locator(".mail-webhook-delivery").first
        await expect(delivery).to_contain_text("ping", timeout=10_000)
        await expect(delivery).to_contain_text("Delivered", timeout=10_000)
        await expect(delivery).to_contain_text("200 got it")
        assert [p["event"] for p in got] == ["ping"]
        await hooks.scroll_into_view_if_needed()
        await screenshot(page, "mail-webhooks-1280", full_page=False)
        status, body = await mailbox.api("mailWebhooks:list", method="GET")
        assert status == 200 and "whsec-ui" not in json.dumps(body)
        assert page.errors == []
    finally:
        await runner.cleanup()
