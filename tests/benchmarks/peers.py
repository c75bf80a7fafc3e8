"""The peer table: one time-heavy suite under asynctestkit and under other asyncio test tools, side by side.

Usage (from the repository root)::

    python tests/benchmarks/peers.py                  # 200 tests x 1 simulated hour, 3 rounds
    python tests/benchmarks/peers.py --tests 20 --repeat 1

The suite: *tests* tests, each running ``hour.simulate_hour()`` (60 x sleep(30) + wait_for timing out after
15 s + asyncio.timeout(15 s), with a heartbeat task ticking every 10 s): the same coroutine, unchanged, in
every row.  Fake-time tools run it at full scale.  Tools without fake time would need 200 real hours, so
they run ``--real-tests`` tests with every duration divided by 3600 (one real second of sleeping per test);
their row shows the measured overhead per test and the extrapolated cost of the full suite.

The peers are pip-installed, at pinned versions (``PINS``), into a virtual environment under /tmp
(``/tmp/atk-bench-peers-<python version>``) the first time; later runs reuse it, so they work offline.  A
peer whose install fails is skipped with a line saying so.  Every row, asynctestkit's included, runs in a
fresh child process of that venv's interpreter (the same CPython binary), so all rows share the interpreter,
and neither the package nor its core tests import any peer.

Two times per row: *run* = the suite's run phase (``TestSuite.run``; under pytest, from the end of collection
to the end of the session), and *process* = the whole command, interpreter start and imports included.
Rows are interleaved in each round; ratios to asynctestkit are medians of per-round pairs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

#: Exact versions installed into the peer venv (a change here rebuilds nothing: delete the venv to upgrade).
PINS = ("pytest==9.2.0", "pytest-asyncio==1.5.0", "iniconfig==2.3.1", "packaging==26.4", "pluggy==1.7.0",
        "Pygments==2.21.0", "looptime==0.9", "async-solipsism==0.10", "aiounittest==1.5.0", "wrapt==2.5.2")

#: Which distributions each row needs (a row is skipped when one of them failed to install).
NEEDS: dict[str, tuple[str, ...]] = {
    "atk": (), "solipsism-iatc": ("async_solipsism",), "looptime-iatc": ("looptime",),
    "looptime-pytest": ("pytest", "pytest_asyncio", "looptime"),
    "solipsism-pytest": ("pytest", "pytest_asyncio", "async_solipsism"),
    "iatc-real": (), "pytest-asyncio-real": ("pytest", "pytest_asyncio"), "aiounittest-real": ("aiounittest",),
}

LABELS = {
    "atk": "asynctestkit AsyncTestCase (unittest)",
    "solipsism-iatc": "async-solipsism loop on IATC (debug off)",
    "looptime-iatc": "looptime loop on IATC (debug off)",
    "looptime-pytest": "pytest + pytest-asyncio + looptime (--looptime)",
    "solipsism-pytest": "pytest + pytest-asyncio + async-solipsism",
    "iatc-real": "IATC (debug on), real time, scaled",
    "pytest-asyncio-real": "pytest + pytest-asyncio, real time, scaled",
    "aiounittest-real": "aiounittest, real time, scaled",
}
FAKE = ("atk", "solipsism-iatc", "looptime-iatc", "looptime-pytest", "solipsism-pytest")
REAL = ("iatc-real", "pytest-asyncio-real", "aiounittest-real")
SCALE = 1 / 3600


# --- the venv -------------------------------------------------------------------------------------------

def venv_python() -> Path:
    version = ".".join(map(str, sys.version_info[:3]))
    return Path(tempfile.gettempdir()) / f"atk-bench-peers-{version}" / "bin" / "python"


def ensure_venv() -> tuple[Path, list[str]]:
    """Create the peer venv once and install the pins one by one; return its python and what is missing."""
    python = venv_python()
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(python.parents[1])], check=True)
    missing = []
    for module, pin in (("pytest", "pytest==9.2.0"), ("pytest_asyncio", "pytest-asyncio==1.5.0"),
                        ("looptime", "looptime==0.9"), ("async_solipsism", "async-solipsism==0.10"),
                        ("aiounittest", "aiounittest==1.5.0")):
        if subprocess.run([str(python), "-c", f"import {module}"], capture_output=True).returncode == 0:
            continue
        print(f"  installing {pin} into {python.parents[1]} ...", file=sys.stderr, flush=True)
        proc = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                               *[p for p in PINS if p.split("==")[0].lower() in DEPS[pin]]],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode or subprocess.run([str(python), "-c", f"import {module}"],
                                             capture_output=True).returncode:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
            print(f"  SKIP {pin}: install failed ({tail[0][:200]})", file=sys.stderr, flush=True)
            missing.append(module)
    return python, missing


#: The pins each top-level install needs (its own and its dependencies', all exact).
DEPS = {
    "pytest==9.2.0": ("pytest", "iniconfig", "packaging", "pluggy", "pygments"),
    "pytest-asyncio==1.5.0": ("pytest-asyncio", "pytest", "iniconfig", "packaging", "pluggy", "pygments"),
    "looptime==0.9": ("looptime",),
    "async-solipsism==0.10": ("async-solipsism",),
    "aiounittest==1.5.0": ("aiounittest", "wrapt"),
}


# --- the children -----------------------------------------------------------------------------------------

UNITTEST_CHILD = r'''
import asyncio, json, sys, time, unittest
sys.path[:0] = [{here!r}, {root!r}]
from hour import simulate_hour
kind, tests, scale = {kind!r}, {tests!r}, {scale!r}

class NoDebug(unittest.IsolatedAsyncioTestCase):
    """IATC with debug off and a loop factory (3.11+: its private runner hook; the benchmark's only use)."""
    factory = None
    def _setupAsyncioRunner(self):
        self._asyncioRunner = asyncio.Runner(debug=False, loop_factory=type(self).factory)

if kind == "atk":
    from asynctestkit import AsyncTestCase as base
elif kind == "solipsism-iatc":
    import async_solipsism
    base = type("Solipsism", (NoDebug,), {{"factory": staticmethod(async_solipsism.EventLoop)}})
elif kind == "looptime-iatc":
    import looptime
    base = type("Looptime", (NoDebug,), {{"factory": staticmethod(lambda: looptime.new_event_loop(start=0))}})
elif kind == "aiounittest-real":
    import aiounittest
    base = aiounittest.AsyncTestCase
else:
    base = unittest.IsolatedAsyncioTestCase

async def body(self):
    ticks = await simulate_hour(scale)
    # Fake time: exactly 360 ticks (359 when the last one races the cancellation); real time drifts.
    if ticks < (359 if scale == 1.0 else 1):
        raise AssertionError(f"heartbeat ticked {{ticks}} times")

names = [f"test_{{i:04d}}" for i in range(tests)]
cls = type("TimeHeavy", (base,), {{n: body for n in names}})
suite = unittest.TestSuite(cls(n) for n in names)
result = unittest.TestResult()
t0 = time.perf_counter()
suite.run(result)
run = time.perf_counter() - t0
if not result.wasSuccessful() or result.testsRun != tests:
    raise SystemExit(f"{{kind}}: {{result.testsRun}} run, {{(result.failures + result.errors)[:1]}}")
print("RESULT " + json.dumps({{"run": run, "passed": result.testsRun}}))
'''

PYTEST_CONFTEST = r'''
import json, os, sys, time
import pytest
sys.path[:0] = [{here!r}]
_t = {{"passed": 0}}

def pytest_collection_finish(session):
    _t["start"] = time.perf_counter()

def pytest_runtest_logreport(report):
    if report.when == "call" and report.passed:
        _t["passed"] += 1

def pytest_sessionfinish(session, exitstatus):
    _t["run"] = time.perf_counter() - _t.get("start", time.perf_counter())
    with open(os.environ["ATK_PEER_RESULT"], "w") as out:
        json.dump(_t, out)
{extra}
'''

SOLIPSISM_FIXTURE = r'''
import async_solipsism, warnings

@pytest.fixture(scope="session")
def event_loop_policy():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return async_solipsism.EventLoopPolicy()
'''

PYTEST_TESTS = r'''
from hour import simulate_hour
{tests}
'''


@dataclass
class Outcome:
    run: float
    process: float
    tests: int
    scale: float


def run_child(python: Path, kind: str, tests: int, scale: float) -> Outcome:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    for name in ("PYTHONASYNCIODEBUG", "PYTHONDEVMODE", "ASYNCTESTKIT_LEAK_CHECKS", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="atk-peer-") as tmp:
        if "pytest" in kind:
            extra = SOLIPSISM_FIXTURE if kind == "solipsism-pytest" else ""
            Path(tmp, "conftest.py").write_text(PYTEST_CONFTEST.format(here=str(HERE), extra=extra))
            least = 359 if scale == 1.0 else 1
            body = "".join(f"\nasync def test_{i:04d}():\n    assert await simulate_hour({scale!r}) >= {least}\n"
                           for i in range(tests))
            Path(tmp, "test_timeheavy.py").write_text(PYTEST_TESTS.format(tests=body))
            env["ATK_PEER_RESULT"] = str(Path(tmp, "result.json"))
            command = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_mode=auto",
                       "-o", "asyncio_default_fixture_loop_scope=function", "-W", "ignore::DeprecationWarning",
                       "test_timeheavy.py"] + (["--looptime"] if kind == "looptime-pytest" else [])
        else:
            script = Path(tmp, "child.py")
            script.write_text(UNITTEST_CHILD.format(here=str(HERE), root=str(ROOT), kind=kind, tests=tests,
                                                    scale=scale))
            command = [str(python), str(script)]
        started = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, cwd=tmp, env=env, timeout=3600)
        process = time.perf_counter() - started
        if "pytest" in kind:
            path = Path(tmp, "result.json")
            data = json.loads(path.read_text()) if path.exists() else {}
        else:
            lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
            data = json.loads(lines[-1][len("RESULT "):]) if lines else {}
        if proc.returncode or data.get("passed") != tests:
            raise RuntimeError(f"{kind}: exit {proc.returncode}, {data.get('passed')} of {tests} passed\n"
                               f"{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}")
    return Outcome(run=data["run"], process=process, tests=tests, scale=scale)


# --- the table --------------------------------------------------------------------------------------------

def measure(tests: int, real_tests: int, repeat: int, kinds: list[str] | None = None) -> dict[str, Any]:
    """Run every available row *repeat* times, interleaved; return raw outcomes and the skip reasons."""
    if sys.version_info < (3, 11):
        return {"skipped": {"all": "the peer table needs Python 3.11+ (IATC loop factories, pytest-asyncio 1.x)"},
                "runs": {}, "tests": tests, "real_tests": real_tests}
    python, missing = ensure_venv()
    skipped: dict[str, str] = {}
    chosen = []
    for kind in kinds or list(FAKE + REAL):
        lacking = [m for m in NEEDS[kind] if m in missing]
        if lacking:
            skipped[kind] = f"not installed: {', '.join(lacking)}"
        else:
            chosen.append(kind)
    runs: dict[str, list[Outcome]] = {k: [] for k in chosen}
    for rep in range(repeat):
        for kind in (chosen if rep % 2 == 0 else list(reversed(chosen))):
            if kind in skipped:
                continue
            count, scale = (tests, 1.0) if kind in FAKE else (real_tests, SCALE)
            started = time.perf_counter()
            try:
                runs[kind].append(run_child(python, kind, count, scale))
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                skipped[kind] = f"failed: {str(exc).strip().splitlines()[-1][:160]}"
                print(f"  SKIP {kind}: {exc}", file=sys.stderr, flush=True)
                continue
            print(f"  [peers run {rep + 1}/{repeat}] {kind:<20} {time.perf_counter() - started:6.1f} s",
                  file=sys.stderr, flush=True)
    return {"runs": {k: [vars(o) for o in v] for k, v in runs.items() if v and k not in skipped},
            "skipped": skipped, "tests": tests, "real_tests": real_tests, "python": str(python)}


def table(data: dict[str, Any]) -> list[str]:
    runs: dict[str, list[dict[str, float]]] = data["runs"]
    tests = data["tests"]
    out = [f"peers: {tests} tests x 1 simulated hour each (fake time), same coroutine in every row; "
           f"real-time rows: {data['real_tests']} test(s) at 1/3600 scale, extrapolated; "
           f"median of {max((len(v) for v in runs.values()), default=0)} round(s)",
           f"  {'row':<48} {'run s':>8} {'process s':>9} {'ms/test':>8} {'run/atk':>8} {'proc/atk':>8} "
           f"{'rounds run/atk':>15}"]
    atk = runs.get("atk")
    for kind in FAKE:
        if kind not in runs:
            continue
        mine = runs[kind]
        run = statistics.median(r["run"] for r in mine)
        process = statistics.median(r["process"] for r in mine)
        ratio = proc_ratio = spread = "-"
        if atk and kind != "atk":
            pairs = [m["run"] / a["run"] for m, a in zip(mine, atk, strict=False)]
            ratio = f"{statistics.median(pairs):.2f}"
            proc_pairs = [m["process"] / a["process"] for m, a in zip(mine, atk, strict=False)]
            proc_ratio = f"{statistics.median(proc_pairs):.2f}"
            spread = f"{min(pairs):.2f}-{max(pairs):.2f}" if len(pairs) > 1 else ""
        out.append(f"  {LABELS[kind]:<48} {run:>8.2f} {process:>9.2f} {run / tests * 1e3:>8.2f} {ratio:>8} "
                   f"{proc_ratio:>8} {spread:>15}")
    for kind in REAL:
        if kind not in runs:
            continue
        mine = runs[kind]
        n = mine[0]["tests"]
        sleeping = 3600 * SCALE * n
        overhead = statistics.median((r["run"] - sleeping) / n for r in mine)
        out.append(f"  {LABELS[kind]:<48} {'~' + format((3600 + overhead) * tests / 3600, '.0f') + ' h':>8} "
                   f"{'':>9} {overhead * 1e3:>8.1f} {'':>8} {'':>8} {'':>15}")
    if any(k in runs for k in REAL):
        out.append("  (real-time rows: run s = the full suite extrapolated to real hours; ms/test = what each test "
                   "costs beyond its scaled sleeping, timer rounding included)")
    for kind, reason in data["skipped"].items():
        out.append(f"  skipped {LABELS.get(kind, kind)}: {reason}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=200, help="fake-time tests per row (default 200)")
    parser.add_argument("--real-tests", type=int, default=2, help="scaled real-time tests per row (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--only", metavar="atk,looptime-pytest", help=f"rows, of {', '.join(LABELS)}")
    parser.add_argument("--json", metavar="FILE", help="also write the raw runs to FILE")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.only.split(",")] if args.only else None
    if kinds and (bad := [k for k in kinds if k not in LABELS]):
        parser.error(f"unknown rows {bad}; choose from {', '.join(LABELS)}")
    data = measure(args.tests, args.real_tests, args.repeat, kinds)
    print("\n".join(table(data)))
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
