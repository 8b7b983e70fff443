"""A message stored while the router resynchronises is acked; every tab of a waiting visitor sees its queue."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from channels.webchat import CHAT_HUB
from contactcenter.db import Database
from tests.webchat.chat_customer import ChatCustomer


async def test_a_message_stored_while_the_router_resynchronises_is_acked(client: TestClient, db: Database) -> None:
    customer = ChatCustomer(client)
    await customer.connect()
    # The state the router is in after a routing batch failed to commit (a database blip): it rebuilds
    # from the store before its next job. The next job here is this message's arrival, which the store
    # already holds when the rebuild reads it.
    client.app[CHAT_HUB].live.router._stale = True
    await customer.send("message", client_msg_id="m1", text="数据库刚恢复")
    reply = await customer.expect_where(lambda m: m["type"] in ("ack", "error"))
    stored = await db.fetchval("SELECT count(*) FROM touchpoints WHERE kind = 'inbound_message'")
    assert stored == 1  # the message is committed (and the rebuild queued it) ...
    assert reply["type"] == "ack", reply  # ... so the customer must be told so, not "could not be sent"
    await customer.close()


async def test_a_second_tab_of_a_waiting_visitor_gets_queue_positions(client: TestClient) -> None:
    tab1 = ChatCustomer(client)
    await tab1.connect()
    tab2 = ChatCustomer(client)
    tab2.token = tab1.token
    await tab2.connect()
    ack = await tab1.say("两个标签页")
    await tab1.expect("queue")
    await tab2.expect("message", id=ack["id"])
    # queue positions are recomputed every 3 s for every connected customer who waits
    queue = await tab2.expect("queue", timeout=8)
    assert queue["conversation_id"] == ack["conversation_id"] and queue["position"] == 1
    for tab in (tab1, tab2):
        await tab.close()
