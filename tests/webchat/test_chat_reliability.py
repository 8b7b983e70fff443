"""Cut connections, resends, several tabs: every customer message stored once and in order."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections import Counter

from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from tests.agent_console import AgentConsole
from tests.support import login, make_agent
from tests.webchat.chat_customer import ChatCustomer

TOTAL = 200
CUT_EVERY = (23, 41, 17, 58, 31)  # messages sent on each connection before it is cut


async def _agent(client: TestClient, db: Database) -> AgentConsole:
    await make_agent(db, "alice", skills={"sales": 5}, capacity={"chat": 3})
    console = AgentConsole(client, await login(client, "alice"))
    client.session.cookie_jar.clear()
    await console.connect()
    await console.available()
    return console


def _cut(customer: ChatCustomer, *, abrupt: bool) -> None:
    """Drop the connection without waiting for anything: a closed laptop lid, or a tab's socket reset."""
    assert customer.ws is not None
    sock = customer.ws.get_extra_info("socket")
    if abrupt and sock is not None:
        sock.shutdown(socket.SHUT_RDWR)
    else:
        asyncio.get_running_loop().create_task(customer.ws.close())


async def test_200_messages_across_cut_connections_are_stored_once_in_order(
    client: TestClient, db: Database
) -> None:
    alice = await _agent(client, db)
    customer = ChatCustomer(client)
    await customer.connect()
    conversation = (await customer.say("开始"))["conversation_id"]
    await alice.accept(await alice.offer())
    await customer.expect("agent_joined")

    texts = {f"m{n:03d}": f"第 {n} 条消息" for n in range(TOTAL)}
    unacked: dict[str, str] = {}
    acked: dict[str, int] = {}
    pending = iter(texts.items())
    rounds = resent = 0
    while len(acked) < TOTAL:
        if rounds:
            await customer.connect(resume=True)
            for msg_id, text in list(unacked.items()):  # resend with the same ids, in order
                await customer.send("message", client_msg_id=msg_id, text=text)
                resent += 1
        budget = CUT_EVERY[rounds % len(CUT_EVERY)] if rounds < 8 else TOTAL
        for msg_id, text in pending:
            unacked[msg_id] = text
            await customer.send("message", client_msg_id=msg_id, text=text)
            budget -= 1
            if budget == 0:
                break
        if rounds < 8:
            # take a few acks, then cut mid-stream with the rest still in flight
            for _ in range(min(3, len(unacked))):
                ack = await customer.expect("ack")
                acked[ack["client_msg_id"]] = ack["id"]
                unacked.pop(ack["client_msg_id"], None)
            _cut(customer, abrupt=rounds % 2 == 0)
            assert customer._reader is not None
            await asyncio.wait_for(customer._reader, 10)
            customer._reader = None
            for message in customer.received:  # acks that made it before the cut count
                if message["type"] == "ack" and message["client_msg_id"] in texts:
                    acked[message["client_msg_id"]] = message["id"]
                    unacked.pop(message["client_msg_id"], None)
            customer.received.clear()
        else:
            while unacked:
                ack = await customer.expect("ack")
                acked[ack["client_msg_id"]] = ack["id"]
                unacked.pop(ack["client_msg_id"], None)
        rounds += 1
    assert rounds > 5 and resent > 0
    duplicates = await db.fetchval("SELECT count(*) FROM inbound_dedupe WHERE channel = 'chat'")
    assert duplicates == TOTAL + 1

    rows = await db.pool.fetch(
        """SELECT id, body, payload->>'client_msg_id' AS msg_id FROM touchpoints
           WHERE interaction_id = $1 AND kind = 'inbound_message' ORDER BY id""",
        uuid.UUID(conversation),
    )
    assert [r["body"] for r in rows] == ["开始", *texts.values()]  # once each, in the order written
    assert {r["msg_id"]: r["id"] for r in rows[1:]} == acked  # every ack named the stored touchpoint

    seen: Counter[str] = Counter()
    async with asyncio.timeout(20):
        while sum(seen.values()) < TOTAL:
            message = await alice.expect("message", interaction_id=conversation)
            seen[message["touchpoint"]["body"]] += 1
    assert set(seen) == set(texts.values()) and set(seen.values()) == {1}
    await customer.close()
    await alice.disconnect()


async def test_a_resent_message_is_acked_with_the_first_copy(client: TestClient, db: Database) -> None:
    customer = ChatCustomer(client)
    await customer.connect()
    first = await customer.say("只存一次", client_msg_id="same")
    again = await customer.say("只存一次", client_msg_id="same")
    assert again["id"] == first["id"] and again["duplicate"] is True and first["duplicate"] is False
    assert await db.fetchval("SELECT count(*) FROM touchpoints WHERE kind = 'inbound_message'") == 1
    await customer.close()


async def test_two_tabs_of_one_visitor_see_the_same_conversation(client: TestClient, db: Database) -> None:
    alice = await _agent(client, db)
    tab1 = ChatCustomer(client)
    await tab1.connect()
    tab2 = ChatCustomer(client)
    tab2.token = tab1.token
    await tab2.connect()
    ack = await tab1.say("从第一个标签页发的")
    echoed = await tab2.expect("message", **{"from": "customer"})
    assert (echoed["id"], echoed["text"]) == (ack["id"], "从第一个标签页发的")
    await alice.accept(await alice.offer())
    await alice.reply(ack["conversation_id"], "两个页面都能看到")
    for tab in (tab1, tab2):
        await tab.expect("agent_joined")
        await tab.expect("message", text="两个页面都能看到")
    ack2 = await tab2.say("第二个标签页")
    assert ack2["conversation_id"] == ack["conversation_id"]
    for tab in (tab1, tab2):
        await tab.close()
    await alice.disconnect()
