"""Assertions about a block of code, usable both as ``async with`` and as ``await`` on an awaitable.

``self.assertCompletesWithin(5)`` without an awaitable is an async context manager around a block;
``await self.assertCompletesWithin(5, fetch())`` runs the awaitable as that block and returns its result.
:class:`Block` holds what the two forms share; :class:`AssertionCall` is what the assertions that can only
be awaited return; :class:`Within` is the one engine behind every "completes within a limit" assertion:

- a *deadline* (loop seconds): when it passes, everything already due runs first (the deadline is
  inclusive: a ``sleep`` of exactly the allowed time passes), then the block is cancelled;
- an *iteration budget*: the block is cancelled in the loop iteration after the last one allowed;
- *no idling*: the block is cancelled the first time the loop has nothing ready and would wait.

The block runs in the current task and is cancelled the way ``asyncio.timeout()`` does it: the
CancelledError raised inside is turned into the assertion's failure on the way out, and on 3.11+ the
cancellation request is withdrawn with ``uncancel()``; a cancellation that came from elsewhere at the same
time still propagates.

Nothing passes by accident: every block and call registers with the test case that made it, and a cleanup
(added the first time) fails the test when one of them was never awaited or entered, naming the line that
made it (see :func:`check_unawaited`).  Plain ``with`` on an async-only block raises a TypeError that
spells the ``async with`` line to write.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, NoReturn, TypeVar

from . import _compat, diagnostics
from ._assert_base import (
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
from ._waits import SETTLE_ITERATIONS

if TYPE_CHECKING:
    from ._assert_base import AssertionsBase

__unittest = True

_R = TypeVar("_R")
_B = TypeVar("_B", bound="Block[Any]")

#: Attribute of a test case holding its assertions not yet awaited or entered (id -> object).
_PENDING = "_atk_unawaited"
#: Attribute of a test case set when a task that made one of its assertions ended with an exception.
_TASK_FAILED = "_atk_assertion_task_failed"
#: Attribute of a test case: ids of the tasks already watched for _TASK_FAILED.
_WATCHED = "_atk_assertion_tasks"
_MAX_LISTED = 5


class _Tracked:
    """What every assertion object shares: it must be used (awaited or entered) exactly once.

    It registers with the test case at creation; :func:`check_unawaited`, a cleanup of that test, fails the
    test for every one still unused, so a forgotten ``await`` never passes silently.
    """

    def __init__(self, case: AssertionsBase, method: str) -> None:
        self._used = False
        self._case = case
        self._method = method
        self._site = diagnostics.caller_site()
        _register(case, self)

    def _mark_used(self) -> None:
        self._used = True
        pending = getattr(self._case, "__dict__", {}).get(_PENDING)
        if pending is not None:
            pending.pop(id(self), None)

    def _held(self) -> object:
        """The coroutines this object would have run (closed when it is abandoned)."""
        return None

    def _abandon(self) -> None:
        """Never used: close what it holds so no "coroutine was never awaited" report follows."""
        self._used = True
        close_coroutines(self._held())

    def _form(self) -> str:
        """How this object is used: ``await``, ``async with``, or ``with`` (either kind of ``with``)."""
        return "await"

    def _spelling(self) -> str:
        """The right way to write this call, as a code span: ``await self.assertTakes(...)``."""
        form = self._form()
        if form == "with":
            return f"`with self.{self._method}(...):` or `async with self.{self._method}(...):`"
        if form == "async with":
            return f"`async with self.{self._method}(...):`"
        return f"`await self.{self._method}(...)`"

    def _verb(self) -> str:
        return "awaited" if self._form() == "await" else "entered"

    def _unawaited_message(self) -> str:
        """``assertTakes(...) was never awaited: write `await self.assertTakes(...)` `` plus where it was made."""
        site = self._site
        where = diagnostics.format_site(site, with_source=True) if site is not None else "<unknown>"
        return (f"{self._method}(...) was never {self._verb()}: write {self._spelling()}; it checked "
                f"nothing\n  made at {where}")

    def __del__(self) -> None:
        # Only reached when no test case cleanup looked at it (made outside a running test).
        if getattr(self, "_used", True):
            return
        self._used = True
        close_coroutines(self._held())
        warnings.warn(f"{self._method}(...) was never {self._verb()}: write {self._spelling()}",
                      RuntimeWarning, stacklevel=1)


def _register(case: object, obj: _Tracked) -> None:
    """Remember *obj* on its test case; the first time, add the cleanup that reports the forgotten ones."""
    state = getattr(case, "__dict__", None)
    add_cleanup = getattr(case, "addCleanup", None)
    if state is None or add_cleanup is None:
        return
    pending = state.get(_PENDING)
    if pending is None:
        pending = state[_PENDING] = {}
        add_cleanup(check_unawaited, case)
    pending[id(obj)] = obj
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    watched: set[int] = state.setdefault(_WATCHED, set())
    if task is not None and id(task) not in watched:
        watched.add(id(task))
        task.add_done_callback(lambda done: _note_task_outcome(case, done))


def _note_task_outcome(case: object, task: asyncio.Future[Any]) -> None:
    # An exception nobody has read yet is not read here (asyncio still logs it if nobody does); one already
    # read (the runner reads the test's own task before this callback runs) can be read again freely.
    if task.cancelled() or _compat.exception_never_retrieved(task) or task.exception() is not None:
        vars(case)[_TASK_FAILED] = True


def check_unawaited(case: Any) -> None:
    """Fail the test for each assertion it made and never awaited or entered (a cleanup of that test).

    The coroutines such an assertion holds are closed, so the leak check does not report them a second
    time; a test that already failed, errored or was skipped keeps its own outcome and gets no second
    failure.
    """
    pending: dict[int, _Tracked] = vars(case).pop(_PENDING, None) or {}
    forgotten = [obj for obj in pending.values() if not obj._used]
    for obj in forgotten:
        obj._abandon()
    task_failed = vars(case).pop(_TASK_FAILED, False)
    vars(case).pop(_WATCHED, None)
    if not forgotten:
        return
    decided = _compat.test_already_failed(case)
    if decided or (decided is None and task_failed):
        return
    if len(forgotten) == 1:
        text = forgotten[0]._unawaited_message()
    else:
        lines = [f"{len(forgotten)} assertions were never awaited or entered; they checked nothing:"]
        for obj in forgotten[:_MAX_LISTED]:
            lines += ["  " + line for line in obj._unawaited_message().splitlines()]
        if len(forgotten) > _MAX_LISTED:
            lines.append(f"  ... and {len(forgotten) - _MAX_LISTED} more")
        text = "\n".join(lines)
    raise case.failureException(text)


class AssertionCall(_Tracked, Generic[_R]):
    """What an assertion that can only be awaited returns: ``await`` it to run the check and get its result.

    ``outcome = await self.assertGatherRaises(...)``.  Awaiting it twice, entering it with ``with`` or
    ``async with``, or never awaiting it are errors (the last one fails the test that made it).
    """

    def __init__(self, case: AssertionsBase, method: str, run: Callable[[], Coroutine[Any, Any, _R]],
                 holds: object = None) -> None:
        super().__init__(case, method)
        self._run = run
        self._holds = holds

    def _held(self) -> object:
        return self._holds

    def __await__(self) -> Generator[Any, None, _R]:
        if self._used:
            raise RuntimeError(f"{self._method}(...) was already awaited: call it again to check again")
        self._mark_used()
        self._holds = None
        return self._run().__await__()

    def _not_a_context_manager(self) -> NoReturn:
        self._mark_used()
        close_coroutines(self._holds)
        raise TypeError(f"{self._method}() is not a context manager: write `await self.{self._method}(...)`")

    def __enter__(self) -> NoReturn:
        self._not_a_context_manager()

    def __exit__(self, *exc_info: object) -> None:  # pragma: no cover - __enter__ always raises
        return None

    async def __aenter__(self) -> NoReturn:
        self._not_a_context_manager()

    async def __aexit__(self, *exc_info: object) -> None:  # pragma: no cover - __aenter__ always raises
        return None

    def __repr__(self) -> str:
        return f"<{self._method}(...) {'awaited' if self._used else 'not awaited yet'}>"


class Block(_Tracked, Generic[_R]):
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
        self.label = describe(aw) if aw is not None else f"the block at {diagnostics.format_site(self._site)}"
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

