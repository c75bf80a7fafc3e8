"""``time.time()``/``time.monotonic()`` on the virtual clock, and asynctestkit's own real clocks.

Three things live here:

- :data:`realtime`: the ``time`` module's clock functions bound once, when asynctestkit is imported.
  asynctestkit's own real-time reads (watchdogs, real work in flight, leak-check grace periods) go through
  it, so nothing a test replaces later (the virtual time functions below, ``unittest.mock.patch``,
  freezegun) can stop a watchdog.
- **The time module's clock functions follow the clock** (default, :class:`ClockTime`): while a
  :class:`~asynctestkit.VirtualClockLoop` runs (in a test: each async phase), ``time.time()``,
  ``time.monotonic()``, ``time.time_ns()`` and ``time.monotonic_ns()`` answer from its clock **on the loop's
  thread**; every other thread (executor jobs, ``to_thread``, the test runner) keeps the real clock, as does
  the loop's thread between runs.  The functions ask asyncio which loop runs on the calling thread (the record
  ``asyncio.get_running_loop()`` reads, which asyncio sets and clears around every run) and answer from that
  loop's clock if it has one registered: nothing is switched at each run (a trivial test runs its loop five
  times).  They are put on the ``time`` module when a clock's loop first runs and put back when the last
  such loop closes; between runs they answer with the real functions.
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
from typing import Any

from .. import _compat

__all__ = ["ClockTime", "RealClocks", "TimePatches", "VirtualTimeModule", "active_clock", "realtime"]


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

_running_loop = _compat.running_loop
_lock = threading.Lock()
#: ``id(loop)`` -> the anchor ``(wall, wall_ns, start)`` of its clock (see :class:`ClockTime`), for every loop
#: with the time functions on, from its first run to its close: while that loop runs, the functions answer
#: ``loop.time()`` (which is the clock's monotonic time) and ``wall + loop.time() - start``.  Nothing in it
#: refers to the loop, so the registry keeps no unclosed loop alive (a loop is freed only once closed: its
#: ``__del__`` closes it, which takes its entry out, so an id is never looked up for another loop).  Read
#: without the lock by the functions below (a dict lookup is atomic); written only under it.
_sources: dict[int, tuple[float, int, float]] = {}
#: What the time module held before our functions went in; our functions answer with it off the loop.
_fallback: dict[str, Callable[[], Any]] = {}
_fork_hook_registered = False


def _virtual_monotonic() -> float:
    loop = _running_loop()
    if loop is not None and id(loop) in _sources:
        return loop.time()
    return _fallback["monotonic"]()  # type: ignore[no-any-return]


def _virtual_monotonic_ns() -> int:
    loop = _running_loop()
    if loop is not None and id(loop) in _sources:
        return round(loop.time() * 1e9)
    return _fallback["monotonic_ns"]()  # type: ignore[no-any-return]


def _virtual_time() -> float:
    loop = _running_loop()
    if loop is not None:
        anchor = _sources.get(id(loop))
        if anchor is not None:
            return anchor[0] + (loop.time() - anchor[2])
    return _fallback["time"]()  # type: ignore[no-any-return]


def _virtual_time_ns() -> int:
    loop = _running_loop()
    if loop is not None:
        anchor = _sources.get(id(loop))
        if anchor is not None:
            return anchor[1] + round((loop.time() - anchor[2]) * 1e9)
    return _fallback["time_ns"]()  # type: ignore[no-any-return]


#: The functions put on the time module, by name: each answers from the clock of the loop running on the
#: calling thread (asyncio's own running-loop record, the one ``asyncio.get_running_loop()`` reads), if that
#: loop has the time functions on; with the real function everywhere else.
VIRTUAL_FUNCTIONS: dict[str, Callable[[], Any]] = {"time": _virtual_time, "time_ns": _virtual_time_ns,
                                                   "monotonic": _virtual_monotonic,
                                                   "monotonic_ns": _virtual_monotonic_ns}
for _name, _function in VIRTUAL_FUNCTIONS.items():
    _function.__name__ = _function.__qualname__ = _name
    _function.__module__ = "time"
    _function.__doc__ = (f"time.{_name}(), answered by asynctestkit's virtual clock on the thread of a "
                         f"VirtualClockLoop while it runs; the real time.{_name}() everywhere else.")
    _fallback[_name] = getattr(realtime, _name)
del _name, _function


#: Names whose function of ours something else replaced while ours was installed (``mock.patch`` started in
#: one phase, stopped in a later synchronous tearDown): that patch holds ours and will put it back.
_displaced: set[str] = set()


_TIME_DICT = vars(_time)  # the time module's namespace: read and written directly (no getattr/setattr)
_ITEMS = tuple(VIRTUAL_FUNCTIONS.items())
#: The four functions' current values in a dict holding those names, in one C call.
_read_four: Callable[[dict[str, Any]], tuple[Any, ...]] = operator.itemgetter(*VIRTUAL_FUNCTIONS)
_OURS = _read_four(VIRTUAL_FUNCTIONS)
#: ``_read_four(_fallback)``, kept in step with it (only _install() changes it).
_fallback_four = _read_four(_fallback)


def _install() -> None:
    # Once per loop (its first run), so the usual case (the functions found are the real ones, as last put
    # back; nothing displaced) takes two C calls.
    global _fallback_four
    if not _displaced and _read_four(_TIME_DICT) == _fallback_four:
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
            _fallback_four = _read_four(_fallback)
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
            # ends; ours then answers with the fallback on every thread (no loop is registered), so nothing
            # stays virtual, and the next loop's close removes it.
            _displaced.add(name)


def _forget_in_child() -> None:
    """After ``os.fork()``: the child has no running loop; the functions go (the registry goes with them)."""
    global _lock
    _lock = threading.Lock()
    _sources.clear()
    _uninstall()
    _displaced.clear()


def _install_first() -> None:
    global _fork_hook_registered
    if not _fork_hook_registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_forget_in_child)
        _fork_hook_registered = True
    _install()


def active_clock() -> tuple[float, int, float] | None:
    """The anchor of the clock the time module's functions answer from on this thread now, or None (real)."""
    loop = _running_loop()
    return _sources.get(id(loop)) if loop is not None else None


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
    clock was made plus the virtual time elapsed since.  :meth:`start` (the loop's first run) registers the
    clock for its loop and puts the functions on the time module; from then on they answer from it whenever
    that loop is the running loop of the calling thread (every async part of a test, never its sync
    ``setUp``/``tearDown``), with nothing to do at each run; :meth:`close` (the loop closes) takes it out.
    Kept in one object so the clock stays within CPython's fast attribute layout (see
    ``tests/clock/test_loop.py``).  The ``patch_time`` bookkeeping (:attr:`patches`) is built the first time
    a test asks for it.
    """

    __slots__ = ("_anchor", "_final_wall", "_key", "_now", "_patches", "_start", "_wall", "_wall_ns", "enabled")

    def __init__(self, now: Callable[[], float], start: float, enabled: bool) -> None:
        self._now = now
        self._start = start
        self._wall_ns = realtime.time_ns()
        self._wall = self._wall_ns / 1e9
        self.enabled = enabled
        #: What the time functions need of this clock besides its loop's time (see _sources).
        self._anchor = (self._wall, self._wall_ns, start)
        self._key = 0                 # id() of the loop this clock is registered for, while it is (see start)
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

    def start(self, loop: object) -> None:
        """From now until :meth:`close`, the time module's clock functions answer from this clock on any thread
        whose running loop is *loop* (once per loop: at its first run; off with ``enabled`` False).

        *loop* is the loop whose ``time()`` is this clock's monotonic time (the clock's own ``now``).
        """
        if not self.enabled or self._key:
            return
        key = id(loop)
        lock = _lock
        lock.acquire()  # (acquire/release: a third of the cost of "with lock:")
        try:
            if not _sources:  # the first clock: our functions go on the time module (_install's usual case)
                if _fork_hook_registered and not _displaced and _read_four(_TIME_DICT) == _fallback_four:
                    _TIME_DICT.update(VIRTUAL_FUNCTIONS)
                else:
                    _install_first()
            _sources[key] = self._anchor
        finally:
            lock.release()
        self._key = key

    def close(self) -> None:
        """The time functions no longer answer from this clock, and every ``patch_time`` is undone (the loop
        closes); the real functions go back on the time module after the last registered clock."""
        key = self._key
        if key:
            self._key = 0
            lock = _lock
            lock.acquire()
            try:
                if _sources.get(key) is self._anchor:  # (not after a fork, which emptied the registry)
                    del _sources[key]
                    if not _sources:  # _uninstall()'s usual case inlined (once per loop)
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
        if self._key or self._patches is not None:  # (the loop's close() already closed it)
            self.close()
        self._now = itertools.repeat(final).__next__
        self._final_wall = self._wall + (final - self._start)  # what time() answers from now on
        self._patches = None
