"""How each kind of leaked object is named in a report, and whether a transport is really still open.

Pure functions over public asyncio API (``get_extra_info``, ``is_closing``, ``sockets``, ``get_pid``...);
the creation sites come from the tracker's registries or from :mod:`~asynctestkit.diagnostics`.
"""

from __future__ import annotations

import asyncio
import functools
import re
import shlex
import socket
import sys
import threading
import types
from collections.abc import Sequence
from contextvars import Context
from typing import Any

from . import _compat, diagnostics
from ._leakreport import Leak
from .diagnostics import Site

Sites = tuple[Site | None, Site | None]
"""``(innermost frame outside asyncio/unittest/asynctestkit, innermost frame outside installed libraries)``."""

_LIBRARY_MARKERS = ("site-packages", "dist-packages")
_EVENTS_FILE = asyncio.events.__file__


def call_sites() -> Sites:
    """Where the current call comes from: the innermost non-framework frame and, when that frame is inside
    an installed library (aiohttp's ``TestClient`` creating a session, say), the innermost frame of the
    application or test as well.  A short frame walk, no traceback objects.

    The walk stops at the event loop's callback runner: a call made by a task's first step from asyncio
    code (``asyncio.to_thread()`` wrapped in ``create_task()``) is attributed to the line that created the
    task's coroutine, never to whatever started the loop.
    """
    frame: types.FrameType | None = sys._getframe(1)
    first: Site | None = None
    while frame is not None:
        code = frame.f_code
        filename = code.co_filename
        if not diagnostics.is_internal_file(filename):
            site = (filename, frame.f_lineno, code.co_name)
            if first is None:
                first = site
            if not any(marker in filename for marker in _LIBRARY_MARKERS):
                return first, (site if site is not first else None)
        elif filename == _EVENTS_FILE and code.co_name == "_run":  # Handle._run: the loop itself
            if first is not None:
                return first, None
            try:
                task = asyncio.current_task()
            except RuntimeError:
                task = None
            return (diagnostics.creation_site(task) if task is not None else None), None
        frame = frame.f_back
    return first, None


def created_lines(sites: Sites | None, via: str = "", *, label: str = "created at") -> list[str]:
    """``created at tests/x.py:40 in test_x (loop.create_connection)`` (+ a ``from`` line for library frames)."""
    site, user = sites if sites is not None else (None, None)
    if site is None:
        return []
    suffix = f" (via {via})" if via else ""
    lines = [f"{label:<12} {diagnostics.format_site(site)}{suffix}"]
    if user is not None:
        lines.append(f"{'from':<12} {diagnostics.format_site(user)}")
    return lines


def traceback_sites(obj: object) -> Sites | None:
    """Creation sites from a ``_source_traceback`` (asyncio debug mode, aio-libs objects), if recorded."""
    stack = _compat.source_traceback(obj)
    if not stack:
        return None
    frames = [(fs.filename, fs.lineno or 0, fs.name) for fs in reversed(stack)]
    outside = [f for f in frames if not diagnostics.is_internal_file(f[0])]
    if not outside:
        return (frames[0], None)
    user = next((f for f in outside if not any(m in f[0] for m in _LIBRARY_MARKERS)), None)
    return (outside[0], user if user is not outside[0] else None)


def short_name(qualname: str) -> str:
    """``worker`` for ``TestX.test_y.<locals>.worker``: the enclosing function adds nothing to a report."""
    return qualname.rsplit(".<locals>.", 1)[-1]


def describe_future(fut: asyncio.Future[Any]) -> str:
    """``task 'poller' (poll_forever())`` or ``future <Future finished exception=KeyError('x')>``."""
    if isinstance(fut, asyncio.Task):
        coro = fut.get_coro()
        name = getattr(coro, "__qualname__", None) or type(coro).__name__
        return f"task {fut.get_name()!r} ({short_name(name)}())"
    return "future " + re.sub(r" created at [^>]*", "", repr(fut))


def callable_name(func: Any) -> str:
    """A readable name for an executor job; ``to_thread`` hides the function in ``partial(ctx.run, f, ...)``."""
    while isinstance(func, functools.partial):
        inner = func.func
        if getattr(inner, "__name__", "") == "run" and isinstance(getattr(inner, "__self__", None), Context):
            func = func.args[0] if func.args else inner
        else:
            func = inner
    return short_name(str(getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)))


def definition_site(func: Any) -> Site | None:
    """Where a function (or the function behind a bound method or partial) is defined."""
    while isinstance(func, functools.partial):
        func = func.func
    code = getattr(getattr(func, "__func__", func), "__code__", None)
    if code is None:
        return None
    return (code.co_filename, code.co_firstlineno, code.co_name)


# -- tasks and coroutines -------------------------------------------------------------------------------

def task_leak(task: asyncio.Task[Any]) -> Leak:
    lines = diagnostics.format_task(task, "")
    names = (task.get_name(), short_name(str(getattr(task.get_coro(), "__qualname__", ""))))
    return Leak("tasks", f"{describe_future(task)} still pending", lines[1:], names)


def exception_leak(fut: asyncio.Future[Any], error: BaseException | None) -> Leak:
    what = describe_future(fut)
    details = [f"{'exception':<12} {error!r}"] if error is not None else []
    site = diagnostics.creation_site(fut)
    details += created_lines((site, None) if site else None)
    names = (fut.get_name(),) if isinstance(fut, asyncio.Task) else ("Future",)
    return Leak("exceptions", f"{what} failed and its exception was never retrieved", details,
                (*names, type(error).__name__))


def coroutine_leak(coro: Any, qualname: str, where: str = "") -> Leak:
    qualname = short_name(qualname)
    site = diagnostics.creation_site(coro) if coro is not None else None
    details = created_lines((site, None) if site else None)
    if where:
        details.append(f"{'kept on':<12} {where}")
    return Leak("coroutines", f"coroutine {qualname!r} was never awaited", details, (qualname,))


# -- transports, servers, subprocesses ---------------------------------------------------------------------

def _fileno(obj: Any) -> int:
    try:
        return int(obj.fileno())
    except (OSError, ValueError, AttributeError, TypeError):
        return -1


def transport_open(transport: Any) -> bool:
    """True when *transport* still holds an open socket or pipe and nobody asked it to close.

    Closing is not leaking: ``is_closing()`` (``close()`` called, TLS shutdown in progress) is never a leak.
    3.10's TLS transports keep ``is_closing() == False`` after the peer closed the connection although no
    socket is left, so a TLS transport without a socket counts as closed.
    """
    try:
        if transport.is_closing():
            return False
        sock = transport.get_extra_info("socket")
        if sock is not None:
            return _fileno(sock) != -1
        pipe = transport.get_extra_info("pipe")
        if pipe is not None:
            return not getattr(pipe, "closed", False) and _fileno(pipe) != -1
        return transport.get_extra_info("sslcontext") is None
    except Exception:  # a half-torn-down third-party transport
        return False


def _address(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = f"[{addr[0]}]" if ":" in str(addr[0]) else str(addr[0])
        return f"{host}:{addr[1]}"
    if isinstance(addr, bytes):
        addr = addr.decode(errors="replace")
    return str(addr) if addr else "(unnamed)"


def describe_transport(transport: Any) -> str:
    """``TCP transport 127.0.0.1:51834 -> 127.0.0.1:8080``, ``TLS ...``, ``UDP ...``, ``read pipe (fd 7)``."""
    try:
        pipe = transport.get_extra_info("pipe")
        if pipe is not None:
            reading = isinstance(transport, asyncio.ReadTransport)
            writing = isinstance(transport, asyncio.WriteTransport)
            direction = "read" if reading and not writing else "write" if writing and not reading else "duplex"
            return f"{direction} pipe transport (fd {_fileno(pipe)})"
        sock = transport.get_extra_info("socket")
        local = transport.get_extra_info("sockname")
        peer = transport.get_extra_info("peername")
        tls = transport.get_extra_info("sslcontext") is not None
        family = getattr(sock, "family", None)
        if family == getattr(socket, "AF_UNIX", object()):
            return f"{'TLS' if tls else 'Unix socket'} transport {_address(local or peer)}"
        if getattr(sock, "type", None) == socket.SOCK_DGRAM:
            return f"UDP transport {_address(local)}" + (f" -> {_address(peer)}" if peer else "")
        if local is None and peer is None:
            return f"{type(transport).__name__}"
        return f"{'TLS' if tls else 'TCP'} transport {_address(local)} -> {_address(peer)}"
    except Exception:
        return type(transport).__name__


def server_open(server: Any) -> bool:
    try:
        return bool(server.sockets)
    except Exception:
        return False


def describe_server(server: Any) -> str:
    addresses = []
    for sock in list(server.sockets or ())[:2]:
        try:
            addresses.append(_address(sock.getsockname()))
        except OSError:
            addresses.append("(closed socket)")
    text = f"server listening on {', '.join(addresses) or '(no socket)'}"
    return text if server.is_serving() else text + " (created with start_serving=False, never served)"


def describe_process(transport: Any, argv: Sequence[Any]) -> str:
    command = shlex.join(str(a) for a in argv) if argv else "?"
    if len(command) > 60:
        command = command[:57] + "..."
    return f"subprocess pid {transport.get_pid()} ({command})"


# -- threads, async generators, timers -------------------------------------------------------------------

def thread_leak(thread: threading.Thread, started: Site | None) -> Leak:
    kind = "daemon_threads" if thread.daemon else "threads"
    target = _compat.thread_target(thread)
    details = []
    if target is not None:
        where = definition_site(target)
        details.append(f"{'target':<12} {callable_name(target)}()"
                       + (f" defined at {diagnostics.format_site(where)}" if where else ""))
    if started is not None:
        details.append(f"{'started at':<12} {diagnostics.format_site(started)}")
    label = "daemon thread" if thread.daemon else "thread"
    names = (thread.name,) + ((callable_name(target),) if target is not None else ())
    return Leak(kind, f"{label} {thread.name!r} still running", details, names)


def asyncgen_leak(agen: Any) -> Leak:
    code = agen.ag_code
    details = [f"{'defined at':<12} {diagnostics.format_site((code.co_filename, code.co_firstlineno, code.co_name))}"]
    frame = agen.ag_frame
    if frame is not None:
        where = (frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)
        details.append(f"{'suspended at':<12} {diagnostics.format_site(where, with_source=True)}")
    name = short_name(getattr(agen, "__qualname__", code.co_name))
    return Leak("asyncgens", f"async generator {name}() left suspended (not closed)", details, (name,))


def timer_leak(handle: asyncio.TimerHandle, callback: Any, sites: Sites | None, now: float) -> Leak:
    name = callable_name(callback)
    details = created_lines(sites or traceback_sites(handle), label="scheduled at")
    where = definition_site(callback)
    if where is not None:
        details.append(f"{'callback':<12} {name}() defined at {diagnostics.format_site(where)}")
    return Leak("timers", f"timer {name}() due in {handle.when() - now:.1f}s was never cancelled", details,
                (name,))


def is_internal_callback(callback: Any) -> bool:
    """Timers asyncio and asynctestkit schedule for their own machinery (sleep, timeouts, the clock)."""
    site = definition_site(callback)  # C callbacks (task wake-ups, future methods) have none
    return site is None or diagnostics.is_internal_file(site[0])
