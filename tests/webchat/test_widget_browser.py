"""The widget in headless Chromium on a shop's page: a customer chats with an agent and reloads."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from channels.webchat import CHAT_HUB
from contactcenter.db import Database
from tests.agent_console import AgentConsole
from tests.support import login, make_agent
from tests.ui.browser import artifact, launch, skip_without_chromium
from tests.webchat.conftest import Shop

skip_without_chromium()

from playwright.async_api import Page, async_playwright, expect  # noqa: E402

# Playwright's selectors pierce open shadow roots only. The widget's root is closed (checked below on
# an untouched page); for driving it, this init script opens it, changing nothing else.
OPEN_SHADOW = """
(() => {
  const attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) { return attach.call(this, { ...init, mode: "open" }); };
})();
"""
TIMEOUT_MS = 10_000


async def _agent(client: TestClient, db: Database) -> AgentConsole:
    await make_agent(db, "alice", display_name="客服小李", skills={"sales": 5, "support": 5})
    console = AgentConsole(client, await login(client, "alice"))
    client.session.cookie_jar.clear()
    await console.connect()
    await console.available()
    return console


async def _widget_page(browser: Any, shop: Shop, locale: str = "zh-CN") -> Page:
    context = await browser.new_context(locale=locale, viewport={"width": 1000, "height": 720})
    await context.add_init_script(OPEN_SHADOW)
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.goto(shop.url("/"))
    return page


async def test_the_widget_is_closed_isolated_and_leaks_no_globals(client: TestClient, shop: Shop) -> None:
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        page = await browser.new_page()
        await page.goto(shop.url("/blank"))
        before = set(await page.evaluate("Object.keys(window)"))
        await page.goto(shop.url("/"))
        await page.wait_for_function("document.querySelector('contactcenter-chat') !== null")
        assert await page.evaluate("document.querySelector('contactcenter-chat').shadowRoot") is None
        assert set(await page.evaluate("Object.keys(window)")) - before == set()
        await browser.close()

        browser = await launch(playwright)
        page = await _widget_page(browser, shop)
        launcher = page.get_by_test_id("cc-launcher")
        await expect(launcher).to_have_text("💬在线客服")
        style = await launcher.evaluate(
            "b => { const s = getComputedStyle(b); return [s.color, s.borderTopWidth, s.fontSize, s.fontFamily]; }")
        # the page's `button {color: red !important; border: 5px ...}` and inherited `font: 16px serif` stayed out
        assert style[:3] == ["rgb(255, 255, 255)", "0px", "14px"] and style[3] != "serif"
        await browser.close()


async def test_customer_chats_with_an_agent_and_reloads(client: TestClient, db: Database, shop: Shop) -> None:
    alice = await _agent(client, db)
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        page = await _widget_page(browser, shop)
        await page.get_by_test_id("cc-launcher").click()
        await expect(page.get_by_test_id("cc-greeting")).to_have_text("您好！有什么可以帮您？")
        await expect(page.get_by_test_id("cc-prechat")).to_be_visible()
        await page.get_by_test_id("cc-field-name").fill("张三")
        await page.get_by_test_id("cc-field-email").fill("zhangsan@example.cn")
        await page.get_by_test_id("cc-field-topic").select_option("售后服务")
        await page.get_by_test_id("cc-prechat-submit").click()

        await page.get_by_test_id("cc-input").fill("你好，我的订单还没到 <b>急</b>")
        await page.get_by_test_id("cc-input").press("Enter")
        conversation = await alice.offer()
        # the support queue's 60 s service level stands in for the average while there is none
        await expect(page.get_by_test_id("cc-status")).to_have_text("马上为您安排客服，预计等待 1 分钟")
        mine = page.locator("[data-testid=cc-msg][data-from=customer]")
        await expect(mine).to_have_count(1)
        await expect(mine.first.locator(".text")).to_have_text("你好，我的订单还没到 <b>急</b>")  # text, not markup
        await expect(mine.first).to_have_attribute("data-id", await _first_message_id(db, conversation))
        await alice.accept(conversation)
        await expect(page.get_by_test_id("cc-joined")).to_have_text("客服小李 为您服务")

        await alice.send("typing", interaction_id=conversation)
        await expect(page.get_by_test_id("cc-typing")).to_have_text("客服小李 正在输入…")
        await page.screenshot(path=artifact("widget-typing.png"))
        await alice.reply(conversation, "您好，请提供一下订单号")
        agent_lines = page.locator("[data-testid=cc-msg][data-from=agent] .text")
        await expect(agent_lines).to_have_text(["您好，请提供一下订单号"])
        await expect(page.get_by_test_id("cc-typing")).to_be_hidden()

        await page.get_by_test_id("cc-input").press_sequentially("2025")
        assert (await alice.expect("typing"))["interaction_id"] == conversation
        await page.get_by_test_id("cc-input").press("Enter")
        await alice.expect("message", interaction_id=conversation)
        await page.screenshot(path=artifact("widget-conversation.png"))

        await page.reload()
        texts = page.locator("[data-testid=cc-msg] .text")
        await expect(texts).to_have_text(["你好，我的订单还没到 <b>急</b>", "您好，请提供一下订单号", "2025"])
        await expect(page.get_by_test_id("cc-status")).to_have_text("客服小李 为您服务")
        await alice.reply(conversation, "查到了，明天送达")
        await expect(agent_lines).to_have_text(["您好，请提供一下订单号", "查到了，明天送达"])
        await page.screenshot(path=artifact("widget-after-reload.png"))

        await alice.send("wrapup", interaction_id=conversation, disposition="resolved")
        await expect(page.get_by_test_id("cc-ended")).to_be_visible()
        await expect(page.get_by_test_id("cc-transcript")).to_be_visible()
        await page.get_by_test_id("cc-transcript-email").fill("zhangsan@example.cn")
        await page.get_by_test_id("cc-transcript").locator("button").click()
        await expect(page.get_by_test_id("cc-transcript-queued")).to_have_text("聊天记录将发送至 zhangsan@example.cn")
        await page.screenshot(path=artifact("widget-ended.png"))
        await browser.close()
    await alice.disconnect()


async def _first_message_id(db: Database, conversation: str) -> str:
    value = await db.fetchval(
        "SELECT min(id) FROM touchpoints WHERE interaction_id = $1::uuid AND kind = 'inbound_message'", conversation)
    return str(value)


async def test_with_nobody_online_the_widget_takes_a_message(client: TestClient, db: Database, shop: Shop) -> None:
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        page = await _widget_page(browser, shop, locale="en-US")
        await page.get_by_test_id("cc-launcher").click()
        await expect(page.get_by_test_id("cc-offline")).to_contain_text("No one is available right now")
        await page.get_by_test_id("cc-field-name").fill("Li Lei")
        await page.get_by_test_id("cc-field-email").fill("lilei@example.com")
        await page.get_by_test_id("cc-field-message").fill("Please call me back")
        await page.get_by_test_id("cc-offline-submit").click()
        await expect(page.get_by_test_id("cc-offline-thanks")).to_have_text("Thanks! We will reply by email soon.")
        await page.screenshot(path=artifact("widget-offline.png"))
        await browser.close()
    row = await db.pool.fetchrow("SELECT attributes FROM interactions WHERE channel = 'chat'")
    assert row["attributes"]["offline_form"] is True


async def test_a_dropped_connection_loses_nothing(client: TestClient, db: Database, shop: Shop) -> None:
    alice = await _agent(client, db)
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        page = await _widget_page(browser, shop)
        await page.get_by_test_id("cc-launcher").click()
        await page.get_by_test_id("cc-prechat-submit").click()
        await expect(page.get_by_test_id("cc-prechat")).to_be_visible()  # required fields keep it open
        await page.get_by_test_id("cc-field-name").fill("王五")
        await page.get_by_test_id("cc-field-email").fill("wangwu@example.cn")
        await page.get_by_test_id("cc-prechat-submit").click()
        await page.get_by_test_id("cc-input").fill("第一条")
        await page.get_by_test_id("cc-input").press("Enter")
        conversation = await alice.offer()
        await alice.accept(conversation)
        await expect(page.get_by_test_id("cc-joined")).to_be_visible()

        # the network goes away and the server drops the socket; the customer keeps writing
        await page.context.set_offline(True)
        await client.app[CHAT_HUB].close_all(client.app)
        await expect(page.get_by_test_id("cc-status")).to_have_text("连接中断，正在重新连接…")
        await page.get_by_test_id("cc-input").fill("断网时写的")
        await page.get_by_test_id("cc-input").press("Enter")
        pending = page.locator("[data-testid=cc-msg].pending")
        await expect(pending).to_have_count(1)
        await alice.reply(conversation, "断网时的回复")

        await page.context.set_offline(False)  # the browser's `online` event: reconnect now
        await expect(pending).to_have_count(0)
        await expect(page.locator("[data-testid=cc-msg][data-from=agent] .text")).to_have_text(["断网时的回复"])
        await expect(page.locator("[data-testid=cc-msg] .text")).to_have_text(["第一条", "断网时的回复", "断网时写的"])
        await browser.close()
    bodies = await db.pool.fetch(
        "SELECT body FROM touchpoints WHERE interaction_id = $1::uuid AND kind = 'inbound_message' ORDER BY id",
        conversation)
    assert [r["body"] for r in bodies] == ["第一条", "断网时写的"]
    await alice.disconnect()
