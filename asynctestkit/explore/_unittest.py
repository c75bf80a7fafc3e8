"""The unittest glue of exploration: ``@explore``, ``@replay_schedule``, the class attributes, and the report.

A test case class that explores (a decorated method, ``explore_schedules`` on the class, or any class
while ``ASYNCTESTKIT_SCHEDULE`` is set) gets its own ``run()``: for an explored test it runs the search
(``_runner.explore_test``) and reports the outcome as the test's single result; every other test, and
each run of the search, goes through the inherited ``run()`` unchanged.  Classes that do not explore are
never touched, so exploration costs them nothing.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import unittest
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .. import _compat, _validate
from ._runner import Attempt, Exploration, Outcome, ScheduleError, explore_test, run_once
from ._schedule import DEFAULT_DEPTH, ENV_VAR, Schedule, check_jitter, check_strategy, parse_env

__all__ = ["explore", "prepare_class", "replay_schedule"]

# unittest leaves out the frames of modules that set ``__unittest``: a ScheduleError's traceback shows none
# of this module, only the report (which carries the original failure's own traceback).
__unittest = True
__tracebackhide__ = True  # the same for pytest

_F = TypeVar("_F", bound=Callable[..., Any])
EXPLORE_MARK = "__asynctestkit_explore__"
REPLAY_MARK = "__asynctestkit_replay__"
_RUN_MARK = "__asynctestkit_explore_run__"


def _check_count(where: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{where} must be an int >= 1 (how many seeded schedules to run), got "
                        f"{_validate.given(value)}")
    if value <= 0:
        raise ValueError(f"{where} must be an int >= 1 (how many seeded schedules to run), got {value!r}")
    return value


def _check_nonnegative(where: str, value: object, low: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{where} must be an int >= {low}, got {_validate.given(value)}")
    if value < low:
        raise ValueError(f"{where} must be an int >= {low}, got {value!r}")
    return value


def exploration(where: str, schedules: object, strategy: object, depth: object, jitter: object, seed: object,
                shrink: object) -> Exploration:
    """An :class:`Exploration` from user arguments, each checked (*where* prefixes the parameter names)."""
    return Exploration(_check_count(f"{where}schedules", schedules), check_strategy(f"{where}strategy", strategy),
                       _check_nonnegative(f"{where}depth", depth, 1), check_jitter(f"{where}jitter", jitter),
                       _check_nonnegative(f"{where}seed", seed), bool(_validate.boolean(f"{where}shrink", shrink)))


class _MarkedTest:
    """A decorated test method while its class is being created: checks the class, then steps aside."""

    def __init__(self, func: Callable[..., Any], decorator: str) -> None:
        self.func = func
        self.decorator = decorator
        functools.update_wrapper(self, func)

    def __set_name__(self, owner: type, name: str) -> None:
        from ..case import AsyncTestCase  # at class creation, never at import

        if not issubclass(owner, AsyncTestCase):
            raise TypeError(f"{self.decorator} on {owner.__qualname__}.{name}: exploration runs the test on "
                            f"asynctestkit's loop, so the class must subclass asynctestkit.AsyncTestCase "
                            f"(it subclasses {', '.join(b.__qualname__ for b in owner.__bases__)})")
        prepare_class(owner)
        setattr(owner, name, self.func)

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        return self.func.__get__(instance, owner)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)


def _mark(func: object, mark: str, value: object, decorator: str) -> Any:
    if not callable(func):
        raise TypeError(f"{decorator} decorates an async test method, got {_validate.given(func)}")
    if not inspect.iscoroutinefunction(inspect.unwrap(func)):
        name = getattr(func, "__qualname__", repr(func))
        raise TypeError(f"{decorator} decorates an async test method (async def test_...); {name} is a plain "
                        f"function: it runs no task on the loop, so there is no schedule to explore")
    setattr(func, mark, value)
    return _MarkedTest(func, decorator)


def explore(schedules: Any = 200, *, strategy: str = "random", depth: int = DEFAULT_DEPTH, jitter: float = 0.0,
            seed: int = 0, shrink: bool = True) -> Any:
    """Run this async test under the FIFO schedule, then under *schedules* seeded schedules, failing at the first
    schedule under which it fails.

    Each run is a complete, fresh run of the test (setUp, a new loop, the test, tearDown, cleanups, the leak
    check).  *strategy* is ``"random"`` (a random candidate at every decision point) or ``"pct"`` (random
    task priorities with ``depth - 1`` priority-change points); run *n* uses seed ``seed + n``.  *jitter* > 0
    also makes every timer fire up to ``jitter`` times its delay late.  The failure names the seed and the
    run, prints the line that replays it and, after shrinking towards FIFO (unless ``shrink=False``), the
    simplest failing schedule and where it departed from FIFO, then the original failure.  Used bare
    (``@explore``) it runs 200 random schedules::

        class TestBank(asynctestkit.AsyncTestCase):
            @asynctestkit.explore(schedules=500, strategy="pct")
            async def test_concurrent_deposits_are_not_lost(self): ...
    """
    if callable(schedules) and not isinstance(schedules, type):  # bare @explore
        return _mark(schedules, EXPLORE_MARK, exploration("explore(): ", 200, "random", DEFAULT_DEPTH, 0.0, 0, True),
                     "@explore")
    spec = exploration("explore(): ", schedules, strategy, depth, jitter, seed, shrink)
    return functools.partial(_mark, mark=EXPLORE_MARK, value=spec, decorator="@explore")


def replay_schedule(seed: int | None = None, *, strategy: str = "random", depth: int = DEFAULT_DEPTH,
                    steps: int = 0, jitter: float = 0.0, departures: Mapping[int, int] | None = None,
                    delays: Mapping[int, float] | None = None) -> Callable[[_F], _F]:
    """Run this async test once, under the schedule an exploration printed (a seed, or a script of departures).

    Paste the line from the failure report: ``@asynctestkit.replay_schedule(seed=17, strategy="pct",
    depth=3, steps=40)`` replays a seeded schedule, ``@asynctestkit.replay_schedule(departures={3: 1})`` the
    simplest failing one (at decision point 3, candidate 1 instead of the FIFO candidate 0).  If the test
    fails, the failure also lists where the schedule departed from FIFO.
    """
    if (seed is None) == (departures is None):
        raise TypeError(f"replay_schedule() takes either seed=... (a seeded schedule) or departures={{...}} (a "
                        f"script), as the failure report prints it; got "
                        f"{'both' if seed is not None else 'neither'}")
    try:
        if departures is not None:
            if not isinstance(departures, Mapping):
                raise TypeError(f"replay_schedule(): departures must be a dict {{decision point: candidate}}, "
                                f"got {_validate.given(departures)}")
            schedule = Schedule.script(departures, delays)
        else:
            schedule = Schedule.seeded(strategy, seed, depth=depth, steps=steps, jitter=jitter)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        if str(error).startswith("replay_schedule()"):
            raise
        raise type(error)(f"replay_schedule(): {error}") from None
    return functools.partial(_mark, mark=REPLAY_MARK, value=schedule,
                             decorator="@replay_schedule")


def _class_exploration(cls: type) -> Exploration | None:
    schedules = getattr(cls, "explore_schedules", None)
    if schedules is None:
        return None
    where = f"{cls.__qualname__}.explore_"
    return exploration(where, schedules, getattr(cls, "explore_strategy", "random"),
                       getattr(cls, "explore_depth", DEFAULT_DEPTH), getattr(cls, "explore_jitter", 0.0),
                       getattr(cls, "explore_seed", 0), getattr(cls, "explore_shrink", True))


def prepare_class(cls: type) -> None:
    """Give *cls* (an AsyncTestCase subclass) the ``run()`` that explores; check its ``explore_*`` attributes."""
    _class_exploration(cls)  # raises for a bad class attribute, naming the class
    if _RUN_MARK in cls.__dict__:
        return

    def run(self: unittest.TestCase, result: unittest.TestResult | None = None) -> Any:
        if getattr(self, "_atk_schedule", None) is not None:  # one run of a search: the test itself
            return super(cls, self).run(result)  # type: ignore[arg-type]
        plan = _plan_for(self)
        if plan is None:
            return super(cls, self).run(result)  # type: ignore[arg-type]
        return _run_planned(self, result, plan)

    run.__qualname__ = f"{cls.__qualname__}.run"
    run.__doc__ = "Run the test; an explored one under many schedules (asynctestkit.explore)."
    cls.run = run  # type: ignore[attr-defined]
    setattr(cls, _RUN_MARK, True)


def _env_plan() -> tuple[str, Schedule] | None:
    value = os.environ.get(ENV_VAR)
    return parse_env(value) if value else None


def _plan_for(case: unittest.TestCase) -> Exploration | Schedule | None:
    env = _env_plan()
    if env is not None and env[0] == case.id():
        return env[1]
    func = getattr(type(case), _compat.test_method_name(case), None)
    replay: Schedule | None = getattr(func, REPLAY_MARK, None)
    if replay is not None:
        return replay
    spec: Exploration | None = getattr(func, EXPLORE_MARK, None)
    return spec if spec is not None else _class_exploration(type(case))


def _run_planned(case: unittest.TestCase, result: unittest.TestResult | None,
                 plan: Exploration | Schedule) -> unittest.TestResult:
    if result is None:
        result = case.defaultTestResult()
        result.startTestRun()
        try:
            return _run_planned(case, result, plan)
        finally:
            result.stopTestRun()
    name = _compat.test_method_name(case)
    make: Callable[[], unittest.TestCase] = functools.partial(type(case), name)
    result.startTest(case)
    try:
        if isinstance(plan, Schedule):
            attempt = run_once(make, plan)
            _report_replay(case, result, attempt)
        else:
            outcome = explore_test(make, plan, should_stop=lambda: bool(getattr(result, "shouldStop", False)))
            _report_exploration(case, result, plan, outcome)
    finally:
        result.stopTest(case)
    return result


# -- reports ------------------------------------------------------------------------------------------------

def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _departure_lines(attempt: Attempt, limit: int = 12) -> list[str]:
    lines = [decision.describe() for decision in attempt.decisions[:limit]]
    if len(attempt.decisions) > limit:
        lines.append(f"... and {len(attempt.decisions) - limit} more")
    return lines or ["(none: this schedule ran in FIFO order)"]


def _fail(case: unittest.TestCase, result: unittest.TestResult, text: str, is_error: bool) -> None:
    try:
        raise ScheduleError(text)
    except ScheduleError:
        err = sys.exc_info()
    (result.addError if is_error else result.addFailure)(case, err)


def _forward(case: unittest.TestCase, result: unittest.TestResult, attempt: Attempt) -> None:
    """A run's own outcome as the outer test's: skip, failure or error, unchanged."""
    if attempt.skipped is not None:
        result.addSkip(case, attempt.skipped)
    elif attempt.error is not None:
        (result.addError if attempt.is_error else result.addFailure)(case, attempt.error)
    elif attempt.failure is not None:
        _fail(case, result, attempt.failure, False)
    else:
        result.addSuccess(case)


def _report_replay(case: unittest.TestCase, result: unittest.TestResult, attempt: Attempt) -> None:
    if attempt.failure is None or attempt.skipped is not None:
        _forward(case, result, attempt)
        return
    lines = [f"{_compat.test_method_name(case)} failed under the replayed schedule ({attempt.schedule.describe()})",
             f"  where it departed from FIFO ({plural(len(attempt.decisions), 'departure')}):"]
    lines += [f"    {line}" for line in _departure_lines(attempt)]
    lines += ["  the failure:", _indent(attempt.failure)]
    _fail(case, result, "\n".join(lines), attempt.is_error)


def format_outcome(test_id: str, name: str, spec: Exploration, outcome: Outcome) -> str:
    """The report of an exploration that found a failing schedule (``outcome.first`` is set)."""
    first = outcome.first
    assert first is not None
    schedule = first.schedule
    lines = [f"{name} failed under schedule {outcome.first_run} of {spec.schedules} ({schedule.describe()}); it "
             f"passes under the default FIFO schedule",
             f"  replay it: {schedule.replay_line()} on the test",
             f"         or: {ENV_VAR}={schedule.env_value(test_id)}"]
    simplest = outcome.simplest
    if simplest is not None:
        lines.append(f"  simplest failing schedule ({plural(len(simplest.decisions), 'departure')} from FIFO, shrunk "
                     f"from {len(first.decisions)} in {plural(outcome.shrink_runs, 'run')}): "
                     f"{simplest.schedule.replay_line()}")
        shown = simplest
    else:
        lines.append(f"  where it departed from FIFO ({plural(len(first.decisions), 'departure')}):")
        shown = first
    traced = outcome.traced
    if traced is not None and traced.failure is not None and traced.trace is not None:
        shown = traced  # the same schedule's run that recorded the timeline: its task names are the timeline's
    lines += [f"    {line}" for line in _departure_lines(shown)]
    if shown is traced:
        lines += _timeline_lines(traced)
    elif traced is not None and traced.failure is None:
        lines.append("  (no timeline: replayed once more to record it, this schedule passed: something outside "
                     "the loop's control, such as a thread or real I/O, takes part in the outcome)")
    lines += ["  original failure:", _indent(first.failure or "")]
    return "\n".join(lines)


def _timeline_lines(attempt: Attempt) -> list[str]:
    """The task timeline of a failing run, about the tasks its departures from FIFO involve (the last events of
    every task if they involve none, e.g. only timers fired late), as asynctestkit's reports end with it."""
    trace = attempt.trace
    assert trace is not None
    names = {name for decision in attempt.decisions for name in decision.tasks}
    tasks = [task for task in trace.tasks() if task.name in names]
    text = trace.timeline(tasks=tasks)
    return [_indent(text, "  ")] if text else []


def _report_exploration(case: unittest.TestCase, result: unittest.TestResult, spec: Exploration,
                        outcome: Outcome) -> None:
    baseline = outcome.baseline
    assert baseline is not None
    if baseline.failure is not None or baseline.skipped is not None:  # fails (or skips) without exploring
        _forward(case, result, baseline)
        return
    first = outcome.first
    if first is None:
        result.addSuccess(case)
        return
    text = format_outcome(case.id(), _compat.test_method_name(case), spec, outcome)
    _fail(case, result, text, first.is_error)
