"""Sequencer: make blocks of code in different tasks run in a fixed order of steps.

The idea comes from trio's ``trio.testing.Sequencer``: each block is marked with a step number,
``async with seq(n):``, and step ``n`` starts only after step ``n - 1`` has finished, whichever task runs
it.  A test that must force an interleaving (a reader before a writer, a cancel between two awaits) writes
the order down once instead of wiring ``asyncio.Event`` gates by hand.

State machine of one step ``n``: *unused* -> ``seq(n)`` -> *claimed* -> (waits until step ``n - 1`` has
exited) -> *entered* -> block ends (normally or by an exception) -> *exited*, which lets step ``n + 1``
in.  A step whose block raises still lets the next step in, so the other tasks are not stranded behind an
error that the test will report anyway.

Cancellation: a task cancelled while it waits for its step *fails* the sequencer.  The cancelled task
gets its ``CancelledError`` (never swallowed); every other task waiting for a step, and every later
``seq(n)``, gets a ``RuntimeError`` that says which step failed and where.

When a test hangs because a step never comes, each waiting task's line in the ``DeadlockError`` report
ends with ``(awaiting Sequencer step 3; step 2 never started)`` (the wait registers that phrase with the
report vocabulary, ``_diagnostics.describe_wait``).
"""

from __future__ import annotations

import asyncio
import types

from .. import _diagnostics, _validate
from .._diagnostics import Site

__all__ = ["Sequencer"]


class Sequencer:
    """Run ``async with seq(n):`` blocks in step order (0, 1, 2, ...) across tasks.

    Step ``n`` starts once step ``n - 1`` has finished; step 0 starts at once.  Each step number is used
    once.  Works on any asyncio loop (virtual clock or real time); it uses no timers.

    Misuse raises at the point of misuse: ``seq(-1)`` is a ``ValueError``, ``seq(1.5)`` a ``TypeError``, a
    step used twice or any step after the sequencer failed (a waiting task was cancelled) a
    ``RuntimeError``.

    Example::

        seq = asynctestkit.Sequencer()

        async def reader():
            async with seq(1):
                data = await stream.read()        # runs second

        async def writer():
            async with seq(0):
                await stream.write(b"x")          # runs first
            async with seq(2):
                stream.close()                    # runs third
    """

    def __init__(self) -> None:
        self._claimed: dict[int, Site | None] = {}   # step -> where seq(step) was called
        self._entered: dict[int, Site | None] = {}   # step -> where its block started
        self._exited: set[int] = set()
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._failure: str | None = None

    def __repr__(self) -> str:
        state = f"failed: {self._failure}" if self._failure else f"{len(self._exited)} steps done"
        return f"<Sequencer {state}>"

    def __call__(self, step: int) -> _Step:
        """The async context manager for step *step* (an int >= 0, used once)."""
        if not isinstance(step, int) or isinstance(step, bool):
            raise TypeError(f"Sequencer step must be an int >= 0, got {_validate.given(step)}")
        if step < 0:
            raise ValueError(f"Sequencer step must be an int >= 0, got {step}")
        if self._failure is not None:
            raise RuntimeError(f"Sequencer step {step} cannot run: the sequencer failed ({self._failure})")
        if step in self._claimed:
            first = _diagnostics.format_site(self._claimed[step])
            raise RuntimeError(f"Sequencer step {step} is used twice: first at {first}; each step runs once")
        self._claimed[step] = _diagnostics.caller_site()
        return _Step(self, step)

    # -- what the steps call ---------------------------------------------------------------------------

    def _may_enter(self, step: int) -> bool:
        return step == 0 or step - 1 in self._exited

    def _describe_wait(self, step: int) -> str:
        """The ``(awaiting ...)`` phrase of a task waiting for *step*, as things stand now."""
        before = step - 1
        if self._failure is not None:
            state = f"the sequencer failed: {self._failure}"
        elif before in self._entered:
            state = (f"step {before} started at {_diagnostics.format_site(self._entered[before])} "
                     "and has not finished")
        elif before in self._claimed:
            state = f"step {before} has not started: it waits for step {before - 1}"
        else:
            state = f"step {before} never started"
        return f"Sequencer step {step}; {state}"

    async def _enter(self, step: int, site: Site | None) -> None:
        if self._failure is not None:
            raise RuntimeError(f"Sequencer step {step} cannot run: the sequencer failed ({self._failure})")
        if not self._may_enter(step):
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters[step] = waiter
            _diagnostics.describe_wait(waiter, lambda: self._describe_wait(step))
            try:
                await waiter
            except asyncio.CancelledError:
                if self._failure is None:
                    self._fail(f"the task waiting for step {step} at {_diagnostics.format_site(site)} "
                               "was cancelled")
                raise
            finally:
                self._waiters.pop(step, None)
            if self._failure is not None:   # woken in time, but the sequencer failed before this task ran
                raise RuntimeError(f"Sequencer step {step} cannot run: the sequencer failed ({self._failure})")
        self._entered[step] = site

    def _exit(self, step: int) -> None:
        self._exited.add(step)
        waiter = self._waiters.get(step + 1)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, reason: str) -> None:
        self._failure = reason
        for step, waiter in list(self._waiters.items()):
            if not waiter.done():
                waiter.set_exception(RuntimeError(
                    f"Sequencer step {step} cannot run: the sequencer failed ({reason})"))


class _Step:
    """``async with seq(n):``: waits for step ``n - 1`` on entry, lets step ``n + 1`` in on exit."""

    __slots__ = ("_seq", "_site", "_step")

    def __init__(self, seq: Sequencer, step: int) -> None:
        self._seq = seq
        self._step = step
        self._site = seq._claimed[step]

    def __repr__(self) -> str:
        return f"<Sequencer step {self._step}>"

    async def __aenter__(self) -> None:
        await self._seq._enter(self._step, self._site)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: types.TracebackType | None) -> None:
        self._seq._exit(self._step)
