"""SMS conversations end to end: customer texts in, an agent's console, the stand-in provider out."""

from __future__ import annotations

import base64
import json
import uuid

from aiohttp.test_utils import TestClient

from channels.sms import SMS_CHANNEL
from contactcenter.db import Database
from contactcenter.webhook_signatures import valid_webhook_signature
from tests.agent_console import AgentConsole
from tests.sms.conftest import (
    HELP_TEXT,
    LOCAL_NUMBER,
    PUBLIC_URL,
    SALES_NUMBER,
    SUPPORT_NUMBER,
    TWILIO_SID,
    TWILIO_TOKEN,
    WEBHOOK_SECRET,
    Outcomes,
    available_agent,
    inbound_form,
    post_twilio,
    post_webhook,
)
from tests.sms.fake_gateway import FakeGateway
from tests.support import bearer, login, make_agent

CUSTOMER = "+8613912345678"


async def _text(client: TestClient, body: str, *, sender: str = CUSTOMER, to: str = SALES_NUMBER) -> None:
    response = await post_twilio(client, "/sms/tw/inbound", inbound_form(f"SM{uuid.uuid4().hex}", sender, to, body))
    assert response.status == 200, await response.text()


async def _conversation(client: TestClient, db: Database, first: str = "你好") -> tuple[AgentConsole, str]:
    alice = await available_agent(client, db, "alice", sales=5)
    await _text(client, first)
    interaction = await alice.offer()
    await alice.accept(interaction)
    return alice, interaction


async def _touchpoints(db: Database, interaction: str, kind: str) -> list[dict[str, object]]:
    async with db.connection() as tx:
        rows = await tx.conn.fetch("SELECT body, payload FROM touchpoints WHERE interaction_id = $1 AND kind = $2 "
                                   "ORDER BY id", uuid.UUID(interaction), kind)
    return [dict(r) for r in rows]


async def _status(client: TestClient, callback: str, fields: dict[str, str]) -> int:
    """Post a receipt to the StatusCallback URL we gave the provider, signed the way Twilio signs it."""
    path = callback.removeprefix(PUBLIC_URL)
    return (await post_twilio(client, path, fields)).status


async def test_a_chinese_text_round_trip(client: TestClient, db: Database, provider: FakeGateway,
                                         outcomes: Outcomes) -> None:
    alice, interaction = await _conversation(client, db)
    await _text(client, "还在吗？")  # joins the open conversation and reaches its agent
    assert (await alice.expect("message", interaction_id=interaction))["touchpoint"]["body"] == "还在吗？"

    await alice.reply(interaction, "您好，已为您查询")
    request = await provider.next()
    assert request.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(
        f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    form = request.form
    assert (form["Body"], form["To"], form["From"]) == ("您好，已为您查询", CUSTOMER, SALES_NUMBER)
    assert form["StatusCallback"].startswith(f"{PUBLIC_URL}/sms/tw/status?outbox_id=")

    item, failed = await outcomes.next()
    assert failed is None and item.interaction_id == uuid.UUID(interaction)
    [sent] = await _touchpoints(db, interaction, "delivery_status")
    payload = sent["payload"]
    assert isinstance(payload, dict)
    assert (payload["status"], payload["provider_id"], payload["segments"], payload["encoding"]) == (
        "sent", provider.accepted[0], 1, "ucs2")
    await alice.disconnect()


async def test_stop_refuses_replies_until_start(client: TestClient, db: Database, provider: FakeGateway,
                                               outcomes: Outcomes) -> None:
    alice, interaction = await _conversation(client, db)
    await _text(client, "退订")
    stop = await alice.expect("message", interaction_id=interaction)
    assert stop["touchpoint"]["kind"] == "state_change" and stop["touchpoint"]["payload"]["sms_opt_out"] is True

    await alice.send("reply", interaction_id=interaction, text="请不要退订", client_msg_id="m1")
    error = await alice.expect("error")
    assert error["code"] == "sms_opted_out" and CUSTOMER in error["message"]
    assert await _touchpoints(db, interaction, "outbound_message") == []  # the refused reply changed nothing

    await _text(client, "START")
    start = await alice.expect("message", interaction_id=interaction)
    assert start["touchpoint"]["payload"]["sms_opt_out"] is False
    await alice.reply(interaction, "欢迎回来")
    assert (await provider.next()).form["Body"] == "欢迎回来"
    await outcomes.next()
    assert len(provider.captured) == 1  # nothing was sent while opted out

    async with db.connection() as tx:
        assert await tx.conn.fetchval("SELECT count(*) FROM interactions") == 1  # keywords opened nothing
        row = await tx.conn.fetchrow("SELECT opted_out, keyword FROM sms_opt_outs WHERE number = $1", CUSTOMER)
    assert (row["opted_out"], row["keyword"]) == (False, "START")
    await alice.disconnect()


async def test_help_is_answered_without_an_agent(client: TestClient, db: Database, provider: FakeGateway,
                                                 outcomes: Outcomes) -> None:
    await _text(client, "HELP", sender="+14155550188", to=SUPPORT_NUMBER)
    request = await provider.next()
    assert (request.form["Body"], request.form["To"], request.form["From"]) == (
        HELP_TEXT, "+14155550188", SUPPORT_NUMBER)
    assert (await outcomes.next())[1] is None
    async with db.connection() as tx:
        assert await tx.conn.fetchval("SELECT count(*) FROM interactions") == 0
        kinds = [r["kind"] for r in await tx.conn.fetch("SELECT kind FROM touchpoints ORDER BY id")]
    assert kinds == ["inbound_message", "outbound_message"]

    # the webhook gateway has no help_text: there HELP is a question for a person
    response = await post_webhook(client, "/sms/local/inbound",
                                  {"id": "h1", "from": CUSTOMER, "to": LOCAL_NUMBER, "text": "help"})
    assert (await response.json())["action"] == "routed"


async def test_status_callbacks_update_delivery(client: TestClient, db: Database, provider: FakeGateway,
                                                outcomes: Outcomes) -> None:
    alice, interaction = await _conversation(client, db)
    await alice.reply(interaction, "Your order has shipped.")
    callback = (await provider.next()).form["StatusCallback"]
    await outcomes.next()
    sid = provider.accepted[0]
    for _ in range(2):  # a resent receipt is recorded once
        assert await _status(client, callback, {"MessageSid": sid, "MessageStatus": "delivered"}) == 200
    statuses = [t["payload"] for t in await _touchpoints(db, interaction, "delivery_status")]
    assert [(p["status"], p.get("source")) for p in statuses] == [("sent", None), ("delivered", "gateway")]
    assert statuses[1]["encoding"] == "gsm7" and statuses[1]["segments"] == 1

    await alice.reply(interaction, "好" * 71)
    second = await provider.next()
    await outcomes.next()
    fields = {"MessageSid": provider.accepted[1], "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert await _status(client, second.form["StatusCallback"], fields) == 200
    delivery = await alice.expect("delivery", status="undelivered")
    assert "30003" in delivery["error"]
    payload = (await _touchpoints(db, interaction, "delivery_status"))[-1]["payload"]
    assert isinstance(payload, dict) and (payload["segments"], payload["encoding"]) == (2, "ucs2")

    assert await _status(client, "/sms/tw/status", {"MessageSid": "SMunknown", "MessageStatus": "sent"}) == 404
    await alice.disconnect()


async def test_gateway_errors_are_retried_until_it_is_delivered_once(
    client: TestClient, db: Database, provider: FakeGateway, outcomes: Outcomes
) -> None:
    alice, interaction = await _conversation(client, db)
    provider.script = [(500, {"message": "busy"})] * 3
    await alice.reply(interaction, "稍等")
    requests = [await provider.next() for _ in range(4)]
    assert [r.status for r in requests] == [500, 500, 500, 201]
    assert len({r.body for r in requests}) == 1  # the same message each time
    item, failed = await outcomes.next()
    assert failed is None and item.attempts == 4
    async with db.connection() as tx:
        row = await tx.conn.fetchrow("SELECT status, attempts FROM outbox WHERE id = $1", item.id)
        remembered = await tx.conn.fetchval("SELECT count(*) FROM sms_messages")
    assert (row["status"], row["attempts"], remembered) == ("sent", 4, 1)
    assert [t["payload"]["status"] for t in await _touchpoints(db, interaction, "delivery_status")] == ["sent"]
    assert len(provider.captured) == 4
    await alice.disconnect()


async def test_a_refused_message_tells_the_agent_why(client: TestClient, db: Database, provider: FakeGateway,
                                                     outcomes: Outcomes) -> None:
    alice, interaction = await _conversation(client, db)
    provider.script = [(400, {"code": 21211, "message": "The 'To' number is not a valid phone number.",
                              "status": 400})]
    await alice.reply(interaction, "hello")
    delivery = await alice.expect("delivery", status="failed")
    assert "not a valid phone number" in delivery["error"] and "21211" in delivery["error"]
    assert (await outcomes.next())[1] is not None
    assert len(provider.captured) == 1  # a 4xx is never retried
    await alice.disconnect()


async def test_webhook_gateway_in_and_out_with_hmac(client: TestClient, db: Database, provider: FakeGateway,
                                                    outcomes: Outcomes) -> None:
    bob = await available_agent(client, db, "bob", support=2)
    response = await post_webhook(client, "/sms/local/inbound",
                                  {"id": "gw-in-1", "from": "13912345678", "to": "13900139000", "text": "发票呢"})
    assert response.status == 200 and (await response.json())["action"] == "routed"
    interaction = await bob.offer()
    await bob.accept(interaction)
    await bob.reply(interaction, "已开具")
    request = await provider.next()
    assert request.path == "/send"
    assert valid_webhook_signature(WEBHOOK_SECRET, request.body, request.headers["X-Signature"])
    body = request.json
    assert (body["to"], body["from"], body["text"]) == (CUSTOMER, LOCAL_NUMBER, "已开具")
    assert request.headers["Idempotency-Key"] == body["id"]
    item, failed = await outcomes.next()
    assert failed is None and body["id"] == str(item.id)

    receipt = await post_webhook(client, "/sms/local/status", {"id": provider.accepted[0], "status": "delivered"})
    assert receipt.status == 200, await receipt.text()
    statuses = [t["payload"]["status"] for t in await _touchpoints(db, interaction, "delivery_status")]
    assert statuses == ["sent", "delivered"]
    await bob.disconnect()


async def test_the_console_counts_segments_while_typing(client: TestClient, db: Database) -> None:
    assert (await client.get("/api/sms/segments", params={"text": "hi"})).status == 401
    await make_agent(db, "carol")
    token = await login(client, "carol")
    response = await client.get("/api/sms/segments", params={"text": "好" * 71}, headers=bearer(token))
    assert response.status == 200
    assert json.loads(await response.text()) == {
        "encoding": "ucs2", "segments": 2, "units": 71, "per_segment": 67, "remaining": 63}
    missing = await client.get("/api/sms/segments", headers=bearer(token))
    assert (missing.status, (await missing.json())["error"]["code"]) == (400, "missing_text")


async def test_a_send_retried_after_its_outcome_was_lost_is_not_texted_twice(
    client: TestClient, db: Database, provider: FakeGateway, outcomes: Outcomes
) -> None:
    alice, interaction = await _conversation(client, db)
    await alice.reply(interaction, "只发一次")
    await provider.next()
    item, _ = await outcomes.next()
    # as if the process died after the provider accepted, before the row was marked: its lease runs out
    async with db.connection() as tx:
        await tx.conn.execute("UPDATE outbox SET status = 'pending', next_attempt_at = now() WHERE id = $1", item.id)
    client.app[SMS_CHANNEL].wake()
    again, failed = await outcomes.next()
    assert (again.id, failed) == (item.id, None)
    assert len(provider.captured) == 1
    sent = [t["payload"] for t in await _touchpoints(db, interaction, "delivery_status")]
    assert [(p["status"], p["provider_id"]) for p in sent] == [("sent", provider.accepted[0])] * 2
    await alice.disconnect()


async def test_picture_messages_keep_their_media_and_are_never_keywords(client: TestClient, db: Database) -> None:
    response = await post_webhook(client, "/sms/local/inbound", {
        "id": "mms-1", "from": CUSTOMER, "to": LOCAL_NUMBER, "text": "STOP",
        "media": [{"url": "https://media.example/1.jpg", "content_type": "image/jpeg"}]})
    assert (await response.json())["action"] == "routed"
    async with db.connection() as tx:
        payload = await tx.conn.fetchval("SELECT payload FROM touchpoints WHERE kind = 'inbound_message'")
        assert await tx.conn.fetchval("SELECT count(*) FROM sms_opt_outs") == 0
    assert payload["media"] == [{"url": "https://media.example/1.jpg", "content_type": "image/jpeg"}]


async def test_a_receipt_naming_another_id_is_not_attached_by_the_callbacks_outbox_id(
        client: TestClient, db: Database, provider: FakeGateway, outcomes: Outcomes) -> None:
    """The ``outbox_id`` in the callback URL only finds a message whose acceptance was never recorded."""
    alice, interaction = await _conversation(client, db)
    await alice.reply(interaction, "已发货")
    callback = (await provider.next()).form["StatusCallback"].removeprefix(PUBLIC_URL)
    await outcomes.next()  # accepted under the provider's id, recorded
    stranger = {"MessageSid": "SM-not-ours", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert (await post_twilio(client, callback, stranger)).status == 404
    assert [t["payload"]["status"] for t in await _touchpoints(db, interaction, "delivery_status")] == ["sent"]
    await alice.disconnect()
