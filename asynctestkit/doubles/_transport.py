"""MemoryTransport: an ``asyncio.Transport`` whose bytes travel through memory, on the loop's clock.

Two transports are made together and joined: what one end writes is delivered to the other end's protocol
(``data_received``), in order, by callbacks on the running loop.  Each end owns the *link* that carries what
it writes: the bytes in flight (written, not yet handed to the peer's protocol), their arrival times, and
the link's settings:

- **latency**: a write arrives ``latency`` seconds after it was sent;
- **bandwidth** (bytes per second, or None for no limit): a link sends one write at a time, so a write of
  ``n`` bytes leaves ``n / bandwidth`` seconds after the link is free, then travels ``latency`` seconds;
- **capacity**: the write buffer's high-water mark.  When more than that many bytes are in flight the
  writer's protocol gets ``pause_writing()`` (a ``StreamWriter``'s ``drain()`` then waits), and
  ``resume_writing()`` once they drop to the low-water mark (a quarter of it), as asyncio's own socket
  transports do.  Bytes stay in flight while the peer does not read (``pause_reading()``: a
  ``StreamReader`` whose buffer is full calls it) or while the link is stalled, so a slow consumer makes a
  fast producer's ``drain()`` wait: backpressure, measurable in virtual time.

Deliveries are ``loop.call_soon`` / ``loop.call_at`` callbacks: on an ``AsyncTestCase`` the virtual clock
jumps to each arrival, so a 50 ms latency costs nothing and is exact; on a plain loop they take real time.

Closing follows asyncio's socket transports: ``close()`` lets what is in flight arrive and then the peer
reads EOF (``eof_received()``; a protocol that returns a false value has its transport closed, as asyncio
does), and ``connection_lost(None)`` is called on this end by the loop soon after.  ``write_eof()`` half-closes.
Faults: ``abort()`` drops what is in flight and the peer reads EOF (an abrupt close); ``reset()`` drops it
and the peer's ``connection_lost()`` gets a ``ConnectionResetError`` (so its ``StreamReader`` raises it);
``stall()`` holds every delivery on this end's link until ``resume()``.
"""

from __future__ import annotations

import asyncio
import collections
import warnings
from typing import Any, cast

__all__ = ["MemoryTransport", "join"]

_DEFAULT_HIGH = 64 * 1024  # asyncio's own default high-water mark for socket transports
_EOF = None  # the marker queued on a link after the last byte of a closed or half-closed end


class MemoryTransport(asyncio.Transport):
    """One end of an in-memory connection: an ``asyncio.Transport`` that code under test cannot tell from a
    socket's (``write``, ``writelines``, ``write_eof``, ``close``, ``abort``, ``is_closing``, flow control,
    ``get_extra_info('peername'/'sockname')``; ``'socket'`` is None).

    Made by :func:`asynctestkit.memory_stream_pair`, :func:`asynctestkit.memory_transport_pair` and
    :class:`asynctestkit.MemoryNetwork`, never directly.  Beyond asyncio's API it has the fault switches
    ``reset()``, ``stall()`` and ``resume()``, and ``latency``/``bandwidth`` attributes that apply to
    later writes.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, protocol: asyncio.BaseProtocol, *, name: str,
                 sockname: tuple[str, int], peername: tuple[str, int], capacity: int, latency: float,
                 bandwidth: float | None) -> None:
        super().__init__({"peername": peername, "sockname": sockname, "socket": None})
        self._loop = loop
        self._protocol = protocol
        self._peer: MemoryTransport | None = None
        self.name = name
        #: Seconds each write takes to reach the peer (applies to writes made after a change).
        self.latency = latency
        #: Bytes per second this end's link sends, or None for no limit (applies to later writes).
        self.bandwidth = bandwidth
        self._high = capacity
        self._low = capacity // 4
        self._in_flight: collections.deque[tuple[float, bytes | None]] = collections.deque()
        self._in_flight_bytes = 0
        self._link_free_at = 0.0        # when the link has sent everything it was given (bandwidth)
        self._last_arrival = 0.0        # deliveries never overtake each other
        self._delivery: asyncio.Handle | None = None
        self._stalled = False
        self._made = False              # connection_made() has run
        self._closing = False
        self._lost = False              # connection_lost() is scheduled or done
        self._eof_written = False
        self._paused_reading = False
        self._writing_paused = False    # the protocol was told pause_writing()
        self._on_lost: list[Any] = []   # callbacks(transport) after connection_lost (servers, networks)
        self._lost_before_made: tuple[BaseException | None] | None = None

    def __repr__(self) -> str:
        state = "closed" if self._lost else "closing" if self._closing else "open"
        host, port = self.get_extra_info("sockname")
        peer_host, peer_port = self.get_extra_info("peername")
        # no ">" inside: the leak report strips a trailing <repr> from a warning's text
        return f"<MemoryTransport {self.name} {host}:{port} to {peer_host}:{peer_port} {state}>"

    def describe(self) -> str:
        """``memory connection client 127.0.0.1:49152 -> db:5432``: how reports name this end."""
        host, port = self.get_extra_info("sockname")
        peer_host, peer_port = self.get_extra_info("peername")
        return f"memory connection {self.name} {host}:{port} -> {peer_host}:{peer_port}"

    # -- asyncio.BaseTransport ---------------------------------------------------------------------------
    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Stop reading; what is in flight still arrives, then the peer reads EOF; ``connection_lost(None)``
        follows on this end (scheduled on the loop, as asyncio does)."""
        if self._closing:
            return
        self._closing = True
        if not self._eof_written:
            self._eof_written = True
            self._send(_EOF)
        self._lose(None)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    # -- asyncio.ReadTransport ---------------------------------------------------------------------------
    def is_reading(self) -> bool:
        return not self._paused_reading and not self._closing

    def pause_reading(self) -> None:
        """Stop delivering to this end's protocol: the peer's bytes wait in flight (and count against the
        peer's capacity, so the peer's ``drain()`` waits once they exceed it)."""
        if self._closing or self._paused_reading:
            return
        self._paused_reading = True

    def resume_reading(self) -> None:
        if self._closing or not self._paused_reading:
            return
        self._paused_reading = False
        if self._peer is not None:
            self._peer._schedule()

    # -- asyncio.WriteTransport --------------------------------------------------------------------------
    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = _DEFAULT_HIGH if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high, self._low = high, low
        self._maybe_pause_protocol()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low, self._high

    def get_write_buffer_size(self) -> int:
        """Bytes this end wrote that the peer's protocol has not received yet."""
        return self._in_flight_bytes

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be a bytes-like object, not {type(data).__name__!r}")
        if self._eof_written and not self._closing:
            raise RuntimeError("Cannot call write() after write_eof()")
        if not data or self._closing:
            return  # asyncio drops writes after close() too (the connection is going away)
        chunk = bytes(data)
        self._in_flight_bytes += len(chunk)
        self._send(chunk)
        self._maybe_pause_protocol()

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def write_eof(self) -> None:
        """Half-close: the peer reads EOF after the bytes already written; this end can still read."""
        if self._closing or self._eof_written:
            return
        self._eof_written = True
        self._send(_EOF)

    def can_write_eof(self) -> bool:
        return True

    def abort(self) -> None:
        """Close at once: what is in flight is dropped, the peer reads EOF (an abrupt close)."""
        self._force_close(eof=True)

    # -- faults ------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Reset the connection from this end: this end closes at once (``connection_lost(None)``), what
        it had in flight is dropped, and after the link's latency the peer's ``connection_lost()`` gets a
        ``ConnectionResetError``: its ``StreamReader.read()`` and ``drain()`` raise it."""
        if self._lost:
            return
        self._force_close(eof=False)
        peer = self._peer
        if peer is not None and not peer._lost:
            self._loop.call_at(max(self._loop.time() + self.latency, self._last_arrival), peer._reset_by_peer)

    def stall(self) -> None:
        """Hold every delivery on this end's link (bytes and EOF) until :meth:`resume`: the peer waits,
        and this end's ``drain()`` too once more than its capacity is in flight."""
        self._stalled = True
        if self._delivery is not None:
            self._delivery.cancel()
            self._delivery = None

    def resume(self) -> None:
        """Deliver what a :meth:`stall` held: everything already due arrives at once, in order."""
        self._stalled = False
        self._schedule()

    @property
    def stalled(self) -> bool:
        return self._stalled

    # -- the link ----------------------------------------------------------------------------------------
    def _send(self, chunk: bytes | None) -> None:
        now = self._loop.time()
        sent = now
        if chunk is not None and self.bandwidth is not None:
            sent = max(now, self._link_free_at) + len(chunk) / self.bandwidth
            self._link_free_at = sent
        arrival = max(sent + self.latency, self._last_arrival)
        self._last_arrival = arrival
        self._in_flight.append((arrival, chunk))
        self._schedule()

    def _schedule(self) -> None:
        peer = self._peer
        if self._delivery is not None or not self._in_flight or self._stalled or peer is None:
            return
        if not peer._made or (peer._paused_reading and not (peer._closing or peer._lost)):
            return  # the peer's connection_made() / resume_reading() schedules the delivery
        arrival = self._in_flight[0][0]
        if arrival <= self._loop.time():
            self._delivery = self._loop.call_soon(self._deliver)
        else:
            self._delivery = self._loop.call_at(arrival, self._deliver)

    def _deliver(self) -> None:
        self._delivery = None
        peer = self._peer
        if peer is None:
            return
        if not peer._made:  # the loop has not run connection_made() yet: peer._connection_made() resumes
            return
        now = self._loop.time()
        while self._in_flight and not self._stalled:
            arrival, chunk = self._in_flight[0]
            if arrival > now:
                break
            if peer._lost or peer._closing:  # nobody reads at the other end any more: the bytes are lost
                self._drop_in_flight()
                break
            if peer._paused_reading:
                break  # peer.resume_reading() schedules the rest
            self._in_flight.popleft()
            if chunk is _EOF:
                peer._eof_received()
            else:
                self._in_flight_bytes -= len(chunk)
                peer._data_received(chunk)
        self._maybe_resume_protocol()
        self._schedule()

    def _drop_in_flight(self) -> None:
        self._in_flight.clear()
        self._in_flight_bytes = 0
        if self._delivery is not None:
            self._delivery.cancel()
            self._delivery = None

    # -- what the peer's link calls ----------------------------------------------------------------------
    def _data_received(self, data: bytes) -> None:
        try:
            self._protocol.data_received(data)  # type: ignore[attr-defined]
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.data_received() call failed.")

    def _eof_received(self) -> None:
        try:
            keep_open = self._protocol.eof_received()  # type: ignore[attr-defined]
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.eof_received() call failed.")
            return
        if not keep_open:
            self.close()

    def _reset_by_peer(self) -> None:
        if self._lost:
            return
        peer = self.get_extra_info("peername")
        error = ConnectionResetError(f"Connection reset by peer ({peer[0]}:{peer[1]}, memory connection)")
        self._force_close(eof=False, exc=error)

    # -- closing -----------------------------------------------------------------------------------------
    def _fatal_error(self, exc: BaseException, message: str) -> None:
        if not isinstance(exc, OSError):  # asyncio logs OSErrors at debug level only, the rest as errors
            self._loop.call_exception_handler({"message": message, "exception": exc, "transport": self,
                                               "protocol": self._protocol})
        self._force_close(eof=True, exc=exc)

    def _force_close(self, *, eof: bool, exc: BaseException | None = None) -> None:
        if self._lost:
            return
        self._drop_in_flight()
        self._closing = True
        if eof and not self._eof_written:
            self._eof_written = True
            self._send(_EOF)
        self._lose(exc)

    def _lose(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc: BaseException | None) -> None:
        if not self._made:  # lost before the loop ran connection_made(): asyncio's order is made, then lost
            self._lost_before_made = (exc,)
            return
        try:
            if self._made:
                # asyncio hands the protocol whatever ended the connection, as here (typeshed says Exception)
                self._protocol.connection_lost(cast("Exception | None", exc))
        finally:
            callbacks, self._on_lost = self._on_lost, []
            for callback in callbacks:
                callback(self)

    def _connection_made(self) -> None:
        self._made = True
        self._protocol.connection_made(self)
        if self._lost_before_made is not None:
            self._loop.call_soon(self._call_connection_lost, self._lost_before_made[0])
        self._schedule()
        if self._peer is not None:
            self._peer._schedule()

    # -- flow control ------------------------------------------------------------------------------------
    def _maybe_pause_protocol(self) -> None:
        if self._in_flight_bytes <= self._high or self._writing_paused or self._lost:
            return
        self._writing_paused = True
        self._tell_protocol("pause_writing")

    def _maybe_resume_protocol(self) -> None:
        if not self._writing_paused or self._in_flight_bytes > self._low or self._lost:
            return  # after close, connection_lost() wakes a waiting drain(); asyncio calls nothing more
        self._writing_paused = False
        self._tell_protocol("resume_writing")

    def _tell_protocol(self, method: str) -> None:
        """Call the protocol's flow-control *method*; an error goes to the loop's handler, as asyncio does."""
        try:
            getattr(self._protocol, method)()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler({"message": f"protocol.{method}() failed", "exception": exc,
                                               "transport": self, "protocol": self._protocol})

    def get_loop_closed(self) -> bool:
        """True once the loop this transport runs on is closed (nothing can be scheduled on it)."""
        return self._loop.is_closed()

    def __del__(self, _warn: Any = warnings.warn) -> None:
        # Like asyncio's socket transports: an end dropped while open says so (the leak check reports it
        # with its creation line, having recorded the transport when it was made).
        if not self._closing:
            _warn(f"unclosed {self!r}", ResourceWarning, source=self)


def join(client: MemoryTransport, server: MemoryTransport) -> None:
    """Connect two fresh transports to each other."""
    client._peer = server
    server._peer = client
