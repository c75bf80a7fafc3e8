"""EventRecorder: recording from tasks, loop times, waiting for an event."""

from __future__ import annotations

import asyncio
import unittest

from asynctestkit import AsyncTestCase, EventRecorder


class EventRecorderTests(AsyncTestCase):
    async def test_records_value_time_and_task(self) -> None:
        events = EventRecorder()

        async def worker() -> None:
            events.record("start")
            await asyncio.sleep(2.5)
            events("end")

        await asyncio.create_task(worker(), name="worker")
        self.assertEqual(events.events, ["start", "end"])
        self.assertEqual(events.times("end"), [2.5])
        self.assertEqual([e.task for e in events.entries], ["worker", "worker"])
        self.assertEqual(events.entries[1].where(), "virtual t=2.500s task 'worker' (worker())")
        self.assertEqual(len(events), 2)
        self.assertEqual(list(events), ["start", "end"])
        self.assertEqual(repr(events), "EventRecorder(['start', 'end'])")
        events.clear()
        self.assertEqual(events.events, [])

    def test_records_outside_a_loop_without_time(self) -> None:
        events = EventRecorder()
        events.record(("sync", 1))
        self.assertEqual(events.entries[0].time, None)
        self.assertEqual(events.entries[0].where(), "")

    async def test_wait_for(self) -> None:
        events = EventRecorder()

        async def ticker() -> None:
            for _ in range(3):
                await asyncio.sleep(1)
                events.record("tick")

        task = asyncio.create_task(ticker())
        entry = await events.wait_for("tick", count=2)
        self.assertEqual(entry.time, 2.0)
        self.assertEqual((await events.wait_for("tick")).time, 1.0)  # already there: at once
        await task
        with self.assertRaisesRegex(ValueError, r"wait_for\(\) argument 'count' must be an int >= 1, got 0"):
            await events.wait_for("tick", count=0)
        with self.assertRaisesRegex(TypeError, r"wait_for\(\) argument 'count' must be an int >= 1, got str: '2'"):
            await events.wait_for("tick", count="2")  # type: ignore[arg-type]
        with self.assertRaisesRegex(ValueError, r"wait_for\(\) argument 'count' must be an int >= 1, got -1"):
            await events.wait_for("tick", count=-1)

    async def test_cancelled_wait_is_withdrawn(self) -> None:
        events = EventRecorder()
        waiter = asyncio.create_task(events.wait_for("never"))
        await asyncio.sleep(0)
        waiter.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await waiter
        self.assertEqual(events._waiters, [])
        events.record("never")  # no waiter left to wake


if __name__ == "__main__":
    unittest.main()
