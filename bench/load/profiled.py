"""Run a module under cProfile timed by CPU, not the wall clock: ``python -m bench.load.profiled OUT -m MODULE ...``.

``python -m cProfile`` charges a function for wall time, so on a loaded
machine a ``socket.send`` that wakes PostgreSQL (and is preempted by it)
looks like the server's biggest cost. Timing with the process's CPU clock
charges only what the server itself spent, which is what an optimisation can
remove. The stats are written when the module returns (the server exits
cleanly on SIGTERM).
"""

from __future__ import annotations

import cProfile
import runpy
import sys
import time


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[2] != "-m":
        raise SystemExit("usage: python -m bench.load.profiled OUT.pstats -m MODULE [ARGS...]")
    out, module = sys.argv[1], sys.argv[3]
    sys.argv = [module, *sys.argv[4:]]
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        profiler.disable()
        profiler.dump_stats(out)


if __name__ == "__main__":
    main()
