"""Metrics fixtures: settings with alerts and a webhook receiver (the root ``client`` serves them).

``webhook`` is a real aiohttp server on a free port
that records what is POSTed to it; it can be told to fail the first requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from contactcenter.config import Settings, validate_settings
from tests.conftest import TEST_CONFIG
from tests.ui.browser import browser  # noqa: F401  (the browser fixture, for the UI test)


@dataclass
class Webhook:
    """What the alert receiver got, and how many requests it should refuse first."""

    url: str = ""
    fail_first: int = 0
    requests: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    async def next(self, timeout: float = 10) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            return await self.arrived.get()


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    state = Webhook()

    async def receive(request: web.Request) -> web.Response:
        state.requests += 1
        if state.requests <= state.fail_first:
            return web.Response(status=503)
        body = await request.json()
        state.received.append(body)
        await state.arrived.put(body)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/alerts", receive)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    state.url = f"http://127.0.0.1:{server.port}/alerts"
    yield state
    await server.close()


def metrics_config(db_url: str, webhook_url: str) -> dict[str, Any]:
    """The tests' configuration, with a waiting alert on sales and the webhook receiver."""
    data = yaml.safe_load(TEST_CONFIG.read_text(encoding="utf-8"))
    data["database"] = {"url": db_url}
    data["queues"]["sales"]["alert_waiting_above"] = 1
    data["alerts"] = {"webhook_url": webhook_url}
    return data


@pytest.fixture
def settings(db_url: str, webhook: Webhook) -> Settings:
    return validate_settings(metrics_config(db_url, webhook.url), env={})
