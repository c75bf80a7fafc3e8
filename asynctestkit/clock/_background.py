"""Background work: helper tasks beside the code under test, and how the clock tells them from the test's own work.

A test often needs helpers that run for its whole length: a heartbeat, a poller, a fake server.
:class:`BackgroundTasks` starts them (``start(coro, name=...)``), and at the end (``aclose()``, or leaving
``async with``) cancels them, waits for them, and fails with the name and creation site of any that raised.
``AsyncTestCase.start_background()`` is the same with one group per test, closed among the test's cleanups
(before the leak check, so nothing is reported as leaked).

**What counts as background work.**  Each task is started in a copy of the caller's context in which the
context variable :data:`OWNER` is set.  asyncio copies the current context into every task, callback and
timer it creates, so everything background work starts (its sleeps and ``call_later`` timers, the tasks it
creates, the connection handlers of a server it opens) carries the mark too, at no cost per timer: the mark is
read only when the clock judges a stuck test.

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
import inspect
import math
import weakref
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from .. import _compat, _diagnostics, _validate
from .._diagnostics import Site

if TYPE_CHECKING:
    from types import TracebackType

# aclose() raises the failure of background work: unittest leaves this module's frame out of the traceback (it
# only ever ends one, after the user's code), so the report and the chained exception are what is shown.
__unittest = True

__all__ = ["DEFAULT_BACKGROUND_WINDOW", "OWNER", "BackgroundTasks", "BackgroundWatch", "in_background"]

DEFAULT_BACKGROUND_WINDOW = 60.0
"""Virtual seconds background work must run without waking a waiting test before the test is called stuck."""

_STOP_ROUNDS = 3      # cancellations sent to a background task before it is reported as refusing to stop
_STOP_WAIT = 60.0     # seconds (virtual on the virtual clock) each round waits for the tasks to end


class _Owner:
    """The value of :data:`OWNER` in the context of background work: the group that started it."""

    __slots__ = ("__weakref__", "group")

    def __init__(self, group: BackgroundTasks) -> None:
        self.group: weakref.ReferenceType[BackgroundTasks] = weakref.ref(group)


#: Set (to an ``_Owner``) in the context of every background task, so in everything it starts.
OWNER: contextvars.ContextVar[_Owner | None] = contextvars.ContextVar("asynctestkit_background", default=None)


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


def _check_coroutine(where: str, coro: object) -> None:
    if asyncio.iscoroutine(coro):
        return
    if inspect.iscoroutinefunction(coro) or callable(coro):
        name = getattr(coro, "__name__", "f")
        raise TypeError(f"{where} argument 'coro' must be a coroutine object: call the function "
                        f"({name}(), not {name}), got {_validate.given(coro)}")
    raise TypeError(f"{where} argument 'coro' must be a coroutine object (e.g. heartbeat()), "
                    f"got {_validate.given(coro)}")


def check_start(where: str, coro: object, name: object) -> None:
    """The argument checks of ``start()`` / ``start_background()`` (TypeError naming the parameter).

    A rejected coroutine object is closed, so that it is not also reported as never awaited.
    """
    _check_coroutine(where, coro)
    if name is not None and not isinstance(name, str):
        _close(coro)
        raise TypeError(f"{where} argument 'name' must be a str or None, got {_validate.given(name)}")


def _close(coro: object) -> None:
    close = getattr(coro, "close", None)
    if close is not None:
        close()


def _watch_of(loop: asyncio.AbstractEventLoop) -> BackgroundWatch | None:
    """The background watch of *loop*'s virtual clock (created on first use), None on any other loop."""
    # Imported here, not at the top: _loop imports the jump engine, which imports this module.
    from ._loop import VirtualClockLoop

    if isinstance(loop, VirtualClockLoop):
        return loop.clock._background_watch()
    return None


class BackgroundTasks:
    """Helper tasks (heartbeats, pollers, fake servers) that run beside the code under test, then are stopped.

    ``start(coro, name=...)`` runs *coro* as a task now.  ``aclose()`` (or leaving ``async with``) cancels
    every task still running, and every task they started, waits for them, and then raises
    ``AssertionError`` naming each task that ended with an exception nobody retrieved (its name, where it was
    started, where it raised, the virtual time), chained to the first such exception.  A task that swallows
    three cancellations is named too ("did not stop").

    On a :class:`~asynctestkit.VirtualClockLoop` background work does not count as progress: a test that
    waits for something only background timers keep the loop busy around is reported as a
    :class:`~asynctestkit.DeadlockError` after ``clock.background_window`` virtual seconds (see
    docs/doubles.md), instead of a livelock after the horizon.  On other loops it is only started and
    stopped.  ``AsyncTestCase.start_background()`` gives each test one group, closed among its cleanups::

        async with BackgroundTasks() as background:
            background.start(heartbeat(session, every=1.0), name="heartbeat")
            await client.run_until_done()
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watch: BackgroundWatch | None = None
        self._start_time: float | None = None   # the clock's start on a virtual clock (times are shown from it)
        self._tasks: list[asyncio.Task[Any]] = []
        self._sites: dict[asyncio.Task[Any], Site | None] = {}
        self._ended_at: dict[asyncio.Task[Any], float] = {}
        self._stopped: set[asyncio.Task[Any]] = set()  # tasks aclose() had to cancel
        self._closed = False

    @property
    def tasks(self) -> tuple[asyncio.Task[Any], ...]:
        """The tasks started by :meth:`start`, in order (running or done); empty once :meth:`aclose` is done."""
        return tuple(self._tasks)

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` has begun: :meth:`start` then raises ``RuntimeError``."""
        return self._closed

    def start(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task[Any]:
        """Run *coro* as a background task of this group (named *name*) and return the task.

        Raises TypeError for a non-coroutine (a coroutine function not called) or a non-string *name*, and
        RuntimeError outside a running event loop, on another loop than the group's first task, or after
        :meth:`aclose`; a rejected coroutine is closed.
        """
        check_start("BackgroundTasks.start()", coro, name)
        self._check_loop("BackgroundTasks.start()", coro)
        return self._start(coro, name)

    def _check_loop(self, where: str, coro: object) -> asyncio.AbstractEventLoop:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            _close(coro)
            raise RuntimeError(f"{where} must be called while an event loop runs (inside async code); "
                               f"no event loop is running in this thread") from None
        if self._closed:
            _close(coro)
            raise RuntimeError(f"{where}: this BackgroundTasks group is closed (aclose() was called)")
        if self._loop is not None and loop is not self._loop:
            _close(coro)
            raise RuntimeError(f"{where}: this BackgroundTasks group runs on another event loop")
        return loop

    def _start(self, coro: Coroutine[Any, Any, Any], name: str | None) -> asyncio.Task[Any]:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            self._watch = _watch_of(loop)
            if self._watch is not None:
                self._start_time = loop.clock.start  # type: ignore[attr-defined]
        context = contextvars.copy_context()
        context.run(OWNER.set, _Owner(self))
        # Created inside the context: the task runs in a copy of it, on every version (3.10 has no context=).
        task: asyncio.Task[Any] = context.run(loop.create_task, coro, name=name)
        self._tasks.append(task)
        self._sites[task] = _diagnostics.caller_site()
        if self._watch is not None:
            self._watch.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        when = task.get_loop().time()
        self._ended_at[task] = when
        if self._watch is not None and not task.cancelled() and _compat.exception_never_retrieved(task):
            self._watch.note_failure(task, when)

    def _descendants(self) -> list[asyncio.Task[Any]]:
        """Pending tasks of the loop started (directly or not) by this group's tasks."""
        found = []
        for task in asyncio.all_tasks(self._loop):
            context = _compat.task_context(task)
            owner = context.get(OWNER) if context is not None else None
            if owner is not None and owner.group() is self and task not in self._sites:
                found.append(task)
        return found

    async def aclose(self) -> None:
        """Cancel every background task still running (and what they started), wait for them, report failures.

        Raises ``AssertionError`` when a task ended with an exception that nobody retrieved, or did not stop
        after three cancellations; otherwise returns once everything has stopped.  A second call does nothing.
        """
        if self._closed:
            return
        self._closed = True
        stubborn: list[asyncio.Task[Any]] = []
        if self._loop is not None:
            pending = {task for task in self._tasks if not task.done()} | set(self._descendants())
            for _round in range(_STOP_ROUNDS):
                if not pending:
                    break
                self._stopped |= pending
                for task in pending:
                    task.cancel(msg="background work stopped at the end (BackgroundTasks.aclose())")
                _done, pending = await asyncio.wait(pending, timeout=_STOP_WAIT)
            stubborn = [task for task in self._tasks if task in pending]
        problems = self._failures()
        message = self._message(problems, stubborn) if problems or stubborn else None
        # Let go of the tasks: a cancelled task keeps its CancelledError, whose traceback holds the frames of
        # whoever ran the loop (the test case among them): kept here, that would be a reference cycle.
        self._tasks.clear()
        self._sites.clear()
        self._ended_at.clear()
        self._stopped.clear()
        if message is not None:
            raise AssertionError(message) from (problems[0][1] if problems else None)

    def _failures(self) -> list[tuple[asyncio.Task[Any], BaseException]]:
        failed = []
        for task in self._tasks:
            if task.done() and not task.cancelled() and _compat.exception_never_retrieved(task):
                exc = task.exception()  # retrieved: reported here, not again as a leak or by asyncio's log
                if exc is not None:
                    failed.append((task, exc))
        return failed

    def _when(self, task: asyncio.Task[Any]) -> str:
        if task in self._stopped:
            return " while it was being stopped at the end"
        when = self._ended_at.get(task)
        if when is None or self._start_time is None:
            return ""
        return f" at virtual t={when - self._start_time:.3f}s"

    def _message(self, problems: list[tuple[asyncio.Task[Any], BaseException]],
                 stubborn: list[asyncio.Task[Any]]) -> str:
        blocks: list[str] = []
        for task, exc in problems:
            blocks.append(f"background {_diagnostics.describe_task(task)} raised {type(exc).__name__}: {exc}"
                          f"{self._when(task)}")
            blocks.append("  " + _diagnostics.site_line("created at", self._sites.get(task)))
            raised = _diagnostics.raised_at(exc)
            if raised is not None:
                blocks.append("  " + _diagnostics.site_line("raised at", raised, with_source=True))
        for task in stubborn:
            blocks.append(f"background {_diagnostics.describe_task(task)} did not stop: it swallowed "
                          f"{_STOP_ROUNDS} cancellations")
            blocks.append("  " + _diagnostics.site_line("created at", self._sites.get(task)))
            suspended = _diagnostics.suspended_line(task)
            if suspended:
                blocks.append("  " + suspended)
        count = len(problems) + len(stubborn)
        if count > 1:
            blocks.insert(0, f"{count} background tasks failed:")
        return "\n".join(blocks)

    async def __aenter__(self) -> BackgroundTasks:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        """Stop the tasks; an exception of the block wins over background failures (which are then not raised)."""
        if exc is None:
            await self.aclose()
            return
        try:
            await self.aclose()
        except AssertionError:
            pass
