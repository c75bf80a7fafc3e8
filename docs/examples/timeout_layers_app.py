"""Example code: a timeout set in the lowest of three layers must reach the top as TimeoutError."""

from __future__ import annotations

import asyncio


class Database:
    def __init__(self, latency: float) -> None:
        self.latency = latency

    async def query(self, sql: str) -> list[str]:
        await asyncio.sleep(self.latency)
        return [sql]


async def repository_get(db: Database, key: str, timeout: float = 2.0) -> list[str]:
    """Layer 3: the one place with a timeout."""
    return await asyncio.wait_for(db.query(f"SELECT {key}"), timeout)


async def service_get(db: Database, key: str) -> str:
    """Layer 2: business logic; must not swallow the timeout."""
    rows = await repository_get(db, key)
    return rows[0]


async def handler(db: Database, key: str) -> dict[str, str]:
    """Layer 1: the entry point."""
    return {"value": await service_get(db, key)}


async def service_get_buggy(db: Database, key: str) -> str:
    """Layer 2 with the classic bug: ``except Exception`` turns a timeout into a silent default."""
    try:
        rows = await repository_get(db, key)
    except Exception:
        return "default"
    return rows[0]
