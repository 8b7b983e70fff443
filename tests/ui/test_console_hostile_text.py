"""how the agent console renders customer- and agent-supplied text (XSS, layout, bidi).

Each test signs an agent in through the real console in headless Chromium and feeds it hostile or
oversized data through the public intake API.
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from tests.support import PASSWORD, bearer, login, make_agent
from tests.ui.browser import skip_without_chromium

skip_without_chromium()

from playwright.async_api import Browser, Page, expect  # noqa: E402

HOSTILE = '"><img src=x onerror=alert(1)><script>alert(2)</script><svg onload=alert(3)>'
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE


async def _admin(client: TestClient, db: Database) -> str:
    await make_agent(db, "root", role="admin")
    token = await login(client, "root")
    client.session.cookie_jar.clear()
    return token


async def _signed_in(browser: Browser, client: TestClient, login_name: str,
                     viewport: tuple[int, int] = (1280, 800)) -> tuple[Page, list[str]]:
    page = await browser.new_page(viewport={"width": viewport[0], "height": viewport[1]}, locale="en-US")
    page.set_default_timeout(10_000)
    dialogs: list[str] = []

    async def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    tid = page.get_by_test_id
    await page.goto(str(client.make_url("/console")))
    await tid("login-user").fill(login_name)
    await tid("login-password").fill(PASSWORD)
    await tid("login-submit").click()
    await expect(tid("connection-status")).to_have_attribute("data-status", "online")
    await tid("state-select").select_option("available")
    await expect(page.locator("#presence")).to_have_attribute("data-state", "available")
    return page, dialogs


async def _create(client: TestClient, admin: str, **fields: Any) -> str:
    payload = {"channel": "email", "queue": "sales", **fields}
    response = await client.post("/api/interactions", json=payload, headers=bearer(admin))
    assert response.status == 201, await response.text()
    return (await response.json())["interaction_id"]


async def test_hostile_text_in_every_customer_and_agent_field_stays_text(
        client: TestClient, db: Database, browser: Browser) -> None:
    """Name, subject, body, address and agent name full of markup: shown as text, nothing runs."""
    admin = await _admin(client, db)
    await make_agent(db, "alice", display_name=f"Alice {HOSTILE}", skills={"sales": 7}, capacity={"email": 2})
    page, dialogs = await _signed_in(browser, client, "alice")
    tid = page.get_by_test_id
    await _create(client, admin, identity="email:hostile@example.com", display_name=f"Eve {HOSTILE}",
                  subject=f"Subject {HOSTILE}", body=f"Body {HOSTILE}")
    offer = tid("offer-card")
    await expect(offer).to_contain_text(f"Eve {HOSTILE}")
    await expect(offer).to_contain_text(f"Subject {HOSTILE}")
    await offer.get_by_test_id("offer-accept").click()
    transcript = tid("transcript")
    await expect(transcript.locator('[data-kind="inbound_message"]')).to_contain_text(f"Body {HOSTILE}")
    await tid("reply-input").fill(f"Reply {HOSTILE}")
    await tid("reply-send").click()
    await expect(transcript.locator('[data-kind="outbound_message"]')).to_contain_text(f"Reply {HOSTILE}")
    await tid("note-input").fill(f"Note {HOSTILE}")
    await tid("note-send").click()
    await expect(transcript.locator('[data-kind="note"]')).to_contain_text(f"Note {HOSTILE}")
    await expect(tid("customer-name")).to_have_text(f"Eve {HOSTILE}")
    await expect(tid("history-item").first).to_be_visible()
    await expect(page.locator("#agent-name")).to_have_text(f"Alice {HOSTILE}")
    await expect(page.locator("#conversation-subject")).to_have_text(f"Subject {HOSTILE}")
    injected = await page.evaluate(
        "() => document.querySelectorAll("
        "'body img:not(.brand-mark), body script, body svg:not(.icon), [onerror], [onload]').length")
    assert injected == 0
    assert dialogs == []


async def test_a_long_agent_display_name_pushes_logout_off_screen(
        client: TestClient, db: Database, browser: Browser) -> None:
    """An unbroken display name in the top bar must not push 'Sign out' and the language switch away."""
    await make_agent(db, "alice", display_name="Mitarbeiterkundenbetreuungsleitung" * 4, skills={"sales": 7})
    page, _ = await _signed_in(browser, client, "alice")
    await expect(page.get_by_test_id("logout")).to_be_visible()
    layout = await page.evaluate("""() => {
      const box = (id) => document.getElementById(id).getBoundingClientRect();
      return { width: innerWidth, page: document.documentElement.scrollWidth,
               logout: box('logout').right, lang: box('lang-switch').right };
    }""")
    assert layout["logout"] <= layout["width"], layout
    assert layout["lang"] <= layout["width"], layout
    assert layout["page"] <= layout["width"], layout


async def test_a_long_unbroken_customer_name_makes_the_transcript_scroll_sideways(
        client: TestClient, db: Database, browser: Browser) -> None:
    """The customer chooses their name (chat pre-chat form, e-mail From): it labels every message."""
    admin = await _admin(client, db)
    await make_agent(db, "alice", skills={"sales": 7}, capacity={"email": 2})
    page, _ = await _signed_in(browser, client, "alice")
    await _create(client, admin, identity="email:long@example.com", display_name="N" * 200, body="hello")
    await page.get_by_test_id("offer-accept").click()
    await expect(page.get_by_test_id("transcript").locator('[data-kind="inbound_message"]')).to_have_count(1)
    scroller = await page.evaluate(
        "() => { const s = document.getElementById('transcript-scroll'); return [s.scrollWidth, s.clientWidth]; }")
    assert scroller[0] <= scroller[1], f"transcript scrolls sideways: scrollWidth {scroller[0]} > {scroller[1]}"


async def test_a_right_to_left_override_in_the_customer_name_does_not_reverse_other_text(
        client: TestClient, db: Database, browser: Browser) -> None:
    """U+202E in a name must stay inside the name (bidi isolation), not flip the text after it."""
    admin = await _admin(client, db)
    await make_agent(db, "alice", skills={"sales": 7}, capacity={"email": 2})
    page, _ = await _signed_in(browser, client, "alice")
    await _create(client, admin, identity="email:rlo@example.com", display_name=f"{RLO}Eve", body="pay 100 to A")
    await page.get_by_test_id("offer-accept").click()
    item = page.locator('[data-testid="history-item"][data-kind="inbound_message"] .history-body')
    await expect(item).to_contain_text("pay 100 to A")
    # In the history line the body text follows the author span in the same paragraph: is it still left-to-right?
    order = await item.evaluate("""(p) => {
      const node = [...p.childNodes].find((n) => n.nodeType === Node.TEXT_NODE && n.data.includes('pay'));
      const x = (i) => { const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1);
                         return r.getBoundingClientRect().x; };
      return [x(node.data.indexOf('p')), x(node.data.indexOf('A'))];
    }""")
    assert order[0] < order[1], f"'pay 100 to A' is drawn right-to-left: x(p)={order[0]} x(A)={order[1]}"
