"""asynctestkit: unittest-native testing for asyncio.

Subclass :class:`AsyncTestCase` instead of ``unittest.IsolatedAsyncioTestCase`` and your tests get a virtual
clock (sleeps and timeouts finish at once, at exact virtual times; hangs are reported with every task's
stack), automatic leak checks at teardown, and assertions for timeouts, cancellation and exception
propagation.  See docs/index.md.
"""

from ._version import __version__
from .case import AsyncTestCase, real_time
from .clock import DeadlockError, HangError, LivelockError, VirtualClock
from .loop import VirtualClockLoop

__all__ = [
    "AsyncTestCase",
    "DeadlockError",
    "HangError",
    "LivelockError",
    "VirtualClock",
    "VirtualClockLoop",
    "__version__",
    "real_time",
]
