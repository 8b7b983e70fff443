"""Run SIPp (Debian ``sip-tester``) as an asyncio subprocess against the voice channel's SIP port.

Each run gets its own working folder, a free local port (bound once to port 0
to find one), an injection file of caller numbers (``[field0]`` in the
scenarios) and bounded waits: SIPp's own ``-recv_timeout`` plus an outer
timeout after which the process is killed. The result carries SIPp's final
counters read from its ``-trace_stat`` file.

Used by the voice channel tests (``tests/voice_channel``, which keep their
scenario files and pytest marks there) and by ``bench/bench_sip.py``. It is in
``harness`` rather than in either of them because it serves both: the tests do
not import from ``bench``, and ``bench`` should not import from ``tests``; see
``harness/__init__.py``.
"""

from __future__ import annotations

import asyncio
import csv
import shutil
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

SIPP = shutil.which("sipp") or "/usr/bin/sipp"


def sipp_available() -> bool:
    return Path(SIPP).exists()


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port nobody uses right now (SIPp needs a fixed local port for its Via and Contact)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SippRun:
    returncode: int
    output: str
    stats: dict[str, str] = field(default_factory=dict)
    local_port: int = 0
    rtt_ms: list[tuple[float, float]] = field(default_factory=list)  # (when, INVITE→182) in ms
    elapsed_s: float = 0.0

    def count(self, name: str) -> int:
        """A cumulative counter from the last statistics line, e.g. ``SuccessfulCall``."""
        value = self.stats.get(f"{name}(C)", "0")
        return int(value) if value.isdigit() else 0

    def explain(self) -> str:
        return f"sipp exited {self.returncode}\n{self.output[-4000:]}"


async def run_sipp(
    scenario_path: Path,
    port: int,
    *,
    workdir: Path,
    service: str = "4008001234",
    callers: Sequence[str] = ("13800138000",),
    calls: int = 1,
    rate: float | None = None,
    recv_timeout_ms: int = 10_000,
    timeout_s: float = 30.0,
    transport: str = "u1",
    extra: Sequence[str] = (),
    keys: dict[str, str] | None = None,
    trace_rtt: bool = False,
) -> SippRun:
    """Run SIPp to completion (or kill it after ``timeout_s``) and collect what it reports."""
    inf = _injection_file(workdir, callers)
    stats = workdir / f"{scenario_path.stem}_stats.csv"
    local = free_port(socket.SOCK_STREAM if transport.startswith("t") else socket.SOCK_DGRAM)
    args = [
        SIPP, f"127.0.0.1:{port}", "-sf", str(scenario_path), "-s", service, "-m", str(calls),
        "-t", transport, "-i", "127.0.0.1", "-p", str(local), "-inf", str(inf),
        "-nd", "-nostdin", "-max_invite_retrans", "1", "-recv_timeout", str(recv_timeout_ms),
        "-trace_err", "-error_file", str(workdir / "errors.log"),
        "-trace_stat", "-stf", str(stats), "-fd", "1",
        "-buff_size", "4194304",
    ]
    if rate is not None:
        args += ["-r", str(rate), "-rp", "1000"]
    if trace_rtt:
        args += ["-trace_rtt", "-rtt_freq", "1"]
    for name, value in (keys or {}).items():
        args += ["-key", name, value]
    args += list(extra)
    loop = asyncio.get_running_loop()
    started = loop.time()
    process = await asyncio.create_subprocess_exec(
        *args, cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(timeout_s):
            out, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        out, _ = await process.communicate()
        return SippRun(-9, out.decode(errors="replace") + "\n[killed after timeout]", local_port=local)
    run = SippRun(process.returncode or 0, out.decode(errors="replace"), local_port=local,
                  elapsed_s=loop.time() - started)
    _collect(run, workdir, stats, trace_rtt)
    return run


def _injection_file(workdir: Path, callers: Sequence[str]) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    inf = workdir / "callers.csv"
    inf.write_text("SEQUENTIAL\n" + "".join(f"{number};\n" for number in callers))
    return inf


def _collect(run: SippRun, workdir: Path, stats: Path, trace_rtt: bool) -> None:
    run.stats = _last_stats(stats)
    errors = workdir / "errors.log"
    if run.returncode != 0 and errors.exists():
        run.output += "\n--- errors.log ---\n" + errors.read_text(errors="replace")[-4000:]
    if trace_rtt:
        run.rtt_ms = _rtts(workdir)


def _last_stats(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    rows = list(csv.reader(path.read_text(errors="replace").splitlines(), delimiter=";"))
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1], strict=False))


def _rtts(workdir: Path) -> list[tuple[float, float]]:
    """(when, response time) in ms from SIPp's ``*_rtt.csv`` (``Date_ms;response_time_ms;rtd_no``)."""
    out: list[tuple[float, float]] = []
    for path in workdir.glob("*_rtt.csv"):
        for line in path.read_text(errors="replace").splitlines()[1:]:
            parts = line.split(";")
            try:
                out.append((float(parts[0]), float(parts[1])))
            except (ValueError, IndexError):
                continue
    return out
