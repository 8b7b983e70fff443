"""Agent replies (``cc_agent_reply``): stored once per client_msg_id, acked, queued, refused when not yours.

The SMS reply guard (no texts to a number that opted out) is tested end to end in
tests/sms/test_sms_conversation.py::test_stop_refuses_replies_until_start: the refused
reply stores nothing, and after START the guarded path stores and sends it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from tests.agent_console import AgentConsole
from tests.support import bearer, login, make_agent


async def _assigned(client: TestClient, db: Database, channel: str, email: str) -> tuple[AgentConsole, str]:
    """A console for alice (available, sales) holding a new interaction on ``channel``."""
    await make_agent(db, "root", role="admin")
    await make_agent(db, "alice", skills={"sales": 7}, display_name="Alice 王")
    admin = await login(client, "root")
    alice = AgentConsole(client, await login(client, "alice"))
    await alice.connect()
    await alice.available()
    response = await client.post("/api/interactions", headers=bearer(admin), json={
        "channel": channel, "identity": f"email:{email}", "queue": "sales", "body": "你好", "subject": "订单"})
    assert response.status == 201, await response.text()
    interaction = (await response.json())["interaction_id"]
    assert await alice.offer() == interaction
    await alice.accept(interaction)
    return alice, interaction


async def _outbound(db: Database, interaction: str) -> list[dict[str, Any]]:
    async with db.connection() as tx:
        rows = await tx.conn.fetch(
            "SELECT id, customer_id, interaction_id, kind, channel, actor_kind, actor_id, body, payload, created_at "
            "FROM touchpoints WHERE interaction_id = $1 AND kind = 'outbound_message' ORDER BY id",
            uuid.UUID(interaction))
    return [dict(r) for r in rows]


async def _stored_event(db: Database, agent_login: str, seq: int) -> dict[str, Any]:
    async with db.connection() as tx:
        row = await tx.conn.fetchrow(
            "SELECT e.type, e.payload FROM agent_events e JOIN agents a ON a.id = e.agent_id "
            "WHERE a.login = $1 AND e.seq = $2", agent_login, seq)
    assert row is not None
    return {"type": row["type"], "seq": seq, **row["payload"]}


async def test_a_resent_reply_is_stored_once_and_acked_as_duplicate(client: TestClient, db: Database) -> None:
    alice, interaction = await _assigned(client, db, "chat", "twice@shop.cn")
    await alice.send("reply", interaction_id=interaction, text="您好，马上为您查询", client_msg_id="m-1")
    first = await alice.expect("ack", client_msg_id="m-1")
    [stored] = await _outbound(db, interaction)
    assert first["touchpoint_id"] == stored["id"] and first["interaction_id"] == interaction
    assert "duplicate" not in first
    tp = first["touchpoint"]
    assert (tp["id"], tp["interaction_id"], tp["customer_id"]) == (
        stored["id"], interaction, str(stored["customer_id"]))
    assert (tp["kind"], tp["channel"], tp["actor_kind"], tp["body"]) == (
        "outbound_message", "chat", "agent", "您好，马上为您查询")
    assert tp["actor_id"] == stored["actor_id"] and uuid.UUID(tp["actor_id"])
    assert tp["payload"] == stored["payload"] == {"agent_name": "Alice 王", "client_msg_id": "m-1"}
    assert datetime.fromisoformat(tp["created_at"]) == stored["created_at"]
    # what the console got live is what it gets again when it resumes from an earlier number
    assert await _stored_event(db, "alice", first["seq"]) == first

    # the console resends after a reconnect, even with other text: nothing new is stored
    await alice.send("reply", interaction_id=interaction, text="重发", client_msg_id="m-1")
    again = await alice.expect("ack", client_msg_id="m-1")
    assert again == {"type": "ack", "seq": first["seq"] + 1, "client_msg_id": "m-1",
                     "touchpoint_id": first["touchpoint_id"], "duplicate": True}
    assert await _stored_event(db, "alice", again["seq"]) == again
    assert len(await _outbound(db, interaction)) == 1
    async with db.connection() as tx:
        assert await tx.conn.fetchval("SELECT count(*) FROM outbox") == 0  # chat is pushed, never queued
        assert await tx.conn.fetchval(
            "SELECT count(*) FROM inbound_dedupe WHERE channel = 'agent_reply' AND touchpoint_id = $1",
            stored["id"]) == 1

    # another client_msg_id is another reply
    ack = await alice.reply(interaction, "还有别的问题吗？")
    assert ack["touchpoint_id"] != first["touchpoint_id"]
    assert [t["body"] for t in await _outbound(db, interaction)] == ["您好，马上为您查询", "还有别的问题吗？"]
    await alice.disconnect()


async def test_an_email_reply_is_queued_once_in_the_outbox(client: TestClient, db: Database) -> None:
    alice, interaction = await _assigned(client, db, "email", "mail@shop.cn")
    ack = await alice.reply(interaction, "您的包裹已发出")
    assert ack["touchpoint"]["channel"] == "email"
    async with db.connection() as tx:
        rows = await tx.conn.fetch("SELECT channel, interaction_id, touchpoint_id, payload, status FROM outbox")
    assert [dict(r) for r in rows] == [{"channel": "email", "interaction_id": uuid.UUID(interaction),
                                        "touchpoint_id": ack["touchpoint_id"], "payload": {"text": "您的包裹已发出"},
                                        "status": "pending"}]
    await alice.send("reply", interaction_id=interaction, text="您的包裹已发出", client_msg_id=ack["client_msg_id"])
    assert (await alice.expect("ack", client_msg_id=ack["client_msg_id"]))["duplicate"] is True
    async with db.connection() as tx:
        assert await tx.conn.fetchval("SELECT count(*) FROM outbox") == 1
    await alice.disconnect()


async def test_a_reply_in_wrap_up_is_taken_and_after_close_refused(client: TestClient, db: Database) -> None:
    alice, interaction = await _assigned(client, db, "chat", "late@shop.cn")
    await alice.send("wrapup", interaction_id=interaction, disposition="resolved")
    await alice.expect("wrap_up", interaction_id=interaction)
    await alice.reply(interaction, "补充一句：发票已寄出")
    await alice.send("close", interaction_id=interaction)
    await alice.expect("closed", interaction_id=interaction)
    await alice.send("reply", interaction_id=interaction, text="太晚了", client_msg_id="late")
    error = await alice.expect("error")
    assert (error["code"], error["message"]) == ("not_assigned", "this interaction is not assigned to you")
    assert [t["body"] for t in await _outbound(db, interaction)] == ["补充一句：发票已寄出"]
    await alice.disconnect()


async def test_a_reply_to_another_agents_interaction_is_refused_and_stores_nothing(
    client: TestClient, db: Database
) -> None:
    alice, interaction = await _assigned(client, db, "email", "owned@shop.cn")
    bob_agent = await make_agent(db, "bob", skills={"sales": 7})
    bob = AgentConsole(client, await login(client, "bob"))
    await bob.connect()
    async with db.connection() as tx:
        seq_before = await tx.agent_events.latest_seq(bob_agent.id)

    await bob.send("reply", interaction_id=interaction, text="我来回答", client_msg_id="b-1", ref="r1")
    error = await bob.expect("error")
    assert (error["code"], error["message"], error["ref"]) == (
        "not_assigned", "this interaction is not assigned to you", "r1")
    unknown = uuid.uuid4()
    await bob.send("reply", interaction_id=str(unknown), text="?", client_msg_id="b-2")
    error = await bob.expect("error")
    assert (error["code"], error["message"]) == ("unknown_interaction", f"no such interaction: {unknown}")

    assert await _outbound(db, interaction) == []
    async with db.connection() as tx:
        assert await tx.conn.fetchval("SELECT count(*) FROM inbound_dedupe WHERE channel = 'agent_reply'") == 0
        assert await tx.conn.fetchval("SELECT count(*) FROM outbox") == 0
        assert await tx.agent_events.latest_seq(bob_agent.id) == seq_before  # no ack was numbered
    # the owner still replies (client_msg_ids are per agent: bob's "b-1" is not hers)
    await alice.send("reply", interaction_id=interaction, text="我是负责人", client_msg_id="b-1")
    assert "duplicate" not in await alice.expect("ack", client_msg_id="b-1")
    assert [t["body"] for t in await _outbound(db, interaction)] == ["我是负责人"]
    await alice.disconnect()
    await bob.disconnect()
