"""A channel without wrap-up time: closing a conversation closes it at once, without an error."""

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
    data["routing"]["wrapup"]["chat"] = "0s"
    return validate_settings(data, env={})


async def test_close_without_wrapup_time(client: TestClient, db: Database) -> None:
    await make_agent(db, "root", role="admin")
    await make_agent(db, "alice", skills={"sales": 7})
    admin = await login(client, "root")
    alice = AgentConsole(client, await login(client, "alice"))
    await alice.connect()
    await alice.available()
    response = await client.post("/api/interactions", headers=bearer(admin), json={
        "channel": "chat", "identity": "email:quick@shop.cn", "queue": "sales", "body": "在吗"})
    interaction = (await response.json())["interaction_id"]
    assert await alice.offer() == interaction
    await alice.accept(interaction)
    await alice.send("close", interaction_id=interaction, ref="c1")
    await alice.expect("closed", interaction_id=interaction)
    await alice.send("ping")
    await alice.expect("pong")  # no error came before it
    assert not [m for m in alice.received if m["type"] == "error"]
    state = await (await client.get(f"/api/interactions/{interaction}", headers=bearer(admin))).json()
    assert state["interaction"]["state"] == "closed"
    await alice.disconnect()


async def test_close_is_refused_unless_the_agent_holds_the_conversation(client: TestClient, db: Database) -> None:
    """Close is checked against the router's memory first; refusals still say exactly why."""
    await make_agent(db, "root", role="admin")
    await make_agent(db, "alice", skills={"sales": 7})
    await make_agent(db, "bob", skills={"sales": 7})
    admin = await login(client, "root")
    alice = AgentConsole(client, await login(client, "alice"))
    bob = AgentConsole(client, await login(client, "bob"))
    await alice.connect()
    await bob.connect()
    await alice.available()
    response = await client.post("/api/interactions", headers=bearer(admin), json={
        "channel": "chat", "identity": "email:held@shop.cn", "queue": "sales", "body": "还在吗"})
    interaction = (await response.json())["interaction_id"]
    assert await alice.offer() == interaction
    await alice.send("close", interaction_id=interaction, ref="offered")  # offered, not yet accepted
    assert (await alice.expect("error", ref="offered"))["code"] == "not_assigned"
    await alice.accept(interaction)
    await bob.send("close", interaction_id=interaction, ref="theirs")
    assert (await bob.expect("error", ref="theirs"))["code"] == "not_assigned"
    await bob.send("close", interaction_id="00000000-0000-4000-8000-000000000000", ref="unknown")
    assert (await bob.expect("error", ref="unknown"))["code"] == "unknown_interaction"
    await alice.send("close", interaction_id=interaction)
    await alice.expect("closed", interaction_id=interaction)
    await alice.send("close", interaction_id=interaction, ref="again")  # closed and forgotten by the router
    assert (await alice.expect("error", ref="again"))["code"] == "not_assigned"
    state = await (await client.get(f"/api/interactions/{interaction}", headers=bearer(admin))).json()
    assert state["interaction"]["state"] == "closed"
    assert state["interaction"]["agent_id"] is not None
    await alice.disconnect()
    await bob.disconnect()
