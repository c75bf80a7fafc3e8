"""Leak checks for one event loop: find what a test left behind, report it, then clean it up.

A :class:`LeakTracker` watches one loop from :meth:`~LeakTracker.attach` to :meth:`~LeakTracker.detach`
(the watching is described in ``_leakwatch``).  Because it records what the code creates while it runs,
the check at the end *enumerates* live objects instead of waiting for garbage collection, which would be
late, blamed on the wrong test, and slow (no ``gc.collect()`` is ever run).

:meth:`~LeakTracker.check`, awaited on the loop once the code under test is done:

1. lets pending cancellations and closes settle: zero-time loop iterations (virtual time does not move);
2. collects every leak: tasks still pending, exceptions never retrieved, coroutines never awaited,
   transports with an open socket or pipe (closing is not leaking), servers with a listening socket,
   subprocesses still running, executor jobs still running, open registered resources (aiohttp sessions,
   your own pools), exceptions the loop's exception handler received (a callback or protocol method that
   raised), and in strict mode timers never cancelled and suspended async generators;
3. cleans up, like Twisted trial's janitor: cancels leftover tasks (bounded; a task that swallows the
   cancellation has its coroutine closed and is dropped from ``all_tasks()``, so the loop's shutdown cannot
   hang on it), aborts transports, closes servers, kills and reaps subprocesses, closes resources, finalizes
   async generators, and swaps the default executor so the loop's shutdown never waits for a running job;
4. waits up to 100 ms for threads started meanwhile to end, then reports those still running.

:meth:`~LeakTracker.check_nowait` does the same without the loop when nothing needs it (the common case,
so a clean test pays only for the enumeration) and returns None otherwise.

Usable without unittest::

    tracker = LeakTracker(loop, name="main()")
    tracker.attach()
    try:
        loop.run_until_complete(main())
        report = loop.run_until_complete(tracker.check())
    finally:
        tracker.detach()
    if report.failures:
        raise LeakError(report)
"""

from __future__ import annotations

import asyncio
import inspect
import re
import threading
from collections.abc import Callable
from typing import Any

from .. import _compat, _diagnostics, _validate
from ..clock._loop import VirtualClockLoop
from ..clock._timepatch import realtime  # real clocks: the test may have the time module on virtual time
from . import _describe
from ._cleanup import _CLOSE_BOUND, Found, Janitor, _safe
from ._hooks import HUB
from ._kinds import FAIL, NOTE, OFF
from ._recorder import Watcher
from ._report import Leak, LeakReport
from ._resources import ResourceType, resource_type_of, scan

__all__ = ["LeakTracker", "track_resource"]

_SETTLE_ROUNDS = 20          # zero-time iterations at most while cancellations finish
_TRANSPORT_ROUNDS = 10      # zero-time iterations at most for transports that look open to finish closing
THREAD_GRACE = 0.1           # real seconds for threads started by the test to end
_WAITPID = re.compile(r"(asyncio-)?waitpid-\d+$")  # asyncio's child-watcher threads, one per subprocess


class LeakTracker(Janitor, Watcher):
    """Finds what code running on *loop* leaves behind, reports it, and cleans it up.

    - *name*: how reports name the code (``"test_fetch"``);
    - *policy*: a preset (``"default"``, ``"strict"``, ``"note"``, ``"off"``) or ``{kind: "fail" | "note" |
      "off"}`` over the default; kinds: tasks, exceptions, coroutines, transports, servers, subprocesses,
      executor, threads, resources, daemon_threads, errors, timers, asyncgens;
    - *allow*: ``{kind: True | (compiled regex, ...)}``: leaks to keep quiet about, all of a kind or those
      whose name (task or coroutine name, thread name, type name) matches; they are still cleaned up;
    - *origin_markers*: ``{(filename, function)}`` identifying the test's own code, used to blame a
      never-awaited coroutine finalized later on the test that created it.
    """

    # -- the two entry points ------------------------------------------------------------------------------
    def check_nowait(self) -> LeakReport | None:
        """Check without running the loop, or return None when the loop must run (then await check())."""
        if self.loop.is_closed():
            return self._finish(Found(self._virtual_time()))
        found = self._collect()
        if found.needs_loop:
            return None
        self._clean_now(found)
        candidates = self._thread_candidates()
        deadline = realtime.perf_counter() + THREAD_GRACE
        for thread in candidates:  # the loop is not running: blocking here delays nothing
            thread.join(max(0.0, deadline - realtime.perf_counter()))
        self._collect_threads(found, candidates)
        return self._finish(found)

    async def check(self) -> LeakReport:
        """Settle, collect every leak, clean up, check threads; must be awaited on the tracked loop.

        Bounded: at most ~1 s of virtual time (0.1 s real on a real-time loop) for leftover tasks to honour
        their cancellation, 2 s real for killed subprocesses to be reaped and 100 ms for threads to end.
        """
        await self._settle()
        found = self._collect()
        self._clean_now(found)
        await self._cancel_tasks(found)
        await self._reap(found.processes)
        for obj, rtype in found.resources:
            await self._close_resource(obj, rtype)
        if found.asyncgens:
            await self._bounded(self.loop.shutdown_asyncgens(), _CLOSE_BOUND)
        for _ in range(2):  # let connection_lost() and other close callbacks run
            await asyncio.sleep(0)
        candidates = self._thread_candidates()
        deadline = realtime.perf_counter() + THREAD_GRACE
        while any(t.is_alive() for t in candidates) and realtime.perf_counter() < deadline:
            alive = next(t for t in candidates if t.is_alive())
            alive.join(min(0.01, max(0.0, deadline - realtime.perf_counter())))  # short: keeps the loop responsive
            await asyncio.sleep(0)
        self._collect_threads(found, candidates)
        return self._finish(found)

    # -- collect --------------------------------------------------------------------------------------------
    def _pending_tasks(self) -> list[asyncio.Task[Any]]:
        current = asyncio.current_task(self.loop) if self.loop.is_running() else None
        return [t for t in asyncio.all_tasks(self.loop)
                if t is not current and not t.done() and t not in self._baseline]

    async def _settle(self) -> None:
        """Zero-time iterations while tasks are finishing (a cancellation requested in tearDown, say) and
        while a transport that looks open may be closing (its peer's EOF or TLS close still in flight).
        """
        previous: set[asyncio.Task[Any]] | None = None
        for round_ in range(_SETTLE_ROUNDS):
            pending = set(self._pending_tasks())
            if not pending:
                break
            cancelling = any(getattr(t, "cancelling", lambda: 0)() for t in pending)
            if round_ >= 2 and pending == previous and not cancelling:
                break
            previous = pending
            await asyncio.sleep(0)
        for _ in range(_TRANSPORT_ROUNDS):
            if not any(_describe.transport_open(t) for t in (e.ref() for e in list(self._transports.values()))
                       if t is not None):
                break
            await asyncio.sleep(0)

    def _collect(self) -> Found:
        found = Found(self._virtual_time())
        for task in self._pending_tasks():
            leak = _describe.task_leak(task)
            if found.add(("task", id(task)), leak):
                found.tasks[task] = leak
        for key, leak in list(self._events.items()):
            found.add(key, leak)
        for entry in list(self._transports.values()):
            transport = entry.ref()
            if transport is None:
                continue
            if not _describe.transport_open(transport):
                if not _safe(lambda t: t.is_closing(), transport):  # 3.10 TLS after the peer closed
                    found.tidy.append(transport)
                continue
            found.transports.append(transport)
            found.add(("obj", id(transport)), Leak("transports", f"{_describe.describe_transport(transport)} still "
                                                   f"open", _describe.created_lines(entry.sites, entry.via),
                                                   (type(transport).__name__,)))
        for entry in list(self._servers.values()):
            server = entry.ref()
            if server is not None and _describe.server_open(server):
                found.servers.append(server)
                found.add(("obj", id(server)), Leak("servers", f"{_describe.describe_server(server)} still open",
                                                    _describe.created_lines(entry.sites, entry.via), ("Server",)))
        for entry in list(self._processes.values()):
            process = entry.ref()
            if process is not None and process.get_returncode() is None:
                found.processes.append(process)
                text = _describe.describe_process(process, entry.extra)
                found.add(("obj", id(process)), Leak("subprocesses", f"{text} still running",
                                                     _describe.created_lines(entry.sites, entry.via),
                                                     tuple(str(a) for a in entry.extra[:1])))
        for future, sites, name, default in list(self._jobs.values()):
            if not future.done():
                found.jobs.append((future, default))
                found.add(("job", id(future)), Leak("executor", f"executor job {name}() still running",
                                                    _describe.created_lines(sites, "loop.run_in_executor",
                                                                           label="submitted at"), (name,)))
        self._collect_resources(found)
        self._collect_strict(found)
        return found

    def _collect_resources(self, found: Found) -> None:
        candidates: dict[int, tuple[Any, ResourceType, str]] = {}
        for entry in list(self._resources.values()):
            obj = entry.ref()
            if obj is not None and isinstance(entry.extra, ResourceType):
                candidates[id(obj)] = (obj, entry.extra, "")
        for root, name in self._roots:
            for path, value in scan(root, name):
                if inspect.iscoroutine(value):
                    if inspect.getcoroutinestate(value) == inspect.CORO_CREATED and \
                            found.add(("obj", id(value)), _describe.coroutine_leak(value, value.__qualname__, path)):
                        found.coroutines.append(value)
                elif isinstance(value, asyncio.Future):
                    if value.done() and not value.cancelled() and _compat.exception_never_retrieved(value) \
                            and value.get_loop() is self.loop \
                            and found.add(("exc", id(value)), _describe.exception_leak(value, value.exception())):
                        found.futures.append(value)
                        found.leaks[-1].details.append(_diagnostics.detail_line("kept on", path))
                else:
                    known = candidates.get(id(value))
                    rtype = known[1] if known is not None else resource_type_of(value)
                    if rtype is not None and not (known and known[2]):
                        candidates[id(value)] = (value, rtype, path)
        owned: set[int] = set()
        for obj, rtype, _path in candidates.values():
            if rtype.parts is not None and _safe(rtype.is_open, obj):
                owned.update(id(part) for part in rtype.parts(obj))
        for obj, rtype, path in candidates.values():
            if id(obj) in owned or ("obj", id(obj)) in found.keys or not _safe(rtype.is_open, obj):
                continue
            if found.add(("obj", id(obj)), self._resource_leak(obj, where=path)):
                found.resources.append((obj, rtype))

    def _collect_strict(self, found: Found) -> None:
        loop = self.loop
        if self.policy["timers"] != OFF:
            for handle in _compat.scheduled_handles(loop):
                callback = _compat.handle_callback(handle)
                if _describe.is_internal_callback(callback):
                    continue
                record = self._timers.get(id(handle))
                sites = record[1] if record is not None and record[0]() is handle else None
                found.timers.append(handle)
                found.add(("obj", id(handle)), _describe.timer_leak(handle, callback, sites, loop.time()))
        generators = [g for g in _compat.loop_asyncgens(loop) if g.ag_frame is not None and not g.ag_running]
        found.asyncgens = bool(generators)
        if self.policy["asyncgens"] != OFF:
            for agen in generators:
                found.add(("obj", id(agen)), _describe.asyncgen_leak(agen))

    def _thread_candidates(self) -> list[threading.Thread]:
        if self.policy["threads"] == OFF and self.policy["daemon_threads"] == OFF:
            return []
        new = [t for t in threading.enumerate() if t not in self._threads_before]
        if not new:  # the common case: no thread started during the test
            return new
        workers = _compat.executor_worker_threads()
        me = threading.current_thread()
        return [t for t in new if t is not me and t not in workers and not _WAITPID.match(t.name)]

    def _collect_threads(self, found: Found, candidates: list[threading.Thread]) -> None:
        for thread in candidates:
            if thread.is_alive():
                found.add(("obj", id(thread)), _describe.thread_leak(thread, HUB.thread_sites.get(thread)))

    # -- report ---------------------------------------------------------------------------------------------
    def _virtual_time(self) -> float | None:
        return self.loop.clock.elapsed() if isinstance(self.loop, VirtualClockLoop) else None

    def _finish(self, found: Found) -> LeakReport:
        for key, leak in list(self._events.items()):  # signals that arrived while cleaning up
            found.add(key, leak)
        report = LeakReport(self.name, virtual_time=found.virtual_time)
        for leak in found.leaks:
            severity = self.policy.get(leak.kind, OFF)
            if severity == OFF or self._allowed(leak):
                continue
            if leak.note_only:
                severity = NOTE
            (report.failures if severity == FAIL else report.notes).append(leak)
        return report

    def _allowed(self, leak: Leak) -> bool:
        allowance = self.allow.get(leak.kind)
        if allowance is None and leak.kind == "daemon_threads":
            allowance = self.allow.get("threads")
        if allowance is None:
            return False
        if allowance is True:
            return True
        return any(pattern.search(name) for pattern in allowance for name in leak.names if name)


def track_resource(obj: Any, *, is_open: Callable[[Any], bool] | None = None,
                   close: Callable[[Any], object] | None = None,
                   describe: Callable[[Any], str] | None = None) -> Any:
    """Have the running test's leak check report *obj* if it is still open at the end; returns *obj*.

    *is_open*, *close* and *describe* are as for :func:`register_resource_type` (default: the registered
    type of *obj*, else ``not obj.closed`` or ``not obj.is_closing()``).  Does nothing when no leak check is
    attached (checks turned off, or called outside a test).  In a test case ``self.trackResource(obj)`` is
    the same.
    """
    for argument, value in (("is_open", is_open), ("close", close), ("describe", describe)):
        _validate.optional_callable(f"track_resource() argument {argument!r}", value)
    tracker = HUB.current()
    if isinstance(tracker, LeakTracker):
        tracker.track(obj, is_open=is_open, close=close, describe=describe)
    return obj

