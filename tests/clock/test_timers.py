"""Timer inspection (asynctestkit/clock/_timers.py): ``clock.pending_timers()`` and ``clock.next_deadline()``.

What Twisted's ``Clock.getDelayedCalls()`` gives: every pending timer, earliest first, with its deadline, what it
does and where it was armed; cancelled timers left out; and nothing paid per timer when nobody asks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import sys
import unittest

from asynctestkit import AsyncTestCase, VirtualClockLoop
from asynctestkit import _compat
from asynctestkit.clock import PendingTimer

from ._clock_support import site_pattern

HERE = __file__
PY311 = sys.version_info >= (3, 11)
PY312 = sys.version_info >= (3, 12)


class Cache:
    def __init__(self) -> None:
        self.entries: dict[str, int] = {}

    def expire(self, key: str) -> None:
        self.entries.pop(key, None)


async def fetch_with_retry(attempts: list[float], delays: list[float]) -> None:
    loop = asyncio.get_running_loop()
    for delay in delays:
        attempts.append(loop.time())
        await asyncio.sleep(delay)


class PendingTimersTests(AsyncTestCase):
    async def test_a_retry_loop_shows_its_backoff_timer_with_the_sleeping_task_and_its_line(self) -> None:
        attempts: list[float] = []
        task = asyncio.create_task(fetch_with_retry(attempts, [1, 2, 4]), name="retry")
        await asyncio.sleep(0)
        await self.clock.advance(1.5)      # the second attempt is sleeping its 2 s backoff

        [timer] = self.clock.pending_timers()
        self.assertEqual(timer.when, 3.0)
        self.assertEqual(timer.due_in, 1.5)
        self.assertEqual(timer.task, "retry")
        self.assertEqual(timer.callback, "wakes task 'retry' (fetch_with_retry()) from sleep()")
        self.assertRegex(timer.site or "", "^" + site_pattern(HERE, "fetch_with_retry", "await asyncio.sleep(delay)"))
        self.assertFalse(timer.background)
        self.assertIsInstance(timer.handle, asyncio.TimerHandle)
        self.assertRegex(str(timer), r"^t=3\.000s \(in 1\.5 s\) wakes task 'retry' \(fetch_with_retry\(\)\) from "
                                     r"sleep\(\) at " + site_pattern(HERE, "fetch_with_retry",
                                                                     "await asyncio.sleep(delay)") + "$")
        self.assertEqual(self.clock.next_deadline(), 3.0)
        await task
        self.assertEqual(attempts, [0.0, 1.0, 3.0])
        self.assertEqual(self.clock.pending_timers(), [])
        self.assertIsNone(self.clock.next_deadline())

    async def test_a_plain_callback_is_named_with_its_arguments_and_its_site_is_said_to_be_unknown(self) -> None:
        cache = Cache()
        loop = asyncio.get_running_loop()
        handle = loop.call_later(60, cache.expire, "session-42")
        self.addCleanup(handle.cancel)

        [timer] = self.clock.pending_timers()
        self.assertEqual(timer.callback, "Cache.expire('session-42')")
        self.assertIsNone(timer.task)
        self.assertIsNone(timer.site)
        self.assertIs(timer.handle, handle)
        self.assertEqual(str(timer), "t=60.000s (in 60 s) Cache.expire('session-42') (armed at an unknown line "
                                     "(asyncio records it only in debug mode: asyncio_debug = True))")

    async def test_cancelled_timers_are_left_out_and_next_deadline_skips_them(self) -> None:
        loop = asyncio.get_running_loop()
        first = loop.call_later(1, print)
        second = loop.call_later(2, print)
        self.addCleanup(second.cancel)
        first.cancel()
        self.assertEqual([t.handle for t in self.clock.pending_timers()], [second])
        self.assertEqual(self.clock.next_deadline(), 2.0)

    async def test_timers_are_sorted_by_deadline_and_equal_deadlines_in_the_order_they_run(self) -> None:
        loop = asyncio.get_running_loop()
        order: list[str] = []
        for delay, item in [(5, "late"), (1, "a"), (1, "b"), (3, "middle"), (1, "c")]:
            loop.call_later(delay, order.append, item)
        listed = [t.callback for t in self.clock.pending_timers()]
        self.assertEqual(listed, ["list.append('a')", "list.append('b')", "list.append('c')",
                                  "list.append('middle')", "list.append('late')"])
        await asyncio.sleep(6)
        self.assertEqual(order, ["a", "b", "c", "middle", "late"])

    async def test_a_wait_for_deadline_names_the_task_that_waits(self) -> None:
        async def guarded() -> None:
            await asyncio.wait_for(asyncio.Event().wait(), 30)

        task = asyncio.create_task(guarded(), name="guarded")
        await asyncio.sleep(0)
        [timer] = self.clock.pending_timers()
        self.assertEqual(timer.when, 30.0)
        self.assertEqual(timer.task, "guarded")
        # 3.12+: wait_for is an asyncio.timeout() whose deadline cancels the task; 3.10/3.11: the deadline
        # releases the future wait_for awaits
        expected = "cancels task 'guarded' (guarded()) (timeout)" if PY312 else \
            "wakes task 'guarded' (guarded()) from wait_for()"
        self.assertEqual(timer.callback, expected)
        self.assertRegex(timer.site or "", site_pattern(HERE, "guarded", "await asyncio.wait_for("))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    @unittest.skipUnless(PY311, "asyncio.timeout() is 3.11+")
    async def test_an_asyncio_timeout_deadline_names_the_task_it_will_cancel(self) -> None:
        async def guarded() -> None:
            async with asyncio.timeout(30):
                await asyncio.Event().wait()

        task = asyncio.create_task(guarded(), name="guarded")
        await asyncio.sleep(0)
        [timer] = self.clock.pending_timers()
        self.assertEqual((timer.when, timer.task), (30.0, "guarded"))
        self.assertEqual(timer.callback, "cancels task 'guarded' (guarded()) (timeout)")
        self.assertRegex(timer.site or "", site_pattern(HERE, "guarded", "await asyncio.Event().wait()"))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def test_timers_armed_by_background_work_are_marked(self) -> None:
        async def heartbeat() -> None:
            while True:
                await asyncio.sleep(1)

        self.start_background(heartbeat(), name="heartbeat")
        loop = asyncio.get_running_loop()
        mine = loop.call_later(10, print)
        self.addCleanup(mine.cancel)
        await asyncio.sleep(0)
        timers = self.clock.pending_timers()
        self.assertEqual([(t.when, t.background) for t in timers], [(1.0, True), (10.0, False)])
        self.assertIn("[background] wakes task 'heartbeat'", str(timers[0]))

    async def test_records_are_read_only_snapshots(self) -> None:
        handle = asyncio.get_running_loop().call_later(1, print)
        self.addCleanup(handle.cancel)
        [timer] = self.clock.pending_timers()
        with self.assertRaises(dataclasses.FrozenInstanceError):
            timer.when = 5.0  # type: ignore[misc]
        await self.clock.advance(0.5)
        self.assertEqual(timer.due_in, 1.0)   # as it was when listed
        self.assertEqual(self.clock.pending_timers()[0].due_in, 0.5)

    async def test_sleep_forever_is_a_timer_at_infinity(self) -> None:
        task = asyncio.create_task(asyncio.sleep(math.inf))
        await asyncio.sleep(0)
        self.assertEqual(self.clock.next_deadline(), math.inf)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)



class LargeStartTests(AsyncTestCase):
    clock_start = 1000.0

    async def test_times_are_on_the_loop_scale_and_str_on_the_clock_scale(self) -> None:
        handle = asyncio.get_running_loop().call_later(2, print)
        self.addCleanup(handle.cancel)
        [timer] = self.clock.pending_timers()
        self.assertEqual(timer.when, self.clock.start + 2)
        self.assertTrue(str(timer).startswith("t=2.000s (in 2 s) "), str(timer))


class DebugModeSiteTests(AsyncTestCase):
    asyncio_debug = True

    async def test_in_debug_mode_a_plain_callback_has_the_line_that_scheduled_it(self) -> None:
        cache = Cache()
        handle = asyncio.get_running_loop().call_later(60, cache.expire, "k")
        self.addCleanup(handle.cancel)
        [timer] = self.clock.pending_timers()
        self.assertRegex(timer.site or "", "^" + site_pattern(
            HERE, "test_in_debug_mode_a_plain_callback_has_the_line_that_scheduled_it",
            'handle = asyncio.get_running_loop().call_later(60, cache.expire, "k")') + "$")


class FreeWhenUnusedTests(unittest.TestCase):
    def test_call_at_is_still_the_one_function_with_no_recording(self) -> None:
        # Inspection reads the loop's heap when asked: the timer path itself is unchanged (W4 in
        # tests/benchmarks/instructions.py measures it).
        self.assertIs(VirtualClockLoop.call_at, _compat.call_at_in_scheduling_order)

    def test_pending_timer_is_exported_from_the_clock_subpackage(self) -> None:
        import asynctestkit.clock

        self.assertIs(asynctestkit.clock.PendingTimer, PendingTimer)
        self.assertEqual(PendingTimer.__module__, "asynctestkit.clock")


if __name__ == "__main__":
    unittest.main()
