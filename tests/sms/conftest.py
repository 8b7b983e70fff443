"""SMS fixtures: settings with a Twilio and a webhook gateway pointed at a stand-in provider.

``settings`` and ``client`` override the root fixtures: the YAML goes through
``parse_config`` like a real file, and the app is the real one from
``build_app``, with the SMS channel set up (by the composition root once it
lists the channel, here otherwise) and a millisecond retry backoff.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

import channels.sms as sms
from channels.sms.signatures import twilio_signature
from contactcenter.config import Settings, parse_config
from contactcenter.db import Database
from contactcenter.webhook_signatures import webhook_signature
from tests.agent_console import AgentConsole
from tests.sms.fake_gateway import FakeGateway
from tests.support import Outcomes, login, make_agent

PUBLIC_URL = "https://cc.shop.example"
TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_TOKEN = "twilio-auth-token-for-tests"
WEBHOOK_SECRET = "webhook-secret-for-tests"
SALES_NUMBER = "+8613800138000"  # on gateway "tw", feeds sales
SUPPORT_NUMBER = "+14155550123"  # on gateway "tw", feeds support
LOCAL_NUMBER = "+8613900139000"  # on gateway "local" (written 13900139000 in the file), feeds support
HELP_TEXT = "回复 TD 退订。客服热线 400-800-1234。"


def sms_yaml(db_url: str, provider: str, *, public_url: str | None = PUBLIC_URL) -> str:
    return f"""
server:
  host: 127.0.0.1
  port: 0
  public_url: {json.dumps(public_url)}
  default_phone_region: CN
  timezone: Asia/Shanghai
database:
  url: {json.dumps(db_url)}
skills:
  sales: {{label: 售前}}
  support: {{label: 售后}}
queues:
  sales:
    channels: [chat, sms]
    skills: {{sales: 3}}
  support:
    channels: [chat, sms]
    skills: {{support: 1}}
routing:
  offer_timeout: {{sms: 60s}}
console:
  dispositions:
    - {{code: resolved, label: 已解决}}
channels:
  sms:
    gateways:
      - name: tw
        type: twilio
        account_sid: {TWILIO_SID}
        auth_token: ${{TWILIO_AUTH_TOKEN}}
        api_base: {provider}
        numbers:
          - {{number: "{SALES_NUMBER}", queue: sales}}
          - {{number: "{SUPPORT_NUMBER}", queue: support}}
        help_text: {HELP_TEXT}
      - name: local
        type: webhook
        secret: ${{SMS_WEBHOOK_SECRET}}
        send_url: {provider}/send
        numbers:
          - {{number: "13900139000", queue: support}}
"""


def make_settings(db_url: str, provider: FakeGateway, *, public_url: str | None = PUBLIC_URL) -> Settings:
    env = {"TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "SMS_WEBHOOK_SECRET": WEBHOOK_SECRET}
    return parse_config(sms_yaml(db_url, provider.base_url, public_url=public_url), source="tests/sms", env=env)


@pytest.fixture
async def provider() -> AsyncIterator[FakeGateway]:
    fake = FakeGateway()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def settings(db_url: str, provider: FakeGateway) -> Settings:
    return make_settings(db_url, provider)


@contextlib.asynccontextmanager
async def running_app(settings: Settings, db: Database) -> AsyncIterator[TestClient]:
    """The real application on 127.0.0.1:0, with the SMS channel and fast retries."""
    from contactcenter.api.app import build_app

    app = build_app(settings, db)
    app[sms.SMS_RETRY_BASE_S] = 0.01
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as test_client:
        yield test_client


@pytest.fixture
async def client(settings: Settings, db: Database) -> AsyncIterator[TestClient]:
    async with running_app(settings, db) as test_client:
        yield test_client


# -- posting as a gateway -------------------------------------------------------------------------


def inbound_form(sid: str, sender: str, to: str, body: str, **extra: str) -> dict[str, str]:
    """The fields Twilio posts for an incoming text (the ones we read, plus some we ignore)."""
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": TWILIO_SID, "From": sender, "To": to, "Body": body,
            "NumMedia": "0", "NumSegments": "1", "ApiVersion": "2010-04-01", "FromCountry": "CN", **extra}


async def post_twilio(client: TestClient, path: str, fields: dict[str, str], *, token: str = TWILIO_TOKEN,
                      signed_url: str | None = None, signature: str | None = None) -> ClientResponse:
    """POST ``fields`` as Twilio would, signed over ``PUBLIC_URL + path`` unless told otherwise."""
    url = signed_url if signed_url is not None else PUBLIC_URL + path
    headers = {"X-Twilio-Signature": signature or twilio_signature(token, url, fields.items()),
               "Content-Type": "application/x-www-form-urlencoded"}
    return await client.post(path, data=urlencode(fields).encode(), headers=headers)


async def post_webhook(client: TestClient, path: str, body: dict[str, Any], *,
                       secret: str = WEBHOOK_SECRET) -> ClientResponse:
    raw = json.dumps(body, ensure_ascii=False).encode()
    return await client.post(path, data=raw, headers={"X-Signature": webhook_signature(secret, raw),
                                                     "Content-Type": "application/json"})


# -- agents and the sender ------------------------------------------------------------------------


async def available_agent(client: TestClient, db: Database, login_name: str, **skills: int) -> AgentConsole:
    await make_agent(db, login_name, skills=skills)
    console = AgentConsole(client, await login(client, login_name))
    await console.connect()
    await console.available()
    return console


async def texted_and_accepted(client: TestClient, db: Database, customer: str) -> tuple[AgentConsole, str]:
    """``customer`` texts the sales number over Twilio; agent alice (sales) accepts: (her console, interaction)."""
    alice = await available_agent(client, db, "alice", sales=5)
    response = await post_twilio(client, "/sms/tw/inbound",
                                 inbound_form(f"SM{uuid.uuid4().hex}", customer, SALES_NUMBER, "你好"))
    assert response.status == 200
    interaction = await alice.offer()
    await alice.accept(interaction)
    return alice, interaction


@pytest.fixture
def outcomes(client: TestClient) -> Outcomes:
    """Each outcome the SMS outbox worker records, as it is written."""
    worker = client.app[sms.SMS_CHANNEL].worker
    assert worker is not None, "the outbox sender is not running"
    return Outcomes(worker)
