"""Test doubles on the clock: slow and flaky calls, step order across tasks, connections and a network in memory.

- :class:`SlowCall`: the ``side_effect`` of any ``AsyncMock`` (``spec=``, ``create_autospec``,
  ``assert_awaited_*`` keep working) whose every await takes a latency (fixed, per call, computed or seeded
  random) and ends as scripted (return, raise, hang, time out); it records each call's start and end time
  and the peak number of calls in flight.  Each call is a :class:`CallRecord`.
- :class:`Sequencer`: ``async with seq(n):`` blocks run in step order across tasks; a test that hangs
  because a step never comes names it in the deadlock report.
- :func:`memory_stream_pair` / :func:`memory_transport_pair`: two connected ends in memory, as asyncio
  streams or protocols, on :class:`MemoryTransport` (capacity and backpressure, latency, bandwidth, faults),
  held in a :class:`MemoryConnection`.
- :class:`MemoryNetwork`: ``start_server``/``open_connection`` (and ``create_server``/``create_connection``)
  by address, with per-address latency and faults, and ``patch_asyncio()`` for code that calls asyncio's
  functions directly; its servers are :class:`MemoryServer`.

All use only the running loop (``loop.time()``, ``asyncio.sleep``, ``call_at``, futures): on an
``AsyncTestCase`` they run in virtual time, on a plain ``IsolatedAsyncioTestCase`` in real time.  Nothing
here knows unittest's test cases or the clock's internals; memory connections and servers are handed to the
leak check through its public ``track_resource``.  See docs/doubles.md.
"""

from __future__ import annotations

from ._network import MemoryNetwork
from ._sequencer import Sequencer
from ._server import MemoryServer
from ._slow import CallRecord, SlowCall
from ._streams import MemoryConnection, ProtocolEnd, StreamEnd, memory_stream_pair, memory_transport_pair
from ._transport import MemoryTransport

__all__ = [
    "CallRecord",
    "MemoryConnection",
    "MemoryNetwork",
    "MemoryServer",
    "MemoryTransport",
    "ProtocolEnd",
    "Sequencer",
    "SlowCall",
    "StreamEnd",
    "memory_stream_pair",
    "memory_transport_pair",
]
