"""W3 and W4 judged on instructions executed instead of time: a verdict that does not move with the machine's load.

On a shared machine the wall-time ratios of ``run.py`` move by 10-50% from run to run (other processes, CPU
frequency, cache and memory effects), which is as large as the 10% margin the W3/W4 targets allow.  This
script counts the instructions each variant executes, with valgrind's callgrind tool: the count is the same
on every run, whatever else the machine does.

What is counted: each variant (``b`` = ``AsyncTestCase``, ``c`` = the floor, as in ``run.py``) runs the
workload once at full size and once at half size, each in a fresh interpreter under callgrind.  The
difference is the *marginal* cost of half the workload: interpreter start-up, imports, building the loop or
the test case, and the random timer plan cancel out.  The ratio b/c of the marginal counts is the verdict.

Limits, stated plainly: instructions are not time.  Cache misses, branch mispredictions and the garbage
collector's memory traffic cost time without costing instructions in proportion, so this complements the
wall-time figures of ``run.py``, it does not replace them.  Needs ``valgrind`` (a system package; the
package and its tests never use it); about 5 minutes per interpreter at full size, ~30 s with ``--quick``.

    python tests/benchmarks/instructions.py              # W3 and W4, full size
    python tests/benchmarks/instructions.py --quick      # small sizes: a smoke test of the method
    python tests/benchmarks/instructions.py --only W4 --jobs 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402  (the sibling script: its job plans, child entry point and environment)

_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")
TARGET = 1.10


def sizes(workload: str, quick: bool, half: bool) -> dict[str, Any]:
    """The workload's keyword arguments at full (or half) size, one repetition inside the run."""
    (job,) = [j for j in run.plan(workload, quick) if j.variant == "b"]
    kwargs = dict(job.kwargs, inner=1)
    if half:
        for key in ("calls", "tasks", "items", "timers", "sleepers"):
            if key in kwargs:
                kwargs[key] //= 2
    return kwargs


def count(workload: str, variant: str, kwargs: dict[str, Any], valgrind: str, *, watchdog: bool = False) -> int:
    """Instructions executed by one fresh child running *variant* of *workload* with *kwargs*.

    Under callgrind everything runs ~50x slower: a long test's real-time watchdog would cut it short, so it
    is switched off unless *watchdog* (a short per-test workload, where arming it is part of the cost).
    """
    spec: dict[str, Any] = {"func": workload, "variant": variant, "kwargs": kwargs}
    if not watchdog:
        spec["set"] = ["asynctestkit.AsyncTestCase.clock_watchdog=None"]
    command = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null",
               sys.executable, str(HERE / "run.py"), "--child", json.dumps(spec)]
    proc = subprocess.run(command, capture_output=True, text=True, env=run.child_env(), cwd=str(run.ROOT),
                          timeout=3600)
    found = _COLLECTED.findall(proc.stderr)
    if proc.returncode != 0 or not found or "RESULT " not in proc.stdout:
        raise SystemExit(f"instruction count failed (exit {proc.returncode}) for {spec}:\n"
                         f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return int(found[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="W3,W4", metavar="W3,W4", help="workloads (W3 and/or W4)")
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the method, not the target")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="children run at once")
    args = parser.parse_args(argv)
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("instructions.py needs valgrind on PATH (e.g. apt-get install valgrind); run.py measures time "
              "without it", file=sys.stderr)
        return 2
    workloads = [w.strip().upper() for w in args.only.split(",") if w.strip()]
    unknown = [w for w in workloads if w not in ("W3", "W4")]
    if unknown:
        parser.error(f"only W3 and W4 are counted, not {', '.join(unknown)}")
    began = time.perf_counter()
    print(f"asynctestkit instruction counts (callgrind; {'quick' if args.quick else 'full'} sizes; marginal "
          f"cost = full size minus half size)")
    print(f"python  CPython {platform.python_version()} ({sys.executable})")
    print(f"code    {run.ROOT}")
    cells = [(w, v, half) for w in workloads for v in ("b", "c") for half in (False, True)]
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        counts = dict(zip(cells, pool.map(lambda cell: count(cell[0], cell[1], sizes(cell[0], args.quick, cell[2]),
                                                             valgrind), cells), strict=True))
    print()
    print(f"{'workload':<10} {'b full':>15} {'b half':>15} {'c full':>15} {'c half':>15} "
          f"{'b marginal':>14} {'c marginal':>14} {'b/c':>6}  target")
    verdicts = []
    for workload in workloads:
        b = counts[(workload, "b", False)] - counts[(workload, "b", True)]
        c = counts[(workload, "c", False)] - counts[(workload, "c", True)]
        ratio = b / c
        met = ratio <= TARGET
        verdicts.append(met)
        print(f"{workload:<10} {counts[(workload, 'b', False)]:>15,} {counts[(workload, 'b', True)]:>15,} "
              f"{counts[(workload, 'c', False)]:>15,} {counts[(workload, 'c', True)]:>15,} {b:>14,} {c:>14,} "
              f"{ratio:>6.3f}  b/c <= {TARGET:.2f} {'met' if met else 'MISSED'}")
    print(f"\n(total {time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
