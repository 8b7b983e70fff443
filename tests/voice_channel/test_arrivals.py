"""The group-commit writer of arriving calls, against the real database: same rules as ``Intake``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from channels.voice.arrivals import NewCall, store_calls
from channels.voice.writer import BatchWriter
from contactcenter.db import Database
from contactcenter.model import InteractionState
from tests.support import make_agent


def call(key: str, address: str, name: str = "") -> NewCall:
    return NewCall(dedupe_key=f"sip:{key}", identity_kind="phone", address=address, display_name=name,
                   queue="sales", body=f"来电 Call from {address}", attributes={"call_id": key, "caller": address})


async def test_a_batch_files_customers_interactions_and_touchpoints_once(db: Database) -> None:
    agent = await make_agent(db, "erin")
    async with db.transaction() as tx:  # a known customer: gold tier, served by erin before
        known, _ = await tx.customers.find_or_create("phone", "+8613800000001", display_name="老客户")
        await tx.customers.update(known.id, {"tier": "gold"})
        old = await tx.interactions.create(channel="sms", customer_id=known.id, queue="sales")
        await tx.interactions.set_state(old.id, InteractionState.ASSIGNED, agent_id=agent.id)

    async with db.transaction() as tx:
        first = await store_calls(tx, [call("a", "+8613800000001", "ignored"), call("b", "+8613800000002", "新"),
                                       call("c", "+8613800000002")])
    assert [s.created for s in first] == [True, True, True]
    assert first[0].customer_id == known.id and first[0].tier == "gold" and first[0].last_agent_id == agent.id
    assert first[1].customer_id == first[2].customer_id != known.id  # two calls, one new caller: one customer
    assert first[1].tier == "standard" and first[1].last_agent_id is None
    assert len({s.interaction_id for s in first}) == 3 and all(s.arrived_at > 0 for s in first)

    async with db.transaction() as tx:  # the same Call-IDs again (a restart, a storm): nothing new
        again = await store_calls(tx, [call("b", "+8613800000002"), call("d", "+8613800000003")])
    assert (again[0].created, again[0].interaction_id) == (False, first[1].interaction_id)
    assert again[1].created

    async with db.connection() as tx:
        counts = await tx.conn.fetchrow(
            """SELECT (SELECT count(*) FROM interactions WHERE channel = 'voice') AS calls,
                      (SELECT count(*) FROM customers) AS customers,
                      (SELECT count(*) FROM touchpoints WHERE kind = 'inbound_message') AS inbound,
                      (SELECT count(*) FROM inbound_dedupe WHERE touchpoint_id IS NULL) AS unlinked""")
        new = await tx.customers.find_by_identity("phone", "+8613800000002")
        touchpoint = await tx.conn.fetchrow(
            "SELECT actor_kind, actor_id, body, payload FROM touchpoints WHERE interaction_id = $1",
            first[1].interaction_id)
    assert dict(counts) == {"calls": 4, "customers": 3, "inbound": 4, "unlinked": 0}
    assert new is not None and new.display_name == "新"
    assert touchpoint["actor_kind"] == "customer" and touchpoint["actor_id"] == "+8613800000002"
    assert touchpoint["payload"]["call_id"] == "b"


async def test_a_batch_must_not_hold_one_call_twice(db: Database) -> None:
    async with db.transaction() as tx:
        with pytest.raises(ValueError):
            await store_calls(tx, [call("x", "+8613800000009"), call("x", "+8613800000009")])


async def test_one_bad_call_does_not_sink_its_batch(db: Database) -> None:
    """If the database refuses one item, the writer retries the batch item by item."""
    filed: dict[str, object] = {}
    done = asyncio.Event()

    def on_filed(tags: Sequence[object], stored: Sequence[object]) -> None:
        filed.update(zip(tags, stored, strict=True))  # type: ignore[arg-type]
        if len(filed) == 3:
            done.set()

    writer = BatchWriter(db, on_filed)
    writer.add_call("good-1", call("g1", "+8613800000011"))
    writer.add_call("bad", call("b1", "+8613800000012", name="nul\x00byte"))  # the desk cleans this; here it slips
    writer.add_call("good-2", call("g2", "+8613800000013"))
    writer.start()
    try:
        async with asyncio.timeout(10):
            await done.wait()
    finally:
        await writer.stop()
    assert filed["bad"] is None
    assert filed["good-1"] is not None and filed["good-2"] is not None
    assert writer.counters.failed_batches == 1
