"""Canaries for every private asyncio/unittest name asynctestkit relies on (see asynctestkit/_compat.py).

If one of these fails on a new Python, the matching accessor in _compat.py needs a new branch: the failure
says which internal changed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import concurrent.futures.thread as cf_thread
import inspect
import unittest

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

    @unittest.skipUnless(_compat.HAS_LOOP_FACTORY, "loop_factory is public from 3.13")
    def test_loop_factory_attribute_exists(self) -> None:
        self.assertIn("loop_factory", vars(unittest.IsolatedAsyncioTestCase))


class PrivateAsyncioNamesTests(unittest.TestCase):
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


if __name__ == "__main__":
    unittest.main()
