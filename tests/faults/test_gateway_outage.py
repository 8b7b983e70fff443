"""The SMS provider's API goes away (not listening, then 503s) and comes back.

Replies written meanwhile wait in the outbox, visibly, and each is delivered
exactly once when the provider answers again.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from aiohttp.test_utils import TestClient

from channels.sms.signatures import twilio_signature
from contactcenter.db import Database
from tests.agent_console import AgentConsole
from tests.faults.conftest import PUBLIC_URL, TWILIO_NUMBER, TWILIO_TOKEN, StagedGateway, count
from tests.support import login, make_agent, wait_for

REPLIES = 8
CUSTOMER = "+8613912345678"


async def _text_in(client: TestClient, body: str) -> None:
    path = "/sms/tw/inbound"
    fields = {"MessageSid": "SMin1", "From": CUSTOMER, "To": TWILIO_NUMBER, "Body": body, "NumMedia": "0"}
    headers = {"X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, PUBLIC_URL + path, fields.items()),
               "Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post(path, data=urlencode(fields).encode(), headers=headers)
    assert response.status == 200, await response.text()


async def _scraped_backlog(client: TestClient) -> int:
    """The SMS backlog as ``/metrics`` shows it."""
    response = await client.get("/metrics")
    assert response.status == 200
    for line in (await response.text()).splitlines():
        if line.startswith('contactcenter_outbox_pending{channel="sms"}'):
            return int(float(line.split()[-1]))
    return 0


async def test_replies_wait_for_the_gateway_and_go_out_exactly_once(
    client: TestClient, db: Database, provider: StagedGateway
) -> None:
    await make_agent(db, "bob", skills={"sales": 5})
    bob = AgentConsole(client, await login(client, "bob"))
    await bob.connect()
    await bob.available()
    await _text_in(client, "我的订单到哪了？")
    interaction = await bob.offer()
    await bob.accept(interaction)

    await provider.go_down()
    texts = [f"回复 {n}" for n in range(REPLIES)]
    for text in texts:
        await bob.reply(interaction, text)  # stored and queued: the agent is not held up

    async def retried(times: int) -> bool:
        """Every reply is still waiting and has been tried at least ``times`` times."""
        row = await db.pool.fetchrow(
            "SELECT count(*) AS n, min(attempts) AS least FROM outbox WHERE channel = 'sms' AND status = 'pending'")
        return row["n"] == REPLIES and row["least"] >= times

    await wait_for(lambda: retried(2), 10, "every reply to fail twice against the closed port")
    assert await count(db, "SELECT count(*) FROM outbox WHERE status = 'pending'") == REPLIES  # the backlog
    assert await _scraped_backlog(client) == REPLIES
    assert provider.captured == []

    provider.script = [(503, {"code": 20500, "message": "Service Unavailable"})] * 3
    await provider.come_back()

    async def all_sent() -> bool:
        return await count(db, "SELECT count(*) FROM outbox WHERE channel = 'sms' AND status = 'sent'") == REPLIES

    await wait_for(all_sent, 15, "every reply to be delivered once the gateway is back")
    assert await count(db, "SELECT count(*) FROM outbox WHERE status = 'pending'") == 0
    accepted = [c for c in provider.captured if c.status == 201]
    assert sorted(c.form["Body"] for c in accepted) == sorted(texts)  # each exactly once
    assert len(provider.accepted) == REPLIES
    assert [c.status for c in provider.captured].count(503) == 3
    outbox_ids = [dict(parse_qsl(c.form["StatusCallback"].split("?", 1)[1]))["outbox_id"] for c in accepted]
    assert len(set(outbox_ids)) == REPLIES
    await bob.disconnect()
