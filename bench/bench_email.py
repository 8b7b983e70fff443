"""E-mail ingestion benchmark: messages per second from a real IMAP server into the store.

Scenario:

1. An embedded PostgreSQL (migrated) and a pymap IMAP server (in memory), both
   local. N messages are APPENDed to the INBOX first, untimed: the corpus's
   customer messages (GBK, Big5, HTML, attachments, ...) in rotation, each with
   its own Message-ID, from a few hundred senders.
2. The real application (``build_app`` with the e-mail channel, router and
   intake) starts; the timer runs from the moment it is up (its start-up is
   reported apart) until every message is committed *and* flagged ``\\Seen``:
   the IMAP login, UID SEARCH, batched UID FETCH, parsing (starting the
   parser's worker processes on the first backlog), threading, one transaction
   per batch (customers, interactions, touchpoints, Message-IDs, attachments),
   STORE, routing.
3. The ceiling, measured in the same run on the same database: raw asyncpg
   ``INSERT`` commits per second on one connection (the ingest's concurrency),
   one row per transaction.

    .venv/bin/python -m bench.bench_email           # 2,000 messages
    .venv/bin/python -m bench.bench_email --quick   # 300 messages
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import re
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.load.stack import BenchDatabase, migrate_database
from bench.results_file import write_results
from harness.sipp import free_port

# Third-party and project modules are imported inside the functions: the parser's worker
# processes are spawned and re-import this module, and should stay as light as in production.

RESULTS = Path(__file__).resolve().parent / "results" / "email.json"
CORPUS = Path(__file__).resolve().parents[1] / "tests" / "email" / "corpus"
PYMAP = Path(sys.executable).with_name("pymap")
# The corpus's customer messages (auto-replies, lists, bounces and malformed mail left out).
MESSAGES = [
    "01_plain_ascii.eml", "02_multipart_alternative.eml", "03_gbk_subject_qp_body.eml", "04_gbk_base64_body.eml",
    "05_gb2312_with_gbk_chars.eml", "06_gb18030.eml", "07_big5.eml", "08_utf8_emoji.eml", "09_iso8859_1.eml",
    "10_iso8859_15.eml", "11_qp_soft_breaks.eml", "12_attachment_rfc2231_chinese_filename.eml",
    "13_inline_cid_image.eml", "20_bogus_charset.eml", "21_html_only_script.eml", "23_reply_token_only.eml",
    "24_raw_8bit_gbk_headers.eml",
]
TARGET_PER_S = 400
_MESSAGE_ID = re.compile(rb"^Message-ID:[^\r\n]*(\r\n[ \t][^\r\n]*)*", re.IGNORECASE | re.MULTILINE)
_FROM = re.compile(rb"^From:[^\r\n]*", re.IGNORECASE | re.MULTILINE)


def bench_messages(count: int, senders: int = 300) -> list[bytes]:
    """``count`` messages: the corpus in rotation, each with a unique Message-ID and one of ``senders``."""
    templates = [(CORPUS / name).read_bytes() for name in MESSAGES]
    out = []
    for n in range(count):
        raw = templates[n % len(templates)]
        raw = _MESSAGE_ID.sub(f"Message-ID: <bench-{n}@customer.example>".encode(), raw, count=1)
        raw = _FROM.sub(f"From: Customer {n % senders} <c{n % senders}@customer.example>".encode(), raw, count=1)
        out.append(raw)
    return out


@contextlib.asynccontextmanager
async def pymap_server(tmpdir: Path) -> AsyncIterator[int]:
    port = free_port(socket.SOCK_STREAM)
    process = await asyncio.create_subprocess_exec(
        str(PYMAP), "--host", "127.0.0.1", "--port", str(port), "--no-tls", "dict",
        env={**os.environ, "TMPDIR": str(tmpdir)}, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    try:
        async with asyncio.timeout(15):
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    break
                except OSError:
                    await asyncio.sleep(0.02)  # waiting for the child to listen
        yield port
    finally:
        process.terminate()
        await process.wait()


async def append_all(port: int, messages: Sequence[bytes]) -> float:
    import aioimaplib

    client = aioimaplib.IMAP4(host="127.0.0.1", port=port, timeout=60)
    await client.wait_hello_from_server()
    await client.login("demouser", "demopass")
    started = time.perf_counter()
    for raw in messages:
        response = await client.append(raw, mailbox="INBOX")
        assert response.result == "OK", response
    elapsed = time.perf_counter() - started
    await client.logout()
    return elapsed


async def commit_ceiling(url: str, rows: int) -> float:
    """Raw asyncpg: one INSERT per transaction on one connection, commits per second."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TEMP TABLE bench_ceiling (id bigint PRIMARY KEY, body text)")
        started = time.perf_counter()
        for n in range(rows):
            async with conn.transaction():
                await conn.execute("INSERT INTO bench_ceiling VALUES ($1, $2)", n, "x" * 200)
        return rows / (time.perf_counter() - started)
    finally:
        await conn.close()


async def ingest(url: str, imap_port: int, count: int, parse_workers: int) -> dict[str, Any]:
    """Start the app on the mailbox and time it until ``count`` messages are committed and flagged."""
    from aiohttp import web

    import channels.email as email_channel
    from channels.email import channel as email_io
    from channels.email.channel import EMAIL_CHANNEL, EMAIL_PARSE_WORKERS
    from contactcenter.api.app import CHANNEL_SETUPS, CHANNELS, build_app
    from contactcenter.config import validate_settings
    from contactcenter.db import Database

    settings = validate_settings({
        "database": {"url": url},
        "skills": {"support": {}},
        "queues": {"support": {"channels": ["email"], "skills": {"support": 1}}},
        "channels": {"email": {"mailboxes": [{
            "name": "bench", "queue": "support", "address": "support@shop.example.com",
            "imap": {"host": "127.0.0.1", "port": imap_port, "tls": "none", "user": "demouser",
                     "password": "demopass", "poll_interval": "1h"},
            "smtp": {"host": "127.0.0.1", "port": 1, "tls": "none"},
        }]}},
    }, env={})
    db = await Database.connect(url, min_size=2, max_size=10)
    app = build_app(settings, db)
    if not {email_channel.setup, email_io.setup} & set(CHANNEL_SETUPS):  # until the composition root lists it
        email_channel.setup(app, app[CHANNELS])
    app[EMAIL_PARSE_WORKERS] = parse_workers
    done = asyncio.Event()
    batches: list[int] = []

    def flagged(mailbox: str, uids: Sequence[int], result: object) -> None:
        batches.append(len(uids))
        if sum(batches) >= count:
            done.set()

    poller = app[EMAIL_CHANNEL].pollers[0]
    poller.listeners.append(flagged)
    runner = web.AppRunner(app)
    booting = time.perf_counter()
    await runner.setup()  # starts the router, the sender and the poller (its task connects from here on)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(300):
            await done.wait()
        elapsed = time.perf_counter() - started
        stored = await db.fetchval("SELECT count(*) FROM touchpoints WHERE kind = 'inbound_message'")
        interactions = await db.fetchval("SELECT count(*) FROM interactions")
    finally:
        await runner.cleanup()
        await db.close()
    assert stored == count, f"stored {stored} of {count}"
    return {"messages": count, "seconds": round(elapsed, 3), "emails_per_s": round(count / elapsed),
            "app_start_s": round(started - booting, 3),
            "batches": len(batches), "interactions": interactions, "parse_workers": parse_workers}


async def run(count: int, parse_workers: int, ceiling_rows: int, rounds: int, inline_round: bool) -> dict[str, Any]:
    """``rounds`` rounds, each on a fresh database and a fresh IMAP server; the best one is reported.

    With ``inline_round`` one more round parses on the event loop (no worker processes), for comparison.
    """
    import asyncpg

    messages = bench_messages(count)
    with tempfile.TemporaryDirectory(prefix="bench-email-") as tmp:
        base = Path(tmp)
        database = BenchDatabase(base)
        root_url = await asyncio.to_thread(database.start)
        results = []
        try:
            plan = [parse_workers] * rounds + ([0] if inline_round and parse_workers else [])
            for number, workers in enumerate(plan):
                admin = await asyncpg.connect(root_url)
                await admin.execute(f"CREATE DATABASE bench_{number}")
                await admin.close()
                url = urlunsplit(urlsplit(root_url)._replace(path=f"/bench_{number}"))
                await migrate_database(url)
                ceiling = await commit_ceiling(url, ceiling_rows)
                async with pymap_server(base) as port:
                    append_s = await append_all(port, messages)
                    result = await ingest(url, port, count, workers)
                result.update(round=number + 1, append_s=round(append_s, 2),
                              ceiling_commits_per_s=round(ceiling), load_average_1m=round(os.getloadavg()[0], 2))
                result["share_of_ceiling"] = round(result["emails_per_s"] / ceiling, 3)
                results.append(result)
        finally:
            await asyncio.to_thread(database.stop)
    best = max((r for r in results if r["parse_workers"] == parse_workers), key=lambda r: r["emails_per_s"])
    return {"best": {**best, "bytes_mean": round(sum(map(len, messages)) / len(messages))}, "rounds": results}


def machine() -> dict[str, object]:
    return {"python": sys.version.split()[0], "implementation": platform.python_implementation(),
            "platform": platform.platform(), "machine": platform.machine(), "cpu_count": os.cpu_count()}


def main(argv: list[str] | None = None) -> int:
    from channels.email.channel import DEFAULT_PARSE_WORKERS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 messages instead of 2,000")
    parser.add_argument("--rounds", type=int, default=3, help="rounds to run; the best is reported (default 3)")
    parser.add_argument("--parse-workers", type=int, default=DEFAULT_PARSE_WORKERS,
                        help=f"parser processes, 0 = none (default {DEFAULT_PARSE_WORKERS}, as in production)")
    parser.add_argument("--no-inline-round", action="store_true", help="skip the comparison round without workers")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS}")
    args = parser.parse_args(argv)
    count, ceiling_rows = (300, 1_000) if args.quick else (2_000, 3_000)
    report = asyncio.run(run(count, args.parse_workers, ceiling_rows, args.rounds, not args.no_inline_round))
    header = (f"{'round':>5} {'messages':>8} {'seconds':>8} {'emails/s':>9} {'batches':>7} {'workers':>7} "
              f"{'ceiling commits/s':>17} {'share':>6} {'load 1m':>7}")
    print(header)
    print("-" * len(header))
    for r in report["rounds"]:
        print(f"{r['round']:>5} {r['messages']:>8} {r['seconds']:>8} {r['emails_per_s']:>9} {r['batches']:>7} "
              f"{r['parse_workers']:>7} {r['ceiling_commits_per_s']:>17} {r['share_of_ceiling']:>6} "
              f"{r['load_average_1m']:>7}")
    best = report["best"]
    verdict = "meets" if best["emails_per_s"] >= TARGET_PER_S else "MISSES"
    print(f"best {best['emails_per_s']} emails/s ({best['messages']} messages of {best['bytes_mean']} B on average): "
          f"{verdict} the target of {TARGET_PER_S}; the same database commits {best['ceiling_commits_per_s']} "
          f"single-row transactions/s on one connection")
    document = {
        "benchmark": "email",
        "quick": args.quick,
        "machine": machine(),
        "scenario": "N corpus messages APPENDed to pymap, then timed: app start -> all committed and flagged",
        "targets": {"emails_per_s": TARGET_PER_S},
        "results": [best],
        "rounds": report["rounds"],
    }
    if not args.no_write:
        write_results(RESULTS, document)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
