"""What a leak is and how a leak report reads.

A :class:`Leak` is one leaked object of one kind (see ``_kinds``).  The report is one screen: the most useful
fact first (what leaked, how many), then each leak grouped by kind with where it was created and, for tasks,
where it is stuck, then how to fix or allow it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple

from ._kinds import ERRORS, KINDS

_MAX_ITEMS = 15


class Source(enum.Enum):
    """What a dedup key identifies (one leak per object, whichever signal reported it first)."""

    OBJECT = "object"          # a transport, server, process, resource, thread, timer, coroutine: by id()
    TASK = "task"              # a task, by id()
    EXCEPTION = "exception"    # a future whose exception was never retrieved, by id()
    JOB = "job"                # an executor job's future, by id()
    ERROR = "error"            # an error of the loop: numbered, each one its own leak
    COROUTINE = "coroutine"    # a never-awaited coroutine known only by its warning's first line


OBJECT, TASK, EXCEPTION, JOB, ERROR, COROUTINE = Source


class DedupKey(NamedTuple):
    """The key that keeps one leak per thing in a report: a misspelt source is an error, not a duplicate."""

    source: Source
    ident: object


@dataclass
class Leak:
    """One leaked object: its kind, a one-line summary and detail lines (creation site, where it is stuck).

    ``names`` are what ``@allow_leaks(kind="pattern")`` patterns are matched against (task name, coroutine
    name, thread name, type name).
    """

    kind: str
    summary: str
    details: list[str] = field(default_factory=list)
    names: tuple[str, ...] = ()
    #: The leak may not be this test's (see ``_hooks.unsure``): at most a note, whatever the policy says.
    note_only: bool = False


@dataclass
class LeakReport:
    """The leaks of one test, split by severity, and how to print them."""

    test: str
    failures: list[Leak] = field(default_factory=list)
    notes: list[Leak] = field(default_factory=list)
    virtual_time: float | None = None
    #: The task timeline the report ends with (asynctestkit.trace), when the test's loop recorded one.
    timeline: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.failures or self.notes)

    def format(self, *, note_because: str | None = None) -> str:
        """The report text: a headline, the leaks grouped by kind, then how to fix or allow them.

        *note_because* turns the report into a note on a test whose outcome is already decided
        (``"the test had already failed"``); a report with notes only is a note as well.
        """
        leaks = self.failures + self.notes
        where = "found after all cleanups"
        if self.virtual_time is not None:
            where += f", at virtual t={self.virtual_time:.3f}s"
        # The headline counts what the test is failed for; notes (which may belong to an earlier test) only
        # when there is nothing else, else as a count apart.
        counted = _summary(self.failures or self.notes)
        if self.failures and self.notes:
            counted += f" (+{len(self.notes)} note{'s' if len(self.notes) > 1 else ''} below)"
        headline = f"{self.test} {counted} ({where}; asynctestkit cleaned up)"
        if note_because:
            headline = f"leak check note ({note_because}): {headline}"
        elif not self.failures:
            headline = f"leak check note: {headline}"
        lines = [headline]
        for title, group in ((None, self.failures), ("notes (not failures)", self.notes)):
            if not group:
                continue
            number = 0  # each group numbers its own items
            if title is not None and self.failures:
                lines.append(f" {title}:")
            for kind in KINDS:
                items = [leak for leak in group if leak.kind == kind]
                if not items:
                    continue
                lines.append(f" {KINDS[kind].plural}:")
                for leak in items:
                    number += 1
                    if number > _MAX_ITEMS:
                        continue
                    lines.append(f"  {number}. {leak.summary}")
                    lines.extend(f"       {detail}" for detail in leak.details)
            if number > _MAX_ITEMS:
                lines.append(f"  ... and {number - _MAX_ITEMS} more")
        kinds = [kind for kind in KINDS if any(leak.kind == kind for leak in leaks)]
        for kind in kinds[:4]:
            lines.append(f" hint ({kind}): {KINDS[kind].hint}")
        if self.failures and not note_because:
            first = next(kind for kind in KINDS if any(leak.kind == kind for leak in self.failures))
            lines.append(f' allow: @allow_leaks({first}=True, reason="...") on the test, or '
                         f'leak_checks = {{"{first}": "note"}} on the class')
        lines.extend(self.timeline)
        return "\n".join(lines)


def _summary(leaks: list[Leak]) -> str:
    """``leaked 1 pending task and 2 open transports``, ``had 1 error swallowed by the loop``, or both."""
    parts = []
    for kind, info in KINDS.items():
        count = sum(1 for leak in leaks if leak.kind == kind)
        if count and kind != ERRORS:
            parts.append(f"{count} {info.singular if count == 1 else info.plural}")
    errors = sum(1 for leak in leaks if leak.kind == ERRORS)
    text = ""
    if parts:
        text = "leaked " + (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0])
    if errors:
        info = KINDS[ERRORS]
        joint = ", and " if len(parts) > 1 else " and " if parts else ""
        text += f"{joint}had {errors} {info.singular if errors == 1 else info.plural}"
    return text or "leaked nothing"


class LeakError(AssertionError):
    """A test left tasks, connections, processes or other resources behind (an ``AssertionError``: a failure).

    ``report`` is the :class:`LeakReport`; the message is its text.  Everything listed was cleaned up after
    the report was made, so the next test starts clean.
    """

    def __init__(self, report: LeakReport) -> None:
        super().__init__(report.format())
        self.report = report

