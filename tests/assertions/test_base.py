"""The assertion mixin as a whole: adoption on any IsolatedAsyncioTestCase, unittest integration, and the
shared machinery (argument checks, the block forms, the loop observer).  Each theme has its own file in
this package: test_timing, test_cancel, test_fanout, test_progress, test_groupmatch, test_recorder."""

from __future__ import annotations

import asyncio
import gc
import sys
import unittest
import warnings
from collections.abc import Callable
from typing import Any

import asynctestkit
from asynctestkit import AsyncAssertionsMixin, AsyncTestCase, _compat
from asynctestkit.assertions._waits import until_idle, wait_until
from tests.assertions._assertion_support import is_closed, sleeper


def run_inner(case_class: type[unittest.TestCase], name: str) -> unittest.TestResult:
    result = unittest.TestResult()
    case_class(name).run(result)
    return result


class AdoptionTests(unittest.TestCase):
    def test_public_names(self) -> None:
        for name in ("AsyncAssertionsMixin", "EventRecorder", "ExceptionMatch", "GroupMatch"):
            self.assertIn(name, asynctestkit.__all__)
        self.assertEqual(asynctestkit.__all__, sorted(asynctestkit.__all__))
        self.assertTrue(issubclass(AsyncTestCase, AsyncAssertionsMixin))

    def test_failure_on_a_plain_isolated_asyncio_test_case_is_a_failure_not_an_error(self) -> None:
        class Legacy(AsyncAssertionsMixin, unittest.IsolatedAsyncioTestCase):
            async def test_slow(self) -> None:
                await self.assertCompletesWithin(0.01, sleeper(10))

        result = run_inner(Legacy, "test_slow")
        self.assertEqual(len(result.failures), 1, result.errors)
        text = result.failures[0][1]
        self.assertIn("AssertionError: sleeper() did not complete within 0.01 s of loop time", text)
        self.assertNotIn("asynctestkit/_block.py", text)  # our frames are hidden like unittest's own

    def test_failure_on_async_test_case_is_a_failure(self) -> None:
        class Modern(AsyncTestCase):
            async def test_slow(self) -> None:
                await self.assertCompletesWithin(5, sleeper(3600))

        result = run_inner(Modern, "test_slow")
        self.assertEqual(len(result.failures), 1, result.errors)
        self.assertIn("sleeper() did not complete within 5 s of virtual time: cancelled at virtual t=5.000s",
                      result.failures[0][1])

    @unittest.skipIf(sys.version_info >= (3, 11), "3.10 only")
    def test_version_gated_assertion_is_a_skip_with_its_reason_on_310(self) -> None:
        class Modern(AsyncTestCase):
            async def test_group(self) -> None:
                async with self.assertRaisesGroup(ValueError):
                    pass

        result = run_inner(Modern, "test_group")
        self.assertEqual(len(result.skipped), 1)
        self.assertIn("needs Python 3.11+", result.skipped[0][1])

    def test_used_outside_a_running_loop(self) -> None:
        class Legacy(AsyncAssertionsMixin, unittest.IsolatedAsyncioTestCase):
            def runTest(self) -> None:
                pass

        coro = sleeper(1)
        with self.assertRaisesRegex(RuntimeError, r"assertTakes\(\) must be used inside an async test"):
            Legacy().assertTakes(1, coro)
        self.assertTrue(is_closed(coro))

    def test_block_made_outside_a_test_run_warns_when_dropped_and_closes_the_coroutine(self) -> None:
        class Legacy(AsyncAssertionsMixin, unittest.IsolatedAsyncioTestCase):
            def runTest(self) -> None:
                pass

        coro = sleeper(1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Legacy().assertCompletesWithin(1, coro)  # no test runs, so no cleanup will look at it
            gc.collect()
        self.assertTrue(is_closed(coro))
        self.assertEqual([str(w.message) for w in caught if w.category is RuntimeWarning],
                         ["assertCompletesWithin(...) was never awaited: write `await "
                          "self.assertCompletesWithin(...)`"])


#: Every assertion that must be awaited or entered: (name, how it is spelled, a call that forgets it).
#: Each call makes a fresh coroutine of ``sleeper`` where it takes one, to prove it is closed, not leaked.
FORGOTTEN: list[tuple[str, str, Callable[[Any, list[Any]], object]]] = [
    ("assertCompletesWithin", "await", lambda t, made: t.assertCompletesWithin(5, _coro(made, 0))),
    ("assertCompletesWithin", "async with", lambda t, made: t.assertCompletesWithin(5)),
    ("assertDoesNotCompleteWithin", "await", lambda t, made: t.assertDoesNotCompleteWithin(1, _coro(made, 9))),
    ("assertDoesNotCompleteWithin", "async with", lambda t, made: t.assertDoesNotCompleteWithin(1)),
    ("assertTakes", "await", lambda t, made: t.assertTakes(1, _coro(made, 1), tolerance=0.5)),
    ("assertTakesAtLeast", "await", lambda t, made: t.assertTakesAtLeast(1, _coro(made, 1))),
    ("assertTakesAtMost", "async with", lambda t, made: t.assertTakesAtMost(1)),
    ("assertTimeoutPropagates", "await", lambda t, made: t.assertTimeoutPropagates(_coro(made, 0))),
    ("assertTaskCancelled", "await", lambda t, made: t.assertTaskCancelled(_cancelled_future())),
    ("assertCancellationPropagates", "await", lambda t, made: t.assertCancellationPropagates(_coro(made, 9))),
    ("assertCleanupOnCancel", "await", lambda t, made: t.assertCleanupOnCancel(_coro(made, 9), lambda: True)),
    ("assertShielded", "await", lambda t, made: t.assertShielded(_coro(made, 9), lambda: True)),
    ("assertGatherRaises", "await", lambda t, made: t.assertGatherRaises(ValueError, [_coro(made, 0)])),
    ("assertGatherResults", "await", lambda t, made: t.assertGatherResults([_coro(made, 0)], [None])),
    ("assertGatherCancelsChildren", "await", lambda t, made: t.assertGatherCancelsChildren([_coro(made, 9)])),
    ("assertCompletesWithinIterations", "await",
     lambda t, made: t.assertCompletesWithinIterations(5, _coro(made, 0))),
    ("assertCompletesWithoutIdle", "async with", lambda t, made: t.assertCompletesWithoutIdle()),
    ("waitUntilOthersBlocked", "await", lambda t, made: t.waitUntilOthersBlocked()),
]
if sys.version_info >= (3, 11):
    FORGOTTEN += [
        ("assertCancellingBalanced", "await", lambda t, made: t.assertCancellingBalanced(_coro(made, 0))),
        ("assertTaskGroupRaises", "await", lambda t, made: t.assertTaskGroupRaises(ValueError, [_coro(made, 0)])),
        ("assertRaisesGroup", "await", lambda t, made: t.assertRaisesGroup(ValueError, _coro(made, 0))),
        ("assertRaisesGroup", "with", lambda t, made: t.assertRaisesGroup(ValueError)),
    ]


def _coro(made: list[Any], seconds: float) -> Any:
    coro = sleeper(seconds)
    made.append(coro)
    return coro


def _cancelled_future() -> asyncio.Future[Any]:
    fut = asyncio.get_running_loop().create_future()
    fut.cancel()
    return fut


def _spelling(name: str, form: str) -> str:
    if form == "with":
        return f"`with self.{name}(...):` or `async with self.{name}(...):`"
    return f"`await self.{name}(...)`" if form == "await" else f"`async with self.{name}(...):`"


class _Leaky(AsyncTestCase):
    """AsyncTestCase with its default leak checks on."""


class _Quiet(AsyncTestCase):
    leak_checks = "off"


class _Plain(AsyncAssertionsMixin, unittest.IsolatedAsyncioTestCase):
    """The mixin on a plain IsolatedAsyncioTestCase: no leak checker, no virtual clock."""


BASES: list[type[unittest.TestCase]] = [_Leaky, _Quiet, _Plain]


def run_case(base: type[unittest.TestCase], body: Callable[[Any], Any], *, setup: Any = None,
             decorate: Any = None) -> tuple[unittest.TestResult, list[warnings.WarningMessage]]:
    """Run ``async def test_it(self): await body(self)`` on a subclass of *base*; the result and warnings."""

    async def test_it(self: Any) -> None:
        await body(self)

    namespace: dict[str, Any] = {"test_it": decorate(test_it) if decorate else test_it}
    if setup is not None:
        namespace["asyncSetUp"] = setup
    case = type("Inner", (base,), namespace)
    result = unittest.TestResult()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        case("test_it").run(result)
        gc.collect()
    return result, caught


class NeverAwaitedTests(unittest.TestCase):
    """An assertion that is never awaited or entered fails its test: nothing passes by accident."""

    def assertOnlyFailure(self, result: unittest.TestResult) -> str:
        self.assertEqual((len(result.failures), result.errors, result.skipped), (1, [], []),
                         result.failures)
        return result.failures[0][1]

    def assertNoCoroutineWarning(self, caught: list[warnings.WarningMessage]) -> None:
        self.assertEqual([str(w.message) for w in caught if "never awaited" in str(w.message)], [])

    def test_every_assertion_forgotten_fails_its_test_naming_the_spelling_and_the_line(self) -> None:
        for base in BASES:
            for name, form, call in FORGOTTEN:
                with self.subTest(base=base.__name__, assertion=name, form=form):
                    made: list[Any] = []

                    async def body(t: Any, call: Any = call, made: list[Any] = made) -> None:
                        call(t, made)

                    result, caught = run_case(base, body)
                    text = self.assertOnlyFailure(result)
                    verb = "awaited" if form == "await" else "entered"
                    self.assertIn(f"AssertionError: {name}(...) was never {verb}: write {_spelling(name, form)}; "
                                  f"it checked nothing\n  made at tests/assertions/test_base.py:", text)
                    self.assertRegex(text, rf"made at tests/assertions/test_base.py:\d+ in <lambda>: .*t\.{name}\(")
                    self.assertNotIn("LeakError", text)  # the coroutine it held is closed, not a second report
                    self.assertTrue(all(is_closed(c) for c in made))
                    self.assertNoCoroutineWarning(caught)

    def test_forgotten_await_shows_the_users_line_in_the_test(self) -> None:
        async def body(t: Any) -> None:
            t.assertTakesAtMost(10, asyncio.sleep(3))  # the line the failure names

        for base in BASES:
            with self.subTest(base=base.__name__):
                result, _ = run_case(base, body)
                text = self.assertOnlyFailure(result)
                self.assertIn("assertTakesAtMost(...) was never awaited: write `await self.assertTakesAtMost(...)`",
                              text)
                self.assertRegex(text, r"made at tests/assertions/test_base.py:\d+ in body: "
                                       r"t.assertTakesAtMost\(10, asyncio.sleep\(3\)\)  # the line the failure names")

    def test_several_forgotten_assertions_are_one_failure_listing_each(self) -> None:
        async def body(t: Any) -> None:
            t.assertCompletesWithin(5, sleeper(0))
            t.assertGatherRaises(ValueError, [sleeper(0)])

        result, caught = run_case(_Leaky, body)
        lines = self.assertOnlyFailure(result).splitlines()
        start = lines.index("AssertionError: 2 assertions were never awaited or entered; they checked nothing:")
        self.assertTrue(lines[start + 1].startswith("  assertCompletesWithin(...) was never awaited"))
        self.assertTrue(lines[start + 3].startswith("  assertGatherRaises(...) was never awaited"))
        self.assertNoCoroutineWarning(caught)

    def test_a_test_that_already_failed_gets_no_second_failure(self) -> None:
        async def body(t: Any) -> None:
            t.assertTakesAtMost(10, sleeper(3))
            t.fail("the test's own failure")

        for base in BASES:
            with self.subTest(base=base.__name__):
                result, caught = run_case(base, body)
                text = self.assertOnlyFailure(result)
                self.assertIn("AssertionError: the test's own failure", text)
                self.assertNotIn("never awaited", text)
                self.assertNoCoroutineWarning(caught)

    def test_an_erroring_or_skipped_test_keeps_its_outcome(self) -> None:
        async def error(t: Any) -> None:
            t.assertCompletesWithin(5, sleeper(0))
            raise KeyError("own error")

        async def skip(t: Any) -> None:
            t.assertCompletesWithin(5, sleeper(0))
            raise unittest.SkipTest("not today")

        for base in BASES:
            with self.subTest(base=base.__name__):
                result, _ = run_case(base, error)
                self.assertEqual((len(result.errors), result.failures), (1, []))
                self.assertIn("KeyError: 'own error'", result.errors[0][1])
                result, _ = run_case(base, skip)
                self.assertEqual((result.skipped[0][1], result.failures, result.errors), ("not today", [], []))

    def test_a_runner_whose_result_keeps_no_lists_gets_one_failure_too(self) -> None:
        class Recorder:
            """A result like third-party runners pass: the calls, no failures/errors lists."""

            def __init__(self) -> None:
                self.calls: list[tuple[str, str]] = []

            def startTest(self, test: object) -> None: ...
            def stopTest(self, test: object) -> None: ...
            def addDuration(self, test: object, elapsed: float) -> None: ...
            def addSuccess(self, test: object) -> None:
                self.calls.append(("success", ""))

            def addFailure(self, test: object, err: Any) -> None:
                self.calls.append(("failure", str(err[1])))

            def addError(self, test: object, err: Any) -> None:
                self.calls.append(("error", str(err[1])))

        class Inner(_Plain):
            async def test_forgot(self) -> None:
                self.assertCompletesWithin(5, sleeper(0))

            async def test_forgot_and_failed(self) -> None:
                self.assertCompletesWithin(5, sleeper(0))
                self.fail("own")

        for name, expected in (("test_forgot", ["failure"]), ("test_forgot_and_failed", ["failure"])):
            with self.subTest(name):
                result = Recorder()
                Inner(name).run(result)  # type: ignore[arg-type]
                self.assertEqual([kind for kind, _ in result.calls], expected, result.calls)
                self.assertIn("own" if name.endswith("failed") else "was never awaited", result.calls[0][1])

    def test_a_failed_subtest_is_not_failed_twice(self) -> None:
        async def body(t: Any) -> None:
            with t.subTest(i=1):
                t.assertCompletesWithin(5, sleeper(0))
                t.fail("sub failure")

        result, _ = run_case(_Plain, body)
        self.assertEqual(len(result.failures), 1, result.failures)
        self.assertIn("sub failure", result.failures[0][1])

    def test_awaited_entered_and_reused_in_setup_are_no_false_positives(self) -> None:
        async def setup(t: Any) -> None:
            await t.assertCompletesWithin(5, sleeper(0))

        async def body(t: Any) -> None:
            await t.assertCompletesWithin(5, sleeper(0))
            async with t.assertTakesAtMost(5):
                await asyncio.sleep(0)
            self_made = t.assertTakesAtLeast(0)  # kept in a variable, then entered: fine
            async with self_made:
                pass
            await t.assertGatherResults([sleeper(0)], [None])
            await t.waitUntilOthersBlocked()
            for _ in range(3):  # one cleanup, however many assertions
                await t.assertCompletesWithinIterations(5, sleeper(0))

        for base in BASES:
            with self.subTest(base=base.__name__):
                result, caught = run_case(base, body, setup=setup)
                self.assertEqual((result.failures, result.errors, result.testsRun), ([], [], 1))
                self.assertNoCoroutineWarning(caught)

    def test_a_misused_assertion_errors_once_without_a_never_awaited_failure(self) -> None:
        async def body(t: Any) -> None:
            with t.assertTakesAtMost(5):  # plain `with` on an async-only block
                pass

        for base in BASES:
            with self.subTest(base=base.__name__):
                result, _ = run_case(base, body)
                self.assertEqual((len(result.errors), result.failures), (1, []))
                self.assertIn("TypeError: assertTakesAtMost() measures the block on the event loop, so it needs "
                              "`async with`: write `async with self.assertTakesAtMost(...):`", result.errors[0][1])
                self.assertNotIn("never", result.errors[0][1])


class BlockFormTests(AsyncTestCase):
    """The forms of each assertion: the wrong one says which one to write."""

    async def test_plain_with_on_an_async_block_says_use_async_with(self) -> None:
        for name in ("assertCompletesWithin", "assertTakes", "assertCompletesWithoutIdle",
                     "assertDoesNotCompleteWithin", "assertTimeoutPropagates"):
            with self.subTest(name):
                block = getattr(self, name)(*([5] if name not in ("assertCompletesWithoutIdle",
                                                                  "assertTimeoutPropagates") else []))
                with self.assertRaises(TypeError) as cm:
                    with block:
                        pass
                self.assertIn(f"write `async with self.{name}(...):`", str(cm.exception))
                self.assertNotIn("context manager protocol", str(cm.exception))

    async def test_with_on_an_awaited_only_assertion_says_await(self) -> None:
        coro = sleeper(0)
        call = self.assertGatherResults([coro], [None])
        with self.assertRaisesRegex(TypeError, r"^assertGatherResults\(\) is not a context manager: write "
                                               r"`await self.assertGatherResults\(...\)`$"):
            with call:  # type: ignore[attr-defined]
                pass
        self.assertTrue(is_closed(coro))
        with self.assertRaisesRegex(TypeError, r"write `await self.waitUntilOthersBlocked\(...\)`"):
            async with self.waitUntilOthersBlocked():  # type: ignore[attr-defined]
                pass

    async def test_an_assertion_call_awaited_twice_is_refused(self) -> None:
        call = self.assertGatherResults([sleeper(0)], [None])
        await call
        with self.assertRaisesRegex(RuntimeError, r"assertGatherResults\(...\) was already awaited"):
            await call

    async def test_an_assertion_call_runs_as_a_task_like_the_coroutine_it_used_to_be(self) -> None:
        task = asyncio.create_task(self.assertGatherResults([sleeper(1, "a")], ["a"]))
        self.assertEqual(await task, ["a"])
        both = await asyncio.gather(self.assertGatherResults([sleeper(1, 1)], [1]),
                                    self.assertCancellationPropagates(sleeper(10)))
        self.assertEqual(both, [[1], None])
        self.assertEqual(await asyncio.wait_for(self.assertGatherResults([sleeper(1, 2)], [2]), 5), [2])
        failing = asyncio.create_task(self.assertGatherResults([sleeper(1, 2)], [3]))
        with self.assertRaisesRegex(AssertionError, r"result 0 differs: expected 3, got 2"):
            await failing

    async def test_closing_an_assertion_call_discards_it_without_a_failure(self) -> None:
        coro = sleeper(0)
        self.assertGatherResults([coro], [None]).close()  # on purpose: not a forgotten await
        self.assertTrue(is_closed(coro))

    async def test_public_types_are_what_the_assertions_return(self) -> None:
        call = self.assertGatherResults([sleeper(0)], [None])
        self.assertIsInstance(call, asynctestkit.AssertionCall)
        await call
        block = self.assertCompletesWithin(5)
        self.assertIsInstance(block, asynctestkit.Block)
        async with block:
            pass


class ObserverTests(unittest.IsolatedAsyncioTestCase):
    async def test_observers_nest_and_restore_select_exactly(self) -> None:
        loop = asyncio.get_running_loop()
        selector = loop._selector  # type: ignore[attr-defined]
        original = selector.select
        seen: list[object] = []
        remove_a = _compat.observe_selects(loop, lambda t: seen.append(("a", t)) is None and False)
        remove_b = _compat.observe_selects(loop, lambda t: seen.append(("b", t)) is None and False)
        await asyncio.sleep(0)
        self.assertIn(("a", 0), seen)
        self.assertIn(("b", 0), seen)
        remove_a()
        self.assertIn("select", vars(selector))
        remove_b()
        self.assertNotIn("select", vars(selector))
        self.assertEqual(selector.select, original)

    async def test_loop_without_a_selector_is_refused(self) -> None:
        with self.assertRaisesRegex(TypeError, "needs a selector event loop"):
            _compat.observe_selects(object(), lambda t: False)  # type: ignore[arg-type]

    async def test_until_idle_and_wait_until(self) -> None:
        self.assertTrue(await until_idle(10))
        with self.assertRaises(ZeroDivisionError):
            await wait_until(lambda: 1 / 0, 1)  # type: ignore[arg-type,return-value]
        flag: list[int] = []
        asyncio.get_running_loop().call_later(0.01, flag.append, 1)
        self.assertTrue(await wait_until(lambda: bool(flag), 5))
        self.assertFalse(await wait_until(lambda: False, 0.01))


if __name__ == "__main__":
    unittest.main()
