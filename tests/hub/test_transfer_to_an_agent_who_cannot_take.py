"""A transfer to an agent who cannot take the interaction's channel is open to every agent who can."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from tests.agent_console import AgentConsole
from tests.support import bearer, login, make_agent


async def _console(client: TestClient, db: Database, login_name: str, **agent: Any) -> AgentConsole:
    await make_agent(db, login_name, **agent)
    console = AgentConsole(client, await login(client, login_name))
    await console.connect()
    return console


async def _chat(client: TestClient, admin: str, queue: str, email: str) -> str:
    response = await client.post("/api/interactions", headers=bearer(admin), json={
        "channel": "chat", "identity": f"email:{email}", "queue": queue, "body": "hi"})
    assert response.status == 201, await response.text()
    return (await response.json())["interaction_id"]


async def test_a_transfer_to_an_agent_who_cannot_take_the_channel_does_not_strand_it(
    client: TestClient, db: Database,
) -> None:
    """bob handles no chat (capacity 0) but is available; alice transfers a chat to him. The chat must
    not wait for bob forever while carol, free and skilled, is available."""
    await make_agent(db, "root", role="admin")
    admin = await login(client, "root")
    alice = await _console(client, db, "alice", skills={"sales": 7}, capacity={"chat": 1})
    bob = await _console(client, db, "bob", skills={"sales": 7}, capacity={"chat": 0, "email": 5})
    carol = await _console(client, db, "carol", skills={"sales": 5}, capacity={"chat": 1})
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
