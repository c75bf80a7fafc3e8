"""Leak checks against the real aiohttp: sessions and connectors left open, and closed ones staying quiet.

Not collected by the normal test run (this folder has no ``__init__.py``); ``tests/interop/run_aiohttp.sh``
installs aiohttp and the package into a virtual environment and runs this file.  Each scenario runs an
inner ``AsyncTestCase`` against aiohttp's own test server and asserts on the failure it reports, then that
the session or connector was closed by the cleanup.
"""

from __future__ import annotations

import gc
import logging
import unittest
import warnings
from typing import Any

try:
    import aiohttp
    from aiohttp import web
    from aiohttp.test_utils import RawTestServer, TestServer
except ImportError:  # pragma: no cover - the normal run has no aiohttp
    aiohttp = None  # type: ignore[assignment]

from asynctestkit import AsyncTestCase


def line_of(tag: str) -> int:
    with open(__file__, encoding="utf-8") as source:
        return next(n for n, text in enumerate(source, 1) if f"# <{tag}>" in text)


def run(case: type[unittest.TestCase], name: str) -> tuple[unittest.TestResult, list[str], list[str]]:
    """Run one inner test; return its result, the log lines (WARNING+) and the leak warnings, after a gc."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger().addHandler(handler)
    result = unittest.TestResult()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            case(name).run(result)
            gc.collect()
    finally:
        logging.getLogger().removeHandler(handler)
    leak_warnings = [str(w.message) for w in caught if issubclass(w.category, (ResourceWarning, RuntimeWarning))]
    return result, [f"{r.name}: {r.getMessage()}" for r in records], leak_warnings


def failure(result: unittest.TestResult) -> str:
    assert not result.errors, result.errors
    assert len(result.failures) == 1, result.failures
    return result.failures[0][1]


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


class AiohttpServerCase(AsyncTestCase):
    """An inner test case with aiohttp's own test server, closed by a cleanup."""

    async def asyncSetUp(self) -> None:
        app = web.Application()
        app.router.add_get("/", hello)
        self.server = TestServer(app)
        await self.server.start_server()
        self.addAsyncCleanup(self.server.close)


@unittest.skipUnless(aiohttp is not None, "aiohttp is not installed (tests/interop/run_aiohttp.sh installs it)")
class AiohttpLeakTests(unittest.TestCase):
    def test_session_kept_on_self_and_never_closed_is_reported_with_its_creation_line(self) -> None:
        held: dict[str, Any] = {}

        class Inner(AiohttpServerCase):
            async def test_leak(self) -> None:
                self.session = aiohttp.ClientSession()  # <S20>
                held["session"] = self.session
                async with self.session.get(self.server.make_url("/")) as response:
                    self.assertEqual(await response.text(), "hello")

        result, logs, leak_warnings = run(Inner, "test_leak")
        text = failure(result)
        self.assertIn("1 open resource", text)
        self.assertIn("aiohttp ClientSession with TCPConnector still open", text)
        self.assertIn(f"test_aiohttp_leaks.py:{line_of('S20')} in test_leak", text)
        self.assertIn("kept on      self.session", text)
        self.assertTrue(held["session"].closed, "closed by the cleanup")
        self.assertEqual(leak_warnings, [])
        self.assertEqual([line for line in logs if "Unclosed" in line], [])

    def test_session_dropped_unclosed_is_reported_and_attributed_to_this_test(self) -> None:
        class Inner(AiohttpServerCase):
            async def test_leak(self) -> None:
                session = aiohttp.ClientSession()  # <S21>
                async with session.get(self.server.make_url("/")) as response:
                    self.assertEqual(response.status, 200)
                del session  # never closed: aiohttp warns and calls the loop's exception handler

        result, _logs, leak_warnings = run(Inner, "test_leak")
        text = failure(result)
        self.assertIn("aiohttp ClientSession with TCPConnector was garbage-collected while open "
                      "(Unclosed client session)", text)
        self.assertIn(f"test_aiohttp_leaks.py:{line_of('S21')} in test_leak", text)
        self.assertEqual(leak_warnings, [], "the ResourceWarning is part of the report, not printed")

    def test_connector_left_open_with_a_pooled_connection_is_reported_with_the_count(self) -> None:
        held: dict[str, Any] = {}

        class Inner(AsyncTestCase):
            async def test_leak(self) -> None:
                server = RawTestServer(lambda request: hello(request))
                await server.start_server()
                self.addAsyncCleanup(server.close)
                self.connector = aiohttp.TCPConnector()  # <S22>
                held["connector"] = self.connector
                session = aiohttp.ClientSession(connector=self.connector, connector_owner=False)
                async with session.get(server.make_url("/")) as response:
                    await response.read()  # released: the keep-alive connection goes back to the pool
                await session.close()  # the session is closed; the connector it does not own is not

        result, _logs, _warnings = run(Inner, "test_leak")
        text = failure(result)
        self.assertIn("aiohttp TCPConnector with 1 pooled connection still open", text)
        self.assertIn(f"test_aiohttp_leaks.py:{line_of('S22')} in test_leak", text)
        self.assertNotIn("ClientSession", text)
        self.assertTrue(held["connector"].closed)

    def test_session_closed_in_asyncTearDown_or_entered_as_a_context_is_quiet(self) -> None:
        class Inner(AiohttpServerCase):
            async def asyncSetUp(self) -> None:
                await super().asyncSetUp()
                self.session = aiohttp.ClientSession()

            async def asyncTearDown(self) -> None:
                await self.session.close()

            async def test_it(self) -> None:
                other = await self.enterAsyncContext(aiohttp.ClientSession())
                for session in (self.session, other):
                    async with session.get(self.server.make_url("/")) as response:
                        self.assertEqual(await response.text(), "hello")

        result, logs, leak_warnings = run(Inner, "test_it")
        self.assertTrue(result.wasSuccessful(), result.failures + result.errors)
        self.assertEqual([line for line in logs if line.startswith(("asyncio", "asynctestkit"))], [])
        self.assertEqual(leak_warnings, [])

    def test_no_loop_error_false_positive_on_real_traffic_with_handler_errors_timeouts_and_disconnects(
            self) -> None:
        """Errors swallowed by the loop fail a test by default: real aiohttp traffic that ends well must not.

        A handler that raises (aiohttp answers 500 and logs it on its own logger), a client timeout while the
        handler still sleeps, a client that disconnects mid-response, a websocket echo and a streamed body.
        """
        import asyncio

        async def boom(request: web.Request) -> web.Response:
            raise ValueError("handler broke")

        async def slow(request: web.Request) -> web.Response:
            await asyncio.sleep(30)
            return web.Response(text="late")

        async def stream(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse()
            await response.prepare(request)
            for chunk in range(50):
                await response.write(b"x" * 1024)
                await asyncio.sleep(0.01)
            return response

        async def echo(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            async for message in ws:
                await ws.send_str(message.data)
            return ws

        class Inner(AsyncTestCase):
            async def asyncSetUp(self) -> None:
                app = web.Application()
                app.router.add_get("/boom", boom)
                app.router.add_get("/slow", slow)
                app.router.add_get("/stream", stream)
                app.router.add_get("/ws", echo)
                self.server = TestServer(app)
                await self.server.start_server()
                self.addAsyncCleanup(self.server.close)

            async def test_traffic(self) -> None:
                async with aiohttp.ClientSession() as session:
                    async with session.get(self.server.make_url("/boom")) as response:
                        self.assertEqual(response.status, 500)
                    with self.assertRaises(asyncio.TimeoutError):
                        await session.get(self.server.make_url("/slow"), timeout=aiohttp.ClientTimeout(total=1))
                    async with session.get(self.server.make_url("/stream")) as response:
                        await response.content.read(2048)  # leave mid-body: the connection is dropped
                    async with session.get(self.server.make_url("/stream")) as response:
                        self.assertEqual(len(await response.read()), 50 * 1024)
                    async with session.ws_connect(self.server.make_url("/ws")) as ws:
                        await ws.send_str("ping")
                        self.assertEqual((await ws.receive()).data, "ping")

        result, logs, leak_warnings = run(Inner, "test_traffic")
        self.assertTrue(result.wasSuccessful(), result.failures + result.errors)
        self.assertEqual([line for line in logs if line.startswith("asynctestkit")], [])
        self.assertEqual(leak_warnings, [])


if __name__ == "__main__":
    unittest.main()
