"""The assertion mixin as a whole: adoption on any IsolatedAsyncioTestCase, unittest integration, and the
shared machinery (argument checks, the block forms, the loop observer).  Each theme has its own file:
test_assert_timing, test_assert_cancel, test_assert_fanout, test_assert_progress, test_groupmatch,
test_recorder."""

from __future__ import annotations

import asyncio
import gc
import sys
import unittest
import warnings

import asynctestkit
from asynctestkit import AsyncAssertionsMixin, AsyncTestCase, _compat
from asynctestkit._waits import until_idle, wait_until
from tests.assertion_support import is_closed, sleeper


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

    def test_block_never_awaited_warns_and_closes_the_coroutine(self) -> None:
        class Legacy(AsyncAssertionsMixin, unittest.IsolatedAsyncioTestCase):
            def runTest(self) -> None:
                pass

        coro = sleeper(1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Legacy().assertCompletesWithin(1, coro)
            gc.collect()
        self.assertTrue(is_closed(coro))
        self.assertEqual([str(w.message) for w in caught if w.category is RuntimeWarning],
                         ["assertCompletesWithin() was never awaited or entered: write `await "
                          "self.assertCompletesWithin(...)` or `async with self.assertCompletesWithin(...):`"])


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
