"""Load: SIPp places 1,000 calls at 50/s while a pool of agents auto-accepts over their websockets.

Every call must become exactly one interaction (none lost, none duplicated),
be offered, accepted, redirected with a 302 to the accepting agent's phone and
acknowledged, and end closed. SIPp's own counters, the database and the
channel's metrics must all agree. The full 20 s run fits CI's two cores (the
server, ten consoles, PostgreSQL and SIPp share them); ``LOAD_SECONDS``
shortens it for a quick local run.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from channels.voice import VoiceChannel
from contactcenter.db import Database
from harness.sipp import run_sipp
from tests.agent_console import AgentConsole
from tests.voice_channel.helpers import contact_regexp
from tests.voice_channel.sipp import needs_sipp, scenario

pytestmark = needs_sipp

RATE = 50
SECONDS = int(os.environ.get("LOAD_SECONDS", "20"))
AGENTS = 10


async def auto_accept(console: AgentConsole, handled: list[str], target: int, all_done: asyncio.Event) -> None:
    """Take every offer, then hang up (the console's ``ended`` softphone event) so the next can come."""
    while True:
        offer = await console.expect("offer", timeout=3600)
        iid = offer["interaction"]["id"]
        await console.send("accept", interaction_id=iid)
        await console.expect("assigned")
        await console.send("call_event", interaction_id=iid, event="ended")
        await console.expect("closed", interaction_id=iid)
        handled.append(iid)
        if len(handled) >= target:
            all_done.set()


@pytest.mark.parametrize("voice_config", [{"wrapup": "0s"}])
async def test_every_call_is_one_interaction_under_load(
    db: Database, channel: VoiceChannel, sip_port: int, tmp_path: Path, console_for: Callable[..., Any],
) -> None:
    calls = RATE * SECONDS
    consoles = [await console_for(f"agent{n}", sip_uri=f"sip:agent{n}@127.0.0.1:5062") for n in range(AGENTS)]
    for console in consoles:
        await console.available()
    handled: list[str] = []
    all_done = asyncio.Event()
    workers = [asyncio.create_task(auto_accept(console, handled, calls, all_done)) for console in consoles]
    callers = [f"138{n:08d}" for n in range(calls)]
    any_agent = contact_regexp(r"sip:agent[0-9]+@127\.0\.0\.1:5062")
    try:
        result = await run_sipp(
            scenario("queue_redirect.xml", tmp_path, CONTACT_REGEXP=any_agent), sip_port, workdir=tmp_path,
            callers=callers, calls=calls, rate=RATE, recv_timeout_ms=20_000, timeout_s=SECONDS + 60, trace_rtt=True,
        )
        if result.returncode == 0:
            async with asyncio.timeout(30):  # the last agents are still hanging up their calls
                await all_done.wait()
        await channel.desk.settle()
    finally:
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    successful, failed = result.count("SuccessfulCall"), result.count("FailedCall")
    rtts = sorted(rtt for _, rtt in result.rtt_ms)
    p50 = rtts[len(rtts) // 2] if rtts else float("nan")
    p99 = rtts[int(len(rtts) * 0.99)] if rtts else float("nan")
    print(f"\nload: calls={calls} successful={successful} failed={failed} "
          f"offered={RATE}/s completed in {result.elapsed_s:.1f}s "
          f"INVITE->182 p50={p50:.1f}ms p99={p99:.1f}ms handled_by_agents={len(handled)}")
    assert result.returncode == 0, result.explain()
    assert (successful, failed) == (calls, 0)

    async with db.connection() as tx:
        row = await tx.conn.fetchrow(
            """SELECT count(*) AS interactions, count(DISTINCT attributes->>'call_id') AS call_ids,
                      count(DISTINCT thread_key) AS threads, count(DISTINCT customer_id) AS customers,
                      count(*) FILTER (WHERE state = 'closed') AS closed
               FROM interactions WHERE channel = 'voice'""")
        inbound = await tx.conn.fetchval("SELECT count(*) FROM touchpoints WHERE kind = 'inbound_message'")
        redirects = await tx.conn.fetchval(
            "SELECT count(*) FROM touchpoints WHERE kind = 'call_event' AND payload->>'event' = 'redirected'")
    assert dict(row) == {"interactions": calls, "call_ids": calls, "threads": calls, "customers": calls,
                         "closed": calls}
    assert inbound == calls and redirects == calls
    assert len(handled) == calls and len(set(handled)) == calls
    metrics = channel.metrics()
    assert metrics["desk_redirected_to_agent"] == calls and metrics["desk_unacknowledged"] == 0
    assert metrics["shell_handler_errors"] == 0 and metrics["desk_reaction_errors"] == 0
