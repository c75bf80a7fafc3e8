"""What a leak is, how bad each kind is, and how a leak report reads.

Every leak the checker finds has a *kind* (``tasks``, ``transports``, ...).  A *policy* maps each kind to a
*severity*:

- ``"fail"``: the test fails with one :class:`LeakError` listing every such leak;
- ``"note"``: the leak is reported without failing the test (a log line, or a note appended to a failure);
- ``"off"``: the kind is not checked (leaked objects are still cleaned up).

Presets: ``"default"`` (the table below), ``"strict"`` (every kind fails), ``"note"`` (nothing fails, which
is the adoption mode) and ``"off"``.  The report is one screen: the most useful fact first (what leaked, how
many), then each leak grouped by kind with where it was created and, for tasks, where it is stuck.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["KINDS", "Leak", "LeakError", "LeakReport", "resolve_policy"]

FAIL, NOTE, OFF = "fail", "note", "off"
SEVERITIES = (FAIL, NOTE, OFF)
ENV_SWITCH = "ASYNCTESTKIT_LEAK_CHECKS"
"""Environment variable: ``note`` turns every failing kind into a note (adoption mode), ``off`` disables."""
_MAX_ITEMS = 15


class KindInfo(NamedTuple):
    singular: str
    plural: str
    default: str
    hint: str


KINDS: dict[str, KindInfo] = {
    "tasks": KindInfo("pending task", "pending tasks", FAIL,
                      "cancel each task and await it in asyncTearDown (or run them in an asyncio.TaskGroup)"),
    "exceptions": KindInfo("exception never retrieved", "exceptions never retrieved", FAIL,
                           "await the task or future (or call .exception() on it) before the test ends"),
    "coroutines": KindInfo("coroutine never awaited", "coroutines never awaited", FAIL,
                           "await the coroutine, or wrap it in asyncio.create_task() and await the task"),
    "transports": KindInfo("open transport", "open transports", FAIL,
                           "close it: writer.close(); await writer.wait_closed() (or transport.close())"),
    "servers": KindInfo("open server", "open servers", FAIL,
                        "server.close(); await server.wait_closed() (e.g. in an addAsyncCleanup)"),
    "subprocesses": KindInfo("running subprocess", "running subprocesses", FAIL,
                             "await proc.wait() (after proc.terminate() or proc.kill() if it would run on)"),
    "executor": KindInfo("executor job still running", "executor jobs still running", FAIL,
                         "await the job, or make the blocking function stoppable and stop it in asyncTearDown"),
    "threads": KindInfo("thread still running", "threads still running", FAIL,
                        "stop the thread and join() it in tearDown or a cleanup"),
    "resources": KindInfo("open resource", "open resources", FAIL,
                          "close it (e.g. await session.close()), or open it with self.enterAsyncContext()"),
    "daemon_threads": KindInfo("daemon thread still running", "daemon threads still running", NOTE,
                               "stop the thread and join() it in tearDown or a cleanup"),
    "errors": KindInfo("error swallowed by the loop", "errors swallowed by the loop", FAIL,
                       "catch the exception where it is raised; a test that provokes it on purpose asserts it "
                       "inside `with self.assertLogs('asyncio', 'ERROR'):`"),
    "timers": KindInfo("timer never cancelled", "timers never cancelled", OFF,
                       "cancel the handle returned by loop.call_later()/call_at()"),
    "asyncgens": KindInfo("async generator left suspended", "async generators left suspended", OFF,
                          "await agen.aclose(), or iterate it inside contextlib.aclosing()"),
}

PRESETS: dict[str, dict[str, str]] = {
    "default": {kind: info.default for kind, info in KINDS.items()},
    "strict": {kind: FAIL for kind in KINDS},
    "note": {kind: (NOTE if info.default != OFF else OFF) for kind, info in KINDS.items()},
    "off": {kind: OFF for kind in KINDS},
}


def unknown_kind_message(kind: object, where: str) -> str:
    """An error message for a misspelt kind, with the closest valid names."""
    close = difflib.get_close_matches(str(kind), list(KINDS), n=2)
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
    return f"{where}: unknown leak kind {kind!r}{hint}; the kinds are {', '.join(KINDS)}"


def resolve_policy(setting: object, *, where: str = "leak_checks") -> dict[str, str]:
    """Turn a ``leak_checks`` setting into ``{kind: severity}`` for every kind.

    *setting* is a preset name (True and False stand for ``"default"`` and ``"off"``) or a mapping of kinds
    to severities (``"fail"``, ``"note"``, ``"off"``) laid over the default preset; the key ``"preset"``
    picks another base, e.g. ``{"preset": "strict", "timers": "note"}``.  Raises TypeError or ValueError
    naming *where* for anything else.
    """
    if setting is True or setting is False:  # leak_checks = False reads naturally
        return dict(PRESETS["default" if setting else "off"])
    if isinstance(setting, str):
        if setting not in PRESETS:
            raise ValueError(f"{where} = {setting!r}: a preset is one of {', '.join(map(repr, PRESETS))}, "
                             f"or give a mapping such as {{'threads': 'note'}}")
        return dict(PRESETS[setting])
    if not isinstance(setting, Mapping):
        raise TypeError(f"{where} must be a preset name ({', '.join(map(repr, PRESETS))}) or a mapping of leak "
                        f"kinds to 'fail'/'note'/'off', got {type(setting).__name__}: {setting!r}")
    base = setting.get("preset", "default")
    if base not in PRESETS:
        raise ValueError(f"{where}['preset'] = {base!r}: a preset is one of {', '.join(map(repr, PRESETS))}")
    policy = dict(PRESETS[base])
    for kind, severity in setting.items():
        if kind == "preset":
            continue
        if kind not in KINDS:
            raise ValueError(unknown_kind_message(kind, where))
        if severity not in SEVERITIES:
            raise ValueError(f"{where}[{kind!r}] = {severity!r}: a severity is 'fail', 'note' or 'off'")
        policy[kind] = severity
    return policy


def apply_environment(policy: dict[str, str]) -> dict[str, str]:
    """Apply the ``ASYNCTESTKIT_LEAK_CHECKS`` switch (``note`` or ``off``) to *policy*."""
    switch = os.environ.get(ENV_SWITCH, "").strip().lower()
    if not switch:
        return policy
    if switch == "off":
        return dict(PRESETS["off"])
    if switch == "note":
        return {kind: (NOTE if severity == FAIL else severity) for kind, severity in policy.items()}
    raise ValueError(f"environment variable {ENV_SWITCH}={switch!r}: use 'note' (report leaks without failing) "
                     f"or 'off' (no leak checks)")


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
    #: The leak may not be this test's (see ``_leakhub.unsure``): at most a note, whatever the policy says.
    note_only: bool = False


@dataclass
class LeakReport:
    """The leaks of one test, split by severity, and how to print them."""

    test: str
    failures: list[Leak] = field(default_factory=list)
    notes: list[Leak] = field(default_factory=list)
    virtual_time: float | None = None

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
        return "\n".join(lines)


def _summary(leaks: list[Leak]) -> str:
    """``leaked 1 pending task and 2 open transports``, ``had 1 error swallowed by the loop``, or both."""
    parts = []
    for kind, info in KINDS.items():
        count = sum(1 for leak in leaks if leak.kind == kind)
        if count and kind != "errors":
            parts.append(f"{count} {info.singular if count == 1 else info.plural}")
    errors = sum(1 for leak in leaks if leak.kind == "errors")
    text = ""
    if parts:
        text = "leaked " + (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0])
    if errors:
        info = KINDS["errors"]
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


# Shown in tracebacks as asynctestkit.leaks.LeakError (where users import it from), not the private module.
LeakError.__module__ = LeakReport.__module__ = Leak.__module__ = "asynctestkit.leaks"
