"""The leak checker's registries of what the code under test opens on its loop, and how they are filled.

:class:`LoopRegistries` is the loop's creation recorder (``clock/_creation.py``): from
:meth:`~LoopRegistries.start` to :meth:`~LoopRegistries.stop` it receives every transport, server,
subprocess and executor job the loop's public creation methods make, with the line that made it:

- ``create_connection``, ``create_unix_connection``, ``connect_accepted_socket``,
  ``create_datagram_endpoint``, ``connect_read_pipe``, ``connect_write_pipe`` and ``start_tls`` (which also
  cover ``open_connection``, ``StreamWriter.start_tls`` and friends) record transports;
- ``create_server`` and ``create_unix_server`` record servers, and wrap the protocol factory so that each
  accepted connection's transport is recorded too;
- ``subprocess_exec`` and ``subprocess_shell`` (so ``create_subprocess_*``) record subprocess transports;
- ``run_in_executor`` (so ``to_thread``) records jobs until they finish; strict mode also wraps ``call_at``.

Transports, servers and subprocesses are held strongly until the check: one the test dropped unclosed is
then reported exactly (attributed, with its creation line) rather than by a finalizer warning later.

On asynctestkit's own loops, starting is putting the registries in the loop's recorder slot (one tuple
stored; nothing is built or installed per test).  On other loops the creation methods are shadowed by
instance attributes that hand each call to the same recorder (slower: see ``clock/_creation.py``).  A loop
that refuses instance attributes (uvloop) is checked through tasks and events only.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable
from typing import Any

from ..clock._creation import (
    EXECUTOR_METHODS,
    HOOKED_METHODS,
    PROCESS_METHODS,
    SERVER_METHODS,
    recorded_call,
)
from ..clock._loop import add_creation_recorder, remove_creation_recorder
from . import _describe
from ._kinds import OFF, SERVERS, SUBPROCESSES, TIMERS, TRANSPORTS

__all__ = ["LoopRegistries"]


class _Entry:
    """A registry record: the object (weakly when possible), its leak kind, where it was created, how.

    ``extra`` is the argv of a subprocess and the :class:`ResourceType` of a resource.
    """

    __slots__ = ("extra", "kind", "ref", "sites", "via")

    def __init__(self, obj: object, kind: str, sites: _describe.Sites | None, via: str = "",
                 extra: Any = None, *, strong: bool = False) -> None:
        try:
            self.ref: Callable[[], Any] = (lambda: obj) if strong else weakref.ref(obj)
        except TypeError:
            self.ref = lambda: obj
        self.kind, self.sites, self.via, self.extra = kind, sites, via, extra


def _keep(registry: dict[int, _Entry], obj: object, entry: _Entry, is_open: Callable[[Any], bool]) -> None:
    """Add *entry*; past 256 entries, drop those whose object is closed (a test opening thousands of
    connections keeps only the open ones alive until the check).
    """
    if len(registry) >= 256:
        for key, old in list(registry.items()):
            target = old.ref()
            if target is None or not is_open(target):
                del registry[key]
    registry[id(obj)] = entry


def _process_running(transport: Any) -> bool:
    return transport.get_returncode() is None


class LoopRegistries:
    """What one tracked loop has opened so far (filled between :meth:`start` and :meth:`stop`), owned by a
    LeakTracker; the loop's :class:`~asynctestkit.clock._creation.CreationRecorder`.

    *policy* is the tracker's (timers are recorded only when their kind is checked); ``active`` between
    start and stop.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, policy: dict[str, str]) -> None:
        self.loop = loop
        self.policy = policy
        self.active = False
        self.in_slot = False  # started through the loop's recorder slot (asynctestkit's loops)
        self.transports: dict[int, _Entry] = {}
        self.servers: dict[int, _Entry] = {}
        self.processes: dict[int, _Entry] = {}
        self.resources: dict[int, _Entry] = {}
        self.jobs: dict[int, tuple[asyncio.Future[Any], _describe.Sites, str, bool]] = {}
        self.timers: dict[int, tuple[Callable[[], Any], _describe.Sites]] = {}
        #: Instance attributes this tracker set on the loop: name -> (what it set, the attribute it shadows).
        self._shadowed: dict[str, tuple[Callable[..., Any], Any]] | None = None

    def empty(self) -> bool:
        """True when nothing was recorded (the common case: the check has nothing to look at here)."""
        return not (self.transports or self.servers or self.processes or self.resources or self.jobs
                    or self.timers)

    def clear(self) -> None:
        for registry in (self.transports, self.servers, self.processes, self.resources, self.jobs, self.timers):
            registry.clear()

    # -- start / stop ---------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start receiving what the loop creates."""
        self.active = True
        loop = self.loop
        self.in_slot = add_creation_recorder(loop, self)
        if not self.in_slot:
            for name in HOOKED_METHODS:
                original = getattr(loop, name, None)
                if original is not None and \
                        not self._shadow(name, functools.partial(recorded_call, name, original, (self,))):
                    return  # the loop refuses instance attributes (uvloop): tasks and events still work
        if self.policy[TIMERS] != OFF:  # not a hooked method (see clock/_creation): an instance attribute
            self._shadow("call_at", self._wrap_call_at(loop.call_at))

    def stop(self) -> None:
        """Stop receiving, and put back every attribute :meth:`start` set on the loop."""
        self.active = False
        loop = self.loop
        if self.in_slot:
            self.in_slot = False
            remove_creation_recorder(loop, self)
        shadowed, self._shadowed = self._shadowed, None
        if shadowed:
            attrs = getattr(loop, "__dict__", {})
            for name, (wrapper, previous) in shadowed.items():
                if attrs.get(name) is wrapper:  # still ours: put back what was there (another tracker's)
                    if previous is None:
                        delattr(loop, name)
                    else:
                        setattr(loop, name, previous)

    def _shadow(self, name: str, wrapper: Callable[..., Any]) -> bool:
        previous = getattr(self.loop, "__dict__", {}).get(name)
        try:
            setattr(self.loop, name, wrapper)
        except (AttributeError, TypeError):
            return False
        if self._shadowed is None:
            self._shadowed = {}
        self._shadowed[name] = (wrapper, previous)
        return True

    # -- the recorder (see clock/_creation.CreationRecorder) -------------------------------------------------
    def created(self, name: str, result: Any, sites: _describe.Sites, args: tuple[Any, ...]) -> None:
        """Record what ``loop.<name>(*args)`` made."""
        # Strong references: an unclosed server or connection dropped by the test stays alive until the
        # check, which reports it by enumeration (exact, attributed) instead of a finalizer warning later.
        if name in EXECUTOR_METHODS:
            self._job(result, sites, args)
        elif name in PROCESS_METHODS:
            argv = list(args[1:]) if name == "subprocess_exec" else list(args[1:2])
            _keep(self.processes, result[0], _Entry(result[0], SUBPROCESSES, sites, f"loop.{name}", argv,
                                                     strong=True), _process_running)
        elif name in SERVER_METHODS:
            _keep(self.servers, result, _Entry(result, SERVERS, sites, f"loop.{name}", strong=True),
                  _describe.server_open)
        else:
            transport = result if name == "start_tls" else result[0]
            if name == "start_tls" and args:  # the TLS transport replaces the plain one it wraps
                plain = self.transports.pop(id(args[0]), None)
                sites = plain.sites if plain is not None and plain.sites else sites
            _keep(self.transports, transport, _Entry(transport, TRANSPORTS, sites, f"loop.{name}", strong=True),
                  _describe.transport_open)

    def _job(self, future: asyncio.Future[Any], sites: _describe.Sites, args: tuple[Any, ...]) -> None:
        jobs = self.jobs
        key = id(future)
        executor, func = (*args, None, None)[:2]
        jobs[key] = (future, sites, _describe.callable_name(func), executor is None)
        future.add_done_callback(lambda _f: jobs.pop(key, None))

    def accepting(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                  sites: _describe.Sites) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Record the transports of accepted connections (server side), created inside asyncio."""
        factory = args[0] if args else kwargs.get("protocol_factory")
        if factory is None:
            return args, kwargs
        tracker = weakref.ref(self)

        def accepted() -> Any:
            protocol = factory()
            made = protocol.connection_made

            def connection_made(transport: Any) -> Any:
                try:
                    del protocol.connection_made  # back to the class's method
                except AttributeError:
                    pass
                owner = tracker()
                if owner is not None and owner.active:
                    _keep(owner.transports, transport, _Entry(transport, TRANSPORTS, sites,
                                                               f"a connection accepted by loop.{name}", strong=True),
                          _describe.transport_open)
                return made(transport)

            try:
                protocol.connection_made = connection_made
            except (AttributeError, TypeError):  # a protocol with __slots__: accepted side not tracked
                pass
            return protocol

        if args:
            return (accepted, *args[1:]), kwargs
        return args, {**kwargs, "protocol_factory": accepted}

    def _wrap_call_at(self, original: Callable[..., asyncio.TimerHandle]) -> Callable[..., Any]:
        timers = self.timers

        def call_at(when: float, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
            handle = original(when, callback, *args, **kwargs)
            if not _describe.is_internal_callback(callback):
                timers[id(handle)] = (weakref.ref(handle), _describe.call_sites())
            return handle

        return call_at

    def owns(self, obj: object) -> bool:
        """True when *obj* is in one of this tracker's registries (for routing late signals)."""
        return self.entry_of(obj) is not None

    def entry_of(self, obj: object) -> _Entry | None:
        """The record of *obj* in one of the registries, if it is there."""
        for registry in (self.transports, self.servers, self.processes, self.resources):
            entry = registry.get(id(obj))
            if entry is not None:
                target = entry.ref()
                if target is obj or target is None:
                    return entry
        return None

    def transport_in(self, text: str) -> _Entry | None:
        """The registered transport whose repr appears in a warning (a StreamWriter's names its transport)."""
        for entry in self.transports.values():
            transport = entry.ref()
            if transport is not None and repr(transport) in text:
                return entry
        return None
