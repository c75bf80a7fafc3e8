"""Turning the timeline on: the settings (class attributes, environment variables) and the one entry point.

A timeline is recorded only when asked (the measured cost is in docs/trace.md): ``trace_mode`` on the
test case class, or ``ASYNCTESTKIT_TRACE`` in the environment, which overrides the class for a whole run::

    ASYNCTESTKIT_TRACE=1 python -m unittest tests.test_shop     # ring mode: the last 10,000 events
    ASYNCTESTKIT_TRACE=full ...                                  # every event
    ASYNCTESTKIT_TRACE=1,failures ...                            # every failure ends with the timeline
    ASYNCTESTKIT_TRACE=1,export=/tmp/traces ...                  # a .json and an .html per failing test
    ASYNCTESTKIT_TRACE=1,export=/tmp/traces,all ...              # ... and per passing test
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import NamedTuple

from .. import _diagnostics
from ._query import Trace
from ._recorder import attach

__all__ = ["DEFAULT_SIZE", "MODES", "TraceSettings", "check_export", "check_mode", "check_size", "record_timeline",
           "settings"]

MODES = ("ring", "full")
DEFAULT_SIZE = 10_000
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def check_mode(name: str, value: object) -> str | None:
    """A ``trace_mode`` value: ``"ring"``, ``"full"`` or None (off)."""
    if value is None or value in MODES:
        return value
    raise ValueError(f"{name} must be 'ring', 'full' or None (off), got {value!r}") if isinstance(value, str) \
        else TypeError(f"{name} must be 'ring', 'full' or None (off), got {type(value).__name__}: {value!r}")


def check_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise (TypeError if not isinstance(value, int) or isinstance(value, bool) else ValueError)(
            f"{name} must be a number of events >= 1, got {value!r}")
    return value


def record_timeline(loop: asyncio.AbstractEventLoop, mode: str = "ring", *, size: int = DEFAULT_SIZE) -> Trace:
    """Record the timeline of *loop* (not yet running) and return its :class:`Trace`.

    *mode* ``"ring"`` keeps the last *size* events, ``"full"`` every event.  From then on every asynctestkit
    report about *loop* (hang, leak, assertion failure) ends with the timeline of the tasks involved.
    Usable without unittest::

        loop = asynctestkit.VirtualClockLoop()
        trace = record_timeline(loop, "full")
        loop.run_until_complete(main())
        print(trace.timeline())
    """
    if check_mode("record_timeline() argument 'mode'", mode) is None:
        raise ValueError("record_timeline() argument 'mode' must be 'ring' or 'full', got None")
    check_size("record_timeline() argument 'size'", size)
    tracer = attach(loop, size=size if mode == "ring" else None)
    trace = Trace(tracer)
    _diagnostics.register_timeline(loop, trace._report_lines)
    return trace


class TraceSettings(NamedTuple):
    """What a test case records and writes (class attributes, overridden by the environment)."""

    mode: str | None          # "ring", "full" or None (off)
    size: int
    on_failure: bool          # ordinary assertion failures end with the timeline too
    export_dir: str | None    # where the .json/.html files go (None: nowhere)
    export_all: bool          # for passing tests too


def check_export(name: str, value: object) -> str | None:
    """A ``trace_export`` value: a directory path or None."""
    if value is None or (isinstance(value, str) and value):
        return value
    raise TypeError(f"{name} must be a directory path (a non-empty str) or None, got {type(value).__name__}: "
                    f"{value!r}")


_ENV = "ASYNCTESTKIT_TRACE"
_ENV_HELP = ("use a mode (1, ring, full, 0) followed by options, comma-separated: failures, export=DIR, all; "
             "e.g. ASYNCTESTKIT_TRACE=full,export=/tmp/traces")


def settings(mode: str | None, size: int, on_failure: bool, export_dir: str | None, export_all: bool,
             environ: Mapping[str, str] = os.environ) -> TraceSettings:
    """The settings a test runs with: the class attributes given, overridden by ``ASYNCTESTKIT_TRACE``.

    The variable is one comma-separated list (one look-up per test): a mode first (``1`` or ``ring``,
    ``full``, ``0`` to turn tracing off whatever the classes say), then options: ``failures`` (ordinary
    assertion failures end with the timeline), ``export=DIR`` (write files for failing tests), ``all``
    (for every test).  Asking for failures or files turns recording on (ring mode) if no mode is given.
    """
    env = environ.get(_ENV)
    if env is not None:
        for number, raw in enumerate(env.split(",")):
            item = raw.strip()
            low = item.lower()
            if number == 0 and low in _TRUE | set(MODES) | _FALSE:
                mode = None if low in _FALSE else "full" if low == "full" else "ring"
                if low in _FALSE:
                    return TraceSettings(None, size, False, None, False)
            elif low == "failures":
                on_failure = True
            elif low == "all":
                export_all = True
            elif low.startswith("export=") and item[7:]:
                export_dir = item[7:]
            else:
                raise ValueError(f"environment variable {_ENV}={env!r}: {item!r} is not understood; {_ENV_HELP}")
    if mode is None and (on_failure or export_dir):
        mode = "ring"  # asking for the timeline in failures or files turns recording on
    return TraceSettings(mode, size, on_failure, export_dir, export_all)
