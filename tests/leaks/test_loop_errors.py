"""Errors the loop swallowed fail the test (leak kind ``errors``), and never-retrieved exceptions say where
they were raised.

Each scenario runs an inner test case (``AsyncTestCase`` and the mixin on a plain
``IsolatedAsyncioTestCase``) with a ``unittest.TestResult`` and reads the failure as the user sees it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import unittest
from typing import Any

from asynctestkit import AsyncTestCase, allow_leaks
from tests.leaks._leak_support import BASES, PlainLeakCase, marker_line, run_case

HERE = os.path.basename(__file__)


def at(marker: str) -> str:
    """``tests/leaks/test_loop_errors.py:<line>`` of the line tagged ``# <marker>``."""
    return f"tests/leaks/{HERE}:{marker_line(__file__, marker)}"


def broken_callback() -> None:
    raise RuntimeError("callback broke")  # <raise-cb>


class ShoutingProtocol(asyncio.Protocol):
    def data_received(self, data: bytes) -> None:
        raise ValueError(f"cannot parse {data!r}")  # <raise-proto>


async def exchange_with(protocol_factory: Any) -> None:
    """Send one byte to a loopback server running *protocol_factory*, then close both ends cleanly."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol_factory, "127.0.0.1", 0)
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        writer.write(b"x")
        await writer.drain()
        for _ in range(50):  # real I/O: give the server side a few iterations to read
            await asyncio.sleep(0.001)
        writer.close()
        await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()


class SwallowedErrorsFailTests(unittest.TestCase):
    def test_a_call_later_callback_that_raises_fails_the_test_naming_callback_raise_line_and_time(self) -> None:
        class Inner(AsyncTestCase):
            async def test_timer(self) -> None:
                asyncio.get_running_loop().call_later(2, broken_callback)  # <schedule>
                await asyncio.sleep(5)

        text = run_case(Inner, "test_timer").failure
        first = text.splitlines()[0]
        self.assertEqual(first, "asynctestkit.LeakError: test_timer had 1 error swallowed by the loop (found "
                                "after all cleanups, at virtual t=5.000s; asynctestkit cleaned up)")
        self.assertIn("  1. callback broken_callback() raised RuntimeError('callback broke')\n", text)
        self.assertIn(f"       raised at    {at('raise-cb')} in broken_callback: "
                      f"raise RuntimeError(\"callback broke\")  # <raise-cb>\n", text)
        self.assertIn("       callback     broken_callback() defined at tests/leaks/test_loop_errors.py:", text)
        self.assertIn("       scheduled at unknown (asyncio's debug mode records it: asyncio_debug = True on the "
                      "test case)", text)
        self.assertIn("hint (errors): catch the exception where it is raised; a test that provokes it on purpose "
                      "asserts it inside `with self.assertLogs('asyncio', 'ERROR'):`", text)
        self.assertIn('allow: @allow_leaks(errors=True, reason="...") on the test, or '
                      'leak_checks = {"errors": "note"} on the class', text)

    def test_with_asyncio_debug_the_report_says_where_the_callback_was_scheduled(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    asyncio_debug = True  # PlainLeakCase: IsolatedAsyncioTestCase's debug mode is always on

                    async def test_soon(self) -> None:
                        asyncio.get_running_loop().call_soon(broken_callback)  # <schedule-soon>
                        await asyncio.sleep(0)

                text = run_case(Inner, "test_soon").failure
                self.assertIn(f"scheduled at {at('schedule-soon')} in test_soon\n", text)
                self.assertNotIn("unknown", text)

    def test_in_strict_mode_a_timer_callback_says_where_it_was_scheduled_without_debug_mode(self) -> None:
        class Inner(AsyncTestCase):
            leak_checks = "strict"  # records where each call_later/call_at was made

            async def test_timer(self) -> None:
                asyncio.get_running_loop().call_later(1, broken_callback)  # <schedule-strict>
                await asyncio.sleep(2)

        text = run_case(Inner, "test_timer").failure
        self.assertIn(f"scheduled at {at('schedule-strict')} in test_timer\n", text)

    def test_a_protocol_method_that_raises_fails_the_test_naming_the_protocol_method_and_transport(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_protocol(self) -> None:
                        await exchange_with(ShoutingProtocol)

                text = run_case(Inner, "test_protocol").failure
                self.assertIn("had 1 error swallowed by the loop", text)
                self.assertIn("1. protocol method ShoutingProtocol.data_received() raised ValueError(\"cannot parse "
                              "b'x'\")\n", text)
                self.assertIn(f"raised at    {at('raise-proto')} in data_received: raise ValueError(", text)
                self.assertRegex(text, r"transport    TCP transport 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+\n")

    def test_an_exception_handed_to_call_exception_handler_fails_the_test(self) -> None:
        class Inner(AsyncTestCase):
            async def test_context(self) -> None:
                try:
                    raise OSError("disk gone")  # <raise-ctx>
                except OSError as error:
                    asyncio.get_running_loop().call_exception_handler(
                        {"message": "background flush failed", "exception": error})

        text = run_case(Inner, "test_context").failure
        self.assertIn("1. OSError('disk gone') reached the loop's exception handler (background flush failed)\n", text)
        self.assertIn(f"raised at    {at('raise-ctx')} in test_context", text)

    def test_a_context_without_an_exception_is_a_note_and_the_test_passes(self) -> None:
        class Inner(AsyncTestCase):
            async def test_message(self) -> None:
                asyncio.get_running_loop().call_exception_handler({"message": "pool is getting large"})

        outcome = run_case(Inner, "test_message")
        self.assertTrue(outcome.result.wasSuccessful(), outcome.result.failures)
        (note,) = outcome.messages("asynctestkit")
        self.assertIn("leak check note: test_message had 1 error swallowed by the loop", note)
        self.assertIn("the loop's exception handler was called without an exception: 'pool is getting large'", note)

    def test_a_test_that_already_failed_gets_the_swallowed_error_as_a_note_not_a_second_failure(self) -> None:
        class Inner(AsyncTestCase):
            async def test_fails(self) -> None:
                asyncio.get_running_loop().call_soon(broken_callback)
                await asyncio.sleep(0)
                self.assertEqual(1, 2)

        outcome = run_case(Inner, "test_fails")
        text = outcome.failure
        self.assertIn("AssertionError: 1 != 2", text)
        self.assertIn("leak check note (the test had already failed): test_fails had 1 error swallowed by the loop",
                      text)
        self.assertNotIn("allow:", text)


class OptOutTests(unittest.TestCase):
    def test_allow_leaks_errors_on_the_method_or_the_class_keeps_the_test_green_and_quiet(self) -> None:
        class OnMethod(AsyncTestCase):
            @allow_leaks(errors=True, reason="the callback's failure is the behaviour under test")
            async def test_x(self) -> None:
                asyncio.get_running_loop().call_soon(broken_callback)
                await asyncio.sleep(0)

        @allow_leaks(errors="RuntimeError", reason="every test here provokes a RuntimeError in a callback")
        class OnClass(AsyncTestCase):
            async def test_x(self) -> None:
                asyncio.get_running_loop().call_soon(broken_callback)
                await asyncio.sleep(0)

        for case in (OnMethod, OnClass):
            with self.subTest(case=case.__name__):
                outcome = run_case(case, "test_x")
                self.assertTrue(outcome.result.wasSuccessful(), outcome.result.failures)
                self.assertEqual(outcome.messages("asynctestkit"), [])

    def test_allow_leaks_with_a_pattern_that_does_not_match_still_fails(self) -> None:
        class Inner(AsyncTestCase):
            @allow_leaks(errors="KeyError", reason="only KeyErrors are expected")
            async def test_x(self) -> None:
                asyncio.get_running_loop().call_soon(broken_callback)
                await asyncio.sleep(0)

        self.assertIn("callback broken_callback() raised RuntimeError", run_case(Inner, "test_x").failure)

    def test_leak_checks_mapping_turns_errors_into_a_note_or_off(self) -> None:
        for severity in ("note", "off"):
            with self.subTest(severity=severity):
                class Inner(AsyncTestCase):
                    leak_checks = {"errors": severity}

                    async def test_x(self) -> None:
                        asyncio.get_running_loop().call_soon(broken_callback)
                        await asyncio.sleep(0)

                outcome = run_case(Inner, "test_x")
                self.assertTrue(outcome.result.wasSuccessful(), outcome.result.failures)
                notes = outcome.messages("asynctestkit")
                self.assertEqual(len(notes), 1 if severity == "note" else 0, notes)

    def test_an_error_asserted_with_assertLogs_is_the_tests_business_and_not_reported(self) -> None:
        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_x(self) -> None:
                        with self.assertLogs("asyncio", logging.ERROR) as logs:
                            asyncio.get_running_loop().call_soon(broken_callback)
                            await asyncio.sleep(0)
                        self.assertIn("callback broke", logs.output[0])

                outcome = run_case(Inner, "test_x")
                self.assertTrue(outcome.result.wasSuccessful(), outcome.result.failures)
                self.assertEqual(outcome.messages("asynctestkit"), [])

    def test_an_exception_handler_installed_by_the_test_handles_the_error(self) -> None:
        seen: list[str] = []

        class Inner(AsyncTestCase):
            async def test_x(self) -> None:
                loop = asyncio.get_running_loop()
                loop.set_exception_handler(lambda _loop, context: seen.append(repr(context.get("exception"))))
                loop.call_soon(broken_callback)
                await asyncio.sleep(0)
                loop.set_exception_handler(None)

        outcome = run_case(Inner, "test_x")
        self.assertTrue(outcome.result.wasSuccessful(), outcome.result.failures)
        self.assertEqual(seen, ["RuntimeError('callback broke')"])


class NoFalsePositiveTests(unittest.TestCase):
    def test_clean_network_traffic_cancellations_and_timeouts_report_no_error(self) -> None:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.read(100))
            await writer.drain()
            writer.close()

        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_x(self) -> None:
                        server = await asyncio.start_server(echo, "127.0.0.1", 0)
                        async with server:
                            reader, writer = await asyncio.open_connection(
                                "127.0.0.1", server.sockets[0].getsockname()[1])
                            writer.write(b"ping")
                            self.assertEqual(await reader.read(100), b"ping")
                            writer.close()
                            await writer.wait_closed()
                        sleeper = asyncio.create_task(asyncio.sleep(60))
                        await asyncio.sleep(0)
                        sleeper.cancel()
                        with self.assertRaises(asyncio.CancelledError):
                            await sleeper
                        with self.assertRaises(asyncio.TimeoutError):
                            await asyncio.wait_for(asyncio.sleep(60), 0.01)
                        failed = asyncio.get_running_loop().create_future()
                        failed.set_exception(KeyError("seen"))
                        with self.assertRaises(KeyError):
                            await failed

                outcome = run_case(Inner, "test_x")
                self.assertTrue(outcome.result.wasSuccessful(), outcome.result.failures + outcome.result.errors)
                self.assertEqual(outcome.messages("asynctestkit"), [])


class NeverRetrievedTests(unittest.TestCase):
    def test_a_never_retrieved_task_exception_says_where_it_was_raised_and_is_not_also_an_error(self) -> None:
        async def background() -> None:
            await asyncio.sleep(1)
            raise KeyError("lost")  # <raise-bg>

        for base in BASES:
            with self.subTest(base=base.__name__):
                class Inner(base):  # type: ignore[valid-type, misc]
                    async def test_x(self) -> None:
                        self.task = asyncio.create_task(background())  # <create-bg>
                        await asyncio.sleep(2)

                text = run_case(Inner, "test_x").failure
                self.assertIn("leaked 1 exception never retrieved", text)
                self.assertNotIn("swallowed", text)  # one report, under its own kind
                self.assertIn("exception    KeyError('lost')\n", text)
                self.assertIn(f"raised at    {at('raise-bg')} in background: raise KeyError(\"lost\")", text)
                self.assertIn(f"created at   {at('create-bg')} in test_x\n", text)
                self.assertLess(text.index("raised at"), text.index("created at"))

    def test_a_dropped_task_whose_exception_was_never_retrieved_is_one_report_with_raised_at(self) -> None:
        async def background() -> None:
            raise KeyError("lost")  # <raise-drop>

        class Inner(PlainLeakCase):
            async def test_x(self) -> None:
                task = asyncio.create_task(background())
                await asyncio.sleep(0)
                del task
                await asyncio.sleep(0)

        text = run_case(Inner, "test_x").failure
        self.assertIn("leaked 1 exception never retrieved", text)
        self.assertNotIn("swallowed", text)
        self.assertIn(f"raised at    {at('raise-drop')} in background", text)


if __name__ == "__main__":
    unittest.main()
