"""The text timeline: one line per event, virtual time first, short enough for a failure report.

::

    timeline (asynctestkit.trace: last 6 of 31 events; virtual t, task, event):
      t=0.000s  'consumer'   suspend  waits on Event.wait()  at shop.py:14 in consume
      t=2.000s  -            jump     clock jumped +2s (from t=0.000s)
      t=2.000s  'producer'   wake     woken by timer (sleep until t=2.000s)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .. import _diagnostics

if TYPE_CHECKING:
    from ._query import TraceEvent

__all__ = ["format_line", "format_timeline"]

_NAME_WIDTH = 14
_DETAIL_WIDTH = 90
#: Lines a report's timeline shows at most (one screen with the report above it).
REPORT_LINES = 16


def _task_label(event: TraceEvent) -> str:
    if event.task is None:
        return "-"
    name = repr(event.task.name)
    return name if len(name) <= _NAME_WIDTH else name[:_NAME_WIDTH - 2] + "…'"


def format_line(event: TraceEvent) -> str:
    """``t=2.000s  'producer'   wake     woken by timer (sleep until t=2.000s)  at app.py:9 in produce``."""
    detail = event.detail
    if len(detail) > _DETAIL_WIDTH:
        detail = detail[:_DETAIL_WIDTH - 1] + "…"
    line = f"t={event.time:.3f}s  {_task_label(event):<{_NAME_WIDTH}} {event.kind:<8} {detail}"
    if event.site is not None:
        line += f"  at {_diagnostics.format_site(event.site)}"
    return line


def format_timeline(events: Sequence[TraceEvent], total: int, *, dropped: int = 0, indent: str = "  ",
                    limit: int = REPORT_LINES, tasks: Iterable[str] = ()) -> list[str]:
    """The timeline block: a title line, then the last *limit* of *events* (out of *total* recorded)."""
    shown = list(events)[-limit:]
    about = ", ".join(sorted(set(tasks)))
    title = f"timeline (asynctestkit.trace: last {len(shown)} of {total} events"
    if about:
        title += f" of {about}"
    if dropped:
        title += f"; {dropped} older events dropped from the ring buffer"
    title += "; virtual t, task, event):"
    return [title] + [indent + format_line(event) for event in shown]
