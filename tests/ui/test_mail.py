"""The email center in a real Chromium, against the real server, a real Dovecot and the SMTP sink:
every step of PRODUCT.md as a person does it (issue 7's acceptance list)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from email.utils import make_msgid

from playwright.async_api import expect

from tests.ui.conftest import screenshot
from tests.ui.mail_fixtures import SERVER_LIMIT_MIB, dovecot, mail_stack, mailbox, oauth_provider, smtp_sink  # noqa: F401 - fixtures

MIB = 1024 * 1024


def rows(page):
    return page.locator(".mail-row[data-thread-id]")


def row(page, subject: str):
    return rows(page).filter(has=page.locator(".mail-row-subject", has_text=subject))


async def is_bold(locator) -> bool:
    # a row the list is redrawing at that instant is detached and has no computed style: ask again
    for _ in range(20):
        weight = await locator.locator(".mail-row-subject").evaluate("el => getComputedStyle(el).fontWeight")
        if weight:
            return int(weight) >= 600
        await asyncio.sleep(0.1)
    raise AssertionError("the row's subject has no computed font weight")


async def wait_until(predicate, timeout: float = 10, what: str = "condition"):
    end = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def write_email(page):
    """Open compose for a new message; answers its dialog."""
    await page.get_by_role("button", name="Write email").click()
    return page.get_by_role("dialog", name="New message")


async def seeded(mailbox, page=None):
    """A small inbox: a conversation of three (one of them sent), a flagged report with a PDF, a
    read newsletter; linked through the API, then the page opened on it."""
    now = dt.datetime.now(dt.timezone.utc)
    lunch = mailbox.deliver(
        subject="Lunch on Thursday?", text="Shall we have lunch on Thursday at noon?", date=now - dt.timedelta(hours=3)
    )
    mailbox.deliver(
        subject="Re: Lunch on Thursday?",
        frm=f"Alice <{mailbox.address}>",
        to="Bob Builder <bob@example.test>",
        text="Sure, where?",
        in_reply_to=lunch,
        mailbox="Sent",
        seen=True,
        date=now - dt.timedelta(hours=2),
    )
    mailbox.deliver(
        subject="Re: Lunch on Thursday?",
        text="The Italian place on Main street.",
        in_reply_to=lunch,
        references=lunch,
        cc="Carol <carol@example.test>",
        date=now - dt.timedelta(hours=1),
    )
    mailbox.deliver(
        subject="Quarterly report",
        frm="Dana Finance <dana@corp.example>",
        flagged=True,
        html="<h2>Q3</h2><p>Revenue is <b>up 12%</b>.</p>",
        attachments=[("report.pdf", "application/pdf", b"%PDF-1.4 " + b"x" * 20_000)],
    )
    mailbox.deliver(subject="Weekly digest", frm="News <news@example.org>", text="What happened this week.", seen=True)
    await mailbox.link()
    if page is not None:
        await mailbox.sign_in(page)
        await expect(rows(page)).to_have_count(3)
    return lunch


async def test_link_an_imap_account_through_the_form(page, mailbox):
    lunch = mailbox.deliver(subject="Lunch on Thursday?", text="Shall we have lunch?")
    mailbox.deliver(subject="Re: Lunch on Thursday?", text="Or Friday?", in_reply_to=lunch)
    mailbox.deliver(subject="Invoice 42", frm="Billing <billing@shop.example>", text="Your invoice.")
    await mailbox.sign_in(page)

    # no account yet: the page says so and offers to link one
    await expect(page.get_by_role("heading", name="Welcome to your email center")).to_be_visible()
    await page.get_by_role("button", name="Link account").click()
    dialog = page.get_by_role("dialog", name="Link account")
    await expect(dialog.get_by_role("button", name=re.compile("Google"))).to_be_visible()
    await expect(dialog.get_by_role("button", name=re.compile("Microsoft"))).to_be_visible()
    await dialog.get_by_role("button", name="IMAP/SMTP Any other mail server").click()

    form = page.get_by_role("dialog", name="Link an IMAP/SMTP account")
    values = mailbox.imap_form()
    await form.get_by_label("Email address").fill(values["email"])
    await form.get_by_label("Display name").fill("Alice Example")
    await form.get_by_label("Password").fill("not-the-password")
    await form.get_by_label("IMAP server").fill(values["imapHost"])
    await form.get_by_label("IMAP security").select_option("none")
    await form.get_by_label("IMAP port").fill(str(values["imapPort"]))
    await form.get_by_label("SMTP server").fill(values["smtpHost"])
    await form.get_by_label("SMTP security").select_option("none")
    await form.get_by_label("SMTP port").fill(str(values["smtpPort"]))
    await screenshot(page, "mail-link-form-1280", full_page=False)

    # the server checks the login before storing anything, and its refusal names the server
    await form.get_by_role("button", name="Link account").click()
    await expect(form.get_by_role("alert")).to_contain_text("IMAP server")
    await expect(form.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    status, body = await mailbox.api("mailAccounts:list", method="GET")
    assert status == 200 and body["data"] == []

    await form.get_by_label("Password").fill(mailbox.password)
    await form.get_by_role("button", name="Link account").click()
    settings = page.get_by_role("dialog", name="Account settings")
    account = settings.locator(".mail-account", has_text=mailbox.address)
    await expect(account).to_be_visible()
    await expect(account.locator("[data-status]")).to_have_attribute("data-status", "ready", timeout=20_000)
    await expect(account).to_contain_text("Last sync")
    await settings.get_by_role("button", name="Close").click()

    # the inbox: one row per conversation, the count beside the subject, unread rows bold
    await expect(rows(page)).to_have_count(2, timeout=15_000)
    lunch_row = row(page, "Lunch on Thursday?")
    await expect(lunch_row.locator(".mail-row-count")).to_have_text("(2)")
    assert await is_bold(lunch_row) and await is_bold(row(page, "Invoice 42"))
    await expect(page.get_by_role("button", name=re.compile("^Inbox"))).to_contain_text("3")
    await expect(page.locator("header a[data-badge='mail'] .ec-badge-count")).to_have_text("3")
    await expect(page.locator(".mail-account-item .mail-status-dot")).to_have_class(re.compile("mail-status-ready"))
    assert page.errors == []


async def test_link_google_in_a_popup_then_relink_after_an_error(page, mailbox):
    provider = mailbox.stack.oauth
    await mailbox.stack.point_google()
    provider.consent_user = mailbox.address
    mailbox.deliver(subject="Welcome to your mailbox", frm="Team <team@example.test>", text="Hello!")
    await mailbox.sign_in(page)
    await page.get_by_role("button", name="Link account").click()
    dialog = page.get_by_role("dialog", name="Link account")
    # the provider's consent page (it consents at once here), then ours following the first
    # sync, which tells this page and closes itself
    async with page.expect_popup() as info:
        await dialog.get_by_role("button", name="Google Gmail and Google Workspace").click()
    popup = await info.value
    await popup.wait_for_event("close", timeout=30_000)
    await expect(page.locator("ec-toasts")).to_contain_text("Account linked")
    settings = page.get_by_role("dialog", name="Account settings")
    account = settings.locator(".mail-account", has_text=mailbox.address)
    await expect(account.locator("[data-status]")).to_have_attribute("data-status", "ready")
    await expect(account).to_contain_text("Google")
    await settings.get_by_role("button", name="Close").click()
    await expect(row(page, "Welcome to your mailbox")).to_be_visible()

    # the person revokes access at the provider: the next sync fails, the account asks for a re-link
    provider.revoke(user=mailbox.address)
    provider.expire_access_tokens()
    await page.get_by_role("button", name=re.compile("Refresh")).click()
    await expect(page.locator(".mail-account-item .mail-status-dot")).to_have_class(
        re.compile("mail-status-error"), timeout=20_000
    )
    await page.get_by_role("button", name="Account settings").click()
    settings = page.get_by_role("dialog", name="Account settings")
    await expect(account.locator("[data-status]")).to_have_attribute("data-status", "error")
    await expect(account.locator(".mail-account-error")).to_be_visible()
    await screenshot(page, "mail-accounts-error-1280", full_page=False)
    async with page.expect_popup() as info:
        await account.get_by_role("button", name="Re-link").click()
    await (await info.value).wait_for_event("close", timeout=30_000)
    await expect(account.locator("[data-status]")).to_have_attribute("data-status", "ready", timeout=20_000)
    await expect(account.locator(".mail-account-error")).to_have_count(0)
    status, body = await mailbox.api("mailAccounts:list", method="GET")
    assert [a["email"] for a in body["data"]] == [mailbox.address]  # the same account, not a second one
    assert page.errors == []


async def test_read_state_with_the_toolbar_and_refresh(page, mailbox):
    await seeded(mailbox, page)
    lunch, report = row(page, "Lunch on Thursday?"), row(page, "Quarterly report")
    digest = row(page, "Weekly digest")
    assert await is_bold(lunch) and await is_bold(report) and not await is_bold(digest)
    await expect(report.locator(".mail-row-clip")).to_be_visible()
    await expect(report.locator(".mail-row-flag.is-on")).to_be_visible()
    await expect(lunch.locator(".mail-type-tag")).to_have_text("Inbox")
    await screenshot(page, "mail-list-1280", full_page=False)

    # several rows: read, then unread again; the mail server gets \Seen both ways
    await lunch.get_by_role("checkbox").check()
    await report.get_by_role("checkbox").check()
    await expect(page.locator(".mail-selected-count")).to_have_text("2 selected")
    await page.get_by_role("button", name="Mark as read").click()
    await expect(lunch).not_to_have_class(re.compile("is-unread"))
    await expect(report).not_to_have_class(re.compile("is-unread"))
    assert not await is_bold(lunch) and not await is_bold(report)
    await wait_until(lambda: all(mailbox.seen_on_server().values()), what="\\Seen on the server")
    await expect(page.locator("header a[data-badge='mail'] .ec-badge-count")).to_be_hidden()

    await page.get_by_role("button", name="Mark as unread").click()
    await expect(lunch).to_have_class(re.compile("is-unread"))
    await expect(report).to_have_class(re.compile("is-unread"))
    assert await is_bold(lunch) and await is_bold(report)
    await wait_until(lambda: not mailbox.seen_on_server()["Quarterly report"], what="\\Seen removed on the server")

    # select all, then filters: unread only, flagged, with attachments, a search
    await page.get_by_role("checkbox", name="Select all").check()
    await expect(rows(page).locator("input:checked")).to_have_count(3)
    await page.get_by_role("checkbox", name="Select all").uncheck()
    await page.get_by_role("button", name="Unread", exact=True).click()
    await expect(rows(page)).to_have_count(2)
    await page.get_by_role("button", name="All", exact=True).click()
    await page.get_by_role("checkbox", name="Flagged").check()
    await expect(rows(page)).to_have_count(1)
    await expect(rows(page).first).to_contain_text("Quarterly report")
    await page.get_by_role("checkbox", name="Flagged").uncheck()
    await page.get_by_role("checkbox", name="Has attachments").check()
    await expect(rows(page)).to_have_count(1)
    await page.get_by_role("checkbox", name="Has attachments").uncheck()
    await page.get_by_label("Search mail").fill("Italian")
    await page.get_by_label("Search mail").press("Enter")
    await expect(page.get_by_role("heading", name="Results for “Italian”")).to_be_visible()
    await expect(rows(page)).to_have_count(1)
    await page.get_by_role("button", name="Clear search").click()
    await expect(rows(page)).to_have_count(3)
    await page.get_by_role("button", name="Sent", exact=True).click()
    await expect(rows(page)).to_have_count(1)
    await expect(rows(page).first.locator(".mail-row-count")).to_have_text("(3)")
    await page.get_by_role("button", name=re.compile("^Inbox")).click()

    # new mail on the server, then Refresh (its spinner shows while the sync runs)
    async def slow_sync(route):
        await asyncio.sleep(0.6)
        await route.continue_()

    await page.route("**/api/mailAccounts:sync*", slow_sync)
    mailbox.deliver(subject="Fresh news", frm="Eve <eve@example.test>", text="Just arrived.")
    refresh = page.get_by_role("button", name=re.compile("Refresh"))
    await refresh.click()
    await expect(refresh).to_have_attribute("aria-busy", "true")
    await expect(refresh).to_have_attribute("aria-busy", "false", timeout=15_000)
    await expect(row(page, "Fresh news")).to_be_visible()
    assert await is_bold(row(page, "Fresh news"))
    assert page.errors == []


async def test_open_a_conversation_expand_collapse_and_read_state(page, mailbox):
    await seeded(mailbox, page)
    lunch = row(page, "Lunch on Thursday?")
    assert await is_bold(lunch)
    await lunch.locator("a").click()

    reader = page.get_by_role("region", name="Conversation")
    await expect(reader.get_by_role("heading", name="Re: Lunch on Thursday?")).to_be_visible()
    messages = reader.locator(".mail-message")
    await expect(messages).to_have_count(3)
    # oldest first, the newest open, the others collapsed to a line
    await expect(messages.nth(2)).to_have_class(re.compile("is-open"))
    await expect(messages.nth(0)).not_to_have_class(re.compile("is-open"))
    await expect(messages.nth(1)).to_contain_text("Sent")
    newest = messages.nth(2).frame_locator("iframe")
    await expect(newest.locator("body")).to_contain_text("The Italian place on Main street.")
    await expect(messages.nth(2)).to_contain_text("to me, Carol")
    await screenshot(page, "mail-conversation-1280")

    first = messages.nth(0)
    await first.get_by_role("button", name=re.compile("Expand message from Bob")).click()
    await expect(first).to_have_class(re.compile("is-open"))
    await expect(first.frame_locator("iframe").locator("body")).to_contain_text("Shall we have lunch on Thursday")
    await first.get_by_role("button", name=re.compile("Collapse message from Bob")).click()
    await expect(first).not_to_have_class(re.compile("is-open"))
    await expect(first.locator("iframe")).to_have_count(0)
    await messages.nth(2).get_by_role("button", name="Show details").click()
    await expect(messages.nth(2).locator(".mail-details")).to_contain_text("carol@example.test")

    # opening read the whole conversation, here and on the server
    await wait_until(lambda: all(v for k, v in mailbox.seen_on_server().items() if "Lunch" in k), what="\\Seen")
    await page.get_by_role("button", name="Back").click()
    await expect(lunch).not_to_have_class(re.compile("is-unread"))

    # "…" → Mark as unread on one message
    await lunch.locator("a").click()
    await messages.nth(2).get_by_role("button", name="More actions").click()
    await page.get_by_role("menuitem", name="Mark as unread").click()
    await expect(messages.nth(2).locator(".mail-unread-dot")).to_be_visible()
    await page.get_by_role("button", name="Back").click()
    await expect(lunch).to_have_class(re.compile("is-unread"))

    # attachments: name, size, download with the session cookie
    await row(page, "Quarterly report").locator("a").click()
    attachment = page.locator(".mail-attachment", has_text="report.pdf")
    await expect(attachment).to_contain_text("20 KB")
    async with page.expect_download() as info:
        await attachment.click()
    download = await info.value
    assert download.suggested_filename == "report.pdf"
    assert (await download.path()).read_bytes().startswith(b"%PDF-1.4 ")
    assert page.errors == []


def _header(delivery, name: str) -> str:
    return str(delivery.parsed()[name] or "")


async def test_reply_reply_all_and_forward_reach_the_smtp_server(page, mailbox):
    sink = mailbox.stack.sink
    original = make_msgid(domain="example.test")
    mailbox.deliver(
        subject="Budget 2025",
        frm="Bob Builder <bob@example.test>",
        cc="Carol <carol@example.test>",
        msgid=original,
        text="Here is the budget. Comments?",
        attachments=[("budget.csv", "text/csv", b"item,amount\nrent,1000\n")],
    )
    await mailbox.link()
    await mailbox.sign_in(page)
    await row(page, "Budget 2025").locator("a").click()
    await expect(page.locator(".mail-message.is-open")).to_be_visible()

    # Reply: to the sender, Re: subject, the original quoted, threading headers
    await page.get_by_role("button", name="Reply", exact=True).click()
    compose = page.get_by_role("dialog", name="Reply")
    await expect(compose.locator(".mail-chip")).to_have_text(["Bob Builder"])
    await expect(compose.get_by_label("Subject")).to_have_value("Re: Budget 2025")
    body = compose.get_by_role("textbox", name="Message body")
    await expect(body).to_contain_text("Here is the budget. Comments?")
    await body.press_sequentially("Looks good to me.")
    await screenshot(page, "mail-compose-reply-1280", full_page=False)
    await compose.get_by_role("button", name="Send", exact=True).click()
    await expect(compose).to_be_hidden()
    await expect(page.locator("ec-toasts")).to_contain_text("Message sent")
    (reply,) = await sink.wait_for(1)
    assert reply.rcpt_tos == ["bob@example.test"]
    assert _header(reply, "Subject") == "Re: Budget 2025"
    assert _header(reply, "In-Reply-To") == original and original in _header(reply, "References")
    text = reply.parsed().get_body(("plain",)).get_content()
    assert text.index("Looks good to me.") < text.index("Here is the budget.")

    # Reply all: the sender and the Cc (never ourselves)
    await page.get_by_role("button", name="Reply all", exact=True).click()
    compose = page.get_by_role("dialog", name="Reply all")
    await expect(compose.locator(".mail-chip")).to_have_count(2)
    await compose.get_by_role("textbox", name="Message body").press_sequentially("Adding Carol's view.")
    await compose.get_by_role("button", name="Send", exact=True).click()
    await expect(compose).to_be_hidden()
    _, reply_all = await sink.wait_for(2)
    assert sorted(reply_all.rcpt_tos) == ["bob@example.test", "carol@example.test"]
    assert "carol@example.test" in _header(reply_all, "Cc") and _header(reply_all, "In-Reply-To") == original

    # Forward: Fwd: subject, a new recipient, the original's attachment carried over
    await page.get_by_role("button", name="Forward", exact=True).click()
    compose = page.get_by_role("dialog", name="Forward")
    await expect(compose.get_by_label("Subject")).to_have_value("Fwd: Budget 2025")
    await expect(compose.locator(".mail-compose-file.is-carried")).to_contain_text("budget.csv")
    await compose.get_by_label("To", exact=True).fill("Dave <dave@example.test>")
    await compose.get_by_role("textbox", name="Message body").press_sequentially("FYI")
    await compose.get_by_role("button", name="Send", exact=True).click()
    await expect(compose).to_be_hidden()
    *_, forward = await sink.wait_for(3)
    assert forward.rcpt_tos == ["dave@example.test"] and _header(forward, "Subject") == "Fwd: Budget 2025"
    names = [p.get_filename() for p in forward.parsed().iter_attachments()]
    assert "budget.csv" in names

    # the conversation now holds the replies (Sent), and the reader shows them
    await page.get_by_role("button", name="Back").click()
    await expect(row(page, "Budget 2025").locator(".mail-row-count")).to_have_text("(4)", timeout=15_000)
    assert page.errors == []


async def test_write_a_new_message_with_an_attachment_and_the_limits(page, mailbox, tmp_path):
    sink = mailbox.stack.sink
    await seeded(mailbox, page)
    compose = await write_email(page)
    to = compose.get_by_label("To", exact=True)
    await to.fill("not-an-address")
    await to.press("Enter")
    await expect(compose.locator(".mail-chip.is-invalid")).to_have_text("not-an-address")
    await compose.get_by_role("button", name="Send", exact=True).click()
    await expect(compose.get_by_role("alert")).to_contain_text("not a valid email address")
    await compose.get_by_role("button", name="Remove not-an-address").click()
    await to.fill("Dave Doe <dave@example.test>, erin@example.test")
    await to.press("Tab")
    await expect(compose.locator(".mail-chip:not(.is-invalid)")).to_have_count(2)
    await compose.get_by_label("Subject").fill("Slides for Monday")
    body = compose.get_by_role("textbox", name="Message body")
    await body.click()
    await compose.get_by_role("button", name="Bold").click()
    await body.press_sequentially("Important:")
    await compose.get_by_role("button", name="Bold").click()
    await body.press_sequentially(" the slides are attached.")
    await compose.locator("input[type=file]").set_input_files(
        {"name": "slides.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7 " + b"s" * 150_000}
    )
    await expect(compose.locator(".mail-compose-file")).to_contain_text("slides.pdf")
    await expect(compose.locator(".mail-compose-file")).to_contain_text("146 KB")

    # a file over the client-side limit is refused at once, with the limit (picked from disk: a
    # local browser opens the path itself, where 26 MiB sent as a buffer took over 10 s under load)
    huge = tmp_path / "huge.iso"
    with huge.open("wb") as f:
        f.truncate(26 * MIB)
    await compose.locator("input[type=file]").set_input_files(huge)
    await expect(compose.get_by_role("alert")).to_contain_text("limited to 25 MB per message")
    await expect(compose.locator(".mail-compose-file")).to_have_count(1)
    await screenshot(page, "mail-compose-1280", full_page=False)

    # the SMTP server refuses: the error shows, the draft is kept, and Send again sends it
    sink.fail_next_data = "554 5.6.0 Message rejected by policy"
    await compose.get_by_role("button", name="Send", exact=True).click()
    await expect(compose.get_by_role("alert")).to_contain_text("rejected")
    await expect(compose.get_by_role("alert")).to_contain_text("kept as a draft")
    await compose.get_by_role("button", name="Send", exact=True).click()
    await expect(compose).to_be_hidden()
    (sent,) = await sink.wait_for(1)
    assert sorted(sent.rcpt_tos) == ["dave@example.test", "erin@example.test"]
    msg = sent.parsed()
    assert str(msg["Subject"]) == "Slides for Monday"
    html = msg.get_body(("html",)).get_content()
    assert re.search(r"<(b|strong)>Important:</(b|strong)>", html)
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == "slides.pdf" and len(attachment.get_content()) == 150_009
    status, drafts = await mailbox.api("mailMessages:list", query={"filter": {"type": "drafts"}}, method="GET")
    assert status == 200 and drafts["data"] == []  # the kept draft went out and is gone

    # over the server's own limit (set low here): its 413 message is shown, nothing is sent
    compose = await write_email(page)
    await compose.get_by_label("To", exact=True).fill("dave@example.test")
    await compose.get_by_label("Subject").fill("Big one")
    await compose.locator("input[type=file]").set_input_files(
        {"name": "video.mp4", "mimeType": "video/mp4", "buffer": b"\1" * ((SERVER_LIMIT_MIB + 1) * MIB)}
    )
    await compose.get_by_role("button", name="Send", exact=True).click()
    await expect(compose.get_by_role("alert")).to_contain_text(f"the limit is {SERVER_LIMIT_MIB} MiB per message")
    assert len(sink.messages) == 1
    await compose.get_by_role("button", name="Discard").click()
    await page.get_by_role("dialog", name="Discard this message?").get_by_role("button", name="Discard").click()
    await expect(compose).to_be_hidden()
    assert page.errors == []


async def test_a_saved_draft_is_edited_and_sent_later(page, mailbox):
    sink = mailbox.stack.sink
    await seeded(mailbox, page)
    compose = await write_email(page)
    await compose.get_by_label("To", exact=True).fill("frank@example.test")
    await compose.get_by_label("Subject").fill("Offsite agenda")
    await compose.get_by_role("textbox", name="Message body").press_sequentially("First draft of the agenda.")
    await compose.get_by_role("button", name="Save draft").click()
    await expect(compose.get_by_role("status")).to_contain_text("Draft saved")
    await compose.get_by_role("button", name="Close").click()
    await expect(compose).to_be_hidden()
    drafts = page.get_by_role("button", name=re.compile("^Drafts"))
    await expect(drafts).to_contain_text("1")
    await drafts.click()
    await row(page, "Offsite agenda").locator("a").click()
    await page.get_by_role("button", name="Continue editing").click()
    compose = page.get_by_role("dialog", name="Draft")
    await expect(compose.locator(".mail-chip")).to_have_text(["frank@example.test"])
    body = compose.get_by_role("textbox", name="Message body")
    await expect(body).to_contain_text("First draft of the agenda.")
    await body.press("End")
    await body.press_sequentially(" Final.")
    await compose.get_by_role("button", name="Send", exact=True).click()
    await expect(compose).to_be_hidden()
    (sent,) = await sink.wait_for(1)
    assert sent.rcpt_tos == ["frank@example.test"]
    assert "First draft of the agenda. Final." in sent.parsed().get_body(("plain",)).get_content()
    await page.get_by_role("button", name="Back").click()
    await expect(row(page, "Offsite agenda")).to_have_count(0, timeout=10_000)
    await expect(drafts).not_to_contain_text("1")
    assert page.errors == []


async def test_pages_and_dates(page, mailbox):
    now = dt.datetime.now(dt.timezone.utc)
    for i in range(23):
        mailbox.deliver(
            subject=f"Ticket #{i:02d}",
            frm="Helpdesk <help@example.test>",
            text=f"Ticket {i}",
            date=now - dt.timedelta(days=40 * i),
            seen=True,
        )
    await mailbox.link()
    await mailbox.sign_in(page)
    await expect(page.get_by_test_id("range")).to_have_text("1–20 of 23")
    await expect(rows(page)).to_have_count(20)
    first = await rows(page).locator(".mail-row-subject").all_inner_texts()
    assert first[:2] == ["Ticket #00", "Ticket #01"]  # newest first
    # today: a time; this year: "Mar 3"; before: with the year
    dates = await rows(page).locator(".mail-row-date").all_inner_texts()
    assert re.fullmatch(r"\d{1,2}:\d{2}\s[AP]M", dates[0])
    assert re.search(r"\d{4}$", dates[-1])
    await page.get_by_role("button", name="Next page").click()
    await expect(page.get_by_test_id("range")).to_have_text("21–23 of 23")
    await expect(rows(page)).to_have_count(3)
    assert "page=2" in page.url
    await page.go_back()
    await expect(rows(page)).to_have_count(20)
    # a date range: Tickets 2 and 3 only (80 and 120 days ago)
    since = (now - dt.timedelta(days=125)).date().isoformat()
    until = (now - dt.timedelta(days=75)).date().isoformat()
    await page.get_by_label("Date from").fill(since)
    await page.get_by_label("Date to").fill(until)
    await expect(rows(page)).to_have_count(2)
    assert await rows(page).locator(".mail-row-subject").all_inner_texts() == ["Ticket #02", "Ticket #03"]
    assert page.errors == []


async def test_keyboard_shortcuts(page, mailbox):
    await seeded(mailbox, page)
    await page.locator("body").click(position={"x": 5, "y": 300})
    await page.keyboard.press("j")
    await expect(rows(page).nth(1)).to_have_class(re.compile("is-cursor"))
    await page.keyboard.press("k")
    await expect(rows(page).nth(0)).to_have_class(re.compile("is-cursor"))
    await page.keyboard.press("x")
    await expect(rows(page).nth(0).get_by_role("checkbox")).to_be_checked()
    await page.keyboard.press("x")
    await page.keyboard.press("Enter")
    await expect(page.locator(".mail-message.is-open")).to_be_visible()
    await expect(page).to_have_url(re.compile(r"/admin/mail/thread/\d+"))
    await page.keyboard.press("r")
    await expect(page.get_by_role("dialog", name="Reply")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog", name="Reply")).to_be_hidden()
    await page.keyboard.press("u")
    await expect(rows(page)).to_have_count(3)
    await page.keyboard.press("/")
    search = page.get_by_label("Search mail")
    await expect(search).to_be_focused()
    # mail arriving while a search is typed shows up by itself and redraws the side panel (the
    # Inbox count goes up): the words being typed and the focus stay
    await page.keyboard.type("Lunch")
    inbox = page.locator('[data-folder="inbox"] .mail-nav-count')
    before = await inbox.inner_text()
    mailbox.deliver(subject="While you type", text="Arrived mid-search.")
    await mailbox.sync()
    await expect(inbox).not_to_have_text(before, timeout=15_000)
    await expect(row(page, "While you type")).to_be_visible()  # listed without a Refresh
    await expect(search).to_be_focused()
    await expect(search).to_have_value("Lunch")
    await page.keyboard.press("Escape")
    await search.fill("")
    await page.locator("body").click(position={"x": 5, "y": 300})
    await page.keyboard.press("c")
    await expect(page.get_by_role("dialog", name="New message")).to_be_visible()
    await page.keyboard.press("Escape")
    # '#' deletes the conversation under the cursor (moved to Trash)
    digest = row(page, "Weekly digest")
    await digest.get_by_role("checkbox").check()
    await page.locator("body").click(position={"x": 5, "y": 300})
    await page.keyboard.press("#")
    await expect(digest).to_have_count(0)
    await page.get_by_role("button", name="Trash", exact=True).click()
    # the server moved it to its Trash folder; that folder's copy comes in with a sync
    await page.get_by_role("button", name=re.compile("Refresh")).click()
    await expect(row(page, "Weekly digest")).to_be_visible(timeout=15_000)
    assert page.errors == []


async def test_phone_layout(phone_page, mailbox):
    page = phone_page
    await seeded(mailbox, page)
    await screenshot(page, "mail-list-390", full_page=False)
    # filters live in a drawer
    side = page.get_by_role("complementary", name="Mail filters")
    await expect(side).not_to_be_in_viewport()
    await page.get_by_role("button", name="Filters").click()
    await expect(side).to_be_in_viewport()
    await screenshot(page, "mail-filters-390", full_page=False)
    await side.get_by_role("button", name="Unread", exact=True).click()
    await expect(side).not_to_be_in_viewport()
    await expect(rows(page)).to_have_count(2)
    await page.get_by_role("button", name="Filters").click()
    await side.get_by_role("button", name="All", exact=True).click()
    await expect(rows(page)).to_have_count(3)
    # the reader takes the whole width
    await row(page, "Lunch on Thursday?").locator("a").click()
    reader = page.get_by_role("region", name="Conversation")
    await expect(reader.locator(".mail-message.is-open iframe")).to_be_visible()
    box = await reader.bounding_box()
    assert box["width"] >= 360
    await screenshot(page, "mail-conversation-390")
    await page.get_by_role("button", name="Reply", exact=True).click()
    compose = page.get_by_role("dialog", name="Reply")
    await expect(compose.get_by_label("Subject")).to_have_value("Re: Lunch on Thursday?")
    size = await compose.bounding_box()
    assert size["width"] >= 389
    await screenshot(page, "mail-compose-390", full_page=False)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    assert page.errors == []


async def test_delete_the_account_and_its_mail_is_gone(page, mailbox):
    await seeded(mailbox, page)
    await page.get_by_role("button", name="Account settings").click()
    settings = page.get_by_role("dialog", name="Account settings")
    await settings.get_by_role("button", name=f"Delete {mailbox.address}").click()
    confirm = page.get_by_role("dialog", name="Delete this account?")
    await expect(confirm).to_contain_text("The mail stays on the mail server")
    await confirm.get_by_role("button", name="Delete").click()
    await expect(settings.get_by_text("No account linked yet")).to_be_visible()
    await settings.get_by_role("button", name="Close").click()
    await expect(page.get_by_role("heading", name="Welcome to your email center")).to_be_visible()
    await expect(rows(page)).to_have_count(0)
    assert await mailbox.threads() == []
    status, body = await mailbox.api("mailMessages:list", method="GET")
    assert status == 200 and body["data"] == []
    # not from the mail server
    assert "Quarterly report" in mailbox.seen_on_server()
    assert page.errors == []


async def test_an_imap_account_whose_password_changed_is_repaired_in_the_dialog(page, mailbox):
    mailbox.deliver(subject="Before the change", text="Hello.")
    await mailbox.link()
    await mailbox.sign_in(page)
    await expect(row(page, "Before the change")).to_be_visible()
    # the password changes at the mail server (and so at its SMTP server)
    mailbox.stack.dovecot.add_user(mailbox.address, "brand-new-pw")
    mailbox.stack.sink.users[mailbox.address] = "brand-new-pw"
    await asyncio.sleep(1.2)  # Dovecot rereads its password file
    status, _ = await mailbox.api("mailAccounts:sync", {"filterByTk": mailbox.account_id, "wait": True})
    assert status == 400
    await page.get_by_role("button", name="Account settings").click()
    settings = page.get_by_role("dialog", name="Account settings")
    account = settings.locator(".mail-account", has_text=mailbox.address)
    await expect(account.locator("[data-status]")).to_have_attribute("data-status", "error")
    password = account.get_by_label(f"New password for {mailbox.address}")
    await password.fill("still-wrong")
    await account.get_by_role("button", name="Save and sync").click()
    await expect(settings.get_by_role("alert").first).to_contain_text("refused")
    await password.fill("brand-new-pw")
    await account.get_by_role("button", name="Save and sync").click()
    await expect(account.locator("[data-status]")).to_have_attribute("data-status", "ready", timeout=20_000)
    mailbox.deliver(subject="After the change", text="Hello again.")
    await mailbox.sync()
    await settings.get_by_role("button", name="Close").click()
    await page.get_by_role("button", name=re.compile("Refresh")).click()
    await expect(row(page, "After the change")).to_be_visible()
    assert page.errors == []


async def test_a_message_being_written_saves_itself_as_a_draft(page, mailbox):
    await seeded(mailbox, page)
    compose = await write_email(page)
    await compose.get_by_label("To", exact=True).fill("gail@example.test")
    await compose.get_by_label("Subject").fill("Thoughts so far")
    await compose.get_by_role("textbox", name="Message body").press_sequentially("Half a thought.")
    await expect(compose.get_by_role("status")).to_contain_text("saved automatically", timeout=15_000)
    status, body = await mailbox.api("mailMessages:list", {"filter": {"type": "drafts"}})
    assert [d["subject"] for d in body["data"]] == ["Thoughts so far"]
    await compose.get_by_role("button", name="Send", exact=True).click()
    await expect(compose).to_be_hidden()
    (sent,) = await mailbox.stack.sink.wait_for(1)
    assert sent.rcpt_tos == ["gail@example.test"]
    status, body = await mailbox.api("mailMessages:list", {"filter": {"type": "drafts"}})
    assert body["data"] == []  # the draft was what got sent
    assert page.errors == []


async def test_compose_puts_in_the_default_signature_and_a_template(page, mailbox):
    await seeded(mailbox, page)
    status, body = await mailbox.api(
        "mailSignatures:create",
        {
            "name": "Work",
            "isDefault": True,
            "html": '<p>Alice Example<br>Example Corp</p><img src=x onerror="window.__pwned=1">'
            "<script>window.__pwned=1</script>",
        },
    )
    assert status == 200 and "onerror" not in body["data"]["html"] and "script" not in body["data"]["html"]
    status, _ = await mailbox.api(
        "mailTemplates:create", {"name": "Thanks", "subject": "Thank you", "html": "<p>Thanks a lot for your help!</p>"}
    )
    assert status == 200
    compose = await write_email(page)
    body_box = compose.get_by_role("textbox", name="Message body")
    await expect(body_box.locator(".mail-signature")).to_contain_text("Example Corp")
    await compose.get_by_label("Insert a template").select_option(label="Thanks")
    await expect(compose.get_by_label("Subject")).to_have_value("Thank you")
    await expect(body_box).to_contain_text("Thanks a lot for your help!")
    await compose.get_by_label("To", exact=True).fill("hank@example.test")
    await compose.get_by_role("button", name="Send", exact=True).click()
    await expect(compose).to_be_hidden()
    (sent,) = await mailbox.stack.sink.wait_for(1)
    text = sent.parsed().get_body(("plain",)).get_content()
    assert "Thanks a lot for your help!" in text and "Example Corp" in text
    assert await page.evaluate("window.__pwned") is None
    assert page.errors == []


async def test_flag_and_to_do_from_the_message_menu(page, mailbox):
    await seeded(mailbox, page)
    await row(page, "Weekly digest").locator("a").click()
    await page.get_by_role("button", name="More actions").first.click()
    await page.get_by_role("menuitem", name="Add to to-do").click()
    await expect(page.locator(".mail-todo-tag")).to_have_text("To-do")
    await page.get_by_role("button", name="More actions").first.click()
    await page.get_by_role("menuitem", name="Flag").click()
    await expect(page.locator(".mail-flag-mark")).to_have_count(1)
    assert await wait_until(lambda: mailbox.flagged_on_server("Weekly digest"), what="\\Flagged on the server")
    await page.get_by_role("button", name="Back").click()
    await page.get_by_role("checkbox", name="To-do").check()
    await expect(rows(page)).to_have_count(1)
    await expect(row(page, "Weekly digest")).to_be_visible()
    assert page.errors == []
