"""Ordering and progress: events in order, finishing within K loop iterations or without idling, and waiting
until every other task is blocked.

A *loop iteration* is one pass of the event loop: run the callbacks that are ready, then poll for I/O.  A
coroutine that never suspends completes in 0 iterations; each ``await asyncio.sleep(0)`` or hand-over to
another ready task costs one.  The loop *goes idle* when nothing is ready and it would wait for a timer or
for I/O: code that completes "without idling" only ever waited for other tasks that were ready to run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any

from .. import _compat, _diagnostics
from .._diagnostics import creation_site, describe_task
from ._base import (
    AssertionsBase,
    check_count,
    check_loop,
    optional_awaitable,
    rejecting,
    short_repr,
    stamp,
    where_lines,
)
from ._block import Block, Within
from ._recorder import EventRecorder, RecordedEvent
from ._tracked import AssertionCall
from ._waits import until_idle

__unittest = True

_ROWS = 24


class ProgressAssertionsMixin(AssertionsBase):
    """Assertions about the order of events and about how a coroutine makes progress on the loop."""

    def assertEventOrder(self, recorder: EventRecorder | Sequence[Any], expected: Sequence[Any],
                         msg: Any = None, *, exact: bool = True) -> None:
        """Assert that the events recorded are *expected*, in this order.

        With ``exact=True`` the recorded events must be exactly *expected*; with ``exact=False`` *expected*
        must appear in this relative order, other events may come in between.  *recorder* is an
        :class:`~asynctestkit.EventRecorder` (failures then show when and in which task each event was
        recorded) or a plain list of events.
        """
        method = "assertEventOrder"
        if not isinstance(exact, bool):
            raise TypeError(f"{method}() argument 'exact' must be True or False, got {type(exact).__name__}: "
                            f"{short_repr(exact)}")
        if isinstance(expected, (str, bytes)) or not isinstance(expected, Sequence):
            raise TypeError(f"{method}() argument 'expected' must be a list of events, got "
                            f"{type(expected).__name__}: {short_repr(expected)}")
        if isinstance(recorder, EventRecorder):
            entries = recorder.entries
        elif isinstance(recorder, Sequence) and not isinstance(recorder, (str, bytes)):
            entries = [RecordedEvent(event, None, None) for event in recorder]
        else:
            raise TypeError(f"{method}() argument 'recorder' must be an EventRecorder or a list of events, "
                            f"got {type(recorder).__name__}: {short_repr(recorder)}")
        wanted = list(expected)
        headline = (_exact_difference(entries, wanted) if exact else _missing_in_order(entries, wanted))
        if headline is None:
            return
        self._atk_fail("\n".join([headline, *_table(entries, wanted if exact else None)]), msg)

    def assertCompletesWithinIterations(self, iterations: int, aw: Awaitable[Any] | None = None,
                                        msg: Any = None) -> Block[Any]:
        """Assert that *aw* (or the ``async with`` block) completes within *iterations* loop iterations.

        Returns the result; ``cm.iterations`` tells how many it took.  When the budget is used up the code
        is cancelled (as by a timeout) and the failure names where it was suspended.  Time is not involved:
        use it to pin down "this hands over at most N times" or to catch busy loops.
        """
        method = "assertCompletesWithinIterations"
        with rejecting(aw):
            budget = check_count(method, "iterations", iterations)
            aw = optional_awaitable(method, aw)
        return Within(self, method, aw, msg, max_iterations=budget)

    def assertCompletesWithoutIdle(self, aw: Awaitable[Any] | None = None, msg: Any = None) -> Block[Any]:
        """Assert that *aw* (or the ``async with`` block) completes without the loop ever going idle.

        The loop goes idle when nothing is ready to run and it would wait for a timer or I/O.  In-memory
        hand-overs (queues, events, locks between ready tasks) never idle; a sleep, a timeout or real I/O
        does.  At the first idle moment the code is cancelled and the failure names where it was waiting.
        """
        method = "assertCompletesWithoutIdle"
        with rejecting(aw):
            aw = optional_awaitable(method, aw)
        return Within(self, method, aw, msg, no_idle=True)

    def waitUntilOthersBlocked(self, *, max_iterations: int = 10_000) -> AssertionCall[list[asyncio.Task[Any]]]:
        """Return once every other task is blocked (the loop has run everything that was ready).

        Virtual time does not move.  Returns the other tasks still pending, each now waiting on something
        (a future, a lock, a timer, I/O).  Fails when something is still ready to run after *max_iterations*
        loop iterations, naming the busy tasks (typically a loop around ``await asyncio.sleep(0)``).
        """
        method = "waitUntilOthersBlocked"
        budget = check_count(method, "max_iterations", max_iterations)
        loop, me = check_loop(method)
        return AssertionCall(self, method, lambda: self._atk_wait_blocked(budget, loop, me))

    async def _atk_wait_blocked(self, budget: int, loop: asyncio.AbstractEventLoop,
                                me: asyncio.Task[Any]) -> list[asyncio.Task[Any]]:
        def busy() -> BaseException:
            ready = [t for t in asyncio.all_tasks(loop)
                     if t is not me and not t.done() and _compat.task_waiter(t) is None]
            lines = [f"other tasks never all blocked: something was still ready to run after {budget} loop "
                     f"iterations ({stamp(loop)})"]
            for task in ready[:5]:
                lines.append(f"  busy: {describe_task(task)}")
                lines += ["  " + line for line in where_lines(task, created=False)]
                lines.append("    " + _diagnostics.site_line("created at", creation_site(task)))
            return self.failureException("\n".join(lines + _diagnostics.timeline_lines(loop)))

        await until_idle(budget, on_busy=busy)
        return [t for t in asyncio.all_tasks(loop) if t is not me and not t.done()]


def _exact_difference(entries: list[RecordedEvent], expected: list[Any]) -> str | None:
    events = [e.event for e in entries]
    if events == expected:
        return None
    pairs = enumerate(zip(events, expected, strict=False))
    k = next((i for i, (a, b) in pairs if a != b), min(len(events), len(expected)))
    if k < len(events) and k < len(expected):
        where = entries[k].where()
        return (f"events differ at #{k}: expected {short_repr(expected[k])}, recorded {short_repr(events[k])}"
                + (f" ({where})" if where else ""))
    if k < len(expected):
        return (f"recorded {len(events)} events, expected {len(expected)}: missing "
                f"{short_repr(expected[k:])} from #{k} on")
    return (f"recorded {len(events)} events, expected {len(expected)}: unexpected "
            f"{short_repr(events[k])} at #{k}" + (f" ({entries[k].where()})" if entries[k].where() else ""))


def _missing_in_order(entries: list[RecordedEvent], expected: list[Any]) -> str | None:
    events = [e.event for e in entries]
    pos = 0
    for i, want in enumerate(expected):
        found = next((j for j in range(pos, len(events)) if events[j] == want), None)
        if found is not None:
            pos = found + 1
            continue
        earlier = next((j for j in range(pos) if events[j] == want), None)
        if i == 0 or earlier is None:
            return (f"event {short_repr(want)} (expected #{i}) was never recorded"
                    + ("" if i == 0 else f" after {short_repr(expected[i - 1])} (recorded at #{pos - 1})"))
        where = entries[earlier].where()
        return (f"event {short_repr(want)} (expected #{i}) was recorded at #{earlier}"
                + (f" ({where})" if where else "")
                + f", before {short_repr(expected[i - 1])} at #{pos - 1}: expected it after")
    return None


def _table(entries: list[RecordedEvent], expected: list[Any] | None) -> list[str]:
    """The recorded events (and the expected ones, side by side), cut to fit one screen."""
    rows = max(len(entries), len(expected or []))
    want_width = max([len(short_repr(e)) for e in expected or []] + [8])
    got_width = max([len(short_repr(e.event)) for e in entries[:_ROWS]] + [8])
    lines = ["  #   " + (f"{'expected':<{want_width}}  " if expected is not None else "") + "recorded"]
    for i in range(min(rows, _ROWS)):
        want = short_repr(expected[i]) if expected is not None and i < len(expected) else ""
        got = short_repr(entries[i].event) if i < len(entries) else ""
        where = entries[i].where() if i < len(entries) else ""
        differs = expected is not None and (i >= len(entries) or i >= len(expected)
                                            or entries[i].event != expected[i])
        left = f"{want:<{want_width}}  " if expected is not None else ""
        row = f"  {i:<2}{'>' if differs else ' '} {left}{got:<{got_width}}  {where}"
        lines.append(row.rstrip())
    if rows > _ROWS:
        lines.append(f"  ... {rows - _ROWS} more")
    return lines
