"""The loop's creation methods and the leak checker's recorder slot: the contract between asynctestkit's loops
and the leak checker.

The leak checker records what the code under test opens (transports, servers, subprocesses, executor jobs)
with the line that opened it.  This module is the one place that says which loop methods create those
(:data:`HOOKED_METHODS`, grouped by what they create), what the leak checker receives from them (a
:class:`CreationRecorder`) and how a call is handed to it (:func:`recorded_call`).

On asynctestkit's own loops nothing is installed per test.  Each loop has ONE recorder slot in its state
object (a tuple, empty unless a tracker is attached; ``_loop.add_creation_recorder`` and
``_loop.remove_creation_recorder`` fill and empty it), and its class defines each hooked method once as a
dispatcher: with the slot empty it returns what the loop's own implementation returns (one tuple test more
than the plain method); otherwise it hands the call to :func:`recorded_call`, which calls the implementation
and gives each recorder every object created, once.  Attaching a tracker is one tuple stored on the loop,
detaching it one tuple taken off: no wrapper, closure or bound method is built per test.

Other loops (``asyncio.SelectorEventLoop``, a ``loop_factory``'s) get instance attributes instead: the leak
checker shadows each method with ``functools.partial(recorded_call, name, original, recorders)``.  That is
the fallback, not the rule, for two measured reasons: building and installing twelve such attributes per
test cost ~190k instructions, and twelve more instance attributes would push the loop past the 30 that
CPython (3.11+) keeps in its fast inline layout (``SelectorEventLoop`` already has 26), after which every
attribute read in ``_run_once`` goes through a dict (+7% instructions on a timer-heavy test).  A loop that
refuses instance attributes (uvloop) is checked through tasks and events only.  ``call_at`` (recorded in
strict mode only) is not hooked: dispatching it would cost every timer a Python call, so strict mode
shadows it with an instance attribute on every loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .._diagnostics import Sites, call_sites

__all__ = ["EXECUTOR_METHODS", "HOOKED_METHODS", "PROCESS_METHODS", "SERVER_METHODS", "TRANSPORT_METHODS",
           "CreationRecorder", "recorded_call"]

#: Methods that return a transport (``open_connection``, ``StreamWriter.start_tls`` and friends use them).
TRANSPORT_METHODS = ("create_connection", "create_unix_connection", "connect_accepted_socket",
                     "create_datagram_endpoint", "connect_read_pipe", "connect_write_pipe", "start_tls")
#: Methods that return a server (each accepted connection's transport is created inside asyncio).
SERVER_METHODS = ("create_server", "create_unix_server")
#: Methods that start a subprocess (``asyncio.create_subprocess_*`` use them).
PROCESS_METHODS = ("subprocess_exec", "subprocess_shell")
#: Methods that start a job in a thread (``asyncio.to_thread`` and name resolution use it).
EXECUTOR_METHODS = ("run_in_executor",)
#: Every hooked method: the one list both sides use.
HOOKED_METHODS = TRANSPORT_METHODS + SERVER_METHODS + PROCESS_METHODS + EXECUTOR_METHODS


class CreationRecorder(Protocol):
    """What a hooked method's call is handed to (the leak checker's ``LoopRegistries`` implements it)."""

    def accepting(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                  sites: Sites) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """For a server method, before the call: the arguments to call it with (to see accepted connections)."""
        ...

    def created(self, name: str, result: Any, sites: Sites, args: tuple[Any, ...]) -> None:
        """What ``loop.<name>(*args)`` returned (awaited, for the coroutine methods), called from *sites*."""
        ...


def recorded_call(name: str, implementation: Callable[..., Any], recorders: Sequence[CreationRecorder],
                  /, *args: Any, **kwargs: Any) -> Any:
    """Call ``loop.<name>`` (*implementation*, bound) and hand what it creates to each of *recorders*.

    The call site is taken once, here (the walk skips asyncio's and asynctestkit's frames).
    ``run_in_executor`` is recorded when it returns its future; the coroutine methods return a coroutine
    that records the result once awaited, named as the method's own so an un-awaited call reads the same as
    without the leak checker.  The implementation runs when that coroutine is first awaited, as it would.
    """
    sites = call_sites()
    if name in EXECUTOR_METHODS:
        future = implementation(*args, **kwargs)
        for recorder in recorders:
            recorder.created(name, future, sites, args)
        return future
    if name in SERVER_METHODS:
        for recorder in recorders:
            args, kwargs = recorder.accepting(name, args, kwargs, sites)

    async def call() -> Any:
        result = await implementation(*args, **kwargs)
        for recorder in recorders:
            recorder.created(name, result, sites, args)
        return result

    call.__qualname__ = getattr(implementation, "__qualname__", name)
    return call()
