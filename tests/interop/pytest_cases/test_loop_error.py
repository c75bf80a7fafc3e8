"""An exception the loop swallowed fails the test under pytest too, and one the test asserts does not.

tests/interop/check_pytest.py checks the outcomes below and that the report names the line marked
``# <- raised``.
"""

from __future__ import annotations

import asyncio
import logging

import asynctestkit

EXPECTED = {
    "LoopErrorTest::test_callback_error_fails_the_test": "failed",
    "LoopErrorTest::test_callback_error_asserted_with_assertLogs_passes": "passed",
}


def broken() -> None:
    raise RuntimeError("callback broke")  # <- raised


class LoopErrorTest(asynctestkit.AsyncTestCase):
    async def test_callback_error_fails_the_test(self) -> None:
        asyncio.get_running_loop().call_later(1, broken)
        await asyncio.sleep(2)

    async def test_callback_error_asserted_with_assertLogs_passes(self) -> None:
        with self.assertLogs("asyncio", logging.ERROR):
            asyncio.get_running_loop().call_soon(broken)
            await asyncio.sleep(0)
