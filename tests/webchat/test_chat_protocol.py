"""The customer chat protocol end to end: real server, real agent console, real database."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from tests.agent_console import AgentConsole
from tests.support import bearer, login, make_agent
from tests.webchat.chat_customer import ChatCustomer


async def _agent(client: TestClient, db: Database, name: str = "alice", **agent: Any) -> AgentConsole:
    await make_agent(db, name, skills=agent.pop("skills", {"sales": 5, "support": 5}), **agent)
    console = AgentConsole(client, await login(client, name))
    client.session.cookie_jar.clear()
    await console.connect()
    await console.available()
    return console


async def test_hello_welcome_and_a_message_is_acked_only_once_stored(client: TestClient, db: Database) -> None:
    customer = ChatCustomer(client)
    welcome = await customer.connect(name="张三")
    assert welcome["conversation"] == {"id": None, "state": "none", "messages": []}
    assert welcome["greeting"] == "您好！有什么可以帮您？"
    assert welcome["online"] is False and welcome["offline_reason"] == "no_agent"
    assert welcome["prechat_fields"] == ["name", "email"]
    assert welcome["topics"] == ["售后服务", "账单"]
    assert len(welcome["visitor_token"]) >= 40

    ack = await customer.say("你好，我想问一下发货时间")
    # the ack names a touchpoint that is already committed: read it on another connection
    row = await db.fetchval("SELECT body FROM touchpoints WHERE id = $1", ack["id"])
    assert row == "你好，我想问一下发货时间"
    queue = await customer.expect("queue")
    assert queue["position"] == 1 and queue["estimated_wait_s"] == 30  # the queue's service_level, no history yet
    async with db.connection() as tx:
        interaction = await tx.interactions.get(uuid.UUID(ack["conversation_id"]))
        token_hashes = await tx.conn.fetch("SELECT token_hash FROM chat_visitors")
    assert interaction.channel == "chat" and interaction.queue == "sales" and interaction.state == "queued"
    assert interaction.attributes["widget"] == "shop"
    assert [bytes(r["token_hash"]) for r in token_hashes] != [customer.token.encode()]  # stored hashed

    # the same token later: same visitor, same conversation, full transcript
    await customer.close()
    again = await customer.connect()
    assert again["visitor_token"] == customer.token
    assert again["conversation"]["id"] == ack["conversation_id"]
    assert again["conversation"]["state"] == "waiting"
    assert [m["text"] for m in again["conversation"]["messages"]] == ["你好，我想问一下发货时间"]
    await customer.close()


async def test_agent_accepts_replies_types_and_closes(client: TestClient, db: Database) -> None:
    alice = await _agent(client, db, display_name="客服小李")
    customer = ChatCustomer(client)
    welcome = await customer.connect()
    assert welcome["online"] is True and welcome["offline_reason"] is None
    ack = await customer.say("在吗？")
    conversation = ack["conversation_id"]
    assert await alice.offer() == conversation
    await alice.accept(conversation)
    joined = await customer.expect("agent_joined")
    assert joined["agent_name"] == "客服小李"

    await alice.send("typing", interaction_id=conversation)
    typing = await customer.expect("typing")
    assert typing["from"] == "agent"
    reply = await alice.reply(conversation, "您好，在的！")
    message = await customer.expect("message", **{"from": "agent"})
    assert (message["text"], message["agent_name"], message["id"]) == (
        "您好，在的！", "客服小李", reply["touchpoint_id"])

    await customer.send("typing")
    assert (await alice.expect("typing"))["interaction_id"] == conversation
    await alice.send("note", interaction_id=conversation, text="内部备注：老客户")
    await customer.say("好的谢谢")
    got = await alice.expect("message", interaction_id=conversation)
    assert got["touchpoint"]["body"] in ("内部备注：老客户", "好的谢谢")

    await alice.send("wrapup", interaction_id=conversation, disposition="resolved")
    closed = await customer.expect("closed")
    assert closed["conversation_id"] == conversation and closed["transcript_available"] is True
    # the note never reached the customer, not live and not on reload
    assert not any(m.get("text") == "内部备注：老客户" for m in customer.received)
    await customer.close()
    reloaded = await customer.connect()
    texts = [m["text"] for m in reloaded["conversation"]["messages"]]
    assert texts == ["在吗？", "您好，在的！", "好的谢谢"]
    assert reloaded["conversation"]["state"] == "ended"
    await customer.close()
    await alice.disconnect()


async def test_reload_with_last_id_gets_the_missed_agent_messages(client: TestClient, db: Database) -> None:
    alice = await _agent(client, db)
    customer = ChatCustomer(client)
    await customer.connect()
    conversation = (await customer.say("第一条"))["conversation_id"]
    await alice.accept(await alice.offer())
    await customer.expect("agent_joined")
    await alice.reply(conversation, "回复一")
    await customer.expect("message", text="回复一")
    seen = customer.last_id
    await customer.close()

    missed = [await alice.reply(conversation, f"离线时的回复 {n}") for n in range(3)]
    welcome = await customer.connect(resume=True)
    assert welcome["conversation"]["state"] == "active"
    assert welcome["conversation"]["agent_name"] == "Alice"
    got = welcome["conversation"]["messages"]
    assert [m["id"] for m in got] == [a["touchpoint_id"] for a in missed]
    assert all(m["id"] > seen and m["from"] == "agent" for m in got)
    # and live again afterwards
    await alice.reply(conversation, "又来一条")
    await customer.expect("message", text="又来一条")
    await customer.close()
    await alice.disconnect()


async def test_origin_widget_and_bad_input_are_refused(client: TestClient, db: Database) -> None:
    response = await client.get("/chat/ws?widget=shop", headers={"Origin": "http://evil.test"})
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "bad_origin"
    response = await client.get("/chat/ws?widget=shop")  # no Origin at all
    assert response.status == 403
    response = await client.get("/chat/ws?widget=nope", headers={"Origin": "http://shop.test"})
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "unknown_widget"

    customer = ChatCustomer(client)
    await customer.open()
    await customer.send("hello", widget="nope")
    assert (await customer.expect("error"))["code"] == "unknown_widget"
    await customer.send("message", client_msg_id="m1", text="before hello")
    assert (await customer.expect("error"))["code"] == "hello_first"
    await customer.send("hello", widget="shop", email="not-an-email")
    assert (await customer.expect("error"))["code"] == "bad_email"
    await customer.send("hello", widget="shop", topic="不存在")
    assert (await customer.expect("error"))["code"] == "bad_topic"
    await customer.send("hello", widget="shop")
    await customer.expect("welcome")
    assert customer.ws is not None
    await customer.ws.send_str("{not json")
    assert (await customer.expect("error"))["code"] == "bad_json"
    await customer.send("dance")
    assert (await customer.expect("error"))["code"] == "bad_message"
    await customer.send("message", client_msg_id="long", text="长" * 5001)
    refused = await customer.expect("error")
    assert (refused["code"], refused["client_msg_id"]) == ("bad_message", "long")
    await customer.send("ping")
    await customer.expect("pong")  # still open after all that
    assert await db.fetchval("SELECT count(*) FROM touchpoints") == 0
    await customer.close()

    # a widget without ?widget= in the URL is checked at hello against its own origins
    other = ChatCustomer(client, widget="other", origin="http://other-shop.test")
    other.ws = await client.ws_connect("/chat/ws", headers={"Origin": "http://other-shop.test"})
    await other.send("hello", widget="shop")
    assert (await other.ws.receive_json(timeout=10))["code"] == "bad_origin"
    await other.ws.close()


async def test_prechat_email_links_the_chat_to_the_existing_customer(client: TestClient, db: Database) -> None:
    await make_agent(db, "root", role="admin")
    admin = await login(client, "root")
    client.session.cookie_jar.clear()
    created = await client.post("/api/interactions", headers=bearer(admin), json={
        "channel": "email", "identity": "email:Wang.Fang@Example.cn", "queue": "support",
        "subject": "发票", "body": "请开具发票"})
    assert created.status == 201
    customer_id = (await created.json())["customer_id"]

    customer = ChatCustomer(client)
    await customer.connect(name="王芳", email=" wang.fang@example.CN ", topic="售后服务")
    ack = await customer.say("我上周发邮件问过发票的事")
    history = await (await client.get(f"/api/customers/{customer_id}/history", headers=bearer(admin))).json()
    bodies = {(t["channel"], t["body"]) for t in history["touchpoints"] if t["kind"] == "inbound_message"}
    assert bodies == {("email", "请开具发票"), ("chat", "我上周发邮件问过发票的事")}
    profile = await (await client.get(f"/api/customers/{customer_id}", headers=bearer(admin))).json()
    kinds = sorted(i["kind"] for i in profile["customer"]["identities"])
    assert kinds == ["chat", "email"]
    interaction = await (await client.get(f"/api/interactions/{ack['conversation_id']}", headers=bearer(admin))).json()
    assert interaction["interaction"]["queue"] == "support"  # the topic's queue
    assert interaction["interaction"]["attributes"]["email_verified"] is False
    await customer.close()


async def test_an_anonymous_chat_joins_the_profile_when_the_email_comes_later(
    client: TestClient, db: Database
) -> None:
    await make_agent(db, "root", role="admin")
    admin = await login(client, "root")
    client.session.cookie_jar.clear()
    created = await client.post("/api/interactions", headers=bearer(admin), json={
        "channel": "email", "identity": "email:li@example.cn", "queue": "support", "body": "旧邮件"})
    customer_id = (await created.json())["customer_id"]
    customer = ChatCustomer(client)
    await customer.connect()
    await customer.say("匿名时说的话")
    await customer.send("hello", widget="shop", visitor_token=customer.token, email="li@example.cn")
    await customer.expect("welcome")
    history = await (await client.get(f"/api/customers/{customer_id}/history", headers=bearer(admin))).json()
    bodies = {t["body"] for t in history["touchpoints"] if t["kind"] == "inbound_message"}
    assert bodies == {"旧邮件", "匿名时说的话"}
    await customer.close()
