"""The customer history store against a real PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from contactcenter.db import Database, StoreError
from contactcenter.model import ActorKind, TouchpointKind


async def test_fifty_concurrent_first_contacts_make_one_customer(db: Database) -> None:
    async def first_contact() -> str:
        async with db.transaction() as tx:
            customer, _ = await tx.customers.find_or_create("email", "new.buyer@shop.cn", display_name="买家")
            return str(customer.id)

    ids = await asyncio.gather(*(first_contact() for _ in range(50)))
    assert len(set(ids)) == 1
    async with db.connection() as tx:
        assert await tx.conn.fetchval("SELECT count(*) FROM customers") == 1
        assert await tx.conn.fetchval("SELECT count(*) FROM customer_identities") == 1


async def test_find_or_create_reports_whether_it_created(db: Database) -> None:
    async with db.transaction() as tx:
        first, created = await tx.customers.find_or_create("phone", "+8613800138000")
        again, created_again = await tx.customers.find_or_create("phone", "+8613800138000")
    assert created and not created_again
    assert first.id == again.id
    assert first.tier == "standard"


async def test_touchpoints_are_append_only(db: Database) -> None:
    async with db.transaction() as tx:
        customer, _ = await tx.customers.find_or_create("email", "a@b.cn")
        tp = await tx.touchpoints.append(
            customer_id=customer.id, kind=TouchpointKind.NOTE, actor_kind=ActorKind.SYSTEM, body="first"
        )
    with pytest.raises(StoreError, match="append-only"):
        async with db.transaction() as tx:
            await tx.conn.execute("UPDATE touchpoints SET body = 'changed' WHERE id = $1", tp.id)
    with pytest.raises(StoreError, match="append-only"):
        async with db.transaction() as tx:
            await tx.conn.execute("DELETE FROM touchpoints WHERE id = $1", tp.id)
    async with db.connection() as tx:
        assert await tx.conn.fetchval("SELECT body FROM touchpoints WHERE id = $1", tp.id) == "first"


async def test_history_pages_newest_first_without_gaps_or_repeats(db: Database) -> None:
    async with db.transaction() as tx:
        customer, _ = await tx.customers.find_or_create("email", "history@b.cn")
        for n in range(25):
            await tx.touchpoints.append(
                customer_id=customer.id, kind=TouchpointKind.NOTE, actor_kind=ActorKind.SYSTEM, body=f"n{n}"
            )
    seen: list[str] = []
    cursor = None
    async with db.connection() as tx:
        while True:
            page, cursor = await tx.touchpoints.history(customer.id, limit=10, before=cursor)
            seen.extend(t.body or "" for t in page)
            if cursor is None:
                break
    assert seen == [f"n{n}" for n in reversed(range(25))]


async def test_merge_moves_identities_interactions_and_touchpoints(db: Database) -> None:
    async with db.transaction() as tx:
        keep, _ = await tx.customers.find_or_create("email", "keep@b.cn", display_name="")
        gone, _ = await tx.customers.find_or_create("phone", "+8613900139000", display_name="王女士")
        chat = await tx.interactions.create(channel="chat", customer_id=gone.id, queue="sales")
        await tx.touchpoints.append(
            customer_id=gone.id, interaction_id=chat.id, kind=TouchpointKind.INBOUND_MESSAGE,
            actor_kind=ActorKind.CUSTOMER, channel="chat", body="你好",
        )
        moved = await tx.customers.merge(keep.id, gone.id, tier="gold")
    assert moved == {"customer_identities": 1, "interactions": 1, "touchpoints": 1}
    async with db.connection() as tx:
        found = await tx.customers.find_by_identity("phone", "+8613900139000")
        assert found is not None and found.id == keep.id
        assert found.display_name == "王女士"  # the survivor had no name
        assert found.tier == "gold"
        assert (await tx.customers.get(gone.id)).id == keep.id  # a merged id resolves to the survivor
        page, _ = await tx.touchpoints.history(keep.id, limit=10)
        assert [t.body for t in page] == ["你好"]
