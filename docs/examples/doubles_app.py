"""Example code: an HTTP-like client that retries with backoff, and a crawler that fans out under a limit."""

from __future__ import annotations

import asyncio
from typing import Protocol


class Session(Protocol):
    """What the client needs from an HTTP session (aiohttp-like, reduced to one method)."""

    async def get(self, url: str) -> str: ...


async def fetch_with_retry(session: Session, url: str, *, attempts: int = 3, base_delay: float = 1.0) -> str:
    """GET *url*; on ConnectionError wait base_delay, 2*base_delay, ... and try again (*attempts* in all)."""
    for attempt in range(attempts):
        try:
            return await session.get(url)
        except ConnectionError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(base_delay * 2 ** attempt)
    raise AssertionError("unreachable")


async def crawl(session: Session, urls: list[str], *, limit: int) -> list[str]:
    """GET every url, at most *limit* at a time; the answers in the order of *urls*."""
    gate = asyncio.Semaphore(limit)

    async def one(url: str) -> str:
        async with gate:
            return await session.get(url)

    return await asyncio.gather(*(one(url) for url in urls))
