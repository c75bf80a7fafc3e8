"""Where things were created and where they are stuck: the facts every report is made of.

The virtual clock (deadlock reports), the leak checker (pending tasks) and the assertions (task names in
failure messages) all describe asyncio objects the same way, through the helpers here:

- a *site* is ``(filename, lineno, function)``; :func:`format_site` renders it as
  ``tests/test_client.py:42 in test_fetch`` with the path relative to the current directory;
- :func:`creation_site` says where a task or coroutine was created.  It reads the coroutine's
  ``cr_origin`` (filled when coroutine origin tracking is on, which :class:`~asynctestkit.VirtualClockLoop`
  turns on for the test's duration at a cost far below asyncio's debug mode) and falls back to the
  ``_source_traceback`` asyncio records in debug mode;
- :func:`suspended_at` walks a task's await chain down to the innermost frame outside asyncio, which is the
  line a user recognises (``await asyncio.sleep(30)``), and :func:`awaiting` names what that frame waits for;
- :func:`describe_task` and :func:`format_task` turn those facts into the report lines shown in failures.

Nothing here knows unittest, the clock or the leak checker.
"""

from __future__ import annotations

import asyncio
import linecache
import os
import sys
import types
from collections.abc import Iterable, Sequence
from typing import Any

from . import _compat

__all__ = [
    "Site",
    "awaiting",
    "await_chain",
    "caller_site",
    "creation_site",
    "describe_task",
    "format_site",
    "format_task",
    "is_internal_file",
    "relpath",
    "source_line",
    "suspended_at",
]

Site = tuple[str, int, str]
"""``(filename, line number, function name)`` of one frame."""

_ASYNCIO_DIR = os.path.dirname(asyncio.__file__) + os.sep
_OWN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_UNITTEST_DIR = os.path.dirname(os.path.abspath(sys.modules["unittest"].__file__ or "")) + os.sep
_CONCURRENT_DIR = os.path.join(os.path.dirname(_ASYNCIO_DIR.rstrip(os.sep)), "concurrent") + os.sep
_THREADING_FILE = sys.modules["threading"].__file__ or "threading.py"


def is_internal_file(filename: str) -> bool:
    """Return True for frames users do not want to see first: asyncio, unittest, threading, this package."""
    return (
        filename.startswith((_ASYNCIO_DIR, _OWN_DIR, _UNITTEST_DIR, _CONCURRENT_DIR))
        or filename == _THREADING_FILE
        or filename.startswith("<frozen")
    )


def relpath(filename: str) -> str:
    """Show *filename* relative to the current directory when it lies below it, else unchanged."""
    try:
        cwd = os.getcwd()
    except OSError:
        return filename
    if filename.startswith(cwd + os.sep):
        return filename[len(cwd) + 1 :]
    return filename


def source_line(site: Site) -> str:
    """The stripped source text of *site*, or '' when the file cannot be read."""
    return linecache.getline(site[0], site[1]).strip()


def format_site(site: Site | None, *, with_source: bool = False) -> str:
    """Render a site as ``path:line in function`` (and ``: source`` when asked and available)."""
    if site is None:
        return "<unknown>"
    text = f"{relpath(site[0])}:{site[1]} in {site[2]}"
    if with_source:
        src = source_line(site)
        if src:
            text += f": {src}"
    return text


def _first_user_site(sites: Iterable[Site]) -> Site | None:
    """The first site outside asyncio/unittest/this package; the first of all if every one is internal."""
    first: Site | None = None
    for site in sites:
        if first is None:
            first = site
        if not is_internal_file(site[0]):
            return site
    return first


def caller_site(skip: int = 1) -> Site | None:
    """The innermost frame of the current call stack outside asyncio, unittest and this package.

    *skip* frames are dropped first (1 = the caller of ``caller_site``).  Cost: a short frame walk, no
    traceback object is built, so it is cheap enough to call at every resource creation.
    """
    frame: types.FrameType | None = sys._getframe(skip + 1)
    fallback: Site | None = None
    while frame is not None:
        code = frame.f_code
        site = (code.co_filename, frame.f_lineno, code.co_name)
        if fallback is None:
            fallback = site
        if not is_internal_file(code.co_filename):
            return site
        frame = frame.f_back
    return fallback


def creation_site(obj: object) -> Site | None:
    """Where *obj* (a task, a coroutine, or a future created in debug mode) was created, if known.

    Tasks and coroutines answer from ``cr_origin`` (innermost user frame first); objects created while
    asyncio's debug mode was on answer from their recorded creation traceback.
    """
    coro: Any = obj
    if isinstance(obj, asyncio.Task):
        coro = obj.get_coro()
    origin = getattr(coro, "cr_origin", None) or getattr(coro, "ag_origin", None)
    if origin:
        return _first_user_site((f, ln, fn) for f, ln, fn in origin)
    traceback_ = _compat.source_traceback(obj)
    if traceback_:
        return _first_user_site((fs.filename, fs.lineno or 0, fs.name) for fs in reversed(traceback_))
    return None


def _coroutine_frames(coro: Any) -> list[types.FrameType]:
    """Frames of a coroutine/generator await chain, outermost first (stops at the first non-coroutine)."""
    frames: list[types.FrameType] = []
    seen: set[int] = set()
    while coro is not None and id(coro) not in seen:
        seen.add(id(coro))
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None) or getattr(coro, "ag_frame", None)
        if frame is None:
            break
        frames.append(frame)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None) or getattr(coro, "ag_await", None)
    return frames


def await_chain(task: asyncio.Future[Any]) -> list[Site]:
    """The sites of a task's suspended coroutine chain, outermost (the task's coroutine) first."""
    if not isinstance(task, asyncio.Task):
        return []
    return [(f.f_code.co_filename, f.f_lineno, f.f_code.co_name) for f in _coroutine_frames(task.get_coro())]


def suspended_at(task: asyncio.Future[Any]) -> Site | None:
    """The innermost frame of the task's await chain that lies outside asyncio (what the user wrote)."""
    chain = await_chain(task)
    for site in reversed(chain):
        if not is_internal_file(site[0]):
            return site
    return chain[-1] if chain else None


def awaiting(task: asyncio.Future[Any]) -> str:
    """A short phrase for what a suspended task waits on: ``Event.wait()``, ``task 'worker'``, ``sleep()``."""
    chain = await_chain(task)
    if not chain:
        return ""
    inner = [s for s in chain if is_internal_file(s[0])]
    waiter = _compat.task_waiter(task)
    if isinstance(waiter, asyncio.Task) and waiter is not task:
        return f"task {waiter.get_name()!r}"
    if inner:
        frames = _coroutine_frames(task.get_coro()) if isinstance(task, asyncio.Task) else []
        innermost = frames[-1] if frames else None
        if innermost is not None:
            qualname = getattr(innermost.f_code, "co_qualname", innermost.f_code.co_name)
            return f"{qualname}()"
    if waiter is not None:
        return type(waiter).__name__
    return ""


def describe_task(task: asyncio.Future[Any]) -> str:
    """``task 'name' (coro_qualname())`` — how every report names a task."""
    if not isinstance(task, asyncio.Task):
        return f"future {task!r}"
    coro = task.get_coro()
    qualname = getattr(coro, "__qualname__", None) or type(coro).__name__
    return f"task {task.get_name()!r} ({qualname}())"


def format_task(task: asyncio.Future[Any], indent: str = "  ", *, created: Site | None = None) -> list[str]:
    """Report lines for one task: what it is, where it was created, where it is suspended and on what.

    *created* overrides the creation site (a registry may know it better than ``cr_origin``).
    """
    lines = [describe_task(task)]
    site = created if created is not None else creation_site(task)
    lines.append(f"{indent}created at   {format_site(site)}")
    if not task.done():
        where = suspended_at(task)
        if where is not None:
            what = awaiting(task)
            suffix = f"  (awaiting {what})" if what else ""
            lines.append(f"{indent}suspended at {format_site(where, with_source=True)}{suffix}")
    return lines


def format_tasks(tasks: Sequence[asyncio.Future[Any]], indent: str = "  ", *, limit: int = 10) -> list[str]:
    """Report lines for several tasks, numbered, capped at *limit* tasks so the report fits one screen."""
    lines: list[str] = []
    for number, task in enumerate(tasks[:limit], 1):
        block = format_task(task, indent + "   ")
        lines.append(f"{indent}{number}. {block[0]}")
        lines.extend(block[1:])
    if len(tasks) > limit:
        lines.append(f"{indent}... and {len(tasks) - limit} more tasks")
    return lines
