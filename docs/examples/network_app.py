"""Example code: a producer and a consumer over a stream, and a key-value client that fails over between replicas."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Connect = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def send_chunks(writer: asyncio.StreamWriter, chunks: int, size: int, sent_at: list[float]) -> None:
    """Write *chunks* chunks of *size* bytes, waiting on drain() after each; record when each was accepted."""
    loop = asyncio.get_running_loop()
    for _ in range(chunks):
        writer.write(b"x" * size)
        await writer.drain()          # waits while the peer is not keeping up
        sent_at.append(loop.time())
    writer.write_eof()


async def consume_slowly(reader: asyncio.StreamReader, size: int, pause: float) -> int:
    """Read *size* bytes at a time, pausing *pause* seconds after each read; the bytes read in all."""
    total = 0
    while chunk := await reader.read(size):
        total += len(chunk)
        await asyncio.sleep(pause)
    return total


def kv_handler(store: dict[str, str]) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """A line protocol server: ``GET key`` answers the value (or an empty line), until the client hangs up."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                key = line.decode().removeprefix("GET ").strip()
                writer.write(store.get(key, "").encode() + b"\n")
                await writer.drain()
        finally:
            writer.close()

    return handle


async def fetch(key: str, replicas: list[tuple[str, int]], *, connect: Connect = asyncio.open_connection,
                timeout: float = 2.0) -> str:
    """GET *key* from the first replica that answers: a refused, timed-out or reset replica is skipped."""
    errors: list[str] = []
    for host, port in replicas:
        try:
            reader, writer = await asyncio.wait_for(connect(host, port), timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            errors.append(f"{host}:{port}: {type(exc).__name__}")
            continue
        try:
            writer.write(f"GET {key}\n".encode())
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), timeout)
            return line.decode().rstrip("\n")
        except (ConnectionResetError, asyncio.TimeoutError) as exc:
            errors.append(f"{host}:{port}: {type(exc).__name__}")
        finally:
            writer.close()
    raise ConnectionError(f"no replica answered for {key!r}: {'; '.join(errors)}")


async def ping(host: str, port: int) -> bool:
    """True if something accepts a connection on host:port (calls asyncio.open_connection directly)."""
    try:
        _reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True
