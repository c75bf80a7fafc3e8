"""MemoryServer: what ``MemoryNetwork.start_server``/``create_server`` return, behaving like ``asyncio.Server``.

It listens on one or more addresses of its network until ``close()``, keeps the server-side transports of
the connections it accepted (until each is lost), and wakes ``wait_closed()`` once it is closed and every
one of them is gone (asyncio 3.12+'s rule, on every version).  The network routes connections to it and
builds each connection's transports; the server only counts them.
"""

from __future__ import annotations

import asyncio
import socket
import warnings
from collections.abc import Callable
from typing import Any

from .. import _diagnostics
from ._transport import MemoryTransport

__all__ = ["MemoryServer"]


class _MemorySocket:
    """What ``server.sockets`` lists for a memory server: enough to read the address it listens on."""

    __slots__ = ("_address",)
    family = socket.AF_INET
    type = socket.SOCK_STREAM

    def __init__(self, address: tuple[str, int]) -> None:
        self._address = address

    def getsockname(self) -> tuple[str, int]:
        return self._address

    def fileno(self) -> int:
        return -1

    def __repr__(self) -> str:
        return f"<memory socket {self._address[0]}:{self._address[1]}>"


class MemoryServer(asyncio.AbstractServer):
    """A server listening on a :class:`MemoryNetwork`: behaves like ``asyncio.Server``.

    ``close()`` stops listening (new connections are refused; open ones stay, as in asyncio);
    ``wait_closed()`` then waits until every connection it accepted is closed too (asyncio 3.12+'s rule, on
    every version; 3.10-3.11's own returns at ``close()``); ``serve_forever()``, ``start_serving()``,
    ``is_serving()``, ``close_clients()``, ``abort_clients()``, ``get_loop()``, ``sockets`` and
    ``async with server:`` as documented for ``asyncio.Server``.  A server not closed by the end of the
    test is reported by the leak check with the line that started it.
    """

    def __init__(self, on_close: Callable[[MemoryServer], None], loop: asyncio.AbstractEventLoop,
                 protocol_factory: Callable[[], asyncio.BaseProtocol], addresses: list[tuple[str, int]]) -> None:
        self._on_close = on_close  # the network stops routing to this server
        self._loop = loop
        self._protocol_factory = protocol_factory
        self._addresses = addresses
        self._serving = False
        self._closed = False
        self._connections: list[MemoryTransport] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._serving_forever: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return f"<MemoryServer {self.describe()}>"

    def describe(self) -> str:
        """``memory server on db:5432 (1 connection open)``: how reports name it."""
        where = ", ".join(f"{host}:{port}" for host, port in self._addresses)
        count = len(self._connections)
        state = "closed, " if self._closed else "" if self._serving else "not serving, "
        return f"memory server on {where} ({state}{count} connection{'s' if count != 1 else ''} open)"

    @property
    def sockets(self) -> tuple[_MemorySocket, ...]:
        """One socket-like object per listening address (``getsockname()`` gives it); empty once closed."""
        return () if self._closed else tuple(_MemorySocket(address) for address in self._addresses)

    @property
    def connections(self) -> list[MemoryTransport]:
        """The server-side transports of the connections this server accepted that are still open."""
        return list(self._connections)

    def is_open(self) -> bool:
        """True until ``close()``: what the leak check asks (serving or not, as for a listening socket)."""
        return not self._closed

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        if self._closed:
            raise RuntimeError(f"server {self!r} is closed")
        self._serving = True

    async def serve_forever(self) -> None:
        """Serve until cancelled; then close the server (and wait as ``wait_closed()`` does) and re-raise."""
        if self._serving_forever is not None:
            raise RuntimeError(f"server {self!r} is already being awaited on serve_forever()")
        if self._closed:
            raise RuntimeError(f"server {self!r} is closed")
        self._serving = True
        self._serving_forever = self._loop.create_future()
        try:
            await self._serving_forever
        except asyncio.CancelledError:
            try:
                self.close()
                await self.wait_closed()
            finally:
                raise
        finally:
            self._serving_forever = None

    def close(self) -> None:
        """Stop listening: new connections are refused; the ones already accepted stay open."""
        if self._closed:
            return
        self._closed = True
        self._serving = False
        self._on_close(self)
        if self._serving_forever is not None and not self._serving_forever.done():
            self._serving_forever.cancel()
        self._wake()

    def close_clients(self) -> None:
        """Close every connection this server accepted (asyncio 3.13's ``Server.close_clients``)."""
        for transport in list(self._connections):
            transport.close()

    def abort_clients(self) -> None:
        """Abort every connection this server accepted (asyncio 3.13's ``Server.abort_clients``)."""
        for transport in list(self._connections):
            transport.abort()

    async def wait_closed(self) -> None:
        """Wait until the server is closed and every connection it accepted is closed (asyncio 3.12+'s
        rule, on every version: a test's cleanup ``server.close(); await server.wait_closed()`` then leaves
        no handler running)."""
        if self._closed and not self._connections:
            return
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append(waiter)
        _diagnostics.describe_wait(waiter, lambda: f"{self.describe()} to close")
        await waiter

    def _wake(self) -> None:
        if not self._closed or self._connections:
            return
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def __del__(self, _warn: Any = warnings.warn) -> None:
        # A listening socket warns when it is dropped open; so does a memory server, so the leak check
        # reports it (with the line that started it) even when the garbage collector got to it first.
        if not self._closed:
            _warn(f"unclosed {self!r}", ResourceWarning, source=self)

    def _accepted(self, transport: MemoryTransport) -> None:
        self._connections.append(transport)
        transport._on_lost.append(self._detach)

    def _detach(self, transport: MemoryTransport) -> None:
        if transport in self._connections:
            self._connections.remove(transport)
        self._wake()
