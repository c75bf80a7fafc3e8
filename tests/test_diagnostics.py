"""Report formatting (asynctestkit/diagnostics.py and the hang-report helpers in hangs.py).

Every failure asynctestkit prints is built from these pieces: relative ``path:line in function`` sites with
the source line, where a task was created, where it is suspended, and a short phrase for what it awaits.
"""

from __future__ import annotations

import asyncio
import copy
import os
import sys
import threading
import unittest
from typing import Any

from asynctestkit import AsyncTestCase
from asynctestkit import _diagnostics as diagnostics
from asynctestkit.clock import _hangs as hangs

from .clock._clock_support import run_on_virtual_loop

HERE = os.path.abspath(__file__)


def _line_of(marker: str) -> int:
    """The line number in this file of the line that ends with the comment ``# <marker>``."""
    with open(HERE, encoding="utf-8") as source:
        for number, line in enumerate(source, 1):
            if line.rstrip().endswith(f"# {marker}"):
                return number
    raise LookupError(marker)


def _here(function: str, marker: str) -> str:
    return f"{diagnostics.relpath(HERE)}:{_line_of(marker)} in {function}"


class SiteFormattingTests(unittest.TestCase):
    def test_paths_below_the_current_directory_are_shown_relative(self) -> None:
        cwd = os.getcwd()
        self.assertEqual(diagnostics.relpath(os.path.join(cwd, "pkg", "mod.py")), os.path.join("pkg", "mod.py"))
        self.assertEqual(diagnostics.relpath("/elsewhere/mod.py"), "/elsewhere/mod.py")
        self.assertEqual(diagnostics.relpath(cwd + "x/mod.py"), cwd + "x/mod.py")  # a sibling, not below

    def test_format_site_with_and_without_the_source_line(self) -> None:
        line = _line_of("format-site")
        site = (HERE, line, "some_function")  # format-site
        self.assertEqual(diagnostics.format_site(site), f"{diagnostics.relpath(HERE)}:{line} in some_function")
        self.assertEqual(diagnostics.format_site(site, with_source=True),
                         f"{diagnostics.relpath(HERE)}:{line} in some_function: "
                         f'site = (HERE, line, "some_function")  # format-site')
        self.assertEqual(diagnostics.format_site(None), "<unknown>")
        self.assertEqual(diagnostics.format_site(("/no/such/file.py", 3, "f"), with_source=True),
                         "/no/such/file.py:3 in f")

    def test_internal_files_are_asyncio_unittest_threading_and_asynctestkit(self) -> None:
        for module in (asyncio.tasks, unittest.case, threading, diagnostics):
            with self.subTest(module=module.__name__):
                self.assertTrue(diagnostics.is_internal_file(os.path.abspath(module.__file__ or "")))
        self.assertTrue(diagnostics.is_internal_file("<frozen importlib._bootstrap>"))
        self.assertFalse(diagnostics.is_internal_file(HERE))

    def test_caller_site_is_the_first_frame_outside_the_library(self) -> None:
        def helper() -> Any:
            return diagnostics.caller_site()

        site = helper()  # caller-site
        self.assertEqual(diagnostics.format_site(site),
                         _here("test_caller_site_is_the_first_frame_outside_the_library", "caller-site"))

    def test_caller_site_in_a_task_started_by_asyncio_is_the_tasks_creation_site(self) -> None:
        # Library code run by the loop itself as a task's coroutine (asyncio.to_thread wrapped in a task):
        # no user frame is on the stack, and the frames beyond the loop belong to whoever runs it.
        sites: list[Any] = []

        async def main() -> None:
            await asyncio.ensure_future(_library_probe(sites))  # created-here

        run_on_virtual_loop(main)
        self.assertEqual(diagnostics.format_site(sites[0]), _here("main", "created-here"))


async def _library_probe(sites: list[Any]) -> None:
    sites.append(diagnostics.caller_site())


# Make the probe look like library code (as if defined in asyncio/tasks.py).
_library_probe.__code__ = _library_probe.__code__.replace(co_filename=os.path.abspath(asyncio.tasks.__file__))


class VocabularyTests(unittest.TestCase):
    """The shared pieces every report is made of: one namer, one line shape, one frame walker."""

    def test_site_lines_put_every_label_in_one_column(self) -> None:
        site = (os.path.join(os.getcwd(), "app.py"), 12, "fetch")
        self.assertEqual(diagnostics.site_line("created at", site), "created at   app.py:12 in fetch")
        self.assertEqual(diagnostics.site_line("raised at", site), "raised at    app.py:12 in fetch")
        self.assertEqual(diagnostics.site_line("scheduled at", site, suffix=" (via x)"),
                         "scheduled at app.py:12 in fetch (via x)")
        self.assertEqual(diagnostics.detail_line("exception", "KeyError('x')"), "exception    KeyError('x')")

    def test_raised_at_is_the_innermost_user_frame_of_the_traceback(self) -> None:
        def inner() -> None:
            raise KeyError("x")  # inner-raises

        try:
            inner()
        except KeyError as error:  # the traceback holds this frame and inner's: the innermost is the answer
            self.assertEqual(diagnostics.format_site(diagnostics.raised_at(error)), _here("inner", "inner-raises"))
        self.assertIsNone(diagnostics.raised_at(KeyError("never raised")))

    def test_raised_at_falls_back_to_the_innermost_frame_when_all_are_internal(self) -> None:
        fake = os.path.join(os.path.dirname(asyncio.__file__), "_atk_fake_internal.py")  # never written
        namespace: dict[str, Any] = {}
        exec(compile("def f():\n    raise KeyError(1)\n"
                     "def g():\n    try:\n        f()\n    except KeyError as e:\n        return e\n",
                     fake, "exec"), namespace)
        error = namespace["g"]()
        self.assertEqual(diagnostics.raised_at(error), (fake, 2, "f"))

    def test_callables_are_named_without_locals_and_through_partials_and_to_thread_wrappers(self) -> None:
        import contextvars
        import functools

        def job() -> None:
            pass

        class Poller:
            def poll(self) -> None:
                pass

        self.assertEqual(diagnostics.callable_name(job), "job")
        self.assertEqual(diagnostics.callable_name(Poller().poll), "Poller.poll")
        self.assertEqual(diagnostics.callable_name(functools.partial(job)), "job")
        wrapped = functools.partial(contextvars.copy_context().run, job)  # what asyncio.to_thread submits
        self.assertEqual(diagnostics.callable_name(wrapped), "job")
        self.assertEqual(diagnostics.callable_name(print), "print")
        self.assertEqual(diagnostics.short_name("T.test_x.<locals>.helper.<locals>.f"), "f")

    def test_a_plain_future_is_named_by_its_repr_without_the_debug_mode_path(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.set_debug(True)
            future = loop.create_future()
            text = diagnostics.describe_task(future)
            self.assertTrue(text.startswith("future <Future pending"), text)
            self.assertNotIn("created at", text)
        finally:
            loop.close()


class TaskDescriptionTests(AsyncTestCase):
    async def test_creation_site_of_a_task_is_the_line_that_created_it(self) -> None:
        task = asyncio.create_task(asyncio.sleep(1), name="napper")  # create-task
        self.assertEqual(diagnostics.format_site(diagnostics.creation_site(task)),
                         _here("test_creation_site_of_a_task_is_the_line_that_created_it", "create-task"))
        coro = asyncio.sleep(1)
        self.assertIsNone(diagnostics.creation_site(coro), "no coroutine origins by default")
        coro.close()
        self.assertIsNone(diagnostics.creation_site(asyncio.get_running_loop().create_future()))
        await task

    async def test_a_task_created_through_a_library_is_placed_at_the_users_line(self) -> None:
        async def job() -> None:
            pass

        gathered = asyncio.gather(job())  # gather-line
        task = next(iter(asyncio.all_tasks() - {asyncio.current_task()}))
        self.assertEqual(diagnostics.format_site(diagnostics.creation_site(task)),
                         _here("test_a_task_created_through_a_library_is_placed_at_the_users_line", "gather-line"))
        await gathered

    async def test_tasks_from_a_file_seen_for_the_first_time_and_again_get_their_exact_lines(self) -> None:
        # The first task from a new file is placed by the walk (which learns the file is the user's); the
        # next ones by create_task() itself (the file is then in USER_FILES): both paths give the same lines.
        import contextvars
        import importlib.util
        import tempfile
        import textwrap

        source = textwrap.dedent("""\
            import asyncio

            async def job():
                return asyncio.current_task().get_name()

            def spawn(loop, options):
                first = loop.create_task(job())
                second = loop.create_task(job(), name="named", **options)
                third = asyncio.ensure_future(job())
                return first, second, third
            """)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "spawner_module.py")
            with open(path, "w") as file:
                file.write(source)
            spec = importlib.util.spec_from_file_location("spawner_module", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self.assertNotIn(path, diagnostics.USER_FILES)
            context = contextvars.copy_context()
            options = {"context": context} if sys.version_info >= (3, 11) else {}  # 3.10: no context argument
            first, second, third = module.spawn(asyncio.get_running_loop(), options)
            self.assertIn(path, diagnostics.USER_FILES)
            sites = [diagnostics.creation_site(task) for task in (first, second, third)]
            self.assertEqual(sites, [(path, 7, "spawn"), (path, 8, "spawn"), (path, 9, "spawn")])
            self.assertEqual(await asyncio.gather(first, second, third),
                             [first.get_name(), "named", third.get_name()])
            if sys.version_info >= (3, 12):
                self.assertIs(second.get_context(), context)

    async def test_task_sites_stay_correct_across_full_chunks_of_the_record(self) -> None:
        never = asyncio.Event()
        first = asyncio.ensure_future(never.wait())  # first-line
        middle = []
        for _ in range(2500):
            middle.append(asyncio.create_task(never.wait()))  # middle-line
        gathered = asyncio.gather(never.wait(), never.wait())  # last-line
        last = next(iter(asyncio.all_tasks() - {asyncio.current_task(), first, *middle}))
        name = "test_task_sites_stay_correct_across_full_chunks_of_the_record"
        self.assertEqual(diagnostics.format_site(diagnostics.creation_site(first)), _here(name, "first-line"))
        self.assertEqual(diagnostics.format_site(diagnostics.creation_site(middle[1500])), _here(name, "middle-line"))
        self.assertEqual(diagnostics.format_site(diagnostics.creation_site(last)), _here(name, "last-line"))
        for task in [first, *middle]:
            task.cancel()
        gathered.cancel()
        await asyncio.gather(first, *middle, gathered, return_exceptions=True)

    async def test_task_sites_are_pruned_to_the_pending_tasks_and_stay_correct(self) -> None:
        async def job() -> None:
            pass

        loop: Any = asyncio.get_running_loop()
        sites = loop._atk.task_sites
        sites._prune_at = 1000  # as if 65,536 tasks had been created
        for _ in range(1200):
            await asyncio.create_task(job())
        keeper = asyncio.create_task(asyncio.sleep(1))  # keeper-line
        self.assertLess(len(sites), 1000, "finished tasks' entries are pruned")
        self.assertEqual(sites._prune_at, 65536)
        self.assertEqual(diagnostics.format_site(diagnostics.creation_site(keeper)),
                         _here("test_task_sites_are_pruned_to_the_pending_tasks_and_stay_correct", "keeper-line"))
        keeper.cancel()
        stranger = asyncio.Task(job(), loop=loop)  # bypasses create_task(): not recorded, not misplaced
        self.assertNotEqual(diagnostics.creation_site(stranger),
                            diagnostics.creation_site(keeper))
        await stranger


    async def test_suspended_at_is_the_innermost_user_line_with_its_source(self) -> None:
        event = asyncio.Event()

        async def outer() -> None:
            await middle()

        async def middle() -> None:
            await event.wait()  # suspended-here

        task = asyncio.create_task(outer(), name="chain")
        await asyncio.sleep(0)
        chain = diagnostics.await_chain(task)
        self.assertEqual([function for _file, _line, function in chain[:2]], ["outer", "middle"])
        self.assertEqual(diagnostics.format_site(diagnostics.suspended_at(task), with_source=True),
                         _here("middle", "suspended-here") + ": await event.wait()  # suspended-here")
        event.set()
        await task
        self.assertEqual(diagnostics.await_chain(task), [])
        self.assertEqual(diagnostics.awaiting(task), "")

    async def test_awaiting_names_the_library_call_or_the_awaited_task(self) -> None:
        lock = asyncio.Lock()
        await lock.acquire()
        queue: asyncio.Queue[int] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        bare = loop.create_future()
        other = asyncio.create_task(asyncio.Event().wait(), name="other")

        async def await_bare() -> None:
            await bare

        cases = {
            "Event.wait()": asyncio.Event().wait(),
            "sleep()": asyncio.sleep(10),
            "Queue.get()": queue.get(),
            "Lock.acquire()": lock.acquire(),
            "wait_for()": asyncio.wait_for(asyncio.Event().wait(), 60),
            "task 'other'": other,
            "Future": await_bare(),
        }
        tasks = {expected: asyncio.ensure_future(_awaits(aw)) for expected, aw in cases.items()}
        zero: asyncio.Task[Any] = asyncio.create_task(_sleep_zero_forever())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        try:
            for expected, task in tasks.items():
                with self.subTest(expected=expected):
                    self.assertEqual(diagnostics.awaiting(task), expected)
            self.assertEqual(diagnostics.awaiting(zero), "sleep()")  # not its private helper __sleep0()
        finally:
            for task in [*tasks.values(), other, zero]:
                task.cancel()
            await asyncio.gather(*tasks.values(), other, zero, return_exceptions=True)
            lock.release()

    async def test_describe_and_format_task(self) -> None:
        async def worker() -> None:
            await asyncio.Event().wait()  # worker-waits

        task = asyncio.create_task(worker(), name="w-1")  # worker-created
        await asyncio.sleep(0)
        here = "test_describe_and_format_task"
        self.assertEqual(diagnostics.describe_task(task),
                         "task 'w-1' (worker())")  # the enclosing function adds nothing
        self.assertEqual(diagnostics.format_task(task, "  ")[1:], [
            f"  created at   {_here(here, 'worker-created')}",
            f"  suspended at {_here('worker', 'worker-waits')}: await asyncio.Event().wait()  # worker-waits"
            "  (awaiting Event.wait())",
        ])
        other_site = ("/elsewhere/app.py", 7, "start")
        self.assertEqual(diagnostics.format_task(task, created=other_site)[1],
                         "  created at   /elsewhere/app.py:7 in start")
        fut = asyncio.get_running_loop().create_future()
        self.assertTrue(diagnostics.describe_task(fut).startswith("future <Future pending"))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        self.assertEqual(len(diagnostics.format_task(task)), 2, "a finished task has no 'suspended at' line")

    async def test_format_tasks_numbers_and_caps_the_list(self) -> None:
        tasks = [asyncio.create_task(asyncio.sleep(60), name=f"t{i}") for i in range(4)]
        await asyncio.sleep(0)
        lines = diagnostics.format_tasks(tasks, limit=2)
        self.assertTrue(lines[0].startswith("  1. task 't0' (sleep())"))
        self.assertTrue(any(line.startswith("  2. task 't1'") for line in lines))
        self.assertEqual(lines[-1], "  ... and 2 more tasks")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _awaits(awaitable: Any) -> None:
    await awaitable


async def _sleep_zero_forever() -> None:
    while True:
        await asyncio.sleep(0)


class CoroutineOriginTests(AsyncTestCase):
    coroutine_origins = True

    async def test_creation_site_of_a_coroutine_is_its_origin(self) -> None:
        coro = asyncio.sleep(1)  # create-coro
        self.assertEqual(diagnostics.format_site(diagnostics.creation_site(coro)),
                         _here("test_creation_site_of_a_coroutine_is_its_origin", "create-coro"))
        coro.close()


class HangReportFormatTests(AsyncTestCase):
    leak_checks = "off"

    async def test_a_report_lists_the_phase_first_then_every_task_capped_to_one_screen(self) -> None:
        loop = asyncio.get_running_loop()
        tasks = [asyncio.create_task(asyncio.Event().wait(), name=f"idle-{i}") for i in range(10)]

        async def phase() -> None:
            await asyncio.Event().wait()  # phase-waits

        phase_task = asyncio.create_task(phase(), name="the-phase")
        await asyncio.sleep(0)
        text = hangs.format_report(loop, "HEADLINE", phase_task=phase_task, phase_label="test 'x'", start=0.0)
        lines = text.splitlines()
        self.assertEqual(lines[0], "HEADLINE")
        self.assertEqual(lines[1], "  1. test 'x' (task 'the-phase')")
        self.assertEqual(lines[2], f"       suspended at {_here('phase', 'phase-waits')}: await asyncio.Event().wait()"
                                   "  # phase-waits  (awaiting Event.wait())")
        self.assertRegex(lines[3], r"^  2\. task '(idle-\d|Task-\d+)'")
        self.assertEqual(lines[-1], "  ... and 4 more tasks")  # 12 pending: the test's own task too
        self.assertLessEqual(len(lines), 25)
        for task in [*tasks, phase_task]:
            task.cancel()
        await asyncio.gather(*tasks, phase_task, return_exceptions=True)

    async def test_timers_are_described_by_the_task_they_wake_or_the_function_they_call(self) -> None:
        loop = asyncio.get_running_loop()

        async def nap() -> None:
            await asyncio.sleep(30)  # nap-line

        napper = asyncio.create_task(nap(), name="napper")
        await asyncio.sleep(0)

        def poll() -> None:
            pass

        handle = loop.call_later(10, poll)
        text = hangs.format_report(loop, "H", phase_task=None, phase_label="x", start=0.0, timers=True)
        self.assertIn("  timer at t=10.000s calls poll()\n", text)  # the enclosing function adds nothing
        self.assertIn(f"  timer at t=30.000s wakes task 'napper' (nap()) at {_here('nap', 'nap-line')}: "
                      "await asyncio.sleep(30)  # nap-line", text)
        self.assertIn("hint: if the test really simulates more time, raise clock_horizon", text)
        handle.cancel()
        napper.cancel()
        await asyncio.gather(napper, return_exceptions=True)


class BlockingSiteTests(unittest.TestCase):
    def test_a_user_frame_is_a_safe_place_to_interrupt_and_is_the_reported_site(self) -> None:
        site = hangs.safe_blocking_site(sys._getframe())  # safe-here
        self.assertEqual(diagnostics.format_site(site),
                         _here("test_a_user_frame_is_a_safe_place_to_interrupt_and_is_the_reported_site",
                               "safe-here"))

    def test_standard_library_frames_are_looked_through(self) -> None:
        seen: list[tuple[str, Any]] = []

        class Probe:
            def __deepcopy__(self, memo: Any) -> Probe:
                caller = sys._getframe(1)  # a frame of copy.py, called from this test
                seen.append((caller.f_code.co_filename, hangs.safe_blocking_site(caller)))
                return self

        copy.deepcopy(Probe())  # deepcopy-call
        self.assertTrue(seen[0][0].endswith("copy.py"))
        self.assertEqual(diagnostics.format_site(seen[0][1]),
                         _here("test_standard_library_frames_are_looked_through", "deepcopy-call"))

    def test_asyncio_internals_are_never_a_safe_place(self) -> None:
        coro: Any = asyncio.sleep(1)
        frame = coro.cr_frame
        self.assertIsNotNone(frame)
        self.assertIsNone(hangs.safe_blocking_site(frame))
        self.assertIsNone(hangs.safe_blocking_site(None))
        coro.close()


class FrameworkTaskSiteTests(unittest.TestCase):
    """The task a runner creates gets the line that ran it, unless it is a test phase's (unittest's, no site)."""

    @unittest.skipIf(sys.version_info < (3, 11), "3.10 has no asyncio.Runner: a phase runs inside one long task")
    def test_a_test_phase_task_has_no_site_and_a_plain_runner_task_has_the_run_line(self) -> None:
        from asynctestkit import VirtualClockLoop

        seen: list[object] = []

        class Phase(AsyncTestCase):
            async def test_phase(self) -> None:
                seen.append(diagnostics.creation_site(asyncio.current_task()))

        result = unittest.TestResult()
        Phase("test_phase").run(result)
        self.assertEqual((result.errors, result.failures, seen), ([], [], [None]))

        async def main() -> diagnostics.Site | None:
            return diagnostics.creation_site(asyncio.current_task())

        with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:
            site = runner.run(main())  # runner-line
        self.assertEqual(diagnostics.format_site(site),
                         _here("test_a_test_phase_task_has_no_site_and_a_plain_runner_task_has_the_run_line",
                               "runner-line"))


if __name__ == "__main__":
    unittest.main()
