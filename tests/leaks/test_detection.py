"""What the leak checker reports, kind by kind, and what correct code it leaves quiet: one scenario per test.

Positives (the ``...LeakTests``, outcome and strict-mode classes) run an inner test that leaks and assert on
the failure text: the kind, the object, the creation site (a line tagged ``# <Lnn>`` in this file) and,
afterwards, that the leaked object was cleaned up.  Negatives (``QuietCorrectCodeTests``) assert the inner
test passes with no log line from asyncio or asynctestkit and no leak warning, even after a full garbage
collection.  Most scenarios run on AsyncTestCase (virtual clock, asyncio debug off) and on LeakCheckMixin +
IsolatedAsyncioTestCase (real clock, debug on).
"""

# Inner test classes are defined and run inside each loop iteration, so closing over loop variables is
# intended (B023); the tasks these tests create without keeping a reference are the leaks under test (RUF006).
# ruff: noqa: B023, RUF006

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import sys
import threading
import unittest
from typing import Any

from asynctestkit import AsyncTestCase, register_resource_type, unregister_resource_type
from tests.leaks._leak_support import (
    BASES,
    PlainLeakCase,
    fake_aiohttp,
    fake_pooled_connection,
    marker_line,
    run_case,
    tls_contexts,
)

HERE = os.path.relpath(__file__, os.path.dirname(os.path.dirname(__file__)))  # this file under tests/


def at(marker: str) -> str:
    """``leaks/test_detection.py:<line>`` of the line tagged ``# <marker>``."""
    return f"{HERE}:{marker_line(__file__, marker)}"


async def sleeper() -> None:
    await asyncio.sleep(3600)


async def fetch() -> str:
    await asyncio.sleep(1)
    return "data"


async def fail_with_key_error() -> None:
    raise KeyError("missing")


async def start_closing_server() -> asyncio.Server:
    """A loopback server whose handler closes each connection at once (the peer sees EOF)."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()
    return await asyncio.start_server(handle, "127.0.0.1", 0)


def port_of(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


async def close_server(server: asyncio.Server) -> None:
    server.close()
    await server.wait_closed()


class ScenarioTestCase(unittest.TestCase):
    def assertQuiet(self, outcome: Any) -> None:
        """The inner test passed, nothing was logged by asyncio or asynctestkit, no leak warning escaped."""
        problems = [text for _t, text in outcome.result.failures + outcome.result.errors]
        self.assertTrue(outcome.result.wasSuccessful(), "\n".join(problems))
        self.assertEqual(outcome.messages("asyncio") + outcome.messages("asynctestkit"), [])
        self.assertEqual(outcome.leak_warnings(), [])


class TaskLeakTests(ScenarioTestCase):
    def test_task_created_in_the_test_and_never_awaited_is_reported_then_cancelled(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                held: dict[str, Any] = {}

                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_leak(self) -> None:
                        held["task"] = asyncio.create_task(sleeper())  # <L01>
                        await asyncio.sleep(0)

                outcome = run_case(Inner, "test_leak")
                text = outcome.failure
                self.assertIn("LeakError: test_leak leaked 1 pending task", text)
                self.assertIn("(sleeper()) still pending", text)
                self.assertIn(f"created at   tests/{at('L01')} in test_leak", text)
                self.assertIn("suspended at", text)
                self.assertIn("(awaiting sleep())", text)
                self.assertTrue(held["task"].cancelled())
                self.assertEqual([m for m in outcome.messages() if "destroyed" in m], [])

    def test_task_created_in_asyncSetUp_is_reported_with_the_asyncSetUp_line(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def asyncSetUp(self) -> None:
                        self.poller = asyncio.create_task(sleeper(), name="poller")  # <L02>

                    async def test_uses_it(self) -> None:
                        await asyncio.sleep(0)

                text = run_case(Inner, "test_uses_it").failure
                self.assertIn("task 'poller' (sleeper()) still pending", text)
                self.assertIn(f"{at('L02')} in asyncSetUp", text)

    def test_task_that_swallows_cancellation_is_reported_and_teardown_stays_bounded(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                held: dict[str, Any] = {"finally": False}

                async def stubborn() -> None:
                    try:
                        while True:
                            try:
                                await asyncio.sleep(1)  # <L03>
                            except asyncio.CancelledError:
                                pass
                    finally:
                        held["finally"] = True

                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_leak(self) -> None:
                        held["task"] = asyncio.create_task(stubborn())
                        await asyncio.sleep(0)

                outcome = run_case(Inner, "test_leak")
                text = outcome.failure
                self.assertIn("(stubborn()) ignored cancellation", text)
                self.assertIn(f"suspended at tests/{at('L03')} in stubborn", text)
                self.assertIn("asynctestkit closed its coroutine", text)
                self.assertTrue(held["finally"], "closing the coroutine runs its finally blocks")
                self.assertTrue(held["task"].done())
                self.assertLess(outcome.seconds, 5.0)
                self.assertEqual(outcome.messages("asyncio"), [])

    def test_leftover_task_raising_while_cancelled_gives_one_report_with_the_exception(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                async def raises_on_cancel() -> None:
                    try:
                        await asyncio.sleep(3600)
                    except asyncio.CancelledError:
                        raise ValueError("boom on cancel") from None

                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_leak(self) -> None:
                        asyncio.create_task(raises_on_cancel())  # <L04>
                        await asyncio.sleep(0)

                outcome = run_case(Inner, "test_leak")
                text = outcome.failure
                self.assertIn("1 pending task", text)
                self.assertIn(at("L04"), text)
                self.assertIn("it raised ValueError('boom on cancel') instead of stopping", text)
                self.assertEqual(outcome.messages("asyncio"), [], "no separate asyncio ERROR line")


class ExceptionAndCoroutineLeakTests(ScenarioTestCase):
    def test_failed_task_kept_on_self_is_reported_as_exception_never_retrieved(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_leak(self) -> None:
                        self.task = asyncio.create_task(fail_with_key_error())  # <L05>
                        await asyncio.sleep(0)

                outcome = run_case(Inner, "test_leak")
                text = outcome.failure
                self.assertIn("1 exception never retrieved", text)
                self.assertIn("(fail_with_key_error()) failed and its exception was never retrieved", text)
                self.assertIn("exception    KeyError('missing')", text)
                self.assertIn(at("L05"), text)
                self.assertIn("kept on      self.task", text)
                self.assertEqual(outcome.messages("asyncio"), [], "retrieved afterwards: no late log line")

    def test_failed_task_dropped_inside_the_test_is_reported_from_the_exception_handler(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_leak(self) -> None:
                        task = asyncio.create_task(fail_with_key_error())  # <L06>
                        await asyncio.sleep(0)
                        del task  # <L06d>

                outcome = run_case(Inner, "test_leak")
                text = outcome.failure
                self.assertIn("failed and its exception was never retrieved", text)
                self.assertIn("KeyError('missing')", text)
                self.assertIn(f"created at   tests/{at('L06')}", text)
                self.assertIn(f"dropped at   tests/{at('L06d')}", text)
                # the loop's own handler still ran (its log line is kept for assertLogs users)
                self.assertTrue(any("never retrieved" in m for m in outcome.messages("asyncio")))

    def test_future_given_an_exception_and_dropped_is_reported(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_leak(self) -> None:
                        future = asyncio.get_running_loop().create_future()
                        future.set_exception(KeyError("lost"))
                        del future  # <L07>

                text = run_case(Inner, "test_leak").failure
                self.assertIn("1 exception never retrieved", text)
                self.assertIn("future <Future finished exception=KeyError('lost')>", text)
                self.assertIn(f"dropped at   tests/{at('L07')}", text)

    def test_coroutine_called_without_await_is_reported_with_the_call_line(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_leak(self) -> None:
                        fetch()  # type: ignore[unused-coroutine]  # <L08>

                outcome = run_case(Inner, "test_leak")
                text = outcome.failure
                self.assertIn("1 coroutine never awaited", text)
                self.assertIn("coroutine 'fetch' was never awaited", text)
                # The plain base runs in debug mode, which records coroutine origins; AsyncTestCase does not
                # by default (coroutine_origins), and names the line that dropped it: here the same line.
                label = "dropped at" if base is AsyncTestCase else "created at"
                self.assertIn(f"{label}   tests/{at('L08')} in test_leak", text)
                self.assertEqual(outcome.leak_warnings(), [], "reported, not also printed")

    def test_with_coroutine_origins_the_creation_line_is_named_even_when_dropped_elsewhere(self) -> None:
        class Inner(AsyncTestCase):
            coroutine_origins = True

            async def test_leak(self) -> None:
                pending = [fetch()]  # <L08b>
                await asyncio.sleep(0)
                pending.clear()

        text = run_case(Inner, "test_leak").failure
        self.assertIn(f"coroutine 'fetch' was never awaited\n       created at   tests/{at('L08b')} in test_leak",
                      text)

    def test_unawaited_coroutine_kept_on_self_is_found_at_teardown(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_leak(self) -> None:
                        self.pending = fetch()  # <L09>

                outcome = run_case(Inner, "test_leak")
                text = outcome.failure
                self.assertIn("coroutine 'fetch' was never awaited", text)
                if base is not AsyncTestCase:  # debug mode: origins recorded
                    self.assertIn(at("L09"), text)
                self.assertIn("kept on      self.pending", text)
                self.assertEqual(outcome.leak_warnings(), [], "closed: no warning when the instance dies")


class TransportLeakTests(ScenarioTestCase):
    def test_stream_writer_kept_on_self_is_reported_as_an_open_tcp_transport(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                held: dict[str, Any] = {}

                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_leak(self) -> None:
                        server = await start_closing_server()
                        self.addAsyncCleanup(close_server, server)
                        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port_of(server))  # <L10>
                        held["writer"] = self.writer

                text = run_case(Inner, "test_leak").failure
                self.assertIn("1 open transport", text)
                self.assertRegex(text, r"TCP transport 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ still open")
                self.assertIn(f"{at('L10')} in test_leak (via loop.create_connection)", text)
                self.assertTrue(held["writer"].transport.is_closing())

    def test_stream_writer_dropped_unclosed_is_reported_like_an_open_transport(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_leak(self) -> None:
                        server = await start_closing_server()
                        self.addAsyncCleanup(close_server, server)
                        _reader, _writer = await asyncio.open_connection("127.0.0.1", port_of(server))  # <L11>
                        # 3.11+: StreamWriter.__del__ closes it and warns; 3.10: it stays open in a cycle

                outcome = run_case(Inner, "test_leak")
                text = outcome.failure
                self.assertIn("1 open transport", text)
                self.assertRegex(text, r"TCP transport 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ ")
                self.assertIn(f"{at('L11')} in test_leak (via loop.create_connection)", text)
                self.assertEqual(outcome.leak_warnings(), [])
                # one sentence, whichever way the leak was found (3.11+: the writer's warning; 3.10: enumeration)
                self.assertRegex(text, r"\d\. TCP transport \S+ -> \S+ (still open|left open: its StreamWriter was "
                                       r"garbage-collected without close\(\))\n")
                self.assertNotIn("was its", text)

    def test_transport_in_a_reference_cycle_is_reported_by_enumeration_not_at_a_later_gc(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Holder(asyncio.Protocol):
                    def connection_made(self, transport: asyncio.BaseTransport) -> None:
                        self.transport = transport  # transport <-> protocol: a cycle

                ours, peer = socket.socketpair()  # the peer stays open (outside the loop) during the check

                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_leak(self) -> None:
                        loop = asyncio.get_running_loop()
                        await loop.create_connection(Holder, sock=ours)  # <L12>
                        # both results dropped: only the cycle (and the loop) keep the transport alive

                try:
                    outcome = run_case(Inner, "test_leak")
                finally:
                    peer.close()
                self.assertIn("1 open transport", outcome.failure)
                self.assertIn("Unix socket transport", outcome.failure)
                self.assertIn(f"{at('L12')} in test_leak (via loop.create_connection)", outcome.failure)
                self.assertEqual(outcome.leak_warnings(), [])

    def test_start_server_never_closed_is_reported_with_its_address_and_closed_after(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                held: dict[str, Any] = {}

                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_leak(self) -> None:
                        held["server"] = await asyncio.start_server(print, "127.0.0.1", 0)  # <L13>

                outcome = run_case(Inner, "test_leak")
                self.assertRegex(outcome.failure, r"server listening on 127\.0\.0\.1:\d+ still open")
                self.assertIn(at("L13"), outcome.failure)
                self.assertEqual(held["server"].sockets, ())
                self.assertEqual(outcome.leak_warnings(), [])

    def test_server_created_with_start_serving_false_is_reported(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_leak(self) -> None:
                        loop = asyncio.get_running_loop()
                        await loop.create_server(asyncio.Protocol, "127.0.0.1", 0, start_serving=False)  # <L14>

                text = run_case(Inner, "test_leak").failure
                self.assertIn("(created with start_serving=False, never served) still open", text)
                self.assertIn(f"{at('L14')} in test_leak (via loop.create_server)", text)

    def test_datagram_endpoint_left_open_is_reported(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                held: dict[str, Any] = {}

                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_leak(self) -> None:
                        loop = asyncio.get_running_loop()
                        held["udp"], _ = await loop.create_datagram_endpoint(  # <L15>
                            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))

                text = run_case(Inner, "test_leak").failure
                self.assertRegex(text, r"UDP transport 127\.0\.0\.1:\d+ still open")
                self.assertIn(at("L15"), text)
                self.assertTrue(held["udp"].is_closing())

    @unittest.skipUnless(sys.platform != "win32", "POSIX subprocess")
    def test_subprocess_not_waited_is_reported_then_killed_and_reaped(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                held: dict[str, Any] = {}

                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_leak(self) -> None:
                        held["proc"] = await asyncio.create_subprocess_exec("sleep", "60")  # <L16>

                outcome = run_case(Inner, "test_leak")
                self.assertRegex(outcome.failure, r"subprocess pid \d+ \(sleep 60\) still running")
                self.assertIn(f"{at('L16')} in test_leak (via loop.subprocess_exec)", outcome.failure)
                self.assertIsNotNone(held["proc"].returncode, "killed and reaped")
                self.assertLess(outcome.seconds, 5.0)

    def test_read_pipe_left_attached_is_reported(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                held: dict[str, Any] = {}
                read_fd, write_fd = os.pipe()  # the write end stays open during the check: no EOF

                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_leak(self) -> None:
                        loop = asyncio.get_running_loop()
                        held["pipe"], _ = await loop.connect_read_pipe(  # <L17>
                            asyncio.Protocol, os.fdopen(read_fd, "rb", 0))

                try:
                    text = run_case(Inner, "test_leak").failure
                finally:
                    os.close(write_fd)
                self.assertRegex(text, r"read pipe transport \(fd \d+\) still open")
                self.assertIn(f"{at('L17')} in test_leak (via loop.connect_read_pipe)", text)
                self.assertTrue(held["pipe"].is_closing())


class ExecutorAndThreadLeakTests(ScenarioTestCase):
    def test_to_thread_job_still_running_is_reported_and_teardown_does_not_wait_for_it(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                release = threading.Event()

                def blocking_call() -> None:
                    release.wait(10)

                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_leak(self) -> None:
                        self.job = asyncio.create_task(asyncio.to_thread(blocking_call))  # <L18>
                        await asyncio.sleep(0)

                try:
                    outcome = run_case(Inner, "test_leak")
                finally:
                    release.set()
                text = outcome.failure
                self.assertIn("executor job blocking_call() still running", text)
                self.assertIn(f"submitted at tests/{at('L18')} in test_leak", text)
                self.assertIn("1 pending task", text)  # the task awaiting the job
                self.assertLess(outcome.seconds, 3.0, "the loop's shutdown did not wait for the job")

    def test_non_daemon_thread_alive_after_the_grace_is_reported_with_target_and_start_line(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                release = threading.Event()

                def worker() -> None:
                    release.wait(10)

                class Inner(base):  # type: ignore[valid-type, misc]
                    def test_leak(self) -> None:
                        threading.Thread(target=worker, name="leaky-worker").start()  # <L19>

                try:
                    outcome = run_case(Inner, "test_leak")
                finally:
                    release.set()
                text = outcome.failure
                self.assertIn("thread 'leaky-worker' still running", text)
                self.assertIn("target       worker() defined at", text)
                self.assertIn(f"started at   tests/{at('L19')} in test_leak", text)


class SessionLeakTests(ScenarioTestCase):
    """Client sessions and connectors left open, against stand-ins named like aiohttp's classes, exercising the built-in
    adapters by qualified name; tests/interop/test_aiohttp_leaks.py proves them with the real aiohttp.
    """

    def test_client_session_kept_on_self_and_never_closed_is_reported_with_its_creation_line(self) -> None:
        with fake_aiohttp() as aiohttp:
            for base in BASES:
                with self.subTest(base=base.__name__):
                    held: dict[str, Any] = {}

                    class Inner(base):  # type: ignore[valid-type, misc]
                        async def test_leak(self) -> None:
                            self.session = aiohttp.ClientSession()  # <L20>
                            held["session"] = self.session

                    outcome = run_case(Inner, "test_leak")
                    text = outcome.failure
                    self.assertIn("1 open resource", text)
                    self.assertIn("aiohttp ClientSession with TCPConnector still open", text)
                    self.assertIn(f"created at   tests/{at('L20')} in test_leak", text)
                    self.assertIn("kept on      self.session", text)
                    self.assertTrue(held["session"].closed)
                    self.assertEqual(outcome.messages("asyncio"), [])

    def test_client_session_dropped_unclosed_is_reported_and_attributed_to_this_test(self) -> None:
        with fake_aiohttp() as aiohttp:
            for base in BASES:
                with self.subTest(base=base.__name__):
                    class Inner(base):  # type: ignore[valid-type, misc]
                        async def test_leak(self) -> None:
                            session = aiohttp.ClientSession()  # <L21>
                            del session

                    outcome = run_case(Inner, "test_leak")
                    text = outcome.failure
                    self.assertIn("1 open resource", text)
                    self.assertIn("was garbage-collected while open", text)
                    self.assertIn(f"created at   tests/{at('L21')}", text)

    def test_connector_left_open_with_a_pooled_connection_is_reported_with_the_count(self) -> None:
        with fake_aiohttp() as aiohttp:
            for base in BASES:
                with self.subTest(base=base.__name__):
                    class Inner(base):  # type: ignore[valid-type, misc]
                        async def test_leak(self) -> None:
                            self.connector = aiohttp.TCPConnector()  # <L22>
                            session = aiohttp.ClientSession(connector=self.connector, connector_owner=False)
                            fake_pooled_connection(self.connector)
                            await session.close()

                    text = run_case(Inner, "test_leak").failure
                    self.assertIn("aiohttp TCPConnector with 1 pooled connection still open", text)
                    self.assertIn(at("L22"), text)
                    self.assertNotIn("ClientSession", text)

    def test_registered_user_type_left_open_is_reported_with_constructor_and_track_lines(self) -> None:
        class Pool:
            def __init__(self) -> None:
                self.closed = False

            async def close(self) -> None:
                self.closed = True

        class Untyped:
            def __init__(self) -> None:
                self.shut = False

        register_resource_type(Pool, is_open=lambda p: not p.closed)
        self.addCleanup(unregister_resource_type, Pool)
        for base in BASES:
            with self.subTest(base=base.__name__):
                held: dict[str, Any] = {}

                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_leak(self) -> None:
                        self.pool = Pool()  # <L23c>
                        held["pool"] = self.pool
                        held["other"] = self.trackResource(Untyped(), is_open=lambda u: not u.shut,  # <L23t>
                                                           close=lambda u: setattr(u, "shut", True),
                                                           describe=lambda u: "untyped pool")

                text = run_case(Inner, "test_leak").failure
                self.assertIn("2 open resources", text)
                self.assertIn(f"Pool still open\n       created at   tests/{at('L23c')}", text)
                self.assertIn(f"untyped pool still open\n       created at   tests/{at('L23t')}", text)
                self.assertTrue(held["pool"].closed)
                self.assertTrue(held["other"].shut)


class OutcomeAndAttributionTests(ScenarioTestCase):
    def test_failing_test_that_also_leaks_keeps_its_failure_first_and_gets_the_leak_as_a_note(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                held: dict[str, Any] = {}

                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_broken(self) -> None:
                        held["task"] = asyncio.create_task(sleeper())  # <L24>
                        self.fail("the real problem")

                outcome = run_case(Inner, "test_broken")
                text = outcome.failure  # exactly one failure, no error
                self.assertIn("AssertionError: the real problem", text)
                self.assertIn("leak check note (the test had already failed): test_broken leaked 1 pending task",
                              text)
                self.assertLess(text.index("the real problem"), text.index("leak check note"))
                self.assertIn(at("L24"), text)
                self.assertTrue(held["task"].cancelled())

    def test_object_leaked_by_test_a_and_finalized_during_test_b_is_blamed_on_a_not_b(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                held: dict[str, Any] = {}

                class Inner(base):  # type: ignore[valid-type, misc]
                    coroutine_origins = True  # how a coroutine is traced back to test_a (debug mode on the plain base)

                    async def test_a(self) -> None:
                        task = asyncio.create_task(fail_with_key_error())
                        await asyncio.sleep(0)
                        cycle: list[Any] = [task]
                        cycle.append(cycle)  # kept alive past the test, reachable only from a cycle
                        held["cycle"] = cycle
                        held["coroutine"] = fetch()

                    async def test_b(self) -> None:
                        held.clear()
                        gc.collect()

                outcome = run_case(Inner, "", suite=["test_a", "test_b"])
                self.assertTrue(outcome.result.wasSuccessful(), outcome.result.failures)
                late = outcome.messages("asynctestkit")
                self.assertEqual(len(late), 2, late)
                self.assertTrue(all(m.startswith("leak from test_a, detected after that test finished") for m in late))
                self.assertTrue(any("Task exception was never retrieved" in m for m in late), late)
                self.assertTrue(any("coroutine 'fetch' was never awaited" in m for m in late), late)
                self.assertEqual(outcome.messages("asyncio"), [])

    def test_without_origins_a_coroutine_the_collector_finds_in_test_b_is_only_a_note_there(self) -> None:
        held: dict[str, Any] = {}

        class Inner(AsyncTestCase):  # coroutine_origins off (the default): test_a cannot be named
            async def test_a(self) -> None:
                cycle: list[Any] = [fetch()]
                cycle.append(cycle)  # only the collector can free it
                held["cycle"] = cycle

            async def test_b(self) -> None:
                held.clear()
                gc.collect()

        outcome = run_case(Inner, "", suite=["test_a", "test_b"])
        self.assertTrue(outcome.result.wasSuccessful(), outcome.result.failures)
        notes = outcome.messages("asynctestkit")
        self.assertEqual(len(notes), 1, notes)
        self.assertIn("test_b: leak check note: test_b leaked 1 coroutine never awaited", notes[0])
        self.assertIn("found by the garbage collector: it may come from an earlier test (set coroutine_origins = "
                      "True on the test case to know)", notes[0])

    def test_exception_in_a_call_soon_callback_fails_by_default_and_is_a_note_when_set_to_note(self) -> None:
        def bad_callback() -> None:
            raise ValueError("callback broke")  # <L26raise>

        for base in BASES:
            for setting in ("default", "note"):
                with self.subTest(base=base.__name__, setting=setting):
                    class Inner(base):  # type: ignore[valid-type, misc]
                        leak_checks = {"errors": "note"} if setting == "note" else "default"

                        async def test_callback(self) -> None:
                            asyncio.get_running_loop().call_soon(bad_callback)  # <L26>
                            await asyncio.sleep(0)

                    outcome = run_case(Inner, "test_callback")
                    if setting == "default":
                        text = outcome.failure
                        self.assertIn("LeakError: test_callback had 1 error swallowed by the loop", text)
                        self.assertIn('allow: @allow_leaks(errors=True, reason="...")', text)
                    else:
                        self.assertTrue(outcome.result.wasSuccessful())
                        (text,) = outcome.messages("asynctestkit")
                        self.assertIn("leak check note: test_callback had 1 error swallowed by the loop", text)
                    self.assertIn("1. callback bad_callback() raised ValueError('callback broke')", text)
                    self.assertIn(f"raised at    tests/{at('L26raise')} in bad_callback: raise ValueError(", text)
                    self.assertIn("callback     bad_callback() defined at tests/leaks/test_detection.py:", text)
                    if base is PlainLeakCase:  # asyncio's debug mode records where call_soon was called
                        self.assertIn(f"scheduled at tests/{at('L26')}", text)
                    else:
                        self.assertIn("scheduled at unknown (asyncio's debug mode records it: asyncio_debug = True",
                                      text)


class StrictModeTests(ScenarioTestCase):
    def test_strict_mode_reports_a_timer_never_cancelled_with_its_creation_line(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                held: dict[str, Any] = {}

                def on_timer() -> None:
                    pass

                class Inner(base):  # type: ignore[valid-type, misc]
                    leak_checks = "strict"

                    async def test_leak(self) -> None:
                        held["handle"] = asyncio.get_running_loop().call_later(60, on_timer)  # <L27>

                text = run_case(Inner, "test_leak").failure
                self.assertIn("1 timer never cancelled", text)
                # On the real clock the report is written a moment after the timer was scheduled, and on a loaded
                # machine that moment can be tenths of a second ("due in 59.9s"); the virtual clock is exact.
                due = r"60\.0" if base is not PlainLeakCase else r"(60\.0|59\.[0-9])"
                self.assertRegex(text, rf"timer on_timer\(\) due in {due}s was never cancelled")
                self.assertIn(f"scheduled at tests/{at('L27')} in test_leak", text)
                self.assertTrue(held["handle"].cancelled())

    def test_strict_mode_reports_an_async_generator_kept_on_self_and_its_finally_still_runs(self) -> None:
        for base in BASES:
            for strict in (True, False):
                with self.subTest(base=base.__name__, strict=strict):
                    held: dict[str, Any] = {"finally": False}

                    async def ticker() -> Any:
                        try:
                            for number in range(10):
                                yield number  # <L28>
                        finally:
                            held["finally"] = True

                    class Inner(base):  # type: ignore[valid-type, misc]
                        leak_checks = "strict" if strict else "default"

                        async def test_gen(self) -> None:
                            self.gen = ticker()
                            async for _ in self.gen:
                                break

                    outcome = run_case(Inner, "test_gen")
                    if strict:
                        text = outcome.failure
                        self.assertIn("async generator ticker() left suspended (not closed)", text)
                        self.assertIn(f"suspended at tests/{at('L28')} in ticker", text)
                    else:
                        self.assertQuiet(outcome)
                    self.assertTrue(held["finally"], "finalized during the check (3.10's IATC skips it)")


class QuietCorrectCodeTests(ScenarioTestCase):
    """Negatives: correct code stays quiet, on every interpreter."""

    def test_task_cancelled_and_awaited_in_asyncTearDown_is_quiet(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def asyncSetUp(self) -> None:
                        self.poller = asyncio.create_task(sleeper())

                    async def asyncTearDown(self) -> None:
                        self.poller.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await self.poller

                    async def test_it(self) -> None:
                        await asyncio.sleep(0)

                self.assertQuiet(run_case(Inner, "test_it"))

    def test_task_cancelled_in_asyncTearDown_but_not_awaited_is_quiet(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                async def nested() -> None:
                    async with asyncio.timeout(3600) if sys.version_info >= (3, 11) else contextlib.nullcontext():  # type: ignore[attr-defined]
                        await asyncio.gather(sleeper(), sleeper())

                class Inner(base):  # type: ignore[valid-type, misc]
                    async def asyncSetUp(self) -> None:
                        self.worker = asyncio.create_task(nested())
                        await asyncio.sleep(0)

                    async def asyncTearDown(self) -> None:
                        self.worker.cancel()

                    async def test_it(self) -> None:
                        await asyncio.sleep(0)

                self.assertQuiet(run_case(Inner, "test_it"))

    def test_task_that_finished_but_whose_result_was_never_read_is_quiet(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_it(self) -> None:
                        self.task = asyncio.create_task(fetch())
                        await asyncio.sleep(2)

                self.assertQuiet(run_case(Inner, "test_it"))

    def test_failed_task_whose_exception_was_retrieved_is_quiet(self) -> None:
        for base in BASES:
            for how in ("gather", "exception"):
                with self.subTest(base=base.__name__, how=how):
                    class Inner(base):  # type: ignore[valid-type, misc]
                        async def test_it(self) -> None:
                            self.task = asyncio.create_task(fail_with_key_error())
                            if how == "gather":
                                await asyncio.gather(self.task, return_exceptions=True)
                            else:
                                await asyncio.sleep(0)
                                self.assertIsInstance(self.task.exception(), KeyError)

                    self.assertQuiet(run_case(Inner, "test_it"))

    def test_server_closed_by_cleanups_including_nested_ones_and_enterAsyncContext_is_quiet(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def asyncSetUp(self) -> None:
                        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                            writer.write(await reader.read())
                            writer.close()
                            await writer.wait_closed()

                        self.server = await asyncio.start_server(echo, "127.0.0.1", 0)
                        self.addAsyncCleanup(self.stop_server)

                    async def stop_server(self) -> None:
                        self.server.close()
                        self.addAsyncCleanup(self.server.wait_closed)  # a cleanup added by a cleanup

                    async def test_it(self) -> None:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(self.server))
                        await enter_async_context(self, closing_writer(writer))
                        writer.write(b"ping")
                        writer.write_eof()
                        self.assertEqual(await reader.read(), b"ping")

                self.assertQuiet(run_case(Inner, "test_it"))

    def test_client_session_closed_in_asyncTearDown_or_entered_as_a_context_is_quiet(self) -> None:
        with fake_aiohttp() as aiohttp:
            for base in BASES:
                with self.subTest(base=base.__name__):
                    class Inner(base):  # type: ignore[valid-type, misc]
                        async def asyncSetUp(self) -> None:
                            self.session = aiohttp.ClientSession()

                        async def asyncTearDown(self) -> None:
                            await self.session.close()

                        async def test_it(self) -> None:
                            self.other = await enter_async_context(self, aiohttp.ClientSession())

                    self.assertQuiet(run_case(Inner, "test_it"))

    def test_writer_closed_as_the_last_statement_without_wait_closed_is_quiet(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_it(self) -> None:
                        server = await start_closing_server()
                        self.addAsyncCleanup(close_server, server)
                        _reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
                        writer.close()

                self.assertQuiet(run_case(Inner, "test_it"))

    def test_tls_client_transport_whose_peer_closed_is_quiet_on_every_version(self) -> None:
        server_ctx, client_ctx = tls_contexts()
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_it(self) -> None:
                        async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                            writer.close()
                            await writer.wait_closed()

                        server = await asyncio.start_server(hang_up, "127.0.0.1", 0, ssl=server_ctx)
                        self.addAsyncCleanup(close_server, server)
                        self.reader, self.writer = await asyncio.open_connection(
                            "127.0.0.1", port_of(server), ssl=client_ctx)
                        self.assertEqual(await self.reader.read(), b"")  # the peer closed: no socket left

                self.assertQuiet(run_case(Inner, "test_it"))

    def test_tls_transport_whose_close_handshake_is_still_in_progress_is_quiet(self) -> None:
        server_ctx, client_ctx = tls_contexts()
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_it(self) -> None:
                        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                            writer.write(await reader.readline())
                            await reader.read()
                            writer.close()
                            await writer.wait_closed()

                        server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_ctx)
                        self.addAsyncCleanup(close_server, server)
                        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server), ssl=client_ctx)
                        writer.write(b"hello\n")
                        self.assertEqual(await reader.readline(), b"hello\n")
                        writer.close()  # the TLS shutdown is still in flight when the test ends

                self.assertQuiet(run_case(Inner, "test_it"))

    def test_idle_default_executor_threads_after_run_in_executor_are_quiet(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_it(self) -> None:
                        loop = asyncio.get_running_loop()
                        self.assertEqual(await loop.run_in_executor(None, sum, [1, 2]), 3)
                        self.assertEqual(await asyncio.to_thread(len, "abc"), 3)

                self.assertQuiet(run_case(Inner, "test_it"))

    def test_thread_started_in_setUpClass_and_alive_during_every_test_is_quiet(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    @classmethod
                    def setUpClass(cls) -> None:
                        cls.stop = threading.Event()
                        cls.proxy = threading.Thread(target=cls.stop.wait, name="class-proxy")
                        cls.proxy.start()

                    @classmethod
                    def tearDownClass(cls) -> None:
                        cls.stop.set()
                        cls.proxy.join()

                    async def test_one(self) -> None:
                        self.assertTrue(self.proxy.is_alive())

                    async def test_two(self) -> None:
                        self.assertTrue(self.proxy.is_alive())

                outcome = run_case(Inner, "", suite=["test_one", "test_two"])
                self.assertQuiet(outcome)
                self.assertEqual(outcome.result.testsRun, 2)

    def test_test_asserting_on_asyncio_s_never_retrieved_log_line_is_quiet_and_still_receives_it(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                held: dict[str, Any] = {}

                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_it(self) -> None:
                        with self.assertLogs("asyncio", "ERROR") as logs:
                            task = asyncio.create_task(fail_with_key_error())
                            await asyncio.sleep(0)
                            del task
                        held["output"] = logs.output

                self.assertQuiet(run_case(Inner, "test_it"))
                self.assertTrue(any("exception was never retrieved" in line for line in held["output"]))


@contextlib.asynccontextmanager
async def closing_writer(writer: asyncio.StreamWriter) -> Any:
    try:
        yield writer
    finally:
        writer.close()
        await writer.wait_closed()


async def enter_async_context(case: unittest.IsolatedAsyncioTestCase, manager: Any) -> Any:
    """``case.enterAsyncContext(manager)`` (3.11+), or its equivalent with an AsyncExitStack on 3.10."""
    if hasattr(case, "enterAsyncContext"):
        return await case.enterAsyncContext(manager)
    stack = contextlib.AsyncExitStack()  # pragma: no cover - 3.10
    value = await stack.enter_async_context(manager)
    case.addAsyncCleanup(stack.aclose)
    return value


if __name__ == "__main__":
    unittest.main()
