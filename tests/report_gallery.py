"""One small failing test for every report asynctestkit can raise or log, and how to render it.

``tests/test_report_gallery.py`` checks the structure of each report; ``docs/gen_failures.py`` writes them
all to ``docs/failures.md``.  This module has no ``test_`` prefix, so unittest's discovery does not run
the failing cases below on their own; :func:`render` runs one with a ``unittest.TestResult``.

Paths in reports are relative to the current directory: render from the repository root.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
import sys
import textwrap
import threading
import time
import traceback
import unittest
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from asynctestkit import AsyncTestCase, EventRecorder

# ---------------------------------------------------------------------------------------------------------
# The failing cases.  Keep each test short: its source is shown on the documentation page.
# ---------------------------------------------------------------------------------------------------------


async def serve(requests: asyncio.Queue[str]) -> None:
    while True:
        await requests.get()


class Hangs(AsyncTestCase):
    clock_horizon = 600.0
    clock_watchdog = 0.3

    async def test_waits_for_a_reply_nobody_sends(self) -> None:
        replies: asyncio.Queue[str] = asyncio.Queue()
        server = asyncio.create_task(serve(asyncio.Queue()), name="server")
        self.addCleanup(server.cancel)
        await replies.get()

    async def test_waits_while_a_heartbeat_keeps_time_moving(self) -> None:
        async def heartbeat() -> None:
            while True:
                await asyncio.sleep(1)

        beat = asyncio.create_task(heartbeat(), name="heartbeat")
        self.addCleanup(beat.cancel)
        await asyncio.Event().wait()

    async def test_blocks_the_loop_with_synchronous_code(self) -> None:
        time.sleep(2)  # a blocking call in a coroutine


class BusyPoll(AsyncTestCase):
    clock_horizon = 600.0  # the spin lets time pass and reaches it in a fraction of a second (default watchdog)

    async def test_spins_without_waiting_for_anything(self) -> None:
        while True:
            await asyncio.sleep(0)


class FrozenHang(AsyncTestCase):
    clock_auto_advance = False

    async def test_sleeps_while_time_is_frozen(self) -> None:
        await asyncio.sleep(5)  # nobody calls self.clock.advance()


async def poll_forever() -> None:
    while True:
        await asyncio.sleep(10)


async def fetch_user(user_id: int) -> dict[str, Any]:
    await asyncio.sleep(0.5)
    raise KeyError(user_id)


def on_tick() -> None:
    raise RuntimeError("tick handler broke")


async def refuse_to_stop() -> None:
    while True:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            pass  # swallows every cancellation


class Leaks(AsyncTestCase):
    async def test_pending_task(self) -> None:
        asyncio.create_task(poll_forever(), name="poller")
        await asyncio.sleep(25)

    async def test_task_ignores_cancellation(self) -> None:
        asyncio.create_task(refuse_to_stop(), name="stubborn")
        await asyncio.sleep(0)

    async def test_exception_never_retrieved(self) -> None:
        self.lookup = asyncio.create_task(fetch_user(7), name="lookup-7")
        await asyncio.sleep(1)

    async def test_coroutine_never_awaited(self) -> None:
        self.pending = fetch_user(7)

    async def test_open_connection_and_server(self) -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)

    async def test_stream_writer_dropped(self) -> None:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        self.addAsyncCleanup(server.wait_closed)
        self.addCleanup(server.close)
        _reader, _writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])

    async def test_subprocess_still_running(self) -> None:
        self.proc = await asyncio.create_subprocess_exec("sleep", "60")

    async def test_executor_job_still_running(self) -> None:
        self.job = asyncio.get_running_loop().run_in_executor(None, time.sleep, 1.5)
        await asyncio.sleep(0)

    async def test_thread_still_running(self) -> None:
        threading.Thread(target=time.sleep, args=(1.5,), name="uploader").start()

    async def test_resource_left_open(self) -> None:
        self.pool = self.trackResource(ConnectionPool())

    async def test_loop_swallowed_an_error(self) -> None:
        asyncio.get_running_loop().call_later(2, on_tick)
        await asyncio.sleep(3)


class ConnectionPool:
    """A stand-in for a library's pool: open until ``close()``."""

    closed = False

    def close(self) -> None:
        self.closed = True


class StrictLeaks(AsyncTestCase):
    leak_checks = "strict"

    async def test_timer_never_cancelled(self) -> None:
        asyncio.get_running_loop().call_later(30, on_tick)

    async def test_async_generator_left_suspended(self) -> None:
        async def pages() -> Any:
            for number in range(10):
                yield number

        self.pages = pages()
        await self.pages.__anext__()


class Notes(AsyncTestCase):
    async def test_daemon_thread_is_a_note(self) -> None:
        threading.Thread(target=time.sleep, args=(1.5,), name="metrics", daemon=True).start()

    async def test_failure_with_a_leak_gets_a_note(self) -> None:
        asyncio.create_task(poll_forever(), name="poller")
        self.assertEqual(await asyncio.sleep(1, "pong"), "ping")


async def fetch_slowly() -> str:
    await asyncio.sleep(30)
    return "page"


async def close_connection_badly(closed: list[bool]) -> None:
    await asyncio.sleep(10)
    closed.append(True)  # never reached when cancelled: no try/finally


class Assertions(AsyncTestCase):
    async def test_takes(self) -> None:
        await self.assertTakes(10, fetch_slowly())

    async def test_completes_within(self) -> None:
        await self.assertCompletesWithin(5, fetch_slowly())

    async def test_cleanup_on_cancel(self) -> None:
        closed: list[bool] = []
        await self.assertCleanupOnCancel(close_connection_badly(closed), lambda: bool(closed), after=1)

    async def test_gather_results(self) -> None:
        await self.assertGatherResults([fetch_slowly(), fetch_user(3)], ["page", {"id": 3}])

    async def test_event_order(self) -> None:
        events = EventRecorder()

        async def step(name: str, delay: float) -> None:
            await asyncio.sleep(delay)
            events.record(name)

        await asyncio.gather(step("connect", 2), step("send", 1))
        self.assertEventOrder(events, ["connect", "send"])

    @unittest.skipIf(sys.version_info < (3, 11), "exception groups are 3.11+")
    async def test_raises_group(self) -> None:
        async def both() -> None:
            async with asyncio.TaskGroup() as group:
                group.create_task(fetch_user(1))
                group.create_task(fetch_user(2))

        await self.assertRaisesGroup([KeyError, ValueError], both())


class Background(AsyncTestCase):
    async def test_waits_beside_a_heartbeat(self) -> None:
        replies: asyncio.Queue[str] = asyncio.Queue()
        self.start_background(keep_alive(), name="heartbeat")
        await replies.get()

    async def test_background_task_fails(self) -> None:
        self.start_background(poll_upstream(), name="poller")
        await asyncio.sleep(5)


async def keep_alive() -> None:
    while True:
        await asyncio.sleep(1)


async def poll_upstream() -> None:
    await asyncio.sleep(2)
    raise ConnectionError("upstream reset the connection")


# ---------------------------------------------------------------------------------------------------------
# The catalogue and the renderer.
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One report: which inner test produces it, what the page says about it, how it is delivered."""

    slug: str
    title: str
    about: str
    case: type[unittest.TestCase]
    method: str
    delivered: str = "failure"  # "failure": the test fails with it; "log": a warning on asynctestkit.leaks
    needs: tuple[int, int] = (3, 10)

    @property
    def source(self) -> str:
        return textwrap.dedent(inspect.getsource(getattr(self.case, self.method)))

    @property
    def available(self) -> bool:
        return sys.version_info >= self.needs


EXAMPLES: tuple[Example, ...] = (
    Example("deadlock", "DeadlockError: nothing can ever wake the test",
            "Nothing is ready, no timer is pending, no I/O or thread can wake the loop: the phase fails at "
            "once, naming every task, where it was created and where it waits.",
            Hangs, "test_waits_for_a_reply_nobody_sends"),
    Example("livelock", "LivelockError: time keeps moving, nothing happens",
            "A timer keeps virtual time moving until the horizon (`clock_horizon`, one day by default).",
            Hangs, "test_waits_while_a_heartbeat_keeps_time_moving"),
    Example("watchdog", "LivelockError: synchronous code blocks the loop",
            "The real-time watchdog (`clock_watchdog`, 60 s by default) raises inside the blocking code, so "
            "the traceback ends at the exact line.",
            Hangs, "test_blocks_the_loop_with_synchronous_code"),
    Example("busy-poll", "LivelockError: the test polls with sleep(0) for something that never happens",
            "A task that keeps yielding with `await asyncio.sleep(0)` lets virtual time pass (busy polling), so a "
            "poll for a timer or a deadline ends at once; when nothing it could be polling for is left, time "
            "reaches the horizon within a fraction of a second and the report names the spinning task.",
            BusyPoll, "test_spins_without_waiting_for_anything"),
    Example("frozen", "DeadlockError: time is frozen", "With `clock_auto_advance = False` only "
            "`self.clock.advance()` moves time; a test that waits for a timer without advancing fails at once.",
            FrozenHang, "test_sleeps_while_time_is_frozen"),
    Example("leak-tasks", "LeakError: a pending task", "A task still pending after every cleanup.",
            Leaks, "test_pending_task"),
    Example("leak-tasks-ignoring-cancel", "LeakError: a task that ignores cancellation",
            "The clean-up cancels leftover tasks; one that swallows the cancellation has its coroutine closed "
            "so the loop's shutdown cannot hang on it.", Leaks, "test_task_ignores_cancellation"),
    Example("leak-exceptions", "LeakError: an exception never retrieved",
            "A task failed and nobody awaited it: where it was raised and where the task was created.",
            Leaks, "test_exception_never_retrieved"),
    Example("leak-coroutines", "LeakError: a coroutine never awaited", "A coroutine object created and "
            "never awaited (here kept on `self`).", Leaks, "test_coroutine_never_awaited"),
    Example("leak-transports", "LeakError: open transports and a server",
            "Both ends of a connection and the listening server.", Leaks, "test_open_connection_and_server"),
    Example("leak-streamwriter", "LeakError: a StreamWriter dropped without close()",
            "Python 3.11+ closes a dropped writer itself and warns; asynctestkit reports it as the leak it is "
            "(on 3.10 the transport is found still open).", Leaks, "test_stream_writer_dropped"),
    Example("leak-subprocesses", "LeakError: a subprocess still running", "The process is killed and reaped "
            "after the report.", Leaks, "test_subprocess_still_running"),
    Example("leak-executor", "LeakError: an executor job still running", "`run_in_executor` / "
            "`asyncio.to_thread` work not awaited.", Leaks, "test_executor_job_still_running"),
    Example("leak-threads", "LeakError: a thread still running",
            "A non-daemon thread started by the test, still alive 100 ms after the cleanups.",
            Leaks, "test_thread_still_running"),
    Example("leak-resources", "LeakError: a resource left open", "An object registered with "
            "`trackResource()` (or a registered type, such as aiohttp's `ClientSession`).",
            Leaks, "test_resource_left_open"),
    Example("leak-errors", "LeakError: an error the loop swallowed",
            "A callback (or a protocol method) raised: asyncio only logs it, asynctestkit fails the test.",
            Leaks, "test_loop_swallowed_an_error"),
    Example("leak-timers", "LeakError (strict mode): a timer never cancelled", "Reported only with "
            "`leak_checks = \"strict\"` (or `{\"timers\": \"fail\"}`).", StrictLeaks, "test_timer_never_cancelled"),
    Example("leak-asyncgens", "LeakError (strict mode): an async generator left suspended",
            "Reported only in strict mode.", StrictLeaks, "test_async_generator_left_suspended"),
    Example("note-daemon-thread", "Note: a daemon thread still running", "Kinds set to \"note\" do not fail "
            "the test: the report is logged on the `asynctestkit.leaks` logger.", Notes,
            "test_daemon_thread_is_a_note", delivered="log"),
    Example("note-after-failure", "Note appended to a test that already failed",
            "The test's own failure comes first; the leak report is appended to it as a note.",
            Notes, "test_failure_with_a_leak_gets_a_note"),
    Example("assert-takes", "assertTakes", "Exact virtual durations.", Assertions, "test_takes"),
    Example("assert-completes-within", "assertCompletesWithin", "A deadline in virtual time; the code is "
            "cancelled and the report says where it was.", Assertions, "test_completes_within"),
    Example("assert-cleanup-on-cancel", "assertCleanupOnCancel", "Cancellation must run the cleanup.",
            Assertions, "test_cleanup_on_cancel"),
    Example("assert-gather-results", "assertGatherResults", "Each child's outcome, in order.",
            Assertions, "test_gather_results"),
    Example("assert-event-order", "assertEventOrder", "Events recorded by tasks, with when and by whom.",
            Assertions, "test_event_order"),
    Example("assert-raises-group", "assertRaisesGroup", "Exception-group matching (3.11+).",
            Assertions, "test_raises_group", needs=(3, 11)),
    Example("deadlock-background", "DeadlockError: only background work is left",
            "Background work (`self.start_background`) does not count as the test's progress: once only its "
            "timers have fired for `clock.background_window` (60 s) of virtual time, the wait is a deadlock, "
            "reported at once in real time, not a livelock at the horizon.",
            Background, "test_waits_beside_a_heartbeat"),
    Example("background-failure", "AssertionError: a background task failed",
            "A background task that raised an exception nobody retrieved fails the test when it ends (the "
            "exception is chained below the report).", Background, "test_background_task_fails"),
)


class _Result(unittest.TestResult):
    """Keeps the exception of each failure and error, to show its message without the traceback."""

    def __init__(self) -> None:
        super().__init__()
        self.raised: list[BaseException] = []

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        self.raised.append(err[1])
        super().addFailure(test, err)

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        self.raised.append(err[1])
        super().addError(test, err)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.levelname}:{record.name}:{record.getMessage()}")


@contextlib.contextmanager
def _quiet_asyncio() -> Iterator[None]:
    """asyncio's own log lines (the logged callback error) go nowhere while an example runs."""
    logger = logging.getLogger("asyncio")
    saved = (logger.handlers[:], logger.propagate)
    logger.handlers[:] = [logging.NullHandler()]
    logger.propagate = False
    try:
        yield
    finally:
        logger.handlers[:], logger.propagate = saved


def render(example: Example) -> str:
    """Run *example*'s inner test and return its report as the user reads it (no traceback frames).

    A failure is shown from its exception line on (with any note appended to it); a logged report as the
    log line.  The traceback above the exception line is left out: its frames depend on the checkout.
    """
    result = _Result()
    records = _Records()
    leaks_logger = logging.getLogger("asynctestkit.leaks")
    leaks_logger.addHandler(records)
    try:
        with _quiet_asyncio(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            example.case(example.method).run(result)
    finally:
        leaks_logger.removeHandler(records)
    entries = result.failures + result.errors
    if entries:
        text = entries[0][1]
        first = traceback.format_exception_only(type(result.raised[0]), result.raised[0])[0].rstrip("\n")
        start = text.find(first.splitlines()[0])
        return text[start:].rstrip() if start >= 0 else text.rstrip()
    if records.messages:
        return "\n".join(records.messages).rstrip()
    return f"(no report: the test {'was skipped' if result.skipped else 'passed'})"


_VOLATILE = (
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"\bTask-\d+"), "Task-N"),
    (re.compile(r"\bpid \d+"), "pid PID"),
    (re.compile(r"\breal \d+\.\d+ ?s"), "real N.NNNs"),
    (re.compile(r"0x[0-9a-f]+"), "0xADDR"),
    (re.compile(r"\(fd \d+\)"), "(fd N)"),
)


def normalize(text: str) -> str:
    """Replace what changes from run to run (ports, task numbers, pids, real durations, addresses)."""
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text
