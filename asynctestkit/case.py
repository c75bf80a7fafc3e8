"""``AsyncTestCase``: ``unittest.IsolatedAsyncioTestCase`` with a virtual clock, leak checks and assertions.

This module only wires the parts into unittest's lifecycle; the behaviour lives in ``clock.py``,
``leaks.py`` and ``assertions.py``.  Change the base class of a test case and nothing else::

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
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar, TypeVar

from . import _compat
from .assertions import AsyncAssertionsMixin
from .clock import DEFAULT_DEADLOCK_GRACE, DEFAULT_HORIZON, DEFAULT_IO_QUANTUM, DEFAULT_WATCHDOG, VirtualClock
from .leakcase import LeakCheckMixin
from .loop import RealTimeLoop, VirtualClockLoop

__all__ = ["AsyncTestCase", "real_time"]

__unittest = True  # hide this module's frames from unittest tracebacks, as unittest does for its own

_F = TypeVar("_F", bound=Callable[..., Any])
_REAL_TIME_MARK = "__asynctestkit_real_time__"


def real_time(test: _F) -> _F:
    """Run this one test method on a plain real-time loop (no virtual clock), e.g. a timing-sensitive test.

    The class-wide switch is the attribute ``virtual_clock = False``.
    """
    if not callable(test):
        raise TypeError(f"@real_time decorates a test method, got {test!r}")
    setattr(test, _REAL_TIME_MARK, True)
    return test


class AsyncTestCase(LeakCheckMixin, AsyncAssertionsMixin, _compat.LoopHookMixin):
    """An ``IsolatedAsyncioTestCase`` whose loop runs on a :class:`~asynctestkit.VirtualClock`.

    Class attributes (override in a subclass):

    - ``virtual_clock = True``: False runs every test of the class on the real clock;
    - ``clock_start = 0.0``: the virtual time every test starts at;
    - ``clock_auto_advance = True``: False freezes time except in ``self.clock.advance()``;
    - ``clock_horizon``: virtual seconds a test may simulate before it is a livelock (one day);
    - ``clock_watchdog``: real seconds a test phase may run before it is failed as hung (60; None: off);
    - ``clock_deadlock_grace``: real seconds to wait for an outside wake-up before reporting a deadlock;
    - ``clock_io_quantum``: virtual seconds each loop iteration that delivered I/O takes (1 µs; 0: none);
    - ``asyncio_debug = False``: asyncio's debug mode.  ``IsolatedAsyncioTestCase`` always turns it on,
      which makes callback-heavy tests 10-25x slower; asynctestkit gives its main diagnostics (where each
      task was created, slow-callback warnings in real time) without it;
    - ``coroutine_origins = 0``: frames of coroutine origin tracking while the test runs (True: 1).  With
      it, a coroutine never awaited is reported with the line that created it, and attributed to its test
      even when the garbage collector finds it later; it costs 10-30% on coroutine-heavy code, so it is off
      by default (the report then names where the coroutine was dropped).
    """

    virtual_clock: ClassVar[bool] = True
    clock_start: ClassVar[float] = 0.0
    clock_auto_advance: ClassVar[bool] = True
    clock_horizon: ClassVar[float] = DEFAULT_HORIZON
    clock_watchdog: ClassVar[float | None] = DEFAULT_WATCHDOG
    clock_deadlock_grace: ClassVar[float] = DEFAULT_DEADLOCK_GRACE
    clock_io_quantum: ClassVar[float] = DEFAULT_IO_QUANTUM
    asyncio_debug: ClassVar[bool] = False
    coroutine_origins: ClassVar[int] = 0

    _atk_loop: asyncio.AbstractEventLoop | None = None

    # -- the loop ----------------------------------------------------------------------------------
    def _atk_wants_virtual_clock(self) -> bool:
        method = getattr(self, self._testMethodName, None)
        return bool(self.virtual_clock) and not getattr(method, _REAL_TIME_MARK, False)

    def _atk_loop_factory(self) -> asyncio.AbstractEventLoop:
        loop: VirtualClockLoop | RealTimeLoop
        if self._atk_wants_virtual_clock():
            loop = VirtualClockLoop(
                start=self.clock_start, auto_advance=self.clock_auto_advance, horizon=self.clock_horizon,
                watchdog=self.clock_watchdog, deadlock_grace=self.clock_deadlock_grace,
                io_quantum=self.clock_io_quantum,
                coroutine_origins=self.coroutine_origins)
        else:
            loop = RealTimeLoop(coroutine_origins=self.coroutine_origins)
        loop._atk.debug_pin = bool(self.asyncio_debug)
        loop.set_debug(bool(self.asyncio_debug))
        self._atk_loop = loop
        if _compat.PY311:  # a Runner given a loop_factory does not make the loop current; the base does
            _compat.set_current_loop(loop)
            loop._atk_on_close(lambda: _compat.set_current_loop(None))
        return loop

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

    # -- phases: asyncSetUp, the test, asyncTearDown, async cleanups --------------------------------
    def _callAsync(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return super()._callAsync(self._atk_phase(func), *args, **kwargs)  # type: ignore[misc]

    def _callMaybeAsync(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return super()._callMaybeAsync(self._atk_phase(func), *args, **kwargs)

    def _atk_phase(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap an async phase so the clock knows the task running it and its hang reports become failures."""
        if not inspect.iscoroutinefunction(func):
            return func
        name = getattr(func, "__name__", "")
        if name == self._testMethodName:
            label = f"test {name!r}"
        else:
            label = f"{getattr(func, '__qualname__', name)} of test {self._testMethodName!r}"

        @functools.wraps(func)
        async def phase(*args: Any, **kwargs: Any) -> Any:
            loop = asyncio.get_running_loop()
            state = getattr(loop, "_atk", None)
            if state is not None:
                state.debug_pin = None
            if loop.get_debug() != self.asyncio_debug:
                loop.set_debug(self.asyncio_debug)
            clock = loop.clock if isinstance(loop, VirtualClockLoop) else None
            if clock is None:
                return await func(*args, **kwargs)
            task = asyncio.current_task()
            clock._enter_phase(task, label)
            try:
                coro: Coroutine[Any, Any, Any] = func(*args, **kwargs)
                result = await coro
            except asyncio.CancelledError:
                error = clock._take_pending_error()
                if error is None:
                    raise
                if task is not None:
                    _compat.uncancel(task)
                raise error from None
            except BaseException as exc:
                # The phase reacted to the cancellation that carried a hang report by raising something else
                # (or its coroutine was closed after it swallowed every such cancellation): the hang is the
                # cause, so it is the failure, with the other exception chained for the record.
                error = clock._take_pending_error()
                if error is None:
                    raise
                if task is not None:
                    _compat.uncancel(task)
                raise error from exc
            finally:
                clock._exit_phase()
            error = clock._take_pending_error()
            if error is not None:  # the phase swallowed the cancellation that carried the report
                raise error
            return result

        return phase
