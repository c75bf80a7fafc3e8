"""No test can take the run down: every run finishes with a summary, every test is reported once, and
SystemExit, KeyboardInterrupt and Ctrl-C behave as with plain ``unittest.IsolatedAsyncioTestCase``.

Whole-run properties are checked on real runs: a small suite is written to a temporary directory and run
under ``python -m unittest`` in a child process, once with ``AsyncTestCase`` and (where the standard library
class itself finishes) once with plain ``IsolatedAsyncioTestCase``; the exit status, the summary and which
tests ran must agree.  Ctrl-C is a real SIGINT sent to the child once its test has started.

The real-time watchdog is checked where its SIGALRM alarm cannot be used: a suite run outside the main
thread, SIGALRM owned by another handler (as pytest-timeout does), the watchdog changed while the test runs.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest
from pathlib import Path
from typing import Any

from asynctestkit import AsyncTestCase, LivelockError

ROOT = Path(__file__).resolve().parent.parent
PY311 = sys.version_info >= (3, 11)
_HEADER = """\
import asyncio, os, sys, time, unittest
import asynctestkit
Base = unittest.IsolatedAsyncioTestCase if os.environ.get("SUITE_BASE") == "plain" else asynctestkit.AsyncTestCase
"""


class Run:
    """The outcome of one child run: exit status and combined output."""

    def __init__(self, returncode: int | None, output: str) -> None:
        self.returncode = returncode
        self.output = output

    @property
    def summary(self) -> tuple[str | None, str | None]:
        """("Ran 2 tests", "FAILED (errors=1)") or None parts when the run printed no summary."""
        lines = self.output.splitlines()
        ran = next((line.split(" in ")[0] for line in lines if line.startswith("Ran ")), None)
        status = next((line for line in reversed(lines) if line.startswith(("OK", "FAILED"))), None)
        return ran, status

    def shape(self) -> tuple[Any, ...]:
        """What must agree with plain unittest: status, summary, markers printed by the tests."""
        markers = tuple(sorted(set(re.findall(r"MARK [a-z ]*[a-z]", self.output))))
        return self.returncode, self.summary, markers, "KeyboardInterrupt" in self.output


def _child_env(base: str) -> dict[str, str]:
    return dict(os.environ, SUITE_BASE=base, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")


def _default_sigint() -> None:  # a child started from a background job would otherwise ignore SIGINT
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_suite(body: str, *args: str, base: str = "atk", interrupt: bool = False, timeout: float = 60) -> Run:
    """Run the test module *body* under ``python -m unittest *args``; with *interrupt*, send SIGINT once the
    child prints ``MARK started``, and give it 10 s to exit (None as returncode: still running, killed)."""
    with tempfile.TemporaryDirectory() as work:
        Path(work, "suite_mod.py").write_text(_HEADER + textwrap.dedent(body), encoding="utf-8")
        child = subprocess.Popen([sys.executable, "-m", "unittest", *args, "suite_mod"], cwd=work,
                                 env=_child_env(base), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 preexec_fn=_default_sigint)
        assert child.stdout is not None
        seen: list[str] = []
        if interrupt:
            for line in child.stdout:
                seen.append(line)
                if line.startswith("MARK started"):
                    break
            time.sleep(0.3)  # inside the awaited call, not at its first line
            child.send_signal(signal.SIGINT)
            timeout = 10
        try:
            rest, _ = child.communicate(timeout=timeout)
            returncode: int | None = child.returncode
        except subprocess.TimeoutExpired:
            child.kill()
            rest, _ = child.communicate()
            returncode = None
        return Run(returncode, "".join(seen) + rest)


_SWALLOWS = """
class T(Base):
    async def test_a_swallows(self):
        for _ in range(10):
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                pass

    async def test_b_next(self):
        print("MARK b ran")
        await asyncio.sleep(1)
"""

_RAISES = """
class T(Base):
    async def test_a_raises(self):
        print("MARK a started")
        raise {exc}

    def test_b(self):
        print("MARK b ran")
"""

_REAL_WORK = """
class T(Base):
    async def test_a_waits_for_a_thread(self):
        print("MARK started")
        try:
            await asyncio.to_thread(time.sleep, 1.5)
        finally:
            print("MARK finally ran")

    def test_z_after(self):
        print("MARK z ran")
"""

_VIRTUAL_LOOP = """
class T(Base):
    clock_horizon = 1e15
    async def test_a_sleeps_forever_in_steps(self):
        print("MARK started")
        try:
            while True:
                await asyncio.sleep(0.01)
        finally:
            print("MARK finally ran")

    def test_z_after(self):
        print("MARK z ran")
"""


class WholeRunTests(unittest.TestCase):
    def assert_no_false_hang_report(self, run: Run) -> None:
        self.assertNotIn("can never finish", run.output)
        self.assertNotIn("cannot reuse already awaited coroutine", run.output)

    def test_a_deadlocked_test_swallowing_every_cancellation_fails_alone_and_the_run_finishes(self) -> None:
        run = run_suite(_SWALLOWS)
        self.assertEqual(run.summary, ("Ran 2 tests", "FAILED (failures=1)"), run.output)
        self.assertEqual(run.returncode, 1)
        self.assertEqual(run.output.count("FAIL: test_a_swallows"), 1, run.output)
        self.assertIn("asynctestkit.DeadlockError: test 'test_a_swallows' can never finish", run.output)
        self.assertIn("MARK b ran", run.output)
        self.assertNotIn("CancelledError", run.output)
        self.assertNotIn("cannot reuse already awaited coroutine", run.output)  # nothing of ours is chained

    def test_system_exit_raised_by_a_test_is_an_error_of_that_test_as_in_unittest(self) -> None:
        run = run_suite(_RAISES.format(exc="SystemExit(3)"))
        self.assertEqual(run.shape(), (1, ("Ran 2 tests", "FAILED (errors=1)"), ("MARK a started", "MARK b ran"),
                                       False), run.output)
        self.assertIn("SystemExit: 3", run.output)
        self.assert_no_false_hang_report(run)
        if PY311:  # 3.10's IsolatedAsyncioTestCase hangs here; asynctestkit behaves as 3.11+ does
            self.assertEqual(run.shape(), run_suite(_RAISES.format(exc="SystemExit(3)"), base="plain").shape())

    def test_keyboard_interrupt_raised_by_a_test_stops_the_run_as_in_unittest(self) -> None:
        run = run_suite(_RAISES.format(exc="KeyboardInterrupt()"))
        self.assertEqual(run.shape(), (-signal.SIGINT, (None, None), ("MARK a started",), True), run.output)
        self.assert_no_false_hang_report(run)
        if PY311:  # 3.10's IsolatedAsyncioTestCase hangs here; asynctestkit behaves as 3.11+ does
            plain = run_suite(_RAISES.format(exc="KeyboardInterrupt()"), base="plain")
            self.assertEqual(run.shape(), plain.shape())

    def test_ctrl_c_during_a_test_stops_the_run_as_in_unittest(self) -> None:
        run = run_suite(_REAL_WORK, interrupt=True)
        self.assertEqual(run.shape(), (-signal.SIGINT, (None, None), ("MARK finally ran", "MARK started"), True),
                         run.output)
        self.assert_no_false_hang_report(run)
        self.assertEqual(run.shape(), run_suite(_REAL_WORK, base="plain", interrupt=True).shape())

    def test_ctrl_c_with_the_catch_flag_lets_the_test_finish_and_stops_the_run_as_in_unittest(self) -> None:
        run = run_suite(_REAL_WORK, "-c", interrupt=True)
        self.assertEqual(run.shape(), (0, ("Ran 1 test", "OK"), ("MARK finally ran", "MARK started"), False),
                         run.output)
        self.assertEqual(run.shape(), run_suite(_REAL_WORK, "-c", base="plain", interrupt=True).shape())

    def test_ctrl_c_during_a_test_that_never_stops_ends_the_run_promptly(self) -> None:
        # 3.10's IsolatedAsyncioTestCase waits for this test forever; asynctestkit cancels it (its finally
        # blocks run) and says so, as 3.11+ does.
        run = run_suite(_VIRTUAL_LOOP, interrupt=True)
        self.assertIsNotNone(run.returncode, "the run was still alive 10 s after SIGINT")
        marks = ("MARK finally ran", "MARK started")
        if not PY311 and "closing the loop without it" in run.output:
            # 3.10, documented limit: a Ctrl-C landing inside asyncio's own code can lose the runner's wake-up;
            # after 5 s the loop is closed without the phase's finally blocks, and stderr says so.
            marks = ("MARK started",)
        self.assertEqual(run.shape(), (-signal.SIGINT, (None, None), marks, True), run.output)
        self.assert_no_false_hang_report(run)

    def test_a_bad_class_attribute_fails_its_module_at_import_and_the_run_goes_on(self) -> None:
        body = """
        class Bad(Base):
            clock_horizon = "x"
            async def test_x(self):
                pass

        class Good(unittest.TestCase):
            def test_y(self):
                print("MARK y ran")
        """
        with tempfile.TemporaryDirectory() as work:
            Path(work, "suite_bad.py").write_text(_HEADER + textwrap.dedent(body), encoding="utf-8")
            Path(work, "suite_good.py").write_text(_HEADER + textwrap.dedent(body).split("class Good", 1)[0]
                                                   .replace("class Bad(Base):", "class Fine(Base):")
                                                   .replace('clock_horizon = "x"', "clock_horizon = 10"),
                                                   encoding="utf-8")
            done = subprocess.run([sys.executable, "-m", "unittest", "discover", "-s", ".", "-p", "suite_*.py"],
                                  cwd=work,
                                  env=_child_env("atk"), capture_output=True, text=True, timeout=60)
        run = Run(done.returncode, done.stdout + done.stderr)
        self.assertEqual(run.summary, ("Ran 2 tests", "FAILED (errors=1)"), run.output)
        self.assertIn("TypeError: Bad.clock_horizon must be a number of seconds > 0, got str: 'x'", run.output)

    def test_a_clock_setting_broken_after_the_class_was_defined_is_an_error_of_that_test(self) -> None:
        class Late(AsyncTestCase):
            async def test_x(self) -> None:
                pass

        Late.clock_horizon = "x"  # type: ignore[assignment]  # not checked at class definition: set afterwards
        result = _run_case(Late)
        self.assertEqual((result.testsRun, len(result.errors), len(result.failures)), (1, 1, 0))
        self.assertIn("TypeError: Late: a clock_* setting was rejected when the test's loop was built: horizon "
                      "must be a number of seconds > 0, got str: 'x'", result.errors[0][1])

    def test_a_remembered_valid_setting_does_not_let_an_equal_bool_or_nan_through(self) -> None:
        # check_options remembers valid combinations (each value with its type): horizon=1 was valid, but
        # True == 1 and must still be refused; the same for a valid setting changed to NaN after the class.
        from asynctestkit import VirtualClockLoop

        VirtualClockLoop(horizon=1).close()
        with self.assertRaisesRegex(TypeError, r"^horizon must be a number of seconds > 0, got bool: True$"):
            VirtualClockLoop(horizon=True)

        class Late(AsyncTestCase):
            clock_deadlock_grace = 0.5

            async def test_x(self) -> None:
                pass

        self.assertTrue(_run_case(Late).wasSuccessful())
        Late.clock_deadlock_grace = math.nan
        result = _run_case(Late)
        self.assertEqual((result.testsRun, len(result.errors), len(result.failures)), (1, 1, 0))
        self.assertIn("ValueError: Late: a clock_* setting was rejected when the test's loop was built: "
                      "deadlock_grace must be a finite number of seconds >= 0, got nan", result.errors[0][1])


# -- the watchdog where SIGALRM cannot serve -----------------------------------------------------------------------

def _blocking_case(*, runtime_watchdog: float | None = None, class_watchdog: float | None = 60.0,
                   block: float = 0.6, then: str = "sleep0") -> type[AsyncTestCase]:
    class Blocks(AsyncTestCase):
        clock_watchdog = class_watchdog

        async def test_blocks(self) -> None:
            if runtime_watchdog is not None:
                self.clock.watchdog = runtime_watchdog
            time.sleep(block)
            if then == "sleep0":
                await asyncio.sleep(0)
            elif then == "sleep1":
                await asyncio.sleep(1)

    return Blocks


def _run_case(case: type[unittest.TestCase], *, thread: bool = False) -> unittest.TestResult:
    result = unittest.TestResult()
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(case)
    if thread:
        runner = threading.Thread(target=suite.run, args=(result,))
        runner.start()
        runner.join(30)
    else:
        suite.run(result)
    return result


class WatchdogWithoutAlarmTests(unittest.TestCase):
    def assert_overrun(self, result: unittest.TestResult, watchdog: str) -> None:
        self.assertEqual(result.testsRun, 1)
        self.assertEqual(result.errors, [])
        self.assertEqual(len(result.failures), 1, result.failures)
        text = result.failures[0][1]
        self.assertIn(LivelockError.__name__, text)
        self.assertIn(f"test 'test_blocks' ran longer than the real-time watchdog of {watchdog} s", text)

    def test_a_suite_run_outside_the_main_thread_fails_the_overrun_at_the_next_iteration(self) -> None:
        self.assert_overrun(_run_case(_blocking_case(class_watchdog=0.2), thread=True), "0.2")

    def test_a_suite_run_outside_the_main_thread_fails_an_overrun_before_a_timer_wait(self) -> None:
        self.assert_overrun(_run_case(_blocking_case(class_watchdog=0.2, then="sleep1"), thread=True), "0.2")

    def test_an_overrun_with_no_await_after_it_fails_when_the_test_returns(self) -> None:
        result = _run_case(_blocking_case(class_watchdog=0.2, then="return"), thread=True)
        self.assert_overrun(result, "0.2")

    @unittest.skipUnless(hasattr(signal, "SIGALRM"), "POSIX only")
    def test_sigalrm_owned_by_another_handler_leaves_the_select_level_check(self) -> None:
        fired: list[int] = []
        previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
        try:
            result = _run_case(_blocking_case(class_watchdog=0.2))
            self.assertIs(signal.getsignal(signal.SIGALRM).__class__, type(lambda: None))  # still theirs
        finally:
            signal.signal(signal.SIGALRM, previous)
        self.assert_overrun(result, "0.2")
        self.assertEqual(fired, [])  # their handler was never armed or fired by us

    @unittest.skipUnless(hasattr(signal, "setitimer"), "POSIX only")
    def test_a_watchdog_changed_while_the_test_runs_arms_the_alarm_for_the_new_limit(self) -> None:
        started = time.perf_counter()
        result = _run_case(_blocking_case(runtime_watchdog=0.2, block=6.0))
        self.assertLess(time.perf_counter() - started, 5.0, "the alarm did not interrupt the blocking call")
        self.assert_overrun(result, "0.2")
        self.assertIn("synchronous code blocked the event loop", result.failures[0][1])
        self.assertIn("blocked at   tests/test_robustness.py:", result.failures[0][1])

    def test_no_false_overrun_without_the_alarm_when_the_test_stays_within_the_watchdog(self) -> None:
        class Busy(AsyncTestCase):
            clock_watchdog = 5.0

            async def test_many_short_steps(self) -> None:
                for _ in range(500):
                    await asyncio.sleep(0)
                time.sleep(0.05)
                await asyncio.sleep(10)

        result = _run_case(Busy, thread=True)
        self.assertTrue(result.wasSuccessful(), result.failures + result.errors)
        self.assertEqual(result.testsRun, 1)


# -- no false deadlock when real events come late -------------------------------------------------------------

class LateExitTests(AsyncTestCase):
    async def test_awaiting_a_background_process_that_exits_after_the_grace_is_not_a_deadlock(self) -> None:
        # A loaded machine can take longer than deadlock_grace to deliver a child's exit; a task awaiting that
        # exit is waiting for something real.  A grace 5 times shorter than the exit reproduces it on any box.
        slow_exit = ("import signal, sys, time\n"
                     "signal.signal(signal.SIGTERM, lambda *a: (time.sleep(0.5), sys.exit(0)))\n"
                     "print('ready', flush=True)\n"
                     "time.sleep(60)\n")
        proc = self.clock.background(await asyncio.create_subprocess_exec(
            sys.executable, "-c", slow_exit, stdout=asyncio.subprocess.PIPE))
        assert proc.stdout is not None
        self.assertEqual(await proc.stdout.readline(), b"ready\n")
        self.clock.deadlock_grace = 0.1
        proc.terminate()
        self.assertEqual(await proc.wait(), 0)



class LateExitNegativeTests(unittest.TestCase):
    def test_a_real_deadlock_next_to_a_live_background_process_is_still_reported(self) -> None:
        # No false negative: the process is alive, but nothing awaits its exit.
        class Stuck(AsyncTestCase):
            clock_deadlock_grace = 0.1

            async def test_stuck(self) -> None:
                proc = self.clock.background(await asyncio.create_subprocess_exec(
                    sys.executable, "-c", "import time; time.sleep(30)"))
                self.addAsyncCleanup(proc.wait)  # cleanups run last-in first-out: kill, then wait
                self.addCleanup(proc.kill)
                await asyncio.Event().wait()

        result = _run_case(Stuck)
        self.assertEqual(len(result.failures), 1, result.failures + result.errors)
        self.assertIn("test 'test_stuck' can never finish", result.failures[0][1])


if __name__ == "__main__":
    unittest.main()
