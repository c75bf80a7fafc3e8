"""Per-test cost (issue 15) in one run: instructions, paired wall ratios, memory and the peer table.

Usage (from the repository root)::

    python tests/benchmarks/pertest.py            # full: ~21 min on 2 loaded cores
    python tests/benchmarks/pertest.py --quick    # smoke sizes: ~1.5 min (< 3 min)
    python tests/benchmarks/pertest.py --only instructions,wall --json pertest.json

Sections, each measured against its baselines in the same run:

1. **instructions** (valgrind's callgrind; load-immune).  W1 = one trivial test (``await asyncio.sleep(0)``)
   with every default check on, for: plain ``IsolatedAsyncioTestCase`` (``a``, debug on as unittest sets
   it), the same with asyncio debug off (``a0``), ``AsyncTestCase`` (``b``) and a bare ``asyncio.run`` (``c``).
   Each variant runs N and N/2 tests in fresh interpreters; (count(N) - count(N/2)) / (N/2) is the marginal
   cost of one test, with start-up and imports cancelled out.  W3T = the gather/ensure_future/create_task
   mix of ``workloads.task_mix`` inside one test (``b``) vs a bare ``asyncio.run`` (``c``), marginal the same way.
2. **wall**: W1 as ``run.py`` measures it (fresh child per run, variants interleaved, ratios = medians of
   per-round pairs), for a, a0, b and c.
3. **memory**: ``memory.py`` (peak RSS, gc collections, garbage per test with the collector off), b vs a0.
4. **peers**: ``peers.py`` (200 tests x 1 simulated hour under asynctestkit and the other tools).

Printed, never asserted; ``--json`` keeps every raw figure.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import instructions as callgrind_counts  # noqa: E402  (sibling scripts)
import memory  # noqa: E402
import peers  # noqa: E402
import run  # noqa: E402

SECTIONS = ("instructions", "wall", "memory", "peers")
W1_VARIANTS = ("a", "a0", "b", "c")


def callgrind(func: str, variant: str, kwargs: dict[str, Any], valgrind: str) -> int:
    """Instructions executed by one fresh ``run.py --child`` measuring *variant* of *func* with *kwargs*.

    W3T runs one long test, ~50x slower under callgrind than natively: its real-time watchdog (60 s) would
    fail it, so it is switched off there (as instructions.py does for W3/W4).  W1 keeps every default on:
    arming and disarming the watchdog is part of what a trivial test costs.
    """
    return callgrind_counts.count(func, variant, kwargs, valgrind, watchdog=func == "W1")


def instructions(quick: bool, jobs: int) -> dict[str, Any]:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return {"skipped": "valgrind is not on PATH (apt-get install valgrind)"}
    tests = 20 if quick else 200
    rounds, width = (2, 150) if quick else (20, 300)
    cells: list[tuple[str, str, dict[str, Any]]] = []
    for variant in W1_VARIANTS:
        cells += [("W1", variant, {"tests": tests}), ("W1", variant, {"tests": tests // 2})]
    for variant in ("b", "c"):
        cells += [("W3T", variant, {"rounds": rounds, "width": width}),
                  ("W3T", variant, {"rounds": rounds // 2, "width": width})]
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        counts = list(pool.map(lambda cell: callgrind(cell[0], cell[1], cell[2], valgrind), cells))
    raw = {f"{w}/{v}/{json.dumps(k, sort_keys=True)}": n for (w, v, k), n in zip(cells, counts, strict=True)}
    w1 = {}
    for i, variant in enumerate(W1_VARIANTS):
        full, half = counts[2 * i], counts[2 * i + 1]
        w1[variant] = (full - half) / (tests - tests // 2)
    base = 2 * len(W1_VARIANTS)
    tasks_per_run = (rounds - rounds // 2) * (3 * width + 3 * (width // 3))
    w3t = {v: (counts[base + 2 * i] - counts[base + 2 * i + 1]) for i, v in enumerate(("b", "c"))}
    return {"w1_per_test": w1, "w1_tests": tests, "w3t_marginal": w3t, "w3t_tasks": tasks_per_run,
            "w3t_sizes": {"rounds": rounds, "width": width}, "raw": raw}


def instructions_table(data: dict[str, Any]) -> list[str]:
    if "skipped" in data:
        return [f"instructions: skipped ({data['skipped']})"]
    w1 = data["w1_per_test"]
    names = {"a": "IATC (debug on)", "a0": "IATC debug off", "b": "asynctestkit", "c": "asyncio.run floor"}
    out = [f"instructions (callgrind, marginal per test: N={data['w1_tests']} minus N/2 tests, fresh interpreters)",
           f"  {'W1 trivial test':<22} {'instr/test':>12} {'vs IATC off':>12} {'vs IATC':>8} {'vs floor':>9}"]
    for variant in W1_VARIANTS:
        per = w1[variant]
        out.append(f"  {names[variant]:<22} {per:>12,.0f} {per / w1['a0']:>12.2f} {per / w1['a']:>8.2f} "
                   f"{per / w1['c']:>9.2f}")
    out.append(f"  target: asynctestkit <= 1.20x IATC debug off: {'met' if w1['b'] <= 1.2 * w1['a0'] else 'MISSED'} "
               f"({w1['b'] / w1['a0']:.2f}x)")
    b, c = data["w3t_marginal"]["b"], data["w3t_marginal"]["c"]
    n = data["w3t_tasks"]
    out.append(f"  W3T task mix (gather/ensure_future/create_task, {n:,} tasks marginal): asynctestkit "
               f"{b:,} vs floor {c:,} instr = {b / c:.3f}x ({b / n:,.0f} vs {c / n:,.0f} per task); "
               f"target <= 1.03: {'met' if b / c <= 1.03 else 'MISSED'}")
    return out


def wall(quick: bool, repeat: int) -> dict[str, Any]:
    tests = 200 if quick else 2000
    jobs = [run.Job(v, "W1", v, {"tests": tests}) for v in W1_VARIANTS]
    results = run.run_workload("W1", jobs, repeat)
    return {"tests": tests, "repeat": repeat, "results": results}


def wall_table(data: dict[str, Any]) -> list[str]:
    results = data["results"]
    names = {"a": "IATC (debug on)", "a0": "IATC debug off", "b": "asynctestkit", "c": "asyncio.run floor"}
    out = [f"wall (W1, {data['tests']} trivial tests per run, {data['repeat']} round(s), paired per round)",
           f"  {'variant':<22} {'ms/test':>8} {'b/x wall':>9} {'rounds':>13} {'b/x cpu':>8}"]
    for variant in W1_VARIANTS:
        ms = run.med(results, variant, "per_test_ms")
        ratio = run.paired(results, "b", variant, "per_test_ms")
        cpu = run.paired(results, "b", variant, "cpu")
        rng = run.spread(results, "b", variant, "per_test_ms")
        out.append(f"  {names[variant]:<22} {run.fmt(ms):>8} {run.fmt(ratio):>9} "
                   f"{'' if rng is None else run.fmt_range(*rng):>13} {run.fmt(cpu):>8}")
    out.append("  (b/x = asynctestkit's per-test time over that row's, median of per-round pairs; rounds = the "
               "lowest and highest single-round ratio: the noise)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke sizes (< 3 min)")
    parser.add_argument("--only", metavar="instructions,wall", help=f"sections, of {', '.join(SECTIONS)}")
    parser.add_argument("--repeat", type=int, help="rounds for wall/memory/peers (default 5/3/3; quick: 1)")
    parser.add_argument("--jobs", type=int, default=2, help="callgrind children at once (default 2)")
    parser.add_argument("--json", metavar="FILE", help="also write every raw figure to FILE")
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.only.split(",")] if args.only else list(SECTIONS)
    if bad := [s for s in sections if s not in SECTIONS]:
        parser.error(f"unknown sections {bad}; choose from {', '.join(SECTIONS)}")
    began = time.perf_counter()
    header = run.machine_header(args.repeat or (1 if args.quick else 5), args.quick)
    header[0] = f"asynctestkit per-test cost (issue 15), {'quick' if args.quick else 'full'} sizes"
    print("\n".join(header[:4] + header[-2:]), flush=True)
    raw: dict[str, Any] = {"python": platform.python_version()}
    lines: list[str] = []
    if "instructions" in sections:
        try:
            raw["instructions"] = instructions(args.quick, args.jobs)
        except SystemExit as failure:  # one failed count must not cost the other sections
            print(failure, file=sys.stderr)
            raw["instructions"] = {"skipped": f"a count failed: {str(failure).splitlines()[0][:200]}"}
        lines += ["", *instructions_table(raw["instructions"])]
    if "wall" in sections:
        raw["wall"] = wall(args.quick, args.repeat or (1 if args.quick else 5))
        lines += ["", *wall_table(raw["wall"])]
    if "memory" in sections:
        tests, garbage_tests = (1000, 100) if args.quick else (10_000, 500)
        runs = memory.run_rounds(["b", "a0"], tests, garbage_tests, args.repeat or (1 if args.quick else 3))
        raw["memory"] = runs
        lines += ["", *memory.table(runs)]
    if "peers" in sections:
        tests, real_tests = (20, 1) if args.quick else (200, 2)
        data = peers.measure(tests, real_tests, args.repeat or (1 if args.quick else 3))
        raw["peers"] = data
        lines += ["", *peers.table(data)]
    print("\n".join(lines))
    print(f"\n(total {time.perf_counter() - began:.0f} s; load average {run.load_text()} at the end)")
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
