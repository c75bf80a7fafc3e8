"""Background work beside a test (a heartbeat, a pushing service) and the pending timers of a retry loop."""

from __future__ import annotations

import asyncio
import unittest

from background_app import Hub, next_event
from retry_app import retry

from asynctestkit import AsyncTestCase, BackgroundTasks


class HeartbeatBesideTheTest(AsyncTestCase):
    async def test_event_pushed_after_5_s_arrives_while_the_heartbeat_beats(self) -> None:
        hub = Hub()
        self.start_background(hub.heartbeat(every=1.0), name="heartbeat")   # stopped at the end of the test
        self.start_background(hub.push_later(5.0, "welcome"), name="service")

        self.assertEqual(await next_event(hub), "welcome")

        self.assertEqual(self.clock.elapsed(), 5.0)
        self.assertEqual(hub.beats, [1.0, 2.0, 3.0, 4.0, 5.0])

    def test_waiting_for_an_event_nobody_pushes_is_a_deadlock_at_once_not_a_livelock_a_day_later(self) -> None:
        # What a forgotten push looks like.  The heartbeat keeps virtual time moving, but it is background work:
        # the wait is reported as a DeadlockError after 60 s of virtual time (milliseconds of real time), naming
        # `await hub.inbox.get()`, instead of a LivelockError after a whole virtual day.  (The failing test runs
        # into its own TestResult here, so that this example passes.)
        class ForgottenPush(AsyncTestCase):
            async def test_waits(self) -> None:
                hub = Hub()
                self.start_background(hub.heartbeat(every=1.0), name="heartbeat")
                await next_event(hub)

        result = unittest.TestResult()
        ForgottenPush("test_waits").run(result)
        [(_test, text)] = result.failures
        self.assertIn("DeadlockError: test 'test_waits' can never finish: it awaits Queue.get() at ", text)
        self.assertIn("(virtual t=60.000s", text)
        self.assertIn("background task 'heartbeat' (Hub.heartbeat())", text)


class BackgroundTasksWithoutATestCase(AsyncTestCase):
    async def test_a_group_of_helpers_is_stopped_when_the_block_ends(self) -> None:
        hub = Hub()
        async with BackgroundTasks() as helpers:
            beat = helpers.start(hub.heartbeat(every=0.5), name="heartbeat")
            await asyncio.sleep(2.25)
        self.assertTrue(beat.cancelled())
        self.assertEqual(hub.beats, [0.5, 1.0, 1.5, 2.0])


class PendingTimersOfARetryLoop(AsyncTestCase):
    async def test_the_backoff_sleeps_are_visible_with_their_deadlines_and_line(self) -> None:
        calls: list[float] = []
        loop = asyncio.get_running_loop()

        async def flaky() -> str:
            calls.append(loop.time())
            raise ConnectionError("refused")

        task = asyncio.create_task(retry(flaky, attempts=4, base_delay=1.0), name="retry")
        await self.clock.advance(1.5)       # call at 0, backoff 1 s, call at 1, now sleeping 2 s

        [timer] = self.clock.pending_timers()
        self.assertEqual(timer.when, 3.0)
        self.assertEqual(timer.task, "retry")
        self.assertTrue(timer.site and "retry_app.py" in timer.site and "asyncio.sleep" in timer.site, timer.site)
        self.assertEqual(self.clock.next_deadline(), 3.0)
        self.assertRegex(str(timer), r"^t=3\.000s \(in 1\.5 s\) wakes task 'retry' \(retry\(\)\) from sleep\(\) "
                                     r"at \S*retry_app\.py:\d+ in retry: await asyncio\.sleep\(")

        with self.assertRaises(ConnectionError):
            await task
        self.assertEqual(calls, [0.0, 1.0, 3.0, 7.0])
        self.assertEqual(self.clock.pending_timers(), [])


if __name__ == "__main__":
    unittest.main()
