"""The self-pipe and selector a closed loop hands to the next one (``_compat.make_self_pipe`` and friends).

asynctestkit's loops (``VirtualClockLoop``, ``RealTimeLoop``) reuse the socket pair and the epoll/kqueue
selector of a loop that was closed explicitly, instead of making and closing them for every test.  These tests
hold the conditions that keep that invisible: no fd leaks, nothing reused from a loop collected unclosed or
across ``fork()``, signal handlers still wake the loop, a closed loop stays closed for a thread holding it, and
a closed loop is still freed by reference counting alone.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import threading
import unittest
import warnings
import weakref
from unittest import mock
from typing import Any

from asynctestkit import VirtualClockLoop, _compat
from asynctestkit.clock import RealTimeLoop

_HAS_PROC_FD = os.path.isdir("/proc/self/fd")


def _open_fds() -> int:
    """Open file descriptors of this process, not counting those the pool holds (2 per pair, 1 per selector)."""
    return len(os.listdir("/proc/self/fd")) - 3 * len(_compat._selector_pool)


async def _trivial() -> None:
    await asyncio.sleep(0)


def _run_and_close(factory: Any) -> None:
    loop = factory()
    try:
        loop.run_until_complete(_trivial())
    finally:
        loop.close()


async def _counting() -> Any:
    yield 1
    yield 2


class _Holder:
    pass


async def _first_of(agen: Any) -> Any:
    return await agen.__anext__()  # (inside the loop: asyncio's first-iteration hook sees the generator)


class RecyclingTests(unittest.TestCase):
    def setUp(self) -> None:
        _compat.drain_pools()
        self.addCleanup(_compat.drain_pools)

    def _pooled_pipes(self) -> list[Any]:
        return [selector.pipe[0] for selector in _compat._selector_pool if selector.pipe is not None]

    def test_a_closed_loops_self_pipe_and_selector_serve_the_next_loop(self) -> None:
        for factory in (VirtualClockLoop, RealTimeLoop):
            with self.subTest(loop=factory.__name__):
                first: Any = factory()
                ssock, selector = first._ssock, first._atk.selector
                first.close()
                self.assertIs(first._ssock, None)
                self.assertEqual(self._pooled_pipes(), [ssock])
                self.assertEqual(_compat._selector_pool, [selector])
                self.assertIsNone(selector.get_map()[ssock.fileno()].data)  # pooled: no reference to the loop
                second: Any = factory()
                try:
                    self.assertIs(second._ssock, ssock)
                    self.assertIs(second._atk.selector, selector)
                    self.assertEqual((self._pooled_pipes(), _compat._selector_pool), ([], []))
                    if factory is VirtualClockLoop:  # the clock counts the recycled self-pipe as its own fd
                        self.assertTrue(second._atk.work.quiet)
                    self.assertEqual(second.run_until_complete(asyncio.sleep(3, "slept")), "slept")
                finally:
                    second.close()

    def test_call_soon_threadsafe_from_another_thread_wakes_a_loop_on_a_recycled_self_pipe(self) -> None:
        _run_and_close(RealTimeLoop)
        loop = RealTimeLoop()
        try:
            async def main() -> str:
                fut = loop.create_future()
                threading.Timer(0.05, loop.call_soon_threadsafe, (fut.set_result, "woken")).start()
                return await asyncio.wait_for(fut, 5)

            self.assertEqual(loop.run_until_complete(main()), "woken")
        finally:
            loop.close()

    def test_a_byte_left_in_the_self_pipe_is_drained_before_the_next_loop_uses_it(self) -> None:
        first = RealTimeLoop()
        first.call_soon_threadsafe(lambda: None)  # writes one byte to the self-pipe, never read
        first.close()
        second: Any = VirtualClockLoop()
        try:
            with self.assertRaises(BlockingIOError):
                second._ssock.recv(1)
            self.assertEqual(second.run_until_complete(asyncio.sleep(0, "done")), "done")
            self.assertEqual(second.time(), 0.0)  # no phantom I/O moved virtual time (io_quantum)
        finally:
            second.close()

    @unittest.skipUnless(_HAS_PROC_FD, "/proc/self/fd")
    def test_building_and_closing_many_loops_leaks_no_file_descriptor(self) -> None:
        for factory in (VirtualClockLoop, RealTimeLoop):
            _run_and_close(factory)
        before = _open_fds()
        for _ in range(50):
            for factory in (VirtualClockLoop, RealTimeLoop):
                _run_and_close(factory)
            loops = [VirtualClockLoop(), RealTimeLoop(), VirtualClockLoop()]  # more at once than the pool holds
            for loop in loops:
                loop.close()
        self.assertEqual(_open_fds(), before)
        self.assertEqual(len(self._pooled_pipes()), 2)  # bounded
        raw = len(os.listdir("/proc/self/fd"))
        _compat.drain_pools()
        self.assertEqual(len(os.listdir("/proc/self/fd")), raw - 6)  # two selectors with their pairs, now closed

    @unittest.skipUnless(_HAS_PROC_FD, "/proc/self/fd")
    def test_a_loop_collected_unclosed_warns_as_before_and_gives_nothing_to_the_pool(self) -> None:
        _run_and_close(VirtualClockLoop)
        _compat.drain_pools()
        before = _open_fds()
        for factory in (VirtualClockLoop, RealTimeLoop):
            with self.subTest(loop=factory.__name__):
                loop = factory()
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    del loop
                    gc.collect()
                self.assertEqual([str(w.message).split(" ")[:3] for w in caught
                                  if issubclass(w.category, ResourceWarning)], [["unclosed", "event", "loop"]])
                self.assertEqual((self._pooled_pipes(), _compat._selector_pool), ([], []))
                self.assertEqual(_open_fds(), before)

    def test_an_unclosed_loop_whose_self_pipe_the_collector_finalized_first_closes_without_an_error(self) -> None:
        # One collection may finalize the self-pipe's socket before the unclosed loop holding it (both are garbage
        # together); the loop's close() from __del__ must then skip the closed socket, not raise "Invalid file
        # descriptor: -1" (reported by the collector as an unraisable exception).
        for factory in (VirtualClockLoop, RealTimeLoop):
            with self.subTest(loop=factory.__name__):
                loop = factory()
                loop.run_until_complete(asyncio.sleep(0))
                loop._ssock.close()  # what the collector's finalizer of the socket does when it runs first
                with warnings.catch_warnings(record=True):
                    warnings.simplefilter("always")
                    loop.close()
                self.assertTrue(loop.is_closed())
                self.assertIsNone(loop._ssock)

    def test_a_closed_loop_is_freed_by_reference_counting_while_its_parts_are_pooled(self) -> None:
        for factory in (VirtualClockLoop, RealTimeLoop):
            with self.subTest(loop=factory.__name__):
                _run_and_close(factory)  # the pool is warm: the loop below takes and gives back
                gc.collect()
                gc.disable()
                try:
                    loop = factory()
                    loop.run_until_complete(_trivial())
                    loop.close()
                    dead = weakref.ref(loop)
                    del loop
                    self.assertIsNone(dead())
                    self.assertEqual(gc.collect(), 0)
                finally:
                    gc.enable()
                self.assertEqual(len(self._pooled_pipes()), 1)

    def test_a_thread_holding_a_closed_loop_still_gets_event_loop_is_closed(self) -> None:
        old = RealTimeLoop()
        old.close()
        new: Any = VirtualClockLoop()  # takes the old loop's self-pipe
        try:
            errors: list[BaseException] = []

            def late_caller() -> None:
                try:
                    old.call_soon_threadsafe(lambda: None)
                except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
                    errors.append(exc)

            thread = threading.Thread(target=late_caller)
            thread.start()
            thread.join(5)
            self.assertEqual([str(exc) for exc in errors], ["Event loop is closed"])
            self.assertIsInstance(errors[0], RuntimeError)
            with self.assertRaises(BlockingIOError):  # and nothing reached the new loop's self-pipe
                new._ssock.recv(1)
        finally:
            new.close()

    def test_a_closed_loops_empty_transport_map_and_async_generator_set_serve_the_next_loop(self) -> None:
        for factory in (VirtualClockLoop, RealTimeLoop):
            with self.subTest(loop=factory.__name__):
                first: Any = factory()
                first.run_until_complete(_trivial())
                transports, asyncgens = first._transports, first._asyncgens
                self.assertIs(type(transports), weakref.WeakValueDictionary)
                self.assertIs(type(asyncgens), weakref.WeakSet)
                first.close()
                # The closed loop holds shared empty ones: nothing it could still be handed reaches the next loop.
                self.assertIsNot(first._transports, transports)
                self.assertIsNot(first._asyncgens, asyncgens)
                self.assertEqual((len(first._transports), len(first._asyncgens)), (0, 0))
                second: Any = factory()
                try:
                    self.assertIs(second._transports, transports)
                    self.assertIs(second._asyncgens, asyncgens)
                    agen = _counting()
                    self.assertEqual(second.run_until_complete(_first_of(agen)), 1)
                    self.assertEqual(list(second._asyncgens), [agen])  # in use as asyncio uses it
                    second.run_until_complete(second.shutdown_asyncgens())
                    self.assertEqual(len(second._asyncgens), 0)
                finally:
                    second.close()

    def test_a_closed_loop_that_handed_on_its_containers_refuses_work_as_before(self) -> None:
        import socket

        _run_and_close(RealTimeLoop)
        closed: Any = VirtualClockLoop()
        closed.close()
        self.assertIs(closed._transports, _compat._CLOSED_TRANSPORTS)
        left, right = socket.socketpair()
        self.addCleanup(left.close)
        self.addCleanup(right.close)
        with self.assertRaisesRegex(RuntimeError, "^Event loop is closed$"):
            closed.add_reader(left, lambda: None)
        shutdown = closed.shutdown_asyncgens()
        with self.assertRaisesRegex(RuntimeError, "^Event loop is closed$"):
            closed.run_until_complete(shutdown)
        shutdown.close()
        gc.collect()
        self.assertEqual((len(_compat._CLOSED_TRANSPORTS), len(_compat._CLOSED_ASYNCGENS)), (0, 0))

    def test_a_transport_map_or_async_generator_set_still_in_use_at_close_is_not_handed_on(self) -> None:
        _run_and_close(VirtualClockLoop)
        first: Any = VirtualClockLoop()
        agen = _counting()  # first iterated on the loop, never finished nor shut down: the loop holds it
        self.assertEqual(first.run_until_complete(_first_of(agen)), 1)
        asyncgens = first._asyncgens
        first.close()
        self.assertIs(first._asyncgens, asyncgens)  # kept, as asyncio keeps it
        second: Any = VirtualClockLoop()
        try:
            self.assertIsNot(second._asyncgens, asyncgens)
            self.assertEqual(len(second._asyncgens), 0)
        finally:
            second.close()
        third: Any = VirtualClockLoop()
        holder = _Holder()  # any object a weak reference can hold, standing for a live transport
        third._transports[12345] = holder
        transports = third._transports
        third.close()
        fourth: Any = VirtualClockLoop()
        try:
            self.assertIsNot(fourth._transports, transports)
            self.assertEqual(len(fourth._transports), 0)
        finally:
            fourth.close()
        agen_close = agen.aclose()
        with self.assertRaises(StopIteration):
            agen_close.send(None)

    def test_a_selector_that_still_watches_something_at_close_is_closed_not_pooled(self) -> None:
        import socket

        left, right = socket.socketpair()
        self.addCleanup(left.close)
        self.addCleanup(right.close)
        loop: Any = RealTimeLoop()
        selector = loop._atk.selector
        ssock = loop._ssock
        loop.add_reader(left, lambda: None)  # never removed
        loop.close()
        self.assertEqual(_compat._selector_pool, [])
        with self.assertRaises((RuntimeError, ValueError, OSError)):  # really closed
            selector.select(0)
        self.assertEqual(ssock.fileno(), -1)  # and its self-pipe with it

    def test_plain_asyncio_loops_and_their_own_selectors_are_left_alone(self) -> None:
        import selectors

        own = selectors.DefaultSelector()
        loop = asyncio.SelectorEventLoop(own)
        loop.close()
        plain = asyncio.SelectorEventLoop()
        plain.close()
        self.assertEqual((self._pooled_pipes(), _compat._selector_pool), ([], []))
        with self.assertRaises((RuntimeError, ValueError, OSError)):
            own.select(0)

    def test_parts_given_back_on_another_thread_are_reused_on_this_one(self) -> None:
        thread = threading.Thread(target=_run_and_close, args=(VirtualClockLoop,))
        thread.start()
        thread.join(5)
        pooled = self._pooled_pipes()
        self.assertEqual(len(pooled), 1)
        loop: Any = RealTimeLoop()
        try:
            self.assertIs(loop._ssock, pooled[0])
            self.assertIsNone(loop.run_until_complete(_trivial()))
        finally:
            loop.close()


@unittest.skipUnless(sys.platform != "win32", "the unix selector loop")
class FastInitTests(unittest.TestCase):
    """``_compat.init_selector_loop`` stands in for asyncio's ``__init__`` chain once it was seen identical."""

    def test_a_loop_built_in_one_function_equals_one_built_by_asyncio(self) -> None:
        from asynctestkit.clock import _loop

        for factory in (VirtualClockLoop, RealTimeLoop):
            with self.subTest(loop=factory.__name__):
                factory().close()  # the first loop of the class is built by asyncio and checked
                self.assertIs(_loop._FAST_INIT[factory], True)
                fast: Any = factory()
                _loop._FAST_INIT[factory] = False
                try:
                    slow: Any = factory()
                finally:
                    _loop._FAST_INIT[factory] = True
                try:
                    self.assertEqual(list(vars(fast)), list(vars(slow)))
                    for name, value in vars(slow).items():
                        self.assertIs(type(vars(fast)[name]), type(value), name)
                        if isinstance(value, (int, float, bool, type(None))):
                            self.assertEqual(vars(fast)[name], value, name)
                    self.assertEqual(fast._atk.plain_tasks, slow._atk.plain_tasks)
                    self.assertEqual(fast.run_until_complete(asyncio.sleep(1, "ok")), "ok")
                finally:
                    fast.close()
                    slow.close()

    def test_the_check_reads_a_plain_probe_loop_never_a_loop_that_is_used(self) -> None:
        # Reading a loop's __dict__ (vars()) makes it dict-backed on 3.12: every attribute read of that loop,
        # the first test's, would cost more for its whole life (W3T +14% on 3.12 when it did).
        from asynctestkit.clock import _loop

        seen: list[object] = []
        real = _compat.loop_init_matches

        def spy(loop: Any, ours: frozenset[str]) -> bool:
            seen.append(loop)
            return real(loop, ours)

        class Fresh(RealTimeLoop):
            pass

        saved = list(_compat._INIT_MATCHES)
        _compat._INIT_MATCHES.clear()
        with mock.patch.object(_compat, "loop_init_matches", spy):
            try:
                used = Fresh()
                used.close()
                Fresh().close()
            finally:
                if saved:
                    _compat._INIT_MATCHES[:] = saved
        self.assertEqual(len(seen), 1)  # once per process, not per class or per loop
        self.assertIs(type(seen[0]), asyncio.SelectorEventLoop)
        self.assertTrue(seen[0].is_closed())  # type: ignore[attr-defined]
        self.assertIs(_loop._FAST_INIT[Fresh], True)

    def test_the_debug_mode_default_still_follows_pythonasynciodebug_at_each_loop(self) -> None:
        VirtualClockLoop().close()
        previous = os.environ.pop("PYTHONASYNCIODEBUG", None)
        try:
            os.environ["PYTHONASYNCIODEBUG"] = "1"
            on = VirtualClockLoop()
            os.environ["PYTHONASYNCIODEBUG"] = ""
            off = VirtualClockLoop()
        finally:
            os.environ.pop("PYTHONASYNCIODEBUG", None)
            if previous is not None:
                os.environ["PYTHONASYNCIODEBUG"] = previous
        try:
            self.assertEqual((on.get_debug(), off.get_debug()), (not sys.flags.ignore_environment or
                                                                 sys.flags.dev_mode, sys.flags.dev_mode))
            self.assertFalse(on._atk.plain_tasks)  # debug mode: the base create_task() builds tasks
        finally:
            on.close()
            off.close()

    def test_a_subclass_that_changes_what_is_skipped_is_built_by_asyncio(self) -> None:
        from asynctestkit.clock import _loop

        calls: list[bool] = []

        class Tracing(RealTimeLoop):
            def __init__(self) -> None:
                self.note = "set before the base __init__"
                super().__init__()

            def set_debug(self, enabled: bool) -> None:
                calls.append(enabled)
                super().set_debug(enabled)

        Tracing().close()
        Tracing().close()
        self.assertIs(_loop._FAST_INIT[Tracing], False)
        self.assertEqual(len(calls), 2)  # asyncio's __init__ called set_debug() for each


@unittest.skipUnless(hasattr(signal, "SIGUSR1") and sys.platform != "win32", "POSIX signals")
class SignalHandlerTests(unittest.TestCase):
    def setUp(self) -> None:
        _compat.drain_pools()
        self.addCleanup(_compat.drain_pools)

    def _signal_wakes(self, loop: asyncio.AbstractEventLoop) -> str:
        async def main() -> str:
            got = loop.create_future()
            loop.add_signal_handler(signal.SIGUSR1, got.set_result, "signalled")
            try:
                threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR1)).start()
                return await asyncio.wait_for(got, 5)  # type: ignore[no-any-return]
            finally:
                loop.remove_signal_handler(signal.SIGUSR1)

        return loop.run_until_complete(main())

    def test_a_signal_handler_on_a_recycled_self_pipe_wakes_the_loop(self) -> None:
        for factory in (RealTimeLoop, VirtualClockLoop):
            with self.subTest(loop=factory.__name__):
                _run_and_close(factory)
                loop = factory()
                try:
                    self.assertEqual(self._signal_wakes(loop), "signalled")
                finally:
                    loop.close()
                self.assertEqual(signal.set_wakeup_fd(-1), -1)  # removed with the handler, as asyncio does

    def test_a_loop_closed_with_a_signal_handler_left_does_not_recycle_its_self_pipe(self) -> None:
        loop: Any = RealTimeLoop()
        loop.add_signal_handler(signal.SIGUSR1, lambda: None)
        csock = loop._csock
        loop.close()  # asyncio removes the handler and the wake-up fd after closing the self-pipe
        self.assertEqual(_compat._selector_pool, [])
        self.assertEqual(csock.fileno(), -1)  # closed, as without recycling
        self.assertEqual(signal.set_wakeup_fd(-1), -1)
        self.assertIs(signal.getsignal(signal.SIGUSR1), signal.SIG_DFL)
        again = RealTimeLoop()
        try:
            self.assertEqual(self._signal_wakes(again), "signalled")
        finally:
            again.close()


@unittest.skipUnless(hasattr(os, "fork") and _HAS_PROC_FD, "POSIX fork")
class ForkTests(unittest.TestCase):
    def test_a_forked_child_never_reuses_the_parents_pooled_parts(self) -> None:
        _compat.drain_pools()
        self.addCleanup(_compat.drain_pools)
        _run_and_close(VirtualClockLoop)
        parent_selector = _compat._selector_pool[0]
        parent_pipe = parent_selector.pipe[0]  # type: ignore[index]
        read, write = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads alive (3.12+)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                loop: Any = VirtualClockLoop()
                fresh = loop._ssock is not parent_pipe and loop._atk.selector is not parent_selector
                loop.run_until_complete(_trivial())
                loop.close()
                code = 0 if fresh and parent_pipe.fileno() == -1 else 2
                os.write(write, b"fresh" if code == 0 else b"reused")
            finally:
                os._exit(code)
        os.close(write)
        with os.fdopen(read, "rb") as pipe:
            answer = pipe.read()
        _pid, status = os.waitpid(pid, 0)
        self.assertEqual((answer, os.waitstatus_to_exitcode(status)), (b"fresh", 0))
        # The parent's pooled parts are untouched by the child and still serve the parent's next loop.
        loop: Any = RealTimeLoop()
        try:
            self.assertIs(loop._ssock, parent_pipe)
            self.assertEqual(loop.run_until_complete(asyncio.sleep(0.01, "ok")), "ok")
        finally:
            loop.close()


if __name__ == "__main__":
    unittest.main()
