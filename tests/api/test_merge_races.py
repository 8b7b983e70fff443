"""Merges racing other merges and inbound contacts.

Each test holds a merge open in its own transaction, starts the request, waits
until PostgreSQL reports the request's backend waiting on a lock (no sleeps as
synchronisation: the condition polled is the lock wait itself), then commits.
"""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from tests.support import bearer, login, make_agent, wait_for


async def _someone_waits_on_a_lock(db: Database) -> bool:
    async with db.connection() as tx:
        return bool(
            await tx.conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )


async def test_concurrent_merge_of_the_same_customer_is_409_not_500(client: TestClient, db: Database) -> None:
    async with db.transaction() as tx:
        a, _ = await tx.customers.find_or_create("email", "a@shop.cn")
        b, _ = await tx.customers.find_or_create("email", "b@shop.cn")
        c, _ = await tx.customers.find_or_create("email", "c@shop.cn")
    await make_agent(db, "boss", role="supervisor")
    headers = bearer(await login(client, "boss"))
    async with db.transaction() as held:  # another supervisor is merging b into c right now
        await held.customers.merge(c.id, b.id, tier="standard")
        request = asyncio.create_task(
            client.post(f"/api/customers/{a.id}/merge", json={"customer_id": str(b.id)}, headers=headers)
        )
        await wait_for(lambda: _someone_waits_on_a_lock(db), 10, "the second merge to wait for the first")
    response = await request
    assert response.status == 409, (response.status, await response.text())


async def test_contact_arriving_during_a_merge_lands_on_the_survivor(client: TestClient, db: Database) -> None:
    async with db.transaction() as tx:
        survivor, _ = await tx.customers.find_or_create("email", "keep@shop.cn")
        merged, _ = await tx.customers.find_or_create("email", "gone@shop.cn")
    await make_agent(db, "root", role="admin")
    headers = bearer(await login(client, "root"))
    async with db.transaction() as held:
        await held.customers.merge(survivor.id, merged.id, tier="standard")
        request = asyncio.create_task(
            client.post(
                "/api/interactions",
                json={
                    "channel": "email",
                    "identity": "email:gone@shop.cn",
                    "queue": "sales",
                    "body": "where is my parcel",
                },
                headers=headers,
            )
        )
        await wait_for(lambda: _someone_waits_on_a_lock(db), 10, "the intake to wait for the merge")
    response = await request
    assert response.status == 201, await response.text()
    assert (await response.json())["customer_id"] == str(survivor.id)
    history = await (await client.get(f"/api/customers/{survivor.id}/history", headers=headers)).json()
    assert "where is my parcel" in [t["body"] for t in history["touchpoints"]]


async def test_identity_added_during_a_merge_lands_on_the_survivor(client: TestClient, db: Database) -> None:
    async with db.transaction() as tx:
        survivor, _ = await tx.customers.find_or_create("email", "keep@shop.cn")
        merged, _ = await tx.customers.find_or_create("email", "gone@shop.cn")
    await make_agent(db, "boss", role="supervisor")
    headers = bearer(await login(client, "boss"))
    async with db.transaction() as held:
        await held.customers.merge(survivor.id, merged.id, tier="standard")
        request = asyncio.create_task(
            client.post(
                f"/api/customers/{merged.id}/identities",
                json={"kind": "phone", "address": "+8613900139000"},
                headers=headers,
            )
        )
        await wait_for(lambda: _someone_waits_on_a_lock(db), 10, "adding the identity to wait for the merge")
    response = await request
    assert response.status in (201, 409), await response.text()
    async with db.connection() as tx:
        owner = await tx.conn.fetchval(
            "SELECT customer_id FROM customer_identities WHERE kind = 'phone' AND address = '+8613900139000'"
        )
    assert owner in (None, survivor.id), f"identity attached to the merged-away customer {owner}"
