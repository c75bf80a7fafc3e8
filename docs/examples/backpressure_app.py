"""Example code: a fast producer feeding a slow consumer through a bounded queue."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def produce(queue: asyncio.Queue[int], count: int, record: Callable[[str], None]) -> None:
    """Put *count* items as fast as the queue takes them; ``put`` waits while the queue is full."""
    for item in range(count):
        await queue.put(item)
        record(f"put {item}")


async def consume(queue: asyncio.Queue[int], count: int, seconds_per_item: float,
                  record: Callable[[str], None]) -> None:
    """Take *count* items, spending *seconds_per_item* on each."""
    for _ in range(count):
        item = await queue.get()
        await asyncio.sleep(seconds_per_item)
        record(f"done {item}")
        queue.task_done()
