"""A failing suite for the golden traceback tests: asynctestkit's own assertions failing, and a deadlock.

``tests/test_failure_output.py`` runs it in a subprocess and checks that each failure's traceback ends at the
line of this file that called (awaited or entered) the assertion, the line marked ``# <- <test name>``, with
no frame of asynctestkit shown; and that the deadlock report names the line where the test is stuck.  Every
test fails (the group assertions need 3.11+ and are skipped on 3.10).

This directory has no ``__init__.py``: ``python -m unittest discover -s tests`` does not collect it.
"""

from __future__ import annotations

import asyncio
import sys
import unittest

import asynctestkit


async def ok() -> int:
    await asyncio.sleep(1)
    return 1


async def boom() -> None:
    raise ValueError("boom")


class Assertions(asynctestkit.AsyncTestCase):
    async def test_assert_takes_awaited(self) -> None:
        await asyncio.sleep(0)
        await self.assertTakes(10, asyncio.sleep(3))  # <- test_assert_takes_awaited

    async def test_assert_takes_block(self) -> None:
        async with self.assertTakes(10):  # <- test_assert_takes_block
            await asyncio.sleep(3)

    async def test_assert_completes_within_awaited(self) -> None:
        await self.assertCompletesWithin(1, asyncio.sleep(3))  # <- test_assert_completes_within_awaited

    async def test_assert_completes_within_block(self) -> None:
        async with self.assertCompletesWithin(1):  # <- test_assert_completes_within_block
            await asyncio.sleep(3)

    async def test_assert_gather_raises(self) -> None:
        await self.assertGatherRaises(KeyError, [ok(), ok()])  # <- test_assert_gather_raises

    async def test_assert_task_cancelled(self) -> None:
        task = asyncio.ensure_future(ok())
        await self.assertTaskCancelled(task)  # <- test_assert_task_cancelled

    async def test_assert_task_group_raises(self) -> None:
        await self.assertTaskGroupRaises([KeyError], [boom()])  # <- test_assert_task_group_raises

    @unittest.skipIf(sys.version_info < (3, 11), "exception groups are new in 3.11")
    async def test_assert_exception_group_matches(self) -> None:
        group = ExceptionGroup("two", [ValueError("a"), KeyError("b")])  # noqa: F821 - 3.11+
        self.assertExceptionGroupMatches(group, [ValueError])  # <- test_assert_exception_group_matches

    async def test_deadlock(self) -> None:
        await asyncio.sleep(5)
        await asyncio.Event().wait()  # <- test_deadlock


if __name__ == "__main__":
    unittest.main()
