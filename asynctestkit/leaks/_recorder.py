"""The watching half of the leak checker: registries filled while the code under test runs.

:class:`Watcher` is the base of :class:`~asynctestkit.LeakTracker`.  From ``attach()`` to ``detach()`` it

- wraps the loop instance's public creation methods to record every transport, server (and the connections
  it accepts), subprocess and executor job with the line that created it (see ``_leakloop``);
- chains the loop's exception handler to record never-retrieved exceptions, tasks destroyed while pending,
  third-party sessions finalized while open and errors in callbacks.  The previous handler still runs, so
  asyncio's log lines and ``assertLogs`` keep working; a context delivered while the test captures the
  ``asyncio`` logger is the test's business and is not recorded;
- receives the process-wide signals the hub (``_leakhub``) routes to it: never-awaited coroutines,
  unclosed-resource warnings, finalizer errors and new instances of registered resource types.

A loop that refuses instance attributes (uvloop) is watched through tasks and events only.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .. import _diagnostics
from .._validate import given, optional_callable
from . import _describe
from ._hooks import HUB, log_late
from ._kinds import KINDS, allowances, resolve_policy
from ._registries import LoopRegistries, _Entry
from ._report import Leak
from ._resources import ResourceType, resource_type_of

__all__ = ["Watcher"]


def _log_state() -> list[tuple[logging.Logger, tuple[logging.Handler, ...], bool]]:
    """The handlers along the ``asyncio`` logger's chain: they change while a test captures its logs."""
    state = []
    current: logging.Logger | None = logging.getLogger("asyncio")
    while current is not None:
        state.append((current, tuple(current.handlers), current.propagate))
        current = current.parent if current.propagate else None
    return state


def _context_text(context: Mapping[str, Any]) -> str:
    text = str(context.get("message", "")) or "error"
    if context.get("exception") is not None:
        text += f": {context['exception']!r}"
    return text


class Watcher(LoopRegistries):
    """Records what code running on *loop* creates; :class:`~asynctestkit.LeakTracker` adds the check.

    - *name*: how reports name the code (``"test_fetch"``);
    - *policy*: a preset name or ``{kind: "fail" | "note" | "off"}`` (see :func:`resolve_policy`);
    - *allow*: ``{kind: True | (compiled patterns...)}``, leaks to keep quiet about (they are still cleaned);
    - *origin_markers*: ``{(filename, function)}`` identifying the test's own code, used to blame a
      never-awaited coroutine finalized later on the test that created it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, *, name: str = "the code under test",
                 policy: str | Mapping[str, str] = "default", allow: Mapping[str, Any] | None = None,
                 origin_markers: Iterable[tuple[str, str]] = ()) -> None:
        if not isinstance(loop, asyncio.AbstractEventLoop):
            raise TypeError(f"LeakTracker() argument 'loop' must be an asyncio event loop, got {given(loop)}")
        if not isinstance(name, str):
            raise TypeError(f"LeakTracker() argument 'name' must be a str, got {given(name)}")
        self.loop = loop
        self.name = name
        self.policy = dict(policy) if isinstance(policy, dict) and len(policy) == len(KINDS) \
            else resolve_policy(policy, where="LeakTracker(policy=...)")
        self.allow: dict[str, Any] = allowances("LeakTracker(allow=...)", allow)
        self.origin_markers = frozenset(origin_markers)
        self.attached = False
        super().__init__()
        self._roots: list[tuple[object, str]] = []
        self._events: dict[object, Leak] = {}
        self._covered: set[int] = set()  # parts of resources already reported as dropped
        self._handler = self._exception_handler  # one bound method, to install and to compare
        self._previous_handler: Any = None
        self._baseline: set[asyncio.Task[Any]] = set()  # tasks that predate attach (3.10: the runner's)
        self._threads_before: set[threading.Thread] = set()
        self._log_state: list[Any] = []

    # -- attach / detach ------------------------------------------------------------------------------------
    def attach(self) -> None:
        """Start watching the loop (call before the code under test runs, with the loop not running)."""
        if self.attached:
            raise RuntimeError(f"this LeakTracker is already attached to {self.loop!r}")
        loop = self.loop
        self._baseline = asyncio.all_tasks(loop)
        self._threads_before = set(threading.enumerate())
        self._log_state = _log_state()
        self._wrap_loop_methods()
        self._previous_handler = loop.get_exception_handler()
        loop.set_exception_handler(self._handler)
        HUB.attach(self)
        self.attached = True

    def detach(self, *, keep_late_handler: bool = False) -> None:
        """Stop watching and restore everything attach() changed.

        With *keep_late_handler* (for a loop that is closed after the test, as a test case's is), the loop's
        exception handler becomes one that reports signals arriving later (an object finalized after the
        test) as a late note naming this test, instead of an unattributed log line in another test.
        """
        if not self.attached:
            return
        self.attached = False
        loop = self.loop
        self._unwrap_loop_methods()
        if loop.get_exception_handler() is self._handler:
            loop.set_exception_handler(self._late_handler() if keep_late_handler else self._previous_handler)
        HUB.detach(self)
        for registry in (self._transports, self._servers, self._processes, self._resources, self._jobs,
                         self._timers, self._events, self._covered, self._baseline):
            registry.clear()
        self._roots.clear()

    def add_root(self, obj: object, name: str) -> None:
        """Scan *obj*'s attributes (two levels) at check time, e.g. the test case as ``"self"``."""
        self._roots.append((obj, name))

    def track(self, obj: Any, *, is_open: Callable[[Any], bool] | None = None,
              close: Callable[[Any], object] | None = None, describe: Callable[[Any], str] | None = None) -> Any:
        """Report *obj* if it is still open at the end; returns *obj*.

        Without *is_open*, the registered type of *obj* decides, else ``not obj.closed`` or
        ``not obj.is_closing()``; TypeError if none applies.
        """
        for argument, value in (("is_open", is_open), ("close", close), ("describe", describe)):
            optional_callable(f"track_resource() argument {argument!r}", value)
        known = resource_type_of(obj)
        if known is None or is_open is not None or close is not None or describe is not None:
            if is_open is None:
                is_open = known.is_open if known is not None else _default_is_open(obj)
            known = ResourceType(type(obj), is_open, close or (known.close if known else None),
                                 describe or (known.describe if known else None))
        self._resources[id(obj)] = _Entry(obj, "resources", describe_sites(), "track_resource", known)
        return obj

    def on_created(self, obj: object, rtype: ResourceType, sites: _describe.Sites) -> None:
        """A registered resource type was instantiated while this tracker is current (from the hub)."""
        self._resources.setdefault(id(obj), _Entry(obj, "resources", sites, "", rtype))

    # -- events ---------------------------------------------------------------------------------------------
    def _event(self, key: object, leak: Leak) -> None:
        if isinstance(key, tuple) and key[0] == "obj" and key[1] in self._covered:
            return
        self._events.setdefault(key, leak)

    def _exception_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        try:
            if _log_state() == self._log_state:  # else the test captures asyncio's log: it handles this
                self._on_context(context)
        except Exception:  # the checker must never break the loop's error reporting
            pass
        previous = self._previous_handler
        if previous is None:
            loop.default_exception_handler(context)
        else:
            previous(loop, context)

    def _late_handler(self) -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]:
        name, previous = self.name, self._previous_handler

        def late(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            if previous is not None:
                previous(loop, context)
            else:
                log_late(name, _context_text(context))

        return late

    def _on_context(self, context: Mapping[str, Any]) -> None:
        message = str(context.get("message", ""))
        future = context.get("future") or context.get("task")
        error = context.get("exception")
        session = next((context[k] for k in ("client_session", "connector", "client_connection")
                        if k in context), None)
        if isinstance(future, asyncio.Future) and message.endswith("exception was never retrieved"):
            leak = _describe.exception_leak(future, error)
            dropped = _describe.call_sites()[0]  # a future dies where its last reference goes
            if dropped is not None:
                leak.details.append(_diagnostics.site_line("dropped at", dropped))
            self._event(("exc", id(future)), leak)
        elif isinstance(future, asyncio.Task) and message.startswith("Task was destroyed but it is pending"):
            leak = _describe.task_leak(future)
            leak.summary = f"{_describe.describe_future(future)} was destroyed while still pending " \
                           f"(nothing kept a reference to it)"
            self._event(("task", id(future)), leak)
        elif session is not None:
            self._event(("obj", id(session)), self._resource_leak(session, message, dropped=True))
        else:
            handle = context.get("handle")
            record = self._timers.get(id(handle)) if handle is not None else None  # strict mode records timers
            scheduled = record[1] if record is not None and record[0]() is handle else None
            self._event(("err", len(self._events)), _describe.loop_error_leak(context, scheduled))

    def on_warning(self, text: str, category: type[Warning], source: object, *, unsure: bool = False) -> None:
        """A leak warning routed to this tracker by the hub (see ``_leakhub``).

        *unsure*: an un-awaited coroutine the garbage collector found, without an origin to tell which test
        created it: reported as a note, never as this test's failure.
        """
        first = text.splitlines()[0] if text else category.__name__
        if not issubclass(category, ResourceWarning):  # a coroutine never awaited
            qualname = getattr(source, "__qualname__", None) or first.split("'")[1]
            leak = _describe.coroutine_leak(source, qualname)
            if unsure:
                leak.note_only = True
                leak.details.append("found by the garbage collector: it may come from an earlier test "
                                    "(set coroutine_origins = True on the test case to know)")
            elif not any(line.startswith("created at") for line in leak.details):
                dropped = _describe.call_sites()[0]  # no origin: where its last reference went
                if dropped is not None:
                    leak.details.insert(0, _diagnostics.site_line("dropped at", dropped))
            self._event(("obj", id(source)) if source is not None else ("coro", first), leak)
            return
        entry = self._entry_of(source) if source is not None else None
        if entry is None and ("<StreamWriter" in first or first.startswith("unclosed transport")):
            entry = self._transport_in(first)
        target = (entry.ref() if entry is not None else None) or source  # weakref cleared by the collector
        created = _describe.created_lines(entry.sites, entry.via) if entry is not None else []
        if entry is not None and entry.kind == "transports":
            what = _describe.describe_transport(target)
            text = (f"{what} left open: its StreamWriter was garbage-collected without close()"
                    if "<StreamWriter" in first else f"{what} was garbage-collected without close()")
            leak = Leak("transports", text, created)
        elif entry is not None and entry.kind == "subprocesses":
            leak = Leak("subprocesses", f"the transport of {_describe.describe_process(target, entry.extra)} was "
                                        f"garbage-collected without close()", created)
        elif entry is not None and entry.kind == "servers":
            leak = Leak("servers", "server was garbage-collected without close()", created)
        elif entry is not None or resource_type_of(source) is not None:
            leak = self._resource_leak(source, first, dropped=True, entry=entry)
        else:
            # Not an error of the loop: a warning with no object this test is known to own (the garbage
            # collector may have found it long after its test), so a note only, whatever the policy says.
            self._event(("err", len(self._events)), Leak("errors", f"{category.__name__}: {first}", [],
                                                         (category.__name__,), note_only=True))
            return
        self._event(("obj", id(target)), leak)

    def on_error(self, summary: str, details: list[str]) -> None:
        """An exception raised in a finalizer (``sys.unraisablehook``): a note, never a failure, because the
        finalizer may run long after the test that dropped the object (the default hook still prints it)."""
        self._event(("err", len(self._events)), Leak("errors", summary, details, ("unraisable",), note_only=True))

    def _resource_leak(self, obj: Any, signal: str = "", *, dropped: bool = False, where: str = "",
                       entry: _Entry | None = None) -> Leak:
        entry = entry or self._resources.get(id(obj))
        rtype = entry.extra if entry is not None and isinstance(entry.extra, ResourceType) else \
            resource_type_of(obj)
        try:
            text = rtype.describe(obj) if rtype is not None and rtype.describe else type(obj).__qualname__
        except Exception:
            text = type(obj).__qualname__
        sites = entry.sites if entry is not None else _describe.traceback_sites(obj)
        details = _describe.created_lines(sites, entry.via if entry is not None else "")
        if where:
            details.append(_diagnostics.detail_line("kept on", where))
        if dropped and rtype is not None and rtype.parts is not None:
            try:  # an owned connector finalized right after its session is part of the same leak
                self._covered.update(id(part) for part in rtype.parts(obj))
            except Exception:
                pass
        signal = re.sub(r" <[^<>]*(<[^<>]*>[^<>]*)*>$", "", signal)  # drop the object's repr
        state = f"was garbage-collected while open ({signal})" if dropped else "still open"
        names = (type(obj).__qualname__, rtype.label if rtype is not None else "", text)
        return Leak("resources", f"{text} {state}", details, names)


def describe_sites() -> _describe.Sites:
    return _describe.call_sites()


def _default_is_open(obj: Any) -> Callable[[Any], bool]:
    if hasattr(obj, "closed"):
        return lambda o: not o.closed
    if callable(getattr(obj, "is_closing", None)):
        return lambda o: not o.is_closing()
    raise TypeError(f"cannot tell whether {type(obj).__qualname__} is open: pass is_open=, e.g. "
                    f"track_resource(obj, is_open=lambda o: not o.closed), or register_resource_type() it")
