"""Helpers for the timeline tests (not collected: the name does not start with ``test``)."""

from __future__ import annotations

import asyncio
import os
import unittest
from collections.abc import Callable, Coroutine
from typing import Any
from unittest import mock

from asynctestkit import VirtualClockLoop
from asynctestkit.trace import Trace, record_timeline


def run_traced(main: Callable[[], Coroutine[Any, Any, Any]], mode: str = "full", **loop_options: Any
               ) -> tuple[Trace, Any]:
    """Run ``main()`` on a fresh traced VirtualClockLoop; the trace and the result."""
    loop = VirtualClockLoop(**loop_options)
    try:
        trace = record_timeline(loop, mode)
        result = loop.run_until_complete(main())
        return trace, result
    finally:
        loop.close()


def run_case(case_class: type[unittest.TestCase], *names: str, env: str | None = None) -> unittest.TestResult:
    """Run the named tests of *case_class* into a fresh TestResult (``ASYNCTESTKIT_TRACE`` set to *env*)."""
    result = unittest.TestResult()
    patch = {"ASYNCTESTKIT_TRACE": env} if env is not None else {}
    with mock.patch.dict(os.environ, patch):
        if env is None:
            os.environ.pop("ASYNCTESTKIT_TRACE", None)
        for name in names:
            case_class(name).run(result)
    return result


def only_failure(test: unittest.TestCase, result: unittest.TestResult) -> str:
    """The text of the one failure *result* holds (fails *test* otherwise)."""
    problems = result.failures + result.errors
    test.assertEqual(len(problems), 1, "\n".join(text for _t, text in problems))
    return problems[0][1]


def timeline_block(text: str) -> list[str]:
    """The lines of the timeline block a report ends with (title first); [] if there is none."""
    lines = text.rstrip("\n").splitlines()
    for index, line in enumerate(lines):
        if line.startswith("timeline (asynctestkit.trace"):
            return lines[index:]
    return []


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)
