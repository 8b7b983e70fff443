"""Callers hanging up while queued (CANCEL, BYE in the early dialog, before the commit) leave no live call."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from channels.voice import VoiceChannel
from contactcenter.db import Database
from tests.voice_channel.helpers import UdpPeer, request


def _to_tag(response: bytes) -> str:
    match = re.search(rb"\r\nTo: [^\r\n]*;tag=([^;\r\n]+)", response)
    assert match, response
    return match.group(1).decode()


async def test_bye_in_the_early_dialog_while_queued_abandons_the_call(
    db: Database, channel: VoiceChannel, sip_port: int,
) -> None:
    """182 Queued carries a To tag (an early dialog); RFC 3261 §15 lets the caller end it with BYE, and
    §15.1.2 has the UAS answer the BYE 200 and the pending INVITE 487. The call must be abandoned."""
    peer = await UdpPeer.open()
    try:
        peer.send(request("INVITE", peer.port, call_id="bye-early-1", branch="be1"), sip_port)
        queued = await peer.status(182, call_id="bye-early-1")
        tag = _to_tag(queued)
        # the dialog's own From tag (the INVITE's: request() derives it from the branch) and our To tag
        bye = request("BYE", peer.port, call_id="bye-early-1", branch="be2", cseq=2).replace(
            b";tag=tbe2", b";tag=tbe1").replace(
            b"To: <sip:4008001234@127.0.0.1>", f"To: <sip:4008001234@127.0.0.1>;tag={tag}".encode())
        peer.send(bye, sip_port)
        async with asyncio.timeout(5):
            answer = await peer.inbox.get()
        assert answer.startswith(b"SIP/2.0 200 "), answer.split(b"\r\n")[0]  # not 481
        await peer.status(487, call_id="bye-early-1")
    finally:
        peer.close()
    await channel.desk.settle()
    async with db.connection() as tx:
        state = await tx.conn.fetchval("SELECT state FROM interactions")
    assert state == "abandoned"


async def test_cancel_is_abandoned_even_when_the_cancelled_touchpoint_cannot_be_written(
    db: Database, channel: VoiceChannel, sip_port: int, console_for: Callable[..., Any],
) -> None:
    """``_abandon`` writes the 'cancelled' call event before telling the router; when that write fails
    (database trouble) the router must still be told, or the dead call stays queued and is offered."""
    desk = channel.desk
    original = desk.writer.touchpoint

    def failing(iid: Any, event: str, *args: Any) -> asyncio.Future[None]:
        if event != "cancelled":
            return original(iid, event, *args)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_exception(ConnectionError("database went away"))
        return future

    desk.writer.touchpoint = failing  # type: ignore[method-assign]
    peer = await UdpPeer.open()
    try:
        peer.send(request("INVITE", peer.port, call_id="cancel-fail-1", branch="cf1"), sip_port)
        await peer.status(182, call_id="cancel-fail-1")
        peer.send(request("CANCEL", peer.port, call_id="cancel-fail-1", branch="cf1"), sip_port)
        await peer.status(487, call_id="cancel-fail-1")
    finally:
        peer.close()
    await desk.settle()
    async with db.connection() as tx:
        state = await tx.conn.fetchval("SELECT state FROM interactions")
    assert state == "abandoned", f"the caller hung up but the interaction is {state}"


async def test_a_call_cancelled_before_its_commit_is_never_offered(
    db: Database, channel: VoiceChannel, sip_port: int, console_for: Callable[..., Any],
) -> None:
    """INVITE and CANCEL in the same read batch: the desk knows the caller is gone before the batch commits,
    so ``_filed`` must not hand the call to the router (which would offer it to the free agent); the
    abandon path closes it in the store instead."""
    alice = await console_for("alice", sip_uri="sip:alice@127.0.0.1:5062")
    await alice.available()
    peer = await UdpPeer.open()
    try:
        peer.send(request("INVITE", peer.port, call_id="race-1", branch="rc1"), sip_port)
        peer.send(request("CANCEL", peer.port, call_id="race-1", branch="rc1"), sip_port)
        await peer.status(487, call_id="race-1")
    finally:
        peer.close()
    await channel.desk.settle()
    async with db.connection() as tx:
        row = await tx.conn.fetchrow("SELECT id, state, closed_at FROM interactions")
        kinds = [t.kind for t in await tx.touchpoints.for_interaction(row["id"])]
    assert row["state"] == "abandoned"
    assert "offer" not in kinds, kinds
    assert row["closed_at"] is not None and kinds[-1] == "state_change", kinds
