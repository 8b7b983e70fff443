"""Fault-test fixtures: a configuration with a chat widget and an SMS gateway, the app, the server.

The app is the real one from ``build_app`` (web chat, SMS, rate limiter,
database health monitor); a test may put its own limiter, with a fake clock,
in front. Crash tests run ``contactcenter serve`` as a process
(``tests.server_process.ServerProcess``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

import channels.sms as sms
from contactcenter.api.ratelimit import RateLimiter
from contactcenter.config import Settings, validate_settings
from contactcenter.db import Database
from contactcenter.webhook_signatures import webhook_signature
from tests.sms.fake_gateway import FakeGateway

REPO = Path(__file__).resolve().parents[2]
TEST_CONFIG = REPO / "tests" / "fixtures" / "test.yaml"
SHOP_ORIGIN = "http://shop.test"
SMS_SECRET = "fault-tests-webhook-secret"
SMS_NUMBER = "+8613900139000"  # our number on gateway "local", feeding sales
TWILIO_NUMBER = "+14155550123"  # our number on gateway "tw", feeding sales
TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_TOKEN = "fault-tests-twilio-token"
PUBLIC_URL = "https://cc.shop.example"  # what Twilio signs inbound webhooks over


def fault_config(gateway_url: str, db_url: str | None = None) -> dict[str, Any]:
    """The tests' configuration plus a chat widget and a webhook SMS gateway, both feeding ``sales``.

    Capacities are high and offers long so that a busy agent never misses an offer in these tests.
    """
    data: dict[str, Any] = yaml.safe_load(TEST_CONFIG.read_text(encoding="utf-8"))
    if db_url is not None:
        data["database"] = {"url": db_url}
    data["routing"]["capacity"] = {"chat": 50, "sms": 50, "email": 50}
    data["routing"]["offer_timeout"] = {"voice": "20s", "chat": "30s", "sms": "30s", "email": "30s"}
    data["server"]["public_url"] = PUBLIC_URL
    data["channels"] = {
        "webchat": {"widgets": [{"name": "shop", "allowed_origins": [SHOP_ORIGIN], "queue": "sales"}]},
        "sms": {"gateways": [
            {"name": "local", "type": "webhook", "secret": SMS_SECRET, "send_url": f"{gateway_url}/send",
             "numbers": [{"number": SMS_NUMBER, "queue": "sales"}]},
            {"name": "tw", "type": "twilio", "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN,
             "api_base": gateway_url, "numbers": [{"number": TWILIO_NUMBER, "queue": "sales"}]},
        ]},
    }
    return data


def write_config(folder: Path, data: dict[str, Any]) -> Path:
    path = folder / "contactcenter.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class StagedGateway(FakeGateway):
    """The stand-in provider, which can also stop listening and come back on the same port."""

    async def go_down(self) -> None:
        """Close the listener and every open connection: sends now fail with connection errors."""
        await self.close()
        self._runner = None

    async def come_back(self) -> None:
        """Listen again on the port the app was configured with."""
        await self.start(port=int(self.base_url.rsplit(":", 1)[1]))


@pytest.fixture
async def provider() -> AsyncIterator[StagedGateway]:
    fake = StagedGateway()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def settings(db_url: str, provider: FakeGateway) -> Settings:
    return validate_settings(fault_config(provider.base_url, db_url), env={})


@contextlib.asynccontextmanager
async def running_app(settings: Settings, db: Database, *,
                      limiter: RateLimiter | None = None) -> AsyncIterator[TestClient]:
    """The real app on 127.0.0.1:0 with both channels, fast SMS retries and the fault handling."""
    from contactcenter.api.app import build_app

    app = build_app(settings, db)
    app[sms.SMS_RETRY_BASE_S] = 0.05
    if limiter is not None:
        app.middlewares.insert(0, limiter.middleware)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        yield client


@pytest.fixture
async def client(settings: Settings, db: Database) -> AsyncIterator[TestClient]:
    async with running_app(settings, db) as test_client:
        yield test_client


# -- helpers -----------------------------------------------------------------------------------


def sms_body(sender: str, text: str, provider_id: str) -> tuple[bytes, dict[str, str]]:
    """A signed inbound text from the generic gateway: the raw body and its headers."""
    raw = json.dumps({"id": provider_id, "from": sender, "to": SMS_NUMBER, "text": text},
                     ensure_ascii=False).encode()
    return raw, {"X-Signature": webhook_signature(SMS_SECRET, raw), "Content-Type": "application/json"}


async def post_sms(session: aiohttp.ClientSession, base_url: str, sender: str, text: str,
                   provider_id: str) -> int:
    raw, headers = sms_body(sender, text, provider_id)
    async with session.post(f"{base_url}/sms/local/inbound", data=raw, headers=headers) as response:
        await response.read()
        return response.status


async def count(db: Database, query: str, *args: Any) -> int:
    return int(await db.fetchval(query, *args))
