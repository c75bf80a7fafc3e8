"""One simulated hour of sleeps and timeouts: the body of W2 and of every test in the peer table (peers.py).

Imports only asyncio, so it can run unchanged under any framework (unittest, pytest, a fake-time loop)
without importing asynctestkit.
"""

from __future__ import annotations

import asyncio
import sys


class HourError(RuntimeError):
    """The simulated hour did not behave as real asyncio does (a timeout did not fire): the figure would lie."""


SIMULATED_SECONDS = 3600.0


async def _timeout_block(seconds: float) -> None:
    """Wait far longer than *seconds* inside ``asyncio.timeout`` (``wait_for`` on 3.10), which cuts it."""
    try:
        if sys.version_info >= (3, 11):
            async with asyncio.timeout(seconds):
                await asyncio.sleep(seconds * 100)
        else:  # pragma: no cover - 3.10 has no asyncio.timeout
            await asyncio.wait_for(asyncio.sleep(seconds * 100), seconds)
    except asyncio.TimeoutError:
        return
    raise HourError("the timeout did not fire")


async def simulate_hour(scale: float = 1.0) -> int:
    """One simulated hour: 60 rounds of sleep(30) + wait_for(15 s timeout) + timeout(15 s), and a heartbeat.

    A background task ticks every 10 s (360 ticks).  *scale* multiplies every duration: 1.0 under the
    virtual clock, 1/3600 when the plain base has to sleep for real.  Returns the number of ticks.
    """
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(10 * scale)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    never = asyncio.Event()
    try:
        for _minute in range(60):
            await asyncio.sleep(30 * scale)
            try:
                await asyncio.wait_for(never.wait(), 15 * scale)
            except asyncio.TimeoutError:
                pass
            else:
                raise HourError("wait_for did not time out")
            await _timeout_block(15 * scale)
    finally:
        beat.cancel()
        await asyncio.gather(beat, return_exceptions=True)
    return ticks


