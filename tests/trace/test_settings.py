"""Turning the timeline on: class attributes (checked at class definition) and ``ASYNCTESTKIT_TRACE``."""

from __future__ import annotations

import asyncio
import gc
import unittest

import asynctestkit
from asynctestkit.trace._setup import TraceSettings, settings

from ._trace_support import only_failure, run_case


class EnvironmentTest(unittest.TestCase):
    def parse(self, value: str | None, **attributes: object) -> TraceSettings:
        values: dict[str, object] = {"mode": None, "size": 100, "on_failure": False, "export_dir": None,
                                     "export_all": False}
        values.update(attributes)
        return settings(environ={} if value is None else {"ASYNCTESTKIT_TRACE": value}, **values)  # type: ignore[arg-type]

    def test_unset_leaves_the_class_attributes(self) -> None:
        self.assertEqual(self.parse(None), TraceSettings(None, 100, False, None, False))
        self.assertEqual(self.parse(None, mode="full").mode, "full")

    def test_a_mode_turns_tracing_on_and_options_follow_it(self) -> None:
        self.assertEqual(self.parse("1").mode, "ring")
        self.assertEqual(self.parse("full").mode, "full")
        self.assertEqual(self.parse("ring, failures, export=/tmp/x, all"),
                         TraceSettings("ring", 100, True, "/tmp/x", True))

    def test_zero_turns_tracing_off_whatever_the_class_says(self) -> None:
        self.assertEqual(self.parse("0", mode="full", on_failure=True, export_dir="/tmp/x"),
                         TraceSettings(None, 100, False, None, False))

    def test_asking_for_failures_or_files_alone_turns_the_ring_on(self) -> None:
        self.assertEqual(self.parse("failures").mode, "ring")
        self.assertEqual(self.parse(None, export_dir="/tmp/x").mode, "ring")

    def test_a_word_it_does_not_know_is_refused_with_the_syntax(self) -> None:
        with self.assertRaisesRegex(ValueError, r"environment variable ASYNCTESTKIT_TRACE='1,verbose': 'verbose' is "
                                                r"not understood; use a mode \(1, ring, full, 0\) followed by options"):
            self.parse("1,verbose")

    def test_a_bad_variable_fails_the_test_that_reads_it_with_that_message(self) -> None:
        class Case(asynctestkit.AsyncTestCase):
            async def test_nothing(self) -> None:
                await asyncio.sleep(0)

        text = only_failure(self, run_case(Case, "test_nothing", env="sometimes"))
        self.assertIn("ASYNCTESTKIT_TRACE='sometimes': 'sometimes' is not understood", text)

    def test_a_bad_variable_leaves_no_loop_open(self) -> None:
        # The loop is built before the variable is read: the rejected setting must close it, not leave it to the
        # garbage collector ("unclosed event loop" ResourceWarning, an error from its __del__).
        class Case(asynctestkit.AsyncTestCase):
            async def test_nothing(self) -> None:
                await asyncio.sleep(0)

        only_failure(self, run_case(Case, "test_nothing", env="sometimes"))
        loops = [obj for obj in gc.get_objects() if isinstance(obj, asynctestkit.VirtualClockLoop)]
        self.assertEqual([loop for loop in loops if not loop.is_closed()], [])


class ClassAttributeTest(unittest.TestCase):
    def test_a_wrong_mode_fails_at_class_definition_naming_the_class(self) -> None:
        with self.assertRaisesRegex(ValueError, r"\.<locals>\.Bad\.trace_mode must be 'ring', 'full' or None \(off\), got 'all'$"):
            class Bad(asynctestkit.AsyncTestCase):
                trace_mode = "all"

    def test_other_wrong_settings_fail_at_class_definition(self) -> None:
        with self.assertRaisesRegex(TypeError, r"\.<locals>\.Bad\.trace_mode must be 'ring', 'full' or None \(off\), got bool"):
            class Bad(asynctestkit.AsyncTestCase):
                trace_mode = True  # type: ignore[assignment]
        with self.assertRaisesRegex(ValueError, r"\.<locals>\.Small\.trace_size must be a number of events >= 1, got 0$"):
            class Small(asynctestkit.AsyncTestCase):
                trace_size = 0
        with self.assertRaisesRegex(TypeError, r"\.<locals>\.Where\.trace_export must be a directory path \(a non-empty str\) "
                                               r"or None, got bool: True$"):
            class Where(asynctestkit.AsyncTestCase):
                trace_export = True  # type: ignore[assignment]
        with self.assertRaisesRegex(TypeError, r"\.<locals>\.Loud\.trace_on_failure must be True or False"):
            class Loud(asynctestkit.AsyncTestCase):
                trace_on_failure = 1  # type: ignore[assignment]

    def test_trace_size_bounds_the_ring(self) -> None:
        sizes: list[int | None] = []

        class Case(asynctestkit.AsyncTestCase):
            trace_mode = "ring"
            trace_size = 50

            async def test_many_steps(self) -> None:
                for _ in range(100):
                    await asyncio.sleep(1)
                sizes.append(len(self.trace))
                sizes.append(self.trace.size)

        result = run_case(Case, "test_many_steps")
        self.assertEqual(result.failures + result.errors, [])
        self.assertEqual(sizes, [50, 50])


if __name__ == "__main__":
    unittest.main()
