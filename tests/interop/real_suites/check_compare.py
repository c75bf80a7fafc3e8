"""Self-check of the real-suites comparer: it classifies as documented and fails the job when it must.

Run by ``.ci/jobs/real_suites.sh`` before the suites (a comparer that can no longer fail would turn the job
green whatever happens)::

    python -m unittest tests/interop/real_suites/check_compare.py

Standard library only; not collected by the core suite (no ``test_`` prefix, folder without ``__init__.py``).
Each check writes a small config, listing files and two runs' results into a temporary folder.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import realsuites  # the comparer beside this file (found through the path entry above)

_LEAK_TEXT = ("asynctestkit.LeakError: test_x leaked 1 open transport (found after all cleanups)\n"
              " open transports:\n  1. read pipe transport (fd 9) still open")
_CLOCK_TEXT = ("asynctestkit.LivelockError: test 'test_x' did not finish within the virtual-time horizon of "
               "86400 s")


class CompareChecks(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.dir)
        config = {"libraries": [{"name": "lib", "sdist": "lib==1.0", "requirements": ["lib==1.0"],
                                 "modules": ["tests"], "timeout": 60}]}
        (self.dir / "suites.json").write_text(json.dumps(config))
        (self.dir / "leaks.txt").write_text("# confirmed leaks\n")
        (self.dir / "classified.txt").write_text("")
        (self.dir / "work" / "lib").mkdir(parents=True)

    def _runs(self, baseline: dict[str, Any], swapped: dict[str, Any], *, swapped_on_base: int = 1) -> None:
        for mode, tests, on_base in (("baseline", baseline, 0), ("swapped", swapped, swapped_on_base)):
            lines = [json.dumps({"id": test, "outcome": outcome, "seconds": seconds, "detail": detail})
                     for test, (outcome, seconds, detail) in tests.items()]
            lines.append(json.dumps({"summary": {"mode": mode, "on_swapped_base": on_base, "python": "3.x"}}))
            (self.dir / "work" / "lib" / f"{mode}.jsonl").write_text("\n".join(lines) + "\n")
            (self.dir / "work" / "lib" / f"{mode}.wall").write_text("2.0\n" if mode == "baseline" else "1.0\n")

    def _compare(self) -> tuple[int, str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = realsuites.compare(self.dir / "work", config=self.dir / "suites.json",
                                        known_leaks=self.dir / "leaks.txt",
                                        classified_file=self.dir / "classified.txt")
        return status, out.getvalue()

    def test_same_outcomes_pass_with_the_table_and_speed_up(self) -> None:
        self._runs({"t.a": ("pass", 0.5, ""), "t.b": ("skip", 0.0, "why")},
                   {"t.a": ("pass", 0.1, ""), "t.b": ("skip", 0.0, "why")})
        status, text = self._compare()
        self.assertEqual(status, 0, text)
        self.assertIn("Regressions with the swap: none", text)
        self.assertRegex(text, r"lib\s+1\.0\s+2\s+1/0/1\s+1/0/1\s+2\.0\s+1\.0\s+2\.0x")

    def test_unlisted_clock_failure_fails_the_job_as_clock_guess(self) -> None:
        self._runs({"t.a": ("pass", 0.5, "")}, {"t.a": ("error", 0.1, _CLOCK_TEXT)})
        status, text = self._compare()
        self.assertEqual(status, 1)
        self.assertIn("[clock?] lib  t.a  (fails)", text)
        self.assertIn("evidence: asynctestkit.LivelockError: test 'test_x' did not finish", text)

    def test_listed_clock_regression_still_fails_the_job(self) -> None:
        (self.dir / "classified.txt").write_text("lib | t.a | clock | virtual time.time() not yet\n")
        self._runs({"t.a": ("pass", 0.5, "")}, {"t.a": ("error", 0.1, _CLOCK_TEXT)})
        status, text = self._compare()
        self.assertEqual(status, 1)
        self.assertIn("[clock] lib  t.a  (fails)", text)
        self.assertIn("reason:   virtual time.time() not yet", text)

    def test_confirmed_leak_passes_and_unconfirmed_leak_fails(self) -> None:
        (self.dir / "leaks.txt").write_text("lib | t.a | transport never closed by the library\n")
        self._runs({"t.a": ("pass", 0.5, ""), "t.b": ("pass", 0.5, "")},
                   {"t.a": ("fail", 0.1, _LEAK_TEXT), "t.b": ("fail", 0.1, _LEAK_TEXT)})
        status, text = self._compare()
        self.assertEqual(status, 1)
        self.assertIn("[leak] lib  t.a  (fails)", text)
        self.assertIn("[leak?] lib  t.b  (fails)", text)

    def test_leak_listing_does_not_cover_a_failure_that_is_not_a_leak_report(self) -> None:
        (self.dir / "leaks.txt").write_text("lib | t.a | transport never closed by the library\n")
        self._runs({"t.a": ("pass", 0.5, "")}, {"t.a": ("fail", 0.1, "AssertionError: 1 != 2")})
        status, text = self._compare()
        self.assertEqual(status, 1)
        self.assertIn("[unclassified] lib  t.a  (fails)", text)

    def test_other_with_reason_passes(self) -> None:
        (self.dir / "classified.txt").write_text("lib | t.a | not-for-swapped-base | overrides _setupAsyncioLoop\n")
        self._runs({"t.a": ("pass", 0.5, "")}, {"t.a": ("error", 0.1, "AttributeError: x")})
        status, text = self._compare()
        self.assertEqual(status, 0, text)
        self.assertIn("[not-for-swapped-base] lib  t.a", text)

    def test_much_slower_and_missing_tests_are_regressions(self) -> None:
        self._runs({"t.slow": ("pass", 1.0, ""), "t.gone": ("pass", 0.1, "")}, {"t.slow": ("pass", 4.5, "")})
        status, text = self._compare()
        self.assertEqual(status, 1)
        self.assertIn("[clock?] lib  t.slow  (slower)", text)
        self.assertIn("evidence: wall 1.00 s -> 4.50 s", text)
        self.assertIn("[clock?] lib  t.gone  (fails)", text)  # did not finish: the run was killed

    def test_a_swap_that_reached_no_test_is_a_problem(self) -> None:
        self._runs({"t.a": ("pass", 0.5, "")}, {"t.a": ("pass", 0.5, "")}, swapped_on_base=0)
        status, text = self._compare()
        self.assertEqual(status, 1)
        self.assertIn("PROBLEM: lib: no test ran on asynctestkit.AsyncTestCase", text)

    def test_a_class_outside_the_allowed_ones_is_refused_by_name(self) -> None:
        (self.dir / "classified.txt").write_text("lib | t.a | fine | trust me\n")
        self._runs({"t.a": ("pass", 0.5, "")}, {"t.a": ("pass", 0.5, "")})
        with self.assertRaises(SystemExit) as caught:
            self._compare()
        self.assertEqual(str(caught.exception), "classified.txt: lib t.a: class 'fine', allowed: clock, "
                                                "not-for-swapped-base, other")


if __name__ == "__main__":
    unittest.main()
