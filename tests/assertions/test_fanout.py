"""gather and TaskGroup assertions: assertGatherRaises, assertGatherResults, assertGatherCancelsChildren,
assertTaskGroupRaises, assertRaisesGroup, assertExceptionGroupMatches."""

from __future__ import annotations

import asyncio
import builtins
import sys
import unittest

from asynctestkit import ExceptionMatch, GroupMatch
from tests.assertions._assertion_support import Real, Support, Virtual, is_closed

PY311 = sys.version_info >= (3, 11)


async def ok(value: int = 1) -> int:
    return value


async def bad(seconds: float, message: str = "boom") -> None:
    await asyncio.sleep(seconds)
    raise ValueError(message)


async def bad_now(message: str) -> None:
    raise ValueError(message)  # fails in its first step: siblings started with it fail too before any cancel


async def slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "slow"


class HttpError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


async def fan_out(*errors: BaseException) -> None:
    """Runs a TaskGroup of its own, whose children raise *errors*: the shape behind a nested group."""

    async def fail(exc: BaseException) -> None:
        raise exc

    task_group = vars(asyncio)["TaskGroup"]
    async with task_group() as group:
        for exc in errors:
            group.create_task(fail(exc))


async def refuses_cancel(seconds: float) -> str:
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        return "ignored"
    return "done"


class FanOutTests(Support):
    # -- assertGatherRaises -------------------------------------------------------------------------
    async def test_gather_raises_first_exception_and_siblings_keep_running(self) -> None:
        outcome = await self.assertGatherRaises(ValueError, [ok(), bad(self.D), slow(100 * self.D)],
                                                states=["returned", ValueError, "running"])
        self.assertEqual(outcome.states, ["returned", "raised", "running"])
        self.assertIsInstance(outcome.exception, ValueError)
        self.assertTrue(outcome.children[2].task.cancelled())  # cleaned up afterwards
        self.assertNoOtherTasks()

    async def test_gather_raises_wrong_sibling_state_fails_with_a_table(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertGatherRaises(ValueError, [ok(), bad(self.D), slow(100 * self.D)],
                                          states=[None, "raised", "cancelled"])
        lines = str(cm.exception).splitlines()
        self.assertRegex(lines[0], r"^gather\(\) raised ValueError\('boom'\) from child 1 as expected, but child 2 "
                                   r"was running, expected cancelled")
        self.assertRegex(lines[1], r"^  child 0 task '.*' \(ok\(\)\): returned 1$")
        self.assertRegex(lines[2], r"^  child 1 task '.*' \(bad\(\)\): raised ValueError\('boom'\) raised at "
                                   r"tests/assertions/test_fanout.py:\d+ in bad$")
        self.assertRegex(lines[3], r"^  child 2 task '.*' \(slow\(\)\): running, suspended at "
                                   r"tests/assertions/test_fanout.py:\d+ in slow: await asyncio.sleep\(seconds\)")
        self.assertNoOtherTasks()

    async def test_gather_raises_other_exception_or_none_fails(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertGatherRaises(KeyError, [ok(), bad(self.D)])
        self.assertIn("gather() raised ValueError('boom') from child 1 instead of KeyError", str(cm.exception))
        self.assertIsInstance(cm.exception.__cause__, ValueError)
        with self.assertRaises(AssertionError) as cm:
            await self.assertGatherRaises(ValueError, [ok(), ok(2)])
        self.assertIn("gather() did not raise ValueError: every child returned", str(cm.exception))

    async def test_gather_accepts_tasks(self) -> None:
        task = asyncio.create_task(bad(self.D))
        await self.assertGatherRaises((KeyError, ValueError), [task, ok()], states=["raised", "returned"])

    async def test_gather_misuse(self) -> None:
        coro = ok()
        with self.assertRaisesRegex(TypeError, r"argument 'aws\[1\]' got the coroutine function ok"):
            await self.assertGatherRaises(ValueError, [coro, ok])  # type: ignore[list-item]
        self.assertTrue(is_closed(coro))
        coro = ok()
        with self.assertRaisesRegex(ValueError, r"argument 'states\[0\]' is 'finished', an unknown state: use one "
                                                r"of 'running', 'returned'"):
            await self.assertGatherRaises(ValueError, [coro], states=["finished"])
        self.assertTrue(is_closed(coro))
        with self.assertRaisesRegex(TypeError, "argument 'expected_exception' must be an exception class"):
            await self.assertGatherRaises("ValueError", [ok()])  # type: ignore[arg-type]
        with self.assertRaisesRegex(ValueError, "argument 'aws' is empty"):
            await self.assertGatherRaises(ValueError, [])
        with self.assertRaisesRegex(ValueError, "one entry per child"):
            await self.assertGatherRaises(ValueError, [ok()], states=["raised", "raised"])

    # -- assertGatherResults -----------------------------------------------------------------------
    async def test_gather_results_in_order(self) -> None:
        results = await self.assertGatherResults([ok(1), bad(self.D, "x"), ok(3)],
                                                 [1, ValueError, 3])
        self.assertEqual(results[0], 1)
        await self.assertGatherResults([bad(self.D, "x")], [ValueError("x")])

    async def test_gather_results_mismatch_shows_each_row(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertGatherResults([ok(1), bad(self.D, "x"), ok(3)], [1, KeyError, 4])
        lines = str(cm.exception).splitlines()
        self.assertRegex(lines[0], r"^gather\(return_exceptions=True\) result 1 differs: expected KeyError, got "
                                   r"ValueError\('x'\)")
        self.assertEqual(lines[1], "  [0] ok   1")
        self.assertRegex(lines[2], r"^  \[1\] DIFF ValueError\('x'\)  expected KeyError  \(task '[^']+' \(bad\(\)\)\)")
        self.assertRegex(lines[3], r"^  \[2\] DIFF 3  expected 4")

    async def test_gather_results_misuse(self) -> None:
        coros = [ok(), ok()]
        with self.assertRaisesRegex(ValueError, r"argument 'expected' must have one entry per child: 2 children, "
                                                r"got 1 entries: \[1\]"):
            await self.assertGatherResults(coros, [1])
        self.assertTrue(all(is_closed(c) for c in coros))

    # -- assertGatherCancelsChildren ---------------------------------------------------------------
    async def test_cancelling_gather_cancels_children(self) -> None:
        await self.assertGatherCancelsChildren([slow(100 * self.D), slow(100 * self.D), ok()])
        await self.assertGatherCancelsChildren([slow(100 * self.D)], after=self.D)
        self.assertNoOtherTasks()

    async def test_child_ignoring_the_gather_cancellation_fails(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertGatherCancelsChildren([slow(100 * self.D), refuses_cancel(100 * self.D)])
        self.assertRegex(str(cm.exception), r"^cancelling gather\(\) at .* did not cancel child 1: it returned")
        self.assertRegex(str(cm.exception), r"child 1 task '[^']+' \(refuses_cancel\(\)\)")

    async def test_gather_finished_before_cancel_fails(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertGatherCancelsChildren([ok()], after=self.D)
        self.assertIn("gather() finished before it could be cancelled", str(cm.exception))

    # -- TaskGroup ---------------------------------------------------------------------------------
    @unittest.skipUnless(PY311, "TaskGroup is 3.11+")
    async def test_task_group_raises_and_cancels_siblings(self) -> None:
        outcome = await self.assertTaskGroupRaises(
            [ValueError, ExceptionMatch(ValueError, match="second")],
            [bad_now("first"), bad_now("second"), slow(100 * self.D), ok()],
            states=[ValueError, ValueError, "cancelled", "returned"])
        self.assertEqual(outcome.states, ["raised", "raised", "cancelled", "returned"])
        self.assertNoOtherTasks()

    @unittest.skipUnless(PY311, "TaskGroup is 3.11+")
    async def test_task_group_mismatch_explains(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertTaskGroupRaises([ValueError, KeyError], [bad(self.D), slow(100 * self.D)])
        text = str(cm.exception)
        self.assertRegex(text, r"^the TaskGroup raised an exception group that does not match \(.*\): missing "
                               r"KeyError\n")
        self.assertIn("  expected GroupMatch(ValueError, KeyError)", text)
        self.assertIn("    ExceptionGroup('unhandled errors in a TaskGroup') with 1 exception:", text)
        self.assertRegex(text, r"child 1 task '[^']+' \(slow\(\)\)")
        with self.assertRaises(AssertionError) as cm:
            await self.assertTaskGroupRaises(ValueError, [ok()], states=["returned"])
        self.assertIn("the TaskGroup did not raise: every child returned", str(cm.exception))
        with self.assertRaises(AssertionError) as cm:
            await self.assertTaskGroupRaises(ValueError, [bad(self.D), slow(100 * self.D)],
                                             states=["raised", "returned"])
        self.assertIn("but child 1 was cancelled, expected returned", str(cm.exception))

    @unittest.skipUnless(PY311, "TaskGroup is 3.11+")
    async def test_task_group_misuse(self) -> None:
        task = asyncio.create_task(ok())
        coro = ok()
        with self.assertRaisesRegex(TypeError, r"argument 'aws\[1\]' must be a coroutine, got Task: <Task .*>; "
                                               r"a TaskGroup runs coroutines"):
            await self.assertTaskGroupRaises(ValueError, [coro, task])
        self.assertTrue(is_closed(coro))
        await task
        with self.assertRaisesRegex(TypeError, "is a tuple .* use a list for a nested group"):
            await self.assertTaskGroupRaises((ValueError, KeyError), [ok()])

    @unittest.skipUnless(PY311, "ExceptionGroup is 3.11+")
    async def test_raises_group_block_and_awaitable(self) -> None:
        eg = builtins.ExceptionGroup  # type: ignore[attr-defined]
        async with self.assertRaisesGroup(GroupMatch(ValueError, [TypeError], match="outer")) as block:
            raise eg("outer", [ValueError(1), eg("inner", [TypeError(2)])])
        self.assertEqual(block.exception.message, "outer")  # type: ignore[union-attr]

        async def raises() -> None:
            await asyncio.sleep(self.D)
            raise eg("x", [KeyError("k")])

        got = await self.assertRaisesGroup(ExceptionMatch(KeyError), raises())
        self.assertEqual(len(got.exceptions), 1)  # type: ignore[attr-defined]
        with self.assertRaises(AssertionError) as cm:
            async with self.assertRaisesGroup([KeyError]):
                pass
        self.assertRegex(str(cm.exception), r"^the block at .* did not raise an exception group")
        with self.assertRaises(ZeroDivisionError):  # not a group: propagates, as with assertRaises
            async with self.assertRaisesGroup([KeyError]):
                raise ZeroDivisionError
        with self.assertRaises(AssertionError) as cm:
            async with self.assertRaisesGroup([KeyError]):
                raise eg("x", [KeyError("k"), OSError(5, "io")])
        self.assertIn("raised an exception group that does not match: unexpected OSError(5, 'io')",
                      str(cm.exception))

    @unittest.skipUnless(PY311, "TaskGroup is 3.11+")
    async def test_task_group_around_a_coroutine_running_its_own_task_group_matches_its_group(self) -> None:
        outcome = await self.assertTaskGroupRaises(
            [ConnectionError, ExceptionMatch(HttpError, status=500)],
            [fan_out(ConnectionError("down"), HttpError(500))])
        self.assertEqual(outcome.states, ["raised"])
        await self.assertTaskGroupRaises([[ConnectionError]], [fan_out(ConnectionError("down"))])  # nested: too

    @unittest.skipUnless(PY311, "TaskGroup is 3.11+")
    async def test_task_group_nested_mismatch_says_what_to_write(self) -> None:
        with self.assertRaises(AssertionError) as cm:  # no false positive: the inner group lacks HttpError
            await self.assertTaskGroupRaises([ConnectionError, HttpError], [fan_out(ConnectionError("down"))])
        self.assertRegex(str(cm.exception), r"^the TaskGroup raised an exception group that does not match "
                                            r"\(.*\): missing HttpError\n  \(matched against the exception group "
                                            r"raised by child 0, which runs a TaskGroup of its own\)\n")
        with self.assertRaises(AssertionError) as cm:  # two children, one raising a group of its own
            await self.assertTaskGroupRaises([ValueError, HttpError], [fan_out(KeyError("k")), bad_now("v")])
        self.assertIn("child 0 raised an exception group of its own (it runs a TaskGroup): describe its group "
                      "as a nested list in 'expected'", str(cm.exception))
        with self.assertRaises(AssertionError) as cm:  # two failing children, one nested: flattening matches
            await self.assertTaskGroupRaises([ValueError, KeyError, OSError],
                                             [fan_out(KeyError("k"), OSError()), bad_now("v")])
        self.assertIn("write GroupMatch(ValueError, KeyError, OSError, flatten_subgroups=True)", str(cm.exception))
        await self.assertTaskGroupRaises(GroupMatch(ValueError, KeyError, OSError, flatten_subgroups=True),
                                         [fan_out(KeyError("k"), OSError()), bad_now("v")])

    @unittest.skipUnless(PY311, "ExceptionGroup is 3.11+")
    async def test_raises_group_with_plain_with_works_synchronously(self) -> None:
        eg = builtins.ExceptionGroup  # type: ignore[attr-defined]
        with self.assertRaisesGroup([ValueError]) as block:
            raise eg("sync", [ValueError(1)])
        self.assertEqual(block.exception.message, "sync")  # type: ignore[union-attr]
        with self.assertRaises(AssertionError) as cm:
            with self.assertRaisesGroup([ValueError]):
                raise eg("sync", [KeyError(1)])
        self.assertRegex(str(cm.exception), r"^the block at tests/assertions/test_fanout.py:\d+ in "
                                            r"test_raises_group_with_plain_with_works_synchronously raised an "
                                            r"exception group that does not match: missing ValueError")
        with self.assertRaises(AssertionError) as cm:
            with self.assertRaisesGroup([ValueError]):
                pass
        self.assertIn("did not raise an exception group", str(cm.exception))
        coro = ok()
        with self.assertRaisesRegex(TypeError, r"assertRaisesGroup\(\) was given an awaitable, so it is not a "
                                               r"context manager: write `await self.assertRaisesGroup\(..., ok\(\)\)`"):
            with self.assertRaisesGroup([ValueError], coro):
                pass
        self.assertTrue(is_closed(coro))
        with self.assertRaisesRegex(TypeError, r"write `with self.assertRaisesGroup\(...\):` or `async with "
                                               r"self.assertRaisesGroup\(...\):`"):
            await self.assertRaisesGroup([ValueError])

    @unittest.skipUnless(PY311, "ExceptionGroup is 3.11+")
    async def test_raises_group_allow_unwrapped_and_what_propagates(self) -> None:
        async with self.assertRaisesGroup(GroupMatch(ValueError, allow_unwrapped=True)) as block:
            raise ValueError("bare")
        self.assertIsInstance(block.exception, ValueError)
        with self.assertRaises(KeyError):  # another bare exception still propagates, as with assertRaises
            with self.assertRaisesGroup(GroupMatch(ValueError, allow_unwrapped=True)):
                raise KeyError("other")
        with self.assertRaises(ValueError):  # without the option a bare exception is not a group
            async with self.assertRaisesGroup(ValueError):
                raise ValueError("bare")

    @unittest.skipIf(PY311, "explains the skip on 3.10")
    async def test_groups_are_skipped_on_310_with_an_explanation(self) -> None:
        coro = ok()
        with self.assertRaisesRegex(unittest.SkipTest, r"needs Python 3.11\+: asyncio.TaskGroup and "
                                                      r"ExceptionGroup do not exist on Python 3.10"):
            await self.assertTaskGroupRaises(ValueError, [coro])
        self.assertTrue(is_closed(coro))
        with self.assertRaises(unittest.SkipTest):
            self.assertRaisesGroup(ValueError)
        with self.assertRaises(unittest.SkipTest):
            self.assertExceptionGroupMatches(ValueError(), ValueError)


@unittest.skipUnless(PY311, "ExceptionGroup is 3.11+")
class RaisesGroupInASyncTestTests(unittest.TestCase):
    """The `with` form needs no event loop: the mixin works on a synchronous unittest.TestCase."""

    def test_with_in_a_sync_test(self) -> None:
        from asynctestkit import AsyncAssertionsMixin

        class Sync(AsyncAssertionsMixin, unittest.TestCase):
            def test_it(self) -> None:
                with self.assertRaisesGroup(ExceptionMatch(ValueError, match="note")):
                    exc = ValueError("v")
                    exc.add_note("a note")  # type: ignore[attr-defined]
                    raise builtins.ExceptionGroup("g", [exc])  # type: ignore[attr-defined]

            def test_forgotten(self) -> None:
                self.assertRaisesGroup(ValueError)

        result = unittest.TestResult()
        Sync("test_it").run(result)
        self.assertEqual((result.failures, result.errors, result.testsRun), ([], [], 1))
        Sync("test_forgotten").run(result)
        self.assertEqual(len(result.failures), 1)
        self.assertIn("assertRaisesGroup(...) was never entered: write `with self.assertRaisesGroup(...):` or "
                      "`async with self.assertRaisesGroup(...):`", result.failures[0][1])


class FanOutOnVirtualClock(FanOutTests, Virtual):
    async def test_exact_gather_times(self) -> None:
        with self.assertRaises(AssertionError) as cm:
            await self.assertGatherRaises(KeyError, [bad(3)])
        self.assertIn("instead of KeyError (virtual t=3.000s)", str(cm.exception))


class FanOutOnRealClock(FanOutTests, Real):
    pass


del FanOutTests

if __name__ == "__main__":
    unittest.main()
