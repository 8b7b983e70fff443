"""Signed Twilio webhooks committed per second, next to the database's own ceiling measured in the same run.

What one aiohttp server process sustains for ``POST /sms/{gateway}/inbound``:
each request is signature-checked, parsed, normalised to E.164 and committed
(customer, interaction or join, touchpoint, dedupe key) before its 200. The
ceiling is what the same embedded PostgreSQL gives raw asyncpg at the same
concurrency: one single-statement INSERT per commit. The gap between the two
is our cost per message (HTTP, parsing, several statements per transaction,
routing new interactions).

The server runs in its own process, on loopback, over an embedded PostgreSQL
in a temporary directory; the load comes from 32 concurrent clients in this
process with signatures computed beforehand. Counts are bounded.

Run ``python -m bench.bench_sms`` (``--quick`` for a smoke run). Results go to
``bench/results/sms.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import asyncpg

from bench.load.stack import BenchDatabase, migrate_database
from bench.results_file import write_results
from bench.stats import nearest_rank
from channels.sms.signatures import twilio_signature
from contactcenter.cli import run_loop

CONCURRENCY = 32
TOKEN = "bench-auth-token"
PUBLIC_URL = "https://bench.example"
OUR_NUMBER = "+8613800138000"
PATH = "/sms/bench/inbound"
RESULTS = Path(__file__).parent / "results" / "sms.json"


def settings_yaml(db_url: str) -> str:
    return f"""
server: {{host: 127.0.0.1, port: 0, public_url: "{PUBLIC_URL}", default_phone_region: CN,
         rate_limits: {{connections: null, login: null, intake: null}}}}
database: {{url: {json.dumps(db_url)}, pool_min_size: {CONCURRENCY}, pool_max_size: {CONCURRENCY}}}
skills: {{sales: {{}}}}
queues:
  sales: {{channels: [sms], skills: {{sales: 1}}}}
channels:
  sms:
    gateways:
      - name: bench
        type: twilio
        account_sid: ACbench
        auth_token: {TOKEN}
        api_base: http://127.0.0.1:9
        numbers: [{{number: "{OUR_NUMBER}", queue: sales}}]
"""


# -- the server process -----------------------------------------------------------------------------


def serve(yaml_text: str, conn: Connection) -> None:
    """Child process: the real app on 127.0.0.1:0; sends its port, runs until told to stop."""
    run_loop(_serve(yaml_text, conn), "uvloop")  # as `contactcenter serve` runs by default


async def _serve(yaml_text: str, conn: Connection) -> None:
    from aiohttp import web

    import channels.sms as sms
    from contactcenter.api.app import CHANNEL_SETUPS, CHANNELS, build_app
    from contactcenter.config import parse_config
    from contactcenter.db import Database

    settings = parse_config(yaml_text, source="bench", env={})
    assert settings.database.url is not None
    db = await Database.connect(settings.database.url, min_size=CONCURRENCY, max_size=CONCURRENCY)
    app = build_app(settings, db)
    if sms.setup not in CHANNEL_SETUPS:
        sms.setup(app, app[CHANNELS])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    conn.send(runner.addresses[0][1])
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # any message means stop
    await runner.cleanup()
    await db.close()


# -- load ------------------------------------------------------------------------------------------


def signed_requests(count: int, start: int, customers: int) -> list[tuple[bytes, str]]:
    """Bodies and signatures made before the clock starts: the client's cost is not measured."""
    out = []
    for n in range(start, start + count):
        fields = {"MessageSid": f"SM{n:032x}", "AccountSid": "ACbench", "From": f"+86139{n % customers:08d}",
                  "To": OUR_NUMBER, "Body": f"第 {n} 条消息：我的订单什么时候到？", "NumMedia": "0"}
        out.append((urlencode(fields).encode(), twilio_signature(TOKEN, PUBLIC_URL + PATH, fields.items())))
    return out


async def post_all(base: str, requests: list[tuple[bytes, str]]) -> tuple[float, list[float]]:
    """Seconds to get every request answered 200, at CONCURRENCY in flight, and each latency."""
    latencies: list[float] = []
    queue = iter(requests)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(base, connector=connector) as session:

        async def client() -> None:
            for body, signature in queue:
                began = time.perf_counter()
                async with session.post(PATH, data=body, headers={
                        "X-Twilio-Signature": signature,
                        "Content-Type": "application/x-www-form-urlencoded"}) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"webhook answered {response.status}: {await response.text()}")
                latencies.append(time.perf_counter() - began)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
        return time.perf_counter() - started, latencies


async def ceiling(db_url: str, count: int) -> float:
    """Raw asyncpg single-statement INSERT commits per second at CONCURRENCY connections."""
    pool = await asyncpg.create_pool(db_url, min_size=CONCURRENCY, max_size=CONCURRENCY)
    try:
        await pool.execute("CREATE TABLE IF NOT EXISTS bench_ceiling (id bigint GENERATED ALWAYS AS IDENTITY "
                           "PRIMARY KEY, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")
        numbers = iter(range(count))

        async def writer() -> None:
            async with pool.acquire() as conn:
                for n in numbers:
                    await conn.execute("INSERT INTO bench_ceiling (body) VALUES ($1)", f"第 {n} 条")

        started = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(CONCURRENCY)))
        return count / (time.perf_counter() - started)
    finally:
        await pool.close()


async def measure(db_url: str, base: str, count: int, warmup: int, customers: int) -> dict[str, Any]:
    await post_all(base, signed_requests(warmup, 0, customers))
    requests = signed_requests(count, warmup, customers)
    ceiling_before = await ceiling(db_url, count)
    elapsed, latencies = await post_all(base, requests)
    ceiling_after = await ceiling(db_url, count)
    conn = await asyncpg.connect(db_url)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM touchpoints WHERE kind = 'inbound_message'")
        interactions = await conn.fetchval("SELECT count(*) FROM interactions")
        version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    if stored != warmup + count:
        raise RuntimeError(f"{stored} touchpoints stored for {warmup + count} webhooks answered 200")
    best_ceiling = max(ceiling_before, ceiling_after)
    rate = count / elapsed
    return {
        "webhooks": count,
        "warmup": warmup,
        "customers": customers,
        "interactions": interactions,
        "concurrency": CONCURRENCY,
        "webhooks_committed_per_s": round(rate),
        "latency_ms_p50": round(statistics.median(latencies) * 1000, 2),
        "latency_ms_p99": round(nearest_rank(latencies, 0.99) * 1000, 2),
        "ceiling_insert_commits_per_s": round(best_ceiling),
        "ceiling_runs_per_s": [round(ceiling_before), round(ceiling_after)],
        "share_of_ceiling": round(rate / best_ceiling, 3),
        "postgres": version,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer webhooks")
    args = parser.parse_args(argv)
    count, warmup, customers = (1_000, 200, 200) if args.quick else (8_000, 500, 1_000)

    with tempfile.TemporaryDirectory(prefix="bench-sms-") as tmp, BenchDatabase(Path(tmp)) as database:
        db_url = database.start()
        child = None
        parent_end, child_end = multiprocessing.get_context("spawn").Pipe()
        try:
            asyncio.run(migrate_database(db_url))
            child = multiprocessing.get_context("spawn").Process(
                target=serve, args=(settings_yaml(db_url), child_end), daemon=True)
            child.start()
            if not parent_end.poll(60):
                raise RuntimeError("the server process did not start within 60 s")
            port = parent_end.recv()
            results = asyncio.run(measure(db_url, f"http://127.0.0.1:{port}", count, warmup, customers))
        finally:
            if child is not None:
                parent_end.send("stop")
                child.join(30)
                if child.is_alive():
                    child.terminate()

    results.update(mode="quick" if args.quick else "full", python=platform.python_version(),
                   machine=f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
                   measured_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    write_results(RESULTS, results, announce=False)
    rows = [
        ("signed Twilio webhooks committed", f"{results['webhooks_committed_per_s']:,}/s",
         f"p50 {results['latency_ms_p50']} ms, p99 {results['latency_ms_p99']} ms"),
        ("ceiling: raw asyncpg INSERT commits", f"{results['ceiling_insert_commits_per_s']:,}/s",
         f"runs {results['ceiling_runs_per_s']}"),
        ("webhooks / ceiling", f"{results['share_of_ceiling']:.0%}",
         f"{count:,} webhooks, {CONCURRENCY} clients, {results['interactions']:,} interactions"),
    ]
    for name, figure, note in rows:
        print(f"{name:38s} {figure:>10s}   {note}")
    print(f"written to {RESULTS}")
    return results


if __name__ == "__main__":
    main()
