"""Sessions end on logout, expiry and
disabling, and history pages neither skip nor repeat touchpoints that share a timestamp."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from tests.support import bearer, login, make_agent


async def test_session_ends_on_logout_expiry_and_disabling(client: TestClient, db: Database) -> None:
    agent = await make_agent(db, "wang")
    token = await login(client, "wang")
    assert (await client.post("/api/logout", headers=bearer(token))).status == 200
    assert (await client.get("/api/me", headers=bearer(token))).status == 401

    token = await login(client, "wang")
    async with db.connection() as tx:
        await tx.conn.execute("UPDATE agent_sessions SET expires_at = now() - interval '1 second'")
    assert (await client.get("/api/me", headers=bearer(token))).status == 401

    token = await login(client, "wang")
    async with db.connection() as tx:
        await tx.conn.execute("UPDATE agents SET disabled = true WHERE id = $1", agent.id)
    assert (await client.get("/api/me", headers=bearer(token))).status == 401
    refused = await client.post("/api/login", json={"login": "wang", "password": "correct horse battery staple"})
    assert refused.status == 401


async def test_history_pages_at_equal_timestamps_neither_skip_nor_repeat(client: TestClient, db: Database) -> None:
    async with db.transaction() as tx:
        customer, _ = await tx.customers.find_or_create("email", "same.time@shop.cn")
        await tx.conn.execute(
            """INSERT INTO touchpoints (customer_id, kind, actor_kind, body, payload, created_at)
               SELECT $1, 'note', 'system', 'n' || g, '{}'::jsonb, '2024-05-01 12:00:00+08'
               FROM generate_series(1, 7) AS g""",
            customer.id,
        )
    await make_agent(db, "boss", role="supervisor")
    headers = bearer(await login(client, "boss"))
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": "3"} | ({"before": cursor} if cursor else {})
        page = await (await client.get(f"/api/customers/{customer.id}/history", params=params, headers=headers)).json()
        seen += [t["id"] for t in page["touchpoints"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert len(seen) == 7 and len(set(seen)) == 7
    assert seen == sorted(seen, reverse=True)
