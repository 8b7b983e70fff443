"""Bad input must be a 4xx JSON error, never a 500 or a 503 "database unavailable"."""

from __future__ import annotations

import base64

from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from tests.support import bearer, login, make_agent


async def _supervisor_and_customer(client: TestClient, db: Database) -> tuple[dict[str, str], str]:
    async with db.transaction() as tx:
        customer, _ = await tx.customers.find_or_create("email", "bad.input@shop.cn")
    await make_agent(db, "boss", role="supervisor")
    return bearer(await login(client, "boss")), str(customer.id)


async def test_loyalty_points_beyond_bigint_is_400_not_503(client: TestClient, db: Database) -> None:
    headers, customer_id = await _supervisor_and_customer(client, db)
    response = await client.patch(f"/api/customers/{customer_id}", json={"loyalty_points": 10**19}, headers=headers)
    assert response.status == 400, (response.status, await response.text())


async def test_nul_in_display_name_is_400_not_500(client: TestClient, db: Database) -> None:
    headers, customer_id = await _supervisor_and_customer(client, db)
    response = await client.patch(f"/api/customers/{customer_id}", json={"display_name": "a\u0000b"}, headers=headers)
    assert response.status == 400, (response.status, await response.text())


async def test_nul_in_attributes_is_400_not_500(client: TestClient, db: Database) -> None:
    headers, customer_id = await _supervisor_and_customer(client, db)
    response = await client.patch(
        f"/api/customers/{customer_id}", json={"attributes": {"note": "a\u0000b"}}, headers=headers
    )
    assert response.status == 400, (response.status, await response.text())


async def test_nul_in_login_is_401_or_400_not_500(client: TestClient, db: Database) -> None:
    response = await client.post("/api/login", json={"login": "bo\u0000ss", "password": "x"})
    assert response.status in (400, 401), (response.status, await response.text())


async def test_nul_in_identity_lookup_is_400_or_404_not_500(client: TestClient, db: Database) -> None:
    headers, _ = await _supervisor_and_customer(client, db)
    response = await client.get("/api/customers", params={"identity": "chat:v\u0000x"}, headers=headers)
    assert response.status in (400, 404), (response.status, await response.text())


async def test_deeply_nested_json_is_400_not_500(client: TestClient, db: Database) -> None:
    body = b"[" * 200_000 + b"]" * 200_000  # 400 kB, under max_body_bytes
    response = await client.post("/api/login", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400, (response.status, await response.text())


async def test_cursor_with_id_beyond_bigint_is_400_not_503(client: TestClient, db: Database) -> None:
    headers, customer_id = await _supervisor_and_customer(client, db)
    cursor = base64.urlsafe_b64encode(b"2024-01-01T00:00:00+00:00|99999999999999999999").decode().rstrip("=")
    response = await client.get(f"/api/customers/{customer_id}/history", params={"before": cursor}, headers=headers)
    assert response.status == 400, (response.status, await response.text())
