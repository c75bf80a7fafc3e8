"""The jump rule: what the virtual clock does each time its loop would sleep, and how a hang is delivered.

A :class:`JumpEngine` is the loop-facing half of a :class:`~asynctestkit.VirtualClock` (the clock is the
user-facing half and owns one).  asyncio asks its selector to sleep whenever nothing is ready to run; the
engine answers that request (:meth:`JumpEngine.select`) with one rule, applied in order:

1. **I/O first.**  Poll without blocking; anything ready is returned and time does not move.  Same-loop
   loopback traffic is delivered by the kernel at once, so a client and a server in one test stay instant.
2. **Real work holds time.**  While executor jobs, subprocesses, threads started by the test, connects or
   sockets to peers outside the loop are in flight, the engine waits in real time and virtual time follows
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

**The clock-loop contract** (the one place it is written down; ``_loop.py`` keeps to it):

- The loop builds the engine first, then its selector *with* the engine (``_ClockSelector(work, engine)``),
  then itself around that selector, then the public clock around the engine, and finally calls
  :meth:`JumpEngine.adopt_loop_resolution`.
- The loop's time is the plain attribute ``loop._atk_now``: ``loop.time()`` returns it and only this
  engine writes it (in ``_set_now`` and on the hot path of :meth:`select`).  A plain attribute, not a
  property or a call, because ``time()`` runs several times per loop iteration: it is the fastest read
  CPython has.  While real work holds time, the engine has the loop wear a subclass whose ``time()``
  reads :meth:`JumpEngine.live_now` (the anchored real time), and swaps it back when the hold ends or
  the loop closes.  Everything else reads the time through ``loop.time()`` or :meth:`JumpEngine.now`.
- The selector answers every ``select(timeout)`` of the loop with the function
  :meth:`JumpEngine.selector_entry` made for it (the clock's whole per-iteration path, one frame), and
  drops it when it closes.
- The loop calls :meth:`on_run_start` when it first runs (it also turns the time functions on) and when
  a later run starts while :attr:`poll_checks` is on, :meth:`refresh_timing` after ``set_debug()`` and
  :meth:`close` before it closes its selector, and :meth:`release` once it is closed (the engine's and the
  clock's references back to the loop become weak: a closed loop, its engine and its clock are freed by
  reference counting, with no cycle for the garbage collector).

Far from zero (a clock started at 1.7e9) the loop's timer resolution is widened as time grows (see
``_set_now``), so timers due "now" still run and ``loop.time()`` lands exactly on every deadline.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import sys
import weakref
from collections.abc import Callable, Sequence
from selectors import BaseSelector, SelectorKey
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from .. import _compat, _diagnostics
from ._hangs import AlarmWatchdog, DeadlockError, HangError, LivelockError, format_report
from ._quiet import BackgroundWatch
from ._timepatch import ClockTime
from ._timepatch import real_perf_counter as _perf_counter
from ._timepatch import realtime as _time  # the real clocks, bound at import: never the virtual ones

if TYPE_CHECKING:
    from .._diagnostics import Site
    from ._loop import VirtualClockLoop
    from ._realwork import InFlight, RealWork

__all__ = ["JumpEngine", "PhaseInfo"]

logger = logging.getLogger("asynctestkit")
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
_CRAWL_ROUND = 4096     # crawl jumps before the grain of a crawl doubles (see JumpEngine._crawl_step)
_MAX_CRAWL_TIMERS = 8   # a crawl with more timers pending than this keeps the 1 ms grain
_POLL_HINT = ("nothing made what it polls for happen: await it instead of polling (an asyncio.Event, a future, "
              "Condition.wait_for) or check what should make it happen; raise clock_horizon only if the test "
              "really simulates more than the horizon")
_CHECK_EVERY = 63       # the watchdog is checked every 64 loop iterations (and whenever select() waits)
_ALARM_LAG = 0.25       # SIGALRM fires this fraction of the watchdog (at most 1 s) after the select-level check

#: Per loop class, the subclass a loop wears while real work holds its time: the same class but for ``time()``,
#: which reads the anchored real clock (see JumpEngine.live_now).  Swapping the class, not testing a flag in
#: ``time()``, keeps the common path (no real work) free: ``time()`` runs for every timer armed.
_LIVE_TIME_CLASSES: dict[type, type] = {}


def _live_time(loop: Any) -> float:
    return loop._atk.engine.live_now()  # type: ignore[no-any-return]


def _live_time_class(cls: type) -> type:
    live = _LIVE_TIME_CLASSES.get(cls)
    if live is None:
        live = type(cls.__name__, (cls,), {"time": _live_time, "__module__": cls.__module__,
                                           "__qualname__": cls.__qualname__, "__doc__": cls.__doc__})
        _LIVE_TIME_CLASSES[cls] = live
    return live


def _stall_point(resolution: float) -> float:
    """The smallest magnitude at which one ulp exceeds *resolution* (``now + resolution == now`` beyond)."""
    return 2.0 ** (math.floor(math.log2(resolution)) + 53)


_MONOTONIC_RESOLUTION = _time.get_clock_info("monotonic").resolution
_MONOTONIC_STALL_POINT = _stall_point(_MONOTONIC_RESOLUTION)


class PhaseInfo(Protocol):
    """The test phase the clock watches: its name in reports and, where the phase's task outlives it (3.10),
    a callable that tells whether its code still runs (``_phase.PhaseClaim`` is one; read only by reports
    and hang delivery, so the label may be computed when asked)."""

    @property
    def label(self) -> str: ...
    @property
    def running(self) -> Callable[[], bool] | None: ...


class _Phase(NamedTuple):
    """A fixed :class:`PhaseInfo`."""

    label: str
    running: Callable[[], bool] | None = None


_NO_PHASE = _Phase("the code on this loop")


class _Rare:
    """State of the clock's rarer paths (real-time holds, spins, settings), kept in one attribute.

    CPython (3.11+) keeps an object's attributes in its fast inline layout only up to 30 of them; the clock's
    hot-path attributes (read on every jump) stay on the clock itself, the rest live here.  Each starts as the
    class attribute below, so building one runs no ``__init__`` (every loop builds one, most never use it);
    an instance attribute is made by the first assignment.  Values are replaced, never changed in place.
    """

    crawl_grain = _GRAIN        # the least move of a jump while time crawls (doubles, see _crawl_step)
    crawl_jumps = 0             # crawl jumps since the grain last doubled
    crawl_now = 0.0             # the virtual time at the start of the current crawl window
    crawl_tick = 0              # VirtualClock._tick then
    crawl_windows = 0           # idle iterations in a row that moved time by less than _GRAIN each
    crawling = False            # jumps move time by at least _GRAIN (see VirtualClock._crawl_sample)
    held_base = 0.0             # the virtual time when real work began to hold time
    held_class: type | None = None  # the loop's own class while it wears the live-time one
    held_warned = False         # the "held for long" warning was logged
    held_what: tuple[str, ...] = ()  # what was in flight when the current hold began (for timelines)
    io_quantum = 0.0            # see VirtualClock.io_quantum
    spin_count = 0              # busy iterations seen spinning since the loop last went idle
    spin_step = _SPIN_FIRST_STEP  # the next move of a spin with no timer due
    spin_tick = 0               # VirtualClock._tick at the last spin sample (changed: it went idle)
    waiting_on: Sequence[str] = ()  # live wake-up sources a seemingly stuck loop waits for (replaced whole)
    background: BackgroundWatch | None = None  # background work and its hang rule (see _quiet)


class JumpEngine:
    """The loop-facing half of one virtual clock: its state, the jump rule, phases and hang delivery.

    Attributes without an underscore are what the public :class:`~asynctestkit.VirtualClock`, the loop and
    its selector use (see the module docstring for the contract); the rest is the engine's own.

    Slots: with 30 attributes a plain instance ends up dict-backed on 3.13 (every read and write a dict
    look-up: the specializer's ``*_WITH_HINT`` forms), and the engine is read at every loop iteration and
    every phase boundary.  A new attribute must be added here.
    """

    __slots__ = ("_alarm", "_batch", "_deliveries", "_force_closed", "_held_since", "_in_select", "_last_exit",
                 "_pending_error", "_phase", "_resolution", "_stall_at", "_tick", "_timing", "deadlock_grace",
                 "horizon", "idle_waiters", "io_step", "jump_limit", "limit", "loop", "more", "phase_task",
                 "poll_checks", "real_start", "slow_callback_check", "start", "time_functions", "watchdog",
                 "watchdog_at", "work")

    def __init__(self, loop: VirtualClockLoop, work: RealWork, *, start: float, auto_advance: bool, horizon: float,
                 watchdog: float | None, deadlock_grace: float, virtual_time_functions: bool,
                 io_quantum: float) -> None:
        self.loop = loop
        self.work = work
        self.start = float(start)
        self.phase_task: asyncio.Task[Any] | None = None
        self.limit: float | None = None if auto_advance else self.start  # the manual-mode stop (None: auto)
        self.more = more = _Rare()            # state of the rarer paths (one attribute: see _Rare)
        more.io_quantum = io_quantum
        self.io_step = io_quantum if auto_advance else 0.0  # the quantum in auto-advance mode, 0 while frozen
        self.jump_limit = -math.inf           # see refresh_jump_limit (set once the loop is adopted)
        self._held_since: float | None = None   # perf_counter() when real work began to hold time
        self.idle_waiters: list[asyncio.Future[None]] = []
        self._resolution = _MONOTONIC_RESOLUTION  # until adopt_loop_resolution() reads the loop's
        self._stall_at = _MONOTONIC_STALL_POINT
        self.horizon = horizon
        self.watchdog = watchdog
        self.watchdog_at = math.inf           # perf_counter() value past which the phase is hung
        self.deadlock_grace = deadlock_grace
        self.slow_callback_check: bool | None = None
        self._timing = False
        self.poll_checks = False              # every poll goes to _select_checked (see arm_alarm)
        self._batch = 0                       # callbacks the current iteration was about to run
        self.real_start = _time.perf_counter()
        self._last_exit = math.inf            # perf_counter() when select() last returned
        self._phase: PhaseInfo = _NO_PHASE  # no test phase: a plain asyncio.Runner
        self._pending_error: HangError | None = None
        self._force_closed = False            # _report closed the phase's coroutine (see _force_close)
        self._deliveries = 0
        self._in_select = False               # waiting in real time in select() (see _real_select)
        self._tick = 0                        # select() calls, for the periodic real-time checks
        self.time_functions = ClockTime(self.now, self.start, virtual_time_functions)
        self._alarm = AlarmWatchdog(self)  # (reads _in_select and _alarm_message: no closure, no bound method)

    def now(self) -> float:
        """The loop's time, as ``loop.time()`` answers it (see the module docstring)."""
        return self.loop.time()

    # -- settings (validated by the clock) ------------------------------------------------------------
    def set_watchdog(self, watchdog: float | None) -> None:
        """A new watchdog; changed while a phase runs, the alarm follows the new limit."""
        self.watchdog = watchdog
        if self.phase_task is not None:
            self.watchdog_at = math.inf if watchdog is None else self.real_start + watchdog
            self.arm_alarm()

    def set_io_quantum(self, seconds: float) -> None:
        self.more.io_quantum = seconds
        self.io_step = seconds if self.limit is None else 0.0

    async def idle_waiter(self) -> None:
        """Return once the loop would have to wait for a timer or for I/O (``clock.run_until_idle()``)."""
        waiter = self.loop.create_future()
        self.idle_waiters.append(waiter)
        self.jump_limit = -math.inf  # the next idle select() must resolve it (see _decide)
        await waiter

    def adopt_loop_resolution(self) -> None:
        """Called once the loop is built: start from its resolution, widened for a large start."""
        resolution = self._resolution = _compat.clock_resolution(self.loop)
        # (the usual resolution's stall point is computed once, at import)
        self._stall_at = _MONOTONIC_STALL_POINT if resolution == _MONOTONIC_RESOLUTION else _stall_point(resolution)
        start = self.start
        if abs(start) >= self._stall_at:
            self._set_now(start)
            self.refresh_jump_limit()
            return
        self.loop._atk_now = start  # (_set_now's whole work at an ordinary start)
        # refresh_jump_limit() inlined for a new engine: nothing holds time, nobody waits, no crawl, no watch
        bound = min(start + self.horizon, self._stall_at)
        limit = self.limit
        self.jump_limit = bound if limit is None else min(bound, limit)

    def set_limit(self, limit: float | None) -> None:
        """Set the manual-mode limit (None: auto-advance)."""
        self.limit = limit
        self.io_step = self.more.io_quantum if limit is None else 0.0
        self.refresh_jump_limit()

    def refresh_jump_limit(self) -> None:
        """Recompute the bound up to which ``_select`` may jump on its fast path without further checks.

        Below it a jump needs no horizon report, no manual-mode stop and no resolution widening.  It is
        -inf (every jump takes ``_decide``) while real work holds time, while ``run_until_idle()`` waits,
        and for a clock whose times lie beyond the float range where the resolution must be widened.
        """
        if self._held_since is not None or self.idle_waiters or self.start <= -self._stall_at \
                or self.more.crawling or self.more.background is not None:
            self.jump_limit = -math.inf
            return
        bound = min(self.start + self.horizon, self._stall_at)
        self.jump_limit = bound if self.limit is None else min(bound, self.limit)

    def background_watch(self) -> BackgroundWatch:
        """The watch of background work, created at first use; from then on every jump asks its rule."""
        watch = self.more.background
        if watch is None:
            watch = self.more.background = BackgroundWatch()
            self.refresh_jump_limit()
        return watch

    # -- test phases (called through the clock by the phase glue, _phase.py) ---------------------------
    def enter_phase(self, task: asyncio.Task[Any] | None, phase: PhaseInfo) -> None:
        """A test phase starts: *task* runs it, ``phase.label`` names it in reports.

        ``phase.running``, when not None, tells whether the phase's code is still running in *task* (3.10: the
        test case's long-lived runner task outlives each phase); otherwise the phase runs until *task* is done.
        """
        if self._pending_error is not None:
            # The previous phase ended with another exception before the report arrived.
            logger.error("asynctestkit: a hang report was not delivered (the phase ended with another "
                         "exception first):\n%s", self.take_pending_error())
        self.phase_task = task
        self._phase = phase
        self._force_closed = False
        self._deliveries = 0
        self.real_start = start = _perf_counter()
        watchdog = self.watchdog
        if watchdog is None:
            self.watchdog_at = math.inf
            self.arm_alarm()
        else:
            self.watchdog_at = start + watchdog
            # arm_alarm() inlined: the whole watchdog is left, plus the alarm's lag (at most 1 s; no min() call)
            lag = _ALARM_LAG * watchdog
            alarm = self._alarm
            alarm.arm(watchdog + (lag if lag < 1.0 else 1.0), start)
            self.poll_checks = self._timing or not alarm.armed

    def arm_alarm(self) -> None:
        """Set SIGALRM for what is left of the phase's watchdog; where it cannot be set, check every poll.

        Without the alarm (not the main thread, SIGALRM owned by someone else such as pytest-timeout, no
        ``setitimer``) only the select-level check sees an overrun, so it then runs at every loop iteration
        (one ``perf_counter()`` call each) instead of every 64th.
        """
        watchdog = self.watchdog
        if watchdog is None or self.phase_task is None:
            self._alarm.disarm()
        else:
            left = max(0.0, self.watchdog_at - _perf_counter())
            self._alarm.arm(left + min(_ALARM_LAG * watchdog, 1.0))
        self._refresh_poll_checks()

    def _refresh_poll_checks(self) -> None:
        self.poll_checks = self._timing or (self.watchdog_at != math.inf and not self._alarm.armed)

    def end_phase(self) -> HangError | None:
        """The test phase has ended (its runner's call returned or raised): the hang report it must fail with.

        :meth:`exit_phase` and :meth:`take_pending_error` in one call, the common case inlined: the phase
        ended within its watchdog, or it has no watchdog.
        """
        if self.phase_task is not None and self._pending_error is None and not self._deliveries \
                and _perf_counter() > self.watchdog_at:
            self.exit_phase()
            return self.take_pending_error()
        self.phase_task = None
        self._phase = _NO_PHASE
        self.watchdog_at = math.inf
        alarm = self._alarm
        if alarm.armed:
            alarm.disarm()
        self.poll_checks = self._timing  # (watchdog_at is inf: _refresh_poll_checks inlined)
        error, self._pending_error = self._pending_error, None
        return error

    def exit_phase(self) -> None:
        if (self.phase_task is not None and self._pending_error is None and not self._deliveries
                and _perf_counter() > self.watchdog_at and sys.exc_info()[1] is None):
            # The phase blocked the loop past the watchdog and then returned before any select() saw it
            # (no alarm was armed): it still fails, through the test case's pending-error check when the phase returns.
            real = _perf_counter() - self.real_start
            headline = (f"{self._phase.label} ran longer than the real-time watchdog of {self.watchdog:g} s: "
                        f"synchronous code blocked the event loop and no SIGALRM alarm was armed to stop it "
                        f"there (virtual t={self.loop._atk_now - self.start:.3f}s, real {real:.3f}s)")
            self._pending_error = LivelockError(format_report(
                self.loop, headline, phase_task=self.phase_task, phase_label=self._phase.label,
                start=self.start))
        self.phase_task = None
        self._phase = _NO_PHASE
        self.watchdog_at = math.inf
        self._alarm.disarm()
        self._refresh_poll_checks()

    def _alarm_message(self, site: Site) -> str:
        return (f"{self._phase.label} ran longer than the real-time watchdog of {self.watchdog:g} s: "
                f"synchronous code blocked the event loop (virtual t={self.loop._atk_now - self.start:.3f}s)\n"
                f"  {_diagnostics.site_line('blocked at', site, with_source=True)}"
                + "".join("\n" + line for line in _diagnostics.timeline_lines(self.loop, [self.phase_task])))

    def closed_phase_coroutine(self, exc: BaseException) -> bool:
        """True if *exc* is what resuming the test's coroutine raised after ``_report`` closed it."""
        closed, self._force_closed = self._force_closed, False
        return closed and isinstance(exc, RuntimeError)

    def take_pending_error(self) -> HangError | None:
        error, self._pending_error = self._pending_error, None
        return error

    def on_run_start(self) -> None:
        """The loop starts running: its first run, or a later one while :attr:`poll_checks` is on.

        At the first run the time module's clock functions start answering from this clock whenever the
        loop runs (see ``ClockTime.start``; off with ``virtual_time_functions=False``), and the slow-callback
        check follows the debug mode the loop was built with.  Later runs need nothing: what decides the
        checks is kept up to date where it changes (``set_debug()`` -> :meth:`refresh_timing`, the phase and
        watchdog methods), and the time functions find the running loop themselves.  Only while the checks
        run (:attr:`poll_checks`, which the slow-callback check turns on) must a run start measuring from its
        first ``select()``, not from the previous run's last one: the loop calls this then too.
        """
        self._last_exit = math.inf
        # refresh_timing() and _refresh_poll_checks() inlined; the loop is not running yet, so a check turned
        # on measures from the first select() (_last_exit stays inf).
        check = self.slow_callback_check
        timing = self._timing = self.loop.get_debug() if check is None else bool(check)
        self.poll_checks = timing or (self.watchdog_at != math.inf and not self._alarm.armed)
        self.time_functions.start(self.loop)

    def close(self) -> None:
        if self._held_since is not None:
            self._end_hold()
        self.time_functions.close()
        alarm = self._alarm
        if alarm._installed:
            alarm.uninstall()
        else:
            alarm.armed = False  # (uninstall()'s whole work: its handler never went in)
        for waiter in self.idle_waiters:
            waiter.cancel()
        self.idle_waiters.clear()

    def release(self) -> None:
        """The loop has closed: drop every reference back to it and to this engine (called by its ``close()``).

        The loop owns the engine; the engine's ``loop``, the time functions' ``_now`` (this engine's bound
        ``now``) and the watchdog's callbacks pointed back, a cycle that kept loop, engine and clock alive
        until a cyclic collection.  After this, ``loop`` is a weak proxy (a closed loop still answers
        ``time()``), the time functions answer the final time, and the watchdog can no longer fire.
        """
        loop = self.loop
        self.time_functions.release(loop._atk_now)
        alarm = self._alarm
        if alarm._installed:  # pragma: no cover - close() (always called first) uninstalled it
            alarm.release()
        else:
            alarm._owner = None  # (release()'s whole work after close(): it no longer holds this engine)
        more = self.more
        if more.background is not None:
            more.background = None  # its record of tasks and timers would hold the loop
        self.loop = weakref.proxy(loop)  # (a proxy, typed as the loop: no typing.cast() call)

    # -- the jump rule (called by the loop's selector) ----------------------------------------------
    def selector_entry(self, inner: BaseSelector, peek: Callable[[float], Any]) -> Callable[
            [float | None], list[tuple[SelectorKey, int]]]:
        """The ``select(timeout)`` the loop's selector answers with: the clock's whole per-iteration path.

        asyncio calls it once per loop iteration.  A closure over the engine, the platform selector *inner*,
        its cheap *peek* (see ``_compat.selector_peek``), the loop and its real-work tracker, installed as
        the selector's ``select``: one Python frame per iteration, and the names it reads are cell reads.
        - Busy (callbacks ready, timeout 0): a plain poll, skipping ``selectors``' Python-level ``select()``
          when nothing is ready; every 64th, or every one while the checks are on (slow-callback check, or
          a watchdog without its alarm), goes to :meth:`_select_checked` (watchdog, spin sample).
        - Idle: the hot path below, kept to a few bytecodes: a poll, O(1) checks and the jump to the next
          deadline; every 64th iteration, and whenever something needs a decision, goes to the slow paths.
        """
        engine = self
        loop = self.loop
        work = self.work
        countdown = 64

        def select(timeout: float | None = None) -> list[tuple[SelectorKey, int]]:
            nonlocal countdown
            if timeout == 0:
                if not engine.poll_checks:
                    countdown -= 1
                    if countdown:
                        # Nothing ready: skip selectors' Python-level select() (see _compat); a quiet loop has
                        # nothing to poll at all (see the idle path below): no system call per busy iteration.
                        if work.quiet or not peek(0):
                            return []
                        events = inner.select(0)
                        if events and engine.io_step:  # I/O takes time (clock.io_quantum)
                            engine.delivered(events)
                        return events
                    countdown = 64
                return engine._select_checked(inner, timeout)
            if engine.poll_checks:
                return engine._select_checked(inner, timeout)
            tick = engine._tick = engine._tick + 1
            if not tick & _CHECK_EVERY:
                return engine._select_checked(inner, timeout)
            # A quiet loop (no fd but its self-pipe, no thread, job, process or signal handler: see RealWork)
            # has nothing to poll: only another thread or a signal handler could write the self-pipe, and a
            # new thread is noticed by in_flight() below.  Otherwise: a cheap peek, then selectors' select().
            if not work.quiet and peek(0):
                events = inner.select(0)
                if events:
                    return engine.delivered(events) if engine.io_step else events
            deadline = _next_timer_when(loop) if timeout is not None else None
            if deadline is None or deadline > engine.jump_limit or work.in_flight(inner):
                return engine._decide(inner, timeout)
            if deadline > loop._atk_now:
                loop._atk_now = deadline
            return []

        return select

    def _select_checked(self, inner: BaseSelector, timeout: float | None) -> list[tuple[SelectorKey, int]]:
        entered = _perf_counter()
        timing = self._timing
        if timing:
            blocked = entered - self._last_exit
            if blocked >= self.loop.slow_callback_duration:
                self._check_slow_iteration(blocked)
        if entered > self.watchdog_at:
            self._watchdog_fired(entered, self.work.in_flight(inner))
            events = inner.select(0)
        elif timeout is not None and timeout <= 0:
            events = inner.select(0)
            if not events:
                # Every busy iteration comes here while the checks run on each poll; else one in 64 does.
                events = self._spin_sample(inner, 1 if self.poll_checks else _CHECK_EVERY + 1)
        else:
            if self.poll_checks:
                self._tick += 1  # went idle (see _spin_sample); otherwise _select counts it
            self._crawl_sample()
            events = self._idle(inner, timeout)
        if events and self.io_step:
            self.delivered(events)
        if timing:
            self._batch = len(events) + _compat.ready_count(self.loop)
            self._last_exit = _perf_counter()
        return events

    def _watchdog_fired(self, now: float, held: Sequence[object] = ()) -> None:
        self.watchdog_at = now + _REDELIVER
        why = f"ran longer than the real-time watchdog of {self.watchdog:g} s"
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

    def refresh_timing(self) -> None:
        """Recompute whether the slow-callback check runs (after set_debug() or a settings change)."""
        check = self.slow_callback_check
        timing = self.loop.get_debug() if check is None else bool(check)
        if timing and not self._timing:
            # Turned on inside an iteration: measure from now; before the loop runs: from its first select().
            self._last_exit = _perf_counter() if self.loop.is_running() else math.inf
        self._timing = timing
        self._refresh_poll_checks()

    def _check_slow_iteration(self, blocked: float) -> None:
        """Warn about an iteration that blocked the loop, unless it merely ran a large batch of callbacks.

        Only the whole iteration can be timed from the selector, so an iteration that ran many callbacks
        (a benchmark scheduling 100k timers) is not blamed on one of them: the warning needs few callbacks,
        or a long average per callback.
        """
        batch = max(1, self._batch)
        if batch > _SLOW_BATCH and blocked / batch < self.loop.slow_callback_duration:
            return
        logger.warning("Executing a loop iteration took %.3f seconds (real time; asyncio's own "
                       "slow-callback check is blind under virtual time): a callback or coroutine "
                       "step blocked the event loop", blocked)

    def delivered(self, events: list[tuple[SelectorKey, int]]) -> list[tuple[SelectorKey, int]]:
        """I/O takes time: an iteration that delivered I/O (not the loop's own wake-up pipe) moves time by
        ``io_quantum``.  Called by the selector with the events it is about to return."""
        internal = self.work._internal_fds
        for key, _mask in events:
            if key.fd not in internal:
                self._set_now(self.loop._atk_now + self.io_step)
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
        spinners = _compat.spinning_tasks(self.loop)
        more = self.more
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
        loop = self.loop
        deadline = _next_timer_when(loop)
        if deadline is not None and not math.isfinite(deadline):
            deadline = None
        held = self.work.in_flight(inner)
        if held:
            return self._follow_real_time(inner, deadline, list(held))
        if self._held_since is not None:  # the real work is over: the next hold starts a new anchor
            self._end_hold()
            self.refresh_jump_limit()
        now = loop._atk_now
        new = now + self.more.spin_step
        self.more.spin_step *= 2
        if deadline is not None and deadline > new:
            new = deadline
        if self.limit is not None:
            new = min(new, self.limit)
        if new - self.start > self.horizon:
            names = ", ".join(_describe_spinner(task, self.phase_task, self._phase.label) for task in spinners[:3])
            self._report(LivelockError, f"did not finish within the virtual-time horizon of {self.horizon:g} s: "
                                        f"{names} kept yielding (busy polling) and nothing it polls for "
                                        f"happened", timers=deadline is not None, hint=_POLL_HINT)
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
        more = self.more
        ticks = self._tick - more.crawl_tick
        if ticks < _CHECK_EVERY + 1:
            return
        now = self.loop._atk_now
        if now - more.crawl_now < ticks * _GRAIN / 2:  # on average less than half the grain per jump
            more.crawl_windows += ticks
            if more.crawl_windows >= _SPIN_ITERATIONS and not more.crawling:
                more.crawling = True
                self.jump_limit = -math.inf  # every jump takes _decide, which applies the grain
        else:
            more.crawl_windows = 0
        more.crawl_tick = self._tick
        more.crawl_now = now

    def _crawl_step(self, now: float, deadline: float) -> float:
        """Where a jump lands while time crawls: the next poller wake-up, moved at least a grain ahead.

        The grain starts at ``_GRAIN`` (1 ms, as a real selector).  While a handful of timers at most is
        pending (``_MAX_CRAWL_TIMERS``), the grain doubles every ``_CRAWL_ROUND`` jumps, as the step of a
        ``sleep(0)`` spin does, but a jump never passes a timer due a whole ``_GRAIN`` or more ahead: such
        a timer (a ``call_later``, a timeout, a heartbeat) is reached exactly, and only the pollers' own
        tiny sleeps wake late.  So a poll for a timer or a timeout ends at exactly its deadline, a poll of
        ``loop.time()`` ends a hair late (by at most the grain, about 1/4096 of the time polled), and a
        poll that nothing can end reaches the horizon within about 60,000 jumps, where :meth:`_decide`
        reports it naming the polling tasks.  All counted in jumps: the same on every run.
        """
        more = self.more
        floor = now + _GRAIN
        if deadline >= floor:  # a real jump again: the crawl is over
            more.crawling = False
            more.crawl_windows = 0
            more.crawl_jumps = 0
            more.crawl_grain = _GRAIN
            self.refresh_jump_limit()
            return deadline
        later = _compat.earliest_timer_from(self.loop, floor, _MAX_CRAWL_TIMERS)
        if later is None:  # many timers pending: not a handful of pollers; keep the real grain
            more.crawl_jumps = 0
            more.crawl_grain = _GRAIN
        else:
            more.crawl_jumps += 1
            if more.crawl_jumps >= _CRAWL_ROUND:
                more.crawl_jumps = 0
                more.crawl_grain *= 2
            floor = min(now + more.crawl_grain, later)
        return floor if self.limit is None else min(floor, self.limit)

    def _idle(self, inner: BaseSelector, timeout: float | None) -> list[tuple[SelectorKey, int]]:
        events = inner.select(0)
        if events:
            return events
        return self._decide(inner, timeout)

    def _decide(self, inner: BaseSelector, timeout: float | None) -> list[tuple[SelectorKey, int]]:
        """The jump rule, once a poll found no I/O: idle waiters, real work, the jump, the horizon, a hang."""
        if self.idle_waiters:
            waiters, self.idle_waiters = self.idle_waiters, []
            for waiter in waiters:
                resolve_future(waiter)
            self.refresh_jump_limit()
            return []
        deadline = _next_timer_when(self.loop) if timeout is not None else None
        forever = deadline is not None and not math.isfinite(deadline)
        if forever:
            deadline = None
        held = self.work.in_flight(inner)
        if held:
            return self._follow_real_time(inner, deadline, list(held))
        if self._held_since is not None:
            self._end_hold()
            self.refresh_jump_limit()
        if deadline is not None and (self.limit is None or deadline <= self.limit):
            if deadline - self.start > self.horizon:
                polling = self.more.crawl_grain != _GRAIN
                self._report(LivelockError, self._horizon_why(), timers=True, hint=_POLL_HINT if polling else None)
                return []
            now = self.loop._atk_now
            background = self.more.background
            if background is not None and background.stuck(self.loop, now, self.start + self.horizon):
                events = self._background_deadlock(inner, background, now)
                if events is not None:
                    return events
            if self.more.crawling:
                deadline = self._crawl_step(now, deadline)
            if deadline > now:
                self._set_now(deadline)
            return []
        return self._stuck(inner, inner.get_map(), deadline, forever)

    def _background_deadlock(self, inner: BaseSelector, background: BackgroundWatch,
                             now: float) -> list[tuple[SelectorKey, int]] | None:
        """Only background timers are left and they woke nothing for a while (see _quiet): report a
        deadlock, after the checks of :meth:`_stuck`; None when something alive may still wake the loop."""
        fmap = inner.get_map()
        self.work.refresh_fds()
        if self.work.in_flight(inner) or self.work.live_wakers(fmap):
            background.restart()
            return None
        if self.work.wake_up_sources(fmap):
            events = self._real_select(inner, self.deadlock_grace)
            if events:
                background.restart()
                return events
        self._report(DeadlockError, background.why(self.loop, self.phase_task, now), hint=background.hint())
        background.restart()
        return []

    def _horizon_why(self) -> str:
        """Why time raced past the horizon: timers kept firing, or named tasks polled with tiny sleeps."""
        why = f"did not finish within the virtual-time horizon of {self.horizon:g} s: "
        if self.more.crawl_grain == _GRAIN:
            return why + "timers kept firing but nothing it awaits happened"
        pollers = [task for task in asyncio.all_tasks(self.loop) if _diagnostics.awaiting(task) == "sleep()"]
        names = ", ".join(_describe_spinner(task, self.phase_task, self._phase.label) for task in pollers[:3])
        return why + f"{names or 'the code'} kept polling with tiny sleeps and nothing it polls for happened"

    def _set_now(self, now: float) -> None:
        """Move virtual time to *now*, keeping timers due at *now* runnable at any magnitude.

        asyncio runs a timer when ``when < time() + resolution``.  Once one ulp of the time exceeds the
        (1 ns) resolution, that sum rounds back to ``time()`` and a timer due exactly now (``call_later(0)``,
        ``sleep(1e-7)`` at 1.7e9) would never run: the loop would spin.  So the resolution is widened to
        one ulp whenever time crosses into a coarser float range.
        """
        self.loop._atk_now = now
        if abs(now) >= self._stall_at:
            self._resolution = math.ulp(now)
            self._stall_at = _stall_point(self._resolution)
            _compat.set_clock_resolution(self.loop, self._resolution)
            self.refresh_jump_limit()

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
        now = self.loop._atk_now
        limit = self.limit
        due = deadline if deadline is not None and (limit is None or deadline <= limit) else None
        if self.more.background is not None:  # real work may wake the test: a quiet stretch starts afresh
            self.more.background.restart()
        began = _perf_counter()
        if began > self.watchdog_at:
            self._watchdog_fired(began, held)
            return inner.select(0)
        if self._held_since is None:
            self._held_since = began
            self.more.held_base = now
            self.jump_limit = -math.inf  # jumps take _decide until the work is over
            loop_class = type(self.loop)
            self.more.held_class = loop_class
            self.more.held_what = tuple(str(work) for work in held[:3])
            self.loop.__class__ = _live_time_class(loop_class)  # loop.time() follows real time (live_now)
        elif not self.more.held_warned and began - self._held_since > _HELD_WARNING:
            self.more.held_warned = True
            logger.warning("virtual time has followed real time for %.1f s because real work is in flight: "
                           "%s. If the test does not wait for it, pass it to clock.background().",
                           began - self._held_since, "; ".join(str(h) for h in held[:5]))
        target = self.more.held_base + (began - self._held_since)
        if target < now:  # time moved on by other means meanwhile (a spin, I/O quanta): re-anchor from here
            self.more.held_base += now - target
            target = now
        if due is not None and due <= target:
            events = inner.select(0)  # overdue: no real wait, only a poll
        else:
            wait = _REAL_SLICE if due is None else min(_REAL_SLICE, due - target)
            events = self._real_select(inner, wait)
            target = self.more.held_base + (_perf_counter() - self._held_since)
        new = target
        if due is not None and due <= new <= due + _LAG:
            second = _compat.second_timer_when(self.loop)
            if second is None or second > new:  # only this timer is overdue: it fires at exactly its when
                new = due
        if limit is not None and new > limit:
            new = limit
        if new > now:
            self._set_now(new)
        return events

    def live_now(self) -> float:
        """``loop.time()`` while real work holds time: never more than ``_LAG`` behind the anchored real time.

        Virtual time follows real time from where the hold began (see :meth:`_follow_real_time`), but
        ``_atk_now`` moves only when the loop goes idle.  A deadline armed after the loop was busy (a
        callback's synchronous work, a process descheduled on a loaded machine) must be measured from about
        the real now, as on a real loop: from the stale idle time it would be reached early by the whole
        busy stretch when time catches up.  Within ``_LAG`` of the last idle iteration the settled time is
        kept (a timer that landed on exactly its ``when`` still reads so); never behind ``_atk_now`` (so
        never backwards), never past the manual-mode limit.
        """
        now = self.loop._atk_now
        since = self._held_since
        if since is None:
            return now
        live = self.more.held_base + (_perf_counter() - since) - _LAG
        limit = self.limit
        if limit is not None and live > limit:
            live = limit
        return live if live > now else now

    def holding_for(self) -> tuple[str, ...]:
        """What was in flight when real work last began to hold time (at most three, described with their
        sites): the task timeline's ``hold`` event says why virtual time followed real time."""
        return self.more.held_what

    def _end_hold(self) -> None:
        """Real work no longer holds time: settle at the real time code may have read, and stop following it."""
        live = self.live_now()
        self._held_since = None
        held_class, self.more.held_class = self.more.held_class, None
        if held_class is not None:
            self.loop.__class__ = held_class
        if live > self.loop._atk_now:
            self._set_now(live)

    def _stuck(self, inner: BaseSelector, fmap: Any, deadline: float | None,
               forever: bool) -> list[tuple[SelectorKey, int]]:
        entered = _perf_counter()
        if entered > self.watchdog_at:  # the phase overran first (e.g. a callback blocked): that is the report
            self._watchdog_fired(entered, self.more.waiting_on)
            return []
        self.work.refresh_fds()  # who holds the other end of a pipe may have changed since it was classified
        if self.work.in_flight(inner):
            return []
        live = self.work.live_wakers(fmap)
        if live:
            # Something alive can still wake the loop (a process that has not exited, a thread that feeds
            # it): however long it takes on a loaded machine, that is not a deadlock.  Wait for it; the
            # watchdog ends the wait if it never comes, naming it.
            self.more.waiting_on = [f"{w} (no deadlock: it can still wake the loop)" for w in live]
            return self._real_select(inner, _REAL_SLICE)
        self.more.waiting_on = []
        sources = self.work.wake_up_sources(fmap)
        events = self._real_select(inner, self.deadlock_grace if sources else _SETTLE)
        if events:
            return events
        if self.work.in_flight(inner) or self.work.live_wakers(fmap):
            return []
        if sources and _awaits_live_process(self.loop):
            # A task awaits the exit of a child process that is still alive (a background one: others hold
            # time): its exit will wake the loop, however long a loaded machine takes to deliver it.  Not a
            # deadlock; the watchdog bounds the wait.
            return []
        if deadline is not None:  # frozen: manual mode and the next timer lies beyond the limit
            why = (f"can never finish: time is frozen (auto_advance is off) and the next timer is due at "
                   f"t={deadline - self.start:g}; call `await self.clock.advance(...)` or turn "
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
    def _report(self, kind: type[HangError], why: str, *, timers: bool = False, hint: str | None = None) -> None:
        real = _time.perf_counter() - self.real_start
        headline = (f"{self._phase.label} {why} (virtual t={self.loop._atk_now - self.start:.3f}s, "
                    f"real {real:.3f}s)")
        error = kind(format_report(self.loop, headline, phase_task=self.phase_task,
                                   phase_label=self._phase.label, start=self.start, timers=timers, hint=hint,
                                   background=self.more.background))
        first_line = headline
        task = self.phase_task
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
            self.exit_phase()
            self._deliveries = 0
            self.loop.stop()
            return
        if task is not None and not task.done():
            self._pending_error = error
            task.cancel(msg=first_line)
            return
        # No test phase: the loop runs without a test case (asyncio.Runner, run_until_complete).
        logger.error("asynctestkit: %s", error)
        for other in asyncio.all_tasks(self.loop):
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
        if not _diagnostics.is_internal_file(current.cr_code.co_filename):
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
    site = _diagnostics.suspended_at(task)
    name = f"{phase_label} (task {task.get_name()!r})" if task is phase_task else _diagnostics.describe_task(task)
    return name + (f" at {_diagnostics.format_site(site)}" if site else "")


def resolve_future(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
