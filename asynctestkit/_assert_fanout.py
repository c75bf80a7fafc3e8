"""Fan-out assertions: how exceptions come out of ``asyncio.gather`` and ``asyncio.TaskGroup``.

The children are given as awaitables; coroutines become tasks the assertion creates, so it can report what
each child had done when the parent raised: ``running`` (gather does not cancel siblings), ``returned``,
``raised`` or ``cancelled``.  Children still running when the assertion has looked are cancelled and awaited,
so nothing outlives it.  TaskGroup and exception groups exist from Python 3.11; on 3.10 those assertions
skip the test with an explanation.
"""

from __future__ import annotations

import asyncio
import unittest
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

from . import _compat, diagnostics
from ._assert_base import (
    AssertionsBase,
    check_awaitable,
    check_loop,
    check_seconds,
    exc_line,
    exc_repr,
    rejecting,
    short_repr,
    stamp,
    start,
    where_lines,
)
from ._block import Block
from ._groupmatch import as_group_matcher, render
from ._waits import join, stop, until_idle

__unittest = True

STATES = ("running", "returned", "raised", "cancelled")


@dataclass(frozen=True)
class ChildOutcome:
    """What one child of a gather or TaskGroup had done when the parent finished."""

    index: int
    task: asyncio.Future[Any]
    state: str                               # "running", "returned", "raised" or "cancelled"
    result: Any = None
    exception: BaseException | None = None
    where: str = ""                          # where a running child was suspended

    def line(self) -> str:
        head = f"  child {self.index} {_name(self.task)}: "
        if self.state == "returned":
            return head + f"returned {short_repr(self.result)}"
        if self.state == "raised":
            assert self.exception is not None
            return head + "raised " + exc_line(self.exception)
        if self.state == "running":
            return head + "running" + (", " + self.where if self.where else "")
        return head + "cancelled"


@dataclass(frozen=True)
class FanOutOutcome:
    """What a gather/TaskGroup assertion saw: the exception that came out and each child's state."""

    exception: BaseException | None
    children: tuple[ChildOutcome, ...]

    @property
    def states(self) -> list[str]:
        return [child.state for child in self.children]


def _name(fut: asyncio.Future[Any]) -> str:
    return diagnostics.describe_task(fut) if isinstance(fut, asyncio.Task) else "future"


def _snapshot(index: int, fut: asyncio.Future[Any]) -> ChildOutcome:
    if not fut.done():
        where = where_lines(fut, created=False)
        return ChildOutcome(index, fut, "running", where=where[0].strip() if where else "")
    if fut.cancelled():
        return ChildOutcome(index, fut, "cancelled")
    exc = fut.exception()
    if exc is not None:
        return ChildOutcome(index, fut, "raised", exception=exc)
    return ChildOutcome(index, fut, "returned", result=fut.result())


def _check_children(method: str, aws: object, *, coroutines_only: bool = False) -> list[Awaitable[Any]]:
    if isinstance(aws, (str, bytes)) or not isinstance(aws, Sequence):
        raise TypeError(f"{method}() argument 'aws' must be a list of awaitables (the children), got "
                        f"{type(aws).__name__}: {short_repr(aws)}")
    if not aws:
        raise ValueError(f"{method}() argument 'aws' is empty: pass the children, e.g. [fetch(1), fetch(2)]")
    children = [check_awaitable(method, f"aws[{i}]", aw, pending=False) for i, aw in enumerate(aws)]
    if coroutines_only:
        for i, aw in enumerate(children):
            if not asyncio.iscoroutine(aw):
                raise TypeError(f"{method}() argument 'aws[{i}]' must be a coroutine: a TaskGroup runs "
                                f"coroutines as its own tasks; pass the coroutine, not a task or future")
    return children


def _check_states(method: str, states: object, count: int) -> list[Any] | None:
    if states is None:
        return None
    if isinstance(states, (str, bytes)) or not isinstance(states, Sequence) or len(states) != count:
        raise ValueError(f"{method}() argument 'states' must be a list with one entry per child ({count}), "
                         f"got {short_repr(states)}")
    for i, state in enumerate(states):
        ok = state is None or state in STATES or (isinstance(state, type) and issubclass(state, BaseException))
        if not ok:
            raise ValueError(f"{method}() argument 'states[{i}]' must be one of {', '.join(map(repr, STATES))}, "
                             f"an exception class (raised that) or None (anything), got {state!r}")
    return list(states)


def _state_ok(expected: Any, child: ChildOutcome) -> bool:
    if expected is None:
        return True
    if isinstance(expected, str):
        return child.state == expected
    return child.state == "raised" and isinstance(child.exception, expected)


def _state_name(expected: Any) -> str:
    return expected if isinstance(expected, str) else f"raised {expected.__name__}"


def _check_exc_types(method: str, expected: object) -> tuple[type[BaseException], ...]:
    types = expected if isinstance(expected, tuple) else (expected,)
    if not types or not all(isinstance(t, type) and issubclass(t, BaseException) for t in types):
        raise TypeError(f"{method}() argument 'expected_exception' must be an exception class or a tuple of "
                        f"them, got {short_repr(expected)}")
    return types


def _skip_without_groups(method: str) -> None:
    if not _compat.PY311:
        raise unittest.SkipTest(f"{method}() needs Python 3.11+: asyncio.TaskGroup and ExceptionGroup do not "
                                f"exist on Python 3.10")


class RaisesGroup(Block[BaseException]):
    """The block raises an exception group matching a spec (see :class:`~asynctestkit.GroupMatch`)."""

    def __init__(self, case: AssertionsBase, method: str, aw: Awaitable[Any] | None, msg: Any,
                 expected: Any) -> None:
        super().__init__(case, method, aw, msg)
        self._expected = expected

    def _result(self) -> BaseException:
        assert self.exception is not None
        return self.exception

    def _exit(self, exc: BaseException | None) -> bool:
        if exc is None:
            self._fail(f"{self.label} did not raise an exception group ({stamp(self._loop)})\n"
                       f"  expected {self._expected!r}")
        reason = self._expected.explain(exc)
        if reason is not None and "not an exception group" in reason:
            return False  # another exception: it propagates, as with assertRaises
        if reason is not None:
            self._fail(_mismatch(f"{self.label} raised an exception group that does not match", reason,
                                 self._expected, exc), exc)
        self.exception = exc
        return True


def _mismatch(head: str, reason: str, expected: Any, exc: BaseException) -> str:
    return "\n".join([f"{head}: {reason}", f"  expected {expected!r}", "  got:", *render(exc, "    ")])


class FanOutAssertionsMixin(AssertionsBase):
    """Assertions about ``asyncio.gather`` and ``asyncio.TaskGroup``."""

    async def assertGatherRaises(self, expected_exception: type[BaseException] | tuple[type[BaseException], ...],
                                 aws: Sequence[Awaitable[Any]], msg: Any = None, *,
                                 states: Sequence[Any] | None = None) -> FanOutOutcome:
        """Assert that ``gather(*aws)`` raises *expected_exception*, and what the siblings were doing then.

        gather propagates the first exception and does not cancel the other children.  *states* lists,
        per child, ``"running"``, ``"returned"``, ``"raised"`` (or an exception class), ``"cancelled"`` or
        None (anything), as seen by the caller when gather raised.  Children still running then are cancelled
        and awaited afterwards.  Returns the outcome (``.exception``, ``.states``, ``.children``).
        """
        method = "assertGatherRaises"
        with rejecting(aws):
            types = _check_exc_types(method, expected_exception)
            children = _check_children(method, aws)
            expected_states = _check_states(method, states, len(children))
            loop, _ = check_loop(method)
        tasks = [start(aw) for aw in children]
        outer = asyncio.gather(*tasks)
        try:
            await join(outer, self.cancel_grace)
            outcome = FanOutOutcome(None if outer.cancelled() else outer.exception(),
                                    tuple(_snapshot(i, t) for i, t in enumerate(tasks)))
        finally:
            for task in tasks:
                await stop(task, self.cancel_grace)
        exc, rows = outcome.exception, [c.line() for c in outcome.children]
        wanted = " or ".join(t.__name__ for t in types)
        if exc is None:
            self._atk_fail("\n".join([f"gather() did not raise {wanted}: every child returned "
                                      f"({stamp(loop)})", *rows]), msg)
        source = next((f" from child {c.index}" for c in outcome.children if c.exception is exc), "")
        if not isinstance(exc, types):
            self._atk_fail("\n".join([f"gather() raised {exc_repr(exc)}{source} instead of {wanted} "
                                      f"({stamp(loop)})", *rows]), msg, exc)
        for want, child in zip(expected_states or [], outcome.children, strict=False):
            if not _state_ok(want, child):
                self._atk_fail("\n".join([
                    f"gather() raised {exc_repr(exc)}{source} as expected, but child {child.index} was "
                    f"{child.state}, expected {_state_name(want)} ({stamp(loop)})", *rows]), msg)
        return outcome

    async def assertGatherResults(self, aws: Sequence[Awaitable[Any]], expected: Sequence[Any],
                                  msg: Any = None) -> list[Any]:
        """Assert what ``gather(*aws, return_exceptions=True)`` returns, in order, and return that list.

        Each *expected* item is a value (compared with ==), an exception class (the child raised that
        type; ``asyncio.CancelledError`` for a cancelled child) or an exception instance (same type and
        args).
        """
        method = "assertGatherResults"
        with rejecting(aws):
            children = _check_children(method, aws)
            if isinstance(expected, (str, bytes)) or not isinstance(expected, Sequence) \
                    or len(expected) != len(children):
                raise ValueError(f"{method}() argument 'expected' must be a list with one entry per child "
                                 f"({len(children)}), got {short_repr(expected)}")
            loop, _ = check_loop(method)
        tasks = [start(aw) for aw in children]
        outer = asyncio.gather(*tasks, return_exceptions=True)
        try:
            await join(outer, self.cancel_grace)
        finally:
            for task in tasks:
                await stop(task, self.cancel_grace)
        results = list(outer.result())
        rows, first = [], None
        for i, (want, got) in enumerate(zip(expected, results, strict=True)):
            ok = _result_ok(want, got)
            shown = exc_repr(got) if isinstance(got, BaseException) else short_repr(got)
            rows.append(f"  [{i}] {'ok  ' if ok else 'DIFF'} {shown}"
                        + ("" if ok else f"  expected {_expected_name(want)}  ({_name(tasks[i])})"))
            if not ok and first is None:
                first = f"result {i} differs: expected {_expected_name(want)}, got {shown}"
        if first is not None:
            self._atk_fail("\n".join([f"gather(return_exceptions=True) {first} ({stamp(loop)})", *rows]), msg)
        return results

    async def assertGatherCancelsChildren(self, aws: Sequence[Awaitable[Any]], msg: Any = None, *,
                                          after: float | None = None) -> None:
        """Assert that cancelling ``gather(*aws)`` cancels every child that is still running.

        The gather is cancelled once every other task is blocked (or after *after* loop seconds); children
        already finished then are not judged.  A child that swallows the cancellation fails the assertion.
        """
        method = "assertGatherCancelsChildren"
        with rejecting(aws):
            children = _check_children(method, aws)
            wait = None if after is None else check_seconds(method, "after", after)
            loop, _ = check_loop(method)
        tasks = [start(aw) for aw in children]
        outer = asyncio.gather(*tasks)
        try:
            if wait is None:
                await until_idle(10_000)
            else:
                await asyncio.wait({outer}, timeout=wait)
            if outer.done():
                self._atk_fail("\n".join([f"gather() finished before it could be cancelled ({stamp(loop)}); "
                                          f"cancel it sooner", *[_snapshot(i, t).line()
                                                                 for i, t in enumerate(tasks)]]), msg)
            running = [i for i, t in enumerate(tasks) if not t.done()]
            at = stamp(loop)
            outer.cancel()
            await join(outer, self.cancel_grace, self.cancel_grace)
            for i in running:
                await join(tasks[i], self.cancel_grace, self.cancel_grace)
            outcome = [_snapshot(i, t) for i, t in enumerate(tasks)]
        finally:
            for task in tasks:
                await stop(task, self.cancel_grace)
            if outer.done() and not outer.cancelled():
                outer.exception()
        bad = [c for c in outcome if c.index in running and c.state != "cancelled"]
        if bad:
            self._atk_fail("\n".join([f"cancelling gather() at {at} did not cancel child {bad[0].index}: it "
                                      f"{'kept running' if bad[0].state == 'running' else bad[0].state}",
                                      *[c.line() for c in outcome]]), msg)

    async def assertTaskGroupRaises(self, expected: Any, aws: Sequence[Awaitable[Any]], msg: Any = None, *,
                                    states: Sequence[Any] | None = None) -> FanOutOutcome:
        """Assert that a TaskGroup running the coroutines *aws* raises an exception group matching *expected*.

        *expected* describes the group's contents: exception classes, ``ExceptionMatch``, nested
        ``GroupMatch``/lists, or a full ``GroupMatch`` (see :class:`~asynctestkit.GroupMatch`).  *states*
        works as in :meth:`assertGatherRaises`: after a child fails, a TaskGroup cancels its siblings, so
        they show as ``"cancelled"``.  3.11+; skipped on 3.10.
        """
        method = "assertTaskGroupRaises"
        with rejecting(aws):
            _skip_without_groups(method)
            matcher = as_group_matcher(expected, "expected")
            children = _check_children(method, aws, coroutines_only=True)
            expected_states = _check_states(method, states, len(children))
            loop, _ = check_loop(method)
        tasks: list[asyncio.Future[Any]] = []
        task_group: Any = vars(asyncio)["TaskGroup"]  # 3.11+; the caller skipped on 3.10

        async def run_group() -> None:
            async with task_group() as group:
                for coro in children:
                    tasks.append(group.create_task(coro))

        runner = start(run_group())
        try:
            await join(runner, self.cancel_grace)
        finally:
            for task in tasks:
                await stop(task, self.cancel_grace)
            await stop(runner, self.cancel_grace)
        exc = None if runner.cancelled() else runner.exception()
        outcome = FanOutOutcome(exc, tuple(_snapshot(i, t) for i, t in enumerate(tasks)))
        rows = [c.line() for c in outcome.children]
        if exc is None:
            self._atk_fail("\n".join([f"the TaskGroup did not raise: every child returned ({stamp(loop)})",
                                      f"  expected {matcher!r}", *rows]), msg)
        reason = matcher.explain(exc)
        if reason is not None:
            self._atk_fail(_mismatch(f"the TaskGroup raised an exception group that does not match "
                                     f"({stamp(loop)})", reason, matcher, exc) + "\n" + "\n".join(rows),
                           msg, exc)
        for want, child in zip(expected_states or [], outcome.children, strict=False):
            if not _state_ok(want, child):
                self._atk_fail("\n".join([
                    f"the TaskGroup raised the expected exception group, but child {child.index} was "
                    f"{child.state}, expected {_state_name(want)} ({stamp(loop)})", *rows]), msg)
        return outcome

    def assertRaisesGroup(self, expected: Any, aw: Awaitable[Any] | None = None,
                          msg: Any = None) -> Block[BaseException]:
        """Assert that *aw* (or the ``async with`` block) raises an exception group matching *expected*.

        *expected* is as in :meth:`assertTaskGroupRaises`.  Returns the group (``cm.exception`` in the
        block form).  Any other exception propagates unchanged, as with ``assertRaises``.  3.11+.
        """
        method = "assertRaisesGroup"
        with rejecting(aw):
            _skip_without_groups(method)
            matcher = as_group_matcher(expected, "expected")
            if aw is not None:
                aw = check_awaitable(method, "aw", aw)
        return RaisesGroup(self, method, aw, msg, matcher)

    def assertExceptionGroupMatches(self, exception: BaseException, expected: Any, msg: Any = None) -> None:
        """Assert that *exception* is an exception group matching *expected* (see :meth:`assertRaisesGroup`)."""
        method = "assertExceptionGroupMatches"
        _skip_without_groups(method)
        if not isinstance(exception, BaseException):
            raise TypeError(f"{method}() argument 'exception' must be an exception, got "
                            f"{type(exception).__name__}: {short_repr(exception)}")
        matcher = as_group_matcher(expected, "expected")
        reason = matcher.explain(exception)
        if reason is not None:
            self._atk_fail(_mismatch("exception group does not match", reason, matcher, exception), msg)


def _result_ok(want: Any, got: Any) -> bool:
    if isinstance(want, type) and issubclass(want, BaseException):
        return isinstance(got, want)
    if isinstance(want, BaseException):
        return type(got) is type(want) and got.args == want.args
    try:
        return bool(got == want)
    except Exception:
        return False


def _expected_name(want: Any) -> str:
    if isinstance(want, type) and issubclass(want, BaseException):
        return want.__name__
    return exc_repr(want) if isinstance(want, BaseException) else short_repr(want)
