"""Web-chat fixtures: settings with widgets, the app with the chat channel, and a shop page.

``shop`` is a second aiohttp server standing for a merchant's site: it serves
a page with the widget's script tag, and its origin is one of the widget's
``allowed_origins``. The page learns the contact center's URL from
``shop.cc_url`` once the ``client`` fixture's server is up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from contactcenter.config import Settings, validate_settings
from contactcenter.db import Database

TEST_CONFIG = Path(__file__).resolve().parents[1] / "fixtures" / "test.yaml"
OTHER_ORIGIN = "http://other-shop.test"

SHOP_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>小店 · Little shop</title>
<style>body {{ font: 16px serif; }} div, button, input {{ color: red !important; border: 5px solid lime; }}</style>
</head><body><h1>小店 Little shop</h1><p>Products…</p>
<script src="{cc_url}/widget.js" data-widget="{widget}" async></script>
</body></html>"""


@dataclass
class Shop:
    """The merchant's site: its origin and the page embedding the widget."""

    origin: str = ""
    cc_url: str = ""
    widget: str = "shop"
    lang: str = "zh-CN"
    extra: dict[str, Any] = field(default_factory=dict)

    def url(self, path: str = "/") -> str:
        return self.origin + path


@pytest.fixture
async def shop() -> AsyncIterator[Shop]:
    state = Shop()

    async def page(request: web.Request) -> web.Response:
        html = SHOP_PAGE.format(cc_url=state.cc_url, widget=request.query.get("widget", state.widget),
                                lang=state.lang)
        return web.Response(text=html, content_type="text/html")

    async def blank(request: web.Request) -> web.Response:
        html = SHOP_PAGE.format(cc_url="", widget="", lang=state.lang).split("<script")[0] + "</body></html>"
        return web.Response(text=html, content_type="text/html")

    async def no_icon(request: web.Request) -> web.Response:
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/blank", blank)
    app.router.add_get("/favicon.ico", no_icon)  # browsers ask; no 404 in the page's console
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    state.origin = f"http://127.0.0.1:{server.port}"
    yield state
    await server.close()


def webchat_config(db_url: str, shop_origin: str) -> dict[str, Any]:
    """The tests' configuration plus chat widgets and a queue that gives up quickly."""
    data = yaml.safe_load(TEST_CONFIG.read_text(encoding="utf-8"))
    data["database"] = {"url": db_url}
    data["queues"]["hurry"] = {"channels": ["chat"], "skills": {"billing": 1}, "max_wait": "1s",
                               "no_agent_action": "email_followup"}
    data["channels"] = {"webchat": {"widgets": [
        {"name": "shop", "allowed_origins": [shop_origin, "http://shop.test"], "queue": "sales",
         "topics": {"售后服务": "support", "账单": "hurry"}, "greeting": "您好！有什么可以帮您？",
         "prechat_fields": ["name", "email"]},
        {"name": "night", "allowed_origins": ["http://shop.test"], "queue": "sales",
         "business_hours": {"days": {}}},
        {"name": "other", "allowed_origins": [OTHER_ORIGIN], "queue": "support"},
    ]}}
    return data


@pytest.fixture
def settings(db_url: str, shop: Shop) -> Settings:
    return validate_settings(webchat_config(db_url, shop.origin), env={})


def build_chat_app(settings: Settings, db: Database) -> web.Application:
    """The real app, chat channel included."""
    from contactcenter.api.app import build_app

    return build_app(settings, db)


@pytest.fixture
async def client(settings: Settings, db: Database, shop: Shop) -> AsyncIterator[TestClient]:
    app = build_chat_app(settings, db)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as test_client:
        shop.cc_url = str(test_client.make_url("")).rstrip("/")
        yield test_client
