"""Tasks in reports: the one task namer and the "suspended at ... (awaiting ...)" line.

Part of the report vocabulary (see the package docstring): :func:`suspended_at` walks a task's await chain
down to the innermost frame outside asyncio, which is the line a user recognises (``await asyncio.sleep(30)``),
:func:`awaiting` names what that frame waits for, and :func:`describe_task` / :func:`format_task` turn those
facts into the lines every report shows.
"""

from __future__ import annotations

import asyncio
import re
import types
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from .. import _compat
from ._sites import Site, creation_site, frame_site, is_internal_file, short_name, site_line


def _coroutine_chain(coro: Any) -> list[tuple[Any, types.FrameType]]:
    """``(coroutine, frame)`` pairs of an await chain, outermost first (stops at the first non-coroutine)."""
    chain: list[tuple[Any, types.FrameType]] = []
    seen: set[int] = set()
    while coro is not None and id(coro) not in seen:
        seen.add(id(coro))
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None) or getattr(coro, "ag_frame", None)
        if frame is None:
            break
        chain.append((coro, frame))
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None) or getattr(coro, "ag_await", None)
    return chain


def _coroutine_frames(coro: Any) -> list[types.FrameType]:
    """Frames of a coroutine/generator await chain, outermost first (stops at the first non-coroutine)."""
    return [frame for _coro, frame in _coroutine_chain(coro)]


def await_chain(task: asyncio.Future[Any]) -> list[Site]:
    """The sites of a task's suspended coroutine chain, outermost (the task's coroutine) first."""
    if not isinstance(task, asyncio.Task):
        return []
    return [(f.f_code.co_filename, f.f_lineno, f.f_code.co_name) for f in _coroutine_frames(task.get_coro())]


def coroutine_suspended_at(coro: object) -> tuple[Site | None, str]:
    """Where a suspended coroutine that is not a task's own waits (innermost user frame), and on what."""
    chain = _coroutine_chain(coro)
    user = [i for i, (_c, frame) in enumerate(chain) if not is_internal_file(frame.f_code.co_filename)]
    if not user:
        return None, ""
    inner = chain[user[-1]][1]
    last = chain[-1][0]
    awaited = getattr(last, "cr_await", None) or getattr(last, "gi_yieldfrom", None)
    if isinstance(awaited, asyncio.Task):
        return frame_site(inner), f"task {awaited.get_name()!r}"
    if user[-1] + 1 < len(chain):
        below_coro, below_frame = chain[user[-1] + 1]
        return frame_site(inner), f"{getattr(below_coro, '__qualname__', None) or below_frame.f_code.co_name}()"
    return frame_site(inner), ""


def suspended_at(task: asyncio.Future[Any]) -> Site | None:
    """The innermost frame of the task's await chain that lies outside asyncio (what the user wrote)."""
    chain = await_chain(task)
    for site in reversed(chain):
        if not is_internal_file(site[0]):
            return site
    return chain[-1] if chain else None


_WAIT_DESCRIPTIONS: weakref.WeakKeyDictionary[asyncio.Future[Any], Callable[[], str]] = weakref.WeakKeyDictionary()


def describe_wait(future: asyncio.Future[Any], describe: Callable[[], str]) -> None:
    """Name what a task suspended on *future* waits for, in every report's ``(awaiting ...)`` part.

    For waits whose meaning the await chain cannot show (a test double's step, a scripted hang):
    *describe* is called when a report is made, so the phrase can say the state at that moment
    (``Sequencer step 3; step 2 never started``).  The entry goes away with the future.
    """
    _WAIT_DESCRIPTIONS[future] = describe


def awaiting(task: asyncio.Future[Any]) -> str:
    """A short phrase for what a suspended task waits on: ``Event.wait()``, ``task 'worker'``, ``sleep()``.

    Another task is named; a future registered with :func:`describe_wait` (a Sequencer step, a scripted
    hang) gives its own phrase; otherwise the phrase is the library call the user's innermost frame awaits
    (the first asyncio/library coroutine below it: ``sleep()`` for ``asyncio.sleep(0)`` too, not its
    private helper), else the type of the future the task is blocked on.
    """
    if not isinstance(task, asyncio.Task):
        return ""
    chain = _coroutine_chain(task.get_coro())
    if not chain:
        return ""
    waiter = _compat.task_waiter(task)
    if isinstance(waiter, asyncio.Task) and waiter is not task:
        return f"task {waiter.get_name()!r}"
    describe = _WAIT_DESCRIPTIONS.get(waiter) if waiter is not None else None
    if describe is not None:
        return describe()
    user = [i for i, (_c, frame) in enumerate(chain) if not is_internal_file(frame.f_code.co_filename)]
    below = user[-1] + 1 if user else 0
    if below < len(chain):
        coro, frame = chain[below]
        qualname = getattr(coro, "__qualname__", None) or frame.f_code.co_name
        return f"{qualname}()"
    if waiter is not None:
        return type(waiter).__name__
    return ""


def describe_task(task: asyncio.Future[Any]) -> str:
    """``task 'fetch-3' (fetch())`` — how every report names a task; a plain future by its repr.

    The coroutine is named by its qualified name without the enclosing function (``Client.fetch()``, not
    ``TestX.test_y.<locals>.Client.fetch()``).
    """
    if not isinstance(task, asyncio.Task):
        return "future " + _CREATED_IN_REPR.sub("", repr(task))
    coro = task.get_coro()
    qualname = getattr(coro, "__qualname__", None) or type(coro).__name__
    return f"task {task.get_name()!r} ({short_name(qualname)}())"


_CREATED_IN_REPR = re.compile(r" created at [^>]*")  # debug-mode reprs carry a full path: the report has a line


def format_task(task: asyncio.Future[Any], indent: str = "  ", *, created: Site | None = None) -> list[str]:
    """Report lines for one task: what it is, where it was created, where it is suspended and on what.

    *created* overrides the creation site (a registry may know it better than ``cr_origin``).
    """
    lines = [describe_task(task)]
    site = created if created is not None else creation_site(task)
    lines.append(indent + site_line("created at", site))
    if not task.done():
        line = suspended_line(task)
        if line:
            lines.append(indent + line)
    return lines


def suspended_line(task: asyncio.Future[Any]) -> str:
    """``suspended at app.py:88 in fetch: await asyncio.sleep(30)  (awaiting sleep())``, '' if unknown."""
    where = suspended_at(task)
    if where is None:
        return ""
    what = awaiting(task)
    return site_line("suspended at", where, with_source=True, suffix=f"  (awaiting {what})" if what else "")


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
