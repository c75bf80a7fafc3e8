"""``self.trace``: querying the timeline from a test (filters, misuse, trace off)."""

from __future__ import annotations

import asyncio
import threading
import unittest

import asynctestkit
from asynctestkit.trace import Trace, TracedTask

from ._trace_support import only_failure, run_case


def _shop_case() -> type[asynctestkit.AsyncTestCase]:
    """A test case (made here, so that discovery does not collect it) about a consumer fed by a producer."""

    class _Shop(asynctestkit.AsyncTestCase):
        """A consumer waits on a queue fed by a producer; a watchdog times out if nothing comes."""

        trace_mode = "full"

        async def _scenario(self, produce_after: float) -> asyncio.Task[object]:
            queue: asyncio.Queue[str] = asyncio.Queue()

            async def producer() -> None:
                await asyncio.sleep(produce_after)
                await queue.put("bread")

            async def consumer() -> object:
                try:
                    return await asyncio.wait_for(queue.get(), timeout=5)
                except asyncio.TimeoutError:
                    return None

            consumer_task = asyncio.create_task(consumer(), name="consumer")
            producer_task = asyncio.create_task(producer(), name="producer")
            await asyncio.gather(consumer_task, producer_task)
            return consumer_task

        async def test_consumer_never_woken_by_a_timer(self) -> None:
            consumer = await self._scenario(produce_after=1)
            causes = [e.cause for e in self.trace.events(task=consumer, kind="wake")]
            self.assertNotIn("timer", causes)

        async def test_consumer_never_woken_by_a_timer_but_the_producer_is_late(self) -> None:
            consumer = await self._scenario(produce_after=10)
            causes = [e.cause for e in self.trace.events(task=consumer, kind="wake")]
            self.assertNotIn("timer", causes)

    return _Shop


class QueryTest(asynctestkit.AsyncTestCase):
    trace_mode = "full"

    async def test_the_trace_is_a_trace_in_full_mode(self) -> None:
        self.assertIsInstance(self.trace, Trace)
        self.assertEqual((self.trace.mode, self.trace.size, self.trace.dropped), ("full", None, 0))

    async def test_filters_by_task_object_name_and_record_give_the_same_events(self) -> None:
        task = asyncio.create_task(asyncio.sleep(2), name="napper")
        await task
        by_object = self.trace.events(task=task)
        self.assertEqual([e.kind for e in by_object], ["created", "run", "timer", "suspend", "wake", "run", "done"])
        self.assertEqual(self.trace.events(task="napper"), by_object)
        record = by_object[0].task
        self.assertIsInstance(record, TracedTask)
        assert record is not None
        self.assertEqual(self.trace.events(task=record), by_object)
        self.assertEqual(str(record), "task 'napper' (sleep())")
        self.assertIn(record, self.trace.tasks())

    async def test_filters_by_kind_and_virtual_time_range(self) -> None:
        for _ in range(3):
            await asyncio.sleep(10)
        jumps = self.trace.events(kind="jump")
        self.assertEqual([e.time for e in jumps], [10.0, 20.0, 30.0])
        self.assertEqual([e.time for e in self.trace.events(kind="jump", start=15, end=25)], [20.0])
        self.assertEqual({e.kind for e in self.trace.events(kind=("jump", "fire"))}, {"jump", "fire"})
        self.assertTrue(all(e.real_time >= 0 for e in self.trace.events()))

    async def test_timeline_text_ends_with_the_last_events_one_per_line(self) -> None:
        await asyncio.sleep(4)
        lines = self.trace.timeline(last=3).splitlines()
        self.assertRegex(lines[0], r"^timeline \(asynctestkit\.trace: last 3 of \d+ events; virtual t, task, event\):$")
        self.assertEqual(len(lines), 4)
        self.assertRegex(lines[-1], r"^  t=4\.000s  'Task-\d+' +wake +woken by timer \(sleep until t=4\.000s\)$")

    async def test_an_unknown_kind_is_refused_listing_the_kinds(self) -> None:
        with self.assertRaisesRegex(ValueError, r"Trace.events\(\) argument 'kind' got unknown kind 'woken'; the "
                                                r"kinds are created, run, suspend, wake, cancel, done"):
            self.trace.events(kind="woken")
        with self.assertRaisesRegex(TypeError, r"argument 'kind' must be a kind name or a list of them, got int"):
            self.trace.events(kind=3)  # type: ignore[arg-type]

    async def test_a_task_filter_of_the_wrong_type_or_a_foreign_task_is_refused(self) -> None:
        with self.assertRaisesRegex(TypeError, r"argument 'task' must be an asyncio.Task, a TracedTask or a task "
                                               r"name, got int: 3"):
            self.trace.events(task=3)
        with self.assertRaisesRegex(TypeError, r"argument 'start' must be a virtual time in seconds, got str"):
            self.trace.events(start="1")  # type: ignore[arg-type]
        box: list[asyncio.Task[None]] = []

        def elsewhere() -> None:  # a task of another loop, run to its end in another thread
            other = asyncio.new_event_loop()
            try:
                box.append(other.create_task(asyncio.sleep(0), name="foreign"))
                other.run_until_complete(box[0])
            finally:
                other.close()

        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        with self.assertRaisesRegex(ValueError, r"'foreign' never ran on the traced loop"):
            self.trace.events(task=box[0])


class QueryOutcomeTest(unittest.TestCase):
    def test_a_scheduling_assertion_passes_when_the_fact_holds(self) -> None:
        result = run_case(_shop_case(), "test_consumer_never_woken_by_a_timer")
        self.assertEqual(result.failures + result.errors, [])

    def test_a_scheduling_assertion_fails_when_a_timeout_woke_the_task(self) -> None:
        text = only_failure(self, run_case(_shop_case(), "test_consumer_never_woken_by_a_timer_but_the_producer_is_late"))
        self.assertRegex(text, r"AssertionError: 'timer' unexpectedly found in \['timer'(, 'callback')?\]")  # 3.10: wait_for's own task

    def test_self_trace_without_tracing_says_how_to_turn_it_on(self) -> None:
        class Untraced(asynctestkit.AsyncTestCase):
            async def test_reads_trace(self) -> None:
                self.trace.events()

        text = only_failure(self, run_case(Untraced, "test_reads_trace"))
        self.assertIn("RuntimeError: self.trace: Untraced records no timeline; turn it on with trace_mode = 'ring' "
                      "(or 'full') on the class, or ASYNCTESTKIT_TRACE=1 in the environment", text)

    def test_the_environment_variable_turns_tracing_on_for_an_untraced_class(self) -> None:
        seen: list[str] = []

        class Untraced(asynctestkit.AsyncTestCase):
            async def test_reads_trace(self) -> None:
                seen.append(self.trace.mode)

        result = run_case(Untraced, "test_reads_trace", env="1")
        self.assertEqual(result.failures + result.errors, [])
        self.assertEqual(seen, ["ring"])


if __name__ == "__main__":
    unittest.main()
