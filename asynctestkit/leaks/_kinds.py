"""The leak kinds, how bad each one is, and the settings that choose: presets, policies, allow-lists.

Every leak the checker finds has a *kind* (:data:`TASKS`, :data:`TRANSPORTS`, ...; the constants below are the
only spelling the package uses).  A *policy* maps each kind to a *severity*:

- ``"fail"``: the test fails with one ``LeakError`` listing every such leak;
- ``"note"``: the leak is reported without failing the test (a log line, or a note appended to a failure);
- ``"off"``: the kind is not checked (leaked objects are still cleaned up).

Presets: ``"default"`` (the table below), ``"strict"`` (every kind fails), ``"note"`` (nothing fails, which
is the adoption mode) and ``"off"``.  An *allow-list* (``@allow_leaks``, ``LeakTracker(allow=...)``) maps a
kind to True (every leak of the kind) or to name patterns.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from .. import _compat
from .._validate import given, pattern

#: What ``@allow_leaks`` and ``LeakTracker(allow=...)`` keep per kind: everything, or name patterns.
Allowance = Any  # True | tuple[re.Pattern[str], ...]

#: The leak kinds (the keys of :data:`KINDS`, in report order); code names a kind by these constants.
TASKS = "tasks"
EXCEPTIONS = "exceptions"
COROUTINES = "coroutines"
TRANSPORTS = "transports"
SERVERS = "servers"
SUBPROCESSES = "subprocesses"
EXECUTOR = "executor"
THREADS = "threads"
RESOURCES = "resources"
DAEMON_THREADS = "daemon_threads"
ERRORS = "errors"
TIMERS = "timers"
ASYNCGENS = "asyncgens"

FAIL, NOTE, OFF = "fail", "note", "off"
SEVERITIES = (FAIL, NOTE, OFF)
ENV_SWITCH = "ASYNCTESTKIT_LEAK_CHECKS"
"""Environment variable: ``note`` turns every failing kind into a note (adoption mode), ``off`` disables."""
#: Whether ``ASYNCTESTKIT_LEAK_CHECKS`` is set now (cheap: each test asks before :func:`apply_environment`).
switch_set = _compat.environ_has(ENV_SWITCH)


class KindInfo(NamedTuple):
    singular: str
    plural: str
    default: str
    hint: str


KINDS: dict[str, KindInfo] = {
    TASKS: KindInfo("pending task", "pending tasks", FAIL,
                      "cancel each task and await it in asyncTearDown (or run them in an asyncio.TaskGroup)"),
    EXCEPTIONS: KindInfo("exception never retrieved", "exceptions never retrieved", FAIL,
                           "await the task or future (or call .exception() on it) before the test ends"),
    COROUTINES: KindInfo("coroutine never awaited", "coroutines never awaited", FAIL,
                           "await the coroutine, or wrap it in asyncio.create_task() and await the task"),
    TRANSPORTS: KindInfo("open transport", "open transports", FAIL,
                           "close it: writer.close(); await writer.wait_closed() (or transport.close())"),
    SERVERS: KindInfo("open server", "open servers", FAIL,
                        "server.close(); await server.wait_closed() (e.g. in an addAsyncCleanup)"),
    SUBPROCESSES: KindInfo("running subprocess", "running subprocesses", FAIL,
                             "await proc.wait() (after proc.terminate() or proc.kill() if it would run on)"),
    EXECUTOR: KindInfo("executor job still running", "executor jobs still running", FAIL,
                         "await the job, or make the blocking function stoppable and stop it in asyncTearDown"),
    THREADS: KindInfo("thread still running", "threads still running", FAIL,
                        "stop the thread and join() it in tearDown or a cleanup"),
    RESOURCES: KindInfo("open resource", "open resources", FAIL,
                          "close it (e.g. await session.close()), or open it with self.enterAsyncContext()"),
    DAEMON_THREADS: KindInfo("daemon thread still running", "daemon threads still running", NOTE,
                               "stop the thread and join() it in tearDown or a cleanup"),
    ERRORS: KindInfo("error swallowed by the loop", "errors swallowed by the loop", FAIL,
                       "catch the exception where it is raised; a test that provokes it on purpose asserts it "
                       "inside `with self.assertLogs('asyncio', 'ERROR'):`"),
    TIMERS: KindInfo("timer never cancelled", "timers never cancelled", OFF,
                       "cancel the handle returned by loop.call_later()/call_at()"),
    ASYNCGENS: KindInfo("async generator left suspended", "async generators left suspended", OFF,
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
    if not switch_set():
        return policy
    switch = os.environ.get(ENV_SWITCH, "").strip().lower()
    if not switch:
        return policy
    if switch == "off":
        return dict(PRESETS["off"])
    if switch == "note":
        return {kind: (NOTE if severity == FAIL else severity) for kind, severity in policy.items()}
    raise ValueError(f"environment variable {ENV_SWITCH}={switch!r}: use 'note' (report leaks without failing) "
                     f"or 'off' (no leak checks)")


def allowance(where: str, kind: object, value: object) -> Allowance:
    """One entry of an allow-list: *kind* a leak kind, *value* True or a name pattern or a list of them."""
    if not isinstance(kind, str):
        raise TypeError(f"{where}: a leak kind is a str, got {given(kind)}; the kinds are {', '.join(KINDS)}")
    if kind not in KINDS:
        raise ValueError(unknown_kind_message(kind, where))
    if value is True:
        return True
    if value is False:
        raise ValueError(f"{where}[{kind!r}] = False: give True (every leak of the kind), a name pattern or a list "
                         f"of patterns; to keep checking a kind, leave it out")
    allowed = "True (every leak of the kind), a name pattern (a regular expression) or a list of patterns"
    if isinstance(value, (str, re.Pattern)):
        patterns: Iterable[object] = [value]
    elif isinstance(value, (list, tuple, set, frozenset)):
        patterns = value
        if not value:
            raise ValueError(f"{where}[{kind!r}] must be {allowed}, got an empty {type(value).__name__}")
    else:
        raise TypeError(f"{where}[{kind!r}] must be {allowed}, got {given(value)}")
    return tuple(pattern(f"{where}[{kind!r}]", p) for p in patterns)


def allowances(where: str, value: object) -> dict[str, Allowance]:
    """A whole allow-list ``{kind: True | pattern | [patterns]}`` (``None``: empty)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{where} must be a mapping of leak kinds to True or name patterns, e.g. "
                        f"{{'tasks': True}}, got {given(value)}")
    return {kind: allowance(where, kind, entry) for kind, entry in value.items()}
