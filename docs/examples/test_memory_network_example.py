"""Connections in memory: backpressure between a producer and a consumer, and a client failing over between
replicas on a MemoryNetwork (a refused address, a reset, a hang), all in exact virtual time."""

from __future__ import annotations

import asyncio
import unittest
from collections.abc import Awaitable, Callable

from network_app import consume_slowly, fetch, kv_handler, ping, send_chunks

from asynctestkit import AsyncTestCase, MemoryNetwork, memory_stream_pair

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class BackpressureOverAMemoryConnectionTest(AsyncTestCase):
    async def test_a_slow_consumer_holds_the_fast_producer_back(self) -> None:
        # capacity=0: drain() waits as soon as a byte is in flight.  limit=250: the consumer's StreamReader
        # stops reading once it holds more than 500 bytes and reads again once it holds 250 or less.
        conn = memory_stream_pair(capacity=0, limit=250)
        self.addCleanup(conn.close)
        (_, producer), (consumer, _) = conn
        sent_at: list[float] = []

        total, _ = await asyncio.gather(consume_slowly(consumer, 500, pause=1.0),
                                        send_chunks(producer, 8, 500, sent_at))

        self.assertEqual(total, 8 * 500)
        # Three chunks are taken at once (one read by the consumer, two buffered in its StreamReader); after
        # that the producer only moves when the consumer has emptied the buffer: two chunks every 2 s.
        self.assertEqual(sent_at, [0.0, 0.0, 0.0, 2.0, 2.0, 4.0, 4.0, 6.0])
        self.assertEqual(self.clock.now(), 8.0)   # the consumer's last pause

    async def test_a_fast_consumer_never_makes_the_producer_wait(self) -> None:
        conn = memory_stream_pair(capacity=0, limit=250)
        self.addCleanup(conn.close)
        (_, producer), (consumer, _) = conn
        sent_at: list[float] = []
        await asyncio.gather(consume_slowly(consumer, 500, pause=0), send_chunks(producer, 8, 500, sent_at))
        self.assertEqual(sent_at, [0.0] * 8)

    async def test_latency_and_bandwidth_pace_the_producer_too(self) -> None:
        # 1000 bytes/s: each 500-byte chunk takes 0.5 s to send, then 0.1 s to arrive.
        conn = memory_stream_pair(capacity=0, bandwidth=1000, latency=0.1)
        self.addCleanup(conn.close)
        (_, producer), (consumer, _) = conn
        sent_at: list[float] = []
        await asyncio.gather(consume_slowly(consumer, 500, pause=0), send_chunks(producer, 3, 500, sent_at))
        self.assertEqual([round(t, 9) for t in sent_at], [0.6, 1.2, 1.8])


class ReplicaFailoverTest(AsyncTestCase):
    async def asyncSetUp(self) -> None:
        self.net = MemoryNetwork(latency=0.01)   # 10 ms each way: connecting takes 20 ms
        self.replicas = [("db-1", 6379), ("db-2", 6379)]
        self.handled: list[str] = []     # which replica's handler ran
        for host, port in self.replicas:
            server = await self.net.start_server(self._recording(host, {"answer": f"42 from {host}"}), host, port)
            self.addAsyncCleanup(server.wait_closed)
            self.addCleanup(server.close)

    def _recording(self, host: str, store: dict[str, str]) -> Handler:
        serve = kv_handler(store)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.handled.append(host)
            await serve(reader, writer)

        return handle

    async def test_the_first_replica_answers(self) -> None:
        self.assertEqual(await fetch("answer", self.replicas, connect=self.net.open_connection), "42 from db-1")
        self.assertAlmostEqual(self.clock.now(), 0.04)   # connect (20 ms), then the request and the answer

    async def test_a_refused_replica_is_skipped(self) -> None:
        self.net.configure("db-1", 6379, fault="refuse")
        self.assertEqual(await fetch("answer", self.replicas, connect=self.net.open_connection), "42 from db-2")
        self.assertEqual(self.handled, ["db-2"])

    async def test_a_replica_that_resets_the_connection_is_skipped(self) -> None:
        self.net.configure("db-1", 6379, fault="reset")   # accepts, then resets: the read raises
        self.assertEqual(await fetch("answer", self.replicas, connect=self.net.open_connection), "42 from db-2")
        self.assertEqual(self.handled, ["db-2"])

    async def test_a_replica_that_hangs_costs_exactly_the_timeout(self) -> None:
        self.net.configure("db-1", 6379, fault="hang")
        value = await fetch("answer", self.replicas, connect=self.net.open_connection, timeout=2.0)
        self.assertEqual(value, "42 from db-2")
        self.assertAlmostEqual(self.clock.now(), 2.04)

    async def test_when_every_replica_fails_the_error_names_each(self) -> None:
        self.net.configure("db-1", 6379, fault="reset")
        replicas = [*self.replicas[:1], ("db-3", 6379)]   # nobody listens on db-3
        with self.assertRaisesRegex(ConnectionError, r"^no replica answered for 'answer': db-1:6379: "
                                                     r"ConnectionResetError; db-3:6379: ConnectionRefusedError$"):
            await fetch("answer", replicas, connect=self.net.open_connection)

    async def test_a_live_connection_reset_by_the_server(self) -> None:
        reader, writer = await self.net.open_connection("db-1", 6379)
        self.addCleanup(writer.close)
        (conn,) = self.net.connections("db-1", 6379)
        conn.reset(by="server")
        with self.assertRaises(ConnectionResetError):
            await reader.readline()

    async def test_code_that_calls_asyncio_directly_is_routed_to_the_network(self) -> None:
        with self.net.patch_asyncio():      # asyncio.open_connection goes to self.net inside the block
            self.assertTrue(await ping("db-2", 6379))
            self.assertFalse(await ping("db-9", 6379))


if __name__ == "__main__":
    unittest.main()
