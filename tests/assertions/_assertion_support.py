"""Helpers shared by the assertion tests (no ``test`` prefix: not collected by itself).

Every assertion is tested on both clocks: a test mixin holds the tests, and two concrete classes run them on
``AsyncTestCase`` (virtual time, ``D = 1.0`` s) and on a plain ``IsolatedAsyncioTestCase`` with the mixin
(real time, ``D = 0.02`` s; tolerances generous, no timing assert that could flake).
"""

from __future__ import annotations

import asyncio
import inspect
import unittest
from typing import Any

from asynctestkit import AsyncAssertionsMixin, AsyncTestCase


class Support:
    """Mixed into test classes; ``self`` is a test case with the assertions."""

    D: float        # set by Virtual / Real, which come after the test mixin in the bases
    virtual: bool

    def other_tasks(self) -> list[asyncio.Task[Any]]:
        me = asyncio.current_task()
        return [t for t in asyncio.all_tasks() if t is not me and not t.done()]

    def assertNoOtherTasks(self) -> None:
        self.assertEqual(self.other_tasks(), [], "an assertion left a task running")  # type: ignore[attr-defined]


class Virtual(AsyncTestCase):
    """Base for the virtual-clock copies of the tests."""

    D = 1.0
    virtual = True


class Real(AsyncAssertionsMixin, unittest.IsolatedAsyncioTestCase):
    """Base for the real-clock copies: a plain IsolatedAsyncioTestCase with the mixin."""

    D = 0.02
    virtual = False
    cancel_grace = 0.5


def is_closed(coro: Any) -> bool:
    """True when a coroutine was closed (or never needs closing)."""
    return inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


async def sleeper(seconds: float, value: Any = None, log: list[str] | None = None) -> Any:
    """Sleep, then return *value*; record 'cleanup' in *log* however it ends."""
    try:
        await asyncio.sleep(seconds)
        return value
    finally:
        if log is not None:
            log.append("cleanup")


def line_of(function: Any, source: str) -> int:
    """The line number of the first line of *function* that contains *source* (no line number written twice)."""
    lines, first = inspect.getsourcelines(function)
    for offset, text in enumerate(lines):
        if source in text:
            return first + offset
    raise LookupError(f"{source!r} is not in {function.__qualname__}")
