"""Timer inspection: the loop's pending timers as readable records (``clock.pending_timers()``, ``next_deadline()``).

What Twisted's ``Clock.getDelayedCalls()`` gives a Twisted test, for asyncio: every timer that is still
pending (cancelled ones are left out), earliest first, with its deadline, what it will do and where it was
armed.  Nothing is recorded when timers are created, so the timer hot path (``call_at``) pays nothing; what a
record says is worked out when it is asked for:

- a timer that ends a sleep (``asyncio.sleep``, ``wait_for`` on 3.10/3.11) wakes the task suspended on its
  future: the record names that task and the line it sleeps at, which is where the timer was armed;
- an ``asyncio.timeout()`` deadline (and ``wait_for``'s on 3.12+) cancels its task: the record names the task
  and the line the task is suspended at inside the block;
- any other callback (``call_later(5, cache.expire, "k")``) is named with its arguments
  (``Cache.expire('k')``); the line that scheduled it is known only when asyncio recorded it, that is when
  the loop's debug mode is on (``asyncio_debug = True``); otherwise ``site`` is None and the text says so.
"""

from __future__ import annotations

import asyncio
import reprlib
from dataclasses import dataclass, field
from typing import Any

from .. import _compat, _diagnostics
from ._quiet import in_background

__all__ = ["PendingTimer", "next_deadline", "pending_timers"]

_UNKNOWN_SITE = "armed at an unknown line (asyncio records it only in debug mode: asyncio_debug = True)"
_args_repr = reprlib.Repr()
_args_repr.maxstring = 40
_args_repr.maxother = 40


@dataclass(frozen=True)
class PendingTimer:
    """One pending timer of a :class:`~asynctestkit.VirtualClockLoop`, as ``clock.pending_timers()`` saw it.

    A snapshot: ``when`` and ``due_in`` do not change as time moves.  ``handle`` is the live
    ``asyncio.TimerHandle`` (``handle.cancel()`` cancels the timer).
    """

    when: float
    """The loop time the timer is due at (``handle.when()``, on the scale of ``loop.time()``)."""
    due_in: float
    """Seconds from the moment of the snapshot to ``when`` (0 for a timer already due)."""
    callback: str
    """What it does, readably: ``wakes task 'retry' (sleep())``, ``cancels task 'fetch' (timeout)``,
    ``Cache.expire('k')``."""
    task: str | None
    """The name of the task it wakes or cancels, None for a plain callback."""
    site: str | None
    """Where it was armed (``client.py:12 in fetch: await asyncio.sleep(2)``), None when unknown."""
    background: bool
    """True when background work (``start_background``, ``BackgroundTasks``) armed it."""
    start: float = field(repr=False)
    """The clock's start, so that ``str()`` shows ``t=`` on the scale of reports and ``clock.elapsed()``."""
    handle: asyncio.TimerHandle = field(repr=False, compare=False)

    def __str__(self) -> str:
        where = f" at {self.site}" if self.site else f" ({_UNKNOWN_SITE})"
        marker = " [background]" if self.background else ""
        return f"t={self.when - self.start:.3f}s (in {self.due_in:g} s){marker} {self.callback}{where}"


def _describe(handle: asyncio.TimerHandle, waiters: dict[int, asyncio.Task[Any]]) -> tuple[str, str | None, str | None]:
    """``(callback text, task name, site)`` for one timer (see the module docstring)."""
    callback = _compat.handle_callback(handle)
    args = _compat.handle_args(handle)
    for arg in args:
        task = waiters.get(id(arg))
        if task is not None:
            where = _diagnostics.suspended_at(task)
            site = _diagnostics.format_site(where, with_source=True) if where is not None else None
            what = _diagnostics.awaiting(task)
            return (f"wakes {_diagnostics.describe_task(task)}" + (f" from {what}" if what else ""),
                    task.get_name(), site)
    owner = _compat.timeout_task(callback)
    if owner is not None:
        where = _diagnostics.suspended_at(owner)
        site = _diagnostics.format_site(where, with_source=True) if where is not None else None
        return f"cancels {_diagnostics.describe_task(owner)} (timeout)", owner.get_name(), site
    name = _diagnostics.callable_name(callback)
    text = f"{name}({', '.join(_args_repr.repr(arg) for arg in args)})"
    recorded = _diagnostics.stack_site(_compat.source_traceback(handle))
    return text, None, _diagnostics.format_site(recorded, with_source=True) if recorded is not None else None


def pending_timers(loop: asyncio.AbstractEventLoop, start: float) -> list[PendingTimer]:
    """The pending (not cancelled) timers of *loop*, earliest first; equal deadlines in scheduling order."""
    handles = _compat.scheduled_handles(loop)
    if not handles:
        return []
    now = loop.time()
    waiters = {id(w): t for t in asyncio.all_tasks(loop) if (w := _compat.task_waiter(t)) is not None}
    records = []
    for handle in handles:
        text, task, site = _describe(handle, waiters)
        when = handle.when()
        records.append(PendingTimer(when=when, due_in=max(0.0, when - now), callback=text, task=task, site=site,
                                    background=in_background(_compat.handle_context(handle)), start=start,
                                    handle=handle))
    return records


def next_deadline(loop: asyncio.AbstractEventLoop) -> float | None:
    """The earliest deadline (loop time) among the pending timers of *loop*, None when none is pending."""
    whens = [handle.when() for handle in _compat.timer_heap(loop) if not handle.cancelled()]
    return min(whens) if whens else None
