"""A gateway takes a text but its answer is lost or broken: the customer must not get it twice.

Twilio's Messages API has no idempotency key, so a send whose answer timed out after the request
went out is not retried: the row fails with "unknown outcome" and the agent is told to check, and
Twilio's own receipt (its StatusCallback names the outbox row) later shows what became of it. The
webhook gateway de-duplicates by Idempotency-Key, so there a lost answer is simply retried. An
answer whose status line arrived but whose body broke off is taken at its status.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from channels.sms import SMS_CHANNEL
from channels.sms.sender import SmsSender
from contactcenter.config import Settings
from contactcenter.db import Database
from tests.sms.conftest import (
    LOCAL_NUMBER,
    PUBLIC_URL,
    available_agent,
    post_twilio,
    post_webhook,
    running_app,
    texted_and_accepted,
)
from tests.sms.fake_gateway import FakeGateway
from tests.support import Outcomes

CUSTOMER = "+8613912345678"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class UnreliableAnswers(FakeGateway):
    """A provider that takes the first message at once but then holds its answer until ``release``
    (``cut_first`` instead: sends the answer's status line and breaks off in its body)."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    cut_first: bool = False

    async def _twilio(self, request: web.Request) -> web.StreamResponse:
        return await self._first_goes_wrong(super()._twilio, request)

    async def _webhook(self, request: web.Request) -> web.StreamResponse:
        return await self._first_goes_wrong(super()._webhook, request)

    async def _first_goes_wrong(self, handler: Handler, request: web.Request) -> web.StreamResponse:
        first = not self.captured
        response = await handler(request)
        if not first:
            return response
        if self.cut_first:
            assert isinstance(response, web.Response)
            cut = web.StreamResponse(status=response.status, headers={"Content-Type": "application/json"})
            cut.content_length = 200
            await cut.prepare(request)
            await cut.write(b'{"sid": "SM')
            assert request.transport is not None
            request.transport.close()
            return cut
        await self.release.wait()
        return response


@pytest.fixture
async def provider() -> AsyncIterator[UnreliableAnswers]:
    fake = UnreliableAnswers()
    await fake.start()
    yield fake
    fake.release.set()
    await fake.close()


@pytest.fixture
async def client(settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestClient]:
    # production waits 30 s for the gateway's answer; one second here
    assert SmsSender.__init__.__kwdefaults__ is not None
    monkeypatch.setitem(SmsSender.__init__.__kwdefaults__, "timeout", aiohttp.ClientTimeout(total=1))
    async with running_app(settings, db) as test_client:
        yield test_client


async def _outbox_row(db: Database, outbox_id: int) -> dict[str, Any]:
    async with db.connection() as tx:
        row = await tx.conn.fetchrow("SELECT status, attempts, last_error FROM outbox WHERE id = $1", outbox_id)
    return dict(row)


async def test_an_accepted_text_whose_answer_timed_out_is_not_sent_again(
    client: TestClient, db: Database, provider: UnreliableAnswers
) -> None:
    outcomes = Outcomes(client.app[SMS_CHANNEL].worker)  # type: ignore[arg-type]
    alice, interaction = await texted_and_accepted(client, db, CUSTOMER)
    await alice.reply(interaction, "您的退款已受理")
    first = await provider.next()
    assert first.status == 201  # Twilio took it: the customer gets this text
    item, failed = await outcomes.next()
    # We cannot know that it went out (the answer never came) and Twilio would text a resend again,
    # so it is not resent: the agent is told the outcome is unknown.
    assert failed is not None and failed.startswith("unknown outcome: tw did not answer"), failed
    delivery = await alice.expect("delivery", interaction_id=interaction, status="failed")
    assert delivery["error"] == failed
    assert (await _outbox_row(db, item.id))["status"] == "failed"
    provider.release.set()
    bodies = [c.form["Body"] for c in provider.captured]
    assert bodies == ["您的退款已受理"], f"one reply, {len(bodies)} texts to the customer: {provider.accepted}"

    # Twilio's receipt, to the StatusCallback that names the outbox row, tells the agent it went out.
    callback = first.form["StatusCallback"].removeprefix(PUBLIC_URL)
    fields = {"MessageSid": provider.accepted[0], "MessageStatus": "delivered"}
    assert (await post_twilio(client, callback, fields)).status == 200
    delivered = await alice.expect("delivery", interaction_id=interaction, status="delivered")
    assert delivered["touchpoint_id"] == delivery["touchpoint_id"]
    assert len(provider.captured) == 1
    await alice.disconnect()


async def test_a_webhook_gateway_send_whose_answer_timed_out_is_retried_with_its_key(
    client: TestClient, db: Database, provider: UnreliableAnswers
) -> None:
    outcomes = Outcomes(client.app[SMS_CHANNEL].worker)  # type: ignore[arg-type]
    bob = await available_agent(client, db, "bob", support=2)
    response = await post_webhook(client, "/sms/local/inbound",
                                  {"id": "gw-in-1", "from": CUSTOMER, "to": LOCAL_NUMBER, "text": "发票呢"})
    assert response.status == 200
    interaction = await bob.offer()
    await bob.accept(interaction)
    await bob.reply(interaction, "已开具")
    first = await provider.next()
    again = await provider.next()  # the answer to the first timed out: the same message, the same key
    item, failed = await outcomes.next()
    assert failed is None
    assert again.body == first.body
    assert again.headers["Idempotency-Key"] == first.headers["Idempotency-Key"] == str(item.id)
    assert (await _outbox_row(db, item.id))["status"] == "sent"
    await bob.disconnect()


async def test_an_acceptance_whose_body_broke_off_counts_as_sent(
    client: TestClient, db: Database, provider: UnreliableAnswers
) -> None:
    provider.cut_first = True
    outcomes = Outcomes(client.app[SMS_CHANNEL].worker)  # type: ignore[arg-type]
    alice, interaction = await texted_and_accepted(client, db, CUSTOMER)
    await alice.reply(interaction, "只发一次")
    assert (await provider.next()).status == 201
    item, failed = await outcomes.next()
    assert failed is None  # the 201 arrived: Twilio took it, whatever became of the rest of the answer
    async with db.connection() as tx:
        remembered = await tx.conn.fetchval("SELECT provider_id FROM sms_messages WHERE outbox_id = $1", item.id)
    assert remembered == f"outbox-{item.id}"  # its sid was in the lost part; receipts find it by outbox id
    assert (await _outbox_row(db, item.id))["status"] == "sent"
    assert len(provider.captured) == 1
    await alice.disconnect()
