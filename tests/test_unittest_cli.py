"""``python -m unittest`` and ``unittest.main()`` work with AsyncTestCase exactly as with any TestCase.

Each test runs the interpreter under test in a subprocess on small test modules generated into a temporary
directory (``PYTHONPATH`` points at this checkout) and asserts on the exit code and the runner's output:
``-v``, ``-k``, ``-f`` (failfast), ``-b`` (buffer), ``--durations`` (3.12+), ``unittest.main()`` in a file,
the ``load_tests`` protocol, skip/expectedFailure decorators on async tests and ``subTest`` in async tests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODULES = {
    "test_outcomes_cli.py": '''
        import asyncio
        import unittest

        import asynctestkit


        @unittest.skip("class skip reason")
        class ClassSkipped(asynctestkit.AsyncTestCase):  # runs first: CPython 3.12 drops the -v line of a
            async def test_in_skipped_class(self):      # class skip that follows an unexpected success
                raise AssertionError("must not run")


        class Outcomes(asynctestkit.AsyncTestCase):
            async def test_passes_after_a_virtual_hour(self):
                await asyncio.sleep(3600)
                self.assertEqual(self.clock.elapsed(), 3600)

            async def test_fails(self):
                await asyncio.sleep(1)
                self.assertEqual(1, 2, "custom failure text")

            async def test_errors(self):
                await asyncio.sleep(1)
                raise ValueError("async error text")

            @unittest.skip("decorator skip reason")
            async def test_skipped_by_decorator(self):
                raise AssertionError("must not run")

            @unittest.skipIf(True, "skipIf reason")
            async def test_skipped_by_skip_if(self):
                raise AssertionError("must not run")

            async def test_skipped_at_runtime(self):
                await asyncio.sleep(5)
                self.skipTest("runtime skip reason")

            @unittest.expectedFailure
            async def test_expected_failure(self):
                await asyncio.sleep(1)
                self.fail("fails as expected")

            @unittest.expectedFailure
            async def test_unexpected_success(self):
                await asyncio.sleep(1)
        ''',
    "test_failfast_cli.py": '''
        import asyncio

        import asynctestkit


        class FailFast(asynctestkit.AsyncTestCase):
            async def test_1_fails(self):
                await asyncio.sleep(1)
                self.fail("first failure")

            async def test_2_fails(self):
                self.fail("second failure")

            async def test_3_passes(self):
                await asyncio.sleep(1)
        ''',
    "test_buffer_cli.py": '''
        import asyncio
        import sys

        import asynctestkit


        class Buffered(asynctestkit.AsyncTestCase):
            async def asyncSetUp(self):
                print("setup-stdout-marker")

            async def test_fails_after_printing(self):
                print("fail-stdout-marker")
                await asyncio.sleep(1)
                print("fail-stderr-marker", file=sys.stderr)
                self.fail("buffered failure")

            async def test_passes_after_printing(self):
                print("pass-stdout-marker")
                await asyncio.sleep(1)
                print("pass-stderr-marker", file=sys.stderr)
        ''',
    "test_durations_cli.py": '''
        import asyncio
        import time

        import asynctestkit


        class Durations(asynctestkit.AsyncTestCase):
            async def test_virtual_day(self):
                await asyncio.sleep(86400 - 1)

            async def test_real_pause(self):
                time.sleep(0.05)
        ''',
    "test_subtests_cli.py": '''
        import asyncio

        import asynctestkit


        class SubTests(asynctestkit.AsyncTestCase):
            async def test_steps(self):
                for step in range(4):
                    with self.subTest(step=step):
                        await asyncio.sleep(10)
                        self.assertEqual(self.clock.elapsed(), 10 * (step + 1))
                        if step in (1, 3):
                            self.fail(f"step {step} fails on purpose")

            async def test_all_steps_pass(self):
                for step in range(3):
                    with self.subTest(step=step):
                        await asyncio.sleep(1)
                        self.assertEqual(self.clock.elapsed(), step + 1)
        ''',
    "test_load_tests_cli.py": '''
        import asyncio
        import unittest

        import asynctestkit


        class LeftOut(asynctestkit.AsyncTestCase):
            async def test_left_out_by_load_tests(self):
                raise AssertionError("load_tests must leave this test out")


        class Parametrized(asynctestkit.AsyncTestCase):
            def __init__(self, methodName="runTest", delay=0.0):
                super().__init__(methodName)
                self.delay = delay

            def __str__(self):
                return f"{self._testMethodName} delay={self.delay}"

            async def test_sleeps(self):
                await asyncio.sleep(self.delay)
                self.assertEqual(self.clock.elapsed(), self.delay)


        def load_tests(loader, standard_tests, pattern):
            suite = unittest.TestSuite()
            for delay in (1, 60, 3600):
                suite.addTest(Parametrized("test_sleeps", delay=delay))
            return suite
        ''',
    "run_main.py": '''
        import asyncio
        import unittest

        import asynctestkit


        class Main(asynctestkit.AsyncTestCase):
            async def test_one(self):
                await asyncio.sleep(10)
                self.assertEqual(self.clock.elapsed(), 10)

            async def test_two(self):
                await asyncio.sleep(20)
                self.assertEqual(self.clock.elapsed(), 20)

            async def test_three_fails(self):
                self.fail("main failure text")


        if __name__ == "__main__":
            unittest.main()
        ''',
}


#: Lines of log records that may precede an expected line (but not another test's ``name (...) ...`` line).
_LOGGED = r"(?:(?![^\n]* \.\.\. )[^\n]*\n)*?"


def _line(name: str, cls: str, status: str, module: str = "test_outcomes_cli") -> str:
    """Regex for one ``-v`` result line (3.10 prints ``(module.Class)``, 3.11+ ``(module.Class.test)``).

    Log records the test emitted (e.g. a slow-callback warning on a loaded machine) may stand between the
    description and the status; another test's ``name (...) ...`` line may not.
    """
    return rf"(?m)^{name} \({module}\.{cls}(\.{name})?\) \.\.\. {_LOGGED}{status}$"


#: name -> command line; all of them run concurrently once for the class (each test asserts on one).
RUNS: dict[str, tuple[str, ...]] = {
    "verbose": ("-m", "unittest", "-v", "test_outcomes_cli"),
    "k_substring": ("-m", "unittest", "-v", "-k", "virtual_hour", "test_outcomes_cli"),
    "k_wildcard": ("-m", "unittest", "-k", "*.Outcomes.test_skipped_*", "test_outcomes_cli"),
    "failfast": ("-m", "unittest", "-f", "test_failfast_cli"),
    "no_failfast": ("-m", "unittest", "test_failfast_cli"),
    "buffer": ("-m", "unittest", "-b", "test_buffer_cli"),
    "no_buffer": ("-m", "unittest", "test_buffer_cli"),
    "subtests": ("-m", "unittest", "-v", "test_subtests_cli"),
    "load_tests_module": ("-m", "unittest", "-v", "test_load_tests_cli"),
    "load_tests_discover": ("-m", "unittest", "discover", "-s", ".", "-p", "test_load_tests_cli.py", "-v"),
    "main": ("run_main.py",),
    "main_with_names": ("run_main.py", "-v", "Main.test_one", "Main.test_two"),
}
if sys.version_info >= (3, 12):
    RUNS["durations"] = ("-m", "unittest", "-v", "--durations", "0", "test_durations_cli")


class UnittestCommandLineTest(unittest.TestCase):
    tmp: str
    results: dict[str, tuple[int, str]]

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.mkdtemp(prefix="atk-unittest-cli-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        for name, source in MODULES.items():
            with open(os.path.join(cls.tmp, name), "w", encoding="utf-8") as fh:
                fh.write(textwrap.dedent(source).lstrip())
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env.update(PYTHONPATH=ROOT, PYTHONDONTWRITEBYTECODE="1", PYTHONIOENCODING="utf-8")
        procs = {name: subprocess.Popen([sys.executable, *args], cwd=cls.tmp, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for name, args in RUNS.items()}
        cls.results = {}
        for name, proc in procs.items():
            try:
                out, _ = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
                out = f"TIMED OUT after 60 s: {RUNS[name]}\n{out}"
            cls.results[name] = (proc.returncode, out)

    def result_of(self, name: str) -> tuple[int, str]:
        """Exit code and output of the run *name* in RUNS (the interpreter under test, in the temp dir)."""
        return self.results[name]

    def assertRan(self, output: str, count: int, verdict: str, *, skipped_unstarted: int = 0) -> None:
        """Check ``Ran <count> tests`` and the verdict line.

        CPython 3.12 leaves tests skipped before they start (skip decorators) out of the ``Ran`` count.
        """
        counts = {count}
        if sys.version_info[:2] == (3, 12):
            counts.add(count - skipped_unstarted)
        self.assertRegex(output, rf"(?m)^Ran ({'|'.join(map(str, counts))}) tests? in ", output)
        self.assertRegex(output, rf"(?m)^{re.escape(verdict)}$", output)

    # -- -v, and the decorators on async tests --------------------------------------------------------
    def test_verbose_reports_each_async_outcome_and_the_decorators(self) -> None:
        code, out = self.result_of("verbose")
        self.assertEqual(code, 1, out)
        expected = {
            "test_passes_after_a_virtual_hour": "ok",
            "test_fails": "FAIL",
            "test_errors": "ERROR",
            "test_skipped_by_decorator": "skipped 'decorator skip reason'",
            "test_skipped_by_skip_if": "skipped 'skipIf reason'",
            "test_skipped_at_runtime": "skipped 'runtime skip reason'",
            "test_expected_failure": "expected failure",
            "test_unexpected_success": "unexpected success",
        }
        for name, status in expected.items():
            self.assertRegex(out, _line(name, "Outcomes", re.escape(status)))
        self.assertRegex(out, _line("test_in_skipped_class", "ClassSkipped",
                                    re.escape("skipped 'class skip reason'")))
        self.assertIn("AssertionError: 1 != 2 : custom failure text", out)
        self.assertIn("ValueError: async error text", out)
        self.assertRan(out, 9, "FAILED (failures=1, errors=1, skipped=4, expected failures=1, "
                               "unexpected successes=1)", skipped_unstarted=3)

    # -- -k -------------------------------------------------------------------------------------------
    def test_k_selects_async_tests_by_substring(self) -> None:
        code, out = self.result_of("k_substring")
        self.assertEqual(code, 0, out)
        self.assertRegex(out, _line("test_passes_after_a_virtual_hour", "Outcomes", "ok"))
        self.assertRan(out, 1, "OK")

    def test_k_selects_async_tests_by_wildcard_pattern(self) -> None:
        code, out = self.result_of("k_wildcard")
        self.assertEqual(code, 0, out)
        self.assertRan(out, 3, "OK (skipped=3)", skipped_unstarted=2)

    # -- -f -------------------------------------------------------------------------------------------
    def test_failfast_stops_after_the_first_failing_async_test(self) -> None:
        code, out = self.result_of("failfast")
        self.assertEqual(code, 1, out)
        self.assertIn("first failure", out)
        self.assertNotIn("second failure", out)
        self.assertRan(out, 1, "FAILED (failures=1)")

    def test_without_failfast_every_async_test_runs(self) -> None:
        code, out = self.result_of("no_failfast")
        self.assertEqual(code, 1, out)
        self.assertIn("second failure", out)
        self.assertRan(out, 3, "FAILED (failures=2)")

    # -- -b -------------------------------------------------------------------------------------------
    def test_buffer_keeps_output_of_passing_async_tests_and_shows_it_for_failures(self) -> None:
        code, out = self.result_of("buffer")
        self.assertEqual(code, 1, out)
        self.assertNotIn("pass-stdout-marker", out)
        self.assertNotIn("pass-stderr-marker", out)
        self.assertRegex(out, r"Stdout:\nsetup-stdout-marker\nfail-stdout-marker\n")
        self.assertRegex(out, rf"Stderr:\n{_LOGGED}fail-stderr-marker\n")
        # unittest echoes a failing test's buffer at once and again in the report; the passing test's
        # asyncSetUp output is never shown.
        self.assertEqual(out.count("setup-stdout-marker"), out.count("fail-stdout-marker"), out)
        self.assertRan(out, 2, "FAILED (failures=1)")

    def test_without_buffer_async_tests_print_directly(self) -> None:
        code, out = self.result_of("no_buffer")
        self.assertEqual(code, 1, out)
        for marker in ("pass-stdout-marker", "pass-stderr-marker", "fail-stdout-marker",
                       "fail-stderr-marker"):
            self.assertIn(marker, out)
        self.assertEqual(out.count("setup-stdout-marker"), 2, out)

    # -- --durations (3.12+) --------------------------------------------------------------------------
    @unittest.skipIf(sys.version_info < (3, 12), "unittest --durations is new in Python 3.12")
    def test_durations_report_real_time_not_virtual_time(self) -> None:
        code, out = self.result_of("durations")
        self.assertEqual(code, 0, out)
        self.assertIn("Slowest test durations", out)
        durations = {}
        for match in re.finditer(r"(?m)^([0-9.]+)s\s+(test_\w+) \(", out):
            durations[match.group(2)] = float(match.group(1))
        self.assertEqual(set(durations), {"test_virtual_day", "test_real_pause"}, out)
        self.assertLess(durations["test_virtual_day"], 5.0, "a virtual day must not count as real time")
        self.assertGreaterEqual(durations["test_real_pause"], 0.04, out)
        self.assertRan(out, 2, "OK")

    # -- subTest --------------------------------------------------------------------------------------
    def test_subtest_failures_inside_async_tests_are_reported_per_step(self) -> None:
        code, out = self.result_of("subtests")
        self.assertEqual(code, 1, out)
        failed = re.findall(r"(?m)^FAIL: test_steps \(.*\) \((step=\d)\)$", out)
        self.assertEqual(sorted(failed), ["step=1", "step=3"], out)
        self.assertIn("step 1 fails on purpose", out)
        self.assertIn("step 3 fails on purpose", out)
        self.assertEqual(out.count("AssertionError:"), 2, out)  # every step saw its exact virtual time
        self.assertRegex(out, _line("test_all_steps_pass", "SubTests", "ok", module="test_subtests_cli"))
        self.assertRan(out, 2, "FAILED (failures=2)")

    # -- load_tests -----------------------------------------------------------------------------------
    def test_load_tests_protocol_by_module_name(self) -> None:
        code, out = self.result_of("load_tests_module")
        self.assertEqual(code, 0, out)
        for delay in (1, 60, 3600):
            self.assertRegex(out, rf"(?m)^test_sleeps delay={delay} \.\.\. {_LOGGED}ok$")
        self.assertNotIn("left_out", out)
        self.assertRan(out, 3, "OK")

    def test_load_tests_protocol_in_discovery(self) -> None:
        code, out = self.result_of("load_tests_discover")
        self.assertEqual(code, 0, out)
        self.assertNotIn("left_out", out)
        self.assertRan(out, 3, "OK")

    # -- unittest.main() in a file --------------------------------------------------------------------
    def test_unittest_main_in_a_file_runs_its_async_tests(self) -> None:
        code, out = self.result_of("main")
        self.assertEqual(code, 1, out)
        self.assertIn("main failure text", out)
        self.assertRan(out, 3, "FAILED (failures=1)")

    def test_unittest_main_in_a_file_takes_test_names_and_options(self) -> None:
        code, out = self.result_of("main_with_names")
        self.assertEqual(code, 0, out)
        self.assertRegex(out, _line("test_two", "Main", "ok", module="__main__"))
        self.assertRan(out, 2, "OK")


if __name__ == "__main__":
    unittest.main()
