"""asynctestkit benchmarks: plain IsolatedAsyncioTestCase vs AsyncTestCase vs bare asyncio, in one run.

Usage (from the repository root)::

    python tests/benchmarks/run.py                 # every workload, 5 runs each (a few minutes)
    python tests/benchmarks/run.py --quick         # small sizes, one run each: a smoke test in seconds
    python tests/benchmarks/run.py --only W3,W4    # some workloads
    python tests/benchmarks/run.py --repeat 9      # more runs per figure
    python tests/benchmarks/run.py --profile W1    # cProfile: where each variant spends its time

How it measures.  Every figure is the median of ``--repeat`` runs.  Each run is a fresh child process
(``python run.py --child SPEC``) that imports only what it measures, builds its workload, runs a warm-up,
calls ``gc.collect()`` and then times the workload with ``time.perf_counter()``; the collector stays on
during the timed part, as in a real suite.  So every run starts from the same heap and the same gc
generation counts, and nothing one variant leaves behind can slow down the next.  Within one workload the
variants are interleaved (a, b, c, then c, b, a, ...) and each ratio is the median of the per-run pairs,
so slow drift of the machine cancels out.  Timings are printed, never asserted: a slow machine does not
fail anything.  See docs/performance.md for what each workload means and the measured figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

Metrics = dict[str, float]

VARIANT_NAMES = {
    "a": "plain IsolatedAsyncioTestCase (debug on, as unittest sets it)",
    "a0": "plain IsolatedAsyncioTestCase, asyncio debug off",
    "b": "asynctestkit.AsyncTestCase (defaults)",
    "b0": "asynctestkit.AsyncTestCase, leak checks off (leak_checks = 'off')",
    "bs": "asynctestkit.AsyncTestCase, every leak check on (leak_checks = 'strict')",
    "c": "floor: bare asyncio (asyncio.run; W4: jump-clock loop, see floor.py)",
    "ct": "floor with coroutine origin tracking at depth 1 (what coroutine_origins = True adds)",
    "j": "jump-clock floor (W4R: the W4 floor on the same real-time timers)",
}


# --- the plan: which child runs make up each workload -----------------------------------------------

@dataclass(frozen=True)
class Job:
    """One kind of child run: *func* from workloads.py on *variant* with *kwargs*; *key* names its results."""

    key: str
    func: str
    variant: str
    kwargs: dict[str, Any] = field(default_factory=dict)


def plan(workload: str, quick: bool) -> list[Job]:
    """The jobs of *workload* at full or quick size."""
    if workload == "W1":
        tests = 100 if quick else 2000
        variants = ("a", "a0", "b", "bs", "c") if leak_checks_exist() else ("a", "a0", "b", "c")
        return [Job(v, "W1", v, {"tests": tests}) for v in variants]
    if workload == "W2":
        return [
            # The plain base sleeps for real, so it runs a few tests with every duration scaled down.
            Job("a", "W2", "a", {"tests": 1, "scale": 1 / 36000} if quick else {"tests": 2, "scale": 1 / 3600}),
            Job("b", "W2", "b", {"tests": 10 if quick else 200, "scale": 1.0}),
        ]
    if workload == "W3":
        sizes: dict[str, Any] = {"calls": 20_000, "tasks": 5_000, "items": 10_000} if quick else \
            {"calls": 200_000, "tasks": 50_000, "items": 100_000}
        # Judged variants repeat the body inside each run (fastest kept); debug mode is 20x slower, so once.
        return [Job(v, "W3", v, {**sizes, "inner": 1 if quick or v == "a" else INNER}) for v in
                ("a", "a0", "b", "c", "ct")]
    if workload == "W4":
        sizes = {"timers": 10_000, "sleepers": 1_000, "sleeps_each": 5, "spread": 3600.0} if quick else \
            {"timers": 100_000, "sleepers": 10_000, "sleeps_each": 5, "spread": 3600.0}
        return [Job(v, "W4", v, {**sizes, "inner": 1 if quick else INNER}) for v in ("b", "c")]
    if workload == "W4R":
        sizes = {"timers": 100 if quick else 2000, "spacing": 0.0025}
        return [Job(v, "W4R", v, sizes) for v in ("c", "j", "b")]
    if workload == "W5":
        tests = 50 if quick else 1000
        heaps = (10_000, 100_000) if quick else (10_000, 100_000, 1_000_000)
        jobs = [Job(f"{v}@{heap}", "W5", v, {"tests": tests, "heap": heap, "chunks": 5 if quick else 10})
                for heap in heaps for v in ("a", "b")]
        if leak_checks_exist():
            checks = 100 if quick else 2000
            jobs += [Job(f"checks-{v}", "W5", v, {"tests": checks, "chunks": 5 if quick else 10})
                 for v in ("b", "bs", "b0")]
        return jobs
    raise SystemExit(f"unknown workload {workload!r}; choose from {', '.join(ALL_WORKLOADS)}")


#: Repetitions of the W3/W4 coroutine inside each run (the fastest is kept; see workloads.run_coroutine).
INNER = 3

ALL_WORKLOADS = ("W1", "W2", "W3", "W4", "W4R", "W5")

_LEAK_CHECKS: bool | None = None


def leak_checks_exist() -> bool:
    """Ask a child interpreter whether AsyncTestCase has leak checks to switch off (cached)."""
    global _LEAK_CHECKS
    if _LEAK_CHECKS is None:
        out = child({"probe": "leak_checks"})
        _LEAK_CHECKS = bool(out.get("leak_checks"))
    return _LEAK_CHECKS


# --- child processes -----------------------------------------------------------------------------

def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"           # same dict/set layouts in every run
    env.pop("PYTHONASYNCIODEBUG", None)   # each variant sets debug mode itself
    env.pop("PYTHONDEVMODE", None)
    env.pop("ASYNCTESTKIT_LEAK_CHECKS", None)  # measure the presets the variants name, not the caller's
    return env


SETTINGS: list[str] = []


def child(spec: dict[str, Any], *, timeout: float = 1800) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return its metrics; raise with its stderr if it fails."""
    if SETTINGS:
        spec = {**spec, "set": SETTINGS}
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
                          capture_output=True, text=True, timeout=timeout, env=child_env(), cwd=str(ROOT))
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"benchmark child failed (exit {proc.returncode}) for {spec}:\n"
                         f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT "):])
    result["_stdout"] = "\n".join(line for line in proc.stdout.splitlines() if not line.startswith("RESULT "))
    return result


#: How a measuring child handles SIGINT: "default" (Python's own handler, as in a terminal, a CI step or an IDE
#: run) or "ignore" (``ATK_BENCH_SIGINT=ignore``).  A child inherits what its parent had, and a shell that
#: starts a job in the background without job control starts it with SIGINT ignored; ``asyncio.Runner.run()``
#: then skips the SIGINT handler it otherwise installs and removes at every run, whose ``signal`` module
#: wrappers format the current handler (a partial holding the phase's task) into an error message twice per
#: run: ~70k instructions per IsolatedAsyncioTestCase test on 3.13.0, ~530k on 3.12.1, in every variant on
#: the Runner (IATC, IATC debug off, AsyncTestCase).  So each child sets the disposition it is told to.
SIGINT_MODE = os.environ.get("ATK_BENCH_SIGINT", "default")


def set_sigint_disposition() -> None:
    """Give this (child) process the SIGINT disposition :data:`SIGINT_MODE` names."""
    import signal

    if SIGINT_MODE not in ("default", "ignore"):
        raise SystemExit(f"ATK_BENCH_SIGINT must be 'default' or 'ignore', got {SIGINT_MODE!r}")
    signal.signal(signal.SIGINT, signal.default_int_handler if SIGINT_MODE == "default" else signal.SIG_IGN)


def child_main(raw: str) -> None:
    """Entry point of a child: measure one job, print ``RESULT {json}`` (and a profile when asked)."""
    set_sigint_disposition()
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))
    spec = json.loads(raw)
    import workloads  # the child's only: the parent stays light

    for assignment in spec.get("set", []):
        apply_setting(assignment)

    if spec.get("probe") == "leak_checks":
        print("RESULT " + json.dumps({"leak_checks": workloads.leak_check_preset("off") is not None}))
        return
    func = workloads.WORKLOADS[spec["func"]]
    if spec.get("profile"):
        import cProfile

        profiler = workloads.PROFILER = cProfile.Profile()
        metrics = func(spec["variant"], **spec["kwargs"])
        kwargs = spec["kwargs"]
        if "tests" in kwargs:
            units, unit = int(kwargs["tests"]), "test"
        elif "sleepers" in kwargs:
            units, unit = int(kwargs["timers"] + kwargs["sleepers"] * kwargs["sleeps_each"]), "deadline"
        else:
            units, unit = 1, "run"
        print(format_profile(profiler, units=units, unit=unit, top=int(spec["profile"])))
    else:
        metrics = func(spec["variant"], **spec["kwargs"])
    print("RESULT " + json.dumps(metrics))


def apply_setting(assignment: str) -> None:
    """``--set module.attr=value``: patch one module attribute in the child, to measure a proposed change.

    *value* is a Python literal.  Example: ``--set asynctestkit.clock._jump._CHECK_EVERY=255``.
    """
    import ast
    import importlib

    target, _, literal = assignment.partition("=")
    parts = target.strip().split(".")
    if len(parts) < 2 or not literal:
        raise SystemExit(f"--set wants module.attr=value (or module.Class.attr=value), got {assignment!r}")
    for split in range(len(parts) - 1, 0, -1):  # the longest importable prefix is the module
        try:
            owner: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        break
    else:
        raise SystemExit(f"--set {assignment!r}: no module to import in {target!r}")
    for name in parts[split:-1]:
        owner = getattr(owner, name)
    if not hasattr(owner, parts[-1]):
        raise SystemExit(f"--set {assignment!r}: {'.'.join(parts[:-1])} has no attribute {parts[-1]!r}")
    setattr(owner, parts[-1], ast.literal_eval(literal.strip()))


def format_profile(profiler: Any, *, units: int, unit: str, top: int) -> str:
    """The top functions by own time and by cumulative time, with per-test microseconds."""
    import pstats
    import sysconfig

    stdlib = sysconfig.get_paths()["stdlib"] + os.sep
    stats = pstats.Stats(profiler)
    rows = stats.stats  # type: ignore[attr-defined]

    def where(func: tuple[str, int, str]) -> str:
        filename, line, name = func
        if filename == "~":
            return name
        for prefix in (stdlib, str(ROOT) + os.sep, str(HERE) + os.sep):
            if filename.startswith(prefix):
                filename = filename[len(prefix):]
                break
        return f"{filename}:{line}({name})"

    per = f"us/{unit}"
    out = [f"  total {stats.total_tt:.3f} s under the profiler ({units} {unit}s)"]  # type: ignore[attr-defined]
    for title, index in (("own time (tottime)", 2), ("cumulative time (cumtime)", 3)):
        out.append(f"  top {top} by {title}:")
        out.append(f"  {'ncalls':>10} {'tottime':>9} {'cumtime':>9} {per:>10}  function")
        ranked = sorted(rows.items(), key=lambda item: item[1][index], reverse=True)[:top]
        for func, (_cc, ncalls, tottime, cumtime, _callers) in ranked:
            value = tottime if index == 2 else cumtime
            out.append(f"  {ncalls:>10} {tottime:>9.3f} {cumtime:>9.3f} {value / units * 1e6:>10.1f}  {where(func)}")
    return "\n".join(out)


# --- statistics and the table -----------------------------------------------------------------------

Results = dict[str, list[Metrics]]


def med(results: Results, key: str, metric: str) -> float | None:
    runs = results.get(key)
    if not runs:
        return None
    return statistics.median(run[metric] for run in runs)


def paired(results: Results, top: str, bottom: str, metric: str,
           fn: Callable[[Metrics], float] | None = None) -> float | None:
    """Median over runs of top_i / bottom_i, pairing the runs made next to each other."""
    ups, downs = results.get(top), results.get(bottom)
    if not ups or not downs:
        return None
    get = fn or (lambda m: m[metric])
    return statistics.median(get(u) / get(d) for u, d in zip(ups, downs, strict=True))


def spread(results: Results, top: str, bottom: str, metric: str) -> tuple[float, float] | None:
    """The lowest and highest per-run ratio top_i / bottom_i: how much the machine's noise moved it."""
    ups, downs = results.get(top), results.get(bottom)
    if not ups or not downs or len(ups) < 2:
        return None
    ratios = [u[metric] / d[metric] for u, d in zip(ups, downs, strict=True)]
    return min(ratios), max(ratios)


NOTES: list[str] = []


@dataclass
class Row:
    label: str
    unit: str
    cells: dict[str, float | None]
    ba: float | None = None
    bc: float | None = None
    target: str = ""
    met: bool | None = None
    ba_cpu: float | None = None
    bc_cpu: float | None = None
    judged: tuple[float, float] | None = None  # per-run range of the ratio the target is judged on
    limit: float | None = None


COLUMNS = (("a", "plain"), ("a0", "plain-nodbg"), ("b", "asynctestkit"), ("c", "floor"))


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if 0 < value < 0.001:
        return f"{value:.0e}"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.1f}"
    return f"{value:.{digits}f}" if value >= 1 else f"{value:.{digits + 1}f}"


def fmt_range(low: float, high: float) -> str:
    if high >= 10_000:
        return f"{low / 1000:.0f}k-{high / 1000:.0f}k"
    return f"{fmt(low)}-{fmt(high)}"


def runs_text(judged: tuple[float, float] | None) -> str:
    return "" if judged is None else f"(runs {fmt_range(*judged)})"


def verdict(met: bool | None, judged: tuple[float, float] | None = None, limit: float | None = None) -> str:
    """met / MISSED on the median; a trailing '?' when single runs fell on both sides of the limit."""
    text = {True: "met", False: "MISSED", None: ""}[met]
    if text and judged is not None and limit is not None and judged[0] < limit < judged[1]:
        text += "?"
    return text


def print_table(rows: Iterable[Row]) -> None:
    """Medians of wall time per variant, wall-time ratios (judged) and CPU-time ratios (cross-check)."""
    header = f"{'workload':<33} {'unit':<8}" + "".join(f" {name:>12}" for _key, name in COLUMNS) + \
        f" {'b/a':>6} {'b/c':>6} {'cpu b/a':>7} {'cpu b/c':>7}  {'target':<24} {'runs':<11} {'':<6}"
    print(header)
    print("-" * len(header))
    for row in rows:
        cells = "".join(f" {fmt(row.cells.get(key)):>12}" for key, _name in COLUMNS)
        runs = "" if row.judged is None else f"{fmt_range(*row.judged)}"
        print(f"{row.label:<33} {row.unit:<8}{cells} {fmt(row.ba):>6} {fmt(row.bc):>6} {fmt(row.ba_cpu):>7} "
              f"{fmt(row.bc_cpu):>7}  {row.target:<24} {runs:<11} "
              f"{verdict(row.met, row.judged, row.limit):<6}".rstrip())


def rows_for(workload: str, results: Results, jobs: list[Job]) -> list[Row]:
    """Turn the runs of one workload into table rows with targets."""
    kw = jobs[0].kwargs
    if workload == "W1":
        ba = paired(results, "b", "a", "per_test_ms")
        a, a0 = med(results, "a", "per_test_ms"), med(results, "a0", "per_test_ms")
        NOTES.append(f"W1: asyncio debug mode costs the plain base {fmt(None if a is None or a0 is None else a - a0)}"
                     f" ms/test; AsyncTestCase vs plain with debug off: b/a0 = "
                     f"{fmt(paired(results, 'b', 'a0', 'per_test_ms'))}")
        return [Row(f"W1 per-test overhead ({kw['tests']} tests)", "ms/test",
                    {k: med(results, k, "per_test_ms") for k in ("a", "a0", "b", "c")},
                    ba, paired(results, "b", "c", "per_test_ms"), "b/a <= 1.00",
                    None if ba is None else ba <= 1.0, paired(results, "b", "a", "cpu"),
                    paired(results, "b", "c", "cpu"), spread(results, "b", "a", "per_test_ms"), 1.0)] + (
                [] if not results.get("bs") else [
                Row("  W1 with every leak check on", "ms/test",
                    {"a": med(results, "a", "per_test_ms"), "b": med(results, "bs", "per_test_ms")},
                    (bsa := paired(results, "bs", "a", "per_test_ms")), paired(results, "bs", "c", "per_test_ms"),
                    "strict/a <= 1.00", None if bsa is None else bsa <= 1.0,
                    paired(results, "bs", "a", "cpu"), paired(results, "bs", "c", "cpu"),
                    spread(results, "bs", "a", "per_test_ms"), 1.0)])
    if workload == "W2":
        a_jobs = {j.key: j for j in jobs}
        tests_b = a_jobs["b"].kwargs["tests"]
        # The plain base's real cost for the full suite, extrapolated from its scaled-down run.
        a_real = None
        if results.get("a"):
            a_real = statistics.median(run["real_s_per_test"] for run in results["a"]) * tests_b
        b_wall = med(results, "b", "wall")
        speedup = None if not b_wall else tests_b * 3600.0 / b_wall
        speeds = [tests_b * 3600.0 / run["wall"] for run in results.get("b", [])]
        return [Row(f"W2 {tests_b} tests x 1 h simulated", "s total", {"a": a_real, "b": b_wall},
                    None if a_real is None or b_wall is None else b_wall / a_real, None,
                    f">= 10,000x real: {fmt(speedup, 0)}x", None if speedup is None else speedup >= 10_000,
                    judged=(min(speeds), max(speeds)) if len(speeds) > 1 else None, limit=10_000.0),
                Row("  W2 per test", "ms/test", {"a": None if a_real is None else a_real / tests_b * 1e3,
                                                 "b": med(results, "b", "per_test_ms")})]
    if workload == "W3":
        sizes = f"{kw['calls'] // 1000}k/{kw['tasks'] // 1000}k/{kw['items'] // 1000}k"
        rows = []
        for metric, label in (("body", f"W3 callback-heavy {sizes}"), ("call_soon", "  W3 call_soon"),
                              ("tasks", "  W3 tasks gathered"), ("queue", "  W3 queue items"),
                              ("wall", "  W3 whole test/run")):
            cells = {k: scaled(med(results, k, metric), 1e3) for k in ("a", "a0", "b", "c")}
            bc = paired(results, "b", "c", metric)
            cpu = {"body": "body_cpu", "wall": "cpu"}.get(metric)
            rows.append(Row(label, "ms", cells, paired(results, "b", "a", metric), bc,
                            "b/c <= 1.10" if metric == "body" else "",
                            (None if bc is None else bc <= 1.10) if metric == "body" else None,
                            paired(results, "b", "a", cpu) if cpu else None,
                            paired(results, "b", "c", cpu) if cpu else None,
                            spread(results, "b", "c", metric) if metric == "body" else None, 1.10))
        if results.get("ct"):
            parts = ", ".join(f"{m} {fmt(paired(results, 'ct', 'c', m))}"
                              for m in ("body", "call_soon", "tasks", "queue"))
            NOTES.append(f"W3: what coroutine_origins = True costs (the floor with coroutine origin tracking at "
                         f"depth 1), ct/c: {parts}")
        return rows
    if workload == "W4":
        label = f"W4 timer-heavy {kw['timers'] // 1000}k+{kw['sleepers'] // 1000}kx{kw['sleeps_each']}"
        rows = []
        for metric, text in (("body", label), ("call_later", "  W4 call_later"), ("sleepers", "  W4 sleepers"),
                             ("wall", "  W4 whole test/run")):
            cells = {k: scaled(med(results, k, metric), 1e3) for k in ("b", "c")}
            bc = paired(results, "b", "c", metric)
            cpu = {"body": "body_cpu", "wall": "cpu"}.get(metric)
            rows.append(Row(text, "ms", cells, None, bc, "b/c <= 1.10" if metric == "body" else "",
                            (None if bc is None else bc <= 1.10) if metric == "body" else None,
                            None, paired(results, "b", "c", cpu) if cpu else None,
                            spread(results, "b", "c", metric) if metric == "body" else None, 1.10))
        jumps = kw["timers"] + kw["sleepers"] * kw["sleeps_each"]
        b, c = med(results, "b", "body"), med(results, "c", "body")
        if b is not None and c is not None:
            NOTES.append(f"W4: {jumps:,} deadlines: floor {c / jumps * 1e6:.2f} us each, AsyncTestCase "
                         f"{b / jumps * 1e6:.2f} us (+{(b - c) / jumps * 1e6:.2f} us per deadline)")
        return rows
    if workload == "W4R":
        n = kw["timers"]
        real_cpu = med(results, "c", "body_cpu")
        floor = med(results, "j", "body")
        b = med(results, "b", "body")
        below = real_cpu is not None and floor is not None and floor <= real_cpu
        NOTES.append(f"W4R: a real asyncio.run that sleeps between {n} timers spends "
                     f"{fmt(scaled(real_cpu, 1e6 / n))} us CPU per timer; the jump-clock floor "
                     f"{fmt(scaled(floor, 1e6 / n))} us wall: the W4 floor is "
                     + ("conservative (lower than real asyncio)" if below else "NOT below real asyncio: check"))
        return [Row(f"W4R floor check ({n} real timers)", "us/timer",
                    {"a": scaled(real_cpu, 1e6 / n), "b": scaled(b, 1e6 / n), "c": scaled(floor, 1e6 / n)},
                    None, paired(results, "b", "j", "body"),
                    "plain col = asyncio.run CPU", None, None, paired(results, "b", "j", "body_cpu"))]
    if workload == "W5":
        return []
    raise AssertionError(workload)


def scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def print_w5(results: Results, jobs: list[Job]) -> bool | None:
    """The W5 section: leak checks on vs off, and per-test cost as the heap grows.  Returns flat-or-not.

    Per-test figures here are the median chunk of each run (``per_test_ms_med``, see workloads.w1), so
    one burst of load elsewhere does not decide a 10% target; full collections are counted exactly.
    """
    metric = "per_test_ms_med"
    heaps = sorted({j.kwargs["heap"] for j in jobs if "heap" in j.kwargs})
    first = next(j for j in jobs if "heap" in j.kwargs)
    tests, chunks = first.kwargs["tests"], first.kwargs.get("chunks", 1)
    print(f"W5 leak-check cost ({tests} trivial tests per run in {chunks} chunks; ms/test of the median chunk)")
    if "checks-b" in results:
        off = med(results, "checks-b0", metric)
        for key, name in (("checks-b", "default"), ("checks-bs", "strict")):
            on = med(results, key, metric)
            print(f"  leak checks {name:<7} {fmt(on)} ms/test vs off {fmt(off)} ms/test: "
                  f"ratio {fmt(paired(results, key, 'checks-b0', metric))} "
                  f"{runs_text(spread(results, key, 'checks-b0', metric))}".rstrip() + "; "
                  f"the checks cost {fmt(None if on is None or off is None else on - off)} ms/test")
    else:
        print("  leak checks on vs off: n/a (AsyncTestCase has no leak checks yet)")
    print("  heap: a global list of N small lists (tracked by the collector), built before the timed part")
    print(f"  {'live objects':>12} {'plain ms/test':>14} {'vs smallest':>11} {'asynctestkit':>13} "
          f"{'vs smallest':>11} {'runs':>11} {'full gc runs a/b':>17}")
    flat: bool | None = None
    judged: tuple[float, float] | None = None
    for heap in heaps:
        a, b = med(results, f"a@{heap}", metric), med(results, f"b@{heap}", metric)
        growth_a = paired(results, f"a@{heap}", f"a@{heaps[0]}", metric)
        growth = paired(results, f"b@{heap}", f"b@{heaps[0]}", metric)
        runs = spread(results, f"b@{heap}", f"b@{heaps[0]}", metric) if heap != heaps[0] else None
        fulls = "/".join(f"{med(results, f'{v}@{heap}', 'full_collections') or 0:g}" for v in ("a", "b"))
        print(f"  {heap:>12,} {fmt(a):>14} {fmt(growth_a):>11} {fmt(b):>13} {fmt(growth):>11} "
              f"{'' if runs is None else fmt_range(*runs):>11} {fulls:>17}")
        if heap == heaps[-1] and growth is not None:
            flat = growth <= 1.10
            judged = runs
    print(f"  target: flat as the heap grows (asynctestkit at the largest heap within 1.10x of the smallest, "
          f"median of per-run pairs): {verdict(flat, judged, 1.10)}")
    return flat


# --- orchestration -----------------------------------------------------------------------------------

def machine_header(repeat: int, quick: bool) -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=ROOT, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        commit = "?"
    return [
        f"asynctestkit benchmarks ({'quick' if quick else 'full'} sizes; median of {repeat} run(s), "
        f"each a fresh subprocess, variants interleaved)",
        f"python  {platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        f"machine {platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores",
        f"code    {ROOT} at git {commit} (working tree as is)",
        "columns plain = IsolatedAsyncioTestCase (debug on); plain-nodbg = same, debug off; "
        "asynctestkit = AsyncTestCase defaults;",
        "        floor = bare asyncio.run (W4: asyncio's loop on a zero-cost jump clock, see floor.py);",
        "        figures are wall-time medians; ratios are medians of per-run pairs; cpu b/a, cpu b/c: the same on "
        "process CPU time",
        "        (blind to waiting for a CPU, so robust on a busy machine; blind to sleeping, so targets use wall)",
        f"sigint  {SIGINT_MODE} in every child (ATK_BENCH_SIGINT; see run.SIGINT_MODE)",
        f"load    average {load_text()} at start",
    ] + [f"what-if --set {assignment} (a patched run: not the package as shipped)" for assignment in SETTINGS]


def load_text() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" (1/5/15 min, {os.cpu_count()} cores)"
    except OSError:
        return "unknown"


def run_workload(workload: str, jobs: list[Job], repeat: int) -> Results:
    results: Results = {}
    for rep in range(repeat):
        order = jobs if rep % 2 == 0 else list(reversed(jobs))
        for job in order:
            started = time.perf_counter()
            out = child({"func": job.func, "variant": job.variant, "kwargs": job.kwargs})
            out.pop("_stdout", None)
            results.setdefault(job.key, []).append(out)
            print(f"  [{workload} run {rep + 1}/{repeat}] {job.key:<12} {time.perf_counter() - started:6.1f} s",
                  file=sys.stderr, flush=True)
    return results


def profile(workload: str, quick: bool, top: int) -> None:
    """Profile each variant of *workload* once and print where the time goes."""
    jobs = [j for j in plan(workload, quick) if "@" not in j.key or j.key.endswith("@1000000")]
    if workload == "W1" and leak_checks_exist():  # split AsyncTestCase's cost: with and without leak checks
        jobs.append(Job("b0", "W1", "b0", jobs[0].kwargs))
    print("\n".join(machine_header(1, quick)))
    print("(times under cProfile are inflated by its per-call overhead; compare variants, not absolute values)")
    for job in jobs:
        kwargs = {**job.kwargs, "inner": 1} if "inner" in job.kwargs else job.kwargs
        print(f"\n== profile {workload} / {job.key}: {VARIANT_NAMES.get(job.variant, job.variant)} {kwargs}")
        out = child({"func": job.func, "variant": job.variant, "kwargs": kwargs, "profile": top})
        print(out["_stdout"])


def select(only: str | None) -> list[str]:
    if not only:
        return list(ALL_WORKLOADS)
    chosen: list[str] = []
    for name in only.upper().replace(" ", "").split(","):
        matches = [w for w in ALL_WORKLOADS if w == name or (name == "W4" and w.startswith("W4"))]
        if not matches:
            raise SystemExit(f"unknown workload {name!r}; choose from {', '.join(ALL_WORKLOADS)}")
        chosen += [m for m in matches if m not in chosen]
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and one run: a smoke test")
    parser.add_argument("--only", metavar="W1,W3", help=f"workloads to run (of {', '.join(ALL_WORKLOADS)})")
    parser.add_argument("--repeat", type=int, metavar="N", help="runs per figure (default 5, quick: 1)")
    parser.add_argument("--profile", metavar="W", help="profile each variant of one workload instead")
    parser.add_argument("--top", type=int, default=20, help="functions listed per profile (default 20)")
    parser.add_argument("--json", metavar="FILE", help="also write every raw run to FILE")
    parser.add_argument("--set", action="append", default=[], metavar="MODULE.ATTR=VALUE",
                        help="what-if: patch a module attribute in every child, e.g. "
                             "asynctestkit.clock._jump._CHECK_EVERY=255 (repeatable)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child_main(args.child)
        return 0
    SETTINGS.extend(args.set)
    if args.profile:
        profile(select(args.profile)[0], args.quick, args.top)
        return 0
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 5)
    if repeat < 1:
        parser.error("--repeat must be at least 1")
    began = time.perf_counter()
    print("\n".join(machine_header(repeat, args.quick)), flush=True)
    rows: list[Row] = []
    raw: dict[str, Results] = {}
    w5: tuple[Results, list[Job]] | None = None
    for workload in select(args.only):
        jobs = plan(workload, args.quick)
        results = run_workload(workload, jobs, repeat)
        raw[workload] = results
        if workload == "W5":
            w5 = (results, jobs)
        else:
            rows += rows_for(workload, results, jobs)
    print()
    if rows:
        print_table(rows)
    if NOTES:
        print()
        print("\n".join(f"note {line}" for line in NOTES))
    if w5 is not None:
        print()
        print_w5(*w5)
    print(f"\n(total {time.perf_counter() - began:.0f} s; load average {load_text()} at the end)")
    if args.json:
        Path(args.json).write_text(json.dumps({"python": platform.python_version(), "results": raw}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
