"""What a type checker (and so an IDE) sees of the public API: checked by ``mypy --strict``, never run.

Run by .ci/jobs/typecheck.sh.  Each ``assert_type`` pins the static type of one public API use: a change
that turns it into ``Any`` (no completion in an IDE) or into a wrong type fails the job.  Not collected by
``python -m unittest discover`` (this directory has no ``__init__.py`` and the file is not ``test*.py``).
"""

from __future__ import annotations

import asyncio
import threading
import unittest
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import asynctestkit
from asynctestkit import (
    AsyncAssertionsMixin,
    AsyncTestCase,
    DeadlockError,
    HangError,
    LivelockError,
    VirtualClock,
    VirtualClockLoop,
    real_time,
)

if TYPE_CHECKING:
    from typing_extensions import assert_type


async def fetch() -> int:
    await asyncio.sleep(1)
    return 42


class ClockTypes(AsyncTestCase):
    async def test_clock_is_typed(self) -> None:
        assert_type(self.clock, VirtualClock)
        assert_type(self.clock.now(), float)
        assert_type(self.clock.elapsed(), float)
        assert_type(self.clock.start, float)
        assert_type(self.clock.monotonic(), float)
        assert_type(self.clock.time(), float)
        assert_type(self.clock.auto_advance, bool)
        for pending in (self.clock.advance(5), self.clock.advance_to(5.0), self.clock.run_until_idle()):
            checked = assert_type(pending, Coroutine[Any, Any, None])
            checked.close()
        self.clock.auto_advance = False
        self.clock.patch_time("json")

    async def test_track_and_background_return_their_argument_type(self) -> None:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        assert_type(self.clock.track(future), asyncio.Future[int])
        assert_type(self.clock.background(threading.Thread(target=print)), threading.Thread)

    async def test_settings_are_typed(self) -> None:
        assert_type(self.virtual_clock, bool)
        assert_type(self.clock_start, float)
        assert_type(self.clock_watchdog, float | None)

    @real_time
    async def test_real_time_keeps_the_method_type(self) -> None:
        pass


def real_time_keeps_the_signature(case: AsyncTestCase) -> None:
    async def method(case: AsyncTestCase, n: int) -> str:
        return str(n)

    decorated = real_time(method)
    running = assert_type(decorated(case, 1), Coroutine[Any, Any, str])
    running.close()


def loop_types() -> None:
    loop = VirtualClockLoop(start=100.0)
    assert_type(loop.clock, VirtualClock)
    assert_type(loop.time(), float)
    loop.close()


def errors_are_assertion_errors() -> None:
    hang: AssertionError = HangError("x")
    deadlock: HangError = DeadlockError("x")
    livelock: HangError = LivelockError("x")
    del hang, deadlock, livelock
    assert_type(asynctestkit.__version__, str)


class AssertionTypes(AsyncTestCase):
    async def test_timing_assertions_are_visible_and_awaitable(self) -> None:
        await self.assertCompletesWithin(5, fetch())
        await self.assertDoesNotCompleteWithin(5, asyncio.Event().wait())
        async with self.assertTakes(1):
            await asyncio.sleep(1)


class ReturnedTypes(AsyncTestCase):
    """Every type an assertion returns is importable from the package, so users can annotate with it."""

    async def test_returned_types_are_public(self) -> None:
        call = assert_type(self.assertGatherRaises(ValueError, [fetch()]), asynctestkit.AssertionCall[
            asynctestkit.FanOutOutcome])
        outcome = assert_type(await call, asynctestkit.FanOutOutcome)
        child: asynctestkit.ChildOutcome = outcome.children[0]
        assert_type(child.state, str)
        assert_type(await self.assertGatherResults([fetch()], [42]), list[Any])
        assert_type(self.assertCompletesWithin(5), asynctestkit.Block[Any])
        async with self.assertDoesNotCompleteWithin(5) as block:
            await asyncio.sleep(10)
        assert_type(block.elapsed, float | None)
        with self.assertRaisesGroup(ValueError) as group:
            pass
        assert_type(group.exception, BaseException | None)
        recorder = asynctestkit.EventRecorder()
        assert_type(await recorder.wait_for("x"), asynctestkit.RecordedEvent)
        matcher = asynctestkit.GroupMatch(ValueError, flatten_subgroups=True)
        assert_type(matcher.matches(ValueError()), bool)
        assert_type(matcher.fail_reason, str | None)


class LegacyCase(AsyncAssertionsMixin, unittest.IsolatedAsyncioTestCase):
    async def test_mixin_methods_are_visible(self) -> None:
        await self.assertDoesNotCompleteWithin(1, asyncio.Event().wait())
        self.assertEqual(1, 1)
