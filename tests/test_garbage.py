"""A finished test leaves nothing for the cyclic garbage collector: its objects go by reference counting alone.

Each test below runs inner tests with the collector disabled, then asks ``gc.collect()`` what is left.  A
test that passes must leave nothing at all (plain ``IsolatedAsyncioTestCase`` with debug off leaves nothing
either: it runs first in each test, as a guard against interpreter noise).  A test that fails keeps its
exception, and an exception's traceback holds the frames that raised it, which hold the exception: that
cycle is the user's (plain ``IsolatedAsyncioTestCase`` has it too), so there the check is that every cycle
left is such an exception cycle, and that no object of asynctestkit's is part of a cycle of its own.

Before the issue 15 fixes a trivial test left ~110 objects per test in three cycles (test -> runner -> loop
factory -> test; leak recorder -> its bound exception handler -> recorder; loop <-> engine <-> clock <-> time
functions <-> watchdog).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import sys
import types
import unittest
import weakref
from collections.abc import Iterator
from asynctestkit import AsyncTestCase


class _Bodies:
    """The bodies every variant runs (a mixin: not collected on its own)."""

    async def test_trivial(self) -> None:
        await asyncio.sleep(1)

    async def test_fails(self) -> None:
        await asyncio.sleep(1)
        self.assertEqual(1, 2)  # type: ignore[attr-defined]

    async def test_errors(self) -> None:
        await asyncio.sleep(1)
        raise ValueError("boom")

    async def test_real_work_in_a_thread(self) -> None:
        await asyncio.to_thread(sum, [1, 2])
        await asyncio.get_running_loop().run_in_executor(None, sum, [1])


class _Inner:
    """The inner test cases (in a namespace, so that the loader does not collect them)."""

    class Virtual(_Bodies, AsyncTestCase):
        async def test_hangs(self) -> None:
            await asyncio.get_running_loop().create_future()  # nothing resolves it: a deadlock report

        async def test_leaks_a_task(self) -> None:
            asyncio.get_running_loop().create_task(asyncio.sleep(10))  # still pending at teardown: a leak report


    class Real(_Bodies, AsyncTestCase):
        virtual_clock = False

        async def test_trivial(self) -> None:
            await asyncio.sleep(0)

        async def test_fails(self) -> None:
            self.assertEqual(1, 2)

        async def test_errors(self) -> None:
            raise ValueError("boom")


    class Plain(_Bodies, unittest.IsolatedAsyncioTestCase):
        async def asyncSetUp(self) -> None:
            asyncio.get_running_loop().set_debug(False)

        async def test_trivial(self) -> None:
            await asyncio.sleep(0)


def _run(cls: type[unittest.TestCase], name: str, count: int) -> tuple[list[object], int, unittest.TestResult]:
    """Run *count* tests *cls(name)* with the collector off; return what it then finds, and how many tests lived on."""
    gc.collect()
    gc.disable()
    try:
        refs = []
        last = unittest.TestResult()
        for _ in range(count):
            test, last = cls(name), unittest.TestResult()
            test.run(last)
            refs.append(weakref.ref(test))
            del test
        alive = sum(ref() is not None for ref in refs)
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            garbage = list(gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    finally:
        gc.enable()
    return garbage, alive, last


def _cycles(objects: list[object]) -> Iterator[list[object]]:
    """The strongly connected components of more than one object (the cycles) among *objects*."""
    by_id = {id(obj): obj for obj in objects}
    edges = {key: [id(ref) for ref in gc.get_referents(obj) if id(ref) in by_id] for key, obj in by_id.items()}
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    for root in edges:
        if root in index:
            continue
        work = [(root, 0)]
        while work:  # Tarjan's algorithm, iterative (the graphs reach thousands of objects)
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            targets = edges[node]
            if position < len(targets):
                work.append((node, position + 1))
                target = targets[position]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(by_id[member])
                    if member == node:
                        break
                if len(component) > 1:
                    yield component
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])


def _ours(obj: object) -> bool:
    module = getattr(type(obj), "__module__", "") or ""
    return module.split(".")[0] == "asynctestkit" and not isinstance(obj, BaseException)


def _is_exception_cycle(component: list[object]) -> bool:
    return any(isinstance(obj, (types.TracebackType, BaseException)) for obj in component)


class TestNoCyclicGarbage(unittest.TestCase):
    COUNT = 50

    def _assert_no_garbage(self, cls: type[unittest.TestCase], name: str) -> None:
        garbage, alive, result = _run(cls, name, self.COUNT)
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
        self.assertEqual(alive, 0, "a finished test case was not freed by reference counting")
        kinds = sorted({type(obj).__qualname__ for obj in garbage})
        self.assertEqual(len(garbage), 0, f"{self.COUNT} tests {cls.__name__}.{name} left {len(garbage)} objects "
                                          f"for the cyclic collector: {kinds[:20]}")

    def test_plain_isolated_asyncio_test_case_leaves_no_garbage_the_baseline(self) -> None:
        self._assert_no_garbage(_Inner.Plain, "test_trivial")
        self._assert_no_garbage(_Inner.Plain, "test_real_work_in_a_thread")

    def test_trivial_tests_leave_no_cyclic_garbage(self) -> None:
        self._assert_no_garbage(_Inner.Plain, "test_trivial")  # the guard: the interpreter itself leaves nothing
        self._assert_no_garbage(_Inner.Virtual, "test_trivial")

    def test_tests_with_real_work_in_a_thread_leave_no_cyclic_garbage(self) -> None:
        self._assert_no_garbage(_Inner.Virtual, "test_real_work_in_a_thread")

    def test_real_clock_tests_leave_no_cyclic_garbage(self) -> None:
        self._assert_no_garbage(_Inner.Real, "test_trivial")
        self._assert_no_garbage(_Inner.Real, "test_real_work_in_a_thread")

    def test_failing_tests_leave_only_their_exceptions_cycles(self) -> None:
        for cls, name, problem in [(_Inner.Virtual, "test_fails", "failures"), (_Inner.Virtual, "test_errors", "errors"),
                                   (_Inner.Real, "test_fails", "failures"), (_Inner.Real, "test_errors", "errors"),
                                   (_Inner.Virtual, "test_hangs", "failures"), (_Inner.Virtual, "test_leaks_a_task", "failures"),
                                   (_Inner.Plain, "test_fails", "failures")]:
            with self.subTest(test=f"{cls.__name__}.{name}"):
                garbage, alive, result = _run(cls, name, 5)
                self.assertEqual(len(getattr(result, problem)), 1, result.errors + result.failures)
                # The test case itself may hang off the exception's cycle (a frame of the test holds ``self``), as
                # under plain IsolatedAsyncioTestCase: only the cycles themselves are checked here.
                del alive
                cycles = list(_cycles(garbage))
                for component in cycles:
                    self.assertTrue(_is_exception_cycle(component),
                                    f"a cycle with no exception in it: "
                                    f"{sorted({type(obj).__qualname__ for obj in component})}")
                    self.assertEqual([type(obj).__qualname__ for obj in component if _ours(obj)], [],
                                     "an object of asynctestkit is part of a cycle")

    def _assert_freed_by_reference_counting(self) -> None:
        """Run a passing trivial test with the collector off: nothing may keep the case alive after it."""
        gc.disable()
        try:
            test = _Inner.Virtual("test_trivial")
            ref = weakref.ref(test)
            result = unittest.TestResult()
            test.run(result)
            self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
            del test, result
            self.assertIsNone(ref(), "the test case outlived its run: something still refers to it")
        finally:
            gc.enable()

    def test_a_finished_test_case_is_freed_by_reference_counting_alone(self) -> None:
        self._assert_freed_by_reference_counting()

    def test_a_test_run_beside_a_live_thread_pool_is_freed_by_reference_counting_alone(self) -> None:
        # With executor workers alive anywhere in the process, the clock looks for busy executor jobs at each
        # idle moment (sys._current_frames()); that dict once kept the looking frame, and so the whole stack
        # with the test case in it, in a cycle.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(int).result()  # one idle worker, alive during the test
            self._assert_freed_by_reference_counting()

    def test_a_closed_loops_clock_still_answers_the_time_it_stopped_at(self) -> None:
        from asynctestkit import VirtualClockLoop

        loop = VirtualClockLoop(start=5.0)
        clock = loop.clock
        loop.run_until_complete(asyncio.sleep(10))
        loop.close()
        self.assertEqual(clock.now(), 15.0)
        self.assertEqual(clock.elapsed(), 10.0)
        self.assertEqual(clock.monotonic_ns(), 15_000_000_000)
        self.assertEqual(loop.time(), 15.0)

    def test_the_collector_check_is_not_blind(self) -> None:
        class Cyclic(unittest.IsolatedAsyncioTestCase):
            async def test_keeps_itself(self) -> None:
                self.me = self  # a cycle through the test case: must be seen

        garbage, alive, _ = _run(Cyclic, "test_keeps_itself", 3)
        self.assertEqual(alive, 3)
        self.assertTrue(any(isinstance(obj, Cyclic) for obj in garbage))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(unittest.main())
