"""Browser fixtures: one Chromium per session (Playwright's async API on the session loop), a
fresh context per test, and the real server with the demo plugin and rows to page through.

pytest-playwright's own fixtures are sync and clash with pytest-asyncio, hence ``-p no:playwright``
(pyproject.toml) and these.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from tests.servers.app import DEMO_PLUGIN, running_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"  # git-ignored
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
DEMO_ROWS = 45


@pytest.fixture(scope="session")
async def browser():
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        await browser.close()


async def _context(browser, viewport, **extra):
    context = await browser.new_context(viewport=viewport, locale="en-US", timezone_id="UTC", **extra)
    context.set_default_timeout(10_000)
    return context


@pytest.fixture
async def page(browser):
    """A desktop page (1280x800) in a context of its own: no token or cookie from other tests."""
    context = await _context(browser, DESKTOP)
    page = await context.new_page()
    page.errors = []  # uncaught errors of the page's scripts; tests assert there are none
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    yield page
    await context.close()


@pytest.fixture
async def phone_page(browser):
    """A phone-sized page (390x844, touch, mobile viewport meta honoured)."""
    context = await _context(browser, PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = await context.new_page()
    page.errors = []
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    yield page
    await context.close()


@pytest.fixture(scope="module")
async def server(pg_cluster):
    """The real app with the demo plugin, and DEMO_ROWS demo items owned by root (every third done).

    Only the demo plugin (no entry points): the shell's tests hold whatever the email plugin does.
    """
    async with running_server(pg_cluster.create_database(), plugins=(DEMO_PLUGIN,), entry_points=False) as client:
        for i in range(1, DEMO_ROWS + 1):
            status, body = await client.api(
                client.root_token,
                "demoItems:create",
                {
                    "title": f"Item {i:02d}",
                    "rank": (i * 7) % 50,
                    "done": i % 3 == 0,
                    "dueAt": f"2024-03-{(i % 28) + 1:02d}T09:30:00Z",
                    "tags": ["demo", f"group-{i % 4}"],
                },
            )
            assert status == 200, body
        yield client


async def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG (the whole page, or only the viewport) under tests/ui/screenshots/; answer its path."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^a-zA-Z0-9_-]+', '-', name)}.png"
    await page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path


async def sign_in(page, base_url: str, email: str, password: str, next_path: str = "") -> None:
    """Sign in through the form, as a person would."""
    await page.goto(f"{base_url}/signin" + (f"?next={next_path}" if next_path else ""))
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
