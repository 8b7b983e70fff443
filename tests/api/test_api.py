"""The HTTP API as a client sees it: auth, roles, errors, customers and history."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from contactcenter.config import Settings
from contactcenter.config.schema import Tier
from contactcenter.db import Database
from contactcenter.model import ActorKind, TouchpointKind
from tests.support import PASSWORD, bearer, login, make_agent


async def _customer_with_history(db: Database) -> str:
    """A customer who wrote on chat, email, SMS and called; returns their id."""
    async with db.transaction() as tx:
        customer, _ = await tx.customers.find_or_create("email", "li.lei@shop.cn", display_name="李雷")
        for channel, body in (("chat", "在吗"), ("email", "订单问题"), ("sms", "退货"), ("voice", None)):
            interaction = await tx.interactions.create(channel=channel, customer_id=customer.id, queue="sales")
            await tx.touchpoints.append(
                customer_id=customer.id, interaction_id=interaction.id, channel=channel,
                kind=TouchpointKind.CALL_EVENT if channel == "voice" else TouchpointKind.INBOUND_MESSAGE,
                actor_kind=ActorKind.CUSTOMER, body=body,
            )
    return str(customer.id)


async def test_health_and_readiness(client: TestClient) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["status"] == "ready"


async def test_login_gives_a_cookie_and_a_bearer_token(client: TestClient, db: Database) -> None:
    await make_agent(db, "wang", role="supervisor")
    bad = await client.post("/api/login", json={"login": "wang", "password": "nope"})
    assert bad.status == 401
    assert (await bad.json())["error"]["code"] == "bad_credentials"
    response = await client.post("/api/login", json={"login": "wang", "password": PASSWORD})
    token = (await response.json())["token"]
    set_cookie = response.headers["Set-Cookie"]
    assert f"cc_session={token}" in set_cookie
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    me = await client.get("/api/me")  # by cookie
    assert (await me.json())["agent"]["login"] == "wang"
    client.session.cookie_jar.clear()
    assert (await client.get("/api/me")).status == 401
    assert (await client.get("/api/me", headers=bearer(token))).status == 200
    assert "password" not in str(await (await client.get("/api/me", headers=bearer(token))).json())


async def test_errors_are_json_with_status(client: TestClient, db: Database) -> None:
    missing = await client.get("/api/nowhere")
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "not_found"
    bad_json = await client.post("/api/login", data=b"{not json", headers={"Content-Type": "application/json"})
    assert bad_json.status == 400
    assert (await bad_json.json())["error"]["code"] == "invalid_json"
    extra = await client.post("/api/login", json={"login": "a", "password": "b", "admin": True})
    assert extra.status == 400
    assert (await extra.json())["error"]["code"] == "invalid_body"
    huge = await client.post("/api/login", data=b"x" * (2 * 1024 * 1024))
    assert huge.status == 413
    assert (await huge.json())["error"]["code"] == "body_too_large"


async def test_history_spans_every_channel_and_pages(client: TestClient, db: Database) -> None:
    customer_id = await _customer_with_history(db)
    await make_agent(db, "boss", role="supervisor")
    token = await login(client, "boss")
    first = await client.get(f"/api/customers/{customer_id}/history?limit=3", headers=bearer(token))
    assert first.status == 200
    page1 = await first.json()
    assert [t["channel"] for t in page1["touchpoints"]] == ["voice", "sms", "email"]
    second = await client.get(
        f"/api/customers/{customer_id}/history?limit=3&before={page1['next']}", headers=bearer(token)
    )
    page2 = await second.json()
    assert [t["channel"] for t in page2["touchpoints"]] == ["chat"]
    assert page2["next"] is None
    bad = await client.get(f"/api/customers/{customer_id}/history?before=garbage!", headers=bearer(token))
    assert bad.status == 400


async def test_agents_only_read_customers_they_handle(client: TestClient, db: Database) -> None:
    customer_id = await _customer_with_history(db)
    agent = await make_agent(db, "xiaoming", role="agent")
    token = await login(client, "xiaoming")
    assert (await client.get(f"/api/customers/{customer_id}/history")).status == 403
    assert (await client.get(f"/api/customers/{customer_id}", headers=bearer(token))).status == 403
    assert (await client.get("/api/customers?identity=email:li.lei@shop.cn", headers=bearer(token))).status == 403
    async with db.transaction() as tx:
        interaction = await tx.interactions.create(channel="chat", customer_id=customer_id, queue="sales")
        await tx.interactions.set_state(interaction.id, "assigned", agent_id=agent.id)
    allowed = await client.get(f"/api/customers/{customer_id}/history", headers=bearer(token))
    assert allowed.status == 200
    assert len((await allowed.json())["touchpoints"]) == 4
    client.session.cookie_jar.clear()
    assert (await client.get(f"/api/customers/{customer_id}/history")).status == 401


async def test_supervisor_finds_patches_and_merges(client: TestClient, db: Database) -> None:
    email_customer = await _customer_with_history(db)
    async with db.transaction() as tx:
        phone_customer, _ = await tx.customers.find_or_create("phone", "+8613700137000", display_name="李先生")
        sms = await tx.interactions.create(channel="sms", customer_id=phone_customer.id, queue="support")
        await tx.touchpoints.append(
            customer_id=phone_customer.id, interaction_id=sms.id, channel="sms",
            kind=TouchpointKind.INBOUND_MESSAGE, actor_kind=ActorKind.CUSTOMER, body="到货了吗",
        )
    await make_agent(db, "boss", role="supervisor")
    headers = bearer(await login(client, "boss"))

    found = await client.get("/api/customers?identity=13700137000", headers=headers)  # local number, region CN
    assert (await found.json())["customer"]["id"] == str(phone_customer.id)

    patched = await client.patch(f"/api/customers/{phone_customer.id}", json={"tier": "diamond"}, headers=headers)
    assert (await patched.json())["customer"]["tier"] == "diamond"
    wrong_tier = await client.patch(f"/api/customers/{phone_customer.id}", json={"tier": "vip"}, headers=headers)
    assert wrong_tier.status == 400

    taken = await client.post(
        f"/api/customers/{email_customer}/identities", json={"kind": "phone", "address": "+86 137 0013 7000"},
        headers=headers,
    )
    assert taken.status == 409

    merged = await client.post(
        f"/api/customers/{email_customer}/merge", json={"customer_id": str(phone_customer.id)}, headers=headers
    )
    assert merged.status == 200, await merged.text()
    survivor = (await merged.json())["customer"]
    assert survivor["tier"] == "diamond"
    assert {(i["kind"], i["address"]) for i in survivor["identities"]} == {
        ("email", "li.lei@shop.cn"), ("phone", "+8613700137000"),
    }
    history = await (await client.get(f"/api/customers/{email_customer}/history", headers=headers)).json()
    kinds = [t["kind"] for t in history["touchpoints"]]
    channels = {t["channel"] for t in history["touchpoints"] if t["channel"]}
    assert kinds[0] == "merge"
    assert channels == {"chat", "email", "sms", "voice"}
    by_phone = await client.get("/api/customers?identity=phone:+8613700137000", headers=headers)
    assert (await by_phone.json())["customer"]["id"] == email_customer
    old = await client.get(f"/api/customers/{phone_customer.id}", headers=headers)
    assert (await old.json())["customer"]["id"] == email_customer


async def test_a_merge_keeps_the_tier_routing_weighs_more_even_when_standard_is_weighted(
        settings: Settings, db: Database) -> None:
    """A file may weigh ``standard`` above a named tier; the merge must judge tiers as routing does."""
    from contactcenter.api.app import build_app
    from contactcenter.config.routing_bridge import to_routing_config

    tiers = {"standard": Tier(weight=15), "silver": Tier(weight=10)}
    weighted = settings.model_copy(update={"tiers": tiers})
    assert to_routing_config(weighted).tier_weights["standard"] > to_routing_config(weighted).tier_weights["silver"]
    async with db.transaction() as tx:
        plain, _ = await tx.customers.find_or_create("email", "plain@shop.cn")
        silver, _ = await tx.customers.find_or_create("email", "silver@shop.cn")
        await tx.conn.execute("UPDATE customers SET tier = 'silver' WHERE id = $1", silver.id)
    await make_agent(db, "boss", role="supervisor")
    async with TestClient(TestServer(build_app(weighted, db), host="127.0.0.1", port=0)) as client:
        merged = await client.post(f"/api/customers/{silver.id}/merge", json={"customer_id": str(plain.id)},
                                   headers=bearer(await login(client, "boss")))
        assert merged.status == 200, await merged.text()
        assert (await merged.json())["customer"]["tier"] == "standard"
