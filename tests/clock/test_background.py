"""Background work (asynctestkit/clock/_background.py): helpers beside a test, stopped at its end, never counted
as the test's progress.

A test waiting forever beside a heartbeat is a DeadlockError naming its wait (not a livelock a day later); a
test that waits for something background work does produce is never reported; background tasks are cancelled
and awaited before the leak check; one that raised fails the test with its name and creation site.  Inner test
cases run into a ``unittest.TestResult`` and their failure text is read as the user sees it.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import sys
import time
import unittest
import warnings

from asynctestkit import AsyncTestCase, BackgroundTasks, allow_leaks
from asynctestkit.clock._quiet import OWNER

from ._clock_support import HANG_BOUND, error_message, failure_of, problems, real_timer, run_tests, site_pattern

HERE = __file__


def _src(function: str, source: str) -> str:
    return site_pattern(HERE, function, source)


def _at(function: str) -> str:
    """A regex for ``tests/clock/test_background.py:<line> in <function>`` (a site without its source)."""
    return site_pattern(HERE, function, "")[:-2]  # without the ": <source>" part


async def heartbeat(period: float = 1.0, beats: list[float] | None = None) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(period)
        if beats is not None:
            beats.append(loop.time())


def _failures(result: unittest.TestResult, name: str) -> list[str]:
    return [text for test, text in result.failures if getattr(test, "_testMethodName", None) == name]


# ---------------------------------------------------------------------------------------------------------
# The hang rule: a test stuck beside background work is a deadlock, at once, naming its wait
# ---------------------------------------------------------------------------------------------------------

class StuckBesideBackgroundWorkTests(unittest.TestCase):
    def test_a_test_waiting_forever_beside_a_heartbeat_is_a_deadlock_naming_its_wait_not_a_livelock(self) -> None:
        class Inner(AsyncTestCase):
            async def test_waits_forever(self) -> None:
                self.start_background(heartbeat(), name="heartbeat")
                await asyncio.Event().wait()

        with real_timer() as took:
            result = run_tests(Inner, "test_waits_forever")
        message = error_message(failure_of(self, result, "test_waits_forever"))
        self.assertRegex(message, r"^asynctestkit\.DeadlockError: test 'test_waits_forever' can never finish: it "
                                  r"awaits Event\.wait\(\) at " + _at("test_waits_forever")
                         + r" and only background work is left \(1 background task ran for 60 s of virtual time "
                           r"without waking it\) \(virtual t=60\.000s, real \d+\.\d{3}s\)")
        self.assertRegex(message, r"1\. test 'test_waits_forever' \(task '[^']+'\)\n\s+suspended at "
                         + _src("test_waits_forever", "await asyncio.Event().wait()"))
        self.assertRegex(message, r"2\. background task 'heartbeat' \(heartbeat\(\)\)\n\s+created at\s+"
                         + _at("test_waits_forever") + r"\n")
        self.assertIn("raise self.clock.background_window", message)
        self.assertNotIn("LivelockError", message)
        self.assertLess(took[0], HANG_BOUND)

    def test_a_queue_a_background_poller_fills_after_5_s_is_awaited_not_reported(self) -> None:
        class Inner(AsyncTestCase):
            async def test_gets_the_item(self) -> None:
                queue: asyncio.Queue[str] = asyncio.Queue()
                polls = 0

                async def poller() -> None:
                    nonlocal polls
                    while True:
                        await asyncio.sleep(0.5)
                        polls += 1
                        if self.clock.elapsed() >= 5:
                            queue.put_nowait("ready")

                self.start_background(poller(), name="poller")
                self.start_background(heartbeat(0.1), name="heartbeat")
                self.assertEqual(await queue.get(), "ready")
                self.assertEqual(self.clock.elapsed(), 5.0)
                self.assertEqual(polls, 10)

        result = run_tests(Inner, "test_gets_the_item")
        self.assertEqual(problems(result), [])

    def test_a_background_sleeper_that_answers_after_an_hour_beside_a_heartbeat_is_not_a_deadlock(self) -> None:
        class Inner(AsyncTestCase):
            async def test_answer_after_an_hour(self) -> None:
                done = asyncio.Event()

                async def slow_answer() -> None:
                    await asyncio.sleep(3600)
                    done.set()

                self.start_background(heartbeat(), name="heartbeat")
                self.start_background(slow_answer(), name="slow")
                await done.wait()
                self.assertEqual(self.clock.elapsed(), 3600.0)

        result = run_tests(Inner, "test_answer_after_an_hour")
        self.assertEqual(problems(result), [])

    def test_a_worker_fed_by_a_background_producer_is_progress_however_long_it_takes(self) -> None:
        class Inner(AsyncTestCase):
            async def test_worker_collects_300_items(self) -> None:
                queue: asyncio.Queue[int] = asyncio.Queue()
                collected: list[int] = []
                finished = asyncio.Event()

                async def producer() -> None:
                    for number in range(300):
                        await asyncio.sleep(1)
                        queue.put_nowait(number)

                async def worker() -> None:  # the test's own task: each item wakes it
                    while len(collected) < 300:
                        collected.append(await queue.get())
                    finished.set()

                self.start_background(producer(), name="producer")
                task = asyncio.create_task(worker())
                await finished.wait()
                await task
                self.assertEqual(self.clock.elapsed(), 300.0)

        result = run_tests(Inner, "test_worker_collects_300_items")
        self.assertEqual(problems(result), [])

    def test_a_timeout_of_the_test_beside_a_heartbeat_fires_at_its_exact_deadline(self) -> None:
        class Inner(AsyncTestCase):
            async def test_times_out(self) -> None:
                self.start_background(heartbeat(), name="heartbeat")
                with self.assertRaises(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.Event().wait(), 600)
                self.assertEqual(self.clock.elapsed(), 600.0)

        result = run_tests(Inner, "test_times_out")
        self.assertEqual(problems(result), [])

    def test_a_heartbeat_that_is_not_background_work_is_still_a_livelock_at_the_horizon(self) -> None:
        class Inner(AsyncTestCase):
            clock_horizon = 600.0

            async def test_waits_forever(self) -> None:
                beat = asyncio.create_task(heartbeat())
                self.addAsyncCleanup(_cancel_and_wait, beat)
                await asyncio.Event().wait()

        message = error_message(failure_of(self, run_tests(Inner, "test_waits_forever"), "test_waits_forever"))
        self.assertTrue(message.startswith("asynctestkit.LivelockError: test 'test_waits_forever' did not finish "
                                           "within the virtual-time horizon of 600 s"), message)

    def test_work_started_by_background_work_is_background_work_too(self) -> None:
        class Inner(AsyncTestCase):
            async def test_waits_forever(self) -> None:
                async def server() -> None:
                    child = asyncio.create_task(heartbeat(2.0), name="keepalive")
                    try:
                        await asyncio.Event().wait()
                    finally:
                        child.cancel()

                self.start_background(server(), name="server")
                await asyncio.Event().wait()

        message = error_message(failure_of(self, run_tests(Inner, "test_waits_forever"), "test_waits_forever"))
        self.assertIn("only background work is left (2 background tasks ran for 60 s", message)
        self.assertIn("background task 'keepalive' (heartbeat())", message)
        self.assertIn("background task 'server' (server())", message)

    def test_a_background_sleep_forever_need_not_come_round(self) -> None:
        class Inner(AsyncTestCase):
            async def test_waits_forever(self) -> None:
                self.start_background(asyncio.sleep(math.inf), name="sleeper")
                self.start_background(heartbeat(), name="heartbeat")
                await asyncio.Event().wait()

        message = error_message(failure_of(self, run_tests(Inner, "test_waits_forever"), "test_waits_forever"))
        self.assertIn("DeadlockError", message)
        self.assertIn("(virtual t=60.000s", message)

    def test_the_window_is_a_documented_limit_a_slower_answer_needs_a_larger_window(self) -> None:
        class Inner(AsyncTestCase):
            async def _answer_after_100_beats(self) -> None:
                done = asyncio.Event()

                async def counter() -> None:
                    for _ in range(100):
                        await asyncio.sleep(1)
                    done.set()

                self.start_background(counter(), name="counter")
                await done.wait()

            async def test_default_window(self) -> None:
                await self._answer_after_100_beats()

            async def test_larger_window(self) -> None:
                self.clock.background_window = 200
                await self._answer_after_100_beats()
                self.assertEqual(self.clock.elapsed(), 100.0)

        result = run_tests(Inner, "test_default_window", "test_larger_window")
        self.assertIn("DeadlockError", failure_of(self, result, "test_default_window"))
        self.assertEqual([name for name, _ in problems(result)], ["test_default_window"])

    def test_an_infinite_window_turns_the_rule_off_leaving_the_horizon(self) -> None:
        class Inner(AsyncTestCase):
            clock_horizon = 300.0

            async def test_waits_forever(self) -> None:
                self.clock.background_window = math.inf
                self.start_background(heartbeat(), name="heartbeat")
                await asyncio.Event().wait()

        message = error_message(failure_of(self, run_tests(Inner, "test_waits_forever"), "test_waits_forever"))
        self.assertTrue(message.startswith("asynctestkit.LivelockError: "), message)
        self.assertIn("background task 'heartbeat'", message)

    def test_real_work_the_test_awaits_beside_a_heartbeat_is_waited_for(self) -> None:
        class Inner(AsyncTestCase):
            async def test_awaits_a_thread(self) -> None:
                self.clock.background_window = 0.05
                self.start_background(heartbeat(0.01), name="heartbeat")
                await asyncio.to_thread(time.sleep, 0.3)

        result = run_tests(Inner, "test_awaits_a_thread")
        self.assertEqual(problems(result), [])

    def test_a_background_fake_server_gets_the_deadlock_grace_then_the_stuck_test_is_reported(self) -> None:
        class Inner(AsyncTestCase):
            clock_deadlock_grace = 0.1

            async def test_waits_forever(self) -> None:
                async def fake_server() -> None:
                    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
                    async with server:
                        await heartbeat(5.0)

                self.start_background(fake_server(), name="fake-server")
                await asyncio.Event().wait()

        with real_timer() as took:
            result = run_tests(Inner, "test_waits_forever")
        message = error_message(failure_of(self, result, "test_waits_forever"))
        self.assertIn("DeadlockError: test 'test_waits_forever' can never finish: it awaits Event.wait()", message)
        self.assertIn("background task 'fake-server' (fake_server())", message)
        self.assertEqual(len(problems(result)), 1, problems(result))  # the server closed on cancellation: no leak
        self.assertLess(took[0], HANG_BOUND)

    def test_a_crashed_background_task_is_named_in_the_deadlock_it_causes(self) -> None:
        class Inner(AsyncTestCase):
            async def test_waits_for_the_poller(self) -> None:
                queue: asyncio.Queue[int] = asyncio.Queue()

                async def poller() -> None:
                    await asyncio.sleep(1)
                    raise ValueError("upstream gone")

                self.start_background(poller(), name="poller")
                await queue.get()

        result = run_tests(Inner, "test_waits_for_the_poller")
        texts = _failures(result, "test_waits_for_the_poller")
        self.assertEqual(len(texts), 2, problems(result))   # the deadlock, then the background failure
        self.assertIn("DeadlockError", texts[0])
        self.assertIn("background task 'poller' (poller()) failed at t=1.000s: ValueError: upstream gone", texts[0])
        self.assertIn("AssertionError: background task 'poller' (poller()) raised ValueError: upstream gone at "
                      "virtual t=1.000s", texts[1])


async def _cancel_and_wait(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


# ---------------------------------------------------------------------------------------------------------
# The end of the test: cancelled and awaited before the leak check; failures fail the test
# ---------------------------------------------------------------------------------------------------------

class EndOfTestTests(unittest.TestCase):
    def test_background_tasks_still_running_are_cancelled_and_awaited_with_no_leak_report(self) -> None:
        stopped: list[str] = []

        class Inner(AsyncTestCase):
            async def test_passes(self) -> None:
                async def service(name: str) -> None:
                    try:
                        await heartbeat()
                    finally:
                        await asyncio.sleep(0.5)  # a cleanup that takes time still completes
                        stopped.append(name)

                self.start_background(service("a"), name="a")
                self.start_background(service("b"), name="b")
                await asyncio.sleep(10)

        result = run_tests(Inner, "test_passes")
        self.assertEqual(problems(result), [])
        self.assertEqual(sorted(stopped), ["a", "b"])

    def test_started_in_async_setup_runs_through_the_test(self) -> None:
        class Inner(AsyncTestCase):
            async def asyncSetUp(self) -> None:
                self.beats: list[float] = []
                self.task = self.start_background(heartbeat(1.0, self.beats), name="heartbeat")

            async def test_sees_beats(self) -> None:
                await asyncio.sleep(3.5)
                self.assertEqual(self.beats, [1.0, 2.0, 3.0])
                self.assertFalse(self.task.done())

        self.assertEqual(problems(run_tests(Inner, "test_sees_beats")), [])

    def test_an_exception_a_background_task_raised_fails_the_test_naming_it_and_where_it_was_started(self) -> None:
        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                async def flaky() -> None:
                    await asyncio.sleep(2)
                    raise ConnectionError("reset by peer")

                self.start_background(flaky(), name="flaky")
                await asyncio.sleep(5)

        text = failure_of(self, run_tests(Inner, "test_x"), "test_x")
        message = error_message(text)
        self.assertRegex(message, r"^AssertionError: background task 'flaky' \(flaky\(\)\) raised ConnectionError: "
                                  r"reset by peer at virtual t=2\.000s\n\s+created at\s+"
                         + _at("test_x") + r"\n\s+raised at\s+" + _src("flaky", 'raise ConnectionError("reset by peer")'))
        self.assertIn("ConnectionError: reset by peer\n\nThe above exception was the direct cause", text)
        self.assertNotIn("asynctestkit/clock", text)  # asynctestkit's own frame is left out

    def test_an_exception_raised_while_stopping_fails_the_test(self) -> None:
        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                async def sloppy() -> None:
                    try:
                        await heartbeat()
                    finally:
                        raise RuntimeError("close failed")

                self.start_background(sloppy(), name="sloppy")
                await asyncio.sleep(1)

        message = error_message(failure_of(self, run_tests(Inner, "test_x"), "test_x"))
        self.assertTrue(message.startswith("AssertionError: background task 'sloppy' (sloppy()) raised RuntimeError: "
                                           "close failed while it was being stopped at the end"), message)

    def test_an_exception_the_test_retrieved_itself_does_not_fail_it(self) -> None:
        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                async def failing() -> None:
                    await asyncio.sleep(1)
                    raise KeyError("expected")

                task = self.start_background(failing(), name="failing")
                with self.assertRaises(KeyError):
                    await task

        self.assertEqual(problems(run_tests(Inner, "test_x")), [])

    def test_several_failures_are_all_listed(self) -> None:
        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                async def fail(after: float) -> None:
                    await asyncio.sleep(after)
                    raise ValueError(f"after {after:g}")

                self.start_background(fail(1), name="one")
                self.start_background(fail(2), name="two")
                await asyncio.sleep(3)

        message = error_message(failure_of(self, run_tests(Inner, "test_x"), "test_x"))
        self.assertTrue(message.startswith("AssertionError: 2 background tasks failed:\n"
                                           "background task 'one' (fail()) raised ValueError: after 1 at virtual "
                                           "t=1.000s"), message)
        self.assertIn("background task 'two' (fail()) raised ValueError: after 2 at virtual t=2.000s", message)

    def test_a_task_that_swallows_every_cancellation_is_named(self) -> None:
        class Inner(AsyncTestCase):
            @allow_leaks(tasks=True, reason="the stubborn task outlives the test by design")
            async def test_x(self) -> None:
                async def stubborn() -> None:
                    while True:
                        try:
                            await asyncio.sleep(1)
                        except asyncio.CancelledError:
                            pass

                self.start_background(stubborn(), name="stubborn")

        message = error_message(failure_of(self, run_tests(Inner, "test_x"), "test_x"))
        self.assertTrue(message.startswith("AssertionError: background task 'stubborn' (stubborn()) did not stop: "
                                           "it swallowed 3 cancellations"), message)


class NoGarbageTests(unittest.TestCase):
    def test_a_passing_test_with_background_work_leaves_nothing_for_the_cyclic_collector(self) -> None:
        from tests.test_garbage import _run

        class Inner(AsyncTestCase):
            async def test_beats(self) -> None:
                self.start_background(heartbeat(), name="heartbeat")
                await asyncio.sleep(10.5)
                self.assertEqual([t.when for t in self.clock.pending_timers()], [11.0])

        garbage, alive, result = _run(Inner, "test_beats", 3)
        self.assertEqual(problems(result), [])
        self.assertEqual((len(garbage), alive), (0, 0))


class RealClockTests(unittest.TestCase):
    def test_start_background_on_the_real_clock_starts_and_stops_the_task(self) -> None:
        stopped: list[bool] = []

        class Inner(AsyncTestCase):
            virtual_clock = False

            async def test_x(self) -> None:
                async def service() -> None:
                    try:
                        await asyncio.Event().wait()
                    finally:
                        stopped.append(True)

                self.start_background(service(), name="service")
                await asyncio.sleep(0.01)

        self.assertEqual(problems(run_tests(Inner, "test_x")), [])
        self.assertEqual(stopped, [True])


# ---------------------------------------------------------------------------------------------------------
# Misuse
# ---------------------------------------------------------------------------------------------------------

class MisuseTests(AsyncTestCase):
    async def test_a_coroutine_function_not_called_is_a_type_error_saying_to_call_it(self) -> None:
        with self.assertRaises(TypeError) as caught:
            self.start_background(heartbeat)  # type: ignore[arg-type]
        self.assertEqual(str(caught.exception),
                         "start_background() argument 'coro' must be a coroutine object: call the function "
                         "(heartbeat(), not heartbeat), got function: " + repr(heartbeat))

    async def test_a_non_coroutine_is_a_type_error(self) -> None:
        with self.assertRaisesRegex(TypeError, r"^start_background\(\) argument 'coro' must be a coroutine object "
                                               r"\(e\.g\. heartbeat\(\)\), got int: 42$"):
            self.start_background(42)  # type: ignore[arg-type]

    async def test_a_name_that_is_not_a_string_is_a_type_error_and_the_coroutine_is_closed(self) -> None:
        coro = heartbeat()
        with self.assertRaisesRegex(TypeError, r"^start_background\(\) argument 'name' must be a str or None, "
                                               r"got int: 3$"):
            self.start_background(coro, name=3)  # type: ignore[arg-type]
        self.assertIsNone(coro.cr_frame)  # closed: no "never awaited" warning

    async def test_background_window_must_be_a_positive_number(self) -> None:
        with self.assertRaisesRegex(ValueError, "background_window"):
            self.clock.background_window = 0
        with self.assertRaisesRegex(ValueError, "background_window"):
            self.clock.background_window = -1
        with self.assertRaisesRegex(TypeError, "background_window"):
            self.clock.background_window = "60"  # type: ignore[assignment]
        self.assertEqual(self.clock.background_window, 60.0)


class OutsideTheTestTests(unittest.TestCase):
    def test_start_background_in_a_synchronous_set_up_is_a_runtime_error_and_the_coroutine_is_closed(self) -> None:
        caught: list[BaseException] = []

        class Inner(AsyncTestCase):
            def setUp(self) -> None:
                with warnings.catch_warnings(record=True) as seen:
                    warnings.simplefilter("always")
                    try:
                        self.start_background(heartbeat())
                    except RuntimeError as error:
                        caught.append(error)
                    import gc
                    gc.collect()
                caught.extend(w.message for w in seen if isinstance(w.message, Warning))  # type: ignore[misc]

            async def test_nothing(self) -> None:
                pass

        self.assertEqual(problems(run_tests(Inner, "test_nothing")), [])
        self.assertEqual([type(e) for e in caught], [RuntimeError])
        self.assertEqual(str(caught[0]), "start_background() must be called inside the running test (asyncSetUp, "
                                         "an async test method, asyncTearDown or an async cleanup), on the test's "
                                         "event loop")


# ---------------------------------------------------------------------------------------------------------
# BackgroundTasks on its own (any loop)
# ---------------------------------------------------------------------------------------------------------

class BackgroundTasksOnAPlainLoopTests(unittest.TestCase):
    def test_async_with_stops_the_tasks_on_a_plain_asyncio_loop(self) -> None:
        stopped: list[bool] = []

        async def main() -> tuple[bool, bool]:
            async def service() -> None:
                try:
                    await asyncio.Event().wait()
                finally:
                    stopped.append(True)

            async with BackgroundTasks() as background:
                task = background.start(service(), name="service")
                await asyncio.sleep(0)
                running = not task.done()
            return running, task.cancelled()

        self.assertEqual(asyncio.run(main()), (True, True))
        self.assertEqual(stopped, [True])

    def test_a_failure_is_raised_by_aclose_and_an_exception_of_the_block_wins(self) -> None:
        async def boom() -> None:
            raise OSError("disk full")

        async def closed_explicitly() -> None:
            background = BackgroundTasks()
            background.start(boom(), name="writer")
            await asyncio.sleep(0)
            await background.aclose()

        with self.assertRaisesRegex(AssertionError, r"^background task 'writer' \(boom\(\)\) raised OSError: disk full"):
            asyncio.run(closed_explicitly())

        async def block_raises() -> None:
            async with BackgroundTasks() as background:
                background.start(boom(), name="writer")
                await asyncio.sleep(0)
                raise KeyError("the block's own error")

        with self.assertRaises(KeyError):
            asyncio.run(block_raises())

    def test_misuse_outside_a_loop_after_close_and_on_another_loop_is_a_runtime_error(self) -> None:
        background = BackgroundTasks()
        coro = heartbeat()
        with self.assertRaisesRegex(RuntimeError, r"^BackgroundTasks\.start\(\) must be called while an event loop "
                                                  r"runs"):
            background.start(coro)
        self.assertIsNone(coro.cr_frame)

        async def use() -> None:
            background.start(heartbeat(), name="x")

        asyncio.run(use())  # asyncio.run cancels it at the end
        with self.assertRaisesRegex(RuntimeError, "runs on another event loop"):
            asyncio.run(use())

        async def close_then_start() -> None:
            group = BackgroundTasks()
            await group.aclose()
            self.assertTrue(group.closed)
            group.start(heartbeat())

        with self.assertRaisesRegex(RuntimeError, "this BackgroundTasks group is closed"):
            asyncio.run(close_then_start())

    def test_tasks_run_in_a_copy_of_the_callers_context_marked_as_background(self) -> None:
        request = contextvars.ContextVar("request", default="none")

        async def main() -> tuple[str, bool, bool]:
            request.set("r-1")

            async def read() -> tuple[str, bool]:
                return request.get(), OWNER.get() is not None

            async with BackgroundTasks() as background:
                task = background.start(read())
                seen, marked = await task
            return seen, marked, OWNER.get() is not None

        self.assertEqual(asyncio.run(main()), ("r-1", True, False))
        self.assertEqual(background_tasks_names(), [])


def background_tasks_names() -> list[str]:
    """Nothing of a closed group lingers in the caller's context (the mark never leaks into it)."""
    return [] if OWNER.get() is None else ["leaked"]


if __name__ == "__main__":
    unittest.main()
