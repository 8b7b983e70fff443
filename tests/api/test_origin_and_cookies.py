"""Session cookie flags behind an https public_url, and cross-origin cookie-authenticated writes."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from contactcenter.config import Settings
from contactcenter.db import Database
from tests.support import PASSWORD, login, make_agent


async def test_cookie_is_secure_when_public_url_is_https(settings: Settings, db: Database) -> None:
    """TLS ends at the proxy, so request.secure is False; public_url says the browser uses https."""
    from contactcenter.api.app import build_app

    server = settings.server.model_copy(update={"public_url": "https://cc.example.cn/"})
    behind_proxy = settings.model_copy(update={"server": server})
    await make_agent(db, "wang")
    async with TestClient(TestServer(build_app(behind_proxy, db), host="127.0.0.1", port=0)) as client:
        response = await client.post("/api/login", json={"login": "wang", "password": PASSWORD})
        assert response.status == 200
        assert "secure" in response.headers["Set-Cookie"].lower(), response.headers["Set-Cookie"]


async def test_cookie_authenticated_write_from_a_foreign_origin_is_refused(client: TestClient, db: Database) -> None:
    """docs/api.md: 403 for a wrong origin. A text/plain form post (no CORS preflight) from another origin
    carrying the session cookie must not change a customer."""
    async with db.transaction() as tx:
        customer, _ = await tx.customers.find_or_create("email", "victim@shop.cn", display_name="Victim")
    await make_agent(db, "boss", role="supervisor")
    await login(client, "boss")  # the cookie is now in the client's jar
    response = await client.patch(
        f"/api/customers/{customer.id}",
        data='{"display_name": "pwned"}',
        headers={"Origin": "https://evil.example", "Content-Type": "text/plain"},
    )
    assert response.status == 403, (response.status, await response.text())
