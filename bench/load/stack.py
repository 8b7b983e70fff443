"""What the end-to-end benchmarks measure: an embedded PostgreSQL and ``contactcenter serve`` as a process.

The server runs exactly as an operator runs it (``python -m contactcenter serve
--config FILE --port 0`` with ``DATABASE_URL``), so its figures include
everything production pays: config loading, the composition root, logging,
the pool. Optionally under cProfile timed by CPU (``profile=``, see
``bench.load.profiled``), which writes its stats when the server exits on SIGTERM.

Everything is created in a temporary folder the caller owns and torn down by
``close()`` (also on failure): the server gets SIGTERM, then SIGKILL after a
grace period; PostgreSQL a fast shutdown. ``exit_on_sigterm`` turns the bench
runner's time-limit SIGTERM into ``SystemExit`` so these ``finally`` blocks run.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from contactcenter.db.embedded import EmbeddedPostgres

REPO = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


def raise_nofile_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (every websocket is a file descriptor); returns the new soft one.

    Children inherit it, so calling this before starting the server raises it there too.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def exit_on_sigterm() -> None:
    """SIGTERM (the runner's time limit) becomes SystemExit, so cleanup in ``finally`` still runs."""

    def _exit(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, _exit)


def machine_info() -> dict[str, object]:
    """What the figures depend on; the load average says how much else was running."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system CPU of these processes and of their children already reaped (gone ones count 0)."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


@dataclass
class Usage:
    """CPU seconds per process group at one moment, for a difference over a measured phase."""

    at: float
    cpu: dict[str, float]

    @classmethod
    def now(cls, groups: dict[str, list[psutil.Process]]) -> Usage:
        return cls(time.perf_counter(), {name: cpu_seconds(procs) for name, procs in groups.items()})

    def cores_since(self, earlier: Usage) -> dict[str, float]:
        """Average cores used by each group between ``earlier`` and this moment (1.0 = one core busy)."""
        wall = self.at - earlier.at
        return {name: round((self.cpu[name] - earlier.cpu.get(name, 0.0)) / wall, 2) for name in self.cpu}


class BenchDatabase:
    """The embedded PostgreSQL a benchmark runs on: data in ``folder/pg/data``, stopped by ``stop`` or on exit.

    One copy of the start-up every benchmark needs: the wheel locks under
    ``$XDG_RUNTIME_DIR``, so that is pointed at a private folder beside the data,
    not the machine's shared one. ``start`` and ``stop`` block (about a second
    each): async callers run them with ``asyncio.to_thread``. Migrating is left
    to the caller (``migrate_database``) because not every benchmark migrates
    the server's default database (``bench_email`` makes one per round).
    """

    def __init__(self, folder: Path) -> None:
        self.data_dir = folder / "pg" / "data"
        self._pg: EmbeddedPostgres | None = None

    def start(self, *, statement_stats: bool = False) -> str:
        """Initialise and start the server; return its URL.

        ``statement_stats`` loads ``pg_stat_statements`` (one restart): which
        statements the server runs, and how often, per unit of work.
        """
        from contactcenter.db.embedded import EmbeddedPostgres

        assert self._pg is None, "already started"
        runtime = self.data_dir.parent / ".pgruntime"
        runtime.mkdir(parents=True, mode=0o700, exist_ok=True)
        # Assigned, not setdefault (as EmbeddedPostgres does): a session's own XDG_RUNTIME_DIR
        # would otherwise win. The wheel reads it when first imported, inside pg.start().
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        pg = self._pg = EmbeddedPostgres(self.data_dir)
        url = pg.start()
        if statement_stats:
            asyncio.run(_execute(url, "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"))
            # 'all': the statements inside the plpgsql functions too, where the server's work is.
            asyncio.run(_execute(url, "ALTER SYSTEM SET pg_stat_statements.track = 'all'"))
            pg.stop()
            url = pg.start()
            asyncio.run(_execute(url, "CREATE EXTENSION pg_stat_statements"))
        return url

    def stop(self) -> None:
        """Fast shutdown; safe to call twice and after a failed start."""
        pg, self._pg = self._pg, None
        if pg is not None:
            pg.stop()

    def __enter__(self) -> BenchDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _execute(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


class BenchStack:
    """An embedded PostgreSQL under ``folder`` and the server as a child process, torn down by ``close``."""

    def __init__(self, folder: Path, config_yaml: str, *, profile: Path | None = None) -> None:
        self.folder = folder
        self.config_path = folder / "bench.yaml"
        self.config_path.write_text(config_yaml, encoding="utf-8")
        self.profile = profile
        self.log_path = folder / "server.log"
        self.url = ""
        self.port = 0
        self.database = BenchDatabase(folder)
        self._server: subprocess.Popen[bytes] | None = None

    # -- PostgreSQL ----------------------------------------------------------------------------

    def start_database(self, *, statement_stats: bool = False) -> str:
        """Start the embedded PostgreSQL (blocking, ~1 s) and apply the migrations; return its URL.

        ``statement_stats``: see ``BenchDatabase.start``.
        """
        self.url = self.database.start(statement_stats=statement_stats)
        asyncio.run(migrate_database(self.url))
        return self.url

    def postgres_processes(self) -> list[psutil.Process]:
        """The postmaster and its live backends (for CPU accounting)."""
        pid_file = self.database.data_dir / "postmaster.pid"
        try:
            postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
            return [postmaster, *postmaster.children(recursive=True)]
        except (OSError, ValueError, IndexError, psutil.Error):
            return []

    # -- the server ----------------------------------------------------------------------------

    def start_server(self, timeout: float = 60.0) -> int:
        """Run ``contactcenter serve`` on 127.0.0.1:0 and return its port once it says it listens."""
        assert self.url, "start the database first"
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["DATABASE_URL"] = self.url
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        serve = ["-m", "contactcenter", "serve", "--config", str(self.config_path), "--port", "0"]
        profiler = ["-m", "bench.load.profiled", str(self.profile)] if self.profile is not None else []
        with self.log_path.open("wb") as log:  # a file, not a pipe: a full pipe would stall the server
            self._server = subprocess.Popen([sys.executable, *profiler, *serve], cwd=self.folder, env=env,
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.log_path.read_text(errors="replace"))
            if match:
                self.port = int(match[1])
                return self.port
            if self._server.poll() is not None:
                raise RuntimeError(f"the server exited with {self._server.returncode}:\n{self.log_tail()}")
            time.sleep(0.05)  # polling the log file: the server has no other way to say it is ready
        raise RuntimeError(f"the server did not listen within {timeout:.0f} s:\n{self.log_tail()}")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def server_process(self) -> psutil.Process:
        assert self._server is not None
        return psutil.Process(self._server.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def log_lines_matching(self, *words: str) -> int:
        """How many server log lines contain any of ``words`` (warnings and errors seen under load)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return 0
        return sum(1 for line in text.splitlines() if any(w in line for w in words))

    def stop_server(self, grace: float = 30.0) -> int | None:
        """SIGTERM (a clean shutdown, and the profile gets written), SIGKILL after ``grace`` seconds."""
        server, self._server = self._server, None
        if server is None:
            return None
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(grace)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
        return server.returncode

    def close(self) -> None:
        """Stop everything this stack started; safe to call twice and after a failed start."""
        try:
            self.stop_server()
        finally:
            self.database.stop()

    def __enter__(self) -> BenchStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def create_agents(url: str, count: int, *, capacity: dict[str, int], skills: dict[str, int],
                        prefix: str = "bench") -> list[str]:
    """``count`` agents with a session each, through the project's own store; returns their bearer tokens.

    Sessions are opened directly rather than through ``POST /api/login``: the
    login's argon2 check (tens of ms each, deliberately) and its rate limit are
    not what these benchmarks measure.
    """
    from datetime import timedelta

    from contactcenter.db import Database
    from contactcenter.passwords import hash_password

    password_hash = hash_password("bench-password")  # one hash for all: nobody logs in with it
    db = await Database.connect(url, min_size=1, max_size=2)
    tokens: list[str] = []
    try:
        async with db.transaction() as tx:
            for n in range(count):
                agent = await tx.agents.create(login=f"{prefix}{n:05d}", display_name=f"坐席 {n}", role="agent",
                                               password_hash=password_hash, skills=skills, capacity=capacity)
                token, _ = await tx.agents.open_session(agent.id, ttl=timedelta(hours=2), user_agent="bench",
                                                        remote_addr="127.0.0.1")
                tokens.append(token)
    finally:
        await db.close()
    return tokens


async def insert_ceiling(url: str, concurrency: int, seconds: float) -> float:
    """Raw asyncpg: single-statement INSERT commits per second over ``concurrency`` connections.

    What the database gives when the application adds nothing: the yardstick
    the end-to-end figure is divided by. Bounded by time, not count.
    """
    import asyncpg

    conns = [await asyncpg.connect(url) for _ in range(concurrency)]
    try:
        await conns[0].execute("CREATE TABLE IF NOT EXISTS bench_ceiling (id bigint GENERATED ALWAYS AS IDENTITY "
                               "PRIMARY KEY, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")
        done = 0
        deadline = time.perf_counter() + seconds

        async def writer(conn: asyncpg.Connection) -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await conn.execute("INSERT INTO bench_ceiling (body) VALUES ($1)", "您好，我想问一下订单")
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(writer(c) for c in conns))
        return done / (time.perf_counter() - started)
    finally:
        for conn in conns:
            await conn.close()


async def migrate_database(url: str) -> None:
    """Bring the database at ``url`` to the current schema over one connection (every benchmark's set-up)."""
    import asyncpg

    from contactcenter.db.migrations import migrate

    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
