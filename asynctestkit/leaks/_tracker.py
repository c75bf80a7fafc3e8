"""Leak checks for one event loop: find what a test left behind, report it, then clean it up.

A :class:`LeakTracker` watches one loop from :meth:`~LeakTracker.attach` to :meth:`~LeakTracker.detach`
(the watching is described in ``_recorder``).  Because it records what the code creates while it runs,
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
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .. import _compat, _diagnostics, _validate
from .._validate import given
from ..clock._loop import VirtualClockLoop
from ..clock._timepatch import realtime  # real clocks: the test may have the time module on virtual time
from . import _describe
from ._cleanup import _CLOSE_BOUND, Found, LeakCleanup, _safe
from ._hooks import HUB
from ._kinds import (
    ASYNCGENS,
    DAEMON_THREADS,
    EXECUTOR,
    FAIL,
    KINDS,
    NOTE,
    OFF,
    SERVERS,
    SUBPROCESSES,
    THREADS,
    TIMERS,
    TRANSPORTS,
    allowances,
    resolve_policy,
)
from ._recorder import LeakRecorder
from ._registries import LoopRegistries
from ._report import EXCEPTION, JOB, OBJECT, TASK, DedupKey, Leak, LeakReport
from ._resources import ResourceType, may_hold_something, resource_type_of, scan

__all__ = ["LeakTracker", "track_resource"]

_SETTLE_ROUNDS = 20          # zero-time iterations at most while cancellations finish
_TRANSPORT_ROUNDS = 10      # zero-time iterations at most for transports that look open to finish closing
THREAD_GRACE = 0.1           # real seconds for threads started by the test to end
_WAITPID = re.compile(r"(asyncio-)?waitpid-\d+$")  # asyncio's child-watcher threads, one per subprocess
#: At most one tracker found clean by the quick verdict, detached, kept for the next test (see _start_for_test).
_SPARE: list[LeakTracker] = []


class LeakTracker:
    """Finds what code running on *loop* leaves behind, reports it, and cleans it up.

    - *name*: how reports name the code (``"test_fetch"``);
    - *policy*: a preset (``"default"``, ``"strict"``, ``"note"``, ``"off"``) or ``{kind: "fail" | "note" |
      "off"}`` over the default; kinds: tasks, exceptions, coroutines, transports, servers, subprocesses,
      executor, threads, resources, daemon_threads, errors, timers, asyncgens;
    - *allow*: ``{kind: True | (compiled regex, ...)}``: leaks to keep quiet about, all of a kind or those
      whose name (task or coroutine name, thread name, type name) matches; they are still cleaned up;
    - *origin_markers*: ``{(filename, function)}`` identifying the test's own code, used to blame a
      never-awaited coroutine finalized later on the test that created it.

    It owns its parts: ``registries`` (what the loop's creation methods made), ``recorder`` (what happened
    while attached) and ``cleanup`` (closing what leaked); the check itself is here.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, *, name: str = "the code under test",
                 policy: str | Mapping[str, str] = "default", allow: Mapping[str, Any] | None = None,
                 origin_markers: Iterable[tuple[str, str]] = ()) -> None:
        if not isinstance(loop, asyncio.AbstractEventLoop):
            raise TypeError(f"LeakTracker() argument 'loop' must be an asyncio event loop, got {given(loop)}")
        if not isinstance(name, str):
            raise TypeError(f"LeakTracker() argument 'name' must be a str, got {given(name)}")
        self.loop = loop
        self.name = name
        self.policy = dict(policy) if isinstance(policy, dict) and len(policy) == len(KINDS) \
            else resolve_policy(policy, where="LeakTracker(policy=...)")
        self.allow: dict[str, Any] = allowances("LeakTracker(allow=...)", allow)
        self.origin_markers = frozenset(origin_markers)
        self._setup()

    @classmethod
    def _for_test(cls, loop: asyncio.AbstractEventLoop, name: str, policy: dict[str, str],
                  allow: dict[str, Any], origin_markers: frozenset[tuple[str, str]]) -> LeakTracker:
        """The tracker of one test, from arguments already checked and resolved (the test case caches them per
        class and method: building a tracker per test then costs its three small parts, nothing more)."""
        self = cls.__new__(cls)
        self.loop, self.name, self.policy, self.allow, self.origin_markers = loop, name, policy, allow, origin_markers
        self._setup()
        return self

    @classmethod
    def _start_for_test(cls, loop: asyncio.AbstractEventLoop, name: str, policy: dict[str, str],
                        allow: dict[str, Any], origin_markers: frozenset[tuple[str, str]],
                        root: object) -> LeakTracker:
        """:meth:`_for_test`, attached, with the test case *root* added as ``"self"``: one call per test.

        The parts of the previous test's tracker are reused when it was found clean (:meth:`_finish_clean`
        left them empty, detached and pointing at no loop) and has the same policy: a test then builds nothing.
        """
        spare = _SPARE
        if spare and (spare[-1].policy is policy or spare[-1].policy == policy):
            self = spare.pop()
            self.loop, self.name, self.allow, self.origin_markers = loop, name, allow, origin_markers
            registries = self.registries
            registries.loop = loop
            self.policy = registries.policy = policy
            recorder = self.recorder
            recorder.loop, recorder.name = loop, name
        else:
            self = cls.__new__(cls)
            self.loop, self.name, self.policy, self.allow = loop, name, policy, allow
            self.origin_markers = origin_markers
            self._setup()
            recorder = self.recorder
        recorder.attach(self)
        recorder.roots.append((root, "self"))
        return self

    def _finish_clean(self, *, keep_late_handler: bool = False) -> bool:
        """The quick verdict and, when it finds nothing left (True), :meth:`detach` at once.

        The parts of a tracker found clean are kept for the next test's tracker (see :meth:`_start_for_test`);
        ``loop`` is None from then on.
        """
        if not self._nothing_left():
            return False
        recorder = self.recorder
        recorder.detach(self, keep_late_handler=keep_late_handler, clean=True)
        if self._cleanup is None and not recorder.attached:
            self.loop = self.registries.loop = recorder.loop = None  # type: ignore[assignment]
            if _SPARE:
                _SPARE[0] = self  # the latest: the next test most likely shares its policy
            else:
                _SPARE.append(self)
        return True

    def _setup(self) -> None:
        policy = self.policy
        self.registries = LoopRegistries(self.loop, policy)
        self.recorder = LeakRecorder(self.loop, self.name, self.registries)
        self._cleanup: LeakCleanup | None = None
        #: What the quick verdict (_nothing_left) cannot see: strict-mode timers (a scan of the loop's heap).
        self._quick = policy[TIMERS] == OFF
        self._threads_checked = policy[THREADS] != OFF or policy[DAEMON_THREADS] != OFF

    @property
    def cleanup(self) -> LeakCleanup:
        """The part that closes what leaked (made when first needed: a clean test never needs it)."""
        cleanup = self._cleanup
        if cleanup is None:
            cleanup = self._cleanup = LeakCleanup(self.loop)
        return cleanup

    # -- watching (the recorder does it) ----------------------------------------------------------------
    @property
    def attached(self) -> bool:
        """True between :meth:`attach` and :meth:`detach`."""
        return self.recorder.attached

    def attach(self) -> None:
        """Start watching the loop (call before the code under test runs, with the loop not running)."""
        self.recorder.attach(self)

    def detach(self, *, keep_late_handler: bool = False) -> None:
        """Stop watching and restore everything attach() changed.

        With *keep_late_handler* (for a loop that is closed after the test, as a test case's is), the loop's
        exception handler becomes one that reports signals arriving later (an object finalized after the
        test) as a late note naming this test, instead of an unattributed log line in another test.
        """
        self.recorder.detach(self, keep_late_handler=keep_late_handler)

    def add_root(self, obj: object, name: str) -> None:
        """Scan *obj*'s attributes (two levels) at check time, e.g. the test case as ``"self"``."""
        self.recorder.add_root(obj, name)

    def track(self, obj: Any, *, is_open: Callable[[Any], bool] | None = None,
              close: Callable[[Any], object] | None = None, describe: Callable[[Any], str] | None = None) -> Any:
        """Report *obj* if it is still open at the end; returns *obj* (see :func:`track_resource`)."""
        return self.recorder.track(obj, is_open=is_open, close=close, describe=describe)

    # -- what the process-wide hooks call (see _hooks.Sink) --------------------------------------------
    def owns(self, obj: object) -> bool:
        """True when *obj* is in one of this tracker's registries (for routing late signals)."""
        return self.registries.owns(obj)

    def on_created(self, obj: object, rtype: ResourceType, sites: _describe.Sites) -> None:
        """A registered resource type was instantiated while this tracker is current."""
        self.recorder.on_created(obj, rtype, sites)

    def on_warning(self, text: str, category: type[Warning], source: object, *, unsure: bool = False) -> None:
        """A leak warning routed to this tracker (see ``LeakRecorder.on_warning``)."""
        self.recorder.on_warning(text, category, source, unsure=unsure)

    def on_error(self, summary: str, details: list[str]) -> None:
        """An exception raised in a finalizer: a note (see ``LeakRecorder.on_error``)."""
        self.recorder.on_error(summary, details)

    # -- the two entry points ------------------------------------------------------------------------------
    def check_nowait(self) -> LeakReport | None:
        """Check without running the loop, or return None when the loop must run (then await check())."""
        if self._nothing_left():
            return LeakReport(self.name, virtual_time=self._virtual_time())
        if self.loop.is_closed():
            return self._finish(Found(self._virtual_time()))
        found = self._collect()
        if found.needs_loop:
            return None
        if found.leaks or found.tidy:
            self.cleanup.clean_now(found)
        candidates = self._thread_candidates()
        if candidates:
            deadline = realtime.perf_counter() + THREAD_GRACE
            for thread in candidates:  # the loop is not running: blocking here delays nothing
                _join(thread, max(0.0, deadline - realtime.perf_counter()))
            self._collect_threads(found, candidates)
        return self._finish(found)

    async def check(self) -> LeakReport:
        """Settle, collect every leak, clean up, check threads; must be awaited on the tracked loop.

        Bounded: at most ~1 s of virtual time (0.1 s real on a real-time loop) for leftover tasks to honour
        their cancellation, 2 s real for killed subprocesses to be reaped and 100 ms for threads to end.
        """
        await self._settle()
        found = self._collect()
        cleanup = self.cleanup
        cleanup.clean_now(found)
        await cleanup.cancel_tasks(found)
        await cleanup.reap(found.processes)
        for obj, rtype in found.resources:
            await cleanup.close_resource(obj, rtype)
        if found.asyncgens:
            await cleanup.bounded(self.loop.shutdown_asyncgens(), _CLOSE_BOUND)
        for _ in range(2):  # let connection_lost() and other close callbacks run
            await asyncio.sleep(0)
        candidates = self._thread_candidates()
        deadline = realtime.perf_counter() + THREAD_GRACE
        while any(t.is_alive() for t in candidates) and realtime.perf_counter() < deadline:
            alive = next(t for t in candidates if t.is_alive())
            _join(alive, min(0.01, max(0.0, deadline - realtime.perf_counter())))  # short: keeps the loop responsive
            await asyncio.sleep(0)
        self._collect_threads(found, candidates)
        return self._finish(found)

    def _nothing_left(self) -> bool:
        """True when the check would find nothing at all, so the verdict is "clean" without building a report.

        The common case, made cheap: each source is asked whether it holds anything, and the first that may
        sends the caller to :meth:`check_nowait`.  Nothing is missed: the signals the recorder received, the
        registries (transports, servers, subprocesses, executor jobs, resources), every live task of the
        process (asyncio's own registries: a task made by ``create_task``, ``ensure_future``, ``gather``, a
        ``TaskGroup``, a task factory, an eager start or ``asyncio.Task()`` directly is in them), the loop's
        async generators, the threads alive now against those at attach, and the test's attributes.  Timers
        (strict mode) need the full check.  False while the loop runs or once it is closed.
        """
        recorder = self.recorder
        registries = self.registries  # what LoopRegistries.empty() reads, without its frame (timers: not quick)
        if recorder.events or not self._quick or registries.transports or registries.servers or \
                registries.processes or registries.resources or registries.jobs:
            return False
        loop = self.loop
        if loop.is_running() or loop.is_closed():
            return False
        tasks = _compat.loop_tasks(loop)
        if tasks:
            baseline = recorder.baseline
            for task in tasks:
                if not task.done() and task not in baseline:
                    return False
        if _compat.loop_asyncgens(loop):
            return False
        if self._threads_checked:
            active, limbo = _compat.thread_registry()
            if (limbo or active != recorder.threads_before) and self._thread_candidates():
                return False
        for root, name in recorder.roots:
            if may_hold_something(root):
                for _path, value in scan(root, name):
                    if self._suspect(value):
                        return False
        return True

    def _suspect(self, value: object) -> bool:
        """Whether the full check may report *value*, found on a root (see ``_collect_resources``)."""
        if inspect.iscoroutine(value):
            return inspect.getcoroutinestate(value) == inspect.CORO_CREATED
        if isinstance(value, asyncio.Future):
            return value.done() and not value.cancelled() and _compat.exception_never_retrieved(value)
        return resource_type_of(value) is not None

    # -- collect --------------------------------------------------------------------------------------------
    def _pending_tasks(self) -> list[asyncio.Task[Any]]:
        current = asyncio.current_task(self.loop) if self.loop.is_running() else None
        return [t for t in _compat.loop_tasks(self.loop)
                if t is not current and not t.done() and t not in self.recorder.baseline]

    async def _settle(self) -> None:
        """Zero-time iterations while tasks are finishing (a cancellation requested in tearDown, say) and
        while a transport that looks open may be closing (its peer's EOF or TLS close still in flight).
        """
        previous: set[asyncio.Task[Any]] | None = None
        for round_ in range(_SETTLE_ROUNDS):
            pending = set(self._pending_tasks())
            if not pending:
                break
            cancelling = any(_compat.cancelling(t) for t in pending)
            if round_ >= 2 and pending == previous and not cancelling:
                break
            previous = pending
            await asyncio.sleep(0)
        for _ in range(_TRANSPORT_ROUNDS):
            if not any(_describe.transport_open(t) for t in (e.ref() for e in list(self.registries.transports.values()))
                       if t is not None):
                break
            await asyncio.sleep(0)

    def _collect(self) -> Found:
        """Every leak there is now, one pass per source (each leak once: see ``Found.add``)."""
        found = Found(self._virtual_time())
        for task in self._pending_tasks():
            leak = _describe.task_leak(task)
            if found.add(DedupKey(TASK, id(task)), leak):
                found.tasks[task] = leak
        if self.recorder.events:
            for key, leak in list(self.recorder.events.items()):
                found.add(key, leak)
        registries = self.registries
        if registries.transports:
            self._collect_transports(found)
        if registries.servers or registries.processes:
            self._collect_servers_and_processes(found)
        if registries.jobs:
            self._collect_jobs(found)
        self._collect_resources(found)
        self._collect_strict(found)
        return found

    def _collect_transports(self, found: Found) -> None:
        for entry in list(self.registries.transports.values()):
            transport = entry.ref()
            if transport is None:
                continue
            if not _describe.transport_open(transport):
                if not _safe(lambda t: t.is_closing(), transport):  # 3.10 TLS after the peer closed
                    found.tidy.append(transport)
                continue
            found.transports.append(transport)
            text = f"{_describe.describe_transport(transport)} still open"
            found.add(DedupKey(OBJECT, id(transport)), Leak(TRANSPORTS, text, _describe.created_lines(
                entry.sites, entry.via), (type(transport).__name__,)))

    def _collect_servers_and_processes(self, found: Found) -> None:
        for entry in list(self.registries.servers.values()):
            server = entry.ref()
            if server is not None and _describe.server_open(server):
                found.servers.append(server)
                text = f"{_describe.describe_server(server)} still open"
                found.add(DedupKey(OBJECT, id(server)), Leak(SERVERS, text, _describe.created_lines(
                    entry.sites, entry.via), ("Server",)))
        for entry in list(self.registries.processes.values()):
            process = entry.ref()
            if process is not None and process.get_returncode() is None:
                found.processes.append(process)
                text = f"{_describe.describe_process(process, entry.extra)} still running"
                found.add(DedupKey(OBJECT, id(process)), Leak(SUBPROCESSES, text, _describe.created_lines(
                    entry.sites, entry.via), tuple(str(a) for a in entry.extra[:1])))

    def _collect_jobs(self, found: Found) -> None:
        for future, sites, name, default in list(self.registries.jobs.values()):
            if not future.done():
                found.jobs.append((future, default))
                found.add(DedupKey(JOB, id(future)), Leak(EXECUTOR, f"executor job {name}() still running",
                                                          _describe.created_lines(sites, "loop.run_in_executor",
                                                                                  label="submitted at"), (name,)))

    def _collect_resources(self, found: Found) -> None:
        candidates: dict[int, tuple[Any, ResourceType, str]] = {}
        if self.registries.resources:
            for entry in list(self.registries.resources.values()):
                obj = entry.ref()
                if obj is not None and isinstance(entry.extra, ResourceType):
                    candidates[id(obj)] = (obj, entry.extra, "")
        for root, name in self.recorder.roots:
            for path, value in scan(root, name):
                if inspect.iscoroutine(value):
                    if inspect.getcoroutinestate(value) == inspect.CORO_CREATED:
                        leak = _describe.coroutine_leak(value, value.__qualname__, path)
                        if found.add(DedupKey(OBJECT, id(value)), leak):
                            found.coroutines.append(value)
                elif isinstance(value, asyncio.Future):
                    if value.done() and not value.cancelled() and _compat.exception_never_retrieved(value) \
                            and value.get_loop() is self.loop:
                        leak = _describe.exception_leak(value, value.exception())
                        leak.details.append(_diagnostics.detail_line("kept on", path))
                        if found.add(DedupKey(EXCEPTION, id(value)), leak):
                            found.futures.append(value)
                else:
                    known = candidates.get(id(value))
                    rtype = known[1] if known is not None else resource_type_of(value)
                    if rtype is not None and not (known and known[2]):
                        candidates[id(value)] = (value, rtype, path)
        if not candidates:
            return
        owned: set[int] = set()
        for obj, rtype, _path in candidates.values():
            if rtype.parts is not None and _safe(rtype.is_open, obj):
                owned.update(id(part) for part in rtype.parts(obj))
        for obj, rtype, path in candidates.values():
            if id(obj) in owned or DedupKey(OBJECT, id(obj)) in found.keys or not _safe(rtype.is_open, obj):
                continue
            if found.add(DedupKey(OBJECT, id(obj)), self.recorder.resource_leak(obj, where=path)):
                found.resources.append((obj, rtype))

    def _collect_strict(self, found: Found) -> None:
        loop = self.loop
        if self.policy[TIMERS] != OFF:
            for handle in _compat.scheduled_handles(loop):
                callback = _compat.handle_callback(handle)
                if _describe.is_internal_callback(callback):
                    continue
                record = self.registries.timers.get(id(handle))
                sites = record[1] if record is not None and record[0]() is handle else None
                found.timers.append(handle)
                found.add(DedupKey(OBJECT, id(handle)), _describe.timer_leak(handle, callback, sites, loop.time()))
        generators = [g for g in _compat.loop_asyncgens(loop) if g.ag_frame is not None and not g.ag_running]
        found.asyncgens = bool(generators)
        if self.policy[ASYNCGENS] != OFF:
            for agen in generators:
                found.add(DedupKey(OBJECT, id(agen)), _describe.asyncgen_leak(agen))

    def _thread_candidates(self) -> list[threading.Thread]:
        if self.policy[THREADS] == OFF and self.policy[DAEMON_THREADS] == OFF:
            return []
        before = set(self.recorder.threads_before.values())
        new = [t for t in threading.enumerate() if t not in before]
        if not new:  # the common case: no thread started during the test
            return new
        workers = _compat.executor_worker_threads()
        me = threading.current_thread()
        return [t for t in new if t is not me and t not in workers and not _WAITPID.match(t.name)]

    def _collect_threads(self, found: Found, candidates: list[threading.Thread]) -> None:
        for thread in candidates:
            if thread.is_alive():
                found.add(DedupKey(OBJECT, id(thread)), _describe.thread_leak(thread, HUB.thread_sites.get(thread)))

    # -- report ---------------------------------------------------------------------------------------------
    def _virtual_time(self) -> float | None:
        return self.loop.clock.elapsed() if isinstance(self.loop, VirtualClockLoop) else None

    def _finish(self, found: Found) -> LeakReport:
        if self.recorder.events:
            for key, leak in list(self.recorder.events.items()):  # signals that arrived while cleaning up
                found.add(key, leak)
        report = LeakReport(self.name, virtual_time=found.virtual_time)
        for leak in found.leaks:
            severity = self.policy.get(leak.kind, OFF)
            if severity == OFF or self._allowed(leak):
                continue
            if leak.note_only:
                severity = NOTE
            (report.failures if severity == FAIL else report.notes).append(leak)
        if report:  # the timeline of the leaked tasks, when the loop records one (asynctestkit.trace)
            report.timeline = _diagnostics.timeline_lines(
                self.loop, names=[name for leak in report.failures + report.notes for name in leak.names[:1]])
        return report

    def _allowed(self, leak: Leak) -> bool:
        allowance = self.allow.get(leak.kind)
        if allowance is None and leak.kind == DAEMON_THREADS:
            allowance = self.allow.get(THREADS)
        if allowance is None:
            return False
        if allowance is True:
            return True
        return any(pattern.search(name) for pattern in allowance for name in leak.names if name)


def _join(thread: threading.Thread, timeout: float) -> None:
    """Wait up to *timeout* for *thread* to end; a foreign thread that threading met (a dummy thread) cannot be
    joined: it is simply reported if it is still running."""
    try:
        thread.join(timeout)
    except (RuntimeError, AssertionError):  # "cannot join a dummy thread" (an assertion before 3.13)
        realtime.sleep(timeout)


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

