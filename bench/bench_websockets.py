"""Concurrent websockets one server process holds, and the resident memory it takes to hold them.

Against ``python -m contactcenter serve`` (its own process, embedded
PostgreSQL in a temporary folder): 100 agent consoles connect to
``/agent/ws`` and go available, then 10,000 chat customers connect to
``/chat/ws`` and say ``hello`` (each gets a ``welcome``: a new visitor is
stored). Everything is held open for a while (longer than the server's 25 s
heartbeat in the full run, so its pings are answered too), then every
customer sends ``ping`` and must get its ``pong``: a connection counts as
held only if it still answers. The server's RSS (psutil) is read idle,
with the agents, at the peak and after the ping round; the target is 10,000
customers in at most 1.5 GiB.

The load runs in this process (one connection per customer, 50 customers per
loopback source address, at most 200 connecting at once); both this process
and the server get RLIMIT_NOFILE raised to its hard limit. Bounded in count
and time; closes everything and stops the server and PostgreSQL at the end,
also on failure.

    .venv/bin/python -m bench.bench_websockets           # 10,000 customers + 100 agents
    .venv/bin/python -m bench.bench_websockets --quick   # 1,000 + 20

Results go to ``bench/results/websockets.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench.load.clients import AgentTally, ServerRefused, run_agents, session_from, stop_clients
from bench.load.stack import BenchStack, Usage, create_agents, exit_on_sigterm, machine_info, raise_nofile_limit
from bench.results_file import write_results

RESULTS = Path(__file__).resolve().parent / "results" / "websockets.json"
ORIGIN = "https://shop.bench.test"
WIDGET = "bench"
TARGET_CUSTOMERS = 10_000
TARGET_RSS_BYTES = int(1.5 * 2**30)
PER_SOURCE_ADDRESS = 50
CONNECTING_AT_ONCE = 200

CONFIG = f"""\
server: {{host: 127.0.0.1, port: 0, timezone: UTC}}
skills: {{chat: {{}}}}
queues:
  web: {{channels: [chat], skills: {{chat: 1}}}}
channels:
  webchat:
    widgets:
      - name: {WIDGET}
        allowed_origins: ["{ORIGIN}"]
        queue: web
"""


@dataclass
class Customers:
    """The held customer sockets, their readers and what they have seen."""

    sockets: list[aiohttp.ClientWebSocketResponse] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)
    pongs: int = 0
    closed_by_server: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # a pong came or a socket closed

    def fail(self, exc: BaseException) -> None:
        self.failed += 1
        if len(self.errors) < 10:
            self.errors.append(f"{type(exc).__name__}: {exc}")

    async def read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Keep reading (aiohttp answers the server's heartbeat pings while we do), count pongs."""
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT and '"pong"' in msg.data:
                self.pongs += 1
                self.changed.set()
        self.closed_by_server += 1
        self.changed.set()

    async def pongs_since(self, start: int, timeout: float) -> int:
        """Wait (bounded) until every open socket answered a ping sent after ``start`` pongs; return how many."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.pongs - start < len(self.sockets) - self.closed_by_server:
                    self.changed.clear()
                    await self.changed.wait()
        return self.pongs - start


async def connect_customer(customers: Customers, session: aiohttp.ClientSession, url: str) -> None:
    """Open one widget socket and wait for the ``welcome`` to its ``hello``."""
    try:
        async with asyncio.timeout(60):
            ws = await session.ws_connect(url, headers={"Origin": ORIGIN})
            await ws.send_str(json.dumps({"type": "hello", "widget": WIDGET}))
            while True:
                msg = await ws.receive()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise ServerRefused(f"socket {msg.type.name.lower()} before welcome")
                kind = json.loads(msg.data).get("type")
                if kind == "welcome":
                    break
                if kind == "error":
                    raise ServerRefused(msg.data)
    except (ServerRefused, aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
        customers.fail(exc)
        return
    customers.sockets.append(ws)
    customers.readers.append(asyncio.create_task(customers.read(ws)))


class RssWatch:
    """The server's resident memory, sampled every second in the background (for the peak)."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = process.memory_info().rss
        self._task: asyncio.Task[None] | None = None

    def now(self) -> int:
        rss = self.process.memory_info().rss
        self.peak = max(self.peak, rss)
        return rss

    async def _run(self) -> None:
        while True:
            self.now()
            await asyncio.sleep(1.0)

    def __enter__(self) -> RssWatch:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


async def close_all(sockets: list[aiohttp.ClientWebSocketResponse]) -> None:
    """Close handshakes, a few hundred at a time, each bounded: the server sees customers leave normally."""
    gate = asyncio.Semaphore(500)

    async def close(ws: aiohttp.ClientWebSocketResponse) -> None:
        async with gate:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 5)

    await asyncio.gather(*(close(ws) for ws in sockets))


def mib(value: int) -> float:
    return round(value / 2**20, 1)


async def hold(stack: BenchStack, tokens: list[str], count: int, hold_s: float) -> dict[str, Any]:
    server = stack.server_process
    await asyncio.sleep(1.0)  # let start-up allocations settle before the idle reading
    rss_idle = server.memory_info().rss
    tally = AgentTally()
    agent_tasks, agent_sessions = await run_agents(stack.base_url, tokens, tally, auto=False)
    customers = Customers()
    try:
        with RssWatch(server) as rss:
            rss_agents = rss.now()
            groups = {"server": [server], "postgres": stack.postgres_processes(), "load_generator": [psutil.Process()]}
            before = Usage.now(groups)
            url = f"{stack.base_url}/chat/ws?widget={WIDGET}"
            customers.sessions = [session_from(n) for n in range(-(-count // PER_SOURCE_ADDRESS))]
            gate = asyncio.Semaphore(CONNECTING_AT_ONCE)

            async def one(n: int) -> None:
                async with gate:
                    await connect_customer(customers, customers.sessions[n // PER_SOURCE_ADDRESS], url)

            started = time.perf_counter()
            await asyncio.gather(*(one(n) for n in range(count)))
            connect_s = time.perf_counter() - started
            cores = Usage.now(groups).cores_since(before)
            rss_connected = rss.now()
            await asyncio.sleep(hold_s)  # held, idle: heartbeats only
            pongs_before = customers.pongs
            for ws in customers.sockets:
                if not ws.closed:
                    await ws.send_str('{"type": "ping"}')
            answered = await customers.pongs_since(pongs_before, 60)
            closed_by_server = customers.closed_by_server  # before we close them all ourselves
            rss_after = rss.now()
            uss_after = server.memory_full_info().uss
            agents_open = sum(not t.done() for t in agent_tasks)
    finally:
        await close_all(customers.sockets)
        await stop_clients(customers.readers, customers.sessions)
        await stop_clients(agent_tasks, agent_sessions)
    held = answered + agents_open
    return {
        "customers_attempted": count,
        "customers_held": answered,
        "customers_failed": customers.failed,
        "customers_closed_by_server": closed_by_server,
        "agents_held": agents_open,
        "websockets_held": held,
        "connect_seconds": round(connect_s, 2),
        "customers_connected_per_s": round(count / connect_s, 1),
        "cpu_cores_while_connecting": cores,
        "held_for_s": hold_s,
        "server_rss_mib": {"idle": mib(rss_idle), "with_agents": mib(rss_agents), "connected": mib(rss_connected),
                           "after_ping_round": mib(rss_after), "peak": mib(rss.peak)},
        "server_uss_mib_after": mib(uss_after),
        "server_kib_per_websocket": round((rss.peak - rss_idle) / 1024 / max(1, held), 1),
        "errors": customers.errors + tally.errors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 customers and 20 agents, held 5 s")
    parser.add_argument("--customers", type=int, help="chat customers (default 10,000; quick 1,000)")
    parser.add_argument("--agents", type=int, help="agent consoles (default 100; quick 20)")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.name}")
    args = parser.parse_args(argv)
    count = args.customers or (1_000 if args.quick else TARGET_CUSTOMERS)
    agents = args.agents or (20 if args.quick else 100)
    hold_s = 5.0 if args.quick else 30.0
    exit_on_sigterm()
    nofile = raise_nofile_limit()  # before the server starts: it inherits the limit
    if nofile < count + agents + 200:
        raise SystemExit(f"RLIMIT_NOFILE is {nofile}: too low for {count + agents} websockets")
    load_at_start = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="bench-ws-") as tmp, BenchStack(Path(tmp), CONFIG) as stack:
        try:
            url = stack.start_database()
            tokens = asyncio.run(create_agents(url, agents, capacity={"chat": 5}, skills={"chat": 5}))
            stack.start_server()
            results = asyncio.run(hold(stack, tokens, count, hold_s))
            results["server_log_warnings_and_errors"] = stack.log_lines_matching(" WARNING ", " ERROR ")
        except BaseException:
            print(f"server log (last lines):\n{stack.log_tail()}")
            raise
    results["load_average_1m"] = {"start": load_at_start, "end": round(os.getloadavg()[0], 2)}
    results["rlimit_nofile"] = nofile
    rss_ok = results["server_rss_mib"]["peak"] * 2**20 <= TARGET_RSS_BYTES
    report = {
        "benchmark": "websockets",
        "quick": args.quick,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "scenario": f"{agents} agents on /agent/ws (available) + {count} customers on /chat/ws after hello, held "
                    f"{hold_s:.0f} s, then a ping round; one server process",
        "targets": {"customers_held": TARGET_CUSTOMERS, "server_rss_mib_max": TARGET_RSS_BYTES / 2**20},
        "results": results,
        "verdict": {"customers_held": results["customers_held"] >= TARGET_CUSTOMERS, "server_rss": rss_ok},
    }
    r = results
    print(f"websockets held            {r['websockets_held']:>8,}   ({r['customers_held']:,} customers answered a "
          f"ping, {r['agents_held']} agents; {r['customers_failed']} failed, {r['customers_closed_by_server']} "
          "closed by the server)")
    print(f"customers connected        {r['customers_connected_per_s']:>8,}/s ({r['connect_seconds']} s; CPU cores "
          + ", ".join(f"{k} {v}" for k, v in r["cpu_cores_while_connecting"].items()) + ")")
    print(f"server RSS peak            {r['server_rss_mib']['peak']:>8,} MiB ({r['server_rss_mib']['idle']} idle, "
          f"{r['server_kib_per_websocket']} KiB per websocket; USS {r['server_uss_mib_after']} MiB); "
          f"target {TARGET_CUSTOMERS:,} customers in ≤ {TARGET_RSS_BYTES / 2**30} GiB")
    print(f"load average {r['load_average_1m']['start']} at start, {r['load_average_1m']['end']} at end")
    for error in r["errors"]:
        print(f"  error: {error}")
    if not args.no_write:
        write_results(RESULTS, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
