"""Exception-group assertions: a TaskGroup raises a matching group, a block raises one, a group matches.

The expected group is described with :class:`~asynctestkit.GroupMatch` and
:class:`~asynctestkit.ExceptionMatch` (``_groupmatch.py``).  TaskGroup and exception groups exist from
Python 3.11; on 3.10 these assertions skip the test with an explanation.  ``assertRaisesGroup``'s block works
with ``with`` as well as ``async with``: matching needs no event loop.
"""

from __future__ import annotations

import asyncio
import unittest
from collections.abc import Awaitable, Sequence
from types import TracebackType
from typing import Any

from .. import _compat
from ._base import (
    AssertionsBase,
    check_loop,
    optional_awaitable,
    rejecting,
    short_repr,
    stamp,
)
from ._block import Block
from ._fanout import FanOutOutcome, check_children, check_states, snapshot, wrong_state
from ._groupmatch import GroupMatch, as_group_matcher, is_group, render
from ._tracked import AssertionCall
from ._waits import join, stop

__unittest = True


def _skip_without_groups(method: str) -> None:
    if not _compat.PY311:
        raise unittest.SkipTest(f"{method}() needs Python 3.11+: asyncio.TaskGroup and ExceptionGroup do not "
                                f"exist on Python 3.10")


class RaisesGroup(Block[BaseException]):
    """The block raises an exception group matching a spec (see :class:`~asynctestkit.GroupMatch`).

    Its block form works with ``with`` as well as ``async with``: matching needs no event loop.
    """

    _block_form = "with"

    def __init__(self, case: AssertionsBase, method: str, aw: Awaitable[Any] | None, msg: Any,
                 expected: GroupMatch) -> None:
        super().__init__(case, method, aw, msg)
        self._expected = expected

    #: The loop whose time failure messages show (None for ``with`` outside a running loop).
    _clock: asyncio.AbstractEventLoop | None = None

    def __enter__(self) -> RaisesGroup:
        self._check_block_form()
        try:
            self._clock = asyncio.get_running_loop()
        except RuntimeError:  # a synchronous test: nothing to time
            self._clock = None
        self._start = self._clock.time() if self._clock is not None else 0.0
        return self

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        if self._clock is not None:
            self.elapsed = self._clock.time() - self._start
        return self._exit(exc)

    def _enter(self) -> None:
        self._clock = self._loop

    def _result(self) -> BaseException:
        assert self.exception is not None
        return self.exception

    def _exit(self, exc: BaseException | None) -> bool:
        when = f" ({stamp(self._clock)})" if self._clock is not None else ""
        if exc is None:
            self._fail(f"{self.label} did not raise an exception group{when}\n"
                       f"  expected {self._expected!r}")
        if not self._expected._accepts(exc):
            return False  # another exception: it propagates, as with assertRaises
        reason = self._expected.explain(exc)
        if reason is not None:
            self._fail(_mismatch(f"{self.label} raised an exception group that does not match", reason,
                                 self._expected, exc), exc)
        self.exception = exc
        return True


def _mismatch(head: str, reason: str, expected: Any, exc: BaseException) -> str:
    return "\n".join([f"{head}: {reason}", f"  expected {expected!r}", "  got:", *render(exc, "    ")])


class GroupAssertionsMixin(AssertionsBase):
    """Assertions about ``asyncio.TaskGroup`` and exception groups (3.11+)."""

    def assertTaskGroupRaises(self, expected: Any, aws: Sequence[Awaitable[Any]], msg: Any = None, *,
                              states: Sequence[Any] | None = None) -> AssertionCall[FanOutOutcome]:
        """Assert that a TaskGroup running the coroutines *aws* raises an exception group matching *expected*.

        *expected* describes the group's contents: exception classes, ``ExceptionMatch``, nested
        ``GroupMatch``/lists, or a full ``GroupMatch`` (see :class:`~asynctestkit.GroupMatch`).  *states*
        works as in :meth:`assertGatherRaises`: after a child fails, a TaskGroup cancels its siblings, so
        they show as ``"cancelled"``.  3.11+; skipped on 3.10.
        """
        method = "assertTaskGroupRaises"
        with rejecting(aws):
            # The arguments are checked before the 3.10 skip, so a misuse fails on every version.
            matcher = as_group_matcher(expected, f"{method}() argument 'expected'")
            children = check_children(method, aws, coroutines_only=True)
            expected_states = check_states(method, states, len(children))
            _skip_without_groups(method)
            loop, _ = check_loop(method)
        return AssertionCall(self, method,
                             lambda: self._atk_task_group_raises(matcher, children, expected_states, loop, msg),
                             holds=children)

    async def _atk_task_group_raises(self, matcher: GroupMatch, children: list[Awaitable[Any]],
                                     expected_states: list[Any] | None, loop: asyncio.AbstractEventLoop,
                                     msg: Any) -> FanOutOutcome:
        tasks: list[asyncio.Future[Any]] = []
        task_group: Any = vars(asyncio)["TaskGroup"]  # 3.11+; the caller skipped on 3.10

        async def run_group() -> None:
            async with task_group() as group:
                for coro in children:
                    tasks.append(group.create_task(coro))

        runner = asyncio.ensure_future(run_group())
        try:
            await join(runner, self.cancel_grace)
        finally:
            for task in tasks:
                await stop(task, self.cancel_grace)
            await stop(runner, self.cancel_grace)
        exc = None if runner.cancelled() else runner.exception()
        outcome = FanOutOutcome(exc, tuple(snapshot(i, t) for i, t in enumerate(tasks)))
        rows = [c.line() for c in outcome.children]
        if exc is None:
            self._atk_fail("\n".join([f"the TaskGroup did not raise: every child returned ({stamp(loop)})",
                                      f"  expected {matcher!r}", *rows]), msg)
        reason = matcher.explain(exc)
        members: list[BaseException] = list(getattr(exc, "exceptions", ()))
        hint = ""
        if reason is not None and len(members) == 1 and is_group(members[0]) and not matcher._has_nested_groups():
            # The one failing child ran a TaskGroup of its own: its group is what the user describes.
            inner = matcher.explain(members[0])
            source = next((c.index for c in outcome.children if c.exception is members[0]), 0)
            reason = inner
            hint = (f"\n  (matched against the exception group raised by child {source}, which runs a TaskGroup "
                    f"of its own)")
        if reason is not None:
            nested = [c.index for c in outcome.children if c.exception is not None and is_group(c.exception)]
            if nested and not hint and "write GroupMatch(" not in reason:
                hint = (f"\n  child {nested[0]} raised an exception group of its own (it runs a TaskGroup): "
                        f"describe its group as a nested list in 'expected', e.g. [OSError, [ValueError, "
                        f"KeyError]], or match the exceptions inside it with "
                        f"GroupMatch(..., flatten_subgroups=True)")
            self._atk_fail(_mismatch(f"the TaskGroup raised an exception group that does not match "
                                     f"({stamp(loop)})", reason + hint, matcher, exc) + "\n" + "\n".join(rows),
                           msg, exc)
        wrong = wrong_state(expected_states, outcome)
        if wrong is not None:
            self._atk_fail("\n".join([f"the TaskGroup raised the expected exception group, but {wrong} "
                                      f"({stamp(loop)})", *rows]), msg)
        return outcome

    def assertRaisesGroup(self, expected: Any, aw: Awaitable[Any] | None = None,
                          msg: Any = None) -> Block[BaseException]:
        """Assert that *aw* (or the ``async with`` block) raises an exception group matching *expected*.

        *expected* is as in :meth:`assertTaskGroupRaises`.  Returns the group (``cm.exception`` in the
        block form).  Any other exception propagates unchanged, as with ``assertRaises``.  3.11+.
        """
        method = "assertRaisesGroup"
        with rejecting(aw):
            matcher = as_group_matcher(expected, f"{method}() argument 'expected'")
            aw = optional_awaitable(method, aw)
            _skip_without_groups(method)
        return RaisesGroup(self, method, aw, msg, matcher)

    def assertExceptionGroupMatches(self, exception: BaseException, expected: Any, msg: Any = None) -> None:
        """Assert that *exception* is an exception group matching *expected* (see :meth:`assertRaisesGroup`)."""
        method = "assertExceptionGroupMatches"
        if not isinstance(exception, BaseException):
            raise TypeError(f"{method}() argument 'exception' must be an exception, got "
                            f"{type(exception).__name__}: {short_repr(exception)}")
        matcher = as_group_matcher(expected, f"{method}() argument 'expected'")
        _skip_without_groups(method)
        reason = matcher.explain(exception)
        if reason is not None:
            self._atk_fail(_mismatch("exception group does not match", reason, matcher, exception), msg)
