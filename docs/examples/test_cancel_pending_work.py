"""A consumer cancels its pending work when the producer stops (or when it is cancelled itself)."""

from __future__ import annotations

import asyncio
import unittest

from dispatcher_app import STOP, Dispatcher, Job

from asynctestkit import AsyncTestCase, EventRecorder


class CancelPendingWorkTest(AsyncTestCase):
    async def asyncSetUp(self) -> None:
        self.queue: asyncio.Queue[Job | None] = asyncio.Queue()
        self.dispatcher = Dispatcher(self.queue)
        self.events = EventRecorder()

    def job(self, name: str, seconds: float) -> Job:
        async def work() -> None:
            try:
                await asyncio.sleep(seconds)
                self.events.record(f"{name} done")
            except asyncio.CancelledError:
                self.events.record(f"{name} cancelled")
                raise
        return work

    async def test_stop_cancels_the_jobs_still_running(self) -> None:
        for name, seconds in [("short", 1), ("long", 60), ("longer", 120)]:
            self.queue.put_nowait(self.job(name, seconds))
        asyncio.get_running_loop().call_later(5, self.queue.put_nowait, STOP)  # the producer stops at t=5
        finished = await self.assertTakes(5, self.dispatcher.run())
        self.assertEqual(finished, 1)
        self.assertEventOrder(self.events, ["short done", "long cancelled", "longer cancelled"])
        self.assertEqual(self.dispatcher.running, {})

    async def test_cancelling_the_consumer_cancels_its_jobs_and_propagates(self) -> None:
        self.queue.put_nowait(self.job("slow", 60))
        await self.assertCleanupOnCancel(self.dispatcher.run(), lambda: "slow cancelled" in self.events,
                                         after=10)
        self.assertEqual(self.dispatcher.running, {})

    async def test_the_consumer_lets_cancellation_out(self) -> None:
        self.queue.put_nowait(self.job("slow", 60))
        await self.assertCancellationPropagates(self.dispatcher.run())

    async def test_an_idle_consumer_waits_for_work_forever(self) -> None:
        await self.assertDoesNotCompleteWithin(3600, self.dispatcher.run())


if __name__ == "__main__":
    unittest.main()
