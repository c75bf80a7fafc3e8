"""Leak checks: patterns that pass them, and one documented exception (see docs/leaks.md).

Every AsyncTestCase checks each test for leaks after its last cleanup.  These tests show the usual ways to
leave nothing behind, so they all pass; delete a cleanup line and the test fails with a report naming what
leaked and the line that created it.

Run: python -m unittest discover -s docs/examples -t docs/examples
"""

from __future__ import annotations

import asyncio
import unittest
from collections.abc import Coroutine
from typing import Any

import asynctestkit
from asynctestkit import AsyncTestCase, allow_leaks


class Pool:
    """A stand-in for a database pool: open until close() is awaited."""

    def __init__(self) -> None:
        self.closed = False

    async def query(self, sql: str) -> list[str]:
        await asyncio.sleep(0.01)
        return [sql]

    async def close(self) -> None:
        self.closed = True


# Teach the checker what an open Pool is: any Pool still open after the cleanups is reported.
asynctestkit.register_resource_type(Pool, is_open=lambda pool: not pool.closed)


async def poll_forever(results: list[int]) -> None:
    while True:
        results.append(len(results))
        await asyncio.sleep(1)


class CleanPatternsTest(AsyncTestCase):
    async def asyncSetUp(self) -> None:
        # A server closed by cleanups: they run before the leak check, in reverse order.
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.readline())
            await writer.drain()
            writer.close()
            await writer.wait_closed()

        self.server = await asyncio.start_server(echo, "127.0.0.1", 0)
        self.addAsyncCleanup(self.server.wait_closed)
        self.addCleanup(self.server.close)
        self.port = self.server.sockets[0].getsockname()[1]

    async def test_background_task_is_cancelled_and_awaited(self) -> None:
        results: list[int] = []
        poller = asyncio.create_task(poll_forever(results))
        self.addAsyncCleanup(self.stop, poller)
        await asyncio.sleep(3.5)  # virtual time: instant
        self.assertEqual(results, [0, 1, 2, 3])

    async def stop(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    async def test_task_group_leaves_nothing_behind(self) -> None:
        async with asyncio.TaskGroup() if hasattr(asyncio, "TaskGroup") else _Gather() as group:
            first = group.create_task(asyncio.sleep(1, "a"))
            second = group.create_task(asyncio.sleep(2, "b"))
        self.assertEqual((first.result(), second.result()), ("a", "b"))

    async def test_stream_closed_as_the_last_statement(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(b"ping\n")
        self.assertEqual(await reader.readline(), b"ping\n")
        writer.close()  # closing is not leaking: no need to await wait_closed() for the check

    async def test_registered_resource_closed_by_a_cleanup(self) -> None:
        pool = Pool()
        self.addAsyncCleanup(pool.close)
        self.assertEqual(await pool.query("select 1"), ["select 1"])

    async def test_one_off_resource_tracked_explicitly(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.trackResource(writer, is_open=lambda w: not w.is_closing())  # the same check, named by you
        writer.write(b"pong\n")
        self.assertEqual(await reader.readline(), b"pong\n")
        writer.close()
        await writer.wait_closed()

    @allow_leaks(tasks="^heartbeat$", reason="the heartbeat runs as long as the loop, like in production")
    async def test_an_accepted_leak_is_still_cleaned_up(self) -> None:
        asyncio.create_task(poll_forever([]), name="heartbeat")  # noqa: RUF006 - the accepted leak
        await asyncio.sleep(0)


class _Gather:
    """``asyncio.TaskGroup`` for Python 3.10: gathers the tasks it created when the block ends."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[str]] = []

    def create_task(self, coro: Coroutine[Any, Any, str]) -> asyncio.Task[str]:
        task = asyncio.ensure_future(coro)
        self.tasks.append(task)
        return task

    async def __aenter__(self) -> _Gather:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*self.tasks)


if __name__ == "__main__":
    unittest.main()
