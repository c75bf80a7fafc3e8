"""A bounded queue applies backpressure: the fast producer waits for the slow consumer."""

from __future__ import annotations

import asyncio
import unittest

from backpressure_app import consume, produce

from asynctestkit import AsyncTestCase, EventRecorder


class BackpressureTest(AsyncTestCase):
    async def asyncSetUp(self) -> None:
        self.queue: asyncio.Queue[int] = asyncio.Queue(maxsize=2)
        self.events = EventRecorder()

    async def test_producer_blocks_when_the_queue_is_full(self) -> None:
        producer = asyncio.create_task(produce(self.queue, 5, self.events))
        await self.waitUntilOthersBlocked()
        self.assertTrue(self.queue.full())
        self.assertEqual(self.events.events, ["put 0", "put 1"])  # the third put is waiting
        producer.cancel()
        await self.assertTaskCancelled(producer)

    async def test_without_a_consumer_the_producer_never_finishes(self) -> None:
        await self.assertDoesNotCompleteWithin(3600, produce(self.queue, 5, self.events))
        self.assertEqual(len(self.events), 2)

    async def test_the_producer_is_paced_by_the_consumer(self) -> None:
        consumer = asyncio.create_task(consume(self.queue, 5, 1.0, self.events))
        # 5 items, room for 2 in the queue and 1 in the consumer's hands: the last put happens when the
        # consumer has finished 2 items, at t=2 exactly.
        await self.assertTakes(2, produce(self.queue, 5, self.events))
        await self.assertTakes(3, consumer)
        self.assertEventOrder(self.events, ["put 0", "put 1", "put 2", "done 0", "put 3", "done 1", "put 4"],
                              exact=False)
        self.assertEqual(self.events.times("done 4"), [5.0])


if __name__ == "__main__":
    unittest.main()
