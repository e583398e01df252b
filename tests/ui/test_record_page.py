"""A record's page on the host alone (the demo plugin, and a plugin that only extends the generic
page, host.api.UIExtension): a row opens its record, Details shows its fields as the table does
(an extension's cell renderer in both), Back returns to the list as it was, a missing record says
so. With no plugin's row actions, the table has no checkboxes. At 1280x800 and 390 px."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.servers.app import DEMO_PLUGIN, ROOT_EMAIL, ROOT_PASSWORD, running_server
from tests.ui.conftest import DEMO_ROWS, screenshot, sign_in

EXTENDS = Path(__file__).parents[1] / "host" / "plugins" / "extends" / "plugin.toml"


@pytest.fixture(scope="module")
async def server(pg_cluster):
    async with running_server(
        pg_cluster.create_database(), plugins=(DEMO_PLUGIN, EXTENDS), entry_points=False
    ) as client:
        for i in range(1, DEMO_ROWS + 1):
            status, body = await client.api(
                client.root_token, "demoItems:create", {"title": f"Item {i:02d}", "rank": i, "done": i % 3 == 0}
            )
            assert status == 200, body
        yield client


async def test_a_row_opens_its_record_and_back_returns_to_the_list(page, server):
    await sign_in(page, server.base_url, ROOT_EMAIL, ROOT_PASSWORD, next_path="/admin/collections/demoItems")
    await page.get_by_role("button", name="Next page").click()
    await expect(page.get_by_test_id("range")).to_have_text(f"21–40 of {DEMO_ROWS}")
    table = page.locator("ec-data-table")
    # the extension renders the title field (interface "input") of demo items
    await expect(table.locator('td[data-column="title"] .extends-title').first).to_have_text("ITEM 21")
    await expect(table.get_by_role("checkbox")).to_have_count(0)  # no row actions, nothing to select
    await expect(page.get_by_role("toolbar", name="Selected rows")).to_be_hidden()

    await table.locator('td[data-column="rank"]', has_text=re.compile(r"^23$")).click()
    await expect(page).to_have_url(re.compile(r"/admin/collections/demoItems/23$"))
    await expect(page.get_by_role("heading", name="Item 23")).to_be_visible()
    await expect(page.get_by_role("tab")).to_have_count(1)
    await expect(page.get_by_role("tab", name="Details")).to_have_attribute("aria-selected", "true")
    panel = page.get_by_role("tabpanel")
    await expect(panel.locator('dd[data-field="title"] .extends-title')).to_have_text("ITEM 23")
    await expect(panel.locator('dd[data-field="done"] [aria-label="false"]')).to_be_visible()
    await expect(
        page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Demo items")
    ).to_have_attribute("aria-current", "page")
    await screenshot(page, "record-page-1280")

    # Back: the list's second page, as it was
    await page.locator(".ec-record-back").click()
    await expect(page.get_by_test_id("range")).to_have_text(f"21–40 of {DEMO_ROWS}")
    assert "page=2" in page.url

    # the first cell is a real link (a new tab, the keyboard); a record that is not there says so
    await expect(table.locator('tr[data-id="21"] a.ec-row-open')).to_have_attribute(
        "href", "/admin/collections/demoItems/21"
    )
    await page.goto(f"{server.base_url}/admin/collections/demoItems/9999")
    await expect(page.get_by_text("No such record")).to_be_visible()
    assert page.errors == []


async def test_a_record_on_a_phone(phone_page, server):
    page = phone_page
    await sign_in(page, server.base_url, ROOT_EMAIL, ROOT_PASSWORD, next_path="/admin/collections/demoItems/3")
    await expect(page.get_by_role("heading", name="Item 03")).to_be_visible()
    await expect(page.get_by_role("tabpanel").locator('dd[data-field="rank"]')).to_have_text("3")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await screenshot(page, "record-page-390")
    assert page.errors == []
