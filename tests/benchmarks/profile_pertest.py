"""Where a trivial test's time goes: a cProfile of N trivial tests, grouped by asynctestkit's entry points.

Usage (from the repository root)::

    python tests/benchmarks/profile_pertest.py               # 1,000 tests, AsyncTestCase vs IATC debug off
    python tests/benchmarks/profile_pertest.py --tests 300 --top 30

Each variant runs in a fresh child: 20 warm-up tests, ``gc.collect()``, then *tests* trivial tests
(``await asyncio.sleep(0)``) under ``cProfile``.  Printed per test (microseconds under the profiler, which
inflates every call: compare rows, not absolute values):

1. **entry points**: every asynctestkit function called from code outside asynctestkit (unittest, asyncio,
   the interpreter), with the inclusive time of those calls only: the edges where control enters the
   package.  They overlap where asynctestkit calls asyncio which calls back into asynctestkit (the phase
   wrapper runs the loop, whose ``run_forever`` and ``create_task`` are entries again), so read the
   ``unittest`` hooks (``_callSetUp`` ...) as the outer layer and the loop methods as parts of them;
2. **top asynctestkit functions by inclusive time** (these overlap: a caller includes its callees), with
   calls per test, which shows repeated work (frame walks, method installs, timer arms);
3. **own time by area**: asynctestkit's modules, asyncio, unittest, the rest;
4. a few standard-library calls worth counting per test (``Task.__repr__``, ``signal.setitimer``, ...).

Only public asynctestkit names are imported; functions are grouped by file path, so it survives modules
moving inside the package.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import subprocess
import sys
import sysconfig
import unittest
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PACKAGE = str(ROOT / "asynctestkit") + os.sep
STDLIB = sysconfig.get_paths()["stdlib"] + os.sep

Func = tuple[str, int, str]

#: Standard-library functions whose calls per test are worth seeing (matched on file suffix and name).
WATCH = (("", "setitimer"), ("", "signal"), ("tasks.py", "__repr__"), ("base_tasks.py", "_task_repr_info"),
         ("", "_getframe"), ("", "set_coroutine_origin_tracking_depth"), ("selectors.py", "__init__"),
         ("", "getrefcount"))


async def _trivial(self: unittest.TestCase) -> None:
    await asyncio.sleep(0)


def _base(variant: str) -> type[unittest.TestCase]:
    sys.path[:0] = [str(HERE), str(ROOT)]
    if variant == "b":
        from asynctestkit import AsyncTestCase

        return AsyncTestCase
    from workloads import PlainNoDebug

    return PlainNoDebug


def where(func: Func) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    for prefix in (str(ROOT) + os.sep, STDLIB):
        if filename.startswith(prefix):
            filename = filename[len(prefix):]
            break
    return f"{filename}:{line}({name})"


def area(func: Func) -> str:
    filename = func[0]
    if filename.startswith(PACKAGE):
        return "asynctestkit/" + filename[len(PACKAGE):]
    if filename == "~":
        return "builtins (C)"
    if "asyncio" + os.sep in filename:
        return "asyncio"
    if "unittest" + os.sep in filename:
        return "unittest"
    return "other Python"


def profile(variant: str, tests: int, top: int) -> dict[str, Any]:
    base = _base(variant)
    names = [f"test_{i:05d}" for i in range(tests)]
    warm = type("Warm", (base,), {f"test_w{i}": _trivial for i in range(20)})
    unittest.TestSuite(warm(f"test_w{i}") for i in range(20)).run(unittest.TestResult())
    cls = type("Bench", (base,), {name: _trivial for name in names})
    suite = unittest.TestSuite(cls(name) for name in names)
    gc.collect()
    profiler = cProfile.Profile()
    result = unittest.TestResult()
    profiler.enable()
    suite.run(result)
    profiler.disable()
    if not result.wasSuccessful():
        raise SystemExit(f"tests failed: {(result.failures + result.errors)[:1]}")
    stats = pstats.Stats(profiler)
    rows: dict[Func, Any] = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    per = 1e6 / tests
    entries: list[tuple[float, float, str]] = []
    ours: list[tuple[float, float, str]] = []
    areas: dict[str, float] = defaultdict(float)
    watched: list[tuple[str, float, float]] = []
    for func, (_cc, ncalls, tottime, cumtime, callers) in rows.items():
        areas[area(func)] += tottime
        if func[0].startswith(PACKAGE):
            ours.append((cumtime * per, ncalls / tests, where(func)))
            outside = [(stat[1], stat[3]) for caller, stat in callers.items() if not caller[0].startswith(PACKAGE)]
            if outside:
                entries.append((sum(ct for _n, ct in outside) * per, sum(n for n, _ct in outside) / tests,
                                where(func)))
        for suffix, name in WATCH:
            if func[2].endswith(name) and (not suffix or func[0].endswith(suffix)) and \
                    not func[0].startswith(PACKAGE):
                watched.append((where(func), ncalls / tests, cumtime * per))
    entries.sort(reverse=True)
    ours.sort(reverse=True)
    return {"variant": variant, "tests": tests, "python": sys.version.split()[0], "total_us": total * per,
            "entries": entries[:top], "entries_sum_us": sum(e[0] for e in entries), "ours": ours[:top],
            "areas": sorted(((t * per, a) for a, t in areas.items()), reverse=True), "watched": sorted(watched)}


def print_report(b: dict[str, Any], a0: dict[str, Any] | None) -> None:
    print(f"cProfile, Python {b['python']}, {b['tests']} trivial tests per variant (us per test, inflated by "
          f"the profiler)")
    print(f"  total per test: asynctestkit {b['total_us']:.0f} us"
          + ("" if a0 is None else f", IATC debug off {a0['total_us']:.0f} us "
             f"(ratio {b['total_us'] / a0['total_us']:.2f})"))
    print("\n  1. asynctestkit entry points (inclusive; loop methods re-entered through "
          "asyncio are also inside the unittest hooks, so shares sum above 100%)")
    print(f"  {'us/test':>8} {'share':>6} {'calls/test':>10}  function")
    for us, calls, name in b["entries"]:
        print(f"  {us:>8.1f} {us / b['total_us']:>6.1%} {calls:>10.2f}  {name}")
    print("\n  2. asynctestkit functions by inclusive time (overlapping)")
    print(f"  {'us/test':>8} {'calls/test':>10}  function")
    for us, calls, name in b["ours"]:
        print(f"  {us:>8.1f} {calls:>10.2f}  {name}")
    print("\n  3. own time by area (us/test)" + ("" if a0 is None else "  [IATC debug off alongside]"))
    other = {name: us for us, name in (a0["areas"] if a0 else [])}
    for us, name in b["areas"]:
        print(f"  {us:>8.1f}  {name:<40}" + ("" if a0 is None else f" {other.get(name, 0.0):>8.1f}"))
    print("\n  4. standard-library calls per test (asynctestkit" + ("" if a0 is None else " / IATC debug off") + ")")
    base = {name: calls for name, calls, _us in (a0["watched"] if a0 else [])}
    for name, calls, us in b["watched"]:
        print(f"  {calls:>7.2f} calls {us:>7.1f} us  {name}" + ("" if a0 is None else f"   [{base.get(name, 0):.2f}]"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=1000, help="tests profiled per variant (default 1,000)")
    parser.add_argument("--top", type=int, default=25, help="rows per list (default 25)")
    parser.add_argument("--json", metavar="FILE", help="also write both profiles to FILE")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(profile(args.child, args.tests, args.top)))
        return 0
    reports = {}
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    for name in ("PYTHONASYNCIODEBUG", "PYTHONDEVMODE", "ASYNCTESTKIT_LEAK_CHECKS"):
        env.pop(name, None)
    for variant in ("b", "a0"):
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", variant, "--tests",
                               str(args.tests), "--top", str(args.top)], capture_output=True, text=True,
                              cwd=str(ROOT), env=env, timeout=1800)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if proc.returncode or not lines:
            raise SystemExit(f"profile child {variant} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        reports[variant] = json.loads(lines[-1][len("RESULT "):])
    print_report(reports["b"], reports["a0"])
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
