"""asynctestkit: unittest-native testing for asyncio.

Subclass :class:`AsyncTestCase` instead of ``unittest.IsolatedAsyncioTestCase`` and your tests get a virtual
clock (sleeps and timeouts finish at once, at exact virtual times; hangs are reported with every task's
stack), automatic leak checks at teardown, and assertions for timeouts, cancellation and exception
propagation.  See docs/index.md; docs/architecture.md describes the parts below.

This module only re-exports.  The subsystems are the subpackages ``clock``, ``leaks``, ``assertions``,
``doubles``, ``explore`` and ``trace`` (each with a front door re-exporting its names); ``case`` wires them
into unittest.
"""


from types import FunctionType as _FunctionType

from . import assertions, clock, doubles, leaks, trace
from . import explore as _explore_door  # the subpackage; the name ``explore`` below is its decorator
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
from .clock import BackgroundTasks, DeadlockError, HangError, LivelockError, VirtualClock, VirtualClockLoop
from .doubles import MemoryNetwork, Sequencer, SlowCall, memory_stream_pair, memory_transport_pair
from .explore import ScheduleError, explore, replay_schedule
from .leaks import (
    LeakCheckMixin,
    LeakError,
    LeakReport,
    LeakTracker,
    allow_leaks,
    register_resource_type,
    track_resource,
    unregister_resource_type,
)
from .trace import Trace, TracedTask, TraceEvent, record_timeline

__all__ = [
    "AssertionCall",
    "AsyncAssertionsMixin",
    "AsyncTestCase",
    "BackgroundTasks",
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
    "MemoryNetwork",
    "RecordedEvent",
    "ScheduleError",
    "Sequencer",
    "SlowCall",
    "Trace",
    "TraceEvent",
    "TracedTask",
    "VirtualClock",
    "VirtualClockLoop",
    "__version__",
    "allow_leaks",
    "explore",
    "memory_stream_pair",
    "memory_transport_pair",
    "real_time",
    "record_timeline",
    "register_resource_type",
    "replay_schedule",
    "track_resource",
    "unregister_resource_type",
]


def _name_public_objects() -> None:
    """Give every public class and function the module users import it from: here, and only here.

    A name in ``asynctestkit.__all__`` reports ``asynctestkit`` (tracebacks print ``asynctestkit.LeakError``,
    not the private module that defines it); a name that only a subsystem's front door exports (``Leak``,
    ``RealTimeLoop``) reports that front door (``asynctestkit.leaks``).  Constants are left alone.
    """
    for door in (clock, leaks, assertions, doubles, _explore_door, trace):
        for name in door.__all__:
            value = getattr(door, name)
            if isinstance(value, (type, _FunctionType)) and value.__module__.startswith(f"{__name__}."):
                value.__module__ = __name__ if name in __all__ else door.__name__
    for name in __all__:
        value = globals()[name]
        if isinstance(value, (type, _FunctionType)):
            value.__module__ = __name__


_name_public_objects()
