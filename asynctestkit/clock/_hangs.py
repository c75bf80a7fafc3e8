"""Hang reports: how a test phase that can never finish is described, and the alarm that catches blocking code.

The virtual clock (``clock.py``) decides *that* a phase is stuck; this module says *what* is stuck, in the
shape every asynctestkit failure has: the most useful fact first, then where, then the details::

    test 'test_fetch' can never finish: no timer, I/O, subprocess or thread can wake what it awaits (...)
      1. test 'test_fetch' (task 'Task-2')
           suspended at tests/test_client.py:42 in test_fetch: await done.wait()  (awaiting Event.wait())
      2. task 'worker' (Client.work())
           created at   tests/test_client.py:40 in test_fetch
           suspended at client.py:88 in work: await self._queue.get()  (awaiting Queue.get())

It also holds the second real-time watchdog.  The clock checks the real time a phase has run at every
``select()``, but synchronous code that never yields (``time.sleep(60)`` in a coroutine, a busy ``while``
loop) never reaches ``select()``.  :class:`AlarmWatchdog` catches it with ``SIGALRM`` (POSIX, main thread
only) and raises :class:`LivelockError` *in the blocking code* so the traceback ends at the exact line,
but only where raising is safe: never inside asyncio's own loop machinery, whose state an exception there
would corrupt.  When the signal lands there it retries shortly after; if the loop reaches ``select()`` in
the meantime, the clock's own check reports the hang instead.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sysconfig
import threading
import time
import types
from collections.abc import Callable
from typing import Any, Protocol

from .. import _compat, _diagnostics
from .._diagnostics import Site

__all__ = ["AlarmWatchdog", "DeadlockError", "HangError", "LivelockError", "format_report"]

_MAX_TASKS = 8      # tasks listed in one report (one screen)
_MAX_TIMERS = 3     # pending timers listed in a livelock report
_RETRY = 0.01       # real seconds before the alarm retries when it landed inside asyncio's machinery

_EVENTS_FILE = os.path.join(_diagnostics.ASYNCIO_DIR, "events.py")
_STDLIB_DIR = os.path.abspath(sysconfig.get_paths()["stdlib"]) + os.sep
_SITE_DIRS = tuple({os.path.abspath(sysconfig.get_paths()[k]) + os.sep for k in ("purelib", "platlib")})


def _is_stdlib(filename: str) -> bool:
    return (filename.startswith(_STDLIB_DIR) and not filename.startswith(_SITE_DIRS)) \
        or filename.startswith("<frozen")


class HangError(AssertionError):
    """A test phase that could never finish.  Subclass of AssertionError: unittest counts it a failure."""


class DeadlockError(HangError):
    """Nothing is ready, no timer is pending, and nothing real can wake the loop."""


class LivelockError(HangError):
    """Time kept moving (or real time ran out) while the test waited for something that never came."""


# -- reports ---------------------------------------------------------------------------------------------

class BackgroundView(Protocol):
    """What a report needs to know of background work (``clock/_quiet.py``'s ``BackgroundWatch``)."""

    def is_background(self, task: asyncio.Future[Any]) -> bool: ...

    def failure_lines(self, start: float) -> list[str]: ...


def format_report(loop: asyncio.AbstractEventLoop, headline: str, *, phase_task: asyncio.Task[Any] | None,
                  phase_label: str, start: float, timers: bool = False, hint: str | None = None,
                  background: BackgroundView | None = None) -> str:
    """The text of a hang report: *headline*, then every pending task (the phase first), then timers.

    *headline* already says what is stuck and the virtual/real time; *start* is the clock's start, so
    timer deadlines are shown on the same scale as ``virtual t=``.  *hint* (what to do) ends the report;
    a report with timers and no hint of its own ends with the horizon hint.  With *background*, background
    tasks are listed last and named as such, followed by those that failed.
    """
    lines = [headline]
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    is_background = background.is_background if background is not None else None
    pending.sort(key=lambda t: (t is not phase_task, is_background is not None and is_background(t)))
    for number, task in enumerate(pending[:_MAX_TASKS], 1):
        if task is phase_task:
            # The phase's own task is named by the phase: its coroutine is unittest's wrapper (3.10: the runner).
            lines.append(f"  {number}. {phase_label} (task {task.get_name()!r})")
            suspended = _diagnostics.suspended_line(task) or _diagnostics.site_line("suspended at", None)
            lines.append("       " + suspended)
        else:
            block = _diagnostics.format_task(task, "       ")
            marker = "background " if is_background is not None and is_background(task) else ""
            lines.append(f"  {number}. {marker}{block[0]}")
            lines.extend(block[1:])
    if len(pending) > _MAX_TASKS:
        lines.append(f"  ... and {len(pending) - _MAX_TASKS} more tasks")
    if background is not None:
        lines.extend(background.failure_lines(start))
    if timers:
        waiters = {id(w): t for t in pending if (w := _compat.task_waiter(t)) is not None}
        for handle in _compat.scheduled_handles(loop)[:_MAX_TIMERS]:
            lines.append(f"  timer at t={handle.when() - start:.3f}s {describe_timer(handle, waiters)}")
        if hint is None:
            hint = "if the test really simulates more time, raise clock_horizon on the test case"
    if hint is not None:
        lines.append(f"  hint: {hint}")
    lines.extend(_diagnostics.timeline_lines(loop, pending))  # when the loop records one (asynctestkit.trace)
    return "\n".join(lines)


def describe_timer(handle: asyncio.TimerHandle, waiters: dict[int, asyncio.Task[Any]]) -> str:
    """``wakes task 'heartbeat' at hb.py:21 in beat: await asyncio.sleep(1)`` or ``calls Poller.poll()``.

    *waiters* maps ``id(future)`` to the task suspended on that future: a timer whose callback resolves the
    future a task waits on (``asyncio.sleep``) is described by that task, which is what the user wrote.
    """
    callback = _compat.handle_callback(handle)
    for arg in _compat.handle_args(handle):
        task = waiters.get(id(arg))
        if task is not None:
            where = _diagnostics.suspended_at(task)
            return (f"wakes {_diagnostics.describe_task(task)}"
                    + (f" at {_diagnostics.format_site(where, with_source=True)}" if where else ""))
    return f"calls {_diagnostics.callable_name(callback)}()"


# -- the SIGALRM watchdog --------------------------------------------------------------------------------

def safe_blocking_site(frame: types.FrameType | None) -> Site | None:
    """Where synchronous code blocks the loop, if an exception may be raised there; None if it may not.

    Walks outwards from the interrupted *frame*.  Reaching code the user wrote (anything outside asyncio
    and asynctestkit; other standard-library frames such as ``threading`` or ``socket`` are looked
    through) first means the exception travels up through the user's code into a task or a callback: safe,
    and that frame is the site to report.  Reaching asyncio or
    asynctestkit first means the signal landed in the loop's own bookkeeping: not safe.  One exception:
    when the interrupted frame is ``Handle._run`` itself, a C function scheduled as a callback is blocking
    (``loop.call_soon(time.sleep, 60)``), and ``Handle._run`` catches what it raises.
    """
    if frame is None:
        return None
    code = frame.f_code
    if code.co_filename == _EVENTS_FILE and code.co_name == "_run":
        return _diagnostics.frame_site(frame)
    current: types.FrameType | None = frame
    while current is not None:
        filename = current.f_code.co_filename
        if filename.startswith((_diagnostics.ASYNCIO_DIR, _diagnostics.PACKAGE_DIR)):
            return None
        if not _is_stdlib(filename) and not _diagnostics.is_internal_file(filename):
            return _diagnostics.frame_site(current)
        current = current.f_back
    return None


_HAS_ITIMER = hasattr(signal, "setitimer")
_SIGALRM: int = getattr(signal, "SIGALRM", 14)
_ITIMER_REAL: int = getattr(signal, "ITIMER_REAL", 0)
_setitimer: Callable[[int, float], object] = getattr(signal, "setitimer", None) or (lambda which, seconds: None)
_getitimer: Callable[[int], tuple[float, float]] = getattr(signal, "getitimer", None) or (lambda which: (0.0, 0.0))
_raw_getsignal = _compat.raw_getsignal
_raw_signal = _compat.raw_signal
_get_ident = threading.get_ident
_main_thread = threading.main_thread
#: The main thread's id (the alarm works only there), read once instead of at every alarm; after a fork the
#: child's main thread is the thread that forked (``threading``'s own after-fork handler runs first).
_main_ident = _main_thread().ident


def _refresh_main_ident() -> None:  # pragma: no cover - runs in a forked child
    global _main_ident
    _main_ident = _main_thread().ident


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_refresh_main_ident)
_perf_counter = time.perf_counter
_INF = math.inf
_EARLY = 0.001      # real seconds: an alarm this close to the phase's deadline is on time
_SAME_TIMER = 0.05  # real seconds: a running timer this close to the one we set is ours


class AlarmOwner(Protocol):
    """What an :class:`AlarmWatchdog` asks its owner (the clock engine) when the alarm goes off."""

    #: True while the loop waits inside ``select()`` (then the select-level check is the right reporter).
    _in_select: bool

    def _alarm_message(self, site: Site) -> str:
        """The hang report's message, from the site that blocks the loop."""


class AlarmWatchdog:
    """Raises :class:`LivelockError` in synchronous code that blocks the loop past a real-time limit.

    ``arm(seconds)`` at the start of a phase, ``disarm()`` at its end, ``uninstall()`` when the loop closes.
    Uses ``SIGALRM`` through ``signal.setitimer``, so it works only on POSIX, in the main thread, and only
    when nobody else owns ``SIGALRM`` (pytest-timeout, for one): otherwise ``arm()`` does nothing and the
    clock's select-level check is the only watchdog.  Its *owner* (see :class:`AlarmOwner`) builds the message
    from the blocking site and tells whether the loop is inside ``select()`` (then the select-level check is
    the right reporter).

    The watchdog object itself is the SIGALRM handler (no bound method to create or compare, and none stored:
    it would be a reference cycle).  It goes in at the first ``arm()`` and stays until ``uninstall()``.  The
    timer is set once per test, too: ``disarm()`` only stops the alarm from acting (a signal between phases
    is ignored), and a later phase, whose deadline is never earlier than the running timer's, keeps that
    timer.  When the timer goes off before the current phase's own deadline (it was set for an earlier
    phase), the handler sets it again for the rest, so each phase still gets exactly its whole limit, and
    one ``setitimer`` per test replaces two per phase.  ``uninstall()`` stops the timer.  If someone else
    installs a SIGALRM handler meanwhile, theirs is left alone from then on (and our timer, if it still
    runs, is stopped: never theirs).  The handler is read and set with the C functions
    (``_compat.raw_getsignal``): the ``signal`` module's Python wrappers convert every answer to an enum,
    which for a handler that is not SIG_DFL/SIG_IGN raises and catches a ValueError on each call.
    """

    __slots__ = ("_deadline", "_installed", "_owner", "_previous", "_timer_at", "armed")

    def __init__(self, owner: AlarmOwner) -> None:
        self._owner: AlarmOwner | None = owner  # None once released
        self._previous: Any = None
        self._installed = False       # our handler is on SIGALRM (from the first arm() to uninstall())
        self._deadline = 0.0          # perf_counter() value at which the current phase's alarm is due
        self._timer_at = 0.0          # perf_counter() value at which the timer we set goes off (0: none runs)
        #: True while the alarm is set for the current phase (False: main thread unavailable, SIGALRM taken).
        #: Read-only for others: a plain attribute, not a property, as the clock reads it at every phase.
        self.armed = False

    def arm(self, seconds: float | None, now: float | None = None) -> None:
        """Have the alarm go off *seconds* (real) after *now* (a ``perf_counter()`` value: the phase's start;
        None: now), for the phase that starts then."""
        if seconds is None or not seconds < _INF:
            self.disarm()
            return
        current = _raw_getsignal(_SIGALRM)
        if current is not self:
            if self._installed:  # replaced since: theirs from now on
                self.armed = False
                if self._timer_at:
                    self._stop_timer(ours=False)
                self._installed = False
                self._previous = None
                return
            if not _HAS_ITIMER or _get_ident() != _main_ident:
                return  # (only the main thread gets signals)
            if current not in (signal.SIG_DFL, signal.SIG_IGN, None):
                return  # someone else's alarm: leave it alone
            self._previous = current
            _raw_signal(_SIGALRM, self)
            self._installed = True
        elif _get_ident() != _main_ident:  # pragma: no cover - installed from the main thread, armed from another
            self.disarm()
            return
        if now is None:
            now = _perf_counter()
        deadline = self._deadline = now + seconds
        self.armed = True  # (before reading _timer_at: a signal from here on re-arms for this deadline)
        if not now < self._timer_at <= deadline:  # no timer runs, or it would go off too late
            self._timer_at = deadline
            _setitimer(_ITIMER_REAL, seconds)

    def disarm(self) -> None:
        """The phase ended: the alarm no longer acts (its timer runs on until a later phase or uninstall())."""
        self.armed = False

    def _stop_timer(self, *, ours: bool) -> None:
        """Stop the timer we set; when *ours* is False (another handler is on SIGALRM), only if it still runs
        as we set it: a timer its owner set in the meantime is theirs."""
        at, self._timer_at = self._timer_at, 0.0
        if not ours:
            left = _getitimer(_ITIMER_REAL)[0]
            if not left or abs(left - (at - _perf_counter())) > _SAME_TIMER:
                return
        _setitimer(_ITIMER_REAL, 0)

    def uninstall(self) -> None:
        """Stop the timer and put back the SIGALRM handler found at the first ``arm()``, if ours is still there."""
        self.armed = False
        if not self._installed:
            return  # (no timer is ever set before the handler is in)
        ours = _raw_getsignal(_SIGALRM) is self
        if self._timer_at:
            self._stop_timer(ours=ours)
        if _get_ident() != _main_ident:
            return  # (installed in the main thread, closed in another: the handler, disarmed, ignores signals)
        self._installed = False
        previous, self._previous = self._previous, None
        if ours:
            _raw_signal(_SIGALRM, previous)

    def release(self) -> None:
        """The loop closed: disarm for good and drop the owner (the clock engine, which holds this watchdog)."""
        if self._installed:
            self.uninstall()
        else:
            self.armed = False  # (uninstall()'s whole work when the handler is not in)
        self._owner = None

    def __call__(self, signum: int, frame: types.FrameType | None) -> None:
        """The SIGALRM handler."""
        if not self.armed:
            self._timer_at = 0.0  # went off between phases: the next arm() sets it again
            return
        now = _perf_counter()
        left = self._deadline - now
        if left > _EARLY:  # set for an earlier phase: this one has the rest of its limit
            self._timer_at = self._deadline
            _setitimer(_ITIMER_REAL, left)
            return
        owner = self._owner
        if owner is None or owner._in_select:
            self._timer_at = 0.0
            return  # the loop is in select(): the clock's own check reports it (or it was closed)
        site = safe_blocking_site(frame)
        if site is None:
            self._timer_at = now + _RETRY
            _setitimer(_ITIMER_REAL, _RETRY)
            return
        self._timer_at = 0.0
        raise LivelockError(owner._alarm_message(site))
