"""The leak check's quick verdict (``LeakTracker._nothing_left``): a clean test is judged without a report, and
every source of a leak sends the check down the full path (no leak is missed by the shortcut).

Each test attaches a tracker to a fresh loop, leaves exactly one kind of thing behind, and asserts both that
the quick verdict declines and that the full check reports it; a clean run is asserted to pass the shortcut.
"""

from __future__ import annotations

import _thread
import asyncio
import threading
import unittest
from collections.abc import Callable
from typing import Any

from asynctestkit import AsyncTestCase, LeakTracker, VirtualClockLoop, register_resource_type, \
    unregister_resource_type
from asynctestkit import _compat
from asynctestkit.leaks._hooks import HUB

from ._leak_support import run_case


class _Holder:
    """A stand-in for a test case: the tracker scans its attributes."""


class _Pool:
    def __init__(self) -> None:
        self.closed = False


def _tick() -> None:
    pass


async def _forever() -> None:
    await asyncio.sleep(3600)


class QuickVerdictTests(unittest.TestCase):
    def _run(self, leave: Callable[[asyncio.AbstractEventLoop, _Holder], Any], *,
             policy: str = "default") -> tuple[bool, str]:
        """Attach, run *leave* on the loop, then return (the quick verdict, the full report's text)."""
        loop = VirtualClockLoop()
        loop.set_exception_handler(lambda loop, context: None)  # what the tracker sees, it reports: no log too
        holder = _Holder()
        tracker = LeakTracker(loop, name="test_probe", policy=policy)
        tracker.attach()
        try:
            tracker.add_root(holder, "self")

            async def main() -> None:
                result = leave(loop, holder)
                if asyncio.iscoroutine(result):
                    await result

            loop.run_until_complete(main())
            quick = tracker._nothing_left()
            report = tracker.check_nowait()
            if report is None:
                report = loop.run_until_complete(tracker.check())
            return quick, report.format() if report else ""
        finally:
            tracker.detach()
            loop.close()

    def test_a_clean_run_passes_the_quick_verdict(self) -> None:
        async def nothing(loop: asyncio.AbstractEventLoop, holder: _Holder) -> None:
            holder.count = 3  # plain values on the test are never suspects
            await asyncio.sleep(1)

        self.assertEqual(self._run(nothing), (True, ""))

    def test_a_task_made_by_create_task_is_not_missed(self) -> None:
        quick, text = self._run(lambda loop, holder: setattr(holder, "t", asyncio.create_task(_forever())))
        self.assertFalse(quick)
        self.assertIn("1 pending task", text)

    def test_a_task_built_directly_with_asyncio_task_is_not_missed(self) -> None:
        # asyncio.Task(...) bypasses loop.create_task(): only asyncio's registry of live tasks sees it
        quick, text = self._run(lambda loop, holder: setattr(holder, "t", asyncio.Task(_forever(), loop=loop)))
        self.assertFalse(quick)
        self.assertIn("1 pending task", text)

    def test_a_task_of_gather_or_ensure_future_is_not_missed(self) -> None:
        made: list[asyncio.Future[Any]] = []

        def leave(loop: asyncio.AbstractEventLoop, holder: _Holder) -> None:
            made.append(asyncio.gather(_forever()))
            made.append(asyncio.ensure_future(_forever()))

        quick, text = self._run(leave)
        for future in made:  # cancelled by the cleanup: read, so that asyncio logs nothing later
            if future.done() and not future.cancelled():
                future.exception()
        self.assertFalse(quick)
        self.assertIn("2 pending tasks", text)

    @unittest.skipUnless(hasattr(asyncio, "eager_task_factory"), "eager tasks: 3.12+")
    def test_an_eager_task_is_not_missed(self) -> None:
        def leave(loop: asyncio.AbstractEventLoop, holder: _Holder) -> None:
            loop.set_task_factory(asyncio.eager_task_factory)  # type: ignore[attr-defined]
            holder.t = loop.create_task(_forever())
            loop.set_task_factory(None)

        quick, text = self._run(leave)
        self.assertFalse(quick)
        self.assertIn("1 pending task", text)

    def test_a_never_awaited_coroutine_kept_on_the_test_is_not_missed(self) -> None:
        quick, text = self._run(lambda loop, holder: setattr(holder, "coro", _forever()))
        self.assertFalse(quick)
        self.assertIn("never awaited", text)

    def test_a_future_with_an_unretrieved_exception_kept_on_the_test_is_not_missed(self) -> None:
        def leave(loop: asyncio.AbstractEventLoop, holder: _Holder) -> None:
            holder.fut = loop.create_future()
            holder.fut.set_exception(ValueError("boom"))

        quick, text = self._run(leave)
        self.assertFalse(quick)
        self.assertIn("ValueError", text)

    def test_an_open_registered_resource_kept_on_the_test_is_not_missed(self) -> None:
        register_resource_type(_Pool, is_open=lambda pool: not pool.closed)
        self.addCleanup(unregister_resource_type, _Pool)
        quick, text = self._run(lambda loop, holder: setattr(holder, "pool", _Pool()))
        self.assertFalse(quick)
        self.assertIn("_Pool still open", text)

    def test_an_executor_job_is_not_missed(self) -> None:
        release = threading.Event()
        self.addCleanup(release.set)

        def leave(loop: asyncio.AbstractEventLoop, holder: _Holder) -> None:
            holder.job = loop.run_in_executor(None, release.wait)

        quick, text = self._run(leave)
        release.set()
        self.assertFalse(quick)
        self.assertIn("executor job", text)

    def test_a_thread_started_with_threading_is_not_missed(self) -> None:
        release = threading.Event()
        self.addCleanup(release.set)
        thread = threading.Thread(target=release.wait, name="probe-thread")
        quick, text = self._run(lambda loop, holder: thread.start())
        release.set()
        thread.join()
        self.assertFalse(quick)
        self.assertIn("probe-thread", text)

    def test_a_foreign_thread_seen_by_threading_is_not_missed(self) -> None:
        # a thread started without threading.Thread.start (as C code would), which threading then meets as a
        # dummy thread: no hook sees it start, only threading's registry
        release, seen = threading.Event(), threading.Event()
        self.addCleanup(release.set)

        def foreign() -> None:
            threading.current_thread()  # registers a _DummyThread
            seen.set()
            release.wait()

        def leave(loop: asyncio.AbstractEventLoop, holder: _Holder) -> None:
            _thread.start_new_thread(foreign, ())
            seen.wait(5)

        quick, text = self._run(leave)
        release.set()
        self.assertFalse(quick)
        self.assertIn("Dummy", text)

    def test_an_exception_the_loop_reported_is_not_missed(self) -> None:
        def leave(loop: asyncio.AbstractEventLoop, holder: _Holder) -> None:
            loop.call_soon(lambda: 1 / 0)

        async def run(loop: asyncio.AbstractEventLoop, holder: _Holder) -> None:
            leave(loop, holder)
            await asyncio.sleep(0)

        quick, text = self._run(run)
        self.assertFalse(quick)
        self.assertIn("ZeroDivisionError", text)

    def test_an_async_generator_left_suspended_is_not_missed_in_strict_mode(self) -> None:
        async def numbers() -> Any:
            yield 1
            yield 2

        async def leave(loop: asyncio.AbstractEventLoop, holder: _Holder) -> None:
            holder.gen = numbers()
            await holder.gen.__anext__()

        quick, text = self._run(leave, policy="strict")
        self.assertFalse(quick)
        self.assertIn("async generator", text)

    def test_strict_timers_always_take_the_full_check(self) -> None:
        quick, text = self._run(lambda loop, holder: setattr(holder, "h", loop.call_later(60, _tick)),
                                policy="strict")
        self.assertFalse(quick)
        self.assertIn("timer", text)

    def test_the_quick_verdict_declines_while_the_loop_runs_or_once_it_is_closed(self) -> None:
        loop = VirtualClockLoop()
        tracker = LeakTracker(loop, name="test_probe")
        tracker.attach()
        try:
            async def inside() -> bool:
                return tracker._nothing_left()

            self.assertFalse(loop.run_until_complete(inside()))
            self.assertTrue(tracker._nothing_left())
        finally:
            tracker.detach()
            loop.close()
        self.assertFalse(tracker._nothing_left())

    def test_thread_registry_canary_lists_the_running_threads(self) -> None:
        active, limbo = _compat.thread_registry()
        self.assertIn(threading.current_thread(), active.values())
        self.assertEqual(set(active.values()) | set(limbo.values()), set(threading.enumerate()))


class QuickVerdictInTestCaseTests(unittest.TestCase):
    def test_a_test_case_that_keeps_a_task_on_self_still_fails(self) -> None:
        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                self.task = asyncio.create_task(_forever())

        outcome = run_case(Inner, "test_x")
        self.assertIn("1 pending task", outcome.failure)
        self.assertEqual(HUB.active, [])

    def test_a_clean_test_case_leaves_no_hook_installed(self) -> None:
        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                self.value = 1
                await asyncio.sleep(0)

        outcome = run_case(Inner, "test_x")
        self.assertTrue(outcome.result.wasSuccessful(), outcome.result.failures)
        self.assertEqual(HUB.active, [])

    def test_the_tracker_kept_after_a_clean_test_holds_nothing_of_it(self) -> None:
        from asynctestkit.leaks import _tracker

        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                self.value = 1
                await asyncio.sleep(0)

        case = Inner("test_x")
        result = unittest.TestResult()
        case.run(result)
        self.assertTrue(result.wasSuccessful(), result.failures)
        self.assertEqual(len(_tracker._SPARE), 1)  # the clean test's tracker, kept for the next test
        spare = _tracker._SPARE[0]
        self.assertIsNone(spare.loop)
        self.assertIsNone(spare.recorder.loop)
        self.assertIsNone(spare.registries.loop)
        self.assertFalse(spare.attached)
        self.assertEqual((spare.recorder.roots, spare.recorder.baseline, spare.recorder.threads_before),
                         ([], frozenset(), {}))
        self.assertTrue(spare.registries.empty())
        self.assertEqual(spare.recorder.events, {})
        self.assertEqual(HUB.active, [])
        self.assertIsNone(case._atk_leak_tracker)

    def test_a_leaking_test_after_a_clean_one_is_reported_under_its_own_name(self) -> None:
        class Inner(AsyncTestCase):
            async def test_a_clean(self) -> None:
                await asyncio.sleep(0)

            async def test_b_leaks(self) -> None:
                asyncio.create_task(_forever(), name="poller")

        outcome = run_case(Inner, "test_a_clean", suite=["test_a_clean", "test_b_leaks", "test_a_clean"])
        (test, text), = outcome.result.failures
        self.assertEqual(test._testMethodName, "test_b_leaks")
        self.assertIn("test_b_leaks leaked 1 pending task", text)
        self.assertIn("'poller'", text)
        self.assertNotIn("test_a_clean", text)
        self.assertEqual(outcome.result.testsRun, 3)
        self.assertEqual(HUB.active, [])

    def test_a_tracker_kept_from_a_strict_class_is_not_reused_by_a_default_one(self) -> None:
        class Strict(AsyncTestCase):
            leak_checks = "note"

            async def test_x(self) -> None:
                await asyncio.sleep(0)

        class Default(AsyncTestCase):
            async def test_x(self) -> None:
                asyncio.create_task(_forever())

        self.assertTrue(run_case(Strict, "test_x").result.wasSuccessful())
        outcome = run_case(Default, "test_x")  # the default policy fails on tasks: not the "note" one kept
        self.assertIn("test_x leaked 1 pending task", outcome.failure)


class LeakVerdictAfterAFailureTests(unittest.TestCase):
    """Whether the test had already failed is read from unittest's outcome (no wrapper around each part)."""

    def test_with_a_cleanup_added_before_setUp_a_failed_test_keeps_its_failure_and_the_leak_is_a_note(self) -> None:
        class Inner(AsyncTestCase):
            def __init__(self, name: str) -> None:
                super().__init__(name)
                self.addCleanup(lambda: None)  # before setUp: the leak check is not the first cleanup

            async def test_x(self) -> None:
                asyncio.create_task(_forever())
                self.assertEqual(1, 2)

        result = run_case(Inner, "test_x").result
        self.assertEqual(result.errors, [])
        (_test, text), = result.failures
        self.assertIn("AssertionError: 1 != 2", text)
        self.assertIn("leak check note (the test had already failed): test_x leaked 1 pending task", text)

    def test_with_a_cleanup_added_before_setUp_a_passing_leaking_test_fails(self) -> None:
        class Inner(AsyncTestCase):
            def __init__(self, name: str) -> None:
                super().__init__(name)
                self.addCleanup(lambda: None)

            async def test_x(self) -> None:
                asyncio.create_task(_forever())

        outcome = run_case(Inner, "test_x")
        self.assertIn("test_x leaked 1 pending task", outcome.failure)
        self.assertNotIn("had already failed", outcome.failure)
