"""The virtual clock: when time jumps, when it follows real time, and when a test is declared stuck.

A :class:`VirtualClock` drives the ``time()`` of one :class:`~asynctestkit.VirtualClockLoop`.  asyncio asks
its selector to sleep whenever nothing is ready to run; the clock answers that request (``_select``) with one
rule, applied in order:

1. **I/O first.**  Poll without blocking; anything ready is returned and time does not move.  Same-loop
   loopback traffic is delivered by the kernel at once, so a client and a server in one test stay instant.
2. **Real work holds time.**  While executor jobs, subprocesses, threads started by the test, connects or
   sockets to peers outside the loop are in flight, the clock waits in real time and virtual time follows
   real time, never beyond the next deadline.  Timeouts around real work therefore fire exactly when they
   would in production: never spuriously, never late.
3. **Otherwise jump.**  Time moves at once to the next timer's deadline, exactly (``loop.time()`` equals
   ``handle.when()`` inside the callback), unless that passes the manual-mode limit or the horizon.
4. **Nothing can ever happen: report.**  No timer, no real work: after a short real settle (or a grace of
   ``deadlock_grace`` seconds when a listener, pipe or thread could still wake the loop) the test phase is
   failed with :class:`DeadlockError`, naming every pending task and where it is suspended.  Time racing
   past ``start + horizon`` or a phase running longer than ``watchdog`` real seconds is failed with
   :class:`LivelockError`.  Failures are delivered by cancelling the blocked phase task; the test case
   turns that cancellation into the failure, and tearDown and cleanups still run.  Without a test case
   (a plain ``asyncio.Runner``) the report is logged and every task is cancelled with its first line.

Manual control: ``auto_advance = False`` freezes time except inside ``advance()``/``advance_to()``;
``run_until_idle()`` runs everything ready without moving time.

Far from zero (a clock started at 1.7e9) the loop's timer resolution is widened as time grows (see
``_set_now``), so timers due "now" still run and ``loop.time()`` lands exactly on every deadline.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from selectors import BaseSelector, SelectorKey
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from . import _compat, _validate, diagnostics
from .hangs import AlarmWatchdog, DeadlockError, HangError, LivelockError, format_report
from .timepatch import ClockTime
from .timepatch import real_perf_counter as _perf_counter
from .timepatch import realtime as _time  # the real clocks, bound at import: never the virtual ones

if TYPE_CHECKING:
    from .diagnostics import Site
    from .loop import VirtualClockLoop
    from .realwork import InFlight, RealWork

__all__ = [
    "DEFAULT_DEADLOCK_GRACE",
    "DEFAULT_HORIZON",
    "DEFAULT_IO_QUANTUM",
    "DEFAULT_WATCHDOG",
    "DeadlockError",
    "HangError",
    "LivelockError",
    "VirtualClock",
]

logger = logging.getLogger("asynctestkit")
_T = TypeVar("_T")

DEFAULT_HORIZON = 86400.0
"""Virtual seconds a test may simulate before time racing ahead is called a livelock (one day)."""
DEFAULT_WATCHDOG = 60.0
"""Real seconds a test phase may run before it is failed as hung."""
DEFAULT_DEADLOCK_GRACE = 1.0
"""Real seconds to wait for a listener, pipe or thread to wake a loop that looks deadlocked."""
DEFAULT_IO_QUANTUM = 1e-6
"""Virtual seconds each loop iteration that delivered I/O takes (so a round trip has a positive duration)."""
_next_timer_when = _compat.next_timer_when
_SETTLE = 0.02          # real seconds to wait before reporting a deadlock with no possible waker
_REAL_SLICE = 0.05      # real-time mode re-checks what is in flight at least this often
_HELD_WARNING = 2.0     # warn once when real work held virtual time this long
_LAG = 0.05             # while real work holds time, the only overdue timer, late by at most this (real seconds),
                        # fires at exactly its when; otherwise time moves to the real-time target
_SLOW_BATCH = 20       # iterations running more callbacks than this are judged by their average
_MAX_DELIVERIES = 3     # after this many undelivered hang reports, stop the loop
_REDELIVER = 0.25       # real seconds before the select-level watchdog repeats an unanswered report
_SPIN_ITERATIONS = 2048 # busy iterations running only tasks that yield with sleep(0) before time is let pass
_GRAIN = 0.001          # while time crawls (tiny sleeps polling), a jump moves it at least this far
_SPIN_FIRST_STEP = 0.001  # the first move of a spin with no timer due (doubles while the spin goes on)
_CHECK_EVERY = 63       # the watchdog is checked every 64 loop iterations (and whenever select() waits)
_ALARM_LAG = 0.25       # SIGALRM fires this fraction of the watchdog (at most 1 s) after the select-level check

#: Per loop class, the subclass a loop wears while real work holds its time: the same class but for ``time()``,
#: which reads the anchored real clock (see VirtualClock._live_now).  Swapping the class, not testing a flag
#: in ``time()``, keeps the common path (no real work) free: ``time()`` runs for every timer armed.
_LIVE_TIME_CLASSES: dict[type, type] = {}


def _live_time(loop: Any) -> float:
    return loop.clock._live_now()  # type: ignore[no-any-return]


def _live_time_class(cls: type) -> type:
    live = _LIVE_TIME_CLASSES.get(cls)
    if live is None:
        live = type(cls.__name__, (cls,), {"time": _live_time, "__module__": cls.__module__,
                                           "__qualname__": cls.__qualname__, "__doc__": cls.__doc__})
        _LIVE_TIME_CLASSES[cls] = live
    return live


def _check_duration(name: str, value: object, *, allow_zero: bool = True, infinite: bool = False) -> float:
    return _validate.duration(name, value, zero=allow_zero, infinite=infinite)


def check_options(*, start: object = 0.0, auto_advance: object = True, horizon: object = DEFAULT_HORIZON,
                  watchdog: object = DEFAULT_WATCHDOG, deadlock_grace: object = DEFAULT_DEADLOCK_GRACE,
                  virtual_time_functions: object = True, io_quantum: object = DEFAULT_IO_QUANTUM) -> None:
    """Validate the options of a :class:`VirtualClock` (and so of ``VirtualClockLoop(...)``) before any is used.

    An unknown option is a TypeError from the call itself, as for any keyword argument.
    """
    _validate.time_point("start", start)
    _validate.boolean("auto_advance", auto_advance)
    _check_duration("horizon", horizon, allow_zero=False, infinite=True)
    if watchdog is not None:
        _check_duration("watchdog", watchdog, allow_zero=False, infinite=True)
    _check_duration("deadlock_grace", deadlock_grace)
    _validate.boolean("virtual_time_functions", virtual_time_functions)
    _check_io_quantum("io_quantum", io_quantum)


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


def _stall_point(resolution: float) -> float:
    """The smallest magnitude at which one ulp exceeds *resolution* (``now + resolution == now`` beyond)."""
    return 2.0 ** (math.floor(math.log2(resolution)) + 53)


class _Phase(NamedTuple):
    """The test phase the clock watches: its name in reports and, where the phase's task outlives it (3.10),
    a callable that tells whether its code still runs."""

    label: str
    running: Callable[[], bool] | None = None


_NO_PHASE = _Phase("the code on this loop")


class _Rare:
    """State of the clock's rarer paths (real-time holds, spins, settings), kept in one attribute.

    CPython (3.11+) keeps an object's attributes in its fast inline layout only up to 30 of them; the clock's
    hot-path attributes (read on every jump) stay on the clock itself, the rest live here.
    """

    __slots__ = ("crawl_now", "crawl_tick", "crawl_windows", "crawling", "held_base", "held_class", "held_warned",
                 "io_quantum", "spin_count", "spin_step", "spin_tick", "waiting_on")

    def __init__(self) -> None:
        self.crawl_now = 0.0             # the virtual time at the start of the current crawl window
        self.crawl_tick = 0              # VirtualClock._tick then
        self.crawl_windows = 0           # idle iterations in a row that moved time by less than _GRAIN each
        self.crawling = False            # jumps move time by at least _GRAIN (see VirtualClock._crawl_sample)
        self.held_base = 0.0             # the virtual time when real work began to hold time
        self.held_class: type | None = None  # the loop's own class while it wears the live-time one
        self.held_warned = False         # the "held for long" warning was logged
        self.io_quantum = 0.0            # see VirtualClock.io_quantum
        self.spin_count = 0              # busy iterations seen spinning since the loop last went idle
        self.spin_step = _SPIN_FIRST_STEP  # the next move of a spin with no timer due
        self.spin_tick = 0               # VirtualClock._tick at the last spin sample (changed: it went idle)
        self.waiting_on: list[str] = []  # live wake-up sources a seemingly stuck loop waits for


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

    def __init__(self, loop: VirtualClockLoop, work: RealWork, *, start: float = 0.0,
                 auto_advance: bool = True, horizon: float = DEFAULT_HORIZON,
                 watchdog: float | None = DEFAULT_WATCHDOG,
                 deadlock_grace: float = DEFAULT_DEADLOCK_GRACE,
                 virtual_time_functions: bool = True,
                 io_quantum: float = DEFAULT_IO_QUANTUM) -> None:
        check_options(start=start, auto_advance=auto_advance, horizon=horizon, watchdog=watchdog,
                      deadlock_grace=deadlock_grace, virtual_time_functions=virtual_time_functions,
                      io_quantum=io_quantum)
        self._loop = loop
        self._work = work
        self._start = float(start)
        self._phase_task: asyncio.Task[Any] | None = None
        self._limit: float | None = None if auto_advance else self._start
        self._more = _Rare()                  # state of the rarer paths (one attribute: see _Rare)
        self._io_step = 0.0                   # the quantum in auto-advance mode, 0 while time is frozen
        self._jump_limit = -math.inf          # see _refresh_jump_limit (set once the loop is adopted)
        self._held_since: float | None = None   # perf_counter() when real work began to hold time
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._resolution = _time.get_clock_info("monotonic").resolution
        self._stall_at = _stall_point(self._resolution)
        self.horizon = horizon
        self._watchdog: float | None = None
        self._watchdog_at = math.inf          # perf_counter() value past which the phase is hung
        self.watchdog = watchdog
        self._deadlock_grace = _check_duration("deadlock_grace", deadlock_grace)
        self.io_quantum = io_quantum
        self._slow_callback_check: bool | None = None
        self._timing = False
        self._poll_checks = False             # every poll goes to _select_checked (see _arm_alarm)
        self._batch = 0                       # callbacks the current iteration was about to run
        self._real_start = _time.perf_counter()
        self._last_exit = math.inf            # perf_counter() when select() last returned
        self._phase = _NO_PHASE  # no test phase: a plain asyncio.Runner
        self._pending_error: HangError | None = None
        self._force_closed = False            # _report closed the phase's coroutine (see _force_close)
        self._deliveries = 0
        self._in_select = False               # waiting in real time in select() (see _real_select)
        self._tick = 0                        # select() calls, for the periodic real-time checks
        self._time_functions = ClockTime(self.monotonic, self._start, virtual_time_functions)
        self._alarm = AlarmWatchdog(self._alarm_message, lambda: self._in_select)

    def _adopt_loop_resolution(self) -> None:
        """Called once the loop is built: start from its resolution, widened for a large start."""
        self._resolution = _compat.clock_resolution(self._loop)
        self._stall_at = _stall_point(self._resolution)
        self._set_now(self._start)
        self._refresh_jump_limit()

    # -- reading time -------------------------------------------------------------------------------
    @property
    def start(self) -> float:
        """The virtual time the clock started at (``clock_start`` on the test case, default 0.0)."""
        return self._start

    def now(self) -> float:
        """The current virtual time: the same value as ``loop.time()``."""
        return self._loop.time()

    def elapsed(self) -> float:
        """Virtual seconds since the clock started, rounded to the nanosecond to hide float noise."""
        return round(self._loop.time() - self._start, 9)

    def monotonic(self) -> float:
        """A ``time.monotonic()`` replacement for code under test: the virtual time."""
        return self._loop.time()

    def time(self) -> float:
        """A ``time.time()`` replacement: the real wall time at clock start plus the virtual elapsed time."""
        return self._time_functions.time()

    def monotonic_ns(self) -> int:
        """A ``time.monotonic_ns()`` replacement: the virtual time in integer nanoseconds."""
        return self._time_functions.monotonic_ns()

    def time_ns(self) -> int:
        """A ``time.time_ns()`` replacement: :meth:`time` in integer nanoseconds."""
        return self._time_functions.time_ns()

    @property
    def virtual_time_functions(self) -> bool:
        """Whether ``time.time()``/``time.monotonic()`` (and ``_ns``) follow this clock while its loop runs.

        Set by the loop's ``virtual_time_functions`` parameter (``AsyncTestCase.virtual_time_functions``).
        """
        return self._time_functions.enabled

    # -- settings -----------------------------------------------------------------------------------
    @property
    def watchdog(self) -> float | None:
        """Real seconds a test phase may run before it is failed as hung (None: no limit)."""
        return self._watchdog

    @watchdog.setter
    def watchdog(self, value: float | None) -> None:
        self._watchdog = None if value is None else _check_duration("watchdog", value, allow_zero=False,
                                                                     infinite=True)
        if self._phase_task is not None:  # changed while a phase runs: the alarm follows the new limit
            self._watchdog_at = math.inf if self._watchdog is None else self._real_start + self._watchdog
            self._arm_alarm()

    @property
    def deadlock_grace(self) -> float:
        """Real seconds a seemingly deadlocked loop waits for a listener, pipe or thread to wake it (>= 0)."""
        return self._deadlock_grace

    @deadlock_grace.setter
    def deadlock_grace(self, value: float) -> None:
        self._deadlock_grace = _check_duration("deadlock_grace", value)

    @property
    def horizon(self) -> float:
        """Virtual seconds after ``start`` beyond which time racing ahead is a :class:`LivelockError`."""
        return self._horizon

    @horizon.setter
    def horizon(self, value: float) -> None:
        self._horizon = _check_duration("horizon", value, allow_zero=False, infinite=True)
        self._set_limit(self._limit)

    @property
    def io_quantum(self) -> float:
        """Virtual seconds each loop iteration that delivered I/O takes (default 1 µs; 0: I/O takes no time).

        A message sent over a loopback connection is read one iteration later, so a request/reply round
        trip takes two quanta: a reply delayed by ``d`` arrives strictly after ``d``, and a measured
        latency is positive, as on a real network.  Code without I/O is not affected (``sleep(3600)`` stays
        exactly 3600 s), and time stays frozen in manual mode (``auto_advance = False``).
        """
        return self._more.io_quantum

    @io_quantum.setter
    def io_quantum(self, value: float) -> None:
        seconds = _check_io_quantum("io_quantum", value)
        self._more.io_quantum = seconds
        self._io_step = seconds if self._limit is None else 0.0

    def _set_limit(self, limit: float | None) -> None:
        """Set the manual-mode limit (None: auto-advance)."""
        self._limit = limit
        self._io_step = self._more.io_quantum if limit is None else 0.0
        self._refresh_jump_limit()

    def _refresh_jump_limit(self) -> None:
        """Recompute the bound up to which ``_select`` may jump on its fast path without further checks.

        Below it a jump needs no horizon report, no manual-mode stop and no resolution widening.  It is
        -inf (every jump takes ``_decide``) while real work holds time, while ``run_until_idle()`` waits,
        and for a clock whose times lie beyond the float range where the resolution must be widened.
        """
        if self._held_since is not None or self._idle_waiters or self._start <= -self._stall_at \
                or self._more.crawling:
            self._jump_limit = -math.inf
            return
        bound = min(self._start + self._horizon, self._stall_at)
        self._jump_limit = bound if self._limit is None else min(bound, self._limit)

    # -- manual control -----------------------------------------------------------------------------
    @property
    def slow_callback_check(self) -> bool | None:
        """Warn when a callback blocks the loop (real time); None: follow the loop's debug mode."""
        return self._slow_callback_check

    @slow_callback_check.setter
    def slow_callback_check(self, value: bool | None) -> None:
        self._slow_callback_check = _validate.boolean("slow_callback_check", value, none=True)
        self._refresh_timing()

    @property
    def auto_advance(self) -> bool:
        """True (default): time jumps by itself.  False: time moves only in ``advance()``/``advance_to()``."""
        return self._limit is None

    @auto_advance.setter
    def auto_advance(self, value: bool) -> None:
        _validate.boolean("auto_advance", value)
        self._set_limit(None if value else self._loop._atk_now)

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
        await self._advance_to(self._loop._atk_now + seconds)

    async def advance_to(self, when: float) -> None:
        """Move virtual time forward to the absolute loop time *when* (see :meth:`advance`)."""
        target = _validate.time_point("advance_to() time", when)
        self._require_running("advance_to")
        if target < self._loop._atk_now:
            raise ValueError(f"advance_to({when!r}) would move time backwards: the loop time is already "
                             f"{self._loop._atk_now!r}")
        await self._advance_to(target)

    async def _advance_to(self, target: float) -> None:
        manual = self._limit is not None
        if manual:
            self._set_limit(max(target, self._limit if self._limit is not None else target))
        reached = self._loop.create_future()
        handle = self._loop.call_at(target, _resolve, reached)
        try:
            await reached
            await self.run_until_idle()
        finally:
            handle.cancel()
            if manual and self._limit is not None:
                self._set_limit(self._loop._atk_now)

    async def run_until_idle(self) -> None:
        """Run everything that is ready (and what that makes ready) without moving virtual time.

        Returns when the loop would otherwise have to wait for a timer or for I/O.
        """
        self._require_running("run_until_idle")
        waiter = self._loop.create_future()
        self._idle_waiters.append(waiter)
        self._jump_limit = -math.inf  # the next idle select() must resolve it (see _decide)
        await waiter

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
        self._work.track(obj, what or f"tracked {type(obj).__name__}", diagnostics.caller_site())
        return obj

    def background(self, obj: _T) -> _T:
        """Never let *obj* hold virtual time: a sidecar job, thread, process or socket the test does not await.

        Returns *obj*.  Use it for a helper server thread or a long executor job that lives for the whole
        test, so that sleeps and timeouts stay instant while it runs.
        """
        if not _is_backgroundable(obj):
            raise TypeError(f"clock.background() takes {_TRACKABLE}, a socket, a transport or a stream writer, "
                            f"got {_validate.given(obj)}")
        self._work.background(obj)
        return obj

    # -- time.monotonic()/time.time() in named modules ----------------------------------------------
    def patch_time(self, *modules: str) -> None:
        """Make ``time.monotonic()``, ``time.time()`` and ``time.perf_counter()`` follow this clock in *modules*.

        Only the named modules see virtual time (``import time`` or ``from time import monotonic`` in them);
        the rest of the process, threads and libraries keep the real clock.  Restored when the loop closes
        (at the end of the test).  ``datetime.now()`` is not covered.  Raises TypeError without a module
        name or for a non-string, ModuleNotFoundError for an unknown module, ValueError for a module that
        does not use the time functions; on any error nothing is patched.
        """
        self._time_functions.patches.patch(modules)

    # -- hooks for the test case --------------------------------------------------------------------
    def _enter_phase(self, task: asyncio.Task[Any] | None, label: str, *,
                     running: Callable[[], bool] | None = None) -> None:
        """A test phase starts: *task* runs it, *label* names it in reports.

        *running*, when given, tells whether the phase's code is still running in *task* (3.10: the test case's
        long-lived runner task outlives each phase); otherwise the phase runs until *task* is done.
        """
        stale = self._take_pending_error()
        if stale is not None:  # the previous phase ended with another exception before the report arrived
            logger.error("asynctestkit: a hang report was not delivered (the phase ended with another "
                         "exception first):\n%s", stale)
        self._phase_task = task
        self._phase = _Phase(label, running)
        self._force_closed = False
        self._deliveries = 0
        self._real_start = _time.perf_counter()
        watchdog = self._watchdog
        self._watchdog_at = math.inf if watchdog is None else self._real_start + watchdog
        self._arm_alarm()

    def _arm_alarm(self) -> None:
        """Set SIGALRM for what is left of the phase's watchdog; where it cannot be set, check every poll.

        Without the alarm (not the main thread, SIGALRM owned by someone else such as pytest-timeout, no
        ``setitimer``) only the select-level check sees an overrun, so it then runs at every loop iteration
        (one ``perf_counter()`` call each) instead of every 64th.
        """
        watchdog = self._watchdog
        if watchdog is None or self._phase_task is None:
            self._alarm.disarm()
        else:
            left = max(0.0, self._watchdog_at - _perf_counter())
            self._alarm.arm(left + min(_ALARM_LAG * watchdog, 1.0))
        self._refresh_poll_checks()

    def _refresh_poll_checks(self) -> None:
        self._poll_checks = self._timing or (self._watchdog_at != math.inf and not self._alarm.armed)

    def _exit_phase(self) -> None:
        if (self._phase_task is not None and self._pending_error is None and not self._deliveries
                and _perf_counter() > self._watchdog_at and sys.exc_info()[1] is None):
            # The phase blocked the loop past the watchdog and then returned before any select() saw it
            # (no alarm was armed): it still fails, through the test case's pending-error check when the phase returns.
            real = _perf_counter() - self._real_start
            headline = (f"{self._phase.label} ran longer than the real-time watchdog of {self._watchdog:g} s: "
                        f"synchronous code blocked the event loop and no SIGALRM alarm was armed to stop it "
                        f"there (virtual t={self._loop._atk_now - self._start:.3f}s, real {real:.3f}s)")
            self._pending_error = LivelockError(format_report(
                self._loop, headline, phase_task=self._phase_task, phase_label=self._phase.label,
                start=self._start))
        self._phase_task = None
        self._phase = _NO_PHASE
        self._watchdog_at = math.inf
        self._alarm.disarm()
        self._refresh_poll_checks()

    def _alarm_message(self, site: Site) -> str:
        return (f"{self._phase.label} ran longer than the real-time watchdog of {self._watchdog:g} s: "
                f"synchronous code blocked the event loop (virtual t={self._loop._atk_now - self._start:.3f}s)\n"
                f"  {diagnostics.site_line('blocked at', site, with_source=True)}")

    def _closed_phase_coroutine(self, exc: BaseException) -> bool:
        """True if *exc* is what resuming the test's coroutine raised after ``_report`` closed it."""
        closed, self._force_closed = self._force_closed, False
        return closed and isinstance(exc, RuntimeError)

    def _take_pending_error(self) -> HangError | None:
        error, self._pending_error = self._pending_error, None
        return error

    def _on_run_start(self) -> None:
        self._last_exit = math.inf
        self._refresh_timing()

    def _time_functions_on(self) -> None:
        """The time module's clock functions answer from this clock on this thread (nested calls count).

        Called around every test phase and around every ``run_forever()`` of the loop, so a plain
        ``asyncio.Runner`` gets it too.  Off with ``virtual_time_functions=False``.
        """
        self._time_functions.on()

    def _time_functions_off(self) -> None:
        self._time_functions.off()

    def _close(self) -> None:
        if self._held_since is not None:
            self._end_hold()
        self._time_functions.close()
        self._alarm.disarm()
        for waiter in self._idle_waiters:
            waiter.cancel()
        self._idle_waiters.clear()

    # -- the jump rule (called by the loop's selector) ----------------------------------------------
    def _select(self, inner: BaseSelector, timeout: float | None) -> list[tuple[SelectorKey, int]]:
        # Hot path: runs once per idle loop iteration (the selector itself answers most busy ones), so the
        # common case is kept to a few bytecodes: a poll, O(1) checks and the jump to the next deadline.
        # The real-time checks (watchdog, slow callbacks) run in _select_checked: every iteration while the
        # slow-callback check is on, else every 64th iteration and whenever select() waits in real time.
        if self._poll_checks or timeout == 0:
            return self._select_checked(inner, timeout)
        tick = self._tick = self._tick + 1
        if not tick & _CHECK_EVERY:
            return self._select_checked(inner, timeout)
        events = inner.select(0)
        if events:
            return self._delivered(events) if self._io_step else events
        deadline = _next_timer_when(self._loop) if timeout is not None else None
        if deadline is None or deadline > self._jump_limit or self._work.in_flight(inner):
            return self._decide(inner, timeout)
        loop = self._loop
        if deadline > loop._atk_now:
            loop._atk_now = deadline
        return []

    def _select_checked(self, inner: BaseSelector, timeout: float | None) -> list[tuple[SelectorKey, int]]:
        entered = _perf_counter()
        timing = self._timing
        if timing:
            blocked = entered - self._last_exit
            if blocked >= self._loop.slow_callback_duration:
                self._check_slow_iteration(blocked)
        if entered > self._watchdog_at:
            self._watchdog_fired(entered, self._work.in_flight(inner))
            events = inner.select(0)
        elif timeout is not None and timeout <= 0:
            events = inner.select(0)
            if not events:
                # Every busy iteration comes here while the checks run on each poll; else one in 64 does.
                events = self._spin_sample(inner, 1 if self._poll_checks else _CHECK_EVERY + 1)
        else:
            if self._poll_checks:
                self._tick += 1  # went idle (see _spin_sample); otherwise _select counts it
            self._crawl_sample()
            events = self._idle(inner, timeout)
        if events and self._io_step:
            self._delivered(events)
        if timing:
            self._batch = len(events) + _compat.ready_count(self._loop)
            self._last_exit = _perf_counter()
        return events

    def _watchdog_fired(self, now: float, held: Sequence[object] = ()) -> None:
        self._watchdog_at = now + _REDELIVER
        why = f"ran longer than the real-time watchdog of {self._watchdog:g} s"
        if held:  # the facts a reader needs: what it was waiting for in real time
            why += f" while waiting for real work: {'; '.join(str(h) for h in held[:3])}"
        self._report(LivelockError, why)

    def _real_select(self, inner: BaseSelector, timeout: float) -> list[tuple[SelectorKey, int]]:
        """Wait in real time (SIGALRM landing here is left to the select-level watchdog)."""
        self._in_select = True
        try:
            return inner.select(timeout)
        finally:
            self._in_select = False

    def _refresh_timing(self) -> None:
        """Recompute whether the slow-callback check runs (after set_debug() or a settings change)."""
        check = self.slow_callback_check
        timing = self._loop.get_debug() if check is None else bool(check)
        if timing and not self._timing:
            # Turned on inside an iteration: measure from now; before the loop runs: from its first select().
            self._last_exit = _perf_counter() if self._loop.is_running() else math.inf
        self._timing = timing
        self._refresh_poll_checks()

    def _check_slow_iteration(self, blocked: float) -> None:
        """Warn about an iteration that blocked the loop, unless it merely ran a large batch of callbacks.

        Only the whole iteration can be timed from the selector, so an iteration that ran many callbacks
        (a benchmark scheduling 100k timers) is not blamed on one of them: the warning needs few callbacks,
        or a long average per callback.
        """
        batch = max(1, self._batch)
        if batch > _SLOW_BATCH and blocked / batch < self._loop.slow_callback_duration:
            return
        logger.warning("Executing a loop iteration took %.3f seconds (real time; asyncio's own "
                       "slow-callback check is blind under virtual time): a callback or coroutine "
                       "step blocked the event loop", blocked)

    def _delivered(self, events: list[tuple[SelectorKey, int]]) -> list[tuple[SelectorKey, int]]:
        """I/O takes time: an iteration that delivered I/O (not the loop's own wake-up pipe) moves time by
        ``io_quantum``.  Called by the selector with the events it is about to return."""
        internal = self._work._internal_fds
        for key, _mask in events:
            if key.fd not in internal:
                self._set_now(self._loop._atk_now + self._io_step)
                break
        return events

    # -- busy polling ----------------------------------------------------------------------------------
    def _spin_sample(self, inner: BaseSelector, weight: int) -> list[tuple[SelectorKey, int]]:
        """Look at a busy iteration (sampled every 64th, or every one while timing): is the loop spinning?

        Spinning: every callback queued is a task that yielded with a bare ``await asyncio.sleep(0)``, and
        the loop has not gone idle since.  After ``_SPIN_ITERATIONS`` such iterations the spin is taken for
        what it is, a wait for time to pass (polling until a timer fires or ``loop.time()`` passes a
        deadline), and time is let pass (see :meth:`_let_spin_pass`).  Counting iterations, not real time,
        keeps the outcome the same on every run.
        """
        spinners = _compat.spinning_tasks(self._loop)
        more = self._more
        if spinners is None:  # busy with real callbacks (checked first: the common case, kept cheap)
            more.spin_count = 0
            return []
        tick = self._tick
        if tick != more.spin_tick:  # the loop went idle since the last sample: a new busy stretch
            more.spin_tick = tick
            more.spin_count = 0
            more.spin_step = _SPIN_FIRST_STEP
        more.spin_count += weight
        if more.spin_count < _SPIN_ITERATIONS:
            return []
        more.spin_count = 0
        return self._let_spin_pass(inner, spinners)

    def _let_spin_pass(self, inner: BaseSelector,
                       spinners: list[asyncio.Task[Any]]) -> list[tuple[SelectorKey, int]]:
        """Let time pass for tasks spinning on ``sleep(0)``, as it would while they burn real CPU.

        With real work in flight, time follows real time (without blocking the spinners for more than a
        short slice).  Otherwise time moves to the next timer's deadline, or by a step that doubles with
        every further round of the same spin, whichever is later: a poll for a timer ends at exactly its
        deadline; a poll of ``loop.time()`` with no timer due ends after a few rounds; and a spin that
        nothing can ever end races to the horizon within about a second of real time, where it is
        reported as a :class:`LivelockError` naming the spinning tasks.
        """
        loop = self._loop
        deadline = _next_timer_when(loop)
        if deadline is not None and not math.isfinite(deadline):
            deadline = None
        held = self._work.in_flight(inner)
        if held:
            return self._follow_real_time(inner, deadline, list(held))
        if self._held_since is not None:  # the real work is over: the next hold starts a new anchor
            self._end_hold()
            self._refresh_jump_limit()
        now = loop._atk_now
        new = now + self._more.spin_step
        self._more.spin_step *= 2
        if deadline is not None and deadline > new:
            new = deadline
        if self._limit is not None:
            new = min(new, self._limit)
        if new - self._start > self.horizon:
            names = ", ".join(_describe_spinner(task, self._phase_task, self._phase.label) for task in spinners[:3])
            self._report(LivelockError, f"did not finish within the virtual-time horizon of {self.horizon:g} s: "
                                        f"{names} kept yielding (busy polling) and nothing it polls for "
                                        f"happened", timers=deadline is not None)
            return []
        if new > now:
            self._set_now(new)
        return []

    def _crawl_sample(self) -> None:
        """Look at the idle iterations (sampled every 64th, or every one while timing): is time crawling?

        Polling with tiny sleeps (``await asyncio.sleep(1e-6)`` until a timer fires) makes the loop go idle
        and jump, but by so little that reaching a timer seconds away would take millions of iterations.
        A real loop never wakes more often than its selector's granularity (epoll waits at least 1 ms), so
        after ``_SPIN_ITERATIONS`` idle iterations that moved time by less than half of ``_GRAIN`` each on average,
        every jump moves time by at least ``_GRAIN`` until a jump is that long by itself (see _crawl_step).
        """
        more = self._more
        ticks = self._tick - more.crawl_tick
        if ticks < _CHECK_EVERY + 1:
            return
        now = self._loop._atk_now
        if now - more.crawl_now < ticks * _GRAIN / 2:  # on average less than half the grain per jump
            more.crawl_windows += ticks
            if more.crawl_windows >= _SPIN_ITERATIONS and not more.crawling:
                more.crawling = True
                self._jump_limit = -math.inf  # every jump takes _decide, which applies the grain
        else:
            more.crawl_windows = 0
        more.crawl_tick = self._tick
        more.crawl_now = now

    def _crawl_step(self, now: float, deadline: float) -> float:
        """Where a jump lands while time crawls: the deadline, but at least ``_GRAIN`` ahead (see _crawl_sample)."""
        floor = now + _GRAIN
        if deadline >= floor:  # a real jump again: the crawl is over
            more = self._more
            more.crawling = False
            more.crawl_windows = 0
            self._refresh_jump_limit()
            return deadline
        return floor if self._limit is None else min(floor, self._limit)

    def _idle(self, inner: BaseSelector, timeout: float | None) -> list[tuple[SelectorKey, int]]:
        events = inner.select(0)
        if events:
            return events
        return self._decide(inner, timeout)

    def _decide(self, inner: BaseSelector, timeout: float | None) -> list[tuple[SelectorKey, int]]:
        """The jump rule, once a poll found no I/O: idle waiters, real work, the jump, the horizon, a hang."""
        if self._idle_waiters:
            waiters, self._idle_waiters = self._idle_waiters, []
            for waiter in waiters:
                _resolve(waiter)
            self._refresh_jump_limit()
            return []
        deadline = _next_timer_when(self._loop) if timeout is not None else None
        forever = deadline is not None and not math.isfinite(deadline)
        if forever:
            deadline = None
        held = self._work.in_flight(inner)
        if held:
            return self._follow_real_time(inner, deadline, list(held))
        if self._held_since is not None:
            self._end_hold()
            self._refresh_jump_limit()
        if deadline is not None and (self._limit is None or deadline <= self._limit):
            if deadline - self._start > self.horizon:
                self._report(LivelockError, f"did not finish within the virtual-time horizon of "
                                            f"{self.horizon:g} s: timers kept firing but nothing it awaits "
                                            f"happened", timers=True)
                return []
            now = self._loop._atk_now
            if self._more.crawling:
                deadline = self._crawl_step(now, deadline)
            if deadline > now:
                self._set_now(deadline)
            return []
        return self._stuck(inner, inner.get_map(), deadline, forever)

    def _set_now(self, now: float) -> None:
        """Move virtual time to *now*, keeping timers due at *now* runnable at any magnitude.

        asyncio runs a timer when ``when < time() + resolution``.  Once one ulp of the time exceeds the
        (1 ns) resolution, that sum rounds back to ``time()`` and a timer due exactly now (``call_later(0)``,
        ``sleep(1e-7)`` at 1.7e9) would never run: the loop would spin.  So the resolution is widened to
        one ulp whenever time crosses into a coarser float range.
        """
        self._loop._atk_now = now
        if abs(now) >= self._stall_at:
            self._resolution = math.ulp(now)
            self._stall_at = _stall_point(self._resolution)
            _compat.set_clock_resolution(self._loop, self._resolution)
            self._refresh_jump_limit()

    def _follow_real_time(self, inner: BaseSelector, deadline: float | None,
                          held: list[InFlight]) -> list[tuple[SelectorKey, int]]:
        """Wait in real time while real work is in flight, keeping virtual time level with real time.

        The hold is anchored where it began: ``target = base + (real now - real start)`` is where virtual
        time must be, so an overshoot past one deadline (a slow GIL switch, a heartbeat's iteration) is
        never dropped: the next timers are simply overdue and fire at once.  When a single timer is
        overdue, by at most ``_LAG``, time lands on exactly its ``when`` (the overshoot stays in the anchor
        and is made up at the next deadline).  Otherwise time moves to the target, and asyncio runs every
        overdue timer in deadline order in that iteration, as a late real loop does.  So virtual time is
        never more than ``_LAG`` behind real time, and a second overdue timer (a timeout behind a busy
        heartbeat) is never late.
        """
        now = self._loop._atk_now
        limit = self._limit
        due = deadline if deadline is not None and (limit is None or deadline <= limit) else None
        began = _perf_counter()
        if began > self._watchdog_at:
            self._watchdog_fired(began, held)
            return inner.select(0)
        if self._held_since is None:
            self._held_since = began
            self._more.held_base = now
            self._jump_limit = -math.inf  # jumps take _decide until the work is over
            loop_class = type(self._loop)
            self._more.held_class = loop_class
            self._loop.__class__ = _live_time_class(loop_class)  # loop.time() follows real time (_live_now)
        elif not self._more.held_warned and began - self._held_since > _HELD_WARNING:
            self._more.held_warned = True
            logger.warning("virtual time has followed real time for %.1f s because real work is in flight: "
                           "%s. If the test does not wait for it, pass it to clock.background().",
                           began - self._held_since, "; ".join(str(h) for h in held[:5]))
        target = self._more.held_base + (began - self._held_since)
        if target < now:  # time moved on by other means meanwhile (a spin, I/O quanta): re-anchor from here
            self._more.held_base += now - target
            target = now
        if due is not None and due <= target:
            events = inner.select(0)  # overdue: no real wait, only a poll
        else:
            wait = _REAL_SLICE if due is None else min(_REAL_SLICE, due - target)
            events = self._real_select(inner, wait)
            target = self._more.held_base + (_perf_counter() - self._held_since)
        new = target
        if due is not None and due <= new <= due + _LAG:
            second = _compat.second_timer_when(self._loop)
            if second is None or second > new:  # only this timer is overdue: it fires at exactly its when
                new = due
        if limit is not None and new > limit:
            new = limit
        if new > now:
            self._set_now(new)
        return events

    def _live_now(self) -> float:
        """``loop.time()`` while real work holds time: never more than ``_LAG`` behind the anchored real time.

        Virtual time follows real time from where the hold began (see :meth:`_follow_real_time`), but
        ``_atk_now`` moves only when the loop goes idle.  A deadline armed after the loop was busy (a
        callback's synchronous work, a process descheduled on a loaded machine) must be measured from about
        the real now, as on a real loop: from the stale idle time it would be reached early by the whole
        busy stretch when time catches up.  Within ``_LAG`` of the last idle iteration the settled time is
        kept (a timer that landed on exactly its ``when`` still reads so); never behind ``_atk_now`` (so
        never backwards), never past the manual-mode limit.
        """
        now = self._loop._atk_now
        since = self._held_since
        if since is None:
            return now
        live = self._more.held_base + (_perf_counter() - since) - _LAG
        limit = self._limit
        if limit is not None and live > limit:
            live = limit
        return live if live > now else now

    def _end_hold(self) -> None:
        """Real work no longer holds time: settle at the real time code may have read, and stop following it."""
        live = self._live_now()
        self._held_since = None
        held_class, self._more.held_class = self._more.held_class, None
        if held_class is not None:
            self._loop.__class__ = held_class
        if live > self._loop._atk_now:
            self._set_now(live)

    def _stuck(self, inner: BaseSelector, fmap: Any, deadline: float | None,
               forever: bool) -> list[tuple[SelectorKey, int]]:
        entered = _perf_counter()
        if entered > self._watchdog_at:  # the phase overran first (e.g. a callback blocked): that is the report
            self._watchdog_fired(entered, self._more.waiting_on)
            return []
        self._work.refresh_fds()  # who holds the other end of a pipe may have changed since it was classified
        if self._work.in_flight(inner):
            return []
        live = self._work.live_wakers(fmap)
        if live:
            # Something alive can still wake the loop (a process that has not exited, a thread that feeds
            # it): however long it takes on a loaded machine, that is not a deadlock.  Wait for it; the
            # watchdog ends the wait if it never comes, naming it.
            self._more.waiting_on = [f"{w} (no deadlock: it can still wake the loop)" for w in live]
            return self._real_select(inner, _REAL_SLICE)
        self._more.waiting_on = []
        sources = self._work.wake_up_sources(fmap)
        events = self._real_select(inner, self.deadlock_grace if sources else _SETTLE)
        if events:
            return events
        if self._work.in_flight(inner) or self._work.live_wakers(fmap):
            return []
        if sources and _awaits_live_process(self._loop):
            # A task awaits the exit of a child process that is still alive (a background one: others hold
            # time): its exit will wake the loop, however long a loaded machine takes to deliver it.  Not a
            # deadlock; the watchdog bounds the wait.
            return []
        if deadline is not None:  # frozen: manual mode and the next timer lies beyond the limit
            why = (f"can never finish: time is frozen (auto_advance is off) and the next timer is due at "
                   f"t={deadline - self._start:g}; call `await self.clock.advance(...)` or turn "
                   f"auto_advance back on")
        elif forever:
            why = ("can never finish: it sleeps forever (a timer is due at t=inf, e.g. asyncio.sleep(math.inf)) "
                   "and no I/O, subprocess or thread can wake it")
        else:
            why = "can never finish: no timer, I/O, subprocess or thread can wake what it awaits"
        if sources:
            why += f" (waited {self.deadlock_grace:g} s real for {', '.join(sources[:3])})"
        self._report(DeadlockError, why)
        return []

    # -- reports ------------------------------------------------------------------------------------
    def _report(self, kind: type[HangError], why: str, *, timers: bool = False) -> None:
        real = _time.perf_counter() - self._real_start
        headline = (f"{self._phase.label} {why} (virtual t={self._loop._atk_now - self._start:.3f}s, "
                    f"real {real:.3f}s)")
        error = kind(format_report(self._loop, headline, phase_task=self._phase_task,
                                   phase_label=self._phase.label, start=self._start, timers=timers))
        first_line = headline
        task = self._phase_task
        if task is not None and (task.done() or (self._phase.running is not None and not self._phase.running())):
            # The phase's code has already returned (the loop runs once more before the test case sees it):
            # the report is still the phase's failure, taken by the test case when the phase ends.
            self._pending_error = error
            return
        self._deliveries += 1
        if self._deliveries > _MAX_DELIVERIES:
            # The test swallowed every cancellation that carried the report.  Close the test's coroutine
            # (its finally blocks run) and cancel once more: the task ends (on 3.10 the test case's runner sees
            # the closed coroutine) and the test case, which takes the pending report when the phase returns,
            # fails the test with it.  Only if the coroutine refuses to close too is the loop stopped, so that
            # run_until_complete() returns at all.
            if task is not None and not task.done() and _force_close(task):
                self._force_closed = True
                self._pending_error = kind(f"{error}\n  (it swallowed {_MAX_DELIVERIES} cancellations that carried "
                                           f"this report; asynctestkit closed its coroutine)")
                task.cancel(msg=first_line)
                return
            logger.error("asynctestkit: %s\n(the test ignored %d cancellations; stopping the loop)", error,
                         _MAX_DELIVERIES)
            self._exit_phase()
            self._deliveries = 0
            self._loop.stop()
            return
        if task is not None and not task.done():
            self._pending_error = error
            task.cancel(msg=first_line)
            return
        # No test phase: the loop runs without a test case (asyncio.Runner, run_until_complete).
        logger.error("asynctestkit: %s", error)
        for other in asyncio.all_tasks(self._loop):
            other.cancel(msg=f"cancelled by asynctestkit: {first_line}")


_PROCESS_WAIT = asyncio.subprocess.Process.wait.__code__


def _awaits_live_process(loop: asyncio.AbstractEventLoop) -> bool:
    """True if a task of *loop* is suspended in ``asyncio.subprocess.Process.wait()`` of a process still running."""
    for task in asyncio.all_tasks(loop):
        current: Any = task.get_coro()
        while inspect.iscoroutine(current):
            if current.cr_code is _PROCESS_WAIT:
                frame = current.cr_frame
                process = frame.f_locals.get("self") if frame is not None else None
                if getattr(process, "returncode", 0) is None:
                    return True
                break
            current = current.cr_await
    return False


def _force_close(task: asyncio.Task[Any]) -> bool:
    """Close the coroutine of the phase's task (the test's own code); True if it closed.

    ``coroutine.close()`` is public: it raises GeneratorExit at the innermost suspension point, so ``finally``
    blocks run all along the await chain.  The task's next step (the cancellation that follows) then ends it
    as cancelled, and the test case turns that into the report.  A coroutine that catches GeneratorExit and
    awaits again refuses (RuntimeError): False.
    """
    outer = task.get_coro()
    target = outer
    # The test's own coroutine is the first one in the await chain that is not unittest's or ours (3.10:
    # below the test case's long-lived runner; 3.11+: the task's own coroutine).
    current: Any = outer
    while inspect.iscoroutine(current):
        if not diagnostics.is_internal_file(current.cr_code.co_filename):
            target = current
            break
        current = current.cr_await
    close = getattr(target, "close", None)
    if close is None:
        return False
    try:
        close()
    except RuntimeError:
        return False
    return True


def _describe_spinner(task: asyncio.Task[Any], phase_task: asyncio.Task[Any] | None, phase_label: str) -> str:
    """``task 'poller' (poll()) at tests/test_x.py:12 in poll`` for a task found spinning on ``sleep(0)``.

    The test's own task is named as hang reports name it, ``test 'test_x' (task 'Task-2')``: on 3.10 its
    coroutine is the test case's runner, which would mislead.
    """
    site = diagnostics.suspended_at(task)
    name = f"{phase_label} (task {task.get_name()!r})" if task is phase_task else diagnostics.describe_task(task)
    return name + (f" at {diagnostics.format_site(site)}" if site else "")


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
