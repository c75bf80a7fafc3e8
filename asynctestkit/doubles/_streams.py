"""In-memory connections: two ends joined by :class:`MemoryTransport`, as asyncio streams or as protocols.

:func:`memory_stream_pair` gives two ``(StreamReader, StreamWriter)`` ends built exactly as
``asyncio.open_connection`` builds them (a ``StreamReaderProtocol`` on a transport), so code under test uses
``drain()``, ``write_eof()``, ``close()``/``wait_closed()``, ``is_closing()`` and
``get_extra_info('peername')`` as on a socket.  :func:`memory_transport_pair` joins two protocol factories
for ``asyncio.Protocol`` code; the loop calls ``connection_made``, ``data_received``, ``eof_received`` and
``connection_lost`` as it does for sockets.

Each transport is handed to the leak check when it is made (``track_resource``), so an end still open when
the test ends is reported with the line that made it, like a real connection; a closed end never is.
Nothing here knows unittest or the clock: the loop's own ``call_soon``/``call_at`` carry the bytes.
"""

from __future__ import annotations

import asyncio
import itertools
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Generic, NamedTuple, TypeVar

from .. import _validate
from ..leaks import track_resource
from ._transport import MemoryTransport, join

__all__ = ["MemoryConnection", "ProtocolEnd", "StreamEnd", "memory_stream_pair", "memory_transport_pair"]

DEFAULT_CAPACITY = 64 * 1024   # asyncio's default high-water mark for socket transports
DEFAULT_LIMIT = 64 * 1024      # asyncio's default StreamReader limit
_PORTS = itertools.count(49152)  # ephemeral ports for ends that were given no address


def next_port() -> int:
    """A fresh port number from the ephemeral range, unique in this process."""
    return next(_PORTS)


class StreamEnd(NamedTuple):
    """One end of a :func:`memory_stream_pair`: ``reader, writer = end``."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @property
    def transport(self) -> MemoryTransport:
        """The end's :class:`MemoryTransport` (for faults: ``end.transport.reset()``)."""
        return self.writer.transport  # type: ignore[return-value]


class ProtocolEnd(NamedTuple):
    """One end of a :func:`memory_transport_pair`: ``transport, protocol = end``."""

    transport: MemoryTransport
    protocol: Any


_End = TypeVar("_End", StreamEnd, ProtocolEnd)


class MemoryConnection(Generic[_End]):
    """Both ends of one in-memory connection: ``client`` and ``server`` (unpack it: ``client, server = c``).

    The ends are :class:`StreamEnd` ``(reader, writer)`` or :class:`ProtocolEnd` ``(transport, protocol)``.
    Fault switches act on both directions (each transport has its own too): :meth:`stall`/:meth:`resume`,
    :meth:`reset`; :meth:`close` closes both ends (what a test's cleanup does).
    """

    __slots__ = ("client", "server")

    def __init__(self, client: _End, server: _End) -> None:
        self.client: _End = client
        self.server: _End = server

    def __iter__(self) -> Iterator[_End]:
        return iter((self.client, self.server))

    def __repr__(self) -> str:
        return f"<MemoryConnection {self.client_transport!r} <-> {self.server_transport!r}>"

    @property
    def client_transport(self) -> MemoryTransport:
        return self.client.transport

    @property
    def server_transport(self) -> MemoryTransport:
        return self.server.transport

    @property
    def closed(self) -> bool:
        """True once both ends are closing or closed."""
        return self.client_transport.is_closing() and self.server_transport.is_closing()

    def stall(self) -> None:
        """Hold every delivery in both directions until :meth:`resume` (a hung peer, a dead link)."""
        self.client_transport.stall()
        self.server_transport.stall()

    def resume(self) -> None:
        """Deliver what :meth:`stall` held, in order, and carry on."""
        self.client_transport.resume()
        self.server_transport.resume()

    def reset(self, *, by: str = "server") -> None:
        """Reset the connection from one side (``by="server"`` or ``"client"``): the other side's reads and
        ``drain()`` raise ``ConnectionResetError`` (after the link's latency); see
        :meth:`MemoryTransport.reset`."""
        if by not in ("server", "client"):
            raise ValueError(f"MemoryConnection.reset(by=...) must be 'server' or 'client', got {by!r}")
        (self.server_transport if by == "server" else self.client_transport).reset()

    def close(self) -> None:
        """Close both ends (``transport.close()``): what is in flight still arrives."""
        self.client_transport.close()
        self.server_transport.close()


# -- making the two transports -----------------------------------------------------------------------------

def check_settings(where: str, capacity: object, latency: object, bandwidth: object) -> tuple[int, float,
                                                                                            float | None]:
    """Validate the link settings every entry point takes (named after *where* in messages)."""
    if not isinstance(capacity, int) or isinstance(capacity, bool):
        raise TypeError(f"{where}(capacity=...) must be an int >= 0 (bytes in flight before drain() waits), "
                        f"got {_validate.given(capacity)}")
    if capacity < 0:
        raise ValueError(f"{where}(capacity=...) must be an int >= 0 (bytes in flight before drain() waits), "
                         f"got {capacity!r}")
    seconds = _validate.duration(f"{where}(latency=...)", latency)
    rate: float | None = None
    if bandwidth is not None:
        if not isinstance(bandwidth, (int, float)) or isinstance(bandwidth, bool):
            raise TypeError(f"{where}(bandwidth=...) must be a number of bytes per second > 0 or None (no "
                            f"limit), got {_validate.given(bandwidth)}")
        rate = float(bandwidth)
        if not rate > 0 or rate == float("inf"):
            raise ValueError(f"{where}(bandwidth=...) must be a finite number of bytes per second > 0 or None "
                             f"(no limit), got {bandwidth!r}")
    return capacity, seconds, rate


def check_limit(where: str, limit: object) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise TypeError(f"{where}(limit=...) must be an int > 0 (the StreamReader's buffer limit), "
                        f"got {_validate.given(limit)}")
    if limit <= 0:
        raise ValueError(f"{where}(limit=...) must be an int > 0 (the StreamReader's buffer limit), got {limit!r}")
    return limit


def check_address(where: str, name: str, address: object) -> tuple[str, int]:
    if (not isinstance(address, tuple) or len(address) != 2 or not isinstance(address[0], str)
            or not isinstance(address[1], int) or isinstance(address[1], bool)):
        raise TypeError(f"{where}({name}=...) must be a (host, port) tuple of a str and an int, "
                        f"got {_validate.given(address)}")
    return address


def running_loop(where: str) -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(f"{where}() needs a running event loop: call it inside a test's async method "
                           f"(or asyncSetUp)") from None


def make_transports(loop: asyncio.AbstractEventLoop, client_protocol: asyncio.BaseProtocol,
                    server_protocol: asyncio.BaseProtocol, *, client_address: tuple[str, int],
                    server_address: tuple[str, int], capacity: int, latency: float,
                    bandwidth: float | None) -> tuple[MemoryTransport, MemoryTransport]:
    """Two joined transports (``connection_made`` not called yet), each handed to the leak check.

    Called from the user's frame (directly or through ``open_connection``), so the leak check records the
    user's line as where both ends were made.
    """
    client = MemoryTransport(loop, client_protocol, name="client", sockname=client_address,
                             peername=server_address, capacity=capacity, latency=latency, bandwidth=bandwidth)
    server = MemoryTransport(loop, server_protocol, name="server", sockname=server_address,
                             peername=client_address, capacity=capacity, latency=latency, bandwidth=bandwidth)
    join(client, server)
    for transport in (client, server):
        track_resource(transport, is_open=_is_open, close=_abort, describe=MemoryTransport.describe)
    return client, server


def _is_open(transport: MemoryTransport) -> bool:
    return not transport.is_closing()


def _abort(transport: MemoryTransport) -> None:
    transport.abort()


def stream_protocol(loop: asyncio.AbstractEventLoop, limit: int
                    ) -> tuple[asyncio.StreamReader, asyncio.StreamReaderProtocol]:
    """What ``asyncio.open_connection`` puts on a transport: a reader and its protocol."""
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    return reader, asyncio.StreamReaderProtocol(reader, loop=loop)


class StreamWriter(asyncio.StreamWriter):
    """asyncio's ``StreamWriter``, saying which memory connection it leaves open when dropped unclosed.

    asyncio's own (3.11+) closes its transport when it is garbage-collected and warns with no object
    attached, which the leak check can only log; this one warns with the transport as the warning's
    source, so the check reports that connection with the line that made it, on 3.10 too.  Same name, so
    its repr reads as asyncio's.
    """

    def __del__(self, _warn: Any = warnings.warn) -> None:
        transport = self.transport
        if isinstance(transport, MemoryTransport) and not transport.is_closing():
            _warn(f"StreamWriter dropped unclosed {transport!r}", ResourceWarning, source=transport)
            if not transport.get_loop_closed():
                transport.close()


class ServerStreamProtocol(asyncio.StreamReaderProtocol):
    """``asyncio.start_server``'s protocol for a memory server: calls *client_connected_cb(reader, writer)*.

    asyncio's own builds its ``StreamWriter`` itself; this one builds the :class:`StreamWriter` above and
    keeps it until the connection is lost, so a server end left open is reported the same way on every
    Python version.  A coroutine callback runs as a task; if it raises, the loop's exception handler gets
    ``'Unhandled exception in client_connected_cb'`` and the connection is closed (asyncio 3.12+'s rule);
    if it is cancelled, the connection is closed.
    """

    def __init__(self, reader: asyncio.StreamReader, client_connected_cb: Any,
                 loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(reader, loop=loop)
        self._memory_reader: asyncio.StreamReader | None = reader  # the base class holds it weakly
        self._memory_cb = client_connected_cb
        self._memory_loop = loop
        self._memory_writer: StreamWriter | None = None
        self._memory_task: asyncio.Task[Any] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        reader, self._memory_reader = self._memory_reader, None
        assert reader is not None and isinstance(transport, MemoryTransport)
        writer = self._memory_writer = StreamWriter(transport, self, reader, self._memory_loop)
        result = self._memory_cb(reader, writer)
        if asyncio.iscoroutine(result):
            self._memory_task = self._memory_loop.create_task(result)
            self._memory_task.add_done_callback(self._handler_done)

    def _handler_done(self, task: asyncio.Task[Any]) -> None:
        writer = self._memory_writer
        if writer is None:
            return
        if task.cancelled():
            writer.close()
            return
        exc = task.exception()
        if exc is not None:
            self._memory_loop.call_exception_handler({"message": "Unhandled exception in client_connected_cb",
                                                      "exception": exc, "transport": writer.transport})
            writer.close()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._memory_writer = None


def stream_end(loop: asyncio.AbstractEventLoop, transport: MemoryTransport, reader: asyncio.StreamReader,
               protocol: asyncio.StreamReaderProtocol) -> StreamEnd:
    return StreamEnd(reader, StreamWriter(transport, protocol, reader, loop))


# -- the public entry points -------------------------------------------------------------------------------

def memory_stream_pair(*, capacity: int = DEFAULT_CAPACITY, latency: float = 0.0, bandwidth: float | None = None,
                       limit: int = DEFAULT_LIMIT, client_address: tuple[str, int] | None = None,
                       server_address: tuple[str, int] | None = None) -> MemoryConnection[StreamEnd]:
    """Two connected asyncio stream ends in memory: ``(cr, cw), (sr, sw) = memory_stream_pair()``.

    Each end is a real ``asyncio.StreamReader`` and ``StreamWriter`` on a :class:`MemoryTransport`; what
    ``cw`` writes ``sr`` reads, and the other way round.  Call it with a loop running (in a test method or
    ``asyncSetUp``).

    - *capacity*: bytes a writer may have in flight; beyond it ``drain()`` waits until the peer has read
      them down to a quarter of it (asyncio's write-buffer limits; ``writer.transport.
      set_write_buffer_limits()`` changes them).  Bytes stay in flight while the reader does not read:
      its ``StreamReader`` stops reading once it holds more than ``2 * limit`` bytes;
    - *latency*: seconds each write takes to arrive; *bandwidth*: bytes per second (None: no limit).  On
      an ``AsyncTestCase`` these are virtual seconds: instant and exact;
    - *limit*: each ``StreamReader``'s buffer limit (as ``open_connection(limit=...)``);
    - *client_address*, *server_address*: what ``get_extra_info('sockname'/'peername')`` return
      (default: ``('127.0.0.1', port)`` with a fresh port each).

    Close both ends (``writer.close()``) before the test ends, or the leak check reports each open end
    with this call's line.  Faults: ``conn.reset()``, ``conn.stall()``/``resume()``,
    ``writer.transport.abort()``; see :class:`MemoryConnection`.
    """
    capacity, latency, rate = check_settings("memory_stream_pair", capacity, latency, bandwidth)
    limit = check_limit("memory_stream_pair", limit)
    client_address = check_address("memory_stream_pair", "client_address",
                                   client_address or ("127.0.0.1", next_port()))
    server_address = check_address("memory_stream_pair", "server_address",
                                   server_address or ("127.0.0.1", next_port()))
    loop = running_loop("memory_stream_pair")
    (client_reader, client_protocol), (server_reader, server_protocol) = (stream_protocol(loop, limit),
                                                                          stream_protocol(loop, limit))
    client, server = make_transports(loop, client_protocol, server_protocol, client_address=client_address,
                                     server_address=server_address, capacity=capacity, latency=latency,
                                     bandwidth=rate)
    # A StreamReaderProtocol without a callback only hands the transport to its reader: running
    # connection_made() now (not from the loop) lets the ends be used as soon as this returns.
    server._connection_made()
    client._connection_made()
    return MemoryConnection(stream_end(loop, client, client_reader, client_protocol),
                            stream_end(loop, server, server_reader, server_protocol))


async def memory_transport_pair(client_factory: Callable[[], asyncio.BaseProtocol],
                                server_factory: Callable[[], asyncio.BaseProtocol], *,
                                capacity: int = DEFAULT_CAPACITY, latency: float = 0.0,
                                bandwidth: float | None = None, client_address: tuple[str, int] | None = None,
                                server_address: tuple[str, int] | None = None) -> MemoryConnection[ProtocolEnd]:
    """Join two ``asyncio.Protocol`` factories through memory: ``(ct, cp), (st, sp) = await ...``.

    Each factory is called once; the loop then calls each protocol's ``connection_made(transport)`` (the
    server's first), and this returns once both ran, as ``loop.create_connection`` does.  Afterwards
    ``data_received``, ``eof_received``, ``pause_writing``/``resume_writing`` and ``connection_lost`` come as
    asyncio calls them for a socket.  Settings and faults as for :func:`memory_stream_pair`.

    Cancelled while it waits for ``connection_made``: both transports are aborted and nothing leaks.
    """
    for name, factory in (("client_factory", client_factory), ("server_factory", server_factory)):
        if not callable(factory):
            raise TypeError(f"memory_transport_pair({name}=...) must be a protocol factory (a callable "
                            f"returning an asyncio.Protocol), got {_validate.given(factory)}")
    capacity, latency, rate = check_settings("memory_transport_pair", capacity, latency, bandwidth)
    client_address = check_address("memory_transport_pair", "client_address",
                                   client_address or ("127.0.0.1", next_port()))
    server_address = check_address("memory_transport_pair", "server_address",
                                   server_address or ("127.0.0.1", next_port()))
    loop = running_loop("memory_transport_pair")
    client_protocol, server_protocol = client_factory(), server_factory()
    client, server = make_transports(loop, client_protocol, server_protocol, client_address=client_address,
                                     server_address=server_address, capacity=capacity, latency=latency,
                                     bandwidth=rate)
    await connection_made(loop, client, server)
    return MemoryConnection(ProtocolEnd(client, client_protocol), ProtocolEnd(server, server_protocol))


async def connection_made(loop: asyncio.AbstractEventLoop, client: MemoryTransport,
                          server: MemoryTransport) -> None:
    """Have the loop call both ``connection_made()`` (the server's first) and wait for them."""
    loop.call_soon(server._connection_made)
    loop.call_soon(client._connection_made)
    try:
        await asyncio.sleep(0)   # queued after the two callbacks: they have run when this returns
    except asyncio.CancelledError:
        client.abort()
        server.abort()
        raise
