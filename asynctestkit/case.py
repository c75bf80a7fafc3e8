"""``AsyncTestCase``: ``unittest.IsolatedAsyncioTestCase`` with a virtual clock, leak checks and assertions.

This module only wires the parts into unittest's lifecycle; the behaviour lives in the subpackages
``clock`` (with ``clock/_phase.py``, which turns a hang report into the failure of a test phase), ``leaks``
and ``assertions`` (see docs/architecture.md).  Change the base class of a test case and nothing else::

    class TestRetry(asynctestkit.AsyncTestCase):
        async def test_gives_up_after_an_hour(self):
            with self.assertRaises(TimeoutError):
                await asyncio.wait_for(client.fetch_with_retries(), timeout=3600)   # instant
            self.assertEqual(self.clock.elapsed(), 3600)

Each test gets a fresh :class:`~asynctestkit.VirtualClockLoop`; setUp, the test, tearDown and every cleanup
share its timeline.  A test phase that can never finish fails with :class:`~asynctestkit.DeadlockError` or
:class:`~asynctestkit.LivelockError` instead of hanging, and tearDown and cleanups still run.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar, TypeVar

from . import _compat, _validate
from .assertions import AsyncAssertionsMixin
from .clock import (
    DEFAULT_DEADLOCK_GRACE,
    DEFAULT_HORIZON,
    DEFAULT_IO_QUANTUM,
    DEFAULT_WATCHDOG,
    BackgroundTasks,
    RealTimeLoop,
    VirtualClock,
    VirtualClockLoop,
)
from .clock._background import check_start
from .clock._clock import _check_io_quantum
from .clock._loop import new_case_loop
from .clock._phase import PhaseClaim
from .leaks import LeakCheckMixin
from .leaks._unittest import DIRECT_CLEANUPS
from .trace import Trace
from .trace import _setup as _trace_setup
from .trace import _unittest as _trace_glue

__all__ = ["AsyncTestCase", "real_time"]

# unittest hides the frames of modules that set ``__unittest`` when they lead a traceback or follow the user's
# code.  This module's frames only ever lead (see "phases" below): none sits between the runner and the
# user's code, where it would cut the traceback before the user's failing line.
__unittest = True
__tracebackhide__ = True  # the same for pytest (its name for it), when no frame of the test is left

_F = TypeVar("_F", bound=Callable[..., Any])
_R = TypeVar("_R")
_REAL_TIME_MARK = "__asynctestkit_real_time__"
_PY311 = _compat.PY311
#: What the claims of the asyncSetUp and asyncTearDown phases hold as the phase's function: its name (see
#: _atk_phase_label).
_ASYNC_SETUP = "asyncSetUp"
_ASYNC_TEARDOWN = "asyncTearDown"
#: ``ASYNCTESTKIT_SCHEDULE`` (asynctestkit.explore) is read when this module is imported: while it is set, every
#: test case class gets the exploring ``run()`` (which replays the schedule for the test it names).
_SCHEDULE_FROM_ENV = bool(os.environ.get("ASYNCTESTKIT_SCHEDULE"))


def real_time(test: _F) -> _F:
    """Run this one test method on a plain real-time loop (no virtual clock), e.g. a timing-sensitive test.

    The class-wide switch is the attribute ``virtual_clock = False``.
    """
    if not callable(test):
        raise TypeError(f"@real_time decorates a test method, got {test!r}")
    setattr(test, _REAL_TIME_MARK, True)
    return test


def _check_watchdog(name: str, value: object) -> None:
    if value is not None:
        _validate.duration(name, value, zero=False, infinite=True)


#: Every class attribute of AsyncTestCase and how it is checked when a subclass sets it (the message starts
#: with the attribute name; ``__init_subclass__`` prefixes the class name).
_CLASS_ATTRIBUTE_CHECKS: dict[str, Callable[[str, object], object]] = {
    "virtual_clock": _validate.boolean,
    "clock_start": _validate.time_point,
    "clock_auto_advance": _validate.boolean,
    "clock_horizon": functools.partial(_validate.duration, zero=False, infinite=True),
    "clock_watchdog": _check_watchdog,
    "clock_deadlock_grace": _validate.duration,
    "asyncio_debug": _validate.boolean,
    "coroutine_origins": _validate.origin_depth,
    "cancel_grace": _validate.duration,
    "virtual_time_functions": _validate.boolean,
    "clock_io_quantum": _check_io_quantum,
    "trace_mode": _trace_setup.check_mode,
    "trace_size": _trace_setup.check_size,
    "trace_on_failure": _validate.boolean,
    "trace_export": _trace_setup.check_export,
    "trace_export_all": _validate.boolean,
}


class AsyncTestCase(LeakCheckMixin, AsyncAssertionsMixin, _compat.LoopHookMixin):
    """An ``IsolatedAsyncioTestCase`` whose loop runs on a :class:`~asynctestkit.VirtualClock`.

    Class attributes (override in a subclass):

    - ``virtual_clock = True``: False runs every test of the class on the real clock;
    - ``clock_start = 0.0``: the virtual time every test starts at;
    - ``clock_auto_advance = True``: False freezes time except in ``self.clock.advance()``;
    - ``clock_horizon``: virtual seconds a test may simulate before it is a livelock (one day);
    - ``clock_watchdog``: real seconds a test phase may run before it is failed as hung (60; None: off);
    - ``clock_deadlock_grace``: real seconds to wait for an outside wake-up before reporting a deadlock;
    - ``virtual_time_functions = True``: ``time.time()``, ``time.monotonic()`` and their ``_ns`` forms
      follow the virtual clock on the test's thread while a test phase runs (other threads keep real time);
      False leaves the ``time`` module alone;
    - ``clock_io_quantum``: virtual seconds each loop iteration that delivered I/O takes (1 µs; 0: none);
    - ``asyncio_debug = False``: asyncio's debug mode.  ``IsolatedAsyncioTestCase`` always turns it on,
      which makes callback-heavy tests 10-25x slower; asynctestkit gives its main diagnostics (where each
      task was created, slow-callback warnings in real time) without it;
    - ``coroutine_origins = 0``: frames of coroutine origin tracking while the test runs (True: 1).  With
      it, a coroutine never awaited is reported with the line that created it, and attributed to its test
      even when the garbage collector finds it later; it costs 10-30% on coroutine-heavy code, so it is off
      by default (the report then names where the coroutine was dropped);
    - ``trace_mode = None``: ``"ring"`` records the task timeline (the last ``trace_size`` events),
      ``"full"`` every event: ``self.trace`` queries it and asynctestkit's reports end with it (see
      docs/trace.md; ``ASYNCTESTKIT_TRACE=1`` turns it on for a whole run);
    - ``trace_on_failure = False``: ordinary assertion failures end with the timeline too;
    - ``trace_export = None``: a directory: a failing test writes its timeline there as a Perfetto /
      chrome://tracing JSON and an HTML page (``trace_export_all = True``: every test).
    """

    virtual_clock: ClassVar[bool] = True
    clock_start: ClassVar[float] = 0.0
    clock_auto_advance: ClassVar[bool] = True
    clock_horizon: ClassVar[float] = DEFAULT_HORIZON
    clock_watchdog: ClassVar[float | None] = DEFAULT_WATCHDOG
    clock_deadlock_grace: ClassVar[float] = DEFAULT_DEADLOCK_GRACE
    virtual_time_functions: ClassVar[bool] = True
    clock_io_quantum: ClassVar[float] = DEFAULT_IO_QUANTUM
    asyncio_debug: ClassVar[bool] = False
    coroutine_origins: ClassVar[int] = 0
    trace_mode: ClassVar[str | None] = None
    trace_size: ClassVar[int] = _trace_setup.DEFAULT_SIZE
    trace_on_failure: ClassVar[bool] = False
    trace_export: ClassVar[str | None] = None
    trace_export_all: ClassVar[bool] = False

    _atk_trace: Trace | None = None
    _atk_loop: asyncio.AbstractEventLoop | None = None
    #: The claim on the phases of the test's loop (see ``clock/_phase.py``): one per test, reused by each phase.
    _atk_claim: PhaseClaim | None = None
    _atk_background: BackgroundTasks | None = None
    #: The schedule one run of an exploration installs on the test's loop (asynctestkit.explore); None: FIFO.
    _atk_schedule: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Check the class attributes a subclass sets, so a mistake fails at import, naming the class."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__
        for attribute, check in _CLASS_ATTRIBUTE_CHECKS.items():
            if attribute in own:
                try:
                    check(attribute, own[attribute])
                except (TypeError, ValueError) as error:
                    raise type(error)(f"{cls.__qualname__}.{error}") from None
        if _SCHEDULE_FROM_ENV or any(name.startswith("explore_") for name in own):  # only classes that explore
            from .explore._unittest import prepare_class
            prepare_class(cls)

    # -- the loop ----------------------------------------------------------------------------------
    def _atk_loop_factory(self) -> asyncio.AbstractEventLoop:
        loop: VirtualClockLoop | RealTimeLoop
        virtual = bool(self.virtual_clock)
        if virtual:  # unless the test method is marked @real_time
            # The test method as the class holds it (the instance's own attribute first, as getattr() would):
            # asked of a bound method, a missing mark costs an AttributeError raised and caught inside getattr().
            name = _compat.test_method_name(self)
            method = self.__dict__.get(name)
            if method is None:
                method = getattr(type(self), name, None)
            virtual = not getattr(method, _REAL_TIME_MARK, False)
        if virtual:
            try:
                loop = new_case_loop(  # VirtualClockLoop(start=..., ...), checked once per combination
                    self.clock_start, self.clock_auto_advance, self.clock_horizon, self.clock_watchdog,
                    self.clock_deadlock_grace, self.virtual_time_functions, self.clock_io_quantum,
                    self.coroutine_origins)
            except (TypeError, ValueError) as error:  # a setting changed after the class was defined
                raise type(error)(f"{type(self).__name__}: a clock_* setting was rejected when the test's loop "
                                  f"was built: {error}") from None
        else:
            loop = RealTimeLoop(coroutine_origins=self.coroutine_origins)
        try:  # the loop exists from here: a setting rejected below must not leave it open (unclosed loop)
            self._atk_trace = _trace_glue.start(self, loop)
            debug = bool(self.asyncio_debug)
            loop._atk_pin_debug(debug)
            if loop.get_debug() != debug:  # (on unless PYTHONASYNCIODEBUG or -X dev turned it on)
                loop.set_debug(debug)
            self._atk_loop = loop
            if self._atk_schedule is not None:  # one run of an exploration (asynctestkit.explore)
                self._atk_schedule.install(loop)
            # The test's claim on the phases of its loop, handed to the loop once (see _callSetUp).  3.11+ build
            # the loop in setUp: the claim starts as asyncSetUp's (3.10 build it in run(): setUp takes it).
            claim = self._atk_claim = PhaseClaim(loop)
            if _PY311:
                claim.owner = self
                claim.func = _ASYNC_SETUP
            loop._atk_claim_phase(claim)
        except BaseException:
            self._atk_loop = None
            loop.close()
            raise
        if _compat.PY311:  # a Runner given a loop_factory does not make the loop current; the base does
            _compat.set_current_loop(loop)
            loop._atk_on_close(_compat.clear_current_loop)
        return loop

    def _atk_foreign_loop_debug(self) -> bool:
        """A custom ``loop_factory``'s loop runs in ``asyncio_debug`` mode too (set by the runner)."""
        return bool(self.asyncio_debug)

    @property
    def clock(self) -> VirtualClock:
        """The :class:`~asynctestkit.VirtualClock` of the running test (from setUp to the last cleanup)."""
        loop = self._atk_loop
        if loop is None or loop.is_closed():
            raise RuntimeError("self.clock is available only while a test runs (from setUp to its last "
                               "cleanup); there is no test loop now")
        if not isinstance(loop, VirtualClockLoop):
            raise RuntimeError("this test runs on the real clock (virtual_clock = False, @real_time or a "
                               "custom loop_factory), so it has no self.clock")
        return loop.clock

    # -- background work -----------------------------------------------------------------------------
    def start_background(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task[Any]:
        """Run *coro* beside the test (a heartbeat, a poller, a fake server) until the test ends; return its task.

        At the end of the test (among its cleanups, before the leak check) every background task still running
        is cancelled and awaited, so none is reported as leaked; one that raised an exception nobody retrieved
        fails the test, naming it and where it was started.  Background work does not count as progress: a
        test that waits for something it never gets beside a heartbeat is a ``DeadlockError`` naming what it
        awaits, after ``self.clock.background_window`` virtual seconds (see docs/doubles.md).  TypeError for a
        non-coroutine or a non-string *name*; RuntimeError outside the running test (e.g. in a synchronous
        ``setUp``).
        """
        check_start("start_background()", coro, name)
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is None or (self._atk_loop is not None and running is not self._atk_loop):
            coro.close()
            raise RuntimeError("start_background() must be called inside the running test (asyncSetUp, an async "
                               "test method, asyncTearDown or an async cleanup), on the test's event loop")
        group = self._atk_background
        if group is None or group.closed:
            group = self._atk_background = BackgroundTasks()
            self.addAsyncCleanup(group.aclose)
        return group.start(coro, name=name)
    @property
    def trace(self) -> Trace:
        """The task timeline of the test (:class:`~asynctestkit.trace.Trace`) when ``trace_mode`` is on."""
        if self._atk_trace is None:
            raise _trace_glue.not_recording(self)
        return self._atk_trace

    # -- phases: asyncSetUp, the test, asyncTearDown, async cleanups --------------------------------
    # The bookkeeping runs in the methods unittest's TestCase.run() calls first, *above* the code of
    # IsolatedAsyncioTestCase that runs each phase: no frame of asynctestkit sits between the runner and the
    # test's coroutine.  unittest drops the leading frames of modules that set ``__unittest`` (this one does)
    # and cuts a failure's traceback at the first such frame *after* the user's code, so with nothing of ours
    # in between, a failing test shows exactly the frames plain IsolatedAsyncioTestCase shows: the user's
    # failing line is always there.  The loop tells the test's claim which task runs the phase (see
    # ``clock/_phase.py``).  A phase costs the claim's two attributes set here, the claim's call when the
    # runner creates the phase's task, and ``finish()``: setUp, the test and tearDown do it in their own
    # frame (three phases per test); cleanups and the rare cases go through _atk_run_phase.
    def _callSetUp(self) -> None:
        if self._atk_setup_error is not None:  # 3.10: the test's loop could not be built
            error = self._atk_take_setup_error()
            if error is not None:
                raise error
        if not _PY311:  # pragma: no cover - 3.10: run() built the loop and its claim before setUp
            claim = self._atk_claim
            if claim is not None and claim.owner is None:
                claim.owner = self
                claim.func = _ASYNC_SETUP
        # 3.11+: the runner builds the loop in the base class's _callSetUp, and _atk_loop_factory hands its new
        # claim to this phase there (a claim of an earlier run of this test, if any, is not this run's).
        try:
            super()._callSetUp()
        except BaseException as exc:
            claim = self._atk_claim
            if claim is not None and claim.owner is self:
                self._atk_phase_failed(claim, exc)
            raise
        claim = self._atk_claim
        if claim is not None and claim.owner is self:
            pending = claim.finish()
            if pending is not None:  # the phase swallowed the cancellation that carried the report
                raise pending

    def _callTestMethod(self, method: Callable[..., Any]) -> None:
        claim = self._atk_claim  # (_atk_run_phase, inlined: every test runs this)
        if claim is None or claim.owner is not None:  # no claim (a custom loop_factory), or a phase inside a phase
            self._atk_run_phase(method, super()._callTestMethod, method)
            return
        claim.owner = self
        claim.func = method
        try:
            super()._callTestMethod(method)
        except BaseException as exc:
            self._atk_phase_failed(claim, exc)
            raise
        pending = claim.finish()
        if pending is not None:
            raise pending

    def _callTearDown(self) -> None:
        claim = self._atk_claim  # (_atk_run_phase, inlined: every test runs this)
        if claim is None or claim.owner is not None:
            self._atk_run_phase(_ASYNC_TEARDOWN, super()._callTearDown)
            return
        claim.owner = self
        claim.func = _ASYNC_TEARDOWN
        try:
            super()._callTearDown()
        except BaseException as exc:
            self._atk_phase_failed(claim, exc)
            raise
        pending = claim.finish()
        if pending is not None:
            raise pending

    def _callCleanup(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        if getattr(function, "__self__", None) is self and getattr(function, "__name__", None) in DIRECT_CLEANUPS:
            return super()._callCleanup(function, *args, **kwargs)  # the leak check's verdict: not a phase
        if kwargs:
            return self._atk_run_phase(function, functools.partial(super()._callCleanup, function, *args, **kwargs))
        return self._atk_run_phase(function, super()._callCleanup, function, *args)

    def _atk_run_phase(self, func: object, call: Callable[..., _R], *args: Any) -> _R:
        """Run one part of the test (*call*: IsolatedAsyncioTestCase's own method) as a phase of the clock.

        If the part runs a coroutine on the loop (asyncSetUp, the test, asyncTearDown, an async cleanup), the
        clock knows the task running it from its first step to its end, and a hang report it delivered to that
        task (as a cancellation) becomes the failure of the part; tearDown and cleanups still run, as unittest
        runs them after any failure.  *func* is what the part runs (or the name of a method of the test case):
        reports name the phase after it.
        """
        claim = self._atk_claim  # the run's claim on its loop's phases, one for every phase (see _callSetUp)
        loop: VirtualClockLoop | RealTimeLoop | None = None  # set when this phase has a claim of its own
        if claim is None or claim.owner is not None:  # a custom loop_factory, or a phase inside a phase
            claim = self._atk_new_claim()
            if claim is None:  # not one of asynctestkit's loops: no clock
                return call(*args)
            loop = self._atk_loop  # type: ignore[assignment]  # (the claim is for it: see _atk_new_claim)
            assert loop is not None
            outer = loop._atk_claim_phase(claim)  # this phase's own claim, until it ends
        claim.owner = self
        claim.func = func
        try:
            try:
                result = call(*args)
            except BaseException as exc:
                self._atk_phase_failed(claim, exc)
                raise
            pending = claim.finish()
            if pending is not None:  # the phase swallowed the cancellation that carried the report
                raise pending
            return result
        finally:
            if loop is not None:
                loop._atk_claim_phase(outer)

    def _atk_phase_failed(self, claim: PhaseClaim, exc: BaseException) -> None:
        """The phase ended with *exc*: raise the hang report that ended it, if one did (see ``_phase``); else
        annotate *exc* (the trace) and return, for the caller to re-raise it."""
        failure = claim.failure(exc)
        if failure is None:
            if self._atk_trace is not None:
                _trace_glue.annotate(self, self._atk_trace, exc)
            return
        error, cause = failure
        raise error from cause

    def _atk_new_claim(self) -> PhaseClaim | None:
        """A claim on the phases of the test's loop for a phase that has no claim of the run to use.

        Asked for a phase that starts while another runs (``doCleanups()`` called by a test) and when the
        loop is not one of asynctestkit's (a custom ``loop_factory``: its debug mode is set here, None).  None
        too when the runner is closed already.
        """
        loop = self._atk_loop  # the loop this test built, unless a custom loop_factory replaced it
        if loop is None or loop.is_closed():
            try:
                loop = _compat.test_case_loop(self)
            except RuntimeError:  # the runner is closed (doCleanups() called after run()): the base class decides
                loop = None
        if not isinstance(loop, (VirtualClockLoop, RealTimeLoop)):  # a custom loop_factory: no clock
            if loop is not None and not loop.is_closed() and loop.get_debug() != self.asyncio_debug:
                loop.set_debug(self.asyncio_debug)
            return None
        if loop is not self._atk_loop:  # pragma: no cover - our loop, built by someone else's factory
            return None
        return PhaseClaim(loop)

    def _atk_runner_task(self) -> asyncio.Task[Any] | None:
        """3.10: the task that runs every phase (see ``clock/_phase.py``)."""
        return _compat.iatc_runner_task(self)

    def _atk_in_phase(self) -> bool:
        """3.10: whether that task is inside a phase now."""
        return _compat.iatc_phase_running(self)

    def _atk_phase_label(self, func: object) -> str:
        """How reports name the phase running *func*: ``test 'test_x'`` or ``asyncTearDown of test 'test_x'``.

        *func* may be the name of a method of the test case (the claims of asyncSetUp and asyncTearDown hold
        the name: nothing is looked up or bound per phase).
        """
        if isinstance(func, str):
            func = getattr(self, func, None)
        name, test = getattr(func, "__name__", ""), _compat.test_method_name(self)
        if name == test:
            return f"test {name!r}"
        return f"{getattr(func, '__qualname__', name)} of test {test!r}"
