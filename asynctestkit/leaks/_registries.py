"""The leak checker's registries of what the code under test opens on its loop, and how they are filled.

:class:`LoopRegistries` wraps the loop's public creation methods (undone at detach) so that every
transport, server, subprocess and executor job is recorded with the line that created it:

- ``create_connection``, ``create_unix_connection``, ``connect_accepted_socket``,
  ``create_datagram_endpoint``, ``connect_read_pipe``, ``connect_write_pipe`` and ``start_tls`` (which also
  cover ``open_connection``, ``StreamWriter.start_tls`` and friends) record transports;
- ``create_server`` and ``create_unix_server`` record servers, and wrap the protocol factory so that each
  accepted connection's transport is recorded too;
- ``subprocess_exec`` and ``subprocess_shell`` (so ``create_subprocess_*``) record subprocess transports;
- ``run_in_executor`` (so ``to_thread``) records jobs until they finish; strict mode also wraps ``call_at``.

Transports, servers and subprocesses are held strongly until the check: one the test dropped unclosed is
then reported exactly (attributed, with its creation line) rather than by a finalizer warning later.

Which methods, and how they are wrapped, is the loop's contract with the leak checker
(``clock/_creation.py``): on asynctestkit's own loops the wrappers go through the loop's
:class:`~asynctestkit.clock._creation.CreationHooks`, so the loop itself is not changed.  On other loops the
wrappers are instance attributes shadowing the class's methods (slower: see ``_creation``).  A loop that
refuses instance attributes (uvloop) is checked through tasks and events only.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any

from ..clock._creation import (
    EXECUTOR_METHODS,
    PROCESS_METHODS,
    SERVER_METHODS,
    TRANSPORT_METHODS,
    CreationHooks,
)
from ..clock._loop import creation_hooks
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


_HOOKED = object()  # in LoopRegistries._wrapped: the wrapper went through the loop's CreationHooks


def _process_running(transport: Any) -> bool:
    return transport.get_returncode() is None


class LoopRegistries:
    """What one tracked loop has opened so far (filled by the wrapped loop methods), owned by a LeakTracker.

    *policy* is the tracker's (timers are recorded only when their kind is checked).  The registries are
    filled between :meth:`wrap_loop_methods` and :meth:`unwrap_loop_methods` (``active`` meanwhile).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, policy: dict[str, str]) -> None:
        self.loop = loop
        self.policy = policy
        self.active = False
        self.transports: dict[int, _Entry] = {}
        self.servers: dict[int, _Entry] = {}
        self.processes: dict[int, _Entry] = {}
        self.resources: dict[int, _Entry] = {}
        self.jobs: dict[int, tuple[asyncio.Future[Any], _describe.Sites, str, bool]] = {}
        self.timers: dict[int, tuple[Callable[[], Any], _describe.Sites]] = {}
        self._wrapped: dict[str, tuple[Callable[..., Any], Any]] = {}  # name -> (wrapper, attribute it shadows)

    def clear(self) -> None:
        for registry in (self.transports, self.servers, self.processes, self.resources, self.jobs, self.timers):
            registry.clear()

    def unwrap_loop_methods(self) -> None:
        self.active = False
        loop = self.loop
        hooks = creation_hooks(loop)
        attrs = getattr(loop, "__dict__", {})
        for name, (wrapper, previous) in self._wrapped.items():
            if hooks is not None and previous is _HOOKED:
                hooks.unwrap(name, wrapper)
            elif attrs.get(name) is wrapper:  # still ours: put back what was there (another tracker's)
                if previous is None:
                    delattr(loop, name)
                else:
                    setattr(loop, name, previous)
        self._wrapped.clear()

    def wrap_loop_methods(self) -> None:
        self.active = True
        hooks = creation_hooks(self.loop)
        for name in TRANSPORT_METHODS + SERVER_METHODS + PROCESS_METHODS:
            original = getattr(self.loop, name, None)
            if original is not None and \
                    not self._install(hooks, name, self._wrap_async(name, self._current(hooks, name))):
                return  # the loop refuses instance attributes (uvloop): tasks and events still work
        for name in EXECUTOR_METHODS:
            self._install(hooks, name, self._wrap_executor(self._current(hooks, name)))
        if self.policy[TIMERS] != OFF:  # not a hooked method (see _creation): an instance attribute
            self._install(None, "call_at", self._wrap_call_at(self._current(None, "call_at")))

    def _current(self, hooks: CreationHooks | None, name: str) -> Callable[..., Any]:
        """What a call of ``loop.<name>`` reaches now, before this tracker wraps it."""
        if hooks is not None and name != "call_at":
            return hooks.current(name)
        return getattr(self.loop, name)  # type: ignore[no-any-return]

    def _install(self, hooks: CreationHooks | None, name: str, wrapper: Callable[..., Any]) -> bool:
        if hooks is not None and name != "call_at":
            hooks.wrap(name, wrapper)
            self._wrapped[name] = (wrapper, _HOOKED)
            return True
        previous = getattr(self.loop, "__dict__", {}).get(name)
        try:
            setattr(self.loop, name, wrapper)
        except (AttributeError, TypeError):
            return False
        self._wrapped[name] = (wrapper, previous)
        return True

    def _wrap_async(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        record = self._record
        qualname = getattr(original, "__qualname__", name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            sites = _describe.call_sites()
            if name in SERVER_METHODS:
                args, kwargs = self._wrap_protocol_factory(name, args, kwargs, sites)

            async def call() -> Any:
                result = await original(*args, **kwargs)
                record(name, result, sites, args)
                return result

            call.__qualname__ = qualname  # an un-awaited call is named as it would be without us
            return call()

        return wrapper

    def _record(self, name: str, result: Any, sites: _describe.Sites, args: tuple[Any, ...]) -> None:
        # Strong references: an unclosed server or connection dropped by the test stays alive until the
        # check, which reports it by enumeration (exact, attributed) instead of a finalizer warning later.
        if name in PROCESS_METHODS:
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

    def _wrap_protocol_factory(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
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

    def _wrap_executor(self, original: Callable[..., asyncio.Future[Any]]) -> Callable[..., Any]:
        jobs = self.jobs

        def run_in_executor(executor: Any, func: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
            sites = _describe.call_sites()
            future = original(executor, func, *args)
            key = id(future)
            jobs[key] = (future, sites, _describe.callable_name(func), executor is None)
            future.add_done_callback(lambda _f: jobs.pop(key, None))
            return future

        return run_in_executor

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
