"""The loop under a schedule (asynctestkit/explore/_ready.py, _schedule.py): which orders it explores, which it
keeps, jitter, determinism (same seed, same interleaving: 100 of 100 runs), and nothing at all without a seed."""

from __future__ import annotations

import asyncio
import collections
import gc
import socket
import unittest
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import asynctestkit
from asynctestkit import _compat
from asynctestkit.clock import VirtualClockLoop
from asynctestkit.explore import Decision, Schedule
from asynctestkit.explore._ready import ScheduleRun

Body = Callable[[list[Any]], Awaitable[None]]


def run_under(schedule: Schedule | None, body: Body) -> tuple[list[Any], ScheduleRun | None, float]:
    """Run *body(trace)* on a fresh VirtualClockLoop under *schedule* (None: no schedule at all)."""
    loop = VirtualClockLoop()
    run = None
    if schedule is not None:
        run = ScheduleRun(schedule)
        run.install(loop)
    trace: list[Any] = []
    try:
        loop.run_until_complete(body(trace))
        return trace, run, loop.clock.elapsed()
    finally:
        loop.close()


async def three_workers(trace: list[Any]) -> None:
    async def worker(name: str) -> None:
        for step in range(3):
            trace.append((name, step))
            await asyncio.sleep(0)

    await asyncio.gather(*(worker(name) for name in "abc"))


def comparable(decisions: list[Decision]) -> list[tuple[Any, ...]]:
    """A decision without task names (asyncio numbers tasks process-wide: Task-12 in one run is Task-40 later)."""
    return [(d.kind, d.point, d.choice, d.at, d.extra) for d in decisions]


class WithoutASeedTest(unittest.TestCase):
    def test_a_loop_without_a_schedule_keeps_its_class_and_asyncio_s_own_ready_queue(self) -> None:
        loop = VirtualClockLoop()
        try:
            self.assertIs(type(loop), VirtualClockLoop)
            self.assertIs(type(_compat.ready_queue(loop)), collections.deque)
        finally:
            loop.close()

    def test_a_test_case_that_does_not_explore_runs_on_the_plain_loop(self) -> None:
        seen: list[type] = []

        class Case(asynctestkit.AsyncTestCase):
            async def test_it(self) -> None:
                loop = asyncio.get_running_loop()
                seen.extend([type(loop), type(_compat.ready_queue(loop))])

        self.assertNotIn("run", Case.__dict__)
        result = unittest.TestResult()
        Case("test_it").run(result)
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
        self.assertEqual(seen, [VirtualClockLoop, collections.deque])

    def test_the_fifo_schedule_runs_exactly_asyncio_s_order_and_decides_nothing(self) -> None:
        plain, _, _ = run_under(None, three_workers)
        fifo, run, _ = run_under(Schedule.fifo(), three_workers)
        self.assertEqual(plain, [(name, step) for step in range(3) for name in "abc"])
        self.assertEqual(fifo, plain)
        assert run is not None
        self.assertEqual(run.decisions, [])
        self.assertGreater(run.points, 0)  # there were choices; FIFO took candidate 0 at each


class SeededOrderTest(unittest.TestCase):
    def test_the_same_seed_gives_the_same_interleaving_in_100_of_100_runs_for_every_strategy(self) -> None:
        for schedule in (Schedule.seeded("random", 7), Schedule.seeded("pct", 7, depth=3, steps=10),
                         Schedule.seeded("random", 7, jitter=0.5)):
            with self.subTest(schedule.describe()):
                traces = set()
                decisions = set()

                async def body(trace: list[Any]) -> None:
                    await three_workers(trace)
                    await asyncio.gather(*(asyncio.sleep(1, result=trace.append(i)) for i in range(3)))
                    trace.append(asyncio.get_running_loop().time())

                for _ in range(100):
                    trace, run, _ = run_under(schedule, body)
                    assert run is not None
                    traces.add(tuple(trace))
                    decisions.add(tuple(comparable(run.decisions)))
                self.assertEqual(len(traces), 1, "the same seed gave different interleavings")
                self.assertEqual(len(decisions), 1, "the same seed recorded different decisions")
                self.assertNotEqual(decisions.pop(), (), "the seed never departed from FIFO")

    def test_different_seeds_explore_different_interleavings(self) -> None:
        for strategy in ("random", "pct"):
            with self.subTest(strategy):
                traces = {tuple(run_under(Schedule.seeded(strategy, seed, steps=8), three_workers)[0])
                          for seed in range(1, 31)}
                self.assertGreaterEqual(len(traces), 5)
                for trace in traces:  # every interleaving keeps each task's own steps in order
                    for name in "abc":
                        self.assertEqual([step for who, step in trace if who == name], [0, 1, 2])

    def test_a_departure_names_the_task_that_ran_and_the_one_fifo_would_have_run(self) -> None:
        async def body(trace: list[Any]) -> None:
            async def worker(name: str) -> None:
                await asyncio.sleep(0)  # created by one step, the tasks start in creation order; then free
                trace.append(name)

            await asyncio.gather(asyncio.create_task(worker("a"), name="first"),
                                 asyncio.create_task(worker("b"), name="second"))

        for seed in range(1, 50):
            trace, run, _ = run_under(Schedule.seeded("random", seed), body)
            assert run is not None
            if trace[0] == "b":
                decision = run.decisions[0]
                self.assertEqual(decision.kind, "order")
                self.assertEqual(decision.describe(), f"decision {decision.point} at virtual t=0.000s: ran task "
                                                      f"'second' (worker()) before task 'first' (worker())")
                return
        self.fail("no seed of 1-49 ran the second task first")

    def test_pct_with_depth_1_keeps_one_priority_order_for_the_whole_run(self) -> None:
        orders = set()
        for seed in range(1, 11):
            trace, _, _ = run_under(Schedule.seeded("pct", seed, depth=1, steps=10), three_workers)
            rounds = [tuple(name for name, step in trace if step == n) for n in range(3)]
            self.assertEqual(rounds[0], ("a", "b", "c"))  # first steps: in creation order (one step created all)
            self.assertEqual(rounds[1], rounds[2], f"seed {seed}: {trace}")
            orders.add(rounds[1])
        self.assertGreater(len(orders), 2)

    def test_what_one_callback_scheduled_runs_in_the_order_it_was_scheduled(self) -> None:
        # A future's done-callbacks and the wake-up of the task awaiting it are scheduled by one set_result():
        # asyncio's own socket methods rely on the callback running first (it removes the fd's writer).
        async def body(trace: list[Any]) -> None:
            loop = asyncio.get_running_loop()
            futures = [loop.create_future() for _ in range(3)]
            for index, fut in enumerate(futures):
                fut.add_done_callback(lambda f, index=index: trace.append(f"callback {index}"))

            async def waiter(index: int) -> None:
                await futures[index]
                trace.append(f"task {index}")

            tasks = [asyncio.ensure_future(waiter(index)) for index in range(3)]
            await asyncio.sleep(0)
            for fut in futures:
                loop.call_soon(fut.set_result, None)
            await asyncio.gather(*tasks)

        orders = set()
        for strategy in ("random", "pct"):
            for seed in range(1, 40):
                trace, _, _ = run_under(Schedule.seeded(strategy, seed, steps=6), body)
                for index in range(3):
                    self.assertLess(trace.index(f"callback {index}"), trace.index(f"task {index}"))
                orders.add(tuple(entry for entry in trace if entry.startswith("task")))
        self.assertGreater(len(orders), 1, "the three wake-ups always ran in FIFO order")

    def test_callbacks_scheduled_with_call_soon_keep_their_order_under_every_seed(self) -> None:
        async def body(trace: list[Any]) -> None:
            loop = asyncio.get_running_loop()
            for i in range(5):
                loop.call_soon(trace.append, i)
            await asyncio.gather(*(asyncio.sleep(0) for _ in range(3)))

        for strategy in ("random", "pct"):
            for seed in range(1, 40):
                trace, _, _ = run_under(Schedule.seeded(strategy, seed, steps=5), body)
                self.assertEqual(trace, [0, 1, 2, 3, 4], f"{strategy} seed {seed}")

    def test_timers_due_at_different_times_keep_deadline_order_and_ties_are_explored(self) -> None:
        async def body(trace: list[Any]) -> None:
            loop = asyncio.get_running_loop()
            for name, delay in (("late", 2.0), ("tie-1", 1.0), ("tie-2", 1.0), ("tie-3", 1.0)):
                loop.call_later(delay, trace.append, name)
            await asyncio.sleep(3)

        orders = set()
        for seed in range(1, 40):
            trace, _, _ = run_under(Schedule.seeded("random", seed), body)
            self.assertEqual(trace[-1], "late")
            orders.add(tuple(trace[:3]))
        self.assertGreater(len(orders), 1, "timers due at the same time always ran in FIFO order")

    def test_io_callbacks_delivered_together_are_explored_in_both_orders(self) -> None:
        async def body(trace: list[Any]) -> None:
            loop = asyncio.get_running_loop()
            pairs = [socket.socketpair() for _ in range(2)]
            done = loop.create_future()
            try:
                for index, (reader, _writer) in enumerate(pairs):
                    reader.setblocking(False)

                    def ready(index: int = index, reader: socket.socket = reader) -> None:
                        reader.recv(16)
                        loop.remove_reader(reader)
                        trace.append(index)
                        if len(trace) == 2:
                            done.set_result(None)

                    loop.add_reader(reader, ready)
                for _reader, writer in pairs:
                    writer.send(b"x")
                await done
            finally:
                for reader, writer in pairs:
                    reader.close()
                    writer.close()

        orders = {tuple(run_under(Schedule.seeded("random", seed), body)[0]) for seed in range(1, 30)}
        self.assertEqual(orders, {(0, 1), (1, 0)})


class JitterTest(unittest.TestCase):
    def test_jitter_makes_timers_fire_late_by_at_most_the_bound_and_never_early(self) -> None:
        async def body(trace: list[Any]) -> None:
            await asyncio.sleep(1)

        elapsed = set()
        for seed in range(1, 40):
            _, run, seconds = run_under(Schedule.seeded("random", seed, jitter=0.5), body)
            assert run is not None
            self.assertGreaterEqual(seconds, 1.0)
            self.assertLessEqual(seconds, 1.5)
            elapsed.add(seconds)
            delays = [d for d in run.decisions if d.kind == "delay"]
            self.assertEqual(len(delays), 1)
            self.assertAlmostEqual(delays[0].extra, seconds - 1.0)
            self.assertRegex(delays[0].describe(), r"^timer 0 \(.+\) armed at virtual t=0\.000s fired [\d.e-]+ s late$")
        self.assertGreater(len(elapsed), 30)

    def test_without_jitter_a_seeded_schedule_keeps_every_duration_exact(self) -> None:
        async def body(trace: list[Any]) -> None:
            await asyncio.sleep(1)
            await asyncio.wait_for(asyncio.sleep(2), timeout=5)

        for seed in range(1, 10):
            _, run, seconds = run_under(Schedule.seeded("pct", seed, steps=4), body)
            self.assertEqual(seconds, 3.0)

    def test_a_scripted_delay_replays_exactly(self) -> None:
        async def body(trace: list[Any]) -> None:
            await asyncio.sleep(1)
            await asyncio.sleep(1)

        _, _, seconds = run_under(Schedule.script({}, {1: 0.25}), body)
        self.assertEqual(seconds, 2.25)


class InstallTest(unittest.TestCase):
    def test_a_loop_already_under_a_schedule_refuses_a_second_one(self) -> None:
        loop = VirtualClockLoop()
        try:
            ScheduleRun(Schedule.fifo()).install(loop)
            with self.assertRaisesRegex(RuntimeError, "already runs under a schedule"):
                ScheduleRun(Schedule.fifo()).install(loop)
        finally:
            loop.close()

    def test_a_loop_under_a_schedule_is_freed_without_the_garbage_collector(self) -> None:
        for strategy in ("random", "pct"):
            with self.subTest(strategy):
                gc.collect()
                gc.disable()
                try:
                    loop = VirtualClockLoop()
                    run = ScheduleRun(Schedule.seeded(strategy, 3, steps=5, jitter=0.1))
                    run.install(loop)
                    trace: list[Any] = []
                    loop.run_until_complete(three_workers(trace))
                    loop.close()
                    ref = weakref.ref(loop)
                    del loop
                    self.assertIsNone(ref(), "the loop is kept alive by a reference cycle")
                    self.assertTrue(run.decisions or run.points)  # the run outlives its loop
                finally:
                    gc.enable()


class ScheduleValueTest(unittest.TestCase):
    def test_replay_lines_and_environment_values(self) -> None:
        self.assertEqual(Schedule.seeded("random", 17).replay_line(),
                         '@asynctestkit.replay_schedule(seed=17, strategy="random")')
        self.assertEqual(Schedule.seeded("pct", 5, depth=2, steps=40, jitter=0.1).replay_line(),
                         '@asynctestkit.replay_schedule(seed=5, strategy="pct", depth=2, steps=40, jitter=0.1)')
        self.assertEqual(Schedule.script({3: 1, 0: 2}, {4: 0.5}).replay_line(),
                         "@asynctestkit.replay_schedule(departures={0: 2, 3: 1}, delays={4: 0.5})")
        self.assertEqual(Schedule.seeded("random", 17).env_value("t.T.test_x"), "t.T.test_x:17")
        self.assertEqual(Schedule.seeded("pct", 5, steps=40).env_value("t.T.test_x"),
                         "t.T.test_x:5:pct:depth=3,steps=40")
        self.assertIsNone(Schedule.script({1: 1}).env_value("t.T.test_x"))

    def test_environment_values_parse_back_to_the_same_schedule(self) -> None:
        from asynctestkit.explore._schedule import parse_env

        for schedule in (Schedule.seeded("random", 17), Schedule.seeded("pct", 5, depth=2, steps=40, jitter=0.1),
                         Schedule.seeded("random", 0, jitter=1.5)):
            value = schedule.env_value("pkg.test_mod.T.test_x")
            assert value is not None
            self.assertEqual(parse_env(value), ("pkg.test_mod.T.test_x", schedule))

    def test_malformed_environment_values_name_the_variable_and_the_expected_shape(self) -> None:
        from asynctestkit.explore._schedule import parse_env

        for value in ("t.T.test_x", "t.T.test_x:seven", "t.T.test_x:1:chaos", "t.T.test_x:1:pct:depth=x",
                      "t.T.test_x:1:pct:colour=3", ":1"):
            with self.subTest(value), self.assertRaisesRegex(ValueError, "ASYNCTESTKIT_SCHEDULE"):
                parse_env(value)


if __name__ == "__main__":
    unittest.main()
