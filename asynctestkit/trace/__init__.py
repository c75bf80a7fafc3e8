"""The task timeline: what every task did on the test's loop, on virtual time.

Turn it on with ``trace_mode = "ring"`` (or ``"full"``) on an :class:`~asynctestkit.AsyncTestCase`, or
``ASYNCTESTKIT_TRACE=1`` in the environment; then ``self.trace`` answers questions about the schedule
(:class:`Trace`), every asynctestkit report ends with the timeline of the tasks involved, and
``ASYNCTESTKIT_TRACE_EXPORT=dir`` writes a Perfetto/chrome://tracing JSON and an HTML page per failing
test.  Without unittest: :func:`record_timeline` on any selector loop.  See docs/trace.md.
"""

from __future__ import annotations

from ._export import chrome_trace, html_page, write_chrome_trace, write_html
from ._query import KINDS, Trace, TraceEvent
from ._recorder import TracedTask
from ._setup import record_timeline

__all__ = ["KINDS", "Trace", "TraceEvent", "TracedTask", "chrome_trace", "html_page", "record_timeline",
           "write_chrome_trace", "write_html"]
