"""Running one test under many schedules: the search, the shrinking, and the failure report.

Each run is a complete run of the test case (a fresh instance: setUp, a fresh loop under the run's
schedule, the test, tearDown, cleanups, the leak check), reported to a private ``unittest.TestResult``.
The first run uses the default FIFO schedule: a test that fails without any exploration fails exactly as
it would without ``@explore``.  Then one run per seed, until the first failure, which is shrunk towards
FIFO (:func:`shrink`) and reported as one :class:`ScheduleError` naming the seed, the run, the replay
line and where the schedule departed from FIFO, followed by the original failure.
"""

from __future__ import annotations

import traceback
import unittest
from collections.abc import Callable
from typing import Any, NamedTuple

from ..trace import Trace
from ._ready import ScheduleRun
from ._schedule import DEFAULT_DEPTH, Decision, Schedule

__all__ = ["Exploration", "Outcome", "ScheduleError", "explore_test", "shrink"]

_MAX_SHRINK_RUNS = 200


class ScheduleError(AssertionError):
    """A test failed under a schedule other than asyncio's FIFO order found by exploration.

    Its message names the schedule, the run, the line that replays it, the simplest failing schedule that
    shrinking found and where it departed from FIFO, then the original failure.
    """


class Exploration(NamedTuple):
    """How to explore one test: how many schedules, which strategy and its options, the first seed."""

    schedules: int
    strategy: str = "random"
    depth: int = DEFAULT_DEPTH
    jitter: float = 0.0
    seed: int = 0
    shrink: bool = True

    def schedule(self, run: int, steps: int) -> Schedule:
        """The schedule of seeded run *run* (1-based): seed ``self.seed + run``."""
        return Schedule.seeded(self.strategy, self.seed + run, depth=self.depth, steps=steps, jitter=self.jitter)


class Attempt(NamedTuple):
    """One run of the test: its schedule, what it decided, and how it failed (None: it passed)."""

    schedule: Schedule
    decisions: list[Decision]
    points: int
    failure: str | None
    error: tuple[type[BaseException], BaseException, Any] | None = None
    is_error: bool = False
    skipped: str | None = None
    trace: Trace | None = None  # the run's task timeline, when its loop recorded one


class Outcome:
    """What an exploration found: the runs made, the failures among them, the first failure and its shrinking.

    (Plain classes and named tuples here, not dataclasses: building a dataclass costs more at import than the
    whole of this module, and ``import asynctestkit`` imports it.)
    """

    def __init__(self) -> None:
        self.runs = 0
        self.failures = 0
        self.baseline: Attempt | None = None    # the FIFO run
        self.first: Attempt | None = None       # the first seeded run that failed
        self.first_run = 0                      # its number (1-based, among the seeded runs)
        self.simplest: Attempt | None = None    # the shrunk schedule that still fails
        self.shrink_runs = 0
        #: The failing schedule the report shows (the simplest, else the first), replayed with its task
        #: timeline recorded; the schedule's own run when its loop recorded one already (the class's trace_mode).
        self.traced: Attempt | None = None
        self.stopped = False                    # the result asked to stop (Ctrl-C, failfast)


class _Collector(unittest.TestResult):
    """Keeps the exception of the first failure or error (with its traceback) besides the text."""

    def __init__(self) -> None:
        super().__init__()
        self.error: tuple[type[BaseException], BaseException, Any] | None = None
        self.is_error = False

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self.error = self.error or err

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        super().addError(test, err)
        if self.error is None:
            self.error, self.is_error = err, True

    def addSubTest(self, test: unittest.TestCase, subtest: unittest.TestCase, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None and self.error is None:
            self.error = err
            self.is_error = not issubclass(err[0], test.failureException)


def run_once(make_case: Callable[[], unittest.TestCase], schedule: Schedule, *, record: bool = False) -> Attempt:
    """Run a fresh instance of the test under *schedule*; what it decided and how it ended.

    *record*: record the run's task timeline even if the test case does not (``Attempt.trace``).
    """
    case = make_case()
    run = ScheduleRun(schedule, record=record)
    case._atk_schedule = run  # type: ignore[attr-defined]  # read by AsyncTestCase's loop factory
    collector = _Collector()
    case.run(collector)
    failure = None
    if collector.error is not None:
        failure = format_error(collector.error)
    elif collector.failures or collector.errors:
        failure = (collector.failures + collector.errors)[0][1]
    elif collector.unexpectedSuccesses:
        failure = "unexpected success"
    skipped = collector.skipped[0][1] if collector.skipped else None
    trace = run.trace or case._atk_trace  # type: ignore[attr-defined]  # the case's own (its trace_mode)
    return Attempt(schedule, run.decisions, run.points, failure, collector.error, collector.is_error, skipped,
                   trace)


def format_error(err: tuple[type[BaseException], BaseException, Any]) -> str:
    """The traceback of a failure as unittest prints it: frames of modules that set ``__unittest`` left out."""
    exctype, value, tb = err
    while tb is not None and "__unittest" in tb.tb_frame.f_globals:
        tb = tb.tb_next
    return "".join(traceback.format_exception(exctype, value, tb)).rstrip("\n")


def explore_test(make_case: Callable[[], unittest.TestCase], spec: Exploration, *,
                 stop_at_first: bool = True, should_stop: Callable[[], bool] = lambda: False) -> Outcome:
    """Run the test under FIFO, then under ``spec.schedules`` seeded schedules (until the first failure when
    *stop_at_first*); shrink the first failure when ``spec.shrink``."""
    outcome = Outcome()
    baseline = run_once(make_case, Schedule.fifo())
    outcome.baseline = baseline
    if baseline.failure is not None or baseline.skipped is not None:
        return outcome
    steps = max(1, baseline.points)
    for number in range(1, spec.schedules + 1):
        if should_stop():
            outcome.stopped = True
            break
        attempt = run_once(make_case, spec.schedule(number, steps))
        outcome.runs += 1
        if attempt.failure is None:
            continue
        outcome.failures += 1
        if outcome.first is None:
            outcome.first, outcome.first_run = attempt, number
            if spec.shrink:
                outcome.simplest, outcome.shrink_runs = shrink(make_case, attempt)
            outcome.traced = with_timeline(make_case, outcome.simplest or attempt)
            if stop_at_first:
                break
    return outcome


def shrink(make_case: Callable[[], unittest.TestCase], failed: Attempt,
           budget: int = _MAX_SHRINK_RUNS) -> tuple[Attempt, int]:
    """The failing schedule with the fewest departures from FIFO that shrinking finds, and the runs it took.

    The departures of *failed* become a script (decision point -> candidate, timer -> delay).  Then, while
    the budget lasts: try each half, then each single departure, dropped; keep any smaller script under which
    the test still fails (its own recorded departures, which is what it really did).  Greedy, like
    delta debugging's first phase: the result is 1-minimal for the departures it tried, not globally minimal.
    """
    best = failed
    runs = 0

    def departures(attempt: Attempt) -> list[tuple[str, int, float]]:
        return [(d.kind, d.point, d.choice if d.kind == "order" else d.extra) for d in attempt.decisions]

    def attempt_without(kept: list[tuple[str, int, float]]) -> Attempt:
        order = {point: int(value) for kind, point, value in kept if kind == "order"}
        delays = {point: float(value) for kind, point, value in kept if kind == "delay"}
        return run_once(make_case, Schedule.script(order, delays))

    current = departures(best)
    chunk = max(1, len(current) // 2)
    while current and runs < budget:
        progressed = False
        start = 0
        while start < len(current) and runs < budget:
            kept = current[:start] + current[start + chunk:]
            attempt = attempt_without(kept)
            runs += 1
            if attempt.failure is not None and len(attempt.decisions) < len(current):
                best = attempt
                current = departures(attempt)
                progressed = True
            else:
                start += chunk
        if not progressed:
            if chunk == 1:
                break
            chunk = max(1, chunk // 2)
    if best.schedule.strategy != "script":  # nothing could be dropped: the seeded run's own departures
        order = {d.point: d.choice for d in best.decisions if d.kind == "order"}
        delays = {d.point: d.extra for d in best.decisions if d.kind == "delay"}
        best = Attempt(Schedule.script(order, delays), best.decisions, best.points, best.failure, best.error,
                       best.is_error, trace=best.trace)
    return best, runs


def with_timeline(make_case: Callable[[], unittest.TestCase], failed: Attempt) -> Attempt:
    """*failed* with its task timeline: itself if its loop recorded one, else a replay of its schedule that
    records it.  The replay is a run like the others: under the same schedule it takes the same decisions and
    fails the same way, unless something outside the loop's control (threads, real I/O) took part."""
    if failed.trace is not None:
        return failed
    return run_once(make_case, failed.schedule, record=True)
