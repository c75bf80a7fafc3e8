"""Helpers shared by the virtual-clock tests in this package (and test_diagnostics one level up).

Not a test module (the name does not start with ``test``): unittest discovery does not collect it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import threading
import time
import unittest
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

from asynctestkit import VirtualClockLoop

_T = TypeVar("_T")

#: Real seconds an "instant" virtual sleep may take in an assertion (CONVENTIONS: "instant" means < 0.5 s).  A
#: virtual hour takes a few milliseconds on a quiet machine; 50 ms was missed with two CPU hogs on a 2-core box
#: (0.09-0.24 s), so the bound proves "no real wait" (the sleeps asserted are 1 s to an hour), not speed: speed
#: is measured in tests/benchmarks.
INSTANT = 0.5

#: Upper bound on the real time of a hang report ("fails fast instead of hanging").
HANG_BOUND = 5.0

def site_pattern(module_file: str, function: str, source: str) -> str:
    """A regex for ``<file>:<line> in <function>: <source>`` as diagnostics.format_site renders it.

    The path is ``tests/clock/test_hangs.py`` when the tests run from the repository root (relative to the current
    directory), absolute otherwise: only the file name is pinned.
    """
    name = re.escape(os.path.basename(module_file))
    return rf"(?<![\w.])(?:\S*[/\\])?{name}:\d+ in {re.escape(function)}: {re.escape(source)}"


def run_tests(case: type[unittest.TestCase], *names: str) -> unittest.TestResult:
    """Run the named tests of an inner test case class, one after the other, into one fresh TestResult."""
    result = unittest.TestResult()
    for name in names:
        case(name).run(result)
    return result


def problems(result: unittest.TestResult) -> list[tuple[str, str]]:
    """``(test method name, traceback text)`` for every failure and error of *result*."""
    return [(getattr(test, "_testMethodName", str(test)), text) for test, text in result.failures + result.errors]


def failure_of(testcase: unittest.TestCase, result: unittest.TestResult, name: str) -> str:
    """The single failure text of test *name*; fails *testcase* if there is not exactly one."""
    texts = [text for test, text in result.failures if getattr(test, "_testMethodName", None) == name]
    testcase.assertEqual(len(texts), 1, f"expected one failure of {name}, got {problems(result)}")
    return texts[0]


def error_message(text: str) -> str:
    """The exception part of a traceback text: from the last ``...Error:`` line to the end."""
    lines = text.splitlines()
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith(("asynctestkit.", "AssertionError", "TimeoutError")) and ":" in lines[index]:
            return "\n".join(lines[index:])
    return text


def run_on_virtual_loop(main: Callable[[], Coroutine[Any, Any, _T]], **options: Any) -> _T:
    """Run ``main()`` on a fresh VirtualClockLoop without unittest: Runner on 3.11+, run_until_complete on 3.10."""
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=lambda: VirtualClockLoop(**options)) as runner:
            return runner.run(main())
    loop = VirtualClockLoop(**options)
    try:
        return loop.run_until_complete(main())
    finally:
        try:
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


@contextlib.contextmanager
def real_timer() -> Iterator[list[float]]:
    """``with real_timer() as took: ...`` then ``took[0]`` is the real seconds the block ran."""
    took: list[float] = []
    start = time.perf_counter()
    try:
        yield took
    finally:
        took.append(time.perf_counter() - start)


def wait_threads_gone(threads: set[threading.Thread], timeout: float = 5.0) -> list[threading.Thread]:
    """Threads not in *threads* (a snapshot) still alive after up to *timeout* real seconds."""
    deadline = time.monotonic() + timeout
    while True:
        extra = [t for t in threading.enumerate() if t not in threads and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.01)
