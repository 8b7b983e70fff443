"""One person, one customer, whatever the spelling of the identity."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from tests.support import bearer, login, make_agent


async def test_upper_case_kind_prefix_does_not_make_a_second_customer(client: TestClient, db: Database) -> None:
    """``EMAIL:li.lei@shop.cn`` falls through to the "@" guess and becomes the email address
    ``email:li.lei@shop.cn``: a new customer for the same person."""
    await make_agent(db, "root", role="admin")
    headers = bearer(await login(client, "root"))
    ids = []
    for identity in ("email:li.lei@shop.cn", "EMAIL:li.lei@shop.cn"):
        response = await client.post(
            "/api/interactions",
            json={"channel": "email", "identity": identity, "queue": "sales", "body": "hi"},
            headers=headers,
        )
        assert response.status in (200, 201), await response.text()
        ids.append((await response.json())["customer_id"])
    assert ids[0] == ids[1]
