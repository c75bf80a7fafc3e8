"""Background work and the rule that keeps it from hiding a deadlock (the clock's side of ``_background.py``).

**What counts as background work.**  Each background task is started in a copy of the caller's context in
which the context variable :data:`OWNER` is set.  asyncio copies the current context into every task,
callback and timer it creates, so everything background work starts (its sleeps and ``call_later`` timers,
the tasks it creates, the connection handlers of a server it opens) carries the mark too, at no cost per
timer: the mark is read only when the clock judges a stuck test.

**The rule** (:meth:`BackgroundWatch.stuck`, asked by the jump engine each time the loop is about to jump to
the next timer while background work exists).  A heartbeat's timers keep virtual time moving, so without a
rule a test that waits forever beside one would only fail at the horizon (a day of virtual time), as a
livelock.  The test is reported as deadlocked instead when *all* of these hold:

1. every pending timer was armed by background work (the test has no timeout or sleep of its own pending);
2. since the *quiet stretch* began (the first such jump after a task that is not background work last ran)
   no such task has been woken, has finished or has been created;
3. every timer pending now was armed during the stretch (each background sleeper came round at least once
   without waking the test), and the stretch has lasted ``window`` virtual seconds (60 by default:
   ``clock.background_window``);
4. no real work was in flight during the stretch (real work restarts it), and, as for any deadlock, nothing
   alive can wake the loop and a listener, pipe or thread that might gets ``deadlock_grace`` of real silence.

Limits: background work that wakes the test only after more than ``window`` virtual seconds of activity (a
poller that counts 100 beats of one second before it answers) is reported too early: raise the window.
Background work that spins on ``sleep(0)`` is not judged by this rule (the spin rule applies: a livelock at
the horizon).  On 3.10 and 3.11 a task created by background work is recognised only while it waits on a
future (its context is read from there); otherwise it counts as the test's own, which can only delay a report.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import weakref
from typing import Any

from .. import _compat, _diagnostics

__all__ = ["DEFAULT_BACKGROUND_WINDOW", "OWNER", "BackgroundWatch", "Owner", "in_background"]

DEFAULT_BACKGROUND_WINDOW = 60.0
"""Virtual seconds background work must run without waking a waiting test before the test is called stuck."""


class Owner:
    """The value of :data:`OWNER` in the context of background work: the group that started it."""

    __slots__ = ("__weakref__", "group")

    def __init__(self, group: object) -> None:
        self.group: weakref.ReferenceType[Any] = weakref.ref(group)


#: Set (to an :class:`Owner`) in the context of every background task, so in everything it starts.
OWNER: contextvars.ContextVar[Owner | None] = contextvars.ContextVar("asynctestkit_background", default=None)


def in_background(context: contextvars.Context | None) -> bool:
    """True if *context* (a task's or a timer's) belongs to background work."""
    return context is not None and context.get(OWNER) is not None


class BackgroundWatch:
    """One loop's background work, and the rule that tells a test waiting beside it from one waiting forever.

    Owned by the clock's jump engine (created at the first background task, or when ``background_window`` is
    set).  :meth:`stuck` is the rule stated in the module docstring; :meth:`restart` ends a quiet stretch.
    """

    __slots__ = ("_failures", "_first", "_first_ids", "_since", "_started", "_tasks", "window")

    def __init__(self, window: float = DEFAULT_BACKGROUND_WINDOW) -> None:
        self.window = window
        self._started: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()
        self._failures: list[tuple[asyncio.Task[Any], float]] = []
        self._since: float | None = None           # loop time the quiet stretch began (None: no stretch)
        self._first: list[asyncio.TimerHandle] = []  # the timers pending then (held: their ids stay unique)
        self._first_ids: set[int] = set()
        self._tasks: dict[asyncio.Task[Any], object] = {}  # the other tasks then, with the future each waited on

    # -- what is background work -------------------------------------------------------------------
    def add(self, task: asyncio.Task[Any]) -> None:
        self._started.add(task)

    def note_failure(self, task: asyncio.Task[Any], when: float) -> None:
        """A background task ended with an exception at loop time *when* (listed in hang reports)."""
        self._failures.append((task, when))

    def is_background(self, task: asyncio.Future[Any]) -> bool:
        if not isinstance(task, asyncio.Task):
            return False
        return task in self._started or in_background(_compat.task_context(task))

    def running(self, loop: asyncio.AbstractEventLoop) -> list[asyncio.Task[Any]]:
        """The pending background tasks of *loop*."""
        return [task for task in asyncio.all_tasks(loop) if self.is_background(task)]

    # -- the rule ----------------------------------------------------------------------------------
    def restart(self) -> None:
        """Forget the quiet stretch (something other than background timers happened)."""
        if self._since is not None:
            self._since = None
            self._first = []
            self._first_ids = set()
            self._tasks = {}

    def stuck(self, loop: asyncio.AbstractEventLoop, now: float, horizon: float = math.inf) -> bool:
        """Called when the idle loop is about to jump to its next timer: is the rest of the test stuck?

        *horizon* is the loop time past which no timer can fire in this test (the clock's horizon): a timer
        due later (``sleep(math.inf)``) need not come round.  Cheap when the test is not stuck: the scan
        stops at the first pending timer that is not background work.
        """
        live: list[asyncio.TimerHandle] = []
        for handle in _compat.timer_heap(loop):
            if handle.cancelled():
                continue
            if not in_background(_compat.handle_context(handle)):
                self.restart()
                return False
            live.append(handle)
        if not live:
            return False
        since = self._since
        if since is not None and now - since < self.window:
            # Mid-stretch: nothing to decide yet.  A task that ran meanwhile is still seen at the next full look
            # (the future it waits on has changed), which then starts the stretch afresh: looking less often
            # can only delay a report, never bring one forward.
            return False
        tasks = {task: _compat.task_waiter(task) for task in asyncio.all_tasks(loop) if not self.is_background(task)}
        if not tasks:  # nothing but background work is left: not a test waiting
            self.restart()
            return False
        previous = self._tasks
        if (self._since is None or tasks.keys() != previous.keys()
                or any(waiter is not previous[task] for task, waiter in tasks.items())):
            self._since = now  # a new stretch: something other than background work ran since the last look
            self._first = live
            self._first_ids = {id(handle) for handle in live}
            self._tasks = tasks
            return False
        if now - self._since < self.window:
            return False
        first = self._first_ids
        return not any(id(handle) in first and handle.when() <= horizon for handle in live)

    def quiet_for(self, now: float) -> float:
        """Virtual seconds the current quiet stretch has lasted (0 without one)."""
        return 0.0 if self._since is None else now - self._since

    # -- reports -----------------------------------------------------------------------------------
    def why(self, loop: asyncio.AbstractEventLoop, phase_task: asyncio.Task[Any] | None, now: float) -> str:
        """The reason part of the deadlock headline: what the test awaits, and that only background work is left."""
        count = len(self.running(loop))
        tasks = f"{count} background task{'s' if count != 1 else ''}"
        ran = f"{tasks} ran for {self.quiet_for(now):g} s of virtual time without waking it"
        if phase_task is not None and not phase_task.done():
            what = _diagnostics.awaiting(phase_task) or "something"
            where = _diagnostics.suspended_at(phase_task)
            at = f" at {_diagnostics.format_site(where)}" if where is not None else ""
            return f"can never finish: it awaits {what}{at} and only background work is left ({ran})"
        return f"can never finish: only background work is left ({ran})"

    def hint(self) -> str:
        return (f"background work does not count as progress; if it does wake the test after more than "
                f"{self.window:g} s of virtual time, raise self.clock.background_window")

    def failure_lines(self, start: float) -> list[str]:
        """Report lines for background tasks that failed (they are no longer pending, so not listed otherwise)."""
        lines = []
        for task, when in self._failures[:3]:
            exc = _compat.peek_exception(task)  # not exception(): the check at the end must still see it
            if exc is None:
                continue
            lines.append(f"  background {_diagnostics.describe_task(task)} failed at t={when - start:.3f}s: "
                         f"{type(exc).__name__}: {exc}")
        return lines
