"""A timeout armed while real work holds time gets its full delay in real time, however busy the loop was.

Rule under test (docs/clock.md, "Real work holds time"): while real work is in flight, virtual time follows
real time from where the hold began, and ``loop.time()`` reads that anchored real clock at every call, not
only when the loop goes idle.  A deadline set by code that ran after the loop was busy (a callback or a
coroutine step doing synchronous work, ``time.sleep`` in a library's send path, or a process descheduled
on a loaded machine) is measured from the real now, as on a real loop.

The defect this guards (seen once in 18 runs of a pty-based automation library's suite under CPU hogs):
``loop.time()`` answered the virtual time of the last idle iteration; when the loop then went idle, time
caught up with real time at once, and a deadline armed in between was reached early by the whole busy
stretch.  A 1 s wait for a pty child that answered in 0.3 s timed out; the longer the loop stayed busy
(several request/answer rounds that never let it go idle), the shorter every timeout armed meanwhile.

Each child answers one request per line on its stdin after the delay the line gives; each is killed and
reaped, and every fd closed, before its test ends.
"""

from __future__ import annotations

import asyncio
import os
import pty
import subprocess
import sys
import time
import unittest
import warnings
from typing import Any

from asynctestkit import AsyncTestCase

from ._clock_support import HANG_BOUND, real_timer

#: Real seconds ``loop.time()`` may trail real time while real work holds it (``asynctestkit.clock._LAG``):
#: a deadline armed in a busy stretch is reached at most this much early.
_LAG = 0.05

POSIX = os.name == "posix"

#: A child that answers each line it reads ("<delay>") with "answer" after that many real seconds.
_ANSWERER = ("import sys, time\n"
             "for line in sys.stdin:\n"
             "    time.sleep(float(line))\n"
             "    sys.stdout.write('answer\\n'); sys.stdout.flush()\n")

#: Real seconds the loop stays busy (synchronous work in one step) before the deadline is armed: longer
#: than the timeout itself, so a deadline measured from the stale idle time is already overdue when armed.
_BUSY = 1.3


def _reap(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


class _Answerer:
    """A Popen child on two pipes: requests written to its stdin, answers read through connect_read_pipe."""

    def __init__(self, test: unittest.TestCase) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _ANSWERER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        test.addCleanup(_reap, self.proc)
        self.reader = asyncio.StreamReader()
        self.transport: asyncio.BaseTransport | None = None

    async def connect(self, test: unittest.TestCase) -> None:
        loop = asyncio.get_running_loop()
        assert self.proc.stdout is not None
        self.transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(self.reader), self.proc.stdout)
        test.addCleanup(self.transport.close)
        test.addCleanup(self.proc.stdin.close)  # type: ignore[union-attr]

    def ask(self, delay: float) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{delay}\n".encode())
        self.proc.stdin.flush()


@unittest.skipUnless(POSIX, "pipes and ptys to child processes: POSIX")
class BusyLoopDeadlineTests(AsyncTestCase):
    async def test_a_wait_for_1_armed_after_1_3_s_of_busy_work_gets_an_answer_due_in_0_3_s(self) -> None:
        child = _Answerer(self)
        await child.connect(self)
        child.ask(0.05)  # the loop waits on the child: real work holds time from here
        self.assertEqual(await asyncio.wait_for(child.reader.readline(), timeout=30), b"answer\n")
        time.sleep(_BUSY)  # synchronous work: the loop does not go idle
        child.ask(0.3)
        with real_timer() as took:
            answer = await asyncio.wait_for(child.reader.readline(), timeout=1.0)
        self.assertEqual(answer, b"answer\n")
        self.assertLess(took[0], HANG_BOUND)

    async def test_a_deadline_armed_after_busy_work_is_reached_no_earlier_than_its_delay_in_real_time(self) -> None:
        child = _Answerer(self)
        await child.connect(self)
        child.ask(0.05)
        await asyncio.wait_for(child.reader.readline(), timeout=30)
        time.sleep(_BUSY)
        child.ask(3.0)  # too late for the timeout below: it must fire, on time, not before
        with real_timer() as took, self.assertRaises(asyncio.TimeoutError):
            await asyncio.wait_for(child.reader.readline(), timeout=0.5)
        self.assertGreaterEqual(took[0], 0.5 - _LAG)  # not early (a loaded machine only makes it later)
        self.assertLess(took[0], HANG_BOUND)

    async def test_loop_time_and_time_monotonic_keep_up_with_real_time_through_busy_work_while_held(self) -> None:
        loop = asyncio.get_running_loop()
        child = _Answerer(self)
        await child.connect(self)
        child.ask(0.05)
        await asyncio.wait_for(child.reader.readline(), timeout=30)
        before, before_mono = loop.time(), time.monotonic()
        time.sleep(0.3)  # the pipe to the live child is still registered: real work is in flight
        self.assertGreaterEqual(loop.time() - before, 0.3 - _LAG)
        self.assertGreaterEqual(time.monotonic() - before_mono, 0.3 - _LAG)
        self.assertLessEqual(loop.time(), loop.time())  # monotonic while held

    async def test_busy_work_with_nothing_in_flight_leaves_virtual_time_exact(self) -> None:
        # No false positive the other way: without real work, synchronous work takes no virtual time and a
        # sleep lands on exactly its deadline.
        loop = asyncio.get_running_loop()
        before = loop.time()
        time.sleep(0.2)
        self.assertEqual(loop.time(), before)
        await asyncio.sleep(3600)
        self.assertEqual(loop.time(), before + 3600)

    async def test_after_the_real_work_ended_virtual_time_is_exact_again_and_never_went_back(self) -> None:
        loop = asyncio.get_running_loop()
        child = _Answerer(self)
        await child.connect(self)
        child.ask(0.05)
        await asyncio.wait_for(child.reader.readline(), timeout=30)
        time.sleep(0.2)
        seen = loop.time()
        assert child.transport is not None
        child.transport.close()  # nothing in flight any more: the next idle iteration ends the hold
        await asyncio.sleep(0)
        await asyncio.sleep(10)
        after = loop.time()
        self.assertGreaterEqual(after, seen + 10)
        await asyncio.sleep(3600)
        self.assertEqual(loop.time(), after + 3600)


class _PausingReader(asyncio.Protocol):
    """Reads a pty the way a pexpect-style library does: pauses reading once the awaited text arrived."""

    def __init__(self) -> None:
        self.buffer = b""
        self.waiter: asyncio.Future[None] | None = None
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if b"answer" in self.buffer and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)
            self.transport.pause_reading()

    async def expect_answer(self, timeout: float) -> None:
        self.waiter = asyncio.get_running_loop().create_future()
        if b"answer" not in self.buffer:
            self.transport.resume_reading()
            await asyncio.wait_for(self.waiter, timeout)
        self.buffer = self.buffer.split(b"answer", 1)[1]


@unittest.skipUnless(POSIX and sys.platform != "darwin", "fork + pty children: Linux")
class PtyChildRoundsTests(AsyncTestCase):
    async def test_rounds_that_never_let_the_loop_idle_do_not_shorten_the_next_timeout(self) -> None:
        # The pattern of the spurious failure: a child forked onto a pty outside asyncio, read through
        # connect_read_pipe with reading paused between rounds; after each request the step stays busy a
        # moment (a library's send path, a loaded machine), so the answers arrive while the loop is busy and it never goes
        # idle; then a round whose answer takes 0.3 s, awaited with a 1 s timeout.  Without the rule, each
        # round's busy 0.2 s added to how far behind real time the deadline of the last round was armed.
        with warnings.catch_warnings():  # 3.12+: fork() while threads run warns; the child execs at once
            warnings.simplefilter("ignore", DeprecationWarning)
            pid, master = pty.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                import termios
                attrs = termios.tcgetattr(0)
                attrs[3] &= ~termios.ECHO
                termios.tcsetattr(0, termios.TCSANOW, attrs)
                os.execv(sys.executable, [sys.executable, "-c", _ANSWERER])
            finally:
                os._exit(127)
        self.addCleanup(self._reap_pid, pid)
        loop = asyncio.get_running_loop()
        pipe = os.fdopen(master, "rb", 0)
        transport, reader = await loop.connect_read_pipe(_PausingReader, pipe)
        self.addCleanup(transport.close)
        os.write(master, b"0.05\n")
        await reader.expect_answer(30)  # the loop waited on the pty: real work holds time from here
        for _ in range(6):
            os.write(master, b"0\n")
            time.sleep(0.2)  # busy while the child answers: the answer is there before the loop can idle
            await reader.expect_answer(30)
        os.write(master, b"0.3\n")
        await reader.expect_answer(1.0)

    @staticmethod
    def _reap_pid(pid: int) -> None:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)


if __name__ == "__main__":
    unittest.main()
