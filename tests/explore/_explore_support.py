"""Test cases the exploration tests run (a module not named test_*: discovery never collects these)."""

from __future__ import annotations

import asyncio
import unittest

import asynctestkit


class Wallet:
    def __init__(self) -> None:
        self.balance = 0

    async def deposit(self, amount: int) -> None:
        balance = self.balance
        await asyncio.sleep(0)
        self.balance = balance + amount


async def two_deposits(checks_first: int = 1, checks_second: int = 2) -> int:
    """Two deposits whose read-modify-writes only overlap when the second's wake-up overtakes the first's."""
    wallet = Wallet()

    async def pay_in(amount: int, checks: int) -> None:
        for _ in range(checks):
            await asyncio.sleep(0)
        await wallet.deposit(amount)

    await asyncio.gather(pay_in(10, checks_first), pay_in(20, checks_second))
    return wallet.balance


class Racy(asynctestkit.AsyncTestCase):
    """A lost update that FIFO never shows (run by the command-line and environment-variable tests)."""

    async def test_lost_update(self) -> None:
        self.assertEqual(await two_deposits(), 30)

    async def test_locked_deposits(self) -> None:
        lock = asyncio.Lock()
        total = [0]

        async def add(amount: int) -> None:
            async with lock:
                value = total[0]
                await asyncio.sleep(0)
                total[0] = value + amount

        await asyncio.gather(add(1), add(10), add(100))
        self.assertEqual(total[0], 111)

    async def test_fails_under_fifo(self) -> None:
        self.assertEqual(await two_deposits(0, 0), 30)


class ExploredRacy(asynctestkit.AsyncTestCase):
    @asynctestkit.explore(schedules=30)
    async def test_lost_update(self) -> None:
        self.assertEqual(await two_deposits(), 30)


class PlainCase(unittest.TestCase):
    def test_nothing(self) -> None:
        pass
