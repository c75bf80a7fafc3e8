"""memory_stream_pair / memory_transport_pair: asyncio streams and protocols over MemoryTransport.

Behaviour (bytes, EOF, close, flow control, latency and bandwidth in virtual time, faults), the leak check's
view of them (an open end is reported with its creation line, a closed one never), and misuse.
"""

from __future__ import annotations

import asyncio
import gc
import math
import time
import unittest
from typing import Any

import asynctestkit
from asynctestkit import AsyncTestCase, DeadlockError, memory_stream_pair, memory_transport_pair
from asynctestkit.doubles import MemoryConnection, MemoryTransport, StreamEnd
from tests.clock._clock_support import failure_of, problems, run_tests


class _Recorder(asyncio.Protocol):
    """Records every protocol call as the loop makes it."""

    def __init__(self, keep_open_on_eof: bool = True) -> None:
        self.calls: list[Any] = []
        self.keep_open_on_eof = keep_open_on_eof
        self.transport: asyncio.BaseTransport | None = None
        self.lost: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.calls.append("connection_made")

    def data_received(self, data: bytes) -> None:
        self.calls.append(data)

    def eof_received(self) -> bool:
        self.calls.append("eof_received")
        return self.keep_open_on_eof

    def pause_writing(self) -> None:
        self.calls.append("pause_writing")

    def resume_writing(self) -> None:
        self.calls.append("resume_writing")

    def connection_lost(self, exc: Exception | None) -> None:
        self.calls.append(("connection_lost", type(exc).__name__ if exc else None))
        if not self.lost.done():
            self.lost.set_result(exc)


async def _close_all(*writers: asyncio.StreamWriter) -> None:
    for writer in writers:
        writer.close()
    for writer in writers:
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


class StreamPairTest(AsyncTestCase):
    async def test_bytes_written_on_each_end_are_read_on_the_other_in_order(self) -> None:
        (cr, cw), (sr, sw) = memory_stream_pair()
        cw.write(b"ping ")
        cw.writelines([b"one ", b"two\n"])
        await cw.drain()
        self.assertEqual(await sr.readline(), b"ping one two\n")
        sw.write(b"pong\n")
        self.assertEqual(await cr.readline(), b"pong\n")
        await _close_all(cw, sw)

    async def test_ends_are_real_asyncio_streams_with_socket_like_extra_info(self) -> None:
        conn = memory_stream_pair(client_address=("10.0.0.2", 40000), server_address=("db", 5432))
        (cr, cw), (sr, sw) = conn
        self.assertIsInstance(cr, asyncio.StreamReader)
        self.assertIsInstance(cw, asyncio.StreamWriter)
        self.assertIsInstance(cw.transport, asyncio.Transport)
        self.assertIsInstance(conn.client, StreamEnd)
        self.assertIs(conn.client.transport, cw.transport)
        self.assertEqual(cw.get_extra_info("peername"), ("db", 5432))
        self.assertEqual(cw.get_extra_info("sockname"), ("10.0.0.2", 40000))
        self.assertEqual(sw.get_extra_info("peername"), ("10.0.0.2", 40000))
        self.assertIsNone(cw.get_extra_info("socket"))
        self.assertEqual(cw.get_extra_info("no such key", "default"), "default")
        self.assertTrue(cw.can_write_eof())
        self.assertIn("<MemoryTransport client 10.0.0.2:40000 to db:5432 open>", repr(cw))
        await _close_all(cw, sw)

    async def test_default_addresses_are_loopback_with_distinct_ports(self) -> None:
        (_, cw), (_, sw) = memory_stream_pair()
        client, server = cw.get_extra_info("sockname"), sw.get_extra_info("sockname")
        self.assertEqual((client[0], server[0]), ("127.0.0.1", "127.0.0.1"))
        self.assertNotEqual(client[1], server[1])
        await _close_all(cw, sw)

    async def test_latency_delays_each_write_by_exactly_that_much_virtual_time(self) -> None:
        (cr, cw), (sr, sw) = memory_stream_pair(latency=0.25)
        cw.write(b"a")
        await asyncio.sleep(0.1)
        cw.write(b"b")
        self.assertEqual(await sr.readexactly(1), b"a")
        self.assertEqual(self.clock.now(), 0.25)
        self.assertEqual(await sr.readexactly(1), b"b")
        self.assertEqual(self.clock.now(), 0.35)
        await _close_all(cw, sw)

    async def test_an_hour_of_latency_takes_no_real_time_and_lands_at_exactly_one_hour(self) -> None:
        (cr, cw), (sr, sw) = memory_stream_pair(latency=3600)
        started = time.perf_counter()   # real time: time.monotonic() is the virtual clock in this test
        cw.write(b"slow")
        self.assertEqual(await sr.readexactly(4), b"slow")
        self.assertLess(time.perf_counter() - started, 0.5)
        self.assertEqual(self.clock.now(), 3600.0)
        await _close_all(cw, sw)

    async def test_bandwidth_sends_one_write_after_another_then_latency(self) -> None:
        (cr, cw), (sr, sw) = memory_stream_pair(bandwidth=1000, latency=0.1)
        cw.write(b"x" * 500)   # leaves at 0.5, arrives at 0.6
        cw.write(b"y" * 1000)  # waits for the link: leaves at 1.5, arrives at 1.6
        await sr.readexactly(500)
        self.assertAlmostEqual(self.clock.now(), 0.6, places=9)
        await sr.readexactly(1000)
        self.assertAlmostEqual(self.clock.now(), 1.6, places=9)
        await _close_all(cw, sw)

    async def test_latency_and_bandwidth_set_on_a_transport_apply_to_later_writes(self) -> None:
        conn = memory_stream_pair()
        (cr, cw), (sr, sw) = conn
        conn.client_transport.latency = 2.0
        cw.write(b"late")
        self.assertEqual(await sr.readexactly(4), b"late")
        self.assertEqual(self.clock.now(), 2.0)
        await _close_all(cw, sw)

    async def test_write_eof_makes_the_peer_read_eof_after_the_data_and_the_other_way_still_works(self) -> None:
        (cr, cw), (sr, sw) = memory_stream_pair(latency=0.01)
        cw.write(b"last words")
        cw.write_eof()
        self.assertEqual(await sr.read(), b"last words")
        self.assertTrue(sr.at_eof())
        sw.write(b"reply")
        sw.write_eof()
        self.assertEqual(await cr.read(), b"reply")
        with self.assertRaisesRegex(RuntimeError, r"^Cannot call write\(\) after write_eof\(\)$"):
            cw.write(b"more")
        await _close_all(cw, sw)

    async def test_close_delivers_what_is_in_flight_then_eof_and_wait_closed_returns(self) -> None:
        (cr, cw), (sr, sw) = memory_stream_pair(latency=1.0)
        cw.write(b"in flight")
        cw.close()
        self.assertTrue(cw.is_closing())
        await cw.wait_closed()
        self.assertEqual(self.clock.now(), 0.0)   # closing this end does not wait for the bytes to arrive
        self.assertEqual(await sr.read(), b"in flight")
        self.assertEqual(self.clock.now(), 1.0)
        cw.write(b"dropped")                           # as asyncio: a write after close() is dropped
        self.assertFalse(sw.is_closing())              # the peer is half-closed, still open until it closes
        sw.close()
        await sw.wait_closed()

    async def test_abort_drops_what_is_in_flight_and_the_peer_reads_eof(self) -> None:
        (cr, cw), (sr, sw) = memory_stream_pair(latency=0.5)
        cw.write(b"never arrives")
        cw.transport.abort()
        self.assertEqual(await sr.read(), b"")
        self.assertEqual(self.clock.now(), 0.5)
        await _close_all(cw, sw)

    async def test_reset_makes_the_peer_read_and_drain_raise_connection_reset_error(self) -> None:
        conn = memory_stream_pair(latency=0.2)
        (cr, cw), (sr, sw) = conn
        sw.write(b"dropped by the reset")
        conn.reset(by="server")
        with self.assertRaisesRegex(ConnectionResetError, r"^Connection reset by peer \(127\.0\.0\.1:\d+, memory "
                                                          r"connection\)$"):
            await cr.read(100)
        self.assertEqual(self.clock.now(), 0.2)
        self.assertTrue(cw.is_closing())
        with self.assertRaises(ConnectionResetError):
            await cw.drain()
        await sw.wait_closed()   # the resetting end closes at once, without error
        with self.assertRaises(ConnectionResetError):
            await cw.wait_closed()

    async def test_reset_by_the_client_resets_the_server_end(self) -> None:
        conn = memory_stream_pair()
        (cr, cw), (sr, sw) = conn
        conn.reset(by="client")
        with self.assertRaises(ConnectionResetError):
            await sr.readexactly(1)
        await _close_all(cw, sw)

    async def test_stall_holds_every_delivery_until_resume_then_delivers_in_order(self) -> None:
        conn = memory_stream_pair(latency=0.1)
        (cr, cw), (sr, sw) = conn
        conn.stall()
        cw.write(b"1")
        cw.write(b"2")
        with self.assertRaises(asyncio.TimeoutError):
            await asyncio.wait_for(sr.readexactly(2), 5)
        self.assertEqual(self.clock.now(), 5.0)
        self.assertTrue(conn.client_transport.stalled)
        self.assertEqual(cw.transport.get_write_buffer_size(), 2)
        conn.resume()
        self.assertEqual(await sr.readexactly(2), b"12")
        self.assertEqual(self.clock.now(), 5.0)   # already due: delivered at once on resume
        await _close_all(cw, sw)

    async def test_connection_close_closes_both_ends(self) -> None:
        conn = memory_stream_pair()
        self.assertFalse(conn.closed)
        conn.close()
        self.assertTrue(conn.closed)
        (_, cw), (_, sw) = conn
        await cw.wait_closed()
        await sw.wait_closed()
        self.assertIn("<MemoryConnection <MemoryTransport client", repr(conn))


class BackpressureTest(AsyncTestCase):
    async def test_drain_waits_while_more_than_capacity_is_in_flight_and_resumes_at_a_quarter(self) -> None:
        # The reader's StreamReader stops reading once it holds more than 2 * limit = 20 bytes.
        (cr, cw), (sr, sw) = memory_stream_pair(capacity=40, limit=10)
        cw.write(b"a" * 30)          # delivered: the reader now holds 30 bytes and pauses reading
        await cw.drain()
        await asyncio.sleep(0)
        cw.write(b"b" * 41)          # stays in flight: 41 > capacity
        self.assertEqual(cw.transport.get_write_buffer_size(), 41)
        drained = asyncio.ensure_future(cw.drain())
        await asyncio.sleep(3)
        self.assertFalse(drained.done(), "drain() must wait while the peer reads nothing")
        self.assertEqual(await sr.readexactly(30), b"a" * 30)   # the reader resumes: the 41 bytes arrive
        await drained
        self.assertEqual(self.clock.now(), 3.0)
        self.assertEqual(await sr.readexactly(41), b"b" * 41)
        await _close_all(cw, sw)

    async def test_write_buffer_limits_are_asyncio_s_and_can_be_changed(self) -> None:
        (cr, cw), (sr, sw) = memory_stream_pair(capacity=1000)
        transport = cw.transport
        self.assertEqual(transport.get_write_buffer_limits(), (250, 1000))
        transport.set_write_buffer_limits(high=100)
        self.assertEqual(transport.get_write_buffer_limits(), (25, 100))
        transport.set_write_buffer_limits(low=10)
        self.assertEqual(transport.get_write_buffer_limits(), (10, 40))
        transport.set_write_buffer_limits()
        self.assertEqual(transport.get_write_buffer_limits(), (16384, 65536))
        with self.assertRaisesRegex(ValueError, r"^high \(1\) must be >= low \(2\) must be >= 0$"):
            transport.set_write_buffer_limits(high=1, low=2)
        await _close_all(cw, sw)

    async def test_pause_reading_keeps_bytes_in_flight_until_resume_reading(self) -> None:
        (cr, cw), (sr, sw) = memory_stream_pair()
        sw.transport.pause_reading()
        self.assertFalse(sw.transport.is_reading())
        cw.write(b"held")
        await asyncio.sleep(1)
        self.assertEqual(cw.transport.get_write_buffer_size(), 4)
        sw.transport.resume_reading()
        self.assertTrue(sw.transport.is_reading())
        self.assertEqual(await sr.readexactly(4), b"held")
        self.assertEqual(cw.transport.get_write_buffer_size(), 0)
        await _close_all(cw, sw)


class TransportPairTest(AsyncTestCase):
    async def test_protocol_methods_are_called_in_asyncio_s_order(self) -> None:
        conn = await memory_transport_pair(_Recorder, lambda: _Recorder(keep_open_on_eof=False), latency=0.1)
        (ct, cp), (st, sp) = conn
        self.assertIsInstance(ct, MemoryTransport)
        self.assertEqual((cp.calls, sp.calls), (["connection_made"], ["connection_made"]))
        ct.write(b"hello")
        ct.write_eof()
        self.assertIsNone(await sp.lost)   # eof_received() returned False: asyncio closes that end
        self.assertEqual(sp.calls, ["connection_made", b"hello", "eof_received", ("connection_lost", None)])
        self.assertEqual(self.clock.now(), 0.1)
        await asyncio.sleep(0.1)
        self.assertEqual(cp.calls, ["connection_made", "eof_received"])   # the server's close() sent EOF
        ct.close()
        self.assertIsNone(await cp.lost)
        self.assertEqual(cp.calls[-1], ("connection_lost", None))

    async def test_pause_writing_and_resume_writing_follow_the_bytes_in_flight(self) -> None:
        conn = await memory_transport_pair(_Recorder, _Recorder, capacity=8)
        (ct, cp), (st, sp) = conn
        st.pause_reading()
        ct.write(b"12345678")   # not more than the capacity: no pause
        ct.write(b"9")
        self.assertEqual(cp.calls, ["connection_made", "pause_writing"])
        st.resume_reading()
        await asyncio.sleep(0)
        self.assertEqual(cp.calls, ["connection_made", "pause_writing", "resume_writing"])
        self.assertEqual(sp.calls[1:], [b"12345678", b"9"])
        conn.close()
        await cp.lost
        await sp.lost

    async def test_reset_reaches_the_peer_protocol_as_connection_reset_error(self) -> None:
        conn = await memory_transport_pair(_Recorder, _Recorder)
        (ct, cp), (st, sp) = conn
        st.reset()
        self.assertIsInstance(await cp.lost, ConnectionResetError)
        self.assertIsNone(await sp.lost)
        self.assertTrue(ct.is_closing())

    async def test_an_error_in_data_received_is_reported_as_asyncio_reports_it_and_closes_the_end(self) -> None:
        class Broken(_Recorder):
            def data_received(self, data: bytes) -> None:
                raise RuntimeError("parser broke")

        conn = await memory_transport_pair(_Recorder, Broken)
        (ct, cp), (st, sp) = conn
        with self.assertLogs("asyncio", "ERROR") as logs:
            ct.write(b"x")
            self.assertIsInstance(await sp.lost, RuntimeError)
        self.assertIn("Fatal error: protocol.data_received() call failed.", logs.output[0])
        self.assertTrue(st.is_closing())
        await asyncio.sleep(0)
        self.assertEqual(cp.calls, ["connection_made", "eof_received"])   # the broken end was aborted: EOF
        ct.close()
        self.assertIsNone(await cp.lost)

    async def test_cancelled_while_connecting_leaves_nothing_open(self) -> None:
        made: list[_Recorder] = []

        def factory() -> _Recorder:
            made.append(_Recorder())
            return made[-1]

        task = asyncio.ensure_future(memory_transport_pair(factory, factory))
        await asyncio.sleep(0)
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        for protocol in made:
            await protocol.lost
        self.assertTrue(all(p.transport is not None and p.transport.is_closing() for p in made))


class RealTimeLoopTest(unittest.IsolatedAsyncioTestCase):
    async def test_a_pair_works_on_a_plain_asyncio_test_case_in_real_time(self) -> None:
        (cr, cw), (sr, sw) = memory_stream_pair(latency=0.01)
        started = asyncio.get_running_loop().time()
        cw.write(b"x")
        self.assertEqual(await sr.readexactly(1), b"x")
        self.assertGreaterEqual(asyncio.get_running_loop().time() - started, 0.009)
        await _close_all(cw, sw)


def _leaking_case() -> type[AsyncTestCase]:
    class Leaky(AsyncTestCase):
        async def test_forgets_both_ends(self) -> None:
            (cr, cw), (sr, sw) = memory_stream_pair(client_address=("client", 1), server_address=("server", 2))
            cw.write(b"x")
            self.ends = (cw, sw)

        async def test_closes_only_the_client(self) -> None:
            (cr, cw), (sr, sw) = memory_stream_pair(client_address=("client", 1), server_address=("server", 2))
            cw.close()
            await cw.wait_closed()
            self.server_end = sw

        async def test_drops_both_writers(self) -> None:
            (cr, cw), (sr, sw) = memory_stream_pair(client_address=("client", 1), server_address=("server", 2))
            del cr, cw, sr, sw
            gc.collect()

        async def test_closes_both_ends(self) -> None:
            (cr, cw), (sr, sw) = memory_stream_pair()
            cw.write(b"x")
            cw.close()
            sw.close()       # closing is not leaking: no wait_closed() needed

        async def test_protocol_pair_closed(self) -> None:
            conn = await memory_transport_pair(asyncio.Protocol, asyncio.Protocol)
            conn.close()

        async def test_protocol_pair_left_open(self) -> None:
            self.conn = await memory_transport_pair(asyncio.Protocol, asyncio.Protocol)

        async def test_reads_a_stalled_connection(self) -> None:
            conn = memory_stream_pair()
            self.addCleanup(conn.close)
            (cr, cw), (sr, sw) = conn
            conn.stall()
            cw.write(b"x")
            await sr.readexactly(1)

    return Leaky


class LeakCheckTest(unittest.TestCase):
    def test_an_open_pair_is_reported_end_by_end_with_the_line_that_made_it(self) -> None:
        result = run_tests(_leaking_case(), "test_forgets_both_ends")
        text = failure_of(self, result, "test_forgets_both_ends")
        self.assertIn("LeakError: test_forgets_both_ends leaked 2 open resources", text)
        self.assertRegex(text, r"1\. memory connection client client:1 -> server:2 still open\n"
                               r" +created at +tests/doubles/test_streams\.py:\d+ in test_forgets_both_ends")
        self.assertRegex(text, r"2\. memory connection server server:2 -> client:1 still open")

    def test_the_end_left_open_is_reported_and_the_closed_one_is_not(self) -> None:
        result = run_tests(_leaking_case(), "test_closes_only_the_client")
        text = failure_of(self, result, "test_closes_only_the_client")
        self.assertIn("leaked 1 open resource ", text)
        self.assertIn("memory connection server server:2 -> client:1 still open", text)
        self.assertNotIn("memory connection client", text)

    def test_writers_dropped_unclosed_are_reported_on_every_version(self) -> None:
        result = run_tests(_leaking_case(), "test_drops_both_writers")
        text = failure_of(self, result, "test_drops_both_writers")
        self.assertIn("leaked 2 open resources", text)
        self.assertRegex(text, r"memory connection client client:1 -> server:2 was garbage-collected while open "
                               r"\(StreamWriter dropped unclosed\)\n +created at +tests/doubles/test_streams\.py")

    def test_an_open_protocol_pair_is_reported(self) -> None:
        result = run_tests(_leaking_case(), "test_protocol_pair_left_open")
        text = failure_of(self, result, "test_protocol_pair_left_open")
        self.assertIn("leaked 2 open resources", text)
        self.assertRegex(text, r"memory connection client 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ still open\n +created "
                               r"at +tests/doubles/test_streams\.py:\d+ in test_protocol_pair_left_open")

    def test_a_reader_waiting_on_a_stalled_connection_is_a_deadlock_at_once(self) -> None:
        started = time.monotonic()
        result = run_tests(_leaking_case(), "test_reads_a_stalled_connection")
        self.assertLess(time.monotonic() - started, 5)
        text = failure_of(self, result, "test_reads_a_stalled_connection")
        self.assertIn("DeadlockError: test 'test_reads_a_stalled_connection' can never finish", text)
        self.assertIn("(virtual t=0.000s", text)
        self.assertRegex(text, r"suspended at tests/doubles/test_streams\.py:\d+ in test_reads_a_stalled_connection: "
                               r"await sr\.readexactly\(1\)")
        self.assertNotIn("leak check", text)   # the cleanup closed the connection

    def test_closed_ends_are_never_reported(self) -> None:
        result = run_tests(_leaking_case(), "test_closes_both_ends", "test_protocol_pair_closed")
        self.assertEqual(problems(result), [])
        self.assertEqual(result.testsRun, 2)


class UserViewTest(unittest.TestCase):
    def test_the_leak_report_under_python_m_unittest_names_the_user_s_file_and_line(self) -> None:
        import os
        import subprocess
        import sys
        import tempfile
        import textwrap

        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        source = textwrap.dedent("""\
            import asynctestkit

            class ProtoTest(asynctestkit.AsyncTestCase):
                async def test_forgets_the_server_end(self):
                    (cr, cw), (sr, sw) = asynctestkit.memory_stream_pair(server_address=("db", 5432))
                    cw.close()
                    self.server_end = sw
            """)
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "test_proto.py"), "w", encoding="utf-8") as fh:
                fh.write(source)
            env = {**os.environ, "PYTHONPATH": root}
            run = subprocess.run([sys.executable, "-m", "unittest", "test_proto"], cwd=folder, env=env,
                                 capture_output=True, text=True, timeout=120)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("asynctestkit.LeakError: test_forgets_the_server_end leaked 1 open resource (found after all "
                      "cleanups, at virtual t=0.000s; asynctestkit cleaned up)", run.stderr)
        self.assertRegex(run.stderr, r"  1\. memory connection server db:5432 -> 127\.0\.0\.1:\d+ still open\n"
                                     r"       created at   test_proto\.py:5 in test_forgets_the_server_end")
        self.assertIn("FAILED (failures=1)", run.stderr)


class MisuseTest(AsyncTestCase):
    async def test_bad_settings_name_the_parameter_what_was_given_and_what_is_allowed(self) -> None:
        cases: list[tuple[dict[str, Any], type[Exception], str]] = [
            ({"capacity": -1}, ValueError, r"^memory_stream_pair\(capacity=\.\.\.\) must be an int >= 0 \(bytes "
                                           r"in flight before drain\(\) waits\), got -1$"),
            ({"capacity": "big"}, TypeError, r"capacity=\.\.\.\) must be an int >= 0 .*got str: 'big'$"),
            ({"capacity": True}, TypeError, r"got bool: True$"),
            ({"latency": -0.5}, ValueError, r"^memory_stream_pair\(latency=\.\.\.\) must be a finite number of "
                                            r"seconds >= 0, got -0\.5$"),
            ({"latency": math.nan}, ValueError, r"latency=\.\.\.\) must be"),
            ({"bandwidth": 0}, ValueError, r"^memory_stream_pair\(bandwidth=\.\.\.\) must be a finite number of "
                                           r"bytes per second > 0 or None \(no limit\), got 0$"),
            ({"bandwidth": "fast"}, TypeError, r"bandwidth=\.\.\.\) must be a number .*got str: 'fast'$"),
            ({"limit": 0}, ValueError, r"^memory_stream_pair\(limit=\.\.\.\) must be an int > 0 \(the "
                                       r"StreamReader's buffer limit\), got 0$"),
            ({"client_address": "db:5432"}, TypeError, r"^memory_stream_pair\(client_address=\.\.\.\) must be a "
                                                       r"\(host, port\) tuple of a str and an int, got str"),
        ]
        for kwargs, error, message in cases:
            with self.subTest(**kwargs), self.assertRaisesRegex(error, message):
                memory_stream_pair(**kwargs)

    async def test_writing_a_str_is_a_type_error_as_on_a_socket(self) -> None:
        (cr, cw), (sr, sw) = memory_stream_pair()
        with self.assertRaisesRegex(TypeError, r"^data argument must be a bytes-like object, not 'str'$"):
            cw.write("text")  # type: ignore[arg-type]
        await _close_all(cw, sw)

    async def test_a_protocol_pair_needs_two_factories(self) -> None:
        with self.assertRaisesRegex(TypeError, r"^memory_transport_pair\(server_factory=\.\.\.\) must be a protocol "
                                               r"factory .*got _Recorder: "):
            await memory_transport_pair(_Recorder, _Recorder())  # type: ignore[arg-type]

    async def test_reset_by_someone_else_is_a_value_error(self) -> None:
        conn = memory_stream_pair()
        with self.assertRaisesRegex(ValueError, r"^MemoryConnection\.reset\(by=\.\.\.\) must be 'server' or "
                                                r"'client', got 'peer'$"):
            conn.reset(by="peer")
        conn.close()


class NoLoopTest(unittest.TestCase):
    def test_a_pair_made_without_a_running_loop_says_where_to_call_it(self) -> None:
        with self.assertRaisesRegex(RuntimeError, r"^memory_stream_pair\(\) needs a running event loop: call it "
                                                  r"inside a test's async method \(or asyncSetUp\)$"):
            memory_stream_pair()

    def test_the_public_names_are_exported(self) -> None:
        self.assertIs(asynctestkit.memory_stream_pair, memory_stream_pair)
        self.assertIs(asynctestkit.doubles.MemoryConnection, MemoryConnection)


if __name__ == "__main__":
    unittest.main()
