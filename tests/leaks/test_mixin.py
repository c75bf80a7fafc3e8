"""LeakCheckMixin and the engine around test_detection's checks: outcomes, opt-outs, misuse, hygiene, bare use.

- a test whose outcome is already decided (failed, errored, skipped, expected to fail) never gets a second
  error: the leak report becomes a note in its failure or a log line;
- ``leak_checks`` (class) and ``@allow_leaks`` (test or class) turn kinds off or into notes, and misuse fails
  with a message saying what to write instead;
- everything the checker patches (warnings, unraisablehook, Thread.start, the loop's methods and exception
  handler, resource constructors) is restored after each test;
- :class:`LeakTracker` works on a bare loop, and on a loop that refuses instance attributes it degrades.
"""

# Inner test classes are defined and run inside each loop iteration, so closing over loop variables is
# intended (B023); the tasks these tests create without keeping a reference are the leaks under test (RUF006).
# ruff: noqa: B023, RUF006

from __future__ import annotations

import asyncio
import functools
import gc
import os
import sys
import threading
import types
import unittest
import warnings
from typing import Any
from unittest import mock

from asynctestkit import (
    AsyncTestCase,
    LeakError,
    LeakReport,
    LeakTracker,
    VirtualClockLoop,
    _compat,
    allow_leaks,
    register_resource_type,
    track_resource,
    unregister_resource_type,
)
from asynctestkit.clock._creation import HOOKED_METHODS
from asynctestkit.leaks._hooks import HUB
from tests.leaks._leak_support import BASES, PlainLeakCase, marker_line, run_case

HERE = os.path.relpath(__file__, os.path.dirname(os.path.dirname(__file__)))  # this file under tests/


def at(marker: str) -> str:
    return f"{HERE}:{marker_line(__file__, marker)}"


async def sleeper() -> None:
    await asyncio.sleep(3600)


class AlreadyDecidedOutcomeTests(unittest.TestCase):
    """The test's own outcome comes first; the leak report is attached to it, never a second error."""

    def test_error_in_setUp_keeps_the_error_and_notes_the_leak_in_it(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def asyncSetUp(self) -> None:
                        self.task = asyncio.create_task(sleeper())
                        raise RuntimeError("setup broke")

                    async def test_x(self) -> None:
                        pass

                result = run_case(Inner, "test_x").result
                self.assertEqual(len(result.failures), 0)
                (_test, text), = result.errors
                self.assertIn("RuntimeError: setup broke", text)
                self.assertIn("leak check note (the test had already failed): test_x leaked 1 pending task", text)

    def test_failed_subtest_keeps_its_failure_and_the_leak_is_a_note(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_x(self) -> None:
                        asyncio.create_task(sleeper())
                        with self.subTest(case=1):
                            self.assertEqual(1, 2)

                result = run_case(Inner, "test_x").result
                self.assertEqual(len(result.errors), 0)
                (_test, text), = result.failures
                self.assertIn("AssertionError: 1 != 2", text)
                self.assertIn("leak check note (the test had already failed)", text)

    def test_failing_cleanup_keeps_its_error_and_the_leak_is_a_note(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_x(self) -> None:
                        asyncio.create_task(sleeper())
                        self.addCleanup(self.broken_cleanup)

                    def broken_cleanup(self) -> None:
                        raise OSError("cleanup broke")

                result = run_case(Inner, "test_x").result
                (_test, text), = result.errors
                self.assertEqual(result.failures, [])
                self.assertIn("OSError: cleanup broke", text)
                self.assertIn("leak check note (the test had already failed)", text)

    def test_skipped_test_stays_skipped_and_its_leak_is_logged(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_x(self) -> None:
                        asyncio.create_task(sleeper())
                        self.skipTest("not today")

                outcome = run_case(Inner, "test_x")
                self.assertEqual(len(outcome.result.skipped), 1)
                self.assertTrue(outcome.result.wasSuccessful())
                (note,) = outcome.messages("asynctestkit")
                self.assertIn("Inner.test_x: leak check note (the test had already failed)", note)

    def test_expected_failure_stays_expected_and_its_leak_is_logged(self) -> None:
        for base in BASES:
            for fails in (True, False):
                with self.subTest(base=base.__name__, fails=fails):
                    class Inner(base):  # type: ignore[valid-type, misc]
                        @unittest.expectedFailure
                        async def test_x(self) -> None:
                            asyncio.create_task(sleeper())
                            if fails:
                                self.fail("known bug")

                    outcome = run_case(Inner, "test_x")
                    result = outcome.result
                    self.assertEqual((len(result.failures), len(result.errors)), (0, 0))
                    self.assertEqual(len(result.expectedFailures), 1 if fails else 0)
                    self.assertEqual(len(result.unexpectedSuccesses), 0 if fails else 1)
                    (note,) = outcome.messages("asynctestkit")
                    self.assertIn("leak check note (the test is an expected failure)", note)

    def test_a_result_without_failure_lists_gets_the_note_as_a_log_line(self) -> None:
        class Minimal:  # what a third-party runner may pass: the methods, no failures/errors lists
            failfast = False
            shouldStop = False

            def __init__(self) -> None:
                self.events: list[str] = []

            def __getattr__(self, name: str) -> Any:
                return lambda *args, **kwargs: self.events.append(name)

        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                asyncio.create_task(sleeper())
                self.fail("own failure")

        result = Minimal()
        with self.assertLogs("asynctestkit.leaks", "WARNING") as logs:
            Inner("test_x").run(result)  # type: ignore[arg-type]
        self.assertIn("addFailure", result.events)
        self.assertIn("leak check note (the test had already failed)", logs.output[0])


class OptOutTests(unittest.TestCase):
    def test_leak_checks_off_or_false_installs_nothing(self) -> None:
        for setting in ("off", False):
            with self.subTest(setting=setting):
                seen: dict[str, Any] = {}

                class Inner(AsyncTestCase):
                    leak_checks = setting

                    async def test_x(self) -> None:
                        seen["hooked"] = sys.unraisablehook is not sys.__unraisablehook__ or bool(HUB.active)
                        asyncio.create_task(sleeper())

                outcome = run_case(Inner, "test_x")
                self.assertTrue(outcome.result.wasSuccessful())
                self.assertFalse(seen["hooked"])

    def test_a_kind_set_to_note_passes_and_logs_one_note(self) -> None:
        class Inner(AsyncTestCase):
            leak_checks = {"tasks": "note"}  # noqa: RUF012

            async def test_x(self) -> None:
                asyncio.create_task(sleeper(), name="background")

        outcome = run_case(Inner, "test_x")
        self.assertTrue(outcome.result.wasSuccessful())
        (note,) = outcome.messages("asynctestkit")
        self.assertIn("leak check note: test_x leaked 1 pending task", note)
        self.assertIn("task 'background' (sleeper()) still pending", note)

    def test_a_preset_with_overrides(self) -> None:
        class Inner(AsyncTestCase):
            leak_checks = {"preset": "strict", "timers": "off"}  # noqa: RUF012

            async def test_x(self) -> None:
                asyncio.get_running_loop().call_later(5, print)
                asyncio.get_running_loop().call_soon(int, "not a number")
                await asyncio.sleep(0)

        text = run_case(Inner, "test_x").failure
        self.assertIn("1 error swallowed by the loop", text)  # strict: a failure; timers: off
        self.assertNotIn("timer", text)

    def test_allow_leaks_keeps_the_cpython_hanging_task_pattern_quiet_and_still_cancels_it(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                cancelled = []

                async def coro() -> None:
                    try:
                        await asyncio.sleep(1)
                    except asyncio.CancelledError:
                        cancelled.append(True)
                        raise

                class Inner(base):  # type: ignore[valid-type, misc]
                    @allow_leaks(tasks=True, reason="IsolatedAsyncioTestCase cancels leftovers, by design")
                    async def test_leaking_task(self) -> None:
                        asyncio.create_task(coro())

                outcome = run_case(Inner, "test_leaking_task")
                self.assertTrue(outcome.result.wasSuccessful())
                self.assertEqual(outcome.messages("asynctestkit"), [])
                self.assertEqual(cancelled, [True])

    def test_allow_leaks_with_a_pattern_accepts_only_the_matching_leaks(self) -> None:
        class Inner(AsyncTestCase):
            @allow_leaks(tasks="^poller", reason="the poller lives as long as the loop")
            async def test_x(self) -> None:
                asyncio.create_task(sleeper(), name="poller-1")
                asyncio.create_task(sleeper(), name="other")

        text = run_case(Inner, "test_x").failure
        self.assertIn("1 pending task", text)
        self.assertIn("task 'other'", text)
        self.assertNotIn("poller-1", text)

    def test_allow_leaks_on_a_class_applies_to_every_test_and_threads_covers_daemon_threads(self) -> None:
        release = threading.Event()

        @allow_leaks(threads=True, reason="a library starts its worker lazily")
        class Inner(AsyncTestCase):
            leak_checks = "strict"

            async def test_x(self) -> None:
                threading.Thread(target=release.wait, args=(10,), daemon=True).start()

        try:
            outcome = run_case(Inner, "test_x")
        finally:
            release.set()
        self.assertTrue(outcome.result.wasSuccessful(), outcome.result.failures)

    def test_daemon_thread_is_a_note_by_default(self) -> None:
        release = threading.Event()

        class Inner(AsyncTestCase):
            def test_x(self) -> None:
                threading.Thread(target=release.wait, args=(10,), name="lazy-singleton", daemon=True).start()

        try:
            outcome = run_case(Inner, "test_x")
        finally:
            release.set()
        self.assertTrue(outcome.result.wasSuccessful())
        (note,) = outcome.messages("asynctestkit")
        self.assertIn("daemon thread 'lazy-singleton' still running", note)

    def test_environment_switch_turns_failures_into_notes_or_off(self) -> None:
        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                asyncio.create_task(sleeper())

        with mock.patch.dict(os.environ, {"ASYNCTESTKIT_LEAK_CHECKS": "note"}):
            outcome = run_case(Inner, "test_x")
        self.assertTrue(outcome.result.wasSuccessful())
        self.assertEqual(len(outcome.messages("asynctestkit")), 1)
        with mock.patch.dict(os.environ, {"ASYNCTESTKIT_LEAK_CHECKS": "off"}):
            outcome = run_case(Inner, "test_x")
        self.assertTrue(outcome.result.wasSuccessful())
        self.assertEqual(outcome.messages("asynctestkit"), [])
        with mock.patch.dict(os.environ, {"ASYNCTESTKIT_LEAK_CHECKS": "loud"}):
            (_test, text), = run_case(Inner, "test_x").result.errors
        self.assertIn("ASYNCTESTKIT_LEAK_CHECKS='loud': use 'note'", text)


class MisuseTests(unittest.TestCase):
    def test_allow_leaks_needs_a_reason(self) -> None:
        for reason, error in ((None, TypeError), (3, TypeError), ("", ValueError), ("   ", ValueError)):
            with self.subTest(reason=reason), self.assertRaisesRegex(error, r"needs reason='\.\.\.'"):
                allow_leaks(tasks=True, reason=reason)  # type: ignore[arg-type]

    def test_allow_leaks_needs_a_kind_and_known_kinds_only(self) -> None:
        with self.assertRaisesRegex(TypeError, r"names no leak kind; pass e\.g\. tasks=True"):
            allow_leaks(reason="because")
        with self.assertRaisesRegex(ValueError, r"unknown leak kind 'task' \(did you mean 'tasks'"):
            allow_leaks(task=True, reason="because")

    def test_allow_leaks_values_must_be_true_or_patterns(self) -> None:
        for value, error in ((3, TypeError), ([1], TypeError), (False, ValueError), ([], ValueError)):
            with self.subTest(value=value), self.assertRaisesRegex(error, r"@allow_leaks\['tasks'\].*True"
                                                                          r"|@allow_leaks\['tasks'\] must be a regular"):
                allow_leaks(tasks=value, reason="because")  # type: ignore[arg-type]
        with self.assertRaisesRegex(ValueError, r"@allow_leaks\['tasks'\] must be a regular expression, got '\(': "
                                                r"missing \)"):
            allow_leaks(tasks="(", reason="because")

    def test_allow_leaks_must_be_called_with_keywords(self) -> None:
        async def test_x() -> None:
            pass

        with self.assertRaisesRegex(TypeError, r"must be called: @allow_leaks\(tasks=True, reason='\.\.\.'\)"):
            allow_leaks(test_x)
        with self.assertRaisesRegex(TypeError, "decorates a test method or a test case class"):
            allow_leaks(tasks=True, reason="because")(42)

    def test_a_bad_leak_checks_attribute_fails_when_the_class_is_defined(self) -> None:
        with self.assertRaisesRegex(ValueError, r"Bad\.leak_checks = 'strcit': a preset is one of 'default'"):
            class Bad(AsyncTestCase):
                leak_checks = "strcit"
        with self.assertRaisesRegex(ValueError, r"unknown leak kind 'task' \(did you mean 'tasks'"):
            class Bad2(AsyncTestCase):
                leak_checks = {"task": "note"}  # noqa: RUF012
        with self.assertRaisesRegex(ValueError, r"\['tasks'\] = 'warn': a severity is 'fail', 'note' or 'off'"):
            class Bad3(AsyncTestCase):
                leak_checks = {"tasks": "warn"}  # noqa: RUF012
        with self.assertRaisesRegex(TypeError, "must be a preset name"):
            class Bad4(AsyncTestCase):
                leak_checks = 3  # type: ignore[assignment]

    def test_resource_registration_misuse(self) -> None:
        with self.assertRaisesRegex(TypeError, "takes a class or a qualified class name"):
            register_resource_type(3, is_open=bool)  # type: ignore[arg-type]
        with self.assertRaisesRegex(ValueError, "a name must be qualified"):
            register_resource_type("Pool", is_open=bool)
        with self.assertRaisesRegex(TypeError, "is_open=...* must be callable"):
            register_resource_type("db.pool.Pool", is_open=True)  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, "needs is_open="):
            register_resource_type("db.pool.Pool", is_open=None)  # type: ignore[arg-type]
        self.assertFalse(unregister_resource_type("db.pool.Pool"))

    def test_tracking_an_object_nobody_can_judge_says_what_to_pass(self) -> None:
        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                self.trackResource(object())

        (_test, text), = run_case(Inner, "test_x").result.errors
        self.assertIn("cannot tell whether object is open: pass is_open=", text)


class HygieneTests(unittest.TestCase):
    """Nothing global survives a test; nothing of one test reaches the next."""

    def test_every_hook_is_restored_after_a_leaking_test(self) -> None:
        class Pool:
            def __init__(self) -> None:
                self.closed = False

        register_resource_type(Pool, is_open=lambda p: not p.closed)
        self.addCleanup(unregister_resource_type, Pool)
        init = Pool.__init__
        before = (list(warnings.filters), _compat.swap_showwarnmsg(None), sys.unraisablehook,
                  threading.Thread.start)
        for base in BASES:
            with self.subTest(base=base.__name__):
                seen: dict[str, Any] = {}

                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_x(self) -> None:
                        loop = asyncio.get_running_loop()
                        seen["loop"], seen["handler"] = loop, loop.get_exception_handler()
                        seen["patched"] = Pool.__init__ is not init
                        self.pool = Pool()
                        asyncio.create_task(sleeper())
                        await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
                        loop.call_soon(int, "x")  # an error for the chained handler
                        await asyncio.sleep(0)

                outcome = run_case(Inner, "test_x")
                self.assertIn("leaked 1 pending task, 1 open server and 1 open resource, and had 1 error swallowed by the loop", outcome.failure)
                after = (list(warnings.filters), _compat.swap_showwarnmsg(None), sys.unraisablehook,
                         threading.Thread.start)
                self.assertEqual(after, before)
                self.assertTrue(seen["patched"])
                self.assertIs(Pool.__init__, init)
                self.assertEqual(HUB.active, [])
                loop = seen["loop"]
                self.assertTrue(loop.is_closed())
                for name in ("create_connection", "create_server", "run_in_executor", "subprocess_exec"):
                    self.assertNotIn(name, vars(loop))
                self.assertIsNot(loop.get_exception_handler(), seen["handler"])  # the late one now

    def test_warnings_turned_into_errors_are_still_reported_and_other_unraisables_chained(self) -> None:
        seen: list[str] = []

        class Fragile:
            def __del__(self) -> None:
                raise ValueError("broken finalizer")

        async def fetch() -> None:
            pass

        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # ahead of the checker's own filter
                    fetch()  # type: ignore[unused-coroutine]  # <UR>
                Fragile()

        previous = sys.unraisablehook
        sys.unraisablehook = lambda unraisable: seen.append(repr(unraisable.exc_value))
        try:
            outcome = run_case(Inner, "test_x")
        finally:
            sys.unraisablehook = previous
        text = outcome.failure
        self.assertIn(f"coroutine 'fetch' was never awaited\n       dropped at   tests/{at('UR')}", text)
        self.assertIn("notes (not failures):", text)
        self.assertIn("exception ignored in", text)
        self.assertEqual(seen, ["ValueError('broken finalizer')"], "unknown unraisables still reach the hook")

    def test_leak_warnings_are_seen_even_when_the_users_filters_ignore_them(self) -> None:
        async def fetch() -> None:
            pass

        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                fetch()  # type: ignore[unused-coroutine]  # <IG>

        result = unittest.TestResult()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("ignore")  # what many runners and -W ignore do
            Inner("test_x").run(result)
            gc.collect()
        (_test, text), = result.failures
        self.assertIn(f"coroutine 'fetch' was never awaited\n       dropped at   tests/{at('IG')}", text)
        self.assertEqual(caught, [])

    def test_a_late_signal_on_a_finished_tests_loop_names_that_test(self) -> None:
        seen: dict[str, Any] = {}

        class Inner(AsyncTestCase):
            async def test_first(self) -> None:
                seen["loop"] = asyncio.get_running_loop()

        self.assertTrue(run_case(Inner, "test_first").result.wasSuccessful())
        with self.assertLogs("asynctestkit.leaks", "WARNING") as logs:
            seen["loop"].call_exception_handler({"message": "Unclosed client session"})
        self.assertEqual(logs.output, ["WARNING:asynctestkit.leaks:leak from test_first, detected after that "
                                       "test finished (when the object was finalized): Unclosed client session"])

    def test_a_test_with_its_own_exception_handler_receives_the_contexts_and_stays_quiet(self) -> None:
        received: list[str] = []

        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                loop = asyncio.get_running_loop()
                loop.set_exception_handler(lambda _loop, context: received.append(context["message"]))
                loop.call_soon(int, "x")
                await asyncio.sleep(0)

        outcome = run_case(Inner, "test_x")
        self.assertTrue(outcome.result.wasSuccessful())
        self.assertEqual(outcome.messages("asynctestkit") + outcome.messages("asyncio"), [])
        self.assertEqual(len(received), 1)

    def test_an_async_generator_dropped_after_break_is_finalized_by_the_loop_and_quiet(self) -> None:
        class Inner(AsyncTestCase):
            leak_checks = "strict"

            async def test_x(self) -> None:
                async def numbers() -> Any:
                    for n in range(5):
                        yield n
                async for _ in numbers():
                    break

        outcome = run_case(Inner, "test_x")
        self.assertTrue(outcome.result.wasSuccessful(), outcome.result.failures)

    def test_aiohttp_adapters_never_import_aiohttp(self) -> None:
        if "aiohttp" in sys.modules:
            self.skipTest("aiohttp is already imported in this process")

        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                pass

        self.assertTrue(run_case(Inner, "test_x").result.wasSuccessful())
        self.assertNotIn("aiohttp", sys.modules)

    def test_track_resource_outside_a_test_does_nothing(self) -> None:
        thing = object()
        self.assertIs(track_resource(thing), thing)

    def test_a_clean_test_is_checked_without_running_the_loop_again(self) -> None:
        calls: list[str] = []

        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                await asyncio.sleep(1)

            def _atk_check_leaks(self) -> None:
                calls.append("the check ran as a cleanup")
                super()._atk_check_leaks()

            async def _atk_check_leaks_on_loop(self) -> None:
                calls.append("the check ran on the loop")
                await super()._atk_check_leaks_on_loop()

        self.assertTrue(run_case(Inner, "test_x").result.wasSuccessful())
        # judged clean in doCleanups, after the last cleanup: neither a cleanup of its own nor an async phase
        self.assertEqual(calls, [])
        self.assertEqual(HUB.active, [])

    def test_a_leaking_test_is_still_checked_as_the_last_cleanup(self) -> None:
        order: list[str] = []

        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                self.addCleanup(lambda: order.append("cleanup"))
                self.addCleanup(lambda: self.addCleanup(lambda: order.append("cleanup added by a cleanup")))
                self.task = asyncio.ensure_future(asyncio.sleep(3600))

            def _atk_check_leaks(self) -> None:
                order.append("leak check")
                super()._atk_check_leaks()

        result = run_case(Inner, "test_x").result
        self.assertEqual(order, ["cleanup added by a cleanup", "cleanup", "leak check"])
        self.assertEqual(len(result.failures), 1)
        self.assertIn("1 pending task", result.failures[0][1])
        self.assertEqual(HUB.active, [])


class ReportFormatTests(unittest.TestCase):
    def test_one_report_groups_leaks_by_kind_numbers_them_and_ends_with_hints(self) -> None:
        class Inner(AsyncTestCase):
            coroutine_origins = True  # the un-awaited coroutine's "created at" line

            async def test_x(self) -> None:
                await asyncio.sleep(2.5)
                self.pending = sleeper()  # <F1>
                asyncio.create_task(sleeper(), name="poller")  # <F2>

        text = run_case(Inner, "test_x").failure
        report = text[text.index("LeakError: "):]
        expected = (
            "LeakError: test_x leaked 1 pending task and 1 coroutine never awaited (found after all cleanups, "
            "at virtual t=2.500s; asynctestkit cleaned up)\n"
            " pending tasks:\n"
            "  1. task 'poller' (sleeper()) still pending\n"
            f"       created at   tests/{at('F2')} in test_x\n"
            "       suspended at tests/leaks/test_mixin.py:")
        self.assertTrue(report.startswith(expected), report)
        self.assertIn(" coroutines never awaited:\n  2. coroutine 'sleeper' was never awaited\n"
                      f"       created at   tests/{at('F1')} in test_x\n"
                      "       kept on      self.pending\n", report)
        self.assertIn(" hint (tasks): cancel each task and await it in asyncTearDown", report)
        self.assertIn(' allow: @allow_leaks(tasks=True, reason="...") on the test, or '
                      'leak_checks = {"tasks": "note"} on the class', report)

    def test_headline_counts_failures_only_and_notes_are_numbered_apart(self) -> None:
        from asynctestkit.leaks._report import Leak
        report = LeakReport("test_x", failures=[Leak("resources", "pool left open")],
                            notes=[Leak("coroutines", "coroutine 'f' was never awaited",
                                        ["found by the garbage collector: it may come from an earlier test"])],
                            virtual_time=0.0)
        lines = report.format().splitlines()
        self.assertEqual(lines[0], "test_x leaked 1 open resource (+1 note below) (found after all cleanups, "
                                   "at virtual t=0.000s; asynctestkit cleaned up)")
        self.assertIn("  1. pool left open", lines)
        self.assertIn("  1. coroutine 'f' was never awaited", lines)
        notes_only = LeakReport("test_x", notes=[Leak("coroutines", "coroutine 'f' was never awaited")])
        self.assertTrue(notes_only.format().startswith("leak check note: test_x leaked 1 coroutine never awaited"))

    def test_leak_error_carries_the_report(self) -> None:
        report = LeakReport("test_x")
        self.assertFalse(report)
        error = LeakError(report)
        self.assertIsInstance(error, AssertionError)
        self.assertIs(error.report, report)


class BareTrackerTests(unittest.TestCase):
    """The engine without unittest, on loops that are not asynctestkit's."""

    def test_a_bare_loop_reports_a_task_and_detach_restores_it(self) -> None:
        loop = asyncio.new_event_loop()
        self.addCleanup(loop.close)
        tracker = LeakTracker(loop, name="main()")
        tracker.attach()
        try:
            self.assertIsNotNone(vars(loop).get("create_connection"))  # a foreign loop: instance attributes

            async def main() -> None:
                asyncio.create_task(sleeper(), name="forgotten")
                await asyncio.sleep(0)

            loop.run_until_complete(main())
            self.assertIsNone(tracker.check_nowait(), "a pending task needs the loop")
            report = loop.run_until_complete(tracker.check())
        finally:
            tracker.detach()
        self.assertEqual([leak.summary for leak in report.failures], ["task 'forgotten' (sleeper()) still pending"])
        self.assertNotIn("create_connection", vars(loop))
        self.assertIsNone(loop.get_exception_handler())
        self.assertEqual(asyncio.all_tasks(loop), set())

    def test_two_trackers_on_one_loop_chain_and_unwind(self) -> None:
        for make in (asyncio.new_event_loop, VirtualClockLoop):
            with self.subTest(loop=make.__name__):
                loop = make()
                self.addCleanup(loop.close)
                before = dict(vars(loop))
                outer, inner = LeakTracker(loop, name="outer"), LeakTracker(loop, name="inner")
                outer.attach()
                inner.attach()

                async def main() -> asyncio.Server:
                    return await asyncio.get_running_loop().create_server(asyncio.Protocol, "127.0.0.1", 0)

                server = loop.run_until_complete(main())
                try:
                    self.assertTrue(inner.owns(server) and outer.owns(server), "both wrappers ran, chained")
                    inner.detach()
                    second = loop.run_until_complete(main())
                    self.assertTrue(outer.owns(second) and not inner.owns(second), "the outer one still wraps")
                finally:
                    outer.detach()
                    server.close()
                    second.close()
                self.assertEqual(vars(loop).keys(), before.keys(), "detach restores the loop")

    def test_asynctestkits_loops_are_wrapped_without_instance_attributes(self) -> None:
        loop = VirtualClockLoop()
        self.addCleanup(loop.close)
        before = dict(vars(loop))
        tracker = LeakTracker(loop, policy="strict")
        tracker.attach()
        try:
            added = set(vars(loop)) - set(before)
        finally:
            tracker.detach()
        self.assertEqual(added, {"call_at"}, "only strict mode's call_at (a hot method, never dispatched)")

    def test_attaching_to_asynctestkits_loop_builds_no_wrapper_and_changes_no_method(self) -> None:
        # Issue 15: attach used to build and install 12 creation-method wrappers per test; now the loop's
        # recorder slot takes the registries, and the one callable built is the chained exception handler.
        loop = VirtualClockLoop()
        self.addCleanup(loop.close)
        tracker = LeakTracker(loop)
        attributes = dict(vars(loop))
        methods = {name: vars(type(loop)).get(name) for name in HOOKED_METHODS}
        callables = (types.FunctionType, types.MethodType, functools.partial)
        gc.collect()
        existing = {id(obj) for obj in gc.get_objects() if isinstance(obj, callables)}
        tracker.attach()
        try:
            built = [obj for obj in gc.get_objects() if isinstance(obj, callables) and id(obj) not in existing
                     and not getattr(obj, "__qualname__", "").startswith("_wrap_init.")]  # a registered type's
            self.assertEqual(built, [loop.get_exception_handler()])
            self.assertEqual(vars(loop).keys(), attributes.keys())
            self.assertEqual({name: vars(type(loop)).get(name) for name in HOOKED_METHODS}, methods)

            async def main() -> asyncio.Server:  # and what the loop creates still reaches the tracker
                return await asyncio.get_running_loop().create_server(asyncio.Protocol, "127.0.0.1", 0)

            server = loop.run_until_complete(main())
            self.addCleanup(server.close)
            self.assertTrue(tracker.owns(server))
        finally:
            tracker.detach()
        self.assertEqual(vars(loop).keys(), attributes.keys())

    def test_a_creation_call_never_awaited_is_named_as_without_the_checker(self) -> None:
        for make in (asyncio.new_event_loop, VirtualClockLoop):
            with self.subTest(loop=make.__name__):
                loop = make()
                self.addCleanup(loop.close)
                plain = loop.create_connection(asyncio.Protocol, "127.0.0.1", 1)
                tracker = LeakTracker(loop)
                tracker.attach()
                try:
                    watched = loop.create_connection(asyncio.Protocol, "127.0.0.1", 1)
                finally:
                    tracker.detach()
                self.assertEqual(watched.__qualname__, plain.__qualname__)
                self.assertEqual(plain.__qualname__, "BaseEventLoop.create_connection")
                plain.close()
                watched.close()

    def test_a_loop_refusing_instance_attributes_degrades_to_tasks_and_events(self) -> None:
        class FrozenLoop(asyncio.SelectorEventLoop):  # like uvloop: no instance attributes after init
            _frozen = False

            def __setattr__(self, name: str, value: Any) -> None:
                if self._frozen and name not in vars(self):
                    raise AttributeError(f"{type(self).__name__} objects are read-only")
                super().__setattr__(name, value)

        loop = FrozenLoop()
        loop._frozen = True
        servers: list[asyncio.Server] = []
        self.addCleanup(loop.close)
        tracker = LeakTracker(loop, name="main()")
        tracker.attach()
        try:
            async def main() -> None:
                asyncio.create_task(sleeper())
                servers.append(await asyncio.get_running_loop().create_server(asyncio.Protocol, "127.0.0.1", 0))
                await asyncio.sleep(0)

            loop.run_until_complete(main())
            report = loop.run_until_complete(tracker.check())
        finally:
            tracker.detach()
            for server in servers:  # degraded: the tracker never saw it, so it did not close it
                server.close()
        self.assertEqual([leak.kind for leak in report.failures], ["tasks"])

    @unittest.skipUnless(_compat.HAS_LOOP_FACTORY, "IsolatedAsyncioTestCase.loop_factory is 3.13+")
    def test_a_custom_loop_factory_loop_is_checked(self) -> None:
        class Inner(PlainLeakCase):
            loop_factory = asyncio.SelectorEventLoop

            async def test_x(self) -> None:
                asyncio.create_task(sleeper())  # <LF>

        self.assertIn(at("LF"), run_case(Inner, "test_x").failure)

    def test_the_late_handler_stays_off_for_a_bare_detach(self) -> None:
        loop = asyncio.new_event_loop()
        self.addCleanup(loop.close)

        def mine(_loop: Any, _context: Any) -> None:
            pass

        loop.set_exception_handler(mine)
        tracker = LeakTracker(loop)
        tracker.attach()
        tracker.detach()
        self.assertIs(loop.get_exception_handler(), mine)
        with self.assertRaisesRegex(RuntimeError, "already attached"):
            tracker.attach()
            tracker.attach()
        tracker.detach()
        gc.collect()


if __name__ == "__main__":
    unittest.main()
