"""Every page works under its Content-Security-Policy: the pages and the files carry the security
headers, and a person's walk through the whole admin (sign-in, the shell, every side-menu entry,
the generic collection pages, the email center with an HTML message and its remote image shown
on request, compose, reply, account settings, the OAuth page that follows the first sync) makes
Chromium refuse nothing.

How a refusal is seen: an init script in every frame of the context listens for
``securitypolicyviolation`` and reports it at once through an exposed binding (so the OAuth
pop-up, which closes itself, still reports), and every console line "Refused to ..." is kept too.
The walk ends by checking that the listener is live: a script the test itself puts inline must be
refused and reported.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from email.message import EmailMessage
from email.utils import make_msgid

import aiohttp
from playwright.async_api import expect

from tests.ui.conftest import screenshot
from tests.ui.mail_fixtures import dovecot, mail_stack, mailbox, oauth_provider, smtp_sink  # noqa: F401 - fixtures
from tests.ui.test_hostile_html import PNG, remote  # noqa: F401 - fixture

LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  const report = {directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample,
                  source: e.sourceFile, line: e.lineNumber, page: location.href};
  window.__cspViolation?.(report);
}, true);
"""


class Violations:
    """Every CSP refusal in the context: the listener's reports and the console's lines."""

    def __init__(self):
        self.reports: list[dict] = []
        self.console: list[str] = []

    async def watch(self, context) -> None:
        await context.expose_binding("__cspViolation", lambda source, report: self.reports.append(report))
        await context.add_init_script(LISTENER)
        # the context's console has every page's lines, the OAuth pop-up's and the frames' too
        context.on(
            "console",
            lambda m: (
                self.console.append(m.text)
                if "Content Security Policy" in m.text or m.text.startswith("Refused to")
                else None
            ),
        )

    def all(self) -> list:
        return [*self.reports, *self.console]


async def loaded_width(img) -> int:
    """The natural width of an image once it has loaded (0 if it never does within 5 s)."""
    for _ in range(50):
        width = await img.evaluate("img => img.complete ? img.naturalWidth : 0")
        if width:
            return width
        await asyncio.sleep(0.1)
    return 0


def page_policy(value: str) -> dict[str, str]:
    return {d.split()[0]: d.partition(" ")[2] for d in (p.strip() for p in value.split(";")) if d}


async def test_pages_and_files_carry_the_security_headers(mailbox):
    base = mailbox.stack.base_url
    async with aiohttp.ClientSession() as http:
        for path in (
            "/signin",
            "/admin",
            "/admin/mail",
            "/admin/collections/users",
            "/api/mailAccounts:oauthCallback?state=forged&code=x",
        ):
            async with http.get(base + path, allow_redirects=False) as answer:
                assert answer.content_type == "text/html", path
                policy = page_policy(answer.headers["Content-Security-Policy"])
                assert policy["script-src"] == "'self'", (path, policy)
                assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
                assert policy["base-uri"] in ("'none'", "'self'") and policy["form-action"] == "'self'"
                assert "unsafe-inline" not in policy.get("style-src", "") and "unsafe-eval" not in str(policy)
                assert answer.headers["X-Content-Type-Options"] == "nosniff"
                assert answer.headers["Referrer-Policy"] in ("same-origin", "no-referrer")
        for path in (
            "/static/js/shell.js",
            "/static/css/app.css",
            "/static/plugins/email_manager/mail.js",
            "/api/health",
            "/api/mailAccounts:list",
        ):
            async with http.get(base + path) as answer:
                assert answer.headers["X-Content-Type-Options"] == "nosniff", path


def newsletter(mailbox, remote_base: str) -> None:
    """An HTML message styled as newsletters are (style attributes), with an inline cid: logo
    and a remote picture."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Dana <dana@corp.example>", mailbox.address, "Spring newsletter"
    msg["Message-ID"] = make_msgid(domain="corp.example")
    msg["Date"] = dt.datetime.now(dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")
    msg.set_content("Spring newsletter (see the HTML part).")
    msg.add_alternative(
        '<table style="width:100%;background:#f0f5ff"><tr><td style="padding:16px;color:#1d39c4">'
        '<h1 style="font-size:22px">Spring is here</h1><p>Our <b>new logo</b>:</p>'
        '<img src="cid:logo@corp.example" alt="logo" width="2" height="2">'
        "<blockquote>Quoted words</blockquote><pre>code</pre>"
        f'<p><img src="{remote_base}/spring.png" alt="A spring photo"></p>'
        '<p><a href="https://corp.example/more">Read more</a></p></td></tr></table>',
        subtype="html",
    )
    msg.get_payload()[1].add_related(PNG, "image", "png", cid="<logo@corp.example>", filename="logo.png")
    mailbox.deliver_raw(msg.as_bytes())


async def test_a_walk_through_every_page_refuses_nothing(page, mailbox, remote):
    violations = Violations()
    await violations.watch(page.context)
    stack = mailbox.stack
    await stack.point_google()
    stack.oauth.consent_user = mailbox.address
    newsletter(mailbox, remote.base)
    mailbox.deliver(subject="Lunch on Thursday?", text="Shall we have lunch on Thursday at noon?")

    # sign-in, then the shell
    await page.goto(f"{stack.base_url}/signin")
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await screenshot(page, "csp-signin-1280", full_page=False)
    await mailbox.sign_in(page, next_path="/admin")
    await expect(page).to_have_url(f"{stack.base_url}/admin")
    menu = page.get_by_role("navigation", name="Main menu")
    await expect(menu.get_by_role("link").first).to_be_visible()

    # every side-menu entry (the email center, the generic collection pages, the rest)
    links = menu.get_by_role("link")
    hrefs = [await links.nth(i).get_attribute("href") for i in range(await links.count())]
    assert "/admin/mail" in hrefs and any(h.startswith("/admin/collections/") for h in hrefs), hrefs
    for i, href in enumerate(hrefs):
        await links.nth(i).click()
        await expect(page).to_have_url(re.compile(re.escape(stack.base_url + href) + r"([?#/].*)?$"))
        await page.wait_for_load_state("networkidle")
        await expect(page.locator(".ec-state[role=status]")).to_have_count(0)
    await screenshot(page, "csp-last-menu-entry-1280", full_page=False)

    # the OAuth page when the link fails (the pop-up below shows it when the link succeeds)
    await page.goto(f"{stack.base_url}/api/mailAccounts:oauthCallback?state=forged&code=x")
    await expect(page.get_by_role("heading", name="Linking failed")).to_be_visible()
    assert await page.locator("main").evaluate("m => getComputedStyle(m).borderRadius") == "8px"
    await screenshot(page, "csp-oauth-failed-1280", full_page=False)

    # the email center: link Google in the pop-up; its page follows the first sync, closes itself
    await page.goto(f"{stack.base_url}/admin/mail")
    await page.get_by_role("button", name="Link account").click()
    dialog = page.get_by_role("dialog", name="Link account")
    async with page.expect_popup() as info:
        await dialog.get_by_role("button", name="Google Gmail and Google Workspace").click()
    popup = await info.value
    await popup.wait_for_event("close", timeout=30_000)
    await expect(page.locator("ec-toasts")).to_contain_text("Account linked")
    settings = page.get_by_role("dialog", name="Account settings")
    await expect(settings.locator(".mail-account [data-status]")).to_have_attribute(
        "data-status", "ready", timeout=20_000
    )
    await screenshot(page, "csp-account-settings-1280", full_page=False)
    await settings.get_by_role("button", name="Close").click()
    await mailbox.wait_ready()

    # the newsletter: styled, its cid: logo shown, its remote picture only on request
    await page.locator(".mail-row", has_text="Spring newsletter").locator("a").click()
    message = page.locator(".mail-message.is-open")
    body = message.frame_locator("iframe")
    await expect(body.get_by_role("heading", name="Spring is here")).to_be_visible()
    logo = body.get_by_role("img", name="logo")
    assert await loaded_width(logo) == 2
    link_colour = await body.get_by_role("link", name="Read more").evaluate("a => getComputedStyle(a).color")
    assert link_colour == "rgb(22, 119, 255)"  # the frame's own look (style attributes) applies
    assert await body.locator("td").first.evaluate("td => getComputedStyle(td).color") == "rgb(29, 57, 196)"
    frame_height = await message.locator("iframe").evaluate("f => f.getBoundingClientRect().height")
    assert frame_height > 150  # measured from the copy, whose constructed stylesheet applies
    assert remote.hits == []
    await message.get_by_role("button", name="Show images").click()
    await expect(message.get_by_text("Remote images are shown")).to_be_visible()
    photo = message.frame_locator("iframe").get_by_role("img", name="A spring photo")
    assert await loaded_width(photo) == 2
    assert "/spring.png" in [path for path, _ in remote.hits]
    await screenshot(page, "csp-message-images-shown-1280", full_page=False)

    # reply (the editor holds the quoted HTML, style attributes and all), then a new message
    await page.get_by_role("button", name="Reply", exact=True).click()
    compose = page.get_by_role("dialog", name="Reply")
    editor = compose.get_by_role("textbox", name="Message body")
    await expect(editor).to_contain_text("Spring is here")
    await editor.press_sequentially("Lovely.")
    await screenshot(page, "csp-reply-1280", full_page=False)
    await compose.get_by_role("button", name="Send", exact=True).click()
    await expect(compose).to_be_hidden()
    await expect(page.locator("ec-toasts")).to_contain_text("Message sent")
    await page.goto(f"{stack.base_url}/admin/mail")
    await page.get_by_role("button", name="Write email").click()
    compose = page.get_by_role("dialog", name="New message")
    await compose.get_by_role("textbox", name="Message body").press_sequentially("Hello")
    await screenshot(page, "csp-compose-1280", full_page=False)
    await compose.press("Escape")
    await page.wait_for_timeout(300)

    assert violations.all() == [], violations.all()
    assert page.errors == []

    # the listener is live: a script put inline by the test itself is refused and reported
    await page.evaluate(
        "document.body.append(Object.assign(document.createElement('script'), {textContent: 'window.__ran = 1'}))"
    )
    for _ in range(50):
        if violations.reports:
            break
        await asyncio.sleep(0.05)
    assert [r["directive"] for r in violations.reports] == ["script-src-elem"], violations.all()
    assert await page.evaluate("window.__ran") is None
