"""The virtual clock: an event loop whose time jumps, and the reports of tests that hang.

Front door of the clock subsystem (no unittest in here; ``asyncio.Runner(loop_factory=VirtualClockLoop)``
uses it alone).  The private modules, from the top down:

- ``_loop``: :class:`VirtualClockLoop` / :class:`RealTimeLoop`, the selector event loops a test runs on;
- ``_clock``: :class:`VirtualClock`, the public face of the clock (time, manual mode, options);
- ``_jump``: the jump rule: what the clock does each time the loop would sleep, and hang delivery;
- ``_realwork`` / ``_sockets`` / ``_fdpeer``: the real work in flight that holds virtual time back;
- ``_hangs``: the hang errors and their report; ``_timepatch``: the ``time`` module on virtual time;
- ``_phase``: running one test phase so that a hang report becomes that phase's failure;
- ``_background``: background work (:class:`BackgroundTasks`), started beside a test and stopped at its end;
- ``_quiet``: what background work is, and the rule that keeps it from hiding a deadlock;
- ``_timers``: the pending timers as readable records (:class:`PendingTimer`, ``clock.pending_timers()``).

The contract between the loop and the clock is the class ``LoopClock`` in ``_contract``; see
docs/architecture.md.
"""

from __future__ import annotations

from ._background import BackgroundTasks
from ._clock import (
    DEFAULT_DEADLOCK_GRACE,
    DEFAULT_HORIZON,
    DEFAULT_IO_QUANTUM,
    DEFAULT_WATCHDOG,
    VirtualClock,
)
from ._hangs import DeadlockError, HangError, LivelockError
from ._loop import RealTimeLoop, VirtualClockLoop
from ._timers import PendingTimer

__all__ = [
    "DEFAULT_DEADLOCK_GRACE",
    "DEFAULT_HORIZON",
    "DEFAULT_IO_QUANTUM",
    "DEFAULT_WATCHDOG",
    "BackgroundTasks",
    "DeadlockError",
    "HangError",
    "LivelockError",
    "PendingTimer",
    "RealTimeLoop",
    "VirtualClock",
    "VirtualClockLoop",
]
