"""Ordering and progress: assertEventOrder, assertCompletesWithinIterations, assertCompletesWithoutIdle,
waitUntilOthersBlocked."""

from __future__ import annotations

import asyncio
import unittest

from asynctestkit import EventRecorder
from tests.assertions._assertion_support import Real, Support, Virtual, is_closed


async def hand_overs(n: int) -> int:
    for _ in range(n):
        await asyncio.sleep(0)
    return n


async def pipeline(items: int) -> list[int]:
    """A producer and a consumer handing items over through a queue: never waits for time or I/O."""
    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)

    async def produce() -> None:
        for i in range(items):
            await queue.put(i)

    producer = asyncio.create_task(produce())
    got = [await queue.get() for _ in range(items)]
    await producer
    return got


class ProgressTests(Support):
    # -- assertEventOrder --------------------------------------------------------------------------
    async def test_event_order_exact_and_in_order(self) -> None:
        events = EventRecorder()

        async def a() -> None:
            events.record("a1")
            await asyncio.sleep(self.D)
            events.record("a2")

        async def b() -> None:
            events.record("b1")
            await asyncio.sleep(3 * self.D)
            events.record("b2")

        await asyncio.gather(a(), b())
        self.assertEventOrder(events, ["a1", "b1", "a2", "b2"])
        self.assertEventOrder(events, ["a1", "a2", "b2"], exact=False)
        self.assertEventOrder(events.events, ["b1", "b2"], exact=False)

    async def test_event_order_exact_mismatch_shows_both_columns(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            self.assertEventOrder(["a", "c", "b"], ["a", "b", "c"])
        self.assertEqual(str(cm.exception),
                         "events differ at #1: expected 'b', recorded 'c'\n"
                         "  #   expected  recorded\n"
                         "  0   'a'       'a'\n"
                         "  1 > 'b'       'c'\n"
                         "  2 > 'c'       'b'")
        with self.assertRaisesRegex(AssertionError, r"recorded 1 events, expected 2: missing \['b'\] from #1 on"):
            self.assertEventOrder(["a"], ["a", "b"])
        with self.assertRaisesRegex(AssertionError, r"recorded 2 events, expected 1: unexpected 'b' at #1"):
            self.assertEventOrder(["a", "b"], ["a"])

    async def test_event_order_subsequence_mismatch(self) -> None:
        with self.assertRaisesRegex(AssertionError, r"^event 'a' \(expected #1\) was recorded at #0, before 'b' at "
                                                    r"#1: expected it after"):
            self.assertEventOrder(["a", "b"], ["b", "a"], exact=False)
        with self.assertRaisesRegex(AssertionError, r"^event 'z' \(expected #0\) was never recorded"):
            self.assertEventOrder(["a"], ["z"], exact=False, msg="ctx")

    async def test_event_order_misuse(self) -> None:
        with self.assertRaisesRegex(TypeError, "argument 'expected' must be a list of events, got str"):
            self.assertEventOrder(["a"], "a")
        with self.assertRaisesRegex(TypeError, "argument 'recorder' must be an EventRecorder or a list"):
            self.assertEventOrder(42, ["a"])  # type: ignore[arg-type]

    # -- assertCompletesWithinIterations -----------------------------------------------------------
    async def test_within_iterations_counts_hand_overs(self) -> None:
        self.assertEqual(await self.assertCompletesWithinIterations(3, hand_overs(3)), 3)
        async with self.assertCompletesWithinIterations(5) as block:
            await hand_overs(2)
        self.assertEqual(block.iterations, 2)
        async with self.assertCompletesWithinIterations(0) as block:
            pass
        self.assertEqual(block.iterations, 0)

    async def test_within_iterations_fails_and_cancels(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertCompletesWithinIterations(3, hand_overs(1000))
        lines = str(cm.exception).splitlines()
        self.assertRegex(lines[0], r"^hand_overs\(\) did not complete within 3 loop iterations: still running at "
                                   r"iteration 4 \(.*\), cancelled$")
        self.assertRegex(lines[1], r"^  suspended at tests/assertions/test_progress.py:\d+ in hand_overs: "
                                   r"await asyncio.sleep\(0\)")

    async def test_within_iterations_misuse(self) -> None:
        coro = hand_overs(1)
        with self.assertRaisesRegex(ValueError, "argument 'iterations' must be >= 0, got -1"):
            self.assertCompletesWithinIterations(-1, coro)
        self.assertTrue(is_closed(coro))
        with self.assertRaisesRegex(TypeError, "argument 'iterations' must be an int, got float"):
            self.assertCompletesWithinIterations(1.5)  # type: ignore[arg-type]

    # -- assertCompletesWithoutIdle ----------------------------------------------------------------
    async def test_without_idle_passes_for_in_memory_hand_overs(self) -> None:
        self.assertEqual(await self.assertCompletesWithoutIdle(pipeline(5)), [0, 1, 2, 3, 4])

    async def test_without_idle_fails_on_a_sleep(self) -> None:
        async def naps() -> None:
            await asyncio.sleep(self.D)

        with self.assertRaises(AssertionError) as cm:
            await self.assertCompletesWithoutIdle(naps())
        lines = str(cm.exception).splitlines()
        self.assertRegex(lines[0], r"^naps\(\) let the loop go idle: at loop iteration 1 nothing was ready to run "
                                   r"and the loop would have waited for a timer due in ")
        self.assertRegex(lines[1], r"^  suspended at tests/assertions/test_progress.py:\d+ in naps: "
                                   r"await asyncio.sleep\(self.D\)  \(awaiting sleep\(\)\)")

    async def test_without_idle_fails_on_a_wait_nothing_will_end(self) -> None:
        event = asyncio.Event()
        with self.assertRaises(AssertionError) as cm:
            async with self.assertCompletesWithoutIdle():
                await event.wait()
        self.assertIn("would have waited for I/O or a wake-up, with no timer pending", str(cm.exception))

    # -- waitUntilOthersBlocked --------------------------------------------------------------------
    async def test_wait_until_others_blocked(self) -> None:
        events = EventRecorder()
        gate = asyncio.Event()

        async def waiter(name: str) -> None:
            for i in range(3):
                await asyncio.sleep(0)
                events.record((name, i))
            await gate.wait()

        tasks = [asyncio.create_task(waiter(n)) for n in "ab"]
        others = await self.waitUntilOthersBlocked()
        self.assertEqual(set(others), set(tasks))
        self.assertEqual(len(events), 6)
        gate.set()
        await asyncio.gather(*tasks)

    async def test_wait_until_others_blocked_fails_on_a_busy_task(self) -> None:
        stop = False

        async def spinner() -> None:
            while not stop:
                await asyncio.sleep(0)

        task = asyncio.create_task(spinner())
        with self.assertRaises(AssertionError) as cm:
            await self.waitUntilOthersBlocked(max_iterations=50)
        self.assertIn("other tasks never all blocked: something was still ready to run after 50 loop iterations",
                      str(cm.exception))
        self.assertIn("  busy: task", str(cm.exception))
        self.assertIn(" (spinner())\n    suspended at tests/assertions/test_progress.py:", str(cm.exception))
        self.assertIn("\n    created at   tests/assertions/test_progress.py:", str(cm.exception))
        stop = True
        await task


class ProgressOnVirtualClock(ProgressTests, Virtual):
    async def test_waiting_until_blocked_does_not_move_time(self) -> None:
        task = asyncio.create_task(asyncio.sleep(10))
        await self.waitUntilOthersBlocked()
        self.assertEqual(self.clock.elapsed(), 0)
        task.cancel()

    async def test_event_times_are_exact(self) -> None:
        events = EventRecorder()

        async def retry() -> None:
            for delay in (1, 2, 4):
                await asyncio.sleep(delay)
                events.record("retry")

        await retry()
        self.assertEqual(events.times("retry"), [1, 3, 7])
        with self.assertRaises(AssertionError) as cm:
            self.assertEventOrder(events, ["retry", "retry"])
        self.assertIn("unexpected 'retry' at #2 (virtual t=7.000s task ", str(cm.exception))


class ProgressOnRealClock(ProgressTests, Real):
    pass


del ProgressTests

if __name__ == "__main__":
    unittest.main()
