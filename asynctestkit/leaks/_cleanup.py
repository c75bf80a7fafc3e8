"""The cleaning half of the leak check: after the report, close what the test left open.

Like Twisted trial's janitor, the check reports first and then cleans, so one leak never cascades into the
next test.  Every wait is bounded: a leftover task gets ~1 s of virtual time (0.1 s on a real-time loop) to
honour its cancellation, then its coroutine is closed (its ``finally`` blocks run) and it is dropped from
``asyncio.all_tasks()`` so the loop's shutdown cannot hang on it; a killed subprocess gets 2 s real to be
reaped; an awaitable ``close()`` gets ~1 s; a running executor job is abandoned to its thread and the loop
gets a fresh default executor, so the shutdown never waits up to 300 s for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from .. import _compat, _diagnostics
from ..clock._loop import VirtualClockLoop
from ..clock._timepatch import realtime  # real clocks: the test may have the time module on virtual time
from ._report import DedupKey, Leak
from ._resources import ResourceType

__all__ = ["Found", "LeakCleanup"]

_CANCEL_BOUND = (1.0, 0.1)   # seconds a cancelled task gets to finish: (on a virtual clock, on a real one)
_CLOSE_BOUND = (1.0, 0.5)    # seconds an awaitable close() gets
_REAP_BOUND = 2.0            # real seconds for a killed subprocess to be reaped


class Found:
    """What one collection pass found: the leaks (deduplicated by object) and what to clean."""

    def __init__(self, virtual_time: float | None) -> None:
        self.virtual_time = virtual_time
        self.leaks: list[Leak] = []
        self.keys: set[DedupKey] = set()
        self.tasks: dict[asyncio.Task[Any], Leak] = {}
        self.transports: list[Any] = []
        self.tidy: list[Any] = []  # not leaks (no socket left) but never closed: closed quietly
        self.servers: list[Any] = []
        self.processes: list[Any] = []
        self.jobs: list[tuple[asyncio.Future[Any], bool]] = []
        self.resources: list[tuple[Any, ResourceType]] = []
        self.coroutines: list[Any] = []
        self.futures: list[asyncio.Future[Any]] = []
        self.timers: list[asyncio.TimerHandle] = []
        self.asyncgens = False

    def add(self, key: DedupKey, leak: Leak) -> bool:
        """Record *leak* unless *key* was reported already; True if it is new."""
        if key in self.keys:
            return False
        self.keys.add(key)
        self.leaks.append(leak)
        return True

    @property
    def needs_loop(self) -> bool:
        """Cleaning these needs loop iterations; an open transport may also be about to close (a peer's
        EOF or a TLS shutdown being processed), so it is judged again after a few iterations.
        """
        return bool(self.tasks or self.processes or self.resources or self.asyncgens or self.transports)


class LeakCleanup:
    """Closing and cancelling what leaked on *loop*, every wait bounded (owned by a LeakTracker).

    The idea is Twisted trial's janitor: after the report is made, nothing the test left behind may spill
    into the next test.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def clean_now(self, found: Found) -> None:
        """The part of the cleanup that needs no loop iteration."""
        for coro in found.coroutines:
            _quietly(coro.close)
        for future in found.futures:
            _quietly(future.exception)  # retrieved: no "exception was never retrieved" when it dies
        for transport in found.transports:
            _quietly(getattr(transport, "abort", transport.close))
        for transport in found.tidy:  # else its finalizer warns "unclosed transport" after the test
            _quietly(transport.close)
        for server in found.servers:
            _quietly(server.close)
        for handle in found.timers:
            handle.cancel()
        for future, _default in found.jobs:
            future.cancel()
        if any(default for _future, default in found.jobs):
            # The job's thread cannot be stopped; give the loop a fresh default executor so its shutdown
            # (IsolatedAsyncioTestCase: 3.10/3.11 unbounded, 3.12+ up to 300 s) does not wait for the job.
            old = _compat.default_executor(self.loop)
            if old is not None:
                self.loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(thread_name_prefix="asyncio"))
                old.shutdown(wait=False, cancel_futures=True)

    def _bound(self, bounds: tuple[float, float]) -> float:
        """A wait bound in loop time: virtual seconds on a virtual clock (never past its horizon)."""
        loop = self.loop
        if isinstance(loop, VirtualClockLoop):
            clock = loop.clock
            return max(0.0, min(bounds[0], clock.start + clock.horizon - clock.now() - 1e-3))
        return bounds[1]

    async def bounded(self, awaitable: Awaitable[Any], bounds: tuple[float, float]) -> bool:
        task = asyncio.ensure_future(awaitable)
        done, _pending = await asyncio.wait({task}, timeout=self._bound(bounds))
        if not done:
            task.cancel()
            _compat.silence_destroy_pending(task)
            return False
        _quietly(task.exception)
        return True

    async def cancel_tasks(self, found: Found) -> None:
        tasks = list(found.tasks)
        if not tasks:
            return
        for task in tasks:
            task.cancel()
        for _ in range(5):
            if all(t.done() for t in tasks):
                break
            await asyncio.sleep(0)
        pending = [t for t in tasks if not t.done()]
        bound = self._bound(_CANCEL_BOUND)
        if pending and bound > 0:
            await asyncio.wait(pending, timeout=bound)
        refused = [t for t in tasks if not t.done()]
        for task in refused:  # close the coroutine where it hangs (its finally blocks run), then cancel
            coro = task.get_coro()
            if coro is not None:
                _quietly(coro.close)
            task.cancel()
            _compat.silence_destroy_pending(task)
        for _ in range(3):
            if all(t.done() for t in refused):
                break
            await asyncio.sleep(0)
        unit = "virtual " if isinstance(self.loop, VirtualClockLoop) else ""
        for task, leak in found.tasks.items():
            if task in refused:
                leak.summary = leak.summary.replace(" still pending", " ignored cancellation")
                leak.details.append(_diagnostics.detail_line(
                    "cancelled", f"still running {bound:g} {unit}s after cancel(); asynctestkit closed its coroutine"))
                if not task.done():
                    _compat.forget_task(task)  # so the loop's shutdown does not wait for it forever
                elif not task.cancelled():  # a closed coroutine ends its task with "cannot reuse already
                    _quietly(task.exception)  # awaited coroutine": retrieved, so nothing logs it later
            elif task.done() and not task.cancelled():
                error = task.exception()
                if error is not None:
                    leak.details.append(_diagnostics.detail_line("on cancel",
                                                                f"it raised {error!r} instead of stopping"))

    async def reap(self, processes: list[Any]) -> None:
        for process in processes:
            _quietly(process.kill)
        deadline = realtime.perf_counter() + _REAP_BOUND
        while any(p.get_returncode() is None for p in processes) and realtime.perf_counter() < deadline:
            await asyncio.sleep(0.005)  # real time: the child is real work in flight
        for process in processes:
            _quietly(process.close)

    async def close_resource(self, obj: Any, rtype: ResourceType) -> None:
        try:
            result = rtype.close(obj) if rtype.close is not None else obj.close()
            if inspect.isawaitable(result):
                await self.bounded(result, _CLOSE_BOUND)
        except Exception:
            pass

def _safe(predicate: Callable[[Any], bool], obj: Any) -> bool:
    try:
        return bool(predicate(obj))
    except Exception:  # a predicate that fails on a half-closed object: not reported
        return False


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except Exception:
        pass
