"""Code under test that reads the time module directly (used by test_timepatch.py: patch_time and its remedy).

Both import styles are here on purpose: ``import time`` and ``from time import monotonic``.
"""

from __future__ import annotations

import asyncio
import time
from time import monotonic, perf_counter


async def measure_sleep(seconds: float) -> float:
    """How long ``asyncio.sleep(seconds)`` took, measured with ``time.monotonic()``."""
    began = time.monotonic()
    await asyncio.sleep(seconds)
    return time.monotonic() - began


async def measure_sleep_imported(seconds: float) -> float:
    """The same, measured with ``from time import monotonic``."""
    began = monotonic()
    await asyncio.sleep(seconds)
    return monotonic() - began


def wall_clock() -> float:
    """``time.time()`` as the module sees it."""
    return time.time()


__all__ = ["measure_sleep", "measure_sleep_imported", "monotonic", "perf_counter", "time", "wall_clock"]
