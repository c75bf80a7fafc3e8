"""The recording part of the leak checker: what happens while the code under test runs.

A :class:`LeakRecorder` is owned by a :class:`~asynctestkit.LeakTracker`.  From ``attach()`` to ``detach()`` it

- has the loop's public creation methods hand it every transport, server (and the connections it
  accepts), subprocess and executor job with the line that created it (see ``_registries``);
- chains the loop's exception handler to record never-retrieved exceptions, tasks destroyed while pending,
  third-party sessions finalized while open and errors in callbacks.  The previous handler still runs, so
  asyncio's log lines and ``assertLogs`` keep working; a context delivered while the test captures the
  ``asyncio`` logger is the test's business and is not recorded;
- receives the process-wide signals the hooks (``_hooks``) route to its tracker: never-awaited coroutines,
  unclosed-resource warnings, finalizer errors and new instances of registered resource types.

A loop that refuses instance attributes (uvloop) is watched through tasks and events only.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from .. import _compat, _diagnostics
from .._validate import optional_callable
from . import _describe
from ._hooks import HUB, LateHandler, Sink
from ._kinds import ERRORS, RESOURCES, SERVERS, SUBPROCESSES, TRANSPORTS
from ._registries import LoopRegistries, _Entry
from ._report import COROUTINE, ERROR, EXCEPTION, OBJECT, TASK, DedupKey, Leak
from ._resources import ResourceType, resource_type_of

__all__ = ["LeakRecorder"]


_ASYNCIO_LOGGER = logging.getLogger("asyncio")  # loggers live as long as the process
_NO_TASKS: frozenset[asyncio.Task[Any]] = frozenset()
_NO_THREADS: dict[Any, threading.Thread] = {}  # shared, never changed


def _log_state() -> tuple[object, ...]:
    """The handlers along the ``asyncio`` logger's chain: they change while a test captures its logs."""
    logger = _ASYNCIO_LOGGER
    parent = logger.parent
    if logger.propagate and parent is not None and parent.parent is None:  # asyncio -> root, the usual chain
        return (*logger.handlers, True, parent, *parent.handlers, parent.propagate)  # as the loop below makes it
    state: tuple[object, ...] = (*logger.handlers, logger.propagate)
    while logger.propagate:
        parent = logger.parent
        if parent is None:
            break
        logger = parent
        state += (logger, *logger.handlers, logger.propagate)
    return state


class LeakRecorder:
    """Records what happens on *loop* while a :class:`~asynctestkit.LeakTracker` is attached (owned by it).

    It fills *registries* (what the loop's creation methods make, from :meth:`attach` to :meth:`detach`) and
    its own ``events`` (leak signals: the loop's exception handler and the process-wide hooks), remembers
    what existed before (``baseline`` tasks, ``threads_before``) and which objects to scan (``roots``).
    *name* names the code in late notes.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, name: str, registries: LoopRegistries) -> None:
        self.loop = loop
        self.name = name
        self.registries = registries
        self.attached = False
        self.roots: list[tuple[object, str]] = []
        self.events: dict[DedupKey, Leak] = {}
        self._covered: set[int] = set()  # parts of resources already reported as dropped
        # The bound method installed on the loop, only while attached: stored for good it would make a cycle
        # (recorder -> bound method -> recorder) that only the cyclic collector frees.
        self._handler: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None] | None = None
        self._previous_handler: Any = None
        self.baseline: AbstractSet[asyncio.Task[Any]] = _NO_TASKS  # tasks that predate attach (3.10: the runner's)
        #: The threads alive at attach: a copy of threading's registry of running threads (plus those starting
        #: then), which the check compares whole with the registry (equal means no thread started since).
        self.threads_before: dict[Any, threading.Thread] = {}
        self._log_state: tuple[object, ...] = ()

    # -- attach / detach ------------------------------------------------------------------------------------
    def attach(self, sink: Sink) -> None:
        """Start watching the loop; *sink* gets the process-wide signals (see ``_hooks``)."""
        if self.attached:
            raise RuntimeError(f"this LeakTracker is already attached to {self.loop!r}")
        loop = self.loop
        tasks = _compat.loop_tasks(loop)
        self.baseline = tasks if tasks else _NO_TASKS
        active, limbo = _compat.thread_registry()
        before = active.copy()
        if limbo:  # started, not running yet: they predate the code under test too
            before.update(limbo)
        self.threads_before = before
        self._log_state = _log_state()
        self.registries.start()
        self._previous_handler = loop.get_exception_handler()
        self._handler = self._exception_handler  # one bound method, to install and to compare in detach()
        loop.set_exception_handler(self._handler)
        HUB.attach(sink)
        self.attached = True

    def detach(self, sink: Sink, *, keep_late_handler: bool = False, clean: bool = False) -> None:
        """Stop watching and restore everything attach() changed (see ``LeakTracker.detach``).

        *clean*: the tracker has just found nothing recorded (its quick verdict): nothing to clear.
        """
        if not self.attached:
            return
        self.attached = False
        loop = self.loop
        registries = self.registries
        registries.stop()
        marked = False  # the loop keeps a LateHandler naming this code (and so tells the hub it is done)
        if loop.get_exception_handler() is self._handler:
            marked = keep_late_handler
            loop.set_exception_handler(LateHandler(self.name, self._previous_handler) if marked
                                       else self._previous_handler)
        self._handler = None
        HUB.detach(sink, marked=marked)
        if clean:  # nothing of the test is kept (the tracker may be reused by the next test)
            self.threads_before = _NO_THREADS
            self._log_state = ()
            self._previous_handler = None
        else:
            if not registries.empty():
                registries.clear()
            if self.events or self._covered:
                self.events.clear()
                self._covered.clear()
        if self.baseline:
            self.baseline = _NO_TASKS
        self.roots.clear()

    def add_root(self, obj: object, name: str) -> None:
        """Scan *obj*'s attributes (two levels) at check time, e.g. the test case as ``"self"``."""
        self.roots.append((obj, name))

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
        self.registries.resources[id(obj)] = _Entry(obj, RESOURCES, _describe.call_sites(), "track_resource",
                                                    known)
        return obj

    def on_created(self, obj: object, rtype: ResourceType, sites: _describe.Sites) -> None:
        """A registered resource type was instantiated while this tracker is current (from the hub)."""
        self.registries.resources.setdefault(id(obj), _Entry(obj, RESOURCES, sites, "", rtype))

    # -- events ---------------------------------------------------------------------------------------------
    def _event(self, key: DedupKey, leak: Leak) -> None:
        if key.source is OBJECT and key.ident in self._covered:
            return
        self.events.setdefault(key, leak)

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
            self._event(DedupKey(EXCEPTION, id(future)), leak)
        elif isinstance(future, asyncio.Task) and message.startswith("Task was destroyed but it is pending"):
            leak = _describe.task_leak(future)
            leak.summary = f"{_describe.describe_future(future)} was destroyed while still pending " \
                           f"(nothing kept a reference to it)"
            self._event(DedupKey(TASK, id(future)), leak)
        elif session is not None:
            self._event(DedupKey(OBJECT, id(session)), self.resource_leak(session, message, dropped=True))
        else:
            handle = context.get("handle")
            # strict mode records timers
            record = self.registries.timers.get(id(handle)) if handle is not None else None
            scheduled = record[1] if record is not None and record[0]() is handle else None
            self._event(DedupKey(ERROR, len(self.events)), _describe.loop_error_leak(context, scheduled))

    def on_warning(self, text: str, category: type[Warning], source: object, *, unsure: bool = False) -> None:
        """A leak warning routed to this tracker by the hooks (see ``_hooks``).

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
            self._event(DedupKey(OBJECT, id(source)) if source is not None else DedupKey(COROUTINE, first), leak)
            return
        entry = self.registries.entry_of(source) if source is not None else None
        if entry is None and ("<StreamWriter" in first or first.startswith("unclosed transport")):
            entry = self.registries.transport_in(first)
        target = (entry.ref() if entry is not None else None) or source  # weakref cleared by the collector
        created = _describe.created_lines(entry.sites, entry.via) if entry is not None else []
        if entry is not None and entry.kind == TRANSPORTS:
            what = _describe.describe_transport(target)
            text = (f"{what} left open: its StreamWriter was garbage-collected without close()"
                    if "<StreamWriter" in first else f"{what} was garbage-collected without close()")
            leak = Leak(TRANSPORTS, text, created)
        elif entry is not None and entry.kind == SUBPROCESSES:
            leak = Leak(SUBPROCESSES, f"the transport of {_describe.describe_process(target, entry.extra)} was "
                                        f"garbage-collected without close()", created)
        elif entry is not None and entry.kind == SERVERS:
            leak = Leak(SERVERS, "server was garbage-collected without close()", created)
        elif entry is not None or resource_type_of(source) is not None:
            leak = self.resource_leak(source, first, dropped=True, entry=entry)
        else:
            # Not an error of the loop: a warning with no object this test is known to own (the garbage
            # collector may have found it long after its test), so a note only, whatever the policy says.
            self._event(DedupKey(ERROR, len(self.events)), Leak(ERRORS, f"{category.__name__}: {first}", [],
                                                         (category.__name__,), note_only=True))
            return
        self._event(DedupKey(OBJECT, id(target)), leak)

    def on_error(self, summary: str, details: list[str]) -> None:
        """An exception raised in a finalizer (``sys.unraisablehook``): a note, never a failure, because the
        finalizer may run long after the test that dropped the object (the default hook still prints it)."""
        self._event(DedupKey(ERROR, len(self.events)), Leak(ERRORS, summary, details, ("unraisable",), note_only=True))

    def resource_leak(self, obj: Any, signal: str = "", *, dropped: bool = False, where: str = "",
                      entry: _Entry | None = None) -> Leak:
        """The leak of a resource *obj*: still open (*where* it is kept) or, *dropped*, finalized while open."""
        entry = entry or self.registries.resources.get(id(obj))
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
        return Leak(RESOURCES, f"{text} {state}", details, names)


def _default_is_open(obj: Any) -> Callable[[Any], bool]:
    if hasattr(obj, "closed"):
        return lambda o: not o.closed
    if callable(getattr(obj, "is_closing", None)):
        return lambda o: not o.is_closing()
    raise TypeError(f"cannot tell whether {type(obj).__qualname__} is open: pass is_open=, e.g. "
                    f"track_resource(obj, is_open=lambda o: not o.closed), or register_resource_type() it")
