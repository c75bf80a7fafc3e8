"""A retry loop with exponential backoff over a flaky dependency (an AsyncMock with side effects)."""

from __future__ import annotations

import asyncio
import unittest
from unittest.mock import AsyncMock

from retry_app import retry

from asynctestkit import AsyncTestCase, EventRecorder


class RetryBackoffTest(AsyncTestCase):
    def flaky(self, *outcomes: object) -> tuple[AsyncMock, EventRecorder]:
        """A dependency answering *outcomes* in turn (exceptions are raised), and a log of call times."""
        calls = EventRecorder()
        script = list(outcomes)

        async def side_effect() -> object:
            calls.record("call")
            outcome = script.pop(0)
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome

        return AsyncMock(side_effect=side_effect), calls

    async def test_backs_off_1_then_2_seconds_and_succeeds(self) -> None:
        dependency, calls = self.flaky(ConnectionError("1"), ConnectionError("2"), "data")
        self.assertEqual(await self.assertTakes(3, retry(dependency)), "data")
        self.assertEqual(calls.times("call"), [0, 1, 3])  # exact virtual backoff times
        self.assertEqual(dependency.await_count, 3)

    async def test_gives_up_after_four_attempts_with_the_last_error(self) -> None:
        dependency, calls = self.flaky(*(ConnectionError(f"attempt {n}") for n in range(4)))
        with self.assertRaisesRegex(ConnectionError, "attempt 3"):
            await self.assertTakes(7, retry(dependency))
        self.assertEqual(calls.times("call"), [0, 1, 3, 7])

    async def test_does_not_retry_other_errors(self) -> None:
        dependency, calls = self.flaky(PermissionError("denied"))
        with self.assertRaises(PermissionError):
            await self.assertTakes(0, retry(dependency))
        self.assertEqual(len(calls), 1)

    async def test_an_overall_deadline_stops_the_backoff_with_timeout_error(self) -> None:
        dependency, calls = self.flaky(*(ConnectionError() for _ in range(4)))
        async with self.assertTimeoutPropagates():
            await asyncio.wait_for(retry(dependency), timeout=2)
        self.assertEqual(calls.times("call"), [0, 1])

    async def test_cancelling_during_backoff_propagates(self) -> None:
        dependency, _ = self.flaky(ConnectionError(), "data")
        await self.assertCancellationPropagates(retry(dependency), after=0.5)


if __name__ == "__main__":
    unittest.main()
