"""Nobody there: closed hours, no agent, the router giving up; the offline form and transcripts."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from tests.webchat.chat_customer import ChatCustomer


async def test_outside_business_hours_the_widget_is_offline(client: TestClient) -> None:
    customer = ChatCustomer(client, widget="night")
    welcome = await customer.connect()
    assert (welcome["online"], welcome["offline_reason"]) == (False, "closed_hours")
    await customer.close()


async def test_the_offline_form_queues_a_chat_marked_offline_form(client: TestClient, db: Database) -> None:
    customer = ChatCustomer(client)
    welcome = await customer.connect()
    assert welcome["offline_reason"] == "no_agent"
    await customer.send("offline", name="赵六", email="Zhao6@Example.cn", message="请给我回电话", client_msg_id="f1")
    received = await customer.expect("offline_received")
    await customer.send("offline", name="赵六", email="zhao6@example.cn", message="请给我回电话", client_msg_id="f1")
    again = await customer.expect("offline_received")
    assert again["id"] == received["id"]  # a resent form is stored once
    async with db.connection() as tx:
        interaction = await tx.interactions.get(uuid.UUID(received["conversation_id"]))
        customer_row = await tx.customers.find_by_identity("email", "zhao6@example.cn")
        touchpoints = await tx.touchpoints.for_interaction(interaction.id)
    assert interaction.state == "queued" and interaction.channel == "chat"
    assert interaction.attributes["offline_form"] is True
    assert interaction.attributes["claimed_email"] == "zhao6@example.cn"
    assert customer_row is not None and customer_row.id == interaction.customer_id
    assert customer_row.display_name == "赵六"
    assert [t.body for t in touchpoints if t.kind == "inbound_message"] == ["请给我回电话"]
    await customer.send("offline", name="x", email="nope", message="hi")
    assert (await customer.expect("error"))["code"] == "bad_email"
    await customer.close()


async def test_when_the_router_gives_up_the_widget_offers_the_offline_form(client: TestClient) -> None:
    customer = ChatCustomer(client)
    await customer.connect(topic="账单")  # the 'hurry' queue: nobody has the skill, max_wait 1s
    ack = await customer.say("有人吗")
    closed = await customer.expect("closed", timeout=15)
    assert (closed["conversation_id"], closed["reason"]) == (ack["conversation_id"], "no_agent")
    offline = await customer.expect("offline")
    assert offline["reason"] == "no_agent"
    await customer.close()


async def test_a_transcript_goes_to_the_email_outbox_a_few_times_at_most(client: TestClient, db: Database) -> None:
    customer = ChatCustomer(client)
    await customer.connect(language="en")
    await customer.send("transcript", email="me@example.cn")
    assert (await customer.expect("error"))["code"] == "no_conversation"
    ack = await customer.say("请把记录发给我")
    await customer.send("transcript", email="Me@Example.cn")
    queued = await customer.expect("transcript_queued")
    assert queued["email"] == "me@example.cn"
    row = await db.pool.fetchrow("SELECT channel, interaction_id, payload FROM outbox")
    assert row["channel"] == "email" and str(row["interaction_id"]) == ack["conversation_id"]
    payload = row["payload"]
    assert (payload["kind"], payload["to"], payload["language"]) == ("transcript", ["me@example.cn"], "en")
    assert "请把记录发给我" in payload["text"] and payload["subject"] == "Your chat transcript"
    for _ in range(2):
        await customer.send("transcript", email="me@example.cn")
        await customer.expect("transcript_queued")
    await customer.send("transcript", email="me@example.cn")
    assert (await customer.expect("error"))["code"] == "too_many"
    await customer.send("transcript", email="not an address")
    assert (await customer.expect("error"))["code"] == "bad_email"
    await customer.close()
