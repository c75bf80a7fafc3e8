"""Background work: helper tasks beside the code under test, started, then stopped and checked at the end.

A test often needs helpers that run for its whole length: a heartbeat, a poller, a fake server.
:class:`BackgroundTasks` starts them (``start(coro, name=...)``), and at the end (``aclose()``, or leaving
``async with``) cancels them, waits for them, and fails with the name and creation site of any that raised.
``AsyncTestCase.start_background()`` is the same with one group per test, closed among the test's cleanups
(before the leak check, so nothing is reported as leaked).

On a :class:`~asynctestkit.VirtualClockLoop` the clock does not count background work as the test's progress:
what background work is, and the rule that then reports a test stuck beside it as a deadlock, are in
``_quiet.py``.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from .. import _compat, _diagnostics, _validate
from .._diagnostics import Site
from ._loop import VirtualClockLoop
from ._quiet import OWNER, BackgroundWatch, Owner

if TYPE_CHECKING:
    from types import TracebackType

# aclose() raises the failure of background work: unittest leaves this module's frame out of the traceback (it
# only ever ends one, after the user's code), so the report and the chained exception are what is shown.
__unittest = True

__all__ = ["BackgroundTasks", "check_start"]

_STOP_ROUNDS = 3      # cancellations sent to a background task before it is reported as refusing to stop
_STOP_WAIT = 60.0     # seconds (virtual on the virtual clock) each round waits for the tasks to end


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
        context.run(OWNER.set, Owner(self))
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
