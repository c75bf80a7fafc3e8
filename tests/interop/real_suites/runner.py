"""Run a third-party library's own unittest modules, optionally with ``IsolatedAsyncioTestCase`` swapped.

Used by ``.ci/jobs/real_suites.sh`` inside the library's virtual environment, with the current directory set to
the unpacked sdist (so its ``tests`` package or in-package test modules import as they do in the library's own CI)::

    python runner.py --mode baseline --out base.jsonl MODULE [MODULE ...]
    python runner.py --mode swapped  --out swap.jsonl MODULE [MODULE ...]

``--mode swapped`` imports asynctestkit first and replaces ``IsolatedAsyncioTestCase`` on the ``unittest`` and
``unittest.async_case`` modules *before* the library's test modules are imported, so ``class T(unittest.
IsolatedAsyncioTestCase)``, ``from unittest import IsolatedAsyncioTestCase`` and
``from unittest.async_case import IsolatedAsyncioTestCase`` all get ``asynctestkit.AsyncTestCase``.  The
library's code is not edited.  A library that subclasses through a base it imported before the swap (none of
the configured ones) would keep the stdlib class; the runner counts how many loaded tests really run on the
swapped base and writes it to the results, so the comparison can refuse a swap that did nothing.

The results file has one JSON object per line, written as each test finishes (a run killed by the job's
timeout keeps what finished): ``{"id", "outcome", "seconds", "detail", "swapped_base"}`` lines, then a final
``{"summary": ...}`` line.  Outcomes: ``pass``, ``fail``, ``error``, ``skip``, ``xfail``, ``xpass``.
Standard library only; this file is not a test module (the core suite never collects it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import types
import unittest

# The real clock, bound before asynctestkit is imported (it is imported in _swap_base): whatever asynctestkit
# does to the ``time`` module's functions while a test phase runs on the virtual clock, durations here are wall time.
from time import perf_counter as _wall
from typing import IO, Any

_DETAIL_LIMIT = 4000  # characters of traceback kept per failure: one screen and a bit


def _swap_base(real_clock: bool) -> type[Any]:
    """Replace ``IsolatedAsyncioTestCase`` with asynctestkit's ``AsyncTestCase`` where user code looks it up.

    *real_clock* (diagnostic ``--real-clock``) swaps in a subclass with ``virtual_clock = False``: leak checks
    and everything else of ``AsyncTestCase``, but real time, to tell a leak from a clock regression that hides it.
    """
    import unittest.async_case

    import asynctestkit

    ours: type[Any] = asynctestkit.AsyncTestCase
    if real_clock:
        ours = type("AsyncTestCase", (ours,), {"virtual_clock": False, "__module__": "asynctestkit"})
    unittest.IsolatedAsyncioTestCase = ours  # type: ignore[misc]
    unittest.async_case.IsolatedAsyncioTestCase = ours  # type: ignore[misc]
    return ours


class _RecordingResult(unittest.TestResult):
    """A TestResult that writes one JSON line per finished test (outcome, wall seconds, failure text)."""

    def __init__(self, sink: IO[str], swapped_base: type[Any] | None) -> None:
        super().__init__()
        self._sink = sink
        self._swapped_base = swapped_base
        self._started: dict[str, float] = {}
        self._outcome: dict[str, tuple[str, str]] = {}
        self.counts: dict[str, int] = {}
        self.on_swapped_base = 0

    # -- bookkeeping ----------------------------------------------------------------------------------------
    def _set(self, test: unittest.TestCase, outcome: str, detail: str = "") -> None:
        key = test.id()
        previous = self._outcome.get(key)
        # A failing subtest or a teardown error after a failure keeps the worst outcome and all the text.
        rank = {"pass": 0, "skip": 1, "xfail": 1, "xpass": 2, "fail": 3, "error": 4}
        if previous is not None:
            if rank[previous[0]] > rank[outcome]:
                outcome = previous[0]
            detail = (previous[1] + "\n" + detail).strip()
        self._outcome[key] = (outcome, detail)

    def _text(self, test: unittest.TestCase, err: Any) -> str:
        text = self._exc_info_to_string(err, test)  # type: ignore[attr-defined]
        if len(text) > _DETAIL_LIMIT:
            text = text[: _DETAIL_LIMIT // 2] + "\n[...]\n" + text[-_DETAIL_LIMIT // 2 :]
        return str(text)

    # -- the unittest protocol ------------------------------------------------------------------------------
    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        self._started[test.id()] = _wall()
        print(f"[{test.id()}] ...", file=sys.stderr, flush=True)

    def stopTest(self, test: unittest.TestCase) -> None:
        super().stopTest(test)
        key = test.id()
        seconds = _wall() - self._started.pop(key, _wall())
        outcome, detail = self._outcome.pop(key, ("pass", ""))
        on_ours = self._swapped_base is not None and isinstance(test, self._swapped_base)
        self.on_swapped_base += on_ours
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        line = {"id": key, "outcome": outcome, "seconds": round(seconds, 4), "detail": detail,
                "swapped_base": on_ours}
        self._sink.write(json.dumps(line) + "\n")
        self._sink.flush()
        print(f"[{key}] {outcome} {seconds:.3f}s", file=sys.stderr, flush=True)

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self._set(test, "pass")

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self._set(test, "fail", self._text(test, err))

    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        # Errors outside any test (setUpClass, a module that fails to import) arrive with a holder object.
        if not isinstance(test, unittest.TestCase):
            holder: Any = types.SimpleNamespace(id=lambda: str(test))
            self._started.setdefault(str(test), _wall())
            self._set(holder, "error", self._text(test, err))
            self.stopTest(holder)
            return
        self._set(test, "error", self._text(test, err))

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self._set(test, "skip", reason)

    def addExpectedFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self._set(test, "xfail")

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        super().addUnexpectedSuccess(test)
        self._set(test, "xpass", "unexpected success")

    def addSubTest(self, test: unittest.TestCase, subtest: unittest.TestCase, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = "fail" if issubclass(err[0], test.failureException) else "error"
            self._set(test, kind, f"{subtest.id()}\n{self._text(subtest, err)}")


def _module_exists(name: str) -> bool:
    """True when *name* can be found (its parent packages are imported to look, the module itself is not)."""
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("baseline", "swapped"), required=True)
    parser.add_argument("--out", required=True, help="results file (JSON lines)")
    parser.add_argument("--real-clock", action="store_true",
                        help="swapped mode with virtual_clock = False (diagnostic: leaks without the clock)")
    parser.add_argument("--optional-modules", action="store_true",
                        help="skip (with a note) modules this interpreter does not have, e.g. CPython's own tests")
    parser.add_argument("modules", nargs="+", help="dotted names of the test modules to run")
    args = parser.parse_args(argv)

    sys.path[0] = os.getcwd()  # the unpacked sdist, as `python -m unittest` has it (not this script's folder)
    ours = _swap_base(args.real_clock) if args.mode == "swapped" else None
    started = _wall()
    with open(args.out, "w", encoding="utf-8") as sink:
        result = _RecordingResult(sink, ours)
        loader = unittest.TestLoader()
        suite = unittest.TestSuite()
        for name in args.modules:
            if args.optional_modules and not _module_exists(name):
                print(f"note: {name} does not exist on Python {sys.version.split()[0]}: not run", file=sys.stderr)
                continue
            try:
                suite.addTests(loader.loadTestsFromName(name))
            except Exception:  # an import error is a result to record, not a crash
                holder: Any = types.SimpleNamespace(id=lambda name=name: f"{name} (import)")
                result._started[holder.id()] = _wall()
                result._set(holder, "error", traceback.format_exc())
                result.stopTest(holder)
        try:
            suite.run(result)
        except BaseException:  # a crash of the run itself is recorded, then re-raised
            sink.write(json.dumps({"crash": traceback.format_exc()}) + "\n")
            raise
        summary = {"mode": args.mode, "seconds": round(_wall() - started, 3), "counts": result.counts,
                   "on_swapped_base": result.on_swapped_base, "python": sys.version.split()[0],
                   "real_clock": bool(args.real_clock)}
        if ours is not None:
            import asynctestkit

            summary["asynctestkit"] = f"{asynctestkit.__version__} from {asynctestkit.__file__}"
        sink.write(json.dumps({"summary": summary}) + "\n")
    print(f"{args.mode}: {summary}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
