"""Finding 1 (leak report text): a leak that is only a *note* is counted in the LeakError headline as leaked.

Seen in the real-suites job (kubernetes_asyncio 36.1.0, watch_test, in one of three runs: it depends on when the
garbage collector runs): the swapped run reported

    LeakError: test_unmarshal_bookmark_succeeds_... leaked 1 coroutine never awaited and 1 open resource (...)
     open resources:
      1. aiohttp ClientSession with TCPConnector was garbage-collected while open (Unclosed client session)
     notes (not failures):
     coroutines never awaited:
      2. coroutine 'AsyncMockMixin._execute_mock_call' was never awaited
           found by the garbage collector: it may come from an earlier test (...)

The coroutine is rightly a note (the garbage collector found it; it may be an earlier test's), yet the headline
says the test "leaked 1 coroutine never awaited and 1 open resource", and the note is numbered as item 2 of the
failure.  Cause: LeakReport.format() (asynctestkit/_leakreport.py) builds the headline from
`self.failures + self.notes`.  Expected: the headline counts the failures only ("leaked 1 open resource"), the
notes at most apart ("(+1 note)").  The unit below builds such a report directly (the real case needs the
garbage collector to run at the right moment).

Run:  PYTHONPATH=/path/to/checkout python tests/interop/real_suites/findings/f01_note_counted_in_leak_headline.py
Exits 1 and prints the headline while the bug is there, 0 once fixed.  Not collected by the core suite.
"""

from __future__ import annotations

import sys

from asynctestkit._leakreport import Leak, LeakReport

report = LeakReport(
    test="test_example",
    failures=[Leak("resources", "aiohttp ClientSession ... was garbage-collected while open")],
    notes=[Leak("coroutines", "coroutine 'AsyncMockMixin._execute_mock_call' was never awaited",
                ["found by the garbage collector: it may come from an earlier test"])],
    virtual_time=0.0,
)
headline = report.format().splitlines()[0]
print(headline)
if "coroutine" in headline:
    print("BUG: the headline counts the note (a coroutine the garbage collector found) as a leak of this test")
    sys.exit(1)
print("ok: the headline counts the failures only")
