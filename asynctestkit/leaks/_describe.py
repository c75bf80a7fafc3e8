"""How each kind of leaked object is named in a report, and whether a transport is really still open.

Pure functions over public asyncio API (``get_extra_info``, ``is_closing``, ``sockets``, ``get_pid``...);
the creation sites come from the tracker's registries or from :mod:`~asynctestkit.diagnostics`.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import socket
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from .. import _compat, _diagnostics
from .._diagnostics import Site
from ._kinds import (
    ASYNCGENS,
    COROUTINES,
    ERRORS,
    EXCEPTIONS,
    TASKS,
    THREADS,
    TIMERS,
)
from ._report import Leak

Sites = _diagnostics.Sites
call_sites = _diagnostics.call_sites


def created_lines(sites: Sites | None, via: str = "", *, label: str = "created at") -> list[str]:
    """``created at tests/x.py:40 in test_x (loop.create_connection)`` (+ a ``from`` line for library frames)."""
    site, user = sites if sites is not None else (None, None)
    if site is None:
        return []
    lines = [_diagnostics.site_line(label, site, suffix=f" (via {via})" if via else "")]
    if user is not None:
        lines.append(_diagnostics.site_line("from", user))
    return lines


def traceback_sites(obj: object) -> Sites | None:
    """Creation sites from a ``_source_traceback`` (asyncio debug mode, aio-libs objects), if recorded."""
    return _diagnostics.stack_sites(_compat.source_traceback(obj))


short_name = _diagnostics.short_name
callable_name = _diagnostics.callable_name
definition_site = _diagnostics.definition_site


def describe_future(fut: asyncio.Future[Any]) -> str:
    """``task 'poller' (poll_forever())`` or ``future <Future finished exception=KeyError('x')>``."""
    return _diagnostics.describe_task(fut)


# -- tasks and coroutines -------------------------------------------------------------------------------

def task_leak(task: asyncio.Task[Any]) -> Leak:
    lines = _diagnostics.format_task(task, "")
    names = (task.get_name(), short_name(str(getattr(task.get_coro(), "__qualname__", ""))))
    return Leak(TASKS, f"{describe_future(task)} still pending", lines[1:], names)


def exception_leak(fut: asyncio.Future[Any], error: BaseException | None) -> Leak:
    """A task or future that failed and whose exception nobody retrieved: the exception, where it was
    raised (the innermost user frame of its traceback) and where the task was created.
    """
    what = describe_future(fut)
    details = [_diagnostics.detail_line("exception", repr(error))] if error is not None else []
    raised = _diagnostics.raised_at(error) if error is not None else None
    if raised is not None:
        details.append(_diagnostics.site_line("raised at", raised, with_source=True))
    site = _diagnostics.creation_site(fut)
    details += created_lines((site, None) if site else None)
    names = (fut.get_name(),) if isinstance(fut, asyncio.Task) else ("Future",)
    return Leak(EXCEPTIONS, f"{what} failed and its exception was never retrieved", details,
                (*names, type(error).__name__))


def coroutine_leak(coro: Any, qualname: str, where: str = "") -> Leak:
    qualname = short_name(qualname)
    site = _diagnostics.creation_site(coro) if coro is not None else None
    details = created_lines((site, None) if site else None)
    code = getattr(coro, "cr_code", None)
    if site is None and code is not None:  # no origin tracking: at least which function it is
        details.append(_diagnostics.site_line("defined at", (code.co_filename, code.co_firstlineno, code.co_name)))
    if where:
        details.append(_diagnostics.detail_line("kept on", where))
    return Leak(COROUTINES, f"coroutine {qualname!r} was never awaited", details, (qualname,))


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
    kind = "daemon_threads" if thread.daemon else THREADS
    target = _compat.thread_target(thread)
    details = []
    if target is not None:
        where = definition_site(target)
        details.append(_diagnostics.detail_line("target", f"{callable_name(target)}()")
                       + (f" defined at {_diagnostics.format_site(where)}" if where else ""))
    if started is not None:
        details.append(_diagnostics.site_line("started at", started))
    label = "daemon thread" if thread.daemon else "thread"
    names = (thread.name,) + ((callable_name(target),) if target is not None else ())
    return Leak(kind, f"{label} {thread.name!r} still running", details, names)


def asyncgen_leak(agen: Any) -> Leak:
    code = agen.ag_code
    details = [_diagnostics.site_line("defined at", (code.co_filename, code.co_firstlineno, code.co_name))]
    frame = agen.ag_frame
    if frame is not None:
        details.append(_diagnostics.site_line("suspended at", _diagnostics.frame_site(frame), with_source=True))
    name = short_name(getattr(agen, "__qualname__", code.co_name))
    return Leak(ASYNCGENS, f"async generator {name}() left suspended (not closed)", details, (name,))


def timer_leak(handle: asyncio.TimerHandle, callback: Any, sites: Sites | None, now: float) -> Leak:
    name = callable_name(callback)
    details = created_lines(sites or traceback_sites(handle), label="scheduled at")
    where = definition_site(callback)
    if where is not None:
        details.append(_diagnostics.detail_line("callback", f"{name}() defined at {_diagnostics.format_site(where)}"))
    return Leak(TIMERS, f"timer {name}() due in {handle.when() - now:.1f}s was never cancelled", details,
                (name,))


# -- errors the loop swallowed ---------------------------------------------------------------------------

_PROTOCOL_CALL = re.compile(r"protocol\.(\w+)\(\) call failed")


def loop_error_leak(context: Mapping[str, Any], scheduled: Sites | None = None) -> Leak:
    """An exception the loop's exception handler received (a callback or a protocol method raised, ...).

    The summary names what raised and the exception; the details say where it was raised (the innermost
    user frame of its traceback), what the callback is and where it was scheduled: *scheduled* when the
    tracker recorded it (timers, in strict mode), else asyncio's debug-mode record, if any.  A context
    without an exception (a library's warning message) is a note only.
    """
    message = str(context.get("message") or "").strip() or "an error"
    error = context.get("exception")
    handle = context.get("handle")
    protocol = context.get("protocol")
    callback = _compat.handle_callback(handle) if isinstance(handle, asyncio.Handle) else None
    details: list[str] = []
    if not isinstance(error, BaseException):
        return Leak(ERRORS, f"the loop's exception handler was called without an exception: "
                              f"{message.splitlines()[0]!r}", details, (message,), note_only=True)
    what = f"{type(error).__name__}"
    method = _PROTOCOL_CALL.search(message)
    if callback is not None:
        name = callable_name(callback)
        summary = f"callback {name}() raised {error!r}"
    elif protocol is not None:
        name = f"{type(protocol).__name__}.{method.group(1)}" if method else type(protocol).__name__
        summary = (f"protocol method {name}() raised {error!r}" if method
                   else f"{error!r} on a transport of protocol {name} ({message.splitlines()[0]})")
    else:
        name = ""
        summary = f"{error!r} reached the loop's exception handler ({message.splitlines()[0]})"
    raised = _diagnostics.raised_at(error)
    if raised is not None and not _diagnostics.is_internal_file(raised[0]):  # a C callback: no frame of its own
        details.append(_diagnostics.site_line("raised at", raised, with_source=True))
    if callback is not None:
        where = definition_site(callback)
        if where is not None:
            defined = _diagnostics.format_site(where)
            details.append(_diagnostics.detail_line("callback", f"{name}() defined at {defined}"))
        scheduled = scheduled or traceback_sites(handle)
        if scheduled is not None:
            details += created_lines(scheduled, label="scheduled at")
        else:
            details.append(_diagnostics.detail_line("scheduled at", "unknown (asyncio's debug mode records it: "
                                                                   "asyncio_debug = True on the test case)"))
    transport = context.get("transport")
    if transport is not None:
        details.append(_diagnostics.detail_line("transport", describe_transport(transport)))
    names = tuple(n for n in (what, name, message) if n)
    return Leak(ERRORS, summary, details, names)


def is_internal_callback(callback: Any) -> bool:
    """Timers asyncio and asynctestkit schedule for their own machinery (sleep, timeouts, the clock)."""
    site = definition_site(callback)  # C callbacks (task wake-ups, future methods) have none
    return site is None or _diagnostics.is_internal_file(site[0])
