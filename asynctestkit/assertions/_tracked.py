"""Every assertion object must be used: awaited or entered exactly once, or the test that made it fails.

An assertion returns an object (a :class:`~asynctestkit.Block` or an :class:`AssertionCall`); forgetting
``await`` or ``async with`` would silently check nothing.  So each such object registers with its test case
when it is made; the first one adds a cleanup, :func:`check_unawaited`, which after the test fails it for
every object still unused, naming the right spelling and the user's line that made it.  The coroutines a
forgotten assertion holds are closed, so the leak check does not report them a second time, and a test that
has already failed, errored or been skipped keeps its own outcome (``_compat.test_already_failed``; for a
result that keeps no lists, whether a task that made one of the assertions ended with an exception).
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from .. import _compat, _diagnostics
from ._base import close_coroutines

if TYPE_CHECKING:
    from ._base import AssertionsBase

__unittest = True

_R = TypeVar("_R")

#: Attribute of a test case holding its assertions not yet awaited or entered (id -> object).
_PENDING = "_atk_unawaited"
#: Attribute of a test case set when a task that made one of its assertions ended with an exception.
_TASK_FAILED = "_atk_assertion_task_failed"
#: Attribute of a test case: ids of the tasks already watched for _TASK_FAILED.
_WATCHED = "_atk_assertion_tasks"
_MAX_LISTED = 5


class Tracked:
    """What every assertion object shares: it must be used (awaited or entered) exactly once.

    It registers with the test case at creation; :func:`check_unawaited`, a cleanup of that test, fails the
    test for every one still unused, so a forgotten ``await`` never passes silently.
    """

    def __init__(self, case: AssertionsBase, method: str) -> None:
        self._used = False
        self._case = case
        self._method = method
        self._site = _diagnostics.caller_site()
        _register(case, self)

    def _mark_used(self) -> None:
        self._used = True
        pending = getattr(self._case, "__dict__", {}).get(_PENDING)
        if pending is not None:
            pending.pop(id(self), None)

    def _held(self) -> object:
        """The coroutines this object would have run (closed when it is abandoned)."""
        return None

    def _abandon(self) -> None:
        """Never used: close what it holds so no "coroutine was never awaited" report follows."""
        self._used = True
        close_coroutines(self._held())

    def _form(self) -> str:
        """How this object is used: ``await``, ``async with``, or ``with`` (either kind of ``with``)."""
        return "await"

    def _spelling(self) -> str:
        """The right way to write this call, as a code span: ``await self.assertTakes(...)``."""
        form = self._form()
        if form == "with":
            return f"`with self.{self._method}(...):` or `async with self.{self._method}(...):`"
        if form == "async with":
            return f"`async with self.{self._method}(...):`"
        return f"`await self.{self._method}(...)`"

    def _verb(self) -> str:
        return "awaited" if self._form() == "await" else "entered"

    def _unawaited_message(self) -> str:
        """``assertTakes(...) was never awaited: write `await self.assertTakes(...)` `` plus where it was made."""
        site = self._site
        where = _diagnostics.format_site(site, with_source=True) if site is not None else "<unknown>"
        return (f"{self._method}(...) was never {self._verb()}: write {self._spelling()}; it checked "
                f"nothing\n  made at {where}")

    def __del__(self) -> None:
        # Only reached when no test case cleanup looked at it (made outside a running test).
        if getattr(self, "_used", True):
            return
        self._used = True
        close_coroutines(self._held())
        warnings.warn(f"{self._method}(...) was never {self._verb()}: write {self._spelling()}",
                      RuntimeWarning, stacklevel=1)


def _register(case: object, obj: Tracked) -> None:
    """Remember *obj* on its test case; the first time, add the cleanup that reports the forgotten ones."""
    state = getattr(case, "__dict__", None)
    add_cleanup = getattr(case, "addCleanup", None)
    if state is None or add_cleanup is None:
        return
    pending = state.get(_PENDING)
    if pending is None:
        pending = state[_PENDING] = {}
        add_cleanup(check_unawaited, case)
    pending[id(obj)] = obj
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    watched: set[int] = state.setdefault(_WATCHED, set())
    if task is not None and id(task) not in watched:
        watched.add(id(task))
        task.add_done_callback(lambda done: _note_task_outcome(case, done))


def _note_task_outcome(case: object, task: asyncio.Future[Any]) -> None:
    # An exception nobody has read yet is not read here (asyncio still logs it if nobody does); one already
    # read (the runner reads the test's own task before this callback runs) can be read again freely.
    if task.cancelled() or _compat.exception_never_retrieved(task) or task.exception() is not None:
        vars(case)[_TASK_FAILED] = True


def check_unawaited(case: Any) -> None:
    """Fail the test for each assertion it made and never awaited or entered (a cleanup of that test).

    The coroutines such an assertion holds are closed, so the leak check does not report them a second
    time; a test that already failed, errored or was skipped keeps its own outcome and gets no second
    failure.
    """
    pending: dict[int, Tracked] = vars(case).pop(_PENDING, None) or {}
    forgotten = [obj for obj in pending.values() if not obj._used]
    for obj in forgotten:
        obj._abandon()
    task_failed = vars(case).pop(_TASK_FAILED, False)
    vars(case).pop(_WATCHED, None)
    if not forgotten:
        return
    decided = _compat.test_already_failed(case)
    if decided or (decided is None and task_failed):
        return
    if len(forgotten) == 1:
        text = forgotten[0]._unawaited_message()
    else:
        lines = [f"{len(forgotten)} assertions were never awaited or entered; they checked nothing:"]
        for obj in forgotten[:_MAX_LISTED]:
            lines += ["  " + line for line in obj._unawaited_message().splitlines()]
        if len(forgotten) > _MAX_LISTED:
            lines.append(f"  ... and {len(forgotten) - _MAX_LISTED} more")
        text = "\n".join(lines)
    raise case.failureException(text)


class AssertionCall(Tracked, Coroutine[Any, Any, _R]):
    """What an assertion that can only be awaited returns: ``await`` it to run the check and get its result.

    ``outcome = await self.assertGatherRaises(...)``.  It is a coroutine in the ``collections.abc`` sense, so
    ``asyncio.create_task()``, ``gather()`` and ``wait_for()`` accept it as they accepted the coroutines
    these assertions used to be.  Awaiting it twice, entering it with ``with`` or ``async with``, or never
    awaiting it are errors (the last one fails the test that made it); ``close()`` discards it on purpose.
    """

    def __init__(self, case: AssertionsBase, method: str, run: Callable[[], Coroutine[Any, Any, _R]],
                 holds: object = None) -> None:
        super().__init__(case, method)
        self._run = run
        self._holds = holds
        self._inner: Coroutine[Any, Any, _R] | None = None

    def _held(self) -> object:
        return self._holds

    def _begin(self) -> Coroutine[Any, Any, _R]:
        if self._used:
            raise RuntimeError(f"{self._method}(...) was already awaited: call it again to check again")
        self._mark_used()
        self._holds = None
        self._inner = self._run()
        return self._inner

    def __await__(self) -> Generator[Any, None, _R]:
        return self._begin().__await__()

    # -- the coroutine protocol, for asyncio.create_task() and friends ---------------------------------
    def send(self, value: Any) -> Any:
        inner = self._inner if self._inner is not None else self._begin()
        return inner.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None, /) -> Any:
        inner = self._inner if self._inner is not None else self._begin()
        if val is None and tb is None:
            return inner.throw(typ)
        return inner.throw(typ, val, tb)  # pragma: no cover - the three-argument form is deprecated

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
        elif not self._used:
            self._abandon()  # discarded on purpose: not a forgotten await
            self._mark_used()

    def _not_a_context_manager(self) -> NoReturn:
        self._mark_used()
        close_coroutines(self._holds)
        raise TypeError(f"{self._method}() is not a context manager: write `await self.{self._method}(...)`")

    def __enter__(self) -> NoReturn:
        self._not_a_context_manager()

    def __exit__(self, *exc_info: object) -> None:  # pragma: no cover - __enter__ always raises
        return None

    async def __aenter__(self) -> NoReturn:
        self._not_a_context_manager()

    async def __aexit__(self, *exc_info: object) -> None:  # pragma: no cover - __aenter__ always raises
        return None

    def __repr__(self) -> str:
        return f"<{self._method}(...) {'awaited' if self._used else 'not awaited yet'}>"
