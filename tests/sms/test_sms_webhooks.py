"""Inbound webhooks against the real app: signatures, dedupe, errors, and 200 only after commit."""

from __future__ import annotations

import asyncio

import asyncpg
from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from tests.sms.conftest import (
    LOCAL_NUMBER,
    PUBLIC_URL,
    SALES_NUMBER,
    TWILIO_TOKEN,
    inbound_form,
    make_settings,
    post_twilio,
    post_webhook,
    running_app,
)
from tests.sms.fake_gateway import FakeGateway

INBOUND = "/sms/tw/inbound"


async def _count(db: Database, sql: str, *args: object) -> int:
    async with db.connection() as tx:
        return int(await tx.conn.fetchval(sql, *args))


async def test_a_signed_text_is_committed_before_the_empty_twiml_answer(client: TestClient, db: Database) -> None:
    response = await post_twilio(client, INBOUND, inbound_form("SM100", "139 1234 5678", "+86 138 0013 8000", "你好"))
    assert response.status == 200, await response.text()
    assert response.content_type == "text/xml"
    assert (await response.text()).endswith("<Response/>")
    # the answer came after the commit: another connection sees everything already
    async with db.connection() as tx:
        row = await tx.conn.fetchrow(
            """SELECT t.body, t.payload, t.actor_id, i.queue, i.channel, i.attributes FROM inbound_dedupe d
               JOIN touchpoints t ON t.id = d.touchpoint_id JOIN interactions i ON i.id = t.interaction_id
               WHERE d.channel = 'sms' AND d.external_id = 'tw:SM100'""")
        identity = await tx.conn.fetchval("SELECT address FROM customer_identities WHERE kind = 'phone'")
    assert row is not None
    assert (row["body"], row["actor_id"], row["queue"], row["channel"]) == ("你好", "+8613912345678", "sales", "sms")
    assert row["payload"]["sms_to"] == SALES_NUMBER and row["payload"]["sms_gateway"] == "tw"
    assert row["attributes"] == {"sms_gateway": "tw", "sms_number": SALES_NUMBER}
    assert identity == "+8613912345678"


async def test_bad_or_missing_signatures_are_refused_and_store_nothing(client: TestClient, db: Database) -> None:
    fields = inbound_form("SM200", "+8613912345678", SALES_NUMBER, "hello")
    attempts = [
        post_twilio(client, INBOUND, fields, token="not-the-token"),
        post_twilio(client, INBOUND, fields, signed_url=str(client.make_url(INBOUND))),  # not the public URL
        post_twilio(client, INBOUND, {**fields, "Body": "hello!"}, signature=await _signature_of(fields)),
        client.post(INBOUND, data=fields),  # no signature at all
        post_webhook(client, "/sms/local/inbound", {"id": "1", "from": "+8613912345678", "to": LOCAL_NUMBER,
                                                    "text": "hi"}, secret="wrong"),
        client.post("/sms/local/inbound", json={"id": "1", "from": "+8613912345678", "to": LOCAL_NUMBER}),
        post_twilio(client, "/sms/tw/status", {"MessageSid": "SM1", "MessageStatus": "delivered"}, token="bad"),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status == 403, await response.text()
        assert (await response.json())["error"]["code"] == "bad_signature"
    assert await _count(db, "SELECT count(*) FROM touchpoints") == 0


async def _signature_of(fields: dict[str, str]) -> str:
    from channels.sms.signatures import twilio_signature

    return twilio_signature(TWILIO_TOKEN, PUBLIC_URL + INBOUND, fields.items())


async def test_a_replayed_message_sid_is_stored_once(client: TestClient, db: Database) -> None:
    fields = inbound_form("SM300", "+8613912345678", SALES_NUMBER, "第一条")
    first = await post_twilio(client, INBOUND, fields)
    assert first.status == 200
    # Twilio retries (and retries racing each other) are answered 200 and change nothing
    again = await asyncio.gather(*(post_twilio(client, INBOUND, fields) for _ in range(3)))
    assert [r.status for r in again] == [200, 200, 200]
    racing = inbound_form("SM301", "+8613912345678", SALES_NUMBER, "第二条")
    assert [r.status for r in await asyncio.gather(*(post_twilio(client, INBOUND, racing) for _ in range(4)))] == [
        200] * 4
    assert await _count(db, "SELECT count(*) FROM touchpoints WHERE kind = 'inbound_message'") == 2
    assert await _count(db, "SELECT count(*) FROM interactions") == 1  # the second text joined the first


async def test_unknown_gateways_numbers_and_bad_input(client: TestClient, db: Database) -> None:
    response = await post_twilio(client, "/sms/nope/inbound", inbound_form("SM1", "+8613912345678", SALES_NUMBER, "x"))
    assert (response.status, (await response.json())["error"]["code"]) == (404, "unknown_gateway")
    response = await post_twilio(client, INBOUND, inbound_form("SM2", "+8613912345678", "+8613700000000", "x"))
    assert (response.status, (await response.json())["error"]["code"]) == (404, "unknown_number")
    response = await post_twilio(client, INBOUND, inbound_form("SM3", "not a number", SALES_NUMBER, "x"))
    assert (response.status, (await response.json())["error"]["code"]) == (400, "invalid_sms")
    missing = inbound_form("SM4", "+8613912345678", SALES_NUMBER, "x")
    del missing["From"]
    response = await post_twilio(client, INBOUND, missing)
    assert response.status == 400
    assert "From" in (await response.json())["error"]["message"]
    response = await post_webhook(client, "/sms/local/inbound", {"id": "1", "to": LOCAL_NUMBER, "text": "x"})
    assert (response.status, (await response.json())["error"]["code"]) == (400, "invalid_sms")
    assert await _count(db, "SELECT count(*) FROM touchpoints") == 0


async def test_without_a_public_url_the_request_url_is_what_twilio_signs(
    db_url: str, db: Database, provider: FakeGateway
) -> None:
    async with running_app(make_settings(db_url, provider, public_url=None), db) as client:
        fields = inbound_form("SM400", "+8613912345678", SALES_NUMBER, "直连")
        refused = await post_twilio(client, INBOUND, fields)  # signed over a public URL we do not have
        assert refused.status == 403
        accepted = await post_twilio(client, INBOUND, fields, signed_url=str(client.make_url(INBOUND)))
        assert accepted.status == 200, await accepted.text()
    assert await _count(db, "SELECT count(*) FROM touchpoints") == 1


async def test_with_the_database_down_the_gateway_gets_503_and_its_retry_is_stored(
    settings: object, db_url: str
) -> None:
    database = await Database.connect(db_url, min_size=1, max_size=5)
    try:
        async with running_app(settings, database) as client:  # type: ignore[arg-type]
            working_pool = database.pool
            down = await asyncpg.create_pool(db_url, min_size=0, max_size=1)
            await down.close()
            database.pool = down  # every acquire now fails as with a database that went away
            fields = inbound_form("SM500", "+8613912345678", SALES_NUMBER, "数据库挂了吗")
            response = await post_twilio(client, INBOUND, fields)
            assert response.status == 503
            assert (await response.json())["error"]["code"] == "unavailable"
            database.pool = working_pool  # back: the gateway's retry goes through, once
            for _ in range(2):
                assert (await post_twilio(client, INBOUND, fields)).status == 200
            assert await _count(database, "SELECT count(*) FROM touchpoints WHERE body = '数据库挂了吗'") == 1
    finally:
        await database.close()
