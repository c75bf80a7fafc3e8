"""Test doubles on the clock: scripted slow and flaky calls, and a Sequencer for step order across tasks.

- :class:`SlowCall`: the ``side_effect`` of any ``AsyncMock`` (``spec=``, ``create_autospec``,
  ``assert_awaited_*`` keep working) whose every await takes a latency (fixed, per call, computed or seeded
  random) and ends as scripted (return, raise, hang, time out); it records each call's start and end time
  and the peak number of calls in flight.  Each call is a :class:`CallRecord`.
- :class:`Sequencer`: ``async with seq(n):`` blocks run in step order across tasks; a test that hangs
  because a step never comes names it in the deadlock report.

Both use only the running loop (``loop.time()``, ``asyncio.sleep``, futures): on an ``AsyncTestCase``
they run in virtual time, on a plain ``IsolatedAsyncioTestCase`` in real time.  Nothing here knows
unittest's test cases or the clock's internals.  See docs/doubles.md.
"""

from __future__ import annotations

from ._sequencer import Sequencer
from ._slow import CallRecord, SlowCall

__all__ = ["CallRecord", "Sequencer", "SlowCall"]
