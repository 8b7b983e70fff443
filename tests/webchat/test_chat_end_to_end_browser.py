"""The whole chat in two browsers: a customer on a shop's page, an agent in the console."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from contactcenter.config import Settings
from contactcenter.db import Database
from tests.support import PASSWORD, bearer, login, make_agent
from tests.ui.browser import artifact, launch, skip_without_chromium
from tests.webchat.conftest import Shop, build_chat_app
from tests.webchat.test_widget_browser import OPEN_SHADOW

skip_without_chromium()

from playwright.async_api import Page, async_playwright, expect  # noqa: E402

TIMEOUT_MS = 10_000


def _registered(app: web.Application, path: str) -> bool:
    return any(resource.canonical == path for resource in app.router.resources())


@pytest.fixture
async def client(settings: Settings, db: Database, shop: Shop) -> AsyncIterator[TestClient]:
    """The chat app plus the console's routes, for as long as the composition root does not list them."""
    from contactcenter.api import agents_api, ui

    app = build_chat_app(settings, db)
    if not _registered(app, "/api/agents"):
        app.add_routes(agents_api.routes)
    if not _registered(app, "/console"):
        app.add_routes(ui.routes)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as test_client:
        shop.cc_url = str(test_client.make_url("")).rstrip("/")
        yield test_client


def _errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


async def _console(browser: Any, client: TestClient) -> Page:
    page = await (await browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    tid = page.get_by_test_id
    await page.goto(str(client.make_url("/console")))
    await tid("login-user").fill("alice")
    await tid("login-password").fill(PASSWORD)
    await tid("login-submit").click()
    await expect(tid("connection-status")).to_have_attribute("data-status", "online")
    await tid("state-select").select_option("available")
    await expect(page.locator("#presence")).to_have_attribute("data-state", "available")
    return page


async def _widget(browser: Any, shop: Shop) -> Page:
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1000, "height": 720})
    await context.add_init_script(OPEN_SHADOW)  # lets Playwright into the (otherwise closed) shadow root
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.goto(shop.url("/"))
    return page


async def test_customer_and_agent_chat_from_first_message_to_closed(
    client: TestClient, db: Database, shop: Shop
) -> None:
    await make_agent(db, "root", role="admin")
    admin = await login(client, "root")
    client.session.cookie_jar.clear()
    await make_agent(db, "alice", display_name="客服小李", skills={"sales": 5, "support": 5})

    async with async_playwright() as playwright:
        browser = await launch(playwright)
        agent = await _console(browser, client)
        agent_errors = _errors(agent)
        customer = await _widget(browser, shop)
        customer_errors = _errors(customer)
        a, c = agent.get_by_test_id, customer.get_by_test_id

        # the customer opens the widget, answers the pre-chat form and writes
        await c("cc-launcher").click()
        await c("cc-field-name").fill("张三")
        await c("cc-field-email").fill("zhangsan@example.cn")
        await c("cc-field-topic").select_option("售后服务")
        await c("cc-prechat-submit").click()
        await c("cc-input").fill("你好，订单 #2048 还没发货")
        await c("cc-input").press("Enter")
        await expect(customer.locator("[data-testid=cc-msg][data-from=customer]")).to_have_attribute(
            "data-id", re.compile(r"^\d+$"))  # acknowledged: stored

        # the agent sees the offer and accepts; the customer is told who joined
        offer = a("offer-card")
        await expect(offer).to_contain_text("你好，订单 #2048 还没发货")
        await expect(offer).to_contain_text("张三")
        await a("offer-accept").click()
        await expect(c("cc-joined")).to_have_text("客服小李 为您服务")
        transcript = a("transcript")
        await expect(transcript.locator('[data-testid="msg"][data-kind="inbound_message"]')).to_contain_text(
            "订单 #2048")

        # the agent types (the customer sees it), then replies
        await a("reply-input").press_sequentially("您好，我查一下")
        await expect(c("cc-typing")).to_have_text("客服小李 正在输入…")
        await customer.screenshot(path=artifact("widget-e2e-typing.png"))
        await a("reply-send").click()
        agent_lines = customer.locator("[data-testid=cc-msg][data-from=agent] .text")
        await expect(agent_lines).to_have_text(["您好，我查一下"])

        # the customer types (the agent sees it), and answers
        await c("cc-input").press_sequentially("好的")
        await expect(a("customer-typing")).to_be_visible()
        await c("cc-input").press("Enter")
        inbound = transcript.locator('[data-testid="msg"][data-kind="inbound_message"]')
        await expect(inbound).to_have_count(2)

        # mid-conversation the customer reloads: the whole transcript is back, and the chat goes on
        await customer.reload()
        texts = customer.locator("[data-testid=cc-msg] .text")
        await expect(texts).to_have_text(["你好，订单 #2048 还没发货", "您好，我查一下", "好的"])
        await a("reply-input").fill("已经催仓库了，明天发出")
        await a("reply-send").click()
        await expect(agent_lines).to_have_text(["您好，我查一下", "已经催仓库了，明天发出"])
        await c("cc-input").fill("谢谢！")
        await c("cc-input").press("Enter")
        await expect(inbound).to_have_count(3)

        # the agent's customer panel shows the chat in the customer's history (as loaded when accepted)
        panel = a("customer-panel")
        await expect(a("customer-name")).to_have_text("张三")
        chat_items = panel.locator('[data-testid="history-item"][data-channel="chat"][data-kind="inbound_message"]')
        await expect(chat_items.last).to_contain_text("订单 #2048")
        await customer.screenshot(path=artifact("widget-e2e-customer.png"))
        await agent.screenshot(path=artifact("widget-e2e-console.png"))

        # wrap-up and close: the customer is told the chat ended
        await a("wrapup-disposition").select_option("resolved")
        await a("wrapup-submit").click()
        await expect(c("cc-ended")).to_be_visible()
        await a("close-button").click()
        await expect(a("conversation-tab")).to_have_count(0)
        await customer.screenshot(path=artifact("widget-e2e-ended.png"))
        await browser.close()

    # every touchpoint of the conversation is in the customer's history
    found = await (await client.get("/api/customers?identity=email:zhangsan@example.cn", headers=bearer(admin))).json()
    history = await (await client.get(f"/api/customers/{found['customer']['id']}/history?limit=200",
                                      headers=bearer(admin))).json()
    chat = [t for t in reversed(history["touchpoints"]) if t["channel"] == "chat"]
    messages = [(t["kind"], t["body"]) for t in chat if t["kind"].endswith("_message")]
    assert messages == [
        ("inbound_message", "你好，订单 #2048 还没发货"), ("outbound_message", "您好，我查一下"),
        ("inbound_message", "好的"), ("outbound_message", "已经催仓库了，明天发出"), ("inbound_message", "谢谢！"),
    ]
    kinds = [t["kind"] for t in chat]
    assert {"offer", "accept", "state_change"} <= set(kinds)
    assert [t["payload"].get("state") for t in chat if t["kind"] == "state_change"][-2:] == ["wrap_up", "closed"]
    assert agent_errors == [] or all("Failed to load resource" in e for e in agent_errors)
    assert customer_errors == []
