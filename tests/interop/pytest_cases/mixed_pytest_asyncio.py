"""pytest-asyncio tests and AsyncTestCase classes in one module and one session (needs pytest-asyncio).

Named so that pytest does not collect it by default; tests/interop/check_pytest.py passes it explicitly in
its pytest-asyncio runs (strict and auto mode).  Each side must keep its own loop: pytest-asyncio's tests run
on a real-time loop before and after an AsyncTestCase test that runs on a VirtualClockLoop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

import asynctestkit

EXPECTED = {
    "test_1_pytest_asyncio_test_before_the_case": "passed",
    "MixedCaseTest::test_2_async_test_case_between_pytest_asyncio_tests": "passed",
    "test_3_pytest_asyncio_test_after_the_case": "passed",
    "test_4_pytest_asyncio_fixture_still_works": "passed",
}


@pytest.mark.asyncio
async def test_1_pytest_asyncio_test_before_the_case() -> None:
    assert not isinstance(asyncio.get_running_loop(), asynctestkit.VirtualClockLoop)
    await asyncio.sleep(0.001)


class MixedCaseTest(asynctestkit.AsyncTestCase):
    async def test_2_async_test_case_between_pytest_asyncio_tests(self) -> None:
        assert isinstance(asyncio.get_running_loop(), asynctestkit.VirtualClockLoop)
        await asyncio.sleep(600)
        assert self.clock.elapsed() == 600


@pytest.mark.asyncio
async def test_3_pytest_asyncio_test_after_the_case() -> None:
    assert not isinstance(asyncio.get_running_loop(), asynctestkit.VirtualClockLoop)
    await asyncio.sleep(0.001)


@pytest_asyncio.fixture
async def resource() -> AsyncIterator[str]:
    await asyncio.sleep(0)
    yield "resource"


@pytest.mark.asyncio
async def test_4_pytest_asyncio_fixture_still_works(resource: str) -> None:
    assert resource == "resource"
