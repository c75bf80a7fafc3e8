"""SlowCall: latency kinds, scripted outcomes, call records, peak concurrency, failure text and misuse."""

from __future__ import annotations

import asyncio
import itertools
import unittest
from unittest import mock

from asynctestkit import AsyncTestCase, DeadlockError, SlowCall
from tests.clock._clock_support import failure_of, run_tests


class Session:
    """What the fakes stand in for in these tests (spec and autospec source)."""

    async def get(self, url: str, *, timeout: float = 10.0) -> str:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SlowCallOnVirtualClockTest(AsyncTestCase):
    async def test_fixed_latency_call_ends_exactly_half_a_second_later_and_returns_the_script(self) -> None:
        fake = SlowCall(["body"], latency=0.5, name="get")
        get = fake.mock()
        self.assertEqual(await get("/a"), "body")
        self.assertEqual((fake.start_times, fake.end_times), ([0.0], [0.5]))
        self.assertEqual(self.clock.now(), 0.5)
        get.assert_awaited_once_with("/a")
        call = fake.calls[0]
        self.assertEqual((call.number, call.args, call.kwargs, call.outcome, call.result, call.duration),
                         (1, ("/a",), {}, "returned", "body", 0.5))

    async def test_autospec_child_keeps_signature_checks_and_assert_awaited(self) -> None:
        session = mock.create_autospec(Session, instance=True)
        fake = SlowCall([ConnectionError("reset"), "ok"], latency=[0.25, 1.0]).attach(session.get)
        self.assertIs(fake, session.get)
        with self.assertRaises(ConnectionError):
            await session.get("/a", timeout=1.0)
        self.assertEqual(await session.get("/b"), "ok")
        session.get.assert_awaited_with("/b")
        self.assertEqual(session.get.await_count, 2)
        with self.assertRaises(TypeError):   # autospec still checks the signature, before any latency
            await session.get("/c", bogus=1)
        self.assertEqual(self.clock.now(), 1.25)

    async def test_spec_mock_rejects_unknown_attributes_and_returns_return_value_without_script(self) -> None:
        fake = SlowCall(latency=2.0)
        get = fake.mock(spec=Session.get, return_value="default")
        self.assertEqual(await get(None, "/a"), "default")
        self.assertEqual(fake.end_times, [2.0])
        with self.assertRaises(AttributeError):
            get.no_such_attribute  # noqa: B018
        self.assertEqual(await SlowCall([mock.DEFAULT]).mock(return_value=7)(), 7)

    async def test_exception_class_and_instance_are_raised_after_their_latency(self) -> None:
        fake = SlowCall([KeyError, ValueError("bad")], latency=1.0)
        get = fake.mock()
        with self.assertRaises(KeyError):
            await get()
        with self.assertRaisesRegex(ValueError, "^bad$"):
            await get()
        self.assertEqual(fake.end_times, [1.0, 2.0])
        self.assertEqual([c.outcome for c in fake.calls], ["raised", "raised"])
        self.assertIsInstance(fake.calls[1].exception, ValueError)

    async def test_timeout_outcome_raises_asyncio_timeout_error_after_its_latency(self) -> None:
        fake = SlowCall([SlowCall.TIMEOUT], latency=30, name="query")
        with self.assertRaisesRegex(asyncio.TimeoutError, r"^query call #1 timed out after 30\.000s \(scripted\)$"):
            await fake.mock()()
        self.assertEqual(self.clock.now(), 30.0)

    async def test_hang_outcome_waits_until_the_callers_timeout_cancels_it(self) -> None:
        fake = SlowCall([SlowCall.HANG, "late"], latency=0.1)
        get = fake.mock()
        with self.assertRaises(asyncio.TimeoutError):
            await asyncio.wait_for(get(), 5)
        self.assertEqual(await get(), "late")
        self.assertEqual([(c.outcome, c.start, c.end) for c in fake.calls],
                         [("cancelled", 0.0, 5.0), ("returned", 5.0, 5.1)])

    async def test_an_endless_script_is_taken_one_outcome_per_call(self) -> None:
        get = SlowCall(itertools.cycle([OSError, "ok"]), latency=1.0).mock()
        for _ in range(3):
            with self.assertRaises(OSError):
                await get()
            self.assertEqual(await get(), "ok")
        self.assertEqual(self.clock.now(), 6.0)

    async def test_per_call_and_callable_latency(self) -> None:
        fake = SlowCall(latency=lambda call: 0.5 * call.number)
        get = fake.mock()
        for _ in range(3):
            await get()
        self.assertEqual(fake.end_times, [0.5, 1.5, 3.0])

    async def test_same_seed_gives_the_same_random_latencies(self) -> None:
        def jitter(call: object) -> float:
            return call.random.uniform(0.1, 0.9)  # type: ignore[attr-defined, no-any-return]

        runs = []
        for _ in range(2):
            fake = SlowCall(latency=jitter, seed=1234)
            get = fake.mock()
            for _ in range(4):
                await get()
            runs.append([c.latency for c in fake.calls])
        self.assertEqual(runs[0], runs[1])
        self.assertEqual(len(set(runs[0])), 4)
        self.assertEqual(repr(fake), "<SlowCall 'fake': 4 calls, peak concurrency 1, seed=1234>")
        self.assertEqual(repr(SlowCall()), "<SlowCall 'fake': 0 calls, peak concurrency 0>")

    async def test_peak_concurrency_under_a_semaphore_is_the_semaphore_size(self) -> None:
        fake = SlowCall(latency=1.0)
        get = fake.mock()
        limit = asyncio.Semaphore(3)

        async def limited(i: int) -> None:
            async with limit:
                await get(i)

        await asyncio.gather(*(limited(i) for i in range(7)))
        self.assertEqual(fake.peak_concurrency, 3)
        self.assertEqual(fake.in_flight, 0)
        fake.assert_peak_concurrency(at_most=3)                       # no false positive at the limit
        self.assertEqual(fake.start_times, [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0])

    async def test_peak_concurrency_failure_lists_the_calls_in_flight_at_the_peak(self) -> None:
        fake = SlowCall(latency=1.0, name="get")
        get = fake.mock()
        await asyncio.gather(get("/a"), get("/b"), get("/c"))
        with self.assertRaises(AssertionError) as caught:
            fake.assert_peak_concurrency(at_most=2)
        self.assertEqual(str(caught.exception),
                         "get: 3 calls in flight at once, expected at most 2 (reached at t=0.000s)\n"
                         "  call #1 get('/a') started at t=0.000s, returned after 1.000s\n"
                         "  call #2 get('/b') started at t=0.000s, returned after 1.000s\n"
                         "  call #3 get('/c') started at t=0.000s, returned after 1.000s")

    async def test_start_times_failure_names_the_first_difference_and_the_seed_when_random(self) -> None:
        fake = SlowCall([OSError, "ok"], latency=lambda call: call.random.choice([1.0]), seed=42, name="get")
        get = fake.mock()
        with self.assertRaises(OSError):
            await get("/x")
        await asyncio.sleep(0.5)
        await get("/x")
        with self.assertRaises(AssertionError) as caught:
            fake.assert_start_times([0.0, 1.0])
        self.assertEqual(str(caught.exception),
                         "get: calls started at [0.0, 1.5], expected [0.0, 1.0]\n"
                         "  first difference: call #2 started at t=1.500s, expected t=1.000s\n"
                         "  call #1 get('/x') started at t=0.000s, raised OSError after 1.000s\n"
                         "  call #2 get('/x') started at t=1.500s, returned after 1.000s\n"
                         "  random latencies: seed=42 (replay with SlowCall(..., seed=42))")
        fake.assert_start_times([0.0, 1.5])

    async def test_seed_is_not_mentioned_when_no_latency_was_random(self) -> None:
        fake = SlowCall(latency=1.0, name="get")
        await fake.mock()()
        with self.assertRaises(AssertionError) as caught:
            fake.assert_start_times([0.0, 1.0])
        self.assertNotIn("seed", str(caught.exception))
        self.assertIn("  1 calls were made, 2 expected", str(caught.exception))

    async def test_a_call_beyond_the_script_raises_saying_how_many_were_scripted(self) -> None:
        get = SlowCall(["one"], name="get").mock()
        await get()
        with self.assertRaisesRegex(RuntimeError, r"^get call #2 has no scripted outcome: "
                                                  r"SlowCall\(outcomes=\.\.\.\) scripts 1 calls$"):
            await get()
        fake = SlowCall(latency=[1.0], name="get")
        await fake.side_effect()
        with self.assertRaisesRegex(RuntimeError, r"^get call #2 has no latency: "
                                                  r"SlowCall\(latency=\[\.\.\.\]\) gives 1 values$"):
            await fake.side_effect()

    async def test_the_fake_itself_as_side_effect_says_what_to_pass_instead(self) -> None:
        get = mock.AsyncMock(side_effect=SlowCall(name="get"))
        with self.assertRaisesRegex(TypeError, r"^SlowCall 'get' was given to an AsyncMock as side_effect; pass "
                                               r"side_effect=fake\.side_effect, or use fake\.attach\(mock\) or "
                                               r"fake\.mock\(\)$"):
            await get()

    async def test_a_latency_callable_returning_a_negative_number_raises_at_the_call(self) -> None:
        get = SlowCall(latency=lambda call: -1.0).mock()
        with self.assertRaisesRegex(ValueError, r"SlowCall\(latency=\.\.\.\) returned for call #1, which must be "):
            await get()


class SlowCallOnPlainTestCaseTest(unittest.IsolatedAsyncioTestCase):
    async def test_latency_is_real_time_on_the_running_loop(self) -> None:
        fake = SlowCall([ConnectionError(), "ok"], latency=0.02)
        get = fake.mock()
        loop_start = asyncio.get_running_loop().time()
        with self.assertRaises(ConnectionError):
            await get()
        self.assertEqual(await get(), "ok")
        get.assert_awaited()
        first, second = fake.calls
        self.assertGreaterEqual(first.start, loop_start)
        self.assertGreaterEqual(second.start, first.end)  # type: ignore[operator]
        self.assertGreaterEqual(second.duration, 0.01)    # asyncio may wake a clock resolution early
        self.assertLess(second.duration, 5.0)             # type: ignore[operator]

    async def test_peak_concurrency_in_real_time(self) -> None:
        fake = SlowCall(latency=0.01)
        get = fake.mock()
        await asyncio.gather(get(), get())
        self.assertEqual(fake.peak_concurrency, 2)


def _hanging_case() -> type[AsyncTestCase]:
    """An inner test (run by SlowCallHangReportTest, not by discovery) stuck on a HANG call."""

    class _Hangs(AsyncTestCase):
        async def test_awaits_a_hanging_call(self) -> None:
            get = SlowCall([SlowCall.HANG], name="get").mock()
            await get("/a")

        async def test_too_many_in_flight(self) -> None:
            fake = SlowCall(latency=1.0, name="get")
            get = fake.mock()
            await asyncio.gather(get(), get())
            fake.assert_peak_concurrency(at_most=1)

    return _Hangs


class SlowCallHangReportTest(unittest.TestCase):
    def test_a_hanging_call_without_timeout_is_a_deadlock_naming_the_call(self) -> None:
        result = run_tests(_hanging_case(), "test_awaits_a_hanging_call")
        text = failure_of(self, result, "test_awaits_a_hanging_call")
        self.assertIn(DeadlockError.__name__, text)
        self.assertRegex(text, r"suspended at \S*test_slow\.py:\d+ in test_awaits_a_hanging_call: "
                               r'await get\("/a"\)  \(awaiting'
                               r" get call #1: scripted SlowCall\.HANG\)")


class SlowCallFailureTracebackTest(unittest.TestCase):
    def test_a_failing_fake_assertion_ends_at_the_users_line(self) -> None:
        result = run_tests(_hanging_case(), "test_too_many_in_flight")
        text = failure_of(self, result, "test_too_many_in_flight")
        frames = [line for line in text.splitlines() if line.startswith("  File ")]
        self.assertIn("test_slow.py", frames[-1])
        self.assertNotIn("_slow.py", "".join(frames).replace("test_slow.py", ""))
        self.assertIn("AssertionError: get: 2 calls in flight at once, expected at most 1 (reached at t=0.000s)", text)


class SlowCallMisuseTest(unittest.TestCase):
    def test_bad_latency_names_the_parameter_and_what_is_allowed(self) -> None:
        with self.assertRaisesRegex(ValueError, r"^SlowCall\(latency=\.\.\.\) must be a finite number of seconds >= 0, "
                                                r"got -0\.5$"):
            SlowCall(latency=-0.5)
        with self.assertRaisesRegex(TypeError, r"^SlowCall\(latency=\.\.\.\) must be seconds, a sequence of seconds "
                                               r"\(one per call\) or a callable given the CallRecord, got NoneType"):
            SlowCall(latency=None)  # type: ignore[arg-type]
        with self.assertRaisesRegex(ValueError, r"^SlowCall\(latency=\[\.\.\.\]\) item 1 must be"):
            SlowCall(latency=[1.0, float("nan")])
        with self.assertRaisesRegex(TypeError, r"^SlowCall\(latency=\[\.\.\.\]\) item 0 must be"):
            SlowCall(latency=["1"])  # type: ignore[list-item]
        with self.assertRaisesRegex(TypeError, r"^SlowCall\(latency=\.\.\.\) must be seconds, .* got str: '1'$"):
            SlowCall(latency="1")  # type: ignore[arg-type]

    def test_bad_outcomes_seed_name_and_attach_target(self) -> None:
        with self.assertRaisesRegex(TypeError, r"^SlowCall\(outcomes=\.\.\.\) must be a list of per-call outcomes "
                                               r"or None, got int: 5$"):
            SlowCall(5)  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, r"^SlowCall\(seed=\.\.\.\) must be an int or None, got str: 'x'$"):
            SlowCall(seed="x")  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, r"^SlowCall\(name=\.\.\.\) must be a str, got int: 1$"):
            SlowCall(name=1)  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, r"^SlowCall\.attach\(target\) needs an AsyncMock, got MagicMock"):
            SlowCall().attach(mock.MagicMock())  # type: ignore[arg-type]

    def test_assert_peak_concurrency_rejects_a_limit_below_one(self) -> None:
        with self.assertRaisesRegex(ValueError, r"^assert_peak_concurrency\(at_most=\.\.\.\) must be an int >= 1, got 0$"):
            SlowCall().assert_peak_concurrency(0)
        with self.assertRaisesRegex(TypeError, r"^assert_peak_concurrency\(at_most=\.\.\.\) must be an int >= 1, "
                                               r"got float: 2\.0$"):
            SlowCall().assert_peak_concurrency(2.0)  # type: ignore[arg-type]

    def test_a_random_seed_is_chosen_and_kept_when_none_is_given(self) -> None:
        fake = SlowCall()
        self.assertIsInstance(fake.seed, int)
        self.assertEqual(SlowCall(seed=7).seed, 7)


if __name__ == "__main__":
    unittest.main()
