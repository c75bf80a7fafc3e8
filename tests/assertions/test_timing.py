"""Timing assertions: assertCompletesWithin, assertDoesNotCompleteWithin, assertTakes*, assertTimeoutPropagates."""

from __future__ import annotations

import asyncio
import math
import sys
import unittest

from tests.assertions._assertion_support import Real, Support, Virtual, is_closed, sleeper


async def fetch(seconds: float, log: list[str] | None = None) -> str:
    return await sleeper(seconds, "data", log)


async def fails_after(seconds: float) -> None:
    await asyncio.sleep(seconds)
    raise ValueError("boom")


class TimingTests(Support):
    # -- assertCompletesWithin ----------------------------------------------------------------------
    async def test_completes_within_returns_the_result(self) -> None:
        self.assertEqual(await self.assertCompletesWithin(10 * self.D, fetch(self.D)), "data")
        self.assertNoOtherTasks()

    async def test_completes_within_as_a_block_measures_elapsed(self) -> None:
        async with self.assertCompletesWithin(10 * self.D) as block:
            await asyncio.sleep(self.D)
        self.assertGreaterEqual(block.elapsed, self.D * 0.5)

    async def test_completes_within_fails_names_the_line_and_cancels(self) -> None:
        log: list[str] = []
        with self.assertRaises(AssertionError) as cm:
            await self.assertCompletesWithin(self.D, fetch(100 * self.D, log))
        text = str(cm.exception)
        self.assertIn(f"fetch() did not complete within {self.D:.9g} s of ", text)
        self.assertIn("suspended at tests/assertions/_assertion_support.py", text)
        self.assertIn("await asyncio.sleep(seconds)", text)
        self.assertEqual(log, ["cleanup"])
        self.assertNoOtherTasks()

    async def test_completes_within_block_failure_names_the_block(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            async with self.assertCompletesWithin(self.D):
                await asyncio.sleep(100 * self.D)
        self.assertRegex(str(cm.exception), r"^the block at tests/assertions/test_timing.py:\d+ in "
                                            r"test_completes_within_block_failure_names_the_block did not complete")
        if sys.version_info >= (3, 11):
            self.assertEqual(asyncio.current_task().cancelling(), 0)  # type: ignore[union-attr]

    async def test_completes_within_cancels_a_task_given_on_timeout(self) -> None:
        task = asyncio.create_task(fetch(100 * self.D))
        with self.assertRaises(AssertionError):
            await self.assertCompletesWithin(self.D, task)
        self.assertTrue(task.cancelled())

    async def test_completes_within_lets_an_exception_in_time_through(self) -> None:
        with self.assertRaises(ValueError):
            await self.assertCompletesWithin(10 * self.D, fails_after(self.D))

    async def test_completes_within_outside_cancellation_still_propagates(self) -> None:
        async def guarded() -> None:
            async with self.assertCompletesWithin(100 * self.D):
                await asyncio.sleep(50 * self.D)

        task = asyncio.create_task(guarded())
        await asyncio.sleep(self.D)
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task

    async def test_msg_is_appended_with_long_message(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertCompletesWithin(self.D, fetch(100 * self.D), msg="server too slow")
        self.assertTrue(str(cm.exception).endswith(" : server too slow"), str(cm.exception))
        self.longMessage = False
        with self.assertRaises(AssertionError) as cm:
            await self.assertCompletesWithin(self.D, fetch(100 * self.D), msg="server too slow")
        self.assertEqual(str(cm.exception), "server too slow")

    # -- assertDoesNotCompleteWithin ----------------------------------------------------------------
    async def test_does_not_complete_cancels_and_awaits_it(self) -> None:
        log: list[str] = []
        self.assertIsNone(await self.assertDoesNotCompleteWithin(self.D, fetch(100 * self.D, log)))
        self.assertEqual(log, ["cleanup"])
        self.assertNoOtherTasks()

    async def test_does_not_complete_fails_when_it_returns_in_time(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertDoesNotCompleteWithin(10 * self.D, fetch(self.D))
        self.assertIn(f"fetch() completed within {10 * self.D:.9g} s of ", str(cm.exception))
        self.assertIn("it returned 'data' after", str(cm.exception))

    async def test_does_not_complete_fails_when_it_raises_in_time(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertDoesNotCompleteWithin(10 * self.D, fails_after(self.D))
        self.assertIn("it raised ValueError('boom') after", str(cm.exception))
        self.assertIsInstance(cm.exception.__cause__, ValueError)

    async def test_does_not_complete_block_form_cancels_the_block_and_passes(self) -> None:
        log: list[str] = []
        loop = asyncio.get_running_loop()
        begin = loop.time()
        async with self.assertDoesNotCompleteWithin(self.D) as block:
            await fetch(100 * self.D, log)
            log.append("not reached")
        self.assertEqual(log, ["cleanup"])  # cancelled at the limit; the code after the block runs
        self.assertGreaterEqual(loop.time() - begin, self.D * 0.5)
        self.assertIsNotNone(block.elapsed)
        if sys.version_info >= (3, 11):
            self.assertEqual(asyncio.current_task().cancelling(), 0)  # type: ignore[union-attr]
        await asyncio.sleep(0)  # the cancellation was withdrawn: the test keeps running normally

    async def test_does_not_complete_block_form_fails_when_the_block_finishes_in_time(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            async with self.assertDoesNotCompleteWithin(10 * self.D):
                await fetch(self.D)
        self.assertRegex(str(cm.exception), rf"^the block at tests/assertions/test_timing.py:\d+ in "
                                            rf"test_does_not_complete_block_form_fails_when_the_block_finishes_in_"
                                            rf"time completed within {10 * self.D:.9g} s of .* time: it returned after")
        with self.assertRaises(AssertionError) as cm:
            async with self.assertDoesNotCompleteWithin(10 * self.D):
                await fails_after(self.D)
        self.assertIn("completed within", str(cm.exception))
        self.assertIn("it raised ValueError('boom') after", str(cm.exception))
        self.assertIsInstance(cm.exception.__cause__, ValueError)

    async def test_does_not_complete_block_that_swallows_the_cancellation_fails(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            async with self.assertDoesNotCompleteWithin(self.D):
                try:
                    await asyncio.sleep(100 * self.D)
                except asyncio.CancelledError:
                    pass  # swallowed
        text = str(cm.exception)
        self.assertIn(f"did not stop when cancelled after {self.D:.9g} s of ", text)
        self.assertIn("it swallowed the CancelledError and finished anyway", text)
        if sys.version_info >= (3, 11):
            self.assertEqual(asyncio.current_task().cancelling(), 0)  # type: ignore[union-attr]

    async def test_does_not_complete_block_lets_an_outside_cancellation_through(self) -> None:
        async def guarded() -> None:
            async with self.assertDoesNotCompleteWithin(100 * self.D):
                await asyncio.sleep(200 * self.D)

        task = asyncio.create_task(guarded())
        await asyncio.sleep(self.D)
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task

    async def test_does_not_complete_misuse_of_the_forms(self) -> None:
        with self.assertRaisesRegex(TypeError, r"write `async with self.assertDoesNotCompleteWithin\(...\):`"):
            with self.assertDoesNotCompleteWithin(self.D):  # type: ignore[attr-defined]
                pass
        with self.assertRaisesRegex(TypeError, r"assertDoesNotCompleteWithin\(\) was given no awaitable, so it is "
                                               r"a context manager: write `async with "
                                               r"self.assertDoesNotCompleteWithin\(...\):`"):
            await self.assertDoesNotCompleteWithin(self.D)
        with self.assertRaisesRegex(ValueError, r"argument 'seconds' must be finite, got inf"):
            self.assertDoesNotCompleteWithin(math.inf)

    # -- assertTakes* ------------------------------------------------------------------------------
    async def test_takes_at_least_and_at_most_pass(self) -> None:
        self.assertEqual(await self.assertTakesAtLeast(self.D, fetch(self.D)), "data")
        async with self.assertTakesAtMost(50 * self.D) as block:
            await asyncio.sleep(self.D)
        self.assertIsNotNone(block.elapsed)

    async def test_takes_at_least_fails_when_too_fast(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertTakesAtLeast(50 * self.D, fetch(self.D))
        self.assertIn(f"expected at least {50 * self.D:.9g} s", str(cm.exception))

    async def test_takes_at_most_fails_when_too_slow(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            async with self.assertTakesAtMost(self.D / 4):
                await asyncio.sleep(self.D)
        self.assertIn(f"expected at most {self.D / 4:.9g} s", str(cm.exception))

    async def test_takes_does_not_judge_a_block_that_raises(self) -> None:
        with self.assertRaises(ValueError):
            await self.assertTakes(100 * self.D, fails_after(self.D), tolerance=self.D / 10)

    async def test_takes_with_tolerance(self) -> None:
        await self.assertTakes(self.D, fetch(self.D), tolerance=self.D * 10)

    # -- assertTimeoutPropagates -------------------------------------------------------------------
    async def test_timeout_propagates_through_three_layers(self) -> None:
        async def layer3() -> None:
            await asyncio.wait_for(asyncio.sleep(100 * self.D), self.D)

        async def layer2() -> None:
            await layer3()

        async def layer1() -> None:
            await layer2()

        exc = await self.assertTimeoutPropagates(layer1())
        self.assertIsInstance(exc, (TimeoutError, asyncio.TimeoutError))
        async with self.assertTimeoutPropagates() as block:
            await layer1()
        self.assertIsInstance(block.exception, (TimeoutError, asyncio.TimeoutError))

    async def test_timeout_swallowed_by_except_exception_fails(self) -> None:
        async def cached() -> str:
            try:
                return await asyncio.wait_for(fetch(100 * self.D), self.D)
            except Exception:
                return "stale"

        with self.assertRaises(AssertionError) as cm:
            await self.assertTimeoutPropagates(cached())
        self.assertIn("cached() did not raise TimeoutError (it returned 'stale')", str(cm.exception))
        self.assertIn("`except Exception:`", str(cm.exception))

    async def test_timeout_turned_into_another_exception_fails_with_both_sites(self) -> None:
        async def inner() -> None:
            await asyncio.wait_for(fetch(100 * self.D), self.D)

        async def outer() -> None:
            try:
                await inner()
            except asyncio.TimeoutError:
                raise RuntimeError("backend unavailable") from None

        with self.assertRaises(AssertionError) as cm:
            await self.assertTimeoutPropagates(outer())
        text = str(cm.exception)
        self.assertIn("outer() raised RuntimeError('backend unavailable') instead of TimeoutError", text)
        self.assertRegex(text, r"the TimeoutError raised at .* was turned into RuntimeError at "
                               r"tests/assertions/test_timing.py:\d+ in outer")

    async def test_timeout_replaced_by_an_unrelated_exception_fails(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertTimeoutPropagates(fails_after(self.D))
        self.assertIn("no TimeoutError in its __cause__/__context__ chain", str(cm.exception))

    async def test_escaping_cancellation_is_not_a_timeout(self) -> None:
        async def cancels_itself() -> None:
            asyncio.current_task().cancel()  # type: ignore[union-attr]
            await asyncio.sleep(self.D)

        with self.assertRaises(AssertionError) as cm:
            await self.assertTimeoutPropagates(cancels_itself())
        self.assertIn("raised CancelledError() instead of TimeoutError", str(cm.exception))
        self.assertIn("a cancellation escaped", str(cm.exception))

    # -- misuse ------------------------------------------------------------------------------------
    async def test_misuse_coroutine_function(self) -> None:
        with self.assertRaisesRegex(TypeError, r"argument 'aw' got the coroutine function fetch, not a "
                                               r"coroutine: call it, e\.g\. pass fetch\(\.\.\.\)"):
            self.assertCompletesWithin(1, fetch)  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, "coroutine function"):
            await self.assertDoesNotCompleteWithin(1, fetch)  # type: ignore[arg-type]

    async def test_misuse_not_awaitable(self) -> None:
        with self.assertRaisesRegex(TypeError, r"assertTakes\(\) argument 'aw' must be an awaitable .* got "
                                               r"int: 5"):
            self.assertTakes(1, 5, tolerance=1)  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, "it is callable: pass what calling it returns"):
            self.assertTimeoutPropagates(lambda: None)  # type: ignore[arg-type]

    async def test_misuse_bad_durations_close_the_coroutine(self) -> None:
        for bad, kind, text in [(-1, ValueError, "must be >= 0 seconds, got -1"),
                                (math.nan, ValueError, "is NaN: pass a number of seconds >= 0"),
                                (math.inf, ValueError, "must be finite"),
                                (True, TypeError, "must be a number of seconds"),
                                ("5", TypeError, "must be a number of seconds .* got str: '5'")]:
            with self.subTest(bad=bad):
                coro = fetch(1)
                with self.assertRaisesRegex(kind, "assertCompletesWithin\\(\\) argument 'seconds' " + text):
                    self.assertCompletesWithin(bad, coro)  # type: ignore[arg-type]
                self.assertTrue(is_closed(coro))
        coro = fetch(1)
        with self.assertRaisesRegex(ValueError, "argument 'tolerance' must be >= 0"):
            self.assertTakesAtLeast(1, coro, tolerance=-1)
        self.assertTrue(is_closed(coro))
        coro = fetch(1)
        with self.assertRaisesRegex(ValueError, "argument 'seconds' must be >= 0"):
            await self.assertDoesNotCompleteWithin(-1, coro)
        self.assertTrue(is_closed(coro))

    async def test_misuse_finished_task(self) -> None:
        task = asyncio.create_task(fetch(0))
        await task
        with self.assertRaisesRegex(ValueError, r"argument 'aw' is task '.*' \(fetch\(\)\), which has already "
                                                r"finished \(returned 'data'\): pass the coroutine itself"):
            await self.assertDoesNotCompleteWithin(1, task)

    async def test_misuse_started_coroutine(self) -> None:
        coro = fetch(self.D)
        task = asyncio.ensure_future(coro)
        await asyncio.sleep(0)
        with self.assertRaisesRegex(ValueError, "a coroutine that was already started"):
            self.assertCompletesWithin(1, coro)
        await task

    async def test_misuse_await_without_awaitable_and_block_with_one(self) -> None:
        with self.assertRaisesRegex(TypeError, r"was given no awaitable, so it is a context manager"):
            await self.assertCompletesWithin(1)
        coro = fetch(1)
        with self.assertRaisesRegex(TypeError, r"was given an awaitable, so it is not a context manager"):
            async with self.assertCompletesWithin(1, coro):
                pass
        self.assertTrue(is_closed(coro))

    async def test_misuse_reentering_a_block(self) -> None:
        block = self.assertTakesAtMost(10)
        async with block:
            pass
        with self.assertRaisesRegex(RuntimeError, "cannot be reused"):
            async with block:
                pass


class TimingOnVirtualClock(TimingTests, Virtual):
    async def test_an_hour_is_checked_at_once_and_exactly(self) -> None:
        self.assertEqual(await self.assertTakes(3600, fetch(3600)), "data")
        await self.assertDoesNotCompleteWithin(3600, fetch(3601))
        self.assertEqual(self.clock.elapsed(), 7200)

    async def test_deadline_is_inclusive(self) -> None:
        self.assertEqual(await self.assertCompletesWithin(5, fetch(5)), "data")
        async with self.assertCompletesWithin(5):
            await asyncio.sleep(5)
        with self.assertRaises(AssertionError):
            await self.assertDoesNotCompleteWithin(5, fetch(5))
        with self.assertRaises(AssertionError):
            async with self.assertDoesNotCompleteWithin(5):
                await asyncio.sleep(5)
        async with self.assertDoesNotCompleteWithin(5):
            await asyncio.sleep(5.000001)
        self.assertEqual(self.clock.elapsed(), 25)

    async def test_float_noise_is_tolerated(self) -> None:
        async with self.assertTakes(0.3):
            await asyncio.sleep(0.1)
            await asyncio.sleep(0.2)

    async def test_exact_messages(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertCompletesWithin(5, fetch(30))
        self.assertEqual(str(cm.exception).splitlines()[0],
                         "fetch() did not complete within 5 s of virtual time: cancelled at virtual t=5.000s")
        with self.assertRaises(AssertionError) as cm:
            await self.assertTakes(3, fetch(2.5))
        self.assertEqual(str(cm.exception),
                         "fetch() took 2.5 s of virtual time, expected exactly 3 s\n"
                         "  ran from virtual t=5.000s to virtual t=7.500s (tolerance 1e-09 s)")
        with self.assertRaises(AssertionError) as cm:
            await self.assertDoesNotCompleteWithin(5, fetch(2))
        self.assertEqual(str(cm.exception), "fetch() completed within 5 s of virtual time: it returned 'data' "
                                            "after 2 s (virtual t=9.500s)")

    async def test_swallowed_cancellation_in_block_is_reported(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            async with self.assertCompletesWithin(1):
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    pass
        self.assertIn("it swallowed the CancelledError and finished anyway", str(cm.exception))

    async def test_task_that_refuses_to_stop_is_reported(self) -> None:
        swallowed = 0

        async def stubborn() -> None:
            nonlocal swallowed
            while swallowed < 2:
                try:
                    await asyncio.sleep(100)
                except asyncio.CancelledError:
                    swallowed += 1

            await asyncio.sleep(100)

        task = asyncio.create_task(stubborn())
        with self.assertRaises(AssertionError) as cm:
            await self.assertDoesNotCompleteWithin(1, task)
        self.assertIn("did not stop when cancelled after 1 s: still running 5 s later", str(cm.exception))
        self.assertIn("it swallows CancelledError", str(cm.exception))
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task


class TimingOnRealClock(TimingTests, Real):
    async def test_exact_duration_needs_a_tolerance_on_the_real_clock(self) -> None:
        coro = fetch(0)
        with self.assertRaisesRegex(TypeError, r"assertTakes\(\) on the real clock needs a tolerance, e.g. tolerance=0.01 \(seconds\)"):
            self.assertTakes(0.01, coro)
        self.assertTrue(is_closed(coro))


del TimingTests

if __name__ == "__main__":
    unittest.main()
