"""Fan-out assertions: how exceptions come out of ``asyncio.gather`` and ``asyncio.TaskGroup``.

The children are given as awaitables; coroutines become tasks the assertion creates, so it can report what
each child had done when the parent raised: ``running`` (gather does not cancel siblings), ``returned``,
``raised`` or ``cancelled``.  Children still running when the assertion has looked are cancelled and awaited,
so nothing outlives it.  The TaskGroup and exception-group assertions, which reuse the outcome types and
argument checks here, live in ``_assert_groups.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import _diagnostics
from ._base import (
    AssertionsBase,
    check_awaitable,
    check_loop,
    check_seconds,
    exc_line,
    exc_repr,
    rejecting,
    short_repr,
    stamp,
    where_lines,
)
from ._tracked import AssertionCall
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
    return _diagnostics.describe_task(fut) if isinstance(fut, asyncio.Task) else "future"


def snapshot(index: int, fut: asyncio.Future[Any]) -> ChildOutcome:
    if not fut.done():
        where = where_lines(fut, created=False)
        return ChildOutcome(index, fut, "running", where=where[0].strip() if where else "")
    if fut.cancelled():
        return ChildOutcome(index, fut, "cancelled")
    exc = fut.exception()
    if exc is not None:
        return ChildOutcome(index, fut, "raised", exception=exc)
    return ChildOutcome(index, fut, "returned", result=fut.result())


def check_children(method: str, aws: object, *, coroutines_only: bool = False) -> list[Awaitable[Any]]:
    if isinstance(aws, (str, bytes)) or not isinstance(aws, Sequence):
        raise TypeError(f"{method}() argument 'aws' must be a list of awaitables (the children), got "
                        f"{type(aws).__name__}: {short_repr(aws)}")
    if not aws:
        raise ValueError(f"{method}() argument 'aws' is empty: pass the children, e.g. [fetch(1), fetch(2)]")
    children = [check_awaitable(method, f"aws[{i}]", aw, pending=False) for i, aw in enumerate(aws)]
    if coroutines_only:
        for i, aw in enumerate(children):
            if not asyncio.iscoroutine(aw):
                raise TypeError(f"{method}() argument 'aws[{i}]' must be a coroutine, got {type(aw).__name__}: "
                                f"{short_repr(aw)}; a TaskGroup runs coroutines as its own tasks: pass the "
                                f"coroutine, not a task or future")
    return children


def check_states(method: str, states: object, count: int) -> list[Any] | None:
    if states is None:
        return None
    if isinstance(states, (str, bytes)) or not isinstance(states, Sequence):
        raise TypeError(f"{method}() argument 'states' must be a list with one entry per child ({count}), "
                        f"got {type(states).__name__}: {short_repr(states)}")
    if len(states) != count:
        raise ValueError(f"{method}() argument 'states' must have one entry per child: {count} children, got "
                         f"{len(states)} entries: {short_repr(states)}")
    allowed = f"one of {', '.join(map(repr, STATES))}, an exception class (raised that) or None (anything)"
    for i, state in enumerate(states):
        if state is None or (isinstance(state, type) and issubclass(state, BaseException)):
            continue
        if not isinstance(state, str):
            raise TypeError(f"{method}() argument 'states[{i}]' must be {allowed}, got "
                            f"{type(state).__name__}: {short_repr(state)}")
        if state not in STATES:
            close = [name for name in STATES if name.startswith(state[:3])] if state else []
            raise ValueError(f"{method}() argument 'states[{i}]' is {state!r}, an unknown state: use {allowed}"
                             + (f" (did you mean {close[0]!r}?)" if close else ""))
    return list(states)


def state_ok(expected: Any, child: ChildOutcome) -> bool:
    if expected is None:
        return True
    if isinstance(expected, str):
        return child.state == expected
    return child.state == "raised" and isinstance(child.exception, expected)


def state_name(expected: Any) -> str:
    return expected if isinstance(expected, str) else f"raised {expected.__name__}"


def wrong_state(expected_states: Sequence[Any] | None, outcome: FanOutOutcome) -> str | None:
    """``child 1 was cancelled, expected returned``: the first child not in its expected state, else None."""
    for want, child in zip(expected_states or [], outcome.children, strict=False):
        if not state_ok(want, child):
            return f"child {child.index} was {child.state}, expected {state_name(want)}"
    return None


def _check_exc_types(method: str, expected: object) -> tuple[type[BaseException], ...]:
    types = expected if isinstance(expected, tuple) else (expected,)
    if not types:
        raise ValueError(f"{method}() argument 'expected_exception' is an empty tuple (): pass an exception "
                         f"class or a tuple of them, e.g. (ValueError, KeyError)")
    if not all(isinstance(t, type) and issubclass(t, BaseException) for t in types):
        raise TypeError(f"{method}() argument 'expected_exception' must be an exception class or a tuple of "
                        f"them, got {type(expected).__name__}: {short_repr(expected)}")
    return types


class FanOutAssertionsMixin(AssertionsBase):
    """Assertions about ``asyncio.gather`` and ``asyncio.TaskGroup``."""

    def assertGatherRaises(self, expected_exception: type[BaseException] | tuple[type[BaseException], ...],
                           aws: Sequence[Awaitable[Any]], msg: Any = None, *,
                           states: Sequence[Any] | None = None) -> AssertionCall[FanOutOutcome]:
        """Assert that ``gather(*aws)`` raises *expected_exception*, and what the siblings were doing then.

        gather propagates the first exception and does not cancel the other children.  *states* lists,
        per child, ``"running"``, ``"returned"``, ``"raised"`` (or an exception class), ``"cancelled"`` or
        None (anything), as seen by the caller when gather raised.  Children still running then are cancelled
        and awaited afterwards.  Returns the outcome (``.exception``, ``.states``, ``.children``).
        """
        method = "assertGatherRaises"
        with rejecting(aws):
            types = _check_exc_types(method, expected_exception)
            children = check_children(method, aws)
            expected_states = check_states(method, states, len(children))
            loop, _ = check_loop(method)
        return AssertionCall(self, method,
                             lambda: self._atk_gather_raises(types, children, expected_states, loop, msg),
                             holds=children)

    async def _atk_gather_raises(self, types: tuple[type[BaseException], ...], children: list[Awaitable[Any]],
                                 expected_states: list[Any] | None, loop: asyncio.AbstractEventLoop,
                                 msg: Any) -> FanOutOutcome:
        tasks = [asyncio.ensure_future(aw) for aw in children]
        outer = asyncio.gather(*tasks)
        try:
            await join(outer, self.cancel_grace)
            outcome = FanOutOutcome(None if outer.cancelled() else outer.exception(),
                                    tuple(snapshot(i, t) for i, t in enumerate(tasks)))
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
        wrong = wrong_state(expected_states, outcome)
        if wrong is not None:
            self._atk_fail("\n".join([f"gather() raised {exc_repr(exc)}{source} as expected, but {wrong} "
                                      f"({stamp(loop)})", *rows]), msg)
        return outcome

    def assertGatherResults(self, aws: Sequence[Awaitable[Any]], expected: Sequence[Any],
                            msg: Any = None) -> AssertionCall[list[Any]]:
        """Assert what ``gather(*aws, return_exceptions=True)`` returns, in order, and return that list.

        Each *expected* item is a value (compared with ==), an exception class (the child raised that
        type; ``asyncio.CancelledError`` for a cancelled child) or an exception instance (same type and
        args).
        """
        method = "assertGatherResults"
        with rejecting(aws):
            children = check_children(method, aws)
            if isinstance(expected, (str, bytes)) or not isinstance(expected, Sequence):
                raise TypeError(f"{method}() argument 'expected' must be a list with one entry per child "
                                f"({len(children)}), got {type(expected).__name__}: {short_repr(expected)}")
            if len(expected) != len(children):
                raise ValueError(f"{method}() argument 'expected' must have one entry per child: "
                                 f"{len(children)} children, got {len(expected)} entries: {short_repr(expected)}")
            loop, _ = check_loop(method)
        return AssertionCall(self, method, lambda: self._atk_gather_results(children, expected, loop, msg),
                             holds=children)

    async def _atk_gather_results(self, children: list[Awaitable[Any]], expected: Sequence[Any],
                                  loop: asyncio.AbstractEventLoop, msg: Any) -> list[Any]:
        tasks = [asyncio.ensure_future(aw) for aw in children]
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

    def assertGatherCancelsChildren(self, aws: Sequence[Awaitable[Any]], msg: Any = None, *,
                                    after: float | None = None) -> AssertionCall[None]:
        """Assert that cancelling ``gather(*aws)`` cancels every child that is still running.

        The gather is cancelled once every other task is blocked (or after *after* loop seconds); children
        already finished then are not judged.  A child that swallows the cancellation fails the assertion.
        """
        method = "assertGatherCancelsChildren"
        with rejecting(aws):
            children = check_children(method, aws)
            wait = None if after is None else check_seconds(method, "after", after)
            loop, _ = check_loop(method)
        return AssertionCall(self, method, lambda: self._atk_gather_cancels(children, wait, loop, msg),
                             holds=children)

    async def _atk_gather_cancels(self, children: list[Awaitable[Any]], wait: float | None,
                                  loop: asyncio.AbstractEventLoop, msg: Any) -> None:
        tasks = [asyncio.ensure_future(aw) for aw in children]
        outer = asyncio.gather(*tasks)
        try:
            if wait is None:
                await until_idle(10_000)
            else:
                await asyncio.wait({outer}, timeout=wait)
            if outer.done():
                self._atk_fail("\n".join([f"gather() finished before it could be cancelled ({stamp(loop)}); "
                                          f"cancel it sooner", *[snapshot(i, t).line()
                                                                 for i, t in enumerate(tasks)]]), msg)
            running = [i for i, t in enumerate(tasks) if not t.done()]
            at = stamp(loop)
            outer.cancel()
            await join(outer, self.cancel_grace, self.cancel_grace)
            for i in running:
                await join(tasks[i], self.cancel_grace, self.cancel_grace)
            outcome = [snapshot(i, t) for i, t in enumerate(tasks)]
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
