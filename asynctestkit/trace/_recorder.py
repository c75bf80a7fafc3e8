"""The recorder: what the scheduler did on one loop, kept as compact tuples in a bounded buffer.

How it sees everything without touching asyncio's hot path when it is off: a traced loop *wears a
subclass* of its own class (the class is swapped on the one loop that records; no other loop and no
untraced test pays anything), as the clock's live-time subclass does.  The subclass overrides:

- ``call_soon``: asyncio's C tasks and futures schedule every task step and every wake-up through the
  loop's ``call_soon`` (looked up on the loop).  A callback bound to a task is that task's step: the first
  one is its creation, a later one a wake-up, and what caused it is the task or the handle running now;
- ``call_at`` (so ``call_later``, sleeps and timeouts): a timer scheduled, and the future a sleep resolves;
- ``call_soon_threadsafe``: a wake-up from another thread (the callback is wrapped, so that what it wakes
  is known to be woken by a thread);
- the selector loop's event processing: I/O handles (see ``_compat.trace_overrides``).

Each handle those methods make wears a traced handle class whose run reports to :meth:`Tracer.run_handle`
(``_compat.trace_handle``): a task step is recorded as *run* then *suspend* (on what, at which line) or
*done* (returned, raised or cancelled); a timer as *fire*.  Between two handles the recorder notices when
virtual time moved (*jump*) and when real work held it (*hold* / *release*).

An event is a tuple ``(kind, loop time, real time, task, detail, site, cause, by)``; descriptions are made
when the event happens (the objects they describe may be gone when a report is written), but nothing in
an event refers to a task or a future: a traced test frees what an untraced one frees.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import os
import reprlib
import sys
import threading
import types
import weakref
from collections.abc import Callable
from typing import Any

from .. import _compat, _diagnostics
from .._diagnostics import Site
from ..clock import VirtualClockLoop
from ..clock._loop import set_task_class
from ..clock._timepatch import real_perf_counter as _perf_counter

__all__ = ["Event", "TracedTask", "Tracer", "attach", "is_traced"]

#: One recorded event: (kind, loop time, real seconds since recording began, TracedTask | None, detail,
#: site | None, cause, TracedTask | None of the task that caused it).
Event = tuple[str, float, float, "TracedTask | None", str, "Site | None", str, "TracedTask | None"]

_TRACE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_LEAKS_DIR = os.path.join(_diagnostics.PACKAGE_DIR, "leaks") + os.sep
_CLOCK_DIR = os.path.join(_diagnostics.PACKAGE_DIR, "clock") + os.sep
_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40


class TracedTask:
    """What the timeline knows of one task: its number, name, coroutine, creator and creation site.

    It holds the task weakly: a finished task is freed as usual, its record stays in the timeline.
    """

    __slots__ = ("_ref", "_site", "coroutine", "created_by", "name", "number")

    def __init__(self, task: asyncio.Task[Any], number: int, created_by: TracedTask | None) -> None:
        self.number = number
        self.name = task.get_name()
        coro = task.get_coro()
        self.coroutine = _diagnostics.short_name(getattr(coro, "__qualname__", None) or type(coro).__name__)
        self.created_by = created_by
        self._ref: weakref.ref[asyncio.Task[Any]] | None = weakref.ref(task)
        self._site: Site | None = None

    @property
    def created_at(self) -> Site | None:
        """Where the task was created (``create_task`` call site), once known."""
        if self._site is None and self._ref is not None:
            task = self._ref()
            if task is not None:
                self._site = _diagnostics.creation_site(task)
                if self._site is not None:
                    self._ref = None
        return self._site

    def task(self) -> asyncio.Task[Any] | None:
        """The task itself while it is alive (None once freed)."""
        return None if self._ref is None else self._ref()

    def __str__(self) -> str:
        return f"task {self.name!r} ({self.coroutine}())"

    def __repr__(self) -> str:
        return f"<TracedTask #{self.number} {self}>"


def _describe_outcome(task: asyncio.Task[Any]) -> str:
    if task.cancelled():
        return "cancelled"
    exc = _compat.future_exception_peek(task)  # never marks the exception retrieved (leak checks need it)
    if exc is not None:
        return f"raised {type(exc).__name__}: {_repr.repr(str(exc))[1:-1]}" if str(exc) else \
            f"raised {type(exc).__name__}"
    return f"returned {_repr.repr(_compat.future_result_peek(task))}"


class Tracer:
    """Records the events of one loop (see the module docstring).  Called on the loop's thread only."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, size: int | None, origin: float, virtual: bool) -> None:
        self.events: collections.deque[Event] = collections.deque(maxlen=size)
        self.size = size
        self.origin = origin
        self.virtual = virtual
        self.real_start = _perf_counter()
        self._loop = weakref.ref(loop)
        #: ``time`` of the loop's own class: the clock's live-time class (real work holds virtual time) is the
        #: one class a loop wears that replaces it.  Other subclasses the loop may wear too (a schedule's,
        #: asynctestkit.explore) keep it, so comparing ``time``, not the class, composes with them.
        self._time: Any = type(loop).time
        self._infos: weakref.WeakKeyDictionary[asyncio.Task[Any], TracedTask] = weakref.WeakKeyDictionary()
        self._sleeps: weakref.WeakKeyDictionary[asyncio.Future[Any], float] = weakref.WeakKeyDictionary()
        self._numbers = 0
        self.dropped = 0                 # events pushed out of a full ring buffer
        self.running: TracedTask | None = None
        self.cause: tuple[str, str] | None = None  # (kind, description) of the non-task handle running now
        self._last_now = loop.time()
        self._holding = False
        self.thread_id: int | None = None  # the loop's thread, once it ran a handle

    # -- recording ------------------------------------------------------------------------------------
    def record(self, kind: str, task: TracedTask | None, detail: str = "", site: Site | None = None,
               cause: str = "", by: TracedTask | None = None) -> None:
        loop = self._loop()
        now = loop.time() if loop is not None else self._last_now
        events = self.events
        if events.maxlen is not None and len(events) == events.maxlen:
            self.dropped += 1
        events.append((kind, now, _perf_counter() - self.real_start, task, detail, site, cause, by))

    def info(self, task: asyncio.Task[Any]) -> TracedTask:
        """The record of *task*, made (numbered) the first time the recorder sees it."""
        info = self._infos.get(task)
        if info is None:
            self._numbers += 1
            info = TracedTask(task, self._numbers, self.running)
            self._infos[task] = info
        return info

    def known(self, task: asyncio.Task[Any]) -> TracedTask | None:
        return self._infos.get(task)

    def _check_time(self) -> None:
        loop = self._loop()
        if loop is None:
            return
        holding = type(loop).time is not self._time  # the clock's live-time subclass: real work holds time
        if holding != self._holding:
            self._holding = holding
            if holding:
                jobs = list(loop._atk.engine.holding_for()) \
                    if isinstance(loop, VirtualClockLoop) and loop._atk.engine is not None else []
                self.record("hold", None, "virtual time follows real time" +
                            (f" while in flight: {'; '.join(jobs[:3])}" if jobs else " (real work in flight)"),
                            cause="real work")
            else:
                self.record("release", None, "real work over: virtual time jumps again", cause="real work")
        now = loop.time()
        last, self._last_now = self._last_now, now
        if self.virtual and not holding and now != last:
            self.record("jump", None, f"clock jumped +{now - last:.6g}s (from t={last - self.origin:.3f}s)",
                        cause="clock")

    def _cause(self) -> tuple[str, str, TracedTask | None]:
        if self.running is not None:
            return "task", str(self.running), self.running
        if self.cause is not None:
            return self.cause[0], self.cause[1], None
        return "loop", "the event loop", None

    def scheduled(self, handle: asyncio.Handle, callback: Any, args: tuple[Any, ...]) -> None:
        """``call_soon(callback, *args)`` made *handle*: a task's creation, a wake-up, or a plain callback."""
        owner = getattr(callback, "__self__", None)
        if not isinstance(owner, asyncio.Task):
            _compat.trace_handle(handle, "call")
            return
        _compat.trace_handle(handle, "step")
        info = self._infos.get(owner)
        if info is None:
            info = self.info(owner)
            creator = self.running
            self.record("created", info, f"by {creator}" if creator is not None
                        else f"by the event loop to run {info.coroutine}()",
                        cause="task" if creator is not None else "loop", by=creator)
            return
        cause, text, by = self._cause()
        fut = args[0] if args else None
        if isinstance(fut, asyncio.Future) and fut.cancelled():
            site, who = _cancel_origin(by)
            self.record("cancel", info, f"cancel() called by {who}", site, cause, by)
            self.record("wake", info, f"woken by the cancellation (from {who})", cause=cause, by=by)
            return
        if by is info and fut is None:
            self.record("wake", info, "yielded (sleep(0)): runs again next iteration", cause="yield", by=by)
            return
        site = None
        if fut is not None and fut in self._sleeps:
            cause, text = "timer", f"timer (sleep until t={self._sleeps[fut] - self.origin:.3f}s)"
        elif isinstance(fut, asyncio.Task) and fut.done():
            text = f"{self._infos.get(fut) or _diagnostics.describe_task(fut)} finishing"
        elif by is not None:
            site = _diagnostics.caller_site(2)  # the waker's line: ``event.set()``, ``queue.put(...)``
        self.record("wake", info, f"woken by {text}", site, cause=cause, by=by)

    def cancelled_ready(self, task: asyncio.Task[Any]) -> None:
        """``task.cancel()`` on a task that waits on nothing (created, or woken and not yet run): no future
        carries this cancellation, so :class:`_CancelRecordingTask` reports it here, with the caller's line."""
        info = self.info(task)
        cause, _text, by = self._cause()
        site, who = _cancel_origin(by)
        self.record("cancel", info, f"cancel() called by {who} (the task was ready to run)", site, cause, by)

    def timer(self, handle: asyncio.TimerHandle, when: float, callback: Any, args: tuple[Any, ...]) -> None:
        """``call_at`` made *handle*."""
        _compat.trace_handle(handle, "timer")
        when = handle.when()  # what the loop will use: a schedule's jitter may have moved it after the call
        sleep = callback is _compat.SLEEP_TIMER_CALLBACK and args and isinstance(args[0], asyncio.Future)
        if sleep:
            self._sleeps[args[0]] = when
        what = "sleep" if sleep else f"calls {_diagnostics.callable_name(callback)}()"
        self.record("timer", self.running, f"timer at t={when - self.origin:.3f}s: {what}", cause="timer",
                    by=self.running)

    def from_thread(self, callback: Callable[..., object], *args: Any) -> None:
        """Run a callback another thread passed to ``call_soon_threadsafe``: what it wakes, a thread woke."""
        previous_cause = self.cause
        self.cause = ("thread", f"another thread (call_soon_threadsafe {_diagnostics.callable_name(callback)}())")
        try:
            callback(*args)
        finally:
            self.cause = previous_cause

    def run_handle(self, handle: asyncio.Handle, kind: str, run: Callable[[asyncio.Handle], None]) -> None:
        """Run *handle* (its class's base ``_run``), recording what happened."""
        self.thread_id = threading.get_ident()
        self._check_time()
        if kind == "step":
            task = getattr(_compat.handle_callback(handle), "__self__", None)
            info = self._infos.get(task) if isinstance(task, asyncio.Task) else None
            if info is None or task is None:
                run(handle)
                return
            info.name = task.get_name()  # asyncio.create_task(name=...) names the task after its creation
            if info._ref is not None:
                info.created_at  # noqa: B018 - resolved while the task is alive (its first steps)
            self.record("run", info, "step started")
            previous, self.running = self.running, info
            try:
                run(handle)
            finally:
                self.running = previous
                if task.done():
                    self.record("done", info, _describe_outcome(task))
                else:
                    self._suspended(task, info)
            return
        callback = _compat.handle_callback(handle)
        if kind == "timer":
            name = _diagnostics.callable_name(callback)
            if callback is _compat.SLEEP_TIMER_CALLBACK:
                self.record("fire", None, "timer fired: a sleep ends", cause="sleep")
            else:
                self.record("fire", None, f"timer fired: {name}()", cause="timer")
            text = f"timer {name}()"
        elif kind == "io":
            text = f"I/O ({_diagnostics.callable_name(callback)})"
        else:
            text = f"callback {_diagnostics.callable_name(callback)}()"
        previous_cause, self.cause = self.cause, (kind if kind != "call" else "callback", text)
        try:
            run(handle)
        finally:
            self.cause = previous_cause

    def _suspended(self, task: asyncio.Task[Any], info: TracedTask) -> None:
        waiter = _compat.task_waiter(task)
        site = _diagnostics.suspended_at(task)
        if waiter is None:
            what = "nothing (yielded)"
        elif isinstance(waiter, asyncio.Task):
            other = self._infos.get(waiter)
            if other is not None:
                other.name = waiter.get_name()
            what = str(other) if other is not None else _diagnostics.describe_task(waiter)
        elif waiter in self._sleeps:
            what = f"sleep until t={self._sleeps[waiter] - self.origin:.3f}s"
        else:
            what = _diagnostics.awaiting(task) or type(waiter).__name__
        self.record("suspend", info, f"waits on {what}", site)


def _cancel_origin(by: TracedTask | None) -> tuple[Site | None, str]:
    """Where the ``cancel()`` being made now was called: the first frame outside asyncio and this module.

    *by* is the task running now, if any (the loop may not be running at all: ``asyncio.Runner.close()``
    cancels the tasks left over from outside it).
    """
    frame: types.FrameType | None = sys._getframe(2)
    who = f"task {by.name!r}" if by is not None else "code outside any task"
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(_LEAKS_DIR):
            return None, "asynctestkit's leak cleanup"
        if filename.startswith(_CLOCK_DIR):
            return None, "asynctestkit's clock (to deliver a hang report)"
        if not filename.startswith((_diagnostics.ASYNCIO_DIR, _TRACE_DIR)) \
                and not _diagnostics.is_internal_file(filename):
            return _diagnostics.frame_site(frame), who
        frame = frame.f_back
    return None, who


# -- tasks whose cancel() is seen even when nothing carries it ------------------------------------------

class _CancelRecordingTask(asyncio.Task):  # type: ignore[type-arg]
    """The tasks an asynctestkit loop builds while it records a timeline (``_State.task_class``).

    A ``cancel()`` of a task that waits on a future is seen when that future's cancellation wakes the task;
    one of a task that waits on nothing (created, or woken and not yet run) reaches no future, so it is
    reported from here, before asyncio's own ``cancel()`` runs.  Tasks the loop does not build itself (debug
    mode, a task factory) are plain tasks: their cancels are seen on waits only.
    """

    def cancel(self, msg: Any = None) -> bool:
        if not self.done() and _compat.task_waiter(self) is None:
            tracer = getattr(self.get_loop(), "_atk_tracer", None)
            if tracer is not None:
                tracer.cancelled_ready(self)
        return super().cancel(msg)


# asyncio names a task by its class in reprs and in "Task exception was never retrieved" (which the leak
# checker reads): the subclass keeps the name.
_CancelRecordingTask.__name__ = _CancelRecordingTask.__qualname__ = "Task"


# -- the traced loop class --------------------------------------------------------------------------------

_TRACED_CLASSES: dict[type, type] = {}


def _traced_class(cls: type[asyncio.SelectorEventLoop]) -> type:
    traced = _TRACED_CLASSES.get(cls)
    if traced is not None:
        return traced
    base_call_soon: Any = cls.call_soon
    base_call_at: Any = cls.call_at
    base_threadsafe: Any = cls.call_soon_threadsafe

    def call_soon(self: Any, callback: Any, *args: Any, context: Any = None) -> asyncio.Handle:
        handle: asyncio.Handle = base_call_soon(self, callback, *args, context=context)
        self._atk_tracer.scheduled(handle, callback, args)
        return handle

    def call_at(self: Any, when: Any, callback: Any, *args: Any, context: Any = None) -> asyncio.TimerHandle:
        handle: asyncio.TimerHandle = base_call_at(self, when, callback, *args, context=context)
        self._atk_tracer.timer(handle, when, callback, args)
        return handle

    def call_soon_threadsafe(self: Any, callback: Any, *args: Any, context: Any = None) -> asyncio.Handle:
        tracer: Tracer = self._atk_tracer
        if threading.get_ident() != tracer.thread_id:
            # The callback is wrapped before the handle exists: the loop may run it before this thread could
            # mark the handle (the self-pipe wakes the loop at once).
            callback = functools.partial(tracer.from_thread, callback)
        handle: asyncio.Handle = base_threadsafe(self, callback, *args, context=context)
        return handle

    base_executor: Any = cls.run_in_executor

    def run_in_executor(self: Any, executor: Any, func: Any, *args: Any) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = base_executor(self, executor, func, *args)
        tracer: Tracer = self._atk_tracer
        tracer.record("work", tracer.running, f"executor job {_diagnostics.callable_name(func)}() started",
                      _diagnostics.caller_site(), cause="real work", by=tracer.running)
        return fut

    namespace: dict[str, Any] = {"call_soon": call_soon, "call_at": call_at, "run_in_executor": run_in_executor,
                                 "call_soon_threadsafe": call_soon_threadsafe, "__module__": cls.__module__,
                                 "__qualname__": cls.__qualname__, "__doc__": cls.__doc__}
    namespace.update(_compat.trace_overrides(cls))
    traced = type(cls.__name__, (cls,), namespace)
    _TRACED_CLASSES[cls] = traced
    return traced


def is_traced(loop: object) -> bool:
    """True if *loop* records a timeline (see :func:`attach`)."""
    return isinstance(getattr(loop, "_atk_tracer", None), Tracer)


def attach(loop: asyncio.AbstractEventLoop, *, size: int | None) -> Tracer:
    """Make *loop* record its timeline from now on (before it runs); *size* bounds the buffer (None: all).

    *loop* must be a selector event loop (asynctestkit's loops, ``asyncio.SelectorEventLoop``) that is not
    running.  Its class is swapped for the traced subclass of that class; nothing else changes.
    """
    if is_traced(loop):
        raise RuntimeError("this loop already records a timeline")
    if not isinstance(loop, asyncio.SelectorEventLoop):
        raise TypeError(f"a timeline can be recorded on a selector event loop, got {type(loop).__name__}")
    if loop.is_running() or loop.is_closed():
        raise RuntimeError("a timeline must be attached to a loop before it runs (and not to a closed one)")
    clock = getattr(loop, "clock", None)
    virtual = clock is not None
    origin = float(clock.start) if clock is not None else loop.time()
    tracer = Tracer(loop, size=size, origin=origin, virtual=virtual)
    traced = _traced_class(type(loop))
    loop.__class__ = traced
    loop._atk_tracer = tracer  # type: ignore[attr-defined]
    set_task_class(loop, _CancelRecordingTask)
    return tracer
