"""A failing suite for the golden traceback tests: one failure or error in each part of a test.

``tests/test_failure_output.py`` and ``tests/interop/check_pytest.py`` run this module in a subprocess twice,
once on ``asynctestkit.AsyncTestCase`` and once on plain ``unittest.IsolatedAsyncioTestCase`` (environment
variable ``ATK_FIXTURE_BASE=plain``), and compare the frames of this file each traceback shows.  Every test
fails: ``test_failure_in_<part>`` with an ``assertEqual`` in that part, ``test_error_in_<part>`` with a
``KeyError`` raised one call deeper.  The lines that fail carry a ``# <- <kind> <part>`` comment, which the
checks search for (no hard-coded line numbers).

This directory has no ``__init__.py``: ``python -m unittest discover -s tests`` does not collect it.
"""

from __future__ import annotations

import asyncio
import os
import unittest

import asynctestkit

BASE: type[unittest.IsolatedAsyncioTestCase] = (
    unittest.IsolatedAsyncioTestCase if os.environ.get("ATK_FIXTURE_BASE") == "plain"
    else asynctestkit.AsyncTestCase)

PARTS = ("test", "asyncSetUp", "asyncTearDown", "async_cleanup", "setUp", "tearDown", "sync_cleanup")
KINDS = ("failure", "error")


def explode(what: str) -> None:
    raise KeyError(what)  # <- raise sync


async def explode_later(what: str) -> None:
    await asyncio.sleep(0)
    raise KeyError(what)  # <- raise async


class Parts(BASE):  # type: ignore[misc,valid-type]
    def wants(self, kind: str, part: str) -> bool:
        return bool(self._testMethodName == f"test_{kind}_in_{part}")

    def setUp(self) -> None:
        if self.wants("failure", "setUp"):
            self.assertEqual("setUp", "set-up")  # <- failure setUp
        if self.wants("error", "setUp"):
            explode("setUp")  # <- error setUp

    async def asyncSetUp(self) -> None:
        self.addCleanup(self.sync_cleanup)
        self.addAsyncCleanup(self.async_cleanup)
        await asyncio.sleep(0)
        if self.wants("failure", "asyncSetUp"):
            self.assertEqual("asyncSetUp", "async-set-up")  # <- failure asyncSetUp
        if self.wants("error", "asyncSetUp"):
            await explode_later("asyncSetUp")  # <- error asyncSetUp

    async def test_failure_in_test(self) -> None:
        await asyncio.sleep(0.01)
        self.assertEqual([1, 2], [1, 3])  # <- failure test

    async def test_error_in_test(self) -> None:
        await asyncio.sleep(0.01)
        await explode_later("test")  # <- error test

    async def asyncTearDown(self) -> None:
        await asyncio.sleep(0)
        if self.wants("failure", "asyncTearDown"):
            self.assertEqual("asyncTearDown", "async-tear-down")  # <- failure asyncTearDown
        if self.wants("error", "asyncTearDown"):
            await explode_later("asyncTearDown")  # <- error asyncTearDown

    def tearDown(self) -> None:
        if self.wants("failure", "tearDown"):
            self.assertEqual("tearDown", "tear-down")  # <- failure tearDown
        if self.wants("error", "tearDown"):
            explode("tearDown")  # <- error tearDown

    async def async_cleanup(self) -> None:
        await asyncio.sleep(0)
        if self.wants("failure", "async_cleanup"):
            self.assertEqual("async_cleanup", "async-cleanup")  # <- failure async_cleanup
        if self.wants("error", "async_cleanup"):
            await explode_later("async_cleanup")  # <- error async_cleanup

    def sync_cleanup(self) -> None:
        if self.wants("failure", "sync_cleanup"):
            self.assertEqual("sync_cleanup", "sync-cleanup")  # <- failure sync_cleanup
        if self.wants("error", "sync_cleanup"):
            explode("sync_cleanup")  # <- error sync_cleanup


async def _passes_unless_another_part_fails(self: Parts) -> None:
    await asyncio.sleep(0)


for _kind in KINDS:
    for _part in PARTS[1:]:
        setattr(Parts, f"test_{_kind}_in_{_part}", _passes_unless_another_part_fails)


if __name__ == "__main__":
    unittest.main()
