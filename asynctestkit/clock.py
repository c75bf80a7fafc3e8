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
   ``deadlock_grace`` seconds when a listener, pipe or feeding thread could still wake the loop) the test
   phase is failed with :class:`DeadlockError`, naming every pending task and where it is suspended.
   Time racing past ``start + horizon`` or a phase running longer than ``watchdog`` real seconds is failed
   with :class:`LivelockError`.  Failures are delivered by cancelling the blocked phase task; the test
   case turns that cancellation into the failure, and tearDown and cleanups still run.

Manual control: ``auto_advance = False`` freezes time except inside ``advance()``/``advance_to()``;
``run_until_idle()`` runs everything ready without moving time.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import math
import signal
import threading
import time as _time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from selectors import BaseSelector, SelectorKey
from typing import TYPE_CHECKING, Any, TypeVar

from . import _compat, diagnostics

if TYPE_CHECKING:
    from .loop import VirtualClockLoop
    from .realwork import InFlight, RealWork

__all__ = [
    "DEFAULT_DEADLOCK_GRACE",
    "DEFAULT_HORIZON",
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
"""Real seconds to wait for a listener, pipe or feeding thread to wake a loop that looks deadlocked."""
_SETTLE = 0.02          # real seconds to wait before reporting a deadlock with no possible waker
_REAL_SLICE = 0.05      # real-time mode re-checks what is in flight at least this often
_HELD_WARNING = 2.0     # warn once when real work held virtual time this long
_MAX_DELIVERIES = 3     # after this many undelivered hang reports, stop the loop


class HangError(AssertionError):
    """A test phase that could never finish.  Subclass of AssertionError: unittest counts it a failure."""


class DeadlockError(HangError):
    """Nothing is ready, no timer is pending, and nothing real can wake the loop."""


class LivelockError(HangError):
    """Time kept moving (or real time ran out) while the test waited for something that never came."""


def _check_duration(name: str, value: object, *, allow_zero: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds (int or float), got {type(value).__name__}: "
                        f"{value!r}")
    seconds = float(value)
    if math.isnan(seconds):
        raise ValueError(f"{name} must be a number of seconds, got NaN")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'} seconds, got {value!r}")
    return seconds


class VirtualClock:
    """Controls the virtual time of one :class:`~asynctestkit.VirtualClockLoop` (``loop.clock``).

    In an :class:`~asynctestkit.AsyncTestCase` it is ``self.clock``.  By default it advances by itself
    (``auto_advance``): every sleep and timeout completes at once, at its exact virtual time.

    Settings (attributes, may be changed while the test runs):

    - ``horizon``: virtual seconds after ``start`` beyond which time racing ahead is a :class:`LivelockError`;
    - ``watchdog``: real seconds a phase may run (None: no limit);
    - ``deadlock_grace``: real seconds a seemingly deadlocked loop waits for a listener/pipe/thread wake-up.
    """

    def __init__(self, loop: VirtualClockLoop, work: RealWork, *, start: float = 0.0,
                 auto_advance: bool = True, horizon: float = DEFAULT_HORIZON,
                 watchdog: float | None = DEFAULT_WATCHDOG,
                 deadlock_grace: float = DEFAULT_DEADLOCK_GRACE) -> None:
        if isinstance(start, bool) or not isinstance(start, (int, float)) or not math.isfinite(start):
            raise ValueError(f"start must be a finite number of seconds, got {start!r}")
        self._loop = loop
        self._work = work
        self._start = float(start)
        self.horizon = _check_duration("horizon", horizon, allow_zero=False)
        self.watchdog = None if watchdog is None else _check_duration("watchdog", watchdog, allow_zero=False)
        self.deadlock_grace = _check_duration("deadlock_grace", deadlock_grace)
        self._limit: float | None = None if auto_advance else self._start
        self._resolution = _time.get_clock_info("monotonic").resolution
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._wall_at_start = _time.time()
        self._real_start = _time.perf_counter()
        self._last_exit: float | None = None
        self._held_since: float | None = None
        self._held_warned = False
        self._phase_task: asyncio.Task[Any] | None = None
        self._phase_label = "the test"
        self._pending_error: HangError | None = None
        self._deliveries = 0
        self._patches: list[tuple[Any, str, Any]] = []
        self._in_select = False
        self._alarm_previous: Any = None
        self.slow_callback_check = True

    # -- reading time -------------------------------------------------------------------------------
    @property
    def start(self) -> float:
        """The virtual time the clock started at (``clock_start`` on the test case, default 0.0)."""
        return self._start

    def now(self) -> float:
        """The current virtual time: the same value as ``loop.time()``."""
        return self._loop._atk_now

    def elapsed(self) -> float:
        """Virtual seconds since the clock started, rounded to the nanosecond to hide float noise."""
        return round(self._loop._atk_now - self._start, 9)

    def monotonic(self) -> float:
        """A ``time.monotonic()`` replacement for code under test: the virtual time."""
        return self._loop._atk_now

    def time(self) -> float:
        """A ``time.time()`` replacement: the real wall time at clock start plus the virtual elapsed time."""
        return self._wall_at_start + (self._loop._atk_now - self._start)

    # -- manual control -----------------------------------------------------------------------------
    @property
    def auto_advance(self) -> bool:
        """True (default): time jumps by itself.  False: time moves only in ``advance()``/``advance_to()``."""
        return self._limit is None

    @auto_advance.setter
    def auto_advance(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"auto_advance must be True or False, got {value!r}")
        self._limit = None if value else self._loop._atk_now

    async def advance(self, seconds: float) -> None:
        """Move virtual time forward by *seconds*, running every callback due in the window at its exact time.

        Callbacks scheduled by callbacks inside the window run too, in time order; on return
        ``loop.time()`` is exactly the old time plus *seconds* and everything ready has run.
        Raises ValueError for a negative or NaN duration, RuntimeError outside the running loop.
        """
        seconds = _check_duration("advance() duration", seconds)
        self._require_running("advance")
        await self._advance_to(self._loop._atk_now + seconds)

    async def advance_to(self, when: float) -> None:
        """Move virtual time forward to the absolute loop time *when* (see :meth:`advance`)."""
        if isinstance(when, bool) or not isinstance(when, (int, float)) or not math.isfinite(when):
            raise ValueError(f"advance_to() needs a finite loop time, got {when!r}")
        self._require_running("advance_to")
        if when < self._loop._atk_now:
            raise ValueError(f"advance_to({when!r}) would move time backwards: the loop time is already "
                             f"{self._loop._atk_now!r}")
        await self._advance_to(float(when))

    async def _advance_to(self, target: float) -> None:
        manual = self._limit is not None
        if manual:
            self._limit = max(target, self._limit or target)
        reached = self._loop.create_future()
        handle = self._loop.call_at(target, _resolve, reached)
        try:
            await reached
        finally:
            handle.cancel()
        await self.run_until_idle()
        if manual:
            self._limit = self._loop._atk_now

    async def run_until_idle(self) -> None:
        """Run everything that is ready (and what that makes ready) without moving virtual time.

        Returns when the loop would otherwise have to wait for a timer or for I/O.
        """
        self._require_running("run_until_idle")
        waiter = self._loop.create_future()
        self._idle_waiters.append(waiter)
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
        or anything with ``done()``/``is_closing()``.  Returns *obj*.
        """
        self._work.track(obj, what or f"tracked {type(obj).__name__}", diagnostics.caller_site())
        return obj

    def background(self, obj: _T) -> _T:
        """Never let *obj* hold virtual time: a sidecar job, thread, process or socket the test does not await.

        Returns *obj*.  Use it for a helper server thread or a long executor job that lives for the whole
        test, so that sleeps and timeouts stay instant while it runs.
        """
        self._work.background(obj)
        return obj

    # -- time.monotonic()/time.time() in named modules ----------------------------------------------
    @contextmanager
    def _patching(self, modules: tuple[str, ...]) -> Iterator[None]:
        start = len(self._patches)
        self.patch_time(*modules)
        try:
            yield
        finally:
            self._unpatch(start)

    def patch_time(self, *modules: str) -> None:
        """Make ``time.monotonic()``, ``time.time()`` and ``time.perf_counter()`` follow this clock in *modules*.

        Only the named modules see virtual time (``import time`` or ``from time import monotonic`` in them);
        the rest of the process, threads and libraries keep the real clock.  Restored when the loop closes.
        ``datetime.now()`` is not covered.
        """
        if not modules:
            raise TypeError("patch_time() needs at least one module name, e.g. patch_time('myapp.retry')")
        fake = _VirtualTimeModule(self)
        replacements = {_time.monotonic: self.monotonic, _time.time: self.time,
                        _time.perf_counter: self.monotonic}
        for name in modules:
            if not isinstance(name, str):
                raise TypeError(f"patch_time() takes module names (str), got {name!r}")
            module = importlib.import_module(name)
            patched = False
            for attr, value in list(vars(module).items()):
                if value is _time:
                    self._patches.append((module, attr, value))
                    setattr(module, attr, fake)
                    patched = True
                elif callable(value) and value in replacements:
                    self._patches.append((module, attr, value))
                    setattr(module, attr, replacements[value])
                    patched = True
            if not patched:
                raise ValueError(f"patch_time({name!r}): the module uses neither the time module nor "
                                 f"time.monotonic/time.time/time.perf_counter, so there is nothing to patch")

    def _unpatch(self, start: int = 0) -> None:
        while len(self._patches) > start:
            module, attr, value = self._patches.pop()
            setattr(module, attr, value)

    # -- hooks for the test case --------------------------------------------------------------------
    def _enter_phase(self, task: asyncio.Task[Any] | None, label: str) -> None:
        self._phase_task = task
        self._phase_label = label
        self._deliveries = 0
        self._real_start = _time.perf_counter()
        self._arm_alarm()

    def _exit_phase(self) -> None:
        self._phase_task = None
        self._disarm_alarm()

    # The select-level watchdog cannot see synchronous code that never yields to the loop.  On POSIX, in
    # the main thread, a SIGALRM timer catches it: the handler raises LivelockError in the blocking code,
    # so the traceback ends at the exact line.  Skipped when another tool (e.g. pytest-timeout) owns SIGALRM.
    def _arm_alarm(self) -> None:
        if self.watchdog is None or not hasattr(signal, "setitimer"):
            return
        if threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGALRM)
        if previous not in (signal.SIG_DFL, signal.SIG_IGN, None):
            return
        self._alarm_previous = previous
        signal.signal(signal.SIGALRM, self._on_alarm)
        signal.setitimer(signal.ITIMER_REAL, self.watchdog)

    def _disarm_alarm(self) -> None:
        if self._alarm_previous is None:
            return
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._alarm_previous)
        self._alarm_previous = None

    def _on_alarm(self, signum: int, frame: types.FrameType | None) -> None:
        if self._in_select or self._phase_task is None:
            return  # the loop is idle or between phases: the select-level watchdog reports it
        site = None if frame is None else (frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)
        raise LivelockError(
            f"{self._phase_label} ran longer than the real-time watchdog of {self.watchdog:g} s: "
            f"synchronous code blocked the event loop at {diagnostics.format_site(site, with_source=True)} "
            f"(virtual t={self._loop._atk_now - self._start:.3f}s)")

    def _take_pending_error(self) -> HangError | None:
        error, self._pending_error = self._pending_error, None
        return error

    def _on_run_start(self) -> None:
        self._last_exit = None

    def _close(self) -> None:
        self._disarm_alarm()
        self._unpatch()
        for waiter in self._idle_waiters:
            waiter.cancel()
        self._idle_waiters.clear()

    # -- the jump rule (called by the loop's selector) ----------------------------------------------
    def _select(self, inner: BaseSelector, timeout: float | None) -> list[tuple[SelectorKey, int]]:
        entered = _time.perf_counter()
        if self._last_exit is not None and self.slow_callback_check:
            blocked = entered - self._last_exit
            if blocked >= self._loop.slow_callback_duration:
                logger.warning("Executing a loop iteration took %.3f seconds (real time; asyncio's own "
                               "slow-callback check is blind under virtual time): a callback or coroutine "
                               "step blocked the event loop", blocked)
        self._in_select = True
        try:
            if self.watchdog is not None and self._phase_task is not None \
                    and entered - self._real_start > self.watchdog:
                self._report(LivelockError, f"ran longer than the real-time watchdog of {self.watchdog:g} s")
                return inner.select(0)
            if timeout is not None and timeout <= 0:
                return inner.select(0)
            return self._idle(inner, timeout)
        finally:
            self._in_select = False
            self._last_exit = _time.perf_counter()

    def _idle(self, inner: BaseSelector, timeout: float | None) -> list[tuple[SelectorKey, int]]:
        events = inner.select(0)
        if events:
            return events
        if self._idle_waiters:
            waiters, self._idle_waiters = self._idle_waiters, []
            for waiter in waiters:
                _resolve(waiter)
            return []
        loop = self._loop
        deadline = _compat.next_timer_when(loop) if timeout is not None else None
        if deadline is not None and not math.isfinite(deadline):
            deadline = None
        fmap = inner.get_map()
        held = self._work.in_flight(fmap)
        if held:
            return self._follow_real_time(inner, deadline, held)
        self._held_since = None
        if deadline is not None and (self._limit is None or deadline <= self._limit):
            if deadline - self._start > self.horizon:
                self._report(LivelockError, f"did not finish within the virtual-time horizon of "
                                            f"{self.horizon:g} s: timers kept firing but nothing it awaits "
                                            f"happened", timers=True)
                return []
            self._jump(deadline)
            return []
        return self._stuck(inner, fmap, deadline)

    def _jump(self, target: float) -> None:
        now = target
        # At large magnitudes `now + resolution == now`; asyncio would then never see the timer as due.
        while now + self._resolution <= target:
            now = math.nextafter(now, math.inf)
        if now > self._loop._atk_now:
            self._loop._atk_now = now

    def _follow_real_time(self, inner: BaseSelector, deadline: float | None,
                          held: list[InFlight]) -> list[tuple[SelectorKey, int]]:
        loop = self._loop
        now = loop._atk_now
        wait = _REAL_SLICE
        if deadline is not None and (self._limit is None or deadline <= self._limit):
            wait = max(0.0, min(wait, deadline - now))
        began = _time.perf_counter()
        if self._held_since is None:
            self._held_since = began
        elif not self._held_warned and began - self._held_since > _HELD_WARNING:
            self._held_warned = True
            logger.warning("virtual time has followed real time for %.1f s because real work is in flight: "
                           "%s. If the test does not wait for it, pass it to clock.background().",
                           began - self._held_since, "; ".join(str(h) for h in held[:5]))
        events = inner.select(wait)
        new = now + (_time.perf_counter() - began)
        caps = [c for c in (deadline, self._limit) if c is not None]
        cap = min(caps) if caps else None
        if cap is not None and new >= cap:
            if cap == deadline:
                self._jump(cap)
            else:
                loop._atk_now = max(now, cap)
        else:
            loop._atk_now = new
        return events

    def _stuck(self, inner: BaseSelector, fmap: Any, deadline: float | None) -> list[tuple[SelectorKey, int]]:
        sources = self._work.wake_up_sources(fmap)
        events = inner.select(self.deadlock_grace if sources else _SETTLE)
        if events:
            return events
        if self._work.in_flight(fmap):
            return []
        if deadline is not None:  # frozen: manual mode and the next timer lies beyond the limit
            why = (f"can never finish: time is frozen (auto_advance is off) and the next timer is due at "
                   f"t={deadline:g}; call `await self.clock.advance(...)` or turn auto_advance back on")
        else:
            why = "can never finish: no timer, I/O, subprocess or thread can wake what it awaits"
            if sources:
                why += f" (waited {self.deadlock_grace:g} s real for {', '.join(sources[:3])})"
        self._report(DeadlockError, why)
        return []

    # -- reports ------------------------------------------------------------------------------------
    def _report(self, kind: type[HangError], why: str, *, timers: bool = False) -> None:
        error = kind(self._format_report(why, timers=timers))
        self._deliveries += 1
        task = self._phase_task
        if self._deliveries > _MAX_DELIVERIES:
            logger.error("asynctestkit: %s; the test ignored %d cancellations, stopping the loop", error,
                         _MAX_DELIVERIES)
            self._loop.stop()
            return
        self._pending_error = error
        if task is not None and not task.done():
            task.cancel(msg=str(error).splitlines()[0])
            return
        logger.error("asynctestkit: %s", error)
        for other in asyncio.all_tasks(self._loop):
            other.cancel(msg="cancelled by asynctestkit: the loop could never make progress")

    def _format_report(self, why: str, *, timers: bool) -> str:
        now = self._loop._atk_now
        real = _time.perf_counter() - self._real_start
        lines = [f"{self._phase_label} {why} (virtual t={now - self._start:.3f}s, real {real:.3f}s)"]
        tasks = sorted(asyncio.all_tasks(self._loop), key=lambda t: t is not self._phase_task)
        shown = 0
        for task in tasks:
            if task.done():
                continue
            shown += 1
            if shown > 8:
                lines.append(f"  ... and {len(tasks) - 8} more tasks")
                break
            if task is self._phase_task:
                where = diagnostics.suspended_at(task)
                what = diagnostics.awaiting(task)
                lines.append(f"  {shown}. {self._phase_label} (task {task.get_name()!r})")
                lines.append(f"       suspended at {diagnostics.format_site(where, with_source=True)}"
                             + (f"  (awaiting {what})" if what else ""))
            else:
                block = diagnostics.format_task(task, "       ")
                lines.append(f"  {shown}. {block[0]}")
                lines.extend(block[1:])
        if timers:
            handles = _compat.scheduled_handles(self._loop)[:3]
            for handle in handles:
                lines.append(f"  timer due at t={handle.when() - self._start:.3f}s: {handle!r}")
            lines.append("  hint: if the test really simulates more time, raise clock_horizon on the test case")
        return "\n".join(lines)


class _VirtualTimeModule(types.ModuleType):
    """Stands in for the ``time`` module inside patched modules: the clock functions answer virtually."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__("time")
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        return getattr(_time, name)

    def monotonic(self) -> float:
        return self._clock.monotonic()

    def perf_counter(self) -> float:
        return self._clock.monotonic()

    def time(self) -> float:
        return self._clock.time()

    def monotonic_ns(self) -> int:
        return int(self._clock.monotonic() * 1e9)

    def time_ns(self) -> int:
        return int(self._clock.time() * 1e9)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
