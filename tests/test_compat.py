"""Canaries for every private asyncio/unittest name asynctestkit relies on (see asynctestkit/_compat.py).

If one of these fails on a new Python, the matching accessor in _compat.py needs a new branch: the failure
says which internal changed.
"""

from __future__ import annotations

import ast
import asyncio
import concurrent.futures
import concurrent.futures.thread as cf_thread
import inspect
import math
import textwrap
import threading
import unittest
import warnings
from typing import Any

from asynctestkit import _compat


class PrivateUnittestNamesTests(unittest.TestCase):
    def test_isolated_asyncio_test_case_still_has_the_methods_we_override(self) -> None:
        for name in _compat.IATC_PRIVATE_METHODS:
            with self.subTest(name=name):
                self.assertTrue(
                    callable(getattr(unittest.IsolatedAsyncioTestCase, name, None)),
                    f"unittest.IsolatedAsyncioTestCase.{name} is gone: asynctestkit hooks into it",
                )

    def test_call_async_signatures_take_the_function_first(self) -> None:
        for name in ("_callAsync", "_callMaybeAsync"):
            params = list(inspect.signature(getattr(unittest.IsolatedAsyncioTestCase, name)).parameters)
            self.assertEqual(params[:2], ["self", "func"], f"{name} changed its signature")

    @unittest.skipUnless(_compat.PY311, "asyncio.Runner is new in 3.11")
    def test_runner_run_creates_the_task_of_its_coroutine_itself(self) -> None:
        from asynctestkit.clock import VirtualClockLoop

        async def main() -> object:
            return asyncio.current_task()

        self.assertIs(_compat.RUNNER_RUN_CODE, asyncio.Runner.run.__code__)
        claimed: list[object] = []

        class Claim:
            owner = None  # no phase under way (see _phase.PhaseClaim)

            def __call__(self, on: object, task: object, debug: bool) -> None:
                claimed.append((on, task))

        with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:
            loop = runner.get_loop()
            assert isinstance(loop, VirtualClockLoop)
            self.assertIsNone(loop._atk_claim_phase(Claim()))
            other = loop.create_task(asyncio.sleep(0))  # not created by Runner.run: not the phase task
            self.assertEqual(claimed, [])
            task = runner.run(main())
            self.assertTrue(other.done())
            second = runner.run(main())  # every task Runner.run creates is handed to the claim
        self.assertEqual(claimed, [(loop, task), (loop, second)],
                         "Runner.run no longer creates its task with loop.create_task()")

    @unittest.skipIf(_compat.PY311, "3.10 only: one long-lived runner task")
    def test_iatc_runner_task_is_the_task_that_runs_each_phase(self) -> None:  # pragma: no cover - 3.10
        seen: list[object] = []

        class Case(unittest.IsolatedAsyncioTestCase):
            async def test_x(self) -> None:
                seen.extend([asyncio.current_task(), _compat.iatc_runner_task(self)])

        result = unittest.TestResult()
        Case("test_x").run(result)
        self.assertTrue(result.wasSuccessful(), result.errors)
        self.assertIsNotNone(seen[0])
        self.assertIs(seen[0], seen[1])

    @unittest.skipUnless(_compat.HAS_LOOP_FACTORY, "loop_factory is public from 3.13")
    def test_loop_factory_attribute_exists(self) -> None:
        self.assertIn("loop_factory", vars(unittest.IsolatedAsyncioTestCase))


class PrivateAsyncioNamesTests(unittest.TestCase):
    def test_second_timer_is_read_from_the_heap_children(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            self.assertIsNone(_compat.second_timer_when(loop))
            now = loop.time()
            handles = [loop.call_at(now + d, lambda: None) for d in (30, 10, 20, 40)]
            self.assertEqual(_compat.next_timer_when(loop), now + 10)
            self.assertEqual(_compat.second_timer_when(loop), now + 20)
            for handle in handles:
                handle.cancel()
        finally:
            loop.close()

    def test_earliest_timer_from_a_time_on_a_short_heap(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            self.assertEqual(_compat.earliest_timer_from(loop, 0.0, 8), math.inf)
            now = loop.time()
            handles = [loop.call_at(now + d, lambda: None) for d in (0.5, 30, 10)]
            self.assertEqual(_compat.earliest_timer_from(loop, now + 1, 8), now + 10)
            handles[2].cancel()  # a cancelled timer no longer counts
            self.assertEqual(_compat.earliest_timer_from(loop, now + 1, 8), now + 30)
            self.assertIsNone(_compat.earliest_timer_from(loop, now + 1, 2), "a longer heap than the limit")
            for handle in handles:
                handle.cancel()
        finally:
            loop.close()

    def test_loop_timer_heap_and_ready_queue(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            self.assertIsNone(_compat.next_timer_when(loop))
            self.assertFalse(_compat.has_ready_callbacks(loop))
            handle = loop.call_at(loop.time() + 10, lambda: None)
            self.assertEqual(_compat.next_timer_when(loop), handle.when())
            self.assertEqual(_compat.scheduled_handles(loop), [handle])
            handle.cancel()
            self.assertEqual(_compat.scheduled_handles(loop), [])
            loop.call_soon(lambda: None)
            self.assertTrue(_compat.has_ready_callbacks(loop))
            self.assertEqual(_compat.ready_count(loop), 1)
        finally:
            loop.close()

    def test_task_waiter_and_source_traceback(self) -> None:
        async def main() -> None:
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            task = asyncio.ensure_future(asyncio.wait_for(fut, 10))
            await asyncio.sleep(0)
            self.assertIsNotNone(_compat.task_waiter(task))
            self.assertIsNotNone(_compat.source_traceback(task), "debug mode records _source_traceback")
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task

        asyncio.run(main(), debug=True)

    def test_executor_worker_registry(self) -> None:
        self.assertTrue(hasattr(cf_thread, "_threads_queues"),
                        "concurrent.futures.thread._threads_queues is gone")
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(lambda: None).result()
            workers = _compat.executor_worker_threads()
            self.assertTrue(any(t.is_alive() for t in workers))

    def test_future_log_traceback_flag(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            fut = loop.create_future()
            fut.set_exception(KeyError("x"))
            self.assertTrue(_compat.exception_never_retrieved(fut))
            fut.exception()
            self.assertFalse(_compat.exception_never_retrieved(fut))
        finally:
            loop.close()

    def test_destroy_pending_flag_is_settable(self) -> None:
        async def main() -> None:
            task = asyncio.ensure_future(asyncio.sleep(1))
            _compat.silence_destroy_pending(task)
            self.assertFalse(task._log_destroy_pending)  # type: ignore[attr-defined]
            task.cancel()

        asyncio.run(main())

    def test_loop_asyncgens_and_default_executor(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            self.assertEqual(_compat.loop_asyncgens(loop), [])
            self.assertTrue(hasattr(loop, "_asyncgens"))
            self.assertIsNone(_compat.default_executor(loop))
            loop.run_until_complete(loop.run_in_executor(None, lambda: None))
            self.assertIsNotNone(_compat.default_executor(loop))
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()



# --- assertions ---
class AssertionsPrivateNamesTests(unittest.TestCase):
    """``_compat.observe_selects`` relies on ``BaseSelectorEventLoop._selector`` and on ``_run_once`` calling
    ``_selector.select(timeout)`` once per iteration, with 0 when work is ready and None/>0 when idle."""

    def test_selector_loop_polls_once_per_iteration_with_the_idle_timeout(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            self.assertTrue(callable(getattr(loop._selector, "select", None)),  # type: ignore[attr-defined]
                            "BaseSelectorEventLoop._selector is gone: observe_selects needs a new branch")
            timeouts: list[float | None] = []
            remove = _compat.observe_selects(loop, lambda t: timeouts.append(t) is None and False)

            async def main() -> None:
                await asyncio.sleep(0)       # ready again at once: a poll with timeout 0
                await asyncio.sleep(0.001)   # waits for a timer: a poll with a positive timeout

            loop.run_until_complete(main())
            remove()
            self.assertIn(0, timeouts)
            self.assertTrue(any(t is not None and t > 0 for t in timeouts), timeouts)
            self.assertNotIn("select", vars(loop._selector))  # type: ignore[attr-defined]
        finally:
            loop.close()

    def test_forcing_a_non_blocking_poll(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            fut = loop.create_future()

            def observe(timeout: float | None) -> bool:
                if timeout is None and not fut.done():
                    fut.set_result("woken")  # scheduled work: the poll must not block
                    return True
                return False

            remove = _compat.observe_selects(loop, observe)
            self.assertEqual(loop.run_until_complete(fut), "woken")
            remove()
        finally:
            loop.close()

    @unittest.skipUnless(_compat.PY311, "Task.cancelling()/uncancel() are 3.11+")
    def test_cancelling_and_uncancel(self) -> None:
        async def main() -> None:
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
            self.assertEqual(_compat.cancelling(task), 1)
            self.assertEqual(_compat.uncancel(task), 0)
            with self.assertRaises(asyncio.CancelledError):  # 3.11/3.12 keep the pending request
                await asyncio.sleep(0)
                if _compat.PY313:
                    raise asyncio.CancelledError  # 3.13 rescinds it at zero: nothing was raised

        asyncio.run(main())

    def test_test_already_failed_sees_failures_errors_skips_in_a_cleanup(self) -> None:
        seen: dict[str, object] = {}

        class Case(unittest.TestCase):
            def note(self) -> None:
                seen[self._testMethodName] = _compat.test_already_failed(self)

            def setUp(self) -> None:
                self.addCleanup(self.note)

            def test_pass(self) -> None:
                pass

            def test_fail(self) -> None:
                self.fail("x")

            def test_error(self) -> None:
                raise KeyError

            def test_skip(self) -> None:
                self.skipTest("s")

            def test_subtest(self) -> None:
                with self.subTest(i=1):
                    self.fail("sub")

            @unittest.expectedFailure
            def test_expected(self) -> None:
                self.fail("expected")

        for name in ("test_pass", "test_fail", "test_error", "test_skip", "test_subtest", "test_expected"):
            Case(name).run(unittest.TestResult())
        self.assertEqual(seen, {"test_pass": False, "test_fail": True, "test_error": True, "test_skip": True,
                                "test_subtest": True, "test_expected": True})
        self.assertIsNone(_compat.test_already_failed(Case("test_pass")))  # not running: unknown


# --- leak checks ---------------------------------------------------------------------------------------

class LeakChecksPrivateNamesTests(unittest.TestCase):
    """Canaries for the ``# --- leak checks ---`` accessors of _compat.py."""

    def test_unittest_methods_the_leak_mixin_overrides_exist(self) -> None:
        for name in _compat.LEAK_HOOK_METHODS:
            with self.subTest(name=name):
                owner = unittest.TestCase if name == "_feedErrorsToResult" else unittest.IsolatedAsyncioTestCase
                self.assertTrue(callable(getattr(owner, name, None)), f"{name} is gone: LeakCheckMixin hooks it")

    def test_test_case_loop_outcome_success_and_result(self) -> None:
        seen: dict[str, object] = {}

        class Case(unittest.IsolatedAsyncioTestCase):
            def setUp(self) -> None:
                seen["loop"] = _compat.test_case_loop(self)

            async def test_x(self) -> None:
                seen["running"] = asyncio.get_running_loop()
                seen["result"] = _compat.outcome_result(self)
                seen["before"] = _compat.outcome_success(self)
                with self.subTest(part=1):
                    self.fail("subtest")

            def tearDown(self) -> None:
                seen["after_subtest"] = _compat.outcome_success(self)

        result = unittest.TestResult()
        Case("test_x").run(result)
        self.assertIs(seen["loop"], seen["running"])
        self.assertIs(seen["result"], result)
        self.assertTrue(seen["before"])
        self.assertTrue(seen["after_subtest"], "each part starts with success reset")
        self.assertEqual(len(result.failures), 1)

    def test_forget_task_removes_it_from_all_tasks(self) -> None:
        async def main() -> None:
            task = asyncio.ensure_future(asyncio.sleep(10))
            _compat.forget_task(task)
            self.assertNotIn(task, asyncio.all_tasks())
            task.cancel()

        asyncio.run(main())

    def test_thread_target_and_handle_callback(self) -> None:
        def work() -> None:
            pass

        thread = threading.Thread(target=work)
        self.assertIs(_compat.thread_target(thread), work)
        loop = asyncio.new_event_loop()
        try:
            handle = loop.call_later(10, work)
            self.assertIs(_compat.handle_callback(handle), work)
            handle.cancel()
        finally:
            loop.close()

    def test_thread_count_is_the_private_counter_and_sees_a_thread_once_start_returns(self) -> None:
        import _thread
        self.assertIs(_compat.thread_count, _thread._count, "_thread._count() is gone: the fallback "
                      "threading.active_count() works but costs ~300 ns per jump of the clock")
        release = threading.Event()
        before = _compat.thread_count()
        thread = threading.Thread(target=release.wait)
        thread.start()
        try:
            self.assertEqual(_compat.thread_count(), before + 1)
        finally:
            release.set()
            thread.join()
        for _ in range(200):  # the count drops as the thread's state is torn down, right after join()
            if _compat.thread_count() == before:
                break
            threading.Event().wait(0.005)
        self.assertEqual(_compat.thread_count(), before)

    def test_object_loop_for_futures_and_transports(self) -> None:
        async def main() -> None:
            loop = asyncio.get_running_loop()
            self.assertIs(_compat.object_loop(loop.create_future()), loop)
            transport, _protocol = await loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                                     local_addr=("127.0.0.1", 0))
            self.assertIs(_compat.object_loop(transport), loop)  # private _loop of asyncio transports
            transport.close()
            self.assertIsNone(_compat.object_loop(object()))

        asyncio.run(main())

    def test_showwarnmsg_hook_receives_the_warning_source(self) -> None:
        received: list[object] = []
        source = object()
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            previous = _compat.swap_showwarnmsg(lambda msg: received.append(msg.source))
            try:
                warnings.warn("x", ResourceWarning, stacklevel=2, source=source)
            finally:
                _compat.swap_showwarnmsg(previous)
            self.assertIs(received[0], source)
            state = _compat.warnings_display_state()
            with warnings.catch_warnings(record=True):
                self.assertNotEqual(_compat.warnings_display_state(), state, "record=True must show up")


class VirtualClockPrivateNamesTests(unittest.TestCase):
    """Canaries for the virtual clock's private names (see the "virtual clock" section of _compat.py)."""

    def test_the_loop_runs_timers_within_its_clock_resolution_and_it_can_be_widened(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            self.assertEqual(_compat.clock_resolution(loop), loop._clock_resolution)  # type: ignore[attr-defined]
            _compat.set_clock_resolution(loop, 3600.0)
            self.assertEqual(_compat.clock_resolution(loop), 3600.0)
            ran: list[str] = []
            loop.call_later(60, ran.append, "early")  # due within the widened resolution: runs at once
            loop.run_until_complete(asyncio.sleep(0))
            loop.run_until_complete(asyncio.sleep(0))
            self.assertEqual(ran, ["early"], "_run_once no longer reads _clock_resolution")
        finally:
            loop.close()

    def test_handle_args(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            handle = loop.call_later(10, print, "a", 2)
            self.assertEqual(_compat.handle_args(handle), ("a", 2))
            handle.cancel()
        finally:
            loop.close()

    def test_busy_executor_jobs_sees_running_and_handed_over_jobs(self) -> None:
        def marker() -> None:
            release.wait(5)

        release = threading.Event()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(int).result()
            self.assertTrue(_compat.has_executor_workers())
            deadline = 0
            while _compat.busy_executor_jobs() and deadline < 500:  # the worker settles into idle
                deadline += 1
                threading.Event().wait(0.001)
            self.assertEqual(_compat.busy_executor_jobs(), [])
            first = pool.submit(marker)
            jobs = _compat.busy_executor_jobs()  # running, or handed over and about to run
            self.assertTrue(jobs, "a submitted job is invisible: worker frames or _idle_semaphore changed")
            second = pool.submit(int)  # queued behind the first
            for _ in range(500):
                if any(fn is marker for _thread, fn in _compat.busy_executor_jobs()):
                    break
                threading.Event().wait(0.001)
            jobs = _compat.busy_executor_jobs()
            self.assertIn(marker, [fn for _thread, fn in jobs], "the running job's function is not found")
            self.assertIn((None, None), jobs, "the queued job is not counted")
            release.set()
            first.result()
            second.result()

    def test_the_threaded_child_watcher_still_waits_in_do_waitpid(self) -> None:
        import asyncio.unix_events as unix_events
        cls = vars(unix_events).get("ThreadedChildWatcher") or vars(unix_events)["_ThreadedChildWatcher"]
        self.assertTrue(callable(getattr(cls, "_do_waitpid", None)))
        watcher = cls.__new__(cls)
        watcher._threads = {}  # what __init__ would set; its __del__ reads it
        thread = threading.Thread(target=watcher._do_waitpid)
        self.assertTrue(_compat.is_child_watcher_thread(thread))
        self.assertFalse(_compat.is_child_watcher_thread(threading.Thread(target=print)))


if __name__ == "__main__":
    unittest.main()


class SelectorPeekTests(unittest.TestCase):
    def test_peeking_an_epoll_or_poll_selector_sees_readiness_and_consumes_nothing(self) -> None:
        import selectors
        import socket
        kinds = [getattr(selectors, name) for name in ("EpollSelector", "PollSelector") if hasattr(selectors, name)]
        self.assertTrue(kinds)
        for kind in kinds:
            with self.subTest(selector=kind.__name__):
                selector = kind()
                left, right = socket.socketpair()
                try:
                    peek = _compat.selector_peek(selector)
                    self.assertIsNot(peek, _compat._always_ready, f"{kind.__name__}._selector.poll is gone")
                    selector.register(left, selectors.EVENT_READ)
                    self.assertFalse(peek(0))
                    right.send(b"x")
                    self.assertTrue(peek(0))
                    self.assertTrue(peek(0), "level-triggered: a peek consumes nothing")
                    self.assertEqual([key.fileobj for key, _ in selector.select(0)], [left])
                finally:
                    selector.close()
                    left.close()
                    right.close()

    def test_other_selectors_always_answer_maybe(self) -> None:
        import selectors
        selector = selectors.SelectSelector()
        try:
            self.assertTrue(_compat.selector_peek(selector)(0))
        finally:
            selector.close()


class TimerOrderPrivateNamesTests(unittest.TestCase):
    """What ``_compat.call_at_in_scheduling_order`` mirrors from ``BaseEventLoop.call_at`` (3.10-3.14)."""

    def test_base_call_at_pushes_a_flagged_timer_handle_onto_the_scheduled_heap(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            handle = loop.call_at(loop.time() + 10, lambda: None)
            self.assertIs(type(handle), asyncio.TimerHandle)
            self.assertIn(handle, loop._scheduled)  # type: ignore[attr-defined]
            self.assertTrue(handle._scheduled)  # type: ignore[attr-defined]
            self.assertEqual(handle._when, handle.when())  # type: ignore[attr-defined]
            handle.cancel()
            self.assertEqual(loop._timer_cancelled_count, 1)  # type: ignore[attr-defined]
            for name in ("_check_closed", "_check_thread", "_check_callback", "_timer_handle_cancelled"):
                self.assertTrue(callable(getattr(loop, name, None)), f"BaseEventLoop.{name} is gone")
            self.assertIsInstance(loop._debug, bool)  # type: ignore[attr-defined]
        finally:
            loop.close()

    def test_timer_handle_constructor_and_slots(self) -> None:
        params = list(inspect.signature(asyncio.TimerHandle.__init__).parameters)
        self.assertEqual(params, ["self", "when", "callback", "args", "loop", "context"])
        self.assertEqual(set(asyncio.TimerHandle.__slots__), {"_scheduled", "_when"})
        self.assertIn("_source_traceback", asyncio.Handle.__slots__)

    def test_base_call_at_is_the_body_we_mirror(self) -> None:
        # The mirrored body: the None check (3.11+), _check_closed, the debug checks, TimerHandle(...), the
        # _source_traceback trim, heappush onto _scheduled, the _scheduled flag.  A change here needs a look.
        source = inspect.getsource(asyncio.BaseEventLoop.call_at)
        for fragment in ("self._check_closed()", "self._check_thread()", "self._check_callback(callback, 'call_at')",
                         "events.TimerHandle(when, callback, args, self, context)",
                         "del timer._source_traceback[-1]", "heapq.heappush(self._scheduled, timer)",
                         "timer._scheduled = True"):
            self.assertIn(fragment, source)
        statements = ast.parse(textwrap.dedent(source)).body[0].body  # type: ignore[attr-defined]
        self.assertEqual(len(statements), 9 if _compat.PY311 else 8, "call_at grew or shrank")

    def test_sequenced_handles_order_by_deadline_then_scheduling_order(self) -> None:
        from asynctestkit import VirtualClockLoop

        loop = VirtualClockLoop()
        try:
            late = loop.call_at(5.0, lambda: None)
            first = loop.call_at(1.0, lambda: None)
            second = loop.call_at(1.0, lambda: None)
            self.assertIsInstance(first, _compat.SequencedTimerHandle)
            self.assertTrue(first < second < late)
            self.assertTrue(late > second > first)
            self.assertTrue(first <= second and second >= first and first <= first)
            self.assertEqual(_compat.scheduled_handles(loop), [first, second, late])
            self.assertEqual(_compat.next_timer_when(loop), 1.0)
            plain = asyncio.TimerHandle(1.0, lambda: None, (), loop)
            self.assertFalse(plain < first or first < plain, "against asyncio's own handles: asyncio's order")
        finally:
            loop.close()


class BoundaryStragglersTests(unittest.TestCase):
    """Canaries for the names moved into _compat so that no other module reads a private name (test_boundaries)."""

    def test_test_method_name_is_the_name_of_the_method_the_case_runs(self) -> None:
        self.assertEqual(_compat.test_method_name(self), "test_test_method_name_is_the_name_of_the_method_the_case_runs")
        self.assertTrue(self.id().endswith("." + _compat.test_method_name(self)))

    def test_format_message_follows_long_message(self) -> None:
        self.assertEqual(_compat.format_message(self, None, "standard"), "standard")
        self.assertEqual(_compat.format_message(self, "mine", "standard"), "standard : mine")
        self.longMessage = False
        self.assertEqual(_compat.format_message(self, "mine", "standard"), "mine")

    def test_call_maybe_async_is_the_bound_method_that_runs_the_test_method(self) -> None:
        class Case(unittest.IsolatedAsyncioTestCase):
            def test_nothing(self) -> None:
                pass

        case = Case("test_nothing")
        method = _compat.call_maybe_async(case)
        self.assertIs(getattr(method, "__self__", None), case)
        self.assertIs(getattr(method, "__func__", None), vars(unittest.IsolatedAsyncioTestCase)["_callMaybeAsync"])
        self.assertEqual(list(inspect.signature(method).parameters)[:1], ["func"])

    def test_unittest_case_attributes_are_what_a_test_case_instance_holds(self) -> None:
        seen: set[str] = set()

        class Case(unittest.IsolatedAsyncioTestCase):
            async def asyncSetUp(self) -> None:
                seen.update(name for name in vars(self) if name.startswith("_") and not name.startswith("_atk_"))

            def test_nothing(self) -> None:
                pass

        Case("test_nothing").run(unittest.TestResult())
        self.assertTrue(seen, "a test case instance holds no private attribute any more")
        self.assertEqual(seen - _compat.UNITTEST_CASE_ATTRIBUTES, set(),
                         "unittest added a private attribute to test case instances: add it to the skip list")

    def test_for_version_picks_the_newest_choice_not_newer_than_this_interpreter(self) -> None:
        import sys

        here = sys.version_info[:2]
        self.assertEqual(_compat.for_version({(3, 10): "old", here: "here", (99, 0): "future"}), "here")
        self.assertEqual(_compat.for_version({(3, 10): "old", (99, 0): "future"}), "old")
        with self.assertRaises(ValueError):
            _compat.for_version({(99, 0): "future"})


class BackgroundAndTimerCanaryTests(unittest.TestCase):
    """The private names background work and timer inspection read (clock/_background.py, clock/_timers.py)."""

    def test_timer_heap_is_the_loops_own_list_with_cancelled_handles(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            kept = loop.call_later(2, print)
            gone = loop.call_later(1, print)
            gone.cancel()
            heap = _compat.timer_heap(loop)
            self.assertIsInstance(heap, list)
            self.assertEqual({id(h) for h in heap}, {id(kept), id(gone)})
            self.assertIs(heap[0], gone)  # a heap: the earliest first, cancelled or not
        finally:
            loop.close()

    def test_handle_context_is_the_context_the_callback_will_run_in(self) -> None:
        import contextvars

        var: contextvars.ContextVar[str] = contextvars.ContextVar("canary", default="unset")
        loop = asyncio.new_event_loop()
        try:
            context = contextvars.copy_context()
            context.run(var.set, "set")
            handle = context.run(loop.call_later, 1, print)
            self.assertEqual(_compat.handle_context(handle).get(var), "set")
            seen: list[str] = []
            loop.call_soon(lambda: seen.append(var.get()), context=_compat.handle_context(handle))
            loop.run_until_complete(asyncio.sleep(0))
            self.assertEqual(seen, ["set"])
            handle.cancel()
        finally:
            loop.close()

    def test_task_context_of_a_suspended_task_is_its_own_context(self) -> None:
        import contextvars

        var: contextvars.ContextVar[str] = contextvars.ContextVar("canary", default="unset")

        async def main() -> str:
            context = contextvars.copy_context()
            context.run(var.set, "task")
            task = context.run(asyncio.get_running_loop().create_task, asyncio.Event().wait())
            await asyncio.sleep(0)  # suspended on the event's future
            found = _compat.task_context(task)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return str(found.get(var)) if found is not None else "none"

        self.assertEqual(asyncio.run(main()), "task")

    def test_timeout_task_names_the_task_a_deadline_cancels(self) -> None:
        async def main() -> tuple[bool, bool]:
            loop = asyncio.get_running_loop()
            me = asyncio.current_task()
            plain = loop.call_later(5, print)
            named = None
            timeouts = getattr(asyncio, "timeout", None)
            if timeouts is not None:
                async with timeouts(5):
                    for handle in _compat.scheduled_handles(loop):
                        if handle is not plain:
                            named = _compat.timeout_task(_compat.handle_callback(handle))
            plain.cancel()
            return (_compat.timeout_task(_compat.handle_callback(plain)) is None,
                    named is me if timeouts is not None else True)

        self.assertEqual(asyncio.run(main()), (True, True))

    def test_peek_exception_reads_it_without_marking_it_retrieved(self) -> None:
        async def main() -> tuple[BaseException | None, bool, bool]:
            async def fail() -> None:
                raise ValueError("kept")

            task = asyncio.ensure_future(fail())
            await asyncio.gather(task, return_exceptions=True)  # gather retrieves: use a fresh future below
            fut = asyncio.get_running_loop().create_future()
            fut.set_exception(KeyError("peeked"))
            peeked = _compat.peek_exception(fut)
            still = _compat.exception_never_retrieved(fut)
            fut.exception()
            return peeked, still, _compat.exception_never_retrieved(fut)

        peeked, still, after = asyncio.run(main())
        self.assertIsInstance(peeked, KeyError)
        self.assertTrue(still)
        self.assertFalse(after)
class ScheduleNamesTests(unittest.TestCase):
    """Canaries for the names asynctestkit.explore reads (``_ready``, ``_run_once``, ``_process_events``,
    ``Handle._callback``): a loop under a schedule reorders each iteration through them."""

    def test_run_once_pops_its_batch_from_the_ready_queue_after_processing_events(self) -> None:
        import asyncio.base_events
        import collections

        source = inspect.getsource(asyncio.base_events.BaseEventLoop._run_once)
        self.assertIn("ntodo = len(self._ready)", source)
        self.assertIn("self._ready.popleft()", source)
        self.assertLess(source.index("self._process_events(event_list)"), source.index("ntodo = len(self._ready)"))
        loop = asyncio.SelectorEventLoop()
        try:
            self.assertIs(type(_compat.ready_queue(loop)), collections.deque)
        finally:
            loop.close()

    def test_a_swapped_ready_queue_and_the_events_hook_see_every_iteration(self) -> None:
        import collections

        pops: list[int] = []
        marks: list[int] = []

        class Counting(collections.deque):  # type: ignore[type-arg]
            def popleft(self) -> object:
                pops.append(len(self))
                return super().popleft()

        cls = _compat.loop_class_with_events_hook(asyncio.SelectorEventLoop, lambda ready: marks.append(len(ready)), {})
        loop = cls()
        _compat.swap_ready_queue(loop, Counting)
        self.assertIsInstance(_compat.ready_queue(loop), Counting)

        async def main() -> None:
            for _ in range(3):
                await asyncio.sleep(0)

        try:
            loop.run_until_complete(main())
        finally:
            loop.close()
        self.assertGreaterEqual(len(pops), 4)
        self.assertGreaterEqual(len(marks), 4)

    def test_handle_task_finds_the_task_of_a_step_and_of_a_wake_up_and_none_for_a_callback(self) -> None:
        found: list[object] = []

        async def waiter(fut: asyncio.Future[None]) -> None:
            await fut

        async def main() -> None:
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            task = asyncio.ensure_future(waiter(fut))
            found.append([_compat.handle_task(h) is task for h in _compat.ready_queue(loop)])  # first step
            await asyncio.sleep(0)
            fut.set_result(None)
            loop.call_soon(print)
            found.append([_compat.handle_task(h) is task for h in _compat.ready_queue(loop)])  # wake-up, callback
            await task

        asyncio.run(main())
        self.assertEqual(found, [[True], [True, False]])
class RawSignalCanaryTests(unittest.TestCase):
    """``_compat.raw_getsignal``/``raw_signal`` (the watchdog's C-level SIGALRM access) agree with ``signal``."""

    @unittest.skipUnless(hasattr(__import__("signal"), "SIGALRM"), "POSIX only")
    def test_raw_functions_read_and_set_the_same_handler_as_the_signal_module(self) -> None:
        import signal

        def handler(signum: int, frame: object) -> None:
            pass

        before = signal.getsignal(signal.SIGALRM)
        self.assertEqual(_compat.raw_getsignal(signal.SIGALRM), before)  # SIG_DFL == 0 (an IntEnum)
        previous = _compat.raw_signal(signal.SIGALRM, handler)
        try:
            self.assertEqual(previous, before)
            self.assertIs(_compat.raw_getsignal(signal.SIGALRM), handler)
            self.assertIs(signal.getsignal(signal.SIGALRM), handler)
        finally:
            signal.signal(signal.SIGALRM, before)
        self.assertEqual(_compat.raw_getsignal(signal.SIGALRM), before)

class LoopTasksTests(unittest.TestCase):
    """``_compat.loop_tasks``: ``asyncio.all_tasks(loop)``, answered from asyncio's task registries when empty."""

    def test_loop_tasks_is_all_tasks_with_tasks_alive_on_this_and_another_loop(self) -> None:
        loop, other = asyncio.new_event_loop(), asyncio.new_event_loop()
        self.addCleanup(loop.close)
        self.addCleanup(other.close)

        async def forever() -> None:
            await asyncio.Event().wait()

        self.assertEqual(_compat.loop_tasks(loop), set())
        elsewhere = other.create_task(forever())
        self.assertEqual(_compat.loop_tasks(loop), set(), "a task of another loop is not this loop's")
        self.assertEqual(_compat.loop_tasks(other), {elsewhere})
        mine = loop.create_task(forever())
        self.assertEqual(_compat.loop_tasks(loop), {mine})
        self.assertEqual(_compat.loop_tasks(loop), asyncio.all_tasks(loop))
        for task, owner in ((mine, loop), (elsewhere, other)):
            task.cancel()
            owner.run_until_complete(asyncio.gather(task, return_exceptions=True))
        self.assertEqual(_compat.loop_tasks(loop), set())
        self.assertEqual(_compat.loop_tasks(other), set())

    def test_the_registries_it_reads_hold_every_live_task(self) -> None:
        if _compat.PY314:  # pragma: no cover - 3.14 asks all_tasks() itself
            self.assertEqual(_compat._TASK_REGISTRIES, ())
            return
        loop = asyncio.new_event_loop()
        self.addCleanup(loop.close)

        async def idle() -> None:
            await asyncio.sleep(0)

        task = loop.create_task(idle())
        self.assertTrue(any(task in registry for registry in _compat._TASK_REGISTRIES),
                        "asyncio moved its task registry: loop_tasks() would miss tasks")
        loop.run_until_complete(task)
class TraceCompatTest(unittest.TestCase):
    """Canaries for the private names the task timeline (asynctestkit.trace) reads or overrides."""

    def test_a_traced_handle_runs_through_the_loop_tracer_and_keeps_its_slots(self) -> None:
        import asyncio

        calls: list[str] = []

        class Tracer:
            def run_handle(self, handle: asyncio.Handle, kind: str, run: Any) -> None:
                calls.append(kind)
                run(handle)

        loop = asyncio.new_event_loop()
        try:
            loop._atk_tracer = Tracer()  # type: ignore[attr-defined]
            handle = loop.call_soon(calls.append, "ran")
            _compat.trace_handle(handle, "call")
            self.assertIsInstance(handle, asyncio.Handle)
            _compat.trace_handle(handle, "call")  # twice: once traced, left alone
            loop.run_until_complete(asyncio.sleep(0))
        finally:
            loop.close()
        self.assertEqual(calls, ["call", "ran"])

    def test_selector_loops_keep_reader_and_writer_handles_in_key_data(self) -> None:
        import asyncio
        import socket

        loop = asyncio.SelectorEventLoop()
        left, right = socket.socketpair()
        try:
            loop.add_reader(left, lambda: None)
            key = loop._selector.get_key(left)  # type: ignore[attr-defined]
            reader, writer = key.data
            self.assertIsInstance(reader, asyncio.Handle)
            self.assertIsNone(writer)
            self.assertIn("_process_events", _compat.trace_overrides(asyncio.SelectorEventLoop))
        finally:
            loop.remove_reader(left)
            loop.close()
            left.close()
            right.close()

    def test_peeking_at_an_outcome_does_not_mark_the_exception_retrieved(self) -> None:
        import asyncio

        loop = asyncio.new_event_loop()
        try:
            fut = loop.create_future()
            error = ValueError("x")
            fut.set_exception(error)
            self.assertIs(_compat.future_exception_peek(fut), error)
            self.assertTrue(fut._log_traceback)  # type: ignore[attr-defined]
            fut.exception()
            done = loop.create_future()
            done.set_result(7)
            self.assertEqual(_compat.future_result_peek(done), 7)
        finally:
            loop.close()

    def test_asyncio_sleep_schedules_its_timer_with_the_known_callback(self) -> None:
        import asyncio

        seen: list[Any] = []

        class Loop(asyncio.SelectorEventLoop):
            def call_at(self, when: Any, callback: Any, *args: Any, context: Any = None) -> Any:
                seen.append(callback)
                return super().call_at(when, callback, *args, context=context)

        loop = Loop()
        try:
            loop.run_until_complete(asyncio.sleep(0.001))
        finally:
            loop.close()
        self.assertIsNotNone(_compat.SLEEP_TIMER_CALLBACK)
        self.assertIn(_compat.SLEEP_TIMER_CALLBACK, seen)


class EnvironHasTest(unittest.TestCase):
    def test_environ_has_follows_changes_to_os_environ(self) -> None:
        import os
        from unittest import mock

        probe = _compat.environ_has("ATK_COMPAT_PROBE")
        with mock.patch.dict(os.environ, {}):
            os.environ.pop("ATK_COMPAT_PROBE", None)
            self.assertFalse(probe())
            os.environ["ATK_COMPAT_PROBE"] = "1"
            self.assertTrue(probe())
            del os.environ["ATK_COMPAT_PROBE"]
            self.assertFalse(probe())
        self.assertIsInstance(getattr(os.environ, "_data", None), dict)  # the fast path is taken here
class OneFrameLoopMethodTests(unittest.TestCase):
    """Canaries for ``_compat.call_soon_in_one_frame`` and the plain-task path of asynctestkit's ``create_task()``."""

    def test_base_call_soon_is_still_the_closed_check_a_handle_and_the_ready_queue(self) -> None:
        call_soon = inspect.getsource(asyncio.base_events.BaseEventLoop.call_soon)
        helper = inspect.getsource(asyncio.base_events.BaseEventLoop._call_soon)
        for text in ("self._check_closed()", "self._check_thread()", "self._check_callback(callback, 'call_soon')",
                     "self._call_soon(callback, args, context)"):
            self.assertIn(text, call_soon)
        for text in ("events.Handle(callback, args, self, context)", "self._ready.append(handle)"):
            self.assertIn(text, helper)

    def test_call_soon_in_one_frame_queues_the_same_handle_as_call_soon(self) -> None:
        import contextvars

        loop = asyncio.new_event_loop()
        try:
            context = contextvars.copy_context()
            handle = _compat.call_soon_in_one_frame(loop, print, 1, 2, context=context)
            self.assertIs(type(handle), asyncio.Handle)
            self.assertIs(loop._ready[-1], handle)  # type: ignore[attr-defined]
            self.assertEqual((handle._callback, handle._args, handle._context),  # type: ignore[attr-defined]
                             (print, (1, 2), context))

            async def coro() -> None:
                pass

            loop.set_debug(True)
            with self.assertRaisesRegex(TypeError, r"coroutines cannot be used with call_soon\(\)"):
                _compat.call_soon_in_one_frame(loop, coro)
            traced = _compat.call_soon_in_one_frame(loop, print)  # traced-line
            last = traced._source_traceback[-1]  # type: ignore[attr-defined]
            self.assertEqual((last.name, last.line), (
                "test_call_soon_in_one_frame_queues_the_same_handle_as_call_soon",
                "traced = _compat.call_soon_in_one_frame(loop, print)  # traced-line"))
        finally:
            loop.close()
        with self.assertRaisesRegex(RuntimeError, "Event loop is closed"):
            _compat.call_soon_in_one_frame(loop, print)

    def test_base_create_task_without_factory_is_a_plain_task(self) -> None:
        source = inspect.getsource(asyncio.base_events.BaseEventLoop.create_task)
        self.assertIn("if self._task_factory is None:", source)
        self.assertRegex(source, r"tasks\.Task\(coro, loop=self, name=name(, context=context)?\)")

    def test_asynctestkit_loops_build_plain_tasks_only_while_the_base_would(self) -> None:
        import asynctestkit

        loop: Any = asynctestkit.VirtualClockLoop()
        try:
            self.assertTrue(loop._atk.plain_tasks)
            loop.set_debug(True)
            self.assertFalse(loop._atk.plain_tasks, "debug mode: the base method trims the creation traceback")
            loop.set_debug(False)
            self.assertTrue(loop._atk.plain_tasks)
            made: list[object] = []

            def factory(loop: Any, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
                made.append(coro)
                return asyncio.Task(coro, loop=loop, **kwargs)

            loop.set_task_factory(factory)
            self.assertFalse(loop._atk.plain_tasks)

            async def job() -> str:
                return "done"

            task = loop.create_task(job(), name="with-factory")
            self.assertEqual((len(made), task.get_name()), (1, "with-factory"))
            self.assertEqual(loop.run_until_complete(task), "done")
            loop.set_task_factory(None)
            self.assertTrue(loop._atk.plain_tasks)
            plain = loop.create_task(job(), name="plain")
            self.assertIs(type(plain), asyncio.Task)
            self.assertEqual(plain.get_name(), "plain")
            self.assertEqual(loop.run_until_complete(plain), "done")
        finally:
            loop.close()
        self.assertFalse(loop._atk.plain_tasks)
        coro = asyncio.sleep(0)
        with self.assertRaisesRegex(RuntimeError, "Event loop is closed"):
            loop.create_task(coro)
        coro.close()


class FilledHandleTests(unittest.TestCase):
    """Canaries for the handles ``call_soon_in_one_frame`` and ``call_at_in_scheduling_order`` fill slot by slot
    (debug mode off): the same state as asyncio's constructors give, on every interpreter."""

    @staticmethod
    def _state(handle: object) -> dict[str, Any]:
        names = [name for cls in type(handle).__mro__ for name in getattr(cls, "__slots__", ())
                 if name != "__weakref__"]
        return {name: getattr(handle, name, "<unset>") for name in names}

    def test_handle_slots_are_the_ones_filled(self) -> None:
        self.assertEqual(tuple(asyncio.Handle.__slots__), _compat._HANDLE_SLOTS)
        self.assertEqual(tuple(asyncio.TimerHandle.__slots__), ("_scheduled", "_when"))
        self.assertTrue(_compat._FILL_HANDLES and _compat._FILL_TIMERS)
        source = inspect.getsource(asyncio.Handle.__init__)
        for text in ("context = contextvars.copy_context()", "self._cancelled = False", "self._repr = None",
                     "self._source_traceback = None"):
            self.assertIn(text, source)

    def test_filled_handle_has_the_state_handle_init_gives(self) -> None:
        import contextvars

        loop = asyncio.new_event_loop()
        try:
            context = contextvars.copy_context()
            filled = _compat.call_soon_in_one_frame(loop, print, 1, 2, context=context)
            built = asyncio.Handle(print, (1, 2), loop, context)
            self.assertIs(type(filled), asyncio.Handle)
            self.assertEqual(self._state(filled), self._state(built))
            self.assertEqual(repr(filled), repr(built))
            own = _compat.call_soon_in_one_frame(loop, print)
            self.assertIsInstance(own._context, contextvars.Context)  # type: ignore[attr-defined]
            self.assertIsNot(own._context, context)  # type: ignore[attr-defined]
            filled.cancel()
            self.assertTrue(filled.cancelled())
            self.assertEqual(loop._ready.count(filled), 1)  # type: ignore[attr-defined]
        finally:
            loop.close()

    def test_filled_timer_has_the_state_timer_handle_init_gives(self) -> None:
        import contextvars

        from asynctestkit import VirtualClockLoop

        loop = VirtualClockLoop()
        try:
            context = contextvars.copy_context()
            filled = loop.call_at(3.0, print, "x", context=context)
            built = _compat.SequencedTimerHandle(3.0, print, ("x",), loop, context)
            built._atk_seq = filled._atk_seq  # type: ignore[attr-defined]
            built._scheduled = True  # type: ignore[attr-defined]
            self.assertIs(type(filled), _compat.SequencedTimerHandle)
            self.assertEqual(self._state(filled), self._state(built))
            self.assertEqual((filled.when(), repr(filled)), (built.when(), repr(built)))
            self.assertIn(filled, _compat.scheduled_handles(loop))
            filled.cancel()
            self.assertEqual(loop._timer_cancelled_count, 1)  # type: ignore[attr-defined]
        finally:
            loop.close()
        with self.assertRaisesRegex(RuntimeError, "Event loop is closed"):
            loop.call_at(4.0, print)

    def test_debug_mode_builds_handles_with_their_creation_traceback(self) -> None:
        from asynctestkit import VirtualClockLoop

        loop = VirtualClockLoop()
        try:
            loop.set_debug(True)
            soon = loop.call_soon(print)  # soon-line
            timer = loop.call_later(1.0, print)  # timer-line
            for handle, marker in ((soon, "# soon-line"), (timer, "# timer-line")):
                last = handle._source_traceback[-1]  # type: ignore[attr-defined]
                self.assertEqual(last.name, "test_debug_mode_builds_handles_with_their_creation_traceback")
                self.assertTrue(last.line.endswith(marker), last.line)
        finally:
            loop.set_debug(False)
            loop.close()


class LeakCheckInternalsTests(unittest.TestCase):
    """Canaries for the private unittest/threading state the leak check's quick verdict reads."""

    def test_pending_cleanups_is_the_list_add_cleanup_appends_to_and_do_cleanups_empties(self) -> None:
        case = unittest.TestCase()
        pending = _compat.pending_cleanups(case)
        case.addCleanup(print, "a", sep="")
        self.assertEqual(pending, [(print, ("a",), {"sep": ""})])
        pending.clear()  # do not print: only the shape matters
        case.addCleanup(int)
        case.doCleanups()
        self.assertEqual(_compat.pending_cleanups(case), [])

    def test_thread_registry_holds_running_threads_by_ident_and_started_ones_in_limbo(self) -> None:
        active, limbo = _compat.thread_registry()
        self.assertIs(active.get(threading.get_ident()), threading.current_thread())
        self.assertIsInstance(limbo, dict)
        gate = threading.Event()
        thread = threading.Thread(target=gate.wait)
        thread.start()
        try:
            self.assertIs(active.get(thread.ident), thread)
        finally:
            gate.set()
            thread.join()
        self.assertNotIn(thread.ident, active)
class SelfPipeRecyclingCanaryTests(unittest.TestCase):
    """``_compat.make_self_pipe``/``close_self_pipe`` stand in for asyncio's private self-pipe methods."""

    def test_asyncio_still_builds_and_closes_its_self_pipe_as_the_recycling_replaces_it(self) -> None:
        import selectors
        import sys

        base = asyncio.selector_events.BaseSelectorEventLoop
        make = inspect.getsource(base._make_self_pipe)  # type: ignore[attr-defined]
        for line in ("self._ssock, self._csock = socket.socketpair()", "self._internal_fds += 1",
                     "self._add_reader(self._ssock.fileno(), self._read_from_self)"):
            self.assertIn(line, make)
        close = inspect.getsource(base._close_self_pipe)  # type: ignore[attr-defined]
        for line in ("self._remove_reader(self._ssock.fileno())", "self._ssock = None", "self._csock = None",
                     "self._internal_fds -= 1"):
            self.assertIn(line, close)
        # close(): the self-pipe first, the selector last (so the selector is empty when it is closed).
        loop_close = inspect.getsource(base.close)
        self.assertLess(loop_close.index("self._close_self_pipe()"), loop_close.index("self._selector.close()"))
        plain = asyncio.SelectorEventLoop()
        try:
            key = plain._selector._fd_to_key[plain._ssock.fileno()]  # type: ignore[attr-defined]
            self.assertEqual((key.fd, key.events, key.data[0]._callback), (plain._ssock.fileno(),  # type: ignore[attr-defined]
                             selectors.EVENT_READ, plain._read_from_self))  # type: ignore[attr-defined]
            self.assertEqual(getattr(plain, "_signal_handlers", {}), {})
            self.assertIsInstance(plain._selector, selectors.DefaultSelector)  # type: ignore[attr-defined]
        finally:
            plain.close()
        if sys.platform != "win32":  # the unix loop removes its signal handlers after closing the self-pipe
            unix_close = inspect.getsource(asyncio.unix_events._UnixSelectorEventLoop.close)  # type: ignore[attr-defined]
            self.assertLess(unix_close.index("super().close()"), unix_close.index("remove_signal_handler"))

    def test_asynctestkit_loops_use_the_recycling_selector_and_peek_it(self) -> None:
        import selectors

        from asynctestkit import VirtualClockLoop
        from asynctestkit.clock import RealTimeLoop

        for factory in (VirtualClockLoop, RealTimeLoop):
            loop: Any = factory()
            try:
                selector = loop._atk.selector
                self.assertIsInstance(selector, _compat.RecyclableSelector)
                if type(selector).__mro__[1] in (getattr(selectors, "EpollSelector", None),
                                                   getattr(selectors, "PollSelector", None)):
                    self.assertIsNot(selector.peek, _compat._always_ready)
            finally:
                loop.close()


class KnownThreadsCanaryTest(unittest.TestCase):
    """``_compat.known_threads`` reads ``threading._active`` and ``threading._limbo`` (private)."""

    def test_known_threads_is_what_threading_enumerate_lists_before_during_and_after_a_thread(self) -> None:
        import threading

        self.assertIsInstance(getattr(threading, "_active", None), dict)
        self.assertIsInstance(getattr(threading, "_limbo", None), dict)
        before = _compat.known_threads()
        self.assertEqual(before, frozenset(threading.enumerate()))
        if len(before) == 1:  # the main thread alone: remembered, the same answer
            self.assertIs(_compat.known_threads(), before)
        release = threading.Event()
        thread = threading.Thread(target=release.wait, name="known-threads-canary")
        thread.start()
        try:
            during = _compat.known_threads()
            self.assertIn(thread, during)
            self.assertEqual(during, frozenset(threading.enumerate()))
        finally:
            release.set()
            thread.join()
        after = _compat.known_threads()
        self.assertNotIn(thread, after)
        self.assertEqual(after, frozenset(threading.enumerate()))
        self.assertNotIn(thread, _compat._known_key)  # a thread other than the main one is never remembered


class HandedOnContainersCanaryTests(unittest.TestCase):
    """``_compat.close_self_pipe``/``init_selector_loop`` hand a closed loop's empty ``_transports`` and
    ``_asyncgens`` (private) to the next loop: asyncio's types for them and the only ways it uses them."""

    def test_asyncio_keeps_transports_in_a_weak_value_dictionary_and_async_generators_in_a_weak_set(self) -> None:
        import weakref

        plain: Any = asyncio.SelectorEventLoop()
        try:
            self.assertIs(type(plain._transports), weakref.WeakValueDictionary)
            self.assertIs(type(plain._asyncgens), weakref.WeakSet)
        finally:
            plain.close()
        base = asyncio.base_events.BaseEventLoop
        self.assertIn("self._asyncgens.add(agen)", inspect.getsource(base._asyncgen_firstiter_hook))  # type: ignore[attr-defined]
        self.assertIn("self._asyncgens.discard(agen)", inspect.getsource(base._asyncgen_finalizer_hook))  # type: ignore[attr-defined]
        # A closed loop refuses to build a transport only after the transport registered itself: that entry
        # goes to the shared map of closed loops, and leaves it with the transport.
        transport_init = inspect.getsource(asyncio.selector_events._SelectorTransport.__init__)  # type: ignore[attr-defined]
        self.assertIn("loop._transports[self._sock_fd] = self", transport_init)
        self.assertTrue(_compat.selector_loop_init_matches())
class ShowWarnMsgInstallCanaryTest(unittest.TestCase):
    """``_compat.install_showwarnmsg`` / ``restore_showwarnmsg`` use private ``warnings._showwarnmsg``."""

    def test_an_installed_hook_receives_warnings_with_their_source_and_is_restored(self) -> None:
        import warnings

        received: list[object] = []

        def hook(msg: warnings.WarningMessage) -> None:
            received.append(msg.source)

        original = warnings._showwarnmsg  # type: ignore[attr-defined]
        source = object()
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            previous, state = _compat.install_showwarnmsg(hook)
            try:
                self.assertIs(previous, original)
                self.assertEqual(state, _compat.warnings_display_state())
                warnings.warn("probe", ResourceWarning, source=source)
            finally:
                self.assertTrue(_compat.restore_showwarnmsg(hook, previous))
        self.assertEqual(received, [source])
        self.assertIs(warnings._showwarnmsg, original)  # type: ignore[attr-defined]

    def test_restore_leaves_a_hook_installed_over_ours_in_place(self) -> None:
        import warnings

        original = warnings._showwarnmsg  # type: ignore[attr-defined]

        def ours(msg: warnings.WarningMessage) -> None:
            pass

        def theirs(msg: warnings.WarningMessage) -> None:
            pass

        previous, _state = _compat.install_showwarnmsg(ours)
        try:
            warnings._showwarnmsg = theirs  # type: ignore[attr-defined]
            self.assertFalse(_compat.restore_showwarnmsg(ours, previous))
            self.assertIs(warnings._showwarnmsg, theirs)  # type: ignore[attr-defined]
        finally:
            warnings._showwarnmsg = original  # type: ignore[attr-defined]
class RunningLoopCanaryTest(unittest.TestCase):
    """``_compat.running_loop`` is ``asyncio.events._get_running_loop`` (underscored)."""

    def test_running_loop_is_the_loop_running_on_this_thread_and_none_elsewhere(self) -> None:
        self.assertIs(_compat.running_loop, asyncio.events._get_running_loop)
        self.assertIsNone(_compat.running_loop())
        seen: dict[str, Any] = {}

        def in_callback() -> None:
            seen["callback"] = _compat.running_loop()
            other = threading.Thread(target=lambda: seen.__setitem__("thread", _compat.running_loop()))
            other.start()
            other.join()

        async def main() -> None:
            asyncio.get_running_loop().call_soon(in_callback)
            await asyncio.sleep(0)
            seen["task"] = _compat.running_loop()

        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(main())
            seen["between"] = _compat.running_loop()
        finally:
            loop.close()
        self.assertEqual(seen, {"callback": loop, "thread": None, "task": loop, "between": None})
