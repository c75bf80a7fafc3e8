"""AsyncTestCase classes as pytest sees them: every unittest outcome must map to the right pytest outcome.

Run by tests/interop/check_pytest.py, which knows the expected outcome of each test below (the ``EXPECTED``
table) and fails if pytest reports any of them differently.  Not collected by ``python -m unittest discover``.
"""

from __future__ import annotations

import asyncio
import time
import unittest

import asynctestkit

#: test name -> the outcome pytest must report for it.
EXPECTED = {
    "OutcomesTest::test_a_virtual_hour_passes_instantly": "passed",
    "OutcomesTest::test_assert_equal_failure_keeps_the_unittest_message": "failed",
    "OutcomesTest::test_error_in_an_async_test_is_a_failure": "failed",
    "OutcomesTest::test_expected_failure_is_xfailed": "xfailed",
    "OutcomesTest::test_imports_the_installed_package": "passed",
    "OutcomesTest::test_plain_assert_is_rewritten_by_pytest": "failed",
    "OutcomesTest::test_skip_decorator_on_an_async_test": "skipped",
    "OutcomesTest::test_skip_test_called_after_an_await": "skipped",
    "OutcomesTest::test_sync_test_in_an_async_case_passes": "passed",
    "OutcomesTest::test_unexpected_success_is_a_failure": "failed",
    "FailingSetUpTest::test_never_runs_because_asyncSetUp_fails": "failed",
    "SkippedClassTest::test_in_a_skipped_class": "skipped",
}


class OutcomesTest(asynctestkit.AsyncTestCase):
    async def asyncSetUp(self) -> None:
        self.started = asyncio.get_running_loop().time()

    async def test_a_virtual_hour_passes_instantly(self) -> None:
        real = time.perf_counter()
        await asyncio.sleep(3600)
        self.assertEqual(self.clock.elapsed(), 3600)
        self.assertIsInstance(asyncio.get_running_loop(), asynctestkit.VirtualClockLoop)
        self.assertLess(time.perf_counter() - real, 5)

    def test_sync_test_in_an_async_case_passes(self) -> None:
        self.assertEqual(self.started, 0.0)

    def test_imports_the_installed_package(self) -> None:
        self.assertIn("site-packages", asynctestkit.__file__)

    async def test_assert_equal_failure_keeps_the_unittest_message(self) -> None:
        await asyncio.sleep(1)
        self.assertEqual("expected-value", "actual-value", msg="custom message from the test")

    async def test_plain_assert_is_rewritten_by_pytest(self) -> None:
        answer = 41
        await asyncio.sleep(1)
        assert answer == 42

    async def test_error_in_an_async_test_is_a_failure(self) -> None:
        await asyncio.sleep(1)
        raise ValueError("boom from an async test")

    @unittest.skip("skipped by the decorator")
    async def test_skip_decorator_on_an_async_test(self) -> None:
        raise AssertionError("a skipped test must not run")

    async def test_skip_test_called_after_an_await(self) -> None:
        await asyncio.sleep(5)
        self.skipTest("skipped at virtual t=5")

    @unittest.expectedFailure
    async def test_expected_failure_is_xfailed(self) -> None:
        await asyncio.sleep(1)
        self.fail("fails as expected")

    @unittest.expectedFailure
    async def test_unexpected_success_is_a_failure(self) -> None:
        await asyncio.sleep(1)


class FailingSetUpTest(asynctestkit.AsyncTestCase):
    async def asyncSetUp(self) -> None:
        await asyncio.sleep(1)
        raise RuntimeError("asyncSetUp failed on purpose")

    async def test_never_runs_because_asyncSetUp_fails(self) -> None:
        raise AssertionError("the test body must not run when asyncSetUp fails")


@unittest.skip("the whole class is skipped")
class SkippedClassTest(asynctestkit.AsyncTestCase):
    async def test_in_a_skipped_class(self) -> None:
        raise AssertionError("a test of a skipped class must not run")
