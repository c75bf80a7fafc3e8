"""Every report asynctestkit raises or logs, rendered from a small failing test, read as the user reads it.

The failing tests are in ``tests/report_gallery.py``.  Each report must say first what was expected or
what happened, then where: the user's ``file:line`` relative to the current directory, each task as
``task 'name' (coroutine())`` with its creation site, the virtual time; and fit one screen.  On Python 3.12
the generated page ``docs/failures.md`` must match what the code produces now.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import unittest
from types import ModuleType

from tests import report_gallery as gallery

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GALLERY = "tests/report_gallery.py"
SITE = re.escape(GALLERY) + r":\d+ in \w+"

#: What each report must contain, beyond the checks every report gets (regular expressions, searched).
REQUIRED: dict[str, list[str]] = {
    "deadlock": [r"^asynctestkit\.DeadlockError: test 'test_waits_for_a_reply_nobody_sends' can never finish: "
                 r".*\(virtual t=0\.000s, real N\.NNNs\)$",
                 r"\n  2\. task 'server' \(serve\(\)\)\n       created at   " + SITE,
                 r"suspended at " + SITE + r": await requests\.get\(\)  \(awaiting Queue\.get\(\)\)"],
    "livelock": [r"^asynctestkit\.LivelockError: .* horizon of 600 s.*\(virtual t=600\.000s",
                 r"timer at t=601\.000s wakes task 'heartbeat' \(heartbeat\(\)\) at " + SITE],
    "deadlock-background": [r"^asynctestkit\.DeadlockError: test 'test_waits_beside_a_heartbeat' can never finish: "
                            r"it awaits Queue\.get\(\) at " + SITE + r" and only background work is left \(1 "
                            r"background task ran for 60 s of virtual time without waking it\) \(virtual "
                            r"t=60\.000s, real N\.NNNs\)$",
                            r"\n  2\. background task 'heartbeat' \(keep_alive\(\)\)\n       created at   " + SITE],
    "background-failure": [r"^AssertionError: background task 'poller' \(poll_upstream\(\)\) raised ConnectionError: "
                           r"upstream reset the connection at virtual t=2\.000s\n  created at   " + SITE
                           + r"\n  raised at    " + SITE + r": raise ConnectionError"],
    "watchdog": [r"^asynctestkit\.LivelockError: test 'test_blocks_the_loop_with_synchronous_code' ran longer "
                 r"than the real-time watchdog of 0\.3 s: synchronous code blocked the event loop \(virtual "
                 r"t=0\.000s\)\n  blocked at   " + SITE + r": time\.sleep\(2\)"],
    "busy-poll": [r"^asynctestkit\.LivelockError: test 'test_spins_without_waiting_for_anything' did not finish "
                  r"within the virtual-time horizon of 600 s: test 'test_spins_without_waiting_for_anything' "
                  r"\(task '[^']+'\) at " + SITE + r" kept yielding \(busy polling\)",
                  r"suspended at " + SITE + r": await asyncio\.sleep\(0\)"],
    "frozen": [r"^asynctestkit\.DeadlockError: test 'test_sleeps_while_time_is_frozen' can never finish: time is "
               r"frozen .*call `await self\.clock\.advance\(\.\.\.\)`", r"suspended at " + SITE],
    "leak-tasks-ignoring-cancel": [r"task 'stubborn' \(refuse_to_stop\(\)\) ignored cancellation\n       created at   "
                                   + SITE, r"cancelled    still running 1 virtual s after cancel\(\)"],
    "leak-tasks": [r"^asynctestkit\.LeakError: test_pending_task leaked 1 pending task \(.*virtual "
                   r"t=25\.000s", r"1\. task 'poller' \(poll_forever\(\)\) still pending\n       created at   " + SITE,
                   r"suspended at " + SITE + r": await asyncio\.sleep\(10\)"],
    "leak-exceptions": [r"leaked 1 exception never retrieved", r"task 'lookup-7' \(fetch_user\(\)\) failed",
                        r"raised at    " + SITE + r": raise KeyError\(user_id\)\n       created at   " + SITE],
    "leak-coroutines": [r"coroutine 'fetch_user' was never awaited\n       defined at   " + SITE +
                        r"\n       kept on      self\.pending"],
    "leak-transports": [r"leaked 2 open transports and 1 open server",
                        r"server listening on 127\.0\.0\.1:PORT still open\n       created at   " + SITE],
    "leak-streamwriter": [r"1 open transport",
                          r"1\. TCP transport 127\.0\.0\.1:PORT -> 127\.0\.0\.1:PORT (still open|left open: its "
                          r"StreamWriter was garbage-collected without close\(\))\n       created at   " + SITE],
    "leak-subprocesses": [r"subprocess pid PID \(sleep 60\) still running\n       created at   " + SITE],
    "leak-executor": [r"executor job sleep\(\) still running\n       submitted at " + SITE],
    "leak-threads": [r"thread 'uploader' still running", r"started at   " + SITE],
    "leak-resources": [r"ConnectionPool still open\n       created at   " + SITE],
    "leak-errors": [r"^asynctestkit\.LeakError: test_loop_swallowed_an_error had 1 error swallowed by "
                    r"the loop \(.*virtual t=3\.000s",
                    r"callback on_tick\(\) raised RuntimeError\('tick handler broke'\)\n       raised at    " + SITE,
                    r"scheduled at unknown", r'@allow_leaks\(errors=True, reason="\.\.\."\)',
                    r"assertLogs\('asyncio', 'ERROR'\)"],
    "leak-timers": [r"timer on_tick\(\) due in 30\.0s was never cancelled\n       scheduled at " + SITE],
    "leak-asyncgens": [r"async generator pages\(\) left suspended", r"suspended at " + SITE + r": yield number"],
    "note-daemon-thread": [r"^WARNING:asynctestkit\.leaks:\S+test_daemon_thread_is_a_note: leak check note: ",
                           r"daemon thread 'metrics' still running"],
    "note-after-failure": [r"^AssertionError: 'pong' != 'ping'",
                           r"\n\nleak check note \(the test had already failed\): test_failure_with_a_leak_gets_a_"
                           r"note leaked 1 pending task", r"task 'poller' \(poll_forever\(\)\)"],
    "assert-takes": [r"^AssertionError: fetch_slowly\(\) took 30 s of virtual time, expected exactly 10 s",
                     r"virtual t=30\.000s"],
    "assert-completes-within": [r"^AssertionError: fetch_slowly\(\) did not complete within 5 s of virtual time: "
                                r"cancelled at virtual t=5\.000s", r"suspended at " + SITE],
    "assert-cleanup-on-cancel": [r"^AssertionError: cleanup did not run when close_connection_badly\(\) was "
                                 r"cancelled", r"task 'Task-N' \(close_connection_badly\(\)\) created at " + SITE],
    "assert-gather-results": [r"^AssertionError: gather\(return_exceptions=True\) result 1 differs",
                              r"task 'Task-N' \(fetch_user\(\)\)"],
    "assert-event-order": [r"^AssertionError: events differ at #0: expected 'connect', recorded 'send' "
                           r"\(virtual t=1\.000s"],
    "assert-raises-group": [r"^AssertionError: both\(\) raised an exception group that does not match: missing "
                            r"ValueError", r"KeyError\(1\)  raised at " + SITE],
}

#: Assertion failures: the user's line is the one that called the assertion, shown by the traceback above the
#: message (see the golden traceback tests); the message names a site only when one helps.
LINE_IN_TRACEBACK = {"assert-takes", "assert-gather-results", "assert-event-order"}

#: Reports without the virtual time: exception-group matching judges what was raised, not when.
NO_TIME = {"assert-raises-group"}

#: Reports whose task mentions are names only (none now: the event recorder describes the task it records).
NAME_ONLY: set[str] = set()

REPORTS: dict[str, str] = {}


def setUpModule() -> None:
    previous = os.getcwd()
    os.chdir(ROOT)  # reports show paths relative to the current directory
    try:
        for example in gallery.EXAMPLES:
            if example.available:
                REPORTS[example.slug] = gallery.normalize(gallery.render(example))
    finally:
        os.chdir(previous)


class EveryReportTests(unittest.TestCase):
    def test_the_gallery_covers_every_leak_kind_and_every_hang_and_note_form(self) -> None:
        from asynctestkit.leaks._kinds import KINDS

        slugs = {example.slug for example in gallery.EXAMPLES}
        covered = {slug.removeprefix("leak-") for slug in slugs} | {"daemon_threads", "servers"}  # with transports
        self.assertEqual(set(KINDS) - covered, set(), "a leak kind has no example in tests/report_gallery.py")
        self.assertLessEqual({"deadlock", "livelock", "watchdog", "note-after-failure", "note-daemon-thread"}, slugs)
        self.assertEqual(set(REQUIRED), slugs, "every example states what its report must contain")

    def test_each_report_says_what_happened_first_then_where_with_relative_paths_on_one_screen(self) -> None:
        for example in gallery.EXAMPLES:
            if not example.available:
                continue
            with self.subTest(example=example.slug):
                text = REPORTS[example.slug]
                lines = text.splitlines()
                self.assertNotIn("(no report", text)
                self.assertLessEqual(len(lines), 25, text)
                self.assertRegex(lines[0], r"^(asynctestkit\.(leaks\.)?\w+Error|AssertionError|WARNING:asynctestkit"
                                           r"\.leaks:\S+): \S")
                if example.slug not in LINE_IN_TRACEBACK:
                    self.assertIn(GALLERY + ":", text, "the user's file:line, relative to the current directory")
                self.assertNotIn(ROOT + os.sep, text, "no absolute path of the checkout")
                self.assertNotIn("Traceback", text)
                if example.slug not in NO_TIME:
                    self.assertRegex(text, r"virtual t=\d+\.\d{3}s", "when, in virtual time")
                for required in REQUIRED[example.slug]:
                    self.assertRegex(text, re.compile(required, re.MULTILINE))

    def test_every_task_is_named_with_its_coroutine_and_every_site_line_has_one_format(self) -> None:
        for slug, text in REPORTS.items():
            with self.subTest(example=slug):
                if slug not in NAME_ONLY:  # a hang report names the phase's own task by the phase: test 'x' (task 'y')
                    named = re.sub(r"test '[^']+' \(task '[^']+'\)", "", text)
                    self.assertNotRegex(named, r"task '[^']*'(?! \(\w[\w.]*\(\)\))", "task 'name' (coroutine())")
                for line in text.splitlines():
                    label = re.match(r"^ +(created at|suspended at|raised at|scheduled at|submitted at|started "
                                     r"at|defined at) +(\S)", line)
                    if label and not line.lstrip().startswith(("task ", "cancelled at")):
                        self.assertRegex(line, r"^ +[a-z ]{12} \S", f"labels are padded to one column: {line!r}")


@unittest.skipUnless(sys.version_info[:2] == (3, 12), "docs/failures.md is generated with Python 3.12; other "
                                                       "versions word a few reports slightly differently")
class GeneratedPageTests(unittest.TestCase):
    def test_docs_failures_md_is_what_docs_gen_failures_py_writes_now(self) -> None:
        generator = _load_generator()
        with open(generator.PAGE, encoding="utf-8") as page:
            current = page.read()
        previous = os.getcwd()
        os.chdir(ROOT)
        try:
            expected = generator.render_page(REPORTS)
        finally:
            os.chdir(previous)
        self.assertEqual(current, expected, "docs/failures.md is out of date: run PYENV_VERSION=3.12.1 python "
                                            "docs/gen_failures.py")


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_failures", os.path.join(ROOT, "docs", "gen_failures.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    unittest.main()
