"""the chat widget with oversized customer and agent text (headless Chromium on the shop page)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from tests.agent_console import AgentConsole
from tests.support import login, make_agent
from tests.ui.browser import launch, skip_without_chromium
from tests.webchat.conftest import Shop

skip_without_chromium()

from playwright.async_api import Page, async_playwright, expect  # noqa: E402

# Playwright pierces open shadow roots only; this opens the widget's closed one for driving it.
OPEN_SHADOW = """(() => { const attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) { return attach.call(this, { ...init, mode: "open" }); }; })();"""
MEASURE = """() => {
  const root = document.querySelector('contactcenter-chat').shadowRoot;
  const box = (s) => { const e = root.querySelector(s); const b = e.getBoundingClientRect();
    return { left: b.left, right: b.right, top: b.top, bottom: b.bottom, sw: e.scrollWidth, cw: e.clientWidth }; };
  return { width: innerWidth, height: innerHeight, panel: box('.panel'), send: box('[data-testid=cc-send]'),
           log: box('.log'), status: box('.status') };
}"""


async def _open(browser: Any, shop: Shop, width: int, height: int) -> Page:
    context = await browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    await context.add_init_script(OPEN_SHADOW)
    page = await context.new_page()
    page.set_default_timeout(10_000)
    await page.goto(shop.url("/"))
    await page.get_by_test_id("cc-launcher").click()
    await page.get_by_test_id("cc-field-name").fill("N" * 300)
    await page.get_by_test_id("cc-field-email").fill("zhang@example.cn")
    await page.get_by_test_id("cc-prechat-submit").click()
    return page


def _inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (inner["left"] >= outer["left"] and inner["right"] <= outer["right"]
            and inner["top"] >= outer["top"] and inner["bottom"] <= outer["bottom"])


async def test_long_unbroken_latin_chinese_and_emoji_keep_the_send_button_in_view(
        client: TestClient, db: Database, shop: Shop) -> None:
    """5000 characters without a break opportunity wrap inside the bubble; Send stays on screen."""
    await make_agent(db, "alice", skills={"sales": 5})
    alice = AgentConsole(client, await login(client, "alice"))  # someone online: the compose view, not offline
    client.session.cookie_jar.clear()
    await alice.connect()
    await alice.available()
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        for width, height in ((1000, 720), (320, 568)):
            page = await _open(browser, shop, width, height)
            for text in ("W" * 3000 + "😀" * 500, "订" * 4000):
                await page.get_by_test_id("cc-input").fill(text)
                await page.get_by_test_id("cc-input").press("Enter")
            await expect(page.locator("[data-testid=cc-msg][data-from=customer][data-id]")).to_have_count(2)
            layout = await page.evaluate(MEASURE)
            viewport = {"left": 0, "top": 0, "right": layout["width"], "bottom": layout["height"]}
            assert _inside(layout["send"], layout["panel"]) and _inside(layout["panel"], viewport), layout
            assert layout["log"]["sw"] <= layout["log"]["cw"], layout
            await page.context.close()
        await browser.close()


async def test_a_long_agent_name_stays_inside_the_panel(client: TestClient, db: Database, shop: Shop) -> None:
    """'<name> joined the chat' in the status bar and the log must wrap, not run out of the panel."""
    await make_agent(db, "alice", display_name="Kundendienstmitarbeiterin" * 3, skills={"sales": 5})
    alice = AgentConsole(client, await login(client, "alice"))
    client.session.cookie_jar.clear()
    await alice.connect()
    await alice.available()
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        page = await _open(browser, shop, 1000, 720)
        await page.get_by_test_id("cc-input").fill("hello")
        await page.get_by_test_id("cc-input").press("Enter")
        conversation = await alice.offer()
        await alice.accept(conversation)
        await expect(page.get_by_test_id("cc-joined")).to_be_visible()
        layout = await page.evaluate(MEASURE)
        await browser.close()
    assert layout["status"]["sw"] <= layout["status"]["cw"], f"status bar overflows: {layout['status']}"
    assert layout["log"]["sw"] <= layout["log"]["cw"], f"log scrolls sideways: {layout['log']}"
