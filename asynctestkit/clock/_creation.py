"""The loop's creation methods and their hooks: the contract between asynctestkit's loops and the leak checker.

The leak checker records what the code under test opens (transports, servers, subprocesses, executor jobs)
by wrapping the loop methods that create them.  This module is the one place that says which methods those
are (:data:`HOOKED_METHODS`, grouped by what they create) and how a wrapper is put around one of them on
asynctestkit's own loops (:class:`CreationHooks`); the loop module hands out the hooks of a loop
(``_loop.creation_hooks(loop)``, None for any other loop) and the leak checker uses nothing else of the loop.

Why hooks and not instance attributes: setting ``loop.create_connection = wrapper`` on the instance would push
the loop past the 30 attributes CPython (3.11+) keeps in its fast inline layout (``SelectorEventLoop`` already
has 26), and every attribute read in ``_run_once`` would then go through a dict: +7% instructions on a
timer-heavy test, measured.  asynctestkit's loops therefore define each hooked method once, on the class, as
a dispatcher to the innermost wrapper (or the loop's own implementation when none is installed).  Other
loops get instance attributes (the leak checker's fallback).  ``call_at`` (wrapped in strict mode only) is not
hooked: dispatching it would cost every timer a Python call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["EXECUTOR_METHODS", "HOOKED_METHODS", "PROCESS_METHODS", "SERVER_METHODS", "TRANSPORT_METHODS",
           "CreationHooks"]

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

Wrapper = Callable[..., Any]


class CreationHooks:
    """The wrappers around one loop's hooked methods, innermost last, and what a call reaches now.

    *wrappers* is the loop's own table (kept in its state object); *implementation* gives, for a method
    name, the loop's own implementation bound to the loop (what a call reaches with no wrapper installed).
    A view, made on demand: it is not stored on the loop, so it adds no attribute and no reference cycle.
    """

    __slots__ = ("_implementation", "_wrappers")

    def __init__(self, wrappers: dict[str, list[Wrapper]], implementation: Callable[[str], Wrapper]) -> None:
        self._wrappers = wrappers
        self._implementation = implementation

    def wrap(self, name: str, wrapper: Wrapper) -> None:
        """Route calls of ``loop.<name>`` through *wrapper*, inside any wrapper installed before."""
        if name not in HOOKED_METHODS:
            raise ValueError(f"{name!r} is not a hooked loop method; those are {', '.join(HOOKED_METHODS)}")
        self._wrappers.setdefault(name, []).append(wrapper)

    def unwrap(self, name: str, wrapper: Wrapper) -> None:
        """Take *wrapper* out again (the others stay, in their order); nothing if it is not installed."""
        stack = self._wrappers.get(name, [])
        if wrapper in stack:
            stack.remove(wrapper)

    def current(self, name: str) -> Wrapper:
        """What a call of ``loop.<name>`` reaches now: the innermost wrapper, else the loop's implementation."""
        stack = self._wrappers.get(name)
        if stack:
            return stack[-1]
        return self._implementation(name)
