"""What a file object registered with the loop's selector is: the socket and fd classification of real work.

The clock asks this of every registered file object when the loop would sleep: a socket whose peer is another
socket of this loop (``IN_LOOP``: traffic the kernel delivers at once, no real work), a connected socket to a
peer elsewhere (``EXTERNAL``: holds virtual time), a connect in progress (``CONNECTING``: holds it too), or a
listening socket, pipe or other fd (``SOURCE``: something that may wake the loop, never a reason to hold time).
Pipes and other fds are looked at more closely in ``_fdpeer``.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Mapping
from selectors import SelectorKey
from typing import Any

from . import _fdpeer

__all__ = ["CONNECTING", "EXTERNAL", "INTERNAL", "IN_LOOP", "SOURCE", "classify_fileobj", "describe_fd", "fd_of",
           "peer_text", "socket_fd_of"]

INTERNAL = "internal"           # the loop's own self-pipe
IN_LOOP = _fdpeer.IN_LOOP       # a socket whose peer is another socket of this loop
EXTERNAL = _fdpeer.EXTERNAL     # a connected socket whose peer is elsewhere: holds the clock
CONNECTING = "connecting"       # a connect in progress: holds the clock
SOURCE = _fdpeer.SOURCE         # listening socket, pipe, other fd: a wake-up source only


def fd_of(fileobj: Any) -> int:
    """The fd of a selector's file object (an int already, or anything with ``fileno()``)."""
    return fileobj if isinstance(fileobj, int) else int(fileobj.fileno())


def socket_fd_of(obj: Any) -> int | None:
    """The fd behind a socket, a transport or a StreamWriter, or None."""
    transport = getattr(obj, "transport", None)
    if transport is not None and hasattr(transport, "get_extra_info"):
        obj = transport
    if hasattr(obj, "get_extra_info"):
        obj = obj.get_extra_info("socket")
    if isinstance(obj, socket.socket) or (obj is not None and hasattr(obj, "fileno") and hasattr(obj, "family")):
        try:
            return int(obj.fileno())
        except (OSError, ValueError):
            return None
    return None


def _as_socket(fileobj: Any) -> socket.socket | None:
    if isinstance(fileobj, socket.socket):
        return fileobj
    try:
        fd = fd_of(fileobj)
        if not stat.S_ISSOCK(os.fstat(fd).st_mode):
            return None
        return socket.socket(fileno=os.dup(fd))
    except (OSError, ValueError):
        return None


def _sock_addresses(sock: socket.socket) -> tuple[Any, Any]:
    try:
        own = sock.getsockname()
    except OSError:
        own = None
    try:
        peer = sock.getpeername()
    except OSError:
        peer = None
    return own, peer


def _host_port(addr: Any) -> Any:
    """Normalise an address for comparison (IPv6 tuples carry flow info and scope id)."""
    if isinstance(addr, tuple) and len(addr) >= 2:
        return (addr[0], addr[1])
    return addr


def _is_wildcard_of(listener: Any, peer: Any) -> bool:
    return (isinstance(listener, tuple) and isinstance(peer, tuple) and len(listener) >= 2
            and len(peer) >= 2 and listener[0] in ("0.0.0.0", "::", "") and listener[1] == peer[1])


def classify_fileobj(key: SelectorKey, fd_map: Mapping[Any, SelectorKey]) -> str:
    sock = _as_socket(key.fileobj)
    if sock is None:
        return SOURCE
    owned = sock is not key.fileobj
    try:
        own, peer = _sock_addresses(sock)
        if peer is None:
            # Not connected: a listener, an unconnected datagram socket, or a connect in progress.
            if sock.type == socket.SOCK_STREAM and key.events & 2 and not key.events & 1:  # EVENT_WRITE only
                return CONNECTING
            return SOURCE
        if sock.family == getattr(socket, "AF_UNIX", None) and not peer:
            return IN_LOOP  # an unnamed pair (socketpair): both ends live in this process
        peer_n = _host_port(peer)
        for other in fd_map.values():
            if other.fd == key.fd:
                continue
            other_sock = _as_socket(other.fileobj)
            if other_sock is None:
                continue
            try:
                other_own, other_peer = _sock_addresses(other_sock)
            finally:
                if other_sock is not other.fileobj:
                    other_sock.close()
            if _host_port(other_own) == peer_n and (other_peer is None or _host_port(other_peer) == _host_port(own)):
                return IN_LOOP
            if other_peer is None and _is_wildcard_of(other_own, peer):
                return IN_LOOP  # a listener of this loop bound to 0.0.0.0 / :: on the peer's port
            if other_peer is not None and _host_port(other_peer) == _host_port(own) and _host_port(other_own) == peer_n:
                return IN_LOOP
        return EXTERNAL
    finally:
        if owned:
            sock.close()


def peer_text(fileobj: Any) -> str:
    sock = _as_socket(fileobj)
    if sock is None:
        return repr(fileobj)
    try:
        _own, peer = _sock_addresses(sock)
        return str(peer) if peer is not None else "(not connected yet)"
    finally:
        if sock is not fileobj:
            sock.close()


def describe_fd(fileobj: Any) -> str:
    sock = _as_socket(fileobj)
    if sock is None:
        return "pipe or file"
    try:
        own, _peer = _sock_addresses(sock)
        return f"listening socket {own}" if own else "socket"
    finally:
        if sock is not fileobj:
            sock.close()
