"""Example code: a consumer that runs jobs concurrently and cancels pending work when the producer stops."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

Job = Callable[[], Coroutine[Any, Any, None]]
STOP = None


class Dispatcher:
    """Takes jobs from a queue and runs each in its own task; ``STOP`` (None) ends the run.

    When the producer sends STOP, jobs still running are cancelled and awaited: the dispatcher never
    leaves work behind.  Cancelling ``run()`` itself does the same.
    """

    def __init__(self, queue: asyncio.Queue[Job | None]) -> None:
        self.queue = queue
        self.running: dict[asyncio.Task[None], None] = {}  # a dict keeps start order: cancel oldest first
        self.finished = 0

    async def run(self) -> int:
        try:
            while (job := await self.queue.get()) is not STOP:
                task: asyncio.Task[None] = asyncio.create_task(job())
                self.running[task] = None
                task.add_done_callback(self._done)
        finally:
            await self._cancel_pending()
        return self.finished

    def _done(self, task: asyncio.Task[None]) -> None:
        self.running.pop(task, None)
        if not task.cancelled() and task.exception() is None:
            self.finished += 1

    async def _cancel_pending(self) -> None:
        pending = list(self.running)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
