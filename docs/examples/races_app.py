"""Example code: four classic asyncio races, each next to its fix (see test_races.py and docs/explore.md).

Every buggy version works under asyncio's default FIFO order, which is why such bugs reach production: the
interleaving that breaks them needs a wake-up to arrive a little earlier or later than usual.
"""

from __future__ import annotations

import asyncio


# -- 1. lost update across an await ------------------------------------------------------------------------

class Ledger:
    """Where every deposit is also written (one round trip to storage)."""

    def __init__(self) -> None:
        self.entries: list[int] = []

    async def record(self, amount: int) -> None:
        self.entries.append(amount)
        await asyncio.sleep(0)  # the write to storage


class Wallet:
    """BUG: reads the balance, awaits the ledger, writes the balance: a deposit in between is lost."""

    def __init__(self, ledger: Ledger) -> None:
        self.balance = 0
        self.ledger = ledger

    async def deposit(self, amount: int) -> None:
        balance = self.balance
        await self.ledger.record(amount)
        self.balance = balance + amount


class LockedWallet(Wallet):
    """FIX: the read-modify-write holds a lock across the await."""

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(ledger)
        self._lock = asyncio.Lock()

    async def deposit(self, amount: int) -> None:
        async with self._lock:
            await super().deposit(amount)


async def pay_in(wallet: Wallet, amount: int, *, checks: int) -> None:
    """A request handler: *checks* validation round trips (cache lookups), then the deposit."""
    for _ in range(checks):
        await asyncio.sleep(0)
    await wallet.deposit(amount)


# -- 2. double initialisation of a lazy resource (check-then-act) --------------------------------------------

class Connection:
    opened = 0

    def __init__(self) -> None:
        Connection.opened += 1


class Client:
    """BUG: two callers can both see "not connected" and both connect."""

    def __init__(self) -> None:
        self._connection: Connection | None = None
        self.connects = 0

    async def _connect(self) -> Connection:
        self.connects += 1
        await asyncio.sleep(0.05)  # the handshake
        return Connection()

    async def connection(self) -> Connection:
        if self._connection is None:
            connection = await self._connect()
            self._connection = connection
        return self._connection


class SharedConnectClient(Client):
    """FIX: the first caller starts the connect; every caller awaits that same task."""

    def __init__(self) -> None:
        super().__init__()
        self._connecting: asyncio.Task[Connection] | None = None

    async def connection(self) -> Connection:
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        return await asyncio.shield(self._connecting)


# -- 3. unlocked read-modify-write of a shared counter ---------------------------------------------------------

class Storage:
    async def save(self, page: str, count: int) -> None:
        await asyncio.sleep(0.005)  # 5 ms to persist


class HitCounter:
    """BUG: count = hits; await save(count + 1); hits = count + 1 -- two visits that overlap count once."""

    def __init__(self, storage: Storage) -> None:
        self.hits: dict[str, int] = {}
        self.storage = storage

    async def record_hit(self, page: str) -> None:
        count = self.hits.get(page, 0)
        await self.storage.save(page, count + 1)
        self.hits[page] = count + 1


class AtomicHitCounter(HitCounter):
    """FIX: update the counter before the await (no await inside the read-modify-write), persist after."""

    async def record_hit(self, page: str) -> None:
        count = self.hits[page] = self.hits.get(page, 0) + 1
        await self.storage.save(page, count)


async def visit(counter: HitCounter, page: str, *, after: float) -> None:
    await asyncio.sleep(after)  # the visitor arrives (network latency)
    await counter.record_hit(page)


# -- 4. missed wake-up with asyncio.Event ----------------------------------------------------------------------

class Mailbox:
    """BUG: put() pulses an Event (set, then clear); get() checks, awaits a log write, *then* waits: a pulse
    sent during the log write wakes nobody, and get() waits forever."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.arrived = asyncio.Event()
        self.log: list[str] = []

    async def _log(self, line: str) -> None:
        self.log.append(line)
        await asyncio.sleep(0)  # the log write

    def put(self, item: str) -> None:
        self.items.append(item)
        self.arrived.set()
        self.arrived.clear()

    async def get(self) -> str:
        if not self.items:
            await self._log("waiting for mail")
            await self.arrived.wait()
        return self.items.pop(0)


class QueueMailbox:
    """FIX: an asyncio.Queue keeps the item until someone takes it: no wake-up can be missed."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self.log: list[str] = []

    def put(self, item: str) -> None:
        self._queue.put_nowait(item)

    async def get(self) -> str:
        if self._queue.empty():
            self.log.append("waiting for mail")
            await asyncio.sleep(0)
        return await self._queue.get()


async def deliver(mailbox: Mailbox | QueueMailbox, item: str, *, hops: int) -> None:
    """The postman: *hops* round trips (sorting), then the delivery."""
    for _ in range(hops):
        await asyncio.sleep(0)
    mailbox.put(item)
