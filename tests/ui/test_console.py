"""The agent console, end to end: the real app, a real database, headless Chromium.

One scenario walks an agent through a working session (sign in, offer,
transcript, replies, notes, a hostile customer message, a dropped connection,
Chinese, a transfer, wrap-up); smaller tests pin the serving rules (CSP, no
path traversal) and the static guarantees (no HTML parsing, every string
translated).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from contactcenter.acd.intake import InboundMessage
from contactcenter.api.keys import AGENT_HUB, FEED, INTAKE
from contactcenter.api.ui import CONSOLE_DIR, CONTENT_SECURITY_POLICY
from contactcenter.config import Settings
from contactcenter.config.schema import CannedResponse
from contactcenter.db import Database
from contactcenter.model import Channel, IdentityKind
from tests.agent_console import AgentConsole
from tests.support import PASSWORD, bearer, login, make_agent
from tests.ui.browser import artifact, skip_without_chromium

skip_without_chromium()

from playwright.async_api import Browser, Page, expect  # noqa: E402  (after the skip check)

CUSTOMER_EMAIL = "li.wei@example.cn"
CUSTOMER_PHONE = "+8613800138000"
HOSTILE = "<img src=x onerror=alert(1)>"
REPO_FILE_HEAD = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_bytes()[:40]  # must never leak
CANNED = (
    CannedResponse(id="greeting", title="问候 Greeting", text="您好，我是客服，很高兴为您服务。"),
    CannedResponse(id="tracking", title="物流 Tracking", text="您的包裹正在派送中，预计明天送达。"),
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared test config plus canned responses, which the console's picker needs."""
    return settings.model_copy(update={"console": settings.console.model_copy(update={"canned_responses": CANNED})})


# -- helpers ---------------------------------------------------------------------------------------


async def _create(client: TestClient, admin: str, *, channel: str, identity: str, queue: str, body: str,
                  **extra: Any) -> str:
    payload = {"channel": channel, "identity": identity, "queue": queue, "body": body, **extra}
    response = await client.post("/api/interactions", json=payload, headers=bearer(admin))
    assert response.status == 201, await response.text()
    return (await response.json())["interaction_id"]


async def _interaction(client: TestClient, admin: str, interaction_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/interactions/{interaction_id}", headers=bearer(admin))
    assert response.status == 200, await response.text()
    return await response.json()


async def _past_sms_conversation(client: TestClient, db: Database, admin: str) -> str:
    """Bob handled this customer by SMS before and wrapped up with a disposition and notes."""
    await make_agent(db, "bob", display_name="Bob Zhang", skills={"support": 5}, capacity={"sms": 1})
    bob = AgentConsole(client, await login(client, "bob"))
    await bob.connect()
    await bob.available()
    sms = await _create(client, admin, channel="sms", identity=f"phone:{CUSTOMER_PHONE}", queue="support",
                        body="我想改一下收货地址", display_name="李伟", customer_tier="gold")
    assert await bob.offer() == sms
    await bob.accept(sms)
    await bob.reply(sms, "好的，请把新地址发给我。")
    await bob.send("wrapup", interaction_id=sms, disposition="resolved", notes="地址已更新为浦东新区")
    await bob.expect("wrap_up", interaction_id=sms)
    await bob.send("close", interaction_id=sms)
    await bob.expect("closed", interaction_id=sms)
    await bob.send("state", state="offline")
    await bob.expect("state", state="offline")
    await bob.disconnect()
    customer_id = (await _interaction(client, admin, sms))["interaction"]["customer_id"]
    added = await client.post(f"/api/customers/{customer_id}/identities",
                              json={"kind": "email", "address": CUSTOMER_EMAIL}, headers=bearer(admin))
    assert added.status == 201, await added.text()
    return customer_id


def _watch(page: Page) -> tuple[list[str], list[str]]:
    """Collect dialogs (an XSS would open one) and console errors (CSP violations land there)."""
    dialogs: list[str] = []
    errors: list[str] = []

    async def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return dialogs, errors


async def _shoot(page: Page, path: Path) -> None:
    await page.screenshot(path=path, animations="disabled")


def _real_errors(errors: list[str]) -> list[str]:
    # A 401 from GET /api/me before signing in is how the console learns it must show the form.
    return [e for e in errors if not e.startswith("Failed to load resource")]


# -- the scenario ----------------------------------------------------------------------------------


async def test_an_agent_works_conversations_in_the_console(client: TestClient, db: Database,
                                                           browser: Browser) -> None:
    """Sign in, take an offer, talk, survive a dropped socket, switch to Chinese, transfer, wrap up."""
    await make_agent(db, "root", role="admin")
    admin = await login(client, "root")
    client.session.cookie_jar.clear()
    customer_id = await _past_sms_conversation(client, db, admin)
    chat = await _create(client, admin, channel="chat", identity=f"email:{CUSTOMER_EMAIL}", queue="support",
                         body="还在吗？想问下会员积分")  # waits in a queue alice does not serve: history only
    for n in range(25):  # enough history for a second page
        await client.app[INTAKE].receive(InboundMessage(
            channel=Channel.CHAT, identity_kind=IdentityKind.EMAIL, address=CUSTOMER_EMAIL, queue="support",
            body=f"积分问题补充 {n}", interaction_id=uuid.UUID(chat)))
    alice = await make_agent(db, "alice", display_name="王芳", skills={"sales": 7}, capacity={"email": 2})

    page = await browser.new_page(viewport={"width": 1440, "height": 900}, locale="en-US")
    dialogs, errors = _watch(page)
    tid = page.get_by_test_id
    await page.goto(str(client.make_url("/console")))

    # sign in
    await expect(tid("login-submit")).to_have_text("Sign in")
    await tid("login-user").fill("alice")
    await tid("login-password").fill(PASSWORD)
    await _shoot(page, artifact("console-login.png"))
    await tid("login-submit").click()
    await expect(tid("connection-status")).to_have_attribute("data-status", "online")
    await expect(tid("state-select")).to_have_value("offline")
    # the sign-in form followed the browser (English); the console then takes the server's default (zh-CN)
    await expect(tid("lang-switch")).to_have_value("zh-CN")
    await expect(tid("connection-status")).to_have_text("已连接")
    await tid("lang-switch").select_option("en")
    await expect(tid("connection-status")).to_have_text("Connected")
    await tid("state-select").select_option("available")
    await expect(page.locator("#presence")).to_have_attribute("data-state", "available")  # the server's state event

    # an offer arrives with a live countdown
    first = await _create(client, admin, channel="email", identity=f"email:{CUSTOMER_EMAIL}", queue="sales",
                          subject="订单 #1024", body="您好，我的订单 #1024 还没发货 <script>alert('x')</script>")
    offer = page.locator(f'[data-testid="offer-card"][data-interaction-id="{first}"]')
    await expect(offer).to_be_visible()
    await expect(offer.get_by_test_id("offer-countdown")).to_have_text(re.compile(r"^\d+ s$"))
    for text in ("李伟", "Gold", "Email", "售前咨询", "<script>alert('x')</script>"):
        await expect(offer).to_contain_text(text)
    await _shoot(page, artifact("console-offer.png"))
    await offer.get_by_test_id("offer-accept").click()
    await expect(offer).to_have_count(0)
    await expect(page.locator(f'[data-testid="conversation-tab"][data-interaction-id="{first}"]')).to_be_visible()

    # the transcript loads; a canned reply goes out, shows pending, then stored
    transcript = tid("transcript")
    inbound = transcript.locator('[data-testid="msg"][data-kind="inbound_message"]')
    await expect(inbound.first).to_contain_text("还没发货 <script>alert('x')</script>")
    await expect(transcript.locator('[data-testid="msg"][data-kind="accept"]')).to_have_count(1)
    await tid("canned-select").select_option("greeting")
    await expect(tid("reply-input")).to_have_value(CANNED[0].text)
    await tid("reply-send").click()
    replies = transcript.locator('[data-testid="msg"][data-kind="outbound_message"][data-actor="agent"]')
    await expect(replies).to_have_count(1)
    await expect(replies.first).to_have_attribute("data-touchpoint-id", re.compile(r"^\d+$"))  # acked
    stored = [t for t in (await _interaction(client, admin, first))["touchpoints"] if t["kind"] == "outbound_message"]
    assert [t["body"] for t in stored] == [CANNED[0].text]

    # a hostile customer message is shown as the text it is
    await client.app[INTAKE].receive(InboundMessage(
        channel=Channel.EMAIL, identity_kind=IdentityKind.EMAIL, address=CUSTOMER_EMAIL, queue="sales",
        body=f"图片打不开 {HOSTILE}", interaction_id=uuid.UUID(first)))
    await expect(inbound).to_have_count(2)
    await expect(inbound.last).to_contain_text(HOSTILE)
    assert await transcript.locator("img, script").count() == 0

    # the customer types; an internal note is marked as such
    client.app[FEED].signal(alice.id, {"type": "typing", "interaction_id": first})
    await expect(tid("customer-typing")).to_have_text("李伟 is typing…")
    await tid("note-input").fill("VIP 客户，优先处理")
    await tid("note-send").click()
    note = transcript.locator('[data-testid="msg"][data-kind="note"]')
    await expect(note).to_contain_text("VIP 客户，优先处理")
    await expect(note).to_contain_text("Internal")

    # the customer panel: profile and history from every channel, with the past disposition and notes
    panel = tid("customer-panel")
    await expect(tid("customer-name")).to_have_text("李伟")
    await expect(tid("customer-tier")).to_have_text("Gold")
    await expect(panel).to_contain_text(CUSTOMER_PHONE)
    items = panel.get_by_test_id("history-item")
    await expect(tid("history-more")).to_be_visible()
    first_page = await items.count()
    await tid("history-more").click()
    await expect(items).not_to_have_count(first_page)
    for channel in ("sms", "chat", "email"):
        await expect(panel.locator(f'[data-testid="history-item"][data-channel="{channel}"]').first).to_be_visible()
    await expect(panel).to_contain_text("Ended · 已解决")
    past_note = panel.locator('[data-testid="history-item"][data-kind="note"]')
    await expect(past_note).to_contain_text("地址已更新为浦东新区")
    await expect(past_note).to_contain_text("Bob Zhang")  # the wrap-up note names its author

    # a delivery failure shows on the message it is about
    async with db.transaction() as tx:
        event = await tx.agent_events.append(alice.id, "delivery", {
            "interaction_id": first, "touchpoint_id": stored[0]["id"], "status": "failed",
            "error": "550 mailbox unavailable"})
    client.app[FEED].publish([event])
    await expect(replies.first).to_contain_text("Not delivered: 550 mailbox unavailable")
    await panel.evaluate("el => { el.scrollTop = 0; }")
    await _shoot(page, artifact("console-conversation.png"))

    # the server drops the socket: the console says so, comes back, and a reply typed meanwhile is stored once
    await client.app[AGENT_HUB].close_all()
    await expect(tid("connection-status")).to_have_attribute("data-status", "reconnecting")
    await tid("reply-input").fill("网络恢复后也会送达")
    await tid("reply-send").click()
    await expect(tid("connection-status")).to_have_attribute("data-status", "online")
    await expect(replies).to_have_count(2)
    await expect(replies.last).to_have_attribute("data-touchpoint-id", re.compile(r"^\d+$"))
    bodies = [t["body"] for t in (await _interaction(client, admin, first))["touchpoints"]
              if t["kind"] == "outbound_message"]
    assert bodies == [CANNED[0].text, "网络恢复后也会送达"]

    # Chinese, remembered for next time
    await tid("lang-switch").select_option("zh-CN")
    await expect(tid("reply-send")).to_have_text("发送")
    await expect(tid("customer-tier")).to_have_text("黄金")
    await expect(tid("wrapup-submit")).to_have_text("结束会话")
    await expect(tid("state-select").locator("option:checked")).to_have_text("在线")
    assert await page.evaluate("() => localStorage.getItem('cc.console.language')") == "zh-CN"
    assert await page.evaluate("() => document.documentElement.lang") == "zh-CN"
    await _shoot(page, artifact("console-zh.png"))

    # a second conversation at the same time, transferred to another queue
    second = await _create(client, admin, channel="email", identity="email:chen.jing@example.cn", queue="sales",
                           body="发票抬头写错了", display_name="陈静", customer_tier="diamond")
    offer = page.locator(f'[data-testid="offer-card"][data-interaction-id="{second}"]')
    await offer.get_by_test_id("offer-accept").click()
    tabs = tid("conversation-tab")
    await expect(tabs).to_have_count(2)
    await page.locator(f'[data-testid="conversation-tab"][data-interaction-id="{second}"]').click()
    await expect(inbound.first).to_contain_text("发票抬头写错了")
    await expect(tid("customer-tier")).to_have_text("钻石")
    await tid("transfer-queue").select_option("support")
    await tid("transfer-submit").click()
    await expect(tabs).to_have_count(1)
    assert (await _interaction(client, admin, second))["interaction"]["queue"] == "support"

    # wrap-up with a disposition, then close
    await expect(tabs).to_have_attribute("aria-selected", "true")
    await tid("wrapup-disposition").select_option("resolved")
    await tid("wrapup-notes").fill("已催促仓库发货")
    await tid("wrapup-submit").click()
    await expect(page.locator("#conversation-state")).to_have_text("话后处理")
    await _shoot(page, artifact("console-wrapup.png"))
    await tid("close-button").click()
    await expect(tabs).to_have_count(0)
    closed = (await _interaction(client, admin, first))["interaction"]
    assert (closed["state"], closed["disposition"]) == ("closed", "resolved")

    # sign out
    await tid("logout").click()
    await expect(tid("login-user")).to_be_visible()
    assert dialogs == []
    assert _real_errors(errors) == []
    assert customer_id  # the SMS, chat and email above all belong to this one customer


async def test_a_reload_rebuilds_the_console_and_an_ended_session_returns_to_sign_in(
        client: TestClient, db: Database, browser: Browser) -> None:
    """A fresh page gets its conversations back from hello; a revoked session shows the sign-in form."""
    await make_agent(db, "root", role="admin")
    admin = await login(client, "root")
    client.session.cookie_jar.clear()
    await make_agent(db, "alice", skills={"sales": 7}, capacity={"email": 1})
    page = await browser.new_page(locale="zh-CN")
    dialogs, errors = _watch(page)
    tid = page.get_by_test_id
    await page.goto(str(client.make_url("/console/")))  # the trailing slash redirects
    await expect(tid("login-submit")).to_have_text("登录")  # the browser's language before any choice
    await tid("login-user").fill("alice")
    await tid("login-password").fill(PASSWORD)
    await tid("login-submit").click()
    await tid("state-select").select_option("available")
    interaction = await _create(client, admin, channel="email", identity="email:zhao@example.cn", queue="sales",
                                body="退货流程是怎样的？", display_name="赵敏")
    await tid("offer-accept").click()
    await expect(tid("conversation-tab")).to_have_count(1)

    await page.reload()
    await expect(page.locator(f'[data-testid="conversation-tab"][data-interaction-id="{interaction}"]')).to_be_visible()
    await expect(tid("transcript").locator('[data-kind="inbound_message"]')).to_have_text(re.compile("退货流程"))
    await expect(tid("state-select")).to_have_value("available")

    cookie = next(c for c in await page.context.cookies() if c["name"] == "cc_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert await page.evaluate("() => document.cookie") == ""  # the page's scripts cannot read the session
    assert (await client.post("/api/logout", headers=bearer(cookie["value"]))).status == 200
    await client.app[AGENT_HUB].close_all()
    await expect(tid("login-user")).to_be_visible()
    await expect(page.locator("#login-error")).to_have_text("登录已失效，请重新登录。")
    assert dialogs == []
    assert _real_errors(errors) == []


async def test_socket_and_store_rules_in_the_browser(client: TestClient, browser: Browser) -> None:
    """Backoff doubles from 250-500 ms up to 10 s; replayed events apply once; a resent reply is shown once."""
    page = await browser.new_page()
    await page.goto(str(client.make_url("/console")))
    result = await page.evaluate("""async () => {
        const { backoffDelay, ConsoleSocket } = await import('/console/static/socket.js');
        const { Store } = await import('/console/static/store.js');
        const delays = [0, 1, 2, 5, 10, 30].map((n) => [backoffDelay(n, () => 0), backoffDelay(n, () => 1)]);

        const applied = [];
        const socket = new ConsoleSocket({ onHello() {}, onEvent: (m) => applied.push(m.seq), onStatus() {} });
        socket.reconnectNow = () => applied.push('resync');
        socket.receive(JSON.stringify({ type: 'hello', seq: 7, resumed: true }));
        socket.lastSeq = 7;
        for (const seq of [6, 7, 8, 8, 9, null, 11]) socket.receive(JSON.stringify({ type: 'state', seq }));
        socket.stopPing();

        const store = new Store();
        const interaction = { id: 'i1', channel: 'chat', state: 'assigned', customer: { id: 'c1', name: 'x' } };
        store.applyHello({ resumed: false, seq: 1, agent: { id: 'a1' }, state: 'available', offers: [],
                           interactions: [interaction] });
        const conversation = store.conversations.get('i1');
        const pending = store.addPending(conversation, 'hello');
        store.apply({ type: 'ack', client_msg_id: pending.clientMsgId, touchpoint_id: 42, duplicate: true });
        return { delays, applied, pending: conversation.pending.size,
                 shown: [...conversation.touchpoints.values()].map((t) => [t.id, t.body]) };
    }""")
    assert result["delays"] == [[250, 500], [500, 1000], [1000, 2000], [5000, 10000], [5000, 10000], [5000, 10000]]
    assert result["applied"] == [8, 9, None, "resync"]  # 6-7 already seen, 8 once, 11 after 9 is a gap
    assert (result["pending"], result["shown"]) == (0, [[42, "hello"]])


# -- serving -------------------------------------------------------------------------------------


class _Markup(HTMLParser):
    """What index.html contains that a strict CSP or the i18n rule would forbid."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        self.problems += [f"{name}= on <{tag}>" for name in names if name == "style" or name.startswith("on")]

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.problems.append(f"hard-coded text {data.strip()!r}")


async def test_console_page_has_a_strict_policy_and_no_inline_code(client: TestClient) -> None:
    """/console carries the CSP and friends, and its markup needs no 'unsafe-inline' and holds no text."""
    response = await client.get("/console")
    assert response.status == 200
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.content_type == "text/html"
    markup = _Markup()
    markup.feed(await response.text())
    assert markup.problems == []

    script = await client.get("/console/static/main.js")
    assert script.status == 200
    assert script.content_type == "text/javascript"
    assert script.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    home = await client.get("/", allow_redirects=False)
    assert (home.status, home.headers["Location"]) == (302, "/console")


async def _raw_get(client: TestClient, raw_path: str) -> tuple[int, bytes]:
    """GET a path exactly as written (HTTP clients normalise ``..`` away before sending)."""
    url = client.make_url("/")
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(f"GET {raw_path} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_static_files_refuse_path_traversal(client: TestClient) -> None:
    """Nothing outside agent_ui/console is served, however the path is spelled."""
    secret = REPO_FILE_HEAD
    probes = [
        "/console/static/../../../pyproject.toml",
        "/console/static/..%2f..%2f..%2fpyproject.toml",
        "/console/static/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
        "/console/static/views/..%2F..%2F..%2F..%2Fpyproject.toml",
        "/console/static/%2Fetc%2Fpasswd",
        "/console/static/main.js%00.png",
        "/console/static/nope.js",
        "/console/static/.hidden.js",
    ]
    for probe in probes:
        status, body = await _raw_get(client, probe)
        assert status in (400, 404), (probe, status)
        assert secret not in body and b"root:" not in body, probe
    status, _ = await _raw_get(client, "/console/static/views/offers.js")
    assert status == 200


async def test_agent_list_is_for_signed_in_users_and_hides_disabled_accounts(client: TestClient,
                                                                             db: Database) -> None:
    """GET /api/agents: who can take a transfer, with presence, and nothing more."""
    await make_agent(db, "alice", display_name="王芳")
    gone = await make_agent(db, "zed")
    async with db.transaction() as tx:
        await tx.conn.execute("UPDATE agents SET disabled = true WHERE id = $1", gone.id)
    assert (await client.get("/api/agents")).status == 401
    token = await login(client, "alice")
    client.session.cookie_jar.clear()
    listed = await (await client.get("/api/agents", headers=bearer(token))).json()
    assert [(a["login"], a["display_name"], a["state"]) for a in listed] == [("alice", "王芳", "offline")]
    assert set(listed[0]) == {"id", "login", "display_name", "state"}


# -- static guarantees ---------------------------------------------------------------------------


def _console_sources() -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in sorted(CONSOLE_DIR.rglob("*")) if p.suffix in {".js", ".html"}}


def test_console_code_never_parses_html_or_evaluates_strings() -> None:
    """Text reaches the page only through textContent / Text nodes; nothing is eval'd."""
    forbidden = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
                           r"setTimeout\(\s*['\"`]|srcdoc|DOMParser|createContextualFragment")
    code = {p: re.sub(r"^\s*//.*$", "", text, flags=re.M) for p, text in _console_sources().items()}  # not comments
    hits = [f"{p.name}: {m.group(0)}" for p, text in code.items() for m in forbidden.finditer(text)]
    assert hits == []


def _table(source: str, name: str) -> set[str]:
    body = re.search(rf"const {name} = \{{(.*?)\n\}};", source, re.S)
    assert body, f"no table {name} in i18n.js"
    return set(re.findall(r'^\s*"([^"]+)":', body.group(1), re.M))


def test_every_ui_string_is_translated() -> None:
    """Both languages have the same keys, and every key the markup and code use exists."""
    i18n = (CONSOLE_DIR / "i18n.js").read_text(encoding="utf-8")
    english, chinese = _table(i18n, "en"), _table(i18n, "zhCN")
    assert english == chinese, {"only en": english - chinese, "only zh-CN": chinese - english}
    used: set[str] = set()
    for path, text in _console_sources().items():
        if path.suffix == ".html":
            used |= set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', text))
        elif path.name != "i18n.js":
            used |= set(re.findall(r'\bt\(\s*"([^"]+)"', text))
    assert used, "no translated strings found: the pattern is wrong"
    assert used - english == set()
