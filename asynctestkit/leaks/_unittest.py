"""``LeakCheckMixin``: automatic leak checks for ``unittest.IsolatedAsyncioTestCase``, and ``@allow_leaks``.

Mix it into any ``IsolatedAsyncioTestCase`` (``AsyncTestCase`` has it already)::

    class TestClient(LeakCheckMixin, unittest.IsolatedAsyncioTestCase):
        async def test_fetch(self):
            asyncio.create_task(poll_forever())      # fails: 1 pending task, with its creation line

How it hooks in: before ``setUp`` runs, a :class:`~asynctestkit.LeakTracker` is attached to the test's loop
and the check is registered among the *first* cleanups, so it runs *last*: after ``asyncTearDown``,
``tearDown`` and every other cleanup (cleanups added by cleanups too), before the loop is closed.  A clean
test is checked without running the loop again and the verdict follows in the same cleanup; otherwise the
check adds one async cleanup to settle, collect and clean on the loop, and the verdict as a cleanup of its
own after it.  Either way unittest calls the verdict without any frame of asyncio in between, so a
failure shows the report alone, not a traceback.

The outcome:

- a test that passed and leaked fails with one :class:`~asynctestkit.LeakError` listing every leak;
- a test that had already failed, errored or skipped keeps its own outcome first: the leak report is
  appended as a note to its failure in the result (when the result keeps the standard ``failures`` and
  ``errors`` lists, as ``unittest``'s does) or else logged as a warning on the ``asynctestkit.leaks``
  logger.  An ``expectedFailure`` test never gets a second error: its leaks are logged;
- leaks of kinds set to ``"note"`` are logged as a warning; the test passes.

Either way everything is cleaned up, so nothing spills into the next test.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
import sys
import unittest
import warnings
from collections.abc import Callable, Iterable, Mapping
from types import FrameType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from .. import _compat
from . import _kinds
from ._kinds import KINDS, OFF, allowances, apply_environment, resolve_policy, unknown_kind_message
from ._report import LeakError, LeakReport
from ._tracker import LeakTracker

__all__ = ["LeakCheckMixin", "allow_leaks"]

# Hide this module's frames from unittest tracebacks.  They only ever lead a traceback (the overrides below are
# the methods unittest's TestCase.run() calls first), never stand between the runner and the user's code.
__unittest = True
__tracebackhide__ = True  # the same for pytest (its name for it), when no frame of the test is left

logger = logging.getLogger("asynctestkit.leaks")
apply_environment({})  # a misspelt ASYNCTESTKIT_LEAK_CHECKS fails at import, not in every test
_T = TypeVar("_T")
_ALLOW_MARK = "__asynctestkit_allow_leaks__"
#: The allow-list of a test that allows nothing (shared: a tracker only reads it).
_NO_ALLOWANCE: dict[str, Any] = {}
#: The leak check's own synchronous cleanups: _callCleanup calls them directly (no phase, no partial), and so
#: does AsyncTestCase (they run no code of the test and never touch the loop).
DIRECT_CLEANUPS = frozenset({"_atk_check_leaks", "_atk_leak_verdict"})
_DIRECT = DIRECT_CLEANUPS
Allowance = bool | tuple["re.Pattern[str]", ...]


def allow_leaks(*args: Any, reason: str | None = None, **kinds: bool | str | Iterable[str]) -> Callable[[_T], _T]:
    """Accept some leaks of one test (decorate the method) or of every test of a class (decorate the class).

    Each keyword is a leak kind: ``True`` accepts every leak of that kind, a string (a regular expression,
    searched) or a list of them accepts only the leaks whose name matches: the task name or coroutine
    name for tasks, the thread or target name for threads, the type name for resources.  *reason* is
    required, so that every accepted leak says why.  Accepted leaks are still cleaned up::

        @allow_leaks(tasks="poller", reason="the poller runs until the loop closes, by design")
        async def test_poller_starts(self): ...

    Kinds: tasks, exceptions, coroutines, transports, servers, subprocesses, executor, threads (also covers
    daemon_threads), resources, daemon_threads, errors, timers, asyncgens.
    """
    if args:
        raise TypeError("allow_leaks takes keyword arguments only and must be called: "
                        "@allow_leaks(tasks=True, reason='...')")
    if not isinstance(reason, str) or not reason.strip():
        error = ValueError if isinstance(reason, str) else TypeError
        raise error(f"@allow_leaks needs reason='...': say why the leak is acceptable, e.g. "
                    f"@allow_leaks(tasks=True, reason=\"the loop's shutdown cancels the poller by design\"), "
                    f"got reason={reason!r}")
    if not kinds:
        raise TypeError(f"@allow_leaks(reason={reason!r}) names no leak kind; pass e.g. tasks=True (kinds: "
                        f"{', '.join(KINDS)})")
    allowances: dict[str, Allowance] = {}
    for kind, value in kinds.items():
        if kind not in KINDS:
            raise ValueError(unknown_kind_message(kind, "@allow_leaks"))
        allowances[kind] = _kinds.allowance("@allow_leaks", kind, value)

    def decorate(target: _T) -> _T:
        if not callable(target):
            raise TypeError(f"@allow_leaks decorates a test method or a test case class, got {target!r}")
        own = dict(target.__dict__.get(_ALLOW_MARK, {})) if isinstance(target, type) else \
            dict(getattr(target, _ALLOW_MARK, {}))
        own.update(allowances)
        setattr(target, _ALLOW_MARK, own)
        return target

    return decorate


def _stacklevel_past_asynctestkit(stacklevel: int) -> int:
    """*stacklevel* for a warning unittest would issue from the frame just below asynctestkit's test-case frames.

    Counts the caller's consecutive asynctestkit frames (the overrides of unittest's private methods) so the
    warning points at the same line as it does for a plain ``IsolatedAsyncioTestCase``.
    """
    frame: FrameType | None = sys._getframe(1)
    ours = 0
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith("asynctestkit."):
        ours += 1
        frame = frame.f_back
    return stacklevel + ours


class _Plan:
    """What a test case class's leak check needs at each test, worked out once per class (and per setting:
    a ``leak_checks`` replaced on the class is resolved again): the policy, whether it turns every kind off,
    and whether unittest's own ``doCleanups()`` is the one the mixin extends."""

    __slots__ = ("off", "plain_cleanups", "policy", "setting")

    def __init__(self, setting: object, policy: dict[str, str], cls: type | None = None) -> None:
        self.setting = setting
        self.policy = policy
        self.off = all(severity == OFF for severity in policy.values())
        #: No class after LeakCheckMixin in the MRO overrides doCleanups(): with no cleanup but the check left,
        #: calling unittest's would only return the outcome.
        self.plain_cleanups = cls is not None and _next_definition(cls, "doCleanups") is unittest.TestCase


def _next_definition(cls: type, name: str) -> type | None:
    """The class after LeakCheckMixin in *cls*'s MRO that defines *name*."""
    mro = cls.__mro__
    for klass in mro[mro.index(LeakCheckMixin) + 1:]:
        if name in klass.__dict__:
            return klass
    return None


_NO_PLAN = _Plan(None, {})


class LeakCheckMixin(unittest.IsolatedAsyncioTestCase):
    """Checks every test for leaks after its last cleanup; see the module documentation.

    Class attribute ``leak_checks``: a preset (``"default"``, ``"strict"``, ``"note"``, ``"off"``) or a
    mapping ``{kind: "fail" | "note" | "off"}`` laid over the default (``{"preset": "strict", ...}`` picks
    another base).  Default: fail on tasks, exceptions, coroutines, transports, servers, subprocesses,
    executor jobs, threads, resources and errors swallowed by the loop; note daemon threads; timers and
    async generators only in strict mode.  The environment variable ``ASYNCTESTKIT_LEAK_CHECKS=note``
    turns every failure into a note (adoption), ``=off`` disables the checks.
    """

    leak_checks: ClassVar[str | bool | Mapping[str, str]] = "default"

    _atk_leak_tracker: LeakTracker | None = None
    _atk_leak_decided = False  # setUp, the test, tearDown or a cleanup failed, errored or skipped
    _atk_leak_note: str | None = None
    _atk_leak_report: LeakReport | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "leak_checks" in cls.__dict__:  # misuse fails at import, naming the class
            resolve_policy(cls.__dict__["leak_checks"], where=f"{cls.__qualname__}.leak_checks")

    def trackResource(self, obj: _T, *, is_open: Callable[[Any], bool] | None = None,
                      close: Callable[[Any], object] | None = None,
                      describe: Callable[[Any], str] | None = None) -> _T:
        """Report *obj* as a leak if it is still open after the cleanups (see ``track_resource``); returns it."""
        tracker = self._atk_leak_tracker
        if tracker is not None:
            tracker.track(obj, is_open=is_open, close=close, describe=describe)
        return obj

    # -- unittest hooks (the names are checked by tests/test_compat.py) -----------------------------------
    # Whether the test had already failed, errored or been skipped when its leaks are judged is read from
    # unittest's own outcome (``_compat.outcome_success``: False once any part failed) right before the check
    # runs, not recorded by a wrapper around each part: setUp, the test and tearDown run without a frame of
    # this module around them.  A cleanup that runs before the check, or the check's own part on the loop, is
    # still noted as it fails (the check reads the outcome from inside a part, where unittest has reset it).
    def _callSetUp(self) -> None:
        self._atk_start_leak_check()
        super()._callSetUp()  # type: ignore[misc]

    if TYPE_CHECKING:  # unittest's own (not in its type stubs); the mixin does not override it
        def _callTearDown(self) -> None: ...

    if _compat.PY311:
        def _callTestMethod(self, method: Callable[..., Any]) -> None:
            # IsolatedAsyncioTestCase._callTestMethod (3.11+), redone: it warns about a test that returns a value
            # with a fixed stacklevel, which the frames of asynctestkit's overrides would shift onto its code.
            if _compat.call_maybe_async(self)(method) is not None:
                warnings.warn(f"It is deprecated to return a value that is not None from a test case ({method})",
                              DeprecationWarning, stacklevel=_stacklevel_past_asynctestkit(3))

    def _atk_call_part(self, call: Callable[..., _T], *args: Any) -> _T:
        """Call a cleanup; note whether it failed, errored, skipped or failed a subTest."""
        try:
            result = call(*args)
        except BaseException:
            self._atk_leak_decided = True
            raise
        if not _compat.outcome_success(self):  # a failed subTest
            self._atk_leak_decided = True
        return result

    if not _compat.PY311:  # pragma: no cover - 3.10 hands errors to the result after the cleanups
        def _feedErrorsToResult(self, result: Any, errors: Any) -> None:
            super()._feedErrorsToResult(result, errors)  # type: ignore[misc]
            note, self._atk_leak_note = self._atk_leak_note, None
            if note is not None and not self._atk_append_note(note, result):
                logger.warning("%s: %s", self.id(), note)

    # -- the check ------------------------------------------------------------------------------------------
    def _atk_start_leak_check(self) -> None:
        cls = type(self)
        setting = cls.leak_checks
        plan: _Plan | None = cls.__dict__.get("_atk_leak_plan")
        if plan is None or plan.setting is not setting:
            plan = _Plan(setting, resolve_policy(setting, where=f"{cls.__qualname__}.leak_checks"), cls)
            try:
                type.__setattr__(cls, "_atk_leak_plan", plan)
            except (AttributeError, TypeError):  # pragma: no cover - a class that refuses attributes: no cache
                pass
        policy = plan.policy
        if _kinds.switch_set():  # ASYNCTESTKIT_LEAK_CHECKS, read at each test: a test may set it
            policy = apply_environment(policy)
            if plan.off if policy is plan.policy else all(severity == OFF for severity in policy.values()):
                return
        elif plan.off:
            return
        loop = _compat.test_case_loop(self)
        if loop is None:
            return
        name = _compat.test_method_name(self)
        method = getattr(self, name, None)
        method = getattr(method, "__func__", method)  # the function: a missing attribute raises nothing there
        class_allow, method_allow = getattr(cls, _ALLOW_MARK, None), getattr(method, _ALLOW_MARK, None)
        allow = allowances("LeakTracker(allow=...)", {**(class_allow or {}), **(method_allow or {})}) \
            if class_allow or method_allow else _NO_ALLOWANCE
        if hasattr(method, "__wrapped__"):  # a decorated test: its own code is inside
            method = inspect.unwrap(method)  # type: ignore[arg-type]
        code = getattr(method, "__code__", None)
        if self._atk_leak_decided or self._atk_leak_report is not None or self._atk_leak_note is not None:
            self._atk_leak_decided = False  # left by an earlier run of this test case object
            self._atk_leak_report = self._atk_leak_note = None
        self._atk_leak_tracker = LeakTracker._start_for_test(
            loop, name, policy, allow, frozenset(((code.co_filename, code.co_name),) if code is not None else ()),
            self)
        # Cleanups run last-in first-out: the check, registered first, runs after everything else and gives
        # its verdict at once; when it needs the loop, it registers the verdict and then its loop part, which
        # therefore run next, in that order.  A clean test is judged before that, in doCleanups().
        self.addCleanup(self._atk_check_leaks)

    def _atk_stop_leak_check(self) -> None:
        tracker, self._atk_leak_tracker = self._atk_leak_tracker, None
        if tracker is not None:
            tracker.detach(keep_late_handler=True)

    def _atk_check_leaks(self) -> None:
        tracker = self._atk_leak_tracker
        if tracker is None:
            return
        try:
            if tracker._nothing_left():  # a clean test (the common case): no report to make
                self._atk_stop_leak_check()
                return
            report = tracker.check_nowait()
        except BaseException:
            self._atk_stop_leak_check()
            raise
        if report is None:  # something needs the loop: the full check runs as the next cleanup, then the verdict
            self.addCleanup(self._atk_leak_verdict)
            self.addAsyncCleanup(self._atk_check_leaks_on_loop)
            return
        self._atk_stop_leak_check()
        self._atk_leak_report = report
        self._atk_leak_verdict()

    async def _atk_check_leaks_on_loop(self) -> None:
        tracker = self._atk_leak_tracker
        if tracker is None:
            return
        try:
            self._atk_leak_report = await tracker.check()
        except BaseException:
            self._atk_leak_decided = True
            raise
        finally:
            self._atk_stop_leak_check()

    def doCleanups(self) -> Any:  # (unittest's returns whether the cleanups succeeded; its stub says None)
        """Run the cleanups; a clean test's leak check, the last of them, is judged here without unittest's
        per-cleanup machinery (no report is made: there is nothing to report).

        The check was registered first: the other cleanups run (and those they add) before it, as always.  Then,
        if the tracker finds nothing left (``LeakTracker._nothing_left``) it detaches; otherwise the check runs as
        the cleanup it is, with its report and its failure recorded by unittest.  Whether the test had already
        failed is read from unittest's outcome just before the check runs.
        """
        tracker = self._atk_leak_tracker
        if tracker is None:
            return super().doCleanups()
        cleanups = _compat.pending_cleanups(self)
        first = cleanups[0][0] if cleanups else None
        if getattr(first, "__self__", None) is not self or getattr(first, "__name__", None) != "_atk_check_leaks":
            # a cleanup added before setUp, or none left: the check (if any) runs as a cleanup among the others
            if not _compat.outcome_success(self):
                self._atk_leak_decided = True
            return super().doCleanups()
        if len(cleanups) == 1 and type(self).__dict__.get("_atk_leak_plan", _NO_PLAN).plain_cleanups:
            success: object = _compat.outcome_success(self)  # what unittest's doCleanups() returns with nothing to run
        else:
            check = cleanups.pop(0)
            try:
                success = super().doCleanups()
            finally:
                cleanups.insert(0, check)
            tracker = self._atk_leak_tracker
        if tracker is not None and len(cleanups) == 1:
            try:
                clean = tracker._finish_clean(keep_late_handler=True)
            except Exception:  # the cleanup reports it
                clean = False
            if clean:
                del cleanups[0]
                self._atk_leak_tracker = None
                return success
        if not _compat.outcome_success(self):
            self._atk_leak_decided = True
        return super().doCleanups()

    def _atk_is_check(self, function: object) -> bool:
        return getattr(function, "__self__", None) is self and \
            getattr(function, "__name__", None) == "_atk_check_leaks"

    def _callCleanup(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        if getattr(function, "__self__", None) is self and getattr(function, "__name__", None) in _DIRECT:
            # Called directly: unittest strips this module's frames, so a failure shows the report, not a
            # traceback (and the check needs neither the test's context nor a phase of its own).
            return function()
        return self._atk_call_part(functools.partial(super()._callCleanup, function, *args, **kwargs))  # type: ignore[misc]

    def _atk_leak_verdict(self) -> None:
        report, self._atk_leak_report = self._atk_leak_report, None
        if not report:
            return
        method = getattr(self, _compat.test_method_name(self), None)
        expected = getattr(method, "__unittest_expecting_failure__", False) or \
            getattr(self, "__unittest_expecting_failure__", False)
        if report.failures and not self._atk_leak_decided and not expected:
            raise LeakError(report)
        if expected:
            logger.warning("%s: %s", self.id(), report.format(note_because="the test is an expected failure"))
        elif self._atk_leak_decided:
            note = report.format(note_because="the test had already failed")
            if self._atk_append_note(note, _compat.outcome_result(self)):
                return
            if not _compat.PY311:  # pragma: no cover - 3.10: the failure reaches the result after the cleanups
                self._atk_leak_note = note
                return
            logger.warning("%s: %s", self.id(), note)
        else:
            logger.warning("%s: %s", self.id(), report.format())

    def _atk_append_note(self, note: str, result: Any) -> bool:
        """Append *note* to this test's latest entry in ``result.failures`` (else ``errors``)."""
        for name in ("failures", "errors"):
            entries = getattr(result, name, None)
            if not isinstance(entries, list):
                continue
            for index in range(len(entries) - 1, -1, -1):
                entry = entries[index]
                if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], str)):
                    continue
                test = entry[0]
                if test is self or getattr(test, "test_case", None) is self:
                    entries[index] = (test, f"{entry[1].rstrip()}\n\n{note}\n")
                    return True
        return False
