"""Assertions about a block of code, usable both as ``async with`` and as ``await`` on an awaitable.

``self.assertCompletesWithin(5)`` without an awaitable is an async context manager around a block;
``await self.assertCompletesWithin(5, fetch())`` runs the awaitable as that block and returns its result.
:class:`Block` holds what the two forms share; :class:`Within` is the one engine behind every "completes
within a limit" assertion:

- a *deadline* (loop seconds): when it passes, everything already due runs first (the deadline is
  inclusive: a ``sleep`` of exactly the allowed time passes), then the block is cancelled;
- an *iteration budget*: the block is cancelled in the loop iteration after the last one allowed;
- *no idling*: the block is cancelled the first time the loop has nothing ready and would wait.

The block runs in the current task and is cancelled the way ``asyncio.timeout()`` does it: the
CancelledError raised inside is turned into the assertion's failure on the way out, and on 3.11+ the
cancellation request is withdrawn with ``uncancel()``; a cancellation that came from elsewhere at the same
time still propagates.

Nothing passes by accident: a block registers with the test case that made it (``_tracked.py``), and the
test fails when it is never awaited or entered.  Plain ``with`` on an async-only block raises a TypeError
that spells the ``async with`` line to write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, NoReturn, TypeVar

from .. import _compat, _diagnostics
from ._base import (
    check_loop,
    close_coroutines,
    coroutine_where,
    describe,
    exc_repr,
    fmt_seconds,
    stamp,
    time_kind,
    where_lines,
)
from ._tracked import Tracked
from ._waits import SETTLE_ITERATIONS

if TYPE_CHECKING:
    from ._base import AssertionsBase

__unittest = True

_R = TypeVar("_R")
_B = TypeVar("_B", bound="Block[Any]")

class Block(Tracked, Generic[_R]):
    """One assertion about a block: ``async with`` it, or ``await`` it when it was given an awaitable.

    Attributes after the block: ``elapsed`` (loop seconds), ``exception`` (what the assertion caught, if it
    catches one), and engine-specific ones such as ``iterations``.  Plain ``with`` raises a TypeError that
    says to write ``async with`` (except for :meth:`assertRaisesGroup`, whose block also works with ``with``).
    """

    def __init__(self, case: AssertionsBase, method: str, aw: Awaitable[Any] | None, msg: Any) -> None:
        super().__init__(case, method)
        self._aw = aw
        self._msg = msg
        self._target: asyncio.Future[Any] | None = None
        self._coro: object = None
        self._value: Any = None
        self.label = describe(aw) if aw is not None else f"the block at {_diagnostics.format_site(self._site)}"
        self.elapsed: float | None = None
        self.exception: BaseException | None = None

    #: How the block form is entered: ``async with`` only, or ``with`` as well.
    _block_form: ClassVar[str] = "async with"

    def _form(self) -> str:
        return "await" if self._aw is not None else self._block_form

    def _held(self) -> object:
        return self._aw

    # -- the two forms -------------------------------------------------------------------------------
    def __await__(self) -> Generator[Any, None, _R]:
        if self._used:
            raise RuntimeError(f"{self._method}(...) was already used: call it again to check again")
        if self._aw is None:
            self._mark_used()
            raise TypeError(f"{self._method}() was given no awaitable, so it is a context manager: write "
                            f"{self._spelling()}, or pass the awaitable to run")
        return self._run().__await__()

    async def _run(self) -> _R:
        aw, self._aw = self._aw, None
        assert aw is not None
        self._mark_used()
        try:
            self._begin()
        except BaseException:
            close_coroutines(aw)  # it will never run
            raise
        try:
            self._value = await self._await(aw)
        except BaseException as exc:
            if not await self.__aexit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            await self.__aexit__(None, None, None)
        return self._result()

    async def _await(self, aw: Awaitable[Any]) -> Any:
        """Run the awaitable as the block (in the current task: a task given is awaited, so cancelled with it)."""
        if isinstance(aw, asyncio.Future):
            self._target = aw
        else:
            self._coro = aw
        return await aw

    def _result(self) -> _R:
        """What ``await`` returns: the awaitable's result unless the assertion says otherwise."""
        result: _R = self._value
        return result

    def _check_block_form(self) -> None:
        """Refuse a second use, and an awaitable given to the context-manager form."""
        if self._used:
            raise RuntimeError(f"{self._method}() context managers cannot be reused: call it again")
        self._mark_used()
        if self._aw is not None:
            aw, self._aw = self._aw, None
            close_coroutines(aw)
            raise TypeError(f"{self._method}() was given an awaitable, so it is not a context manager: write "
                            f"`await self.{self._method}(..., {describe(aw)})` or drop the awaitable")

    async def __aenter__(self: _B) -> _B:
        self._check_block_form()
        self._begin()
        return self

    def _begin(self) -> None:
        self._loop, self._task = check_loop(self._method)
        self._start = self._loop.time()
        self._enter()

    async def __aexit__(self, et: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> bool:
        self.elapsed = self._loop.time() - self._start
        return self._exit(exc)

    def __enter__(self: _B) -> _B:
        self._check_block_form()
        raise TypeError(f"{self._method}() measures the block on the event loop, so it needs `async with`: "
                        f"write `async with self.{self._method}(...):` (plain `with` cannot wait for the loop)")

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:  # pragma: no cover - only RaisesGroup enters with `with`
        return self._exit(exc)

    def _enter(self) -> None:
        """Start watching (the loop and the current task are known)."""

    def _exit(self, exc: BaseException | None) -> bool:
        """Judge the block; True suppresses *exc*.  Raises the failure."""
        return False

    def _fail(self, standard: str, cause: BaseException | None = None) -> NoReturn:
        self._case._atk_fail(standard, self._msg, cause)


class Within(Block[Any]):
    """The block must finish within a deadline, an iteration budget, or without the loop going idle."""

    def __init__(self, case: AssertionsBase, method: str, aw: Awaitable[Any] | None, msg: Any, *,
                 limit: float | None = None, max_iterations: int | None = None,
                 no_idle: bool = False) -> None:
        super().__init__(case, method, aw, msg)
        self._limit = limit
        self._max_iterations = max_iterations
        self._no_idle = no_idle
        self.iterations = 0

    def _enter(self) -> None:
        self._cancelling = _compat.cancelling(self._task)
        self._expired = False
        self._settling = 0
        self._tripped: str | None = None
        self._trip_lines: list[str] = []
        self._timer = (None if self._limit is None
                       else self._loop.call_at(self._start + self._limit, self._on_deadline))
        self._remove = _compat.observe_selects(self._loop, self._observe)

    def _on_deadline(self) -> None:
        self._expired = True

    def _observe(self, timeout: float | None) -> bool:
        if self._tripped is not None:
            return False
        self.iterations += 1
        idle = timeout is None or timeout > 0
        if self._no_idle and idle:
            wait = "for I/O or a wake-up, with no timer pending" if timeout is None else \
                f"for a timer due in {timeout:.6g} s"
            return self._trip(f"let the loop go idle: at loop iteration {self.iterations} nothing was ready "
                              f"to run and the loop would have waited {wait} ({stamp(self._loop)})")
        if self._max_iterations is not None and self.iterations > self._max_iterations:
            return self._trip(f"did not complete within {self._max_iterations} loop iteration"
                              f"{'s' if self._max_iterations != 1 else ''}: still running at iteration "
                              f"{self.iterations} ({stamp(self._loop)}), cancelled")
        if self._expired:
            self._settling += 1
            if idle or self._settling > SETTLE_ITERATIONS:
                assert self._limit is not None
                return self._trip(f"did not complete within {fmt_seconds(self._limit)} of "
                                  f"{time_kind(self._loop)}: cancelled at {stamp(self._loop)}")
        return False

    def _trip(self, why: str) -> bool:
        target = self._target if self._target is not None and not self._target.done() else None
        if target is not None:
            self._trip_lines = where_lines(target)
        elif self._coro is not None:
            self._trip_lines = coroutine_where(self._coro)
        else:
            self._trip_lines = where_lines(self._task, created=False)
        self._tripped = why
        self._task.cancel(msg=f"{self._method}(): {self.label} {why}")
        return True

    def _exit(self, exc: BaseException | None) -> bool:
        self._remove()
        if self._timer is not None:
            self._timer.cancel()
        if self._tripped is None:
            return False
        remaining = _compat.uncancel(self._task)
        if isinstance(exc, asyncio.CancelledError) and remaining > self._cancelling:
            return False  # cancelled from outside as well: that cancellation wins, as in asyncio.timeout()
        lines = [f"{self.label} {self._tripped}", *self._trip_lines]
        cause: BaseException | None = None
        if exc is None:
            lines.append(f"  it swallowed the CancelledError and finished anyway at {stamp(self._loop)}")
        elif not isinstance(exc, asyncio.CancelledError):
            lines.append(f"  when cancelled it raised {exc_repr(exc)} instead of CancelledError")
            cause = exc
        self._fail("\n".join(lines), cause)

