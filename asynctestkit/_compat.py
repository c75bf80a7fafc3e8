"""The one place for per-version differences and for private asyncio/unittest internals.

Every private name used by asynctestkit is read here and nowhere else, each with the versions it was checked
on and a public fallback where one exists.  ``tests/test_compat.py`` is the canary: it fails loudly if a new
Python renames or removes any of them.

Checked on CPython 3.10.13, 3.11.7, 3.12.1 and 3.13.0 (3.14 from its published sources).
"""

from __future__ import annotations

import asyncio
import concurrent.futures.thread as _cf_thread
import sys
import threading
import unittest
import warnings
from collections.abc import Callable
from typing import Any

PY311 = sys.version_info >= (3, 11)
PY312 = sys.version_info >= (3, 12)
PY313 = sys.version_info >= (3, 13)
PY314 = sys.version_info >= (3, 14)

#: ``IsolatedAsyncioTestCase.loop_factory`` is public (documented) from 3.13 on.
HAS_LOOP_FACTORY = PY313

#: Private unittest.IsolatedAsyncioTestCase methods we override.  They exist, with these signatures,
#: in 3.10.13-3.13.0 (and 3.14): ``_callSetUp(self)``, ``_callAsync(self, func, /, *a, **kw)``,
#: ``_callMaybeAsync(self, func, /, *a, **kw)``; 3.10 ``_setupAsyncioLoop(self)``;
#: 3.11+ ``_setupAsyncioRunner(self)`` and the ``_asyncioRunner`` attribute.
IATC_PRIVATE_METHODS = ("_callSetUp", "_callAsync", "_callMaybeAsync") + (
    ("_setupAsyncioRunner",) if PY311 else ("_setupAsyncioLoop",)
)


# --- asyncio loop internals -------------------------------------------------------------------------

def next_timer_when(loop: asyncio.AbstractEventLoop) -> float | None:
    """The ``when`` of the earliest scheduled timer of a BaseEventLoop, or None when there is none.

    Private: ``BaseEventLoop._scheduled`` is the loop's timer heap (a list of ``TimerHandle``), 3.4-3.14.
    ``_run_once`` drops cancelled handles from its head before it calls ``select()``, so the head is the
    deadline the loop is about to sleep towards.  Reading it (instead of keeping a second heap of every
    ``call_at``) keeps the timer hot path at the speed of plain asyncio and gives the exact float deadline.
    """
    scheduled: list[asyncio.TimerHandle] = loop._scheduled  # type: ignore[attr-defined]
    for handle in scheduled[:1]:
        return handle.when()
    return None


def scheduled_handles(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    """Non-cancelled timers of the loop, earliest first (private ``_scheduled``, 3.4-3.14), for reports."""
    scheduled: list[asyncio.TimerHandle] = loop._scheduled  # type: ignore[attr-defined]
    return sorted(h for h in scheduled if not h.cancelled())


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
    return list(gens) if gens is not None else []


def default_executor(loop: asyncio.AbstractEventLoop) -> Any:
    """The loop's default executor if one was created (private ``_default_executor``, 3.4-3.14), or None."""
    return getattr(loop, "_default_executor", None)


def set_current_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """Make *loop* the current loop of this thread, as ``IsolatedAsyncioTestCase`` does for its own loop.

    ``asyncio.set_event_loop`` is public on 3.10-3.13.  3.14 development builds deprecated it for a while, so
    a DeprecationWarning from it is silenced here rather than failing ``-W error`` runs.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_event_loop(loop)


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


class LoopHookMixin(unittest.IsolatedAsyncioTestCase):
    """Makes ``IsolatedAsyncioTestCase`` build its loop with ``self._atk_loop_factory()``.

    - 3.13+: the documented ``loop_factory`` class attribute (a property here, so each test gets its own
      factory); a subclass that sets ``loop_factory`` itself keeps its own loop.
    - 3.11, 3.12: ``asyncio.Runner`` accepts ``loop_factory`` (public since 3.11) but the test case does not
      pass one; ``_setupAsyncioRunner`` (private, frozen on these versions) is overridden to pass it.
    - 3.10: ``_setupAsyncioLoop`` (private, frozen) creates the loop through the policy; a delegating policy
      answers that single call and is removed at once.
    The debug flag the runner sets is corrected at the start of the first phase (see ``case.py``).
    """

    def _atk_loop_factory(self) -> asyncio.AbstractEventLoop:
        raise NotImplementedError

    if PY313:
        @property  # type: ignore[override]
        def loop_factory(self) -> LoopFactory:
            return self._atk_loop_factory

    elif PY311:  # pragma: no cover - version specific
        def _setupAsyncioRunner(self) -> None:
            assert self._asyncioRunner is None, "asyncio runner is already initialized"  # type: ignore[has-type]
            self._asyncioRunner = asyncio.Runner(debug=True, loop_factory=self._atk_loop_factory)

    else:  # pragma: no cover - version specific
        def _setupAsyncioLoop(self) -> None:
            inner = asyncio.get_event_loop_policy()
            asyncio.set_event_loop_policy(_DelegatingPolicy(inner, self._atk_loop_factory))
            try:
                super()._setupAsyncioLoop()  # type: ignore[misc]
            finally:
                asyncio.set_event_loop_policy(inner)


def phase_runner_task() -> asyncio.Task[Any] | None:
    """The task that runs the current test phase (3.10: the test case's long-lived runner task)."""
    return asyncio.current_task()
