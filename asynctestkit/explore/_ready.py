"""The loop under a schedule: which callback runs next in an iteration, and how late a timer fires.

asyncio runs one *batch* per loop iteration: ``_run_once`` counts the callbacks ready (those scheduled by
the previous batch, the I/O callbacks of this iteration's ``select()``, the timers now due) and pops that
many from the front of its ready queue.  :func:`install` gives a loop a ready queue whose ``popleft()``
asks the schedule which item of the batch to run next, and a loop class that marks where each batch's
own items end (the ``_process_events`` hook) and, with jitter, delays timers.  Nothing else changes, and a
loop without a schedule never gets either: the default path costs nothing.

Which orders are allowed (so that correct code never fails because of the exploration itself):

- **task steps** (a task's next step or its wake-up) may run in any order: that is the nondeterminism real
  schedules have, a wake-up arriving earlier or later than another task's;
- **but what one callback scheduled runs in the order it scheduled it**: the done-callbacks of one future
  (asyncio's socket methods remove their writer in a done-callback that must run before the awaiting task
  resumes), the tasks one step created, a transport's ``connection_made`` before its first read;
- **other callbacks scheduled by the previous batch** (``call_soon``, future done-callbacks, transport
  internals) keep their order among themselves, as asyncio documents ("callbacks are called in the order in
  which they are registered");
- **I/O callbacks delivered together** may run in any order, and **timers due at the same time** too (in
  deadline order otherwise: a timer never runs before one due earlier, and neither does what it scheduled,
  such as the wake-up of the task whose sleep it ended).

Each pop with more than one candidate is a *decision point*, numbered from 0 in the run; the candidates are
listed in FIFO order, so candidate 0 is what plain asyncio would run.  A choice other than 0 is recorded as a
:class:`~asynctestkit.explore.Decision`, so a failure can say where its schedule departed from FIFO.
"""

from __future__ import annotations

import asyncio
import collections
import math
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from .. import _compat, _diagnostics
from ..trace import Trace, record_timeline
from ..trace._recorder import is_traced
from ._schedule import Decision, Schedule, Strategy

__all__ = ["ScheduleRun", "install"]

# Lanes of a batch item (see the module docstring).
_FREE = 0       # a task step or an I/O callback: any order
_CHAINED = 1    # another callback scheduled by the previous batch: FIFO among these
_TIMER = 2      # a timer: deadline order, any order among equal deadlines
_NO_RANK = math.inf  # an item not scheduled by a timer (see _ScheduledReady._ranks)


class ScheduleRun:
    """One run of a test under a schedule: the strategy's state and what it decided (``decisions``)."""

    def __init__(self, schedule: Schedule, *, record: bool = False) -> None:
        self.schedule = schedule
        self.record = record     # record the task timeline on the loop if it does not already
        self.trace: Trace | None = None  # the timeline this run recorded itself (when *record*)
        self.strategy: Strategy = schedule.strategy_for_run()
        self.decisions: list[Decision] = []
        self.points = 0          # decision points met so far
        self.timers = 0          # timers armed with a positive delay so far (their numbers for jitter)
        self.start = 0.0         # the loop's start time (reports count virtual time from it)

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run *loop* under this schedule from now on (see :func:`install`); with *record*, also record its
        task timeline (ring mode) unless the loop records one already (the test case's own ``trace_mode``)."""
        install(loop, self)
        if self.record and not is_traced(loop) and isinstance(loop, asyncio.SelectorEventLoop):
            self.trace = record_timeline(loop, "ring")

    def departures(self) -> tuple[dict[int, int], dict[int, float]]:
        """The recorded departures as a script: ``({point: index}, {timer: extra seconds})``."""
        order = {d.point: d.choice for d in self.decisions if d.kind == "order"}
        delays = {d.point: d.extra for d in self.decisions if d.kind == "delay"}
        return order, delays


def _describe(handle: asyncio.Handle) -> str:
    task = _compat.handle_task(handle)
    if task is not None:
        return _diagnostics.describe_task(task)
    name = _diagnostics.callable_name(_compat.handle_callback(handle))
    if isinstance(handle, asyncio.TimerHandle):
        return f"timer {name}()"
    return f"callback {name}()"


def _task_names(*handles: asyncio.Handle) -> tuple[str, ...]:
    names = []
    for handle in handles:
        task = _compat.handle_task(handle)
        if task is not None:
            names.append(task.get_name())
    return tuple(names)


def _now(ref: weakref.ref[asyncio.AbstractEventLoop]) -> float:
    loop = ref()
    return loop.time() if loop is not None else 0.0


class _ScheduledReady(collections.deque):  # type: ignore[type-arg]
    """The loop's ready queue under a schedule: ``popleft()`` runs the item of the batch the schedule picks.

    Each item carries a tag (a parallel deque): the number of the item whose run appended it (``call_soon``
    while that item ran: its *producer*), or a unique negative number for an *arrival* (appended between
    batches: an I/O callback, a due timer, a thread's ``call_soon_threadsafe``, the first step of a run).
    """

    def __init__(self, items: Iterable[Any], run: ScheduleRun, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(items)
        self._run = run
        self._loop = weakref.ref(loop)  # the loop holds this queue: no cycle
        self._left = 0               # items of the current batch not popped yet
        self._arrivals = -len(self)  # the last arrival tag handed out (counting down from -1)
        self._tags: collections.deque[int] = collections.deque(range(-1, self._arrivals - 1, -1))
        self._producer = -1          # the tag of appends now: the item running, or -1 between batches
        self._popped = 0             # items popped so far (the producer tags, counting up)
        #: (lane, deadline, rank, tag, agent) of each item of the batch not popped yet, in queue order
        self._lanes: list[tuple[int, float, float, int, object]] = []
        #: The deadline of each timer that ran, by its producer tag: what it scheduled (the wake-up of a task
        #: whose sleep ended) keeps the timers' deadline order, as the timers themselves do.
        self._ranks: dict[int, float] = {}

    def append(self, handle: Any) -> None:
        super().append(handle)
        tag = self._producer
        if tag < 0:
            tag = self._arrivals = self._arrivals - 1
        self._tags.append(tag)

    def clear(self) -> None:
        super().clear()
        self._tags.clear()
        self._left = 0

    def batch_over(self) -> None:
        """``select()`` returned: the batch is over, and what is appended until the next one are arrivals."""
        self._left = 0
        self._producer = -1

    def _start_batch(self, size: int) -> None:
        self._left = size
        lanes = self._lanes
        lanes.clear()
        tags = self._tags
        ranks = self._ranks
        for position in range(size):
            handle = self[position]
            tag = tags[position]
            rank = ranks.get(tag, _NO_RANK)
            task = _compat.handle_task(handle)
            if task is not None:
                lanes.append((_FREE, 0.0, rank, tag, task))
            elif tag >= 0:
                lanes.append((_CHAINED, 0.0, rank, tag, handle))
            elif isinstance(handle, asyncio.TimerHandle):
                lanes.append((_TIMER, handle.when(), rank, tag, handle))
            else:
                lanes.append((_FREE, 0.0, rank, tag, handle))
        ranks.clear()  # the items of this batch carry theirs now; timers that run in it record new ones

    def _take(self, position: int) -> Any:
        """Remove and return the item at *position*; it becomes the producer of what is appended next."""
        if position:
            handle = self[position]
            del self[position]
            del self._tags[position]
        else:
            handle = super().popleft()
            self._tags.popleft()
        self._popped += 1
        self._producer = self._popped
        if type(handle) is not asyncio.Handle and isinstance(handle, asyncio.TimerHandle):
            self._ranks[self._popped] = handle.when()
        return handle

    def popleft(self) -> Any:
        left = self._left
        if not left:
            left = len(self)
            if left < 2:  # a batch of one (the common case) or none: nothing to choose
                return self._take(0)  # empty: deque raises its own IndexError
            self._start_batch(left)
        lanes = self._lanes
        candidates: list[int] = []
        if left > 1 and not self[0].cancelled():
            groups: set[int] = set()
            chained_seen = False
            due: float | None = None
            first_rank = min([entry[2] for entry in lanes])
            position = -1
            for lane, when, rank, tag, _agent in lanes:
                position += 1
                if tag >= 0:  # what one item appended runs in the order it appended it
                    if tag in groups:
                        continue
                    groups.add(tag)
                if rank != _NO_RANK and rank != first_rank:  # scheduled by a timer due later than another's
                    continue
                if lane == _CHAINED:
                    if chained_seen:
                        continue
                    chained_seen = True
                elif lane == _TIMER:
                    if due is None:
                        due = when
                    elif when != due:
                        continue
                if not self[position].cancelled():
                    candidates.append(position)
        self._left = left - 1
        if len(candidates) < 2:
            del lanes[0]
            return self._take(0)
        run = self._run
        point = run.points
        run.points = point + 1
        handles = [self[position] for position in candidates]
        index = run.strategy.choose(point, [lanes[position][4] for position in candidates])
        if not 0 <= index < len(candidates):
            index = 0
        position = candidates[index]
        if index:
            run.decisions.append(Decision("order", point, index, _describe(handles[index]),
                                          _describe(handles[0]), _now(self._loop) - run.start,
                                          tasks=_task_names(handles[index], handles[0])))
        del lanes[position]
        return self._take(position)


def _on_events(ready: Any) -> None:
    """Each iteration, after ``select()``: the batch that ran is over (the queue may be a plain deque again
    only if something replaced it: then there is nothing to mark)."""
    if type(ready) is _ScheduledReady:
        ready.batch_over()


def _jittered_call_at(self: Any, when: Any, callback: Callable[..., object], *args: Any,
                      context: Any = None) -> asyncio.TimerHandle:
    """``call_at`` of a loop under a schedule with jitter: a timer armed ahead fires up to jitter x late."""
    ready = _compat.ready_queue(self)
    base: Callable[..., asyncio.TimerHandle] = self._atk_schedule_base.call_at
    if isinstance(ready, _ScheduledReady):
        run = ready._run
        ahead = when - self.time()
        if ahead > 0:
            number = run.timers
            run.timers = number + 1
            extra = run.strategy.delay(number, ahead)
            if extra > 0:
                run.decisions.append(Decision("delay", number, 0, _diagnostics.callable_name(callback), "",
                                              self.time() - run.start, extra))
                when = when + extra
    return base(self, when, callback, *args, context=context)


_SCHEDULED_CLASSES: dict[tuple[type, bool], type] = {}


def _scheduled_class(cls: type, jitter: bool) -> type:
    scheduled = _SCHEDULED_CLASSES.get((cls, jitter))
    if scheduled is None:
        namespace: dict[str, Any] = {"_atk_schedule_base": cls}
        if jitter:
            namespace["call_at"] = _jittered_call_at
        scheduled = _compat.loop_class_with_events_hook(cls, _on_events, namespace)
        _SCHEDULED_CLASSES[(cls, jitter)] = scheduled
    return scheduled


def install(loop: asyncio.AbstractEventLoop, run: ScheduleRun) -> None:
    """Run *loop* under *run*'s schedule: its ready queue picks by the schedule, its class marks batches.

    The loop wears a subclass of its own class (cached per class), as the clock's real-time hold does; a
    loop already under a schedule raises RuntimeError.
    """
    if isinstance(_compat.ready_queue(loop), _ScheduledReady):
        raise RuntimeError("this loop already runs under a schedule")
    clock = getattr(loop, "clock", None)
    if clock is not None:
        run.start = loop.time() - clock.elapsed()
    else:  # a real-time loop: count from now, as its timeline does
        run.start = loop.time()
    loop.__class__ = _scheduled_class(type(loop), bool(run.schedule.jitter or run.schedule.delays))
    _compat.swap_ready_queue(loop, lambda old: _ScheduledReady(old, run, loop))
