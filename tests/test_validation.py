"""The misuse rule, checked against the "Valid values" table of docs/api.md.

The table is the contract: each row names a public parameter, the values it rejects with the error type, and
values it accepts.  This module parses the table and, for every row, applies each value the way a user would
(a class attribute on a new subclass, a constructor argument, a setter, a method call, an environment
variable) and checks the outcome.  A row without an applier here, or an applier without a row, fails.
"""

from __future__ import annotations

import asyncio
import builtins
import gc
import math
import os
import re
import subprocess
import sys
import unittest
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asynctestkit
from asynctestkit import (
    AsyncTestCase,
    EventRecorder,
    LeakTracker,
    VirtualClockLoop,
    allow_leaks,
    real_time,
    register_resource_type,
    track_resource,
    unregister_resource_type,
)

ROOT = Path(__file__).resolve().parent.parent
API_DOC = ROOT / "docs" / "api.md"
_ENTRY = re.compile(r"`(?P<expr>[^`]+)`(?::\s*(?P<error>TypeError|ValueError))?(?P<newer>\s*\(3\.11\+\))?")


class Row:
    def __init__(self, name: str, rejected: list[tuple[str, type[Exception]]], accepted: list[str]) -> None:
        self.name = name
        self.rejected = rejected
        self.accepted = accepted


def _applies(entry: re.Match[str]) -> bool:
    """False for a value marked "(3.11+)" (exception groups) on Python 3.10."""
    return entry["newer"] is None or sys.version_info >= (3, 11)


def parse_table(text: str) -> list[Row]:
    """The rows of the "Valid values" table: parameter, rejected values with their error, accepted values."""
    section = text.split("## Valid values", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        name = cells[0].strip("`")
        rejected = [(m["expr"], {"TypeError": TypeError, "ValueError": ValueError}[m["error"]])
                    for m in _ENTRY.finditer(cells[2]) if _applies(m)]
        accepted = [m["expr"] for m in _ENTRY.finditer(cells[3]) if _applies(m)]
        rows.append(Row(name, rejected, accepted))
    return rows


# -- appliers: how each parameter is given, and what its error message must name ---------------------------------

Applier = Callable[[Any], object]


def _class_attribute(attribute: str) -> tuple[Applier, str]:
    def apply(value: Any) -> None:
        type("Probe", (AsyncTestCase,), {attribute: value})
    return apply, f"Probe.{attribute}"


def _loop_argument(argument: str) -> tuple[Applier, str]:
    def apply(value: Any) -> None:
        VirtualClockLoop(**{argument: value}).close()
    return apply, argument


def _on_a_clock(action: Callable[[VirtualClockLoop, Any], Any]) -> Applier:
    def apply(value: Any) -> None:
        loop = VirtualClockLoop()
        try:
            result = action(loop, value)
            if asyncio.iscoroutine(result):
                loop.run_until_complete(result)
        finally:
            loop.close()
    return apply


def _setter(attribute: str) -> tuple[Applier, str]:
    return _on_a_clock(lambda loop, value: setattr(loop.clock, attribute, value)), attribute


def _tracker(keyword: str) -> tuple[Applier, str]:
    def apply(value: Any) -> None:
        loop = asyncio.new_event_loop()
        try:
            if keyword == "loop":
                LeakTracker(value)
            else:
                LeakTracker(loop, **{keyword: value})
        finally:
            loop.close()
    return apply, f"'{keyword}'" if keyword in ("loop", "name") else f"LeakTracker({keyword}=...)"


def _resource_argument(argument: str) -> tuple[Applier, str]:
    def apply(value: Any) -> None:
        track_resource(object(), **{argument: value})
    return apply, f"track_resource() argument '{argument}'"


def _wait_for(value: Any) -> None:
    recorder = EventRecorder()

    async def main() -> None:
        recorder.record("x")
        await recorder.wait_for("x", count=value)

    with asyncio.Runner(loop_factory=VirtualClockLoop) if sys.version_info >= (3, 11) else _Runner310() as r:
        r.run(main())


class _Runner310:
    def __enter__(self) -> _Runner310:
        self.loop = VirtualClockLoop()
        return self

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def __exit__(self, *exc: object) -> None:
        self.loop.close()


def _register(value: Any) -> None:
    try:
        register_resource_type(value, is_open=bool)
    finally:
        if isinstance(value, (str, type)):
            unregister_resource_type(value)


def _register_is_open(value: Any) -> None:
    try:
        register_resource_type("db.pool.Pool", is_open=value)
    finally:
        unregister_resource_type("db.pool.Pool")


def _environment(value: Any) -> None:
    """The variable is read when asynctestkit is imported: import it in a fresh interpreter."""
    env = dict(os.environ, ASYNCTESTKIT_LEAK_CHECKS=value, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", "import asynctestkit"], env=env, capture_output=True, text=True,
                          timeout=60)
    if done.returncode:
        last = done.stderr.strip().splitlines()[-1]
        kind, _, message = last.partition(": ")
        raise {"ValueError": ValueError, "TypeError": TypeError}.get(kind, RuntimeError)(message)


# -- the assertion methods: each value is given to a method of a fresh test case, in a task on a virtual clock --

class _Probe(asynctestkit.AsyncAssertionsMixin, unittest.TestCase):
    """A test case that only lends its assertion methods (they need a case, a running loop and a task)."""

    def runTest(self) -> None:  # pragma: no cover - never run
        pass


async def _no_suspension() -> None:
    """A coroutine that completes without suspending (0 loop iterations)."""


async def _raise_value_error() -> None:
    raise ValueError("boom")


def _assertion(call: Callable[[_Probe, Any], Any]) -> Applier:
    """Apply a value through ``call(case, value)`` in a task on the table's virtual clock loop; await (or
    enter) what the assertion returns.

    Only the misuse errors matter here: the assertion itself may then pass or fail (its failure is the
    assertion's verdict on an accepted value, not a misuse), and on 3.10 a 3.11+ assertion skips after its
    arguments were checked.
    """
    def apply(value: Any) -> None:
        case = _Probe()

        async def main() -> None:
            try:
                made = call(case, value)
                if isinstance(made, asynctestkit.Block) and made._aw is None:
                    async with made:
                        await asyncio.sleep(0)
                elif made is not None and hasattr(made, "__await__"):
                    await made
            except (case.failureException, unittest.SkipTest):
                pass

        # The table's loop, which the futures of ``finished()`` and ``cancelled()`` belong to.
        try:
            _CURRENT_LOOP[0].run_until_complete(main())
        finally:
            case.doCleanups()
    return apply


def _seconds_rows(method: str, make_aw: Callable[[Any], Any]) -> dict[str, tuple[Applier, str]]:
    return {f"{method}(seconds)": (_assertion(lambda c, v: getattr(c, method)(v, make_aw(v))),
                                   f"{method}() argument 'seconds'")}


def _aw_row(method: str, call: Callable[[_Probe, Any], Any]) -> dict[str, tuple[Applier, str]]:
    return {f"{method}(aw)": (_assertion(call), f"{method}() argument 'aw'")}


def _named(method: str, argument: str, call: Callable[[_Probe, Any], Any],
           label: str | None = None) -> dict[str, tuple[Applier, str]]:
    # No closing quote: an item is named too ("argument 'aws[0]'", "argument 'states[1]'").
    return {f"{method}({label or argument + '='})": (_assertion(call), f"{method}() argument '{argument}")}


_TAKES = ("assertTakes", "assertTakesAtLeast", "assertTakesAtMost")
_AFTER = ("assertCancellationPropagates", "assertCleanupOnCancel", "assertShielded")


def _takes_with_tolerance(method: str) -> Callable[[_Probe, Any], Any]:
    return lambda case, value: getattr(case, method)(1, asyncio.sleep(1), tolerance=value)


def _takes_one_second(method: str) -> Callable[[_Probe, Any], Any]:
    return lambda case, value: getattr(case, method)(1, value)


def _cancelled_after(method: str) -> Callable[[_Probe, Any], Any]:
    check: list[Any] = [] if method == "assertCancellationPropagates" else [lambda: False]
    return lambda case, value: getattr(case, method)(asyncio.sleep(10), *check, after=value)


def _group_match_option(option: str) -> Applier:
    return lambda value: asynctestkit.GroupMatch(ValueError, **{option: value})

ASSERTION_APPLIERS: dict[str, tuple[Applier, str]] = {
    # timing
    **_seconds_rows("assertCompletesWithin", lambda v: asyncio.sleep(0)),
    **_seconds_rows("assertDoesNotCompleteWithin", lambda v: asyncio.Event().wait()),
    **{k: v for m in _TAKES for k, v in _seconds_rows(m, lambda v: asyncio.sleep(v)).items()},
    **{k: v for m in _TAKES for k, v in _named(m, "tolerance", _takes_with_tolerance(m)).items()},
    **_aw_row("assertCompletesWithin", lambda c, v: c.assertCompletesWithin(1, v)),
    **_aw_row("assertDoesNotCompleteWithin", lambda c, v: c.assertDoesNotCompleteWithin(1, v)),
    **{k: v for m in _TAKES for k, v in _aw_row(m, _takes_one_second(m)).items()},
    **_aw_row("assertTimeoutPropagates", lambda c, v: c.assertTimeoutPropagates(v)),
    # cancellation
    **_named("assertTaskCancelled", "task", lambda c, v: c.assertTaskCancelled(v), label="task"),
    **_named("assertTaskCancelled", "within", lambda c, v: c.assertTaskCancelled(_cancelled(), within=v)),
    **_aw_row("assertCancellationPropagates", lambda c, v: c.assertCancellationPropagates(v)),
    **_aw_row("assertCleanupOnCancel", lambda c, v: c.assertCleanupOnCancel(v, lambda: False)),
    **_aw_row("assertShielded", lambda c, v: c.assertShielded(v, lambda: True)),
    **{k: v for m in _AFTER for k, v in _named(m, "after", _cancelled_after(m)).items()},
    **_named("assertCleanupOnCancel", "cleaned_up",
             lambda c, v: c.assertCleanupOnCancel(asyncio.sleep(10), v), label="cleaned_up"),
    **_named("assertShielded", "shielded", lambda c, v: c.assertShielded(asyncio.sleep(10), v), label="shielded"),
    **_named("assertShielded", "within", lambda c, v: c.assertShielded(asyncio.sleep(10), lambda: False,
                                                                        within=v)),
    **_aw_row("assertCancellingBalanced", lambda c, v: c.assertCancellingBalanced(v)),
    # gather and TaskGroup
    **_named("assertGatherRaises", "expected_exception",
             lambda c, v: c.assertGatherRaises(v, [_raise_value_error()]), label="expected_exception"),
    **_named("assertGatherRaises", "aws", lambda c, v: c.assertGatherRaises(ValueError, v), label="aws"),
    **_named("assertGatherRaises", "states",
             lambda c, v: c.assertGatherRaises(ValueError, [_raise_value_error()], states=v)),
    **_named("assertGatherResults", "aws", lambda c, v: c.assertGatherResults(v, [None]), label="aws"),
    **_named("assertGatherResults", "expected", lambda c, v: c.assertGatherResults([_no_suspension()], v),
             label="expected"),
    **_named("assertGatherCancelsChildren", "aws", lambda c, v: c.assertGatherCancelsChildren(v), label="aws"),
    **_named("assertGatherCancelsChildren", "after",
             lambda c, v: c.assertGatherCancelsChildren([asyncio.sleep(10)], after=v)),
    **_named("assertTaskGroupRaises", "expected",
             lambda c, v: c.assertTaskGroupRaises(v, [_raise_value_error()]), label="expected"),
    **_named("assertTaskGroupRaises", "aws", lambda c, v: c.assertTaskGroupRaises(ValueError, v), label="aws"),
    **_named("assertTaskGroupRaises", "states",
             lambda c, v: c.assertTaskGroupRaises(ValueError, [_raise_value_error()], states=v)),
    **_named("assertRaisesGroup", "expected", lambda c, v: c.assertRaisesGroup(v), label="expected"),
    **_aw_row("assertRaisesGroup", lambda c, v: c.assertRaisesGroup(ValueError, v)),
    **_named("assertExceptionGroupMatches", "exception",
             lambda c, v: c.assertExceptionGroupMatches(v, ValueError), label="exception"),
    **_named("assertExceptionGroupMatches", "expected",
             lambda c, v: c.assertExceptionGroupMatches(ValueError("x"), v), label="expected"),
    # ordering and progress
    **_named("assertEventOrder", "recorder", lambda c, v: c.assertEventOrder(v, []), label="recorder"),
    **_named("assertEventOrder", "expected", lambda c, v: c.assertEventOrder([], v), label="expected"),
    **_named("assertEventOrder", "exact", lambda c, v: c.assertEventOrder([], [], exact=v)),
    **_named("assertCompletesWithinIterations", "iterations",
             lambda c, v: c.assertCompletesWithinIterations(v, _no_suspension()), label="iterations"),
    **_aw_row("assertCompletesWithinIterations", lambda c, v: c.assertCompletesWithinIterations(5, v)),
    **_aw_row("assertCompletesWithoutIdle", lambda c, v: c.assertCompletesWithoutIdle(v)),
    **_named("waitUntilOthersBlocked", "max_iterations", lambda c, v: c.waitUntilOthersBlocked(max_iterations=v)),
}


def _cancelled() -> asyncio.Future[Any]:
    """A future of the table's loop that is already cancelled (``cancelled()`` in the table)."""
    fut: asyncio.Future[Any] = _CURRENT_LOOP[0].create_future()
    fut.cancel()
    return fut


def _finished() -> asyncio.Future[Any]:
    """A future of the table's loop that already has its result (``finished()`` in the table)."""
    fut: asyncio.Future[Any] = _CURRENT_LOOP[0].create_future()
    fut.set_result(None)
    return fut


def _mixin_class_attribute(value: Any) -> None:
    type("Probe", (asynctestkit.AsyncAssertionsMixin, unittest.IsolatedAsyncioTestCase), {"cancel_grace": value})


def _matcher(factory: Callable[[Any], Any], argument: str, owner: str) -> tuple[Applier, str]:
    return factory, f"{owner}() argument {argument!r}"


async def _memory_pair(**kwargs: Any) -> None:
    asynctestkit.memory_stream_pair(**kwargs).close()


async def _memory_connect(port: Any) -> None:
    try:
        await asynctestkit.MemoryNetwork().open_connection("db", port)
    except ConnectionRefusedError:  # an accepted port, with nobody listening on it
        pass
def _background_start(coro: Any, name: Any) -> None:
    async def main() -> None:
        group = asynctestkit.BackgroundTasks()
        try:
            group.start(coro, name=name)
        finally:
            await group.aclose()

    asyncio.run(main())


APPLIERS: dict[str, tuple[Applier, str]] = {
    **{f"AsyncTestCase.{a}": _class_attribute(a) for a in (
        "virtual_clock", "clock_start", "clock_auto_advance", "clock_horizon", "clock_watchdog",
        "clock_deadlock_grace", "asyncio_debug", "coroutine_origins", "cancel_grace", "virtual_time_functions",
        "clock_io_quantum", "leak_checks", "trace_mode", "trace_size", "trace_on_failure", "trace_export",
        "trace_export_all")},
    **{f"VirtualClockLoop({a}=)": _loop_argument(a) for a in (
        "start", "auto_advance", "horizon", "watchdog", "deadlock_grace", "virtual_time_functions",
        "io_quantum", "coroutine_origins")},
    **{f"clock.{a}": _setter(a) for a in (
        "horizon", "watchdog", "deadlock_grace", "auto_advance", "slow_callback_check", "io_quantum")},
    "clock.advance(seconds)": (_on_a_clock(lambda loop, v: loop.clock.advance(v)), "advance() duration"),
    "clock.advance_to(when)": (_on_a_clock(lambda loop, v: loop.clock.advance_to(v)), "advance_to("),
    "clock.track(obj)": (_on_a_clock(lambda loop, v: loop.clock.track(v)), "clock.track()"),
    "clock.track(what=)": (_on_a_clock(lambda loop, v: loop.clock.track(loop.create_future(), v)), "'what'"),
    "clock.background(obj)": (_on_a_clock(lambda loop, v: loop.clock.background(v)), "clock.background()"),
    "real_time(test)": (real_time, "@real_time"),
    "allow_leaks(reason=)": (lambda v: allow_leaks(tasks=True, reason=v), "reason="),
    "allow_leaks(<kind>=)": (lambda v: allow_leaks(**{v: True}, reason="r"), "unknown leak kind"),
    "allow_leaks(tasks=)": (lambda v: allow_leaks(tasks=v, reason="r"), "tasks"),
    "LeakTracker(loop)": _tracker("loop"),
    "LeakTracker(name=)": _tracker("name"),
    "LeakTracker(policy=)": _tracker("policy"),
    "LeakTracker(allow=)": _tracker("allow"),
    **{f"track_resource({a}=)": _resource_argument(a) for a in ("is_open", "close", "describe")},
    "register_resource_type(cls_or_qualified_name)": (_register, "register_resource_type("),
    "register_resource_type(is_open=)": (_register_is_open, "is_open="),
    "unregister_resource_type(cls_or_qualified_name)": (unregister_resource_type, "unregister_resource_type()"),
    "EventRecorder.wait_for(count=)": (_wait_for, "'count'"),
    "ASYNCTESTKIT_LEAK_CHECKS": (_environment, "ASYNCTESTKIT_LEAK_CHECKS"),
    "ExceptionMatch(match=)": (lambda v: asynctestkit.ExceptionMatch(ValueError, v), "match"),
    "GroupMatch(match=)": (lambda v: asynctestkit.GroupMatch(ValueError, match=v), "match"),
    "ExceptionMatch(exc_type)": _matcher(lambda v: asynctestkit.ExceptionMatch(v), "exc_type", "ExceptionMatch"),
    "ExceptionMatch(check=)": _matcher(lambda v: asynctestkit.ExceptionMatch(ValueError, check=v), "check",
                                       "ExceptionMatch"),
    "ExceptionMatch.matches(exc)": (lambda v: asynctestkit.ExceptionMatch(ValueError).matches(v),
                                    "ExceptionMatch.matches() argument 'exc'"),
    "GroupMatch(*exceptions)": (lambda v: asynctestkit.GroupMatch(v), "GroupMatch() item 0"),
    **{f"GroupMatch({a}=)": _matcher(_group_match_option(a), a, "GroupMatch")
       for a in ("exact", "group_type", "check", "flatten_subgroups", "allow_unwrapped")},
    "GroupMatch.matches(exc)": (lambda v: asynctestkit.GroupMatch(ValueError).matches(v),
                                "GroupMatch.matches() argument 'exc'"),
    "AsyncAssertionsMixin.cancel_grace": (_mixin_class_attribute, "Probe.cancel_grace"),
    "SlowCall(latency=)": (lambda v: asynctestkit.SlowCall(latency=v), "SlowCall(latency="),
    "SlowCall(seed=)": (lambda v: asynctestkit.SlowCall(seed=v), "SlowCall(seed="),
    "SlowCall.assert_peak_concurrency(at_most=)": (lambda v: asynctestkit.SlowCall().assert_peak_concurrency(v),
                                                   "assert_peak_concurrency(at_most="),
    "Sequencer()(step)": (lambda v: asynctestkit.Sequencer()(v), "Sequencer step"),
    **{f"memory_stream_pair({a}=)": (_on_a_clock(lambda loop, v, a=a: _memory_pair(**{a: v})),
                                     f"memory_stream_pair({a}=...)")
       for a in ("capacity", "latency", "bandwidth", "limit", "client_address")},
    "MemoryNetwork.open_connection(port)": (_on_a_clock(lambda loop, v: _memory_connect(v)),
                                            "MemoryNetwork.open_connection(): port must be"),
    "MemoryNetwork.configure(fault=)": (lambda v: asynctestkit.MemoryNetwork().configure("h", 1, fault=v),
                                        "MemoryNetwork.configure(fault=...)"),
    "clock.background_window": _setter("background_window"),
    "BackgroundTasks.start(coro)": (lambda v: _background_start(v, None), "argument 'coro'"),
    "BackgroundTasks.start(name=)": (lambda v: _background_start(asyncio.sleep(0), v), "argument 'name'"),
    **{f"explore({a}=)": (lambda v, a=a: asynctestkit.explore(**{a: v}), f"explore(): {a}")
       for a in ("schedules", "strategy", "depth", "jitter", "seed")},
    "AsyncTestCase.explore_schedules": _class_attribute("explore_schedules"),
    "replay_schedule(seed=)": (lambda v: asynctestkit.replay_schedule(seed=v), "replay_schedule(): seed"),
    **ASSERTION_APPLIERS,
}



def _evaluate(expr: str) -> Any:
    loop = _CURRENT_LOOP[0]
    return eval(expr, {"nan": math.nan, "inf": math.inf, "loop": loop, "object": object, "repr": repr,
                       "bool": bool, "asyncio": asyncio, "finished": _finished, "cancelled": _cancelled,
                       "EventRecorder": EventRecorder, "ExceptionMatch": asynctestkit.ExceptionMatch,
                       "GroupMatch": asynctestkit.GroupMatch,
                       "ExceptionGroup": getattr(builtins, "ExceptionGroup", None)})


_CURRENT_LOOP: list[Any] = [None]


class ValidationTableTests(unittest.TestCase):
    def setUp(self) -> None:
        self.rows = parse_table(API_DOC.read_text(encoding="utf-8"))
        loop = VirtualClockLoop()
        self.addCleanup(loop.close)
        _CURRENT_LOOP[0] = loop

    def test_the_table_and_the_appliers_cover_the_same_parameters(self) -> None:
        names = [row.name for row in self.rows]
        self.assertEqual(len(names), len(set(names)), "a parameter is listed twice")
        self.assertEqual(sorted(set(names) - set(APPLIERS)), [], "rows this test cannot apply")
        self.assertEqual(sorted(set(APPLIERS) - set(names)), [], "appliers without a row in docs/api.md")
        for row in self.rows:
            self.assertTrue(row.rejected and row.accepted, f"{row.name}: needs rejected and accepted values")

    def test_every_rejected_value_raises_the_documented_error_naming_the_parameter(self) -> None:
        for row in self.rows:
            apply, names = APPLIERS[row.name]
            for expr, error in row.rejected:
                with self.subTest(parameter=row.name, value=expr):
                    value = _evaluate(expr)
                    try:
                        apply(value)
                    except (TypeError, ValueError) as raised:
                        self.assertIs(type(raised), error, f"{row.name} = {expr}: {raised!r}")
                        self.assertIn(names, str(raised))
                        if isinstance(value, (int, float, str)) and row.name != "allow_leaks(<kind>=)" \
                                and "too large" not in str(raised):
                            self.assertIn(repr(value) if not isinstance(value, float) or math.isfinite(value)
                                          else str(value), str(raised), "the message shows what was given")
                    else:
                        self.fail(f"{row.name} = {expr} was accepted; the table says {error.__name__}")

    def test_every_accepted_value_is_accepted(self) -> None:
        for row in self.rows:
            apply, _ = APPLIERS[row.name]
            for expr in row.accepted:
                with self.subTest(parameter=row.name, value=expr):
                    apply(_evaluate(expr))


class ValidationDetailTests(unittest.TestCase):
    def test_a_loop_rejecting_its_arguments_leaves_no_noise_from_its_finalizer(self) -> None:
        seen: list[str] = []
        previous = sys.unraisablehook
        sys.unraisablehook = lambda info: seen.append(repr(info.exc_value))
        try:
            for options in ({"horizon": -1}, {"coroutine_origins": -1}, {"start": "x"}, {"bogus": 1}):
                with self.subTest(options=options), self.assertRaises((TypeError, ValueError)):
                    VirtualClockLoop(**options)
            gc.collect()
        finally:
            sys.unraisablehook = previous
        self.assertEqual(seen, [])

    def test_the_allow_leaks_hint_is_valid_python(self) -> None:
        with self.assertRaises(ValueError) as caught:
            allow_leaks(tasks=True, reason="")
        hint = re.search(r"e\.g\. (@allow_leaks\(.*\))", str(caught.exception))
        assert hint is not None
        compile(hint.group(1)[1:], "<hint>", "eval")  # the decorator expression without '@'

    def test_advance_and_advance_to_reject_a_string_alike(self) -> None:
        loop = VirtualClockLoop()
        self.addCleanup(loop.close)
        errors = []
        for call in (loop.clock.advance, loop.clock.advance_to):
            with self.assertRaises(TypeError) as caught:
                loop.run_until_complete(call("x"))  # type: ignore[arg-type]
            errors.append(type(caught.exception))
        self.assertEqual(errors, [TypeError, TypeError])

    def test_an_unknown_leak_kind_is_a_value_error_everywhere(self) -> None:
        loop = asyncio.new_event_loop()
        self.addCleanup(loop.close)
        attempts: list[Callable[[], object]] = [
            lambda: allow_leaks(task=True, reason="r"),
            lambda: type("Probe", (AsyncTestCase,), {"leak_checks": {"task": "note"}}),
            lambda: LeakTracker(loop, allow={"task": True}),
            lambda: LeakTracker(loop, policy={"task": "note"}),
        ]
        for attempt in attempts:
            with self.subTest(attempt=attempt), \
                    self.assertRaisesRegex(ValueError, r"unknown leak kind 'task' \(did you mean 'tasks'\?\)"):
                attempt()

    def test_a_tracker_allow_pattern_given_as_a_string_filters_by_name(self) -> None:
        # Given as a string, an allow pattern is compiled at construction, as @allow_leaks does (it used to fail
        # only at check time, with an AttributeError).
        loop = asyncio.new_event_loop()
        self.addCleanup(loop.close)
        tracker = LeakTracker(loop, allow={"tasks": "poller"})
        tracker.attach()
        try:
            async def main() -> None:
                asyncio.get_running_loop().create_task(asyncio.sleep(10), name="poller-1")
                asyncio.get_running_loop().create_task(asyncio.sleep(10), name="worker-1")

            loop.run_until_complete(main())
            report = loop.run_until_complete(tracker.check())
        finally:
            tracker.detach()
        text = str(report)
        self.assertIn("worker-1", text)
        self.assertNotIn("poller-1", text)


if __name__ == "__main__":
    unittest.main()
