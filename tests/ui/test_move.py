"""Move to… and Re-sync in the browser (1280x800): conversations moved from the list's selection
toolbar and from the reader to one of the account's folders (on the mail server too), and an
account synced again from scratch from Account settings after a confirmation."""

from __future__ import annotations

from playwright.async_api import expect

from tests.ui.mail_fixtures import dovecot, mail_stack, mailbox, oauth_provider, smtp_sink  # noqa: F401 - fixtures


def row(page, subject: str):
    return page.locator(".mail-row[data-thread-id]").filter(has=page.locator(".mail-row-subject", has_text=subject))


def on_server(mailbox, folder: str) -> set[str]:
    return set(mailbox.seen_on_server(folder))


async def test_move_from_the_list_and_the_reader_then_resync(page, mailbox):
    mailbox.deliver(subject="File me away")
    mailbox.deliver(subject="Spam offer", frm="Deals <deals@spam.test>")
    mailbox.deliver(subject="Keep in inbox")
    await mailbox.link()
    await mailbox.sign_in(page)
    await expect(row(page, "Keep in inbox")).to_be_visible()

    # the list's selection toolbar: Move to… Archive
    await row(page, "File me away").get_by_role("checkbox").check()
    await page.get_by_role("toolbar", name="Conversation actions").get_by_role("button", name="Move to…").click()
    dialog = page.get_by_role("dialog", name="Move to…")
    await expect(dialog.get_by_role("button", name="Inbox")).to_be_disabled()  # already there
    await dialog.get_by_role("button", name="Archive").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("ec-toasts")).to_contain_text("1 conversation moved to Archive")
    await expect(row(page, "File me away")).to_have_count(0)
    assert "File me away" in on_server(mailbox, "Archive") and "File me away" not in on_server(mailbox, "INBOX")

    # the reader's Move to…: Junk
    await row(page, "Spam offer").locator("a").click()
    await page.get_by_role("button", name="Move to…").first.click()
    dialog = page.get_by_role("dialog", name="Move to…")
    await dialog.get_by_role("button", name="Junk").click()
    await expect(page.locator("ec-toasts")).to_contain_text("Conversation moved to Junk")
    await expect(row(page, "Spam offer")).to_have_count(0)
    await expect(row(page, "Keep in inbox")).to_be_visible()
    assert "Spam offer" in on_server(mailbox, "Junk")

    # Re-sync from Account settings, after a confirmation: the same mail, each once
    await page.get_by_role("button", name="Account settings").click()
    settings = page.get_by_role("dialog", name="Account settings")
    await settings.get_by_role("button", name=f"Re-sync {mailbox.address}").click()
    confirm = page.get_by_role("dialog", name="Re-sync this account?")
    await expect(confirm).to_contain_text("Labels, to-dos and notes stay")
    await confirm.get_by_role("button", name="Re-sync").click()
    await expect(page.locator("ec-toasts")).to_contain_text(f"{mailbox.address} was synced again", timeout=30_000)
    await settings.get_by_role("button", name="Close").click()
    await expect(row(page, "Keep in inbox")).to_have_count(1)
    status, body = await mailbox.api("mailMessages:list", query={"paginate": "false"}, method="GET")
    assert status == 200
    assert sorted((m["subject"], m["type"]) for m in body["data"]) == [
        ("File me away", "archive"),
        ("Keep in inbox", "inbox"),
        ("Spam offer", "junk"),
    ]
    assert page.errors == []
