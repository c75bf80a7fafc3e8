"""Real work in flight (asynctestkit/realwork.py): timeouts around it, sidecars, track() and background().

Rule under test: while real work is in flight, virtual time follows real time (so timeouts around it fire
exactly when they would in production); same-loop traffic stays instant.  Every real wait here is short
(0.1-0.5 s) and every job that could outlive its test is stopped and joined before the test ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import unittest
import warnings
from typing import Any

from asynctestkit import AsyncTestCase, VirtualClockLoop
from asynctestkit.clock import _jump as clock_module
from asynctestkit.clock._realwork import InFlight

from ._clock_support import INSTANT, problems, real_timer, run_tests, wait_threads_gone

PY311 = sys.version_info >= (3, 11)
SLEEP = shutil.which("sleep")
TRUE = shutil.which("true")


def _sleep_command(seconds: float) -> list[str]:
    if SLEEP is not None:
        return [SLEEP, str(seconds)]
    return [sys.executable, "-c", f"import time; time.sleep({seconds})"]


def _start(target: Any, *args: Any, name: str | None = None) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    thread.start()
    return thread


async def _await_answer_from_new_thread(name: str | None = None) -> str:
    """Start a thread that answers after 0.2 s real through call_soon_threadsafe; await it under wait_for(5)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[str] = loop.create_future()

    def work() -> None:
        time.sleep(0.2)
        loop.call_soon_threadsafe(fut.set_result, "ok")

    thread = _start(work, name=name)
    try:
        return await asyncio.wait_for(fut, 5)
    finally:
        thread.join(5)


class _BlockingServer:
    """A plain blocking TCP server in its own thread: answers each line upper-cased after *delay* seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.thread = _start(self._serve, name="blocking-server")

    def _serve(self) -> None:
        try:
            conn, _addr = self.sock.accept()
        except OSError:
            return
        with conn:
            data = conn.recv(1024)
            time.sleep(self.delay)
            conn.sendall(data.upper())

    def close(self) -> None:
        self.sock.close()
        self.thread.join(5)


# ---------------------------------------------------------------------------------------------------------
# No spurious timeout, no missed timeout
# ---------------------------------------------------------------------------------------------------------

class RealWorkTimeoutTests(AsyncTestCase):
    async def test_an_executor_job_of_0_2_s_under_wait_for_5_completes(self) -> None:
        loop = asyncio.get_running_loop()
        with real_timer() as took:
            await asyncio.wait_for(loop.run_in_executor(None, time.sleep, 0.2), timeout=5)
        self.assertGreaterEqual(took[0], 0.2)
        self.assertLess(self.clock.elapsed(), 5)  # virtual time followed real time, about 0.2 s

    async def test_to_thread_of_0_3_s_under_a_2_s_timeout_completes(self) -> None:
        if PY311:
            async with asyncio.timeout(2):  # type: ignore[attr-defined]
                await asyncio.to_thread(time.sleep, 0.3)
        else:
            await asyncio.wait_for(asyncio.to_thread(time.sleep, 0.3), 2)
        self.assertLess(self.clock.elapsed(), 2)

    async def test_an_executor_job_of_1_5_s_under_wait_for_1_times_out_after_1_s_real(self) -> None:
        loop = asyncio.get_running_loop()
        stop = threading.Event()
        start = loop.time()
        with real_timer() as took:
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(loop.run_in_executor(None, stop.wait, 1.5), timeout=1)
        self.assertFalse(stop.is_set())
        stop.set()  # end the job now: the loop's teardown waits for the executor
        # The deadline fired at virtual start + 1.  Read a few loop iterations later, the time has followed real
        # time a little further (the job is still in flight): 0.07 s was seen on 3.10 with two CPU hogs.
        self.assertGreaterEqual(loop.time() - start, 1)
        self.assertLess(loop.time() - start, 1.45)
        self.assertGreaterEqual(took[0], 0.95)
        self.assertLess(took[0], 1.45, "the timeout fired only after the job would have ended")

    async def test_a_poked_loop_still_times_out_at_1_s_real_around_a_2_5_s_job(self) -> None:
        loop = asyncio.get_running_loop()
        stop = threading.Event()
        pokes: list[float] = []

        def poke() -> None:
            while not stop.wait(0.3):
                loop.call_soon_threadsafe(pokes.append, time.perf_counter())

        poker = _start(poke, name="poker")
        job_done = threading.Event()

        def job() -> None:
            stop.wait(2.5)
            job_done.set()

        start = loop.time()
        try:
            with real_timer() as took:
                with self.assertRaises(asyncio.TimeoutError):
                    await asyncio.wait_for(loop.run_in_executor(None, job), timeout=1)
        finally:
            stop.set()
            poker.join(5)
        self.assertGreaterEqual(loop.time() - start, 1)  # the deadline, plus what real time added since (see above)
        self.assertLess(loop.time() - start, 2.0)
        self.assertGreaterEqual(len(pokes), 2, "the loop was poked while it waited")
        self.assertGreaterEqual(took[0], 0.95)
        self.assertLess(took[0], 2.0)
        self.assertTrue(job_done.wait(5))

    async def test_a_thread_answering_after_0_2_s_with_call_soon_threadsafe_is_awaited(self) -> None:
        self.assertEqual(await _await_answer_from_new_thread(), "ok")
        self.assertLess(self.clock.elapsed(), 5)

    async def test_a_thread_started_as_another_ends_still_holds_time(self) -> None:
        # The thread count stays the same (one ends, one starts, no jump in between): the clock must still
        # see the new thread, or wait_for would jump 5 virtual seconds and time out at once.
        release = threading.Event()
        first = self.clock.background(_start(release.wait, name="first"))
        await asyncio.sleep(1)  # a jump while "first" runs: the clock has seen it
        release.set()
        first.join(5)
        self.assertEqual(await _await_answer_from_new_thread("second"), "ok")
        self.assertLess(self.clock.elapsed(), 1 + 5)

    def test_a_thread_started_as_a_preexisting_one_ends_still_holds_time(self) -> None:
        release = threading.Event()
        old = _start(release.wait, name="preexisting")  # runs before the loop exists: part of its baseline

        async def main() -> float:
            await asyncio.sleep(1)
            release.set()
            old.join(5)
            self.assertEqual(await _await_answer_from_new_thread("new"), "ok")
            return asyncio.get_running_loop().time()

        loop = VirtualClockLoop()
        try:
            self.assertLess(loop.run_until_complete(main()), 1 + 5)
        finally:
            loop.close()

    async def test_a_subprocess_running_0_3_s_is_awaited_under_wait_for_5(self) -> None:
        proc = await asyncio.create_subprocess_exec(*_sleep_command(0.3))
        self.assertEqual(await asyncio.wait_for(proc.wait(), 5), 0)    # no spurious TimeoutError
        # (no lower bound on the real duration: under load the child may run before the timer would start)
        proc = await asyncio.create_subprocess_exec(TRUE or sys.executable, *([] if TRUE else ["-c", "pass"]))
        self.assertEqual(await asyncio.wait_for(proc.wait(), 5), 0)
        proc = await asyncio.create_subprocess_shell("sleep 0.1; exit 3")
        self.assertEqual(await asyncio.wait_for(proc.wait(), 5), 3)

    async def test_fifty_loopback_round_trips_in_one_loop_stay_instant(self) -> None:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while line := await reader.readline():
                writer.write(line)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        with real_timer() as took:
            async with _timeout(1):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                for number in range(50):
                    writer.write(b"ping %d\n" % number)
                    await writer.drain()
                    self.assertEqual(await reader.readline(), b"ping %d\n" % number)
            await asyncio.sleep(3600)  # the open same-loop connection does not hold time
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        self.assertLess(self.clock.elapsed() - 3600, 0.1)
        self.assertLess(took[0], 0.5)

    async def test_a_blocking_server_thread_answering_after_0_1_s_is_awaited(self) -> None:
        server = _BlockingServer(delay=0.1)
        self.addCleanup(server.close)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        async with _timeout(5):
            writer.write(b"hello")
            self.assertEqual(await reader.read(100), b"HELLO")
        writer.close()
        await writer.wait_closed()
        self.assertLess(self.clock.elapsed(), 5)

    async def test_open_connection_to_localhost_resolves_and_connects_under_a_1_s_timeout(self) -> None:
        async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"hi\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(greet, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with _timeout(1):
            reader, writer = await asyncio.open_connection("localhost", port)
            self.assertEqual(await reader.readline(), b"hi\n")
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    async def test_a_polling_consumer_gets_all_20_items_from_a_real_producer_thread(self) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[int] = asyncio.Queue()

        def produce() -> None:
            for item in range(20):
                time.sleep(0.05)
                loop.call_soon_threadsafe(queue.put_nowait, item)

        producer = _start(produce, name="producer")
        received: list[int] = []
        give_up = loop.time() + 30
        while len(received) < 20 and loop.time() < give_up:
            try:
                received.append(await asyncio.wait_for(queue.get(), 0.1))
            except asyncio.TimeoutError:
                pass
        producer.join(5)
        self.assertEqual(received, list(range(20)))


def _timeout(seconds: float) -> Any:
    """``asyncio.timeout(seconds)`` on 3.11+; on 3.10 a context that only checks time did not run out."""
    if PY311:
        return asyncio.timeout(seconds)  # type: ignore[attr-defined]
    return _Deadline(seconds)


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def __aenter__(self) -> None:
        self.start = asyncio.get_running_loop().time()

    async def __aexit__(self, *exc: object) -> None:
        used = asyncio.get_running_loop().time() - self.start
        if used > self.seconds:
            raise asyncio.TimeoutError(f"took {used} virtual seconds")


# ---------------------------------------------------------------------------------------------------------
# Sidecar jobs and teardown
# ---------------------------------------------------------------------------------------------------------

class SidecarTests(AsyncTestCase):
    async def test_a_background_sidecar_job_does_not_slow_sleep_3600(self) -> None:
        loop = asyncio.get_running_loop()
        stop = threading.Event()
        sidecar = self.clock.background(loop.run_in_executor(None, stop.wait, 5))
        try:
            with real_timer() as took:
                await asyncio.sleep(3600)
            self.assertLess(took[0], INSTANT)
            self.assertEqual(self.clock.elapsed(), 3600)
        finally:
            stop.set()
            await sidecar

    async def test_background_thread_process_and_connection_never_hold_time(self) -> None:
        stop = threading.Event()
        thread = self.clock.background(_start(stop.wait, 5, name="sidecar-thread"))
        proc = await asyncio.create_subprocess_exec(*_sleep_command(5))
        self.clock.background(proc)
        server = _BlockingServer(delay=0)
        self.addCleanup(server.close)
        self.clock.background(server.thread)
        _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        self.clock.background(writer)
        try:
            with real_timer() as took:
                await asyncio.sleep(3600)
            self.assertLess(took[0], INSTANT)
        finally:
            stop.set()
            thread.join(5)
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
            writer.close()
            await writer.wait_closed()


    async def test_awaiting_the_exit_of_a_background_process_is_not_a_deadlock(self) -> None:
        # Background work never holds time, but it can still wake the loop: a process that takes 0.3 s to
        # exit after SIGTERM must not be reported as a deadlock while the test awaits its exit.  No real-time
        # margin: the exit may come after deadlock_grace on a loaded machine and still is no deadlock (an exit
        # 5 times later than the grace: test_robustness.LateExitTests).
        slow_exit = ("import signal, sys, time\n"
                     "signal.signal(signal.SIGTERM, lambda *a: (time.sleep(0.3), sys.exit(0)))\n"
                     "open(sys.argv[1], 'w').close()\n"
                     "time.sleep(60)\n")
        ready = os.path.join(self.enterContext(tempfile.TemporaryDirectory()) if sys.version_info >= (3, 11)
                             else tempfile.mkdtemp(), "ready")
        # No pipes: an open pipe is itself a wake-up source, and this test is about the process alone.
        proc = self.clock.background(await asyncio.create_subprocess_exec(sys.executable, "-c", slow_exit, ready))
        await asyncio.to_thread(_wait_for_file, ready)
        before = self.clock.now()
        with real_timer() as took:
            await asyncio.sleep(3600)       # instant: the background process holds no time
        self.assertEqual(self.clock.now() - before, 3600)
        self.assertLess(took[0], INSTANT)
        proc.terminate()
        with real_timer() as took:
            self.assertEqual(await proc.wait(), 0)
        self.assertGreaterEqual(took[0], 0.25)


def _wait_for_file(path: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)


class HeldClockTests(unittest.TestCase):
    def test_an_unmarked_sidecar_job_holds_time_and_the_warning_names_it(self) -> None:
        seen: dict[str, float] = {}

        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                loop = asyncio.get_running_loop()
                job = loop.run_in_executor(None, time.sleep, 0.3)
                with real_timer() as took:
                    await asyncio.sleep(3600)
                seen["real"] = took[0]
                seen["elapsed"] = self.clock.elapsed()
                await job

        self.addCleanup(setattr, clock_module, "_HELD_WARNING", clock_module._HELD_WARNING)
        clock_module._HELD_WARNING = 0.2
        with self.assertLogs("asynctestkit", logging.WARNING) as logs:
            result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), problems(result))
        self.assertEqual(seen["elapsed"], 3600)
        self.assertGreaterEqual(seen["real"], 0.25)
        self.assertEqual(len(logs.output), 1, logs.output)
        self.assertRegex(logs.output[0], r"virtual time has followed real time for 0\.\d s because real work is "
                                         r"in flight: executor job sleep\(\) \(started at \S*test_realwork\.py:"
                                         r"\d+ in test_x\)\. If the test does not wait for it, pass it to "
                                         r"clock\.background\(\)\.")

    def test_track_names_what_it_tracks_in_the_warning(self) -> None:
        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                done = threading.Event()
                self.assertIs(self.clock.track(done_thread := _start(done.wait, 0.3), "the uploader"),
                              done_thread)
                await asyncio.sleep(10)
                done_thread.join(5)

        self.addCleanup(setattr, clock_module, "_HELD_WARNING", clock_module._HELD_WARNING)
        clock_module._HELD_WARNING = 0.2
        with self.assertLogs("asynctestkit", logging.WARNING) as logs:
            result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), problems(result))
        self.assertRegex(logs.output[0], r"in flight: the uploader \(started at \S*test_realwork\.py:\d+ in test_x\)")

    def test_idle_executor_workers_do_not_delay_a_deadlock_report(self) -> None:
        # A worker that delivered a result through call_soon_threadsafe is not a wake-up source: its work is
        # tracked job by job, so the report comes after the short settle, not after the deadlock grace.
        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                await asyncio.get_running_loop().run_in_executor(None, int)
                await asyncio.to_thread(int)
                await asyncio.Event().wait()

        with real_timer() as took:
            result = run_tests(Inner, "test_x")
        self.assertEqual(len(result.failures), 1, problems(result))
        text = result.failures[0][1]
        self.assertIn("DeadlockError: test 'test_x' can never finish", text)
        self.assertNotIn("waited", text)
        self.assertLess(took[0], 0.9)

    def test_teardown_waits_for_a_running_executor_job_without_warnings_or_leftover_threads(self) -> None:
        finished = threading.Event()

        class Inner(AsyncTestCase):
            leak_checks = "off"  # this test is about the loop's teardown, not about the leak report

            async def test_x(self) -> None:
                def job() -> None:
                    time.sleep(0.3)
                    finished.set()

                asyncio.get_running_loop().run_in_executor(None, job)

        before = set(threading.enumerate())
        with warnings.catch_warnings(record=True) as caught, real_timer() as took:
            warnings.simplefilter("always")
            result = run_tests(Inner, "test_x")
        self.assertTrue(result.wasSuccessful(), problems(result))
        self.assertTrue(finished.is_set(), "the loop closed before its executor job ended")
        self.assertEqual([str(w.message) for w in caught if "executor" in str(w.message)], [])
        self.assertEqual(wait_threads_gone(before), [])
        self.assertLess(took[0], 5)


# ---------------------------------------------------------------------------------------------------------
# No false deadlock
# ---------------------------------------------------------------------------------------------------------

class NoFalseDeadlockTests(AsyncTestCase):
    """A test that waits on real work with no timer pending.  The check is the clock itself: a false deadlock
    raises DeadlockError in the test, so a test here with no assertion of its own still fails on one."""

    clock_deadlock_grace = 0.2  # shorter than every job below: a job outliving it must still not be reported

    async def test_a_silent_executor_job_outliving_the_grace_with_no_timer_is_not_a_deadlock(self) -> None:
        # A 1.5 s job against the 1 s default grace, scaled to 0.5 s against 0.2 s: a job in
        # flight never enters the deadlock check at all, so the ratio is what matters, not the magnitude.
        loop = asyncio.get_running_loop()
        with real_timer() as took:
            await loop.run_in_executor(None, time.sleep, 0.5)
        self.assertGreaterEqual(took[0], 0.5)

    async def test_a_silent_subprocess_with_no_timer_is_not_a_deadlock(self) -> None:
        proc = await asyncio.create_subprocess_exec(*_sleep_command(0.4))
        self.assertEqual(await proc.wait(), 0)

    async def test_a_busy_thread_with_no_timer_is_not_a_deadlock(self) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[int] = loop.create_future()

        def crunch() -> None:
            end = time.perf_counter() + 0.4
            count = 0
            while time.perf_counter() < end:
                count += 1
            loop.call_soon_threadsafe(done.set_result, count)

        thread = _start(crunch, name="cruncher")
        self.assertGreater(await done, 0)
        thread.join(5)

    async def test_a_thread_feeding_the_loop_after_0_3_s_with_no_timer_is_not_a_deadlock(self) -> None:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        def feed() -> None:
            time.sleep(0.3)
            loop.call_soon_threadsafe(event.set)

        thread = _start(feed)
        await event.wait()
        thread.join(5)

    async def test_a_user_thread_pool_job_under_wrap_future_holds_time_like_an_executor_job(self) -> None:
        # Neither run_in_executor nor a thread the test started: the clock sees the pool worker running it.
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="own-pool") as pool:
            pool.submit(int).result()  # the worker exists before the job, as in a long-lived pool
            with real_timer() as took:
                fut = asyncio.wrap_future(pool.submit(time.sleep, 0.25))
                await asyncio.wait_for(fut, 5)  # a pending timer: a jump would be a spurious timeout
            self.assertGreaterEqual(took[0], 0.25)
            await asyncio.wrap_future(pool.submit(time.sleep, 0.25))  # and no false deadlock without one


class PreexistingThreadTests(AsyncTestCase):
    """A thread that already ran when the test's loop was built, answering through call_soon_threadsafe."""

    requests: Any
    worker: threading.Thread

    @classmethod
    def setUpClass(cls) -> None:
        import queue
        cls.requests = queue.Queue()

        def serve() -> None:
            while True:
                item = cls.requests.get()
                if item is None:
                    return
                loop, fut, delay = item
                time.sleep(delay)
                loop.call_soon_threadsafe(fut.set_result, "answer")

        cls.worker = _start(serve, name="preexisting-worker")

    @classmethod
    def tearDownClass(cls) -> None:
        cls.requests.put(None)
        cls.worker.join(5)

    async def test_an_answer_after_0_3_s_with_no_timer_is_not_a_deadlock(self) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[str] = loop.create_future()
        self.requests.put((loop, fut, 0.3))
        with real_timer() as took:
            self.assertEqual(await fut, "answer")  # it is a wake-up source: the deadlock grace applies
        self.assertGreaterEqual(took[0], 0.25)

    async def test_track_makes_its_answer_arrive_before_a_pending_timeout(self) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[str] = loop.create_future()
        self.requests.put((loop, fut, 0.2))
        self.assertIs(self.clock.track(fut, "answer from the preexisting worker"), fut)
        self.assertEqual(await asyncio.wait_for(fut, 5), "answer")
        self.assertLess(self.clock.elapsed(), 5)


# ---------------------------------------------------------------------------------------------------------
# Classification of sockets and wake-up sources
# ---------------------------------------------------------------------------------------------------------

class ClassificationTests(AsyncTestCase):
    def in_flight(self) -> list[InFlight]:
        loop: Any = asyncio.get_running_loop()
        held: list[InFlight] = list(loop._atk_work.in_flight(loop._selector))
        return held

    def sources(self) -> list[str]:
        loop: Any = asyncio.get_running_loop()
        sources: list[str] = loop._atk_work.wake_up_sources(loop._selector.get_map())
        return sources

    async def test_a_fresh_loop_has_nothing_in_flight_and_no_wake_up_source(self) -> None:
        self.assertEqual(self.in_flight(), [])
        self.assertEqual(self.sources(), [])

    async def test_a_socketpair_inside_the_loop_is_not_real_work(self) -> None:
        left, right = socket.socketpair()
        _reader, writer = await asyncio.open_connection(sock=left)
        reader2, writer2 = await asyncio.open_connection(sock=right)
        writer.write(b"x")
        self.assertEqual(await reader2.read(1), b"x")
        self.assertEqual(self.in_flight(), [])
        for w in (writer, writer2):
            w.close()
            await w.wait_closed()

    async def test_a_listener_is_a_wake_up_source_but_holds_no_time(self) -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        self.assertEqual(self.in_flight(), [])
        self.assertRegex(" ".join(self.sources()), rf"listening socket \('127\.0\.0\.1', {port}\)")
        server.close()
        await server.wait_closed()

    async def test_a_pipe_is_a_wake_up_source(self) -> None:
        read_fd, write_fd = os.pipe()
        loop = asyncio.get_running_loop()
        transport, _protocol = await loop.connect_read_pipe(asyncio.Protocol, os.fdopen(read_fd, "rb"))
        try:
            self.assertEqual(self.in_flight(), [])
            self.assertIn(f"fd {read_fd} (pipe; other end held by this process (fd {write_fd}))", self.sources())
        finally:
            transport.close()
            os.close(write_fd)

    async def test_a_connection_to_a_peer_outside_the_loop_holds_time(self) -> None:
        server = _BlockingServer(delay=0)
        self.addCleanup(server.close)
        _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        held = [str(h) for h in self.in_flight()]
        self.assertTrue(any(h.startswith(f"socket to ('127.0.0.1', {server.port}) (fd ") for h in held), held)
        self.assertIn("thread 'blocking-server'", held)
        writer.close()
        await writer.wait_closed()

    async def test_executor_jobs_threads_and_subprocesses_are_named_with_where_they_started(self) -> None:
        loop = asyncio.get_running_loop()
        stop = threading.Event()
        job = loop.run_in_executor(None, stop.wait, 5)
        thread = _start(stop.wait, 5, name="helper")
        proc = await asyncio.create_subprocess_exec(*_sleep_command(5))
        try:
            held = [str(h) for h in self.in_flight()]
            self.assertTrue(any(h.startswith("executor job Event.wait() (started at ") and "test_realwork.py:" in h
                                for h in held), held)
            self.assertIn("thread 'helper'", held)
            self.assertTrue(any(h.startswith(f"subprocess {_sleep_command(5)[0]} (pid {proc.pid})") for h in held),
                            held)
        finally:
            stop.set()
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
            await job
            thread.join(5)
        self.assertEqual(self.in_flight(), [])

    async def test_to_thread_jobs_are_named_after_the_function(self) -> None:
        seen: list[list[str]] = []

        def probe() -> None:
            time.sleep(0.05)

        task = asyncio.ensure_future(asyncio.to_thread(probe))
        await asyncio.sleep(0)
        seen.append([str(h) for h in self.in_flight()])
        await task
        self.assertTrue(any("executor job " in h and "probe()" in h for h in seen[0]), seen)

    def test_in_flight_text(self) -> None:
        self.assertEqual(str(InFlight("thread 'x'")), "thread 'x'")
        self.assertEqual(str(InFlight("job", ("/nowhere/app.py", 3, "main"))),
                         "job (started at /nowhere/app.py:3 in main)")


if __name__ == "__main__":
    unittest.main()
