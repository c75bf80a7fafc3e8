"""Opt-in virtual ``time.monotonic()`` / ``time.time()`` for the modules a test names (``clock.patch_time``).

asyncio reads the loop's clock, so sleeps and timeouts are virtual without any patching.  Code that reads
``time.monotonic()`` itself (a rate limiter, a retry budget) still sees real time; ``patch_time("myapp.retry")``
makes it see the virtual clock instead, for that module only:

- ``import time`` in the module: its ``time`` global becomes a stand-in module whose ``monotonic``,
  ``perf_counter``, ``time`` (and the ``_ns`` variants) answer from the clock; every other attribute is the
  real ``time`` module's;
- ``from time import monotonic`` (or ``time``, ``perf_counter``, ``*_ns``): those globals are replaced.

The rest of the process (threads, libraries, asyncio itself) keeps the real clock.  Everything is restored
when the test's loop closes.  ``datetime.now()`` is not covered.
"""

from __future__ import annotations

import importlib
import time as _time
import types
from collections.abc import Callable
from typing import Any

__all__ = ["TimePatches", "VirtualTimeModule"]


class VirtualTimeModule(types.ModuleType):
    """Stands in for the ``time`` module inside patched modules: the clock functions answer virtually."""

    def __init__(self, monotonic: Callable[[], float], wall: Callable[[], float]) -> None:
        super().__init__("time", "The time module, with monotonic(), perf_counter() and time() on the "
                                 "asynctestkit virtual clock.")
        self.monotonic = monotonic
        self.perf_counter = monotonic
        self.time = wall

    def __getattr__(self, name: str) -> Any:
        return getattr(_time, name)

    def monotonic_ns(self) -> int:
        return int(self.monotonic() * 1e9)

    def perf_counter_ns(self) -> int:
        return int(self.monotonic() * 1e9)

    def time_ns(self) -> int:
        return int(self.time() * 1e9)


class TimePatches:
    """The set of module attributes one clock replaced, so they can be put back exactly."""

    def __init__(self, monotonic: Callable[[], float], wall: Callable[[], float]) -> None:
        self._fake = VirtualTimeModule(monotonic, wall)
        self._replacements: list[tuple[Callable[..., Any], Callable[..., Any]]] = [
            (_time.monotonic, monotonic), (_time.perf_counter, monotonic), (_time.time, wall),
            (_time.monotonic_ns, self._fake.monotonic_ns), (_time.perf_counter_ns, self._fake.perf_counter_ns),
            (_time.time_ns, self._fake.time_ns),
        ]
        self._saved: list[tuple[types.ModuleType, str, Any]] = []

    def __len__(self) -> int:
        return len(self._saved)

    def patch(self, names: tuple[object, ...]) -> None:
        """Patch every module in *names*; on a bad name nothing at all is patched."""
        if not names:
            raise TypeError("patch_time() needs at least one module name, e.g. patch_time('myapp.retry')")
        plans: list[tuple[types.ModuleType, list[tuple[str, Any, Any]]]] = []
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"patch_time() takes module names (str), got {type(name).__name__}: {name!r}")
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                raise ModuleNotFoundError(f"patch_time({name!r}): {exc}", name=exc.name) from exc
            plan, already = self._plan(module)
            if not plan and not already:
                raise ValueError(f"patch_time({name!r}): the module uses neither the time module nor "
                                 f"time.monotonic/time.time/time.perf_counter, so there is nothing to patch")
            plans.append((module, plan))
        for module, plan in plans:
            for attr, original, replacement in plan:
                self._saved.append((module, attr, original))
                setattr(module, attr, replacement)

    def _plan(self, module: types.ModuleType) -> tuple[list[tuple[str, Any, Any]], bool]:
        plan: list[tuple[str, Any, Any]] = []
        already = False
        ours = [new for _old, new in self._replacements]
        for attr, value in list(vars(module).items()):
            if value is _time:
                plan.append((attr, value, self._fake))
            elif value is self._fake or any(value is new for new in ours):
                already = True  # patched by an earlier call of this clock
            elif callable(value):
                for old, new in self._replacements:
                    if value is old:  # identity, not ==: a module may hold unhashable callables
                        plan.append((attr, value, new))
                        break
        return plan, already

    def restore(self, keep: int = 0) -> None:
        """Undo the patches, newest first, down to the first *keep* ones."""
        while len(self._saved) > keep:
            module, attr, value = self._saved.pop()
            setattr(module, attr, value)
