"""Assertions for asyncio code: timeouts, cancellation, gather/TaskGroup propagation, ordering and progress.

:class:`AsyncAssertionsMixin` works on any ``unittest.IsolatedAsyncioTestCase``, so a legacy suite adopts it
one class at a time::

    class TestClient(AsyncAssertionsMixin, unittest.IsolatedAsyncioTestCase):
        async def test_gives_up(self):
            await self.assertDoesNotCompleteWithin(0.05, client.fetch())

:class:`~asynctestkit.AsyncTestCase` includes it, and there durations are virtual and exact: a one-hour
timeout is checked at once, ``assertTakes(3600, ...)`` to the nanosecond.

Conventions shared by every assertion:

- unittest style: an optional *msg*, honouring ``longMessage``; failures are ``self.failureException``
  whose first line says what was expected and what happened, then where (task, creation site, the line it
  was suspended at) and when (``virtual t=...``);
- assertions about a block of code take an optional awaitable: ``await self.assertX(..., aw)`` runs it,
  ``async with self.assertX(...):`` wraps a block;
- misuse (not an awaitable, a coroutine function, a finished task, a negative or NaN duration) raises
  TypeError/ValueError naming the argument, and a coroutine the assertion will never run is closed;
- code the assertion cancels is awaited before the assertion returns or fails: no task is left running
  (a task that swallows every cancellation is reported, not waited on forever);
- ``cancel_grace`` (class attribute, loop seconds, default 5) bounds that wait.

The assertions live in private modules by theme; see docs/assertions.md for each contract and a sample
failure.
"""

from __future__ import annotations

from ._block import Block
from ._cancel import CancellationAssertionsMixin
from ._fanout import ChildOutcome, FanOutAssertionsMixin, FanOutOutcome
from ._groupmatch import ExceptionMatch, GroupMatch
from ._groups import GroupAssertionsMixin
from ._mixin import AsyncAssertionsMixin
from ._progress import ProgressAssertionsMixin
from ._recorder import EventRecorder, RecordedEvent
from ._timing import TimingAssertionsMixin
from ._tracked import AssertionCall

__all__ = [
    "AssertionCall",
    "AsyncAssertionsMixin",
    "Block",
    "CancellationAssertionsMixin",
    "ChildOutcome",
    "EventRecorder",
    "ExceptionMatch",
    "FanOutAssertionsMixin",
    "FanOutOutcome",
    "GroupAssertionsMixin",
    "GroupMatch",
    "ProgressAssertionsMixin",
    "RecordedEvent",
    "TimingAssertionsMixin",
]
