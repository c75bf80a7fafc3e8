"""Exploration finds four classic asyncio races that pass under the default schedule; their fixes pass every one.

Each scenario below is an ordinary async test body.  ``RaceScenarios`` runs it on the buggy code; the tests
then run it three ways: once plainly (it passes: asyncio's FIFO order never produces the bad interleaving),
explored (the report names the failing schedule, its replay line and where it departed from FIFO), and
explored on the fixed code (every schedule passes: no false failure).  The number of schedules each
exploration is given is the bound documented in docs/explore.md; with the default seeds each is found
sooner (``FOUND_WITHIN``).
"""

from __future__ import annotations

import asyncio
import re
import unittest
from typing import Any

from races_app import (
    AtomicHitCounter,
    Client,
    HitCounter,
    Ledger,
    LockedWallet,
    Mailbox,
    QueueMailbox,
    SharedConnectClient,
    Storage,
    Wallet,
    deliver,
    pay_in,
    visit,
)

from asynctestkit import AsyncTestCase, DeadlockError, ScheduleError, replay_schedule

#: Schedules each strategy is given to find each race (the documented bound; found sooner with seeds 1, 2, ...).
FOUND_WITHIN = {"lost_update": 20, "double_init": 20, "shared_counter": 50, "missed_wakeup": 20}
#: Schedules the fixed versions must all pass, per strategy.
FIXED_SCHEDULES = 100


class RaceScenarios(AsyncTestCase):
    """The scenarios (method names without ``test_``: run only through the tests below)."""

    wallet: Any = Wallet
    client: Any = Client
    counter: Any = HitCounter
    mailbox: Any = Mailbox

    async def lost_update(self) -> None:
        wallet = self.wallet(Ledger())
        await asyncio.gather(pay_in(wallet, 10, checks=1), pay_in(wallet, 20, checks=2))
        self.assertEqual(wallet.balance, 30)

    async def double_init(self) -> None:
        client = self.client()

        async def late_caller() -> Any:
            await asyncio.sleep(0.05)  # arrives exactly when the first caller's handshake ends
            return await client.connection()

        first, second = await asyncio.gather(client.connection(), late_caller())
        self.assertIs(first, second)
        self.assertEqual(client.connects, 1)

    async def shared_counter(self) -> None:
        counter = self.counter(Storage())
        await asyncio.gather(*(visit(counter, "/home", after=0.01 * i) for i in range(3)))
        self.assertEqual(counter.hits["/home"], 3)

    async def missed_wakeup(self) -> None:
        mailbox = self.mailbox()
        letter, _ = await asyncio.gather(mailbox.get(), deliver(mailbox, "letter", hops=1))
        self.assertEqual(letter, "letter")


FIXED = {"wallet": LockedWallet, "client": SharedConnectClient, "counter": AtomicHitCounter, "mailbox": QueueMailbox}
JITTER = {"shared_counter": 1.0}  # this race needs timing to vary: visits overlap only when latencies do


def run_scenario(name: str, *, fixed: bool = False, strategy: str | None = None,
                 schedules: int = 0) -> unittest.TestResult:
    """Run one scenario (explored when *strategy* is given) and return its result."""
    attributes: dict[str, Any] = dict(FIXED) if fixed else {}
    if strategy is not None:
        attributes.update(explore_schedules=schedules, explore_strategy=strategy,
                          explore_jitter=JITTER.get(name, 0.0))
    case_class = type(f"{'Fixed' if fixed else 'Buggy'}{name.title().replace('_', '')}", (RaceScenarios,), attributes)
    result = unittest.TestResult()
    case_class(name).run(result)
    return result


class RacesPassUnderTheDefaultScheduleTest(unittest.TestCase):
    def test_every_buggy_scenario_passes_when_run_plainly(self) -> None:
        for name in FOUND_WITHIN:
            with self.subTest(name):
                result = run_scenario(name)
                self.assertTrue(result.wasSuccessful(), result.failures + result.errors)


class ExplorationFindsEveryRaceTest(unittest.TestCase):
    def check_found(self, name: str, strategy: str, expected: str) -> str:
        result = run_scenario(name, strategy=strategy, schedules=FOUND_WITHIN[name])
        problems = result.failures + result.errors
        self.assertEqual(len(problems), 1, f"{name} was not found by {strategy!r} within "
                                           f"{FOUND_WITHIN[name]} schedules")
        report = problems[0][1]
        self.assertIn(ScheduleError.__name__, report)
        self.assertRegex(report, rf"failed under schedule \d+ of {FOUND_WITHIN[name]} \(strategy '{strategy}'")
        self.assertIn("it passes under the default FIFO schedule", report)
        self.assertRegex(report, r"replay it: @asynctestkit\.replay_schedule\(seed=\d+, strategy=")
        self.assertRegex(report, rf"or: ASYNCTESTKIT_SCHEDULE=\S+\.{name}:\d+")
        self.assertRegex(report, r"simplest failing schedule \(\d+ departures? from FIFO")
        self.assertIn(expected, report)
        return report

    def test_the_lost_update_is_found_by_both_strategies(self) -> None:
        for strategy in ("random", "pct"):
            with self.subTest(strategy):
                report = self.check_found("lost_update", strategy, "AssertionError: ")
                self.assertRegex(report, r"ran task '[^']+' \(pay_in\(\)\) before task '[^']+' \(pay_in\(\)\)")

    def test_the_double_initialisation_is_found_by_both_strategies(self) -> None:
        for strategy in ("random", "pct"):
            with self.subTest(strategy):
                self.check_found("double_init", strategy, "AssertionError: ")

    def test_the_unlocked_counter_is_found_with_jitter(self) -> None:
        for strategy in ("random", "pct"):
            with self.subTest(strategy):
                report = self.check_found("shared_counter", strategy, "AssertionError: 2 != 3")
                self.assertIn("fired", report)  # its simplest schedule still needs a late timer

    def test_the_missed_wakeup_is_found_and_reported_as_the_deadlock_it_causes(self) -> None:
        for strategy in ("random", "pct"):
            with self.subTest(strategy):
                self.check_found("missed_wakeup", strategy, DeadlockError.__name__)

    def test_without_jitter_the_counter_race_stays_hidden(self) -> None:
        # Reordering alone cannot make two visits 10 ms apart overlap: the race needs latency to vary.
        attributes = {"explore_schedules": 30, "explore_strategy": "random"}
        case_class = type("NoJitterCounter", (RaceScenarios,), attributes)
        result = unittest.TestResult()
        case_class("shared_counter").run(result)
        self.assertTrue(result.wasSuccessful(), result.failures)


class FixedVersionsPassEveryScheduleTest(unittest.TestCase):
    def test_every_fixed_scenario_passes_every_schedule_of_both_strategies(self) -> None:
        for name in FOUND_WITHIN:
            for strategy in ("random", "pct"):
                with self.subTest(name=name, strategy=strategy):
                    result = run_scenario(name, fixed=True, strategy=strategy, schedules=FIXED_SCHEDULES)
                    self.assertTrue(result.wasSuccessful(), result.failures + result.errors)


class ReplayTest(unittest.TestCase):
    def test_the_printed_replay_line_reproduces_the_failure(self) -> None:
        report = ExplorationFindsEveryRaceTest("check_found").check_found("lost_update", "random", "AssertionError")
        match = re.search(r"simplest failing schedule .*?: @asynctestkit\.replay_schedule\(departures=(\{[^}]*\})\)",
                          report)
        assert match is not None, report
        departures = {int(k): int(v) for k, v in re.findall(r"(\d+): (\d+)", match.group(1))}

        class Replayed(RaceScenarios):
            @replay_schedule(departures=departures)
            async def lost_update(self) -> None:
                await RaceScenarios.lost_update(self)

        result = unittest.TestResult()
        Replayed("lost_update").run(result)
        self.assertEqual(len(result.failures), 1)
        self.assertIn("failed under the replayed schedule", result.failures[0][1])


if __name__ == "__main__":
    unittest.main()
