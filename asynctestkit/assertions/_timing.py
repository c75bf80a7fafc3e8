"""Timing assertions: completes within N seconds, does not, takes N seconds, a timeout propagates.

Durations are loop seconds: virtual and exact on :class:`~asynctestkit.AsyncTestCase` (a one-hour timeout is
checked at once and to the nanosecond), real on a plain ``IsolatedAsyncioTestCase``.  See docs/assertions.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

from .. import _compat
from .._diagnostics import format_site
from ._base import (
    AssertionsBase,
    check_loop,
    check_seconds,
    close_coroutines,
    default_tolerance,
    exc_line,
    exc_repr,
    fmt_seconds,
    is_virtual,
    optional_awaitable,
    outcome_of,
    raised_at,
    rejecting,
    short_repr,
    stamp,
    time_kind,
    where_lines,
)
from ._block import Block, Within
from ._waits import join, stop

__unittest = True

#: Exception types that mean "a timeout": on 3.10 asyncio.TimeoutError is not yet the builtin TimeoutError.
TIMEOUT_ERRORS: tuple[type[BaseException], ...] = (TimeoutError, asyncio.TimeoutError)


class Takes(Block[Any]):
    """The block takes exactly / at least / at most N loop seconds (a failing block is not judged)."""

    def __init__(self, case: AssertionsBase, method: str, aw: Awaitable[Any] | None, msg: Any, *,
                 expected: float, mode: str, tolerance: float | None) -> None:
        super().__init__(case, method, aw, msg)
        self._expected = expected
        self._mode = mode
        self._tolerance = tolerance

    def _exit(self, exc: BaseException | None) -> bool:
        if exc is not None:
            return False
        assert self.elapsed is not None
        end = self._start + self.elapsed
        tolerance = self._tolerance
        if tolerance is None:
            tolerance = default_tolerance(self._loop, self._start, end)
            if not is_virtual(self._loop):
                tolerance += time.get_clock_info("monotonic").resolution
        elapsed, expected = self.elapsed, self._expected
        ok = {"exactly": abs(elapsed - expected) <= tolerance,
              "at least": elapsed >= expected - tolerance,
              "at most": elapsed <= expected + tolerance}[self._mode]
        if ok:
            return False
        took, want = fmt_seconds(elapsed), fmt_seconds(expected)
        if took == want:
            took, want = f"{elapsed!r} s", f"{expected!r} s"
        self._fail(f"{self.label} took {took} of {time_kind(self._loop)}, expected {self._mode} {want}\n"
                   f"  ran from {stamp(self._loop, self._start)} to {stamp(self._loop, end)} "
                   f"(tolerance {tolerance:.3g} s)")


class TimeoutPropagates(Block[BaseException]):
    """The block raises TimeoutError: not swallowed, not turned into another exception on the way out."""

    _external = False

    async def _await(self, aw: Awaitable[Any]) -> Any:
        # A child task tells a CancelledError of the code under test from a cancellation of the test itself.
        fut = asyncio.ensure_future(aw)
        self._target = fut
        try:
            await join(fut, self._case.cancel_grace)
        except asyncio.CancelledError:
            self._external = True
            raise
        return fut.result()

    def _enter(self) -> None:
        self._cancelling = _compat.cancelling(self._task)

    def _result(self) -> BaseException:
        assert self.exception is not None
        return self.exception

    def _exit(self, exc: BaseException | None) -> bool:
        assert self.elapsed is not None
        after = f"after {fmt_seconds(self.elapsed)} of {time_kind(self._loop)} ({stamp(self._loop)})"
        if exc is None:
            value = "" if self._target is None else f" (it returned {short_repr(self._value)})"
            self._fail(f"{self.label} did not raise TimeoutError{value} {after}\n"
                       f"  was the timeout swallowed on its way out? look for `except Exception:`, "
                       f"`except TimeoutError:` or `contextlib.suppress(...)` in the call chain")
        if isinstance(exc, TIMEOUT_ERRORS):
            self.exception = exc
            return True
        if isinstance(exc, asyncio.CancelledError) and (
                self._external or _compat.cancelling(self._task) > self._cancelling
                or (self._target is None and not _compat.PY311)):
            return False  # the test itself is being cancelled
        origin = _find_timeout(exc)
        lines = [f"{self.label} raised {exc_repr(exc)} instead of TimeoutError {after}"]
        if origin is not None:
            lines.append(f"  the TimeoutError raised at {format_site(raised_at(origin))} was turned into "
                         f"{type(exc).__name__} at {format_site(raised_at(exc))}")
        elif isinstance(exc, asyncio.CancelledError):
            lines.append("  a cancellation escaped instead: a timeout cancelled the code but nothing turned "
                         "its CancelledError into TimeoutError (or the code cancelled itself)")
        else:
            lines.append(f"  {exc_line(exc)}; no TimeoutError in its __cause__/__context__ chain")
        self._fail("\n".join(lines), exc)


class DoesNotComplete(Within):
    """The block (or awaitable) is still running when the limit passes; it is then cancelled."""

    def __init__(self, case: AssertionsBase, method: str, aw: Awaitable[Any] | None, msg: Any, *,
                 limit: float) -> None:
        super().__init__(case, method, aw, msg, limit=limit)
        self._seconds = limit

    async def _run(self) -> None:
        # The awaitable form runs it in a child task, cancels that at the limit and waits for it to stop.
        aw, self._aw = self._aw, None
        assert aw is not None
        self._mark_used()
        try:
            loop, _ = check_loop(self._method)
        except BaseException:
            close_coroutines(aw)
            raise
        limit, case = self._seconds, self._case
        begin, ended = loop.time(), []
        fut = asyncio.ensure_future(aw)
        fut.add_done_callback(lambda _: ended.append(loop.time()))
        if await join(fut, case.cancel_grace, limit):
            took = (ended[0] if ended else loop.time()) - begin
            cause = None if fut.cancelled() else fut.exception()
            self._fail(f"{self.label} completed within {fmt_seconds(limit)} of {time_kind(loop)}: it "
                       f"{outcome_of(fut)} after {fmt_seconds(took)} ({stamp(loop, begin + took)})", cause)
        where = where_lines(fut)
        if not await stop(fut, case.cancel_grace):
            self._fail(f"{self.label} did not stop when cancelled after {fmt_seconds(limit)}: still running "
                       f"{fmt_seconds(case.cancel_grace)} later ({stamp(loop)}); it swallows CancelledError\n"
                       + "\n".join(where_lines(fut) or where))

    def _exit(self, exc: BaseException | None) -> bool:
        self._remove()
        if self._timer is not None:
            self._timer.cancel()
        assert self.elapsed is not None
        if self._tripped is None:
            if isinstance(exc, asyncio.CancelledError):
                return False  # cancelled from outside before the limit: not ours to judge
            outcome = "returned" if exc is None else f"raised {exc_repr(exc)}"
            self._fail(f"{self.label} completed within {fmt_seconds(self._seconds)} of "
                       f"{time_kind(self._loop)}: it {outcome} after {fmt_seconds(self.elapsed)} "
                       f"({stamp(self._loop)})", exc)
        remaining = _compat.uncancel(self._task)
        if isinstance(exc, asyncio.CancelledError):
            # Ours (the expected outcome: still running at the limit) unless someone else cancelled too.
            return remaining <= self._cancelling
        lines = [f"{self.label} did not stop when cancelled after {fmt_seconds(self._seconds)} of "
                 f"{time_kind(self._loop)} (it was still running, as expected)", *self._trip_lines]
        if exc is None:
            lines.append(f"  it swallowed the CancelledError and finished anyway at {stamp(self._loop)}")
        else:
            lines.append(f"  when cancelled it raised {exc_repr(exc)} instead of CancelledError")
        self._fail("\n".join(lines), exc)


def _find_timeout(exc: BaseException) -> BaseException | None:
    """The first TimeoutError in *exc*'s ``__cause__``/``__context__`` chain, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc.__cause__ or exc.__context__
    while current is not None and id(current) not in seen:
        if isinstance(current, TIMEOUT_ERRORS):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


class TimingAssertionsMixin(AssertionsBase):
    """Assertions about how long asynchronous code takes, in loop time."""

    def assertCompletesWithin(self, seconds: float, aw: Awaitable[Any] | None = None,
                              msg: Any = None) -> Block[Any]:
        """Assert that *aw* (or the ``async with`` block) finishes within *seconds* of loop time.

        ``await self.assertCompletesWithin(5, fetch())`` returns fetch's result; an exception it raises in
        time propagates unchanged.  The limit is inclusive: everything due exactly at the deadline runs
        before it is judged.  On timeout the code is cancelled like ``asyncio.timeout()`` does (a task given
        as *aw* is cancelled too) and the failure names where it was suspended.
        """
        method = "assertCompletesWithin"
        with rejecting(aw):
            limit = check_seconds(method, "seconds", seconds)
            aw = optional_awaitable(method, aw)
        return Within(self, method, aw, msg, limit=limit)

    def assertDoesNotCompleteWithin(self, seconds: float, aw: Awaitable[Any] | None = None,
                                    msg: Any = None) -> Block[None]:
        """Assert that *aw* (or the ``async with`` block) is still running after *seconds* of loop time.

        ``await self.assertDoesNotCompleteWithin(5, fetch())`` runs *aw* in its own task (a task given is
        used as is); when the limit passes it is cancelled and awaited.  ``async with
        self.assertDoesNotCompleteWithin(5):`` cancels the block at the limit, the way ``asyncio.timeout()``
        does, and the assertion passes there: the code after the ``async with`` runs.  Fails if the code
        returns or raises within the limit (inclusive), and if it does not stop when cancelled (the
        awaitable form waits ``cancel_grace`` loop seconds for it; a block that swallows the cancellation
        and finishes anyway fails at once).
        """
        method = "assertDoesNotCompleteWithin"
        with rejecting(aw):
            limit = check_seconds(method, "seconds", seconds)
            aw = optional_awaitable(method, aw)
        return DoesNotComplete(self, method, aw, msg, limit=limit)

    def assertTakes(self, seconds: float, aw: Awaitable[Any] | None = None, msg: Any = None, *,
                    tolerance: float | None = None) -> Block[Any]:
        """Assert that *aw* (or the ``async with`` block) takes exactly *seconds* of loop time.

        On the virtual clock durations are exact (the default tolerance only absorbs float noise).  On the
        real clock an exact duration cannot be measured, so *tolerance* is required there.  Returns the
        result; a block that raises is not judged (the exception propagates).
        """
        return self._atk_takes("assertTakes", "exactly", seconds, aw, msg, tolerance)

    def assertTakesAtLeast(self, seconds: float, aw: Awaitable[Any] | None = None, msg: Any = None, *,
                           tolerance: float | None = None) -> Block[Any]:
        """Assert that *aw* (or the ``async with`` block) takes at least *seconds* of loop time."""
        return self._atk_takes("assertTakesAtLeast", "at least", seconds, aw, msg, tolerance)

    def assertTakesAtMost(self, seconds: float, aw: Awaitable[Any] | None = None, msg: Any = None, *,
                          tolerance: float | None = None) -> Block[Any]:
        """Assert that *aw* (or the ``async with`` block) takes at most *seconds* of loop time.

        Unlike :meth:`assertCompletesWithin` nothing is cancelled: the code runs to its end and is judged.
        """
        return self._atk_takes("assertTakesAtMost", "at most", seconds, aw, msg, tolerance)

    def _atk_takes(self, method: str, mode: str, seconds: object, aw: Awaitable[Any] | None, msg: Any,
                   tolerance: object) -> Block[Any]:
        with rejecting(aw):
            expected = check_seconds(method, "seconds", seconds)
            tol = None if tolerance is None else check_seconds(method, "tolerance", tolerance)
            aw = optional_awaitable(method, aw)
            loop, _ = check_loop(method)
            if tol is None and mode == "exactly" and not is_virtual(loop):
                raise TypeError(f"{method}() on the real clock needs a tolerance, e.g. tolerance=0.01 "
                                f"(seconds): an exact duration cannot be measured in real time; or use "
                                f"assertTakesAtLeast/"
                                f"assertTakesAtMost, or run the test on AsyncTestCase's virtual clock")
        return Takes(self, method, aw, msg, expected=expected, mode=mode, tolerance=tol)

    def assertTimeoutPropagates(self, aw: Awaitable[Any] | None = None, msg: Any = None) -> Block[BaseException]:
        """Assert that *aw* (or the ``async with`` block) raises TimeoutError, and return that exception.

        For a timeout deep in a call chain: fails when every layer returned normally (the timeout was
        swallowed, typically by ``except Exception:``), or when another exception came out instead (the
        failure shows where the TimeoutError was turned into it).  ``asyncio.TimeoutError`` counts on 3.10.
        The context-manager form stores the exception as ``cm.exception``.
        """
        method = "assertTimeoutPropagates"
        with rejecting(aw):
            aw = optional_awaitable(method, aw)
        return TimeoutPropagates(self, method, aw, msg)
