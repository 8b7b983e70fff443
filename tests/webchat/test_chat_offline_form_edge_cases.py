"""The offline form waits for an agent (max_wait does not close it) and keeps other tabs' pre-chat answers."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from tests.webchat.chat_customer import ChatCustomer


async def test_an_offline_form_after_the_router_gave_up_is_not_closed_unanswered_again(
    client: TestClient, db: Database
) -> None:
    customer = ChatCustomer(client)
    await customer.connect(topic="账单")  # the 'hurry' queue: nobody has the skill, max_wait 1s
    await customer.say("有人吗")
    await customer.expect("closed", timeout=15, reason="no_agent")
    await customer.expect("offline")
    # the customer does what the widget asks: fills in the offline form
    await customer.send("offline", email="qian@example.cn", message="请发邮件给我", client_msg_id="form-1")
    received = await customer.expect("offline_received")
    form_conversation = uuid.UUID(received["conversation_id"])
    # The form must wait for someone (or become an e-mail); it must not be closed as "no agent" and the
    # customer offered the same form again. Wait for the second no-agent close, which should not come.
    try:
        again = await customer.expect("closed", timeout=3, conversation_id=str(form_conversation))  # 3x max_wait
    except TimeoutError:
        again = None
    async with db.connection() as tx:
        interaction = await tx.interactions.get(form_conversation)
    assert interaction.attributes.get("offline_form") is True
    assert again is None and interaction.state != "closed", (again, interaction.state, interaction.disposition)
    await customer.close()


async def test_an_offline_form_in_one_tab_keeps_the_prechat_answers_given_in_another(
    client: TestClient, db: Database
) -> None:
    tab1 = ChatCustomer(client)
    await tab1.connect()  # opened before the pre-chat form was filled in
    tab2 = ChatCustomer(client)
    tab2.token = tab1.token
    await tab2.connect(name="王芳", topic="售后服务")
    await tab1.send("offline", email="wang@example.cn", message="没人在线，请回复我", client_msg_id="f1")
    received = await tab1.expect("offline_received")
    prechat = await db.fetchval("SELECT prechat FROM chat_visitors")
    assert prechat == {"name": "王芳", "topic": "售后服务", "email": "wang@example.cn"}
    async with db.connection() as tx:
        interaction = await tx.interactions.get(uuid.UUID(received["conversation_id"]))
    assert interaction.queue == "support"  # the topic chosen in the pre-chat form
    for tab in (tab1, tab2):
        await tab.close()
