"""The timeline's unittest glue: what ``AsyncTestCase`` calls to record, annotate failures and write files.

``case.py`` calls :func:`start` when it builds a test's loop, :func:`annotate` with an exception that ended
a test phase, and :func:`finish` when the test has run (its outcome known).  The settings are class
attributes of the test case, each overridden by its environment variable (see ``_setup``).
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
from typing import Any

from .. import _compat
from ._export import write_chrome_trace, write_html
from ._query import Trace
from ._setup import TraceSettings, record_timeline, settings

__all__ = ["annotate", "case_settings", "finish", "not_recording", "start"]

_TITLE = "timeline (asynctestkit.trace"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


_OFF = TraceSettings(None, 0, False, None, False)
_env_set = _compat.environ_has("ASYNCTESTKIT_TRACE")  # read at each test: tests may set it


def case_settings(case: Any) -> TraceSettings:
    """The test case's settings: its class attributes, overridden by ``ASYNCTESTKIT_TRACE``."""
    if case.trace_mode is None and case.trace_export is None and not case.trace_on_failure \
            and not _env_set():
        return _OFF  # the common case: one look-up
    return settings(case.trace_mode, case.trace_size, case.trace_on_failure, case.trace_export,
                    case.trace_export_all)


def start(case: Any, loop: asyncio.AbstractEventLoop) -> Trace | None:
    """Record *loop*'s timeline if the test case's settings say so; the :class:`Trace`, or None.

    When files are asked for, a cleanup that writes them is registered now, before the test runs: it is
    then the last cleanup to run (after the leak check), when the test's outcome is known.
    """
    if case.trace_mode is None and case.trace_export is None and not case.trace_on_failure \
            and not _env_set():
        return None  # the common case, as case_settings() decides it, without its call (every test pays it)
    chosen = case_settings(case)
    if chosen.mode is None:
        return None
    trace = record_timeline(loop, chosen.mode, size=chosen.size)
    if chosen.export_dir is not None:
        case.addCleanup(functools.partial(finish, case, trace, chosen))
    return trace


def not_recording(case: Any) -> RuntimeError:
    """The error ``self.trace`` raises when nothing is recorded: how to turn it on."""
    return RuntimeError(f"self.trace: {type(case).__name__} records no timeline; turn it on with "
                        f"trace_mode = 'ring' (or 'full') on the class, or ASYNCTESTKIT_TRACE=1 in the environment")


def annotate(case: Any, trace: Trace | None, exc: BaseException) -> None:
    """End the message of an ordinary assertion failure *exc* with the timeline, if the settings ask for it."""
    if trace is None or not isinstance(exc, AssertionError) or not case_settings(case).on_failure:
        return
    if len(exc.args) != 1 or not isinstance(exc.args[0], str) or _TITLE in exc.args[0]:
        return  # an asynctestkit report already ends with it (or a message we cannot extend)
    lines = trace._report_lines(None, None)
    if lines:
        exc.args = (exc.args[0] + "\n" + "\n".join(lines),)


def finish(case: Any, trace: Trace, chosen: TraceSettings) -> list[str]:
    """Write the test's timeline files (for a failed test, or every test with ``all``); the paths written.

    The test counts as failed when it failed, errored or was skipped so far, or when that cannot be known
    (a third-party runner's result).
    """
    failed = _compat.test_already_failed(case) is not False
    if chosen.export_dir is None or not (failed or chosen.export_all):
        return []
    os.makedirs(chosen.export_dir, exist_ok=True)
    stem = os.path.join(chosen.export_dir, _UNSAFE.sub("_", case.id()))
    title = f"{case.id()} ({'failed' if failed else 'passed'})"
    write_chrome_trace(trace, stem + ".trace.json", title=title)
    write_html(trace, stem + ".html", title=title)
    return [stem + ".trace.json", stem + ".html"]
