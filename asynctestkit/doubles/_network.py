"""MemoryNetwork: servers and connections by address, in memory, with asyncio's own signatures.

``await net.start_server(cb, host, port)`` and ``await net.open_connection(host, port)`` take the arguments
of ``asyncio.start_server`` and ``asyncio.open_connection`` and return what they return (a server object;
a ``StreamReader``/``StreamWriter`` pair), so code that takes its connect function by injection runs
unchanged; ``create_server``/``create_connection`` do the same for protocol code.  A connection goes to the
server listening on the address dialled (a server on host ``None``, ``''``, ``'0.0.0.0'`` or ``'::'``
listens on every host); no server there raises ``ConnectionRefusedError`` naming the address.

Connecting takes one round trip of the address's latency: the server side is made after one latency (its
callback starts then), the client's call returns after the second.  :meth:`MemoryNetwork.configure` sets an
address's latency, bandwidth, capacity and connect fault.  :meth:`MemoryNetwork.patch_asyncio` routes
``asyncio.open_connection``/``asyncio.start_server`` to the network for code that calls them directly
(``_patch``).
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .. import _diagnostics, _validate
from ..leaks import track_resource
from ._server import MemoryServer
from ._streams import (
    DEFAULT_CAPACITY,
    DEFAULT_LIMIT,
    MemoryConnection,
    ProtocolEnd,
    ServerStreamProtocol,
    check_limit,
    check_settings,
    make_transports,
    next_port,
    running_loop,
    stream_end,
    stream_protocol,
)
from ._transport import MemoryTransport

if TYPE_CHECKING:
    from ._patch import AsyncioPatch

__all__ = ["MemoryNetwork"]

_ANY_HOST = (None, "", "0.0.0.0", "::")
_FAULTS = (None, "refuse", "hang", "reset")
_UNSET: Any = object()
# Keyword arguments of asyncio's functions that mean nothing in memory: accepted and ignored, so code
# that passes them runs unchanged.  ``ssl`` and ``sock`` are refused (see _unsupported).
_IGNORED_CONNECT = frozenset({"family", "proto", "flags", "server_hostname", "ssl_handshake_timeout",
                              "ssl_shutdown_timeout", "happy_eyeballs_delay", "interleave", "all_errors"})
_IGNORED_SERVE = frozenset({"family", "flags", "backlog", "reuse_address", "reuse_port", "keep_alive",
                            "ssl_handshake_timeout", "ssl_shutdown_timeout"})


def _host_port(where: str, host: object, port: object, *, server: bool) -> tuple[Any, int]:
    if port is None and server:
        port = 0
    if not isinstance(port, (int, str)) or isinstance(port, bool):
        raise TypeError(f"{where}: port must be an int (or a numeric str), got {_validate.given(port)}")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"{where}: port must be an int 0-65535, got {port!r}") from None
    if not 0 <= number <= 65535 or (number == 0 and not server):
        raise ValueError(f"{where}: port must be an int {'0' if server else '1'}-65535, got {port!r}")
    if server:
        if host is not None and not isinstance(host, (str, list, tuple)):
            raise TypeError(f"{where}: host must be a str, a list of str or None, got {_validate.given(host)}")
    elif not isinstance(host, str):
        raise TypeError(f"{where}: host must be a str, got {_validate.given(host)}")
    return host, number


def _unsupported(where: str, kwargs: dict[str, Any], ignored: frozenset[str]) -> None:
    for name, value in kwargs.items():
        if name in ("ssl", "sock", "start_serving", "local_addr") and value is None:
            continue
        if name in ("ssl", "sock", "ssl_handshake_timeout") and value not in (None, False):
            raise ValueError(f"{where}({name}=...) is not supported by a MemoryNetwork: memory connections "
                             f"carry plain bytes between addresses; use a real loopback server to test "
                             f"{'TLS' if name.startswith('ssl') else 'a socket you made'}")
        if name not in ignored:
            raise TypeError(f"{where}() got an unexpected keyword argument {name!r}")


class _Route:
    """The settings of one address (or the network's defaults)."""

    __slots__ = ("bandwidth", "capacity", "fault", "latency")

    def __init__(self, latency: float, bandwidth: float | None, capacity: int, fault: str | None) -> None:
        self.latency, self.bandwidth, self.capacity, self.fault = latency, bandwidth, capacity, fault


class MemoryNetwork:
    """An in-memory network for one test: servers by address, connections between them, on the loop's clock.

    Its methods take the arguments of asyncio's own functions and return the same kinds of objects:
    ``start_server(client_connected_cb, host, port, ...)``, ``open_connection(host, port, ...)``,
    ``create_server(protocol_factory, host, port, ...)``, ``create_connection(protocol_factory, host, port,
    ...)``.  Give ``net.open_connection`` to code that takes its connect function as a parameter, or route
    ``asyncio.open_connection``/``asyncio.start_server`` here for a block with :meth:`patch_asyncio`.

    *latency* (seconds, one way), *bandwidth* (bytes per second, None: no limit) and *capacity* (bytes in
    flight before ``drain()`` waits) are the defaults of every address; :meth:`configure` sets them, and a
    connect fault, per address.  Connecting takes one round trip (``2 * latency``).  Every connection and
    server is checked for leaks like a real one.

    Example::

        net = MemoryNetwork(latency=0.01)
        server = await net.start_server(handle, "db.internal", 5432)
        reader, writer = await net.open_connection("db.internal", 5432)
    """

    def __init__(self, *, latency: float = 0.0, bandwidth: float | None = None,
                 capacity: int = DEFAULT_CAPACITY) -> None:
        capacity, latency, rate = check_settings("MemoryNetwork", capacity, latency, bandwidth)
        self._default = _Route(latency, rate, capacity, None)
        self._routes: dict[tuple[str, int], _Route] = {}
        self._listening: dict[tuple[Any, int], MemoryServer] = {}
        self._connections: list[MemoryConnection[Any]] = []
        self._patch: AsyncioPatch | None = None

    def __repr__(self) -> str:
        servers = sorted({f"{host}:{port}" for host, port in self._listening})
        return f"<MemoryNetwork listening on [{', '.join(servers)}], {len(self._connections)} connections open>"

    # -- configuration ---------------------------------------------------------------------------------
    def configure(self, host: str, port: int, *, latency: float = _UNSET, bandwidth: float | None = _UNSET,
                  capacity: int = _UNSET, fault: str | None = _UNSET) -> None:
        """Set the latency, bandwidth, capacity or connect fault of connections made later to *host*:*port*
        (the address a client dials); a setting not given keeps its value.

        *fault*: ``None`` (connect normally), ``"refuse"`` (``ConnectionRefusedError`` although a server
        listens), ``"hang"`` (the connect never completes: the caller's timeout ends it) or ``"reset"``
        (the connect succeeds, the server's callback is never called, and the client's first read or
        ``drain()`` raises ``ConnectionResetError``).  Faults of connections already open:
        :meth:`connections` gives them (``conn.reset()``, ``conn.stall()``).
        """
        host, port = _host_port("MemoryNetwork.configure()", host, port, server=False)
        route = self._routes.get((host, port)) or self._default
        new = _Route(route.latency, route.bandwidth, route.capacity, route.fault)
        checked = check_settings("MemoryNetwork.configure", new.capacity if capacity is _UNSET else capacity,
                                 new.latency if latency is _UNSET else latency,
                                 new.bandwidth if bandwidth is _UNSET else bandwidth)
        new.capacity, new.latency, new.bandwidth = checked
        if fault is not _UNSET:
            if fault not in _FAULTS:
                raise ValueError(f"MemoryNetwork.configure(fault=...) must be None, 'refuse', 'hang' or 'reset', "
                                 f"got {_validate.given(fault)}")
            new.fault = fault
        self._routes[(host, port)] = new

    def connections(self, host: str | None = None, port: int | None = None) -> list[MemoryConnection[Any]]:
        """The connections still open (on either end), oldest first; only those to *host*/*port* if given."""
        return [conn for conn in self._connections
                if (host is None or conn.server_transport.get_extra_info("sockname")[0] == host)
                and (port is None or conn.server_transport.get_extra_info("sockname")[1] == port)]

    @property
    def servers(self) -> list[MemoryServer]:
        """The servers listening now."""
        return list(dict.fromkeys(self._listening.values()))

    # -- servers -----------------------------------------------------------------------------------------
    async def create_server(self, protocol_factory: Callable[[], asyncio.BaseProtocol], host: Any = None,
                            port: Any = None, *, start_serving: bool = True, **kwargs: Any) -> MemoryServer:
        """``loop.create_server`` in memory: listen on *host*:*port* (port 0 or None: a free port, read it
        from ``server.sockets[0].getsockname()``).  ``OSError`` (``EADDRINUSE``) if a server listens there."""
        if not callable(protocol_factory):
            raise TypeError(f"MemoryNetwork.create_server(protocol_factory=...) must be a callable returning an "
                            f"asyncio.Protocol, got {_validate.given(protocol_factory)}")
        _unsupported("MemoryNetwork.create_server", kwargs, _IGNORED_SERVE)
        host, port = _host_port("MemoryNetwork.create_server()", host, port, server=True)
        loop = running_loop("MemoryNetwork.create_server")
        hosts: Iterable[Any] = host if isinstance(host, (list, tuple)) else [host]
        if port == 0:
            port = next_port()
        addresses = [(h, port) for h in hosts]
        for address in addresses:
            if address in self._listening:
                raise OSError(errno.EADDRINUSE, f"error while attempting to bind on address {address!r}: address "
                                                f"already in use (by {self._listening[address]!r})")
        server = MemoryServer(self._unlisten, loop, protocol_factory,
                              [("0.0.0.0" if h in _ANY_HOST else h, p) for h, p in addresses])
        for address in addresses:
            self._listening[address] = server
        track_resource(server, is_open=MemoryServer.is_open, close=MemoryServer.close, describe=MemoryServer.describe)
        if start_serving:
            await server.start_serving()
        return server

    async def start_server(self, client_connected_cb: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any],
                           host: Any = None, port: Any = None, *, limit: int = DEFAULT_LIMIT,
                           **kwargs: Any) -> MemoryServer:
        """``asyncio.start_server`` in memory: *client_connected_cb(reader, writer)* runs for each
        connection (a coroutine function runs as a task, as in asyncio)."""
        if not callable(client_connected_cb):
            raise TypeError(f"MemoryNetwork.start_server(client_connected_cb=...) must be a function taking "
                            f"(reader, writer), got {_validate.given(client_connected_cb)}")
        limit = check_limit("MemoryNetwork.start_server", limit)
        loop = running_loop("MemoryNetwork.start_server")
        def factory() -> ServerStreamProtocol:
            return ServerStreamProtocol(asyncio.StreamReader(limit=limit, loop=loop), client_connected_cb, loop)

        return await self.create_server(factory, host, port, **kwargs)

    def _unlisten(self, server: MemoryServer) -> None:
        for address, listening in list(self._listening.items()):
            if listening is server:
                del self._listening[address]

    # -- connections -------------------------------------------------------------------------------------
    async def create_connection(self, protocol_factory: Callable[[], asyncio.BaseProtocol], host: Any = None,
                                port: Any = None, *, local_addr: tuple[str, int] | None = None,
                                **kwargs: Any) -> tuple[MemoryTransport, asyncio.BaseProtocol]:
        """``loop.create_connection`` in memory: ``(transport, protocol)`` once ``connection_made`` ran.

        ``ConnectionRefusedError`` when nothing listens on *host*:*port* (or its fault is ``"refuse"``).
        Cancelled while connecting: nothing is left open.
        """
        if not callable(protocol_factory):
            raise TypeError(f"MemoryNetwork.create_connection(protocol_factory=...) must be a callable returning "
                            f"an asyncio.Protocol, got {_validate.given(protocol_factory)}")
        _unsupported("MemoryNetwork.create_connection", kwargs, _IGNORED_CONNECT)
        conn = await self._connect("create_connection", protocol_factory, host, port, local_addr)
        return conn.client.transport, conn.client.protocol

    async def open_connection(self, host: Any = None, port: Any = None, *, limit: int = DEFAULT_LIMIT,
                              local_addr: tuple[str, int] | None = None,
                              **kwargs: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """``asyncio.open_connection`` in memory: ``(reader, writer)`` connected to the server on
        *host*:*port*.  ``ConnectionRefusedError`` (naming the address) when nothing listens there."""
        limit = check_limit("MemoryNetwork.open_connection", limit)
        _unsupported("MemoryNetwork.open_connection", kwargs, _IGNORED_CONNECT)
        loop = running_loop("MemoryNetwork.open_connection")
        reader, protocol = stream_protocol(loop, limit)
        conn = await self._connect("open_connection", lambda: protocol, host, port, local_addr)
        end = stream_end(loop, conn.client.transport, reader, protocol)
        return end.reader, end.writer

    async def _connect(self, what: str, protocol_factory: Callable[[], asyncio.BaseProtocol], host: Any,
                       port: Any, local_addr: tuple[str, int] | None) -> MemoryConnection[ProtocolEnd]:
        where = f"MemoryNetwork.{what}()"
        host, port = _host_port(where, host, port, server=False)
        loop = running_loop(f"MemoryNetwork.{what}")
        route = self._routes.get((host, port), self._default)
        if route.fault == "hang":
            waiter: asyncio.Future[None] = loop.create_future()
            _diagnostics.describe_wait(waiter, lambda: f"a connection to {host}:{port}: its fault is 'hang'")
            await waiter
        await asyncio.sleep(route.latency)  # the connect request travels to the server
        server = self._listening.get((host, port)) or next(
            (self._listening[(any_host, port)] for any_host in _ANY_HOST if (any_host, port) in self._listening),
            None)
        if route.fault == "refuse" or server is None or not server.is_serving():
            reason = ("its fault is 'refuse'" if route.fault == "refuse" else
                      "no server listens there" if server is None else f"{server.describe()} is not serving yet")
            raise ConnectionRefusedError(errno.ECONNREFUSED, f"Connect call failed ({host!r}, {port}): connection "
                                                             f"refused by the memory network ({reason})")
        server_protocol: asyncio.BaseProtocol = (asyncio.Protocol() if route.fault == "reset" else
                                                 server._protocol_factory())
        client_protocol = protocol_factory()
        client, accepted = make_transports(loop, client_protocol, server_protocol,
                                           client_address=local_addr or ("127.0.0.1", next_port()),
                                           server_address=(host, port), capacity=route.capacity,
                                           latency=route.latency, bandwidth=route.bandwidth)
        conn: MemoryConnection[ProtocolEnd] = MemoryConnection(ProtocolEnd(client, client_protocol),
                                                               ProtocolEnd(accepted, server_protocol))
        self._connections.append(conn)
        for transport in (client, accepted):
            transport._on_lost.append(lambda _t, c=conn: self._forget(c))
        if route.fault == "reset":
            loop.call_soon(accepted._connection_made)
            loop.call_soon(accepted.reset)
        else:
            server._accepted(accepted)
            loop.call_soon(accepted._connection_made)
        try:
            await asyncio.sleep(route.latency)  # the answer travels back
        except asyncio.CancelledError:
            client.abort()
            accepted.abort()
            raise
        await connection_made_client(loop, client, accepted)
        return conn

    def _forget(self, conn: MemoryConnection[Any]) -> None:
        if conn.client_transport._lost and conn.server_transport._lost and conn in self._connections:
            self._connections.remove(conn)

    # -- routing asyncio's own functions -----------------------------------------------------------------
    def patch_asyncio(self) -> AsyncioPatch:
        """A context manager routing ``asyncio.open_connection`` and ``asyncio.start_server`` to this network
        while it is entered, for code that calls them directly; restored on exit, also when the block
        raises.  ``with net.patch_asyncio(): ...`` (or ``self.enterContext(net.patch_asyncio())``).

        Only the module attributes are replaced: a name imported before (``from asyncio import
        open_connection``) keeps the real function, and ``loop.create_connection`` stays real.  Entering a
        second one while one is active raises ``RuntimeError`` (one network routes asyncio at a time).
        """
        from ._patch import AsyncioPatch

        return AsyncioPatch(self)


async def connection_made_client(loop: asyncio.AbstractEventLoop, client: MemoryTransport,
                                 accepted: MemoryTransport) -> None:
    """The client's ``connection_made()``, from the loop; aborts both ends if the caller is cancelled."""
    loop.call_soon(client._connection_made)
    try:
        await asyncio.sleep(0)
    except asyncio.CancelledError:
        client.abort()
        accepted.abort()
        raise

