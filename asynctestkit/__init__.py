"""asynctestkit: unittest-native testing for asyncio.

Subclass :class:`AsyncTestCase` instead of ``unittest.IsolatedAsyncioTestCase`` and your tests get a virtual
clock (sleeps and timeouts finish at once, at exact virtual times; hangs are reported with every task's
stack), automatic leak checks at teardown, and assertions for timeouts, cancellation and exception
propagation.  See docs/index.md.
"""

from ._version import __version__
from .assertions import (
                         AssertionCall,
                         AsyncAssertionsMixin,
                         Block,
                         ChildOutcome,
                         EventRecorder,
                         ExceptionMatch,
                         FanOutOutcome,
                         GroupMatch,
                         RecordedEvent,
)
from .case import AsyncTestCase, real_time
from .clock import DeadlockError, HangError, LivelockError, VirtualClock
from .leakcase import LeakCheckMixin, allow_leaks
from .leaks import (
                    LeakError,
                    LeakReport,
                    LeakTracker,
                    register_resource_type,
                    track_resource,
                    unregister_resource_type,
)
from .loop import VirtualClockLoop

__all__ = [
    "AssertionCall",
    "AsyncAssertionsMixin",
    "AsyncTestCase",
    "Block",
    "ChildOutcome",
    "DeadlockError",
    "EventRecorder",
    "ExceptionMatch",
    "FanOutOutcome",
    "GroupMatch",
    "HangError",
    "LeakCheckMixin",
    "LeakError",
    "LeakReport",
    "LeakTracker",
    "LivelockError",
    "RecordedEvent",
    "VirtualClock",
    "VirtualClockLoop",
    "__version__",
    "allow_leaks",
    "real_time",
    "register_resource_type",
    "track_resource",
    "unregister_resource_type",
]
