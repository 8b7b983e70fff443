"""The gateways' call-events webhook: HMAC-signed, recorded as call events, ``ended`` starts wrap-up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from channels.voice import VoiceChannel
from contactcenter.db import Database
from contactcenter.webhook_signatures import webhook_signature
from harness.sipp import run_sipp
from tests.agent_console import AgentConsole
from tests.voice_channel.conftest import HOOK_SECRET
from tests.voice_channel.helpers import exact, while_calling
from tests.voice_channel.sipp import needs_sipp, scenario

pytestmark = needs_sipp


async def _connected_call(
    channel: VoiceChannel, sip_port: int, tmp_path: Path, console_for: Callable[..., Any]
) -> tuple[AgentConsole, str]:
    agent_uri = "sip:dora@127.0.0.1:5062"
    dora = await console_for("dora", sip_uri=agent_uri)
    await dora.available()
    call = asyncio.create_task(run_sipp(
        scenario("queue_redirect.xml", tmp_path, CONTACT_REGEXP=exact(agent_uri)), sip_port, workdir=tmp_path))
    offer = await while_calling(dora.expect("offer"), call)
    await dora.accept(offer["interaction"]["id"])
    result = await call
    assert result.returncode == 0, result.explain()
    await channel.desk.settle()
    return dora, offer["interaction"]["id"]


async def _post(client: TestClient, gateway: str, payload: dict[str, Any], secret: str = HOOK_SECRET) -> Any:
    body = json.dumps(payload).encode()
    return await client.post(f"/voice/{gateway}/events", data=body,
                             headers={"X-Signature": webhook_signature(secret, body),
                                      "Content-Type": "application/json"})


async def test_signed_events_are_recorded_and_ended_starts_wrap_up(
    client: TestClient, db: Database, channel: VoiceChannel, sip_port: int, tmp_path: Path,
    console_for: Callable[..., Any],
) -> None:
    dora, iid = await _connected_call(channel, sip_port, tmp_path, console_for)
    async with db.connection() as tx:
        call_id = await tx.conn.fetchval("SELECT attributes->>'call_id' FROM interactions")

    answered = await _post(client, "carrier", {"call_id": call_id, "event": "answered"})
    assert answered.status == 200, await answered.text()
    assert (await answered.json())["interaction_id"] == iid
    message = await dora.expect("message", interaction_id=iid)
    assert message["touchpoint"]["payload"]["event"] == "answered"

    held = await _post(client, "carrier", {"interaction_id": iid, "event": "held", "talk_time_s": 12.5})
    assert held.status == 200, await held.text()
    ended = await _post(client, "carrier", {"call_id": call_id, "event": "ended", "talk_time_s": 61})
    assert ended.status == 200, await ended.text()
    await dora.expect("wrap_up", interaction_id=iid)

    async with db.connection() as tx:
        state = await tx.conn.fetchval("SELECT state FROM interactions")
        events = await tx.conn.fetch(
            "SELECT actor_kind, actor_id, payload FROM touchpoints WHERE kind = 'call_event' ORDER BY id")
    assert state == "wrap_up"
    assert [e["payload"]["event"] for e in events] == ["redirected", "answered", "held", "ended"]
    assert events[-1]["payload"]["talk_time_s"] == 61 and events[-1]["payload"]["gateway"] == "carrier"
    assert {(e["actor_kind"], e["actor_id"]) for e in events[1:]} == {("system", "gateway:carrier")}


async def test_bad_signatures_and_bad_bodies_are_refused(client: TestClient, db: Database) -> None:
    payload = {"call_id": "whatever", "event": "answered"}
    assert (await _post(client, "carrier", payload, secret="not-the-secret")).status == 403
    unsigned = await client.post("/voice/carrier/events", json=payload)
    assert unsigned.status == 403
    assert (await unsigned.json())["error"]["code"] == "bad_signature"
    assert (await _post(client, "pbx", payload)).status == 403  # a gateway without a secret cannot sign
    assert (await _post(client, "nowhere", payload)).status == 404
    unknown = await _post(client, "carrier", payload)
    assert (unknown.status, (await unknown.json())["error"]["code"]) == (404, "unknown_call")
    assert (await _post(client, "carrier", {"event": "answered"})).status == 400
    assert (await _post(client, "carrier", {"call_id": "x", "event": "dance"})).status in (400, 404)
    async with db.connection() as tx:
        assert await tx.conn.fetchval("SELECT count(*) FROM touchpoints") == 0


async def test_an_event_id_makes_redeliveries_and_replays_no_ops(
    client: TestClient, db: Database, channel: VoiceChannel, sip_port: int, tmp_path: Path,
    console_for: Callable[..., Any],
) -> None:
    dora, iid = await _connected_call(channel, sip_port, tmp_path, console_for)
    transferred = {"interaction_id": iid, "event": "transferred", "target": "8001", "event_id": "pbx-evt-1"}
    first = await _post(client, "carrier", transferred)
    assert (first.status, (await first.json())["duplicate"]) == (200, False)
    again = await _post(client, "carrier", transferred)  # the gateway lost our 200 and retries
    assert (again.status, (await again.json())["duplicate"]) == (200, True)

    ended = {"interaction_id": iid, "event": "ended", "talk_time_s": 30, "event_id": "pbx-evt-2"}
    assert (await _post(client, "carrier", ended)).status == 200
    await dora.expect("wrap_up", interaction_id=iid)
    replayed = await _post(client, "carrier", ended)  # the call has moved on; still a quiet no-op
    assert (replayed.status, (await replayed.json())["duplicate"]) == (200, True)
    later = await _post(client, "carrier", {**ended, "event": "held", "event_id": "pbx-evt-3"})  # a new id is new
    assert (await later.json())["duplicate"] is False

    async with db.connection() as tx:
        events = await tx.conn.fetch(
            "SELECT payload FROM touchpoints WHERE kind = 'call_event' AND actor_id = 'gateway:carrier' ORDER BY id")
    assert [(e["payload"]["event"], e["payload"].get("event_id")) for e in events] == [
        ("transferred", "pbx-evt-1"), ("ended", "pbx-evt-2"), ("held", "pbx-evt-3")]


async def test_a_nul_in_a_signed_event_is_stored_not_a_server_error(
    client: TestClient, db: Database, channel: VoiceChannel, sip_port: int, tmp_path: Path,
    console_for: Callable[..., Any],
) -> None:
    """PostgreSQL refuses U+0000 in jsonb: the gateway's text must be made storable (as the SIP side does with
    db_text), or every retry of this event fails with 500 and the event is never recorded."""
    dora, iid = await _connected_call(channel, sip_port, tmp_path, console_for)
    posted = await _post(client, "carrier", {"interaction_id": iid, "event": "transferred",
                                             "target": "80\u000001", "event_id": "evt\u00001"})
    assert posted.status == 200, (posted.status, await posted.text())
    await dora.expect("message", interaction_id=iid)
    async with db.connection() as tx:
        payload = await tx.conn.fetchval(
            "SELECT payload FROM touchpoints WHERE kind = 'call_event' AND actor_id = 'gateway:carrier'")
    assert (payload["target"], payload["event_id"]) == ("80\ufffd01", "evt\ufffd1")
