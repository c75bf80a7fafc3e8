"""Hang reports (asynctestkit/hangs.py): a test that can never finish fails fast and says why.

A never-set event, a deadlock behind an open server, a heartbeat livelock that hits the horizon, ``sleep(inf)``, a
test that swallows the cancellation; after a report, teardown and cleanups still run.  The real-time watchdog
(``clock_watchdog``) ends a test whose synchronous code never yields.  Tests that need a failing test run an inner
AsyncTestCase into a ``unittest.TestResult`` and read its text.
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import sys
import time
import unittest
import unittest.mock

from asynctestkit import AsyncTestCase
from asynctestkit import clock as clock_module
from asynctestkit.clock import _hangs

from ._clock_support import (
    HANG_BOUND,
    error_message,
    failure_of,
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
# Hangs reported, never left to hang: deadlocks, livelocks, sleep(inf), frozen manual mode, watchdogs
# ---------------------------------------------------------------------------------------------------------

class HangReportTests(unittest.TestCase):
    def test_a_never_set_event_fails_fast_naming_the_test_its_line_and_what_it_awaits(self) -> None:
        class Inner(AsyncTestCase):
            async def test_waits_forever(self) -> None:
                await asyncio.Event().wait()

        with real_timer() as took:
            result = run_tests(Inner, "test_waits_forever")
        message = error_message(failure_of(self, result, "test_waits_forever"))
        self.assertRegex(message, r"^asynctestkit\.DeadlockError: test 'test_waits_forever' can never finish: "
                                  r"no timer, I/O, subprocess or thread can wake what it awaits "
                                  r"\(virtual t=0\.000s, real 0\.\d{3}s\)")
        self.assertRegex(message, r"1\. test 'test_waits_forever' \(task '[^']+'\)\n\s+suspended at "
                         + _src("test_waits_forever", "await asyncio.Event().wait()")
                         + r"  \(awaiting Event\.wait\(\)\)")
        self.assertLess(took[0], 0.5)  # the promise is 100 ms: a 20 ms settle plus the test machinery

    def test_a_test_awaiting_a_blocked_task_lists_both_with_chains_and_creation_sites(self) -> None:
        class Inner(AsyncTestCase):
            leak_checks = "off"

            async def test_awaits_worker(self) -> None:
                never = asyncio.Event()

                async def worker() -> None:
                    await never.wait()

                task = asyncio.create_task(worker(), name="worker")
                await task

        result = run_tests(Inner, "test_awaits_worker")
        message = error_message(failure_of(self, result, "test_awaits_worker"))
        self.assertIn("DeadlockError: test 'test_awaits_worker' can never finish", message)
        self.assertRegex(message, r"1\. test 'test_awaits_worker' \(task '[^']+'\)\n\s+suspended at "
                         + _src("test_awaits_worker", "await task") + r"  \(awaiting task 'worker'\)")
        self.assertRegex(message, r"2\. task 'worker' \(worker\(\)\)\n"
                         r"\s+created at   \S*test_hangs\.py:\d+ in test_awaits_worker\n"
                         r"\s+suspended at " + _src("worker", "await never.wait()")
                         + r"  \(awaiting Event\.wait\(\)\)")

    def test_a_deadlock_with_an_open_listening_server_is_reported_after_the_grace(self) -> None:
        class Inner(AsyncTestCase):
            clock_deadlock_grace = 0.2

            async def test_server_open(self) -> None:
                server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
                self.addAsyncCleanup(server.wait_closed)
                self.addCleanup(server.close)
                await asyncio.Event().wait()

        with real_timer() as took:
            result = run_tests(Inner, "test_server_open")
        message = error_message(failure_of(self, result, "test_server_open"))
        self.assertRegex(message, r"DeadlockError: test 'test_server_open' can never finish: no timer, I/O, "
                                  r"subprocess or thread can wake what it awaits \(waited 0\.2 s real for fd "
                                  r"\d+ \(listening socket \('127\.0\.0\.1', \d+\)\)\)")
        self.assertGreaterEqual(took[0], 0.2)
        self.assertLess(took[0], HANG_BOUND)

    def test_a_heartbeat_livelock_hits_the_horizon_and_names_the_timer_that_kept_time_moving(self) -> None:
        class Inner(AsyncTestCase):
            clock_horizon = 600.0
            leak_checks = "off"

            async def test_heartbeat(self) -> None:
                async def beat() -> None:
                    while True:
                        await asyncio.sleep(1)

                self.beat = asyncio.create_task(beat(), name="heartbeat")
                await asyncio.Event().wait()

        with real_timer() as took:
            result = run_tests(Inner, "test_heartbeat")
        message = error_message(failure_of(self, result, "test_heartbeat"))
        self.assertRegex(message, r"^asynctestkit\.LivelockError: test 'test_heartbeat' did not finish within "
                                  r"the virtual-time horizon of 600 s: timers kept firing but nothing it "
                                  r"awaits happened \(virtual t=600\.000s, real \d+\.\d{3}s\)")
        self.assertRegex(message, r"suspended at " + _src("test_heartbeat", "await asyncio.Event().wait()"))
        self.assertRegex(message, r"task 'heartbeat' \(.*beat\(\)\)")
        self.assertRegex(message, r"timer at t=601\.000s wakes task 'heartbeat' \(beat\(\)\) at "
                         + _src("beat", "await asyncio.sleep(1)"))
        self.assertIn("hint: if the test really simulates more time, raise clock_horizon", message)
        self.assertLess(took[0], HANG_BOUND)

    def test_the_default_horizon_is_one_virtual_day(self) -> None:
        self.assertEqual(AsyncTestCase.clock_horizon, 86400.0)
        self.assertEqual(clock_module.DEFAULT_HORIZON, 86400.0)

    def test_sleep_inf_is_reported_as_sleeping_forever_and_time_stays_finite(self) -> None:
        seen: list[float] = []

        class Inner(AsyncTestCase):
            async def asyncTearDown(self) -> None:
                seen.append(asyncio.get_running_loop().time())

            async def test_sleeps_forever(self) -> None:
                await asyncio.sleep(math.inf)

        with real_timer() as took:
            result = run_tests(Inner, "test_sleeps_forever")
        message = error_message(failure_of(self, result, "test_sleeps_forever"))
        self.assertIn("DeadlockError: test 'test_sleeps_forever' can never finish: it sleeps forever (a timer "
                      "is due at t=inf, e.g. asyncio.sleep(math.inf))", message)
        self.assertRegex(message, _src("test_sleeps_forever", "await asyncio.sleep(math.inf)")
                         + r"  \(awaiting sleep\(\)\)")
        self.assertEqual(seen, [0.0])
        self.assertLess(took[0], HANG_BOUND)

    def test_after_a_report_teardown_and_cleanups_run_and_the_next_test_is_unaffected(self) -> None:
        events: list[str] = []

        class Inner(AsyncTestCase):
            def setUp(self) -> None:
                self.addCleanup(events.append, f"{self._testMethodName}: sync cleanup")

            async def asyncSetUp(self) -> None:
                self.addAsyncCleanup(self.async_cleanup)

            async def async_cleanup(self) -> None:
                await asyncio.sleep(1)
                events.append(f"{self._testMethodName}: async cleanup at t={self.clock.elapsed():g}")

            async def asyncTearDown(self) -> None:
                await asyncio.sleep(1)
                events.append(f"{self._testMethodName}: asyncTearDown at t={self.clock.elapsed():g}")

            def tearDown(self) -> None:
                events.append(f"{self._testMethodName}: tearDown")

            async def test_1_hangs(self) -> None:
                await asyncio.sleep(5)
                await asyncio.Event().wait()

            async def test_2_next(self) -> None:
                await asyncio.sleep(10)
                self.assertEqual(self.clock.elapsed(), 10)
                events.append("test_2_next: ran")

        with real_timer() as took:
            result = run_tests(Inner, "test_1_hangs", "test_2_next")
        self.assertEqual(result.testsRun, 2)
        self.assertEqual(result.errors, [])
        message = error_message(failure_of(self, result, "test_1_hangs"))
        self.assertIn("test 'test_1_hangs' can never finish", message)
        self.assertIn("(virtual t=5.000s", message)
        self.assertLessEqual(len(message.splitlines()), 25, message)  # one screen
        self.assertEqual(events, [
            "test_1_hangs: asyncTearDown at t=6", "test_1_hangs: tearDown",
            "test_1_hangs: async cleanup at t=7", "test_1_hangs: sync cleanup",
            "test_2_next: ran", "test_2_next: asyncTearDown at t=11", "test_2_next: tearDown",
            "test_2_next: async cleanup at t=12", "test_2_next: sync cleanup",
        ])
        self.assertLess(took[0], HANG_BOUND)

    def test_a_report_survives_a_test_that_swallows_the_cancellation(self) -> None:
        class Inner(AsyncTestCase):
            async def test_swallows(self) -> None:
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    pass  # a broad handler in the code under test
                await asyncio.sleep(1)

        result = run_tests(Inner, "test_swallows")
        message = error_message(failure_of(self, result, "test_swallows"))
        self.assertIn("DeadlockError: test 'test_swallows' can never finish", message)

    @unittest.skipIf(sys.version_info < (3, 11), "3.10 runs every phase inside one runner task: the loop is "
                                                   "stopped instead (documented limit)")
    def test_a_test_that_swallows_every_cancellation_is_closed_and_failed_with_the_report(self) -> None:
        cleaned: list[str] = []

        class Inner(AsyncTestCase):
            async def test_swallows_forever(self) -> None:
                try:
                    while True:
                        try:
                            await asyncio.Event().wait()
                        except asyncio.CancelledError:
                            pass
                finally:
                    cleaned.append("finally")

            async def test_next(self) -> None:
                await asyncio.sleep(5)

        result = run_tests(Inner, "test_swallows_forever", "test_next")
        self.assertEqual(len(result.failures), 1, problems(result))
        self.assertEqual(result.errors, [])
        text = result.failures[0][1]
        self.assertIn("DeadlockError: test 'test_swallows_forever' can never finish", text)
        self.assertIn("(it swallowed 3 cancellations that carried this report; asynctestkit closed its coroutine)",
                      text)
        self.assertEqual(cleaned, ["finally"])
        self.assertEqual(result.testsRun, 2)

    def test_a_report_overtaken_by_another_exception_is_the_failure_with_that_exception_chained(self) -> None:
        class Inner(AsyncTestCase):
            async def asyncTearDown(self) -> None:
                await asyncio.sleep(1)

            async def test_cleanup_fails(self) -> None:
                try:
                    await asyncio.Event().wait()
                finally:
                    raise ValueError("cleanup code failed while the report was on its way")

        result = run_tests(Inner, "test_cleanup_fails")
        self.assertEqual(result.errors, [])
        self.assertEqual(len(result.failures), 1, problems(result))
        text = result.failures[0][1]
        self.assertIn("ValueError: cleanup code failed while the report was on its way", text)
        self.assertIn("The above exception was the direct cause of the following exception", text)
        self.assertIn("asynctestkit.DeadlockError: test 'test_cleanup_fails' can never finish", text)
        self.assertLess(text.index("ValueError"), text.index("DeadlockError: test"))  # the hang is the verdict
        self.assertNotIn("asyncTearDown", text)

    def test_a_hang_in_asyncSetUp_is_reported_as_such(self) -> None:
        ran: list[str] = []

        class Inner(AsyncTestCase):
            async def asyncSetUp(self) -> None:
                await asyncio.Event().wait()

            async def test_x(self) -> None:
                ran.append("test")

        result = run_tests(Inner, "test_x")
        message = error_message(failure_of(self, result, "test_x"))
        self.assertRegex(message, r"DeadlockError: .*asyncSetUp of test 'test_x' can never finish")
        self.assertEqual(ran, [])

    def test_frozen_manual_mode_is_reported_with_what_to_do(self) -> None:
        class Inner(AsyncTestCase):
            clock_auto_advance = False

            async def test_frozen(self) -> None:
                await asyncio.sleep(1)

        result = run_tests(Inner, "test_frozen")
        message = error_message(failure_of(self, result, "test_frozen"))
        self.assertIn("DeadlockError: test 'test_frozen' can never finish: time is frozen (auto_advance is off) "
                      "and the next timer is due at t=1; call `await self.clock.advance(...)` or turn "
                      "auto_advance back on", message)
        self.assertRegex(message, _src("test_frozen", "await asyncio.sleep(1)"))


@unittest.skipUnless(hasattr(signal, "setitimer"), "the SIGALRM watchdog needs signal.setitimer (POSIX)")
class WatchdogTests(unittest.TestCase):
    def setUp(self) -> None:
        self.handler = signal.getsignal(signal.SIGALRM)

    def tearDown(self) -> None:
        # The watchdog leaves SIGALRM exactly as it found it.
        self.assertEqual(signal.getsignal(signal.SIGALRM), self.handler)
        self.assertEqual(signal.getitimer(signal.ITIMER_REAL), (0.0, 0.0))

    def test_the_alarm_handler_is_installed_once_per_test_not_once_per_phase(self) -> None:
        class Inner(AsyncTestCase):
            async def asyncSetUp(self) -> None:
                await asyncio.sleep(1)

            async def test_x(self) -> None:
                await asyncio.sleep(1)

            async def asyncTearDown(self) -> None:
                await asyncio.sleep(1)

        calls: list[object] = []
        reads: list[int] = []
        timers: list[float] = []
        real_signal, real_getsignal, real_setitimer = _hangs._raw_signal, _hangs._raw_getsignal, _hangs._setitimer

        def counting(signum: int, handler: object) -> object:
            if signum == signal.SIGALRM:
                calls.append(handler)
            return real_signal(signum, handler)

        def counting_reads(signum: int) -> object:
            reads.append(signum)
            return real_getsignal(signum)

        def counting_timers(which: int, seconds: float) -> object:
            timers.append(seconds)
            return real_setitimer(which, seconds)

        with unittest.mock.patch.object(_hangs, "_raw_signal", counting), \
                unittest.mock.patch.object(_hangs, "_raw_getsignal", counting_reads), \
                unittest.mock.patch.object(_hangs, "_setitimer", counting_timers):
            result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
        self.assertEqual(len(calls), 2, calls)  # ours in at the first phase, the previous one back at the end
        self.assertEqual(calls[-1], self.handler)
        # Per phase (asyncSetUp, the test, asyncTearDown): one read of the handler; one more read when the loop
        # closes.  The timer is set once, at the first phase (the later phases' deadlines are later), and
        # stopped once, when the loop closes.
        self.assertEqual(len(reads), 4, reads)
        self.assertEqual(len(timers), 2, timers)
        self.assertGreater(timers[0], 0)
        self.assertEqual(timers[1], 0)

    def test_a_sigalrm_handler_installed_between_phases_is_left_alone(self) -> None:
        theirs = []

        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                await asyncio.sleep(1)

            def tearDown(self) -> None:  # synchronous: between the test's phase and the cleanups
                signal.signal(signal.SIGALRM, handler)

        def handler(signum: int, frame: object) -> None:
            theirs.append(signum)

        self.addCleanup(signal.signal, signal.SIGALRM, self.handler)
        result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
        self.assertIs(signal.getsignal(signal.SIGALRM), handler)  # not replaced by the watchdog's previous one
        signal.signal(signal.SIGALRM, self.handler)

    def test_a_later_phase_gets_its_whole_limit_from_the_timer_set_at_the_first_phase(self) -> None:
        # The timer is set once, at asyncSetUp; it goes off while the test blocks, before the test's own
        # limit: the alarm sets itself again for the rest instead of failing the test early.
        class Inner(AsyncTestCase):
            clock_watchdog = 1.0

            async def asyncSetUp(self) -> None:
                time.sleep(0.6)

            async def test_x(self) -> None:
                time.sleep(0.6)  # 1.2 s after asyncSetUp started, 0.6 s of the test's own 1 s

        with real_timer() as took:
            result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), problems(result))
        self.assertLess(took[0], 5.0)

    def test_an_alarm_between_phases_is_ignored_and_the_next_phase_is_still_watched(self) -> None:
        events: list[str] = []

        class Inner(AsyncTestCase):
            clock_watchdog = 0.2

            async def test_x(self) -> None:
                self.addAsyncCleanup(self.cleanup)
                self.addCleanup(self.between)  # runs first

            def between(self) -> None:  # synchronous, between phases: the timer set for the test goes off
                time.sleep(0.6)
                events.append("between")

            async def cleanup(self) -> None:
                time.sleep(3)

        with real_timer() as took:
            result = run_tests(Inner, "test_x")
        self.assertEqual(events, ["between"])
        message = error_message(failure_of(self, result, "test_x"))
        self.assertRegex(message, r"^asynctestkit\.LivelockError: .*cleanup of test 'test_x' ran longer than the "
                                  r"real-time watchdog of 0\.2 s: synchronous code blocked the event loop")
        self.assertLess(took[0], 2.5)

    def test_synchronous_blocking_code_is_interrupted_at_its_line(self) -> None:
        events: list[str] = []

        class Inner(AsyncTestCase):
            clock_watchdog = 0.2

            async def asyncTearDown(self) -> None:
                events.append("asyncTearDown")

            async def test_blocks(self) -> None:
                time.sleep(3)

        with real_timer() as took:
            result = run_tests(Inner, "test_blocks")
        message = error_message(failure_of(self, result, "test_blocks"))
        self.assertRegex(message, r"^asynctestkit\.LivelockError: test 'test_blocks' ran longer than the "
                                  r"real-time watchdog of 0\.2 s: synchronous code blocked the event loop "
                                  r"\(virtual t=0\.000s\)\n  blocked at   " + _src("test_blocks", "time.sleep(3)") + "$")
        self.assertEqual(events, ["asyncTearDown"])
        self.assertLess(took[0], 2.5)

    def test_a_blocking_callback_is_interrupted_and_the_test_fails(self) -> None:
        class Inner(AsyncTestCase):
            clock_watchdog = 0.2

            async def test_callback_blocks(self) -> None:
                asyncio.get_running_loop().call_soon(time.sleep, 3)
                await asyncio.sleep(1)
                await asyncio.Event().wait()

        with real_timer() as took, self.assertLogs("asyncio", logging.ERROR) as logs:
            result = run_tests(Inner, "test_callback_blocks")
        self.assertIn("LivelockError: test 'test_callback_blocks' ran longer than the real-time watchdog of 0.2 s: "
                      "synchronous code blocked the event loop (virtual t=", "\n".join(logs.output))
        message = error_message(failure_of(self, result, "test_callback_blocks"))
        self.assertIn("LivelockError: test 'test_callback_blocks' ran longer than the real-time watchdog of 0.2 s",
                      message)
        self.assertLess(took[0], 2.5)

    def test_select_level_watchdog_reports_a_test_that_yields_forever(self) -> None:
        # Somebody else owns SIGALRM here, so only the check at every select() can catch it.
        signal.signal(signal.SIGALRM, lambda signum, frame: None)
        self.addCleanup(signal.signal, signal.SIGALRM, self.handler)

        class Inner(AsyncTestCase):
            clock_watchdog = 0.2
            clock_horizon = 1e300  # the spin lets time pass (busy polling); here the watchdog must end it

            async def test_spins(self) -> None:
                while True:
                    await asyncio.sleep(0)

        with real_timer() as took:
            result = run_tests(Inner, "test_spins")
        signal.signal(signal.SIGALRM, self.handler)
        message = error_message(failure_of(self, result, "test_spins"))
        self.assertRegex(message, r"^asynctestkit\.LivelockError: test 'test_spins' ran longer than the "
                                  r"real-time watchdog of 0\.2 s \(virtual t=\d+\.\d{3}s, real 0\.2\d\ds\)")
        self.assertRegex(message, _src("test_spins", "await asyncio.sleep(0)") + r"  \(awaiting sleep\(\)\)")
        self.assertLess(took[0], 2.0)

    def test_a_test_that_yields_forever_never_breaks_the_loop_with_both_watchdogs_armed(self) -> None:
        # SIGALRM may land inside asyncio's own loop code; it must then leave the report to the select()
        # check instead of raising there (which used to crash the test run on 3.10).
        class Inner(AsyncTestCase):
            clock_watchdog = 0.1
            clock_horizon = math.inf  # the spin must not reach the horizon (a faster report) before the alarm

            async def test_spins(self) -> None:
                while True:
                    await asyncio.sleep(0)

        result = run_tests(Inner, *["test_spins"] * 3)
        self.assertEqual(result.errors, [])
        self.assertEqual(len(result.failures), 3)
        for _test, text in result.failures:
            self.assertIn("LivelockError: test 'test_spins' ran longer than the real-time watchdog", text)

if __name__ == "__main__":
    unittest.main()
