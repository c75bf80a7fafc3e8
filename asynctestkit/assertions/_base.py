"""What every assertion mixin shares: argument checks, descriptions for messages, and waiting on the loop.

- argument checks (:func:`check_seconds`, :func:`check_awaitable`, :func:`rejecting`) raise a TypeError or
  ValueError that names the assertion, the argument and what to pass instead, and close any coroutine the
  assertion will now never run, so no "coroutine was never awaited" warning follows the real error;
- descriptions (:func:`describe`, :func:`stamp`, :func:`raised_at`, ...) are the words of failure messages:
  ``fetch()``, ``task 'worker' (worker())``, ``virtual t=5.000s``;
- the waiting helpers live in ``_waits.py``;
- :class:`AssertionsBase` is the root of the mixins: ``unittest.TestCase`` for type checkers, ``object`` at run
  time, so a mixin can be listed before any ``IsolatedAsyncioTestCase`` base.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import reprlib
import sys
import unittest
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from .. import _compat, _diagnostics, _validate
from ..clock._loop import VirtualClockLoop

__unittest = True  # hide these frames in unittest tracebacks

if TYPE_CHECKING:
    _TestCaseBase = unittest.TestCase
else:
    _TestCaseBase = object


class AssertionsBase(_TestCaseBase):
    """Root of the assertion mixins: failure reporting honouring ``msg`` and ``longMessage``."""

    #: Loop seconds an assertion waits for a task it cancelled to finish before reporting it as stuck.
    cancel_grace: ClassVar[float] = 5.0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Check ``cancel_grace`` when a class sets it, so a mistake fails at import, naming the class."""
        super().__init_subclass__(**kwargs)
        if "cancel_grace" in cls.__dict__:
            _validate.duration(f"{cls.__qualname__}.cancel_grace", cls.__dict__["cancel_grace"])

    def _atk_fail(self, standard: str, msg: Any, cause: BaseException | None = None) -> NoReturn:
        """Raise ``failureException`` with *standard* (and *msg* as unittest's ``longMessage`` says)."""
        raise self.failureException(_compat.format_message(self, msg, standard + timeline())) from cause


def timeline() -> str:
    """The task timeline an assertion failure ends with, when the running loop records one (else "")."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return ""
    return "".join("\n" + line for line in _diagnostics.timeline_lines(loop))


# -- argument checks ---------------------------------------------------------------------------------------
def close_coroutines(obj: object) -> None:
    """Close *obj* if it is a coroutine (or each coroutine in a list/tuple of them) the caller will not run."""
    if isinstance(obj, (list, tuple)):
        for item in obj:
            close_coroutines(item)
    elif inspect.iscoroutine(obj) and inspect.getcoroutinestate(obj) == inspect.CORO_CREATED:
        obj.close()


@contextmanager
def rejecting(*objs: object) -> Iterator[None]:
    """On any exception in the block (a misuse error, a skip), close the coroutines among *objs*."""
    try:
        yield
    except BaseException:
        for obj in objs:
            close_coroutines(obj)
        raise


def check_seconds(method: str, name: str, value: object) -> float:
    """Validate a duration argument: a finite number of seconds >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{method}() argument {name!r} must be a number of seconds (int or float), got "
                        f"{type(value).__name__}: {short_repr(value)}")
    try:
        seconds = float(value)
    except OverflowError:  # an int beyond the float range (10**400)
        raise ValueError(f"{method}() argument {name!r} must be a finite number of seconds >= 0, got an int "
                         f"too large for a float ({len(str(value))} digits)") from None
    if math.isnan(seconds):
        raise ValueError(f"{method}() argument {name!r} is NaN: pass a number of seconds >= 0, got nan")
    if seconds < 0:
        raise ValueError(f"{method}() argument {name!r} must be >= 0 seconds, got {value!r}")
    if math.isinf(seconds):
        raise ValueError(f"{method}() argument {name!r} must be finite, got {value!r}; to wait without a "
                         f"limit, await the code directly")
    return seconds


def check_count(method: str, name: str, value: object) -> int:
    """Validate a count argument: an int >= 0."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{method}() argument {name!r} must be an int, got {type(value).__name__}: "
                        f"{short_repr(value)}")
    if value < 0:
        raise ValueError(f"{method}() argument {name!r} must be >= 0, got {value!r}")
    return value


def optional_awaitable(method: str, aw: Any) -> Any:
    """*aw* checked as :func:`check_awaitable` does, when it is given (None: the ``async with`` form)."""
    return None if aw is None else check_awaitable(method, "aw", aw)


def check_awaitable(method: str, name: str, aw: object, *, pending: bool = True) -> Awaitable[Any]:
    """Validate the code to run: a coroutine, task, future or other awaitable, not yet finished if *pending*."""
    where = f"{method}() argument {name!r}"
    if inspect.iscoroutinefunction(aw) or inspect.isasyncgenfunction(aw):
        fn = getattr(aw, "__qualname__", None) or getattr(aw, "__name__", None) or type(aw).__name__
        raise TypeError(f"{where} got the coroutine function {fn}, not a coroutine: call it, e.g. pass "
                        f"{fn}(...) instead of {fn}")
    if inspect.isasyncgen(aw):
        raise TypeError(f"{where} got an async generator, which is not awaitable: consume it in a coroutine "
                        f"(async def main(): async for item in gen: ...) and pass main()")
    if not inspect.isawaitable(aw):
        hint = ("; it is callable: pass what calling it returns" if callable(aw) else "")
        raise TypeError(f"{where} must be an awaitable (a coroutine, task or future), got "
                        f"{type(aw).__name__}: {short_repr(aw)}{hint}")
    if inspect.iscoroutine(aw) and inspect.getcoroutinestate(aw) != inspect.CORO_CREATED:
        raise ValueError(f"{where} is a coroutine that was already started or finished "
                         f"({inspect.getcoroutinestate(aw)}): pass a fresh coroutine, e.g. {describe(aw)}")
    if pending and isinstance(aw, asyncio.Future) and aw.done():
        raise ValueError(f"{where} is {describe(aw)}, which has already finished ({outcome_of(aw)}): pass "
                         f"the coroutine itself, or a task that is still running")
    return aw


def check_loop(method: str) -> tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]:
    """The running loop and current task, or a RuntimeError saying the assertion must be awaited in a test."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(f"{method}() must be used inside an async test (a running event loop), e.g. "
                           f"`await self.{method}(...)` in an `async def test_...`") from None
    task = asyncio.current_task(loop)
    if task is None:
        raise RuntimeError(f"{method}() must run inside an asyncio task")
    return loop, task


# -- words for messages ------------------------------------------------------------------------------------
_repr = reprlib.Repr()
_repr.maxstring = 80
_repr.maxother = 80
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 6


def short_repr(obj: object) -> str:
    """repr() cut to fit a message line, never raising."""
    try:
        return _repr.repr(obj)
    except Exception:  # a broken __repr__ must not hide the failure being reported
        return object.__repr__(obj)


def exc_repr(exc: BaseException) -> str:
    """``ValueError('boom')`` for an exception, cut to fit a line."""
    try:
        text = repr(exc)
    except Exception:
        text = f"{type(exc).__name__}(...)"
    return text if len(text) <= 120 else text[:117] + "..."


def describe(aw: object) -> str:
    """How messages name the code under test: ``fetch()``, ``task 'w' (worker())``, ``future <...>``."""
    if isinstance(aw, asyncio.Task):
        return _diagnostics.describe_task(aw)
    if isinstance(aw, asyncio.Future):
        return "a future"
    qualname = getattr(aw, "__qualname__", None)
    if inspect.iscoroutine(aw) and qualname:
        return f"{qualname.rpartition('<locals>.')[2]}()"
    return f"{type(aw).__name__} object"


def outcome_of(fut: asyncio.Future[Any]) -> str:
    """``returned 42`` / ``raised ValueError('x')`` / ``was cancelled`` / ``still running`` for a future."""
    if not fut.done():
        return "still running"
    if fut.cancelled():
        return "was cancelled"
    exc = fut.exception()
    if exc is not None:
        return f"raised {exc_repr(exc)}"
    return f"returned {short_repr(fut.result())}"


def is_virtual(loop: asyncio.AbstractEventLoop) -> bool:
    """True for a loop on asynctestkit's virtual clock."""
    return isinstance(loop, VirtualClockLoop)


def time_kind(loop: asyncio.AbstractEventLoop) -> str:
    """``virtual time`` or ``loop time``: what the durations in a message are measured in."""
    return "virtual time" if is_virtual(loop) else "loop time"


def stamp(loop: asyncio.AbstractEventLoop, when: float | None = None) -> str:
    """``virtual t=5.000s`` (from the clock's start) or ``loop t=8123.456s`` for *when* (default: now)."""
    now = loop.time() if when is None else when
    if isinstance(loop, VirtualClockLoop):
        return f"virtual t={now - loop.clock.start:.3f}s"
    return f"loop t={now:.3f}s"


def fmt_seconds(value: float) -> str:
    """A duration for a message: ``3600 s``, ``2.5 s``, ``0.0123 s`` (up to 9 significant digits)."""
    return f"{value:.9g} s"


def default_tolerance(loop: asyncio.AbstractEventLoop, *times: float) -> float:
    """Float noise allowed in an exact virtual duration: 1 ns plus a few ulps at the magnitudes involved."""
    scale = max([abs(t) for t in times] + [abs(loop.time())])
    return 1e-9 + 4 * math.ulp(scale)


raised_at = _diagnostics.raised_at  # one "raised at" rule for every report


def exc_line(exc: BaseException) -> str:
    """``ValueError('x') raised at app.py:12 in fetch`` (the site only when known)."""
    site = raised_at(exc)
    return exc_repr(exc) + (f" raised at {_diagnostics.format_site(site)}" if site else "")


def where_lines(task: asyncio.Future[Any], indent: str = "  ", *, created: bool = True) -> list[str]:
    """``suspended at ...`` (when pending) and ``task ... created at ...`` lines for a report."""
    lines: list[str] = []
    if not task.done():
        line = _diagnostics.suspended_line(task)
        if line:
            lines.append(indent + line)
    if created and isinstance(task, asyncio.Task):
        lines.append(f"{indent}{_diagnostics.describe_task(task)} created at "
                     f"{_diagnostics.format_site(_diagnostics.creation_site(task))}")
    return lines


def coroutine_where(coro: object, indent: str = "  ") -> list[str]:
    """``suspended at ...`` for a suspended coroutine that is not a task's own (awaited inline by the test)."""
    site, what = _diagnostics.coroutine_suspended_at(coro)
    if site is None:
        return []
    return [indent + _diagnostics.site_line("suspended at", site, with_source=True,
                                           suffix=f"  (awaiting {what})" if what else "")]


def check_predicate(method: str, name: str, check: object) -> Any:
    """Validate a "has it happened?" argument: a zero-argument callable or an ``asyncio.Event``."""
    if isinstance(check, asyncio.Event):
        return check.is_set
    mock = sys.modules.get("unittest.mock")
    if mock is not None and isinstance(check, mock.NonCallableMock):
        raise TypeError(f"{method}() argument {name!r} is a mock; calling it would record a call: pass "
                        f"`lambda: the_mock.called` (or .await_count, ...) instead")
    if not callable(check):
        raise TypeError(f"{method}() argument {name!r} must be a zero-argument callable returning true once "
                        f"it happened, or an asyncio.Event; got {type(check).__name__}: {short_repr(check)}")
    if inspect.iscoroutinefunction(check):
        fn = getattr(check, "__qualname__", None) or type(check).__name__
        raise TypeError(f"{method}() argument {name!r} must be a plain (not async) callable, got the coroutine "
                        f"function {fn}: it is checked once per loop iteration")
    return check


def predicate_name(check: object) -> str:
    """How a message names a check: ``the Event``, ``cleaned()``, ``the check at tests/x.py:12: lambda: ...``."""
    if isinstance(check, asyncio.Event):
        return "the Event"
    code = getattr(check, "__code__", None)
    name = getattr(check, "__name__", None) or type(check).__name__
    if name == "<lambda>" and code is not None:
        site = (code.co_filename, code.co_firstlineno, name)
        source = _diagnostics.source_line(site)
        return f"the check at {_diagnostics.relpath(code.co_filename)}:{code.co_firstlineno}" + (
            f" ({source})" if source else "")
    owner = getattr(check, "__self__", None)
    if isinstance(owner, asyncio.Event):
        return "the Event"
    return f"{name}()"
