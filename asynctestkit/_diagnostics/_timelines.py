"""The task timeline's hook into every report: a weak map from a loop to the function that writes its timeline.

Reports are made low in the package (the clock's hang reports, the leak report, the assertions), the
timeline high up (``asynctestkit.trace``).  As with :class:`TaskSites`, the bottom layer knows nobody above
it: a loop that records a timeline registers a *lines* function here, and each report asks
:func:`timeline_lines` for the loop it reports on.  A loop that records nothing costs one dictionary lookup
per report.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["TimelineLines", "register_timeline", "timeline_lines"]

#: ``lines(tasks, names)``: the timeline of the tasks given (objects, names; both None: the last events).
TimelineLines = Callable[[Iterable[Any] | None, Iterable[str] | None], list[str]]

_TIMELINES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TimelineLines] = weakref.WeakKeyDictionary()


def register_timeline(loop: asyncio.AbstractEventLoop, lines: TimelineLines | None) -> None:
    """Have every report on *loop* end with ``lines(...)`` (None: stop).  *lines* must not hold *loop*."""
    if lines is None:
        _TIMELINES.pop(loop, None)
    else:
        _TIMELINES[loop] = lines


def timeline_lines(loop: asyncio.AbstractEventLoop | None, tasks: Iterable[Any] | None = None,
                   names: Iterable[str] | None = None) -> list[str]:
    """The timeline lines a report on *loop* ends with, about *tasks* / task *names*; [] if it records none."""
    if loop is None:
        return []
    lines = _TIMELINES.get(loop)
    if lines is None:
        return []
    return lines(tasks, names)
