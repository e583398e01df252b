"""Batch send from records in the browser: the "Send email" dialog on users' records (the From,
the email field, the {{field}} chips and the preview), the Batches view following the batch live
to its end, a refused recipient's error, and Retry failed once the server accepts it, with no
CSP refusal; at 1280x800 and at 390 px."""

from __future__ import annotations

import itertools
import json
import re
from urllib.parse import quote

from playwright.async_api import expect

from tests.servers.app import ROOT_EMAIL, ROOT_PASSWORD
from tests.ui.conftest import screenshot, sign_in
from tests.ui.mail_fixtures import dovecot, mail_stack, mailbox, oauth_provider, smtp_sink  # noqa: F401 - fixtures
from tests.ui.test_csp import Violations

_serial = itertools.count(1)


async def _root_account(mailbox) -> int:
    """Root sends from the mailbox's login (root is the one who sees every user)."""
    client = mailbox.stack.client
    status, body = await client.api(
        client.root_token,
        "mailAccounts:create",
        {"provider": "imap", **mailbox.imap_form(), "displayName": "Root Desk"},
    )
    assert status == 200, body
    return body["data"]["id"]


async def _users(mailbox, count: int) -> list[tuple[int, str, str]]:
    """``count`` new users (id, email, nickname), created by root."""
    client, n = mailbox.stack.client, next(_serial)
    out = []
    for i in range(1, count + 1):
        email, nickname = f"reader{n}-{i}@batch.test", f"Reader {n}.{i}"
        status, body = await client.api(
            client.root_token, "users:create", {"email": email, "nickname": nickname, "password": "reader-pass-1234"}
        )
        assert status == 200, body
        out.append((body["data"]["id"], email, nickname))
    return out


async def _send_email_to(page, ids: list[int]):
    """On the collection page: tick these rows, then "Send email" over the selection."""
    for record_id in ids:
        await page.get_by_label(f"Select row {record_id}", exact=True).check()
    await page.get_by_role("toolbar", name="Selected rows").get_by_role("button", name="Send email").click()
    dialog = page.get_by_role("dialog", name="Send email to records")
    await expect(dialog.get_by_label("Subject")).to_be_visible()
    return dialog


async def test_send_to_selected_users_follow_the_batch_and_retry_the_refused(page, mailbox):
    sink = mailbox.stack.sink
    await _root_account(mailbox)
    users = await _users(mailbox, 5)
    refused = users[2][1]
    sink.refuse.add(refused)
    csp = Violations()
    await csp.watch(page.context)
    await sign_in(page, mailbox.stack.base_url, ROOT_EMAIL, ROOT_PASSWORD, next_path="/admin/collections/users")
    await expect(page.get_by_role("heading", name="Users")).to_be_visible()

    dialog = await _send_email_to(page, [u[0] for u in users])
    await expect(dialog.get_by_label("From")).to_contain_text(mailbox.address)
    await expect(dialog.get_by_label("Send to")).to_have_value("email")
    await expect(dialog.get_by_role("status").filter(has_text="5 records selected")).to_be_visible()
    # the placeholders as chips, inserted where the person is writing
    subject = dialog.get_by_label("Subject")
    await subject.fill("News for ")
    await dialog.get_by_role("button", name="Insert {{nickname}}").click()
    await expect(subject).to_have_value("News for {{nickname}}")
    body = dialog.get_by_role("textbox", name="Message body")
    await body.click()
    await page.keyboard.type("Dear ")
    await dialog.get_by_role("button", name="Insert {{nickname}}").click()
    await page.keyboard.type(", our news.")
    await expect(body).to_have_text("Dear {{nickname}}, our news.")
    # no password among the chips; the preview is the first record's message
    await expect(dialog.get_by_role("button", name=re.compile("password", re.I))).to_have_count(0)
    preview = dialog.get_by_role("region", name="Preview")
    await expect(preview).to_contain_text(f"To {users[0][1]}")
    await expect(preview).to_contain_text(f"News for {users[0][2]}")
    await expect(preview).to_contain_text(f"Dear {users[0][2]}, our news.")
    await screenshot(page, "batches-dialog-desktop", full_page=False)

    await dialog.get_by_role("button", name="Send", exact=True).click()
    await expect(dialog).to_be_hidden()
    await page.get_by_role("link", name="See its progress").click()
    await expect(page).to_have_url(re.compile(r"/admin/mail/batches/\d+$"))
    await expect(page.get_by_role("heading", name="News for {{nickname}}")).to_be_visible()

    # live: the bar moves on and the batch ends, without a reload
    bar = page.get_by_role("progressbar", name="Progress")
    await expect(page.locator(".mail-batch-summary").get_by_text("Sending")).to_be_visible()
    await expect(bar).to_have_attribute("aria-valuenow", "5", timeout=30_000)
    await expect(page.locator(".mail-batch-summary").get_by_text("Done with errors")).to_be_visible()
    await expect(page.locator(".mail-batch-summary")).to_contain_text("4 / 5 sent · 1 failed")
    rows = page.get_by_role("table", name="Recipients").locator("tbody tr")
    await expect(rows).to_have_count(5)
    failed = rows.filter(has_text=refused)
    await expect(failed).to_contain_text("Failed")
    await expect(failed.locator(".mail-recipient-error")).to_contain_text("550")
    await expect(failed.get_by_role("link", name=f"users #{users[2][0]}")).to_be_visible()
    await screenshot(page, "batches-detail-desktop")

    got = {}
    for d in sink.messages:
        msg = d.parsed()
        if str(msg["Subject"]).startswith("News for Reader"):
            got.setdefault(tuple(d[1]), []).append(str(msg["Subject"]))
    assert got == {(email,): [f"News for {nick}"] for _, email, nick in users if email != refused}

    # the server accepts it now: Retry failed sends to that one only
    sink.refuse.discard(refused)
    await page.get_by_role("button", name="Retry failed (1)").click()
    await expect(page.locator(".mail-batch-summary")).to_contain_text("5 / 5 sent", timeout=30_000)
    await expect(page.get_by_role("button", name=re.compile("Retry failed"))).to_be_hidden()
    await expect(rows.filter(has_text=refused)).to_contain_text("Sent")
    late = [d for d in sink.messages if d[1] == [refused]]
    assert len(late) == 1 and str(late[0].parsed()["Subject"]) == f"News for {users[2][2]}"

    # the filter: only the failed (none now), then every batch, then back to the email center
    await page.get_by_role("button", name="Failed", exact=True).click()
    await expect(page.get_by_text("No recipient with this status")).to_be_visible()
    await page.get_by_role("link", name="All batches").click()
    await expect(page).to_have_url(re.compile(r"/admin/mail/batches$"))
    item = page.get_by_role("list", name="Batches").get_by_role("listitem").first
    await expect(item).to_contain_text("News for {{nickname}}")
    await expect(item).to_contain_text("5 / 5 sent")
    await expect(item).to_contain_text(mailbox.address)
    await screenshot(page, "batches-list-desktop")
    await page.locator(".mail-batches-head").get_by_role("link", name="Email").click()
    await expect(page).to_have_url(re.compile(r"/admin/mail$"))
    # and from the email center's side panel, back to the batches
    await page.get_by_role("complementary", name="Mail filters").get_by_role("link", name="Batches").click()
    await expect(page).to_have_url(re.compile(r"/admin/mail/batches$"))
    await expect(page.get_by_role("list", name="Batches")).to_contain_text("News for {{nickname}}")
    assert page.errors == [] and csp.all() == []


async def test_on_a_phone_the_batches_and_the_dialog_fit_and_show_the_server_s_errors(phone_page, mailbox):
    page, sink = phone_page, mailbox.stack.sink
    account = await _root_account(mailbox)
    users = await _users(mailbox, 3)
    sink.refuse.add(users[1][1])
    client = mailbox.stack.client
    status, body = await client.api(
        client.root_token,
        "mailMessages:sendBatch",
        {
            "accountId": account,
            "subject": "Phone news for {{nickname}}",
            "text": "Hello {{nickname}}.",
            "records": {"collection": "users", "filterByTk": [u[0] for u in users], "field": "email"},
        },
    )
    assert status == 200, body
    batch_id = body["data"]["batchId"]

    await sign_in(page, mailbox.stack.base_url, ROOT_EMAIL, ROOT_PASSWORD, next_path="/admin/mail/batches")
    item = page.get_by_role("listitem").filter(has_text="Phone news for {{nickname}}")
    await expect(item).to_contain_text("2 / 3 sent · 1 failed", timeout=30_000)
    await screenshot(page, "batches-list-phone")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    await item.get_by_role("link", name="Phone news for {{nickname}}").click()
    await expect(page).to_have_url(re.compile(rf"/admin/mail/batches/{batch_id}$"))
    failed = page.locator(".mail-recipient", has_text=users[1][1])
    await expect(failed.locator(".mail-recipient-error")).to_contain_text("550")
    await expect(failed.locator(".mail-recipient-error")).to_be_visible()
    await screenshot(page, "batches-detail-phone")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    # its record, one tap away
    await failed.get_by_role("link", name=f"users #{users[1][0]}").click()
    await expect(page).to_have_url(re.compile(rf"/admin/collections/users/{users[1][0]}$"))
    await expect(page.get_by_text(users[1][2]).first).to_be_visible()

    # the dialog at 390 px; an error from the server (the record deleted meanwhile) stays in it
    await page.goto(f"{mailbox.stack.base_url}/admin/collections/users")
    dialog = await _send_email_to(page, [users[0][0]])
    await dialog.get_by_label("Subject").fill("Gone")
    await dialog.get_by_role("textbox", name="Message body").fill("Hello.")
    await expect(dialog.get_by_role("region", name="Preview")).to_contain_text("Hello.")
    await screenshot(page, "batches-dialog-phone", full_page=False)
    status, body = await client.api(client.root_token, "users:destroy", {"filterByTk": users[0][0]})
    assert status == 200, body
    await dialog.get_by_role("button", name="Send", exact=True).click()
    await expect(dialog.get_by_role("alert")).to_contain_text("Add at least one recipient.")
    await expect(dialog).to_be_visible()
    await screenshot(page, "batches-dialog-error-phone", full_page=False)
    assert page.errors == []


async def test_a_person_without_a_mail_account_is_told_to_link_one(page, mailbox):
    await mailbox.sign_in(page, next_path="/admin/collections/users")
    await expect(page.get_by_role("heading", name="Users")).to_be_visible()
    status, body = await mailbox.api("users:list", method="GET")
    assert status == 200, body
    dialog = await _send_email_to(page, [body["data"][0]["id"]])
    await expect(dialog.get_by_role("alert")).to_contain_text("no mail account")
    await expect(dialog.get_by_role("button", name="Send", exact=True)).to_be_disabled()
    await dialog.get_by_role("link", name="Link one in the email center").click()
    await expect(page).to_have_url(re.compile(r"/admin/mail$"))
    await expect(dialog).to_be_hidden()
    assert page.errors == []


async def test_every_user_matching_the_filter_gets_one_message(page, mailbox):
    sink = mailbox.stack.sink
    account = await _root_account(mailbox)
    client = mailbox.stack.client
    status, body = await client.api(
        client.root_token,
        "mailIdentities:create",
        {"accountId": account, "name": "Support", "email": "support@batch.test", "replyTo": "desk@batch.test"},
    )
    assert status == 200, body
    users = await _users(mailbox, 11)
    prefix = users[0][1].rsplit("-", 1)[0] + "-"  # reader<n>-: these users only
    flt = json.dumps({"email": {"$startsWith": prefix}})
    await sign_in(page, mailbox.stack.base_url, ROOT_EMAIL, ROOT_PASSWORD)
    await expect(page).to_have_url(re.compile(r"/admin$"))
    await page.goto(f"{mailbox.stack.base_url}/admin/collections/users?pageSize=10&filter={quote(flt)}")
    await page.get_by_label("Select this page").check()
    await page.get_by_role("button", name="Select all 11 matching the filter").click()
    await page.get_by_role("toolbar", name="Selected rows").get_by_role("button", name="Send email").click()
    dialog = page.get_by_role("dialog", name="Send email to records")
    await expect(dialog.get_by_role("status").filter(has_text="11 records matching the filter")).to_be_visible()
    # sent as the account's identity, with its Reply-To
    await dialog.get_by_label("From").select_option(label="Support <support@batch.test>")
    await dialog.get_by_label("Subject").fill("All of you")
    await dialog.get_by_role("textbox", name="Message body").fill("Hello, everyone matching.")
    await dialog.get_by_role("button", name="Send", exact=True).click()
    await expect(dialog).to_be_hidden()
    await page.get_by_role("link", name="See its progress").click()
    await expect(page.locator(".mail-batch-summary").get_by_text("Sending")).to_be_visible()
    batch_url = page.url
    # left while it runs: the page stops asking
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/api/mailBatch" in r.url else None)
    await page.locator(".mail-batches-head").get_by_role("link", name="All batches").click()
    await expect(page.get_by_role("list", name="Batches")).to_be_visible()
    await page.locator(".mail-batches-head").get_by_role("link", name="Email").click()
    await expect(page).to_have_url(re.compile(r"/admin/mail$"))
    await page.wait_for_timeout(500)
    asked.clear()
    await page.wait_for_timeout(4500)
    assert asked == []
    await page.goto(batch_url)
    await expect(page.locator(".mail-batch-summary")).to_contain_text("11 / 11 sent", timeout=40_000)
    await expect(page.locator(".mail-batch-summary")).to_contain_text("From Support <support@batch.test>")
    arrived = [d for d in sink.messages if str(d.parsed()["Subject"]) == "All of you"]
    assert sorted(d[1][0] for d in arrived) == sorted(email for _, email, _ in users)
    assert {(str(d.parsed()["From"]), str(d.parsed()["Reply-To"])) for d in arrived} == {
        ("Support <support@batch.test>", "desk@batch.test")
    }
    assert page.errors == []
