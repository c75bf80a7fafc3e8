"""The task timeline in an exploration's failure report (asynctestkit/explore/_unittest.py ``format_outcome``,
_runner.py ``with_timeline``): where it goes, what it shows, when it comes from an extra run, and when it is
left out."""

from __future__ import annotations

import asyncio
import re
import unittest

from asynctestkit import AsyncTestCase, explore

from ._explore_support import two_deposits

#: A timeline line: virtual time, the task (or - for the clock), the kind, the detail.
TIMELINE_LINE = re.compile(r"^    t=\d+\.\d{3}s  (-|'[^']*')\s+[a-z]+\s+\S")
SCREEN = 50


def run(case: unittest.TestCase) -> unittest.TestResult:
    result = unittest.TestResult()
    case.run(result)
    return result


def report_head(report: str) -> list[str]:
    """The report up to its original failure (the part exploration writes)."""
    lines = report.splitlines()
    return lines[:lines.index("  original failure:")]


class TimelineInReportTest(unittest.TestCase):
    def test_the_report_shows_the_timeline_of_the_departing_tasks_after_the_departures(self) -> None:
        runs: list[int] = []

        class Case(AsyncTestCase):
            @explore(schedules=50)
            async def test_deposits(self) -> None:
                runs.append(1)
                self.assertEqual(await two_deposits(), 30)

        report = run(Case("test_deposits")).failures[0][1]
        head = report_head(report)
        self.assertRegex(head[3], r"^  simplest failing schedule \(1 departure from FIFO")
        departure = re.fullmatch(r"    decision \d+ at virtual t=0\.000s: ran task '([^']+)' \(pay_in\(\)\) before "
                                 r"task '([^']+)' \(pay_in\(\)\)", head[4])
        assert departure is not None, head[4]
        ran, overtaken = departure.groups()
        # The timeline is about the two tasks the departure names: the same names (the same run).
        self.assertEqual(head[5], f"  timeline (asynctestkit.trace: last {len(head) - 6} of "
                                  f"{head[5].split(' of ')[1].split()[0]} events of {overtaken!r}, {ran!r}; "
                                  f"virtual t, task, event):")
        body = head[6:]
        self.assertTrue(body)
        for line in body:
            self.assertRegex(line, TIMELINE_LINE)
            self.assertTrue(f"'{ran}'" in line or f"'{overtaken}'" in line, line)
        self.assertIn(f"    t=0.000s  '{ran}'", "\n".join(body))
        self.assertTrue(any(line.endswith("in two_deposits") and " created " in line for line in body))
        self.assertTrue(any(" done     returned None" in line for line in body))
        self.assertLessEqual(len(head), SCREEN)
        self.assertTrue(report.rstrip().endswith("AssertionError: 20 != 30"))
        # One extra run recorded the timeline: FIFO + seeded runs + shrinking + 1.
        seeded = int(re.search(r"under schedule (\d+) of", report).group(1))  # type: ignore[union-attr]
        shrink_runs = int(re.search(r"in (\d+) runs?\)", report).group(1))  # type: ignore[union-attr]
        self.assertEqual(len(runs), 1 + seeded + shrink_runs + 1)

    def test_a_class_that_records_uses_its_own_run_s_timeline_without_an_extra_run(self) -> None:
        runs: list[int] = []

        class Case(AsyncTestCase):
            trace_mode = "ring"

            @explore(schedules=50)
            async def test_deposits(self) -> None:
                runs.append(1)
                self.assertEqual(await two_deposits(), 30)

        report = run(Case("test_deposits")).failures[0][1]
        head = report_head(report)
        self.assertRegex(head[5], r"^  timeline \(asynctestkit\.trace: last \d+ of \d+ events of ")
        seeded = int(re.search(r"under schedule (\d+) of", report).group(1))  # type: ignore[union-attr]
        shrink_runs = int(re.search(r"in (\d+) runs?\)", report).group(1))  # type: ignore[union-attr]
        self.assertEqual(len(runs), 1 + seeded + shrink_runs)

    def test_without_shrinking_the_timeline_follows_the_failing_schedule_s_own_departures(self) -> None:
        class Case(AsyncTestCase):
            @explore(schedules=50, strategy="pct", shrink=False)
            async def test_deposits(self) -> None:
                self.assertEqual(await two_deposits(), 30)

        head = report_head(run(Case("test_deposits")).failures[0][1])
        self.assertRegex(head[3], r"^  where it departed from FIFO \((\d+) departures?\):$")
        count = int(re.search(r"\((\d+) departure", head[3]).group(1))  # type: ignore[union-attr]
        shown = min(count, 12) + (count > 12)
        self.assertRegex(head[4 + shown], r"^  timeline \(asynctestkit\.trace: last \d+ of \d+ events")
        for line in head[5 + shown:]:
            self.assertRegex(line, TIMELINE_LINE)
        self.assertLessEqual(len(head), SCREEN)

    def test_a_failure_that_does_not_reproduce_says_why_there_is_no_timeline(self) -> None:
        calls: list[int] = []

        class Case(AsyncTestCase):
            @explore(schedules=5, shrink=False)
            async def test_flaky(self) -> None:
                calls.append(1)
                await asyncio.sleep(0)
                self.assertNotEqual(len(calls), 2, "fails on the first seeded run only")

        report = run(Case("test_flaky")).failures[0][1]
        self.assertEqual(len(calls), 3)  # FIFO, seeded run 1 (fails), the replay to record the timeline
        self.assertIn("\n  (no timeline: replayed once more to record it, this schedule passed: something outside "
                      "the loop's control, such as a thread or real I/O, takes part in the outcome)\n"
                      "  original failure:\n", report)
        self.assertNotIn("timeline (asynctestkit.trace", report)


class ReportsWithoutExplorationUnchangedTest(unittest.TestCase):
    def test_a_test_failing_under_fifo_reports_exactly_as_without_explore(self) -> None:
        class Explored(AsyncTestCase):
            @explore(schedules=20)
            async def test_it(self) -> None:
                self.assertEqual(await two_deposits(0, 0), 30)

        # The same function in a class that does not explore: a plain run of the same code.
        Plain = type("Plain", (AsyncTestCase,), {"test_it": Explored.__dict__["test_it"]})
        explored = run(Explored("test_it"))
        plain = run(Plain("test_it"))
        self.assertEqual(len(explored.failures), 1)
        self.assertEqual(explored.failures[0][1], plain.failures[0][1])
        self.assertNotIn("timeline (asynctestkit.trace", explored.failures[0][1])

    def test_a_passing_exploration_makes_no_extra_run(self) -> None:
        runs: list[int] = []

        class Case(AsyncTestCase):
            @explore(schedules=10)
            async def test_it(self) -> None:
                runs.append(1)
                self.assertEqual(await two_deposits(0, 5), 30)

        self.assertTrue(run(Case("test_it")).wasSuccessful())
        self.assertEqual(len(runs), 11)


if __name__ == "__main__":
    unittest.main()
