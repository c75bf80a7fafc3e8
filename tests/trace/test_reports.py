"""Every asynctestkit report ends with the timeline of the tasks involved when tracing is on (and only then)."""

from __future__ import annotations

import asyncio
import re
import time
import unittest

import asynctestkit

from ._trace_support import only_failure, run_case, timeline_block

#: One timeline line: virtual time first, the task (or - for the clock), the kind, the detail.
LINE = re.compile(r"^  t=\d+\.\d{3}s  (?:'[^']*'|-) +[a-z]+ +\S.*$")
TITLE = re.compile(r"^timeline \(asynctestkit\.trace: last (\d+) of (\d+) events(?: of [^;]+)?; virtual t, task, "
                   r"event\):$")


def _cases(trace_mode: str | None, on_failure: bool = False) -> type[asynctestkit.AsyncTestCase]:
    """One failing test per report kind (made here, so that discovery does not collect them)."""

    class Reports(asynctestkit.AsyncTestCase):
        clock_horizon = 100.0

        async def test_deadlock(self) -> None:
            gate = asyncio.Event()

            async def worker() -> None:
                await asyncio.sleep(1)
                await gate.wait()

            await asyncio.create_task(worker(), name="worker")

        async def test_livelock(self) -> None:
            async def poller() -> None:
                while True:
                    await asyncio.sleep(7)

            await asyncio.create_task(poller(), name="poller")

        async def test_leak(self) -> None:
            async def forever() -> None:
                await asyncio.sleep(3600)

            asyncio.create_task(forever(), name="orphan")
            await asyncio.sleep(2)

        async def test_timeout_assertion(self) -> None:
            await self.assertCompletesWithin(1, asyncio.sleep(5))

        async def test_plain_assertion(self) -> None:
            await asyncio.sleep(3)
            self.assertEqual(1, 2)

        async def test_watchdog(self) -> None:
            await asyncio.sleep(1)
            time.sleep(0.5)  # blocks the loop past the real-time watchdog

    Reports.trace_mode = trace_mode
    Reports.trace_on_failure = on_failure
    return Reports


class TimelineInReportsTest(unittest.TestCase):
    def assert_timeline(self, text: str) -> list[str]:
        block = timeline_block(text)
        self.assertTrue(block, f"no timeline at the end of:\n{text}")
        title = TITLE.match(block[0])
        self.assertIsNotNone(title, block[0])
        assert title is not None
        self.assertEqual(int(title.group(1)), len(block) - 1)
        self.assertLessEqual(len(block), 17, "the timeline must fit one screen with its report")
        for line in block[1:]:
            self.assertRegex(line, LINE)
            self.assertLessEqual(len(line), 200)
        return block

    def test_a_deadlock_report_ends_with_the_timeline_of_its_tasks(self) -> None:
        text = only_failure(self, run_case(_cases("ring"), "test_deadlock"))
        block = self.assert_timeline(text)
        self.assertIn("DeadlockError", text)
        self.assertIn("of 'Task-", block[0])
        self.assertIn("'worker'", block[0])
        self.assertRegex(block[-1], r"^  t=1\.000s  'worker' +suspend  waits on Event\.wait\(\)  at \S*"
                                    r"test_reports\.py:\d+ in worker$")
        self.assertRegex(block[-2], r"^  t=1\.000s  'worker' +wake     woken by timer \(sleep until t=1\.000s\)$")
        self.assertRegex(block[-3], r"^  t=1\.000s  - +jump     clock jumped \+1s \(from t=0\.000s\)$")

    def test_a_livelock_report_ends_with_the_timeline(self) -> None:
        text = only_failure(self, run_case(_cases("ring"), "test_livelock"))
        self.assertIn("LivelockError", text)
        block = self.assert_timeline(text)
        self.assertIn("'poller'", block[0])
        self.assertRegex(block[-1], r"'poller' +suspend  waits on sleep until t=105\.000s")

    def test_a_leak_report_ends_with_the_timeline_of_the_leaked_task(self) -> None:
        text = only_failure(self, run_case(_cases("ring"), "test_leak"))
        self.assertIn("LeakError", text)
        block = self.assert_timeline(text)
        self.assertIn("of 'orphan'", block[0])
        self.assertRegex(block[-3], r"^  t=2\.000s  'orphan' +cancel   cancel\(\) called by asynctestkit's leak "
                                    r"cleanup$")
        self.assertRegex(block[-2], r"^  t=2\.000s  'orphan' +wake     woken by the cancellation \(from "
                                    r"asynctestkit's leak cleanup\)$")
        self.assertRegex(block[-1], r"^  t=2\.000s  'orphan' +done     cancelled$")

    def test_an_assertion_failure_of_the_mixins_ends_with_the_timeline(self) -> None:
        text = only_failure(self, run_case(_cases("ring"), "test_timeout_assertion"))
        block = self.assert_timeline(text)
        self.assertTrue(any("cancel" in line for line in block), block)

    def test_the_watchdog_report_on_blocking_code_ends_with_the_timeline(self) -> None:
        cases = _cases("ring")
        cases.clock_watchdog = 0.2
        text = only_failure(self, run_case(cases, "test_watchdog"))
        self.assertIn("LivelockError", text)
        block = self.assert_timeline(text)
        self.assertRegex(block[-1], r"wake +woken by timer \(sleep until t=1\.000s\)$")

    def test_an_ordinary_assertion_failure_ends_with_the_timeline_only_when_asked(self) -> None:
        plain = only_failure(self, run_case(_cases("ring"), "test_plain_assertion"))
        self.assertEqual(timeline_block(plain), [])
        self.assertTrue(plain.rstrip().endswith("AssertionError: 1 != 2"))
        asked = only_failure(self, run_case(_cases("ring", on_failure=True), "test_plain_assertion"))
        block = self.assert_timeline(asked)
        self.assertTrue(any(re.match(r"^  t=3\.000s  'Task-\d+' +wake     woken by timer \(sleep until t=3\.000s\)$",
                                     line) for line in block), block)
        by_env = only_failure(self, run_case(_cases(None), "test_plain_assertion", env="1,failures"))
        self.assert_timeline(by_env)

    def test_reports_have_no_timeline_when_tracing_is_off(self) -> None:
        for name in ("test_deadlock", "test_livelock", "test_leak", "test_timeout_assertion", "test_plain_assertion"):
            with self.subTest(name):
                text = only_failure(self, run_case(_cases(None, on_failure=True), name, env="0"))
                self.assertNotIn("timeline (asynctestkit.trace", text)


if __name__ == "__main__":
    unittest.main()
