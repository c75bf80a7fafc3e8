"""Waiting on the loop without moving time wrongly, and stopping the child tasks assertions run code in.

- :func:`until_idle`: until the loop has run everything ready, i.e. every other task is blocked;
- :func:`wait_done` / :func:`wait_until`: until a future is done / a check is true, with an inclusive
  deadline (whatever is due exactly at the deadline runs before the answer);
- :func:`stop` / :func:`join`: cancel a child and wait for it, or wait for it and stop it when the waiting
  task is itself cancelled, so an assertion never leaves a task running.

All of them see loop iterations through ``_compat.observe_selects`` and so work on any selector loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .. import _compat

__unittest = True

#: Loop iterations to let run after a deadline before calling it missed: whatever is due at the deadline
#: itself (a sleep of exactly the allowed time) has finished by then, so a deadline is never a false failure.
SETTLE_ITERATIONS = 100


async def until_idle(max_iterations: int, *, on_busy: Any = None) -> bool:
    """Wait until the loop has nothing ready to run (every other task is blocked); False after the budget.

    Virtual time does not move.  With *on_busy*, a callable returning an exception, that exception is raised
    instead of returning False when *max_iterations* loop iterations pass without the loop going idle.
    """
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[bool] = loop.create_future()
    count = 0

    def observe(timeout: float | None) -> bool:
        nonlocal count
        if waiter.done():
            return False
        count += 1
        if timeout is None or timeout > 0:
            waiter.set_result(True)
            return True
        if count > max_iterations:
            if on_busy is not None:
                waiter.set_exception(on_busy())
            else:
                waiter.set_result(False)
            return True
        return False

    remove = _compat.observe_selects(loop, observe)
    try:
        return await waiter
    finally:
        remove()


async def wait_done(fut: asyncio.Future[Any], timeout: float | None) -> bool:
    """Wait up to *timeout* loop seconds (None: no limit) for *fut*, without cancelling it; True if done.

    The deadline is inclusive: what is due exactly at it runs before the answer is given.  If the waiting
    task is cancelled, the CancelledError propagates and *fut* is left alone (see :func:`stop`).
    """
    if fut.done():
        return True
    await asyncio.wait({fut}, timeout=timeout)
    if not fut.done() and timeout is not None:
        await until_idle(SETTLE_ITERATIONS)
    return fut.done()


async def stop(fut: asyncio.Future[Any], grace: float) -> bool:
    """Cancel *fut* and wait up to *grace* loop seconds for it to finish; True if it did.

    A task that ignores the first cancellation is cancelled once more before giving up on it.  The outcome
    is left for the caller to read (and is marked retrieved, so asyncio logs nothing about it).
    """
    if not fut.done():
        fut.cancel()
        if not await wait_done(fut, grace):
            fut.cancel()
            await until_idle(SETTLE_ITERATIONS)
    if fut.done() and not fut.cancelled():
        fut.exception()  # mark retrieved: the caller reports it
    return fut.done()


async def join(fut: asyncio.Future[Any], grace: float, timeout: float | None = None) -> bool:
    """Wait for a child future like :func:`wait_done`; if the waiting task is cancelled, stop the child first.

    So an outside cancellation (or a hang report delivered by cancelling the test) never leaves the child
    running.
    """
    try:
        return await wait_done(fut, timeout)
    except asyncio.CancelledError:
        fut.cancel()
        await asyncio.wait({fut}, timeout=grace)
        raise


async def wait_until(predicate: Any, timeout: float) -> bool:
    """Wait up to *timeout* loop seconds for ``predicate()`` to be true; it is checked once per loop iteration.

    Time moves as usual meanwhile (on the virtual clock it jumps to the next timer).  An exception raised by
    the predicate propagates.
    """
    if predicate():
        return True
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[bool] = loop.create_future()
    expired = False

    def on_deadline() -> None:
        nonlocal expired
        expired = True

    def observe(poll_timeout: float | None) -> bool:
        if waiter.done():
            return False
        try:
            if predicate():
                waiter.set_result(True)
                return True
        except BaseException as exc:  # reported in the waiting task, not inside the loop's select()
            waiter.set_exception(exc)
            return True
        if expired and (poll_timeout is None or poll_timeout > 0):
            waiter.set_result(False)  # inclusive: everything due at the deadline has run
            return True
        return False

    timer = loop.call_later(timeout, on_deadline)
    remove = _compat.observe_selects(loop, observe)
    try:
        return await waiter
    finally:
        remove()
        timer.cancel()
