"""Routing end to end: interactions in through the API, offers out to agent consoles."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from contactcenter.acd.intake import InboundMessage
from contactcenter.api.keys import INTAKE
from contactcenter.db import Database
from contactcenter.model import Channel, IdentityKind
from tests.agent_console import AgentConsole
from tests.support import bearer, login, make_agent


async def _create(client: TestClient, admin: str, queue: str, email: str, tier: str | None = None,
                  body: str = "你好") -> str:
    payload: dict[str, Any] = {"channel": "chat", "identity": f"email:{email}", "queue": queue, "body": body}
    if tier:
        payload["customer_tier"] = tier
    response = await client.post("/api/interactions", json=payload, headers=bearer(admin))
    assert response.status == 201, await response.text()
    return (await response.json())["interaction_id"]


async def _console(client: TestClient, db: Database, login_name: str, **agent: Any) -> AgentConsole:
    await make_agent(db, login_name, **agent)
    console = AgentConsole(client, await login(client, login_name))
    await console.connect()
    return console


async def _history_kinds(client: TestClient, admin: str, interaction_id: str) -> list[str]:
    data = await (await client.get(f"/api/interactions/{interaction_id}", headers=bearer(admin))).json()
    return [t["kind"] for t in data["touchpoints"]]


async def test_offers_follow_skills_tiers_and_capacity(client: TestClient, db: Database) -> None:
    await make_agent(db, "root", role="admin")
    admin = await login(client, "root")
    client.session.cookie_jar.clear()
    standard = await _create(client, admin, "sales", "plain@shop.cn")
    diamond = await _create(client, admin, "sales", "vip@shop.cn", tier="diamond")
    gold_support = await _create(client, admin, "support", "gold@shop.cn", tier="gold")

    alice = await _console(client, db, "alice", skills={"sales": 7}, capacity={"chat": 1})
    bob = await _console(client, db, "bob", skills={"support": 5}, capacity={"chat": 2})
    await alice.available()
    assert await alice.offer() == diamond  # the diamond customer goes first though she came later
    await bob.available()
    assert await bob.offer() == gold_support  # bob lacks the sales skill: only the support interaction

    assigned = await alice.accept(diamond)
    assert assigned["interaction"]["customer"]["tier"] == "diamond"
    ack = await alice.reply(diamond, "您好，请问有什么可以帮您？")
    assert ack["touchpoint"]["kind"] == "outbound_message"

    # a customer message reaches the agent who holds the conversation
    await client.app[INTAKE].receive(InboundMessage(
        channel=Channel.CHAT, identity_kind=IdentityKind.EMAIL, address="vip@shop.cn", queue="sales",
        body="我的订单还没到", interaction_id=uuid.UUID(diamond)))
    message = await alice.expect("message", interaction_id=diamond)
    assert message["touchpoint"]["body"] == "我的订单还没到"

    # transfer to support keeps the interaction and frees alice, who gets the next sales interaction
    await alice.send("transfer", interaction_id=diamond, queue="support")
    await alice.expect("revoked", interaction_id=diamond, reason="transferred")
    assert await alice.offer() == standard
    assert await bob.offer() == diamond  # bob has room for two chats

    await bob.accept(gold_support)
    await bob.send("wrapup", interaction_id=gold_support, disposition="resolved", notes="已退款")
    await bob.expect("wrap_up", interaction_id=gold_support)
    await bob.send("close", interaction_id=gold_support)
    await bob.expect("closed", interaction_id=gold_support)

    # reject puts it back; with nobody else for sales it comes back to alice later, never lost
    await alice.send("reject", interaction_id=standard)
    await alice.expect("revoked", interaction_id=standard, reason="rejected")

    kinds = await _history_kinds(client, admin, diamond)
    assert kinds[:6] == ["inbound_message", "offer", "accept", "outbound_message", "inbound_message", "transfer"]
    assert "offer" in kinds[6:]
    support_kinds = await _history_kinds(client, admin, gold_support)
    assert support_kinds[-3:] == ["state_change", "note", "state_change"]  # wrap-up, its note, closed
    closed = await (await client.get(f"/api/interactions/{gold_support}", headers=bearer(admin))).json()
    assert closed["interaction"]["state"] == "closed"
    assert closed["interaction"]["disposition"] == "resolved"
    for console in (alice, bob):
        await console.disconnect()


async def test_an_unanswered_offer_expires_and_comes_back(client: TestClient, db: Database) -> None:
    await make_agent(db, "root", role="admin")
    admin = await login(client, "root")
    alice = await _console(client, db, "alice", skills={"sales": 7}, capacity={"chat": 1})
    await alice.available()
    interaction = await _create(client, admin, "sales", "slow@shop.cn")
    assert await alice.offer() == interaction
    revoked = await alice.expect("revoked", timeout=10, interaction_id=interaction)
    assert revoked["reason"] == "expired"
    assert await alice.offer() == interaction  # back in the queue and offered again
    kinds = await _history_kinds(client, admin, interaction)
    assert kinds[:3] == ["inbound_message", "offer", "revoke"]
    await alice.disconnect()


async def test_bad_messages_get_errors_and_change_nothing(client: TestClient, db: Database) -> None:
    alice = await _console(client, db, "alice", skills={"sales": 7})
    assert alice.ws is not None
    await alice.ws.send_str("{not json")
    assert (await alice.expect("error"))["code"] == "bad_json"
    await alice.send("dance", ref="r1")
    error = await alice.expect("error")
    assert (error["code"], error["ref"]) == ("bad_message", "r1")
    await alice.send("accept", interaction_id=str(uuid.uuid4()))
    assert (await alice.expect("error"))["code"] in {"unknown_interaction", "not_offered"}
    await alice.send("ping")
    await alice.expect("pong")
    assert alice.hello["state"] == "offline"
    await alice.disconnect()


async def test_reconnect_with_last_seq_gets_every_missed_event_once(client: TestClient, db: Database) -> None:
    await make_agent(db, "root", role="admin")
    admin = await login(client, "root")
    alice = await _console(client, db, "alice", skills={"sales": 7}, capacity={"chat": 2})
    await alice.available()
    first = await _create(client, admin, "sales", "one@shop.cn")
    assert await alice.offer() == first
    await alice.accept(first)
    seen_before = alice.last_seq
    await alice.disconnect()
    alice.received.clear()

    # while the console is away: customer messages and a new offer
    for n in range(5):
        await client.app[INTAKE].receive(InboundMessage(
            channel=Channel.CHAT, identity_kind=IdentityKind.EMAIL, address="one@shop.cn", queue="sales",
            body=f"消息 {n}", interaction_id=uuid.UUID(first)))
    second = await _create(client, admin, "sales", "two@shop.cn")

    hello = await alice.connect(resume=True)
    assert hello["resumed"] is True
    bodies = [(await alice.expect("message"))["touchpoint"]["body"] for _ in range(5)]
    assert bodies == [f"消息 {n}" for n in range(5)]
    assert await alice.offer() == second
    numbered = [m["seq"] for m in alice.received if m.get("seq") is not None]
    assert numbered == list(range(seen_before + 1, alice.last_seq + 1))  # each once, in order
    await alice.disconnect()


async def test_console_needs_a_session_and_same_origin(client: TestClient, db: Database) -> None:
    await make_agent(db, "alice")
    token = await login(client, "alice")
    client.session.cookie_jar.clear()
    response = await client.get("/agent/ws")
    assert response.status == 401
    cross = await client.get("/agent/ws", headers={**bearer(token), "Origin": "https://evil.example"})
    assert cross.status == 403
