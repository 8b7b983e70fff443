"""A returning customer goes first to the agent who last handled them (sticky routing through intake)."""

from __future__ import annotations

import pytest
import yaml
from aiohttp.test_utils import TestClient

from contactcenter.config import Settings, validate_settings
from contactcenter.db import Database
from tests.agent_console import AgentConsole
from tests.conftest import TEST_CONFIG
from tests.support import bearer, login, make_agent


@pytest.fixture
def settings(db_url: str) -> Settings:
    data = yaml.safe_load(TEST_CONFIG.read_text(encoding="utf-8"))
    data["database"] = {"url": db_url}
    data["queues"]["sales"]["sticky_wait"] = "30s"
    data["routing"]["wrapup"]["chat"] = "0s"
    return validate_settings(data, env={})


async def _new_chat(client: TestClient, admin: str, email: str, body: str) -> str:
    response = await client.post("/api/interactions", headers=bearer(admin), json={
        "channel": "chat", "identity": f"email:{email}", "queue": "sales", "body": body})
    assert response.status == 201
    return (await response.json())["interaction_id"]


async def test_returning_customer_is_offered_to_their_last_agent(client: TestClient, db: Database) -> None:
    await make_agent(db, "root", role="admin")
    for name in ("bob", "alice"):
        await make_agent(db, name, skills={"sales": 7}, capacity={"chat": 1})
    admin = await login(client, "root")
    bob = AgentConsole(client, await login(client, "bob"))
    alice = AgentConsole(client, await login(client, "alice"))
    await bob.connect()
    await bob.available()  # bob has been idle longest: without stickiness he gets the next chat
    await alice.connect()
    await alice.available()

    first = await _new_chat(client, admin, "regular@shop.cn", "第一次")
    assert await bob.offer() == first
    await bob.send("reject", interaction_id=first)
    assert await alice.offer() == first
    await alice.accept(first)
    await alice.send("close", interaction_id=first)
    await alice.expect("closed", interaction_id=first)

    # alice is now the one idle the shortest time; the returning customer still goes to her
    again = await _new_chat(client, admin, "regular@shop.cn", "又来了")
    assert await alice.offer() == again
    stranger = await _new_chat(client, admin, "new@shop.cn", "你好")
    assert await bob.offer() == stranger
    for console in (alice, bob):
        await console.disconnect()
