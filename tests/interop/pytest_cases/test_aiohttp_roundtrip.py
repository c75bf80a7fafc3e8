"""A real aiohttp server and client, talking over 127.0.0.1 inside AsyncTestCase, on the virtual clock.

Every handler delay, client timeout and websocket heartbeat below is virtual: the module runs in well under a
second of real time.  Times reached without I/O are asserted exactly; each loop iteration that delivered I/O
adds the clock's ``io_quantum`` (1 us), so a time measured after a request lands a few microseconds after the
delay, never before it (``assertShortlyAfter``).  Run under pytest and under
``python -m unittest`` by tests/interop/check_pytest.py (needs aiohttp, so it is not part of the core suite).
Leak reports for aiohttp objects are covered elsewhere (tests/interop/test_aiohttp_leaks.py).
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import asynctestkit

EXPECTED = {
    "AiohttpTestClientTest::test_client_timeout_fires_at_its_exact_virtual_deadline": "passed",
    "AiohttpTestClientTest::test_handler_delay_of_30_seconds_is_virtual_and_exact": "passed",
    "AiohttpTestClientTest::test_websocket_heartbeats_arrive_every_5_virtual_seconds": "passed",
    "AiohttpTCPSiteTest::test_client_session_against_a_tcp_site_on_127_0_0_1": "passed",
}


def make_app() -> web.Application:
    async def delayed(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("delay", "0")))
        return web.json_response({"served_at": asyncio.get_running_loop().time()})

    async def heartbeats(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        for _ in range(3):
            await asyncio.sleep(5)
            await socket.send_json({"at": asyncio.get_running_loop().time()})
        await socket.close()
        return socket

    app = web.Application()
    app.router.add_get("/delayed", delayed)
    app.router.add_get("/heartbeats", heartbeats)
    return app


class AiohttpTestClientTest(asynctestkit.AsyncTestCase):
    """aiohttp's own TestServer/TestClient (aiohttp.test_utils), started in asyncSetUp."""

    async def asyncSetUp(self) -> None:
        self.real_start = time.perf_counter()
        self.client = TestClient(TestServer(make_app()))
        await self.client.start_server()
        self.addAsyncCleanup(self.client.close)

    def assertShortlyAfter(self, value: float, expected: float) -> None:
        """*value* is *expected* plus a few I/O quanta: strictly after it, by less than a millisecond."""
        self.assertGreater(value, expected)
        self.assertLess(value, expected + 1e-3)

    def assertFastInRealTime(self) -> None:
        self.assertLess(time.perf_counter() - self.real_start, 5.0, "virtual waits must not take real time")

    async def test_handler_delay_of_30_seconds_is_virtual_and_exact(self) -> None:
        self.assertIsInstance(asyncio.get_running_loop(), asynctestkit.VirtualClockLoop)
        response = await self.client.get("/delayed", params={"delay": "30"})
        self.assertEqual(response.status, 200)
        self.assertShortlyAfter((await response.json())["served_at"], 30.0)
        self.assertShortlyAfter(self.clock.elapsed(), 30)
        self.assertFastInRealTime()

    async def test_client_timeout_fires_at_its_exact_virtual_deadline(self) -> None:
        with self.assertRaises(asyncio.TimeoutError):
            await self.client.get("/delayed", params={"delay": "120"},
                                  timeout=aiohttp.ClientTimeout(total=10))
        self.assertEqual(self.clock.elapsed(), 10)
        self.assertFastInRealTime()

    async def test_websocket_heartbeats_arrive_every_5_virtual_seconds(self) -> None:
        received = []
        async with self.client.ws_connect("/heartbeats") as socket:
            async for message in socket:
                received.append(message.json()["at"])
        self.assertEqual(len(received), 3)
        for at, expected in zip(received, [5.0, 10.0, 15.0]):
            self.assertShortlyAfter(at, expected)
        self.assertFastInRealTime()


class AiohttpTCPSiteTest(asynctestkit.AsyncTestCase):
    """A plain aiohttp.web AppRunner/TCPSite on 127.0.0.1 and an aiohttp.ClientSession, set up by hand."""

    async def test_client_session_against_a_tcp_site_on_127_0_0_1(self) -> None:
        runner = web.AppRunner(make_app())
        await runner.setup()
        self.addAsyncCleanup(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(f"http://127.0.0.1:{port}/delayed", params={"delay": "45"}) as response:
                served_at = (await response.json())["served_at"]
        self.assertGreater(served_at, 45.0)  # the request's I/O took a few quanta (clock.io_quantum)
        self.assertLess(served_at, 45.001)
        self.assertGreater(self.clock.elapsed(), 45)
        self.assertLess(self.clock.elapsed(), 45.001)
