"""Example code: retry a flaky async call with exponential backoff."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def retry(call: Callable[[], Awaitable[T]], *, attempts: int = 4, base_delay: float = 1.0,
                retry_on: tuple[type[BaseException], ...] = (ConnectionError,)) -> T:
    """Call *call* until it succeeds, sleeping base_delay, 2*base_delay, 4*base_delay... in between.

    The last error propagates after *attempts* calls; errors not in *retry_on* propagate at once.
    Cancellation interrupts a backoff sleep like any other await.
    """
    for attempt in range(attempts):
        try:
            return await call()
        except retry_on:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(base_delay * 2 ** attempt)
    raise AssertionError("unreachable")
