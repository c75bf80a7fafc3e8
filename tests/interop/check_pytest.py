"""Proves that pytest runs AsyncTestCase classes unchanged, with and without pytest-asyncio.

Run by ``.ci/jobs/interop_pytest.sh`` with the Python of a virtual environment that has pytest (and, for
some modes, pytest-asyncio) and the installed asynctestkit wheel::

    python tests/interop/check_pytest.py MODE [unittest options, e.g. -v]

MODE is one of:

- ``plain``: pytest without pytest-asyncio;
- ``strict``: pytest-asyncio installed, in its default (strict) mode;
- ``auto``: pytest-asyncio with ``asyncio_mode=auto``;
- ``auto-session``: auto mode with pytest-asyncio's test loop scoped to the session.

Each check runs pytest in a subprocess on the modules in ``tests/interop/pytest_cases/`` and asserts on the
exit code, on each test's outcome (recorded by the ``atk_outcomes`` plugin beside this file), on pytest's
summary line, and on the failure text.  Every case module declares the outcome pytest must report for each
of its tests in an ``EXPECTED`` table; this script reads those tables without importing the modules.

The cases live in a directory without ``__init__.py`` under ``tests/interop/`` (which has none either), so
``python -m unittest discover -s tests -t .`` never collects them; ``test_core_discovery_...`` checks that.
"""

from __future__ import annotations

import ast
import collections
import functools
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "pytest_cases")
ROOT = os.path.dirname(os.path.dirname(HERE))

MODES = {
    "plain": [],
    "strict": ["-o", "asyncio_default_fixture_loop_scope=function"],
    "auto": ["-o", "asyncio_default_fixture_loop_scope=function", "-o", "asyncio_mode=auto"],
    "auto-session": ["-o", "asyncio_default_fixture_loop_scope=function", "-o", "asyncio_mode=auto",
                     "-o", "asyncio_default_test_loop_scope=session"],
}
MODE = "plain"
USES_PYTEST_ASYNCIO = False

#: The failing suites of the core golden traceback tests (tests/test_failure_output.py), run here under pytest.
FAILURE_FIXTURES = os.path.join(ROOT, "tests", "failure_output")
PARTS = ("test", "asyncSetUp", "asyncTearDown", "async_cleanup", "setUp", "tearDown", "sync_cleanup")
SYNC_PARTS = ("setUp", "tearDown", "sync_cleanup")
CHAIN_SEPARATOR = "The above exception was the direct cause of the following exception:"

CORE_FILES = ["test_outcomes.py", "test_hang_report.py", "test_aiohttp_roundtrip.py", "test_loop_error.py"]
MIXED_FILE = "mixed_pytest_asyncio.py"


def case_files() -> list[str]:
    return CORE_FILES + ([MIXED_FILE] if USES_PYTEST_ASYNCIO else [])


def expected_outcomes(*files: str) -> dict[str, str]:
    """``{nodeid: outcome}`` from the ``EXPECTED`` table of each case module (read with ast, not imported)."""
    expected: dict[str, str] = {}
    for name in files:
        with open(os.path.join(CASES, name), encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), name)
        for node in tree.body:
            target = node.targets[0] if isinstance(node, ast.Assign) else None
            if isinstance(target, ast.Name) and target.id == "EXPECTED":
                expected.update({f"{name}::{test}": outcome
                                 for test, outcome in ast.literal_eval(node.value).items()})
                break
        else:
            raise AssertionError(f"{name} has no EXPECTED table")
    return expected


def marked_line(name: str, marker: str) -> int:
    """The line number of the line in case module *name* that carries the comment ``# <- marker``."""
    with open(os.path.join(CASES, name), encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.rstrip().endswith(f"# <- {marker}"):
                return number
    raise AssertionError(f"no line marked {marker!r} in {name}")


@dataclass
class PytestRun:
    args: list[str]
    returncode: int
    output: str
    outcomes: dict[str, str]

    def summary(self) -> dict[str, int]:
        """The counts of pytest's final line, e.g. ``== 5 failed, 6 passed, 1 xfailed in 0.21s ==``."""
        for line in reversed(self.output.splitlines()):
            match = re.fullmatch(r"=+ (.+?) in [0-9.]+s\b.*=+", line.strip())
            if match:
                counts: dict[str, int] = {}
                for part in match.group(1).split(", "):
                    number, _, word = part.partition(" ")
                    word = {"errors": "error", "warning": "warnings"}.get(word, word)
                    counts[word] = int(number)
                return counts
        raise AssertionError(f"no pytest summary line in the output:\n{self.output}")

    def section(self, title: str) -> str:
        """The failure section pytest prints under ``____ <title> ____``."""
        match = re.search(rf"^_+ {re.escape(title)} _+$(.*?)(?=^_{{3,}} |^=+ )", self.output, re.M | re.S)
        if match is None:
            raise AssertionError(f"no failure section {title!r} in the output:\n{self.output}")
        return match.group(1)

    def describe(self) -> str:
        return f"pytest {' '.join(self.args)} exited {self.returncode}; output:\n{self.output}"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")}
    env.update(PYTHONDONTWRITEBYTECODE="1", NO_COLOR="1", **extra)
    return env


def run_pytest(*args: str) -> PytestRun:
    """Run pytest on the case directory in a subprocess, with this mode's options plus *args*."""
    with tempfile.TemporaryDirectory() as tmp:
        record = os.path.join(tmp, "outcomes.json")
        full = ["-p", "no:cacheprovider", "-p", "atk_outcomes", "-rA", "--color=no", "-W",
                "error::DeprecationWarning", *MODES[MODE], *args]
        proc = subprocess.run([sys.executable, "-m", "pytest", *full], cwd=CASES, capture_output=True,
                              text=True, timeout=120, env=clean_env(PYTHONPATH=HERE, ATK_OUTCOMES=record))
        outcomes: dict[str, str] = {}
        if os.path.exists(record):
            with open(record, encoding="utf-8") as fh:
                outcomes = json.load(fh)
    return PytestRun(full, proc.returncode, proc.stdout + proc.stderr, outcomes)


@functools.cache
def run_fixture(fixture: str, base: str, tb: str) -> PytestRun:
    """Run tests/failure_output/<fixture> under pytest (this mode's options, ``--tb=<tb>``) on *base*.

    *base* is ``kit`` (AsyncTestCase) or ``plain`` (unittest.IsolatedAsyncioTestCase).  The module is copied
    into a temporary directory beside an empty ``pytest.ini``, so the checkout's configuration plays no part.
    """
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(os.path.join(FAILURE_FIXTURES, fixture), tmp)
        with open(os.path.join(tmp, "pytest.ini"), "w", encoding="utf-8") as fh:
            fh.write("[pytest]\n")
        full = ["-p", "no:cacheprovider", "--color=no", "-W", "error::DeprecationWarning", f"--tb={tb}",
                *MODES[MODE], fixture]
        proc = subprocess.run([sys.executable, "-m", "pytest", *full], cwd=tmp, capture_output=True, text=True,
                              timeout=120, env=clean_env(ATK_FIXTURE_BASE=base))
    return PytestRun([f"ATK_FIXTURE_BASE={base}", *full], proc.returncode, proc.stdout + proc.stderr, {})


def fixture_marked_line(fixture: str, marker: str) -> int:
    """The line of tests/failure_output/<fixture> that carries the comment ``# <- marker``."""
    with open(os.path.join(FAILURE_FIXTURES, fixture), encoding="utf-8") as fh:
        hits = [n for n, line in enumerate(fh, 1) if re.search(rf"# <- {re.escape(marker)}(\s|$)", line)]
    if len(hits) != 1:
        raise AssertionError(f"{fixture}: {len(hits)} lines marked {marker!r}")
    return hits[0]


def shown_lines(text: str, fixture: str, tb: str) -> list[int]:
    """The lines of *fixture* a pytest failure section shows, in order: its location lines (``fx.py:12: ...``
    in the auto/long/short styles) or its ``File "...fx.py", line 12`` lines (native style)."""
    if tb == "native":
        pattern = rf'^\s*File "[^"]*{re.escape(fixture)}", line (\d+), in '
    else:
        pattern = rf"^(?:\S*/)?{re.escape(fixture)}:(\d+): "
    return [int(n) for n in re.findall(pattern, text, re.M)]


def package_locations(text: str, tb: str) -> list[str]:
    """Traceback entries of a failure section that point into the asynctestkit package."""
    if tb == "native":
        return re.findall(r'^\s*File "[^"]*/asynctestkit/[^"]*", line \d+.*$', text, re.M)
    return re.findall(r"^\S*/asynctestkit/\S+:\d+: .*$", text, re.M)


@functools.cache
def full_run() -> PytestRun:
    """One pytest run over every case module of this mode (shared by several checks)."""
    return run_pytest(*case_files())


class PytestInteropTest(unittest.TestCase):
    maxDiff = None

    def assertOutcomes(self, run: PytestRun, expected: dict[str, str]) -> None:
        self.assertEqual(run.outcomes, expected, run.describe())
        counts = collections.Counter(expected.values())
        summary = {word: n for word, n in run.summary().items() if word not in ("deselected", "warnings")}
        self.assertEqual(summary, dict(counts), f"pytest's summary line disagrees\n{run.describe()}")

    # -- the environment is what the mode says ----------------------------------------------------
    def test_environment_matches_the_mode(self) -> None:
        has_plugin = importlib.util.find_spec("pytest_asyncio") is not None
        wanted_plugin = "present" if USES_PYTEST_ASYNCIO else "absent"
        self.assertEqual(has_plugin, USES_PYTEST_ASYNCIO,
                         f"mode {MODE!r} expects pytest-asyncio {wanted_plugin}")
        run = full_run()
        if USES_PYTEST_ASYNCIO:
            wanted = "AUTO" if MODE.startswith("auto") else "STRICT"
            self.assertRegex(run.output, rf"asyncio: mode=(Mode\.)?{wanted}", run.describe())
        else:
            self.assertNotIn("asyncio: mode=", run.output)

    def test_installed_wheel_reports_the_package_version(self) -> None:
        import asynctestkit

        self.assertIn("site-packages", asynctestkit.__file__, "the checks must use the installed wheel")
        self.assertEqual(importlib.metadata.version("asynctestkit"), asynctestkit.__version__)

    def test_core_discovery_never_collects_the_pytest_cases(self) -> None:
        code = ("import unittest\n"
                "def ids(suite):\n"
                "    for t in suite:\n"
                "        yield from ids(t) if isinstance(t, unittest.TestSuite) else [t.id()]\n"
                "print('\\n'.join(ids(unittest.TestLoader().discover('tests', top_level_dir='.'))))\n")
        proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                              timeout=60, env=clean_env())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        ids = proc.stdout.splitlines()
        collected = [i for i in ids if "pytest_cases" in i or "interop" in i or "typecheck" in i]
        self.assertEqual(collected, [], "python -m unittest discover -s tests -t . must not collect these")
        self.assertGreater(len([i for i in ids if i.startswith("tests.")]), 10,
                           "discovery found almost nothing: the check would prove nothing")

    # -- outcomes --------------------------------------------------------------------------------
    def test_every_outcome_is_reported_as_unittest_meant_it(self) -> None:
        run = full_run()
        self.assertEqual(run.returncode, 1, run.describe())
        self.assertOutcomes(run, expected_outcomes(*case_files()))

    def test_all_passing_selection_exits_zero(self) -> None:
        node = "test_outcomes.py::OutcomesTest::test_imports_the_installed_package"
        run = run_pytest("test_aiohttp_roundtrip.py", node)
        self.assertEqual(run.returncode, 0, run.describe())
        expected = expected_outcomes("test_aiohttp_roundtrip.py")
        expected[node] = "passed"
        self.assertOutcomes(run, expected)

    def test_node_id_selects_one_async_test_as_ide_runners_do(self) -> None:
        node = "test_outcomes.py::OutcomesTest::test_a_virtual_hour_passes_instantly"
        run = run_pytest(node)
        self.assertEqual(run.returncode, 0, run.describe())
        self.assertOutcomes(run, {node: "passed"})

    def test_keyword_selection_runs_only_the_matching_async_tests(self) -> None:
        run = run_pytest("test_outcomes.py", "-k", "virtual_hour or skip_decorator or expected_failure")
        self.assertEqual(run.returncode, 0, run.describe())
        wanted = ["test_a_virtual_hour_passes_instantly", "test_skip_decorator_on_an_async_test",
                  "test_expected_failure_is_xfailed"]
        expected = {k: v for k, v in expected_outcomes("test_outcomes.py").items()
                    if k.rsplit("::", 1)[1] in wanted}
        self.assertEqual(sorted(v for v in expected.values()), ["passed", "skipped", "xfailed"])
        self.assertOutcomes(run, expected)
        total = len(expected_outcomes("test_outcomes.py"))
        self.assertEqual(run.summary().get("deselected"), total - 3, run.describe())

    def test_exitfirst_stops_at_the_first_failing_async_test(self) -> None:
        run = run_pytest("-x", "test_outcomes.py")
        self.assertEqual(run.returncode, 1, run.describe())
        expected = expected_outcomes("test_outcomes.py")
        failed = [k for k, v in run.outcomes.items() if v == "failed"]
        self.assertEqual(len(failed), 1, run.describe())
        self.assertLess(len(run.outcomes), len(expected), run.describe())
        for nodeid, outcome in run.outcomes.items():
            self.assertEqual(outcome, expected[nodeid], nodeid)
        self.assertIn("stopping after 1 failures", run.output)

    # -- failure text ----------------------------------------------------------------------------
    def test_unittest_failure_messages_are_shown_intact(self) -> None:
        run = full_run()
        equal = run.section("OutcomesTest.test_assert_equal_failure_keeps_the_unittest_message")
        self.assertIn("AssertionError: 'expected-value' != 'actual-value'", equal)
        self.assertIn("custom message from the test", equal)
        self.assertIn("assert 41 == 42", run.section("OutcomesTest.test_plain_assert_is_rewritten_by_pytest"))
        self.assertIn("ValueError: boom from an async test",
                      run.section("OutcomesTest.test_error_in_an_async_test_is_a_failure"))
        self.assertIn("RuntimeError: asyncSetUp failed on purpose",
                      run.section("FailingSetUpTest.test_never_runs_because_asyncSetUp_fails"))
        self.assertIn("Unexpected success", run.section("OutcomesTest.test_unexpected_success_is_a_failure"))
        for reason in ("skipped by the decorator", "skipped at virtual t=5", "the whole class is skipped"):
            self.assertRegex(run.output, rf"SKIPPED \[1\] test_outcomes\.py:\d+: {re.escape(reason)}")
        self.assertIn("XFAIL test_outcomes.py::OutcomesTest::test_expected_failure_is_xfailed", run.output)

    def test_deadlock_report_names_the_tasks_and_their_lines(self) -> None:
        text = full_run().section("HangReportTest.test_deadlock_is_reported_with_tasks_and_lines")
        test = "test_deadlock_is_reported_with_tasks_and_lines"
        self.assertIn(f"DeadlockError: test '{test}' can never finish", text)
        self.assertIn("task 'stuck-worker' (wait_forever())", text)
        lines = {m: marked_line("test_hang_report.py", m)
                 for m in ("test suspended", "worker created", "worker suspended")}
        self.assertIn(f"suspended at test_hang_report.py:{lines['test suspended']} in {test}: await worker",
                      text)
        self.assertIn(f"created at   test_hang_report.py:{lines['worker created']} in {test}", text)
        self.assertIn(f"suspended at test_hang_report.py:{lines['worker suspended']} in wait_forever: "
                      f"await event.wait()", text)

    def test_livelock_report_names_the_ticking_task(self) -> None:
        text = full_run().section("HangReportTest.test_livelock_is_reported_at_the_horizon")
        self.assertIn("LivelockError: test 'test_livelock_is_reported_at_the_horizon'", text)
        self.assertIn("task 'ticker' (tick_forever())", text)
        line = marked_line("test_hang_report.py", "ticker suspended")
        self.assertIn(f"test_hang_report.py:{line} in tick_forever: await asyncio.sleep(1)", text)

    # -- golden tracebacks: the user's failing line, as plain IsolatedAsyncioTestCase shows it ---------------
    def test_every_part_shows_the_same_failing_lines_as_plain_isolated_asyncio_test_case(self) -> None:
        fixture = "fx_phases.py"
        tests = [f"test_{kind}_in_{part}" for kind in ("failure", "error") for part in PARTS]
        for tb in ("auto", "short", "native"):
            kit, plain = run_fixture(fixture, "kit", tb), run_fixture(fixture, "plain", tb)
            for run in (kit, plain):
                self.assertEqual(run.returncode, 1, run.describe())
                self.assertEqual(run.summary(), {"failed": 14}, run.describe())
            for test in tests:
                kind, part = test[len("test_"):].split("_in_", 1)
                with self.subTest(tb=tb, test=test):
                    mine, theirs = kit.section(f"Parts.{test}"), plain.section(f"Parts.{test}")
                    expected = [fixture_marked_line(fixture, f"{kind} {part}")]
                    if kind == "error":
                        expected.append(fixture_marked_line(fixture, "raise sync" if part in SYNC_PARTS
                                                            else "raise async"))
                    self.assertEqual(shown_lines(theirs, fixture, tb), expected, theirs)
                    self.assertEqual(shown_lines(mine, fixture, tb), expected, mine)
                    if tb != "native":  # native prints every frame, unittest's and asynctestkit's own included
                        self.assertEqual(mine, theirs)
                        self.assertEqual(package_locations(mine, tb), [], mine)

    def test_our_assertions_show_the_line_that_called_them(self) -> None:
        fixture = "fx_assertions.py"
        tests = ["test_assert_takes_awaited", "test_assert_takes_block", "test_assert_completes_within_awaited",
                 "test_assert_completes_within_block", "test_assert_gather_raises", "test_assert_task_cancelled",
                 "test_assert_task_group_raises", "test_assert_exception_group_matches"]
        expected = {"failed": 9}
        if sys.version_info < (3, 11):  # no exception groups: the two group assertions skip, as documented
            tests = [t for t in tests if "group" not in t]
            expected = {"failed": 7, "skipped": 2}
        for tb in ("auto", "short"):
            run = run_fixture(fixture, "kit", tb)
            self.assertEqual(run.returncode, 1, run.describe())
            self.assertEqual(run.summary(), expected, run.describe())
            for test in tests:
                with self.subTest(tb=tb, test=test):
                    # The last exception of the chain (a group assertion's cause, an exception group, is printed
                    # before it in pytest's native style for groups).
                    text = run.section(f"Assertions.{test}").split(CHAIN_SEPARATOR)[-1]
                    self.assertEqual(shown_lines(text, fixture, tb)[-1:], [fixture_marked_line(fixture, test)], text)
                    self.assertEqual(package_locations(text, tb), [], text)
                    self.assertRegex(text, r"(?m)^E\s+AssertionError: ")
            with self.subTest(tb=tb, test="test_deadlock"):
                text = run.section("Assertions.test_deadlock")
                line = fixture_marked_line(fixture, "test_deadlock")
                self.assertIn(line, shown_lines(text, fixture, tb), text)
                self.assertEqual(package_locations(text, tb), [], text)
                self.assertIn("DeadlockError: test 'test_deadlock' can never finish", text)
                self.assertIn(f"suspended at {fixture}:{line} in test_deadlock", text)

    def test_an_error_the_loop_swallowed_fails_with_the_callback_and_its_line(self) -> None:
        text = full_run().section("LoopErrorTest.test_callback_error_fails_the_test")
        self.assertIn("LeakError: test_callback_error_fails_the_test had 1 error swallowed by the loop", text)
        self.assertIn("callback broken() raised RuntimeError('callback broke')", text)
        self.assertIn(f"raised at    test_loop_error.py:{marked_line('test_loop_error.py', 'raised')} in broken",
                      text)

    # -- the aiohttp module under plain unittest too ---------------------------------------------
    def test_aiohttp_roundtrip_passes_under_python_m_unittest(self) -> None:
        proc = subprocess.run([sys.executable, "-m", "unittest", "-v", "test_aiohttp_roundtrip"], cwd=CASES,
                              capture_output=True, text=True, timeout=120, env=clean_env())
        output = proc.stdout + proc.stderr
        self.assertEqual(proc.returncode, 0, output)
        self.assertRegex(output, rf"Ran {len(expected_outcomes('test_aiohttp_roundtrip.py'))} tests in")
        self.assertTrue(output.rstrip().endswith("OK"), output)


def main() -> None:
    global MODE, USES_PYTEST_ASYNCIO
    if len(sys.argv) < 2 or sys.argv[1] not in MODES:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(MODES)}}} [unittest options]")
    MODE = sys.argv.pop(1)
    USES_PYTEST_ASYNCIO = MODE != "plain"
    print(f"pytest interop checks, mode {MODE!r}: pytest {importlib.metadata.version('pytest')}, "
          f"pytest-asyncio {_version_or_none('pytest-asyncio')}, aiohttp {_version_or_none('aiohttp')}, "
          f"Python {sys.version.split()[0]}", flush=True)
    unittest.main(module=__name__)


def _version_or_none(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    main()
