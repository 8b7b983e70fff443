"""Calls through the real SIP socket into the contact center: queued, redirected, cancelled, called back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

import routing as r
from channels.voice import VOICE, VoiceChannel
from contactcenter.api import app as app_module
from contactcenter.config import Settings
from contactcenter.db import Database
from harness.sipp import run_sipp
from tests.voice_channel.conftest import VOICEMAIL
from tests.voice_channel.helpers import UdpPeer, exact, request, while_calling
from tests.voice_channel.sipp import needs_sipp, scenario

pytestmark = needs_sipp


async def test_queued_call_is_redirected_to_the_accepting_agent(
    db: Database, channel: VoiceChannel, sip_port: int, tmp_path: Path, console_for: Callable[..., Any],
) -> None:
    """INVITE → 100 → 182; the agent accepts on the console → 302 to the agent's sip_uri → ACK."""
    agent_uri = "sip:alice@127.0.0.1:5062"
    alice = await console_for("alice", sip_uri=agent_uri)
    await alice.available()
    call = asyncio.create_task(run_sipp(
        scenario("queue_redirect.xml", tmp_path, CONTACT_REGEXP=exact(agent_uri)), sip_port,
        workdir=tmp_path, callers=["13800138000"]))
    offer = await while_calling(alice.expect("offer"), call)
    assert offer["interaction"]["channel"] == "voice"
    assert "+8613800138000" in offer["interaction"]["preview"]
    await alice.accept(offer["interaction"]["id"])
    result = await call
    assert result.returncode == 0, result.explain()
    assert result.count("SuccessfulCall") == 1
    await channel.desk.settle()

    async with db.connection() as tx:
        interaction = await tx.conn.fetchrow(
            "SELECT id, state, attributes, customer_id FROM interactions WHERE channel = 'voice'")
        identity = await tx.conn.fetchrow("SELECT kind, address, customer_id FROM customer_identities")
        history, _ = await tx.touchpoints.history(interaction["customer_id"], limit=50)
    assert interaction["state"] == "assigned"
    assert interaction["attributes"]["caller"] == "+8613800138000"
    assert interaction["attributes"]["dialled"] == "4008001234"
    assert (identity["kind"], identity["address"]) == ("phone", "+8613800138000")
    assert identity["customer_id"] == interaction["customer_id"]
    assert [t.kind for t in reversed(history)] == ["inbound_message", "offer", "accept", "call_event"]
    assert (history[0].payload["event"], history[0].payload["contact"]) == ("redirected", agent_uri)
    metrics = channel.metrics()
    assert metrics["desk_redirected_to_agent"] == 1 and metrics["desk_queued"] == 1
    assert metrics["desk_unacknowledged"] == 0 and metrics["active_calls"] == 0


@pytest.mark.parametrize("transport", ["u1", "t1"])
async def test_caller_hanging_up_in_queue_abandons_the_interaction(
    db: Database, channel: VoiceChannel, tmp_path: Path, transport: str,
) -> None:
    """INVITE → 100 → 182 → CANCEL → 200 + 487 → ACK (over UDP and TCP); the interaction is abandoned."""
    port = channel.shell.udp_port if transport == "u1" else channel.shell.tcp_port
    assert port is not None
    result = await run_sipp(scenario("queue_cancel.xml", tmp_path), port, workdir=tmp_path, transport=transport)
    assert result.returncode == 0, result.explain()
    await channel.desk.settle()
    async with db.connection() as tx:
        interaction = await tx.conn.fetchrow("SELECT id, state, closed_at FROM interactions")
        touchpoints = await tx.touchpoints.for_interaction(interaction["id"])
    assert interaction["state"] == "abandoned" and interaction["closed_at"] is not None
    assert [t.kind for t in touchpoints] == ["inbound_message", "call_event", "state_change"]
    cancelled = touchpoints[1]
    assert cancelled.payload["event"] == "cancelled" and cancelled.actor_kind == "customer"
    assert touchpoints[2].payload["state"] == "abandoned"
    assert channel.metrics()["desk_cancelled"] == 1


async def test_unknown_number_is_not_found(channel: VoiceChannel, sip_port: int) -> None:
    peer = await UdpPeer.open()
    try:
        peer.send(request("INVITE", peer.port, call_id="nobody-1", branch="nb1", service="4009999999"), sip_port)
        await peer.status(404)
    finally:
        peer.close()
    assert channel.metrics()["desk_rejected_unknown_number"] == 1


@pytest.mark.parametrize("voice_config", [{"max_wait": "2s"}])
async def test_no_agent_within_max_wait_gives_480_and_a_callback_with_the_number(
    db: Database, channel: VoiceChannel, sip_port: int, tmp_path: Path, console_for: Callable[..., Any],
) -> None:
    """Nobody available on the hotline for 2 s: 480 to the caller, and a callback offered later shows the number."""
    bob = await console_for("bob")  # connected but not available
    result = await run_sipp(scenario("queue_unavailable.xml", tmp_path), sip_port, workdir=tmp_path,
                            service="4008005678", callers=["13800138000"])
    assert result.returncode == 0, result.explain()
    await bob.available()
    offer = await bob.expect("offer")
    assert offer["interaction"]["preview"] == "回拨 Callback +8613800138000"
    assert offer["interaction"]["subject"] == "回拨 Callback +8613800138000"
    await channel.desk.settle()
    async with db.connection() as tx:
        rows = await tx.conn.fetch(
            "SELECT state, disposition, attributes, customer_id FROM interactions ORDER BY created_at")
    call, callback = rows
    assert (call["state"], call["disposition"]) == ("closed", "no_agent")
    assert callback["attributes"] == {"callback": True, "number": "+8613800138000",
                                      "from_call_id": call["attributes"]["call_id"]}
    assert callback["customer_id"] == call["customer_id"] and callback["state"] == "offered"
    assert channel.metrics()["desk_callbacks"] == 1


@pytest.mark.parametrize("voice_config", [{"max_wait": "2s", "callback_queue": "callbacks"}])
async def test_a_callback_waits_in_the_callback_queue_past_the_calls_max_wait(
    db: Database, channel: VoiceChannel, sip_port: int, tmp_path: Path, console_for: Callable[..., Any],
) -> None:
    """The hotline's callbacks go to `callbacks` (no max_wait): still queued long after the hotline's 2 s."""
    result = await run_sipp(scenario("queue_unavailable.xml", tmp_path), sip_port, workdir=tmp_path,
                            service="4008005678", callers=["13800138000"])
    assert result.returncode == 0, result.explain()
    await channel.desk.settle()
    async with db.connection() as tx:
        rows = await tx.conn.fetch(
            "SELECT id, queue, state, disposition, attributes FROM interactions ORDER BY created_at")
    call, callback = rows
    assert (call["queue"], call["state"], call["disposition"]) == ("hotline", "closed", "no_agent")
    assert callback["attributes"]["callback"] is True
    assert (callback["queue"], callback["state"]) == ("callbacks", "queued")
    assert channel.metrics()["desk_callbacks"] == 1

    # An hour on the router's clock, far past the hotline's max_wait: in the hotline this tick closed it.
    router = channel.ctx.router
    callback_id = str(callback["id"])
    assert router.router.next_deadline() is None  # nothing would ever time the callback out
    await router.submit(lambda at: r.Tick(at=at + 3600))
    assert router.router.interaction_state(callback_id) == r.InteractionState.QUEUED
    await channel.desk.settle()
    async with db.connection() as tx:
        row = await tx.conn.fetchrow("SELECT queue, state, closed_at FROM interactions WHERE id = $1", callback["id"])
    assert (row["queue"], row["state"], row["closed_at"]) == ("callbacks", "queued", None)

    bob = await console_for("bob")  # the callbacks queue routes like any other: the callback is offered
    await bob.available()
    offer = await bob.expect("offer")
    assert offer["interaction"]["id"] == callback_id
    assert offer["interaction"]["preview"] == "回拨 Callback +8613800138000"


async def test_calls_waiting_at_a_restart_are_closed_as_abandoned(
    settings: Settings, db: Database,
) -> None:
    """Shutdown answers waiting callers 503; the next start closes their interactions (reason restart)."""
    peer = await UdpPeer.open()
    try:
        first = app_module.build_app(settings, db)
        async with TestClient(TestServer(first, host="127.0.0.1", port=0)):
            port = first[VOICE].shell.udp_port
            assert port is not None
            peer.send(request("INVITE", peer.port, call_id="restart-1", branch="rs1"), port)
            await peer.status(182)  # committed: 182 only leaves after the interaction is stored
        await peer.status(503)  # the orderly shutdown told the caller to try elsewhere

        second = app_module.build_app(settings, db)
        async with TestClient(TestServer(second, host="127.0.0.1", port=0)):
            assert second[VOICE].metrics()["restart_abandoned"] == 1
            async with db.connection() as tx:
                row = await tx.conn.fetchrow("SELECT id, state FROM interactions")
                touchpoints = await tx.touchpoints.for_interaction(row["id"])
            assert row["state"] == "abandoned"
            assert touchpoints[-1].payload == {"state": "abandoned", "reason": "restart"}
    finally:
        peer.close()


async def test_no_agent_with_voicemail_redirects_to_the_voicemail_uri(
    db: Database, channel: VoiceChannel, sip_port: int, tmp_path: Path,
) -> None:
    """The after-hours queue (max wait 1 s, voicemail): 302 to the configured voicemail URI."""
    result = await run_sipp(scenario("queue_redirect.xml", tmp_path, CONTACT_REGEXP=exact(VOICEMAIL)), sip_port,
                            workdir=tmp_path, service="4008009999")
    assert result.returncode == 0, result.explain()
    await channel.desk.settle()
    async with db.connection() as tx:
        row = await tx.conn.fetchrow("SELECT id, state, disposition FROM interactions")
        touchpoints = await tx.touchpoints.for_interaction(row["id"])
    assert (row["state"], row["disposition"]) == ("closed", "no_agent")
    assert touchpoints[-1].payload == {"event": "voicemail", "contact": VOICEMAIL}
    assert channel.metrics()["desk_voicemail"] == 1


async def test_an_agent_without_a_phone_gets_the_call_ended_and_the_caller_480(
    db: Database, channel: VoiceChannel, sip_port: int, tmp_path: Path, console_for: Callable[..., Any],
) -> None:
    """No registration and no sip_uri: the caller hears 480, the agent is told why and goes to wrap-up."""
    fay = await console_for("fay")
    await fay.available()
    call = asyncio.create_task(run_sipp(scenario("queue_unavailable.xml", tmp_path), sip_port, workdir=tmp_path))
    offer = await while_calling(fay.expect("offer"), call)
    iid = offer["interaction"]["id"]
    await fay.accept(iid)
    result = await call
    assert result.returncode == 0, result.explain()
    message = await fay.expect("message", interaction_id=iid)
    assert message["touchpoint"]["payload"]["event"] == "unreachable"
    await fay.expect("wrap_up", interaction_id=iid)
    async with db.connection() as tx:
        assert await tx.conn.fetchval("SELECT state FROM interactions") == "wrap_up"
    assert channel.metrics()["desk_agent_unreachable"] == 1
