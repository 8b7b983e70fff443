"""Transfers racing the interaction moving on, to agents the router has not met, and to ones who cannot take it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from contactcenter.store.agents import AgentStore
from tests.agent_console import AgentConsole, connected_console
from tests.support import bearer, login, make_agent, wait_for


async def _chat(client: TestClient, admin: str, queue: str, email: str) -> str:
    response = await client.post("/api/interactions", headers=bearer(admin), json={
        "channel": "chat", "identity": f"email:{email}", "queue": queue, "body": "hi"})
    assert response.status == 201, await response.text()
    return (await response.json())["interaction_id"]


async def test_a_transfer_checked_before_the_agent_lookup_cannot_move_a_colleagues_interaction(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """alice's transfer to carol is checked (alice holds it), then waits on the lookup of "carol";
    meanwhile the interaction goes to bob, who accepts it. alice's transfer must then be refused."""
    await make_agent(db, "root", role="admin")
    admin = await login(client, "root")
    alice = await connected_console(client, db, "alice", skills={"sales": 7}, capacity={"chat": 1})
    other_tab = AgentConsole(client, alice.token)
    await other_tab.connect()
    bob = await connected_console(client, db, "bob", skills={"support": 5}, capacity={"chat": 1})
    carol = await connected_console(client, db, "carol", skills={"sales": 5})  # so that the router knows her
    await carol.disconnect()
    await alice.available()
    await bob.available()
    chat = await _chat(client, admin, "sales", "a@shop.cn")
    assert await alice.offer() == chat
    await alice.accept(chat)

    looking_up, go_on = asyncio.Event(), asyncio.Event()
    real_by_login = AgentStore.by_login

    async def slow_by_login(self: AgentStore, login_name: str) -> Any:
        if login_name == "carol":
            looking_up.set()
            await go_on.wait()  # the lookup's round trip, stretched
        return await real_by_login(self, login_name)

    monkeypatch.setattr(AgentStore, "by_login", slow_by_login)
    await alice.send("transfer", interaction_id=chat, agent="carol", ref="late")
    async with asyncio.timeout(10):
        await looking_up.wait()
    await other_tab.send("transfer", interaction_id=chat, queue="support")
    assert await bob.offer() == chat
    await bob.accept(chat)
    go_on.set()

    async def settled() -> bool:
        refused = any(m.get("ref") == "late" for m in alice.received)
        return refused or any(m["type"] == "revoked" for m in bob.received)

    await wait_for(settled, 10, "alice's late transfer to be refused or carried out")
    # alice no longer holds it: her transfer must not take bob's conversation away from him
    assert not [m for m in bob.received if m["type"] == "revoked"], bob.received[-1]
    async with db.connection() as tx:
        row = await tx.conn.fetchrow("SELECT state, agent_id::text FROM interactions WHERE id = $1::uuid", chat)
    assert (row["state"], row["agent_id"]) == ("assigned", bob.hello["agent"]["id"])
    for console in (alice, other_tab, bob):
        await console.disconnect()


async def test_a_transfer_to_a_listed_agent_who_has_not_connected_since_start_is_not_refused(
    client: TestClient, db: Database,
) -> None:
    """dave is in the transfer picker (GET /api/agents) but was added (``contactcenter`` CLI) after the
    server started and never opened a console: the router has never heard of him. A transfer to an
    offline agent puts the interaction back in the queue; to dave it is refused as unknown_agent."""
    await make_agent(db, "root", role="admin")
    admin = await login(client, "root")
    alice = await connected_console(client, db, "alice", skills={"sales": 7}, capacity={"chat": 1})
    await alice.available()
    chat = await _chat(client, admin, "sales", "c@shop.cn")
    assert await alice.offer() == chat
    await alice.accept(chat)
    await make_agent(db, "dave", skills={"sales": 5})
    listed = await (await client.get("/api/agents", headers=bearer(alice.token))).json()
    assert "dave" in {a["login"] for a in listed}
    await alice.send("transfer", interaction_id=chat, agent="dave")
    await alice.expect("revoked", interaction_id=chat, reason="transferred")  # not refused as unknown_agent
    await alice.disconnect()


async def test_a_transfer_to_an_agent_who_cannot_take_the_channel_does_not_strand_it(
    client: TestClient, db: Database,
) -> None:
    """bob handles no chat (capacity 0) but is available; alice transfers a chat to him. The chat must
    not wait for bob forever while carol, free and skilled, is available."""
    await make_agent(db, "root", role="admin")
    admin = await login(client, "root")
    alice = await connected_console(client, db, "alice", skills={"sales": 7}, capacity={"chat": 1})
    bob = await connected_console(client, db, "bob", skills={"sales": 7}, capacity={"chat": 0, "email": 5})
    carol = await connected_console(client, db, "carol", skills={"sales": 5}, capacity={"chat": 1})
    await alice.available()
    chat = await _chat(client, admin, "sales", "b@shop.cn")
    assert await alice.offer() == chat
    await alice.accept(chat)
    await bob.available()
    await carol.available()
    await alice.send("transfer", interaction_id=chat, agent="bob", ref="t")
    await alice.expect("revoked", interaction_id=chat, reason="transferred")
    assert await carol.offer(timeout=8) == chat  # not reserved for bob, who can never take it
    for console in (alice, bob, carol):
        await console.disconnect()
