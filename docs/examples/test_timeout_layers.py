"""A timeout propagating through three layers as TimeoutError, at the exact virtual time."""

from __future__ import annotations

import asyncio
import unittest

from timeout_layers_app import Database, handler, service_get_buggy

from asynctestkit import AsyncTestCase


class TimeoutLayersTest(AsyncTestCase):
    async def test_fast_database_answers_through_every_layer(self) -> None:
        result = await self.assertCompletesWithin(2, handler(Database(latency=0.5), "k"))
        self.assertEqual(result, {"value": "SELECT k"})

    async def test_slow_database_times_out_at_the_top_after_exactly_two_seconds(self) -> None:
        async with self.assertTakes(2):
            error = await self.assertTimeoutPropagates(handler(Database(latency=3600), "k"))
        self.assertIsInstance(error, (TimeoutError, asyncio.TimeoutError))

    async def test_the_swallowing_layer_is_caught(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertTimeoutPropagates(service_get_buggy(Database(latency=3600), "k"))
        self.assertIn("service_get_buggy() did not raise TimeoutError (it returned 'default')", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
