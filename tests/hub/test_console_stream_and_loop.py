"""The console's event stream and message loop under bursts, concurrent call events and failures."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from contactcenter.api.keys import FEED
from contactcenter.db import Database
from contactcenter.hub.actions import AgentActions
from tests.agent_console import AgentConsole, connected_console
from tests.support import bearer, login, make_agent


async def test_a_burst_of_more_than_256_events_reaches_the_console(client: TestClient, db: Database) -> None:
    """A batch committed at once (a rebuild, a busy router batch, a console stuck in a slow send)
    publishes more events than AgentSubscription keeps (256): the rest must still be sent."""
    alice = await connected_console(client, db, "alice", skills={"sales": 7})
    await alice.send("ping")
    await alice.expect("pong")
    agent_id = uuid.UUID(alice.hello["agent"]["id"])
    async with db.transaction() as tx:
        events = [await tx.agent_events.append(agent_id, "state", {"state": "offline", "reason": f"n{n}"})
                  for n in range(300)]
    client.app[FEED].publish(events)
    last = events[-1].seq
    try:
        await alice.expect("state", timeout=5, reason="n299")
    except TimeoutError:
        raise AssertionError(f"console stopped at seq {alice.last_seq} of {last}") from None
    await alice.disconnect()


async def test_two_consoles_ending_the_same_call_keep_both_connections(client: TestClient, db: Database) -> None:
    """Both of alice's consoles press "hang up" at once: one ends the call, the other must get an
    error (or nothing), never lose its connection."""
    await make_agent(db, "root", role="admin")
    admin = await login(client, "root")
    alice = await connected_console(client, db, "alice", skills={"sales": 7}, capacity={"voice": 1})
    second = AgentConsole(client, alice.token)
    await second.connect()
    await alice.available()
    response = await client.post("/api/interactions", headers=bearer(admin), json={
        "channel": "voice", "identity": "phone:+8613800138000", "queue": "sales"})
    assert response.status == 201, await response.text()
    call = (await response.json())["interaction_id"]
    assert await alice.offer() == call
    await alice.accept(call)
    await second.expect("assigned")

    await asyncio.gather(
        alice.send("call_event", interaction_id=call, event="ended"),
        second.send("call_event", interaction_id=call, event="ended"),
    )
    await alice.expect("wrap_up", interaction_id=call)
    await second.expect("wrap_up", interaction_id=call)
    for console in (alice, second):
        await console.send("ping")
        await console.expect_where(lambda m: m["type"] == "pong")  # a closed console never answers
    await alice.disconnect()
    await second.disconnect()


async def test_an_unexpected_failure_answers_internal_and_keeps_the_console(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug in one action is that message's error, not the end of the agent's connection."""
    alice = await connected_console(client, db, "alice", skills={"sales": 7})
    real_handle = AgentActions.handle

    async def broken_note(self: AgentActions, agent: Any, message: Any) -> Any:
        if getattr(message, "type", None) == "note":
            raise RuntimeError("a bug")
        return await real_handle(self, agent, message)

    monkeypatch.setattr(AgentActions, "handle", broken_note)
    await alice.send("note", interaction_id=str(uuid.uuid4()), text="x", ref="n1")
    await alice.expect("error", code="internal", ref="n1")
    await alice.send("ping")
    await alice.expect("pong")
    await alice.disconnect()
