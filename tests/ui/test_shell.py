"""The admin shell in a real browser against the real server (demo plugin, 45 demo items)."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.servers.app import ROOT_EMAIL, ROOT_PASSWORD
from tests.ui.conftest import DEMO_ROWS, screenshot, sign_in


def rows(page):
    return page.locator("ec-data-table tbody tr[data-id]")


async def column(page, name: str) -> list[str]:
    return await page.locator(f'ec-data-table tbody td[data-column="{name}"]').all_inner_texts()


async def test_wrong_password_shows_the_error(page, server):
    await sign_in(page, server.base_url, ROOT_EMAIL, "not-the-password")
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("Wrong email or password")
    assert page.url.startswith(f"{server.base_url}/signin")
    await expect(page.get_by_role("button", name="Sign in")).to_be_enabled()
    await screenshot(page, "signin-error-1280")
    assert page.errors == []


async def test_sign_in_page_through_sort_and_filter(page, server):
    # a page of the shell without a session goes to the sign-in form, and back after it
    await page.goto(f"{server.base_url}/admin")
    await expect(page).to_have_url(re.compile(r"/signin\?next=%2Fadmin$"))
    await sign_in(page, server.base_url, ROOT_EMAIL, ROOT_PASSWORD, next_path="/admin")
    await expect(page).to_have_url(f"{server.base_url}/admin")

    # top bar: the product, the demo badge (30 open items of 45: every third is done), the user
    header = page.locator("header")
    await expect(header).to_contain_text("Email center")
    badge = header.locator('a[data-badge="demo"]')
    await expect(badge).to_have_attribute("aria-label", "Open items: 30")
    await expect(badge.locator(".ec-badge-count")).to_have_text("30")
    await expect(badge).to_have_attribute("href", "/admin/collections/demoItems")
    await expect(header.get_by_role("button", name=re.compile("Account"))).to_be_visible()
    # side menu: the plugin's page, then every collection
    menu = page.get_by_role("navigation", name="Main menu")
    await expect(menu.get_by_role("link", name="Demo", exact=True)).to_be_visible()
    await expect(menu.get_by_role("link", name="Demo items")).to_have_attribute("href", "/admin/collections/demoItems")
    await expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()
    await screenshot(page, "dashboard-1280")

    # the badge leads to the collection's page: 20 rows, then the next 20, then the last 5
    await badge.click()
    await expect(page).to_have_url(f"{server.base_url}/admin/collections/demoItems")
    await expect(page.get_by_role("heading", name="Demo items")).to_be_visible()
    await expect(page.get_by_test_id("range")).to_have_text(f"1–20 of {DEMO_ROWS}")
    await expect(rows(page)).to_have_count(20)
    first_page = await column(page, "title")
    for header_text in ("ID", "Title", "Rank", "Done", "Due at", "Tags"):
        await expect(page.get_by_role("columnheader", name=header_text, exact=True)).to_be_visible()
    await expect(rows(page).first.locator('td[data-column="tags"]')).to_contain_text('["demo","group-')
    await expect(rows(page).first.locator('td[data-column="dueAt"]')).to_contain_text("2024")
    await screenshot(page, "collection-1280")

    await page.get_by_role("button", name="Next page").click()
    await expect(page.get_by_test_id("range")).to_have_text(f"21–40 of {DEMO_ROWS}")
    await expect(rows(page)).to_have_count(20)
    second_page = await column(page, "title")
    assert not set(first_page) & set(second_page)
    assert "page=2" in page.url
    await page.get_by_role("button", name="Next page").click()
    await expect(page.get_by_test_id("range")).to_have_text(f"41–45 of {DEMO_ROWS}")
    await expect(rows(page)).to_have_count(5)
    await expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    await page.get_by_label("Rows per page").select_option("50")
    await expect(page.get_by_test_id("range")).to_have_text(f"1–45 of {DEMO_ROWS}")
    await expect(rows(page)).to_have_count(DEMO_ROWS)

    # sort by rank: ascending, then descending (the header says which)
    await page.get_by_role("button", name="Rank").click()
    rank_header = page.get_by_role("columnheader", name="Rank")
    await expect(rank_header).to_have_attribute("aria-sort", "ascending")
    ranks = [int(r) for r in await column(page, "rank")]
    assert ranks == sorted(ranks) and len(ranks) == DEMO_ROWS
    await page.get_by_role("button", name="Rank").click()
    await expect(rank_header).to_have_attribute("aria-sort", "descending")
    await expect(page.locator('ec-data-table tbody td[data-column="rank"]').first).to_have_text(str(max(ranks)))
    ranks = [int(r) for r in await column(page, "rank")]
    assert ranks == sorted(ranks, reverse=True)

    # filter: title contains "Item 1" (10 to 19), and done (12, 15, 18)
    await page.get_by_role("button", name="Filter").click()
    first = page.get_by_role("group", name="Condition 1")
    await first.get_by_label("Field").select_option("title")
    await first.get_by_label("Operator").select_option(label="contains")
    await first.get_by_label("Value").fill("Item 1")
    await page.get_by_role("button", name="Apply").click()
    await expect(page.get_by_test_id("range")).to_have_text("1–10 of 10")
    await page.get_by_role("button", name="Add condition").click()
    second = page.get_by_role("group", name="Condition 2")
    await second.get_by_label("Field").select_option("done")
    await second.get_by_label("Operator").select_option(label="is yes")
    await page.get_by_role("button", name="Apply").click()
    await expect(page.get_by_test_id("range")).to_have_text("1–3 of 3")
    assert sorted(await column(page, "title")) == ["Item 12", "Item 15", "Item 18"]
    await screenshot(page, "collection-filtered-1280")
    # a filter nothing matches shows the empty state
    await first.get_by_label("Value").fill("no such item")
    await page.get_by_role("button", name="Apply").click()
    await expect(page.get_by_text("No records match the filter")).to_be_visible()
    await expect(page.get_by_test_id("range")).to_have_text("0–0 of 0")
    await page.get_by_role("button", name="Reset").click()
    await expect(page.get_by_test_id("range")).to_have_text(f"1–45 of {DEMO_ROWS}")
    # a filter the server refuses (a shared link, say) shows the server's message, and Reset recovers
    await page.goto(f'{server.base_url}/admin/collections/demoItems?filter={{"rank":{{"$bogus":1}}}}')
    await expect(page.get_by_role("alert")).to_contain_text("unknown operator '$bogus' on 'rank'")
    await screenshot(page, "collection-error-1280")
    await page.get_by_role("button", name="Reset").click()
    await expect(page.get_by_test_id("range")).to_have_text(f"1–20 of {DEMO_ROWS}")

    # the badge follows the server live (the SSE stream), without a reload
    status, body = await server.api(
        server.root_token, "demoItems:update", {"done": True}, query={"filter": {"title": "Item 01"}}
    )
    assert status == 200, body
    root_id = (await server.api(server.root_token, "app:shell", method="GET"))[1]["data"]["user"]["id"]
    await server.host.badges_changed(root_id)
    await expect(badge).to_have_attribute("aria-label", "Open items: 29")

    # a plugin page mounts in the content area; an unknown collection says so
    await menu.get_by_role("link", name="Demo", exact=True).click()
    await expect(page.locator(".demo-page")).to_have_text("Demo page")
    await expect(menu.get_by_role("link", name="Demo", exact=True)).to_have_attribute("aria-current", "page")
    await page.goto(f"{server.base_url}/admin/collections/noSuchThing")
    await expect(page.get_by_text("No such collection")).to_be_visible()

    # sign out from the user menu: back to the form, and the shell asks for it again
    await page.get_by_role("button", name=re.compile("Account")).click()
    await page.get_by_role("menuitem", name="Sign out").click()
    await expect(page).to_have_url(f"{server.base_url}/signin")
    await page.goto(f"{server.base_url}/admin")
    await expect(page).to_have_url(re.compile(r"/signin\?next="))
    assert page.errors == []


async def test_phone_menu_is_a_drawer(phone_page, server):
    page = phone_page
    await page.goto(f"{server.base_url}/admin/collections/demoItems?page=2")
    await expect(page).to_have_url(re.compile(r"/signin\?next="))
    await screenshot(page, "signin-390")
    await page.get_by_label("Email").fill(ROOT_EMAIL)
    await page.get_by_label("Password").fill(ROOT_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    # back where it was going, page 2 included
    await expect(page.get_by_test_id("range")).to_have_text(f"21–40 of {DEMO_ROWS}")
    menu = page.get_by_role("navigation", name="Main menu")
    await expect(menu).not_to_be_in_viewport()
    await screenshot(page, "collection-390")
    # the table scrolls inside its card; the page itself does not scroll sideways
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390

    await page.get_by_role("button", name="Open menu").click()
    await expect(menu).to_be_in_viewport(ratio=1)
    await screenshot(page, "drawer-390", full_page=False)
    await menu.get_by_role("link", name="Dashboard").click()
    await expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()
    await expect(menu).not_to_be_in_viewport()
    await screenshot(page, "dashboard-390")
    assert page.errors == []
