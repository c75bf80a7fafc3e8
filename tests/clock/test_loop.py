"""VirtualClockLoop (asynctestkit/loop.py), used directly, without unittest.

``asyncio.Runner(loop_factory=VirtualClockLoop)`` on 3.11+, ``asyncio.run(..., loop_factory=...)`` on 3.12+
and ``loop.run_until_complete`` on 3.10: the clock, its reports and its bookkeeping need no test case.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import gc
import logging
import os
import signal
import socket
import sys
import time
import unittest
from typing import Any

import asynctestkit
from asynctestkit import VirtualClock, VirtualClockLoop
from asynctestkit.clock import RealTimeLoop

from ._clock_support import INSTANT, real_timer, run_on_virtual_loop


async def _sleep_an_hour() -> tuple[float, float]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.sleep(3600)
    return start, loop.time()


class WithoutUnittestTests(unittest.TestCase):
    @unittest.skipUnless(sys.version_info >= (3, 11), "asyncio.Runner exists from 3.11")
    def test_asyncio_runner_with_the_loop_as_factory_runs_on_virtual_time(self) -> None:
        with real_timer() as took:
            with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:  # type: ignore[attr-defined]
                start, end = runner.run(_sleep_an_hour())
                loop = runner.get_loop()
                self.assertIsInstance(loop.clock, VirtualClock)
                self.assertEqual(loop.clock.elapsed(), 3600)
                start2, end2 = runner.run(_sleep_an_hour())  # one loop, one timeline across run() calls
        self.assertEqual((start, end, start2, end2), (0.0, 3600.0, 3600.0, 7200.0))
        self.assertLess(took[0], 0.5)
        self.assertTrue(loop.is_closed())

    @unittest.skipUnless(sys.version_info >= (3, 12), "asyncio.run() takes loop_factory from 3.12")
    def test_asyncio_run_with_loop_factory(self) -> None:
        self.assertEqual(asyncio.run(_sleep_an_hour(), loop_factory=VirtualClockLoop),  # type: ignore[call-arg]
                         (0.0, 3600.0))

    def test_run_until_complete_on_a_plain_loop_object(self) -> None:
        loop = VirtualClockLoop(start=10.0)
        try:
            with real_timer() as took:
                self.assertEqual(loop.run_until_complete(_sleep_an_hour()), (10.0, 3610.0))
            self.assertLess(took[0], INSTANT)
            self.assertEqual(loop.time(), 3610.0)
        finally:
            loop.close()

    def test_equal_deadlines_run_in_the_same_order_on_two_fresh_loops(self) -> None:
        async def twelve_sleepers() -> list[int]:
            order: list[int] = []

            async def sleeper(index: int) -> None:
                await asyncio.sleep(1)
                order.append(index)

            await asyncio.gather(*(sleeper(i) for i in range(12)))
            return order

        first = run_on_virtual_loop(twelve_sleepers)
        second = run_on_virtual_loop(twelve_sleepers)
        self.assertEqual(first, second)
        self.assertEqual(sorted(first), list(range(12)))

    def test_a_deadlock_without_a_test_case_cancels_the_tasks_and_logs_the_report(self) -> None:
        async def main() -> None:
            await asyncio.Event().wait()

        with self.assertLogs("asynctestkit", logging.ERROR) as logs, real_timer() as took:
            with self.assertRaises(asyncio.CancelledError):
                run_on_virtual_loop(main)
        self.assertLess(took[0], 1.0)
        report = logs.output[0]
        self.assertIn("the code on this loop can never finish: no timer, I/O, subprocess or thread can wake "
                      "what it awaits", report)
        self.assertRegex(report, r"task '[^']+' \(.*main\(\)\)")
        self.assertRegex(report, r"suspended at \S*test_loop\.py:\d+ in main: await asyncio\.Event\(\)\.wait\(\)")

    def test_real_work_is_tracked_without_a_test_case(self) -> None:
        async def main() -> float:
            loop = asyncio.get_running_loop()
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                await asyncio.wait_for(loop.run_in_executor(pool, time.sleep, 0.1), 5)
            return loop.time()

        self.assertLess(run_on_virtual_loop(main), 5)

    def test_manual_mode_and_other_options_are_constructor_arguments(self) -> None:
        async def main() -> tuple[Any, ...]:
            loop: Any = asyncio.get_running_loop()
            clock = loop.clock
            sleeper = asyncio.ensure_future(asyncio.sleep(5))
            await clock.run_until_idle()
            frozen = (loop.time(), sleeper.done())
            await clock.advance(5)
            await sleeper
            return (frozen, loop.time(), clock.start, clock.auto_advance, clock.horizon, clock.watchdog,
                    clock.deadlock_grace)

        result = run_on_virtual_loop(main, start=100, auto_advance=False, horizon=50.0, watchdog=None,
                                     deadlock_grace=0.5)
        self.assertEqual(result, ((100.0, False), 105.0, 100.0, False, 50.0, None, 0.5))


class LoopMechanicsTests(unittest.TestCase):
    def test_time_is_the_clock_and_starts_at_start(self) -> None:
        loop = VirtualClockLoop(start=42.5)
        self.addCleanup(loop.close)
        self.assertEqual(loop.time(), 42.5)
        self.assertEqual(loop.clock.now(), 42.5)
        self.assertEqual(loop.clock.start, 42.5)

    def test_a_bad_option_leaves_no_half_built_loop_behind(self) -> None:
        unraisable: list[Any] = []
        previous = sys.unraisablehook
        sys.unraisablehook = unraisable.append
        try:
            with self.assertRaises(ValueError):
                VirtualClockLoop(horizon=-5)
            gc.collect()
        finally:
            sys.unraisablehook = previous
        self.assertEqual(unraisable, [])

    def test_close_is_idempotent_and_runs_close_hooks_once(self) -> None:
        for factory in (VirtualClockLoop, RealTimeLoop):
            with self.subTest(loop=factory.__name__):
                loop: Any = factory()
                calls: list[str] = []
                loop._atk_on_close(functools.partial(calls.append, "closed"))
                loop.close()
                loop.close()
                self.assertTrue(loop.is_closed())
                self.assertEqual(calls, ["closed"])

    def test_the_wrapping_selector_delegates_registration(self) -> None:
        loop: Any = VirtualClockLoop()
        self.addCleanup(loop.close)
        left, right = socket.socketpair()
        self.addCleanup(left.close)
        self.addCleanup(right.close)
        loop.add_reader(left.fileno(), lambda: None)
        self.assertIn(left.fileno(), loop._selector.get_map())
        loop.add_writer(left.fileno(), lambda: None)  # modify()
        self.assertEqual(loop._selector.get_map()[left.fileno()].events, 3)
        loop.remove_writer(left.fileno())
        loop.remove_reader(left.fileno())
        self.assertNotIn(left.fileno(), loop._selector.get_map())

    def test_coroutine_origin_tracking_is_left_alone_by_default(self) -> None:
        seen: list[int] = []

        async def main() -> None:
            seen.append(sys.get_coroutine_origin_tracking_depth())

        previous = sys.get_coroutine_origin_tracking_depth()
        run_on_virtual_loop(main)
        self.assertEqual(seen, [previous])

    def test_coroutine_origins_turns_tracking_on_while_running_and_restores_it_after(self) -> None:
        previous = sys.get_coroutine_origin_tracking_depth()
        seen: list[tuple[int, Any]] = []

        async def child() -> None:
            pass

        async def main() -> None:
            coro = child()  # <origin>
            seen.append((sys.get_coroutine_origin_tracking_depth(), coro.cr_origin))
            coro.close()

        run_on_virtual_loop(main, coroutine_origins=2)
        self.assertEqual(seen[0][0], max(previous, 2))
        self.assertEqual(seen[0][1][0][2], "main")
        self.assertEqual(sys.get_coroutine_origin_tracking_depth(), previous)
        seen.clear()
        loop = RealTimeLoop(coroutine_origins=True)
        try:
            loop.run_until_complete(main())
        finally:
            loop.close()
        self.assertEqual(seen[0][0], max(previous, 1))

    def test_a_running_test_loop_with_leak_checks_stays_within_the_fast_attribute_layout(self) -> None:
        seen: list[Any] = []

        class Inner(asynctestkit.AsyncTestCase):
            leak_checks = "strict"  # every wrapper installed

            async def test_x(self) -> None:
                loop = asyncio.get_running_loop()
                seen.extend([len(vars(loop)), type(loop).__name__, isinstance(loop, VirtualClockLoop)])

        result = unittest.TestResult()
        Inner("test_x").run(result)
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
        self.assertLessEqual(seen[0], 30)
        self.assertEqual(seen[1:], ["VirtualClockLoop", True])

    def test_coroutine_origins_rejects_what_is_not_a_frame_count(self) -> None:
        with self.assertRaisesRegex(TypeError, r"coroutine_origins must be True, False or a number of frames "
                                               r"\(int >= 0\), got str: 'yes'"):
            VirtualClockLoop(coroutine_origins="yes")  # type: ignore[arg-type]
        with self.assertRaisesRegex(ValueError, r"coroutine_origins must be True, False or a number of frames "
                                                r"\(int >= 0\), got -1"):
            RealTimeLoop(coroutine_origins=-1)

    def test_the_loops_stay_within_the_fast_attribute_layout(self) -> None:
        # CPython keeps up to 30 instance attributes inline; past that every attribute read in _run_once
        # goes through a dict (+2.6k instructions per iteration on 3.13).  asynctestkit's state lives in one.
        for loop in (VirtualClockLoop(), RealTimeLoop()):
            try:
                loop.set_debug(True)
                self.assertLessEqual(len(vars(loop)), 30, sorted(vars(loop)))
                engine = loop._atk.engine  # the clock's engine: read on every jump and phase too, from slots
                if engine is not None:
                    self.assertFalse(hasattr(engine, "__dict__"), "JumpEngine lost its __slots__")
            finally:
                loop.close()

    def test_a_real_time_loop_runs_on_the_real_clock(self) -> None:
        loop = RealTimeLoop()
        self.addCleanup(loop.close)
        with real_timer() as took:
            loop.run_until_complete(asyncio.sleep(0.05))
        self.assertGreaterEqual(took[0], 0.04)
        self.assertFalse(hasattr(loop, "clock"))

    def test_shutdown_default_executor_counts_as_real_work(self) -> None:
        async def main() -> list[str]:
            loop: Any = asyncio.get_running_loop()
            loop.run_in_executor(None, time.sleep, 0.1)
            shutdown = asyncio.ensure_future(loop.shutdown_default_executor())
            await asyncio.sleep(0)
            held = [str(h) for h in loop._atk_work.in_flight(loop._selector)]
            await shutdown
            return held

        held = run_on_virtual_loop(main)
        self.assertIn("default executor shutdown", held)


if __name__ == "__main__":
    unittest.main()


class CaseLoopSettingsTests(unittest.TestCase):
    """``new_case_loop``: a test case's loop, its settings checked once per combination of the same objects."""

    _DEFAULTS = (0.0, True, 86400.0, 60.0, 1.0, True, 1e-6, 0)

    def _built(self, *settings: Any) -> None:
        from asynctestkit.clock import _loop

        loop = _loop.new_case_loop(*settings)
        try:
            self.assertIs(type(loop), VirtualClockLoop)
            self.assertEqual(loop.run_until_complete(asyncio.sleep(5, "ok")), "ok")
            self.assertEqual(loop.time(), float(settings[0]) + 5)
        finally:
            loop.close()

    def test_the_same_setting_objects_are_checked_once_and_build_the_same_loop(self) -> None:
        from unittest import mock

        from asynctestkit.clock import _loop

        settings = (100, True, 3600, None, 0.5, False, 0.0, 1)  # ints where floats are allowed, watchdog off
        with mock.patch.object(_loop, "check_options", wraps=_loop.check_options) as check:
            self._built(*settings)
            self._built(*settings)
        self.assertEqual(check.call_count, 1)
        loop = _loop.new_case_loop(*settings)
        try:
            clock = loop.clock
            self.assertEqual((clock.start, clock.horizon, clock.watchdog, clock.deadlock_grace, clock.io_quantum,
                              clock.virtual_time_functions, clock.auto_advance, loop._atk.origin_depth),
                             (100.0, 3600.0, None, 0.5, 0.0, False, True, 1))
            self.assertIs(type(clock.horizon), float)
        finally:
            loop.close()

    def test_an_equal_value_of_another_type_or_a_changed_value_is_checked_again_with_the_same_error(self) -> None:
        from asynctestkit.clock import _loop

        self._built(*self._DEFAULTS)
        changed = list(self._DEFAULTS)
        changed[2] = True  # == 1, a valid horizon, but a bool
        with self.assertRaisesRegex(TypeError, r"^horizon must be a number of seconds > 0, got bool: True$"):
            _loop.new_case_loop(*changed)
        changed[2] = float("nan")
        with self.assertRaisesRegex(ValueError, r"^horizon must be a number of seconds > 0, got nan$"):
            _loop.new_case_loop(*changed)
        changed = list(self._DEFAULTS)
        changed[7] = -1
        with self.assertRaisesRegex(ValueError, r"coroutine_origins must be True, False or a number of frames"):
            _loop.new_case_loop(*changed)
        self._built(*self._DEFAULTS)  # and the valid ones still build

    def test_a_value_that_is_not_a_plain_number_is_never_remembered(self) -> None:
        from asynctestkit.clock import _loop

        class Seconds(float):
            pass

        settings = (0.0, True, Seconds(10), 60.0, 1.0, True, 1e-6, 0)
        self._built(*settings)
        self.assertIsNot(_loop._accepted[2], settings[2])  # nothing of an unknown type is kept referenced

    def test_set_debug_answered_by_the_pin_changes_nothing_and_an_unpinned_change_still_takes_effect(self) -> None:
        loop: Any = VirtualClockLoop()
        try:
            loop._atk_pin_debug(False)
            loop.set_debug(True)  # the runner's call, answered by the test case's asyncio_debug
            self.assertEqual((loop.get_debug(), loop._atk.plain_tasks), (False, True))
            loop._atk_pin_debug(None)
            loop.set_debug(True)
            self.assertEqual((loop.get_debug(), loop._atk.plain_tasks), (True, False))
            self.assertTrue(loop._atk.engine.poll_checks)  # the slow-callback check follows debug mode
            loop.set_debug(True)  # unchanged: still on
            self.assertEqual((loop.get_debug(), loop._atk.plain_tasks), (True, False))
            loop.set_debug(False)
            self.assertEqual((loop.get_debug(), loop._atk.plain_tasks, loop._atk.engine.poll_checks),
                             (False, True, False))
        finally:
            loop.close()

    def test_a_setting_changed_on_the_test_instance_is_checked_for_that_test(self) -> None:
        class Late(asynctestkit.AsyncTestCase):
            async def test_x(self) -> None:
                pass

        result = unittest.TestResult()
        Late("test_x").run(result)
        self.assertTrue(result.wasSuccessful(), result.errors)
        broken = Late("test_x")
        broken.clock_watchdog = 0  # type: ignore[misc]  # not checked at class definition: set on the instance
        result = unittest.TestResult()
        broken.run(result)
        self.assertEqual((result.testsRun, len(result.errors)), (1, 1))
        self.assertIn("ValueError: Late: a clock_* setting was rejected when the test's loop was built: watchdog "
                      "must be a number of seconds > 0", result.errors[0][1])
        result = unittest.TestResult()
        Late("test_x").run(result)  # the class's own settings still pass
        self.assertTrue(result.wasSuccessful(), result.errors)


class SignalWakeUpTests(asynctestkit.AsyncTestCase):
    """A quiet loop (nothing registered but its self-pipe) skips the poll before a jump; a signal handler
    added with ``loop.add_signal_handler()`` wakes the loop through that pipe, so it makes the loop poll."""

    async def test_a_signal_handler_runs_before_a_pending_timeout_fires(self) -> None:
        loop = asyncio.get_running_loop()
        got = asyncio.Event()
        loop.add_signal_handler(signal.SIGUSR1, got.set)
        self.addCleanup(loop.remove_signal_handler, signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR1)
        await asyncio.wait_for(got.wait(), 1)  # before the fix: TimeoutError at virtual t=1
        self.assertEqual(self.clock.elapsed(), 0)

    async def test_after_the_signal_handler_is_removed_sleeps_are_exact_again(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR2, lambda: None)
        self.assertTrue(loop.remove_signal_handler(signal.SIGUSR2))
        await asyncio.sleep(3600)
        self.assertEqual(self.clock.elapsed(), 3600)
