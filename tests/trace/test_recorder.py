"""What the recorder sees on a traced loop: creation, wake-ups and their causes, cancellations, outcomes, time."""

from __future__ import annotations

import asyncio
import gc
import socket
import sys
import threading
import time
import unittest
import weakref
from typing import Any

from asynctestkit import VirtualClockLoop
from asynctestkit.trace import TraceEvent, record_timeline

from ._trace_support import run_traced


def _about(events: list[TraceEvent], name: str, kind: str) -> list[TraceEvent]:
    return [e for e in events if e.task is not None and e.task.name == name and e.kind == kind]


class CreationAndStepsTest(unittest.TestCase):
    def test_created_event_names_the_creating_task_and_the_line(self) -> None:
        async def child() -> None:
            await asyncio.sleep(1)

        async def main() -> None:
            await asyncio.create_task(child(), name="child")

        trace, _ = run_traced(main)
        (created,) = _about(trace.events(), "child", "created")
        self.assertIsNotNone(created.by)
        assert created.by is not None
        self.assertEqual(created.by.coroutine, "main")
        self.assertIsNotNone(created.site)
        assert created.site is not None
        self.assertTrue(created.site[0].endswith("test_recorder.py"))
        self.assertEqual(created.site[2], "main")

    def test_each_step_runs_then_suspends_on_what_it_awaits_with_its_line(self) -> None:
        async def main() -> None:
            event = asyncio.Event()
            asyncio.get_running_loop().call_later(5, event.set)
            await event.wait()
            await asyncio.sleep(2)

        trace, _ = run_traced(main)
        main_events = [e for e in trace.events() if e.task is not None and e.task.coroutine == "main"
                       and e.kind != "timer"]
        kinds = [e.kind for e in main_events]
        self.assertEqual(kinds, ["created", "run", "suspend", "wake", "run", "suspend", "wake", "run", "done"])
        suspends = [e for e in main_events if e.kind == "suspend"]
        self.assertEqual(suspends[0].detail, "waits on Event.wait()")
        self.assertEqual(suspends[1].detail, "waits on sleep until t=7.000s")
        self.assertEqual([s.site[2] for s in suspends if s.site], ["main", "main"])
        self.assertEqual(main_events[-1].detail, "returned None")

    def test_finished_events_say_returned_raised_or_cancelled(self) -> None:
        async def ok() -> int:
            return 42

        async def bad() -> None:
            raise KeyError("missing")

        async def main() -> None:
            tasks = [asyncio.create_task(ok(), name="ok"), asyncio.create_task(bad(), name="bad"),
                     asyncio.create_task(asyncio.sleep(9), name="slow")]
            await asyncio.sleep(0)
            tasks[2].cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        trace, _ = run_traced(main)
        done = {e.task.name: e.detail for e in trace.events(kind="done") if e.task is not None}
        self.assertEqual(done["ok"], "returned 42")
        self.assertEqual(done["bad"], "raised KeyError: 'missing'")
        self.assertEqual(done["slow"], "cancelled")

    def test_recording_an_outcome_leaves_an_unretrieved_exception_unretrieved(self) -> None:
        # No false negative for the leak checker: reading the outcome must not mark the exception retrieved.
        contexts: list[dict[str, Any]] = []

        async def bad() -> None:
            raise ValueError("lost")

        async def main() -> None:
            asyncio.get_running_loop().set_exception_handler(lambda _loop, context: contexts.append(context))
            asyncio.create_task(bad(), name="bad")
            await asyncio.sleep(1)
            gc.collect()

        trace, _ = run_traced(main)
        self.assertEqual([e.detail for e in trace.events(kind="done", task="bad")], ["raised ValueError: lost"])
        self.assertEqual([c["message"] for c in contexts], ["Task exception was never retrieved"])


class WakeCausesTest(unittest.TestCase):
    def test_a_sleep_is_woken_by_a_timer_with_its_deadline(self) -> None:
        async def main() -> None:
            await asyncio.sleep(3)

        trace, _ = run_traced(main)
        (wake,) = [e for e in trace.events(kind="wake") if e.cause != "loop"]
        self.assertEqual((wake.cause, wake.detail, wake.time), ("timer", "woken by timer (sleep until t=3.000s)", 3.0))

    def test_an_event_set_by_another_task_names_that_task(self) -> None:
        async def main() -> None:
            event = asyncio.Event()

            async def setter() -> None:
                await asyncio.sleep(1)
                event.set()

            task = asyncio.create_task(setter(), name="setter")
            await event.wait()
            await task

        trace, _ = run_traced(main)
        wakes = [e for e in trace.events(kind="wake") if e.task is not None and e.task.coroutine == "main"]
        self.assertEqual(wakes[0].cause, "task")
        assert wakes[0].by is not None
        self.assertEqual(wakes[0].by.name, "setter")
        self.assertEqual(wakes[0].detail, "woken by task 'setter' (setter())")
        assert wakes[0].site is not None
        self.assertEqual(wakes[0].site[2], "setter")  # the line of event.set()

    def test_a_task_awaiting_another_is_woken_by_its_end(self) -> None:
        async def main() -> None:
            await asyncio.create_task(asyncio.sleep(1), name="napper")

        trace, _ = run_traced(main)
        wakes = [e for e in trace.events(kind="wake") if e.task is not None and e.task.coroutine == "main"]
        self.assertEqual([(e.detail, e.site) for e in wakes], [("woken by task 'napper' (sleep()) finishing", None)])

    def test_a_thread_waking_the_loop_with_call_soon_threadsafe_is_cause_thread(self) -> None:
        async def main() -> None:
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            thread = threading.Thread(target=lambda: loop.call_soon_threadsafe(fut.set_result, 1), name="feeder")
            thread.start()
            await fut
            thread.join()

        trace, _ = run_traced(main)
        causes = [e.cause for e in trace.events(kind="wake") if e.task is not None and e.task.coroutine == "main"]
        self.assertIn("thread", causes)

    def test_data_arriving_on_a_socket_is_cause_io(self) -> None:
        async def main() -> bytes:
            loop = asyncio.get_running_loop()
            left, right = socket.socketpair()
            left.setblocking(False)
            right.setblocking(False)
            try:
                loop.call_later(1, right.send, b"x")
                return await loop.sock_recv(left, 1)
            finally:
                left.close()
                right.close()

        trace, data = run_traced(main)
        self.assertEqual(data, b"x")
        causes = [e.cause for e in trace.events(kind="wake") if e.task is not None and e.task.coroutine == "main"]
        self.assertEqual(causes[-1], "io")

    def test_cancel_names_the_cancelling_task_and_the_line_of_the_call(self) -> None:
        async def main() -> None:
            victim = asyncio.create_task(asyncio.sleep(60), name="victim")
            await asyncio.sleep(1)
            victim.cancel()
            await asyncio.gather(victim, return_exceptions=True)

        trace, _ = run_traced(main)
        (cancel,) = trace.events(kind="cancel", task="victim")
        self.assertEqual(cancel.time, 1.0)
        assert cancel.by is not None and cancel.site is not None
        self.assertEqual(cancel.by.coroutine, "main")
        self.assertEqual(cancel.detail, f"cancel() called by task {cancel.by.name!r}")
        self.assertTrue(cancel.site[0].endswith("test_recorder.py"))


    def test_cancel_of_a_task_ready_to_run_names_the_cancelling_task_and_the_line_of_the_call(self) -> None:
        async def work() -> None:
            await asyncio.sleep(60)

        async def main() -> None:
            victim = asyncio.create_task(work(), name="victim")  # ready: its first step is scheduled
            victim.cancel()
            await asyncio.gather(victim, return_exceptions=True)

        trace, _ = run_traced(main)
        (cancel,) = trace.events(kind="cancel", task="victim")
        assert cancel.by is not None and cancel.site is not None
        self.assertEqual(cancel.detail, f"cancel() called by task {cancel.by.name!r} (the task was ready to run)")
        self.assertTrue(cancel.site[0].endswith("test_recorder.py"))
        self.assertEqual(cancel.site[2], "main")
        self.assertEqual([e.detail for e in trace.events(kind="done", task="victim")], ["cancelled"])

    def test_recorded_tasks_keep_asyncios_names_and_messages(self) -> None:
        async def main() -> str:
            task = asyncio.create_task(asyncio.sleep(0), name="named")
            await task
            return repr(task)

        _trace, text = run_traced(main)
        self.assertTrue(text.startswith("<Task finished name='named'"), text)

    def test_a_cancel_from_outside_the_running_loop_is_recorded_without_a_task(self) -> None:
        loop = VirtualClockLoop()
        try:
            trace = record_timeline(loop, "full")
            task = loop.create_task(asyncio.sleep(60), name="left-over")
            loop.run_until_complete(asyncio.sleep(1))
            task.cancel()  # as asyncio.Runner.close() does with the tasks left over
            loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
        finally:
            loop.close()
        (cancel,) = trace.events(kind="cancel", task="left-over")
        self.assertEqual((cancel.detail, cancel.by), ("cancel() called by code outside any task", None))
        assert cancel.site is not None
        self.assertTrue(cancel.site[0].endswith("test_recorder.py"))


class ClockEventsTest(unittest.TestCase):
    def test_a_jump_of_the_clock_is_recorded_with_its_size(self) -> None:
        async def main() -> None:
            await asyncio.sleep(3600)

        trace, _ = run_traced(main)
        (jump,) = trace.events(kind="jump")
        self.assertEqual((jump.time, jump.detail), (3600.0, "clock jumped +3600s (from t=0.000s)"))

    def test_real_work_holding_time_is_recorded_with_what_was_in_flight(self) -> None:
        async def main() -> None:
            await asyncio.get_running_loop().run_in_executor(None, time.sleep, 0.05)
            await asyncio.sleep(1)

        trace, _ = run_traced(main)
        kinds = [e.kind for e in trace.events(kind=["work", "hold", "release"])]
        self.assertEqual(kinds, ["work", "hold", "release"])
        (work,) = trace.events(kind="work")
        self.assertEqual(work.detail, "executor job sleep() started")
        assert work.site is not None
        self.assertEqual(work.site[2], "main")

    def test_a_hold_names_the_real_work_in_flight_a_subprocess_and_a_thread_too(self) -> None:
        async def with_subprocess() -> None:
            proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "import time; time.sleep(0.05)")
            await proc.wait()

        async def with_thread() -> None:
            done = asyncio.Event()
            loop = asyncio.get_running_loop()
            worker = threading.Thread(target=lambda: (time.sleep(0.05), loop.call_soon_threadsafe(done.set)),
                                      name="feeder")
            worker.start()
            await done.wait()
            worker.join()

        for main, what in ((with_subprocess, "subprocess"), (with_thread, "thread 'feeder'")):
            with self.subTest(what):
                trace, _ = run_traced(main)
                holds = trace.events(kind="hold")
                self.assertTrue(holds, [str(e) for e in trace.events()])
                self.assertIn("virtual time follows real time while in flight: ", holds[0].detail)
                self.assertIn(what, holds[0].detail)

    def test_timers_scheduled_and_fired_are_recorded(self) -> None:
        def tick() -> None:
            pass

        async def main() -> None:
            asyncio.get_running_loop().call_later(2, tick)
            await asyncio.sleep(5)

        trace, _ = run_traced(main)
        scheduled = [e.detail for e in trace.events(kind="timer")]
        self.assertIn("timer at t=2.000s: calls tick()", scheduled)
        self.assertIn("timer at t=5.000s: sleep", scheduled)
        fired = [(e.time, e.detail) for e in trace.events(kind="fire")]
        self.assertEqual(fired, [(2.0, "timer fired: tick()"), (5.0, "timer fired: a sleep ends")])


class BufferAndFootprintTest(unittest.TestCase):
    def test_ring_mode_keeps_the_last_events_and_counts_the_dropped_ones(self) -> None:
        loop = VirtualClockLoop()
        try:
            trace = record_timeline(loop, "ring", size=10)

            async def main() -> None:
                for _ in range(20):
                    await asyncio.sleep(1)

            loop.run_until_complete(main())
        finally:
            loop.close()
        self.assertEqual(len(trace), 10)
        self.assertGreater(trace.dropped, 0)
        self.assertEqual(trace.events()[-1].kind, "done")
        self.assertIn("older events dropped from the ring buffer", trace.timeline())

    def test_a_finished_task_is_freed_although_the_timeline_remembers_it(self) -> None:
        refs: list[weakref.ref[asyncio.Task[Any]]] = []

        async def main() -> None:
            task = asyncio.create_task(asyncio.sleep(1), name="short-lived")
            refs.append(weakref.ref(task))
            await task

        trace, _ = run_traced(main)
        gc.collect()
        self.assertIsNone(refs[0]())
        self.assertEqual(trace.events(kind="done", task="short-lived")[0].detail, "returned None")

    def test_an_untraced_loop_keeps_its_class_and_has_no_tracer(self) -> None:
        loop = VirtualClockLoop()
        try:
            self.assertIs(type(loop), VirtualClockLoop)
            self.assertFalse(hasattr(loop, "_atk_tracer"))
            record_timeline(loop, "ring")
            self.assertIsNot(type(loop), VirtualClockLoop)
            self.assertIsInstance(loop, VirtualClockLoop)
            self.assertEqual(type(loop).__name__, "VirtualClockLoop")
        finally:
            loop.close()

    def test_a_plain_selector_loop_can_be_traced_on_real_time(self) -> None:
        loop = asyncio.SelectorEventLoop()
        try:
            trace = record_timeline(loop, "full")
            loop.run_until_complete(asyncio.sleep(0.01))
        finally:
            loop.close()
        self.assertEqual(trace.events(kind="jump"), [])  # real time flows: no jumps
        self.assertEqual([e.kind for e in trace.events(kind="done")], ["done"])


class MisuseTest(unittest.TestCase):
    def test_a_mode_other_than_ring_or_full_is_refused_naming_the_argument(self) -> None:
        loop = VirtualClockLoop()
        try:
            with self.assertRaisesRegex(ValueError, r"record_timeline\(\) argument 'mode' must be 'ring', 'full' "
                                                    r"or None \(off\), got 'everything'"):
                record_timeline(loop, "everything")
            with self.assertRaisesRegex(TypeError, r"argument 'size' must be a number of events >= 1, got '5'"):
                record_timeline(loop, "ring", size="5")  # type: ignore[arg-type]
            with self.assertRaisesRegex(ValueError, r"argument 'size' must be a number of events >= 1, got 0"):
                record_timeline(loop, "ring", size=0)
        finally:
            loop.close()

    def test_tracing_a_loop_twice_or_a_closed_loop_is_refused(self) -> None:
        loop = VirtualClockLoop()
        record_timeline(loop)
        with self.assertRaisesRegex(RuntimeError, "already records a timeline"):
            record_timeline(loop)
        loop.close()
        other = VirtualClockLoop()
        other.close()
        with self.assertRaisesRegex(RuntimeError, "before it runs"):
            record_timeline(other)


if __name__ == "__main__":
    unittest.main()


class GarbageTest(unittest.TestCase):
    def test_a_traced_test_leaves_nothing_for_the_cyclic_collector(self) -> None:
        import asynctestkit

        loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

        class Traced(asynctestkit.AsyncTestCase):
            trace_mode = "full"

            async def test_trivial(self) -> None:
                loops.append(weakref.ref(asyncio.get_running_loop()))
                worker = asyncio.create_task(asyncio.sleep(1), name="worker")
                await worker
                self.assertTrue(self.trace.events(task=worker))

        gc.collect()
        gc.disable()
        try:
            result = unittest.TestResult()
            case = Traced("test_trivial")
            case.run(result)
            self.assertEqual(result.failures + result.errors, [])
            del case
            self.assertIsNone(loops[0](), "the traced loop was not freed by reference counting")
            self.assertEqual(gc.collect(), 0, "a traced test left cyclic garbage")
        finally:
            gc.enable()
