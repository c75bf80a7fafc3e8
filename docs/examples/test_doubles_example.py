"""Test doubles on the virtual clock: a flaky, slow session (SlowCall) and a forced task order (Sequencer)."""

from __future__ import annotations

import asyncio
import unittest
from unittest import mock

from doubles_app import Session, crawl, fetch_with_retry

from asynctestkit import AsyncTestCase, Sequencer, SlowCall


class RetryAgainstFlakySessionTest(AsyncTestCase):
    async def test_fails_twice_then_answers_after_half_a_second_at_exact_times(self) -> None:
        # Failures come back after 0.1 s each, the answer after 0.5 s.
        fake = SlowCall([ConnectionError("reset"), ConnectionError("reset"), "<html>"],
                        latency=[0.1, 0.1, 0.5], name="get")
        session = mock.create_autospec(Session, instance=True)
        fake.attach(session.get)

        self.assertEqual(await fetch_with_retry(session, "/index"), "<html>")

        # call 1 at 0.0 fails at 0.1, backoff 1 s; call 2 at 1.1 fails at 1.2, backoff 2 s; call 3 at 3.2.
        fake.assert_start_times([0.0, 1.1, 3.2])
        self.assertEqual(fake.end_times, [0.1, 1.2, 3.7])
        session.get.assert_awaited_with("/index")
        self.assertEqual(session.get.await_count, 3)

    async def test_gives_up_after_three_attempts_with_the_last_error(self) -> None:
        fake = SlowCall([ConnectionError("1"), ConnectionError("2"), ConnectionError("3")], latency=0.1)
        session = mock.create_autospec(Session, instance=True)
        fake.attach(session.get)
        with self.assertRaisesRegex(ConnectionError, "^3$"):
            await fetch_with_retry(session, "/index")
        self.assertEqual(fake.end_times, [0.1, 1.2, 3.3])


class FanOutUnderALimitTest(AsyncTestCase):
    async def test_never_more_than_three_requests_in_flight(self) -> None:
        fake = SlowCall(latency=lambda call: call.random.uniform(0.2, 1.0), seed=2024, name="get")
        session = mock.create_autospec(Session, instance=True)
        fake.attach(session.get).return_value = "page"

        pages = await crawl(session, [f"/p{i}" for i in range(10)], limit=3)

        self.assertEqual(pages, ["page"] * 10)
        fake.assert_peak_concurrency(at_most=3)   # on failure: the calls in flight at the peak, and the seed
        self.assertEqual(fake.peak_concurrency, 3)


class ForcedOrderTest(AsyncTestCase):
    async def test_reader_sees_the_write_because_the_sequencer_orders_them(self) -> None:
        seq = Sequencer()
        box: list[str] = []

        async def reader() -> str:
            async with seq(1):        # runs after step 0, although this task starts first
                return box[0]

        async def writer() -> None:
            async with seq(0):
                await asyncio.sleep(1)
                box.append("written")

        read, _ = await asyncio.gather(reader(), writer())
        self.assertEqual(read, "written")


if __name__ == "__main__":
    unittest.main()
