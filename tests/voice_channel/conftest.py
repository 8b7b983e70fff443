"""The real application with a SIP listening point on 127.0.0.1, port 0, over a fresh database.

Settings come from YAML text through ``load_config`` (the same validation the
server does); ``voice_config`` lets a test change a few values.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

import channels.voice as voice
from contactcenter.api import app as app_module
from contactcenter.config import Settings, load_config
from contactcenter.db import Database
from tests.agent_console import AgentConsole
from tests.support import login, make_agent

HOOK_SECRET = "hook-secret-0123456789"
REALM = "cc.test"
VOICEMAIL = "sip:voicemail@127.0.0.1:5999"

CONFIG = """\
server:
  host: 127.0.0.1
  port: 0
  default_phone_region: CN
  timezone: Asia/Shanghai
tiers:
  gold: {{weight: 20, label: 黄金}}
skills:
  sales: {{label: 售前}}
queues:
  sales:
    label: 售前咨询
    channels: [voice, chat]
    skills: {{sales: 1}}
  hotline:
    label: 热线
    channels: [voice]
    skills: {{sales: 1}}
    max_wait: {max_wait}
    no_agent_action: callback
    callback_queue: {callback_queue}
  callbacks:
    label: 回拨
    channels: [voice]
    skills: {{sales: 1}}
  after_hours:
    channels: [voice]
    skills: {{sales: 1}}
    max_wait: 1s
    no_agent_action: voicemail
routing:
  offer_timeout: {{voice: 20s}}
  wrapup: {{voice: {wrapup}}}
  max_missed_offers: 0
channels:
  voice:
    sip:
      host: 127.0.0.1
      port: 0
      transports: [udp, tcp]
      queued_interval: {queued_interval}
      realm: {realm}
      voicemail_uri: {voicemail}
      gateways:
        - name: carrier
          allow: [127.0.0.0/8]
          secret: {secret}
        - name: pbx
          username: pbx-trunk
          password: pbx-password-1
      numbers:
        - {{number: "4008001234", queue: sales}}
        - {{number: "4008005678", queue: hotline}}
        - {{number: "4008009999", queue: after_hours}}
"""


def make_settings(tmp_path: Path, db_url: str, **values: Any) -> Settings:
    params = {"max_wait": "2s", "wrapup": "30s", "queued_interval": "30s", "realm": REALM, "secret": HOOK_SECRET,
              "voicemail": VOICEMAIL, "callback_queue": "null"}
    params.update(values)
    path = tmp_path / "voice.yaml"
    path.write_text(textwrap.dedent(CONFIG.format(**params)), encoding="utf-8")
    base = load_config(path, env={})
    return base.model_copy(update={"database": base.database.model_copy(update={"url": db_url})})


@pytest.fixture
def voice_config() -> dict[str, Any]:
    """Overrides for the YAML above (``max_wait``, ``wrapup``, ``queued_interval``, hotline's ``callback_queue``)."""
    return {}


@pytest.fixture
def settings(tmp_path: Path, db_url: str, voice_config: dict[str, Any]) -> Settings:
    return make_settings(tmp_path, db_url, **voice_config)


@pytest.fixture
async def client(settings: Settings, db: Database) -> AsyncIterator[TestClient]:
    app = app_module.build_app(settings, db)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as test_client:
        yield test_client


@pytest.fixture
def channel(client: TestClient) -> voice.VoiceChannel:
    return client.app[voice.VOICE]


@pytest.fixture
def sip_port(channel: voice.VoiceChannel) -> int:
    assert channel.shell.udp_port is not None
    return channel.shell.udp_port


@pytest.fixture
async def console_for(client: TestClient, db: Database) -> AsyncIterator[Callable[..., Any]]:
    """``await console_for("alice", skills=..., sip_uri=...)``: an agent, logged in, console connected."""
    opened: list[AgentConsole] = []

    async def make(login_name: str, **agent: Any) -> AgentConsole:
        agent.setdefault("skills", {"sales": 5})
        await make_agent(db, login_name, **agent)
        console = AgentConsole(client, await login(client, login_name))
        await console.connect()
        opened.append(console)
        return console

    yield make
    for console in opened:
        if console.ws is not None and not console.ws.closed:
            await console.disconnect()
