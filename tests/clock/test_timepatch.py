"""``time.time()``/``time.monotonic()`` follow the virtual clock while a test phase runs (asynctestkit/timepatch.py).

Code that computes deadlines from the time module and polls them between ``asyncio.sleep`` calls finishes at
the exact virtual time; threads, ``time.perf_counter()``, ``time.sleep()`` and ``datetime.now()`` stay real;
the real functions are back after every phase, even a failing or hung one; ``virtual_time_functions = False``
opts out.
"""

from __future__ import annotations

import asyncio
import datetime
import gc
import importlib
import io
import logging
import os
import sys
import threading
import time
import types
import unittest
import warnings
import weakref
from typing import Any
from unittest import mock

from asynctestkit import AsyncTestCase, VirtualClockLoop
from asynctestkit.clock import _timepatch as timepatch
from asynctestkit.clock._timepatch import realtime

from . import _timed_support
from ._clock_support import HANG_BOUND, error_message, failure_of, problems, real_timer, run_on_virtual_loop, run_tests

PY312 = sys.version_info >= (3, 12)

#: The time module's functions as they were before any test ran.
ORIGINAL = {name: getattr(time, name) for name in ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter")}


def assert_time_module_is_real(testcase: unittest.TestCase) -> None:
    for name, function in ORIGINAL.items():
        testcase.assertIs(getattr(time, name), function, f"time.{name} was not put back")


def reads_real_time() -> bool:
    """The time module answers with the real clock on this thread now.

    Between two runs of a test's loop (synchronous ``setUp``/``tearDown``) asynctestkit's functions may still
    be on the time module (they stay there until the loop closes: cheaper than at every run), answering real.
    """
    return (timepatch.active_clock() is None and abs(time.monotonic() - realtime.monotonic()) < HANG_BOUND
            and abs(time.time() - realtime.time()) < HANG_BOUND)


class DeadlinePollingTests(AsyncTestCase):
    async def test_leader_election_renew_loop_on_time_time_ends_at_its_exact_virtual_deadline(self) -> None:
        renewals: list[float] = []
        deadline = time.time() + 15            # hold the lease for 15 s, renewing every 2 s
        while time.time() < deadline:
            renewals.append(self.clock.elapsed())
            await asyncio.sleep(2)
        self.assertEqual(renewals, [0, 2, 4, 6, 8, 10, 12, 14])
        self.assertEqual(self.clock.elapsed(), 16)

    async def test_heartbeat_monitor_on_time_monotonic_notices_the_missed_beat_at_the_exact_time(self) -> None:
        last_beat = time.monotonic()

        async def heartbeats() -> None:
            nonlocal last_beat
            for _ in range(3):                 # beats at t=1, 2, 3, then the peer goes silent
                await asyncio.sleep(1)
                last_beat = time.monotonic()

        async def monitor() -> float:
            while True:
                await asyncio.sleep(0.5)
                if time.monotonic() - last_beat > 2.5:
                    return time.monotonic()

        beating = asyncio.ensure_future(heartbeats())
        detected = await asyncio.wait_for(monitor(), 60)
        await beating
        self.assertEqual(detected, 6.0)
        self.assertEqual(asyncio.get_running_loop().time(), 6.0)

    async def test_time_monotonic_is_loop_time_and_the_ns_forms_agree(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(3600.25)
        self.assertEqual(time.monotonic(), loop.time())
        self.assertEqual(time.monotonic(), 3600.25)
        self.assertEqual(time.monotonic_ns(), 3_600_250_000_000)
        self.assertEqual(time.time(), self.clock.time())
        self.assertEqual(time.time_ns(), self.clock.time_ns())
        self.assertLess(abs(time.time() - (realtime.time() + 3600.25)), HANG_BOUND)
        self.assertLess(abs(time.time_ns() / 1e9 - time.time()), 1e-6)

    async def test_call_at_a_deadline_read_from_time_monotonic_fires_at_it(self) -> None:
        loop = asyncio.get_running_loop()
        fired = loop.create_future()
        loop.call_at(time.monotonic() + 5, lambda: fired.set_result(loop.time()))
        self.assertEqual(await fired, 5.0)


class RealTimeStaysRealTests(AsyncTestCase):
    async def test_executor_threads_read_the_real_clock(self) -> None:
        await asyncio.sleep(3600)

        def read() -> tuple[float, float, float, float]:
            return time.monotonic(), realtime.monotonic(), time.time(), realtime.time()

        mono, real_mono, wall, real_wall = await asyncio.to_thread(read) if sys.version_info >= (3, 9) else ()
        self.assertLess(abs(mono - real_mono), HANG_BOUND)
        self.assertLess(abs(wall - real_wall), HANG_BOUND)
        self.assertGreater(time.time() - wall, 3600 - HANG_BOUND)   # the loop's thread: an hour ahead

    async def test_a_thread_job_measuring_its_own_timeout_waits_real_time(self) -> None:
        def poll_until(seconds: float) -> int:
            deadline = time.monotonic() + seconds
            polls = 0
            while time.monotonic() < deadline:
                polls += 1
                time.sleep(0.01)
            return polls

        with real_timer() as took:
            polls = await asyncio.wait_for(asyncio.to_thread(poll_until, 0.2), 5)
        self.assertGreaterEqual(took[0], 0.2)
        self.assertGreater(polls, 1)

    async def test_a_plain_thread_reads_the_real_clock(self) -> None:
        seen: list[float] = []
        thread = threading.Thread(target=lambda: seen.append(time.monotonic() - realtime.monotonic()))
        thread.start()
        await asyncio.to_thread(thread.join)
        self.assertLess(abs(seen[0]), HANG_BOUND)

    async def test_perf_counter_measures_real_durations_no_false_positive(self) -> None:
        began = time.perf_counter()
        await asyncio.sleep(3600)
        virtual_sleep = time.perf_counter() - began
        began = time.perf_counter()
        time.sleep(0.05)
        real_sleep = time.perf_counter() - began
        self.assertLess(virtual_sleep, 0.5)
        self.assertGreaterEqual(real_sleep, 0.05)
        self.assertIs(time.perf_counter, ORIGINAL["perf_counter"])

    async def test_time_sleep_blocks_for_real_and_does_not_move_virtual_time(self) -> None:
        loop = asyncio.get_running_loop()
        before = loop.time()
        with real_timer() as took:
            time.sleep(0.05)
        self.assertGreaterEqual(took[0], 0.05)
        self.assertEqual(loop.time(), before)
        self.assertEqual(time.monotonic(), before)

    async def test_datetime_now_stays_real_and_fromtimestamp_of_time_time_is_virtual(self) -> None:
        await asyncio.sleep(3600)
        now = datetime.datetime.now().timestamp()
        virtual = datetime.datetime.fromtimestamp(time.time()).timestamp()
        self.assertLess(abs(now - realtime.time()), HANG_BOUND)
        self.assertLess(abs(virtual - now - 3600), HANG_BOUND)

    async def test_log_records_of_the_loop_thread_carry_virtual_wall_time_and_threads_real(self) -> None:
        records: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = records.append  # type: ignore[method-assign]
        logger = logging.getLogger("tests.clock.test_timepatch.virtual")
        logger.addHandler(handler)
        logger.propagate = False
        self.addCleanup(logger.removeHandler, handler)
        await asyncio.sleep(3600)
        logger.warning("on the loop")
        await asyncio.to_thread(logger.warning, "in a thread")
        on_loop, in_thread = records
        self.assertLess(abs(on_loop.created - self.clock.time()), 1e-3)
        self.assertLess(abs(in_thread.created - realtime.time()), HANG_BOUND)

    async def test_from_time_import_monotonic_made_before_the_test_keeps_the_real_clock(self) -> None:
        # Documented limitation: a module that bound the function at import holds the real one.
        self.assertEqual(await _timed_support.measure_sleep(10), 10)           # import time; time.monotonic()
        self.assertLess(await _timed_support.measure_sleep_imported(10), 1.0)  # from time import monotonic
        self.clock.patch_time("tests.clock._timed_support")                           # the documented remedy
        self.assertEqual(await _timed_support.measure_sleep_imported(10), 10)


def _wait_until_deadline(seconds: float) -> None:
    """A synchronous polling helper: real waits, deadline from time.monotonic()."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)


class SynchronousWaitTests(unittest.TestCase):
    @unittest.skipUnless(hasattr(__import__("signal"), "setitimer"), "the SIGALRM watchdog is POSIX-only")
    def test_a_synchronous_deadline_wait_on_the_loop_thread_is_reported_by_the_watchdog_at_its_line(self) -> None:
        # Documented trap: the loop is blocked, so virtual time (and time.monotonic()) cannot move.
        class Inner(AsyncTestCase):
            clock_watchdog = 0.5

            async def test_x(self) -> None:
                _wait_until_deadline(1.0)

        with real_timer() as took:
            result = run_tests(Inner, "test_x")
        text = failure_of(self, result, "test_x")
        self.assertIn("ran longer than the real-time watchdog of 0.5 s: synchronous code blocked the event loop", text)
        self.assertIn("blocked at   tests/clock/test_timepatch.py:", text)
        self.assertIn("in _wait_until_deadline: time.sleep(0.01)", text)
        self.assertLess(took[0], HANG_BOUND)
        assert_time_module_is_real(self)

    def test_the_same_wait_in_a_thread_reads_real_time_and_finishes(self) -> None:
        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                await asyncio.to_thread(_wait_until_deadline, 0.2)

        result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), problems(result))


class LateBindingTests(unittest.TestCase):
    def test_a_module_that_binds_monotonic_during_a_phase_holds_a_function_that_is_real_outside_phases(self) -> None:
        name = "tests._bound_during_a_phase"
        seen: dict[str, Any] = {}

        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                module = types.ModuleType(name)
                exec("from time import monotonic", module.__dict__)  # an import made while the phase runs
                sys.modules[name] = module
                self.addCleanup(sys.modules.pop, name, None)
                await asyncio.sleep(3)
                seen["virtual"] = module.monotonic()
                self.clock.patch_time(name)                        # it recognises the bound function too
                seen["patched"] = module.monotonic is not time.monotonic and module.monotonic() == 3.0
                seen["module"] = module

        result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), problems(result))
        self.assertEqual((seen["virtual"], seen["patched"]), (3.0, True))
        held = seen["module"].monotonic                            # patch_time restored: our function again
        self.assertIs(held, timepatch.VIRTUAL_FUNCTIONS["monotonic"])
        self.assertLess(abs(held() - realtime.monotonic()), HANG_BOUND)


class PlainRunnerAndForeignLoopTests(unittest.TestCase):
    def test_a_plain_runner_on_virtual_clock_loop_gets_virtual_time_functions_while_it_runs(self) -> None:
        async def main() -> tuple[float, float]:
            await asyncio.sleep(42)
            return time.monotonic(), asyncio.get_running_loop().time()

        self.assertEqual(run_on_virtual_loop(main), (42.0, 42.0))
        assert_time_module_is_real(self)

    def test_virtual_time_functions_false_on_the_loop_leaves_the_time_module_alone(self) -> None:
        async def main() -> tuple[bool, float]:
            await asyncio.sleep(42)
            return time.monotonic is ORIGINAL["monotonic"], time.monotonic() - realtime.monotonic()

        is_original, offset = run_on_virtual_loop(main, virtual_time_functions=False)
        self.assertTrue(is_original)
        self.assertLess(abs(offset), HANG_BOUND)

    def test_a_wrong_virtual_time_functions_value_is_a_type_error_naming_the_parameter(self) -> None:
        with self.assertRaises(TypeError) as caught:
            VirtualClockLoop(virtual_time_functions="yes")  # type: ignore[arg-type]
        self.assertEqual(str(caught.exception), "virtual_time_functions must be True or False, got str: 'yes'")

    def test_a_foreign_loop_in_a_thread_and_a_second_virtual_loop_each_keep_their_own_clock(self) -> None:
        async def foreign() -> tuple[float, float]:
            loop = asyncio.get_running_loop()
            began = loop.time()
            await asyncio.sleep(0.05)
            return loop.time() - began, loop.time() - realtime.monotonic()

        async def second_virtual() -> float:
            await asyncio.sleep(0.25)  # short: this loop sees the outer test's threads as real work in flight
            return time.monotonic()

        async def main() -> dict[str, Any]:
            await asyncio.sleep(7)
            took, offset = await asyncio.to_thread(asyncio.run, foreign())
            inner = await asyncio.to_thread(run_on_virtual_loop, second_virtual)
            return {"took": took, "offset": offset, "inner": inner, "outer": time.monotonic(),
                    "outer_loop": asyncio.get_running_loop().time()}

        seen = run_on_virtual_loop(main)
        self.assertGreaterEqual(seen["took"], 0.05)            # the foreign loop slept for real
        self.assertLess(abs(seen["offset"]), HANG_BOUND)        # and its time() is the real monotonic clock
        self.assertEqual(seen["inner"], 0.25)                  # the second virtual loop answers with its own
        self.assertEqual(seen["outer"], seen["outer_loop"])     # the outer one still with its own
        assert_time_module_is_real(self)

    @unittest.skipUnless(hasattr(os, "fork"), "POSIX fork")
    def test_a_child_forked_during_a_phase_reads_the_real_clock(self) -> None:
        async def main() -> str:
            await asyncio.sleep(3600)
            read, write = os.pipe()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads alive (3.12+)
                pid = os.fork()
            if pid == 0:  # pragma: no cover - the child
                try:
                    real = time.monotonic is ORIGINAL["monotonic"] and abs(time.monotonic() - realtime.monotonic()) < 5
                    os.write(write, b"real" if real else b"virtual")
                finally:
                    os._exit(0)
            os.close(write)
            with os.fdopen(read, "rb") as pipe:
                answer = await asyncio.to_thread(pipe.read)
            await asyncio.to_thread(os.waitpid, pid, 0)
            return answer.decode()

        self.assertEqual(run_on_virtual_loop(main), "real")


class RestoreTests(unittest.TestCase):
    def test_real_functions_between_phases_in_synchronous_hooks_and_after_the_test(self) -> None:
        seen: dict[str, Any] = {}

        class Inner(AsyncTestCase):
            def setUp(self) -> None:
                seen["setUp"] = reads_real_time()

            async def asyncSetUp(self) -> None:
                seen["asyncSetUp"] = time.monotonic()

            async def test_x(self) -> None:
                await asyncio.sleep(30)
                seen["test"] = time.monotonic()

            def tearDown(self) -> None:
                seen["tearDown"] = reads_real_time()

        result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), problems(result))
        self.assertEqual(seen, {"setUp": True, "asyncSetUp": 0.0, "test": 30.0, "tearDown": True})
        assert_time_module_is_real(self)

    def test_between_two_runs_of_one_loop_the_functions_answer_real_time_and_go_back_when_it_closes(self) -> None:
        async def read() -> float:
            await asyncio.sleep(10)
            return time.monotonic()

        loop = VirtualClockLoop()
        try:
            first = loop.run_until_complete(read())
            between = (timepatch.active_clock(), abs(time.monotonic() - realtime.monotonic()) < HANG_BOUND,
                       abs(time.time() - realtime.time()) < HANG_BOUND)
            second = loop.run_until_complete(read())
        finally:
            loop.close()
        self.assertEqual((first, second), (10.0, 20.0))
        self.assertEqual(between, (None, True, True))
        assert_time_module_is_real(self)

    def test_an_unclosed_loop_that_ran_is_freed_and_the_real_functions_go_back_when_it_is_collected(self) -> None:
        # The registry the time functions answer from holds nothing of the loop: a loop dropped unclosed is
        # freed as on plain asyncio (its __del__ closes it), and with it go the time functions.
        async def read() -> float:
            await asyncio.sleep(10)
            return time.monotonic()

        loop = VirtualClockLoop()
        self.assertEqual(loop.run_until_complete(read()), 10.0)
        self.assertIsNot(time.monotonic, ORIGINAL["monotonic"])   # on the time module from the first run
        freed = weakref.ref(loop)
        unraisable: list[Any] = []
        with warnings.catch_warnings(), mock.patch.object(sys, "unraisablehook", unraisable.append):
            warnings.simplefilter("ignore", ResourceWarning)     # asyncio's "unclosed event loop"
            del loop
            gc.collect()
        # The collected loop's close() (from __del__) must not fail on its self-pipe, whose socket the same
        # collection may have finalized first.
        self.assertEqual([str(u.exc_value) for u in unraisable], [])
        self.assertIsNone(freed())
        assert_time_module_is_real(self)

    def test_a_loop_run_again_on_another_thread_is_virtual_there_and_the_first_thread_stays_real(self) -> None:
        async def read(seconds: float) -> tuple[bool, bool, float]:
            await asyncio.sleep(seconds)
            loop = asyncio.get_running_loop()
            return time.monotonic() == loop.time(), time.time() == self_clock.time(), time.monotonic()

        loop = VirtualClockLoop()
        self_clock = loop.clock
        try:
            first = loop.run_until_complete(read(10))
            seen: dict[str, Any] = {}

            def in_thread() -> None:
                # (this thread is new to the loop: real work in flight, so time follows real time here)
                seen["thread"] = loop.run_until_complete(read(0.05))

            thread = threading.Thread(target=in_thread)
            thread.start()
            thread.join()
            main_thread_reads_real = reads_real_time()
        finally:
            loop.close()
        self.assertEqual(first, (True, True, 10.0))
        self.assertEqual(seen["thread"][:2], (True, True))
        self.assertGreaterEqual(seen["thread"][2], 10.05)
        self.assertTrue(main_thread_reads_real)
        assert_time_module_is_real(self)

    def test_two_loops_between_runs_on_one_thread_each_answer_with_their_own_clock_while_running(self) -> None:
        async def read(seconds: float) -> float:
            await asyncio.sleep(seconds)
            return time.monotonic()

        first, second = VirtualClockLoop(), VirtualClockLoop(start=1000.0)
        try:
            seen = [first.run_until_complete(read(5)), second.run_until_complete(read(7)),
                    first.run_until_complete(read(1)), reads_real_time()]
            first.close()
            seen += [second.run_until_complete(read(1)), reads_real_time()]
        finally:
            first.close()
            second.close()
        self.assertEqual(seen, [5.0, 1007.0, 6.0, True, 1008.0, True])
        assert_time_module_is_real(self)

    def test_an_unclosed_loop_that_never_ran_leaves_the_time_module_alone(self) -> None:
        loop = VirtualClockLoop()
        try:
            assert_time_module_is_real(self)
        finally:
            loop.close()
        assert_time_module_is_real(self)

    def test_restored_after_a_failing_phase(self) -> None:
        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                await asyncio.sleep(5)
                self.assertEqual(time.monotonic(), 4.0)

        result = run_tests(Inner, "test_x")
        self.assertIn("AssertionError: 5.0 != 4.0", failure_of(self, result, "test_x"))
        assert_time_module_is_real(self)

    def test_restored_after_a_hang_report(self) -> None:
        seen: list[bool] = []

        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                await asyncio.sleep(time.monotonic() + 1)
                await asyncio.Event().wait()

            async def asyncTearDown(self) -> None:
                seen.append(time.monotonic() == 1.0)

        result = run_tests(Inner, "test_x")
        self.assertIn("DeadlockError: test 'test_x' can never finish", error_message(failure_of(self, result, "test_x")))
        self.assertEqual(seen, [True])
        assert_time_module_is_real(self)

    def test_the_opt_out_class_attribute_keeps_the_real_clock(self) -> None:
        seen: list[Any] = []

        class Inner(AsyncTestCase):
            virtual_time_functions = False

            async def test_x(self) -> None:
                await asyncio.sleep(3600)
                seen.append(time.monotonic is ORIGINAL["monotonic"])
                seen.append(abs(time.time() - realtime.time()) < HANG_BOUND)
                seen.append(self.clock.virtual_time_functions)

        result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), problems(result))
        self.assertEqual(seen, [True, True, False])

    def test_a_wrong_class_attribute_value_fails_the_class_definition_with_a_type_error(self) -> None:
        with self.assertRaises(TypeError) as caught:
            class Inner(AsyncTestCase):
                virtual_time_functions = 1  # type: ignore[assignment]
        self.assertIn("Inner.virtual_time_functions must be True or False, got int: 1", str(caught.exception))

    def test_a_mock_patch_of_time_monotonic_inside_a_phase_wins_and_is_undone(self) -> None:
        seen: list[float] = []

        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                await asyncio.sleep(2)
                with mock.patch("time.monotonic", return_value=99.0):
                    seen.append(time.monotonic())
                seen.append(time.monotonic())

        result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), problems(result))
        self.assertEqual(seen, [99.0, 2.0])
        assert_time_module_is_real(self)

    def test_a_mock_started_in_a_phase_and_stopped_after_it_leaves_nothing_virtual(self) -> None:
        patcher = mock.patch("time.monotonic", return_value=99.0)

        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                patcher.start()

            def tearDown(self) -> None:
                patcher.stop()   # puts back what it replaced: asynctestkit's function, now answering real time

        result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), problems(result))
        self.assertLess(abs(time.monotonic() - realtime.monotonic()), HANG_BOUND)
        self.assertIsNone(timepatch.active_clock())

        class Next(AsyncTestCase):
            async def test_y(self) -> None:
                await asyncio.sleep(1)
                self.assertEqual(time.monotonic(), 1.0)

        result = run_tests(Next, "test_y")
        self.assertTrue(result.wasSuccessful(), problems(result))
        assert_time_module_is_real(self)   # the next test's end puts the real function back

    @unittest.skipUnless(PY312, "unittest --durations is new in 3.12")
    def test_unittest_durations_stay_real_for_a_test_that_sleeps_an_hour(self) -> None:
        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                await asyncio.sleep(3600)

        runner = unittest.TextTestRunner(stream=io.StringIO(), durations=0)  # type: ignore[call-arg]
        result = runner.run(unittest.TestSuite([Inner("test_x")]))
        self.assertTrue(result.wasSuccessful(), problems(result))
        (_name, seconds), = result.collectedDurations  # type: ignore[attr-defined]
        self.assertLess(seconds, HANG_BOUND)


class AsynctestkitKeepsTheRealClockTests(unittest.TestCase):
    def test_the_watchdog_still_fires_when_the_time_module_is_virtual_or_mocked(self) -> None:
        class Inner(AsyncTestCase):
            clock_watchdog = 0.3
            clock_horizon = 1e300  # the spin lets time pass (busy polling); here the watchdog must end it

            async def test_x(self) -> None:
                with mock.patch("time.perf_counter", return_value=0.0), \
                        mock.patch("time.monotonic", return_value=0.0):
                    while True:
                        await asyncio.sleep(0)

        with real_timer() as took:
            result = run_tests(Inner, "test_x")
        self.assertIn("ran longer than the real-time watchdog of 0.3 s", failure_of(self, result, "test_x"))
        self.assertLess(took[0], HANG_BOUND)



# ---------------------------------------------------------------------------------------------------------
# clock.patch_time(module): time.monotonic()/time.time() bound by name in a module
# ---------------------------------------------------------------------------------------------------------

class PatchTimeTests(unittest.TestCase):
    MODULE = "tests.clock._timed_support"

    def test_time_functions_are_real_with_virtual_time_functions_off(self) -> None:
        # By default they follow the clock (tests/clock/test_timepatch.py); the opt-out keeps them real.
        measured: list[float] = []

        class Inner(AsyncTestCase):
            virtual_time_functions = False

            async def test_x(self) -> None:
                measured.append(await _timed_support.measure_sleep(10))

        result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), problems(result))
        self.assertLess(measured[0], 1.0)

    def test_patched_modules_see_exactly_the_virtual_time_and_are_restored_after(self) -> None:
        seen: dict[str, Any] = {}
        original = (_timed_support.time, _timed_support.monotonic, _timed_support.perf_counter)

        class Inner(AsyncTestCase):
            clock_start = 50.0

            async def test_x(self) -> None:
                self.clock.patch_time(PatchTimeTests.MODULE)
                self.clock.patch_time(PatchTimeTests.MODULE)  # twice is harmless
                seen["measured"] = await _timed_support.measure_sleep(10)
                seen["imported"] = await _timed_support.measure_sleep_imported(10)
                seen["monotonic"] = _timed_support.time.monotonic()
                seen["wall"] = _timed_support.wall_clock() - self.clock.time()
                seen["ns"] = _timed_support.time.monotonic_ns()
                seen["sleep"] = _timed_support.time.sleep is time.sleep

        wall = time.time()
        result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), problems(result))
        self.assertEqual(seen["measured"], 10)
        self.assertEqual(seen["imported"], 10)
        self.assertEqual(seen["monotonic"], 70.0)
        self.assertEqual(seen["ns"], 70_000_000_000)
        self.assertEqual(seen["wall"], 0)
        self.assertTrue(seen["sleep"], "other functions of the time module stay the real ones")
        self.assertEqual((_timed_support.time, _timed_support.monotonic, _timed_support.perf_counter), original)
        self.assertIs(_timed_support.time, time)
        self.assertLess(abs(_timed_support.wall_clock() - wall), 60)

    def test_patch_time_rejects_bad_arguments_and_patches_nothing_then(self) -> None:
        errors: list[tuple[type[BaseException], str]] = []

        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                for args in [(), (42,), ("tests._no_such_module",), ("json",), (PatchTimeTests.MODULE, 7)]:
                    try:
                        self.clock.patch_time(*args)  # type: ignore[arg-type]
                    except Exception as exc:
                        errors.append((type(exc), str(exc)))
                    self.assertIs(_timed_support.time, time)

        result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), problems(result))
        self.assertEqual(errors, [
            (TypeError, "patch_time() needs at least one module name, e.g. patch_time('myapp.retry')"),
            (TypeError, "patch_time() takes module names (str), got int: 42"),
            (ModuleNotFoundError, "patch_time('tests._no_such_module'): No module named 'tests._no_such_module'"),
            (ValueError, "patch_time('json'): the module uses neither the time module nor "
                         "time.monotonic/time.time/time.perf_counter, so there is nothing to patch"),
            (TypeError, "patch_time() takes module names (str), got int: 7"),
        ])

    def test_patches_are_restored_even_when_the_test_fails(self) -> None:
        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                self.clock.patch_time(PatchTimeTests.MODULE)
                self.fail("boom")

        result = run_tests(Inner, "test_x")
        self.assertEqual(len(result.failures), 1)
        self.assertIs(_timed_support.time, time)
        self.assertIs(_timed_support.monotonic, time.monotonic)

    def test_helper_module_is_importable_by_name(self) -> None:
        self.assertIs(importlib.import_module(self.MODULE), _timed_support)


if __name__ == "__main__":
    unittest.main()
