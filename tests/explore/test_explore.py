"""@explore, @replay_schedule, the class attributes and ASYNCTESTKIT_SCHEDULE (asynctestkit/explore/_unittest.py,
_runner.py): what a run does, what its failure says, shrinking, misuse, and no false failure."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import unittest
from typing import Any

import asynctestkit
from asynctestkit import AsyncTestCase, ScheduleError, explore, replay_schedule

from ._explore_support import two_deposits

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(case: unittest.TestCase) -> unittest.TestResult:
    result = unittest.TestResult()
    case.run(result)
    return result


class ExploreRunsTest(unittest.TestCase):
    def test_a_test_that_passes_every_schedule_is_one_success_after_a_fresh_run_per_schedule(self) -> None:
        calls: list[str] = []
        loops: set[int] = set()
        instances: set[int] = set()

        class Case(AsyncTestCase):
            def setUp(self) -> None:
                calls.append("setUp")

            async def asyncTearDown(self) -> None:
                calls.append("asyncTearDown")

            @explore(schedules=20)
            async def test_it(self) -> None:
                loops.add(id(asyncio.get_running_loop()))
                instances.add(id(self))
                self.assertEqual(await two_deposits(checks_first=0, checks_second=5), 30)

        result = run(Case("test_it"))
        self.assertTrue(result.wasSuccessful(), result.failures + result.errors)
        self.assertEqual(result.testsRun, 1)
        self.assertEqual(calls, ["setUp", "asyncTearDown"] * 21)  # the FIFO run, then 20 seeded ones
        self.assertGreater(len(loops), 1)
        self.assertGreater(len(instances), 1)

    def test_the_first_failing_schedule_is_reported_with_its_seed_run_replay_line_and_departures(self) -> None:
        class Case(AsyncTestCase):
            @explore(schedules=50)
            async def test_deposits(self) -> None:
                self.assertEqual(await two_deposits(), 30)

        result = run(Case("test_deposits"))
        self.assertEqual(len(result.failures), 1)
        report = result.failures[0][1]
        lines = report.splitlines()
        self.assertRegex(lines[0], r"^asynctestkit\.ScheduleError: test_deposits failed under schedule (\d+) of 50 "
                                   r"\(strategy 'random', seed \1\); it passes under the default FIFO schedule$")
        self.assertRegex(lines[1], r'^  replay it: @asynctestkit\.replay_schedule\(seed=\d+, strategy="random"\) '
                                   r"on the test$")
        self.assertRegex(lines[2], r"^         or: ASYNCTESTKIT_SCHEDULE=\S+\.Case\.test_deposits:\d+$")
        self.assertRegex(lines[3], r"^  simplest failing schedule \(1 departure from FIFO, shrunk from \d+ in \d+ "
                                   r"runs?\): @asynctestkit\.replay_schedule\(departures=\{\d+: 1\}\)$")
        self.assertRegex(lines[4], r"^    decision \d+ at virtual t=0\.000s: ran task '[^']+' \(pay_in\(\)\) before "
                                   r"task '[^']+' \(pay_in\(\)\)$")
        self.assertRegex(lines[5], r"^  timeline \(asynctestkit\.trace: last \d+ of \d+ events of '[^']+', '[^']+'; "
                                   r"virtual t, task, event\):$")
        self.assertIn("  original failure:", lines)
        self.assertIn("    Traceback (most recent call last):", lines)
        self.assertIn("self.assertEqual(await two_deposits(), 30)", report)  # the user's failing line
        self.assertEqual(lines[-1], "    AssertionError: 20 != 30")

    def test_without_shrinking_the_report_lists_the_failing_schedule_s_own_departures(self) -> None:
        class Case(AsyncTestCase):
            @explore(schedules=50, strategy="pct", shrink=False)
            async def test_deposits(self) -> None:
                self.assertEqual(await two_deposits(), 30)

        report = run(Case("test_deposits")).failures[0][1]
        self.assertNotIn("simplest failing schedule", report)
        self.assertRegex(report, r"where it departed from FIFO \(\d+ departures?\):\n    decision \d+ at virtual")
        self.assertRegex(report, r'replay_schedule\(seed=\d+, strategy="pct", depth=3, steps=\d+\)')

    def test_a_test_that_fails_under_fifo_fails_exactly_as_without_exploration(self) -> None:
        runs: list[int] = []

        class Case(AsyncTestCase):
            @explore(schedules=50)
            async def test_it(self) -> None:
                runs.append(1)
                self.assertEqual(1, 2)

        result = run(Case("test_it"))
        self.assertEqual(len(result.failures), 1)
        self.assertEqual(runs, [1])
        self.assertNotIn("ScheduleError", result.failures[0][1])
        self.assertIn("AssertionError: 1 != 2", result.failures[0][1])

    def test_an_exception_under_a_schedule_is_reported_as_an_error(self) -> None:
        class Case(AsyncTestCase):
            @explore(schedules=50)
            async def test_it(self) -> None:
                if await two_deposits() != 30:
                    raise KeyError("lost")

        result = run(Case("test_it"))
        self.assertEqual(result.failures, [])
        self.assertEqual(len(result.errors), 1)
        self.assertIn("ScheduleError: test_it failed under schedule", result.errors[0][1])
        self.assertIn("KeyError: 'lost'", result.errors[0][1])

    def test_a_skip_is_reported_as_a_skip(self) -> None:
        class Case(AsyncTestCase):
            @explore(schedules=5)
            async def test_it(self) -> None:
                self.skipTest("not today")

        result = run(Case("test_it"))
        self.assertEqual(result.skipped, [(result.skipped[0][0], "not today")])
        self.assertTrue(result.wasSuccessful())

    def test_seeds_start_after_the_given_seed(self) -> None:
        class Case(AsyncTestCase):
            @explore(schedules=50, seed=1000)
            async def test_it(self) -> None:
                self.assertEqual(await two_deposits(), 30)

        self.assertRegex(run(Case("test_it")).failures[0][1], r"schedule (\d+) of 50 \(strategy 'random', seed 10\d\d\)")

    def test_bare_explore_runs_200_random_schedules(self) -> None:
        runs: list[int] = []

        class Case(AsyncTestCase):
            @explore
            async def test_it(self) -> None:
                runs.append(1)

        self.assertTrue(run(Case("test_it")).wasSuccessful())
        self.assertEqual(len(runs), 201)

    def test_the_class_attribute_explores_every_test_of_the_class_and_its_subclasses(self) -> None:
        class Case(AsyncTestCase):
            explore_schedules = 40
            explore_strategy = "pct"

            async def test_racy(self) -> None:
                self.assertEqual(await two_deposits(), 30)

        class Sub(Case):
            async def test_racy_too(self) -> None:
                self.assertEqual(await two_deposits(), 30)

        for case in (Case("test_racy"), Sub("test_racy_too")):
            report = run(case).failures[0][1]
            self.assertRegex(report, r"failed under schedule \d+ of 40 \(strategy 'pct' \(depth 3, \d+ steps\), seed")

    def test_no_false_failure_a_locked_read_modify_write_passes_every_schedule_of_every_strategy(self) -> None:
        for strategy, jitter in (("random", 0.0), ("pct", 0.0), ("random", 1.0), ("pct", 0.5)):
            class Case(AsyncTestCase):
                @explore(schedules=150, strategy=strategy, jitter=jitter)
                async def test_it(self) -> None:
                    lock = asyncio.Lock()
                    total = [0]
                    done = asyncio.Event()

                    async def add(amount: int) -> None:
                        await asyncio.sleep(0.01 * amount)
                        async with lock:
                            value = total[0]
                            await asyncio.sleep(0.005)
                            total[0] = value + amount
                        if total[0] == 6:
                            done.set()

                    async with asyncio.timeout(10) if sys.version_info >= (3, 11) else _null():
                        await asyncio.gather(add(1), add(2), add(3), done.wait())
                    self.assertEqual(total[0], 6)

            with self.subTest(strategy=strategy, jitter=jitter):
                result = run(Case("test_it"))
                self.assertTrue(result.wasSuccessful(), result.failures + result.errors)


class _null:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: Any) -> None:
        return None


class ReplayTest(unittest.TestCase):
    def test_replaying_the_printed_simplest_schedule_fails_the_same_way_and_lists_its_departures(self) -> None:
        class Case(AsyncTestCase):
            @replay_schedule(departures={0: 1})
            async def test_it(self) -> None:
                self.assertEqual(await two_deposits(), 30)

        report = run(Case("test_it")).failures[0][1]
        self.assertRegex(report, r"ScheduleError: test_it failed under the replayed schedule \(a script of 1 "
                                 r"departure from FIFO\)\n  where it departed from FIFO \(1 departure\):\n    decision 0 ")
        self.assertIn("AssertionError: 20 != 30", report)

    def test_replaying_a_seed_runs_once_and_a_passing_replay_is_a_success(self) -> None:
        runs: list[int] = []

        class Case(AsyncTestCase):
            @replay_schedule(seed=3, strategy="pct", depth=2, steps=5)
            async def test_it(self) -> None:
                runs.append(1)

        self.assertTrue(run(Case("test_it")).wasSuccessful())
        self.assertEqual(runs, [1])

    def test_an_explored_test_s_seed_replays_to_the_same_failure(self) -> None:
        class Case(AsyncTestCase):
            @explore(schedules=50, shrink=False)
            async def test_it(self) -> None:
                self.assertEqual(await two_deposits(), 30)

        report = run(Case("test_it")).failures[0][1]
        seed = int(report.split("seed ")[1].split(")")[0])
        departures = report.split("where it departed from FIFO")[1].split("\n  timeline (")[0] + "\n  "

        class Replayed(AsyncTestCase):
            @replay_schedule(seed=seed)
            async def test_it(self) -> None:
                self.assertEqual(await two_deposits(), 30)

        replayed = run(Replayed("test_it")).failures[0][1]
        self.assertIn(f"(strategy 'random', seed {seed})", replayed)
        strip = [line.split(": ran")[0] for line in departures.splitlines()[1:]]
        self.assertEqual([line.split(": ran")[0] for line in
                          replayed.split("where it departed from FIFO")[1].split("the failure")[0].splitlines()[1:]],
                         strip)


class MisuseTest(unittest.TestCase):
    def test_bad_arguments_raise_naming_the_parameter_and_what_is_allowed(self) -> None:
        cases: list[tuple[dict[str, Any], type[Exception], str]] = [
            ({"schedules": 0}, ValueError, r"^explore\(\): schedules must be an int >= 1 .*got 0$"),
            ({"schedules": -5}, ValueError, r"schedules must be an int >= 1"),
            ({"schedules": "many"}, TypeError, r"schedules must be an int >= 1 .*got str: 'many'"),
            ({"schedules": 2.5}, TypeError, r"schedules must be an int"),
            ({"strategy": "chaos"}, ValueError, r"^explore\(\): strategy must be one of 'random', 'pct', got 'chaos'$"),
            ({"strategy": None}, TypeError, r"strategy must be one of 'random', 'pct', got NoneType"),
            ({"depth": 0}, ValueError, r"depth must be an int >= 1, got 0"),
            ({"jitter": -0.5}, ValueError, r"jitter must be"),
            ({"seed": -1}, ValueError, r"seed must be an int >= 0"),
        ]
        for kwargs, error, pattern in cases:
            with self.subTest(kwargs), self.assertRaisesRegex(error, pattern):
                explore(**kwargs)

    def test_on_a_plain_function_it_says_there_is_no_schedule_to_explore(self) -> None:
        def test_sync(self: Any) -> None:
            pass

        for decorator in (explore(schedules=5), explore, replay_schedule(seed=1)):
            with self.subTest(decorator), self.assertRaisesRegex(TypeError, r"decorates an async test method "
                                                                            r"\(async def test_\.\.\.\); .*test_sync "
                                                                            r"is a plain function"):
                decorator(test_sync)

    def test_on_a_class_that_is_not_an_async_test_case_it_fails_when_the_class_is_created(self) -> None:
        with self.assertRaises((TypeError, RuntimeError)) as caught:
            class Plain(unittest.IsolatedAsyncioTestCase):
                @explore(schedules=5)
                async def test_it(self) -> None:
                    pass
        error = caught.exception
        message = str(error if isinstance(error, TypeError) else error.__cause__)
        self.assertRegex(message, r"^@explore on .*Plain\.test_it: .*must subclass asynctestkit\.AsyncTestCase "
                                  r"\(it subclasses IsolatedAsyncioTestCase\)$")

    def test_replay_schedule_needs_exactly_one_of_seed_and_departures(self) -> None:
        with self.assertRaisesRegex(TypeError, r"either seed=.* or departures=.*; got neither"):
            replay_schedule()
        with self.assertRaisesRegex(TypeError, r"got both"):
            replay_schedule(seed=1, departures={0: 1})
        with self.assertRaisesRegex(ValueError, r"^replay_schedule\(\): strategy must be one of"):
            replay_schedule(seed=1, strategy="fifo")
        with self.assertRaisesRegex(TypeError, r"departures must be a dict"):
            replay_schedule(departures=[(0, 1)])  # type: ignore[arg-type]

    def test_a_bad_class_attribute_fails_when_the_class_is_defined_naming_the_class(self) -> None:
        with self.assertRaisesRegex(ValueError, r"^\S*<locals>\.Bad\.explore_schedules must be an int >= 1 .*got 0$"):
            class Bad(AsyncTestCase):
                explore_schedules = 0
        with self.assertRaisesRegex(ValueError, r"^\S*<locals>\.Worse\.explore_strategy must be one of"):
            class Worse(AsyncTestCase):
                explore_schedules = 10
                explore_strategy = "dfs"

        class Good(AsyncTestCase):
            explore_schedules = 10

        with self.assertRaisesRegex(ValueError, r"^\S*<locals>\.Sub\.explore_depth must be an int >= 1, got 0$"):
            class Sub(Good):
                explore_depth = 0


class CommandLineOutputTest(unittest.TestCase):
    """What a user sees: the report under ``python -m unittest``, and ASYNCTESTKIT_SCHEDULE replaying one test."""

    def run_unittest(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "unittest", *args], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, **(env or {})}, timeout=120)

    def test_the_report_under_python_m_unittest_leads_with_the_schedule_and_shows_the_user_s_line(self) -> None:
        proc = self.run_unittest("tests.explore._explore_support.ExploredRacy.test_lost_update")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertRegex(proc.stderr, r"FAIL: test_lost_update \(tests\.explore\._explore_support\.ExploredRacy"
                                      r"[^)]*\)\n-+\nasynctestkit\.ScheduleError: test_lost_update failed under "
                                      r"schedule \d+ of 30")
        self.assertIn("self.assertEqual(await two_deposits(), 30)", proc.stderr)
        self.assertIn("Ran 1 test", proc.stderr)

    def test_the_environment_variable_replays_the_seed_for_the_test_it_names_only(self) -> None:
        test_id = "tests.explore._explore_support.Racy.test_lost_update"
        found = self.run_unittest("tests.explore._explore_support.ExploredRacy.test_lost_update")
        seed = found.stderr.split("ASYNCTESTKIT_SCHEDULE=")[1].split(":")[1].split()[0]
        proc = self.run_unittest(test_id, "tests.explore._explore_support.Racy.test_locked_deposits",
                                 env={"ASYNCTESTKIT_SCHEDULE": f"{test_id}:{seed}"})
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(f"test_lost_update failed under the replayed schedule (strategy 'random', seed {seed})",
                      proc.stderr)
        self.assertIn("Ran 2 tests", proc.stderr)
        self.assertIn("FAILED (failures=1)", proc.stderr)

    def test_a_malformed_environment_variable_fails_the_test_naming_the_variable(self) -> None:
        proc = self.run_unittest("tests.explore._explore_support.Racy.test_locked_deposits",
                                 env={"ASYNCTESTKIT_SCHEDULE": "tests.explore:seven"})
        self.assertEqual(proc.returncode, 1)
        self.assertIn("ValueError: ASYNCTESTKIT_SCHEDULE must be '<test id>:<seed>", proc.stderr)


if __name__ == "__main__":
    unittest.main()
