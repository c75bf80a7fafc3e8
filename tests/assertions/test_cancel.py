"""Cancellation assertions: assertTaskCancelled, assertCancellationPropagates, assertCleanupOnCancel,
assertShielded, assertCancellingBalanced."""

from __future__ import annotations

import asyncio
import sys
import unittest
from unittest import mock

from tests.assertions._assertion_support import Real, Support, Virtual, is_closed, line_of, sleeper

PY311 = sys.version_info >= (3, 11)


async def worker(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


async def swallows(seconds: float) -> str:
    try:
        await asyncio.sleep(seconds)
    except BaseException:  # the classic bug
        return "swallowed"
    return "done"


async def converts(seconds: float) -> None:
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        raise RuntimeError("shutting down") from None


class CancelTests(Support):
    # -- assertTaskCancelled -----------------------------------------------------------------------
    async def test_task_cancelled_passes_for_a_cancelled_task(self) -> None:
        task = asyncio.create_task(worker(100 * self.D))
        asyncio.get_running_loop().call_later(self.D, task.cancel)
        await self.assertTaskCancelled(task)
        await self.assertTaskCancelled(task)  # already finished: fine

    async def test_task_cancelled_fails_for_a_task_that_returned(self) -> None:
        task = asyncio.create_task(worker(self.D))
        with self.assertRaises(AssertionError) as cm:
            await self.assertTaskCancelled(task)
        self.assertRegex(str(cm.exception), r"^task '.*' \(worker\(\)\) did not end cancelled: it returned 'done'")
        self.assertIn("created at tests/assertions/test_cancel.py", str(cm.exception))

    async def test_task_cancelled_fails_for_a_task_that_raised_with_cause(self) -> None:
        task = asyncio.create_task(converts(0))
        await asyncio.sleep(0)
        task.cancel()
        with self.assertRaises(AssertionError) as cm:
            await self.assertTaskCancelled(task)
        self.assertIn("it raised RuntimeError('shutting down')", str(cm.exception))
        self.assertIsInstance(cm.exception.__cause__, RuntimeError)

    async def test_task_cancelled_within_limit_cancels_a_task_still_running(self) -> None:
        task = asyncio.create_task(worker(100 * self.D))
        with self.assertRaises(AssertionError) as cm:
            await self.assertTaskCancelled(task, within=self.D)
        self.assertIn("did not end within", str(cm.exception))
        self.assertIn("suspended at tests/assertions/test_cancel.py", str(cm.exception))
        self.assertTrue(task.cancelled())

    async def test_task_cancelled_misuse(self) -> None:
        coro = worker(1)
        with self.assertRaisesRegex(TypeError, r"argument 'task' must be an asyncio task or future, got "
                                               r"coroutine: .*use assertCancellationPropagates\(coro\)"):
            await self.assertTaskCancelled(coro)  # type: ignore[arg-type]
        self.assertTrue(is_closed(coro))
        task = asyncio.create_task(worker(0))
        with self.assertRaisesRegex(ValueError, "argument 'within' must be >= 0"):
            await self.assertTaskCancelled(task, within=-1)
        await task

    # -- assertCancellationPropagates ---------------------------------------------------------------
    async def test_cancellation_propagates_passes(self) -> None:
        log: list[str] = []
        await self.assertCancellationPropagates(sleeper(100 * self.D, log=log))
        self.assertEqual(log, ["cleanup"])
        await self.assertCancellationPropagates(sleeper(100 * self.D), after=self.D)
        self.assertNoOtherTasks()

    async def test_swallowing_except_base_exception_is_caught(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertCancellationPropagates(swallows(100 * self.D))
        text = str(cm.exception)
        self.assertIn("swallows() swallowed the cancellation: it returned 'swallowed' instead of raising "
                      "CancelledError", text)
        self.assertIn("while suspended at tests/assertions/test_cancel.py:", text)
        self.assertIn("in swallows: await asyncio.sleep(seconds)", text)
        self.assertIn("look for `except BaseException:`", text)
        self.assertNoOtherTasks()

    async def test_turning_cancellation_into_another_error_is_caught(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertCancellationPropagates(converts(100 * self.D))
        self.assertIn("converts() turned the cancellation into RuntimeError('shutting down')", str(cm.exception))
        self.assertRegex(str(cm.exception), r"raised at tests/assertions/test_cancel.py:\d+ in converts")

    async def test_finishing_before_the_cancel_fails_with_advice(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertCancellationPropagates(worker(self.D), after=10 * self.D)
        self.assertIn("worker() finished before it could be cancelled: it returned 'done'", str(cm.exception))
        self.assertIn("pass a smaller after=", str(cm.exception))

    async def test_cancellation_propagates_misuse(self) -> None:
        with self.assertRaisesRegex(TypeError, "got the coroutine function worker"):
            await self.assertCancellationPropagates(worker)  # type: ignore[arg-type]
        coro = worker(1)
        with self.assertRaisesRegex(ValueError, "argument 'after' is NaN"):
            await self.assertCancellationPropagates(coro, after=float("nan"))
        self.assertTrue(is_closed(coro))

    # -- assertCleanupOnCancel ---------------------------------------------------------------------
    async def test_cleanup_on_cancel_with_a_lock_and_an_event(self) -> None:
        lock = asyncio.Lock()

        async def holds_lock() -> None:
            async with lock:
                await asyncio.sleep(100 * self.D)

        await self.assertCleanupOnCancel(holds_lock(), lambda: not lock.locked())
        closed = asyncio.Event()

        async def closes() -> None:
            try:
                await asyncio.sleep(100 * self.D)
            finally:
                await asyncio.sleep(self.D)  # an awaiting cleanup gets time to finish
                closed.set()

        await self.assertCleanupOnCancel(closes(), closed)

    async def test_cleanup_on_cancel_counts_a_done_callback(self) -> None:
        released = mock.Mock()

        async def with_callback() -> None:
            asyncio.current_task().add_done_callback(released)  # type: ignore[union-attr]
            await asyncio.sleep(100 * self.D)

        await self.assertCleanupOnCancel(with_callback(), lambda: released.called)

    async def test_cleanup_missing_fails(self) -> None:
        connections = ["open"]

        async def leaks() -> None:
            await asyncio.sleep(100 * self.D)
            connections.clear()  # only on success: the bug

        with self.assertRaises(AssertionError) as cm:
            await self.assertCleanupOnCancel(leaks(), lambda: not connections)
        text = str(cm.exception)
        self.assertIn("cleanup did not run when leaks() was cancelled: the check at "
                      "tests/assertions/test_cancel.py:", text)
        self.assertIn("lambda: not connections", text)
        self.assertIn("then leaks() was cancelled", text)

    async def test_cleanup_misuse(self) -> None:
        coro = worker(1)
        with self.assertRaisesRegex(TypeError, r"is a mock; calling it would record a call: pass "
                                               r"`lambda: the_mock.called`"):
            await self.assertCleanupOnCancel(coro, mock.Mock())
        self.assertTrue(is_closed(coro))
        with self.assertRaisesRegex(AssertionError, "the check at .* became true before worker\\(\\) was "
                                                    "cancelled .* so it cannot show what the cancellation did"):
            await self.assertCleanupOnCancel(worker(1), lambda: True)
        with self.assertRaisesRegex(TypeError, "must be a zero-argument callable"):
            await self.assertCleanupOnCancel(worker(1), 42)

    # -- assertShielded ----------------------------------------------------------------------------
    async def test_shield_keeps_the_inner_work_running(self) -> None:
        saved: list[str] = []

        async def save() -> str:
            await asyncio.sleep(2 * self.D)
            saved.append("row")
            return "saved"

        inner = asyncio.ensure_future(save())

        async def handler() -> None:
            await asyncio.shield(inner)

        self.assertEqual(await self.assertShielded(handler(), inner, within=20 * self.D), "saved")
        inner2 = asyncio.ensure_future(save())

        async def handler2() -> None:
            await asyncio.shield(inner2)

        await self.assertShielded(handler2(), lambda: bool(saved[1:]), within=20 * self.D)
        self.assertNoOtherTasks()

    async def test_without_shield_the_inner_task_is_cancelled(self) -> None:
        inner = asyncio.ensure_future(worker(2 * self.D))

        async def handler() -> None:
            await inner

        with self.assertRaises(AssertionError) as cm:
            await self.assertShielded(handler(), inner)
        self.assertRegex(str(cm.exception), r"^task '.*' \(worker\(\)\) was cancelled along with handler\(\): "
                                            r"is it wrapped in asyncio.shield\(\)\?")
        self.assertIn("handler() was cancelled at", str(cm.exception))

    async def test_shielded_work_that_never_completes_fails_and_is_stopped(self) -> None:
        inner = asyncio.ensure_future(worker(1000 * self.D))

        async def handler() -> None:
            await asyncio.shield(inner)

        with self.assertRaises(AssertionError) as cm:
            await self.assertShielded(handler(), inner, within=self.D)
        self.assertIn("the shielded work did not complete after handler() was cancelled", str(cm.exception))
        self.assertTrue(inner.cancelled())

    async def test_shield_misuse(self) -> None:
        done = asyncio.ensure_future(worker(0))
        await done
        coro = worker(1)
        with self.assertRaisesRegex(ValueError, "argument 'shielded' is task .* which has already finished"):
            await self.assertShielded(coro, done)
        self.assertTrue(is_closed(coro))

    # -- assertCancellingBalanced ------------------------------------------------------------------
    async def test_cancelling_balanced(self) -> None:
        async def uses_timeout() -> str:
            try:
                await asyncio.wait_for(asyncio.sleep(100 * self.D), self.D)
            except asyncio.TimeoutError:
                return "timed out"
            return "in time"

        self.assertEqual(await self.assertCancellingBalanced(uses_timeout()), "timed out")
        async with self.assertCancellingBalanced():
            await uses_timeout()

    async def test_cancelling_left_raised_fails(self) -> None:
        async def swallows_own_cancel() -> str:
            asyncio.current_task().cancel()  # type: ignore[union-attr]
            try:
                await asyncio.sleep(self.D)
            except asyncio.CancelledError:
                pass
            return "ok"

        with self.assertRaises(AssertionError) as cm:
            await self.assertCancellingBalanced(swallows_own_cancel())
        self.assertIn("swallows_own_cancel() left cancelling() at 1, it was 0 before: 1 cancellation request "
                      "never withdrawn with uncancel()", str(cm.exception))
        with self.assertRaises(AssertionError) as cm:
            async with self.assertCancellingBalanced():
                await swallows_own_cancel()
        self.assertRegex(str(cm.exception), r"^the block at tests/assertions/test_cancel.py:\d+ .* left cancelling\(\)")
        self.assertEqual(asyncio.current_task().cancelling(), 0)  # type: ignore[union-attr]

    async def test_cancelling_dropped_below_fails(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            pass
        with self.assertRaises(AssertionError) as cm:
            async with self.assertCancellingBalanced():
                task.uncancel()
        self.assertIn("dropped cancelling() from 1 to 0", str(cm.exception))

    if not PY311:
        test_cancelling_balanced = test_cancelling_left_raised_fails = None  # type: ignore[assignment]
        test_cancelling_dropped_below_fails = None  # type: ignore[assignment]

        async def test_cancelling_balanced_is_skipped_on_310_with_an_explanation(self) -> None:
            coro = worker(1)
            with self.assertRaisesRegex(unittest.SkipTest, r"needs Python 3.11\+: Task.cancelling\(\)/uncancel\(\) "
                                                          r"do not exist on Python 3.10"):
                self.assertCancellingBalanced(coro)
            self.assertTrue(is_closed(coro))


class CancelOnVirtualClock(CancelTests, Virtual):
    async def test_exact_swallow_message(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertCancellationPropagates(swallows(30), after=1)
        lines = str(cm.exception).splitlines()
        self.assertEqual(lines[0], "swallows() swallowed the cancellation: it returned 'swallowed' instead of "
                                   "raising CancelledError (virtual t=1.000s)")
        line = line_of(swallows, "await asyncio.sleep(seconds)")
        self.assertEqual(lines[1], "  cancelled at virtual t=1.000s while suspended at "
                                   f"tests/assertions/test_cancel.py:{line} in swallows: await asyncio.sleep(seconds)  "
                                   "(awaiting sleep())")

    async def test_task_that_ignores_every_cancel_is_reported_not_awaited_forever(self) -> None:
        rounds = 0

        async def stubborn() -> None:
            nonlocal rounds
            while rounds < 2:
                try:
                    await asyncio.sleep(100)
                except asyncio.CancelledError:
                    rounds += 1
            await asyncio.sleep(100)

        task = asyncio.create_task(stubborn())
        with self.assertRaises(AssertionError) as cm:
            await self.assertCancellationPropagates(task)
        self.assertIn("ignored the cancellation: still running 5 s later (virtual t=5.000s), even after a second "
                      "cancel(); it is left running", str(cm.exception))
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task


class CancelOnRealClock(CancelTests, Real):
    pass


del CancelTests

if __name__ == "__main__":
    unittest.main()
