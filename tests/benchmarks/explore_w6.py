"""W6: schedules per second of an exploration of a 3-task test body (target: >= 1,000 per second).

Each schedule is a complete run of the test, as ``@explore`` does it: a fresh test case instance, setUp, a
new ``VirtualClockLoop`` under the schedule, the body (3 tasks of 3 steps each, whose wake-ups every schedule
reorders; correct under all of them, so every schedule is run), tearDown, cleanups and the leak check.  The figure is schedules per
second over the whole exploration (the FIFO run included), best of ``--repeat`` rounds, of wall time and of
the process's CPU time (``time.process_time()``: what a quiet machine would give, as a loaded one lowers the
wall figure; the load average is printed with them).

    python tests/benchmarks/explore_w6.py                     # 2,000 schedules, random strategy, 3 rounds
    python tests/benchmarks/explore_w6.py --strategy pct --schedules 1000
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import asynctestkit  # noqa: E402
from asynctestkit.explore._runner import Exploration, explore_test  # noqa: E402


class ThreeTasks(asynctestkit.AsyncTestCase):
    clock_watchdog = None  # the benchmark times the exploration, not the watchdog

    async def body(self) -> None:
        total = [0]

        async def worker(step: int) -> None:
            for _ in range(3):
                await asyncio.sleep(0)
                total[0] += step  # no await inside the update: correct under every schedule

        await asyncio.gather(worker(1), worker(10), worker(100))
        self.assertEqual(total[0], 333)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", type=int, default=2000)
    parser.add_argument("--strategy", default="random", choices=("random", "pct"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    make = functools.partial(ThreeTasks, "body")
    explore_test(make, Exploration(50, args.strategy))  # warm-up: imports, first-call caches
    best = best_cpu = 0.0
    for _ in range(args.repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        outcome = explore_test(make, Exploration(args.schedules, args.strategy))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        if outcome.failures or outcome.runs != args.schedules:
            raise SystemExit(f"W6: the body failed under a schedule: {outcome.first}")
        best = max(best, (outcome.runs + 1) / elapsed)
        best_cpu = max(best_cpu, (outcome.runs + 1) / cpu)
    baseline = outcome.baseline
    decisions = baseline.points if baseline is not None else 0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"W6 {sys.version.split()[0]} strategy={args.strategy}: {best:,.0f} schedules/s wall, {best_cpu:,.0f} per "
          f"CPU second ({args.schedules} schedules, best of {args.repeat}; {decisions} decision points per run; "
          f"load average {load:.1f}; target >= 1,000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
