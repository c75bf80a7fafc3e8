"""The virtual clock (asynctestkit/clock.py) as a test sees it: exact times, ordering, lifecycle, manual control.

Beside it in this package: hang reports and watchdogs (test_hangs.py), the time module following the clock
(test_timepatch.py), real work in flight (test_realwork.py, test_realwork_peers.py), busy polling and I/O
(test_polling_and_io.py), equal deadlines (test_timer_order.py), the loop without unittest (test_loop.py).
Tests that need a failing test run an inner AsyncTestCase into a ``unittest.TestResult`` and read its text.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import math
import os
import re
import sys
import time
import unittest
from typing import Any
from unittest import mock

import asynctestkit
from asynctestkit import AsyncTestCase, VirtualClockLoop

from ._clock_support import (
    INSTANT,
    problems,
    real_timer,
    run_tests,
    site_pattern,
)

PY311 = sys.version_info >= (3, 11)
HERE = __file__


def _src(function: str, source: str) -> str:
    return site_pattern(HERE, function, source)


# ---------------------------------------------------------------------------------------------------------
# Core timing
# ---------------------------------------------------------------------------------------------------------

class CoreTimingTests(AsyncTestCase):
    async def test_sleep_3600_finishes_instantly_with_exact_time(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with real_timer() as took:
            await asyncio.sleep(3600)
        self.assertEqual(loop.time(), start + 3600)
        self.assertEqual(self.clock.elapsed(), 3600)
        self.assertLess(took[0], INSTANT)

    async def test_sleepers_of_1_and_2_seconds_wake_in_order_at_exact_times(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        woke: list[tuple[str, float]] = []

        async def sleeper(name: str, seconds: float) -> None:
            await asyncio.sleep(seconds)
            woke.append((name, loop.time()))

        await asyncio.gather(sleeper("two", 2), sleeper("one", 1))
        self.assertEqual(woke, [("one", start + 1), ("two", start + 2)])

    async def test_twelve_equal_sleepers_wake_together_in_the_same_order_every_run(self) -> None:
        # Documented behaviour: equal deadlines run in asyncio's own (heap) order, which is not FIFO but is
        # the same on every run; test_loop checks the same across two fresh loops.
        loop = asyncio.get_running_loop()

        async def batch() -> list[int]:
            order: list[int] = []
            times: list[float] = []
            began = loop.time()

            async def sleeper(index: int) -> None:
                await asyncio.sleep(1)
                order.append(index)
                times.append(loop.time())

            await asyncio.gather(*(sleeper(i) for i in range(12)))
            self.assertEqual(times, [began + 1] * 12)
            return order

        first = await batch()
        second = await batch()
        self.assertEqual(sorted(first), list(range(12)))
        self.assertEqual(first, second)

    async def test_ten_sleeps_of_a_tenth_sum_to_one_and_tiny_sleeps_do_not_hang(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with real_timer() as took:
            for _ in range(10):
                await asyncio.sleep(0.1)
            self.assertAlmostEqual(loop.time(), start + 1.0, delta=1e-9)
            before = loop.time()
            await asyncio.sleep(1e-7)
            self.assertEqual(loop.time(), before + 1e-7)
            before = loop.time()
            await asyncio.sleep(0)
            self.assertEqual(loop.time(), before)
        self.assertLess(took[0], INSTANT)

    async def test_a_cancelled_wait_for_timer_is_never_jumped_to(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        fast = loop.create_future()
        loop.call_soon(fast.set_result, "fast")
        self.assertEqual(await asyncio.wait_for(fast, 3600), "fast")
        await asyncio.sleep(1)
        self.assertEqual(loop.time(), start + 1)

    @unittest.skipUnless(PY311, "asyncio.timeout() and timeout_at() exist from 3.11")
    async def test_a_rescheduled_timeout_fires_at_its_new_deadline_and_timeout_at_exactly(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with self.assertRaises(TimeoutError):
            async with asyncio.timeout(5) as cm:  # type: ignore[attr-defined]
                cm.reschedule(loop.time() + 10)
                await asyncio.sleep(3600)
        self.assertEqual(loop.time(), start + 10)
        start = loop.time()
        with self.assertRaises(TimeoutError):
            async with asyncio.timeout_at(loop.time() + 5):  # type: ignore[attr-defined]
                await asyncio.Event().wait()
        self.assertEqual(loop.time(), start + 5)

    async def test_a_longer_timeout_around_a_shorter_sleep_does_not_expire(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        if PY311:
            async with asyncio.timeout(9):  # type: ignore[attr-defined]
                await asyncio.sleep(1)
        else:
            await asyncio.wait_for(asyncio.sleep(1), 9)
        self.assertEqual(loop.time(), start + 1)
        await asyncio.sleep(10)  # the cancelled 9 s deadline is not in the way
        self.assertEqual(loop.time(), start + 11)

    async def test_wait_for_a_never_set_event_times_out_at_exactly_10_seconds(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with real_timer() as took:
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.Event().wait(), 10)
        self.assertEqual(loop.time(), start + 10)
        self.assertLess(took[0], INSTANT)

    async def test_a_10ms_ticker_fires_100000_times_in_1000_virtual_seconds(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        ticks = 0
        late: list[tuple[int, float, float]] = []
        done = loop.create_future()

        def tick(number: int) -> None:
            nonlocal ticks
            ticks += 1
            if loop.time() != start + number * 0.01:
                late.append((number, loop.time(), start + number * 0.01))
            if number == 100_000:
                done.set_result(None)
            else:
                loop.call_at(start + (number + 1) * 0.01, tick, number + 1)

        loop.call_at(start + 0.01, tick, 1)
        await done
        self.assertEqual(ticks, 100_000)
        self.assertEqual(late, [])
        self.assertEqual(self.clock.elapsed(), 1000)

    async def test_callbacks_scheduled_by_callbacks_run_at_their_exact_times(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        handles: dict[int, asyncio.TimerHandle] = {}
        seen: list[tuple[int, float, float]] = []

        def callback(index: int) -> None:
            seen.append((index, loop.time(), handles[index].when()))
            if index < 6:
                handles[index + 1] = loop.call_later(0.25 * (index + 1), callback, index + 1)

        handles[0] = loop.call_later(0.5, callback, 0)
        await asyncio.sleep(100)
        self.assertEqual([i for i, _now, _when in seen], list(range(7)))
        for index, now, when in seen:
            self.assertEqual(now, when, f"callback {index} ran at {now}, its handle says {when}")
        self.assertEqual(seen[-1][1], start + 0.5 + 0.25 * (1 + 2 + 3 + 4 + 5 + 6))


class LargeStartTests(AsyncTestCase):
    clock_start = 1.7e9

    async def test_at_start_1_7e9_a_1s_timer_fires_exactly_once_at_its_time(self) -> None:
        loop = asyncio.get_running_loop()
        self.assertEqual(loop.time(), 1.7e9)
        fired: list[float] = []
        handle = loop.call_later(1, lambda: fired.append(loop.time()))
        with real_timer() as took:
            await asyncio.sleep(2)
        self.assertEqual(fired, [handle.when()])
        self.assertEqual(handle.when(), 1.7e9 + 1)
        self.assertEqual(loop.time(), 1.7e9 + 2)
        self.assertEqual(self.clock.elapsed(), 2)
        self.assertLess(took[0], INSTANT)

    async def test_at_start_1_7e9_timers_due_now_still_run(self) -> None:
        # A 1e-7 s sleep rounds to "now" at this magnitude (one ulp is 2.4e-7 s); asyncio's due check
        # `when < now + 1e-9` then never holds: the loop spun forever before the clock widened it.
        loop = asyncio.get_running_loop()
        with real_timer() as took:
            await asyncio.sleep(1e-7)
            ran = loop.create_future()
            loop.call_later(0, ran.set_result, "ran")
            self.assertEqual(await ran, "ran")
            await asyncio.wait_for(asyncio.sleep(1e-9), 1)
        self.assertLess(took[0], INSTANT)


# ---------------------------------------------------------------------------------------------------------
# Lifecycle
# ---------------------------------------------------------------------------------------------------------

class LifecycleTests(unittest.TestCase):
    def test_every_test_starts_at_the_start_and_all_phases_share_one_timeline(self) -> None:
        log: list[tuple[str, str, float]] = []

        class Inner(AsyncTestCase):
            clock_start = 100.0

            async def asyncSetUp(self) -> None:
                self.loop = asyncio.get_running_loop()
                log.append((self._testMethodName, "asyncSetUp", self.loop.time()))
                self.fired = asyncio.Event()
                self.loop.call_later(5, self.fired.set)
                self.addAsyncCleanup(self.cleanup)

            async def cleanup(self) -> None:
                await asyncio.sleep(2)
                log.append((self._testMethodName, "cleanup", self.loop.time()))

            async def asyncTearDown(self) -> None:
                await asyncio.sleep(1)
                log.append((self._testMethodName, "asyncTearDown", self.loop.time()))

            async def test_a(self) -> None:
                log.append(("test_a", "test", self.loop.time()))
                await self.fired.wait()  # the timer from asyncSetUp fires during the test, on time
                log.append(("test_a", "fired", self.loop.time()))
                await asyncio.sleep(100)

            async def test_b(self) -> None:
                log.append(("test_b", "test", self.loop.time()))

        result = run_tests(Inner, "test_a", "test_b")
        self.assertTrue(result.wasSuccessful(), problems(result))
        self.assertEqual(log, [
            ("test_a", "asyncSetUp", 100.0), ("test_a", "test", 100.0), ("test_a", "fired", 105.0),
            ("test_a", "asyncTearDown", 206.0), ("test_a", "cleanup", 208.0),
            ("test_b", "asyncSetUp", 100.0), ("test_b", "test", 100.0),
            ("test_b", "asyncTearDown", 101.0), ("test_b", "cleanup", 103.0),
        ])

    def test_a_timer_from_sync_setUp_and_one_from_the_test_share_the_timeline(self) -> None:
        seen: list[tuple[str, float]] = []

        class Inner(AsyncTestCase):
            def setUp(self) -> None:
                loop = asyncio.get_event_loop()
                loop.call_later(2, lambda: seen.append(("setUp timer", loop.time())))

            async def test_x(self) -> None:
                loop = asyncio.get_running_loop()
                loop.call_later(1, lambda: seen.append(("test timer", loop.time())))
                await asyncio.sleep(3)

        result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), problems(result))
        self.assertEqual(seen, [("test timer", 1.0), ("setUp timer", 2.0)])


# ---------------------------------------------------------------------------------------------------------
# Manual control, misuse
# ---------------------------------------------------------------------------------------------------------

class ManualControlTests(AsyncTestCase):
    clock_auto_advance = False

    async def test_advance_runs_due_callbacks_in_order_at_their_exact_times(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        log: list[tuple[str, float]] = []

        def record(tag: str) -> None:
            log.append((tag, loop.time()))

        def at_two() -> None:
            record("b")
            loop.call_later(1, record, "c (scheduled at 2 for +1)")

        loop.call_later(1, record, "a")
        loop.call_later(2, at_two)
        loop.call_later(3.5, record, "too late")
        self.assertFalse(self.clock.auto_advance)
        await self.clock.advance(3)
        self.assertEqual(log, [("a", start + 1), ("b", start + 2), ("c (scheduled at 2 for +1)", start + 3)])
        self.assertEqual(loop.time(), start + 3)
        await self.clock.advance_to(start + 3.5)
        self.assertEqual(log[-1], ("too late", start + 3.5))

    async def test_time_is_frozen_between_advances(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        sleeper = asyncio.create_task(asyncio.sleep(5))
        await self.clock.run_until_idle()
        self.assertFalse(sleeper.done())
        self.assertEqual(loop.time(), start)
        await self.clock.advance(4.5)
        self.assertFalse(sleeper.done())
        await self.clock.advance(0.5)
        self.assertTrue(sleeper.done())
        self.assertEqual(loop.time(), start + 5)

    async def test_advance_rejects_bad_durations_with_clear_errors(self) -> None:
        with self.assertRaisesRegex(ValueError, r"advance\(\) duration must be a finite number of seconds >= 0, "
                                                r"got -1"):
            await self.clock.advance(-1)
        with self.assertRaisesRegex(ValueError, r"advance\(\) duration must be a finite number of seconds >= 0, "
                                                r"got nan"):
            await self.clock.advance(math.nan)
        with self.assertRaisesRegex(ValueError, r"advance\(\) duration .* got inf"):
            await self.clock.advance(math.inf)
        with self.assertRaisesRegex(ValueError, r"advance\(\) duration .* got an int too large for a float"):
            await self.clock.advance(10**400)
        with self.assertRaisesRegex(TypeError, r"advance\(\) duration must be a finite number of seconds >= 0, "
                                               r"got str: '1'"):
            await self.clock.advance("1")  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, r"advance_to\(\) time must be a finite number of seconds \(a loop "
                                               r"time\), got str: '1'"):
            await self.clock.advance_to("1")  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, r"got bool: True"):
            await self.clock.advance(True)
        loop = asyncio.get_running_loop()
        with self.assertRaisesRegex(ValueError, r"advance_to\(-1\) would move time backwards: the loop time "
                                                r"is already 0\.0"):
            await self.clock.advance_to(-1)
        with self.assertRaisesRegex(ValueError, r"advance_to\(\) time must be a finite number .* got inf"):
            await self.clock.advance_to(math.inf)
        with self.assertRaisesRegex(ValueError, r"advance_to\(\) time must be a finite number .* got nan"):
            await self.clock.advance_to(math.nan)
        self.assertEqual(loop.time(), 0.0)

    async def test_turning_auto_advance_back_on_lets_time_jump_again(self) -> None:
        loop = asyncio.get_running_loop()
        self.clock.auto_advance = True
        await asyncio.sleep(60)
        self.assertEqual(loop.time(), 60)
        self.clock.auto_advance = False
        with self.assertRaisesRegex(TypeError, r"auto_advance must be True or False, got int: 1"):
            self.clock.auto_advance = 1  # type: ignore[assignment]
        self.assertFalse(self.clock.auto_advance)


class AutoAdvanceControlTests(AsyncTestCase):
    async def test_run_until_idle_runs_what_is_ready_without_moving_time(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        ran: list[int] = []

        def chain(step: int) -> None:
            ran.append(step)
            if step < 3:
                loop.call_soon(chain, step + 1)

        sleeper = asyncio.create_task(asyncio.sleep(5))
        loop.call_soon(chain, 1)
        await self.clock.run_until_idle()
        self.assertEqual(ran, [1, 2, 3])
        self.assertEqual(loop.time(), start)
        self.assertFalse(sleeper.done())
        await sleeper
        self.assertEqual(loop.time(), start + 5)

    async def test_advance_also_works_with_auto_advance_on(self) -> None:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        loop.call_later(2, lambda: fired.append(loop.time()))
        await self.clock.advance(3)
        self.assertEqual((fired, loop.time()), ([2.0], 3.0))

    async def test_clock_reads_time_elapsed_monotonic_and_wall_time(self) -> None:
        clock = self.clock
        wall = time.time()
        self.assertEqual(clock.start, 0.0)
        for _ in range(3):
            await asyncio.sleep(0.1)
        self.assertEqual(clock.elapsed(), 0.3)  # rounded: the float sum is 0.30000000000000004
        self.assertEqual(clock.now(), asyncio.get_running_loop().time())
        self.assertEqual(clock.monotonic(), clock.now())
        await asyncio.sleep(3600)
        self.assertAlmostEqual(clock.time() - wall, 3600.3, delta=5)

    async def test_the_clock_and_its_loop_are_public(self) -> None:
        loop = asyncio.get_running_loop()
        self.assertIsInstance(loop, VirtualClockLoop)
        self.assertIs(self.clock, loop.clock)  # type: ignore[attr-defined]
        self.assertIsInstance(self.clock, asynctestkit.VirtualClock)


class ClockMisuseTests(unittest.TestCase):
    def test_the_clock_outside_its_running_test_is_a_clear_runtime_error(self) -> None:
        kept: dict[str, Any] = {}

        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                kept["clock"] = self.clock

        result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), problems(result))
        clock = kept["clock"]
        for call in (lambda: clock.advance(1), lambda: clock.advance_to(5), clock.run_until_idle):
            with self.subTest(call=call):
                with self.assertRaisesRegex(RuntimeError, r"must be awaited inside the running test, on the "
                                                          r"loop this clock drives"):
                    asyncio.run(call())

    def test_bad_clock_settings_are_rejected(self) -> None:
        cases: list[tuple[dict[str, Any], type[Exception], str]] = [
            ({"start": math.nan}, ValueError, r"start must be a finite number of seconds \(a loop time\), got nan"),
            ({"start": "0"}, TypeError, r"start must be a finite number of seconds \(a loop time\), got str: '0'"),
            ({"horizon": 0}, ValueError, r"horizon must be a number of seconds > 0, got 0"),
            ({"watchdog": -1}, ValueError, r"watchdog must be a number of seconds > 0, got -1"),
            ({"deadlock_grace": "1"}, TypeError, r"deadlock_grace must be a finite number of seconds >= 0, got str"),
            ({"deadlock_grace": math.inf}, ValueError, r"deadlock_grace must be a finite number of seconds >= 0"),
            ({"auto_advance": "no"}, TypeError, r"auto_advance must be True or False, got str: 'no'"),
            ({"auto_advance": 1}, TypeError, r"auto_advance must be True or False, got int: 1"),
            ({"horizn": 1}, TypeError, r"VirtualClockLoop\(\) got an unexpected keyword argument 'horizn'"),
        ]
        for options, error, pattern in cases:
            with self.subTest(options=options):
                with self.assertRaisesRegex(error, pattern):
                    VirtualClockLoop(**options)


# ---------------------------------------------------------------------------------------------------------
# Slow-callback warning in real time
# ---------------------------------------------------------------------------------------------------------

class SlowCallbackTests(AsyncTestCase):
    asyncio_debug = True   # like asyncio's own check, ours follows the loop's debug mode by default

    async def test_a_callback_blocking_for_0_2_s_real_logs_a_slow_callback_warning(self) -> None:
        # On a loaded machine any iteration may overrun asyncio's 0.1 s default now and then (the process was not
        # scheduled): the blocking callback is told apart by its duration, reported exactly once.
        loop = asyncio.get_running_loop()
        with self.assertLogs("asynctestkit", logging.WARNING) as logs:
            loop.call_soon(time.sleep, 0.2)
            await asyncio.sleep(1)
        took = [float(m.group(1)) for line in logs.output
                if (m := re.search(r"Executing a loop iteration took (\d+\.\d{3}) seconds", line))]
        self.assertEqual(len([t for t in took if t >= 0.2]), 1, logs.output)
        self.assertRegex(logs.output[-1], r"Executing a loop iteration took \d+\.\d{3} seconds \(real time; "
                                          r"asyncio's own slow-callback check is blind under virtual time\)")

    async def test_a_coroutine_blocking_for_0_2_s_real_is_reported_too(self) -> None:
        with self.assertLogs("asynctestkit", logging.WARNING) as logs:
            time.sleep(0.2)
            await asyncio.sleep(0)
        self.assertIn("Executing a loop iteration took", logs.output[0])

    async def test_no_warning_for_a_test_that_never_blocks(self) -> None:
        # A threshold a loaded machine's scheduling delays do not reach (asyncio's default is 0.1 s).
        asyncio.get_running_loop().slow_callback_duration = 1.0
        with self.assertNoLogs("asynctestkit", logging.WARNING):
            for _ in range(100):
                await asyncio.sleep(60)

    async def test_a_large_batch_of_fast_callbacks_is_not_reported_as_one_slow_callback(self) -> None:
        loop = asyncio.get_running_loop()
        loop.slow_callback_duration = 0.25  # well above a loaded machine's scheduling delays
        done = loop.create_future()

        def tick(i: int) -> None:
            time.sleep(0.004)
            if i == 249:
                done.set_result(None)

        with self.assertLogs("asynctestkit", logging.WARNING) as logs:
            logging.getLogger("asynctestkit").warning("(marker: assertLogs needs one record)")
            for i in range(250):        # 250 x 4 ms = 1 s in one iteration, 4 times the threshold
                loop.call_soon(tick, i)
            await done
        # The batch's iteration takes >= 1 s real and must not be reported.  On a loaded machine another,
        # short iteration may really be held up (the process preempted past the threshold): that warning is true.
        took = [float(m.split(" took ")[1].split(" ")[0]) for m in logs.output if " took " in m]
        self.assertEqual([t for t in took if t >= 0.9], [], logs.output)


class SlowCallbackAcrossRunsTests(unittest.TestCase):
    def test_a_pause_between_two_runs_of_the_loop_is_not_reported_as_a_slow_iteration(self) -> None:
        # Each run measures from its own first select(): synchronous code between runs (a test's sync
        # tearDown, the test runner) does not block the loop.
        loop = VirtualClockLoop()
        try:
            loop.set_debug(True)
            loop.slow_callback_duration = 0.1
            loop.run_until_complete(asyncio.sleep(1))
            time.sleep(0.15)                                # between runs: the loop is not running
            with self.assertNoLogs("asynctestkit", logging.WARNING):
                loop.run_until_complete(asyncio.sleep(1))
        finally:
            loop.close()

    def test_debug_mode_from_the_environment_turns_the_check_on_without_a_set_debug_call(self) -> None:
        async def main() -> None:
            await asyncio.sleep(0)
            time.sleep(0.15)                                # blocks the loop: asyncio's default limit is 0.1 s
            await asyncio.sleep(1)

        with mock.patch.dict(os.environ, {"PYTHONASYNCIODEBUG": "1"}):
            loop = VirtualClockLoop()
        try:
            self.assertTrue(loop.get_debug())
            with self.assertLogs("asynctestkit", logging.WARNING) as logs:
                loop.run_until_complete(main())
        finally:
            loop.close()
        self.assertIn("Executing a loop iteration took", logs.output[0])


class SlowCallbackDefaultTests(AsyncTestCase):
    async def test_without_debug_mode_there_is_no_slow_callback_warning_as_in_asyncio(self) -> None:
        self.assertFalse(asyncio.get_running_loop().get_debug())
        with self.assertNoLogs("asynctestkit", logging.WARNING):
            time.sleep(0.15)
            await asyncio.sleep(0)

    async def test_slow_callback_check_true_turns_it_on_without_debug_mode(self) -> None:
        self.clock.slow_callback_check = True
        with self.assertLogs("asynctestkit", logging.WARNING) as logs:
            time.sleep(0.15)
            await asyncio.sleep(0)
        self.assertIn("Executing a loop iteration took", logs.output[0])


# ---------------------------------------------------------------------------------------------------------
# The suite itself, under other runners
# ---------------------------------------------------------------------------------------------------------

class IntegrationTests(unittest.TestCase):
    def test_the_clock_tests_run_on_this_interpreter_without_deprecation_warnings(self) -> None:
        # CI runs this file on 3.10-3.13(+3.14) and with -W error::DeprecationWarning on the newest; here the
        # machinery itself is checked under an error filter.
        import warnings

        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                await asyncio.wait_for(asyncio.sleep(3600), 7200)

        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), problems(result))

    def test_a_class_can_opt_out_and_get_a_real_time_loop(self) -> None:
        seen: list[float] = []

        class Inner(AsyncTestCase):
            virtual_clock = False

            async def test_x(self) -> None:
                with real_timer() as took:
                    await asyncio.sleep(0.05)
                seen.append(took[0])

        result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), problems(result))
        self.assertGreaterEqual(seen[0], 0.04)

    def test_the_same_tests_pass_under_pytest_when_it_is_installed(self) -> None:
        try:
            importlib.import_module("pytest")
        except ImportError:
            self.skipTest("pytest is not installed (pytest interop is covered by its own CI job)")
        import os
        import subprocess
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/clock/ -> root
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "tests/clock/test_clock.py::ManualControlTests", "tests/clock/test_hangs.py::HangReportTests"],
            cwd=root, capture_output=True, text=True, timeout=120)
        self.assertEqual(completed.returncode, 0, completed.stdout + completed.stderr)


if __name__ == "__main__":
    unittest.main()
