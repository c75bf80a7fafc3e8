"""``VirtualClockLoop``: a selector event loop whose ``time()`` is driven by a :class:`~asynctestkit.VirtualClock`.

The loop is an ordinary ``asyncio.SelectorEventLoop`` built with a *wrapping selector* (the public
``selector=`` constructor argument).  asyncio calls ``selector.select(timeout)`` exactly when it has nothing
ready to run and wants to sleep until the next timer or I/O; that call is handed to the clock, which decides
whether to poll, to wait in real time, to jump, or to report a hang (see ``clock.py``).

The other overrides are public loop methods that tell the clock about real work: ``run_in_executor``
(and so ``to_thread`` and name resolution), ``subprocess_exec``/``subprocess_shell``,
``call_soon_threadsafe`` and ``shutdown_default_executor``.

Usable without unittest::

    with asyncio.Runner(loop_factory=asynctestkit.VirtualClockLoop) as runner:
        runner.run(main())          # asyncio.sleep(3600) inside main() returns at once
"""

from __future__ import annotations

import asyncio
import functools
import selectors
import sys
import threading
from collections.abc import Callable, Mapping
from contextvars import Context
from typing import Any, TypeVar

from . import diagnostics
from .clock import VirtualClock
from .realwork import RealWork

__all__ = ["RealTimeLoop", "VirtualClockLoop"]

_T = TypeVar("_T")

#: Coroutine origin tracking depth while a VirtualClockLoop runs.  One frame, the line that called the
#: coroutine function (``asyncio.create_task(poll())`` -> that line), costs about 5% on a coroutine-heavy
#: workload; depth 3 cost about 40% (measured on 3.12, 250k coroutines).  Tests that want full creation
#: stacks turn on asyncio's debug mode (``asyncio_debug = True``), which records them for every task.
ORIGIN_TRACKING_DEPTH = 1


class _ClockSelector(selectors.BaseSelector):
    """Delegates to the platform selector; hands every ``select()`` to the clock."""

    def __init__(self, work: RealWork) -> None:
        self._inner = selectors.DefaultSelector()
        self._clock: VirtualClock | None = None  # set once the loop (and so the clock) exists
        self._work = work

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = self._inner.register(fileobj, events, data)
        self._work.note_registered(fileobj)
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        self._work.forget_fd(fileobj)
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        self._work.forget_fd(fileobj)
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        return self._clock._select(self._inner, timeout)  # type: ignore[union-attr]

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()


def _job_name(func: Callable[..., Any], args: tuple[Any, ...]) -> str:
    """A readable name for an executor job; ``to_thread`` wraps the function in ``partial(ctx.run, f, ...)``."""
    while isinstance(func, functools.partial):
        if func.func.__name__ == "run" and isinstance(getattr(func.func, "__self__", None), Context):
            func = func.args[0] if func.args else func.func
        else:
            func = func.func
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)


class _CloseHooksLoop(asyncio.SelectorEventLoop):
    """A selector event loop that runs registered hooks once, right after it closed.

    The test case uses it to reset the thread's current loop, which a runner given a ``loop_factory``
    does not do by itself.
    """

    _atk_close_hooks: list[Callable[[], None]]
    #: While set, ``set_debug()`` calls are answered with this value: a test case pins its ``asyncio_debug``
    #: so the runner's ``set_debug(True)`` cannot make its first phase pay for debug mode; the phase wrapper
    #: unpins it (None) so the test itself may call ``set_debug()``.
    _atk_debug_pin: bool | None = None

    def set_debug(self, enabled: bool) -> None:
        if self._atk_debug_pin is not None:
            enabled = self._atk_debug_pin
        super().set_debug(enabled)

    def close(self) -> None:
        if self.is_closed():
            return
        self._atk_before_close()
        super().close()
        hooks, self._atk_close_hooks = getattr(self, "_atk_close_hooks", []), []
        for hook in hooks:
            hook()

    def _atk_before_close(self) -> None:
        """Subclass hook: release what must go before the selector closes."""

    def _atk_on_close(self, hook: Callable[[], None]) -> None:
        """Run *hook* after the loop closed."""
        self._atk_close_hooks.append(hook)


class VirtualClockLoop(_CloseHooksLoop):
    """A selector event loop on virtual time.

    ``loop.time()`` starts at *start* and moves only when the clock says so: at once to the next deadline
    when nothing real is in flight, with real time while executor jobs, subprocesses, threads or external
    sockets are under way.  ``loop.clock`` is the :class:`VirtualClock` that controls it.
    """

    def __init__(self, *, start: float = 0.0, **clock_options: Any) -> None:
        self._atk_now = float(start) if isinstance(start, (int, float)) else 0.0
        self._atk_work = RealWork()
        self._atk_thread_id: int | None = None
        self._atk_close_hooks: list[Callable[[], None]] = []
        selector = _ClockSelector(self._atk_work)
        super().__init__(selector=selector)
        self._atk_work.construction_done = True
        try:
            self.clock = VirtualClock(self, self._atk_work, start=start, **clock_options)
        except BaseException:
            super().close()  # a bad option: leave no half-built loop behind
            raise
        selector._clock = self.clock
        self.clock._adopt_loop_resolution()

    def set_debug(self, enabled: bool) -> None:
        super().set_debug(enabled)
        clock = getattr(self, "clock", None)
        if clock is not None:
            clock._refresh_timing()

    # -- time ---------------------------------------------------------------------------------------
    def time(self) -> float:
        return self._atk_now

    # -- running ------------------------------------------------------------------------------------
    def run_forever(self) -> None:
        self._atk_thread_id = threading.get_ident()
        previous_depth = sys.get_coroutine_origin_tracking_depth()
        if previous_depth < ORIGIN_TRACKING_DEPTH:
            sys.set_coroutine_origin_tracking_depth(ORIGIN_TRACKING_DEPTH)
        self.clock._on_run_start()
        try:
            super().run_forever()
        finally:
            if previous_depth < ORIGIN_TRACKING_DEPTH:
                sys.set_coroutine_origin_tracking_depth(previous_depth)

    def _atk_before_close(self) -> None:
        clock = getattr(self, "clock", None)  # absent when a bad option stopped __init__
        if clock is not None:
            clock._close()

    # -- real work ----------------------------------------------------------------------------------
    # The overrides take Callable[..., T] where typeshed uses TypeVarTuple (not in 3.10's typing): same
    # runtime contract, looser static check.
    def run_in_executor(  # type: ignore[override]
            self, executor: Any, func: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        fut = super().run_in_executor(executor, func, *args)
        self._atk_work.add_job(fut, f"executor job {_job_name(func, args)}()", diagnostics.caller_site(), func)
        return fut

    def call_soon_threadsafe(self, callback: Callable[..., Any], *args: Any,  # type: ignore[override]
                             context: Context | None = None) -> asyncio.Handle:
        if threading.get_ident() != self._atk_thread_id:
            self._atk_work.note_feeder()
        return super().call_soon_threadsafe(callback, *args, context=context)

    async def shutdown_default_executor(self, *args: Any, **kwargs: Any) -> None:
        marker = self.create_future()
        self._atk_work.add_job(marker, "default executor shutdown", None)
        try:
            await super().shutdown_default_executor(*args, **kwargs)
        finally:
            marker.set_result(None)

    async def subprocess_exec(self, protocol_factory: Callable[[], Any], program: Any, *args: Any,
                              **kwargs: Any) -> tuple[Any, Any]:
        site = diagnostics.caller_site()
        transport, protocol = await super().subprocess_exec(protocol_factory, program, *args, **kwargs)
        self._atk_work.add_process(transport, f"subprocess {program!s} (pid {transport.get_pid()})", site)
        return transport, protocol

    async def subprocess_shell(self, protocol_factory: Callable[[], Any], cmd: Any,
                               **kwargs: Any) -> tuple[Any, Any]:
        site = diagnostics.caller_site()
        transport, protocol = await super().subprocess_shell(protocol_factory, cmd, **kwargs)
        self._atk_work.add_process(transport, f"subprocess {cmd!r} (pid {transport.get_pid()})", site)
        return transport, protocol


class RealTimeLoop(_CloseHooksLoop):
    """A plain selector event loop on the real clock, for tests that opt out of virtual time."""

    def __init__(self) -> None:
        super().__init__()
        self._atk_close_hooks = []
