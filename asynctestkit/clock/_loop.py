"""``VirtualClockLoop``: a selector event loop whose ``time()`` is driven by a :class:`~asynctestkit.VirtualClock`.

The loop is an ordinary ``asyncio.SelectorEventLoop`` built with a *wrapping selector* (the public
``selector=`` constructor argument).  asyncio calls ``selector.select(timeout)`` exactly when it has nothing
ready to run and wants to sleep until the next timer or I/O; that call is handed to the clock, which decides
whether to poll, to wait in real time, to jump, or to report a hang (``_jump.py``, whose docstring states the
clock-loop contract this module keeps).

The other overrides are public loop methods that tell the clock about real work: ``run_in_executor``
(and so ``to_thread`` and name resolution), ``subprocess_exec``/``subprocess_shell``,
``call_soon_threadsafe`` and ``shutdown_default_executor``.  ``call_at`` numbers each timer so that timers due
at exactly the same time run in the order they were scheduled, and ``run_forever`` makes the ``time``
module's ``time()``/``monotonic()`` follow the clock on the loop's thread while it runs (see ``timepatch.py``).

Usable without unittest::

    with asyncio.Runner(loop_factory=asynctestkit.VirtualClockLoop) as runner:
        runner.run(main())          # asyncio.sleep(3600) inside main() returns at once
"""

from __future__ import annotations

import asyncio
import operator
import selectors
import sys
import threading
from collections.abc import Callable, Coroutine, Mapping
from contextvars import Context
from typing import Any, ClassVar, Protocol, TypeVar

from .. import _compat, _diagnostics, _validate
from ._clock import (
    DEFAULT_DEADLOCK_GRACE,
    DEFAULT_HORIZON,
    DEFAULT_IO_QUANTUM,
    DEFAULT_WATCHDOG,
    VirtualClock,
    check_options,
)
from ._creation import HOOKED_METHODS, CreationRecorder, recorded_call
from ._jump import JumpEngine
from ._realwork import RealWork

__all__ = ["RealTimeLoop", "VirtualClockLoop", "add_creation_recorder", "remove_creation_recorder", "set_task_class"]

_T = TypeVar("_T")


class PhaseClaimer(Protocol):
    """A test's claim on the phases of its loop (``_phase.PhaseClaim``): called as ``claim(loop, task, debug)``
    (*debug*: the loop's debug mode); its *owner* is None while no phase is under way."""

    @property
    def owner(self) -> object: ...

    def __call__(self, loop: _TestLoop, task: asyncio.Task[Any] | None, debug: bool) -> None: ...


_getframe = sys._getframe
_get_ident = threading.get_ident
_get_origin_depth = sys.get_coroutine_origin_tracking_depth
_set_origin_depth = sys.set_coroutine_origin_tracking_depth
_base_run_forever = asyncio.SelectorEventLoop.run_forever
_base_close = asyncio.SelectorEventLoop.close
_PY311 = _compat.PY311



class _ClockSelector(selectors.BaseSelector):
    """Delegates to the platform selector; hands every ``select()`` to the clock's engine."""

    def __init__(self, work: RealWork, engine: JumpEngine) -> None:
        self._inner = inner = _compat.new_selector()  # recycled from a closed loop when possible (see _compat)
        self._work = work
        # asyncio calls select() once per loop iteration: the engine's entry answers it directly (one frame).
        self.select = engine.selector_entry(inner, inner.peek)  # type: ignore[method-assign, assignment]

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = self._inner.register(fileobj, events, data)
        self._work.note_registered(fileobj)
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        key = self._inner.unregister(fileobj)
        self._work.note_unregistered(fileobj)
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        self._work.forget_fd(fileobj)
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        # Shadowed per instance by the engine's entry (see __init__); reached only after close().
        return self._inner.select(timeout)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()

    def close(self) -> None:
        try:
            del self.select  # the entry refers to the engine and the loop: no cycle left behind
        except AttributeError:  # closed already
            pass
        self._inner.close()


def _job_name(func: Callable[..., Any], args: tuple[Any, ...]) -> str:
    """A readable name for an executor job (``to_thread``'s ``partial(ctx.run, f, ...)`` is looked through)."""
    return _diagnostics.callable_name(func)


def _check_origin_depth(value: object) -> int:
    if value.__class__ is int and value >= 0:  # (the usual 0: no call)
        return value
    return _validate.origin_depth("coroutine_origins", value)


class _State:
    """asynctestkit's per-loop state, kept in one attribute of the loop.

    One attribute, not five: CPython (3.11+) keeps an object's attributes in a fast inline layout only up to
    30 of them, and ``SelectorEventLoop`` already has 26; a loop past that limit reads every attribute in
    ``_run_once`` through a dict (measured: +2.6k instructions per loop iteration on 3.13).
    """

    __slots__ = ("adopt_fd", "close_hooks", "debug_pin", "engine", "origin_depth", "phase_claim", "plain_tasks",
                 "recorders", "recycle", "selector", "task_class", "task_sites", "thread_id", "work")

    def __init__(self, origin_depth: int) -> None:
        self.close_hooks: list[Callable[[], None]] = []
        self.engine: JumpEngine | None = None  # a VirtualClockLoop's clock engine, once built
        #: While set, ``set_debug()`` calls are answered with this value: a test case pins its ``asyncio_debug``
        #: so the runner's ``set_debug(True)`` cannot make its first phase pay for debug mode; the phase
        #: start of each phase unpins it (None) so the test itself may call ``set_debug()``.
        self.debug_pin: bool | None = None
        #: Called with each task ``Runner.run()`` creates (3.10: at each start of the loop), which may start a test
        #: phase (see _TestLoop._atk_claim_phase).
        self.phase_claim: PhaseClaimer | None = None
        self.origin_depth = origin_depth
        self.task_sites: _diagnostics.TaskSites | None = None  # set by the loop once it exists
        #: ``create_task()`` may build the task itself (see _create_task_311): the loop is built and open, its
        #: debug mode is off and it has no task factory.  Kept up to date by the methods that change those.
        self.plain_tasks = False
        #: The class those tasks are built from: ``asyncio.Task``, or the task timeline's subclass that also sees
        #: a ``cancel()`` of a task waiting on nothing (set by ``asynctestkit.trace`` when it records).
        self.task_class: Any = asyncio.Task
        self.thread_id: int | None = None
        self.work: RealWork | None = None
        #: The leak checker's recorder slot: what the hooked creation methods hand their results to (see
        #: _creation); empty unless a tracker is attached.
        self.recorders: tuple[CreationRecorder, ...] = ()
        #: The loop's platform selector (its wrapper's inner one for a VirtualClockLoop), and whether closing the
        #: loop may hand it and the self-pipe to the next loop (False once ``__del__`` closes an unclosed loop).
        self.selector: _compat.RecyclableSelector | None = None
        self.recycle = True
        #: Told of the self-pipe's fd when a recycled one is taken without ``register()`` (the clock selector's
        #: real-work count of registered fds: see _compat.make_self_pipe).
        self.adopt_fd: Callable[[int], None] | None = None


# The three forms of _TestLoop.create_task, one per signature of the base method.  Plain functions (bound as
# methods by the class attribute): the caller's frame is frame 1, and the base method is named, not super().
# While the loop is open, in debug mode off and without a task factory, SelectorEventLoop.create_task() does
# nothing but ``asyncio.Task(coro, loop=self, name=name, context=context)`` (3.10-3.13, see tests/test_compat):
# the task is built here directly, which saves the base method's frame and pays for most of recording the
# task's creation site.  Otherwise the base method runs, as it would without asynctestkit.
# The creation site: when the caller's file is known to be the user's (_diagnostics.USER_FILES), the caller's
# code and instruction offset go into the loop's record right here (the four entries of TaskSites, kept in
# step with _diagnostics.record_task), with no further call; any other caller is handed to record_task,
# which walks out to the user's frame.  The framework's own tasks are recorded right here too, without a site
# and without the walk (which would end at unittest's frames with none): the task ``Runner.run()`` creates for
# each test phase (handed to the test's phase claim, see _TestLoop._atk_claim_phase) and (3.12+) the two the
# runner's ``close()`` creates through ``run_until_complete()`` and ``ensure_future()`` to run the loop's own
# ``shutdown_asyncgens()`` and ``shutdown_default_executor()`` after the test's last phase: a test loop (it has
# a claim) with no phase under way, and the coroutine's code (compared by identity: a code object's hash()
# reads its whole body) tell them apart, with no frame read (``f_back`` would build a frame object).  On
# 3.10/3.11 ``ensure_future()`` has a private helper create the task: those two take the walk.
_base_create_task: Any = asyncio.SelectorEventLoop.create_task  # typed Any: its signature depends on the version
_runner_run_code: Any = _compat.RUNNER_RUN_CODE  # None on 3.10 (no asyncio.Runner)
_record_task = _diagnostics.record_task
_user_files = _diagnostics.USER_FILES
_CHUNK = _diagnostics.TASK_SITES_CHUNK
_ensure_future_code: Any = asyncio.ensure_future.__code__
_SHUTDOWN_ASYNCGENS: Any = asyncio.BaseEventLoop.shutdown_asyncgens.__code__
_SHUTDOWN_EXECUTOR: Any = asyncio.BaseEventLoop.shutdown_default_executor.__code__


def _create_task_314(self: _TestLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
    atk = self._atk
    task: asyncio.Task[Any] = _base_create_task(self, coro, **kwargs)
    frame = _getframe(1)
    code = frame.f_code
    sites: Any = atk.task_sites
    if code.co_filename in _user_files:
        log = sites.log
        log.append(hash(task))
        log.append(hash(coro))
        log.append(code)
        log.append(frame.f_lasti)
        if len(log) >= _CHUNK:
            sites.roll()
    elif code is _runner_run_code and atk.phase_claim is not None:  # a test's task: no site, no walk
        log = sites.log
        log += (hash(task), hash(coro), None, -1)  # (one extend, not four appends)
        if len(log) >= _CHUNK:
            sites.roll()
        atk.debug_pin = None  # a phase starts: the test itself may change the debug mode from now on
        atk.phase_claim(self, task, False if atk.plain_tasks else self.get_debug())
    elif code is _ensure_future_code and atk.phase_claim is not None and atk.phase_claim.owner is None and (
            (started := getattr(coro, "cr_code", None)) is _SHUTDOWN_ASYNCGENS or started is _SHUTDOWN_EXECUTOR):
        log = sites.log  # the test's runner closing (see above): no site, no walk
        log += (hash(task), hash(coro), None, -1)
        if len(log) >= _CHUNK:
            sites.roll()
    else:
        _record_task(sites, task, coro, frame, code)
    return task


def _create_task_311(self: _TestLoop, coro: Any, *, name: str | None = None,
                     context: Context | None = None) -> asyncio.Task[Any]:
    atk = self._atk
    if atk.plain_tasks:
        if name is None and context is None:  # the common call: one keyword argument for the C type to parse
            task: asyncio.Task[Any] = atk.task_class(coro, loop=self)
        else:
            task = atk.task_class(coro, loop=self, name=name, context=context)
    else:
        task = _base_create_task(self, coro, name=name, context=context)
    frame = _getframe(1)
    code = frame.f_code
    sites: Any = atk.task_sites
    if code.co_filename in _user_files:
        log = sites.log
        log.append(hash(task))
        log.append(hash(coro))
        log.append(code)
        log.append(frame.f_lasti)
        if len(log) >= _CHUNK:
            sites.roll()
    elif code is _runner_run_code and atk.phase_claim is not None:  # a test's task: no site, no walk
        log = sites.log
        log += (hash(task), hash(coro), None, -1)  # (one extend, not four appends)
        if len(log) >= _CHUNK:
            sites.roll()
        atk.debug_pin = None  # a phase starts: the test itself may change the debug mode from now on
        atk.phase_claim(self, task, False if atk.plain_tasks else self.get_debug())
    elif code is _ensure_future_code and atk.phase_claim is not None and atk.phase_claim.owner is None and (
            (started := getattr(coro, "cr_code", None)) is _SHUTDOWN_ASYNCGENS or started is _SHUTDOWN_EXECUTOR):
        log = sites.log  # the test's runner closing (see above): no site, no walk
        log += (hash(task), hash(coro), None, -1)
        if len(log) >= _CHUNK:
            sites.roll()
    else:
        _record_task(sites, task, coro, frame, code)
    return task


def _create_task_310(self: _TestLoop, coro: Any, *, name: str | None = None) -> asyncio.Task[Any]:
    atk = self._atk
    if atk.plain_tasks:
        if name is None:  # the common call: one keyword argument for the C type to parse
            task: asyncio.Task[Any] = atk.task_class(coro, loop=self)
        else:
            task = atk.task_class(coro, loop=self, name=name)
    else:
        task = _base_create_task(self, coro, name=name)
    frame = _getframe(1)
    code = frame.f_code
    sites: Any = atk.task_sites
    if code.co_filename in _user_files:
        log = sites.log
        log.append(hash(task))
        log.append(hash(coro))
        log.append(code)
        log.append(frame.f_lasti)
        if len(log) >= _CHUNK:
            sites.roll()
    else:
        _record_task(sites, task, coro, frame, code)
    return task


#: Per loop class, whether asyncio's ``__init__`` chain may be replaced by ``_compat.init_selector_loop`` (decided
#: when the first loop of the class is built, see _may_init_fast).
_FAST_INIT: dict[type, bool] = {}
#: The attributes asynctestkit's loops set on themselves before their base class's ``__init__`` runs.
_OWN_ATTRIBUTES = frozenset({"_atk", "_atk_now"})


def _may_init_fast(cls: type[_TestLoop]) -> bool:
    """Whether loops of *cls* may be built by ``_compat.init_selector_loop``: the class changes nothing that it
    skips (no other class between :class:`_TestLoop` and ``SelectorEventLoop``, asynctestkit's own ``set_debug``
    and self-pipe), and a plain loop built by asyncio here has exactly the attributes it sets.

    The attributes are read from a separate plain loop (``_compat.selector_loop_init_matches``), never from a
    loop of *cls*: reading an object's ``__dict__`` turns it into a dict-backed object on 3.12, whose every
    attribute read then costs more for the rest of its life (measured: +7.7k instructions per task on W3T when
    that loop was the test's).
    """
    mro = cls.__mro__
    return (mro[mro.index(_TestLoop) + 1:] == _TestLoop.__mro__[1:]
            and cls.set_debug in (_TestLoop.set_debug, VirtualClockLoop.set_debug)
            and cls._make_self_pipe is _TestLoop._make_self_pipe
            and _compat.selector_loop_init_matches())


class _TestLoop(asyncio.SelectorEventLoop):
    """What both of asynctestkit's loops add to a selector event loop.

    - ``create_task()`` records where each task was created (the "created at" line of leak and hang
      reports), at a fraction of the cost of coroutine origin tracking;
    - *coroutine_origins* (frames, default 0): coroutine origin tracking while the loop runs, so that a
      coroutine never awaited is reported with the line that created it;
    - hooks that run once, right after the loop closed (the test case resets the thread's current loop,
      which a runner given a ``loop_factory`` does not do by itself).
    """

    _atk: _State
    #: The loop's own implementations of hooked methods, where it adds to ``SelectorEventLoop``'s: an explicit
    #: table (a subclass extends it), read by :meth:`_atk_implementation`.
    _atk_own_methods: ClassVar[Mapping[str, Callable[..., Any]]] = {}

    def __init__(self, *, coroutine_origins: int = 0, selector: selectors.BaseSelector | None = None) -> None:
        if coroutine_origins.__class__ is not int or coroutine_origins < 0:  # (the usual 0: no call)
            coroutine_origins = _check_origin_depth(coroutine_origins)
        state = self._atk = _State(coroutine_origins)
        state.task_sites = _diagnostics.TaskSites(self)
        if selector is None:
            selector = state.selector = _compat.new_selector()
        elif isinstance(selector, _ClockSelector):
            state.selector = selector._inner
            state.adopt_fd = selector._work.note_adopted  # a recycled self-pipe is not registered through it
        cls = type(self)
        fast = _FAST_INIT.get(cls)
        if fast is None:
            fast = _FAST_INIT[cls] = _may_init_fast(cls)
        if fast:  # asyncio's __init__ chain, done in one function (see _compat.init_selector_loop)
            state.plain_tasks = not _compat.init_selector_loop(self, selector, state.selector, state.adopt_fd)
            return
        super().__init__(selector=selector)
        self._atk_refresh_plain_tasks()

    # -- where tasks are created ---------------------------------------------------------------------
    #: ``create_task()`` records where each task is created (see the module functions above); the signature
    #: follows the interpreter's (3.10: ``name``; 3.11-3.13: ``name``, ``context``; 3.14: any keyword).
    create_task = _compat.for_version({(3, 14): _create_task_314, (3, 11): _create_task_311,  # type: ignore[assignment]
                                       (3, 10): _create_task_310})

    #: ``call_soon()`` in one Python frame instead of asyncio's three (same behaviour; see the _compat function):
    #: a task step or a future's callback schedules through it about three times per task.
    call_soon = _compat.call_soon_in_one_frame  # type: ignore[assignment]

    # -- test phases ---------------------------------------------------------------------------------
    def _atk_claim_phase(self, claim: PhaseClaimer | None) -> PhaseClaimer | None:
        """Hand every test phase's task to *claim* from now on (None: no more); return the claim it replaces.

        ``IsolatedAsyncioTestCase`` runs each async phase (asyncSetUp, the test, asyncTearDown, an async
        cleanup) with ``asyncio.Runner.run()``, which creates one task for it (3.11+): ``claim(loop, task, debug)``
        is called with every task ``Runner.run()`` creates, identified by its creator, before its first step.
        3.10 has no Runner: every phase runs inside the test case's long-lived runner task, and
        ``claim(loop, None, debug)`` is called whenever the loop starts running (*debug*: the loop's debug
        mode, known without a call while the loop builds its tasks itself).  The claim decides whether a phase
        starts (one is under way and has no task yet); a test case hands its claim over once, before its
        first phase, so that no frame of asynctestkit stands between the runner and the test's coroutine
        (see ``case.py``) and nothing is handed over per phase.
        """
        atk = self._atk
        previous, atk.phase_claim = atk.phase_claim, claim
        return previous

    def _atk_pin_debug(self, pin: bool | None) -> None:
        """While *pin* is not None, ``set_debug()`` calls are answered with it (see ``_State.debug_pin``)."""
        self._atk.debug_pin = pin

    def _atk_phase_started(self, task: asyncio.Task[Any] | None) -> None:
        """3.10: the loop starts running (*task* None): the claim decides whether a phase starts now."""
        atk = self._atk
        claim = atk.phase_claim
        if claim is not None:
            atk.debug_pin = None  # a phase starts: the test itself may change the debug mode from now on
            claim(self, task, self.get_debug())

    # -- the hooked creation methods (the leak checker's contract: see _creation) -----------------------
    def _atk_implementation(self, name: str) -> Callable[..., Any]:
        """This loop's own ``<name>`` (from :attr:`_atk_own_methods`, else ``SelectorEventLoop``'s), bound."""
        own = type(self)._atk_own_methods.get(name)
        if own is None:
            own = getattr(asyncio.SelectorEventLoop, name)
        return own.__get__(self)  # type: ignore[no-any-return]

    # -- running -------------------------------------------------------------------------------------
    def run_forever(self) -> None:
        self._atk.thread_id = threading.get_ident()
        if not _compat.PY311 and self._atk.phase_claim is not None:  # pragma: no cover - 3.10
            self._atk_phase_started(None)
        depth = self._atk.origin_depth
        previous = sys.get_coroutine_origin_tracking_depth()
        if previous < depth:
            sys.set_coroutine_origin_tracking_depth(depth)
        try:
            super().run_forever()
        finally:
            if previous < depth:
                sys.set_coroutine_origin_tracking_depth(previous)

    def set_debug(self, enabled: bool) -> None:
        pin = self._atk.debug_pin
        super().set_debug(enabled if pin is None else pin)
        self._atk_refresh_plain_tasks()

    def set_task_factory(self, factory: Any) -> None:
        super().set_task_factory(factory)
        self._atk_refresh_plain_tasks()

    def _atk_refresh_plain_tasks(self) -> None:
        """Recompute whether ``create_task()`` may build the task itself (``_State.plain_tasks``)."""
        try:
            factory = self.get_task_factory()
        except AttributeError:  # inside BaseEventLoop.__init__, which calls set_debug() before it has a factory
            self._atk.plain_tasks = False
            return
        self._atk.plain_tasks = factory is None and not self.get_debug() and not self.is_closed()

    # -- closing -------------------------------------------------------------------------------------
    def close(self) -> None:
        if self.is_closed():
            return
        self._atk_before_close()
        super().close()
        self._atk.plain_tasks = False
        hooks, self._atk.close_hooks = self._atk.close_hooks, []
        for hook in hooks:
            hook()

    # The self-pipe (see ``_compat.make_self_pipe``): a closed loop's socket pair and selector are reused by
    # the next loop built in this process (asyncio's own methods, but for the recycling).
    def _make_self_pipe(self) -> None:
        state = self._atk
        _compat.make_self_pipe(self, state.selector, state.adopt_fd)

    def _close_self_pipe(self) -> None:
        state = self._atk
        _compat.close_self_pipe(self, state.selector, state.recycle)

    def __del__(self) -> None:
        # Collected unclosed: asyncio warns (ResourceWarning) and closes it; nothing of it goes to the pool.
        # (A closed loop, the usual case, has nothing left to do: asyncio's __del__ would only ask is_closed().)
        if self.is_closed():
            return
        state = getattr(self, "_atk", None)
        if state is not None:
            state.recycle = False
        super().__del__()

    def _atk_before_close(self) -> None:
        """Subclass hook: release what must go before the selector closes."""

    def _atk_on_close(self, hook: Callable[[], None]) -> None:
        """Run *hook* after the loop closed."""
        self._atk.close_hooks.append(hook)


def set_task_class(loop: asyncio.AbstractEventLoop, cls: type[asyncio.Task[Any]]) -> bool:
    """Make *loop* build its plain tasks from *cls* (a subclass of ``asyncio.Task``); False for other loops.

    Only the tasks ``create_task()`` builds itself use it (debug off, no task factory: ``_State.plain_tasks``).
    """
    state = getattr(loop, "_atk", None)
    if not isinstance(state, _State):
        return False
    state.task_class = cls
    return True


def add_creation_recorder(loop: object, recorder: CreationRecorder) -> bool:
    """Put *recorder* in *loop*'s recorder slot (see _creation); False if *loop* is not one of asynctestkit's."""
    if not isinstance(loop, _TestLoop):
        return False
    loop._atk.recorders += (recorder,)
    return True


def remove_creation_recorder(loop: object, recorder: CreationRecorder) -> None:
    """Take *recorder* out of *loop*'s recorder slot again (the others stay); nothing if it is not there."""
    if isinstance(loop, _TestLoop):
        state = loop._atk
        recorders = state.recorders
        if recorders and recorders[-1] is recorder:  # the usual case: the last one in
            state.recorders = recorders[:-1]
        else:
            state.recorders = tuple(r for r in recorders if r is not recorder)


def _dispatcher(name: str) -> Callable[..., Any]:
    def method(self: _TestLoop, *args: Any, **kwargs: Any) -> Any:
        recorders = self._atk.recorders
        if not recorders:
            return self._atk_implementation(name)(*args, **kwargs)
        return recorded_call(name, self._atk_implementation(name), recorders, *args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"_TestLoop.{name}"
    method.__doc__ = f"``{name}()`` of the event loop, handed to the leak checker's recorders while one is attached."
    return method


for _name in HOOKED_METHODS:
    if hasattr(asyncio.SelectorEventLoop, _name):
        setattr(_TestLoop, _name, _dispatcher(_name))
del _name


_CLOCK_OPTIONS = frozenset({"auto_advance", "horizon", "watchdog", "deadlock_grace", "virtual_time_functions",
                            "io_quantum"})
#: Starts that need no check (``VirtualClockLoop.__new__``): the default, as a float or an int.
_PLAIN_STARTS = frozenset({(float, 0.0), (int, 0)})


class VirtualClockLoop(_TestLoop):
    """A selector event loop on virtual time.

    ``loop.time()`` starts at *start* and moves only when the clock says so: at once to the next deadline
    when nothing real is in flight, with real time while executor jobs, subprocesses, threads or external
    sockets are under way.  ``loop.clock`` is the :class:`VirtualClock` that controls it.
    """

    def __new__(cls, *args: Any, start: float = 0.0, coroutine_origins: int = 0,
                **clock_options: Any) -> VirtualClockLoop:
        # Every argument is checked before the loop exists: a loop that failed half-way through __init__
        # would complain from its __del__ ("Exception ignored in BaseEventLoop.__del__") after the error.
        if args:
            raise TypeError(f"VirtualClockLoop() takes keyword arguments only, got {len(args)} positional")
        if coroutine_origins.__class__ is not int or coroutine_origins < 0:  # (the usual 0: no call)
            _check_origin_depth(coroutine_origins)
        if clock_options:
            if not _CLOCK_OPTIONS.issuperset(clock_options):
                unknown = sorted(set(clock_options) - _CLOCK_OPTIONS)
                raise TypeError(f"VirtualClockLoop() got an unexpected keyword argument {unknown[0]!r}; its options "
                                f"are start, coroutine_origins, {', '.join(sorted(_CLOCK_OPTIONS))}")
            check_options(start=start, **clock_options)
        elif (start.__class__, start) not in _PLAIN_STARTS:  # (the usual start at 0 with no options: no call)
            check_options(start=start)
        return super().__new__(cls)

    def __init__(self, *, start: float = 0.0, coroutine_origins: int = 0, auto_advance: bool = True,
                 horizon: float = DEFAULT_HORIZON, watchdog: float | None = DEFAULT_WATCHDOG,
                 deadlock_grace: float = DEFAULT_DEADLOCK_GRACE, virtual_time_functions: bool = True,
                 io_quantum: float = DEFAULT_IO_QUANTUM) -> None:
        self._atk_build(start, auto_advance, horizon, watchdog, deadlock_grace, virtual_time_functions, io_quantum,
                        coroutine_origins)

    def _atk_build(self, start: float, auto_advance: bool, horizon: float, watchdog: float | None,
                   deadlock_grace: float, virtual_time_functions: bool, io_quantum: float,
                   coroutine_origins: int) -> None:
        """``__init__`` with the options positional, all checked already (by ``__new__`` or :func:`new_case_loop`)."""
        # The construction order is part of the clock-loop contract (see _jump): the engine first (the
        # options were all checked, so each duration is exactly what its check would return, float(value)),
        # the selector with it, the loop, then the public clock.
        self._atk_now = float(start)
        work = RealWork()
        engine = JumpEngine(self, work, start=start, auto_advance=auto_advance, horizon=float(horizon),
                            watchdog=None if watchdog is None else float(watchdog),
                            deadlock_grace=float(deadlock_grace), virtual_time_functions=virtual_time_functions,
                            io_quantum=float(io_quantum))
        _TestLoop.__init__(self, coroutine_origins=coroutine_origins, selector=_ClockSelector(work, engine))
        self._atk.work = work
        self._atk.engine = engine
        work.construction_done = True
        self.clock = VirtualClock(engine)
        engine.adopt_loop_resolution()

    @property
    def _atk_work(self) -> RealWork:
        work = self._atk.work
        assert work is not None
        return work

    def set_debug(self, enabled: bool) -> None:
        state = self._atk
        engine = state.engine  # None while BaseEventLoop.__init__ sets the initial debug mode
        if engine is None:
            super().set_debug(enabled)
            return
        pin = state.debug_pin
        if (enabled if pin is None else pin) is self.get_debug():
            return  # unchanged (the runner's set_debug(True) answered by a test case's pin): nothing to redo
        super().set_debug(enabled)
        engine.refresh_timing()

    # -- time ---------------------------------------------------------------------------------------
    def time(self) -> float:
        return self._atk_now

    #: Timers due at exactly the same time run in the order they were scheduled (``call_at``, ``call_later``,
    #: sleeps, ``wait_for``/``asyncio.timeout`` deadlines, ``Timeout.reschedule``), as they do on the real
    #: clock, where such deadlines differ by nanoseconds.  A plain function, not a method calling the base
    #: one: no extra Python frame per timer (see ``_compat.call_at_in_scheduling_order``).
    call_at = _compat.call_at_in_scheduling_order  # type: ignore[assignment]

    # -- signals ------------------------------------------------------------------------------------
    def add_signal_handler(self, sig: int, callback: Callable[..., object], *args: Any) -> None:  # type: ignore[override]
        super().add_signal_handler(sig, callback, *args)
        self._atk_work.note_signal_handler(sig, True)  # a signal wakes the loop through its self-pipe

    def remove_signal_handler(self, sig: int) -> bool:
        removed = super().remove_signal_handler(sig)
        self._atk_work.note_signal_handler(sig, False)
        return removed

    # -- running ------------------------------------------------------------------------------------
    def run_forever(self) -> None:
        # _TestLoop.run_forever's work, done here in the same frame (one Python level per loop run, not two:
        # a trivial test runs the loop five times); keep the two in step.
        state = self._atk
        engine = state.engine
        assert engine is not None
        first = state.thread_id is None
        state.thread_id = _get_ident()
        if not _PY311 and state.phase_claim is not None:  # pragma: no cover - 3.10
            self._atk_phase_started(None)
        if first or engine.poll_checks:
            # The first run turns the time functions on (they then follow whichever loop runs: nothing to
            # switch per run) and reads the debug mode; later runs need it only while the checks run.
            engine.on_run_start()
        depth = state.origin_depth
        if not depth:
            _base_run_forever(self)
            return
        previous = _get_origin_depth()
        if previous >= depth:
            _base_run_forever(self)
            return
        _set_origin_depth(depth)
        try:
            _base_run_forever(self)
        finally:
            _set_origin_depth(previous)

    def _atk_before_close(self) -> None:
        engine = self._atk.engine
        if engine is not None:
            engine.close()

    def close(self) -> None:
        # _TestLoop.close's work, done here in the same frame (as run_forever); keep the two in step.
        if self.is_closed():
            return
        state = self._atk
        engine = state.engine
        if engine is not None:
            engine.close()  # (_atk_before_close)
        _base_close(self)  # raises, the loop left open, if it is running
        state.plain_tasks = False
        hooks, state.close_hooks = state.close_hooks, []
        for hook in hooks:
            hook()
        if engine is not None:
            # Nothing reads the loop through its engine or clock any more: drop those references, so that a
            # closed loop, its engine and its clock are freed by reference counting (no cyclic garbage).
            engine.release()
            self.clock._loop = engine.loop  # (VirtualClock._release: hold the loop as weakly as the engine)

    # -- real work ----------------------------------------------------------------------------------
    # The overrides take Callable[..., T] where typeshed uses TypeVarTuple (not in 3.10's typing): same
    # runtime contract, looser static check.
    def _run_in_executor_tracked(self, executor: Any, func: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        fut = asyncio.SelectorEventLoop.run_in_executor(self, executor, func, *args)
        self._atk_work.add_job(fut, f"executor job {_job_name(func, args)}()", _diagnostics.caller_site(), func)
        return fut

    def call_soon_threadsafe(self, callback: Callable[..., Any], *args: Any,  # type: ignore[override]
                             context: Context | None = None) -> asyncio.Handle:
        if threading.get_ident() != self._atk.thread_id:
            self._atk_work.note_feeder()
        return super().call_soon_threadsafe(callback, *args, context=context)

    def shutdown_default_executor(self, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, None]:
        if _compat.default_executor(self) is None:  # (every test without executor work): no thread to wait for
            return super().shutdown_default_executor(*args, **kwargs)
        return self._atk_shutdown_default_executor(*args, **kwargs)

    async def _atk_shutdown_default_executor(self, *args: Any, **kwargs: Any) -> None:
        """The executor's shutdown joins its threads in real time: it holds virtual time meanwhile."""
        marker = self.create_future()
        self._atk_work.add_job(marker, "default executor shutdown", None)
        try:
            await super().shutdown_default_executor(*args, **kwargs)
        finally:
            marker.set_result(None)

    async def _subprocess_exec_tracked(self, protocol_factory: Callable[[], Any], program: Any, *args: Any,
                                       **kwargs: Any) -> tuple[Any, Any]:
        site = _diagnostics.caller_site()
        transport, protocol = await asyncio.SelectorEventLoop.subprocess_exec(self, protocol_factory, program,
                                                                               *args, **kwargs)
        self._atk_work.add_process(transport, f"subprocess {program!s} (pid {transport.get_pid()})", site)
        return transport, protocol

    async def _subprocess_shell_tracked(self, protocol_factory: Callable[[], Any], cmd: Any,
                                        **kwargs: Any) -> tuple[Any, Any]:
        site = _diagnostics.caller_site()
        transport, protocol = await asyncio.SelectorEventLoop.subprocess_shell(self, protocol_factory, cmd, **kwargs)
        self._atk_work.add_process(transport, f"subprocess {cmd!r} (pid {transport.get_pid()})", site)
        return transport, protocol

    #: Hooked methods this loop adds to (see _TestLoop._atk_own_methods): real work the clock must know of.
    _atk_own_methods: ClassVar[Mapping[str, Callable[..., Any]]] = {
                        "run_in_executor": _run_in_executor_tracked,
                        "subprocess_exec": _subprocess_exec_tracked,
                        "subprocess_shell": _subprocess_shell_tracked}


#: The clock settings :func:`new_case_loop` last checked and accepted (the objects themselves), or sentinels.
_accepted: tuple[object, ...] = (object(),) * 8
_object_new = object.__new__
_is = operator.is_
_PLAIN_TYPES = frozenset({int, float, bool, type(None)})


def new_case_loop(start: float, auto_advance: bool, horizon: float, watchdog: float | None, deadlock_grace: float,
                  virtual_time_functions: bool, io_quantum: float, coroutine_origins: int) -> VirtualClockLoop:
    """``VirtualClockLoop(start=start, auto_advance=auto_advance, ...)``, for a test case, which builds one loop
    per test from the same class settings.

    The settings are checked as ``VirtualClockLoop()`` checks them (same errors), unless they are the very
    objects (``is``) of the last settings this function accepted: plain values (int, float, bool, None) are
    immutable, so what passed once passes again, and a setting changed since (on the class or on the test)
    is a different object, checked again.  Then the loop is built without ``__new__``'s checks.
    """
    global _accepted
    settings = (start, auto_advance, horizon, watchdog, deadlock_grace, virtual_time_functions, io_quantum,
                coroutine_origins)
    if all(map(_is, settings, _accepted)):
        loop: VirtualClockLoop = _object_new(VirtualClockLoop)
        loop._atk_build(*settings)
        return loop
    loop = VirtualClockLoop(start=start, auto_advance=auto_advance, horizon=horizon, watchdog=watchdog,
                            deadlock_grace=deadlock_grace, virtual_time_functions=virtual_time_functions,
                            io_quantum=io_quantum, coroutine_origins=coroutine_origins)
    if _PLAIN_TYPES.issuperset(map(type, settings)):  # (nothing else is kept referenced)
        _accepted = settings
    return loop


class RealTimeLoop(_TestLoop):
    """A plain selector event loop on the real clock, for tests that opt out of virtual time."""

    def __new__(cls, *args: Any, coroutine_origins: int = 0) -> RealTimeLoop:
        if args:
            raise TypeError(f"RealTimeLoop() takes keyword arguments only, got {len(args)} positional")
        _check_origin_depth(coroutine_origins)  # before the loop exists (see VirtualClockLoop.__new__)
        return super().__new__(cls)

    def __init__(self, *, coroutine_origins: int = 0) -> None:
        super().__init__(coroutine_origins=coroutine_origins)
