"""Quickstart: an hour of retries tested in milliseconds, on exact virtual time."""

from __future__ import annotations

import asyncio
import unittest
from collections.abc import Awaitable, Callable

import asynctestkit


async def fetch_with_retries(fetch: Callable[[], Awaitable[str]], *, attempts: int, delay: float) -> str:
    """Call ``fetch`` until it succeeds, sleeping ``delay`` seconds between attempts."""
    for attempt in range(attempts):
        try:
            return await fetch()
        except ConnectionError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


class QuickstartTest(asynctestkit.AsyncTestCase):
    async def test_succeeds_on_the_fourth_attempt_after_three_delays(self) -> None:
        calls: list[float] = []

        async def flaky() -> str:
            calls.append(self.clock.elapsed())
            if len(calls) < 4:
                raise ConnectionError("down")
            return "ok"

        self.assertEqual(await fetch_with_retries(flaky, attempts=5, delay=600), "ok")
        self.assertEqual(calls, [0, 600, 1200, 1800])      # exact virtual times, no real waiting

    async def test_a_timeout_fires_at_exactly_its_deadline(self) -> None:
        with self.assertRaises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), timeout=30)
        self.assertEqual(self.clock.elapsed(), 30)


if __name__ == "__main__":
    unittest.main()
