"""The supervisor view in headless Chromium: live tiles, an alert, reading a chat, changing a status, moving."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from tests.agent_console import AgentConsole
from tests.support import PASSWORD, bearer, login, make_agent
from tests.ui.browser import artifact, skip_without_chromium

skip_without_chromium()

from playwright.async_api import Browser, Page, expect  # noqa: E402  (after the skip check)


async def _create(client: TestClient, admin: str, queue: str, email: str, body: str) -> str:
    payload = {"channel": "chat", "identity": f"email:{email}", "queue": queue, "body": body}
    response = await client.post("/api/interactions", json=payload, headers=bearer(admin))
    assert response.status == 201, await response.text()
    return (await response.json())["interaction_id"]


async def _console(client: TestClient, db: Database, name: str, display: str, **profile: Any) -> AgentConsole:
    agent = await make_agent(db, name, display_name=display, **profile)
    console = AgentConsole(client, await login(client, name))
    client.session.cookie_jar.clear()
    await console.connect()
    await console.available()
    console.agent_id = str(agent.id)  # type: ignore[attr-defined]
    return console


def _watch(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
    return errors


async def test_a_supervisor_watches_the_queues_and_acts(client: TestClient, db: Database, browser: Browser) -> None:
    await make_agent(db, "root", role="admin")
    await make_agent(db, "boss", role="supervisor", display_name="陈主管")
    admin = await login(client, "root")
    client.session.cookie_jar.clear()
    alice = await _console(client, db, "alice", "王芳", skills={"sales": 7}, capacity={"chat": 1})
    bob = await _console(client, db, "bob", "Bob Li", capacity={"chat": 1})  # serves no queue: stays idle

    page = await browser.new_page(viewport={"width": 1440, "height": 1000}, locale="en-US")
    errors = _watch(page)
    tid = page.get_by_test_id
    await page.goto(str(client.make_url("/console")))
    await tid("login-user").fill("boss")
    await tid("login-password").fill(PASSWORD)
    await tid("login-submit").click()
    await expect(tid("connection-status")).to_have_attribute("data-status", "online")
    await tid("lang-switch").select_option("en")
    await expect(tid("mode-supervisor")).to_have_text("Supervisor")
    await tid("mode-supervisor").click()
    await expect(tid("supervisor-status")).to_have_attribute("data-status", "online")
    await expect(page.locator("#workspace")).to_be_hidden()  # the agent view makes room

    sales = page.locator('[data-testid="queue-tile"][data-queue="sales"]')
    support = page.locator('[data-testid="queue-tile"][data-queue="support"]')
    await expect(sales.get_by_test_id("tile-waiting")).to_have_text("0")
    await expect(sales).to_contain_text("售前咨询")

    # interactions arrive: the tiles follow within a second or so
    parked = await _create(client, admin, "support", "zhao@example.cn", "发票什么时候开？")
    await expect(support.get_by_test_id("tile-waiting")).to_have_text("1")
    await expect(support.get_by_test_id("tile-longest")).to_have_text(re.compile(r"^\d+ s$"))
    first = await _create(client, admin, "sales", "li@example.cn", "我想买一台冰箱")
    await _create(client, admin, "sales", "wu@example.cn", "有优惠吗？")
    await expect(sales.get_by_test_id("tile-waiting")).to_have_text("2")  # one offered to alice, one queued
    alert = page.locator('[data-testid="supervisor-alert"][data-alert-id="waiting:sales"]')
    await expect(alert).to_contain_text("2 waiting")
    await expect(tid("mode-alerts")).to_have_text("1")

    # alice answers: the alert clears, her row shows her at work
    assert await alice.offer() == first
    await alice.accept(first)
    await alice.reply(first, "您好，请问想要多大容量的？")
    await expect(sales.get_by_test_id("tile-waiting")).to_have_text("1")
    await expect(alert).to_have_count(0)
    alice_row = page.locator(f'[data-testid="agent-row"][data-agent-id="{alice.agent_id}"]')  # type: ignore[attr-defined]
    await expect(alice_row.get_by_test_id("agent-activity")).to_have_attribute("data-activity", "busy")
    await expect(alice_row).to_contain_text("王芳")
    await expect(sales.get_by_test_id("tile-agents")).to_contain_text("Busy 1")

    # read her chat silently
    await alice_row.get_by_test_id("agent-work").click()
    reader = tid("chat-reader")
    await expect(reader).to_be_visible()
    await expect(reader.locator('[data-testid="reader-msg"][data-kind="inbound_message"]')).to_contain_text(
        "我想买一台冰箱")
    await expect(reader.locator('[data-testid="reader-msg"][data-kind="outbound_message"]')).to_contain_text(
        "多大容量")

    # set bob away: his console hears it and the row follows
    bob_row = page.locator(f'[data-testid="agent-row"][data-agent-id="{bob.agent_id}"]')  # type: ignore[attr-defined]
    await expect(bob_row.get_by_test_id("agent-activity")).to_have_attribute("data-activity", "available")
    await bob_row.get_by_test_id("agent-state-select").select_option("away")
    assert (await bob.expect("state", state="away"))["reason"] == "supervisor"
    await expect(bob_row.get_by_test_id("agent-activity")).to_have_attribute("data-activity", "away")
    await expect(bob_row.get_by_test_id("agent-activity")).to_contain_text("set by a supervisor")

    # move the parked support chat to sales
    row = page.locator(f'[data-testid="waiting-row"][data-interaction-id="{parked}"]')
    await row.get_by_test_id("move-queue").select_option("sales")
    await row.get_by_test_id("move-submit").click()
    await expect(support.get_by_test_id("tile-waiting")).to_have_text("0")
    await expect(sales.get_by_test_id("tile-waiting")).to_have_text("2")
    await expect(tid("chart-depth").locator("polyline, circle").first).to_be_attached()
    await page.screenshot(path=artifact("supervisor.png"), animations="disabled", full_page=True)

    # Chinese, and back to the agent view intact
    await tid("lang-switch").select_option("zh-CN")
    await expect(tid("mode-supervisor")).to_have_text("主管")
    await expect(sales.get_by_test_id("tile-agents")).to_contain_text("忙碌 1")
    await tid("mode-agent").click()
    await expect(tid("state-select")).to_be_visible()
    await expect(tid("supervisor-view")).to_be_hidden()
    assert [e for e in errors if not e.startswith("Failed to load resource")] == []
    for console in (alice, bob):
        await console.disconnect()
