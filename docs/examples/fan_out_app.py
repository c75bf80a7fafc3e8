"""Example code: ask several price sources at once (fan-out) and combine the answers (fan-in)."""

from __future__ import annotations

import asyncio


class PriceSource:
    """A source that answers after *delay* seconds, or fails with ConnectionError when *down*."""

    def __init__(self, name: str, price: float, delay: float, down: bool = False) -> None:
        self.name, self.price, self.delay, self.down = name, price, delay, down

    async def quote(self) -> float:
        await asyncio.sleep(self.delay)
        if self.down:
            raise ConnectionError(f"{self.name} is down")
        return self.price


async def all_quotes(sources: list[PriceSource]) -> list[float]:
    """Every quote, in order; the first failure propagates (gather does not cancel the others)."""
    return await asyncio.gather(*(s.quote() for s in sources))


async def best_quote(sources: list[PriceSource]) -> float:
    """The lowest quote among the sources that answered; failed sources are skipped."""
    results = await asyncio.gather(*(s.quote() for s in sources), return_exceptions=True)
    prices = [r for r in results if isinstance(r, float)]
    if not prices:
        raise LookupError("no source answered")
    return min(prices)
