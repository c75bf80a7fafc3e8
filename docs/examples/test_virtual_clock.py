"""The virtual clock: instant sleeps and timeouts, manual control, real work that keeps real-time semantics."""

from __future__ import annotations

import asyncio
import threading
import time
import unittest
from collections.abc import Callable

import asynctestkit


class TTLCache:
    """A tiny cache whose entries expire ``ttl`` seconds after they were put, via ``loop.call_later``."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._data: dict[str, object] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def put(self, key: str, value: object) -> None:
        if key in self._timers:
            self._timers[key].cancel()
        self._data[key] = value
        self._timers[key] = asyncio.get_running_loop().call_later(self._ttl, self._expire, key)

    def _expire(self, key: str) -> None:
        self._data.pop(key, None)
        self._timers.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._data


async def heartbeat(send: Callable[[float], None], every: float) -> None:
    """Send the loop time every ``every`` seconds, forever."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(every)
        send(loop.time())


class AutoAdvanceExamples(asynctestkit.AsyncTestCase):
    async def test_an_hour_of_sleeping_takes_no_real_time(self) -> None:
        started = time.perf_counter()
        await asyncio.sleep(3600)
        self.assertEqual(asyncio.get_running_loop().time(), 3600.0)
        self.assertLess(time.perf_counter() - started, 1.0)

    async def test_timeouts_fire_at_their_exact_deadline(self) -> None:
        with self.assertRaises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), 10)
        self.assertEqual(self.clock.elapsed(), 10)

    async def test_real_work_keeps_real_time_semantics(self) -> None:
        def slow_io() -> str:
            time.sleep(0.1)  # real blocking work in a thread
            return "done"

        # The job really takes 0.1 s; the 5 s timeout must not fire early.
        result = await asyncio.wait_for(asyncio.to_thread(slow_io), 5)
        self.assertEqual(result, "done")

    async def test_a_thread_that_calls_back_is_waited_for(self) -> None:
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[str] = loop.create_future()

        def worker() -> None:
            time.sleep(0.1)
            loop.call_soon_threadsafe(reply.set_result, "pong")

        thread = threading.Thread(target=worker)
        thread.start()
        self.assertEqual(await asyncio.wait_for(reply, 5), "pong")
        thread.join()


class ManualControlExamples(asynctestkit.AsyncTestCase):
    clock_auto_advance = False

    async def test_sends_a_heartbeat_every_10_seconds(self) -> None:
        sent: list[float] = []
        task = asyncio.create_task(heartbeat(sent.append, every=10))
        await self.clock.advance(25)
        self.assertEqual(sent, [10.0, 20.0])
        self.assertEqual(self.clock.now(), 25.0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def test_entry_expires_after_its_ttl(self) -> None:
        cache = TTLCache(ttl=60)
        cache.put("k", 1)
        await self.clock.advance(59.999)
        self.assertIn("k", cache)
        await self.clock.advance(0.001)
        self.assertNotIn("k", cache)

    async def test_run_until_idle_runs_ready_work_without_moving_time(self) -> None:
        order: list[str] = []

        async def step(name: str) -> None:
            order.append(name)

        asyncio.create_task(step("a"))
        asyncio.create_task(step("b"))
        await self.clock.run_until_idle()
        self.assertEqual(order, ["a", "b"])
        self.assertEqual(self.clock.now(), 0.0)


if __name__ == "__main__":
    unittest.main()
