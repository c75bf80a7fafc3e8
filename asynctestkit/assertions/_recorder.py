"""``EventRecorder``: a log that tasks append to, so a test can assert the order things happened in.

Concurrency bugs are ordering bugs: the consumer ran before the producer filled the queue, the cleanup ran
after the reply was sent.  Hand a recorder to the code under test (or to small wrappers around it), record
an event at each interesting point, and compare the log with ``assertEventOrder``::

    events = EventRecorder()

    async def producer():
        events.record("produced")
        await queue.put(1)

    ...
    self.assertEventOrder(events, ["produced", "consumed"])

Each entry remembers the loop time and the task that recorded it, so a failure can say when and where each
event happened; on the virtual clock ``events.times("retry")`` gives exact backoff times.  Recording is a
plain synchronous call: safe from tasks, callbacks and synchronous code alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .. import _diagnostics
from .._validate import given
from ..clock._loop import VirtualClockLoop

__all__ = ["EventRecorder", "RecordedEvent"]


@dataclass(frozen=True)
class RecordedEvent:
    """One recorded event: the value, the loop time, and the task that recorded it (None outside a task)."""

    event: Any
    time: float | None
    task: str | None
    clock_start: float | None = None         # set on the virtual clock: times are shown from its start
    task_description: str | None = field(default=None, compare=False)  # ``task 'x' (coro())``, for reports

    def where(self) -> str:
        """``virtual t=1.500s task 'consumer' (consume())`` (or ``loop t=...`` on the real clock) for messages."""
        parts: list[str] = []
        if self.time is not None:
            if self.clock_start is not None:
                parts.append(f"virtual t={self.time - self.clock_start:.3f}s")
            else:
                parts.append(f"loop t={self.time:.3f}s")
        if self.task_description is not None:
            parts.append(self.task_description)
        elif self.task is not None:
            parts.append(f"task {self.task!r}")
        return " ".join(parts)


class EventRecorder:
    """An ordered log of events recorded by tasks, with when and by whom each was recorded.

    ``record(event)`` (or calling the recorder) appends; ``events`` lists the values, ``entries`` the full
    :class:`RecordedEvent` records, ``times(event)`` the loop times of one event;
    ``await wait_for(event)`` waits until it has been recorded.  Events are any values compared with ==,
    usually short strings or tuples like ``("fetch", 3)``.
    """

    def __init__(self) -> None:
        self._entries: list[RecordedEvent] = []
        self._waiters: list[tuple[Any, int, asyncio.Future[RecordedEvent]]] = []

    def record(self, event: Any) -> None:
        """Append *event*, stamped with the running loop's time and the current task's name."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        task = asyncio.current_task(loop) if loop is not None else None
        start = loop.clock.start if isinstance(loop, VirtualClockLoop) else None
        entry = RecordedEvent(event, loop.time() if loop is not None else None,
                              task.get_name() if task is not None else None, start,
                              _diagnostics.describe_task(task) if task is not None else None)
        self._entries.append(entry)
        if self._waiters:
            self._wake(entry)

    __call__ = record

    def _wake(self, entry: RecordedEvent) -> None:
        keep = []
        for event, count, fut in self._waiters:
            if fut.done():
                continue
            if event == entry.event and len(self.times(event)) >= count:
                fut.set_result(entry)
            else:
                keep.append((event, count, fut))
        self._waiters = keep

    @property
    def events(self) -> list[Any]:
        """The recorded values, in order."""
        return [entry.event for entry in self._entries]

    @property
    def entries(self) -> list[RecordedEvent]:
        """The recorded entries (value, loop time, task name), in order."""
        return list(self._entries)

    def times(self, event: Any) -> list[float | None]:
        """The loop times at which *event* was recorded, in order."""
        return [entry.time for entry in self._entries if entry.event == event]

    async def wait_for(self, event: Any, *, count: int = 1) -> RecordedEvent:
        """Wait until *event* has been recorded *count* times in all; return the entry that made it so.

        Returns at once when that already happened.  Cancelling the wait just withdraws it.
        """
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError(f"wait_for() argument 'count' must be an int >= 1, got {given(count)}")
        if count < 1:
            raise ValueError(f"wait_for() argument 'count' must be an int >= 1, got {count!r}")
        matching = [entry for entry in self._entries if entry.event == event]
        if len(matching) >= count:
            return matching[count - 1]
        fut: asyncio.Future[RecordedEvent] = asyncio.get_running_loop().create_future()
        self._waiters.append((event, count, fut))
        try:
            return await fut
        finally:
            self._waiters = [w for w in self._waiters if w[2] is not fut]

    def clear(self) -> None:
        """Forget every recorded event."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.events)

    def __repr__(self) -> str:
        return f"EventRecorder({self.events!r})"
