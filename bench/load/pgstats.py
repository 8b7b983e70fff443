"""What PostgreSQL says about a run: commits, the statements behind them, what connections wait on.

These turn "the end-to-end figure is low" into "this many statements per
unit of work, and the server's connections spend their time here", which is
what someone optimising the server needs. All read-only except the
``pg_stat_statements`` reset.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import asyncpg


async def max_connections(url: str) -> int:
    """PostgreSQL's ``max_connections``: a ceiling's connections must fit beside the server's pool."""
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SHOW max_connections"))
    finally:
        await conn.close()


async def commits(url: str) -> int:
    """Transactions PostgreSQL has committed in this database (every autocommit statement counts one)."""
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"))
    finally:
        await conn.close()


async def statements(url: str, reset: bool) -> list[dict[str, Any]]:
    """Reset ``pg_stat_statements``, or read the 25 statements that took the most time (needs ``statement_stats``)."""
    conn = await asyncpg.connect(url)
    try:
        if reset:
            await conn.execute("SELECT pg_stat_statements_reset()")
            return []
        rows = await conn.fetch(
            """SELECT calls, total_exec_time, regexp_replace(query, '\\s+', ' ', 'g') AS query
               FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                 AND query NOT LIKE '%pg_stat_activity%' -- the sampler's, not the server's
               ORDER BY total_exec_time DESC LIMIT 25""")
        return [dict(r) for r in rows]
    finally:
        await conn.close()


class ActivitySampler:
    """What the server's database connections are doing, sampled every ``interval`` s in a thread.

    Averages per sample: ``active`` (PostgreSQL is working), ``lock_wait``
    (blocked on a row or transaction lock), ``idle_in_transaction`` (the
    server holds a transaction open while it runs Python or waits for its
    event loop: locks stay held meanwhile) and ``idle`` (in the pool). Where
    the time goes when neither CPU is busy. Also the age of the oldest open
    transaction in each sample: one long-lived writer (a batch applied
    statement by statement) shows up there.
    """

    def __init__(self, url: str, interval: float = 0.05) -> None:
        self.url = url
        self.interval = interval
        self.samples = 0
        self.totals: dict[str, float] = {}
        self.waits: dict[str, int] = {}
        self.oldest_ms: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="pg-activity", daemon=True)

    def __enter__(self) -> ActivitySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    async def _run(self) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            while not self._stop.is_set():
                rows = await conn.fetch(
                    """SELECT state, wait_event_type, wait_event,
                              extract(epoch FROM clock_timestamp() - xact_start) * 1000 AS xact_ms
                       FROM pg_stat_activity
                       WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
                         AND datname = current_database()""")
                self.samples += 1
                self.oldest_ms.append(max((float(r["xact_ms"]) for r in rows if r["xact_ms"] is not None),
                                          default=0.0))
                for row in rows:
                    if row["wait_event_type"] == "Lock":
                        kind = "lock_wait"
                        self.waits[row["wait_event"]] = self.waits.get(row["wait_event"], 0) + 1
                    else:
                        kind = (row["state"] or "unknown").replace(" ", "_").replace("(aborted)", "aborted")
                    self.totals[kind] = self.totals.get(kind, 0) + 1
                await asyncio.sleep(self.interval)
        finally:
            await conn.close()

    def summary(self) -> dict[str, object]:
        n = max(1, self.samples)
        means = {k: round(v / n, 2) for k, v in sorted(self.totals.items())}
        oldest = sorted(self.oldest_ms) or [0.0]
        return {"samples": self.samples, "mean_connections": means,
                "oldest_open_transaction_ms": {"p50": round(oldest[len(oldest) // 2], 1),
                                               "p99": round(oldest[int(0.99 * (len(oldest) - 1))], 1)},
                "lock_waits_by_event": dict(sorted(self.waits.items(), key=lambda kv: -kv[1]))}
