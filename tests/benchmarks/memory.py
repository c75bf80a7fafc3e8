"""Memory per test: peak RSS and collector activity for many trivial tests, AsyncTestCase vs plain IATC (debug off).

Usage (from the repository root)::

    python tests/benchmarks/memory.py                   # 10,000 tests per run, 3 rounds
    python tests/benchmarks/memory.py --tests 1000 --repeat 1

Each figure comes from a fresh child process running one variant, so peak RSS is that variant's alone:

- **suite run** (collector on, as in a real suite): build a suite of *tests* trivial tests
  (``async def test(self): await asyncio.sleep(0)``), run it, and report the process's peak RSS
  (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), its growth over the RSS before the suite was built,
  the collections of each generation counted by a ``gc.callbacks`` hook, and the per-test wall time of the
  first and the last tenth of the suite (a cost that creeps up with the number of tests run shows here);
- **garbage per test** (collector off): ``gc.disable()``, run *garbage_tests* tests, then the return value of
  ``gc.collect()`` divided by the number of tests: the objects each test left for the cyclic collector
  (0 means reference counting freed everything; ``garbage.py`` shows what they are).

Variants: ``b`` = ``asynctestkit.AsyncTestCase`` (defaults), ``a0`` = ``IsolatedAsyncioTestCase`` with
asyncio debug off (``workloads.PlainNoDebug``), ``a`` = the same with debug on.  Rounds interleave the
variants; ratios are medians of per-round pairs.  Printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import unittest
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

LABELS = {"b": "asynctestkit", "a0": "IATC debug off", "a": "IATC debug on"}


async def _trivial(self: unittest.TestCase) -> None:
    await asyncio.sleep(0)


def base_class(variant: str) -> type[unittest.TestCase]:
    """The test case base a variant names: b asynctestkit, a0 IATC with debug off, a plain IATC."""
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))
    if variant == "b":
        from asynctestkit import AsyncTestCase

        return AsyncTestCase
    if variant == "a0":
        from workloads import PlainNoDebug

        return PlainNoDebug
    if variant == "a":
        return unittest.IsolatedAsyncioTestCase
    raise SystemExit(f"unknown variant {variant!r}; choose from a, a0, b")


def _suite(base: type[unittest.TestCase], count: int, prefix: str) -> unittest.TestSuite:
    names = [f"{prefix}_{i:05d}" for i in range(count)]
    cls = type("Bench", (base,), {name: _trivial for name in names})
    return unittest.TestSuite(cls(name) for name in names)


def _check(result: unittest.TestResult, expected: int) -> None:
    if not result.wasSuccessful() or result.testsRun != expected:
        raise SystemExit(f"benchmark tests did not pass ({result.testsRun} of {expected} run): "
                         f"{(result.failures + result.errors)[:1]}")


def measure(variant: str, tests: int, garbage_tests: int) -> dict[str, Any]:
    """The child: one variant's suite run (collector on), then its garbage per test (collector off)."""
    base = base_class(variant)
    warm = unittest.TestResult()
    _suite(base, 20, "test_warmup").run(warm)
    _check(warm, 20)
    gc.collect()
    rss_before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    collections = [0, 0, 0]

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections[info["generation"]] += 1

    chunks = 10
    sizes = [tests // chunks + (1 if i < tests % chunks else 0) for i in range(chunks)]
    suites = [_suite(base, size, f"test_{i}") for i, size in enumerate(sizes)]  # built up front, as unittest does
    gc.callbacks.append(count)
    chunk_ms = []
    result = unittest.TestResult()
    began = time.perf_counter()
    try:
        for suite, size in zip(suites, sizes, strict=True):
            t0 = time.perf_counter()
            suite.run(result)
            chunk_ms.append((time.perf_counter() - t0) / size * 1e3)
    finally:
        gc.callbacks.remove(count)
    wall = time.perf_counter() - began
    _check(result, tests)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del suites, result

    gc.collect()
    suite = _suite(base, garbage_tests, "test_g")
    gc.collect()
    gc.disable()
    try:
        garbage_result = unittest.TestResult()
        suite.run(garbage_result)
        del suite
        found = gc.collect()
    finally:
        gc.enable()
    _check(garbage_result, garbage_tests)
    return {"variant": variant, "tests": tests, "peak_rss_mb": peak_kb / 1024,
            "rss_growth_mb": (peak_kb - rss_before_kb) / 1024, "gen0": collections[0], "gen1": collections[1],
            "gen2": collections[2], "per_test_ms": wall / tests * 1e3, "first_tenth_ms": chunk_ms[0],
            "last_tenth_ms": chunk_ms[-1], "garbage_tests": garbage_tests,
            "garbage_per_test": found / garbage_tests}


def child(variant: str, tests: int, garbage_tests: int, python: str = sys.executable) -> dict[str, Any]:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    for name in ("PYTHONASYNCIODEBUG", "PYTHONDEVMODE", "ASYNCTESTKIT_LEAK_CHECKS"):
        env.pop(name, None)
    proc = subprocess.run([python, str(Path(__file__).resolve()), "--child", variant, "--tests", str(tests),
                           "--garbage-tests", str(garbage_tests)],
                          capture_output=True, text=True, cwd=str(ROOT), env=env, timeout=1800)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"memory child {variant} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n"
                         f"{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT "):])
    return result


def run_rounds(variants: list[str], tests: int, garbage_tests: int, repeat: int) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for rep in range(repeat):
        for variant in (variants if rep % 2 == 0 else list(reversed(variants))):
            started = time.perf_counter()
            runs[variant].append(child(variant, tests, garbage_tests))
            print(f"  [memory run {rep + 1}/{repeat}] {variant:<4} {time.perf_counter() - started:6.1f} s",
                  file=sys.stderr, flush=True)
    return runs


def table(runs: dict[str, list[dict[str, Any]]], top: str = "b", bottom: str = "a0") -> list[str]:
    """The memory rows: medians per variant, and top/bottom as the median of per-round ratios."""
    metrics = (("peak_rss_mb", "peak RSS MB", 1), ("rss_growth_mb", "RSS growth MB", 1), ("gen0", "gen0 runs", 0),
               ("gen1", "gen1 runs", 0), ("gen2", "gen2 (full) runs", 0), ("per_test_ms", "ms/test", 3),
               ("first_tenth_ms", "ms/test 1st tenth", 3), ("last_tenth_ms", "ms/test last tenth", 3),
               ("garbage_per_test", "gc.collect()/test (gc off)", 1))
    variants = [v for v in runs if runs[v]]
    first = runs[variants[0]][0]
    out = [f"memory: {first['tests']:,} trivial tests per run (collector on); garbage: {first['garbage_tests']} "
           f"tests with gc.disable(); median of {len(runs[variants[0]])} run(s)",
           f"  {'metric':<27}" + "".join(f" {LABELS[v]:>15}" for v in variants) + f" {top + '/' + bottom:>8}"]
    for key, label, digits in metrics:
        cells = "".join(f" {statistics.median(r[key] for r in runs[v]):>15.{digits}f}" for v in variants)
        ratio = "-"
        if top in runs and bottom in runs and runs[top] and runs[bottom]:
            pairs = [t[key] / d[key] for t, d in zip(runs[top], runs[bottom], strict=True) if d[key]]
            if pairs:
                ratio = f"{statistics.median(pairs):.2f}"
            elif any(t[key] for t in runs[top]):
                ratio = "inf"
        out.append(f"  {label:<27}{cells} {ratio:>8}")
    creep = {v: statistics.median(r["last_tenth_ms"] / r["first_tenth_ms"] for r in runs[v]) for v in variants}
    out.append("  per-test creep (last tenth / first tenth): " +
               ", ".join(f"{LABELS[v]} {c:.2f}" for v, c in creep.items()))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=10_000, help="trivial tests per run (default 10,000)")
    parser.add_argument("--garbage-tests", type=int, default=500, help="tests run with gc off (default 500)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--variant", action="append", choices=sorted(LABELS), help="default: b and a0")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        import run  # the sibling script: the same SIGINT disposition as every other measuring child

        run.set_sigint_disposition()
        print("RESULT " + json.dumps(measure(args.child, args.tests, args.garbage_tests)))
        return 0
    runs = run_rounds(args.variant or ["b", "a0"], args.tests, args.garbage_tests, args.repeat)
    print("\n".join(table(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
