"""End-to-end SIP benchmark: INVITE → 182 per second, every call a durable interaction.

The real application (``build_app`` with the voice channel) runs in this
process over an embedded PostgreSQL in a temp folder; SIPp places calls at a
ramp of fixed rates, each step bounded by ``-m``. A call counts when its
``182 Queued`` arrives, which the channel only sends after the call's
customer, interaction and touchpoint have committed. Per step: completed
calls per second (from SIPp's 182 receipt times), p50/p99 INVITE→182 (SIPp's
response-time trace, millisecond resolution), failures, the rows actually in
the database, and the server process's CPU per call.

Two modes: ``arrive`` (the caller stays queued: the INVITE→182 path alone)
and ``cancel`` (the caller hangs up after the 182: arrival plus abandonment,
the full cost of a call that never reaches an agent). In the same run, the
ceilings: raw asyncpg single-statement INSERT commits/s at concurrency 1 (the
channel's writer commits one batch at a time) and at the pool size, and the
pure SIP core's INVITE→182 rate without a database.

Run ``python -m bench.bench_sip`` (``--quick`` for a short smoke run); the
figures go to ``bench/results/sip.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import platform
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from aiohttp import web

import channels.voice as voice
from bench.bench_sip_parse import best_rate, make_endpoint_bench
from bench.load.stack import BenchDatabase, insert_ceiling, migrate_database
from bench.results_file import write_results
from bench.stats import nearest_rank
from contactcenter.api import app as app_module
from contactcenter.config import load_config
from contactcenter.db import Database
from harness.sipp import SippRun, run_sipp, sipp_available

RESULTS = Path(__file__).parent / "results" / "sip.json"
POOL_SIZE = 10

INVITE = """\
  <send retrans="500" start_rtd="1">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Bench [call_number]" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]B[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="182" rtd="1"/>
"""
CANCEL = """\
  <send>
    <![CDATA[

      CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: "Bench [call_number]" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]B[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 CANCEL
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
  <recv response="487"/>
  <send>
    <![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: "Bench [call_number]" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]B[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""
SCENARIOS = {
    "arrive": f'<?xml version="1.0"?>\n<scenario name="arrive">\n{INVITE}</scenario>\n',
    "cancel": f'<?xml version="1.0"?>\n<scenario name="cancel">\n{INVITE}{CANCEL}</scenario>\n',
}
CONFIG = """\
server: {host: 127.0.0.1, port: 0, default_phone_region: CN}
skills: {sales: {label: sales}}
queues:
  sales: {channels: [voice], skills: {sales: 1}}
channels:
  voice:
    sip:
      host: 127.0.0.1
      port: 0
      transports: [udp]
      queued_interval: 600s
      gateways: [{name: carrier, allow: [127.0.0.0/8]}]
      numbers: [{number: "4008001234", queue: sales}]
"""


class Stack:
    """Embedded PostgreSQL, the pool and the running application."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.database = BenchDatabase(folder)
        self.url = ""
        self.db: Database | None = None
        self.runner: web.AppRunner | None = None
        self.channel: voice.VoiceChannel | None = None

    async def start(self) -> None:
        self.url = await asyncio.to_thread(self.database.start)
        await migrate_database(self.url)
        self.db = await Database.connect(self.url, min_size=2, max_size=POOL_SIZE)
        config = self.folder / "bench.yaml"
        config.write_text(textwrap.dedent(CONFIG))
        settings = load_config(config, env={})
        bigger = functools.partial(voice.setup, max_calls=200_000)  # in place of the default, or added
        setups = app_module.CHANNEL_SETUPS
        app_module.CHANNEL_SETUPS = (  # type: ignore[misc]
            tuple(bigger if s is voice.setup else s for s in setups) if voice.setup in setups else (*setups, bigger))
        app = app_module.build_app(settings, self.db)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.channel = app[voice.VOICE]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self.db is not None:
            await self.db.close()
        await asyncio.to_thread(self.database.stop)

    async def counts(self) -> dict[str, int]:
        assert self.db is not None
        row = await self.db.fetchval(
            """SELECT json_build_object('interactions', count(*), 'call_ids', count(DISTINCT thread_key),
                                        'abandoned', count(*) FILTER (WHERE state = 'abandoned'))
               FROM interactions""")
        return dict(row)


async def step(stack: Stack, mode: str, rate: int, seconds: float, first_caller: int) -> dict[str, Any]:
    """One SIPp run at a fixed rate; returns its figures."""
    assert stack.channel is not None and stack.channel.shell.udp_port is not None
    calls = int(rate * seconds)
    workdir = stack.folder / f"{mode}-{rate}"
    workdir.mkdir()
    scenario = workdir / f"{mode}.xml"
    scenario.write_text(SCENARIOS[mode])
    callers = [f"139{n:08d}" for n in range(first_caller, first_caller + calls)]
    before = await stack.counts()
    cpu, wall = time.process_time(), time.perf_counter()
    run: SippRun = await run_sipp(
        scenario, stack.channel.shell.udp_port, workdir=workdir, callers=callers, calls=calls, rate=rate,
        recv_timeout_ms=10_000, timeout_s=seconds + 60, trace_rtt=True)
    await stack.channel.desk.settle()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    after = await stack.counts()
    stamps = sorted(when for when, _ in run.rtt_ms)
    rtts = sorted(rtt for _, rtt in run.rtt_ms)
    span_s = (stamps[-1] - stamps[0]) / 1000 if len(stamps) > 1 else 0.0
    successful = run.count("SuccessfulCall")
    return {
        "mode": mode,
        "offered_per_s": rate,
        "calls": calls,
        "successful": successful,
        "failed": run.count("FailedCall"),
        "completed_182_per_s": round((len(stamps) - 1) / span_s, 1) if span_s else 0.0,
        "p50_ms": nearest_rank(rtts, 0.50) if rtts else None,
        "p99_ms": nearest_rank(rtts, 0.99) if rtts else None,
        "max_ms": rtts[-1] if rtts else None,
        "stored": after["interactions"] - before["interactions"],
        "distinct_call_ids": after["call_ids"] - before["call_ids"],
        "abandoned": after["abandoned"] - before["abandoned"],
        "server_cpu_us_per_call": round(cpu / max(1, successful) * 1e6),
        "server_cpu_share": round(cpu / wall, 2),
        "sipp_exit": run.returncode,
    }


async def run(quick: bool) -> dict[str, Any]:
    rates = [500, 2000] if quick else [500, 1000, 2000, 3000, 4000]
    seconds = 2.0 if quick else 4.0
    results: dict[str, Any] = {"machine": f"{platform.machine()} {os.cpu_count()} cpus", "quick": quick,
                               "loadavg_before": os.getloadavg()[0]}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-sip-") as tmp:
        stack = Stack(Path(tmp))
        await stack.start()
        try:
            steps: list[dict[str, Any]] = []
            caller = 0
            for rate in rates:
                steps.append(await step(stack, "arrive", rate, seconds, caller))
                caller += int(rate * seconds)
            cancel_rate = 1000 if quick else 2000
            steps.append(await step(stack, "cancel", cancel_rate, seconds, caller))
            results["steps"] = steps
            assert stack.channel is not None
            results["channel_metrics"] = {k: v for k, v in stack.channel.metrics().items()
                                          if k.startswith(("writer_", "desk_", "sip_"))}
            ceiling_s = 1.0 if quick else 2.0
            results["ceilings"] = {
                "asyncpg_insert_commits_per_s_1_conn": round(await insert_ceiling(stack.url, 1, ceiling_s)),
                f"asyncpg_insert_commits_per_s_{POOL_SIZE}_conns": round(
                    await insert_ceiling(stack.url, POOL_SIZE, ceiling_s)),
            }
        finally:
            await stack.stop()
    count = 2_000 if quick else 20_000
    results["ceilings"]["sip_core_invite_to_182_per_s_no_db"] = round(
        best_rate(make_endpoint_bench(count), count, 2 if quick else 5))
    arrive = [s for s in results["steps"] if s["mode"] == "arrive" and s["failed"] == 0 and s["sipp_exit"] == 0]
    # keeping up: every call answered, at (nearly) the offered rate, 182 within a second for 99 % of callers
    kept_up = [s for s in arrive if s["completed_182_per_s"] >= 0.95 * s["offered_per_s"] and (s["p99_ms"] or 0) < 1000]
    results["keeps_up_at_offered_per_s"] = max((s["offered_per_s"] for s in kept_up), default=0)
    results["peak_completed_182_per_s"] = max((s["completed_182_per_s"] for s in arrive), default=0.0)
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    results["loadavg_after"] = os.getloadavg()[0]  # other work on the machine skews every figure
    return results


def print_table(results: dict[str, Any]) -> None:
    head = (f"{'mode':7} {'offered/s':>9} {'calls':>6} {'ok':>6} {'fail':>5} {'182/s':>8} {'p50ms':>6} "
            f"{'p99ms':>6} {'stored':>6} {'cpu µs/call':>11} {'cpu':>5}")
    print(head)
    print("-" * len(head))
    for s in results["steps"]:
        print(f"{s['mode']:7} {s['offered_per_s']:>9} {s['calls']:>6} {s['successful']:>6} {s['failed']:>5} "
              f"{s['completed_182_per_s']:>8} {s['p50_ms']!s:>6} {s['p99_ms']!s:>6} {s['stored']:>6} "
              f"{s['server_cpu_us_per_call']:>11} {s['server_cpu_share']:>5}")
    print()
    for name, value in results["ceilings"].items():
        print(f"{name:45} {value:>10,}")
    print(f"{'keeps up (0 failed, ≥95 % completed, p99 < 1 s) at':45} {results['keeps_up_at_offered_per_s']:>10,}/s")
    print(f"{'peak completed INVITE→182 per second':45} {results['peak_completed_182_per_s']:>10,}")
    print(f"elapsed {results['elapsed_s']} s, load average {results['loadavg_before']:.1f} before, "
          f"{results['loadavg_after']:.1f} after")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two short steps: a smoke run")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.name}")
    args = parser.parse_args(argv)
    if not sipp_available():
        raise SystemExit("SIPp is not installed (Debian package sip-tester)")
    results = asyncio.run(run(args.quick))
    print_table(results)
    if not args.no_write:
        write_results(RESULTS, results, announce=False)
    return results


if __name__ == "__main__":
    main()
