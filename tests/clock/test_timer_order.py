"""Timers due at exactly the same time run in the order they were scheduled (VirtualClockLoop.call_at).

On the real clock two deadlines computed one after the other differ by nanoseconds, so equal-delay timers
fire in scheduling order.  Under virtual time the deadlines are equal, and asyncio's timer heap alone would
run them in heap order (12 sleepers woke as 0, 2, 6, 11, 10, ...).  Each timer kind is covered: sleeps,
``call_later``, ``call_at``, ``wait_for`` and ``asyncio.timeout`` deadlines, ``Timeout.reschedule``, and
mixtures, with cancelled timers among the equals.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import unittest
from collections.abc import Callable
from typing import Any

from asynctestkit import AsyncTestCase, VirtualClockLoop

from ._clock_support import run_on_virtual_loop

PY311 = sys.version_info >= (3, 11)


class EqualDeadlineOrderTests(AsyncTestCase):
    async def test_twelve_tasks_sleeping_one_second_wake_in_the_order_they_went_to_sleep(self) -> None:
        loop = asyncio.get_running_loop()
        woke: list[tuple[int, float]] = []

        async def sleeper(i: int) -> None:
            await asyncio.sleep(1)
            woke.append((i, loop.time()))

        await asyncio.gather(*(sleeper(i) for i in range(12)))
        self.assertEqual(woke, [(i, 1.0) for i in range(12)])

    async def test_call_later_with_the_same_delay_runs_callbacks_in_scheduling_order(self) -> None:
        loop = asyncio.get_running_loop()
        ran: list[int] = []
        for i in range(40):
            loop.call_later(5, ran.append, i)
        await asyncio.sleep(6)
        self.assertEqual(ran, list(range(40)))

    async def test_call_at_the_same_time_runs_in_scheduling_order_and_after_earlier_deadlines(self) -> None:
        loop = asyncio.get_running_loop()
        ran: list[str] = []
        at = loop.time() + 1
        loop.call_at(at + 1, ran.append, "later deadline, scheduled first")
        for name in "abcdefgh":
            loop.call_at(at, ran.append, name)
        loop.call_at(at - 0.5, ran.append, "earlier deadline, scheduled last")
        await asyncio.sleep(3)
        self.assertEqual(ran, ["earlier deadline, scheduled last", *"abcdefgh", "later deadline, scheduled first"])

    async def test_inside_each_callback_loop_time_equals_its_deadline(self) -> None:
        loop = asyncio.get_running_loop()
        seen: list[tuple[int, float, float]] = []
        handles: list[asyncio.TimerHandle] = []

        def record(i: int) -> None:
            seen.append((i, loop.time(), handles[i].when()))

        for i in range(6):
            handles.append(loop.call_later(2.5, record, i))
        await asyncio.sleep(3)
        self.assertEqual(seen, [(i, 2.5, 2.5) for i in range(6)])
        self.assertTrue(all(isinstance(h, asyncio.TimerHandle) for h in handles))

    async def test_wait_for_timeouts_due_together_fire_in_the_order_they_were_set(self) -> None:
        expired: list[int] = []

        async def waiter(i: int) -> None:
            try:
                await asyncio.wait_for(asyncio.Event().wait(), 1)
            except asyncio.TimeoutError:
                expired.append(i)

        await asyncio.gather(*(waiter(i) for i in range(10)))
        self.assertEqual(expired, list(range(10)))
        self.assertEqual(self.clock.elapsed(), 1)

    @unittest.skipUnless(PY311, "asyncio.timeout() is new in 3.11")
    async def test_asyncio_timeout_deadlines_due_together_fire_in_the_order_they_were_set(self) -> None:
        expired: list[int] = []

        async def waiter(i: int) -> None:
            try:
                async with asyncio.timeout(2):  # type: ignore[attr-defined]
                    await asyncio.Event().wait()
            except TimeoutError:
                expired.append(i)

        await asyncio.gather(*(waiter(i) for i in range(10)))
        self.assertEqual(expired, list(range(10)))
        self.assertEqual(self.clock.elapsed(), 2)

    async def test_sleeps_call_later_call_at_and_timeouts_mixed_run_in_scheduling_order(self) -> None:
        # Timer callbacks run in the iteration their deadline is reached, in scheduling order; the tasks they
        # wake (a sleep's future, a timeout's cancellation) resume in the next iteration, in the same order:
        # exactly what a loop on the real clock does with deadlines nanoseconds apart.
        loop = asyncio.get_running_loop()
        order: list[str] = []
        at = loop.time() + 1

        async def sleeper(name: str) -> None:
            await asyncio.sleep(1)
            order.append(name)

        async def timed_out(name: str) -> None:
            try:
                if PY311:
                    async with asyncio.timeout(1):  # type: ignore[attr-defined]
                        await asyncio.Event().wait()
                else:  # 3.10: wait_for's own timer (it needs extra iterations after firing, so it is alone here)
                    await asyncio.wait_for(asyncio.Event().wait(), 1)
            except asyncio.TimeoutError:
                order.append(name)

        # A task's timer is scheduled when the task first runs: start each task and let it reach its await
        # before scheduling the next timer, so the scheduling order is exactly the order below.
        steps: list[Callable[[], Any]] = [
            lambda: asyncio.ensure_future(sleeper("sleep-1")),
            lambda: loop.call_later(1, order.append, "call_later-1"),
            lambda: asyncio.ensure_future(timed_out("timeout-1")),
            lambda: loop.call_at(at, order.append, "call_at-1"),
            lambda: asyncio.ensure_future(sleeper("sleep-2")),
            lambda: asyncio.ensure_future(timed_out("timeout-2")),
            lambda: loop.call_later(1, order.append, "call_later-2"),
        ]
        tasks = []
        for step in steps:
            made = step()
            if isinstance(made, asyncio.Future):
                tasks.append(made)
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        callbacks = ["call_later-1", "call_at-1", "call_later-2"]
        if PY311:
            self.assertEqual(order, [*callbacks, "sleep-1", "timeout-1", "sleep-2", "timeout-2"])
        else:
            self.assertEqual(order, [*callbacks, "sleep-1", "sleep-2", "timeout-1", "timeout-2"])

    async def test_a_cancelled_timer_among_equal_deadlines_does_not_disturb_the_others(self) -> None:
        loop = asyncio.get_running_loop()
        ran: list[int] = []
        handles = [loop.call_later(1, ran.append, i) for i in range(8)]
        handles[0].cancel()
        handles[5].cancel()
        await asyncio.sleep(2)
        self.assertEqual(ran, [1, 2, 3, 4, 6, 7])

    async def test_order_survives_asyncio_rebuilding_its_heap_after_mass_cancellation(self) -> None:
        # asyncio rebuilds the timer heap (heapify) once more than half of at least 100 timers are cancelled.
        loop = asyncio.get_running_loop()
        ran: list[int] = []
        handles = [loop.call_later(1, ran.append, i) for i in range(300)]
        for i, handle in enumerate(handles):
            if i % 3:
                handle.cancel()
        await asyncio.sleep(0)   # one loop iteration: the heap is rebuilt without the cancelled timers
        await asyncio.sleep(2)
        self.assertEqual(ran, list(range(0, 300, 3)))

    async def test_a_cancelled_wait_for_deadline_is_never_jumped_to(self) -> None:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        loop.call_later(1, fut.set_result, "early")
        self.assertEqual(await asyncio.wait_for(fut, 3600), "early")
        await asyncio.sleep(1)
        self.assertEqual(self.clock.elapsed(), 2)

    @unittest.skipUnless(PY311, "Timeout.reschedule() is new in 3.11")
    async def test_rescheduled_timeouts_take_their_place_among_equals_when_they_are_rescheduled(self) -> None:
        loop = asyncio.get_running_loop()
        order: list[int] = []
        scopes: dict[int, Any] = {}

        async def guarded(i: int) -> None:
            try:
                async with asyncio.timeout(10 + i) as cm:  # type: ignore[attr-defined]
                    scopes[i] = cm
                    await asyncio.Event().wait()
            except TimeoutError:
                order.append(i)

        tasks = [asyncio.ensure_future(guarded(i)) for i in range(8)]
        await asyncio.sleep(0)
        rescheduled = [3, 0, 7, 5, 1, 6, 4, 2]
        for i in rescheduled:
            scopes[i].reschedule(loop.time() + 5)
        await asyncio.gather(*tasks)
        self.assertEqual(order, rescheduled)
        self.assertEqual(self.clock.elapsed(), 5)


class CallAtContractTests(unittest.TestCase):
    """``VirtualClockLoop.call_at`` keeps every check and effect of ``BaseEventLoop.call_at``."""

    def test_the_same_order_on_every_run(self) -> None:
        async def main() -> list[int]:
            order: list[int] = []

            async def sleeper(i: int) -> None:
                await asyncio.sleep(0.25 * (i % 3))
                order.append(i)

            await asyncio.gather(*(sleeper(i) for i in range(30)))
            return order

        runs = [run_on_virtual_loop(main) for _ in range(3)]
        expected = [i for when in range(3) for i in range(30) if i % 3 == when]
        self.assertEqual(runs, [expected] * 3)

    def test_call_at_none_is_a_type_error(self) -> None:
        loop = VirtualClockLoop()
        try:
            with self.assertRaisesRegex(TypeError, "when cannot be None"):
                loop.call_at(None, print)  # type: ignore[arg-type]
        finally:
            loop.close()

    def test_call_at_on_a_closed_loop_raises_like_asyncio(self) -> None:
        loop = VirtualClockLoop()
        loop.close()
        with self.assertRaisesRegex(RuntimeError, "Event loop is closed"):
            loop.call_at(1.0, print)

    def test_debug_mode_checks_the_thread_and_the_callback_and_records_the_caller(self) -> None:
        loop = VirtualClockLoop()
        loop.set_debug(True)
        errors: list[BaseException] = []

        async def main() -> None:
            with self.assertRaisesRegex(TypeError, "a callable object was expected by call_at"):
                loop.call_at(loop.time() + 1, "not callable")  # type: ignore[arg-type]
            handle = loop.call_at(loop.time() + 1, print)
            frame = handle._source_traceback[-1]  # type: ignore[attr-defined]
            self.assertEqual((frame.name, frame.line), ("main", "handle = loop.call_at(loop.time() + 1, print)"))
            handle.cancel()

            def other_thread() -> None:
                try:
                    loop.call_at(loop.time() + 1, print)
                except RuntimeError as exc:
                    errors.append(exc)

            thread = threading.Thread(target=other_thread)
            thread.start()
            thread.join()

        try:
            loop.run_until_complete(main())
        finally:
            loop.close()
        self.assertEqual(len(errors), 1)
        self.assertIn("Non-thread-safe operation invoked on an event loop other than the current one", str(errors[0]))

    def test_a_cancelled_timer_is_counted_for_the_heap_clean_up(self) -> None:
        loop = VirtualClockLoop()
        try:
            handle = loop.call_at(10.0, print)
            self.assertTrue(handle._scheduled)  # type: ignore[attr-defined]
            before = loop._timer_cancelled_count  # type: ignore[attr-defined]
            handle.cancel()
            self.assertEqual(loop._timer_cancelled_count, before + 1)  # type: ignore[attr-defined]
        finally:
            loop.close()


if __name__ == "__main__":
    unittest.main()
