"""3.10 only: the runner task of ``IsolatedAsyncioTestCase`` (its private ``_asyncioLoopRunner``), made to keep going.

3.10's runner re-raises ``SystemExit`` and ``KeyboardInterrupt`` raised by a test and dies; every later phase
then waits on a queue nobody reads and the base class hangs at teardown.  3.11+ hands both to the caller of the
phase (unittest records ``SystemExit`` as an error of the test, ``KeyboardInterrupt`` stops the run) and keeps
going: this runner does the same, and remembers whether a phase is still running (``_atk_phase_running``, read
through ``_compat.iatc_phase_running``).  ``_compat.LoopHookMixin`` installs it on 3.10.

It lives in a module of its own because its frame sits between the loop and the test's coroutine in every
traceback, where plain 3.10 prints the frame of unittest's runner (3.10's ``unittest/async_case.py`` does not
set ``__unittest``): the golden tests (tests/test_failure_output.py) accept this one frame in its place, and no
other frame of asynctestkit.
"""

from __future__ import annotations

import asyncio
from typing import Any


async def asyncio_loop_runner(self: Any, fut: asyncio.Future[None]) -> None:
    """Await each phase the test case queues; hand its outcome, whatever it is, to the phase's future."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    self._asyncioCallsQueue = queue
    fut.set_result(None)
    while True:
        query = await queue.get()
        queue.task_done()
        if query is None:
            return
        fut, awaitable = query
        self._atk_phase_running = True
        self._atk_phase_future = fut
        try:
            ret = await awaitable
            if not fut.done():
                fut.set_result(ret)
        except (SystemExit, KeyboardInterrupt) as ex:
            # run_until_complete() does not stop the loop for a future holding these two (it
            # expects them to have left run_forever() already): stop it here.
            if not fut.done():
                fut.set_exception(ex)
                fut.get_loop().stop()
        except BaseException as ex:
            if not fut.done():
                fut.set_exception(ex)
        finally:
            self._atk_phase_running = False
            idle = self._atk_phase_idle
            if idle is not None and not idle.done():
                idle.set_result(None)
