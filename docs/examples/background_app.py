"""Example code: a client that keeps a session alive with heartbeats and waits for pushed events."""

from __future__ import annotations

import asyncio


class Hub:
    """A fake push service: a heartbeat keeps the client's session open; events are pushed to its inbox."""

    def __init__(self) -> None:
        self.beats: list[float] = []
        self.inbox: asyncio.Queue[str] = asyncio.Queue()

    async def heartbeat(self, every: float) -> None:
        """Beat every *every* seconds, forever (the client's keep-alive loop)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(every)
            self.beats.append(loop.time())

    async def push_later(self, delay: float, event: str) -> None:
        """Push *event* to the inbox after *delay* seconds (the service answering some time later)."""
        await asyncio.sleep(delay)
        self.inbox.put_nowait(event)


async def next_event(hub: Hub) -> str:
    """The next event pushed to the client (waits as long as it takes)."""
    return await hub.inbox.get()
