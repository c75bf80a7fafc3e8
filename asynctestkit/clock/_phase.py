"""One test phase on a test loop: which task runs it, and the hang report it must fail with.

A *phase* is one part of a test that runs on the loop: ``asyncSetUp``, the test method, ``asyncTearDown``
or an async cleanup.  The runner (``IsolatedAsyncioTestCase``, through ``case.py``) starts each one from
outside the loop; the test's :class:`PhaseClaim`, handed to the loop once (``loop._atk_claim_phase``), is
called with the task that runs the phase before its first step, and tells the clock's engine to watch that
task (``enter_phase``): a hang report is then delivered to it as a cancellation.  When the runner's call
returns or raises, :meth:`PhaseClaim.finish` ends the phase and :meth:`PhaseClaim.failure` decides what
the runner raises instead of the exception that ended it.

Nothing here knows unittest: the runner (a :class:`PhaseOwner`) gives the label, the debug setting and, on
3.10 (no ``asyncio.Runner``: every phase runs inside one long-lived task), the task and a "still in the
phase?" test.
No frame of this module ever stands between the runner and the test's code: the claim runs before the
phase's first step, and the decisions after its last.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from ._hangs import HangError
from ._jump import JumpEngine
from ._loop import RealTimeLoop, VirtualClockLoop

__all__ = ["PhaseClaim", "PhaseOwner"]


class PhaseOwner(Protocol):
    """What a :class:`PhaseClaim` asks of the runner that starts the phases (the test case)."""

    #: The debug mode each phase starts the loop in.
    asyncio_debug: ClassVar[bool]

    def _atk_phase_label(self, func: object) -> str:
        """How reports name the phase that runs *func* (``"test 'test_fetch'"``)."""

    def _atk_runner_task(self) -> asyncio.Task[Any] | None:
        """3.10: the long-lived task that runs every phase (no ``asyncio.Runner``)."""

    def _atk_in_phase(self) -> bool:
        """3.10: whether that task is still inside the phase."""


class PhaseClaim:
    """A test's claim on the phases of its loop: called by the loop with the task that runs each one.

    One claim per test and loop, handed to the loop once (``loop._atk_claim_phase``) and used for every
    phase (none is built or handed over per phase).  A phase is under way while :attr:`owner` is set: before
    each phase the runner sets :attr:`owner` (a :class:`PhaseOwner`) and :attr:`func` (what the phase runs);
    the loop calls the claim with each task ``Runner.run()`` creates (3.10: with None whenever it starts
    running), and the first call of a phase starts it; the runner ends the phase with :meth:`finish` (or
    :meth:`failure`), which lets go of *owner* and *func* again, so nothing of the test stays reachable from
    the claim between phases.  The claim holds no reference to the loop (the loop holds it and passes
    itself in each call): loop and claim form no cycle.

    When a phase starts, the loop's debug mode is set to the owner's ``asyncio_debug`` (the loop unpins it
    first, so the test itself may change it) and, on a virtual clock, the engine is told which task to watch
    and to fail with a hang report; the claim itself is what the engine then holds as the phase: :attr:`label`
    names it in reports (``"test 'test_fetch'"``, asked of *owner* for *func* only when a report needs it)
    and :attr:`running` tells, on 3.10 only, whether the phase's code still runs in the runner's long-lived
    task.
    """

    __slots__ = ("_engine", "called", "func", "owner", "running")

    def __init__(self, loop: VirtualClockLoop | RealTimeLoop) -> None:
        #: The clock's engine on a virtual clock (None: a real-time loop, no engine to tell).
        self._engine: JumpEngine | None = loop.clock._phase_engine() if isinstance(loop, VirtualClockLoop) else None
        #: Set by the runner before each phase (the owner, what the phase runs); finish() lets go of both.  An
        #: owner set means a phase is under way.
        self.owner: PhaseOwner | None = None
        self.func: object = None
        self.called = False  # the phase has its task (and the engine watches it); reset by finish()
        #: None: the phase runs until its task is done (3.11+); 3.10: the owner's "still in the phase?" test.
        self.running: Callable[[], bool] | None = None

    @property
    def label(self) -> str:
        """How reports name this phase."""
        owner = self.owner
        return "a test phase" if owner is None else owner._atk_phase_label(self.func)

    def __call__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any] | None, debug: bool) -> None:
        """*task* (3.10: None) was created by the runner on *loop*, whose debug mode is *debug*."""
        owner = self.owner
        if owner is None or self.called:
            return  # no phase under way (a runner used between phases), or the phase has its task already
        self.called = True
        if debug != owner.asyncio_debug:
            loop.set_debug(owner.asyncio_debug)
        engine = self._engine
        if engine is not None:
            if task is None:  # 3.10: the runner's long-lived task runs every phase
                task = owner._atk_runner_task()
                self.running = owner._atk_in_phase
            engine.enter_phase(task, self)

    def finish(self) -> HangError | None:
        """End the phase; return the hang report it must fail with, if any."""
        if not self.called:  # the phase never ran on the loop (a synchronous cleanup)
            self.owner = self.func = None
            return None
        self.called = False
        engine = self._engine
        error = None if engine is None else engine.end_phase()  # (a late report still names the phase)
        self.owner = self.func = self.running = None
        return error

    def failure(self, exc: BaseException) -> tuple[HangError, BaseException | None] | None:
        """The phase ended with *exc*: the hang report to raise instead and its cause, or None to re-raise.

        The report's traceback is *exc*'s, which runs down to the line the test was stuck at when the report
        reached it.  The cancellation that carried the report is not chained (it is the report); anything
        else the phase raised in reaction to it is, for the record, except the error of resuming a coroutine
        the engine closed after it swallowed every such cancellation (asynctestkit's doing, not the test's).
        """
        error = self.finish()
        if error is None:
            return None
        error = error.with_traceback(exc.__traceback__)
        if isinstance(exc, asyncio.CancelledError):
            return error, None
        engine = self._engine
        closed = engine is not None and engine.closed_phase_coroutine(exc)
        return error, None if closed else exc
