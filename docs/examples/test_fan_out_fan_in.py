"""Fan-out/fan-in with one failing branch: what gather and TaskGroup do with the failure and the siblings."""

from __future__ import annotations

import asyncio
import sys
import unittest

from fan_out_app import PriceSource, all_quotes, best_quote

from asynctestkit import AsyncTestCase, ExceptionMatch


def sources() -> list[PriceSource]:
    return [PriceSource("fast", 10.0, delay=1),
            PriceSource("broken", 0.0, delay=2, down=True),
            PriceSource("slow", 12.5, delay=30)]


class FanOutFanInTest(AsyncTestCase):
    async def test_first_failure_propagates_and_gather_leaves_the_slow_branch_running(self) -> None:
        fast, broken, slow = sources()
        outcome = await self.assertGatherRaises(ConnectionError, [fast.quote(), broken.quote(), slow.quote()],
                                                states=["returned", ConnectionError, "running"])
        self.assertEqual(str(outcome.exception), "broken is down")
        self.assertEqual(self.clock.elapsed(), 2)  # raised as soon as the broken branch failed

    async def test_all_quotes_fails_at_the_failing_branch(self) -> None:
        with self.assertRaisesRegex(ConnectionError, "broken is down"):
            await self.assertTakes(2, all_quotes(sources()))
        await asyncio.sleep(30)  # let the slow branch gather left behind finish before the test ends

    async def test_settled_results_keep_their_order(self) -> None:
        await self.assertGatherResults([s.quote() for s in sources()], [10.0, ConnectionError("broken is down"),
                                                                         12.5])

    async def test_best_quote_skips_the_failed_branch_and_waits_for_the_slowest(self) -> None:
        self.assertEqual(await self.assertTakes(30, best_quote(sources())), 10.0)

    async def test_best_quote_with_every_branch_down(self) -> None:
        down = [PriceSource(n, 1.0, delay=1, down=True) for n in "ab"]
        with self.assertRaisesRegex(LookupError, "no source answered"):
            await best_quote(down)

    @unittest.skipUnless(sys.version_info >= (3, 11), "TaskGroup is 3.11+")
    async def test_task_group_cancels_the_siblings_of_the_failing_branch(self) -> None:
        fast, broken, slow = sources()
        await self.assertTaskGroupRaises([ExceptionMatch(ConnectionError, match="broken")],
                                         [fast.quote(), broken.quote(), slow.quote()],
                                         states=["returned", "raised", "cancelled"])
        self.assertEqual(self.clock.elapsed(), 2)


if __name__ == "__main__":
    unittest.main()
