"""Sequencer: step order across tasks, its misuse errors, failure on cancellation, and its deadlock line."""

from __future__ import annotations

import asyncio
import unittest

from asynctestkit import AsyncTestCase, DeadlockError, Sequencer
from tests.clock._clock_support import failure_of, run_tests


class _SequencerBehaviour:
    """The behaviour every loop must show: run on the virtual clock and on a plain real-time test case."""

    assertEqual: "unittest.TestCase.assertEqual"  # type: ignore[valid-type]

    async def test_blocks_in_three_tasks_run_in_step_order_not_start_order(self) -> None:
        seq = Sequencer()
        order: list[str] = []

        async def run(name: str, step: int) -> None:
            async with seq(step):
                order.append(f"{name} in")
                await asyncio.sleep(0)   # another task gets a chance to cut in: it must not
                order.append(f"{name} out")

        await asyncio.gather(run("c", 2), run("a", 0), run("d", 3), run("b", 1))
        self.assertEqual(order, ["a in", "a out", "b in", "b out", "c in", "c out", "d in", "d out"])

    async def test_one_task_can_hold_several_steps_between_other_tasks_steps(self) -> None:
        seq = Sequencer()
        order: list[int] = []

        async def writer() -> None:
            async with seq(0):
                order.append(0)
            async with seq(2):
                order.append(2)

        async def reader() -> None:
            async with seq(1):
                order.append(1)
            async with seq(3):
                order.append(3)

        await asyncio.gather(reader(), writer())
        self.assertEqual(order, [0, 1, 2, 3])

    async def test_a_step_whose_block_raises_still_lets_the_next_step_run(self) -> None:
        seq = Sequencer()
        ran: list[int] = []

        async def failing() -> None:
            async with seq(0):
                raise KeyError("boom")

        async def next_step() -> None:
            async with seq(1):
                ran.append(1)

        results = await asyncio.gather(failing(), next_step(), return_exceptions=True)
        self.assertIsInstance(results[0], KeyError)  # type: ignore[attr-defined]
        self.assertEqual(ran, [1])

    async def test_cancelling_a_waiting_step_fails_the_sequencer_for_every_other_waiter(self) -> None:
        seq = Sequencer()
        waiting = asyncio.create_task(self._enter(seq, 2), name="step-2")
        other = asyncio.create_task(self._enter(seq, 5), name="step-5")
        await asyncio.sleep(0)
        waiting.cancel()
        with self.assertRaises(asyncio.CancelledError):  # type: ignore[attr-defined]
            await waiting                       # the cancelled task keeps its cancellation
        with self.assertRaises(RuntimeError) as caught:  # type: ignore[attr-defined]
            await other
        self.assertRegex(  # type: ignore[attr-defined]
            str(caught.exception),
            r"^Sequencer step 5 cannot run: the sequencer failed \(the task waiting for step 2 at "
            r"\S*test_sequencer\.py:\d+ in _enter was cancelled\)$")
        with self.assertRaisesRegex(RuntimeError, r"^Sequencer step 0 cannot run: the sequencer failed"):  # type: ignore[attr-defined]
            seq(0)

    async def test_a_woken_step_does_not_run_when_the_sequencer_failed_before_it_resumed(self) -> None:
        seq = Sequencer()
        ran: list[int] = []

        async def step(n: int) -> None:
            async with seq(n):
                ran.append(n)

        second = asyncio.create_task(step(1), name="step-1")
        third = asyncio.create_task(step(3), name="step-3")
        await asyncio.sleep(0)                    # both wait now
        async with seq(0):
            third.cancel()                        # step 3's task will fail the sequencer when it runs ...
        # ... which is before step 1's task, woken by the end of step 0 just now, resumes
        with self.assertRaisesRegex(RuntimeError, r"^Sequencer step 1 cannot run: the sequencer failed"):  # type: ignore[attr-defined]
            await second
        with self.assertRaises(asyncio.CancelledError):  # type: ignore[attr-defined]
            await third
        self.assertEqual(ran, [])

    @staticmethod
    async def _enter(seq: Sequencer, step: int) -> None:
        async with seq(step):
            pass


class SequencerOnVirtualClockTest(_SequencerBehaviour, AsyncTestCase):
    async def test_steps_take_no_virtual_time(self) -> None:
        seq = Sequencer()

        async def later() -> None:
            async with seq(1):
                pass

        task = asyncio.create_task(later())
        async with seq(0):
            await asyncio.sleep(2)
        await task
        self.assertEqual(self.clock.now(), 2.0)


class SequencerOnPlainTestCaseTest(_SequencerBehaviour, unittest.IsolatedAsyncioTestCase):
    pass


class SequencerMisuseTest(unittest.TestCase):
    def test_a_step_used_twice_raises_at_the_second_use_naming_the_first(self) -> None:
        seq = Sequencer()
        seq(1)
        with self.assertRaisesRegex(
                RuntimeError,
                r"^Sequencer step 1 is used twice: first at \S*test_sequencer\.py:\d+ in "
                r"test_a_step_used_twice_raises_at_the_second_use_naming_the_first; each step runs once$"):
            seq(1)

    def test_a_negative_step_is_a_value_error(self) -> None:
        with self.assertRaisesRegex(ValueError, r"^Sequencer step must be an int >= 0, got -1$"):
            Sequencer()(-1)

    def test_a_step_that_is_not_an_int_is_a_type_error(self) -> None:
        for bad in (1.5, "1", True, None):
            with self.subTest(bad=bad), self.assertRaisesRegex(
                    TypeError, rf"^Sequencer step must be an int >= 0, got {type(bad).__name__}: "):
                Sequencer()(bad)  # type: ignore[arg-type]

    def test_repr_says_how_many_steps_are_done(self) -> None:
        async def main() -> Sequencer:
            seq = Sequencer()
            async with seq(0):
                pass
            return seq
        self.assertEqual(repr(asyncio.run(main())), "<Sequencer 1 steps done>")


def _hanging_case() -> type[AsyncTestCase]:
    """Inner tests (run by SequencerDeadlockReportTest, not by discovery) that wait for a step that never comes."""

    class _Hangs(AsyncTestCase):
        async def test_step_2_never_started(self) -> None:
            seq = Sequencer()

            async def worker() -> None:
                async with seq(3):
                    pass

            task = asyncio.create_task(worker(), name="worker")
            async with seq(0):
                pass
            async with seq(1):
                pass
            await task

        async def test_step_2_is_itself_waiting(self) -> None:
            seq = Sequencer()

            async def worker(step: int) -> None:
                async with seq(step):
                    pass

            second = asyncio.create_task(worker(2), name="second")
            third = asyncio.create_task(worker(3), name="third")
            await asyncio.gather(second, third)

        async def test_step_2_started_and_is_stuck(self) -> None:
            seq = Sequencer()
            never = asyncio.Event()

            async def stuck() -> None:
                async with seq(0):
                    await never.wait()

            async def after() -> None:
                async with seq(1):
                    pass

            await asyncio.gather(asyncio.create_task(stuck(), name="stuck"), asyncio.create_task(after(), name="after"))
    return _Hangs


class SequencerDeadlockReportTest(unittest.TestCase):
    def test_report_names_the_step_a_task_waits_for_and_that_the_step_before_never_started(self) -> None:
        result = run_tests(_hanging_case(), "test_step_2_never_started")
        text = failure_of(self, result, "test_step_2_never_started")
        self.assertIn(DeadlockError.__name__, text)
        self.assertRegex(text, r"task 'worker' \(worker\(\)\)\n.*created at.*\n\s+suspended at \S*test_sequencer\.py:"
                               r"\d+ in worker: async with seq\(3\):  \(awaiting Sequencer step 3; step 2 never started\)")

    def test_report_says_when_the_step_before_is_itself_waiting(self) -> None:
        result = run_tests(_hanging_case(), "test_step_2_is_itself_waiting")
        text = failure_of(self, result, "test_step_2_is_itself_waiting")
        self.assertIn("async with seq(step):  (awaiting Sequencer step 2; step 1 never started)", text)
        self.assertIn("async with seq(step):  (awaiting Sequencer step 3; step 2 has not started: it waits for step 1)",
                      text)

    def test_report_names_where_the_unfinished_step_before_started(self) -> None:
        result = run_tests(_hanging_case(), "test_step_2_started_and_is_stuck")
        text = failure_of(self, result, "test_step_2_started_and_is_stuck")
        self.assertRegex(text, r"await never\.wait\(\)  \(awaiting Event\.wait\(\)\)")
        self.assertRegex(text, r"async with seq\(1\):  \(awaiting Sequencer step 1; step 0 started at "
                               r"\S*test_sequencer\.py:\d+ in stuck and has not finished\)")


if __name__ == "__main__":
    unittest.main()
