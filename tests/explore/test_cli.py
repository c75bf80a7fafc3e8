"""``python -m asynctestkit explore <test id>`` (asynctestkit/__main__.py, explore/_cli.py), run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUPPORT = "tests.explore._explore_support"


def command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asynctestkit", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


class ExploreCommandTest(unittest.TestCase):
    def test_a_racy_test_prints_its_pass_rate_first_failing_seed_and_replay_line(self) -> None:
        proc = command("explore", f"{SUPPORT}.Racy.test_lost_update", "--schedules", "40")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        lines = proc.stdout.splitlines()
        self.assertRegex(lines[0], rf"^{SUPPORT}\.Racy\.test_lost_update: (\d+) of 40 schedules passed "
                                   rf"\(\d+\.\d% pass rate; strategy 'random', seeds 1-40\)$")
        passed = int(lines[0].split(": ")[1].split(" of ")[0])
        self.assertGreater(passed, 0)
        self.assertLess(passed, 40)
        self.assertRegex(lines[1], r"^first failing seed: (\d+)$")
        seed = lines[1].split(": ")[1]
        self.assertEqual(lines[2], f"test_lost_update failed under schedule {seed} of 40 (strategy 'random', seed "
                                   f"{seed}); it passes under the default FIFO schedule")
        self.assertEqual(lines[3], f'  replay it: @asynctestkit.replay_schedule(seed={seed}, strategy="random") on the test')
        self.assertEqual(lines[4], f"         or: ASYNCTESTKIT_SCHEDULE={SUPPORT}.Racy.test_lost_update:{seed}")
        self.assertIn("simplest failing schedule (1 departure from FIFO", proc.stdout)
        self.assertIn("AssertionError: 20 != 30", proc.stdout)

    def test_the_printed_environment_variable_replays_the_failure(self) -> None:
        found = command("explore", f"{SUPPORT}.Racy.test_lost_update", "--schedules", "20", "--strategy", "pct")
        value = found.stdout.split("ASYNCTESTKIT_SCHEDULE=")[1].split()[0]
        self.assertRegex(value, rf"^{SUPPORT}\.Racy\.test_lost_update:\d+:pct:depth=3,steps=\d+$")
        proc = subprocess.run([sys.executable, "-m", "unittest", f"{SUPPORT}.Racy.test_lost_update"], cwd=ROOT,
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "ASYNCTESTKIT_SCHEDULE": value})
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("failed under the replayed schedule (strategy 'pct' (depth 3", proc.stderr)
        self.assertIn("AssertionError: 20 != 30", proc.stderr)

    def test_a_test_that_passes_every_schedule_reports_a_full_pass_rate_and_exits_0(self) -> None:
        proc = command("explore", f"{SUPPORT}.Racy.test_locked_deposits", "--schedules", "30", "--jitter", "0.5")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(proc.stdout, f"{SUPPORT}.Racy.test_locked_deposits: 30 of 30 schedules passed (100.0% pass "
                                      f"rate; strategy 'random', seeds 1-30, jitter 0.5)\n")

    def test_a_test_that_fails_under_fifo_says_so_without_exploring(self) -> None:
        proc = command("explore", f"{SUPPORT}.Racy.test_fails_under_fifo", "--schedules", "30")
        self.assertEqual(proc.returncode, 1)
        self.assertTrue(proc.stdout.startswith(f"{SUPPORT}.Racy.test_fails_under_fifo fails under the default FIFO "
                                               f"schedule already (no exploration needed):\nTraceback"), proc.stdout)

    def test_an_explored_test_can_be_given_to_the_command_too(self) -> None:
        proc = command("explore", f"{SUPPORT}.ExploredRacy.test_lost_update", "--schedules", "25")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertRegex(proc.stdout, r"^\S+: \d+ of 25 schedules passed")

    def test_misuse_exits_2_with_a_clear_message(self) -> None:
        cases = [
            (("explore", f"{SUPPORT}.Racy.test_missing"), "is not one test: AttributeError"),
            (("explore", f"{SUPPORT}.Racy"), "is not one test: it names 3 tests"),
            (("explore", f"{SUPPORT}.PlainCase.test_nothing"), "is a TestCase test: exploration runs tests of "
                                                               "asynctestkit.AsyncTestCase subclasses"),
            (("explore", f"{SUPPORT}.Racy.test_lost_update", "--schedules", "0"),
             "--schedules must be an int >= 1 (how many seeded schedules to run), got 0"),
            (("explore", f"{SUPPORT}.Racy.test_lost_update", "--strategy", "dfs"), "invalid choice: 'dfs'"),
            (("frobnicate",), "unknown command 'frobnicate' (known: explore)"),
            ((), "usage: python -m asynctestkit explore"),
        ]
        for args, message in cases:
            with self.subTest(args):
                proc = command(*args)
                self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
                self.assertIn(message, proc.stdout + proc.stderr)

    def test_help_lists_the_options(self) -> None:
        proc = command("explore", "--help")
        self.assertEqual(proc.returncode, 0)
        for option in ("--schedules", "--strategy", "--depth", "--jitter", "--seed", "--no-shrink"):
            self.assertIn(option, proc.stdout)


if __name__ == "__main__":
    unittest.main()
