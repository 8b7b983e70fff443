"""A send whose outcome cannot be written would stay pending and go out again after every lease.

PostgreSQL refuses U+0000 in text and jsonb, so gateway answers are made storable (NUL and lone
surrogates become U+FFFD) before anything of them is kept: refusals, provider ids, receipts. And
when the outcome still cannot be written, the worker waits out a database blip and, if the
database refuses the details, records the row's bare status, so the customer is not texted again.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

import contactcenter.outbox_worker as outbox_worker
from channels.sms import SMS_CHANNEL
from channels.sms.outbound import Accepted, Refused, interpret
from channels.sms.parse import twilio_status, webhook_inbound, webhook_status
from contactcenter.db import Database, StoreError, StoreUnavailable
from contactcenter.outbox_worker import OutboxWorker
from tests.sms.conftest import PUBLIC_URL, SALES_NUMBER, post_twilio, texted_and_accepted
from tests.sms.fake_gateway import FakeGateway
from tests.support import Outcomes

CUSTOMER = "+8613912345678"


class _Finished:
    """Set each time the worker has finished writing (or failing to write) an outcome."""

    def __init__(self, worker: OutboxWorker) -> None:
        self.done: asyncio.Queue[int] = asyncio.Queue()
        original = worker._record

        async def spy(item: Any, **kwargs: Any) -> None:
            try:
                await original(item, **kwargs)
            finally:
                self.done.put_nowait(item.id)

        worker._record = spy  # type: ignore[method-assign]

    async def next(self) -> int:
        async with asyncio.timeout(10):
            return await self.done.get()


def _finished(client: TestClient) -> _Finished:
    worker = client.app[SMS_CHANNEL].worker
    assert worker is not None
    return _Finished(worker)


async def _row(db: Database, outbox_id: int) -> dict[str, Any]:
    async with db.connection() as tx:
        row = await tx.conn.fetchrow("SELECT status, attempts, next_attempt_at - now() AS due_in FROM outbox "
                                     "WHERE id = $1", outbox_id)
    return dict(row)


async def _expire_lease(client: TestClient, db: Database, outbox_id: int) -> None:
    async with db.connection() as tx:
        await tx.conn.execute("UPDATE outbox SET next_attempt_at = now() WHERE id = $1", outbox_id)
    client.app[SMS_CHANNEL].wake()


async def _statuses(db: Database, interaction: str) -> list[str]:
    async with db.connection() as tx:
        rows = await tx.conn.fetch("SELECT payload->>'status' FROM touchpoints WHERE interaction_id = $1 "
                                   "AND kind = 'delivery_status' ORDER BY id", uuid.UUID(interaction))
    return [r[0] for r in rows]


# -- gateway answers with a NUL ------------------------------------------------------------------


async def test_a_refusal_whose_message_holds_a_nul_is_still_marked_failed(
    client: TestClient, db: Database, provider: FakeGateway
) -> None:
    finished = _finished(client)
    alice, interaction = await texted_and_accepted(client, db, CUSTOMER)
    provider.script = [(400, {"code": 21211, "message": "invalid 'To' \u0000"})] * 2
    await alice.reply(interaction, "hello")
    assert (await provider.next()).status == 400
    outbox_id = await finished.next()
    row = await _row(db, outbox_id)
    assert row["status"] == "failed", (
        f"a permanent refusal left the row {row['status']} (attempt {row['attempts']}, due again in "
        f"{row['due_in']}): it is posted again after every lease, for ever")
    delivery = await alice.expect("delivery", interaction_id=interaction, status="failed")
    assert delivery["error"] == "tw: invalid 'To' \ufffd (code 21211)"
    await alice.disconnect()


async def test_an_acceptance_with_an_odd_provider_id_is_not_texted_again(
    client: TestClient, db: Database, provider: FakeGateway
) -> None:
    finished = _finished(client)
    alice, interaction = await texted_and_accepted(client, db, CUSTOMER)
    provider.script = [(201, {"sid": "SM\u00001", "status": "queued"})]
    await alice.reply(interaction, "只发一次")
    assert (await provider.next()).status == 201
    outbox_id = await finished.next()
    row = await _row(db, outbox_id)
    if row["status"] == "pending":  # not recorded: once the lease runs out (2 min) it goes again
        assert row["due_in"] > timedelta(seconds=60)
        await _expire_lease(client, db, outbox_id)
        await finished.next()
    assert len(provider.captured) == 1, f"one reply, {len(provider.captured)} texts: {provider.accepted}"

    # the receipt names the id as Twilio wrote it, and still finds the message under the storable one
    callback = provider.captured[0].form["StatusCallback"].removeprefix(PUBLIC_URL)
    fields = {"MessageSid": "SM\u00001", "MessageStatus": "undelivered", "ErrorCode": "30003",
              "ErrorMessage": "Unreachable \u0000 handset"}
    assert (await post_twilio(client, callback, fields)).status == 200
    delivery = await alice.expect("delivery", interaction_id=interaction, status="undelivered")
    assert delivery["error"] == "undelivered: Unreachable \ufffd handset (error 30003)"
    async with db.connection() as tx:
        stored = await tx.conn.fetchrow("SELECT provider_id, last_status FROM sms_messages WHERE outbox_id = $1",
                                        outbox_id)
    assert (stored["provider_id"], stored["last_status"]) == ("SM\ufffd1", "undelivered")
    await alice.disconnect()


def test_gateway_text_is_made_storable_the_same_way_on_every_path() -> None:
    assert interpret(201, b'{"sid": "SM\\u00001"}', fallback_id="outbox-1") == Accepted("SM\ufffd1")
    assert interpret(200, b'{"id": "g\\ud8007"}', fallback_id="outbox-1") == Accepted("g\ufffd7")
    assert interpret(201, b'{"sid": "' + b"x" * 300 + b'"}', fallback_id="outbox-1") == Accepted("x" * 200)
    assert interpret(400, b'{"message": "bad\\u0000", "code": "2\\u00001"}', fallback_id="o") == Refused(
        "bad\ufffd (code 2\ufffd1)", retry=False)
    assert interpret(500, b"down\x00", fallback_id="o") == Refused("HTTP 500: down\ufffd", retry=True)
    # receipts map ids exactly as answers do, so they find the message
    assert twilio_status([("MessageSid", "SM\x001"), ("MessageStatus", "sent")]).provider_id == "SM\ufffd1"
    report = webhook_status(json.dumps({"id": "g\ud8007", "status": "failed", "error": "no\x00"}).encode())
    assert (report.provider_id, report.error_message) == ("g\ufffd7", "no\ufffd")
    inbound = webhook_inbound(json.dumps({"id": "i\x00", "from": CUSTOMER, "to": SALES_NUMBER,
                                          "text": "hi\x00\ud800"}).encode(), region="CN")
    assert (inbound.provider_id, inbound.text) == ("i\ufffd", "hi\ufffd\ufffd")


# -- an outcome the database will not take --------------------------------------------------------


async def test_an_outcome_the_database_refuses_still_ends_the_row(
    client: TestClient, db: Database, provider: FakeGateway, outcomes: Outcomes, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = outbox_worker.record_delivery
    refused: list[int] = []

    async def refuse_once(tx: Any, item: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if not refused:
            refused.append(item.id)
            raise StoreError("value too long for type character varying(20)")
        return await record(tx, item, *args, **kwargs)

    monkeypatch.setattr(outbox_worker, "record_delivery", refuse_once)
    alice, interaction = await texted_and_accepted(client, db, CUSTOMER)
    await alice.reply(interaction, "只发一次")
    await provider.next()
    item, failed = await outcomes.next()
    assert (failed, refused) == (None, [item.id])
    assert (await _row(db, item.id))["status"] == "sent"  # only the status: its touchpoint was refused
    assert await _statuses(db, interaction) == []
    assert len(provider.captured) == 1
    await alice.disconnect()


async def test_a_database_blip_while_recording_is_waited_out(
    client: TestClient, db: Database, provider: FakeGateway, outcomes: Outcomes, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = outbox_worker.record_delivery
    calls: list[int] = []

    async def away_twice(tx: Any, item: Any, *args: Any, **kwargs: Any) -> list[Any]:
        calls.append(item.id)
        if len(calls) <= 2:
            raise StoreUnavailable("database unavailable: connection reset")
        return await record(tx, item, *args, **kwargs)

    monkeypatch.setattr(outbox_worker, "record_delivery", away_twice)
    alice, interaction = await texted_and_accepted(client, db, CUSTOMER)
    await alice.reply(interaction, "只发一次")
    await provider.next()
    item, failed = await outcomes.next()
    assert failed is None and len(calls) == 3
    assert (await _row(db, item.id))["status"] == "sent"
    assert await _statuses(db, interaction) == ["sent"]  # recorded in full once the database was back
    assert len(provider.captured) == 1
    await alice.disconnect()
