"""MemoryNetwork: servers and connections by address with asyncio's signatures, faults, patch_asyncio, leaks."""

from __future__ import annotations

import asyncio
import asyncio.streams
import errno
import gc
import sys
import time
import unittest
from typing import Any

import asynctestkit
from asynctestkit import AsyncTestCase, MemoryNetwork
from asynctestkit.doubles import MemoryServer, MemoryTransport
from tests.clock._clock_support import failure_of, problems, run_tests

REAL_OPEN_CONNECTION = asyncio.open_connection
REAL_START_SERVER = asyncio.start_server


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while line := await reader.readline():
            writer.write(line.upper())
            await writer.drain()
    finally:
        writer.close()


class _Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data.upper())


class _Client(asyncio.Protocol):
    def __init__(self) -> None:
        self.received = b""
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


class NetworkTest(AsyncTestCase):
    async def asyncSetUp(self) -> None:
        self.net = MemoryNetwork()

    async def _serve_echo(self, host: str = "db.internal", port: int = 5432) -> MemoryServer:
        server = await self.net.start_server(_echo, host, port)
        self.addAsyncCleanup(server.wait_closed)
        self.addCleanup(server.close)
        return server

    async def test_a_client_talks_to_the_server_on_the_address_it_dials(self) -> None:
        server = await self._serve_echo()
        reader, writer = await self.net.open_connection("db.internal", 5432)
        self.assertIsInstance(writer, asyncio.StreamWriter)
        self.assertEqual(writer.get_extra_info("peername"), ("db.internal", 5432))
        writer.write(b"hello\n")
        self.assertEqual(await reader.readline(), b"HELLO\n")
        self.assertEqual(len(server.connections), 1)
        self.assertEqual(server.connections[0].get_extra_info("peername"), writer.get_extra_info("sockname"))
        self.assertEqual(len(self.net.connections("db.internal", 5432)), 1)
        writer.close()
        await writer.wait_closed()
        self.assertEqual(await reader.read(), b"")   # the handler saw EOF and closed its end

    async def test_an_address_nobody_listens_on_is_refused_with_the_address_in_the_message(self) -> None:
        await self._serve_echo()
        with self.assertRaises(ConnectionRefusedError) as caught:
            await self.net.open_connection("db.internal", 5433)
        self.assertEqual(caught.exception.errno, errno.ECONNREFUSED)
        self.assertEqual(str(caught.exception),
                         f"[Errno {errno.ECONNREFUSED}] Connect call failed ('db.internal', 5433): connection "
                         f"refused by the memory network (no server listens there)")

    async def test_a_closed_server_refuses_new_connections_and_keeps_the_open_ones(self) -> None:
        server = await self._serve_echo()
        reader, writer = await self.net.open_connection("db.internal", 5432)
        server.close()
        self.assertFalse(server.is_serving())
        self.assertEqual(server.sockets, ())
        with self.assertRaisesRegex(ConnectionRefusedError, r"\('db\.internal', 5432\).*no server listens there"):
            await self.net.open_connection("db.internal", 5432)
        writer.write(b"still here\n")
        self.assertEqual(await reader.readline(), b"STILL HERE\n")
        writer.close()

    async def test_a_server_not_serving_yet_refuses_and_start_serving_opens_it(self) -> None:
        server = await self.net.create_server(_Echo, "db.internal", 5432, start_serving=False)
        self.addCleanup(server.close)
        with self.assertRaisesRegex(ConnectionRefusedError, r"memory server on db\.internal:5432 \(not serving, "
                                                            r"0 connections open\) is not serving yet"):
            await self.net.open_connection("db.internal", 5432)
        await server.start_serving()
        reader, writer = await self.net.open_connection("db.internal", 5432)
        writer.write(b"x")
        self.assertEqual(await reader.readexactly(1), b"X")
        writer.close()

    async def test_a_server_on_every_host_accepts_any_host_on_its_port(self) -> None:
        server = await self.net.start_server(_echo, None, 8080)
        self.addCleanup(server.close)
        reader, writer = await self.net.open_connection("anything.example", 8080)
        writer.write(b"a\n")
        self.assertEqual(await reader.readline(), b"A\n")
        writer.close()
        self.assertEqual(server.sockets[0].getsockname(), ("0.0.0.0", 8080))

    async def test_port_zero_picks_a_free_port_read_from_the_server_sockets(self) -> None:
        server = await self._serve_echo(port=0)
        host, port = server.sockets[0].getsockname()
        self.assertEqual(host, "db.internal")
        self.assertGreater(port, 0)
        reader, writer = await self.net.open_connection(host, port)
        writer.close()

    async def test_a_second_server_on_the_same_address_is_address_in_use(self) -> None:
        await self._serve_echo()
        with self.assertRaises(OSError) as caught:
            await self.net.start_server(_echo, "db.internal", 5432)
        self.assertEqual(caught.exception.errno, errno.EADDRINUSE)
        self.assertIn("('db.internal', 5432): address already in use (by <MemoryServer memory server on "
                      "db.internal:5432", str(caught.exception))

    async def test_connecting_takes_one_round_trip_and_data_one_latency(self) -> None:
        self.net.configure("db.internal", 5432, latency=0.05)
        await self._serve_echo()
        reader, writer = await self.net.open_connection("db.internal", 5432)
        self.assertEqual(self.clock.now(), 0.1)
        writer.write(b"q\n")
        await reader.readline()
        self.assertAlmostEqual(self.clock.now(), 0.2, places=9)
        writer.close()
        await asyncio.sleep(0.05)   # the handler reads EOF and closes its end

    async def test_network_wide_defaults_and_per_address_settings(self) -> None:
        net = MemoryNetwork(latency=1.0, bandwidth=100)
        net.configure("fast", 1, latency=0.0, bandwidth=None)
        slow = await net.start_server(_echo, "slow", 1)
        fast = await net.start_server(_echo, "fast", 1)
        reader, writer = await net.open_connection("fast", 1)
        self.assertEqual(self.clock.now(), 0.0)
        writer.close()
        reader, writer = await net.open_connection("slow", 1)
        self.assertEqual(self.clock.now(), 2.0)
        writer.write(b"x" * 99 + b"\n")   # 100 bytes at 100 B/s, then 1 s each way
        await reader.readline()
        self.assertAlmostEqual(self.clock.now(), 6.0, places=9)
        writer.close()
        await asyncio.sleep(1)   # the handler reads EOF and closes its end
        slow.close()
        fast.close()

    async def test_fault_refuse_refuses_although_a_server_listens(self) -> None:
        await self._serve_echo()
        self.net.configure("db.internal", 5432, fault="refuse")
        with self.assertRaisesRegex(ConnectionRefusedError, r"\('db\.internal', 5432\): connection refused by the "
                                                            r"memory network \(its fault is 'refuse'\)$"):
            await self.net.open_connection("db.internal", 5432)
        self.net.configure("db.internal", 5432, fault=None)
        reader, writer = await self.net.open_connection("db.internal", 5432)
        writer.close()

    async def test_fault_hang_never_connects_so_the_caller_s_timeout_fires_at_its_exact_time(self) -> None:
        await self._serve_echo()
        self.net.configure("db.internal", 5432, fault="hang")
        with self.assertRaises(asyncio.TimeoutError):
            await asyncio.wait_for(self.net.open_connection("db.internal", 5432), 3)
        self.assertEqual(self.clock.now(), 3.0)
        self.assertEqual(self.net.connections(), [])

    async def test_fault_reset_connects_then_the_first_read_raises_and_the_handler_never_runs(self) -> None:
        handled: list[object] = []
        server = await self.net.start_server(lambda r, w: handled.append(w), "db.internal", 5432)
        self.addCleanup(server.close)
        self.net.configure("db.internal", 5432, fault="reset")
        reader, writer = await self.net.open_connection("db.internal", 5432)
        with self.assertRaisesRegex(ConnectionResetError, r"^Connection reset by peer \(db\.internal:5432, memory "
                                                          r"connection\)$"):
            await reader.read(10)
        self.assertEqual(handled, [])
        writer.close()

    async def test_a_handler_that_raises_is_reported_to_the_loop_and_its_connection_closed(self) -> None:
        async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readline()
            raise KeyError("handler bug")

        server = await self.net.start_server(broken, "db.internal", 5432)
        self.addCleanup(server.close)
        reader, writer = await self.net.open_connection("db.internal", 5432)
        with self.assertLogs("asyncio", "ERROR") as logs:
            writer.write(b"go\n")
            self.assertEqual(await reader.read(), b"")   # the server end was closed
        self.assertIn("Unhandled exception in client_connected_cb", logs.output[0])
        self.assertIn("KeyError: 'handler bug'", logs.output[0])
        writer.close()

    async def test_a_cancelled_handler_closes_its_connection(self) -> None:
        started = asyncio.Event()
        tasks: list[asyncio.Task[Any]] = []

        async def waits(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            tasks.append(asyncio.current_task())  # type: ignore[arg-type]
            started.set()
            await reader.read()

        server = await self.net.start_server(waits, "db.internal", 5432)
        self.addCleanup(server.close)
        reader, writer = await self.net.open_connection("db.internal", 5432)
        await started.wait()
        tasks[0].cancel()
        self.assertEqual(await reader.read(), b"")
        writer.close()

    async def test_fault_reset_with_latency_arrives_after_connection_made_as_in_asyncio(self) -> None:
        server = await self.net.start_server(_echo, "db.internal", 5432)
        self.addCleanup(server.close)
        self.net.configure("db.internal", 5432, fault="reset", latency=0.01)
        transport, protocol = await self.net.create_connection(_Client, "db.internal", 5432)
        await protocol.lost      # connection_lost() comes after connection_made(), never before or never
        self.assertTrue(transport.is_closing())
        reader, writer = await self.net.open_connection("db.internal", 5432)
        with self.assertRaises(ConnectionResetError):
            await reader.read(1)
        writer.close()

    async def test_resetting_a_live_connection_from_the_server_side(self) -> None:
        await self._serve_echo()
        reader, writer = await self.net.open_connection("db.internal", 5432)
        (conn,) = self.net.connections("db.internal", 5432)
        conn.reset(by="server")
        with self.assertRaises(ConnectionResetError):
            await reader.readline()
        writer.close()

    async def test_protocol_level_create_server_and_create_connection(self) -> None:
        server = await self.net.create_server(_Echo, "proto", 7)
        transport, protocol = await self.net.create_connection(_Client, "proto", 7)
        self.assertIsInstance(transport, MemoryTransport)
        self.assertIsInstance(protocol, _Client)
        transport.write(b"abc")
        for _ in range(2):   # one loop iteration there, one back
            await asyncio.sleep(0)
        self.assertEqual(protocol.received, b"ABC")
        transport.close()
        await protocol.lost
        server.close()
        await server.wait_closed()

    async def test_a_cancelled_connect_leaves_nothing_open(self) -> None:
        self.net.configure("db.internal", 5432, latency=1.0)
        await self._serve_echo()
        task = asyncio.ensure_future(self.net.open_connection("db.internal", 5432))
        await asyncio.sleep(1.5)   # the server side exists, the answer is on its way back
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)
        self.assertTrue(all(conn.closed for conn in self.net.connections()))

    async def test_asyncio_keyword_arguments_that_mean_nothing_in_memory_are_accepted(self) -> None:
        server = await self.net.start_server(_echo, "db.internal", 5432, backlog=10, reuse_address=True)
        self.addCleanup(server.close)
        reader, writer = await self.net.open_connection("db.internal", 5432, limit=1024, ssl=None,
                                                        happy_eyeballs_delay=0.25, local_addr=("10.1.1.1", 999))
        self.assertEqual(writer.get_extra_info("sockname"), ("10.1.1.1", 999))
        writer.close()

    async def test_repr_lists_what_listens_and_what_is_open(self) -> None:
        await self._serve_echo()
        reader, writer = await self.net.open_connection("db.internal", 5432)
        self.assertEqual(repr(self.net), "<MemoryNetwork listening on [db.internal:5432], 1 connections open>")
        self.assertEqual(self.net.servers[0].describe(), "memory server on db.internal:5432 (1 connection open)")
        writer.close()


class ServerObjectTest(AsyncTestCase):
    async def test_wait_closed_waits_for_the_accepted_connections_on_every_version(self) -> None:
        net = MemoryNetwork()
        server = await net.start_server(_echo, "h", 1)
        reader, writer = await net.open_connection("h", 1)
        server.close()
        waiting = asyncio.ensure_future(server.wait_closed())
        await asyncio.sleep(1)
        self.assertFalse(waiting.done())   # asyncio 3.12+'s rule, also on 3.10 and 3.11
        writer.close()                     # the handler reads EOF and closes its end
        await waiting
        self.assertEqual(server.connections, [])
        await server.wait_closed()         # and at once once everything is closed

    async def test_serve_forever_runs_until_cancelled_then_closes_the_server(self) -> None:
        net = MemoryNetwork()
        server = await net.start_server(_echo, "h", 1, start_serving=False)
        serving = asyncio.ensure_future(server.serve_forever())
        await asyncio.sleep(1)
        self.assertTrue(server.is_serving())
        with self.assertRaisesRegex(RuntimeError, r"^server <MemoryServer memory server on h:1 \(0 connections "
                                                  r"open\)> is already being awaited on serve_forever\(\)$"):
            await server.serve_forever()
        serving.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await serving
        self.assertFalse(server.is_serving())
        with self.assertRaisesRegex(ConnectionRefusedError, "no server listens there"):
            await net.open_connection("h", 1)
        with self.assertRaisesRegex(RuntimeError, r"is closed$"):
            await server.serve_forever()

    async def test_async_with_closes_the_server_and_the_loop_is_the_test_s(self) -> None:
        net = MemoryNetwork()
        async with await net.start_server(_echo, "h", 1) as server:
            self.assertIs(server.get_loop(), asyncio.get_running_loop())
            self.assertTrue(server.is_serving())
        self.assertFalse(server.is_serving())
        self.assertEqual(net.servers, [])

    async def test_close_clients_and_abort_clients(self) -> None:
        net = MemoryNetwork()
        server = await net.start_server(_echo, "h", 1)
        r1, w1 = await net.open_connection("h", 1)
        r2, w2 = await net.open_connection("h", 1)
        await asyncio.sleep(0)
        self.assertEqual(len(server.connections), 2)
        server.close_clients()
        self.assertEqual(await r1.read(), b"")
        self.assertEqual(await r2.read(), b"")
        w1.close()
        w2.close()
        r3, w3 = await net.open_connection("h", 1)
        await asyncio.sleep(0)
        w3.write(b"lost\n")
        server.abort_clients()
        self.assertEqual(await r3.read(), b"")
        w3.close()
        server.close()
        await server.wait_closed()


class PatchAsyncioTest(AsyncTestCase):
    async def test_asyncio_s_functions_go_to_the_network_inside_the_block_and_come_back_after(self) -> None:
        net = MemoryNetwork()
        with net.patch_asyncio() as routed:
            self.assertIs(routed, net)
            server = await asyncio.start_server(_echo, "svc", 80)
            reader, writer = await asyncio.open_connection("svc", 80)
            self.assertIsInstance(server, MemoryServer)
            self.assertIsNot(asyncio.streams.open_connection, REAL_OPEN_CONNECTION)
            writer.write(b"via asyncio\n")
            self.assertEqual(await reader.readline(), b"VIA ASYNCIO\n")
            writer.close()
            server.close()
        self.assertIs(asyncio.open_connection, REAL_OPEN_CONNECTION)
        self.assertIs(asyncio.start_server, REAL_START_SERVER)
        self.assertIs(asyncio.streams.open_connection, REAL_OPEN_CONNECTION)
        self.assertIs(asyncio.streams.start_server, REAL_START_SERVER)

    async def test_asyncio_is_restored_when_the_block_raises(self) -> None:
        net = MemoryNetwork()
        with self.assertRaises(ConnectionRefusedError):
            with net.patch_asyncio():
                await asyncio.open_connection("nobody", 1)
        self.assertIs(asyncio.open_connection, REAL_OPEN_CONNECTION)
        self.assertIs(asyncio.start_server, REAL_START_SERVER)

    async def test_nesting_two_scopes_is_an_error_naming_where_the_first_was_entered(self) -> None:
        with MemoryNetwork().patch_asyncio():
            with self.assertRaisesRegex(RuntimeError, r"^asyncio\.open_connection is already routed to a "
                                                      r"MemoryNetwork by patch_asyncio\(\) entered at tests/doubles/"
                                                      r"test_network\.py:\d+ in test_nesting_two_scopes_is_an_error_"
                                                      r"naming_where_the_first_was_entered; exit that block first"):
                with MemoryNetwork().patch_asyncio():
                    pass
        self.assertIs(asyncio.open_connection, REAL_OPEN_CONNECTION)

    @unittest.skipIf(sys.version_info < (3, 11), "TestCase.enterContext is new in 3.11")
    async def test_a_whole_test_routed_with_enter_context(self) -> None:
        net = MemoryNetwork()
        self.assertIs(self.enterContext(net.patch_asyncio()), net)   # type: ignore[attr-defined]
        server = await asyncio.start_server(_echo, "svc", 80)
        self.addCleanup(server.close)
        reader, writer = await asyncio.open_connection("svc", 80)
        self.addCleanup(writer.close)
        self.assertEqual(writer.get_extra_info("peername"), ("svc", 80))

    async def test_entering_the_same_scope_twice_is_an_error(self) -> None:
        scope = MemoryNetwork().patch_asyncio()
        with scope:
            pass
        with self.assertRaisesRegex(RuntimeError, r"^this patch_asyncio\(\) was already entered at tests/doubles/"
                                                  r"test_network\.py:\d+ in test_entering_the_same_scope_twice_is_an_"
                                                  r"error; call net\.patch_asyncio\(\) again for a new scope$"):
            with scope:
                pass
        self.assertIs(asyncio.open_connection, REAL_OPEN_CONNECTION)


def _leaking_case() -> type[AsyncTestCase]:
    class Leaky(AsyncTestCase):
        async def test_server_left_open(self) -> None:
            net = MemoryNetwork()
            await net.start_server(_echo, "db.internal", 5432)

        async def test_server_dropped_and_collected(self) -> None:
            net = MemoryNetwork()
            await net.start_server(_echo, "db.internal", 5432)
            del net
            gc.collect()

        async def test_client_left_open(self) -> None:
            net = MemoryNetwork()
            server = await net.start_server(lambda reader, writer: None, "db.internal", 5432)
            self.reader, self.writer = await net.open_connection("db.internal", 5432)
            server.close()

        async def test_everything_closed(self) -> None:
            net = MemoryNetwork()
            server = await net.start_server(_echo, "db.internal", 5432)
            reader, writer = await net.open_connection("db.internal", 5432)
            writer.write(b"x\n")
            await reader.readline()
            writer.close()
            server.close()   # the handler closes its end when it reads EOF

        async def test_patch_never_exited(self) -> None:
            MemoryNetwork().patch_asyncio().__enter__()

        async def test_connects_to_a_hanging_address_without_timeout(self) -> None:
            net = MemoryNetwork()
            server = await net.start_server(_echo, "db.internal", 5432)
            self.addCleanup(server.close)
            net.configure("db.internal", 5432, fault="hang")
            await net.open_connection("db.internal", 5432)

        async def test_fails_inside_the_patch(self) -> None:
            with MemoryNetwork().patch_asyncio():
                self.fail("boom")

    return Leaky


class LeakCheckTest(unittest.TestCase):
    def test_a_server_left_open_is_reported_with_the_line_that_started_it(self) -> None:
        result = run_tests(_leaking_case(), "test_server_left_open")
        text = failure_of(self, result, "test_server_left_open")
        self.assertIn("LeakError: test_server_left_open leaked 1 open resource ", text)
        # still alive at the check, or already collected (the server and its network form a cycle)
        self.assertRegex(text, r"1\. memory server on db\.internal:5432 \(0 connections open\) (still open|was "
                               r"garbage-collected while open \(unclosed\))\n"
                               r" +created at +tests/doubles/test_network\.py:\d+ in test_server_left_open")

    def test_a_server_dropped_open_and_collected_is_still_reported(self) -> None:
        result = run_tests(_leaking_case(), "test_server_dropped_and_collected")
        text = failure_of(self, result, "test_server_dropped_and_collected")
        self.assertRegex(text, r"1\. memory server on db\.internal:5432 \(0 connections open\) was garbage-collected "
                               r"while open \(unclosed\)\n"
                               r" +created at +tests/doubles/test_network\.py:\d+ in test_server_dropped_and_collected")

    def test_a_client_left_open_is_reported_and_so_is_the_server_end_its_handler_still_holds(self) -> None:
        result = run_tests(_leaking_case(), "test_client_left_open")
        text = failure_of(self, result, "test_client_left_open")
        self.assertIn("leaked 2 open resources", text)
        self.assertRegex(text, r"memory connection client 127\.0\.0\.1:\d+ -> db\.internal:5432 still open\n"
                               r" +created at +tests/doubles/test_network\.py:\d+ in test_client_left_open")
        self.assertRegex(text, r"memory connection server db\.internal:5432 -> 127\.0\.0\.1:\d+ still open")

    def test_closed_servers_and_connections_are_never_reported(self) -> None:
        result = run_tests(_leaking_case(), "test_everything_closed")
        self.assertEqual(problems(result), [])

    def test_a_scope_never_exited_is_reported_and_asyncio_is_restored(self) -> None:
        result = run_tests(_leaking_case(), "test_patch_never_exited")
        text = failure_of(self, result, "test_patch_never_exited")
        self.assertRegex(text, r"1\. patch_asyncio\(\) scope routing asyncio\.open_connection/start_server to a "
                               r"MemoryNetwork \(entered at tests/doubles/test_network\.py:\d+ in "
                               r"test_patch_never_exited, never exited\) still open")
        self.assertIs(asyncio.open_connection, REAL_OPEN_CONNECTION)
        self.assertIs(asyncio.start_server, REAL_START_SERVER)

    def test_a_hanging_connect_without_timeout_is_a_deadlock_naming_the_address(self) -> None:
        started = time.monotonic()
        result = run_tests(_leaking_case(), "test_connects_to_a_hanging_address_without_timeout")
        self.assertLess(time.monotonic() - started, 5)
        text = failure_of(self, result, "test_connects_to_a_hanging_address_without_timeout")
        self.assertIn("DeadlockError: test 'test_connects_to_a_hanging_address_without_timeout' can never finish", text)
        self.assertRegex(text, r"suspended at tests/doubles/test_network\.py:\d+ in test_connects_to_a_hanging_address"
                               r"_without_timeout: await net\.open_connection\(\"db\.internal\", 5432\)  \(awaiting "
                               r"a connection to db\.internal:5432: its fault is 'hang'\)")
        self.assertNotIn("leak check", text)

    def test_a_failing_test_inside_the_scope_restores_asyncio(self) -> None:
        result = run_tests(_leaking_case(), "test_fails_inside_the_patch")
        self.assertIn("AssertionError: boom", failure_of(self, result, "test_fails_inside_the_patch"))
        self.assertIs(asyncio.open_connection, REAL_OPEN_CONNECTION)


class MisuseTest(AsyncTestCase):
    async def test_bad_addresses_name_the_method_and_what_was_given(self) -> None:
        net = MemoryNetwork()
        cases: list[tuple[Any, Any, type[Exception], str]] = [
            ("h", "http", ValueError, r"^MemoryNetwork\.open_connection\(\): port must be an int 0-65535, "
                                      r"got 'http'$"),
            ("h", 70000, ValueError, r"^MemoryNetwork\.open_connection\(\): port must be an int 1-65535, got 70000$"),
            ("h", None, TypeError, r"port must be an int \(or a numeric str\), got NoneType: None$"),
            (5, 1, TypeError, r"^MemoryNetwork\.open_connection\(\): host must be a str, got int: 5$"),
        ]
        for host, port, error, message in cases:
            with self.subTest(host=host, port=port), self.assertRaisesRegex(error, message):
                await net.open_connection(host, port)

    async def test_tls_and_sockets_are_refused_with_what_to_do_instead(self) -> None:
        net = MemoryNetwork()
        with self.assertRaisesRegex(ValueError, r"^MemoryNetwork\.open_connection\(ssl=\.\.\.\) is not supported by a "
                                                r"MemoryNetwork: .*use a real loopback server to test TLS$"):
            await net.open_connection("h", 1, ssl=True)
        with self.assertRaisesRegex(ValueError, r"create_server\(sock=\.\.\.\) is not supported"):
            await net.create_server(_Echo, sock=object())

    async def test_an_unknown_keyword_is_a_type_error_as_in_asyncio(self) -> None:
        net = MemoryNetwork()
        with self.assertRaisesRegex(TypeError, r"^MemoryNetwork\.open_connection\(\) got an unexpected keyword "
                                               r"argument 'timeout'$"):
            await net.open_connection("h", 1, timeout=3)

    async def test_bad_configuration_and_callbacks(self) -> None:
        net = MemoryNetwork()
        with self.assertRaisesRegex(ValueError, r"^MemoryNetwork\.configure\(fault=\.\.\.\) must be None, 'refuse', "
                                                r"'hang' or 'reset', got str: 'drop'$"):
            net.configure("h", 1, fault="drop")
        with self.assertRaisesRegex(ValueError, r"^MemoryNetwork\.configure\(latency=\.\.\.\) must be a finite "
                                                r"number of seconds >= 0, got -1$"):
            net.configure("h", 1, latency=-1)
        with self.assertRaisesRegex(ValueError, r"^MemoryNetwork\(capacity=\.\.\.\) must be an int >= 0"):
            MemoryNetwork(capacity=-5)
        with self.assertRaisesRegex(TypeError, r"^MemoryNetwork\.start_server\(client_connected_cb=\.\.\.\) must be "
                                               r"a function taking \(reader, writer\), got str: 'cb'$"):
            await net.start_server("cb", "h", 1)  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, r"create_connection\(protocol_factory=\.\.\.\) must be a callable"):
            await net.create_connection(None, "h", 1)  # type: ignore[arg-type]
        self.assertEqual(net.servers, [])


class RealTimeLoopTest(unittest.IsolatedAsyncioTestCase):
    async def test_the_network_works_on_a_plain_asyncio_test_case(self) -> None:
        net = MemoryNetwork()
        server = await net.start_server(_echo, "h", 1)
        started = time.monotonic()
        reader, writer = await net.open_connection("h", 1)
        writer.write(b"x\n")
        self.assertEqual(await reader.readline(), b"X\n")
        writer.close()
        server.close()
        await server.wait_closed()
        self.assertLess(time.monotonic() - started, 5)

    def test_the_public_names_are_exported(self) -> None:
        self.assertIs(asynctestkit.MemoryNetwork, MemoryNetwork)
        self.assertIs(asynctestkit.doubles.MemoryServer, MemoryServer)


if __name__ == "__main__":
    unittest.main()
