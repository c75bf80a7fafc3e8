"""The one place for per-version differences and for private asyncio/unittest internals.

Each private name read here carries the versions it was checked on and a public fallback where one exists;
``tests/test_compat.py`` is the canary: it fails loudly if a new Python renames or removes any of them.  No
other module reads a private name of asyncio, unittest, warnings or concurrent, or checks ``sys.version_info``
(``_runner310.py``, the 3.10 runner this module installs, is part of this layer): ``tests/test_boundaries.py``
enforces it.

Checked on CPython 3.10.13, 3.11.7, 3.12.1 and 3.13.0 (3.14 from its published sources).
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # (no stub: the C half of the signal module)
import _thread
import asyncio
import atexit
import collections
import concurrent.futures.thread as _cf_thread
import contextvars
import functools
import heapq
import itertools
import logging
import math
import os
import selectors
import socket
import sys
import threading
import time as _time
import unittest
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from . import _runner310

PY311 = sys.version_info >= (3, 11)
PY312 = sys.version_info >= (3, 12)
PY313 = sys.version_info >= (3, 13)
PY314 = sys.version_info >= (3, 14)

_T = TypeVar("_T")


def for_version(choices: Mapping[tuple[int, int], _T]) -> _T:
    """The choice for the newest ``(major, minor)`` key not newer than the running interpreter.

    For code that differs by version where a plain ``if _compat.PY311:`` does not fit (e.g. a method whose
    signature changed): the version check stays here.
    """
    return choices[max(version for version in choices if sys.version_info[:2] >= version)]

#: ``IsolatedAsyncioTestCase.loop_factory`` is public (documented) from 3.13 on.
HAS_LOOP_FACTORY = PY313

#: Private unittest.IsolatedAsyncioTestCase methods we override.  They exist, with these signatures,
#: in 3.10.13-3.13.0 (and 3.14), and ``unittest.TestCase.run()`` calls them directly: ``_callSetUp(self)``,
#: ``_callTestMethod(self, method)``, ``_callTearDown(self)``, ``_callCleanup(self, function, /, *a, **kw)``;
#: 3.10 ``_setupAsyncioLoop(self)``, ``_asyncioLoopRunner(self, fut)``, ``_tearDownAsyncioLoop(self)``;
#: 3.11+ ``_setupAsyncioRunner(self)`` and the ``_asyncioRunner`` attribute.
#: The overrides' frames therefore lead every traceback of a test, where unittest hides them (``__unittest``).
#: ``_callAsync``/``_callMaybeAsync`` are deliberately *not* overridden: they run between ``_callTestMethod``
#: and the test's coroutine, and a frame of ours there cuts unittest's traceback before the user's line.
IATC_PRIVATE_METHODS = ("_callSetUp", "_callTestMethod", "_callTearDown", "_callCleanup") + (
    ("_setupAsyncioRunner",) if PY311 else ("_setupAsyncioLoop", "_asyncioLoopRunner", "_tearDownAsyncioLoop")
)

#: The code of ``asyncio.Runner.run`` (3.11+; None on 3.10).  ``Runner.run(coro)`` creates the task that
#: runs *coro* with a direct ``self._loop.create_task(coro, context=...)`` call (3.11.7-3.13.0 checked, 3.14
#: from its sources); our loops' ``create_task`` recognises the task of a test phase by this caller.
if sys.version_info >= (3, 11):
    RUNNER_RUN_CODE: Any = asyncio.Runner.run.__code__
else:  # pragma: no cover - 3.10
    RUNNER_RUN_CODE = None


def iatc_runner_task(test: unittest.IsolatedAsyncioTestCase) -> asyncio.Task[Any] | None:
    """3.10: the long-lived task in which ``IsolatedAsyncioTestCase`` awaits every phase of a test.

    Private ``_asyncioCallsTask`` (3.8-3.10; 3.11 replaced it with an ``asyncio.Runner``, which creates one
    task per phase).  None when absent.
    """
    task = getattr(test, "_asyncioCallsTask", None)
    return task if isinstance(task, asyncio.Task) else None


def iatc_phase_running(test: unittest.IsolatedAsyncioTestCase) -> bool:
    """3.10: whether the runner task of ``LoopHookMixin`` is inside a phase (awaiting the phase's coroutine)."""
    return bool(getattr(test, "_atk_phase_running", False))


# --- asyncio loop internals -------------------------------------------------------------------------

def next_timer_when(loop: asyncio.AbstractEventLoop) -> float | None:
    """The ``when`` of the earliest scheduled timer of a BaseEventLoop, or None when there is none.

    Private: ``BaseEventLoop._scheduled`` is the loop's timer heap (a list of ``TimerHandle``), 3.4-3.14,
    and ``TimerHandle._when``, the attribute ``when()`` returns (read directly: this runs once per jump).
    ``_run_once`` drops cancelled handles from its head before it calls ``select()``, so the head is the
    deadline the loop is about to sleep towards.  Reading it (instead of keeping a second heap of every
    ``call_at``) keeps the timer hot path at the speed of plain asyncio and gives the exact float deadline.
    """
    scheduled: list[asyncio.TimerHandle] = loop._scheduled  # type: ignore[attr-defined]
    return scheduled[0]._when if scheduled else None  # type: ignore[attr-defined]


def second_timer_when(loop: asyncio.AbstractEventLoop) -> float | None:
    """A lower bound of the second-earliest timer's ``when`` (private ``_scheduled`` heap, 3.4-3.14), or None.

    In a heap the second-smallest item is one of the root's two children; a cancelled one still counts (its
    ``when`` is then earlier than any live second timer, which errs on the side of catching up).
    """
    scheduled: list[asyncio.TimerHandle] = loop._scheduled  # type: ignore[attr-defined]
    children = scheduled[1:3]
    return min(h._when for h in children) if children else None  # type: ignore[attr-defined]


def earliest_timer_from(loop: asyncio.AbstractEventLoop, when: float, limit: int) -> float | None:
    """The earliest ``when`` at or after *when* among the loop's live timers (``math.inf`` if none), or None
    if the loop has more than *limit* timers.

    Used while time crawls (tiny sleeps polling) to find the next timer that is not a poller's own next
    wake-up: the heap then holds a handful of handles, so the scan is short; a longer heap answers None at
    once.  Private ``BaseEventLoop._scheduled`` and ``TimerHandle._when`` (3.4-3.14).
    """
    scheduled: list[asyncio.TimerHandle] = loop._scheduled  # type: ignore[attr-defined]
    if len(scheduled) > limit:
        return None
    later = [h._when for h in scheduled if h._when >= when and not h.cancelled()]  # type: ignore[attr-defined]
    return min(later) if later else math.inf


_MAX_SPINNERS = 8  # a ready queue longer than this is busy with real work, not a handful of spinning tasks


def spinning_tasks(loop: asyncio.AbstractEventLoop) -> list[asyncio.Task[Any]] | None:
    """The tasks queued to run now if *every* ready callback is a bare task step, else None.

    A task that yields with ``await asyncio.sleep(0)`` (a bare ``yield``) is rescheduled by queueing its own
    step: the ready callback is a ``TaskStepMethWrapper`` (C tasks, 3.10-3.14) or the bound ``Task.__step``
    (pure-Python tasks), whose ``__self__`` is the task.  A task woken by a future, an I/O callback or any
    ``call_soon`` callback is queued differently, so the loop is then doing something else than spinning.
    A new task's first step is queued the same way; its coroutine has not awaited anything yet
    (``cr_await`` is None), which tells it apart.
    Private: ``BaseEventLoop._ready`` (a deque of ``Handle``) and ``Handle._callback``, 3.4-3.14.
    """
    ready = loop._ready  # type: ignore[attr-defined]
    if not ready or len(ready) > _MAX_SPINNERS:
        return None
    tasks: list[asyncio.Task[Any]] = []
    for handle in ready:
        callback = handle._callback
        owner = getattr(callback, "__self__", None)
        if not isinstance(owner, asyncio.Task):
            return None
        if type(callback).__name__ != "TaskStepMethWrapper" and getattr(callback, "__name__", "") != "__step":
            return None
        coro = owner.get_coro()
        if getattr(coro, "cr_await", None) is None and getattr(coro, "gi_yieldfrom", None) is None:
            return None  # a task's first step (a task creating the next one is not a spin)
        tasks.append(owner)
    return tasks


def scheduled_handles(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    """Non-cancelled timers of the loop, earliest first (private ``_scheduled``, 3.4-3.14), for reports."""
    scheduled: list[asyncio.TimerHandle] = loop._scheduled  # type: ignore[attr-defined]
    return sorted(h for h in scheduled if not h.cancelled())


def ready_count(loop: asyncio.AbstractEventLoop) -> int:
    """How many callbacks the loop has queued to run now (private ``BaseEventLoop._ready``, 3.4-3.14)."""
    return len(loop._ready)  # type: ignore[attr-defined]


def has_ready_callbacks(loop: asyncio.AbstractEventLoop) -> bool:
    """True when the loop has callbacks queued to run now (private ``BaseEventLoop._ready``, 3.4-3.14)."""
    return bool(loop._ready)  # type: ignore[attr-defined]


def source_traceback(obj: object) -> Any:
    """The creation traceback asyncio records on tasks, futures and handles in debug mode, or None.

    Private attribute ``_source_traceback`` (a ``traceback.StackSummary``), 3.4-3.14, set only when the
    loop's debug mode is on.
    """
    return getattr(obj, "_source_traceback", None)


def task_waiter(task: asyncio.Future[Any]) -> Any:
    """The future a suspended task is blocked on (private ``Task._fut_waiter``, 3.4-3.14), or None."""
    return getattr(task, "_fut_waiter", None)


def executor_worker_threads() -> set[threading.Thread]:
    """Threads that are ``ThreadPoolExecutor`` workers (private ``concurrent.futures.thread._threads_queues``).

    A WeakKeyDictionary mapping each worker thread to its work queue, 3.9-3.14.  Workers sit idle between
    jobs; their work is tracked through the futures instead, so they never count as busy threads.
    """
    queues = getattr(_cf_thread, "_threads_queues", None)
    if queues is None:
        return set()
    return set(list(queues.keys()))


def silence_destroy_pending(task: asyncio.Task[Any]) -> None:
    """Stop asyncio from logging "Task was destroyed but it is pending!" for a task we already reported.

    Private ``Task._log_destroy_pending`` (a settable flag on both the C and the Python Task), 3.4-3.14.
    """
    try:
        task._log_destroy_pending = False  # type: ignore[attr-defined]
    except AttributeError:  # pragma: no cover - a Task type without the flag
        pass


def exception_never_retrieved(fut: asyncio.Future[Any]) -> bool:
    """True when *fut* finished with an exception that nobody has read yet.

    Private ``Future._log_traceback`` (C and Python futures), 3.4-3.14: set when an exception is stored and
    cleared by ``result()``/``exception()``.  Public fallback: None is never returned; an unknown future type
    counts as retrieved, so no false leak is reported.
    """
    return bool(getattr(fut, "_log_traceback", False))


def loop_asyncgens(loop: asyncio.AbstractEventLoop) -> list[Any]:
    """Async generators the loop has seen start and not yet finalized (private ``_asyncgens``, 3.6-3.14)."""
    gens = getattr(loop, "_asyncgens", None)
    # a WeakSet: its private ``data`` (its set of weak references) is empty exactly when it is; cheaper than len()
    return list(gens) if gens is not None and getattr(gens, "data", gens) else []


def default_executor(loop: asyncio.AbstractEventLoop) -> Any:
    """The loop's default executor if one was created (private ``_default_executor``, 3.4-3.14), or None."""
    return getattr(loop, "_default_executor", None)


def _set_current_loop_314(loop: asyncio.AbstractEventLoop | None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_event_loop(loop)


#: Make *loop* the current loop of this thread, as ``IsolatedAsyncioTestCase`` does for its own loop.
#: ``asyncio.set_event_loop`` is public on 3.10-3.13, and is used as is there (no warning to silence, and
#: ``catch_warnings()`` would reset every module's warning registry); 3.14 development builds deprecated it
#: for a while, so a DeprecationWarning from it is silenced there rather than failing ``-W error`` runs.
set_current_loop: Callable[[asyncio.AbstractEventLoop | None], None] = (
    _set_current_loop_314 if PY314 else asyncio.set_event_loop)


def _clear_current_loop_314() -> None:
    set_current_loop(None)


#: ``set_current_loop(None)``: this thread has no current loop (run when a test's loop closes).  Before 3.14,
#: ``asyncio.set_event_loop`` itself with None bound (nothing to silence): no Python frame of ours per test.
clear_current_loop: Callable[[], None] = (
    _clear_current_loop_314 if PY314 else functools.partial(asyncio.set_event_loop, None))


# --- virtual clock ----------------------------------------------------------------------------------------
# Checked on CPython 3.10.13, 3.11.7, 3.12.1 and 3.13.0 (3.14 from its published sources); canaries in
# tests/test_compat.py (VirtualClockNamesTests).

def clock_resolution(loop: asyncio.AbstractEventLoop) -> float:
    """The loop's timer resolution (private ``BaseEventLoop._clock_resolution``, 3.4-3.14).

    ``_run_once`` runs every timer with ``when < time() + _clock_resolution``.  Falls back to the public
    ``time.get_clock_info("monotonic").resolution`` that asyncio initialises it from.
    """
    value = getattr(loop, "_clock_resolution", None)
    return float(value) if isinstance(value, float) else _time.get_clock_info("monotonic").resolution


def set_clock_resolution(loop: asyncio.AbstractEventLoop, seconds: float) -> None:
    """Widen the loop's timer resolution (private ``_clock_resolution``, see :func:`clock_resolution`).

    The virtual clock widens it to one ulp of the current time once that exceeds the real resolution, so
    that a timer due exactly now still runs at large magnitudes (CPython gh-116342).
    """
    loop._clock_resolution = seconds  # type: ignore[attr-defined]


def handle_args(handle: asyncio.Handle) -> tuple[Any, ...]:
    """The arguments a loop handle calls its callback with (private ``Handle._args``, 3.4-3.14), or ()."""
    args = getattr(handle, "_args", None)
    return args if isinstance(args, tuple) else ()


_CF_THREAD_FILE = _cf_thread.__file__


def _always_ready(timeout: float) -> bool:
    return True


def selector_peek(selector: Any) -> Callable[[float], Any]:
    """A cheap non-blocking "might anything be ready?" for *selector*: ``peek(0)`` is falsy only if nothing is.

    Private: ``EpollSelector._selector`` / ``PollSelector._selector``, the ``select.epoll`` / ``select.poll``
    object (3.4-3.14, checked on 3.10-3.13).  Both are level-triggered as ``selectors`` registers them, so
    peeking consumes nothing: a ready fd is reported again by the selector's own ``select()``.  The virtual
    clock peeks on every loop iteration (busy ones with callbacks ready, and idle ones before it jumps) and
    skips ``selectors``' Python-level ``select()`` when nothing is ready, which is almost always.  Other
    selectors answer "maybe" (always truthy), so their ``select()`` runs as usual.
    """
    kind = type(selector)
    if kind is RecyclableSelector:  # (the default selector, recycled by asynctestkit's loops: see below)
        kind = selectors.DefaultSelector
    if kind in (getattr(selectors, "EpollSelector", None), getattr(selectors, "PollSelector", None)):
        poller = getattr(selector, "_selector", None)
        poll = getattr(poller, "poll", None)
        if callable(poll):
            return poll  # type: ignore[no-any-return]
    return _always_ready

#: The number of threads started through ``_thread`` (so every ``threading.Thread``) still running, the
#: main thread not counted: private ``_thread._count()``, 3.x-3.14 (checked on 3.10-3.13), a C function
#: costing ~25 ns where ``threading.active_count()`` takes its lock from Python (~300 ns).  It counts a
#: thread from before ``Thread.start()`` returns.  The virtual clock reads it once per jump to notice new
#: threads; the public function is the fallback.
thread_count: Callable[[], int] = getattr(_thread, "_count", None) or threading.active_count


def has_executor_workers() -> bool:
    """Cheap check: does any ``ThreadPoolExecutor`` worker thread exist (see :func:`executor_worker_threads`)?"""
    queues = getattr(_cf_thread, "_threads_queues", None)
    return bool(queues)


def busy_executor_jobs() -> list[tuple[threading.Thread | None, Any]]:
    """``(worker thread, function)`` per ``ThreadPoolExecutor`` job running now, ``(None, None)`` per job queued.

    Private, 3.8-3.14 (checked on 3.10-3.13), read-only:

    - the worker registry ``concurrent.futures.thread._threads_queues`` (see :func:`executor_worker_threads`);
    - ``sys._current_frames()`` (documented, "for specialised purposes") to see what each worker executes:
      inside ``_WorkItem.run`` (its ``self.fn`` is the submitted function), and in ``_worker`` the local
      ``executor_reference`` (a weakref to the executor);
    - ``ThreadPoolExecutor._idle_semaphore`` and its ``_value``: a worker releases it when it starts
      waiting for work and ``submit()`` takes it when it hands a job to an idle worker, so live workers
      minus idle ones minus running ones is the number of jobs handed over but not started yet (on 3.13
      ``SimpleQueue`` passes an item straight to a waiting worker, so the queue itself looks empty); the
      work queue's public ``qsize()`` counts the jobs queued behind busy workers.

    Returns [] at once when no worker exists.
    """
    queues = getattr(_cf_thread, "_threads_queues", None)
    if not queues:
        return []
    frames = sys._current_frames()
    # This thread's entry is this very frame: kept in the dict it would make a cycle (frame -> locals -> dict ->
    # frame) that holds the whole calling stack, the test case included, until the cyclic collector runs.
    frames.pop(threading.get_ident(), None)
    jobs: list[tuple[threading.Thread | None, Any]] = []
    pools: dict[int, list[Any]] = {}  # id(executor) -> [executor, live workers, running workers]
    for thread in list(queues.keys()):
        if not thread.is_alive():
            continue  # a dead worker not collected yet: its ident may already belong to a new thread
        frame = frames.get(thread.ident) if thread.ident is not None else None
        running = 0
        executor = None
        while frame is not None:
            code = frame.f_code
            if code.co_filename == _CF_THREAD_FILE:
                if code.co_name == "run" and not running:
                    jobs.append((thread, getattr(frame.f_locals.get("self"), "fn", None)))
                    running = 1
                elif code.co_name == "_worker":
                    ref = frame.f_locals.get("executor_reference")
                    executor = ref() if callable(ref) else None
                    break
            frame = frame.f_back
        if executor is not None:
            entry = pools.setdefault(id(executor), [executor, 0, 0, queues.get(thread)])
            entry[1] += 1
            entry[2] += running
    for executor, live, running, work_queue in pools.values():
        idle = getattr(getattr(executor, "_idle_semaphore", None), "_value", None)
        handed_over = max(0, live - idle - running) if isinstance(idle, int) else 0
        queued = work_queue.qsize() if work_queue is not None else 0
        jobs.extend([(None, None)] * (handed_over + queued))
    return jobs


def is_child_watcher_thread(thread: threading.Thread) -> bool:
    """True for the thread asyncio's threaded child watcher starts to wait for one subprocess.

    ``ThreadedChildWatcher`` (3.8-3.13; ``_ThreadedChildWatcher`` in 3.14, the fallback when pidfds are not
    available) runs its private method ``_do_waitpid`` in a thread per child; read through the private
    ``Thread._target``.  The subprocess itself is tracked through its transport.
    """
    target = getattr(thread, "_target", None)
    owner = getattr(target, "__self__", None)
    return getattr(target, "__name__", None) == "_do_waitpid" and \
        type(owner).__module__ == "asyncio.unix_events"


# --- timers due at the same time run in scheduling order ------------------------------------------------
# Checked on CPython 3.10.13, 3.11.7, 3.12.1 and 3.13.0 (3.14 from its published sources: call_at and TimerHandle
# unchanged); canaries in tests/test_compat.py (TimerOrderPrivateNamesTests).

_heappush = heapq.heappush
_next_sequence = itertools.count().__next__  # process-wide: only the order within one heap matters
_new_object = object.__new__
_copy_context = contextvars.copy_context
#: ``asyncio.Handle``'s slots as ``Handle.__init__`` fills them (3.10.13-3.13.0; 3.14 from its published sources):
#: while they are exactly these, :func:`call_soon_in_one_frame` and :func:`call_at_in_scheduling_order` fill
#: them directly when debug mode is off (``TimerHandle`` adds ``_scheduled`` and ``_when``).  Should asyncio
#: ever change them, every handle is built by its constructor again.
_HANDLE_SLOTS = ("_callback", "_args", "_cancelled", "_loop", "_source_traceback", "_repr", "__weakref__", "_context")
_FILL_HANDLES = tuple(getattr(asyncio.Handle, "__slots__", ())) == _HANDLE_SLOTS
_FILL_TIMERS = _FILL_HANDLES and tuple(getattr(asyncio.TimerHandle, "__slots__", ())) == ("_scheduled", "_when")


class SequencedTimerHandle(asyncio.TimerHandle):
    """A ``TimerHandle`` that orders equal deadlines by scheduling order (a tie-break sequence number).

    ``asyncio.TimerHandle`` compares deadlines only, so the loop's timer heap (a ``heapq`` list) runs timers
    due at exactly the same time in an order that depends on the heap's shape: 12 tasks that each
    ``sleep(1)`` wake as 0, 2, 6, 11, 10, ...  On the real clock their deadlines differ by nanoseconds and
    they wake in the order they went to sleep; under virtual time the deadlines are equal.  Comparing
    ``(when, sequence)`` restores the real-clock order.  Equality and hashing are asyncio's own.
    """

    __slots__ = ("_atk_seq",)
    _atk_seq: int

    # Plain attribute comparisons, no tuple per timer: a (when, sequence) tuple stored on each handle was
    # measured 6 points worse on W4 (3.13 instruction counts), though faster in a micro-benchmark.
    def __lt__(self, other: asyncio.TimerHandle) -> bool:
        try:
            when = self._when  # type: ignore[attr-defined]
            other_when = other._when  # type: ignore[attr-defined]
            return when < other_when or (when == other_when and self._atk_seq < other._atk_seq)  # type: ignore[attr-defined, no-any-return]
        except AttributeError:  # not one of ours: asyncio's comparison
            return super().__lt__(other)

    def __gt__(self, other: asyncio.TimerHandle) -> bool:
        try:
            when = self._when  # type: ignore[attr-defined]
            other_when = other._when  # type: ignore[attr-defined]
            return when > other_when or (when == other_when and self._atk_seq > other._atk_seq)  # type: ignore[attr-defined, no-any-return]
        except AttributeError:
            return super().__gt__(other)

    def __le__(self, other: asyncio.TimerHandle) -> bool:
        return not self.__gt__(other) if isinstance(other, SequencedTimerHandle) else super().__le__(other)

    def __ge__(self, other: asyncio.TimerHandle) -> bool:
        return not self.__lt__(other) if isinstance(other, SequencedTimerHandle) else super().__ge__(other)

    # No __eq__ here: asyncio's (deadline, callback, arguments, cancelled) stays, and so does its __hash__.


def call_at_in_scheduling_order(self: Any, when: Any, callback: Callable[..., object], *args: Any,
                                context: Any = None) -> asyncio.TimerHandle:
    """``loop.call_at()`` that breaks ties between equal deadlines by scheduling order.

    Installed as the ``call_at`` method of :class:`~asynctestkit.VirtualClockLoop` (a plain function, so no
    extra Python frame per timer).  It is ``BaseEventLoop.call_at`` (identical in 3.10-3.14) with a
    :class:`SequencedTimerHandle` numbered at creation.  ``call_later``, ``asyncio.sleep``, ``wait_for``,
    ``asyncio.timeout`` and ``Timeout.reschedule`` all schedule through ``call_at``, so a rescheduled
    timeout takes its place among equal deadlines from the moment it was rescheduled.  Private names used,
    as ``BaseEventLoop.call_at`` does: the methods ``_check_closed``, ``_check_thread``, ``_check_callback``,
    the attributes ``_closed``, ``_debug`` and ``_scheduled`` (the timer heap) of the loop, and
    ``_source_traceback`` and ``_scheduled`` (the flag ``_timer_handle_cancelled`` reads to count cancelled
    timers for the heap's clean-up) of the handle.  With debug mode off the handle's slots are filled
    directly, as ``TimerHandle.__init__`` fills them (see :data:`_HANDLE_SLOTS`): two Python frames and a
    ``get_debug()`` call less per timer.
    """
    if when is None:
        raise TypeError("when cannot be None")
    if self._closed:
        self._check_closed()  # raises RuntimeError('Event loop is closed')
    if self._debug or not _FILL_TIMERS:
        if self._debug:
            self._check_thread()
            self._check_callback(callback, "call_at")
        timer = SequencedTimerHandle(when, callback, args, self, context)
        timer._atk_seq = _next_sequence()
        if timer._source_traceback:  # type: ignore[attr-defined]
            del timer._source_traceback[-1]  # type: ignore[attr-defined]
        _heappush(self._scheduled, timer)
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer
    # Debug mode off: the slots filled as TimerHandle.__init__ fills them (see call_soon_in_one_frame), without
    # its two Python frames and the get_debug() call of Handle.__init__.
    filled: Any = _new_object(SequencedTimerHandle)
    filled._context = _copy_context() if context is None else context
    filled._loop = self
    filled._callback = callback
    filled._args = args
    filled._cancelled = False
    filled._repr = None
    filled._source_traceback = None
    filled._when = when
    filled._atk_seq = _next_sequence()
    _heappush(self._scheduled, filled)
    filled._scheduled = True
    return filled  # type: ignore[no-any-return]


# --- hooking our loop into IsolatedAsyncioTestCase ------------------------------------------------------

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class _DelegatingPolicy(asyncio.DefaultEventLoopPolicy):  # pragma: no cover - 3.10 only
    """3.10: a policy that answers one ``new_event_loop()`` with our loop and delegates everything else.

    Installed only around ``IsolatedAsyncioTestCase._setupAsyncioLoop`` (3.10 creates its loop through the
    policy there) and restored right after, so the current loop it sets lands in the user's own policy.
    """

    def __init__(self, inner: asyncio.AbstractEventLoopPolicy, factory: LoopFactory) -> None:
        super().__init__()
        self._inner = inner
        self._factory = factory

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return self._factory()

    def get_event_loop(self) -> asyncio.AbstractEventLoop:
        return self._inner.get_event_loop()

    def set_event_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._inner.set_event_loop(loop)


def _weak_loop_factory(test: LoopHookMixin) -> LoopFactory:
    """A loop factory for the test's ``asyncio.Runner`` that builds ``test._atk_loop_factory()`` without holding *test*.

    The test case holds its runner (``_asyncioRunner``) and the runner its factory: a bound method there would
    close a cycle (test -> runner -> bound method -> test), and every finished test would then wait for the
    cyclic garbage collector instead of being freed at once.  The runner calls the factory only from inside
    the test's own ``run()``, while the test is alive.
    """
    ref = weakref.ref(test)

    def loop_factory() -> asyncio.AbstractEventLoop:
        alive = ref()
        if alive is None:  # pragma: no cover - the runner builds its loop only while its test runs
            raise RuntimeError("the test case that owned this loop factory no longer exists")
        return alive._atk_loop_factory()

    return loop_factory


class LoopHookMixin(unittest.IsolatedAsyncioTestCase):
    """Makes ``IsolatedAsyncioTestCase`` build its loop with ``self._atk_loop_factory()``.

    - 3.13+: the documented ``loop_factory`` class attribute (a property here, so each test gets its own
      factory); a subclass that sets ``loop_factory`` itself keeps its own loop.
    - 3.11, 3.12: ``asyncio.Runner`` accepts ``loop_factory`` (public since 3.11) but the test case does not
      pass one; ``_setupAsyncioRunner`` (private, frozen on these versions) is overridden to pass it.
    - 3.10: ``_setupAsyncioLoop`` (private, frozen) creates the loop through the policy; a delegating policy
      answers that single call and is removed at once.
    3.11+: the runner sets no debug mode on a loop ``_atk_loop_factory`` built (the loop has its own); 3.10's
    ``set_debug(True)`` is answered with the loop's pinned mode (see ``case.py``).
    """

    def _atk_loop_factory(self) -> asyncio.AbstractEventLoop:
        raise NotImplementedError

    _atk_setup_error: BaseException | None = None

    def _atk_take_setup_error(self) -> BaseException | None:
        """3.10: the error the loop's construction raised outside any test part (see ``_setupAsyncioLoop``), once.

        The test case raises it from setUp, where 3.11+ raises it too (their runner builds the loop lazily).
        """
        error, self._atk_setup_error = self._atk_setup_error, None
        return error

    def _atk_foreign_loop_debug(self) -> bool:
        """The debug mode the runner sets on a loop a custom ``loop_factory`` built (the base class: on)."""
        return True

    # _setupAsyncioRunner: the base class's (3.11-3.14: ``asyncio.Runner(debug=True, loop_factory=...)``, the
    # factory public from 3.13) but for the debug mode: a loop built by _atk_loop_factory has set its own, so
    # the runner is given None and makes no set_debug() call; a loop of a subclass's own ``loop_factory``
    # (3.13+) gets _atk_foreign_loop_debug() from the runner.
    if sys.version_info >= (3, 13):
        @property
        def loop_factory(self) -> LoopFactory:  # type: ignore[override]
            return _weak_loop_factory(self)

        def _setupAsyncioRunner(self) -> None:
            assert self._asyncioRunner is None, "asyncio runner is already initialized"  # type: ignore[has-type]
            if type(self).loop_factory is _OWN_LOOP_FACTORY:  # (the property above, not a subclass's factory)
                self._asyncioRunner = asyncio.Runner(debug=None, loop_factory=_weak_loop_factory(self))
            else:
                self._asyncioRunner = asyncio.Runner(debug=self._atk_foreign_loop_debug(),
                                                     loop_factory=self.loop_factory)

    elif sys.version_info >= (3, 11):  # pragma: no cover - version specific
        def _setupAsyncioRunner(self) -> None:
            assert self._asyncioRunner is None, "asyncio runner is already initialized"  # type: ignore[has-type]
            self._asyncioRunner = asyncio.Runner(debug=None, loop_factory=_weak_loop_factory(self))

    else:  # pragma: no cover - version specific
        def _setupAsyncioLoop(self) -> None:
            inner = asyncio.get_event_loop_policy()
            asyncio.set_event_loop_policy(_DelegatingPolicy(inner, self._atk_loop_factory))
            try:
                super()._setupAsyncioLoop()  # type: ignore[misc]
            except (TypeError, ValueError) as error:
                # A setting the loop rejects (changed after the class was checked, e.g. on the instance):
                # here, outside any test part, it would end the whole run; 3.11+ reports it as an error of
                # the test.  Do the same: a plain loop for the base class, the error raised from setUp.
                self._atk_setup_error = error
                asyncio.set_event_loop_policy(inner)
                super()._setupAsyncioLoop()  # type: ignore[misc]
            finally:
                asyncio.set_event_loop_policy(inner)

        # 3.10's runner task (private ``_asyncioLoopRunner``, frozen in 3.10.x) re-raises SystemExit and
        # KeyboardInterrupt raised by a test and dies; every later phase then waits on a queue nobody reads
        # and the base class hangs at teardown.  3.11+ hands both to the caller of the phase (unittest
        # records SystemExit as an error of the test, KeyboardInterrupt stops the run) and keeps going:
        # this runner does the same, and remembers whether a phase is still running (see below).
        _asyncioLoopRunner = _runner310.asyncio_loop_runner

        _atk_phase_running: bool = False
        _atk_phase_future: asyncio.Future[Any] | None = None
        _atk_phase_idle: asyncio.Future[None] | None = None

        def _tearDownAsyncioLoop(self) -> None:
            # An exception that escaped the loop itself (Ctrl-C landing outside the test's code) leaves the
            # runner inside the phase; the base class would wait for that phase forever.  Cancel it first,
            # as 3.11+'s runner does on Ctrl-C, and say so.
            task = getattr(self, "_asyncioCallsTask", None)
            loop: asyncio.AbstractEventLoop | None = getattr(self, "_asyncioTestLoop", None)
            if self._atk_phase_running and task is not None and not task.done() and loop is not None:
                sys.stderr.write(f"asynctestkit: {self.id()} was interrupted while a phase was running; "
                                 f"cancelling it before teardown (Python 3.10's IsolatedAsyncioTestCase "
                                 f"would wait for it)\n")
                idle: asyncio.Future[None] = loop.create_future()
                self._atk_phase_idle = idle
                if self._atk_phase_future is not None:
                    self._atk_phase_future.cancel()  # nobody waits for its result any more
                task.cancel()
                # Bounded in real time: Ctrl-C landing inside the loop's own bookkeeping can lose the step that
                # would resume the runner task, which then never comes back.
                timer = threading.Timer(_INTERRUPT_GRACE, loop.call_soon_threadsafe, (_resolve_idle, idle))
                timer.daemon = True
                clock = getattr(loop, "clock", None)
                if clock is not None:  # a VirtualClockLoop: the timer is not work the test waits for
                    clock.background(timer)
                timer.start()
                try:
                    loop.run_until_complete(idle)
                finally:
                    timer.cancel()
                if self._atk_phase_running:
                    sys.stderr.write(f"asynctestkit: the interrupted phase did not finish within "
                                     f"{_INTERRUPT_GRACE:g} s; closing the loop without it\n")
                    self._atk_abandon_loop(loop)
                    return
            super()._tearDownAsyncioLoop()  # type: ignore[misc]

        def _atk_abandon_loop(self, loop: asyncio.AbstractEventLoop) -> None:
            """Close the loop of an interrupted test whose runner task cannot be resumed (3.10 only)."""
            self._asyncioTestLoop = None
            try:
                for task in asyncio.all_tasks(loop):
                    task.cancel()
                for _ in range(3):
                    loop.run_until_complete(asyncio.sleep(0))
            finally:
                asyncio.set_event_loop(None)
                loop.close()


_INTERRUPT_GRACE = 5.0  # real seconds an interrupted 3.10 phase gets to finish after its cancellation
#: LoopHookMixin's own ``loop_factory`` property (3.13+): a subclass that sets its own has another.
_OWN_LOOP_FACTORY: Any = LoopHookMixin.__dict__.get("loop_factory")


def _resolve_idle(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def phase_runner_task() -> asyncio.Task[Any] | None:
    """The task that runs the current test phase (3.10: the test case's long-lived runner task)."""
    return asyncio.current_task()


# --- assertions ---------------------------------------------------------------------------------------
# Checked on CPython 3.10.13, 3.11.7, 3.12.1 and 3.13.0 (3.14 from its published sources).

#: Called before each selector poll with the poll's timeout; returns True to make that poll non-blocking.
SelectObserver = Callable[[Any], bool]
_OBSERVERS = "_atk_select_observers"
_ORIGINAL_SELECT = "_atk_original_select"


def observe_selects(loop: asyncio.AbstractEventLoop, observer: SelectObserver) -> Callable[[], None]:
    """Call ``observer(timeout)`` once per iteration of *loop*, just before it polls for I/O; return a remover.

    Private: ``BaseSelectorEventLoop._selector`` (3.4-3.14).  ``BaseEventLoop._run_once`` calls
    ``self._selector.select(timeout)`` exactly once per iteration, with ``timeout == 0`` when a callback is
    ready or a timer is due, and ``None`` or a positive number when the loop is about to wait: this is how the
    assertions count loop iterations and see the loop go idle, on any selector loop (plain asyncio's and
    :class:`~asynctestkit.VirtualClockLoop`, whose clock sits behind the selector).  An observer returns True
    when it has just scheduled work, which turns that one poll into a non-blocking one.

    The selector's ``select`` is shadowed by an instance attribute while observers exist; removing the last
    observer restores it exactly.  Raises TypeError for a loop without a selector (proactor, uvloop).
    """
    selector: Any = getattr(loop, "_selector", None)
    if selector is None or not callable(getattr(selector, "select", None)):
        raise TypeError(f"this assertion needs a selector event loop (asyncio.SelectorEventLoop or "
                        f"asynctestkit.VirtualClockLoop) to observe loop iterations; the test runs on "
                        f"{type(loop).__module__}.{type(loop).__qualname__}")
    observers: list[SelectObserver] | None = selector.__dict__.get(_OBSERVERS)
    if observers is None:
        own = selector.__dict__.get("select")
        inner = selector.select
        active: list[SelectObserver] = []

        def select(timeout: float | None = None) -> Any:
            force = False
            for each in list(active):
                if each(timeout):
                    force = True
            return inner(0 if force else timeout)

        selector.__dict__[_ORIGINAL_SELECT] = own
        selector.__dict__[_OBSERVERS] = active
        selector.select = select
        observers = active

    def remove() -> None:
        for index, each in enumerate(observers):
            if each is observer:
                del observers[index]
                break
        if not observers and selector.__dict__.get(_OBSERVERS) is observers:
            own = selector.__dict__.pop(_ORIGINAL_SELECT)
            del selector.__dict__[_OBSERVERS]
            if own is None:
                del selector.select
            else:
                selector.select = own

    observers.append(observer)
    return remove


def uncancel(task: asyncio.Task[Any]) -> int:
    """``Task.uncancel()`` on 3.11+ (public; returns the remaining count); a no-op returning 0 on 3.10."""
    if sys.version_info >= (3, 11):
        return task.uncancel()
    else:  # pragma: no cover - 3.10
        return 0


def cancelling(task: asyncio.Task[Any]) -> int:
    """``Task.cancelling()`` on 3.11+ (public); 0 on 3.10, which does not count cancellation requests."""
    if sys.version_info >= (3, 11):
        return task.cancelling()
    else:  # pragma: no cover - 3.10
        return 0


# --- leak checks ----------------------------------------------------------------------------------------
# Checked on CPython 3.10.13, 3.11.7, 3.12.1 and 3.13.0 (3.14 from its published sources); canaries at the end
# of tests/test_compat.py.

#: Private unittest methods LeakCheckMixin overrides (it also works on a plain IsolatedAsyncioTestCase):
#: ``IsolatedAsyncioTestCase._callTestMethod(self, method)``, ``_callTearDown(self)`` and
#: ``_callCleanup(self, function, /, *args, **kwargs)`` (3.10-3.14) and, on 3.10 only,
#: ``TestCase._feedErrorsToResult(self, result, errors)`` (3.10 hands a test's errors to the result only after
#: its cleanups ran; 3.11 reports each error at once and removed the method).
LEAK_HOOK_METHODS = ("_callTestMethod", "_callTearDown", "_callCleanup") + (() if PY311 else ("_feedErrorsToResult",))


def test_case_loop(test: unittest.IsolatedAsyncioTestCase) -> asyncio.AbstractEventLoop | None:
    """The loop an ``IsolatedAsyncioTestCase`` runs its test on, created now if it does not exist yet.

    3.11+: private attribute ``_asyncioRunner`` (an ``asyncio.Runner``; its public ``get_loop()`` creates the
    loop, exactly what the test case's own ``_callSetUp`` does first).  3.10: private ``_asyncioTestLoop``,
    created by ``run()`` before ``setUp``.  None when the test case has neither (a foreign subclass).
    """
    if PY311:
        runner = getattr(test, "_asyncioRunner", None)
        return runner.get_loop() if runner is not None else None
    return getattr(test, "_asyncioTestLoop", None)  # pragma: no cover - 3.10


def outcome_success(test: unittest.TestCase) -> bool:
    """Whether the test part now running has failed so far (a failed ``subTest`` sets it), True if unknown.

    Private ``TestCase._outcome`` (a ``unittest.case._Outcome``) and its ``success`` flag, 3.4-3.14; each
    part (setUp, the test, tearDown, each cleanup) starts with it reset to True.
    """
    outcome = getattr(test, "_outcome", None)
    return bool(getattr(outcome, "success", True))


def test_already_failed(test: unittest.TestCase) -> bool | None:
    """Whether the running *test* has already failed, errored, been skipped or failed as expected.

    Private ``TestCase._outcome`` (a ``unittest.case._Outcome``), 3.4-3.14: its ``expectedFailure`` (the
    exc_info of an expected failure, all versions) and, on 3.10, its ``errors`` and ``skipped`` lists, which
    collect a test's problems until its cleanups have run.  From 3.11 each problem goes to the result at
    once: read the standard ``failures``/``errors``/``skipped`` lists of a ``unittest.TestResult``.  None when
    the result keeps no such lists (a third-party runner's result): unknown.
    """
    outcome = getattr(test, "_outcome", None)
    if outcome is None:
        return None
    if getattr(outcome, "expectedFailure", None) is not None:
        return True

    def mine(entry: object) -> bool:
        owner = entry[0] if isinstance(entry, tuple) and entry else None
        return owner is test or getattr(owner, "test_case", None) is test

    if not PY311:  # pragma: no cover - 3.10
        errors = getattr(outcome, "errors", [])
        skipped = getattr(outcome, "skipped", [])
        return any(mine(e) and e[1] is not None for e in errors) or any(mine(e) for e in skipped)
    result = getattr(outcome, "result", None)
    lists = [getattr(result, name, None) for name in ("failures", "errors", "skipped")]
    if not all(isinstance(entries, list) for entries in lists):
        return None
    return any(mine(entry) for entries in lists for entry in entries)  # type: ignore[union-attr]


def outcome_result(test: unittest.TestCase) -> Any:
    """The ``TestResult`` the running test reports to (private ``TestCase._outcome.result``), or None."""
    return getattr(getattr(test, "_outcome", None), "result", None)


def forget_task(task: asyncio.Task[Any]) -> None:
    """Remove *task* from ``asyncio.all_tasks()`` so a loop's shutdown stops waiting for it.

    ``asyncio._unregister_task`` is exported in ``asyncio.__all__`` (3.7-3.14) for third-party task classes;
    used only for a task that refused to be cancelled, after its coroutine was closed.
    """
    asyncio._unregister_task(task)


def thread_target(thread: threading.Thread) -> Any:
    """The function a running ``threading.Thread`` was given (private ``Thread._target``, 3.0-3.14), or None."""
    return getattr(thread, "_target", None)


def object_loop(obj: object) -> asyncio.AbstractEventLoop | None:
    """The event loop an asyncio object belongs to: ``get_loop()`` when public (futures, tasks, servers), else
    the private ``_loop`` attribute that asyncio transports and stream writers (and aio-libs objects) keep,
    3.4-3.14.  None when *obj* has neither.
    """
    get_loop = getattr(obj, "get_loop", None)
    try:
        loop = get_loop() if callable(get_loop) else getattr(obj, "_loop", None)
    except Exception:  # a half-finalized object
        return None
    return loop if isinstance(loop, asyncio.AbstractEventLoop) else None


ShowWarnMsg = Callable[[warnings.WarningMessage], None]


def swap_showwarnmsg(hook: ShowWarnMsg | None) -> ShowWarnMsg:
    """Install *hook* as ``warnings._showwarnmsg`` (None: leave it) and return the function that was there.

    Private: ``warnings._showwarnmsg(msg)`` (3.6-3.14) is what the C warnings machinery calls for every
    warning that passed the filters, with a ``WarningMessage`` that carries the warning's ``source`` object;
    the public ``showwarning`` hook loses ``source``.
    """
    previous: ShowWarnMsg = warnings._showwarnmsg  # type: ignore[attr-defined]
    if hook is not None:
        warnings._showwarnmsg = hook  # type: ignore[attr-defined]
    return previous


def warnings_display_state() -> tuple[object, object]:
    """``(warnings.showwarning, warnings._showwarnmsg_impl)``: changes when a ``catch_warnings(record=True)``
    (``assertWarns``) or a replaced ``showwarning`` starts capturing.  Private ``_showwarnmsg_impl``, 3.6-3.14.
    """
    return warnings.showwarning, getattr(warnings, "_showwarnmsg_impl", None)


def handle_callback(handle: asyncio.Handle) -> Any:
    """The callback of a loop handle (private ``Handle._callback``, 3.4-3.14), for strict-mode timer reports."""
    return getattr(handle, "_callback", None)


# -- unittest.TestCase attributes read by the glue and the leak engine -----------------------------------------

def test_method_name(test: unittest.TestCase) -> str:
    """The name of the test method *test* runs (private ``TestCase._testMethodName``, 2.x-3.14; ``id()`` ends
    with it, but a test case may override ``id()``)."""
    return test._testMethodName


def format_message(test: unittest.TestCase, msg: Any, standard: str) -> str:
    """*standard* combined with the user's *msg* as ``longMessage`` says (private ``TestCase._formatMessage``,
    3.1-3.14): assertions read exactly as unittest's own."""
    return test._formatMessage(msg, standard)


def call_maybe_async(test: unittest.IsolatedAsyncioTestCase) -> Callable[[Callable[..., Any]], Any]:
    """How ``IsolatedAsyncioTestCase`` runs the test method: on its loop, awaited if it returns an awaitable
    (private ``_callMaybeAsync``, 3.8-3.14).  Returned as the bound method, not called here: a frame of this
    module (which does not set ``__unittest``) must not lead the test's traceback."""
    return test._callMaybeAsync  # type: ignore[attr-defined,no-any-return]


#: Private attributes of a test case instance that belong to unittest (3.10-3.14), skipped when the leak
#: engine scans the test's own attributes for resources it left open.
UNITTEST_CASE_ATTRIBUTES = frozenset({
    "_outcome", "_cleanups", "_type_equality_funcs", "_testMethodName", "_testMethodDoc", "_subtest",
    "_asyncioRunner", "_asyncioTestContext", "_asyncioTestLoop", "_asyncioCallsQueue", "_asyncioCallsTask",
    "_classSetupFailed", "_class_cleanups"})



# -- background work and timer inspection (clock/_quiet.py, clock/_background.py, clock/_timers.py) ------------

def timer_heap(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    """The loop's timer heap as it stands, cancelled handles included, in heap order (not sorted).

    Private ``BaseEventLoop._scheduled`` (a list kept by ``heapq``), 3.4-3.14.  The caller must not change it.
    """
    return loop._scheduled  # type: ignore[attr-defined, no-any-return]


def handle_context(handle: asyncio.Handle) -> Any:
    """The ``contextvars.Context`` a loop handle runs its callback in (a copy of the context that scheduled it).

    Public ``Handle.get_context()`` from 3.12; before, the private attribute it returns, ``Handle._context``
    (3.7-3.14, a pure-Python handle on every version).  None for a handle without one.
    """
    return getattr(handle, "_context", None)


def task_context(task: asyncio.Task[Any]) -> Any:
    """The ``contextvars.Context`` *task* runs in, or None when it cannot be read.

    Public ``Task.get_context()`` from 3.12.  3.10/3.11 have no public way, and the C task does not expose its
    context as an attribute: a suspended task registers its wake-up on the future it waits for with its own
    context, so the context is read from that future's callbacks (private ``Task._fut_waiter`` and
    ``Future._callbacks``, a list of ``(callback, context)``, C and Python futures, 3.7-3.14).  A task that is
    not suspended on a future answers None there.
    """
    get_context = getattr(task, "get_context", None)
    if get_context is not None:
        return get_context()
    waiter = getattr(task, "_fut_waiter", None)  # pragma: no cover - 3.10/3.11
    for callback, context in getattr(waiter, "_callbacks", None) or ():  # pragma: no cover - 3.10/3.11
        if getattr(callback, "__self__", None) is task:
            return context
    return None  # pragma: no cover - 3.10/3.11


def timeout_task(callback: Any) -> asyncio.Task[Any] | None:
    """The task an ``asyncio.timeout()`` / ``wait_for`` deadline will cancel, if *callback* is such a deadline.

    3.11+: the timer's callback is the bound method ``Timeout._on_timeout`` and the task is the private
    ``Timeout._task`` (3.11-3.14; ``wait_for`` uses it from 3.12).  Anything else (``wait_for`` on 3.10/3.11
    releases a waiter future instead, which is matched through its arguments): None.
    """
    owner = getattr(callback, "__self__", None)
    timeouts = getattr(asyncio, "timeouts", None)
    if timeouts is None or not isinstance(owner, timeouts.Timeout):  # pragma: no cover - 3.10
        return None
    task = getattr(owner, "_task", None)
    return task if isinstance(task, asyncio.Task) else None


def peek_exception(fut: asyncio.Future[Any]) -> BaseException | None:
    """The exception a finished future holds, read without marking it retrieved (unlike ``exception()``).

    A hang report lists a failed background task without taking its exception away from the check at the end of
    the test, which reports only exceptions nobody retrieved.  Private ``Future._exception`` (C and Python
    futures), 3.4-3.14; None for a future without one.
    """
    exc = getattr(fut, "_exception", None)
    return exc if isinstance(exc, BaseException) else None
# --- schedule exploration (asynctestkit.explore) ----------------------------------------------------------
# Checked on CPython 3.10.13, 3.11.7, 3.12.1 and 3.13.0 (3.14 from its published sources: _run_once,
# _process_events and _ready unchanged); canaries at the end of tests/test_compat.py (ScheduleNamesTests).
# Used only by a loop that runs under a schedule seed: the default loop never reaches these.

def swap_ready_queue(loop: asyncio.AbstractEventLoop, make: Callable[[Any], Any]) -> None:
    """Replace the loop's ready queue with ``make(old_queue)`` (a ``collections.deque`` subclass holding its items).

    Private ``BaseEventLoop._ready``: the deque of ``Handle`` that ``call_soon``, ``_add_callback`` (I/O) and
    ``_run_once`` (due timers) append to, and that ``_run_once`` runs with ``ntodo = len(self._ready)`` calls
    of ``self._ready.popleft()`` per iteration (3.4-3.14).  It is created once in ``BaseEventLoop.__init__``
    and never rebound, so a subclass whose ``popleft()`` picks another item of the batch reorders the
    iteration without any other change to the loop.
    """
    loop._ready = make(loop._ready)  # type: ignore[attr-defined]


def ready_queue(loop: asyncio.AbstractEventLoop) -> Any:
    """The loop's ready queue (private ``BaseEventLoop._ready``, see :func:`swap_ready_queue`)."""
    return loop._ready  # type: ignore[attr-defined]


def handle_task(handle: asyncio.Handle) -> asyncio.Task[Any] | None:
    """The task whose step (or wake-up) *handle* runs, or None for any other callback.

    Private ``Handle._callback``: a task schedules its steps as a ``TaskStepMethWrapper`` and its wake-ups as
    the bound builtin ``task_wakeup`` (C tasks), or the bound ``__step``/``__wakeup`` (Python tasks); each
    has the task as ``__self__`` (3.10-3.14).
    """
    owner = getattr(getattr(handle, "_callback", None), "__self__", None)
    return owner if isinstance(owner, asyncio.Task) else None


def loop_class_with_events_hook(cls: type, hook: Callable[[Any], None], namespace: dict[str, Any]) -> type:
    """A subclass of the selector loop class *cls* (plus *namespace*) that calls ``hook(ready_queue)`` at the
    start of every ``_process_events``, with the loop's ready queue (see :func:`swap_ready_queue`).

    Private ``BaseSelectorEventLoop._process_events(event_list)`` (3.4-3.14): ``_run_once`` calls it once per
    iteration, right after ``select()`` returned and before the I/O callbacks and the due timers are added to
    the ready queue: what the queue holds then was scheduled by the previous iteration's callbacks.
    """
    process: Callable[[Any, list[Any]], None] = cls._process_events  # type: ignore[attr-defined]

    def _process_events(self: Any, event_list: list[Any]) -> None:
        hook(self._ready)
        process(self, event_list)

    return type(cls.__name__, (cls,), dict(namespace, _process_events=_process_events,
                                            __module__=cls.__module__, __qualname__=cls.__qualname__,
                                            __doc__=cls.__doc__))
# -- signal handlers, read and set without the enum conversion -------------------------------------------------

#: ``signal.getsignal``/``signal.signal`` as the C functions of the private ``_signal`` module (3.5-3.14):
#: ``signal.py`` wraps both to turn the handler into a ``signal.Handlers`` member, by calling
#: ``Handlers(handler)`` and catching the ValueError any real handler raises there: several microseconds per
#: call, paid by the watchdog at every test phase.  Same arguments, same effect; the answer is the plain
#: handler (SIG_DFL and SIG_IGN as the ints 0 and 1, which compare equal to the enum members).
raw_getsignal: Callable[[int], Any] = _signal.getsignal
raw_signal: Callable[[int, Any], Any] = _signal.signal

# -- the leak checker's task enumeration (issue 15: per-test cost) ------------------------------------------

# asyncio's registries of live tasks, which ``asyncio.all_tasks()`` reads: private ``asyncio.tasks._all_tasks``
# (a WeakSet, 3.7-3.11), ``_scheduled_tasks`` (a WeakSet) and ``_eager_tasks`` (a set), 3.12-3.13.  3.14 keeps
# native tasks in a per-thread list instead, and its ``all_tasks()`` is written in C (cheap): used as is there.
_TASK_REGISTRIES: tuple[Any, ...] = () if PY314 else (
    (asyncio.tasks._scheduled_tasks, asyncio.tasks._eager_tasks) if PY312  # type: ignore[attr-defined]
    else (asyncio.tasks._all_tasks,))  # type: ignore[attr-defined]


def loop_tasks(loop: asyncio.AbstractEventLoop) -> set[asyncio.Task[Any]]:
    """``asyncio.all_tasks(loop)`` without its cost when no task is alive in the process at all.

    Before 3.14 ``all_tasks()`` copies asyncio's weak registry of every task of every loop, in Python
    (~20k instructions even when it is empty); the leak check asks twice per test, usually with no task
    alive.  Asking the registries whether they are empty first (their ``len()``) gives the same answer.
    """
    if _ALL_TASKS_CHEAP or any(_TASK_SETS):
        return asyncio.all_tasks(loop)
    return set()


# The sets under those registries: a WeakSet's private ``data`` (its set of weak references, 3.x-3.14) is empty
# exactly when the WeakSet is (a reference whose task died may linger there: then all_tasks() answers).
_TASK_SETS: tuple[Any, ...] = tuple(getattr(registry, "data", registry) for registry in _TASK_REGISTRIES)
_ALL_TASKS_CHEAP = not _TASK_SETS  # 3.14: no registry to look at, all_tasks() answers
# -- the task timeline (asynctestkit.trace) -----------------------------------------------------------------

#: Per (handle class, kind): the subclass a handle wears on a traced loop (see :func:`trace_handle`).
_TRACED_HANDLE_CLASSES: dict[tuple[type, str], type] = {}
_TRACED_HANDLE_SET: set[type] = set()


def _traced_handle_class(base: type, kind: str) -> type:
    """A subclass of the asyncio handle class *base* whose run goes through the loop's tracer.

    Private: ``Handle._run()`` (3.4-3.14) is what ``BaseEventLoop._run_once`` calls for every ready handle,
    and ``Handle._loop`` its loop; the subclass adds no slot, so a handle's ``__class__`` may be swapped.
    The tracer (``loop._atk_tracer``, set by ``asynctestkit.trace`` on the loops it records) gets the
    handle, its *kind* (``call``, ``step``, ``timer``, ``io``) and the base ``_run`` to call.
    """
    traced = _TRACED_HANDLE_CLASSES.get((base, kind))
    if traced is None:
        base_run = base._run  # type: ignore[attr-defined]

        def _run(self: Any) -> None:
            self._loop._atk_tracer.run_handle(self, kind, base_run)

        traced = type(base.__name__, (base,), {"__slots__": (), "_run": _run, "__module__": base.__module__,
                                               "__qualname__": base.__qualname__})
        _TRACED_HANDLE_CLASSES[(base, kind)] = traced
        _TRACED_HANDLE_SET.add(traced)
    return traced


def trace_handle(handle: asyncio.Handle, kind: str) -> None:
    """Have *handle* report its run to its loop's tracer (see :func:`_traced_handle_class`)."""
    cls = type(handle)
    if cls not in _TRACED_HANDLE_SET:  # (an I/O handle runs many times: traced once)
        handle.__class__ = _traced_handle_class(cls, kind)


def _process_events_traced(base: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    def _process_events(self: Any, event_list: Any) -> None:
        # Private: selector loops keep ``(reader handle, writer handle)`` in each key's ``data`` and run them
        # from ``_process_events`` (3.4-3.14): the handles are marked before the base method queues them.
        for key, _mask in event_list:
            data = key.data
            if isinstance(data, tuple):
                for handle in data:
                    if isinstance(handle, asyncio.Handle):
                        trace_handle(handle, "io")
        base(self, event_list)
    return _process_events


def trace_overrides(base: type) -> dict[str, Any]:
    """The private methods a traced subclass of the selector loop class *base* overrides: I/O handles are
    traced when their events are processed (``BaseSelectorEventLoop._process_events``, 3.4-3.14)."""
    return {"_process_events": _process_events_traced(base._process_events)}  # type: ignore[attr-defined]


def future_exception_peek(fut: asyncio.Future[Any]) -> BaseException | None:
    """The exception of a done future *without* marking it retrieved (private ``Future._exception``, 3.4-3.14).

    ``fut.exception()`` clears the flag that makes asyncio log "exception was never retrieved", which the
    leak checker reports: the timeline must read the outcome without changing it.
    """
    exc = getattr(fut, "_exception", None)
    return exc if isinstance(exc, BaseException) else None


def future_result_peek(fut: asyncio.Future[Any]) -> Any:
    """The result of a done future (private ``Future._result``, 3.4-3.14); None if it has none."""
    return getattr(fut, "_result", None)


#: The callback of the timer ``asyncio.sleep(delay)`` schedules to resolve its future (private
#: ``asyncio.futures._set_result_unless_cancelled``, 3.4-3.14): the timeline names such a timer "sleep until t".
SLEEP_TIMER_CALLBACK: Any = getattr(asyncio.futures, "_set_result_unless_cancelled", None)


def environ_has(name: str) -> Callable[[], bool]:
    """A cheap test of whether the environment variable *name* is set now (read at each call).

    ``name in os.environ`` raises and catches a ``KeyError`` inside ``os.environ`` when the variable is unset
    (the common case), which costs a test ~1 µs per look-up.  Private ``os.environ._data`` (3.x: the dict of
    encoded keys that ``os.environ`` keeps in step with ``putenv``) answers without an exception; where it is
    not a dict, the public look-up is used.
    """
    data = getattr(os.environ, "_data", None)
    if isinstance(data, dict):
        key = os.environ.encodekey(name)
        return lambda: key in data
    return lambda: name in os.environ
_Handle = asyncio.Handle


def call_soon_in_one_frame(self: Any, callback: Callable[..., object], *args: Any,
                           context: Any = None) -> asyncio.Handle:
    """``loop.call_soon()`` with its helper inlined: one Python frame per callback instead of five.

    Installed as the ``call_soon`` method of asynctestkit's loops (a plain function, as
    :func:`call_at_in_scheduling_order`).  ``BaseEventLoop.call_soon`` calls ``_check_closed()`` and
    ``_call_soon()``, which builds the handle with ``Handle.__init__``, which asks ``loop.get_debug()``: four
    further Python frames for every callback a task step or a future schedules (about three per task).
    Here, with debug mode off, the handle's slots are filled directly, as ``Handle.__init__`` fills them
    with debug mode off (context copied when none is given, not cancelled, no repr yet, no creation
    traceback): ~4k instructions less per task (3.13), which is what lets a task-heavy test stay at the
    bare-asyncio floor although the loop also records each task's creation site.  With debug mode on, the
    handle is built by ``Handle.__init__`` (its creation traceback, trimmed of this frame).  Same behaviour,
    checked identical in 3.10.13-3.13.0 (``call_soon``, ``_call_soon`` and ``Handle.__init__``): the closed
    check, the debug-mode thread and callback checks, the handle, the append to the ready queue.  Private
    names used, as ``BaseEventLoop.call_soon`` does: the attributes ``_closed``, ``_debug`` and ``_ready``
    of the loop, its methods ``_check_closed``, ``_check_thread`` and ``_check_callback``, and the slots of
    ``Handle`` (:data:`_HANDLE_SLOTS`; should they ever change, ``Handle(...)`` builds every handle).
    """
    if self._closed:
        self._check_closed()  # raises RuntimeError('Event loop is closed')
    if self._debug or not _FILL_HANDLES:
        if self._debug:
            self._check_thread()
            self._check_callback(callback, "call_soon")
        handle = _Handle(callback, args, self, context)
        if handle._source_traceback:  # type: ignore[attr-defined]
            del handle._source_traceback[-1]  # type: ignore[attr-defined]
        self._ready.append(handle)
        return handle
    filled: Any = _new_object(_Handle)
    filled._context = _copy_context() if context is None else context
    filled._loop = self
    filled._callback = callback
    filled._args = args
    filled._cancelled = False
    filled._repr = None
    filled._source_traceback = None
    self._ready.append(filled)
    return filled  # type: ignore[no-any-return]


def pending_cleanups(test: unittest.TestCase) -> list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]:
    """The cleanups *test* registered and has not run yet, oldest first: the list itself (private
    ``TestCase._cleanups``, 3.1-3.14: ``addCleanup`` appends ``(function, args, kwargs)``, ``doCleanups``
    pops from the end until it is empty).  The leak check's ``doCleanups`` takes its own entry, the first,
    out while the others run.
    """
    return test._cleanups  # type: ignore[attr-defined,no-any-return]


def thread_registry() -> tuple[dict[Any, threading.Thread], dict[Any, threading.Thread]]:
    """threading's own registries of threads: ``_active`` (ident -> each running ``Thread``, dummy threads of
    foreign threads included) and ``_limbo`` (started, not running yet), private, 3.0-3.14;
    ``threading.enumerate()`` lists their values under a lock.  The leak check compares a copy of ``_active``
    taken at attach with ``_active`` at the check: equal, and nothing in ``_limbo``, means no thread started.
    """
    return threading._active, threading._limbo  # type: ignore[attr-defined]


# -- Recycling the self-pipe and the selector of closed loops ----------------------------------------------
#
# Every asynctestkit loop (one per test) makes a socket pair (asyncio's "self-pipe", which call_soon_threadsafe
# and signals write to) and an epoll/kqueue selector, registers the pair's server end in the selector, and
# undoes all of it when it closes: five system calls and their Python wrappers, ~20% of a trivial test's loop.
# A loop that is closed explicitly (``loop.close()``, as ``asyncio.Runner`` and the test case do) hands its
# selector, with the self-pipe still registered in it, to a small per-process pool instead; the next loop built
# takes it back and points the self-pipe's selector key at its own ``_read_from_self``.  Private names, as in
# ``BaseSelectorEventLoop._make_self_pipe``/``_close_self_pipe`` (identical in 3.10.13-3.13.0 and 3.14): the loop
# attributes ``_ssock``, ``_csock``, ``_internal_fds`` and ``_signal_handlers`` (unix loops), its methods
# ``_add_reader``, ``_remove_reader`` and ``_read_from_self``; and ``selectors``' private ``_fd_to_key`` (the
# key table behind ``get_map()``, 3.4-3.14).  What is recycled, and when:
#
# - only a selector that, once its loop closed, watches nothing but the self-pipe, of a loop that has no
#   ``add_signal_handler()`` handler left at close (asyncio closes the self-pipe before it removes the handlers,
#   and its client socket is the signal wake-up fd until then);
# - the self-pipe's key is emptied (data None) as it enters the pool: nothing pooled refers to any loop; the
#   server end is drained (a thread's late ``call_soon_threadsafe`` byte) before the next loop reads it;
# - nothing from a loop closed by its ``__del__`` (collected unclosed), and nothing across ``os.fork()``: the
#   child shares the parent's epoll instance and sockets, so a selector made in another process is closed,
#   never reused (each records the pid that made it);
# - at most ``_POOL_SIZE`` selectors; beyond that they are closed, with their self-pipe, as asyncio would;
# - with the selector go the loop's ``_transports`` (a ``WeakValueDictionary``) and ``_asyncgens`` (a ``WeakSet``)
#   when both are empty (read through ``len()``, which also commits pending weak-reference removals): building
#   that pair costs ~19k instructions, a plain loop's largest part.  The closed loop is given shared empty ones
#   (``_CLOSED_TRANSPORTS``, ``_CLOSED_ASYNCGENS``): what it reads from them is what it read from its own, and
#   nothing that uses a live loop ever sees them.
# The closed loop keeps no reference to them (``_ssock``/``_csock``/``_selector`` are None, as after a plain
# close), so a thread that still holds it gets "Event loop is closed" from ``call_soon_threadsafe`` as before.

_POOL_SIZE = 2
_socketpair = socket.socketpair
_getpid = os.getpid
_EVENT_READ = selectors.EVENT_READ
_SelectorKey = selectors.SelectorKey
#: ``SelectorKey(...)`` without the named tuple's Python-level ``__new__`` (one frame less per loop built/closed).
_new_tuple = tuple.__new__


class RecyclableSelector(selectors.DefaultSelector):
    """The platform's default selector, which a closing loop may hand to the pool instead of closing it."""

    #: Set by :func:`close_self_pipe` when the loop closing it may recycle it (see the section comment).
    recycle = False

    def __init__(self) -> None:
        super().__init__()
        self.pid = _getpid()
        #: :func:`selector_peek` of this selector, worked out once for every loop that uses it.
        self.peek = selector_peek(self)
        #: While pooled: the self-pipe ``(ssock, csock)`` registered in it (key data None).
        self.pipe: tuple[socket.socket, socket.socket] | None = None
        #: While pooled: the closed loop's empty ``_transports`` and ``_asyncgens`` (see close_self_pipe).
        self.spares: tuple[weakref.WeakValueDictionary[Any, Any], weakref.WeakSet[Any]] | None = None

    def close(self) -> None:
        if self.recycle:
            self.recycle = False
            if self.pid == _getpid() and len(_selector_pool) < _POOL_SIZE:
                _selector_pool.append(self)
                return
        self.close_for_good()

    def close_for_good(self) -> None:
        """Close the selector and the self-pipe it holds for the pool, if any."""
        self.spares = None
        pipe, self.pipe = self.pipe, None
        if pipe is not None:
            pipe[0].close()
            pipe[1].close()
        super().close()


_selector_pool: list[RecyclableSelector] = []


def drain_pools() -> None:
    """Close every pooled selector and self-pipe (at exit, and for tests); the next loop makes new ones."""
    while _selector_pool:
        _selector_pool.pop().close_for_good()


atexit.register(drain_pools)  # (pooled sockets left open at exit would each print a ResourceWarning)


def new_selector() -> RecyclableSelector:
    """A selector for a new loop: a recycled one of this process if there is one, else a new one."""
    while _selector_pool:
        try:
            selector = _selector_pool.pop()
        except IndexError:  # another thread took the last one
            break
        if selector.pid == _getpid():
            return selector
        selector.close_for_good()  # inherited across fork(): the parent's epoll instance and sockets
    return RecyclableSelector()


def _drain(ssock: Any) -> None:
    try:
        while ssock.recv(4096):
            pass
    except InterruptedError:
        _drain(ssock)
    except OSError:  # BlockingIOError: empty (the usual case)
        pass


def make_self_pipe(loop: Any, selector: RecyclableSelector | None,
                   adopted: Callable[[int], None] | None = None) -> None:
    """``BaseSelectorEventLoop._make_self_pipe()``, with the self-pipe a recycled *selector* holds, if any.

    *selector* is the loop's platform selector (a wrapper's inner one).  A recycled self-pipe is already
    registered in it: its key is pointed at this loop's ``_read_from_self`` without the ``register()`` call,
    which a wrapping selector would have seen: *adopted* is then called with its fd instead.  It is drained
    only if ``selector.peek`` says it has something to read (one ``epoll.poll(0)``, ~5x cheaper than the
    ``recv()`` that raises ``BlockingIOError`` on an empty socket).
    """
    pipe = None if selector is None else selector.pipe
    if pipe is None:
        ssock, csock = _socketpair()
        ssock.setblocking(False)
        csock.setblocking(False)
        loop._ssock, loop._csock = ssock, csock
        loop._internal_fds += 1
        loop._add_reader(ssock.fileno(), loop._read_from_self)
        return
    selector.pipe = None  # type: ignore[union-attr]
    ssock, csock = pipe
    loop._ssock, loop._csock = ssock, csock
    loop._internal_fds += 1
    fd = ssock.fileno()
    if selector.peek(0):  # type: ignore[union-attr]
        _drain(ssock)  # a byte a thread wrote to the previous loop: not a wake-up of this one
    # What _add_reader() stores: a handle of this loop (its checks: the loop is open, the fd has no reader).
    selector._fd_to_key[fd] = _new_tuple(_SelectorKey, (  # type: ignore[union-attr]
        fd, fd, _EVENT_READ, (asyncio.Handle(loop._read_from_self, (), loop, None), None)))
    if adopted is not None:
        adopted(fd)


def close_self_pipe(loop: Any, selector: RecyclableSelector | None, recycle: bool) -> None:
    """``BaseSelectorEventLoop._close_self_pipe()``; leaves the self-pipe registered in *selector* and lets it
    recycle itself when *recycle* (an explicit ``close()``) and the conditions of the section comment hold."""
    ssock, csock = loop._ssock, loop._csock
    fd = ssock.fileno()
    if (recycle and selector is not None and selector.pid == _getpid() and len(_selector_pool) < _POOL_SIZE
            and not getattr(loop, "_signal_handlers", None)):
        keys: dict[int, selectors.SelectorKey] = selector._fd_to_key  # type: ignore[attr-defined]
        key = keys.get(fd)
        if len(keys) == 1 and key is not None and key.events == _EVENT_READ:
            # The reader's handle (referenced by this key alone, see make_self_pipe) goes with the key: nothing
            # refers to this loop any more, as after _remove_reader() (which also cancels the handle).
            keys[fd] = _new_tuple(_SelectorKey, (fd, fd, _EVENT_READ, None))  # no reference to this loop stays
            selector.pipe = ssock, csock
            selector.recycle = True
            # The loop's transport map and async generator set go with them when empty (the usual case:
            # building the pair costs a loop ~19k instructions); the closed loop keeps shared empty ones.
            transports, asyncgens = loop._transports, loop._asyncgens
            if type(transports) is _WeakValueDictionary and type(asyncgens) is _WeakSet \
                    and not len(transports) and not len(asyncgens):
                selector.spares = transports, asyncgens
                loop._transports = _CLOSED_TRANSPORTS
                loop._asyncgens = _CLOSED_ASYNCGENS
            loop._ssock = loop._csock = None
            loop._internal_fds -= 1
            return
    if fd != -1:
        loop._remove_reader(fd)
    # (else the socket is closed already: the collector finalized it before the unclosed loop that held it, in
    # one collection; its key goes with the selector, which close() closes next)
    loop._ssock = loop._csock = None
    loop._internal_fds -= 1
    ssock.close()
    csock.close()


# -- Building a selector loop without asyncio's __init__ chain ----------------------------------------------
#
# ``SelectorEventLoop(selector)`` runs three ``__init__`` methods (BaseEventLoop, BaseSelectorEventLoop,
# _UnixSelectorEventLoop) that together cost a trivial test ~35k instructions, over half of it in two look-ups
# that cannot change within a process or are cheap to answer directly: ``time.get_clock_info("monotonic")``
# (a constant) and ``coroutines._is_debug_mode()``, whose ``os.environ.get()`` runs four Python frames.
# :func:`init_selector_loop` sets the same attributes to the same values in the same order (the order keeps
# CPython's shared-key attribute layout), checked on 3.10.13-3.13.0 (``_old_agen_hooks`` from 3.13, where
# ``_unix_server_sockets`` also appears).  It is used for a loop class only once the first loop of that class,
# built by asyncio's own ``__init__``, was seen to have exactly these attributes in this order
# (:func:`loop_init_matches`): a Python that changes them falls back to asyncio's ``__init__`` by itself.

_UNIX_LOOP = sys.platform != "win32"
#: The attributes asyncio's __init__ chain sets on a unix selector loop, in order (see the section comment).
SELECTOR_LOOP_ATTRIBUTES: tuple[str, ...] = (
    "_timer_cancelled_count", "_closed", "_stopping", "_ready", "_scheduled", "_default_executor", "_internal_fds",
    "_thread_id", "_clock_resolution", "_exception_handler", "_debug") + (("_old_agen_hooks",) if PY313 else ()) + (
    "slow_callback_duration", "_current_handle", "_task_factory", "_coroutine_origin_tracking_enabled",
    "_coroutine_origin_tracking_saved_depth", "_asyncgens", "_asyncgens_shutdown_called",
    "_executor_shutdown_called", "_selector", "_ssock", "_csock", "_transports", "_signal_handlers") + (
    ("_unix_server_sockets",) if PY313 else ())
_MONOTONIC_RESOLUTION = _time.get_clock_info("monotonic").resolution
_asyncio_logger = logging.getLogger("asyncio")
_LOG_DEBUG = logging.DEBUG
_deque = collections.deque
_WeakSet = weakref.WeakSet
_WeakValueDictionary = weakref.WeakValueDictionary
#: The ``_transports`` and ``_asyncgens`` of every closed loop that handed its own to the pool (see
#: close_self_pipe): empty, and filled by nothing but misuse of a closed loop (asyncio adds to them only while
#: a loop runs or builds a transport, which a closed loop refuses with "Event loop is closed").
_CLOSED_TRANSPORTS: weakref.WeakValueDictionary[Any, Any] = weakref.WeakValueDictionary()
_CLOSED_ASYNCGENS: weakref.WeakSet[Any] = weakref.WeakSet()
_environ_data = getattr(os.environ, "_data", None)
_DEBUG_KEY = os.environ.encodekey("PYTHONASYNCIODEBUG") if isinstance(_environ_data, dict) else None
_flags = sys.flags


def asyncio_debug_default() -> bool:
    """``asyncio.coroutines._is_debug_mode()`` (3.10-3.14: dev mode, or ``PYTHONASYNCIODEBUG`` set non-empty
    unless ``-E``), reading the environment through ``os.environ``'s private dict of encoded keys (as
    :func:`environ_has`), at each call."""
    if _flags.dev_mode:
        return True
    if _flags.ignore_environment:
        return False
    if _DEBUG_KEY is not None:
        return bool(_environ_data.get(_DEBUG_KEY))  # type: ignore[union-attr]
    return bool(os.environ.get("PYTHONASYNCIODEBUG"))  # pragma: no cover - os.environ without _data


def init_selector_loop(loop: Any, selector: selectors.BaseSelector, platform: RecyclableSelector | None,
                       adopted: Callable[[int], None] | None) -> bool:
    """Do what ``SelectorEventLoop.__init__(loop, selector)`` does (unix, 3.10-3.13), with the self-pipe made by
    :func:`make_self_pipe` on *platform* (and *adopted*); returns the debug mode set.  ``set_debug()`` is not
    called: the caller (asynctestkit's loops, whose ``set_debug`` does nothing more while the loop is being
    built) checks that it may be skipped."""
    loop._timer_cancelled_count = 0
    loop._closed = False
    loop._stopping = False
    loop._ready = _deque()
    loop._scheduled = []
    loop._default_executor = None
    loop._internal_fds = 0
    loop._thread_id = None
    loop._clock_resolution = _MONOTONIC_RESOLUTION
    loop._exception_handler = None
    # asyncio_debug_default() inlined (every loop built)
    if _flags.dev_mode:
        debug = True
    elif _flags.ignore_environment:
        debug = False
    elif _DEBUG_KEY is not None:
        debug = bool(_environ_data.get(_DEBUG_KEY))  # type: ignore[union-attr]
    else:  # pragma: no cover - os.environ without _data
        debug = asyncio_debug_default()
    loop._debug = debug
    if PY313:
        loop._old_agen_hooks = None
    loop.slow_callback_duration = 0.1
    loop._current_handle = None
    loop._task_factory = None
    loop._coroutine_origin_tracking_enabled = False
    loop._coroutine_origin_tracking_saved_depth = None
    spares = None if platform is None else platform.spares
    if spares is None:
        loop._asyncgens = _WeakSet()
    else:  # a closed loop's empty ones, handed on with its selector (see close_self_pipe)
        platform.spares = None  # type: ignore[union-attr]
        loop._asyncgens = spares[1]
    loop._asyncgens_shutdown_called = False
    loop._executor_shutdown_called = False
    if _asyncio_logger.isEnabledFor(_LOG_DEBUG):  # (one Python call, not debug()'s two, when it is off)
        _asyncio_logger.debug("Using selector: %s", selector.__class__.__name__)
    loop._selector = selector
    make_self_pipe(loop, platform, adopted)
    loop._transports = _WeakValueDictionary() if spares is None else spares[0]
    loop._signal_handlers = {}
    if PY313:
        loop._unix_server_sockets = {}
    return debug


_INIT_MATCHES: list[bool] = []


def selector_loop_init_matches() -> bool:
    """Whether a plain ``asyncio.SelectorEventLoop`` built by asyncio's own ``__init__`` chain has exactly what
    :func:`init_selector_loop` sets (:func:`loop_init_matches`); found out once per process on a loop built and
    closed for the purpose, so that no loop that is used has its ``__dict__`` read (see ``clock/_loop.py``)."""
    if not _INIT_MATCHES:
        probe = asyncio.SelectorEventLoop()
        try:
            # (and the two containers close_self_pipe hands on are of the types it checks for)
            _INIT_MATCHES.append(loop_init_matches(probe, frozenset())
                                 and type(getattr(probe, "_transports", None)) is _WeakValueDictionary
                                 and type(getattr(probe, "_asyncgens", None)) is _WeakSet)
        finally:
            probe.close()
    return _INIT_MATCHES[0]


def loop_init_matches(loop: Any, ours: frozenset[str]) -> bool:
    """True if *loop*, built by asyncio's own ``__init__``, has exactly :data:`SELECTOR_LOOP_ATTRIBUTES` (in
    order) besides the attributes in *ours*, and its clock resolution and debug mode are what
    :func:`init_selector_loop` would set."""
    names = tuple(name for name in vars(loop) if name not in ours)
    return (_UNIX_LOOP and names == SELECTOR_LOOP_ATTRIBUTES and loop._clock_resolution == _MONOTONIC_RESOLUTION
            and loop._debug == asyncio_debug_default())


# -- The threads that exist, for every loop built (RealWork's baseline) --------------------------------------
#
# ``threading.enumerate()`` (a Python frame, the registry lock, two lists) turned into a set costs each loop
# built ~8k instructions, and the answer almost never changes between two loops.  :func:`known_threads`
# reads the private registries ``threading._active`` and ``threading._limbo`` (3.10-3.14: dicts of ident ->
# Thread, the two halves of what ``enumerate()`` lists) and answers the same frozenset while the registered
# threads are the same objects in the same order (only while the main thread is the only one: see the
# function).  Checked on 3.10.13, 3.11.7, 3.12.1, 3.13.0.

_known_key: tuple[threading.Thread, ...] = ()
_known_set: frozenset[threading.Thread] = frozenset()
_known_ident: int | None = None  # the lone main thread's key in threading._active, when remembered
_threading_get = vars(threading).get  # (the registries are read each time: threading may replace them, as after fork)


def known_threads() -> frozenset[threading.Thread]:
    """``frozenset(threading.enumerate())``: the previous answer while the main thread alone is registered."""
    global _known_key, _known_set, _known_ident
    active = _threading_get("_active")
    limbo = _threading_get("_limbo")
    if type(active) is not dict or type(limbo) is not dict:  # pragma: no cover - threading without them
        return frozenset(threading.enumerate())
    if not limbo and len(active) == 1 and _known_key and active.get(_known_ident) is _known_key[0]:
        return _known_set  # (the usual answer, found without building anything)
    try:
        key = tuple(active.values())
        if limbo:  # a thread being started: not worth remembering
            return frozenset(key + tuple(limbo.values()))
        idents = tuple(active)
    except RuntimeError:  # pragma: no cover - changed while read (no GIL): the public way
        return frozenset(threading.enumerate())
    if len(key) != 1 or len(idents) != 1:
        # Only the lone main thread is remembered: a remembered thread stays referenced until the next change,
        # and another thread's object may hold what a test expects to be freed (a loop, in its attributes).
        return frozenset(key)
    if key != _known_key:
        _known_key, _known_set = key, frozenset(key)
    _known_ident = idents[0]
    return _known_set


def install_showwarnmsg(hook: ShowWarnMsg) -> tuple[ShowWarnMsg, tuple[object, object]]:
    """:func:`swap_showwarnmsg` (*hook*) and :func:`warnings_display_state` in one call (the leak check's hub
    installs its hook at each test): returns the function that was there and the display state now.
    Private ``warnings._showwarnmsg`` and ``warnings._showwarnmsg_impl``, 3.6-3.14 (see those two)."""
    previous: ShowWarnMsg = warnings._showwarnmsg  # type: ignore[attr-defined]
    warnings._showwarnmsg = hook  # type: ignore[attr-defined]
    return previous, (warnings.showwarning, getattr(warnings, "_showwarnmsg_impl", None))


def restore_showwarnmsg(hook: ShowWarnMsg, previous: ShowWarnMsg | None) -> bool:
    """Put *previous* back as ``warnings._showwarnmsg`` if *hook* is still there (private, 3.6-3.14); False
    (nothing changed) when something else replaced *hook* meanwhile."""
    if warnings._showwarnmsg is not hook or previous is None:  # type: ignore[attr-defined]
        return False
    warnings._showwarnmsg = previous  # type: ignore[attr-defined]
    return True
# -- the running loop of the calling thread (issue 15: per-run cost of the virtual time functions) ----------

# ``asyncio.events._get_running_loop`` (also ``asyncio._get_running_loop``, listed in ``asyncio.events.__all__``
# but underscored and undocumented): the running loop of the calling thread or None, without the RuntimeError
# of ``asyncio.get_running_loop()``.  It is the C function of ``_asyncio`` where that module exists, the record
# ``BaseEventLoop.run_forever`` sets and clears around every run; a forked child reads None (3.10-3.11: the
# record keeps the pid; 3.12+: asyncio clears it after fork).  The virtual time functions call it on every
# read (see clock/_timepatch.py).  Checked on 3.10.13, 3.11.7, 3.12.1, 3.13.0.
running_loop: Callable[[], asyncio.AbstractEventLoop | None] = asyncio.events._get_running_loop
