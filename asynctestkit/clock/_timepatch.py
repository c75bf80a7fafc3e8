"""``time.time()``/``time.monotonic()`` on the virtual clock, and asynctestkit's own real clocks.

Three things live here:

- :data:`realtime`: the ``time`` module's clock functions bound once, when asynctestkit is imported.
  asynctestkit's own real-time reads (watchdogs, real work in flight, leak-check grace periods) go through
  it, so nothing a test replaces later (the virtual time functions below, ``unittest.mock.patch``,
  freezegun) can stop a watchdog.
- **The time module's clock functions follow the clock** (default, :func:`activate`/:func:`deactivate`):
  while a test phase runs on a :class:`~asynctestkit.VirtualClockLoop` (without a test case: while the
  loop runs), ``time.time()``, ``time.monotonic()``, ``time.time_ns()`` and ``time.monotonic_ns()`` answer
  from its clock **on the loop's thread**; every other thread (executor jobs, ``to_thread``, the test
  runner) keeps the real clock, as does the loop's thread between phases.  The functions are put on the
  ``time`` module when a clock's loop first runs and put back when the last such loop closes (not at every
  run: a trivial test runs its loop five times); between runs they answer with the real functions.
  ``time.perf_counter()`` stays real on purpose: it is what code measures real durations with (unittest's
  ``--durations`` among others); so do ``time.sleep()``, ``datetime.now()`` and
  ``time.localtime()``/``strftime()``.  Code that bound a clock function before (``from time import
  monotonic`` at import) keeps the real one: that is what ``clock.patch_time(module)`` is for.
- **Opt-in virtual time for named modules** (``clock.patch_time``, :class:`TimePatches`): ``import time``
  in the module makes its ``time`` global a stand-in module whose ``monotonic``, ``perf_counter``, ``time``
  (and ``_ns`` variants) answer from the clock in every thread; ``from time import monotonic`` (or
  ``time``, ``perf_counter``, ``*_ns``) bindings are replaced.  Restored when the test's loop closes.
"""

from __future__ import annotations

import importlib
import itertools
import operator
import os
import threading
import time as _time
import types
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["ClockTime", "RealClocks", "TimePatches", "VirtualTimeModule", "activate", "active_clock", "deactivate",
           "hold", "realtime", "unhold"]


class RealClocks:
    """The ``time`` module's clock functions as they were when asynctestkit was imported.

    Use it where asynctestkit needs real time: ``realtime.perf_counter()``.  Any other attribute is the
    ``time`` module's (``realtime.get_clock_info``), so it can stand in for ``import time``.
    """

    def __init__(self) -> None:
        self.time: Callable[[], float] = _time.time
        self.time_ns: Callable[[], int] = _time.time_ns
        self.monotonic: Callable[[], float] = _time.monotonic
        self.monotonic_ns: Callable[[], int] = _time.monotonic_ns
        self.perf_counter: Callable[[], float] = _time.perf_counter
        self.perf_counter_ns: Callable[[], int] = _time.perf_counter_ns

    def __getattr__(self, name: str) -> Any:
        return getattr(_time, name)


realtime = RealClocks()
real_perf_counter = realtime.perf_counter


# -- the time module's clock functions follow the clock ------------------------------------------------

class TimeSource(Protocol):
    """What :func:`activate` needs from a clock (``VirtualClock`` has it)."""

    def time(self) -> float: ...
    def time_ns(self) -> int: ...
    def monotonic(self) -> float: ...
    def monotonic_ns(self) -> int: ...


_get_ident = threading.get_ident
_lock = threading.Lock()
#: thread id -> the clocks active on that thread, innermost last.  Read without the lock by the functions
#: below (a dict lookup is atomic); written only under it.
_active: dict[int, list[TimeSource]] = {}
#: What the time module held before our functions went in; our functions answer with it off the loop.
_fallback: dict[str, Callable[[], Any]] = {}
_fork_hook_registered = False
#: How many clocks keep our functions on the time module between their loop's runs (see :func:`hold`).
_holders = 0


def _virtual(name: str) -> Callable[[], Any]:
    """``time.<name>()`` as the time module gets it: the innermost active clock's on this thread, else the real one."""
    def function() -> Any:
        clocks = _active.get(_get_ident())
        return getattr(clocks[-1], name)() if clocks else _fallback[name]()

    function.__name__ = function.__qualname__ = name
    function.__module__ = "time"
    function.__doc__ = (f"time.{name}(), answered by asynctestkit's virtual clock on the thread of a loop "
                        f"whose test phase is running; the real time.{name}() everywhere else.")
    return function


#: The functions put on the time module, by name.
VIRTUAL_FUNCTIONS: dict[str, Callable[[], Any]] = {name: _virtual(name)
                                                   for name in ("time", "time_ns", "monotonic", "monotonic_ns")}
_virtual_time, _virtual_time_ns = VIRTUAL_FUNCTIONS["time"], VIRTUAL_FUNCTIONS["time_ns"]
_virtual_monotonic, _virtual_monotonic_ns = VIRTUAL_FUNCTIONS["monotonic"], VIRTUAL_FUNCTIONS["monotonic_ns"]
for _name in VIRTUAL_FUNCTIONS:
    _fallback[_name] = getattr(realtime, _name)
del _name


#: Names whose function of ours something else replaced while ours was installed (``mock.patch`` started in
#: one phase, stopped in a later synchronous tearDown): that patch holds ours and will put it back.
_displaced: set[str] = set()


_TIME_DICT = vars(_time)  # the time module's namespace: read and written directly (no getattr/setattr)
_ITEMS = tuple(VIRTUAL_FUNCTIONS.items())
#: The four functions' current values in a dict holding those names, in one C call.
_read_four: Callable[[dict[str, Any]], tuple[Any, ...]] = operator.itemgetter(*VIRTUAL_FUNCTIONS)
_OURS = _read_four(VIRTUAL_FUNCTIONS)


def _install() -> None:
    # Every loop run installs and every run's end uninstalls (a trivial test: five times each), so the usual
    # case (the functions found are the real ones, as last put back; nothing displaced) takes two C calls.
    if not _displaced and _read_four(_TIME_DICT) == _read_four(_fallback):
        _TIME_DICT.update(VIRTUAL_FUNCTIONS)
        return
    time_dict = _TIME_DICT
    for name, ours in _ITEMS:
        current = time_dict[name]
        if current is ours:  # put back by whoever displaced it (or never removed)
            if _displaced:
                _displaced.discard(name)
        elif not _displaced or name not in _displaced:
            _fallback[name] = current
            time_dict[name] = ours
        # else: a patch made on top of ours is still active: it wins until it puts ours back, and ours then
        # answers as the registry says.


def _uninstall() -> None:
    if not _displaced and _read_four(_TIME_DICT) == _OURS:  # the usual case (see _install)
        _TIME_DICT.update(_fallback)
        return
    time_dict = _TIME_DICT
    for name, ours in _ITEMS:
        if time_dict[name] is ours:
            time_dict[name] = _fallback[name]
            if _displaced:
                _displaced.discard(name)
        elif name not in _displaced:
            # Something replaced ours meanwhile (a mock.patch still active) and will put ours back when it
            # ends; ours then answers with the fallback on every thread, so nothing stays virtual, and the
            # next phase's end removes it.
            _displaced.add(name)


def _forget_in_child() -> None:
    """After ``os.fork()``: the child has no running loop; its copy of the registry must not answer."""
    global _lock
    _lock = threading.Lock()
    _active.clear()
    global _holders
    _holders = 0
    _uninstall()
    _displaced.clear()


def activate(clock: TimeSource) -> int:
    """Make the time module's clock functions answer from *clock* on this thread; returns the thread id.

    Nested activations on one thread stack (the innermost answers).  Pair every call with
    :func:`deactivate`, in a ``finally``.
    """
    thread = _get_ident()
    lock = _lock
    lock.acquire()  # (acquire/release: a third of the cost of "with lock:", and this runs at every loop run)
    try:
        if not _active:
            if not _holders:
                _install_first()
            _active[thread] = [clock]
        else:
            clocks = _active.get(thread)
            if clocks is None:
                _active[thread] = [clock]
            else:
                clocks.append(clock)
    finally:
        lock.release()
    return thread


def deactivate(clock: TimeSource, thread: int) -> None:
    """Undo :func:`activate` of *clock* on *thread*; the real functions go back after the last one."""
    lock = _lock
    lock.acquire()
    try:
        clocks = _active.get(thread)
        if clocks is None:
            return
        if clocks[-1] is clock:  # the usual case: the innermost goes first
            clocks.pop()
        else:
            for index in range(len(clocks) - 2, -1, -1):
                if clocks[index] is clock:
                    del clocks[index]
                    break
        if not clocks:
            del _active[thread]
            if not _active and not _holders:
                _uninstall()
    finally:
        lock.release()


def _install_first() -> None:
    global _fork_hook_registered
    if not _fork_hook_registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_forget_in_child)
        _fork_hook_registered = True
    _install()


def hold() -> None:
    """Keep the functions on the time module until the matching :func:`unhold`, even with no clock active.

    A clock holds them from its loop's first run to its close, so that the loop's later runs only push
    and pop the thread's clock (see :meth:`ClockTime.on`) instead of putting the functions on the time
    module and back at each run.  Between runs they answer with the real functions, as when removed.
    """
    global _holders
    lock = _lock
    lock.acquire()
    try:
        if not _holders and not _active:
            _install_first()
        _holders += 1
    finally:
        lock.release()


def unhold() -> None:
    """Undo one :func:`hold`; the real functions go back after the last one if no clock is active."""
    global _holders
    lock = _lock
    lock.acquire()
    try:
        if _holders:
            _holders -= 1
            if not _holders and not _active:
                _uninstall()
    finally:
        lock.release()


def active_clock() -> TimeSource | None:
    """The clock the time module's functions answer from on this thread now, or None (real time)."""
    clocks = _active.get(_get_ident())
    return clocks[-1] if clocks else None


# -- clock.patch_time(modules) ---------------------------------------------------------------------------

class VirtualTimeModule(types.ModuleType):
    """Stands in for the ``time`` module inside patched modules: the clock functions answer virtually."""

    def __init__(self, monotonic: Callable[[], float], wall: Callable[[], float]) -> None:
        super().__init__("time", "The time module, with monotonic(), perf_counter() and time() on the "
                                 "asynctestkit virtual clock.")
        self.monotonic = monotonic
        self.perf_counter = monotonic
        self.time = wall

    def __getattr__(self, name: str) -> Any:
        return getattr(_time, name)

    def monotonic_ns(self) -> int:
        return int(self.monotonic() * 1e9)

    def perf_counter_ns(self) -> int:
        return int(self.monotonic() * 1e9)

    def time_ns(self) -> int:
        return int(self.time() * 1e9)


class TimePatches:
    """The set of module attributes one clock replaced, so they can be put back exactly."""

    def __init__(self, monotonic: Callable[[], float], wall: Callable[[], float]) -> None:
        self._fake = VirtualTimeModule(monotonic, wall)
        # Matched by identity: the real functions, and the time module's virtual ones (a module that ran
        # ``from time import monotonic`` while a phase was running holds those).
        self._replacements: list[tuple[Callable[..., Any], Callable[..., Any]]] = [
            (realtime.monotonic, monotonic), (realtime.perf_counter, monotonic), (realtime.time, wall),
            (realtime.monotonic_ns, self._fake.monotonic_ns), (realtime.perf_counter_ns, self._fake.perf_counter_ns),
            (realtime.time_ns, self._fake.time_ns),
            (_virtual_monotonic, monotonic), (_virtual_time, wall), (_virtual_monotonic_ns, self._fake.monotonic_ns),
            (_virtual_time_ns, self._fake.time_ns),
        ]
        self._saved: list[tuple[types.ModuleType, str, Any]] = []

    def __len__(self) -> int:
        return len(self._saved)

    def patch(self, names: tuple[object, ...]) -> None:
        """Patch every module in *names*; on a bad name nothing at all is patched."""
        if not names:
            raise TypeError("patch_time() needs at least one module name, e.g. patch_time('myapp.retry')")
        plans: list[tuple[types.ModuleType, list[tuple[str, Any, Any]]]] = []
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"patch_time() takes module names (str), got {type(name).__name__}: {name!r}")
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                raise ModuleNotFoundError(f"patch_time({name!r}): {exc}", name=exc.name) from exc
            plan, already = self._plan(module)
            if not plan and not already:
                raise ValueError(f"patch_time({name!r}): the module uses neither the time module nor "
                                 f"time.monotonic/time.time/time.perf_counter, so there is nothing to patch")
            plans.append((module, plan))
        for module, plan in plans:
            for attr, original, replacement in plan:
                self._saved.append((module, attr, original))
                setattr(module, attr, replacement)

    def _plan(self, module: types.ModuleType) -> tuple[list[tuple[str, Any, Any]], bool]:
        plan: list[tuple[str, Any, Any]] = []
        already = False
        ours = [new for _old, new in self._replacements]
        for attr, value in list(vars(module).items()):
            if value is _time:
                plan.append((attr, value, self._fake))
            elif value is self._fake or any(value is new for new in ours):
                already = True  # patched by an earlier call of this clock
            elif callable(value):
                for old, new in self._replacements:
                    if value is old:  # identity, not ==: a module may hold unhashable callables
                        plan.append((attr, value, new))
                        break
        return plan, already

    def restore(self, keep: int = 0) -> None:
        """Undo the patches, newest first, down to the first *keep* ones."""
        while len(self._saved) > keep:
            module, attr, value = self._saved.pop()
            setattr(module, attr, value)


# -- one clock's face on the time module -----------------------------------------------------------------

class ClockTime:
    """What the ``time`` module's functions answer for one virtual clock, and when they do.

    ``monotonic()`` is the loop's time (so ``time.monotonic()`` and ``loop.time()`` agree, as on a plain
    loop, and ``loop.call_at(time.monotonic() + 5, ...)`` works); ``time()`` is the real wall time when the
    clock was made plus the virtual time elapsed since.  :meth:`on`/:meth:`off` nest: the loop turns the
    functions on around ``run_forever()`` (so every async part of a test, never its sync
    ``setUp``/``tearDown``).  Kept in one object so the
    clock stays within CPython's fast attribute layout (see ``tests/clock/test_loop.py``).  The
    ``patch_time`` bookkeeping (:attr:`patches`) is built the first time a test asks for it.
    """

    __slots__ = ("_depth", "_final_wall", "_held", "_now", "_patches", "_start", "_thread", "_wall", "_wall_ns",
                 "enabled")

    def __init__(self, now: Callable[[], float], start: float, enabled: bool) -> None:
        self._now = now
        self._start = start
        self._wall_ns = realtime.time_ns()
        self._wall = self._wall_ns / 1e9
        self.enabled = enabled
        self._depth = 0               # nested on() calls
        self._held = False            # holds the functions on the time module (see hold) until close()
        self._thread: int | None = None  # the thread the functions answer virtually on, while on
        self._patches: TimePatches | None = None
        self._final_wall: float | None = None  # time() once released (see release)

    def monotonic(self) -> float:
        return self._now()

    def monotonic_ns(self) -> int:
        return round(self._now() * 1e9)

    def time(self) -> float:
        return self._wall + (self._now() - self._start)

    def time_ns(self) -> int:
        return self._wall_ns + round((self._now() - self._start) * 1e9)

    @property
    def patches(self) -> TimePatches:
        """The modules ``clock.patch_time()`` patched for this clock (built on first use)."""
        patches = self._patches
        if patches is None:
            final = self._final_wall
            wall = self.time if final is None else itertools.repeat(final).__next__
            patches = self._patches = TimePatches(self._now, wall)
        return patches

    def on(self) -> None:
        """From now on, on this thread, the time module's clock functions answer from this clock."""
        global _holders
        if self._depth == 0 and self.enabled:
            if not self._held:  # the first run: the functions stay on the time module until close()
                # hold() inlined, with _install()'s usual case (once per loop: see hold, _install)
                lock = _lock
                lock.acquire()
                try:
                    if not _holders and not _active:
                        if _fork_hook_registered and not _displaced and _read_four(_TIME_DICT) == _read_four(_fallback):
                            _TIME_DICT.update(VIRTUAL_FUNCTIONS)
                        else:
                            _install_first()
                    _holders += 1
                finally:
                    lock.release()
                self._held = True
            thread = _get_ident()
            if thread in _active:  # another clock is active on this thread: stack on it
                activate(self)
            else:
                # Held, so nothing installs or uninstalls meanwhile, and only this thread writes its own
                # entry: no lock needed (one dict store per loop run).
                _active[thread] = [self]
            self._thread = thread
        self._depth += 1

    def off(self) -> None:
        """Undo one :meth:`on`; the last one puts the real functions back (if no other clock uses them)."""
        if self._depth == 0:
            return
        self._depth -= 1
        if self._depth == 0 and self._thread is not None:
            thread, self._thread = self._thread, None
            clocks = _active.get(thread)
            if self._held and clocks is not None and len(clocks) == 1 and clocks[0] is self:
                del _active[thread]  # the usual case, without a lock (see on)
            else:
                deactivate(self, thread)

    def close(self) -> None:
        """Everything off and every ``patch_time`` undone (the loop closes)."""
        global _holders
        while self._depth:
            self.off()
        if self._held:
            self._held = False
            # unhold() inlined, with _uninstall()'s usual case (once per loop)
            lock = _lock
            lock.acquire()
            try:
                if _holders:
                    _holders -= 1
                    if not _holders and not _active:
                        if not _displaced and _read_four(_TIME_DICT) == _OURS:
                            _TIME_DICT.update(_fallback)
                        else:
                            _uninstall()
            finally:
                lock.release()
        if self._patches is not None:
            self._patches.restore()

    def release(self, final: float) -> None:
        """The loop closed at loop time *final*: answer that time from now on and hold nothing of the clock.

        A closed loop's time no longer moves, so the answers do not change; what goes is the references back
        to the clock engine (``_now``, and the patches' functions), which made a cycle only the cyclic garbage
        collector could free.
        """
        if self._depth or self._held or self._patches is not None:  # (the loop's close() already closed it)
            self.close()
        self._now = itertools.repeat(final).__next__
        self._final_wall = self._wall + (final - self._start)  # what time() answers from now on
        self._patches = None
