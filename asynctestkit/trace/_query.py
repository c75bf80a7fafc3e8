"""The query side of a recorded timeline: :class:`Trace` (``self.trace`` in a test) and :class:`TraceEvent`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .._diagnostics import Site
from ._recorder import TracedTask, Tracer
from ._timeline import REPORT_LINES, format_line, format_timeline

__all__ = ["KINDS", "Trace", "TraceEvent"]

#: Every event kind, and what it records.
KINDS: dict[str, str] = {
    "created": "a task was created (by: the task that created it)",
    "run": "a step of a task started",
    "suspend": "a step ended with the task waiting (detail: on what; site: at which line)",
    "wake": "a task was made ready to run (cause: timer, io, thread, task, callback, yield, loop)",
    "cancel": "cancel() reached a waiting task (site: where it was called; by: the cancelling task)",
    "done": "a task finished (detail: returned ..., raised ..., cancelled)",
    "timer": "a timer was scheduled (call_at/call_later/sleep/timeout; by: the task that scheduled it)",
    "fire": "a timer fired",
    "jump": "the virtual clock jumped",
    "work": "an executor job started (run_in_executor, to_thread; by: the task that started it)",
    "hold": "real work in flight began to hold virtual time (it follows real time)",
    "release": "real work ended: virtual time jumps again",
}


#: Kinds a report's timeline leaves out: each is followed by a line that says more (wake, suspend).
_NOT_IN_REPORTS = frozenset({"run", "timer"})


@dataclass(frozen=True)
class TraceEvent:
    """One recorded event.

    - ``time``: virtual seconds since the clock's start (on a real-time loop: since recording began);
    - ``real_time``: real seconds since recording began;
    - ``kind``: one of :data:`KINDS` (``"wake"``, ``"suspend"``, ...);
    - ``task``: the task it is about (a :class:`TracedTask`), None for clock events;
    - ``detail``: what happened, in words (``woken by timer (sleep until t=2.000s)``);
    - ``site``: ``(filename, lineno, function)`` where it happened in the user's code, when known;
    - ``cause``: for wake-ups and cancellations, what caused it: ``timer``, ``io``, ``thread``, ``task``,
      ``callback``, ``yield`` or ``loop``;
    - ``by``: the task that caused it (created, woke or cancelled ``task``; scheduled a timer), if any.
    """

    time: float
    real_time: float
    kind: str
    task: TracedTask | None
    detail: str
    site: Site | None
    cause: str
    by: TracedTask | None

    def __str__(self) -> str:
        return format_line(self)


def _check_kind(kind: object) -> frozenset[str] | None:
    if kind is None:
        return None
    kinds = {kind} if isinstance(kind, str) else set(kind) if isinstance(kind, (list, tuple, set, frozenset)) \
        else None
    if kinds is None or not all(isinstance(k, str) for k in kinds):
        raise TypeError(f"Trace.events() argument 'kind' must be a kind name or a list of them, got "
                        f"{type(kind).__name__}: {kind!r}")
    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise ValueError(f"Trace.events() argument 'kind' got unknown kind {unknown[0]!r}; the kinds are "
                         f"{', '.join(KINDS)}")
    return frozenset(kinds)


class Trace:
    """The timeline of the test's loop: query it to assert scheduling facts.

    ``self.trace`` on an :class:`~asynctestkit.AsyncTestCase` whose tracing is on (``trace_mode = "ring"``
    or ``"full"``, or the environment variable ``ASYNCTESTKIT_TRACE=1``)::

        wakes = self.trace.events(task=consumer, kind="wake")
        self.assertNotIn("timer", [e.cause for e in wakes])   # never woken by a timeout

    Reading it never changes what is recorded; it stays readable after the test's loop closed.
    """

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    @property
    def mode(self) -> str:
        """``"full"`` (every event kept) or ``"ring"`` (the last :attr:`size` events)."""
        return "full" if self._tracer.size is None else "ring"

    @property
    def size(self) -> int | None:
        """Events kept at most (None: all)."""
        return self._tracer.size

    @property
    def dropped(self) -> int:
        """Events pushed out of the ring buffer so far (0 in full mode)."""
        return self._tracer.dropped

    def _view(self, raw: tuple[Any, ...]) -> TraceEvent:
        kind, now, real, task, detail, site, cause, by = raw
        if kind == "created" and task is not None:
            site = task.created_at
        return TraceEvent(now - self._tracer.origin, real, kind, task, detail, site, cause, by)

    def __len__(self) -> int:
        return len(self._tracer.events)

    def __iter__(self) -> Iterator[TraceEvent]:
        return iter(self.events())

    def _match_task(self, task: object) -> TracedTask | str:
        if isinstance(task, TracedTask) or isinstance(task, str):
            return task
        if isinstance(task, asyncio.Task):
            info = self._tracer.known(task)
            if info is None:
                raise ValueError(f"Trace.events() argument 'task': {task.get_name()!r} never ran on the traced "
                                 f"loop (nothing was recorded about it)")
            return info
        raise TypeError(f"Trace.events() argument 'task' must be an asyncio.Task, a TracedTask or a task name, "
                        f"got {type(task).__name__}: {task!r}")

    def events(self, *, kind: str | Iterable[str] | None = None, task: object = None,
               start: float | None = None, end: float | None = None) -> list[TraceEvent]:
        """The recorded events, oldest first, filtered.

        *kind*: a kind name or several (:data:`KINDS`); *task*: an ``asyncio.Task``, a :class:`TracedTask`
        or a task name (events *about* that task); *start*/*end*: virtual time range, both ends included.
        """
        kinds = _check_kind(kind)
        wanted = self._match_task(task) if task is not None else None
        for name, bound in (("start", start), ("end", end)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float))):
                raise TypeError(f"Trace.events() argument {name!r} must be a virtual time in seconds, got "
                                f"{type(bound).__name__}: {bound!r}")
        out = []
        for raw in list(self._tracer.events):
            if kinds is not None and raw[0] not in kinds:
                continue
            info = raw[3]
            if wanted is not None and (info is None or (info is not wanted and info.name != wanted)):
                continue
            event = self._view(raw)
            if (start is not None and event.time < start) or (end is not None and event.time > end):
                continue
            out.append(event)
        return out

    def tasks(self) -> list[TracedTask]:
        """Every task recorded, in the order they were first seen."""
        seen: dict[int, TracedTask] = {}
        for raw in self._tracer.events:
            for info in (raw[3], raw[7]):
                if info is not None and info.number not in seen:
                    seen[info.number] = info
        return sorted(seen.values(), key=lambda i: i.number)

    def timeline(self, *, tasks: Iterable[object] | None = None, last: int = REPORT_LINES) -> str:
        """The text timeline (as failure reports end with it): the last *last* events, of *tasks* if given."""
        return "\n".join(self._report_lines(tasks, None, limit=last))

    def _report_lines(self, tasks: Iterable[Any] | None, names: Iterable[str] | None, *,
                     limit: int = REPORT_LINES) -> list[str]:
        """The timeline block a report ends with (see ``_diagnostics.timeline_lines``)."""
        wanted: set[int] = set()
        labels: list[str] = []
        for task in tasks or ():
            info = self._tracer.known(task) if isinstance(task, asyncio.Task) else task
            if isinstance(info, TracedTask):
                wanted.add(info.number)
                labels.append(repr(info.name))
        wanted_names = set(names or ())
        labels.extend(repr(n) for n in sorted(wanted_names))
        events = []
        for raw in list(self._tracer.events):
            if raw[0] in _NOT_IN_REPORTS or (raw[0] == "fire" and raw[6] == "sleep"):
                continue  # a wake-up follows each of these and says it better
            if (wanted or wanted_names) and raw[3] is not None:  # clock events (task None) always count
                involved = [i for i in (raw[3], raw[7]) if i is not None]
                if not any(i.number in wanted or i.name in wanted_names for i in involved):
                    continue
            events.append(self._view(raw))
        if not events and (wanted or wanted_names):
            return self._report_lines(None, None, limit=limit)  # none of them ran here: the last events
        if not events:
            return []
        return format_timeline(events, len(self._tracer.events), dropped=self._tracer.dropped, limit=limit,
                               tasks=labels)
