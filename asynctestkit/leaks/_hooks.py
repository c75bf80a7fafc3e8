"""The leak checker's process-wide hooks, and who gets blamed for a signal.

Some leak signals are not tied to one loop: a ``RuntimeWarning`` "coroutine ... was never awaited", a
``ResourceWarning`` "unclosed ..." (asyncio's transports and stream writers, aiohttp's sessions), an
exception raised in a finalizer (``sys.unraisablehook``).  The hub listens to them while at least one
:class:`~asynctestkit.LeakTracker` is attached, and restores every hook when the last one detaches:

- two entries at the front of ``warnings.filters`` make those two kinds of warnings visible whatever the
  user's filters say ("always", so the once-per-location registry never hides a second leak), and
  ``warnings._showwarnmsg`` receives them with their ``source`` object.  A warning arriving while the test
  itself captures warnings (``assertWarns``, ``catch_warnings(record=True)``) is left to the test;
- ``sys.unraisablehook`` is chained (``-W error`` turns a finalizer's warning into an unraisable exception);
- ``threading.Thread.start`` records where each thread was started, for the report;
- the constructors of registered resource types record each new instance with its creation site.

A signal is routed by the object it concerns: to the tracker whose registry holds it, else by the loop the
object belongs to.  An object of a test that already finished is reported as a *late* note naming that test
(logged on the ``asynctestkit.leaks`` logger), never against the test running now.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import inspect
import logging
import re
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .. import _compat, _diagnostics
from .._diagnostics import Site
from . import _resources
from ._describe import Sites, call_sites

__all__ = ["HUB", "LateHandler", "is_leak_warning", "log_late"]

logger = logging.getLogger("asynctestkit.leaks")

NEVER_AWAITED = re.compile(r"coroutine '.*' was never awaited")
_FILTERS = (("always", None, ResourceWarning, None, 0), ("always", NEVER_AWAITED, RuntimeWarning, None, 0))
_FILTER_0, _FILTER_1 = _FILTERS


class Sink(Protocol):
    """What the hub needs from a tracker (implemented by :class:`~asynctestkit.LeakTracker`)."""

    loop: asyncio.AbstractEventLoop
    name: str
    origin_markers: frozenset[tuple[str, str]]

    def owns(self, obj: object) -> bool: ...
    def on_warning(self, text: str, category: type[Warning], source: object, *, unsure: bool = False) -> None: ...
    def on_error(self, summary: str, details: list[str]) -> None: ...
    def on_created(self, obj: object, rtype: _resources.ResourceType, sites: Sites) -> None: ...


def is_leak_warning(category: type[Warning], text: str) -> bool:
    """True for the warnings the leak checker owns: any ResourceWarning and never-awaited coroutines."""
    return issubclass(category, ResourceWarning) or (
        issubclass(category, RuntimeWarning) and NEVER_AWAITED.match(text) is not None)


def log_late(test: str, what: str) -> None:
    """Report a leak signal that arrived after its test finished, naming that test."""
    logger.warning("leak from %s, detected after that test finished (when the object was finalized): %s",
                   test, what)


def _context_text(context: Mapping[str, Any]) -> str:
    text = str(context.get("message", "")) or "error"
    if context.get("exception") is not None:
        text += f": {context['exception']!r}"
    return text


class LateHandler:
    """The exception handler a finished test's loop keeps (``LeakTracker.detach(keep_late_handler=True)``).

    An error the loop reports after the test (an object finalized late) is logged as a late note naming
    *test*, or handed to the handler the test had set (*previous*).  It also tells the hub that the loop's
    code is over (see ``_Hub.finished_test``): nothing else is recorded per test for that.
    """

    __slots__ = ("previous", "test")

    def __init__(self, test: str,
                 previous: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object] | None) -> None:
        self.test = test
        self.previous = previous

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if self.previous is not None:
            self.previous(loop, context)
        else:
            log_late(self.test, _context_text(context))


class _Hub:
    def __init__(self) -> None:
        self.active: list[Sink] = []
        #: Loops whose tracker detached without leaving a LateHandler on them (bare use), and their code's name.
        self.finished: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, str] = weakref.WeakKeyDictionary()
        self._unmarked = False  # something was ever put in ``finished``
        self.recent: collections.deque[tuple[str, frozenset[tuple[str, str]]]] = collections.deque(maxlen=64)
        self.thread_sites: weakref.WeakKeyDictionary[threading.Thread, Site] = weakref.WeakKeyDictionary()
        self._undo: list[Callable[[], None]] = []
        self._previous_start: Callable[..., Any] = threading.Thread.start
        self._start_stuck = False  # our Thread.start could not be taken out (patched over): it stays installed
        self._display_state: tuple[object, object] | None = None
        self._previous_show: _compat.ShowWarnMsg | None = None
        self._previous_unraisable: Callable[[Any], object] | None = None
        self.collecting = False  # inside a garbage collection (gc.callbacks), while installed
        # Bound methods are created anew on each attribute access: keep one of each to install and compare.
        self._show_hook = self._showwarnmsg
        self._unraisable_hook = self._unraisablehook
        self._gc_hook = self._gc_phase
        self._created_hook = self._on_created

    # -- attach/detach ------------------------------------------------------------------------------------
    def attach(self, sink: Sink) -> None:
        active = self.active
        if not active:
            # Installed per test, so nothing of the checker stays in the process between tests; kept cheap:
            # one frame, no closure is built, the hooks are the hub's own functions, made once.
            filters: list[Any] = warnings.filters  # type: ignore[assignment]
            filters[0:0] = _FILTERS
            # No warnings._filters_mutated(): the C filter reads the list on each warning, and bumping the
            # filters version would make every "default"-action warning of the user print again in each test.
            self._previous_show, self._display_state = _compat.install_showwarnmsg(self._show_hook)
            self._previous_unraisable = sys.unraisablehook
            sys.unraisablehook = self._unraisable_hook
            if not self._start_stuck:
                self._previous_start = threading.Thread.start
                threading.Thread.start = _thread_start  # type: ignore[method-assign,assignment]
            gc.callbacks.append(self._gc_hook)
            self._undo = _resources.patch_constructors(self._created_hook)
        active.append(sink)

    def detach(self, sink: Sink, *, marked: bool = False) -> None:
        """*marked*: the loop now has a :class:`LateHandler` naming the sink's code (no entry needed here)."""
        active = self.active
        if active and active[-1] is sink:  # the usual case: the last one attached
            del active[-1]
        elif sink in active:
            active.remove(sink)
        try:
            if not marked:
                self.finished[sink.loop] = sink.name
                self._unmarked = True
            elif self._unmarked:  # an earlier, unmarked tracker of this loop is not the latest any more
                self.finished.pop(sink.loop, None)
        except TypeError:  # a loop type without weak references (uvloop): late signals go unattributed
            pass
        if sink.origin_markers:
            self.recent.append((sink.name, sink.origin_markers))
        if active:
            return
        # The last tracker is gone: take every hook out (inline, as attach() puts them in).
        if self._undo:
            for undo in reversed(self._undo):
                undo()
            self._undo = []
        self.collecting = False
        callbacks = gc.callbacks
        if callbacks and callbacks[-1] is self._gc_hook:  # the usual case: nothing was added after ours
            del callbacks[-1]
        else:
            try:
                callbacks.remove(self._gc_hook)
            except ValueError:  # taken out by the code under test
                pass
        thread = threading.Thread
        if thread.start is _thread_start:
            thread.start = self._previous_start  # type: ignore[method-assign]
            self._start_stuck = False
        else:  # patched again on top of ours: ours stays in the chain (and records only while active)
            self._start_stuck = True
        filters: list[Any] = warnings.filters  # type: ignore[assignment]
        if len(filters) >= 2 and filters[0] is _FILTER_0 and filters[1] is _FILTER_1:
            del filters[:2]
        else:
            self._remove_filters(filters)
        _compat.restore_showwarnmsg(self._show_hook, self._previous_show)
        previous = self._previous_unraisable
        if sys.unraisablehook is self._unraisable_hook and previous is not None:
            sys.unraisablehook = previous

    def _gc_phase(self, phase: str, info: dict[str, int]) -> None:
        self.collecting = phase == "start"

    @staticmethod
    def _remove_filters(filters: list[Any]) -> None:
        """Take the hub's two filters out of *filters*, wherever they are (the test added filters of its own
        in front of them and left them)."""
        for entry in _FILTERS:
            for index, existing in enumerate(filters):
                if existing is entry:
                    del filters[index]
                    break

    # -- routing --------------------------------------------------------------------------------------------
    def current(self) -> Sink | None:
        """The tracker of the running loop, else the one attached last."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for sink in reversed(self.active):
            if sink.loop is running:
                return sink
        return self.active[-1] if self.active else None

    def route(self, source: object) -> tuple[Sink | None, str | None]:
        """``(tracker, None)`` for the attached tracker that owns *source*; ``(None, test)`` when *source*
        belongs to a test that already finished; else ``(current tracker, None)``.
        """
        if source is not None:
            for sink in reversed(self.active):
                if sink.owns(source):
                    return sink, None
            loop = _compat.object_loop(source)
            if loop is not None:
                for sink in reversed(self.active):
                    if sink.loop is loop:
                        return sink, None
                test = self.finished_test(loop)
                if test is not None:
                    return None, test
            origin = getattr(source, "cr_origin", None) if inspect.iscoroutine(source) else None
            if origin:
                frames = {(filename, function) for filename, _line, function in origin}
                for sink in reversed(self.active):
                    if sink.origin_markers & frames:
                        return sink, None
                for test, markers in reversed(self.recent):
                    if markers & frames:
                        return None, test
        return self.current(), None

    def finished_test(self, loop: asyncio.AbstractEventLoop) -> str | None:
        """The name of the code that ran on *loop* if its tracker detached (and none is attached now)."""
        try:
            test = self.finished.get(loop)
        except TypeError:
            test = None
        if test is None:
            handler = loop.get_exception_handler()
            if isinstance(handler, LateHandler):
                test = handler.test
        return test

    def unsure(self, source: object) -> bool:
        """True for an un-awaited coroutine whose test cannot be known: no origin, finalized by the collector.

        Dropped by its last reference, a coroutine warns inside the code that dropped it, which is the
        running test's.  Found by the garbage collector, it may come from any earlier test; only its origin
        (``coroutine_origins``) could tell which.
        """
        return self.collecting and inspect.iscoroutine(source) and not getattr(source, "cr_origin", None)

    # -- hooks ----------------------------------------------------------------------------------------------
    def _showwarnmsg(self, msg: warnings.WarningMessage) -> None:
        text = str(msg.message)
        if (self.active and is_leak_warning(msg.category, text)
                and _compat.warnings_display_state() == self._display_state):
            try:
                sink, late = self.route(msg.source)
                if late is not None:
                    log_late(late, f"{msg.category.__name__}: {text.splitlines()[0]}")
                    return
                if sink is not None:
                    sink.on_warning(text, msg.category, msg.source, unsure=self.unsure(msg.source))
                    return
            except Exception:  # never lose a warning because of the checker
                pass
        previous = self._previous_show
        if previous is not None:
            previous(msg)

    def _unraisablehook(self, unraisable: Any) -> None:
        handled = False
        if self.active:
            try:
                handled = self._on_unraisable(unraisable)
            except Exception:
                handled = False
        if not handled and self._previous_unraisable is not None:
            self._previous_unraisable(unraisable)

    def _on_unraisable(self, unraisable: Any) -> bool:
        error = unraisable.exc_value
        source = unraisable.object
        if inspect.isroutine(source):  # "Exception ignored in: <function X.__del__>": no instance to go by
            source = None
        if isinstance(error, Warning) and is_leak_warning(type(error), str(error)):
            sink, late = self.route(source)
            if late is not None:
                log_late(late, f"{type(error).__name__}: {str(error).splitlines()[0]}")
            elif sink is not None:
                sink.on_warning(str(error), type(error), source, unsure=self.unsure(source))
            return True
        sink, late = self.route(source)
        what = f"exception ignored in {unraisable.object!r}: {error!r}"
        if late is not None:
            log_late(late, what)
            return True
        if sink is not None:
            sink.on_error(what, [])
        return False  # the default hook still prints it

    def _on_created(self, obj: object, rtype: _resources.ResourceType) -> None:
        sink = self.current()
        if sink is not None:
            sink.on_created(obj, rtype, call_sites())


HUB = _Hub()


def _thread_start(thread: threading.Thread, *args: Any, **kwargs: Any) -> Any:
    """``threading.Thread.start`` while the hub is installed: records where each thread was started."""
    if HUB.active:
        HUB.thread_sites[thread] = _diagnostics.caller_site()  # type: ignore[assignment]
    return HUB._previous_start(thread, *args, **kwargs)
