"""AsyncTestCase keeps IsolatedAsyncioTestCase's whole contract, and adds only what it promises.

The contract is proven with CPython's own test module for IsolatedAsyncioTestCase, shipped with every
interpreter (``test.test_unittest.test_async_case`` on 3.11+, ``unittest.test.test_async_case`` on 3.10):
its tests run here unchanged, with ``unittest.IsolatedAsyncioTestCase`` swapped for AsyncTestCase while each
of them runs.  The module is not copied; it is imported from the interpreter under test.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
import unittest
import warnings
from typing import Any
from unittest import mock

import asynctestkit
from asynctestkit import AsyncTestCase, real_time
from asynctestkit.clock._jump import JumpEngine


def _cpython_module() -> Any:
    for name in ("test.test_unittest.test_async_case", "unittest.test.test_async_case"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


_CPYTHON = _cpython_module()


class _Swapped(unittest.TestCase):
    """Runs one CPython test with unittest.IsolatedAsyncioTestCase replaced by AsyncTestCase."""

    def __init__(self, inner: unittest.TestCase) -> None:
        super().__init__("runTest")
        self._inner = inner

    def id(self) -> str:
        return f"{__name__}.CPythonContract.{self._inner.id().rsplit('.', 1)[-1]}"

    def __str__(self) -> str:
        return f"{self.id()} (CPython's test_async_case against AsyncTestCase)"

    def runTest(self) -> None:
        original = unittest.IsolatedAsyncioTestCase
        unittest.IsolatedAsyncioTestCase = _ContractCase  # type: ignore[misc]
        try:
            result = unittest.TestResult()
            self._inner.run(result)
        finally:
            unittest.IsolatedAsyncioTestCase = original  # type: ignore[misc]
        problems = result.failures + result.errors
        if problems:
            self.fail("\n".join(text for _test, text in problems))
        if result.skipped:
            self.skipTest(result.skipped[0][1])


class _ContractCase(AsyncTestCase):
    """AsyncTestCase as CPython's tests see it.

    Leak checks are turned off here only because one CPython test (test_cancellation_hanging_tasks)
    deliberately leaks a task and checks that the base class cancels it silently; tests/leaks/test_mixin.py
    covers what our check does with that same pattern.
    """

    leak_checks: Any = False


def load_tests(loader: unittest.TestLoader, standard_tests: unittest.TestSuite, pattern: str | None) -> unittest.TestSuite:
    suite = unittest.TestSuite()
    for cls in (ContractSourceTests, LoopTests, PhaseTests):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    if _CPYTHON is not None:
        for test in loader.loadTestsFromTestCase(_CPYTHON.TestAsyncCase):
            suite.addTest(_Swapped(test))
    return suite


class ContractSourceTests(unittest.TestCase):
    def test_cpython_test_async_case_module_is_available(self) -> None:
        self.assertIsNotNone(_CPYTHON, "CPython's test_async_case module is missing from this interpreter "
                                       "(install the python test package) - the contract cannot be checked")


class LoopTests(unittest.TestCase):
    def test_each_test_runs_on_a_virtual_clock_loop_that_is_current(self) -> None:
        seen: dict[str, Any] = {}

        class T(AsyncTestCase):
            def setUp(self) -> None:
                seen["setup_loop"] = asyncio.get_event_loop()

            async def test_x(self) -> None:
                seen["loop"] = asyncio.get_running_loop()

        result = unittest.TestResult()
        T("test_x").run(result)
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
        self.assertIsInstance(seen["loop"], asynctestkit.VirtualClockLoop)
        self.assertIs(seen["setup_loop"], seen["loop"])
        self.assertTrue(seen["loop"].is_closed())

    def test_debug_mode_is_off_by_default_and_can_be_turned_on(self) -> None:
        seen: list[bool] = []

        class T(AsyncTestCase):
            async def test_x(self) -> None:
                seen.append(asyncio.get_running_loop().get_debug())

        class D(T):
            asyncio_debug = True

        for cls in (T, D):
            result = unittest.TestResult()
            cls("test_x").run(result)
            self.assertTrue(result.wasSuccessful(), result.errors)
        self.assertEqual(seen, [False, True])

    def test_virtual_clock_false_gives_a_plain_real_time_loop(self) -> None:
        seen: dict[str, Any] = {}

        class T(AsyncTestCase):
            virtual_clock = False

            async def test_x(self) -> None:
                loop = asyncio.get_running_loop()
                seen["loop"] = loop
                start = time.perf_counter()
                await asyncio.sleep(0.02)
                seen["real"] = time.perf_counter() - start
                with self.assertRaisesRegex(RuntimeError, "runs on the real clock"):
                    self.clock

        result = unittest.TestResult()
        T("test_x").run(result)
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
        self.assertNotIsInstance(seen["loop"], asynctestkit.VirtualClockLoop)
        self.assertGreaterEqual(seen["real"], 0.015)

    def test_real_time_decorator_opts_out_one_test(self) -> None:
        kinds: dict[str, bool] = {}

        class T(AsyncTestCase):
            async def test_virtual(self) -> None:
                kinds["virtual"] = isinstance(asyncio.get_running_loop(), asynctestkit.VirtualClockLoop)

            @real_time
            async def test_real(self) -> None:
                kinds["real"] = isinstance(asyncio.get_running_loop(), asynctestkit.VirtualClockLoop)

        for name in ("test_virtual", "test_real"):
            result = unittest.TestResult()
            T(name).run(result)
            self.assertTrue(result.wasSuccessful(), result.errors)
        self.assertEqual(kinds, {"virtual": True, "real": False})

    def test_real_time_rejects_a_non_callable(self) -> None:
        with self.assertRaisesRegex(TypeError, "decorates a test method"):
            real_time(42)  # type: ignore[type-var]

    def test_clock_outside_a_running_test_is_a_clear_error(self) -> None:
        class T(AsyncTestCase):
            async def test_x(self) -> None:
                pass

        test = T("test_x")
        with self.assertRaisesRegex(RuntimeError, "available only while a test runs"):
            test.clock
        test.run(unittest.TestResult())
        with self.assertRaisesRegex(RuntimeError, "available only while a test runs"):
            test.clock

    @unittest.skipUnless(sys.version_info >= (3, 13), "loop_factory is public from 3.13")
    def test_a_custom_loop_factory_is_respected_and_the_clock_degrades(self) -> None:
        seen: dict[str, Any] = {}

        class T(AsyncTestCase):
            loop_factory = asyncio.SelectorEventLoop  # type: ignore[assignment]

            async def test_x(self) -> None:
                seen["loop"] = asyncio.get_running_loop()
                with self.assertRaisesRegex(RuntimeError, "available only while a test runs|real clock"):
                    self.clock

        result = unittest.TestResult()
        T("test_x").run(result)
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
        self.assertNotIsInstance(seen["loop"], asynctestkit.VirtualClockLoop)

    def test_no_deprecation_warning_from_the_machinery(self) -> None:
        class T(AsyncTestCase):
            def setUp(self) -> None:
                asyncio.get_event_loop()

            async def test_x(self) -> None:
                await asyncio.sleep(1)

        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            result = unittest.TestResult()
            T("test_x").run(result)
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)

    def test_hang_reports_show_the_phase_and_keep_teardown_running(self) -> None:
        events: list[str] = []

        class T(AsyncTestCase):
            async def asyncSetUp(self) -> None:
                self.addAsyncCleanup(self.cleanup)

            async def cleanup(self) -> None:
                events.append("cleanup")

            async def asyncTearDown(self) -> None:
                events.append("asyncTearDown")

            async def test_x(self) -> None:
                await asyncio.Event().wait()

        result = unittest.TestResult()
        T("test_x").run(result)
        self.assertEqual(len(result.failures), 1, result.errors)
        self.assertIn("DeadlockError: test 'test_x' can never finish", result.failures[0][1])
        self.assertEqual(events, ["asyncTearDown", "cleanup"])


class PhaseTests(unittest.TestCase):
    """The clock is told about every async part of a test, from outside the loop (see case.py "phases")."""

    def run_case(self, case: unittest.TestCase) -> unittest.TestResult:
        entered: list[tuple[str, Any]] = []
        exits: list[None] = []
        enter, leave = JumpEngine.enter_phase, JumpEngine.end_phase

        def spy_enter(engine: JumpEngine, task: Any, phase: Any) -> None:
            entered.append((phase.label, task))
            enter(engine, task, phase)

        def spy_exit(engine: JumpEngine) -> Any:
            exits.append(None)
            return leave(engine)

        result = unittest.TestResult()
        with mock.patch.object(JumpEngine, "enter_phase", spy_enter), \
                mock.patch.object(JumpEngine, "end_phase", spy_exit):
            case.run(result)
        self.entered, self.exits = entered, exits
        return result

    def test_enter_and_exit_phase_frame_every_async_part_with_the_task_that_runs_it(self) -> None:
        seen: list[tuple[str, Any]] = []

        class T(AsyncTestCase):
            leak_checks = "off"

            def note(self, part: str) -> None:
                seen.append((part, asyncio.current_task() if part.startswith("async") else None))
                if part.startswith("async"):
                    self.assertIs(self.clock._phase_task, asyncio.current_task())

            def setUp(self) -> None:
                self.note("sync setUp")

            async def asyncSetUp(self) -> None:
                self.addCleanup(self.note, "sync cleanup")
                self.addAsyncCleanup(self.cleanup)
                self.note("async asyncSetUp")

            async def test_x(self) -> None:
                await asyncio.sleep(10)
                self.note("async test")

            async def asyncTearDown(self) -> None:
                self.note("async asyncTearDown")

            def tearDown(self) -> None:
                self.note("sync tearDown")

            async def cleanup(self) -> None:
                self.note("async cleanup")

        result = self.run_case(T("test_x"))
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
        self.assertEqual([label for label, _ in self.entered],
                         [f"{T.asyncSetUp.__qualname__} of test 'test_x'", "test 'test_x'",
                          f"{T.asyncTearDown.__qualname__} of test 'test_x'",
                          f"{T.cleanup.__qualname__} of test 'test_x'"])
        self.assertEqual(len(self.exits), len(self.entered))
        async_parts = [task for part, task in seen if part.startswith("async")]
        self.assertEqual([task for _, task in self.entered], async_parts)
        if sys.version_info >= (3, 11):  # one task per part; 3.10 runs every part in one runner task
            self.assertEqual(len({id(task) for task in async_parts}), 4)
        self.assertEqual([part for part, _ in seen],
                         ["sync setUp", "async asyncSetUp", "async test", "async asyncTearDown", "sync tearDown",
                          "async cleanup", "sync cleanup"])

    def test_a_task_created_in_sync_setup_is_not_taken_for_the_phase(self) -> None:
        class T(AsyncTestCase):
            def setUp(self) -> None:
                self.early = asyncio.get_event_loop().create_task(asyncio.sleep(1))

            async def asyncSetUp(self) -> None:
                self.assertIsNot(self.clock._phase_task, self.early)
                self.assertIs(self.clock._phase_task, asyncio.current_task())
                await self.early

            async def test_x(self) -> None:
                self.assertIs(self.clock._phase_task, asyncio.current_task())

        result = self.run_case(T("test_x"))
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)

    def test_a_synchronous_test_method_enters_no_phase_and_leaves_no_claim_behind(self) -> None:
        loops: list[Any] = []

        class T(AsyncTestCase):
            def test_sync(self) -> None:
                loops.append(self._atk_loop)

        result = self.run_case(T("test_sync"))
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
        self.assertEqual([label for label, _ in self.entered],  # the inherited asyncSetUp/asyncTearDown only
                         ["IsolatedAsyncioTestCase.asyncSetUp of test 'test_sync'",
                          "IsolatedAsyncioTestCase.asyncTearDown of test 'test_sync'"])
        self.assertEqual(len(self.exits), 2)
        claim = loops[0]._atk.phase_claim  # the test's claim stays with its closed loop, holding nothing of the test
        self.assertIsNone(claim.owner)
        self.assertIsNone(claim.func)

    def test_one_claim_serves_every_phase_and_holds_nothing_of_the_test_between_phases(self) -> None:
        claims: list[Any] = []

        class T(AsyncTestCase):
            leak_checks = "off"

            async def asyncSetUp(self) -> None:
                claims.append(self._atk_claim)

            async def test_x(self) -> None:
                claims.append(self._atk_claim)

            async def asyncTearDown(self) -> None:
                claims.append(self._atk_claim)

        result = self.run_case(T("test_x"))
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
        self.assertEqual(len(self.entered), 3)
        self.assertEqual(len({id(claim) for claim in claims}), 1, "a claim was built per phase")
        self.assertIsNone(claims[0].owner)  # let go of the test case when its last phase ended
        self.assertIsNone(claims[0].func)

    def test_a_hang_in_async_setup_fails_it_and_the_cleanups_still_run(self) -> None:
        events: list[str] = []

        class T(AsyncTestCase):
            async def asyncSetUp(self) -> None:
                self.addAsyncCleanup(self.cleanup)
                await asyncio.Event().wait()

            async def cleanup(self) -> None:
                events.append("cleanup")

            async def test_x(self) -> None:
                events.append("test")  # never runs

        result = self.run_case(T("test_x"))
        self.assertEqual(len(result.failures), 1, result.errors)
        text = result.failures[0][1]
        self.assertIn(f"DeadlockError: {T.asyncSetUp.__qualname__} of test 'test_x' can never finish", text)
        self.assertIn("in asyncSetUp: await asyncio.Event().wait()", text)
        self.assertEqual(events, ["cleanup"])

    def test_a_hang_in_one_cleanup_fails_the_test_and_the_next_cleanup_still_runs(self) -> None:
        events: list[str] = []

        class T(AsyncTestCase):
            async def asyncSetUp(self) -> None:
                self.addAsyncCleanup(self.last)
                self.addAsyncCleanup(self.stuck)

            async def stuck(self) -> None:
                await asyncio.Event().wait()

            async def last(self) -> None:
                events.append("last cleanup")

            async def test_x(self) -> None:
                events.append("test")

        result = self.run_case(T("test_x"))
        self.assertEqual(len(result.failures), 1, result.errors)
        self.assertIn(f"DeadlockError: {T.stuck.__qualname__} of test 'test_x' can never finish",
                      result.failures[0][1])
        self.assertEqual(events, ["test", "last cleanup"])

    def test_an_exception_raised_in_reaction_to_the_report_is_chained_under_it(self) -> None:
        class T(AsyncTestCase):
            async def test_x(self) -> None:
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    raise RuntimeError("cleanup went wrong") from None

        result = self.run_case(T("test_x"))
        self.assertEqual(len(result.failures), 1, result.errors)
        text = result.failures[0][1]
        self.assertIn("RuntimeError: cleanup went wrong", text)
        self.assertIn("The above exception was the direct cause of the following exception", text)
        self.assertLess(text.index("RuntimeError: cleanup went wrong"), text.index("DeadlockError: test 'test_x'"))

    def test_do_cleanups_after_run_still_calls_a_sync_cleanup(self) -> None:
        if sys.version_info < (3, 11):
            self.skipTest("3.10's IsolatedAsyncioTestCase cannot run cleanups after run() either")
        calls: list[int] = []

        class T(AsyncTestCase):
            async def test_x(self) -> None:
                pass

        case = T("test_x")
        result = unittest.TestResult()
        case.run(result)
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
        case.addCleanup(calls.append, 1)
        case.doCleanups()  # the runner is closed now: no phase, the base class calls it
        self.assertEqual(calls, [1])

    def test_a_returned_value_warns_at_the_caller_of_run_as_unittest_does(self) -> None:
        if sys.version_info < (3, 11):
            self.skipTest("IsolatedAsyncioTestCase warns about returned values from 3.11 on")

        class T(AsyncTestCase):
            async def test_x(self) -> int:
                return 1

        with self.assertWarns(DeprecationWarning) as cm:
            T("test_x").run(unittest.TestResult())
        self.assertIn("It is deprecated to return a value that is not None from a test case", str(cm.warning))
        self.assertEqual(cm.filename, __file__)


    @unittest.skipUnless(sys.version_info >= (3, 13), "loop_factory is public from 3.13")
    def test_a_custom_loop_factory_loop_runs_in_the_asyncio_debug_mode_of_the_class(self) -> None:
        seen: list[bool] = []

        class T(AsyncTestCase):
            loop_factory = asyncio.SelectorEventLoop  # type: ignore[assignment]

            async def asyncSetUp(self) -> None:
                seen.append(asyncio.get_running_loop().get_debug())

            async def test_x(self) -> None:
                seen.append(asyncio.get_running_loop().get_debug())

        class D(T):
            asyncio_debug = True

        for cls in (T, D):
            result = unittest.TestResult()
            cls("test_x").run(result)
            self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
        self.assertEqual(seen, [False, False, True, True])


class PhaseCostTests(unittest.TestCase):
    """Structural guards of the per-phase cost (issue 15): what a passing test never builds."""

    def test_a_passing_test_never_formats_a_phase_label_and_a_hang_still_names_its_phase(self) -> None:
        labels: list[str] = []
        original = AsyncTestCase._atk_phase_label

        def counting(case: AsyncTestCase, func: object) -> str:
            label = original(case, func)
            labels.append(label)
            return label

        class T(AsyncTestCase):
            async def asyncSetUp(self) -> None:
                await asyncio.sleep(1)

            async def test_x(self) -> None:
                await asyncio.sleep(1)

            async def test_hangs(self) -> None:
                await asyncio.Event().wait()

        with mock.patch.object(AsyncTestCase, "_atk_phase_label", counting):
            result = unittest.TestResult()
            T("test_x").run(result)
            self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
            self.assertEqual(labels, [])  # formatted only when a report needs it
            T("test_hangs").run(result)
        self.assertEqual(len(result.failures), 1, result.errors)
        self.assertIn("DeadlockError: test 'test_hangs' can never finish", result.failures[0][1])
        self.assertIn("test 'test_hangs'", labels)


    def test_the_runner_sets_no_debug_mode_on_the_test_loop_and_the_framework_tasks_take_no_walk(self) -> None:
        from asynctestkit.clock import _loop

        set_debug: list[bool] = []
        walked: list[object] = []
        original_set_debug, original_record = asynctestkit.VirtualClockLoop.set_debug, _loop._record_task

        def counting_set_debug(loop: Any, enabled: bool) -> None:
            set_debug.append(enabled)
            original_set_debug(loop, enabled)

        def counting_record(sites: Any, task: Any, coro: Any, frame: Any, code: Any) -> None:
            walked.append(coro)
            original_record(sites, task, coro, frame, code)

        class T(AsyncTestCase):
            async def test_x(self) -> None:
                await asyncio.sleep(0)

        with mock.patch.object(asynctestkit.VirtualClockLoop, "set_debug", counting_set_debug), \
                mock.patch.object(_loop, "_record_task", counting_record):
            result = unittest.TestResult()
            T("test_x").run(result)
            self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
            if sys.version_info >= (3, 11):
                self.assertEqual(set_debug, [])  # the loop is built in its debug mode; the runner is given None
            if sys.version_info >= (3, 12):  # 3.10/3.11: ensure_future()'s private helper creates the runner's two
                self.assertEqual(walked, [])  # the phases' tasks and the runner's close() tasks: no frame walk
            walked.clear()
            if sys.version_info >= (3, 11):  # a plain runner's own tasks still get the user's line (the walk)
                with asyncio.Runner(loop_factory=asynctestkit.VirtualClockLoop) as runner:
                    runner.run(asyncio.sleep(0))
                self.assertEqual(len(walked), 3, walked)  # run() and close()'s two


if __name__ == "__main__":
    unittest.main()
