"""Hang reports as pytest shows them: the DeadlockError/LivelockError text must come through intact.

tests/interop/check_pytest.py finds the lines marked ``# <- ...`` below and checks that pytest's output
names them as ``test_hang_report.py:<line>``, together with the task names.
"""

from __future__ import annotations

import asyncio

import asynctestkit

EXPECTED = {
    "HangReportTest::test_deadlock_is_reported_with_tasks_and_lines": "failed",
    "HangReportTest::test_livelock_is_reported_at_the_horizon": "failed",
}


async def wait_forever(event: asyncio.Event) -> None:
    await event.wait()  # <- worker suspended


async def tick_forever() -> None:
    while True:
        await asyncio.sleep(1)  # <- ticker suspended


class HangReportTest(asynctestkit.AsyncTestCase):
    clock_horizon = 100.0

    async def test_deadlock_is_reported_with_tasks_and_lines(self) -> None:
        event = asyncio.Event()
        worker = asyncio.create_task(wait_forever(event), name="stuck-worker")  # <- worker created
        await worker  # <- test suspended

    async def test_livelock_is_reported_at_the_horizon(self) -> None:
        ticker = asyncio.create_task(tick_forever(), name="ticker")
        await asyncio.Event().wait()  # <- livelocked test suspended
        ticker.cancel()
