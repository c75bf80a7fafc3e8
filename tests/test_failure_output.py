"""What a failing test prints: the user's failing line, always, as plain IsolatedAsyncioTestCase shows it.

Golden tests on the interpreter under test.  Each runs a small failing suite from ``tests/failure_output/``
in a subprocess, under ``python -m unittest <module>`` and as a script ending in ``unittest.main()``, and
reads the runner's output as the user sees it:

- ``fx_phases.py`` fails (``assertEqual``) and errors (``KeyError`` one call deeper) in each part of a test:
  the test, asyncSetUp, asyncTearDown, an async cleanup, setUp, tearDown, a sync cleanup.  It runs once on
  ``AsyncTestCase`` and once on plain ``unittest.IsolatedAsyncioTestCase`` (the environment variable
  ``ATK_FIXTURE_BASE=plain`` picks the base); the frames of the fixture file must be identical, must be the
  lines marked in the fixture (the failing line last), and no file of asynctestkit may appear;
- ``fx_assertions.py``: asynctestkit's own assertions fail (``await self.assertX(...)`` and
  ``async with self.assertX(...):``): the traceback ends at the user's line that called the assertion; a
  deadlock's traceback shows the line where the test is stuck, and its report names it.

Lines are found through their ``# <- ...`` marker comments, never hard-coded.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import unittest
from dataclasses import dataclass
from typing import ClassVar

import asynctestkit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "failure_output")
PACKAGE_DIR = os.path.dirname(os.path.abspath(asynctestkit.__file__))
STYLES = ("python -m unittest", "unittest.main()")
PARTS = ("test", "asyncSetUp", "asyncTearDown", "async_cleanup", "setUp", "tearDown", "sync_cleanup")
SYNC_PARTS = ("setUp", "tearDown", "sync_cleanup")
RULE = "=" * 70
_FRAME = re.compile(r'^(?P<prefix>[ |]*)File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')
_CHAIN = re.compile(r"^[ |]*(The above exception was the direct cause of the following exception:|"
                    r"During handling of the above exception, another exception occurred:)$", re.M)


@dataclass(frozen=True)
class Frame:
    file: str
    line: int
    func: str
    source: str

    def __str__(self) -> str:
        return f"{os.path.basename(self.file)}:{self.line} in {self.func}: {self.source}"


@dataclass(frozen=True)
class Report:
    """One ``FAIL:``/``ERROR:`` section of unittest's output."""

    flavour: str  # FAIL or ERROR
    test: str
    text: str

    def frames(self, *, last_exception_only: bool = False) -> list[Frame]:
        text = _CHAIN.split(self.text)[-1] if last_exception_only else self.text
        lines = text.splitlines()
        frames = []
        for index, line in enumerate(lines):
            match = _FRAME.match(line)
            if match is None:
                continue
            source = lines[index + 1][len(match["prefix"]):].strip() if index + 1 < len(lines) else ""
            frames.append(Frame(match["file"], int(match["line"]), match["func"], source))
        return frames

    def fixture_frames(self, fixture: str, *, last_exception_only: bool = False) -> list[Frame]:
        return [f for f in self.frames(last_exception_only=last_exception_only)
                if os.path.basename(f.file) == fixture]

    def package_frames(self) -> list[Frame]:
        """asynctestkit's frames in the traceback, except the 3.10 runner task's.

        On 3.10 plain IsolatedAsyncioTestCase prints the frame of its runner task (``async_case.py ... in
        _asyncioLoopRunner: ret = await awaitable``) between the loop and the test; asynctestkit replaces that
        runner (``_runner310.py``, so that SystemExit and KeyboardInterrupt do not kill it), so its frame stands
        exactly where unittest's stands: the same number of frames, no more.
        """
        return [f for f in self.frames() if os.path.abspath(f.file).startswith(PACKAGE_DIR + os.sep)
                and os.path.basename(f.file) != RUNNER_310]


RUNNER_310 = "_runner310.py"  # see Report.package_frames


@dataclass(frozen=True)
class Run:
    command: str
    returncode: int
    output: str

    def reports(self) -> dict[str, Report]:
        found: dict[str, Report] = {}
        for chunk in self.output.split(RULE + "\n")[1:]:
            match = re.match(r"(FAIL|ERROR): (\w+) \(.*?\)\n-{70}\n(.*)", chunk, re.S)
            if match is None:
                continue
            text = re.split(r"^-{70}\nRan \d+ tests? in ", match[3], flags=re.M)[0]
            found[match[2]] = Report(match[1], match[2], text.rstrip("\n") + "\n")
        return found

    def describe(self) -> str:
        return f"{self.command} exited {self.returncode}; output:\n{self.output}"


@functools.cache
def run_fixture(module: str, style: str, base: str = "kit") -> Run:
    """Run fixture *module* the way *style* says, on the *base* test case class ("kit" or "plain")."""
    if style == "python -m unittest":
        argv = [sys.executable, "-m", "unittest", module]
    else:
        argv = [sys.executable, f"{module}.py"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ASYNCTESTKIT_"))}
    env.update(PYTHONPATH=ROOT, PYTHONDONTWRITEBYTECODE="1", ATK_FIXTURE_BASE=base)
    proc = subprocess.run(argv, cwd=FIXTURES, capture_output=True, text=True, timeout=120, env=env)
    return Run(f"ATK_FIXTURE_BASE={base} {' '.join(argv[1:])}", proc.returncode, proc.stdout + proc.stderr)


@functools.cache
def marked_line(fixture: str, marker: str) -> int:
    """The number of the line of *fixture* that ends with the comment ``# <- marker``."""
    with open(os.path.join(FIXTURES, fixture), encoding="utf-8") as fh:
        hits = [n for n, line in enumerate(fh, 1) if re.search(rf"# <- {re.escape(marker)}(\s|$)", line)]
    if len(hits) != 1:
        raise AssertionError(f"{fixture}: {len(hits)} lines marked {marker!r}, expected exactly one")
    return hits[0]


class PartsFailureOutputTests(unittest.TestCase):
    """fx_phases.py: a failure and an error in every part, AsyncTestCase against plain IATC."""

    maxDiff = None
    FIXTURE = "fx_phases.py"
    TESTS: ClassVar[list[str]] = [f"test_{kind}_in_{part}" for kind in ("failure", "error") for part in PARTS]

    def reports(self, style: str, base: str) -> dict[str, Report]:
        run = run_fixture("fx_phases", style, base)
        self.assertEqual(run.returncode, 1, run.describe())
        self.assertIn("FAILED (failures=7, errors=7)", run.output, run.describe())
        reports = run.reports()
        self.assertEqual(sorted(reports), sorted(self.TESTS), run.describe())
        return reports

    def test_every_part_shows_the_same_fixture_frames_as_plain_isolated_asyncio_test_case(self) -> None:
        for style in STYLES:
            kit, plain = self.reports(style, "kit"), self.reports(style, "plain")
            for test in self.TESTS:
                with self.subTest(style=style, test=test):
                    self.assertEqual(kit[test].flavour, plain[test].flavour)
                    mine = [str(f) for f in kit[test].fixture_frames(self.FIXTURE)]
                    theirs = [str(f) for f in plain[test].fixture_frames(self.FIXTURE)]
                    self.assertTrue(theirs, f"plain IATC shows no frame of the fixture:\n{plain[test].text}")
                    self.assertEqual(mine, theirs, f"AsyncTestCase:\n{kit[test].text}\nplain:\n{plain[test].text}")

    def test_the_failing_line_is_shown_last_and_an_error_shows_the_call_chain(self) -> None:
        for style in STYLES:
            reports = self.reports(style, "kit")
            for test in self.TESTS:
                kind, part = test[len("test_"):].split("_in_", 1)
                with self.subTest(style=style, test=test):
                    report = reports[test]
                    self.assertEqual(report.flavour, "FAIL" if kind == "failure" else "ERROR")
                    lines = [f.line for f in report.fixture_frames(self.FIXTURE)]
                    expected = [marked_line(self.FIXTURE, f"{kind} {part}")]
                    if kind == "error":
                        raise_marker = "raise sync" if part in SYNC_PARTS else "raise async"
                        expected.append(marked_line(self.FIXTURE, raise_marker))
                    self.assertEqual(lines, expected, report.text)

    def test_no_frame_of_asynctestkit_is_printed(self) -> None:
        for style in STYLES:
            for test, report in self.reports(style, "kit").items():
                with self.subTest(style=style, test=test):
                    self.assertEqual([str(f) for f in report.package_frames()], [], report.text)

    def test_the_message_follows_the_traceback(self) -> None:
        for style in STYLES:
            reports = self.reports(style, "kit")
            for part in PARTS:
                with self.subTest(style=style, part=part):
                    failure = reports[f"test_failure_in_{part}"].text
                    error = reports[f"test_error_in_{part}"].text
                    if part == "test":
                        self.assertIn("AssertionError: Lists differ: [1, 2] != [1, 3]", failure)
                    else:
                        self.assertRegex(failure, rf"AssertionError: '{part}' != '[a-z-]+'")
                    self.assertTrue(error.rstrip().endswith(f"KeyError: '{part}'"), error)

    def test_the_test_ids_match_plain_isolated_asyncio_test_case(self) -> None:
        for style in STYLES:
            kit, plain = run_fixture("fx_phases", style, "kit"), run_fixture("fx_phases", style, "plain")
            with self.subTest(style=style):
                headers = re.compile(r"^(?:FAIL|ERROR): .*$", re.M)
                self.assertEqual(sorted(headers.findall(kit.output)), sorted(headers.findall(plain.output)))


class AssertionFailureOutputTests(unittest.TestCase):
    """fx_assertions.py: our own assertions show the user's line that called them; a deadlock its line."""

    maxDiff = None
    FIXTURE = "fx_assertions.py"
    MESSAGES: ClassVar[dict[str, str]] = {
        "test_assert_takes_awaited": "sleep() took 3 s of virtual time, expected exactly 10 s",
        "test_assert_takes_block": "took 3 s of virtual time, expected exactly 10 s",
        "test_assert_completes_within_awaited": "did not complete within 1 s of virtual time",
        "test_assert_completes_within_block": "did not complete within 1 s of virtual time",
        "test_assert_gather_raises": "gather() did not raise KeyError",
        "test_assert_task_cancelled": "did not end cancelled",
        "test_assert_task_group_raises": "does not match",
        "test_assert_exception_group_matches": "does not match",
    }
    GROUPS = ("test_assert_task_group_raises", "test_assert_exception_group_matches")

    def reports(self, style: str) -> dict[str, Report]:
        run = run_fixture("fx_assertions", style)
        self.assertEqual(run.returncode, 1, run.describe())
        summary = "FAILED (failures=9)" if sys.version_info >= (3, 11) else "FAILED (failures=7, skipped=2)"
        self.assertIn(summary, run.output, run.describe())
        return run.reports()

    def test_a_failing_assertion_shows_the_calling_line_last(self) -> None:
        for style in STYLES:
            reports = self.reports(style)
            for test, message in self.MESSAGES.items():
                with self.subTest(style=style, test=test):
                    if test in self.GROUPS and sys.version_info < (3, 11):
                        self.assertNotIn(test, reports)
                        continue
                    report = reports[test]
                    self.assertEqual(report.flavour, "FAIL")
                    frames = report.fixture_frames(self.FIXTURE, last_exception_only=True)
                    self.assertTrue(frames, report.text)
                    self.assertEqual(frames[-1].line, marked_line(self.FIXTURE, test), report.text)
                    self.assertEqual(frames[-1].func, test)
                    self.assertEqual(report.frames(last_exception_only=True)[-1], frames[-1],
                                     f"a frame follows the calling line:\n{report.text}")
                    self.assertRegex(report.text, rf"(?m)^AssertionError: .*{re.escape(message)}")
                    self.assertEqual([str(f) for f in report.package_frames()], [], report.text)

    def test_a_deadlock_shows_the_line_where_the_test_is_stuck_and_the_report(self) -> None:
        for style in STYLES:
            with self.subTest(style=style):
                report = self.reports(style)["test_deadlock"]
                self.assertEqual(report.flavour, "FAIL")
                line = marked_line(self.FIXTURE, "test_deadlock")
                frames = report.fixture_frames(self.FIXTURE)
                self.assertEqual([(f.line, f.func) for f in frames], [(line, "test_deadlock")], report.text)
                self.assertEqual([str(f) for f in report.package_frames()], [], report.text)
                self.assertRegex(report.text, r"(?m)^asynctestkit\.DeadlockError: test 'test_deadlock' can never "
                                              r"finish: .*\(virtual t=5\.000s, ")
                self.assertIn(f"suspended at {self.FIXTURE}:{line} in test_deadlock: await asyncio.Event().wait()",
                              report.text)


class FixtureSanityTests(unittest.TestCase):
    """The fixtures stay out of the core suite's discovery and every marker is unique."""

    def test_the_fixture_directory_is_not_a_package(self) -> None:
        self.assertFalse(os.path.exists(os.path.join(FIXTURES, "__init__.py")))
        suite = unittest.TestLoader().discover(os.path.join(ROOT, "tests"), top_level_dir=ROOT)

        def ids(suite: unittest.TestSuite) -> list[str]:
            out: list[str] = []
            for test in suite:
                out.extend(ids(test) if isinstance(test, unittest.TestSuite) else [test.id()])
            return out

        found = ids(suite)
        self.assertIn(f"{__name__}.FixtureSanityTests.test_the_fixture_directory_is_not_a_package", found)
        self.assertEqual([i for i in found if re.search(r"\bfx_\w+\.|\bParts\.|\bAssertions\.test_", i)], [])

    def test_every_marker_names_exactly_one_line(self) -> None:
        for part in PARTS:
            for kind in ("failure", "error"):
                marked_line("fx_phases.py", f"{kind} {part}")
        marked_line("fx_phases.py", "raise sync")
        marked_line("fx_phases.py", "raise async")
        for test in (*AssertionFailureOutputTests.MESSAGES, "test_deadlock"):
            marked_line("fx_assertions.py", test)


if __name__ == "__main__":
    unittest.main()
