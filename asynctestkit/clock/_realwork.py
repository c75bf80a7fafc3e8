"""Real work in flight: what may still wake the loop from outside, and so must hold virtual time.

The virtual clock jumps straight to the next deadline only when nothing real is under way.  This module
answers the question "what is under way?" for one loop:

- **jobs**: futures from ``run_in_executor`` (so ``to_thread`` and name resolution), the default executor's
  shutdown, and anything passed to ``clock.track()``;
- **processes**: subprocess transports whose child has not exited;
- **threads**: threads started while the clock ran (not executor workers, whose work is tracked as jobs);
- **executor workers** running a function this loop did not submit (``asyncio.wrap_future`` around the
  test's own ``ThreadPoolExecutor``): found by looking at what each worker thread is executing;
- **sockets**: connected sockets whose peer is not another socket of this loop, and connects in progress.

Each of these makes virtual time follow real time until it is over.  Listening sockets, pipes, threads
that fed the loop with ``call_soon_threadsafe`` and threads that already existed when the loop was built
are weaker *wake-up sources*: they never hold time, but a test that looks deadlocked while one exists gets
a real grace (``deadlock_grace``) before it is reported.

``background()`` excludes an object from all of this ("it runs, but the test does not wait for it").
"""

from __future__ import annotations

import asyncio
import collections
import os
import socket
import stat
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from selectors import BaseSelector, SelectorKey
from types import MappingProxyType
from typing import Any

from .. import _compat, _diagnostics
from .._diagnostics import Site
from . import _fdpeer
from ._sockets import CONNECTING as _CONNECTING
from ._sockets import EXTERNAL as _EXTERNAL
from ._sockets import IN_LOOP as _IN_LOOP
from ._sockets import INTERNAL as _INTERNAL
from ._sockets import SOURCE as _SOURCE
from ._sockets import classify_fileobj, describe_fd, fd_of, peer_text, socket_fd_of

__all__ = ["InFlight", "RealWork"]

_thread_count = _compat.thread_count



@dataclass(frozen=True)
class InFlight:
    """One piece of real work holding the clock: what it is and where it started."""

    what: str
    site: Site | None = None

    def __str__(self) -> str:
        where = f" (started at {_diagnostics.format_site(self.site)})" if self.site else ""
        return f"{self.what}{where}"


#: The empty start of the registries a loop rarely uses (see RealWork): shared, read-only, replaced by the
#: instance's own container at its first write.
_NO_ITEMS: Any = MappingProxyType({})
_NO_MEMBERS: Any = frozenset()


class RealWork:
    """Registry of one loop's real work.  All methods are called on the loop's thread except noted.

    Every loop builds one and most never use more than its self-pipe: the registries below start as the
    shared empty class attributes (read-only: any mistaken write raises), and a method that adds to one
    first gives the instance its own container (``_own_*``).  Reading needs nothing special.
    """

    _jobs: dict[asyncio.Future[Any], InFlight] = _NO_ITEMS
    _processes: dict[Any, InFlight] = _NO_ITEMS
    _tracked: dict[int, tuple[Any, InFlight]] = _NO_ITEMS
    _background: weakref.WeakSet[Any] | None = None  # built by the first background() call
    _background_ids: set[int] = _NO_MEMBERS
    _background_pids: set[int] = _NO_MEMBERS
    _background_fds: set[int] = _NO_MEMBERS
    _job_fns: dict[asyncio.Future[Any], Any] = _NO_ITEMS
    _finished_fns: collections.deque[Any] | tuple[()] = ()
    # The thread scan (see _threads_since_start): the threads that could die without changing what we know
    # (baseline threads other than the main one, and the new threads found); replaced whole by each scan.
    _scan_new: Sequence[threading.Thread] = ()
    _scan_mortal: Sequence[threading.Thread] = ()
    _signals: set[int] = _NO_MEMBERS   # signals with a loop.add_signal_handler() handler (self-pipe wakes)
    _fd_class: dict[int, str] = _NO_ITEMS
    # Pipes, FIFOs, ptys and other character devices: (verdict, description) per fd, see _fdpeer.  Whether
    # the other end is watched by this loop changes only when a non-socket fd is (un)registered.
    _stream_class: dict[int, tuple[str, str, int | None]] = _NO_ITEMS

    def __init__(self) -> None:
        # The threads that existed when the loop was built (a frozenset shared by the loops built while no
        # thread started or ended: see _compat.known_threads).
        self._baseline_threads: frozenset[threading.Thread] = _compat.known_threads()
        # The thread count at the last enumerate() (see _threads_since_start), and whether any
        # ThreadPoolExecutor worker existed then.
        self._scan_count = -1
        self._scan_workers = False
        self._fd_count = 0                     # fds registered with the selector (the self-pipe included)
        # Nothing registered that could hold time or wake the loop (see _requiet).  Public: the engine's idle
        # path reads it on every jump (a quiet loop's selector has nothing to poll but its own self-pipe).
        self.quiet = False
        # Written from other threads: a dict (atomic item assignment, atomic copy), not a WeakSet; built here,
        # not at first write, so that two threads never both build it.
        self._feeders: dict[int, threading.Thread] = {}
        self._internal_fds: set[int] = set()
        self.construction_done = False

    # -- registration ---------------------------------------------------------------------------------
    def _requiet(self) -> None:
        """Recompute ``quiet`` after any change to what is registered: True when no job, process, tracked
        object, fd besides the self-pipe, thread started since the loop was built, thread that could end,
        executor worker or ``add_signal_handler()`` handler exists.  Then only the thread count can change the
        answer of :meth:`in_flight`, and only a new thread could write the self-pipe.
        """
        self.quiet = not (self._jobs or self._processes or self._tracked or self._scan_new or self._scan_workers
                          or self._scan_mortal or self._signals) and self._fd_count <= len(self._internal_fds)

    def note_signal_handler(self, signum: int, present: bool) -> None:
        """A ``loop.add_signal_handler()`` handler was added (or removed): a signal wakes the loop through
        its self-pipe, which a quiet loop does not poll, so the loop is not quiet while one is installed."""
        if present:
            if self._signals is _NO_MEMBERS:
                self._signals = set()
            self._signals.add(signum)
        elif self._signals:
            self._signals.discard(signum)
        self._requiet()

    def note_registered(self, fileobj: Any) -> None:
        """Count a registered fd; those registered while the loop is being built (its self-pipe) are internal."""
        self._fd_count += 1
        if self._stream_class and not isinstance(fileobj, socket.socket):
            self._stream_class.clear()
        if not self.construction_done:
            self._internal_fds.add(fd_of(fileobj))
        self._requiet()

    def note_adopted(self, fd: int) -> None:
        """The loop took a recycled self-pipe whose fd *fd* the platform selector already watches (so it was not
        registered through the loop's selector wrapper): :meth:`note_registered` for it, in one call."""
        if self.construction_done:  # pragma: no cover - the self-pipe is made while the loop is built
            self.note_registered(fd)
            return
        self._fd_count += 1
        if self._stream_class:
            self._stream_class.clear()  # (an fd that is not a socket)
        self._internal_fds.add(fd)
        # _requiet(), for a loop being built: only the fds can have changed since the empty start
        self.quiet = not (self._jobs or self._processes or self._tracked or self._scan_new or self._scan_workers
                          or self._scan_mortal or self._signals) and self._fd_count <= len(self._internal_fds)

    def note_unregistered(self, fileobj: Any) -> None:
        self._fd_count -= 1
        if self._stream_class and not isinstance(fileobj, socket.socket):
            self._stream_class.clear()
        self.forget_fd(fileobj)
        self._requiet()

    def refresh_fds(self) -> None:
        """Forget every cached fd classification (before a hang is reported: who holds what may have changed)."""
        if self._fd_class:
            self._fd_class.clear()
        if self._stream_class:
            self._stream_class.clear()

    def forget_fd(self, fileobj: Any) -> None:
        """Drop the cached classification of an fd (its registration changed)."""
        if not self._fd_class:
            return
        try:
            self._fd_class.pop(fd_of(fileobj), None)
        except (ValueError, OSError):
            pass

    def add_job(self, fut: asyncio.Future[Any], what: str, site: Site | None, fn: Any = None) -> None:
        """Track an executor job (or any future standing for real work) until *fut* is done.

        *fn* is the function handed to the executor: a worker seen running it is known to be this job.
        """
        if self._jobs is _NO_ITEMS:
            self._jobs = {}
        self._jobs[fut] = InFlight(what, site)
        if fn is not None:
            if self._job_fns is _NO_ITEMS:
                self._job_fns = {}
            self._job_fns[fut] = fn
        self.quiet = False
        fut.add_done_callback(self._job_done)

    def _job_done(self, fut: asyncio.Future[Any]) -> None:
        self._jobs.pop(fut, None)
        fn = self._job_fns.pop(fut, None) if self._job_fns else None
        if fn is not None:  # its worker may still be returning from it for a moment
            finished = self._finished_fns
            if not isinstance(finished, collections.deque):
                finished = self._finished_fns = collections.deque(maxlen=16)
            finished.append(fn)
        self._requiet()

    def add_process(self, transport: Any, what: str, site: Site | None) -> None:
        if self._processes is _NO_ITEMS:
            self._processes = {}
        self._processes[transport] = InFlight(what, site)
        self.quiet = False

    def note_feeder(self) -> None:
        """Called from any thread by ``call_soon_threadsafe``: remember which threads feed this loop."""
        thread = threading.current_thread()
        self._feeders[thread.ident or 0] = thread

    def track(self, obj: Any, what: str, site: Site | None) -> None:
        if self._tracked is _NO_ITEMS:
            self._tracked = {}
        self._tracked[id(obj)] = (obj, InFlight(what, site))
        self.quiet = False

    def background(self, obj: Any) -> None:
        pid = getattr(obj, "pid", None)
        if isinstance(pid, int):
            if self._background_pids is _NO_MEMBERS:
                self._background_pids = set()
            self._background_pids.add(pid)
        fd = socket_fd_of(obj)
        if fd is not None:
            if self._background_fds is _NO_MEMBERS:
                self._background_fds = set()
            self._background_fds.add(fd)
        if self._background is None:
            self._background = weakref.WeakSet()
        try:
            self._background.add(obj)
        except TypeError:
            if self._background_ids is _NO_MEMBERS:
                self._background_ids = set()
            self._background_ids.add(id(obj))
        if self._tracked:
            self._tracked.pop(id(obj), None)
        self._requiet()

    def is_background(self, obj: Any) -> bool:
        background = self._background
        if background is not None:
            try:
                return obj in background
            except TypeError:  # unhashable: remembered by id
                pass
        return id(obj) in self._background_ids

    def jobs(self) -> list[tuple[asyncio.Future[Any], InFlight]]:
        """Executor jobs still running (for the leak checker and for reports)."""
        return [(f, i) for f, i in self._jobs.items() if not f.done()]

    # -- the question ---------------------------------------------------------------------------------
    def in_flight(self, selector: BaseSelector) -> Sequence[InFlight]:
        """Everything that currently holds virtual time to real time (empty: time may jump).

        Runs once per idle loop iteration, i.e. once per jump of the clock, so the common case is answered
        in O(1): nothing registered (``_quiet``) and the thread count unchanged since the last scan.  Only
        then is the answer "nothing", without a look at *selector*'s map.
        """
        if self.quiet and _thread_count() == self._scan_count:
            return ()
        return self._in_flight(selector.get_map())

    def _in_flight(self, fd_map: Mapping[Any, SelectorKey]) -> list[InFlight]:
        held: list[InFlight] = []
        if self._jobs:
            for fut, info in self._jobs.items():
                if not fut.done() and not self.is_background(fut):
                    held.append(info)
        if self._processes:
            for transport, info in list(self._processes.items()):
                if transport.get_returncode() is not None:
                    del self._processes[transport]
                elif not self.is_background(transport) and transport.get_pid() not in self._background_pids:
                    held.append(info)
        if self._tracked:
            for ident, (obj, info) in list(self._tracked.items()):
                if _finished(obj):
                    del self._tracked[ident]
                else:
                    held.append(info)
        new_threads = self._threads_since_start()
        if new_threads:
            held.extend(self._busy_threads(new_threads))
        self._requiet()
        for key in (fd_map.values() if len(fd_map) > len(self._internal_fds) else ()):
            kind = self._classify(key, fd_map)
            if kind == _EXTERNAL or kind == _CONNECTING:
                if key.fd not in self._background_fds and not self._held_by_background(key.fd):
                    held.append(InFlight(self._held_fd_text(key, kind)))
        if not held and _compat.has_executor_workers():
            held.extend(self._foreign_executor_jobs())
        return held

    def _threads_since_start(self) -> Sequence[threading.Thread]:
        """Threads started since the loop was built (alive when last seen).

        ``threading.enumerate()`` is read again only when the thread count changed or a thread the last
        scan knew of died.  That is exact: with every thread that could die watched, an unchanged count
        means no thread started either (a thread ending while another starts changes nothing in the count,
        but is caught by its death).  The main thread and the loop's own thread cannot end meanwhile.
        """
        count = _thread_count()
        if count != self._scan_count or not all(thread.is_alive() for thread in self._scan_mortal) \
                or not all(thread.is_alive() for thread in self._scan_new):
            baseline = self._baseline_threads
            immortal = (threading.main_thread(), threading.current_thread())
            threads = threading.enumerate()
            self._scan_new = [t for t in threads if t not in baseline]
            self._scan_mortal = [t for t in threads if t in baseline and t not in immortal]
            self._scan_workers = _compat.has_executor_workers()
            self._scan_count = count
            self._requiet()
        return self._scan_new

    def wake_up_sources(self, fd_map: Mapping[Any, SelectorKey]) -> list[str]:
        """Things that could still wake the loop although they hold no time.

        Listening sockets, pipes and other fds; threads that fed this loop with ``call_soon_threadsafe``;
        threads that already ran when the loop was built (they may hold a reference to it); and everything
        marked ``background()`` that is still running: background work never holds time, but it can still
        end and wake the loop (a killed background process whose exit the test awaits).  Idle executor
        workers are left out: their work is tracked job by job.
        """
        sources = []
        for key in fd_map.values():
            kind = self._classify(key, fd_map)
            if kind == _SOURCE or (kind in (_EXTERNAL, _CONNECTING)
                                   and (key.fd in self._background_fds or self._held_by_background(key.fd))):
                stream = self._stream_class.get(key.fd)
                sources.append(f"fd {key.fd} ({stream[1] if stream else describe_fd(key.fileobj)})")
        workers = _compat.executor_worker_threads()
        seen: set[threading.Thread] = set()
        for thread in list(self._feeders.values()):
            if self._may_wake(thread, workers):
                seen.add(thread)
                sources.append(f"thread {thread.name!r} (it called call_soon_threadsafe)")
        for thread in threading.enumerate():
            if thread in seen or not self._may_wake(thread, workers):
                continue
            if thread in self._baseline_threads:
                sources.append(f"thread {thread.name!r} (running since before the test)")
            elif self.is_background(thread) or _compat.is_child_watcher_thread(thread):
                sources.append(f"background thread {thread.name!r}")
        for fut, info in self._jobs.items():
            if not fut.done() and self.is_background(fut):
                sources.append(f"background {info.what}")
        for transport, info in self._processes.items():
            if transport.get_returncode() is None:  # only background ones get here: others hold time
                sources.append(f"background {info.what}")
        return sources

    def live_wakers(self, fd_map: Mapping[Any, SelectorKey]) -> list[str]:
        """Wake-up sources known to be alive and able to wake the loop: a loop waiting on one is never deadlocked.

        A background process that has not exited (its exit wakes the loop through the child watcher), a
        background job or thread still running, a thread still alive that already fed this loop with
        ``call_soon_threadsafe``, and a background socket or pipe to a foreign peer.  However slow the
        machine, the wait for these ends by their own doing or by the watchdog, never by a deadlock report.
        Listening sockets and threads that never fed the loop remain mere possibilities (see
        :meth:`wake_up_sources`).
        """
        live: list[str] = []
        for transport, info in self._processes.items():
            if transport.get_returncode() is None:
                live.append(f"background {info.what}")
        for fut, info in self._jobs.items():
            if not fut.done() and self.is_background(fut):
                live.append(f"background {info.what}")
        workers = _compat.executor_worker_threads()
        for thread in list(self._feeders.values()):
            if self._may_wake(thread, workers):
                live.append(f"thread {thread.name!r} (alive; it called call_soon_threadsafe)")
        for thread in threading.enumerate():
            if thread not in self._baseline_threads and self.is_background(thread) \
                    and self._may_wake(thread, workers):
                live.append(f"background thread {thread.name!r}")
        for key in fd_map.values():
            if key.fd in self._background_fds and self._classify(key, fd_map) == _EXTERNAL:
                live.append(self._held_fd_text(key, _EXTERNAL))
        return live

    def _may_wake(self, thread: threading.Thread, workers: set[threading.Thread]) -> bool:
        return thread.is_alive() and thread is not threading.current_thread() and thread not in workers

    def _busy_threads(self, new_threads: Sequence[threading.Thread]) -> list[InFlight]:
        """Threads started since the loop was built, still alive; executor workers and background ones aside."""
        workers = _compat.executor_worker_threads()
        held = []
        for thread in new_threads:
            if thread in workers or self.is_background(thread) or not thread.is_alive() \
                    or _compat.is_child_watcher_thread(thread):
                continue
            held.append(InFlight(f"thread {thread.name!r}"))
        return held

    def _foreign_executor_jobs(self) -> list[InFlight]:
        """Executor workers running a function this loop did not submit (e.g. ``wrap_future(pool.submit(f))``)."""
        held = []
        for thread, fn in _compat.busy_executor_jobs():
            if thread is None:
                held.append(InFlight("a job queued in a thread pool"))
            elif self.is_background(thread) or any(fn is known for known in self._job_fns.values()) \
                    or any(fn is known for known in self._finished_fns):
                continue
            else:
                held.append(InFlight(f"executor worker {thread.name!r} running {_fn_name(fn)}()"))
        return held

    def _held_by_background(self, fd: int) -> bool:
        """Whether the other end of pipe/pty *fd* is held by a child process marked ``background()``."""
        stream = self._stream_class.get(fd)
        return stream is not None and stream[2] is not None and stream[2] in self._background_pids

    def _held_fd_text(self, key: SelectorKey, kind: str) -> str:
        stream = self._stream_class.get(key.fd)
        if stream is not None:
            return f"fd {key.fd} ({stream[1]})"
        return f"{'connect to' if kind == _CONNECTING else 'socket to'} {peer_text(key.fileobj)} (fd {key.fd})"

    def _classify(self, key: SelectorKey, fd_map: Mapping[Any, SelectorKey]) -> str:
        fd = key.fd
        if fd in self._internal_fds:
            return _INTERNAL
        cached = self._fd_class.get(fd)
        if cached is not None:
            return cached
        stream = self._stream_class.get(fd)
        if stream is not None:
            return stream[0]
        if not isinstance(key.fileobj, socket.socket):
            try:
                st = os.fstat(fd)
            except OSError:
                st = None
            if st is not None and (stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode)):
                stream = _fdpeer.classify(fd, st, {other.fd for other in fd_map.values()})
                if self._stream_class is _NO_ITEMS:
                    self._stream_class = {}
                self._stream_class[fd] = stream
                return stream[0]
        kind = classify_fileobj(key, fd_map)
        if kind in (_IN_LOOP, _SOURCE):  # settled answers; "external" may become "in-loop" once accepted
            if self._fd_class is _NO_ITEMS:
                self._fd_class = {}
            self._fd_class[fd] = kind
        return kind


def _fn_name(fn: Any) -> str:
    return _diagnostics.callable_name(fn)  # one namer for every report


def _finished(obj: Any) -> bool:
    if isinstance(obj, threading.Thread):
        return not obj.is_alive()
    done = getattr(obj, "done", None)
    if callable(done):
        return bool(done())
    returncode = getattr(obj, "returncode", None)
    if returncode is not None:
        return True
    get_returncode = getattr(obj, "get_returncode", None)
    if callable(get_returncode):
        return get_returncode() is not None
    is_closing = getattr(obj, "is_closing", None)
    if callable(is_closing):
        return bool(is_closing())
    return False
