"""Busy polling lets time pass; I/O takes time (docs/clock.md, "Busy polling" and "I/O takes time").

Rules under test:

- a task spinning on ``await asyncio.sleep(0)`` until a timer fires, or until ``loop.time()`` passes a
  deadline, finishes quickly in real time, at the same virtual time on every run;
- polling with tiny sleeps (``sleep(1e-4)``) until a timer fires, a timeout expires or ``loop.time()``
  passes a deadline ends quickly; timers a grain (1 ms) or more ahead are reached exactly;
- a spin or a tiny-sleep poll that nothing can ever end is reported as a ``LivelockError`` naming the
  spinning task, within seconds, not after the 60 s watchdog;
- code that yields a few hundred times, or hands work between tasks through a queue, is not a spin:
  no time passes;
- every loop iteration that delivered I/O takes ``io_quantum`` (default 1 µs) of virtual time, so a reply
  delayed by d arrives strictly after d and a round trip has a positive duration; code without I/O stays
  exact; ``clock_io_quantum = 0`` gives instant I/O; the same exchange gives the same times on every run.
"""

from __future__ import annotations

import asyncio
import time
import unittest

from asynctestkit import AsyncTestCase, VirtualClockLoop

from ._clock_support import HANG_BOUND, error_message, failure_of, real_timer, run_on_virtual_loop, run_tests


class BusyPollingTests(AsyncTestCase):
    async def test_spinning_on_sleep_0_until_a_call_later_timer_fires_ends_at_its_deadline(self) -> None:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        loop.call_later(5, lambda: fired.append(loop.time()))
        with real_timer() as took:
            while not fired:
                await asyncio.sleep(0)
        self.assertEqual(fired, [5.0])
        self.assertEqual(self.clock.elapsed(), 5)
        self.assertLess(took[0], 0.5)

    async def test_spinning_until_loop_time_passes_a_deadline_with_no_timer_ends_quickly(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        with real_timer() as took:
            while loop.time() < deadline:
                await asyncio.sleep(0)
        self.assertGreaterEqual(self.clock.elapsed(), 30)
        self.assertLess(self.clock.elapsed(), 61)  # the steps double: it overshoots by less than it waited
        self.assertLess(took[0], HANG_BOUND)

    async def test_polling_with_tiny_sleeps_until_a_timer_fires_ends_at_its_deadline(self) -> None:
        loop = asyncio.get_running_loop()
        fired = asyncio.Event()
        loop.call_later(2, fired.set)
        with real_timer() as took:
            while not fired.is_set():
                await asyncio.sleep(1e-6)
        # A crawl moves time by at least 1 ms per jump, as a real selector waits: the timer is at most that late.
        self.assertGreaterEqual(self.clock.elapsed(), 2)
        self.assertLessEqual(self.clock.elapsed(), 2.001)
        self.assertLess(took[0], HANG_BOUND)

    async def test_polling_loop_time_with_tiny_sleeps_for_an_hour_ends_quickly_a_hair_late(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3600
        with real_timer() as took:
            while loop.time() < deadline:
                await asyncio.sleep(1e-4)
        # Nothing else pending: the crawl's grain doubles, so the poll overshoots by at most 1/4096 of an hour.
        self.assertGreaterEqual(self.clock.elapsed(), 3600)
        self.assertLess(self.clock.elapsed(), 3600 + 3600 / 4096 + 0.001)
        self.assertLess(took[0], HANG_BOUND)

    async def test_tiny_sleep_polling_under_a_one_hour_timeout_times_out_at_exactly_one_hour(self) -> None:
        async def poll_forever() -> None:
            while True:
                await asyncio.sleep(1e-4)

        with real_timer() as took:
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(poll_forever(), 3600)
        self.assertEqual(self.clock.elapsed(), 3600)  # a timer a grain or more ahead is never passed
        self.assertLess(took[0], HANG_BOUND)

    async def test_a_timer_during_a_long_tiny_sleep_poll_fires_at_exactly_its_deadline(self) -> None:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        loop.call_later(1000, lambda: fired.append(loop.time()))
        while not fired:
            await asyncio.sleep(1e-5)
        self.assertEqual(fired, [1000.0])

    async def test_a_1_ms_heartbeat_over_5_s_keeps_exact_times(self) -> None:
        loop = asyncio.get_running_loop()
        late: list[float] = []
        beats = 0

        async def heartbeat() -> None:
            nonlocal beats
            while True:
                when = loop.time() + 0.001
                await asyncio.sleep(0.001)
                beats += 1
                if loop.time() != when:
                    late.append(loop.time() - when)

        beat = loop.create_task(heartbeat())
        await asyncio.sleep(5)
        beat.cancel()
        self.assertEqual(late, [])
        self.assertGreaterEqual(beats, 4990)
        self.assertEqual(self.clock.elapsed(), 5)

    async def test_spinning_while_a_thread_job_runs_follows_real_time_and_the_timeout_fires_on_time(self) -> None:
        loop = asyncio.get_running_loop()
        job = asyncio.ensure_future(asyncio.to_thread(time.sleep, 0.6))
        expired = asyncio.Event()
        loop.call_later(0.3, expired.set)
        with real_timer() as took:
            while not expired.is_set():
                await asyncio.sleep(0)
        self.assertFalse(job.done())
        self.assertGreaterEqual(took[0], 0.25)  # time followed real time: no jump while the job ran
        self.assertLess(took[0], 0.3 + 0.35)
        await job

    async def test_a_few_hundred_cooperative_yields_under_a_timeout_take_no_time(self) -> None:
        async def crunch() -> int:
            total = 0
            for i in range(500):
                total += i
                await asyncio.sleep(0)
            return total

        self.assertEqual(await asyncio.wait_for(crunch(), timeout=1), sum(range(500)))
        self.assertEqual(self.clock.elapsed(), 0)

    async def test_a_chain_of_5000_tasks_each_starting_the_next_under_a_timeout_is_not_a_spin(self) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[int] = loop.create_future()

        async def link(n: int) -> None:
            if n:
                loop.create_task(link(n - 1))
            else:
                done.set_result(5000)

        loop.create_task(link(5000))
        self.assertEqual(await asyncio.wait_for(done, timeout=1), 5000)
        self.assertEqual(self.clock.elapsed(), 0)

    async def test_handing_20000_items_through_a_queue_under_a_timeout_is_not_a_spin(self) -> None:
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)

        async def produce() -> None:
            for i in range(20000):
                await queue.put(i)

        async def consume() -> int:
            return sum([await queue.get() for _ in range(20000)])

        total, _ = await asyncio.wait_for(asyncio.gather(consume(), produce()), timeout=1)
        self.assertEqual(total, sum(range(20000)))
        self.assertEqual(self.clock.elapsed(), 0)


class BusyPollingDeterminismTests(unittest.TestCase):
    def test_the_same_spin_ends_at_the_same_virtual_time_on_every_run(self) -> None:
        async def spin_until(seconds: float) -> float:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + seconds
            while loop.time() < deadline:
                await asyncio.sleep(0)
            return loop.time()

        ends = {run_on_virtual_loop(lambda: spin_until(30)) for _ in range(5)}
        self.assertEqual(len(ends), 1, ends)


class LivelockReportTests(unittest.TestCase):
    def test_a_spin_nothing_can_end_is_reported_within_seconds_naming_the_spinning_task(self) -> None:
        class Inner(AsyncTestCase):
            async def test_spins(self) -> None:
                async def poll_forever() -> None:
                    while True:
                        await asyncio.sleep(0)

                await asyncio.get_running_loop().create_task(poll_forever(), name="poller")

        with real_timer() as took:
            result = run_tests(Inner, "test_spins")
        message = error_message(failure_of(self, result, "test_spins"))
        self.assertRegex(message.splitlines()[0],
                         r"^asynctestkit\.LivelockError: test 'test_spins' did not finish within the virtual-time "
                         r"horizon of 86400 s: task 'poller' \(poll_forever\(\)\) at \S*test_polling_and_io\.py:\d+ in poll_forever kept "
                         r"yielding \(busy polling\) and nothing it polls for happened")
        self.assertLess(took[0], HANG_BOUND)

    def test_tiny_sleep_polling_nothing_can_end_is_reported_within_seconds_naming_the_polling_task(self) -> None:
        class Inner(AsyncTestCase):
            async def test_polls(self) -> None:
                async def poll_forever() -> None:
                    while True:
                        await asyncio.sleep(1e-4)

                await asyncio.get_running_loop().create_task(poll_forever(), name="poller")

        with real_timer() as took:
            result = run_tests(Inner, "test_polls")
        message = error_message(failure_of(self, result, "test_polls"))
        self.assertRegex(message.splitlines()[0],
                         r"^asynctestkit\.LivelockError: test 'test_polls' did not finish within the virtual-time "
                         r"horizon of 86400 s: task 'poller' \(poll_forever\(\)\) at \S*test_polling_and_io\.py:\d+ in "
                         r"poll_forever kept polling with tiny sleeps and nothing it polls for happened \(virtual t=")
        self.assertEqual(message.splitlines()[-1], "  hint: nothing made what it polls for happen: await it instead of "
                         "polling (an asyncio.Event, a future, Condition.wait_for) or check what should make it "
                         "happen; raise clock_horizon only if the test really simulates more than the horizon")
        self.assertLess(took[0], HANG_BOUND)  # the 60 s watchdog is not what caught it

    def test_30000_tiny_sleeps_in_a_row_are_not_a_livelock(self) -> None:
        class Inner(AsyncTestCase):
            async def test_counts(self) -> None:
                for _ in range(30000):
                    await asyncio.sleep(1e-4)

        result = run_tests(Inner, "test_counts")
        self.assertTrue(result.wasSuccessful(), result.failures + result.errors)

    def test_a_spin_beside_a_heartbeat_is_reported_too(self) -> None:
        class Inner(AsyncTestCase):
            async def test_spins(self) -> None:
                async def heartbeat() -> None:
                    while True:
                        await asyncio.sleep(1)

                beat = asyncio.get_running_loop().create_task(heartbeat(), name="heartbeat")
                try:
                    while True:
                        await asyncio.sleep(0)
                finally:
                    beat.cancel()

        with real_timer() as took:
            result = run_tests(Inner, "test_spins")
        message = error_message(failure_of(self, result, "test_spins"))
        self.assertIn("kept yielding (busy polling)", message.splitlines()[0])
        self.assertIn("task 'heartbeat'", message)
        self.assertLess(took[0], HANG_BOUND)


# ---------------------------------------------------------------------------------------------------------

async def _echo_after(delay: float) -> tuple[float, float, float]:
    """A loopback echo whose server waits *delay* before answering: (sent at, reply at, round trip with no delay)."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(100):
            if data.startswith(b"slow"):
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
        writer.close()

    loop = asyncio.get_running_loop()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        start = loop.time()
        writer.write(b"ping")
        await reader.readexactly(4)
        round_trip = loop.time() - start
        sent = loop.time()
        writer.write(b"slow")
        await reader.readexactly(4)
        return sent, loop.time(), round_trip
    finally:
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()


class IoTakesTimeTests(AsyncTestCase):
    async def test_a_reply_delayed_by_d_over_loopback_arrives_strictly_after_d(self) -> None:
        sent, replied, _ = await _echo_after(0.1)
        self.assertGreater(replied - sent, 0.1)
        self.assertLess(replied - sent, 0.1 + 0.001)

    async def test_a_loopback_round_trip_has_a_positive_duration(self) -> None:
        _, _, round_trip = await _echo_after(0)
        self.assertGreater(round_trip, 0)
        self.assertLess(round_trip, 0.001)

    async def test_code_without_io_stays_exact(self) -> None:
        await asyncio.sleep(3600)
        self.assertEqual(self.clock.elapsed(), 3600)
        self.assertEqual(self.clock.io_quantum, 1e-6)

    async def test_the_quantum_is_settable_during_a_test(self) -> None:
        self.clock.io_quantum = 0.001
        _, _, round_trip = await _echo_after(0)
        self.assertGreaterEqual(round_trip, 0.002)


class NoIoQuantumTests(AsyncTestCase):
    clock_io_quantum = 0

    async def test_with_a_zero_quantum_loopback_io_takes_no_time(self) -> None:
        sent, replied, round_trip = await _echo_after(0.1)
        self.assertEqual(round_trip, 0)
        self.assertEqual(replied - sent, 0.1)


class ManualIoTests(AsyncTestCase):
    clock_auto_advance = False

    async def test_with_time_frozen_io_does_not_move_it(self) -> None:
        loop = asyncio.get_running_loop()
        task = loop.create_task(_echo_after(0))
        while not task.done():
            await self.clock.run_until_idle()
            if not task.done():
                await self.clock.advance(0)
        _, _, round_trip = await task
        self.assertEqual(round_trip, 0)
        self.assertEqual(self.clock.elapsed(), 0)


class IoQuantumMisuseTests(unittest.TestCase):
    def test_bad_quanta_are_refused_with_the_parameter_named(self) -> None:
        cases = [(-1, ValueError, r"io_quantum must be a finite number of seconds >= 0, got -1"),
                 ("1", TypeError, r"io_quantum must be a finite number of seconds >= 0, got str: '1'"),
                 (2.0, ValueError, r"io_quantum must be a tiny duration \(0 to 1 s; default 1e-06\), got 2\.0"),
                 (float("nan"), ValueError, r"io_quantum must be a finite number of seconds >= 0, got nan")]
        for value, error, pattern in cases:
            with self.subTest(value=value):
                with self.assertRaisesRegex(error, pattern):
                    VirtualClockLoop(io_quantum=value)
                loop = VirtualClockLoop()
                try:
                    with self.assertRaisesRegex(error, pattern):
                        loop.clock.io_quantum = value
                    self.assertEqual(loop.clock.io_quantum, 1e-6)
                finally:
                    loop.close()


class IoDeterminismTests(unittest.TestCase):
    def test_the_same_loopback_exchange_sees_the_same_virtual_times_in_100_runs(self) -> None:
        seen = {run_on_virtual_loop(lambda: _echo_after(0.1)) for _ in range(100)}
        self.assertEqual(len(seen), 1, sorted(seen)[:5])


if __name__ == "__main__":  # pragma: no cover
    unittest.main()
