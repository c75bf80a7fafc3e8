"""The virtual clock's public face: :class:`VirtualClock`, what a test reads and sets (``self.clock``).

A :class:`VirtualClock` controls the ``time()`` of one :class:`~asynctestkit.VirtualClockLoop`: by default
every sleep and timeout completes at once, at its exact virtual time.  What happens each time the loop would
sleep (the jump rule: I/O first, real work holds time, otherwise jump, nothing can ever happen: report) is
the loop-facing half, :class:`~asynctestkit.clock._jump.JumpEngine`, which this class owns and configures;
its module docstring states the rule and the clock-loop contract.

Manual control: ``auto_advance = False`` freezes time except inside ``advance()``/``advance_to()``;
``run_until_idle()`` runs everything ready without moving time.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from .. import _diagnostics, _validate
from . import _timers
from ._jump import JumpEngine, resolve_future
from ._quiet import DEFAULT_BACKGROUND_WINDOW

if TYPE_CHECKING:
    from ._quiet import BackgroundWatch

__all__ = ["VirtualClock", "check_options"]

_T = TypeVar("_T")

DEFAULT_HORIZON = 86400.0
"""Virtual seconds a test may simulate before time racing ahead is called a livelock (one day)."""
DEFAULT_WATCHDOG = 60.0
"""Real seconds a test phase may run before it is failed as hung."""
DEFAULT_DEADLOCK_GRACE = 1.0
"""Real seconds to wait for a listener, pipe or thread to wake a loop that looks deadlocked."""
DEFAULT_IO_QUANTUM = 1e-6
"""Virtual seconds each loop iteration that delivered I/O takes (so a round trip has a positive duration)."""


def _check_duration(name: str, value: object, *, allow_zero: bool = True, infinite: bool = False) -> float:
    return _validate.duration(name, value, zero=allow_zero, infinite=infinite)


def check_options(*, start: object = 0.0, auto_advance: object = True, horizon: object = DEFAULT_HORIZON,
                  watchdog: object = DEFAULT_WATCHDOG, deadlock_grace: object = DEFAULT_DEADLOCK_GRACE,
                  virtual_time_functions: object = True, io_quantum: object = DEFAULT_IO_QUANTUM) -> None:
    """Validate the options of a :class:`VirtualClock` (and so of ``VirtualClockLoop(...)``) before any is used.

    An unknown option is a TypeError from the call itself, as for any keyword argument.  A combination of
    plain values (int, float, bool, None) that passed once is remembered and not checked again: a test case
    builds a loop with the same class settings for every test.
    """
    # The memo key (see _PLAIN_TYPES), built in C calls only: this runs for every loop a test case builds.
    values = (start, auto_advance, horizon, watchdog, deadlock_grace, virtual_time_functions, io_quantum)
    kinds = tuple(map(type, values))
    key: tuple[object, ...] | None = (kinds, values) if _PLAIN_TYPES.issuperset(kinds) else None
    if key is not None and key in _VALID_OPTIONS:
        return
    _validate.time_point("start", start)
    _validate.boolean("auto_advance", auto_advance)
    _check_duration("horizon", horizon, allow_zero=False, infinite=True)
    if watchdog is not None:
        _check_duration("watchdog", watchdog, allow_zero=False, infinite=True)
    _check_duration("deadlock_grace", deadlock_grace)
    _validate.boolean("virtual_time_functions", virtual_time_functions)
    _check_io_quantum("io_quantum", io_quantum)
    if key is not None:
        if len(_VALID_OPTIONS) >= 256:  # bounded: a suite with more distinct settings checks them again
            _VALID_OPTIONS.clear()
        _VALID_OPTIONS.add(key)


#: Option combinations :func:`check_options` accepted (see ``_PLAIN_TYPES``).
_VALID_OPTIONS: set[tuple[object, ...]] = set()
# The memo key of a combination of options (check_options): the values and, apart, their exact types;
# None unless all are of these plain types.  The types are part of the key because ``True == 1 == 1.0``: a
# bool where a number belongs must still fail.
_PLAIN_TYPES = frozenset({int, float, bool, type(None)})


def _check_io_quantum(where: str, value: object) -> float:
    """A tiny duration: 0 to 1 s (TypeError for a non-number, ValueError out of range)."""
    seconds = _check_duration(where, value)
    if seconds > 1.0:
        raise ValueError(f"{where} must be a tiny duration (0 to 1 s; default {DEFAULT_IO_QUANTUM:g}), got {value!r}")
    return seconds


def _is_trackable(obj: object) -> bool:
    """What ``track()`` can follow to its end: a future or task, a thread, a process, anything with done()."""
    return (isinstance(obj, threading.Thread) or callable(getattr(obj, "done", None))
            or hasattr(obj, "returncode") or callable(getattr(obj, "get_returncode", None))
            or callable(getattr(obj, "is_closing", None)))


def _is_backgroundable(obj: object) -> bool:
    """What ``background()`` can recognise: a trackable object, a socket, a transport or a stream writer."""
    return (_is_trackable(obj) or isinstance(obj, socket.socket) or hasattr(obj, "pid")
            or callable(getattr(obj, "get_extra_info", None)) or hasattr(obj, "transport"))


_TRACKABLE = ("a future or task, a thread, a process (asyncio or subprocess.Popen) or an object with a "
              "done() or is_closing() method")


class VirtualClock:
    """Controls the virtual time of one :class:`~asynctestkit.VirtualClockLoop` (``loop.clock``).

    In an :class:`~asynctestkit.AsyncTestCase` it is ``self.clock``.  By default it advances by itself
    (``auto_advance``): every sleep and timeout completes at once, at its exact virtual time.

    Settings (attributes, may be changed while the test runs):

    - ``horizon``: virtual seconds after ``start`` beyond which time racing ahead is a :class:`LivelockError`;
    - ``watchdog``: real seconds a phase may run (None: no limit);
    - ``deadlock_grace``: real seconds a seemingly deadlocked loop waits for a listener/pipe/thread wake-up;
    - ``slow_callback_check``: warn (logger ``asynctestkit``) when a callback or coroutine step blocks the
      loop longer than ``loop.slow_callback_duration`` real seconds.  asyncio's own check (debug mode only)
      measures with ``loop.time()`` and is blind under virtual time; this one measures real time.  None
      (default): on exactly when the loop's debug mode is on, as in asyncio; True/False: always/never.
    """

    def __init__(self, engine: JumpEngine) -> None:
        self._engine = engine
        self._loop = engine.loop

    # -- the test phase: the clock's contract with the phase glue (_phase.py), forwarded to the engine ----
    @property
    def _phase_task(self) -> asyncio.Task[Any] | None:
        return self._engine.phase_task

    def _phase_engine(self) -> JumpEngine:
        """The engine, for the phase glue to call at each phase boundary (once per test, not once per phase).

        The glue calls ``enter_phase(task, phase)`` when a test phase starts (*task* runs it, ``phase.label``
        names it in reports) and ``end_phase()`` when it ends (the hang report it must fail with, if any):
        one call each, a test pays for three phases.
        """
        return self._engine

    def _closed_phase_coroutine(self, exc: BaseException) -> bool:
        """True if *exc* is what resuming the test's coroutine raised after the engine closed it."""
        return self._engine.closed_phase_coroutine(exc)

    # -- reading time -------------------------------------------------------------------------------
    @property
    def start(self) -> float:
        """The virtual time the clock started at (``clock_start`` on the test case, default 0.0)."""
        return self._engine.start

    def now(self) -> float:
        """The current virtual time: the same value as ``loop.time()``."""
        return self._loop.time()

    def elapsed(self) -> float:
        """Virtual seconds since the clock started, rounded to the nanosecond to hide float noise."""
        return round(self._loop.time() - self._engine.start, 9)

    def monotonic(self) -> float:
        """A ``time.monotonic()`` replacement for code under test: the virtual time."""
        return self._loop.time()

    def time(self) -> float:
        """A ``time.time()`` replacement: the real wall time at clock start plus the virtual elapsed time."""
        return self._engine.time_functions.time()

    def monotonic_ns(self) -> int:
        """A ``time.monotonic_ns()`` replacement: the virtual time in integer nanoseconds."""
        return self._engine.time_functions.monotonic_ns()

    def time_ns(self) -> int:
        """A ``time.time_ns()`` replacement: :meth:`time` in integer nanoseconds."""
        return self._engine.time_functions.time_ns()

    @property
    def virtual_time_functions(self) -> bool:
        """Whether ``time.time()``/``time.monotonic()`` (and ``_ns``) follow this clock while its loop runs.

        Set by the loop's ``virtual_time_functions`` parameter (``AsyncTestCase.virtual_time_functions``).
        """
        return self._engine.time_functions.enabled

    # -- settings -----------------------------------------------------------------------------------
    @property
    def watchdog(self) -> float | None:
        """Real seconds a test phase may run before it is failed as hung (None: no limit)."""
        return self._engine.watchdog

    @watchdog.setter
    def watchdog(self, value: float | None) -> None:
        self._engine.set_watchdog(None if value is None else _check_duration("watchdog", value, allow_zero=False,
                                                                              infinite=True))

    @property
    def deadlock_grace(self) -> float:
        """Real seconds a seemingly deadlocked loop waits for a listener, pipe or thread to wake it (>= 0)."""
        return self._engine.deadlock_grace

    @deadlock_grace.setter
    def deadlock_grace(self, value: float) -> None:
        self._engine.deadlock_grace = _check_duration("deadlock_grace", value)

    @property
    def horizon(self) -> float:
        """Virtual seconds after ``start`` beyond which time racing ahead is a :class:`LivelockError`."""
        return self._engine.horizon

    @horizon.setter
    def horizon(self, value: float) -> None:
        engine = self._engine
        engine.horizon = _check_duration("horizon", value, allow_zero=False, infinite=True)
        engine.set_limit(engine.limit)

    @property
    def io_quantum(self) -> float:
        """Virtual seconds each loop iteration that delivered I/O takes (default 1 µs; 0: I/O takes no time).

        A message sent over a loopback connection is read one iteration later, so a request/reply round
        trip takes two quanta: a reply delayed by ``d`` arrives strictly after ``d``, and a measured
        latency is positive, as on a real network.  Code without I/O is not affected (``sleep(3600)`` stays
        exactly 3600 s), and time stays frozen in manual mode (``auto_advance = False``).
        """
        return self._engine.more.io_quantum

    @io_quantum.setter
    def io_quantum(self, value: float) -> None:
        self._engine.set_io_quantum(_check_io_quantum("io_quantum", value))


    # -- manual control -----------------------------------------------------------------------------
    @property
    def slow_callback_check(self) -> bool | None:
        """Warn when a callback blocks the loop (real time); None: follow the loop's debug mode."""
        return self._engine.slow_callback_check

    @slow_callback_check.setter
    def slow_callback_check(self, value: bool | None) -> None:
        self._engine.slow_callback_check = _validate.boolean("slow_callback_check", value, none=True)
        self._engine.refresh_timing()

    @property
    def auto_advance(self) -> bool:
        """True (default): time jumps by itself.  False: time moves only in ``advance()``/``advance_to()``."""
        return self._engine.limit is None

    @auto_advance.setter
    def auto_advance(self, value: bool) -> None:
        _validate.boolean("auto_advance", value)
        self._engine.set_limit(None if value else self._loop.time())

    async def advance(self, seconds: float) -> None:
        """Move virtual time forward by *seconds*, running every callback due in the window at its exact time.

        Callbacks scheduled by callbacks inside the window run too, in time order; on return
        ``loop.time()`` is exactly the old time plus *seconds* and everything ready has run.  Works with
        ``auto_advance`` on or off.  Raises TypeError for a non-number (or a bool), ValueError for a negative,
        NaN or infinite duration, RuntimeError outside the running loop.  If the test is cancelled meanwhile, time stays
        where it got to.
        """
        seconds = _check_duration("advance() duration", seconds)
        self._require_running("advance")
        await self._advance_to(self._loop.time() + seconds)

    async def advance_to(self, when: float) -> None:
        """Move virtual time forward to the absolute loop time *when* (see :meth:`advance`)."""
        target = _validate.time_point("advance_to() time", when)
        self._require_running("advance_to")
        if target < self._loop.time():
            raise ValueError(f"advance_to({when!r}) would move time backwards: the loop time is already "
                             f"{self._loop.time()!r}")
        await self._advance_to(target)

    async def _advance_to(self, target: float) -> None:
        engine = self._engine
        manual = engine.limit is not None
        if manual:
            engine.set_limit(max(target, engine.limit if engine.limit is not None else target))
        reached = self._loop.create_future()
        handle = self._loop.call_at(target, resolve_future, reached)
        try:
            await reached
            await self.run_until_idle()
        finally:
            handle.cancel()
            if manual and engine.limit is not None:
                engine.set_limit(self._loop.time())

    async def run_until_idle(self) -> None:
        """Run everything that is ready (and what that makes ready) without moving virtual time.

        Returns when the loop would otherwise have to wait for a timer or for I/O.
        """
        self._require_running("run_until_idle")
        await self._engine.idle_waiter()

    def _require_running(self, name: str) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not self._loop:
            raise RuntimeError(f"clock.{name}() must be awaited inside the running test, on the loop this "
                               f"clock drives (no such loop is running in this thread now)")

    # -- telling the clock what counts --------------------------------------------------------------
    def track(self, obj: _T, what: str | None = None) -> _T:
        """Count *obj* as real work in flight until it finishes, so virtual time follows real time meanwhile.

        *obj* may be a future or task (until done), a thread (until it ends), a process (until it exits)
        or anything with ``done()``/``is_closing()``.  Use it for work the clock cannot see, e.g. a thread
        that existed before the test and will answer through ``call_soon_threadsafe``.  Returns *obj*.
        """
        if not _is_trackable(obj):
            raise TypeError(f"clock.track() takes {_TRACKABLE}, got {_validate.given(obj)}")
        if what is not None and not isinstance(what, str):
            raise TypeError(f"clock.track() argument 'what' must be a str or None, got {_validate.given(what)}")
        self._engine.work.track(obj, what or f"tracked {type(obj).__name__}", _diagnostics.caller_site())
        return obj

    def background(self, obj: _T) -> _T:
        """Never let *obj* hold virtual time: a sidecar job, thread, process or socket the test does not await.

        Returns *obj*.  Use it for a helper server thread or a long executor job that lives for the whole
        test, so that sleeps and timeouts stay instant while it runs.
        """
        if not _is_backgroundable(obj):
            raise TypeError(f"clock.background() takes {_TRACKABLE}, a socket, a transport or a stream writer, "
                            f"got {_validate.given(obj)}")
        self._engine.work.background(obj)
        return obj

    # -- background work and timers ------------------------------------------------------------------
    def _background_watch(self) -> BackgroundWatch:
        """The watch of background work on this clock's loop (created at the first background task)."""
        return self._engine.background_watch()

    @property
    def background_window(self) -> float:
        """Virtual seconds background work may run without waking a waiting test before it is a deadlock.

        Default 60.  When every pending timer belongs to background work (``start_background``,
        ``BackgroundTasks``) and nothing else has run for this long, the test is reported as a
        :class:`~asynctestkit.DeadlockError` naming what it awaits, instead of a livelock at the horizon.
        ``math.inf`` turns the rule off.  See docs/doubles.md.
        """
        watch = self._engine.more.background
        return DEFAULT_BACKGROUND_WINDOW if watch is None else watch.window

    @background_window.setter
    def background_window(self, value: float) -> None:
        self._engine.background_watch().window = _check_duration("background_window", value, allow_zero=False,
                                                                 infinite=True)

    def pending_timers(self) -> list[_timers.PendingTimer]:
        """The loop's pending timers, earliest first: deadline, what each does, where it was armed.

        Each is a read-only :class:`~asynctestkit.clock.PendingTimer` snapshot; cancelled timers are left
        out.  Timers due at the same time are listed in the order they run.  Nothing is recorded per timer:
        the line that armed a plain ``call_later`` callback is known only in asyncio's debug mode.
        """
        return _timers.pending_timers(self._loop, self._engine.start)

    def next_deadline(self) -> float | None:
        """The loop time of the earliest pending timer (cancelled ones excluded), None when none is pending."""
        return _timers.next_deadline(self._loop)

    # -- time.monotonic()/time.time() in named modules ----------------------------------------------
    def patch_time(self, *modules: str) -> None:
        """Make ``time.monotonic()``, ``time.time()`` and ``time.perf_counter()`` follow this clock in *modules*.

        Only the named modules see virtual time (``import time`` or ``from time import monotonic`` in them);
        the rest of the process, threads and libraries keep the real clock.  Restored when the loop closes
        (at the end of the test).  ``datetime.now()`` is not covered.  Raises TypeError without a module
        name or for a non-string, ModuleNotFoundError for an unknown module, ValueError for a module that
        does not use the time functions; on any error nothing is patched.
        """
        self._engine.time_functions.patches.patch(modules)
