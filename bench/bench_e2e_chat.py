"""New chat conversations per second end to end, next to the database's raw commit ceiling in the same run.

One conversation is the whole life of a new web-chat customer: the widget
connects to ``/chat/ws`` (Origin checked), says ``hello`` (a new visitor is
stored), sends one message (customer, interaction, touchpoint, console event
committed, then routed), an agent console gets the ``offer``, accepts, replies
(stored, pushed to the widget) and closes; the customer leaves when the reply
arrives. Nothing is simulated: the server is ``python -m contactcenter serve``
in its own process over an embedded PostgreSQL in a temporary folder, and the
clients speak the real protocols over loopback.

Measured at a fixed number of customers in flight (``--concurrency``) over a
bounded number of conversations, after an untimed warm-up:

* conversations per second (whole measured phase, and between its 10th and
  90th percentile completions);
* p50/p99 from the customer's ``message`` send to the agent's ``offer`` receipt
  (matched by the offer's preview text, which is that message), and to the
  agent's reply reaching the customer;
* the ceiling: raw asyncpg single-statement INSERT commits per second at the
  same concurrency against the same PostgreSQL, before and after (best kept);
* CPU cores used by the server, PostgreSQL and the load generator, and the
  server's resident memory;
* for whoever optimises: database commits per conversation, how long each
  agent step took to be answered, what the server's database connections
  were doing (``bench.load.pgstats``), how conversations spread over agents,
  and each load process's event-loop lag (a lagging client would be the
  limit, not the server).

The load generator is split in processes so that the Python client is not the
limit: one for the agent consoles, ``--procs`` (default 2) for the customers.

    .venv/bin/python -m bench.bench_e2e_chat            # 4,000 conversations, 64 in flight
    .venv/bin/python -m bench.bench_e2e_chat --quick    # a smoke run
    .venv/bin/python -m bench.bench_e2e_chat --profile /tmp/server.pstats   # server under cProfile (CPU time)
    .venv/bin/python -m bench.bench_e2e_chat --quick --statements          # statements per conversation

Results go to ``bench/results/e2e_chat.json`` (not with ``--profile``: profiled
figures are slowed down and only say where the time goes).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import pstats
import tempfile
import time
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from bench.load.clients import agent_process, customer_process
from bench.load.floor_server import FloorServer
from bench.load.pgstats import ActivitySampler, commits, max_connections, statements
from bench.load.stack import (
    BenchStack,
    Usage,
    create_agents,
    exit_on_sigterm,
    insert_ceiling,
    machine_info,
    raise_nofile_limit,
)
from bench.results_file import write_results
from bench.stats import nearest_rank
from contactcenter.cli import run_loop

RESULTS = Path(__file__).resolve().parent / "results" / "e2e_chat.json"
ORIGIN = "https://shop.bench.test"
WIDGET = "bench"
TARGETS = {"conversations_per_s": 1000, "p99_message_to_offer_ms": 50.0, "share_of_ceiling": 0.30}
CONVERSATION_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Plan:
    conversations: int
    warmup: int
    concurrency: int
    procs: int
    agents: int
    capacity: int
    pool_max_size: int
    ceiling_s: float
    statements: bool = False


def config_yaml(plan: Plan) -> str:
    """One widget on one chat queue; offers never time out (``close`` ends the default wrap-up at once)."""
    return f"""\
server: {{host: 127.0.0.1, port: 0, timezone: UTC}}
database: {{url: null, pool_min_size: 2, pool_max_size: {plan.pool_max_size}}}
skills: {{chat: {{}}}}
routing:
  offer_timeout: {{chat: 10m}}
  capacity: {{chat: 50}}
  max_missed_offers: 0
queues:
  web: {{channels: [chat], skills: {{chat: 1}}}}
channels:
  webchat:
    widgets:
      - name: {WIDGET}
        allowed_origins: ["{ORIGIN}"]
        queue: web
"""


def expect(conn: Connection, kind: str, timeout: float, who: str) -> Any:
    """The child's next report, which must be ``kind``; its failure or silence fails the run."""
    if not conn.poll(timeout):
        raise TimeoutError(f"{who} did not report {kind!r} within {timeout:.0f} s")
    got, payload = conn.recv()
    if got != kind:
        raise RuntimeError(f"{who} reported {got}: {payload}")
    return payload


def percentile(values: list[float], q: float) -> float | None:
    """``nearest_rank`` to two places; None with no values."""
    return round(nearest_rank(values, q), 2) if values else None


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


async def settle(url: str, timeout: float) -> dict[str, int]:
    """Wait (bounded) until the consoles have closed every conversation; return the database's counts."""
    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            row = await conn.fetchrow(
                """SELECT count(*) AS interactions, count(*) FILTER (WHERE state = 'closed') AS closed,
                          (SELECT count(*) FROM touchpoints) AS touchpoints FROM interactions""")
            if row["closed"] == row["interactions"] or time.monotonic() > deadline:
                spread = await conn.fetchrow(
                    """SELECT count(*) AS agents_used, max(n) AS most_per_agent, min(n) AS fewest_per_agent
                       FROM (SELECT count(*) AS n FROM interactions WHERE agent_id IS NOT NULL GROUP BY agent_id) a""")
                return {**dict(row), **dict(spread)}
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


class Load:
    """The load processes: one of agent consoles, ``plan.procs`` of customers, warmed up on entry.

    ``measure`` runs the measured phase; ``stop_agents`` ends the consoles and
    returns what they saw. Used against the real server and the floor server
    alike, so both see the same clients.
    """

    def __init__(self, base_url: str, tokens: list[str], plan: Plan) -> None:
        self.base_url, self.tokens, self.plan = base_url, tokens, plan
        self.children: list[multiprocessing.process.BaseProcess] = []
        self.ends: list[Connection] = []
        self.warm: list[dict[str, Any]] = []

    def __enter__(self) -> Load:
        spawn = multiprocessing.get_context("spawn")
        try:
            self.agent_end, child_end = spawn.Pipe()
            self._start(spawn.Process(target=agent_process, args=(self.base_url, self.tokens, child_end), daemon=True))
            expect(self.agent_end, "ready", 90, "the agent process")
            plan = self.plan
            for i, (concurrency, warmup, count) in enumerate(zip(split(plan.concurrency, plan.procs),
                                                                 split(plan.warmup, plan.procs),
                                                                 split(plan.conversations, plan.procs), strict=True)):
                end, child_end = spawn.Pipe()
                self._start(spawn.Process(target=customer_process, daemon=True, args=(
                    self.base_url, ORIGIN, WIDGET, i, concurrency, warmup, count, CONVERSATION_TIMEOUT_S,
                    child_end)))
                self.ends.append(end)
            self.warm = [expect(end, "warm", 120, f"customer process {i}") for i, end in enumerate(self.ends)]
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self, child: multiprocessing.process.BaseProcess) -> None:
        self.children.append(child)
        child.start()

    def processes(self) -> list[psutil.Process]:
        return [psutil.Process(c.pid) for c in self.children if c.pid is not None]

    def measure(self, groups: dict[str, list[psutil.Process]]) -> tuple[list[dict[str, Any]], dict[str, float]]:
        """Every customer process's measured phase, and the cores each group used meanwhile."""
        before = Usage.now(groups)
        for end in self.ends:
            end.send("go")
        limit = 60 + CONVERSATION_TIMEOUT_S + self.plan.conversations / 20
        phases = [expect(end, "done", limit, f"customer process {i}") for i, end in enumerate(self.ends)]
        return phases, Usage.now(groups).cores_since(before)

    def stop_agents(self) -> dict[str, Any]:
        self.agent_end.send("stop")
        return expect(self.agent_end, "done", 60, "the agent process")

    def __exit__(self, *exc: object) -> None:
        for child in self.children:
            child.join(10)
            if child.is_alive():
                child.terminate()
                child.join(10)


def run(stack: BenchStack, plan: Plan) -> dict[str, Any]:
    load_at_start = round(os.getloadavg()[0], 2)
    url = stack.start_database(statement_stats=plan.statements)
    tokens = asyncio.run(create_agents(url, plan.agents, capacity={"chat": plan.capacity}, skills={"chat": 5}))
    ceiling_conns = min(plan.concurrency, asyncio.run(max_connections(url)) - plan.pool_max_size - 10)
    ceiling_before = run_loop(insert_ceiling(url, ceiling_conns, plan.ceiling_s), "uvloop")
    stack.start_server()
    server = stack.server_process
    with Load(stack.base_url, tokens, plan) as load:
        groups = {"server": [server], "postgres": stack.postgres_processes(), "load_generator": load.processes()}
        rss_before = server.memory_info().rss
        commits_before = asyncio.run(commits(url))
        if plan.statements:
            asyncio.run(statements(url, reset=True))
        with ActivitySampler(url) as activity:
            phases, cores = load.measure(groups)
        commits_after = asyncio.run(commits(url))
        top_statements = asyncio.run(statements(url, reset=False)) if plan.statements else []
        rss_after = server.memory_info().rss
        database = asyncio.run(settle(url, 30))
        tally = load.stop_agents()
    ceiling_after = run_loop(insert_ceiling(url, ceiling_conns, plan.ceiling_s), "uvloop")
    warnings = stack.log_lines_matching(" WARNING ", " ERROR ")
    stack.stop_server()
    floor = transport_floor(plan)
    return summarise(plan, phases, load.warm, tally, {
        "ceiling_runs_per_s": [round(ceiling_before), round(ceiling_after)], "ceiling_connections": ceiling_conns,
        "transport_floor": floor,
        "cpu_cores": cores,
        "server_rss_mib": {"before": round(rss_before / 2**20, 1), "after": round(rss_after / 2**20, 1)},
        "database": database, "server_log_warnings_and_errors": warnings,
        "server_db_connections": activity.summary(),
        # minus this bench's own statements in between: the reading before, the reset, the sampler's
        "db_commits_per_conversation": round(
            (commits_after - commits_before - 1 - plan.statements - activity.samples) / plan.conversations, 1),
        "load_average_1m": {"start": load_at_start, "end": round(os.getloadavg()[0], 2)},
        "top_statements": [{"per_conversation": round(s["calls"] / plan.conversations, 2),
                            "ms_per_call": round(s["total_exec_time"] / max(1, s["calls"]), 3),
                            "query": s["query"][:300]} for s in top_statements]})


def transport_floor(plan: Plan) -> dict[str, Any]:
    """The same load against ``bench.load.floor_server``: the protocols alone, nothing stored or routed.

    Conversations per second there are the most any server speaking these
    websocket exchanges can reach on this machine beside this load generator.
    """
    with FloorServer() as floor, Load(floor.base_url, [f"floor-{n}" for n in range(plan.agents)], plan) as load:
        phases, cores = load.measure({"server": [floor.process], "load_generator": load.processes()})
        tally = load.stop_agents()
    seconds = max(p["finished"] for p in phases) - min(p["started"] for p in phases)
    completed = sum(len(p["done_at"]) for p in phases)
    return {"conversations_per_s": round(completed / seconds, 1), "completed": completed,
            "failed": sum(p["failed"] for p in phases) + tally["counts"].get("errors", 0),
            "cpu_cores": cores,
            "cpu_ms_per_conversation": {k: round(v * seconds * 1000 / max(1, completed), 2) for k, v in cores.items()}}


def summarise(plan: Plan, phases: list[dict[str, Any]], warm: list[dict[str, Any]], tally: dict[str, Any],
              measured: dict[str, Any]) -> dict[str, Any]:
    """The figures from what every process recorded."""
    started = min(p["started"] for p in phases)
    finished = max(p["finished"] for p in phases)
    done_at = sorted(t for p in phases for t in p["done_at"])
    completed = len(done_at)
    lo, hi = int(0.1 * completed), int(0.9 * completed) - 1
    steady = (hi - lo) / (done_at[hi] - done_at[lo]) if completed > 20 and done_at[hi] > done_at[lo] else None
    offered_at: dict[str, float] = tally["offered_at"]
    sent_at = {text: at for p in phases for text, at in p["sent_at"].items()}
    to_offer = [(offered_at[text] - at) * 1000 for text, at in sent_at.items() if text in offered_at]
    to_reply = [s * 1000 for p in phases for s in p["reply_s"]]
    rate = completed / (finished - started)
    ceiling = max(measured["ceiling_runs_per_s"])
    floor = measured["transport_floor"]["conversations_per_s"]
    results = {
        "conversations": plan.conversations,
        "completed": completed,
        "failed": sum(p["failed"] for p in phases),
        "seconds": round(finished - started, 2),
        "conversations_per_s": round(rate, 1),
        "conversations_per_s_steady": None if steady is None else round(steady, 1),
        "message_to_offer_ms": {"p50": percentile(to_offer, 0.5), "p90": percentile(to_offer, 0.9),
                                "p99": percentile(to_offer, 0.99), "max": percentile(to_offer, 1.0)},
        "offers_unmatched": len(sent_at) - len(to_offer),
        "message_to_reply_ms": {"p50": percentile(to_reply, 0.5), "p99": percentile(to_reply, 0.99)},
        "agent_step_ms": {step: {"p50": percentile(v, 0.5), "p99": percentile(v, 0.99)}
                          for step, v in tally["steps_ms"].items()},
        "cpu_ms_per_conversation": {k: round(v * (finished - started) * 1000 / max(1, completed), 2)
                                    for k, v in measured["cpu_cores"].items()},
        "ceiling_insert_commits_per_s": ceiling,
        "share_of_ceiling": round(rate / ceiling, 3) if ceiling else None,
        "share_of_transport_floor": round(rate / floor, 3) if floor else None,
        **measured,
        "agent_messages": tally["counts"],
        "load_generator_loop_lag_ms": {"agents": tally["loop_lag_ms"],
                                       **{f"customers_{i}": p["loop_lag_ms"] for i, p in enumerate(phases)}},
        "errors": [e for p in phases for e in p["errors"]][:10] + tally["errors"][:10],
        "warmup_failed": sum(w["failed"] for w in warm),
    }
    p99 = results["message_to_offer_ms"]["p99"]
    verdict = {
        "conversations_per_s": rate >= TARGETS["conversations_per_s"],
        "p99_message_to_offer_ms": p99 is not None and p99 <= TARGETS["p99_message_to_offer_ms"],
        "share_of_ceiling": results["share_of_ceiling"] is not None
        and results["share_of_ceiling"] >= TARGETS["share_of_ceiling"],
    }
    return {"results": results, "verdict": verdict}


def print_report(report: dict[str, Any]) -> None:
    r, plan = report["results"], report["setup"]
    offer, reply = r["message_to_offer_ms"], r["message_to_reply_ms"]
    rows = [
        ("new chat conversations", f"{r['conversations_per_s']:,.0f}/s",
         f"steady {r['conversations_per_s_steady']}/s; {r['completed']:,} done, {r['failed']} failed, "
         f"{plan['concurrency']} in flight, target ≥ {TARGETS['conversations_per_s']:,}/s"),
        ("message → offer", f"p99 {offer['p99']} ms",
         f"p50 {offer['p50']} ms, p90 {offer['p90']} ms, max {offer['max']} ms, "
         f"target p99 ≤ {TARGETS['p99_message_to_offer_ms']:.0f} ms"),
        ("message → agent reply at customer", f"p99 {reply['p99']} ms", f"p50 {reply['p50']} ms"),
        ("agent step answered (p50/p99 ms)", "", ", ".join(
            f"{step} {v['p50']}/{v['p99']}" for step, v in r["agent_step_ms"].items())),
        ("ceiling: raw asyncpg INSERT commits", f"{r['ceiling_insert_commits_per_s']:,}/s",
         f"runs {r['ceiling_runs_per_s']} at {r['ceiling_connections']} connections"),
        ("conversations / ceiling", f"{r['share_of_ceiling']:.1%}", f"target ≥ {TARGETS['share_of_ceiling']:.0%}"),
        ("ceiling: transport floor", f"{r['transport_floor']['conversations_per_s']:,.0f}/s",
         "same clients, a server that only answers the frames; CPU ms per conversation: " + ", ".join(
             f"{k} {v}" for k, v in r["transport_floor"]["cpu_ms_per_conversation"].items())),
        ("conversations / transport floor", f"{r['share_of_transport_floor']:.1%}", ""),
        ("CPU cores used", ", ".join(f"{k} {v}" for k, v in r["cpu_cores"].items()),
         "CPU ms per conversation: " + ", ".join(f"{k} {v}" for k, v in r["cpu_ms_per_conversation"].items())
         + f"; {r['db_commits_per_conversation']} commits per conversation"),
        ("server RSS", f"{r['server_rss_mib']['after']} MiB", f"{r['server_rss_mib']['before']} MiB before"),
    ]
    for name, figure, note in rows:
        print(f"{name:36s} {figure:>22s}   {note}")
    print("load generator event-loop lag (p50/p99 ms): " + ", ".join(
        f"{k} {v['p50']}/{v['p99']}" for k, v in r["load_generator_loop_lag_ms"].items()))
    activity = r["server_db_connections"]
    print(f"server's DB connections, mean over {activity['samples']} samples: "
          + ", ".join(f"{k} {v}" for k, v in activity["mean_connections"].items())
          + f"; oldest open transaction {activity['oldest_open_transaction_ms']} ms"
          + f"; lock waits by event: {activity['lock_waits_by_event']}")
    spread = r["database"]
    print(f"conversations per agent: {spread['agents_used']} agents used, most {spread['most_per_agent']}, "
          f"fewest {spread['fewest_per_agent']} (warm-up included)")
    print(f"load average {r['load_average_1m']['start']} at start, {r['load_average_1m']['end']} at end; "
          f"server log warnings/errors: {r['server_log_warnings_and_errors']}")
    for error in r["errors"]:
        print(f"  error: {error}")
    if r["top_statements"]:
        print("statements per conversation (pg_stat_statements, measured phase):")
        for s in r["top_statements"]:
            print(f"  {s['per_conversation']:6.2f} x {s['ms_per_call']:7.3f} ms  {s['query'][:150]}")


def print_profile(path: Path, top: int = 30) -> None:
    """Where the server's time went: by own time, then cumulative (the callers that add up)."""
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 600 conversations, 32 in flight")
    parser.add_argument("--conversations", type=int, help="measured conversations (default 4,000; quick 600)")
    parser.add_argument("--concurrency", type=int, help="customers in flight (default 64; quick 32)")
    parser.add_argument("--procs", type=int, default=2, help="customer load processes (default 2)")
    parser.add_argument("--agents", type=int, default=32, help="agent consoles, all in one process (default 32)")
    parser.add_argument("--pool", type=int, default=10, help="the server's database.pool_max_size (default 10)")
    parser.add_argument("--profile", type=Path, help="run the server under cProfile, write its stats here")
    parser.add_argument("--statements", action="store_true",
                        help="load pg_stat_statements and print the statements run per conversation")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.name}")
    args = parser.parse_args(argv)
    concurrency = args.concurrency or (32 if args.quick else 64)
    plan = Plan(
        conversations=args.conversations or (600 if args.quick else 4_000), warmup=100 if args.quick else 300,
        concurrency=concurrency, procs=max(1, min(args.procs, concurrency)), agents=args.agents,
        capacity=max(50, 2 * concurrency // max(1, args.agents) + 1), pool_max_size=args.pool,
        ceiling_s=1.5 if args.quick else 3.0, statements=args.statements)
    exit_on_sigterm()
    raise_nofile_limit()
    profile = args.profile.resolve() if args.profile else None
    with tempfile.TemporaryDirectory(prefix="bench-e2e-chat-") as tmp, \
            BenchStack(Path(tmp), config_yaml(plan), profile=profile) as stack:
        try:
            outcome = run(stack, plan)
        except BaseException:
            print(f"server log (last lines):\n{stack.log_tail()}")
            raise
    report = {
        "benchmark": "e2e_chat",
        "quick": args.quick,
        "profiled": profile is not None,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "scenario": "new customer: /chat/ws hello -> message -> agent offer, accept, reply -> customer gets "
                    "the reply and leaves; agent closes",
        "setup": {**asdict(plan), "agent_processes": 1, "customer_processes": plan.procs,
                  "server": "python -m contactcenter serve (one process)", "client": "aiohttp websockets"},
        "targets": TARGETS,
        **outcome,
    }
    print_report(report)
    if profile is not None:
        print_profile(profile)
    elif not args.no_write:
        write_results(RESULTS, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
