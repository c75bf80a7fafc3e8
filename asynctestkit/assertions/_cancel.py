"""Cancellation assertions: a task ends cancelled, CancelledError comes out, cleanup ran, shield, cancelling().

Most of them run the code under test in a child task, let it reach the point where it waits (every other
task is blocked, or *after* loop seconds), cancel it exactly like an outside caller would, and judge what
comes out.  Whatever happens, the child is not left running: it is awaited, or cancelled again, and a child
that refuses to stop is reported.
"""

from __future__ import annotations

import asyncio
import unittest
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from .. import _compat
from .._diagnostics import format_site
from ._base import (
    AssertionsBase,
    check_awaitable,
    check_loop,
    check_predicate,
    check_seconds,
    describe,
    exc_repr,
    fmt_seconds,
    optional_awaitable,
    outcome_of,
    predicate_name,
    raised_at,
    rejecting,
    short_repr,
    stamp,
    where_lines,
)
from ._block import Block
from ._tracked import AssertionCall
from ._waits import join, stop, until_idle, wait_done, wait_until

__unittest = True

_IDLE_BUDGET = 10_000
_HINT = ("  look for `except BaseException:`, a bare `except:`, `except asyncio.CancelledError:` without "
         "`raise`, or contextlib.suppress(CancelledError) around that line")


@dataclass
class _Cancelled:
    """What happened when an assertion cancelled the code under test."""

    label: str
    child: asyncio.Future[Any]
    at: str                      # stamp of the cancellation
    where: list[str] = field(default_factory=list)   # where it was suspended when cancelled
    stopped: bool = True         # finished (in any way) after the cancellation

    def lines(self, subject: str = "") -> list[str]:
        """``cancelled at virtual t=1.000s while suspended at app.py:12 in fetch: ...`` and the task line."""
        where = list(self.where)
        head = f"  {subject + ' was ' if subject else ''}cancelled at {self.at}"
        if where and where[0].startswith("  suspended at "):
            where[0] = f"{head} while {where[0][2:]}"
        else:
            where.insert(0, head)
        return where


class CancellingBalanced(Block[Any]):
    """``Task.cancelling()`` is the same after the block as before it (3.11+)."""

    def _enter(self) -> None:
        self._before = _compat.cancelling(self._task)

    async def _await(self, aw: Awaitable[Any]) -> Any:
        fut = asyncio.ensure_future(aw)
        self._target = fut
        self._before = _compat.cancelling(fut) if isinstance(fut, asyncio.Task) else 0
        await join(fut, self._case.cancel_grace)
        return fut.result()

    def _exit(self, exc: BaseException | None) -> bool:
        child = self._target
        task = child if isinstance(child, asyncio.Task) else self._task
        if child is None and isinstance(exc, asyncio.CancelledError):
            return False  # the block is being cancelled from outside: not a question of balance
        after = _compat.cancelling(task)
        if after == self._before:
            return False
        owner = self.label if child is not None else f"{self.label} (in {describe(task)})"
        if after > self._before:
            extra = after - self._before
            lines = [f"{owner} left cancelling() at {after}, it was {self._before} before: {extra} "
                     f"cancellation request{'s' if extra > 1 else ''} never withdrawn with uncancel()",
                     "  a CancelledError was caught and not re-raised (a swallowed cancellation or timeout); "
                     "asyncio.timeout() and TaskGroup in this task will now mistake their own timeouts for "
                     "an outside cancellation"]
            if child is not None and child.cancelled():
                lines.append(f"  it then ended cancelled ({stamp(self._loop)})")
            if child is None:
                for _ in range(extra):  # leave the test's task as it was, so teardown is not affected
                    _compat.uncancel(task)
        else:
            lines = [f"{owner} dropped cancelling() from {self._before} to {after}: uncancel() was called "
                     f"without a matching cancel(), hiding an outside cancellation request"]
        self._fail("\n".join(lines), exc if exc is not None and child is not None else None)


class CancellationAssertionsMixin(AssertionsBase):
    """Assertions about how code behaves when it is cancelled."""

    def assertTaskCancelled(self, task: asyncio.Future[Any], msg: Any = None, *,
                            within: float | None = None) -> AssertionCall[None]:
        """Assert that *task* ends cancelled, waiting for it to end if it is still running.

        Nothing is cancelled by this assertion: it checks that something else did.  With *within*, a task
        still running after that many loop seconds fails the assertion (and is then cancelled, so it does
        not leak); without it the wait has no limit (the virtual clock reports a task that can never end).
        """
        method = "assertTaskCancelled"
        given: object = task
        with rejecting(given):
            if not isinstance(given, asyncio.Future):
                hint = (": to cancel a coroutine and check that CancelledError comes out, use "
                        "assertCancellationPropagates(coro)" if asyncio.iscoroutine(given) else "")
                raise TypeError(f"{method}() argument 'task' must be an asyncio task or future, got "
                                f"{type(given).__name__}: {short_repr(given)}{hint}")
            limit = None if within is None else check_seconds(method, "within", within)
            loop, _ = check_loop(method)
        return AssertionCall(self, method, lambda: self._atk_task_cancelled(task, limit, loop, msg))

    async def _atk_task_cancelled(self, task: asyncio.Future[Any], limit: float | None,
                                  loop: asyncio.AbstractEventLoop, msg: Any) -> None:
        if not await wait_done(task, limit):
            where = where_lines(task)
            await stop(task, self.cancel_grace)
            self._atk_fail(f"{describe(task)} did not end within {fmt_seconds(limit or 0)} "
                           f"({stamp(loop)}); it was still running and has now been cancelled\n"
                           + "\n".join(where), msg)
        if task.cancelled():
            return
        exc = task.exception()
        self._atk_fail("\n".join([f"{describe(task)} did not end cancelled: it {outcome_of(task)}",
                                  *where_lines(task)]), msg, exc)

    def assertCancellationPropagates(self, aw: Awaitable[Any], msg: Any = None, *,
                                     after: float | None = None) -> AssertionCall[None]:
        """Assert that cancelling *aw* makes CancelledError come out of it.

        *aw* runs in a task that is cancelled once every other task is blocked (or after *after* loop
        seconds).  Fails when it swallows the cancellation (returns, or keeps running ``cancel_grace`` loop
        seconds later), turns it into another exception, or finishes before it could be cancelled.  The
        failure names the line it was suspended at when cancelled.
        """
        method = "assertCancellationPropagates"
        with rejecting(aw):
            aw = check_awaitable(method, "aw", aw)
            wait = None if after is None else check_seconds(method, "after", after)
            check_loop(method)

        async def run() -> None:
            self._atk_judge_cancel(await self._atk_cancel(method, aw, wait, msg), msg)

        return AssertionCall(self, method, run, holds=aw)

    def assertCleanupOnCancel(self, aw: Awaitable[Any], cleaned_up: Any, msg: Any = None, *,
                              after: float | None = None) -> AssertionCall[None]:
        """Assert that cancelling *aw* runs its cleanup: ``cleaned_up()`` is false when it is cancelled, true after.

        *cleaned_up* is a zero-argument callable (``lambda: not lock.locked()``, ``lambda: conn.closed``,
        ``lambda: mock.called``) or an ``asyncio.Event`` set by the cleanup; a ``finally:`` block, a done
        callback or a context manager's exit all count.  *aw* is cancelled as in
        :meth:`assertCancellationPropagates`; cleanup that is still running (an ``await`` in a ``finally``)
        gets ``cancel_grace`` loop seconds.  Only the cleanup is judged here, not what comes out.
        """
        method = "assertCleanupOnCancel"
        with rejecting(aw):
            aw = check_awaitable(method, "aw", aw)
            check = check_predicate(method, "cleaned_up", cleaned_up)
            wait = None if after is None else check_seconds(method, "after", after)
            name = predicate_name(cleaned_up)
            check_loop(method)
        return AssertionCall(self, method, lambda: self._atk_cleanup_on_cancel(method, aw, check, name, wait, msg),
                             holds=aw)

    async def _atk_cleanup_on_cancel(self, method: str, aw: Awaitable[Any], check: Any, name: str,
                                     wait: float | None, msg: Any) -> None:
        done = await self._atk_cancel(method, aw, wait, msg, before=check, before_name=name)
        loop = asyncio.get_running_loop()
        if await wait_until(check, self.cancel_grace if not done.stopped else 0):
            return
        self._atk_fail("\n".join([
            f"cleanup did not run when {done.label} was cancelled: {name} is still false "
            f"({stamp(loop)})", *done.lines(), f"  then {done.label} {outcome_of(done.child)}"]), msg)

    def assertShielded(self, aw: Awaitable[Any], shielded: Any, msg: Any = None, *,
                       after: float | None = None, within: float | None = None) -> AssertionCall[Any]:
        """Assert that cancelling *aw* does not stop *shielded*: it still completes.

        *shielded* is the task or future *aw* protects with ``asyncio.shield()`` (it must end with a
        result, not cancelled: its result is returned), or a check like :meth:`assertCleanupOnCancel`'s that
        becomes true when the shielded work is done.  *aw* is cancelled as in
        :meth:`assertCancellationPropagates`; then the shielded work gets *within* loop seconds (default
        ``cancel_grace``).  On failure a still-running *shielded* task is cancelled so it does not leak.
        """
        method = "assertShielded"
        with rejecting(aw, shielded):
            aw = check_awaitable(method, "aw", aw)
            if isinstance(shielded, asyncio.Future):
                fut: asyncio.Future[Any] | None = shielded
                check = shielded.done
                name = describe(shielded)
                if shielded.done():
                    raise ValueError(f"{method}() argument 'shielded' is {name}, which has already finished "
                                     f"({outcome_of(shielded)}): pass it while it is still running")
            else:
                fut = None
                check = check_predicate(method, "shielded", shielded)
                name = predicate_name(shielded)
            wait = None if after is None else check_seconds(method, "after", after)
            grace = self.cancel_grace if within is None else check_seconds(method, "within", within)
            check_loop(method)
        return AssertionCall(self, method,
                             lambda: self._atk_shielded(method, aw, fut, check, name, wait, grace, msg), holds=aw)

    async def _atk_shielded(self, method: str, aw: Awaitable[Any], fut: asyncio.Future[Any] | None, check: Any,
                            name: str, wait: float | None, grace: float, msg: Any) -> Any:
        loop = asyncio.get_running_loop()
        try:
            done = await self._atk_cancel(method, aw, wait, msg, before=check, before_name=name)
            completed = await wait_until(check, grace)
        except BaseException:
            if fut is not None and not fut.done():
                await stop(fut, self.cancel_grace)
            raise
        lines: list[str] = []
        if not completed:
            assert fut is None or not fut.done()
            lines = [f"the shielded work did not complete after {done.label} was cancelled: {name} is still "
                     f"{'running' if fut is not None else 'false'} {fmt_seconds(grace)} later ({stamp(loop)})"]
            if fut is not None:
                lines += where_lines(fut)
                await stop(fut, self.cancel_grace)
        elif fut is not None and fut.cancelled():
            lines = [f"{name} was cancelled along with {done.label}: is it wrapped in asyncio.shield()?"]
        elif fut is not None and fut.exception() is not None:
            lines = [f"the shielded {name} raised {exc_repr(fut.exception())}"]  # type: ignore[arg-type]
        if lines:
            lines += done.lines(done.label)
            self._atk_fail("\n".join(lines), msg, None if fut is None or fut.cancelled() else fut.exception())
        return fut.result() if fut is not None else None

    def assertCancellingBalanced(self, aw: Awaitable[Any] | None = None, msg: Any = None) -> Block[Any]:
        """Assert that ``Task.cancelling()`` is unchanged by *aw* (or the ``async with`` block). 3.11+.

        A CancelledError caught and not re-raised leaves the count raised, after which ``asyncio.timeout()``
        and ``TaskGroup`` in that task misbehave.  The awaitable runs in its own task and that task's count
        is judged (it must be back to 0); the block form judges the current task and restores its count
        after reporting.  On 3.10, which has no ``cancelling()``, the test is skipped with an explanation.
        """
        method = "assertCancellingBalanced"
        with rejecting(aw):
            aw = optional_awaitable(method, aw)  # checked before the 3.10 skip, so a misuse fails on every version
            if not _compat.PY311:
                raise unittest.SkipTest(f"{method}() needs Python 3.11+: Task.cancelling()/uncancel() do not "
                                        f"exist on Python 3.10, which does not count cancellation requests")
        return CancellingBalanced(self, method, aw, msg)

    # -- shared ---------------------------------------------------------------------------------------
    async def _atk_cancel(self, method: str, aw: Awaitable[Any], after: float | None, msg: Any, *,
                          before: Any = None, before_name: str = "") -> _Cancelled:
        """Run *aw* in a task, cancel it when blocked (or after *after*), wait for the outcome."""
        loop, _ = check_loop(method)
        child = asyncio.ensure_future(aw)
        label = describe(aw)
        try:
            if after is None:
                await until_idle(_IDLE_BUDGET)
            else:
                await asyncio.wait({child}, timeout=after)
            if child.done():
                when = "once every other task was blocked" if after is None else f"after {fmt_seconds(after)}"
                cause = None if child.cancelled() else child.exception()
                self._atk_fail(f"{label} finished before it could be cancelled: it {outcome_of(child)} "
                               f"({stamp(loop)}); the assertion cancels it {when}, so it must still be "
                               f"running then" + ("" if after is None else ": pass a smaller after="),
                               msg, cause)
            if before is not None and before():
                self._atk_fail(f"{before_name} became true before {label} was cancelled ({stamp(loop)}), so "
                               f"it cannot show what the cancellation did; cancel it earlier with after=",
                               msg)
            done = _Cancelled(label, child, stamp(loop), where_lines(child))
            done.stopped = await stop(child, self.cancel_grace)
        except BaseException:
            if not child.done():
                await stop(child, self.cancel_grace)
            raise
        return done

    def _atk_judge_cancel(self, done: _Cancelled, msg: Any) -> None:
        child, label = done.child, done.label
        if child.done() and child.cancelled():
            return
        loop = asyncio.get_running_loop()
        if not child.done():
            now = where_lines(child, created=False)
            self._atk_fail("\n".join([
                f"{label} ignored the cancellation: still running {fmt_seconds(self.cancel_grace)} later "
                f"({stamp(loop)}), even after a second cancel(); it is left running",
                *done.lines(), *[line.replace("  suspended at", "  now suspended at") for line in now],
                _HINT]), msg)
        exc = child.exception()
        if exc is None:
            self._atk_fail("\n".join([
                f"{label} swallowed the cancellation: it returned {short_repr(child.result())} instead of "
                f"raising CancelledError ({stamp(loop)})", *done.lines(), _HINT]), msg)
        self._atk_fail("\n".join([
            f"{label} turned the cancellation into {exc_repr(exc)}: a cancelled coroutine must let "
            f"CancelledError out", f"  raised at {format_site(raised_at(exc))}", *done.lines()]), msg, exc)
