"""``python -m asynctestkit explore <test id> --schedules N``: how flaky is this test, and which schedule breaks it.

Runs one unittest test id (an ``AsyncTestCase`` test, decorated or not) under the FIFO schedule and then
under N seeded schedules, all of them (not only up to the first failure), and prints the pass rate, the
first failing seed with the line that replays it, and the simplest failing schedule that shrinking found.
Exit status: 0 every schedule passed, 1 some failed (or FIFO itself did), 2 the test id or an option is wrong.
"""

from __future__ import annotations

import argparse
import functools
import sys
import unittest
from collections.abc import Iterator, Sequence
from typing import TextIO

from .. import _compat
from ._runner import Exploration, explore_test
from ._schedule import DEFAULT_DEPTH, STRATEGIES
from ._unittest import exploration, format_outcome, plural

__all__ = ["main"]


def _tests(suite: unittest.TestSuite | unittest.TestCase) -> Iterator[unittest.TestCase]:
    if isinstance(suite, unittest.TestSuite):
        for item in suite:
            yield from _tests(item)
    else:
        yield suite


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m asynctestkit explore",
                                     description="Run one async test under many schedules: the pass rate, the "
                                                 "first failing seed and the line that replays it.")
    parser.add_argument("test_id", help="a unittest test id, e.g. tests.test_bank.TestBank.test_deposit")
    parser.add_argument("--schedules", type=int, default=200, help="seeded schedules to run (default 200)")
    parser.add_argument("--strategy", default="random", choices=STRATEGIES, help="default: random")
    parser.add_argument("--depth", type=int, default=DEFAULT_DEPTH, help="pct: priority-change points + 1")
    parser.add_argument("--jitter", type=float, default=0.0, help="timers fire up to JITTER x their delay late")
    parser.add_argument("--seed", type=int, default=0, help="run n uses seed SEED + n (default 0)")
    parser.add_argument("--no-shrink", action="store_true", help="do not shrink the first failing schedule")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """The ``explore`` command (argv without the command name); returns the exit status."""
    from ..case import AsyncTestCase

    out = out or sys.stdout
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        spec: Exploration = exploration("--", args.schedules, args.strategy, args.depth, args.jitter, args.seed,
                                        not args.no_shrink)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    loader = unittest.TestLoader()
    tests = list(_tests(loader.loadTestsFromName(args.test_id)))
    errors = loader.errors  # a name that does not resolve becomes a failing placeholder test plus an error
    if errors or len(tests) != 1:
        detail = str(errors[-1]).strip().splitlines()[-1] if errors else f"it names {plural(len(tests), 'test')}"
        print(f"explore: {args.test_id!r} is not one test: {detail}", file=sys.stderr)
        return 2
    test = tests[0]
    if not isinstance(test, AsyncTestCase):
        print(f"explore: {args.test_id} is a {type(test).__mro__[1].__qualname__} test: exploration runs tests of "
              f"asynctestkit.AsyncTestCase subclasses (their loop is the one it schedules)", file=sys.stderr)
        return 2
    make = functools.partial(type(test), _compat.test_method_name(test))
    outcome = explore_test(make, spec, stop_at_first=False)
    baseline = outcome.baseline
    assert baseline is not None
    if baseline.skipped is not None:
        print(f"{args.test_id} is skipped: {baseline.skipped}", file=out)
        return 0
    if baseline.failure is not None:
        print(f"{args.test_id} fails under the default FIFO schedule already (no exploration needed):\n"
              f"{baseline.failure}", file=out)
        return 1
    passed = outcome.runs - outcome.failures
    rate = 100.0 * passed / outcome.runs if outcome.runs else 100.0
    print(f"{args.test_id}: {passed} of {plural(outcome.runs, 'schedule')} passed ({rate:.1f}% pass rate; "
          f"strategy {spec.strategy!r}, seeds {spec.seed + 1}-{spec.seed + spec.schedules}"
          f"{f', jitter {spec.jitter:g}' if spec.jitter else ''})", file=out)
    if outcome.first is None:
        return 0
    print(f"first failing seed: {outcome.first.schedule.seed}", file=out)
    print(format_outcome(args.test_id, args.test_id.rpartition(".")[2], spec, outcome), file=out)
    return 1
