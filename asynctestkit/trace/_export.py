"""Pictures of a timeline: Chrome Trace Event Format JSON (Perfetto, chrome://tracing) and an HTML/SVG page.

Both are drawn from one layout (:func:`layout`): one track per task, a *running* slice for each step, a
*waiting* slice from each suspension to the next step (named by what it waited on), instants for
cancellations, finishes and timer fires (timers and clock jumps on a track of their own), and an arrow
from the task that woke another to the step it woke.

Time across is virtual time in microseconds.  A step takes no virtual time, so events at the same virtual
instant are laid 1 µs apart, in the order they happened: the picture keeps the order, and 1 µs is far
below anything a test's virtual time usually resolves.

The JSON follows the Trace Event Format document (``traceEvents`` array; ``ph`` ``X`` complete events with
``ts``/``dur``, ``i`` instants with scope ``s``, ``s``/``f`` flow events sharing an ``id``, ``M`` metadata
``process_name``/``thread_name``; ``pid`` 1, one ``tid`` per task; ``ts`` in microseconds).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .. import _diagnostics
from ._query import Trace, TraceEvent

# ``json`` and ``html`` are imported where they are used: ``import asynctestkit`` imports this module, and a
# suite that never writes a picture should not carry their modules (the heap they add costs every test a little
# under callgrind; see doubles/_slow.py for the measurement).

__all__ = ["chrome_trace", "html_page", "layout", "write_chrome_trace", "write_html"]

_CLOCK_TID = 1
_PID = 1


@dataclass
class Slice:
    """A stretch of one track: ``run`` (a step) or ``wait`` (suspended; *label* says on what)."""

    tid: int
    kind: str
    start: int
    end: int
    label: str
    site: str = ""


@dataclass
class Layout:
    """The drawable form of a timeline (see the module docstring); times in µs (virtual, spread)."""

    tracks: dict[int, str] = field(default_factory=dict)          # tid -> track name
    slices: list[Slice] = field(default_factory=list)
    instants: list[tuple[int, int, str, str]] = field(default_factory=list)  # (tid, ts, name, hover text)
    flows: list[tuple[int, int, int, int, str]] = field(default_factory=list)  # (from tid, ts, to tid, ts, name)
    end: int = 0


def _site_text(event: TraceEvent) -> str:
    return _diagnostics.format_site(event.site) if event.site is not None else ""


def layout(trace: Trace) -> Layout:
    """Lay the events of *trace* out as tracks, slices, instants and flows."""
    out = Layout()
    out.tracks[_CLOCK_TID] = "clock and timers"
    running: dict[int, tuple[int, str]] = {}        # tid -> (start, site) of the open step
    waiting: dict[int, tuple[int, str, str]] = {}   # tid -> (start, label, site) of the open wait
    woken: dict[int, tuple[int, int, str]] = {}     # tid -> (waker tid, ts, why) of a wake not yet run
    last = -1
    for event in trace.events():
        ts = max(round(event.time * 1e6), last + 1)
        last = ts
        info = event.task
        tid = info.number + 1 if info is not None else _CLOCK_TID
        if info is not None and tid not in out.tracks:
            out.tracks[tid] = f"{info.name!r} ({info.coroutine}())"
        by_tid = event.by.number + 1 if event.by is not None else None
        kind = event.kind
        if kind == "created":
            waiting[tid] = (ts, "ready (created)", _site_text(event))
            if by_tid is not None:
                woken[tid] = (by_tid, ts, "created")
        elif kind == "run":
            if tid in waiting:
                start, label, site = waiting.pop(tid)
                out.slices.append(Slice(tid, "wait", start, ts, label, site))
            running[tid] = (ts, "")
            if tid in woken:
                source, when, why = woken.pop(tid)
                if source != tid:
                    out.flows.append((source, when, tid, ts, why))
        elif kind in ("suspend", "done"):
            if tid in running:
                start, _ = running.pop(tid)
                out.slices.append(Slice(tid, "run", start, max(ts, start + 1), "running", _site_text(event)))
            if kind == "suspend":
                waiting[tid] = (ts, event.detail, _site_text(event))
            else:
                out.instants.append((tid, ts, event.detail, event.detail))
        elif kind == "wake":
            waker = by_tid if by_tid is not None else _CLOCK_TID if event.cause == "timer" else None
            if waker is not None:
                woken[tid] = (waker, ts, event.detail)
        elif kind == "cancel":
            out.instants.append((tid, ts, "cancel", f"{event.detail} at {_site_text(event) or '?'}"))
            if by_tid is not None:
                woken[tid] = (by_tid, ts, "cancel")
        elif kind in ("fire", "jump", "hold", "release"):
            out.instants.append((_CLOCK_TID, ts, kind, event.detail))
    for tid, (start, _) in running.items():
        out.slices.append(Slice(tid, "run", start, last + 1, "running"))
    for tid, (start, label, site) in waiting.items():
        out.slices.append(Slice(tid, "wait", start, max(last, start + 1), label, site))
    out.end = last + 1
    return out


def chrome_trace(trace: Trace, *, title: str = "asynctestkit timeline") -> dict[str, Any]:
    """The timeline as a Trace Event Format object (``json.dump`` it; opens in Perfetto, chrome://tracing)."""
    lay = layout(trace)
    events: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": _PID, "tid": _CLOCK_TID, "args": {"name": title}}]
    for tid, name in sorted(lay.tracks.items()):
        events.append({"name": "thread_name", "ph": "M", "pid": _PID, "tid": tid, "args": {"name": name}})
        events.append({"name": "thread_sort_index", "ph": "M", "pid": _PID, "tid": tid,
                       "args": {"sort_index": tid}})
    for piece in lay.slices:
        name = "running" if piece.kind == "run" else piece.label
        events.append({"name": name, "cat": piece.kind, "ph": "X", "ts": piece.start,
                       "dur": piece.end - piece.start, "pid": _PID, "tid": piece.tid,
                       "args": {"site": piece.site} if piece.site else {}})
    for tid, ts, name, text in lay.instants:
        events.append({"name": name, "cat": "event", "ph": "i", "s": "t", "ts": ts, "pid": _PID, "tid": tid,
                       "args": {"detail": text}})
    for number, (source, start, target, end, why) in enumerate(lay.flows, 1):
        events.append({"name": "wake", "cat": "wake", "ph": "s", "id": number, "ts": start, "pid": _PID,
                       "tid": source, "args": {"why": why}})
        events.append({"name": "wake", "cat": "wake", "ph": "f", "bp": "e", "id": number, "ts": end,
                       "pid": _PID, "tid": target})
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"producer": "asynctestkit.trace", "time": "virtual microseconds"}}


def write_chrome_trace(trace: Trace, path: str | os.PathLike[str], *, title: str = "asynctestkit timeline") -> None:
    """Write :func:`chrome_trace` to *path* (open it at https://ui.perfetto.dev or chrome://tracing)."""
    import json  # lazily: see the imports at the top

    with open(path, "w", encoding="utf-8") as file:
        json.dump(chrome_trace(trace, title=title), file, indent=None, separators=(",", ":"))


_ROW = 26
_LEFT = 230
_WIDTH = 1000
_STYLE = """body{font:13px sans-serif;margin:16px;background:#fff;color:#222}
h1{font-size:16px}.run{fill:#2b6cb0}.wait{fill:#cbd5e0;stroke:#fff;stroke-width:1}.sleep{fill:#f6e05e;stroke:#fff;stroke-width:1}
.task{fill:#d6bcfa;stroke:#fff;stroke-width:1}.ready{fill:#fff;stroke:#a0aec0;stroke-width:1}.cancel{fill:#c53030}.done{fill:#2f855a}
.clock{fill:#b7791f}.flow{stroke:#805ad5;stroke-width:1;fill:none;marker-end:url(#arrow)}
.label{font:12px monospace}.axis{stroke:#999}"""


def _css_class(piece: Slice) -> str:
    if piece.kind == "run":
        return "run"
    if piece.label.startswith("waits on sleep"):
        return "sleep"
    if piece.label.startswith("waits on task"):
        return "task"
    if piece.label.startswith("ready"):
        return "ready"
    return "wait"


def html_page(trace: Trace, *, title: str = "asynctestkit timeline") -> str:
    """A self-contained HTML page with an SVG picture of the timeline: one row per task, virtual time across;
    hover a bar for what it was (and the line of code)."""
    import html  # lazily: see the imports at the top

    lay = layout(trace)
    rows = {tid: row for row, tid in enumerate(sorted(lay.tracks))}
    span = max(lay.end, 1)

    def x(ts: int) -> float:
        return _LEFT + (ts / span) * _WIDTH

    def y(tid: int) -> int:
        return 30 + rows[tid] * _ROW

    height = 40 + len(rows) * _ROW + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_LEFT + _WIDTH + 20}" height="{height}">',
             '<defs><marker id="arrow" viewBox="0 0 6 6" refX="6" refY="3" markerWidth="6" markerHeight="6" '
             'orient="auto"><path d="M0,0L6,3L0,6z" fill="#805ad5"/></marker></defs>']
    for tid, name in lay.tracks.items():
        parts.append(f'<text class="label" x="4" y="{y(tid) + 15}">{html.escape(name[:30])}</text>')
        parts.append(f'<line class="axis" x1="{_LEFT}" x2="{_LEFT + _WIDTH}" y1="{y(tid) + _ROW - 2}" '
                     f'y2="{y(tid) + _ROW - 2}"/>')
    # Waits first, steps on top: a step takes no virtual time and is drawn 4 px wide so that it shows.
    for piece in sorted(lay.slices, key=lambda p: p.kind == "run"):
        width = max(x(piece.end) - x(piece.start), 4.0 if piece.kind == "run" else 1.0)
        hover = f"{piece.label} ({piece.start / 1e6:.6f}s to {piece.end / 1e6:.6f}s virtual)"
        if piece.site:
            hover += f" at {piece.site}"
        parts.append(f'<rect class="{_css_class(piece)}" x="{x(piece.start):.1f}" y="{y(piece.tid) + 4}" '
                     f'width="{width:.1f}" height="{_ROW - 10}"><title>{html.escape(hover)}</title></rect>')
    for tid, ts, name, text in lay.instants:
        css = "clock" if tid == _CLOCK_TID else "cancel" if name in ("cancel", "cancelled") else "done"
        parts.append(f'<circle class="{css}" cx="{x(ts):.1f}" cy="{y(tid) + _ROW // 2}" r="4">'
                     f'<title>{html.escape(f"{name}: {text} (t={ts / 1e6:.6f}s)")}</title></circle>')
    for source, start, target, end, why in lay.flows:
        parts.append(f'<path class="flow" d="M{x(start):.1f},{y(source) + _ROW // 2} '
                     f'L{x(end):.1f},{y(target) + _ROW // 2}"><title>{html.escape(why)}</title></path>')
    axis_y = 30 + len(rows) * _ROW + 14
    for tick in range(5):
        ts = span * tick // 4
        parts.append(f'<text class="label" x="{x(ts) - 10 - 50 * (tick == 4):.1f}" y="{axis_y}">'
                     f't={ts / 1e6:.3f}s</text>')
    parts.append("</svg>")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p>One row per task; virtual time across (steps at the same instant "
            f"1 µs apart). Blue: a step running; yellow: sleeping; violet: waiting for another task; grey: "
            f"waiting for anything else (event, queue, lock, I/O); dots: finished (green), cancelled (red), "
            f"timers and clock (brown); arrows: who woke whom. Hover for details.</p>"
            + "\n".join(parts) + "</body></html>\n")


def write_html(trace: Trace, path: str | os.PathLike[str], *, title: str = "asynctestkit timeline") -> None:
    """Write :func:`html_page` to *path*."""
    with open(path, "w", encoding="utf-8") as file:
        file.write(html_page(trace, title=title))
