"""The floor for timer-heavy code: asyncio's own loop with the cheapest possible virtual clock.

Why not a bare ``asyncio.run``?  With real delays, 100,000 random timers over an hour take an hour of wall
time; the work asyncio does for them is its *CPU* time, one loop iteration per deadline.  Compressing the
delays so the bare run finishes quickly does not preserve that work: epoll waits in whole milliseconds,
so a compressed timeline makes the bare loop fire dozens of timers per iteration, work no real program
with an hour of timers gets to share.

``JumpClockLoop`` keeps asyncio's timer machinery untouched (``call_at``, the heap, ``_run_once``,
``sleep``) and only replaces the sleeping: when asyncio asks its selector to wait *timeout* seconds for the
next timer, time moves forward by exactly that much and the selector is polled without blocking (the
same ``epoll_wait`` system call a real iteration makes).  So the loop does one iteration per deadline,
like a real run, with nothing on top; this is the least any virtual clock can cost.  ``W4R`` checks the
claim: on the same timers, a real ``asyncio.run``'s CPU time is at or above this floor's wall time.

There is no deadlock detection, no real-work tracking and no slow-callback check: it is a measuring
stick, not a tool (use ``asynctestkit.VirtualClockLoop``).
"""

from __future__ import annotations

import asyncio
import selectors
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

_T = TypeVar("_T")


class _JumpSelector(selectors.BaseSelector):
    """Delegates to the platform selector; a request to wait becomes a jump of the loop's clock."""

    def __init__(self, loop: JumpClockLoop) -> None:
        self._inner = selectors.DefaultSelector()
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        # asyncio passes the delay to its next timer (0 when callbacks are ready, None with no timer).
        if timeout:
            self._loop.now += timeout
        return self._inner.select(0)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()


class JumpClockLoop(asyncio.SelectorEventLoop):
    """A selector loop whose ``time()`` jumps to each next timer instead of sleeping until it."""

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(selector=_JumpSelector(self))

    def time(self) -> float:
        return self.now


def run_on_jump_clock(make: Callable[[], Awaitable[_T]]) -> _T:
    """``asyncio.run(make())`` on a :class:`JumpClockLoop` (3.11+: through ``asyncio.Runner``)."""
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=JumpClockLoop) as runner:
            return runner.run(make())  # type: ignore[arg-type]
    loop = JumpClockLoop()  # pragma: no cover - 3.10 has no Runner
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(make())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()
