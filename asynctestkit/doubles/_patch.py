"""Routing ``asyncio.open_connection`` and ``asyncio.start_server`` to a :class:`MemoryNetwork` for a block.

For code that calls asyncio's functions directly and cannot be given the network's.  The module attributes
``asyncio.open_connection``/``asyncio.start_server`` (and the same names in ``asyncio.streams``, where
they are defined) are replaced while the block runs and put back on exit, whatever happens in the block.

One scope at a time, process-wide: entering a second while one is active raises ``RuntimeError`` naming
where the first was entered (two networks cannot both own ``asyncio.open_connection``), and so does entering
the same scope twice.  A scope still active when the test ends is a leak (``track_resource``): the check
reports where it was entered and restores asyncio.
"""

from __future__ import annotations

import asyncio
import asyncio.streams
import types
from typing import TYPE_CHECKING, Any

from .. import _diagnostics
from .._diagnostics import Site
from ..leaks import track_resource

if TYPE_CHECKING:
    from ._network import MemoryNetwork

__all__ = ["AsyncioPatch"]

_NAMES = ("open_connection", "start_server")
_MODULES = (asyncio, asyncio.streams)
_active: AsyncioPatch | None = None


class AsyncioPatch:
    """``with net.patch_asyncio():``: ``asyncio.open_connection``/``start_server`` go to *net* inside."""

    def __init__(self, network: MemoryNetwork) -> None:
        self._network = network
        self._saved: list[tuple[types.ModuleType, str, Any]] = []
        self._entered: Site | None = None
        self._done = False

    def __repr__(self) -> str:
        state = "active" if self.active else "exited" if self._done else "not entered"
        return f"<asyncio routed to {self._network!r}: {state}>"

    @property
    def active(self) -> bool:
        """True between ``__enter__`` and ``__exit__``."""
        return self._entered is not None and not self._done

    def describe(self) -> str:
        return (f"patch_asyncio() scope routing asyncio.open_connection/start_server to a MemoryNetwork "
                f"(entered at {_diagnostics.format_site(self._entered)}, never exited)")

    def __enter__(self) -> MemoryNetwork:
        global _active
        if self._entered is not None:
            raise RuntimeError(f"this patch_asyncio() was already entered at "
                               f"{_diagnostics.format_site(self._entered)}; call net.patch_asyncio() again for a "
                               f"new scope")
        if _active is not None:
            raise RuntimeError(f"asyncio.open_connection is already routed to a MemoryNetwork by patch_asyncio() "
                               f"entered at {_diagnostics.format_site(_active._entered)}; exit that block first "
                               f"(one network routes asyncio at a time)")
        self._entered = _diagnostics.caller_site()
        network = self._network

        async def open_connection(host: Any = None, port: Any = None, **kwargs: Any
                                  ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await network.open_connection(host, port, **kwargs)

        async def start_server(client_connected_cb: Any, host: Any = None, port: Any = None,
                               **kwargs: Any) -> Any:
            return await network.start_server(client_connected_cb, host, port, **kwargs)

        replacements = {"open_connection": open_connection, "start_server": start_server}
        for module in _MODULES:
            for name in _NAMES:
                self._saved.append((module, name, getattr(module, name)))
                setattr(module, name, replacements[name])
        _active = self
        track_resource(self, is_open=_is_active, close=_exit, describe=AsyncioPatch.describe)
        return network

    def __exit__(self, *exc_info: object) -> None:
        self.restore()

    def restore(self) -> None:
        """Put asyncio's functions back (what ``__exit__`` does; nothing if not active)."""
        global _active
        if not self.active:
            return
        self._done = True
        for module, name, value in reversed(self._saved):
            setattr(module, name, value)
        self._saved.clear()
        if _active is self:
            _active = None


def _is_active(patch: AsyncioPatch) -> bool:
    return patch.active


def _exit(patch: AsyncioPatch) -> None:
    patch.restore()
