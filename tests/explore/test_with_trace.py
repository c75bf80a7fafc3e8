"""Exploration with the task timeline on (asynctestkit/explore with asynctestkit/trace): the two class swaps
compose in either order, a seed makes the same decisions with tracing on and off, the timeline records the
seeded run as it happened, nothing is left for the garbage collector or the leak check, and a traced test is
explored and replayed like any other."""

from __future__ import annotations

import ast
import asyncio
import gc
import os
import re
import unittest
import weakref
from typing import Any
from unittest import mock

from asynctestkit import AsyncTestCase, VirtualClockLoop, explore, record_timeline, replay_schedule
from asynctestkit.explore import Schedule
from asynctestkit.explore._ready import ScheduleRun
from asynctestkit.explore._runner import run_once

from ._explore_support import two_deposits


def run(case: unittest.TestCase) -> unittest.TestResult:
    result = unittest.TestResult()
    case.run(result)
    return result


async def two_sleepers(order: list[str]) -> None:
    async def sleeper(name: str) -> None:
        await asyncio.sleep(1)
        order.append(name)

    await asyncio.gather(asyncio.create_task(sleeper("a"), name="a"), asyncio.create_task(sleeper("b"), name="b"))


def _shape(decisions: list[Any]) -> list[tuple[str, int, int, str, str]]:
    """A decision without its task numbers ('Task-12' differs from run to run, the rest must not)."""
    def strip(text: str) -> str:
        return re.sub(r"'Task-\d+'", "'Task-N'", text)
    return [(d.kind, d.point, d.choice, strip(d.ran), strip(d.instead_of)) for d in decisions]


class ClassSwapsComposeTest(unittest.TestCase):
    """The timeline's traced loop class and the schedule's class, on one loop, in both orders."""

    def _run(self, trace_first: bool) -> tuple[list[str], Any, ScheduleRun, type]:
        loop = VirtualClockLoop()
        schedule = ScheduleRun(Schedule.script({0: 1}))
        try:
            if trace_first:
                trace = record_timeline(loop, "full")
                schedule.install(loop)
            else:
                schedule.install(loop)
                trace = record_timeline(loop, "full")
            order: list[str] = []
            loop.run_until_complete(two_sleepers(order))
            return order, trace, schedule, type(loop)
        finally:
            loop.close()

    def test_trace_then_schedule_and_schedule_then_trace_both_reorder_and_record(self) -> None:
        for trace_first in (True, False):
            with self.subTest(trace_first=trace_first):
                order, trace, schedule, _cls = self._run(trace_first)
                self.assertEqual(order, ["b", "a"])  # decision 0: 'b' woke before 'a'
                self.assertEqual([(d.point, d.choice) for d in schedule.decisions], [(0, 1)])
                self.assertTrue(schedule.decisions[0].ran.startswith("timer "))  # two timers due together
                kinds = [event.kind for event in trace.events()]
                self.assertNotIn("hold", kinds)  # no real work: virtual time never followed real time
                self.assertEqual([e.detail for e in trace.events(kind="jump")], ["clock jumped +1s (from t=0.000s)"])
                done = [e.task.name for e in trace.events(kind="done") if e.task.name in ("a", "b")]
                self.assertEqual(done, ["b", "a"])  # the timeline shows the order the schedule chose

    def test_both_orders_record_the_same_timeline(self) -> None:
        def lines(trace: Any) -> list[str]:
            return [re.sub(r"'Task-\d+'", "'Task-N'", f"{e.time:.3f} {e.kind} {e.detail}") for e in trace.events()]

        self.assertEqual(lines(self._run(True)[1]), lines(self._run(False)[1]))

    def test_a_jittered_timer_is_recorded_at_the_deadline_the_loop_uses(self) -> None:
        for trace_first in (True, False):
            with self.subTest(trace_first=trace_first):
                loop = VirtualClockLoop()
                schedule = ScheduleRun(Schedule.script({}, {0: 0.5}))  # timer 0 fires 0.5 s late
                try:
                    if trace_first:
                        trace = record_timeline(loop, "full")
                        schedule.install(loop)
                    else:
                        schedule.install(loop)
                        trace = record_timeline(loop, "full")
                    loop.run_until_complete(asyncio.sleep(1))
                finally:
                    loop.close()
                wake = trace.events(kind="wake")[-1]
                self.assertEqual(wake.detail, "woken by timer (sleep until t=1.500s)")
                self.assertEqual(wake.time, 1.5)
                self.assertEqual(trace.events(kind="timer")[0].detail, "timer at t=1.500s: sleep")


class SameSeedSameInterleavingTest(unittest.TestCase):
    def _decisions(self, cls: type[AsyncTestCase], seed: int) -> Any:
        attempt = run_once(lambda: cls("test_it"), Schedule.seeded("random", seed))
        return _shape(attempt.decisions), attempt.points, attempt.failure is None

    def test_a_seed_makes_the_same_decisions_with_tracing_on_and_off(self) -> None:
        class Plain(AsyncTestCase):
            async def test_it(self) -> None:
                await two_deposits(2, 3)

        class Ring(Plain):
            trace_mode = "ring"

        class Full(Plain):
            trace_mode = "full"

        departed = 0
        for seed in range(1, 31):
            with self.subTest(seed=seed):
                off = self._decisions(Plain, seed)
                departed += bool(off[0])
                self.assertEqual(self._decisions(Ring, seed), off)
                self.assertEqual(self._decisions(Full, seed), off)
                with mock.patch.dict(os.environ, {"ASYNCTESTKIT_TRACE": "1"}):
                    self.assertEqual(self._decisions(Plain, seed), off)
        self.assertGreater(departed, 20)  # the comparison is about real departures, not 30 FIFO runs

    def test_the_traced_run_is_what_the_test_saw(self) -> None:
        seen: list[tuple[list[str], list[str]]] = []

        class Case(AsyncTestCase):
            trace_mode = "full"

            @replay_schedule(departures={0: 1})
            async def test_it(self) -> None:
                order: list[str] = []
                await two_sleepers(order)
                finished = [e.task.name for e in self.trace.events(kind="done") if e.task.name in ("a", "b")]
                seen.append((order, finished))

        result = run(Case("test_it"))
        self.assertEqual(result.failures + result.errors, [])
        self.assertEqual(seen, [(["b", "a"], ["b", "a"])])


class NoGarbageNoLeakTest(unittest.TestCase):
    def test_an_explored_traced_test_leaves_no_cyclic_garbage_and_no_leak_report(self) -> None:
        loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

        class Case(AsyncTestCase):
            trace_mode = "ring"

            @explore(schedules=25, strategy="pct")
            async def test_it(self) -> None:
                loops.append(weakref.ref(asyncio.get_running_loop()))
                lock = asyncio.Lock()

                async def add() -> None:
                    async with lock:
                        await asyncio.sleep(0.1)

                await asyncio.gather(*(asyncio.create_task(add()) for _ in range(3)))
                self.assertTrue(self.trace.events(kind="jump"))

        gc.collect()
        gc.disable()
        try:
            case = Case("test_it")
            result = run(case)
            self.assertEqual(result.failures + result.errors, [])
            self.assertEqual(result.testsRun, 1)
            del case
            self.assertEqual(len(loops), 26)
            self.assertEqual([ref for ref in loops if ref() is not None], [], "a loop was not freed")
            self.assertEqual(gc.collect(), 0, "an explored traced test left cyclic garbage")
        finally:
            gc.enable()


class TracedTestExploredTest(unittest.TestCase):
    def test_a_race_is_found_and_replayed_with_tracing_on_by_class_or_environment(self) -> None:
        class Explored(AsyncTestCase):
            trace_mode = "ring"

            @explore(schedules=50)
            async def test_it(self) -> None:
                self.assertEqual(await two_deposits(), 30)

        class ByEnv(AsyncTestCase):
            @explore(schedules=50)
            async def test_it(self) -> None:
                self.assertEqual(await two_deposits(), 30)

        with mock.patch.dict(os.environ, {"ASYNCTESTKIT_TRACE": "1"}):
            by_env = run(ByEnv("test_it")).failures[0][1]
        by_class = run(Explored("test_it")).failures[0][1]
        for report in (by_class, by_env):
            self.assertRegex(report, r"failed under schedule \d+ of 50")
            line = re.search(r"replay_schedule\(departures=(\{[^}]*\})\)", report)
            assert line is not None
            departures = ast.literal_eval(line.group(1))

            class Replayed(AsyncTestCase):
                trace_mode = "full"

                @replay_schedule(departures=departures)
                async def test_it(self) -> None:
                    self.assertEqual(await two_deposits(), 30)

            replayed = run(Replayed("test_it")).failures[0][1]
            self.assertIn("failed under the replayed schedule", replayed)
            self.assertTrue(replayed.rstrip().endswith("AssertionError: 20 != 30"), replayed)

    def test_a_real_time_test_is_explored_with_its_timeline_and_times_counted_from_its_start(self) -> None:
        class Case(AsyncTestCase):
            virtual_clock = False
            trace_mode = "ring"

            @explore(schedules=50)
            async def test_it(self) -> None:
                self.assertEqual(await two_deposits(), 30)

        report = run(Case("test_it")).failures[0][1]
        at = re.search(r"decision \d+ at virtual t=(\d+\.\d+)s", report)
        assert at is not None, report
        self.assertLess(float(at.group(1)), 5.0)  # not the machine's monotonic clock reading
        self.assertIn("\n  timeline (asynctestkit.trace: last ", report)

    def test_the_explore_command_reports_the_same_with_tracing_on(self) -> None:
        from asynctestkit.explore._cli import main

        with mock.patch.dict(os.environ, {"ASYNCTESTKIT_TRACE": "full"}):
            import io

            out = io.StringIO()
            status = main(["tests.explore._explore_support.Racy.test_lost_update", "--schedules", "20"], out)
        self.assertEqual(status, 1)
        self.assertIn("first failing seed: ", out.getvalue())
        self.assertIn("  timeline (asynctestkit.trace: ", out.getvalue())


if __name__ == "__main__":
    unittest.main()
