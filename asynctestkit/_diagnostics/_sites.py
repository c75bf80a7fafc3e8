"""Sites: where a frame, a task, a coroutine or an exception is, and which frames are the user's.

Part of the report vocabulary (see the package docstring): a *site* is ``(filename, lineno, function)``;
this module finds them (one walker for live stacks, tracebacks and recorded stacks; the creation record of
each task) and renders them as lines (``created at   tests/test_x.py:12 in test_x``).
"""



from __future__ import annotations

import asyncio
import functools
import linecache
import os
import sys
import traceback
import types
import weakref
from collections.abc import Iterable
from contextvars import Context
from typing import Any

from .. import _compat

Site = tuple[str, int, str]
"""``(filename, line number, function name)`` of one frame."""

ASYNCIO_DIR = os.path.dirname(os.path.abspath(asyncio.__file__)) + os.sep
#: The package ROOT (two levels up from asynctestkit/_diagnostics/_sites.py): frames anywhere below it,
#: in any subpackage, are asynctestkit's own and never blamed in a report.  Every "is this our frame?" check
#: uses this one value.
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_UNITTEST_DIR = os.path.dirname(os.path.abspath(sys.modules["unittest"].__file__ or "")) + os.sep
_CONCURRENT_DIR = os.path.join(os.path.dirname(ASYNCIO_DIR.rstrip(os.sep)), "concurrent") + os.sep
_THREADING_FILE = sys.modules["threading"].__file__ or "threading.py"
_WARNINGS_FILE = sys.modules["warnings"].__file__ or "warnings.py"  # 3.13 warns of un-awaited coroutines from it


def is_internal_file(filename: str) -> bool:
    """Return True for frames users do not want to see first: asyncio, unittest, threading, warnings, this package."""
    return (
        filename.startswith((ASYNCIO_DIR, PACKAGE_DIR, _UNITTEST_DIR, _CONCURRENT_DIR))
        or filename == _THREADING_FILE
        or filename == _WARNINGS_FILE
        or filename.startswith("<frozen")
    )


def relpath(filename: str) -> str:
    """Show *filename* relative to the current directory when it lies below it, else unchanged."""
    try:
        cwd = os.getcwd()
    except OSError:
        return filename
    if filename.startswith(cwd + os.sep):
        return filename[len(cwd) + 1 :]
    return filename


def source_line(site: Site) -> str:
    """The stripped source text of *site*, or '' when the file cannot be read."""
    return linecache.getline(site[0], site[1]).strip()


def format_site(site: Site | None, *, with_source: bool = False) -> str:
    """Render a site as ``path:line in function`` (and ``: source`` when asked and available)."""
    if site is None:
        return "<unknown>"
    text = f"{relpath(site[0])}:{site[1]} in {site[2]}"
    if with_source:
        src = source_line(site)
        if src:
            text += f": {src}"
    return text


LABEL_WIDTH = 12
"""Width of the label column of report lines (``created at``, ``suspended at``, ``raised at``...)."""


def site_line(label: str, site: Site | None, *, with_source: bool = False, suffix: str = "") -> str:
    """One report line about a place: ``created at   tests/test_x.py:12 in test_x``.

    Every report uses this shape for every place it names (``created at``, ``suspended at``, ``raised at``,
    ``scheduled at``, ``started at``...), so the paths line up under each other.
    """
    return f"{label:<{LABEL_WIDTH}} {format_site(site, with_source=with_source)}{suffix}"


def detail_line(label: str, text: str) -> str:
    """One report line that is not a place (``exception    KeyError('x')``), in the same label column."""
    return f"{label:<{LABEL_WIDTH}} {text}"


def frame_site(frame: types.FrameType) -> Site:
    """The site a live frame is at."""
    code = frame.f_code
    return (code.co_filename, frame.f_lineno, code.co_name)


def short_name(qualname: str) -> str:
    """``worker`` for ``TestX.test_y.<locals>.worker``: the enclosing function adds nothing to a report."""
    return qualname.rsplit(".<locals>.", 1)[-1]


def callable_name(func: Any) -> str:
    """A readable name for a callback or job: ``Poller.poll``, ``cb``; ``functools.partial`` and the
    ``Context.run`` wrapper of ``asyncio.to_thread`` are looked through.
    """
    while isinstance(func, functools.partial):
        inner = func.func
        if getattr(inner, "__name__", "") == "run" and isinstance(getattr(inner, "__self__", None), Context):
            func = func.args[0] if func.args else inner
        else:
            func = inner
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
    return short_name(str(name))


def definition_site(func: Any) -> Site | None:
    """Where a function (or the function behind a bound method or partial) is defined; None for C code."""
    while isinstance(func, functools.partial):
        func = func.func
    code = getattr(getattr(func, "__func__", func), "__code__", None)
    if code is None:
        return None
    return (code.co_filename, code.co_firstlineno, code.co_name)


def raised_at(exc: BaseException) -> Site | None:
    """Where *exc* was raised: the innermost frame of its traceback outside asyncio, unittest and this
    package (the user's ``raise`` or the user's call into a library); the innermost frame when all are
    internal, None when it has no traceback.
    """
    tb: types.TracebackType | None = exc.__traceback__
    user: Site | None = None
    innermost: Site | None = None
    while tb is not None:
        code = tb.tb_frame.f_code
        innermost = (code.co_filename, tb.tb_lineno, code.co_name)
        if not _internal(code.co_filename):
            user = innermost
        tb = tb.tb_next
    return user or innermost


def stack_site(stack: traceback.StackSummary | None) -> Site | None:
    """The innermost user frame of a recorded stack (asyncio's ``_source_traceback``, outermost first)."""
    if not stack:
        return None
    return _first_user_site((fs.filename, fs.lineno or 0, fs.name) for fs in reversed(stack))


def _first_user_site(sites: Iterable[Site]) -> Site | None:
    """The first site outside asyncio/unittest/this package; the first of all if every one is internal."""
    first: Site | None = None
    for site in sites:
        if first is None:
            first = site
        if not is_internal_file(site[0]):
            return site
    return first


_HANDLE_RUN = (os.path.join(os.path.dirname(asyncio.__file__), "events.py"), "_run")
_INTERNAL_FILES: dict[str, bool] = {}  # is_internal_file() per filename, for the per-task hot path


#: How :func:`record_task` treats a frame of each file while it walks out of asyncio (see _walk_kind).
_USER, _INTERNAL, _UNITTEST, _EVENTS = 0, 1, 2, 3


def _walk_kind(filename: str) -> int:
    if not _internal(filename):
        kind = _USER
        USER_FILES.add(filename)
    elif filename.startswith(_UNITTEST_DIR):
        kind = _UNITTEST
    elif filename == _HANDLE_RUN[0]:
        kind = _EVENTS
    else:
        kind = _INTERNAL
    _WALK_KINDS[filename] = kind
    return kind


_WALK_KINDS: dict[str, int] = {}


def _internal(filename: str) -> bool:
    known = _INTERNAL_FILES.get(filename)
    if known is None:
        known = _INTERNAL_FILES[filename] = is_internal_file(filename)
    return known


_LIBRARY_MARKERS = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)

Sites = tuple["Site | None", "Site | None"]
"""``(innermost frame outside asyncio/unittest/asynctestkit, innermost frame outside installed libraries)``;
the second is None when it is the first (the call comes straight from the user's code)."""


def is_library_file(filename: str) -> bool:
    """True for installed third-party code (``site-packages``): a report adds the user's frame beyond it."""
    return any(marker in filename for marker in _LIBRARY_MARKERS)


def _walk_out(frame: types.FrameType | None) -> tuple[Site | None, Site | None, Site | None]:
    """The one user-frame walker: from *frame* outwards, ``(first frame outside asyncio/unittest/
    asynctestkit, first of those outside installed libraries, innermost frame of all)``.

    The walk stops at the event loop itself (``Handle._run``): frames beyond it belong to whoever runs the
    loop, not to the code that made the call, so a call asyncio makes on behalf of a task
    (``asyncio.to_thread``, ``getaddrinfo``) is attributed to the task's creation site instead.  A short
    frame walk, no traceback object: cheap enough to run at every resource creation.
    """
    first: Site | None = None
    innermost: Site | None = None
    while frame is not None:
        code = frame.f_code
        filename = code.co_filename
        site = (filename, frame.f_lineno, code.co_name)
        if innermost is None:
            innermost = site
        if not _internal(filename):
            if first is None:
                first = site
            if not is_library_file(filename):
                return first, site, innermost
        elif (filename, code.co_name) == _HANDLE_RUN:
            if first is None:
                first = _current_task_site()
            return first, None, innermost
        frame = frame.f_back
    return first, None, innermost


def caller_site(skip: int = 1) -> Site | None:
    """The innermost frame of the current call stack outside asyncio, unittest and this package.

    *skip* frames are dropped first (1 = the caller of ``caller_site``); see :func:`_walk_out` for where the
    walk stops.  The innermost frame of all when every frame is internal.
    """
    first, _user, innermost = _walk_out(sys._getframe(skip + 1))
    return first or innermost


def call_sites(skip: int = 0) -> Sites:
    """Where the current call comes from: the innermost non-framework frame and, when that frame is inside
    an installed library (aiohttp's ``TestClient`` creating a session, say), the innermost frame of the
    application or test as well.  *skip* frames are dropped first (0 = start at the caller).
    """
    first, user, _innermost = _walk_out(sys._getframe(skip + 1))
    return first, (user if user != first else None)


def stack_sites(stack: traceback.StackSummary | None) -> Sites | None:
    """:func:`call_sites` for a recorded stack (``_source_traceback``: asyncio debug mode, aio-libs objects)."""
    if not stack:
        return None
    frames = [(fs.filename, fs.lineno or 0, fs.name) for fs in reversed(stack)]
    outside = [f for f in frames if not _internal(f[0])]
    if not outside:
        return (frames[0], None)
    user = next((f for f in outside if not is_library_file(f[0])), None)
    return (outside[0], user if user != outside[0] else None)


def _current_task_site() -> Site | None:
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return None
    return creation_site(task) if task is not None else None


def _line_at(code: types.CodeType, offset: int) -> int:
    """The source line of the instruction at byte *offset* of *code* (what ``frame.f_lineno`` would say)."""
    for start, end, line in code.co_lines():
        if start <= offset < end and line is not None:
            return line
    return code.co_firstlineno


#: The creation record of each live loop that keeps one (asynctestkit's loops), for :func:`creation_site`, by a
#: weak reference to the loop (the record's own ``_loop``: one weak reference per loop, whose callback drops the
#: entry when the loop goes; a ``WeakKeyDictionary`` would make a second one, from Python code).
_TASK_SITES: dict[weakref.ref[asyncio.AbstractEventLoop], TaskSites] = {}


def _forget_sites(ref: weakref.ref[asyncio.AbstractEventLoop]) -> None:
    _TASK_SITES.pop(ref, None)

_CHUNK = 4096  # log entries (1,024 tasks) per chunk: see TaskSites
TASK_SITES_CHUNK = _CHUNK  # for the loops' create_task(), which append to the open chunk (see USER_FILES)


class TaskSites:
    """Where each task of one loop was created, recorded by the loop's ``create_task()`` (see :func:`record_task`).

    Coroutine origin tracking would give the same line, but it records a site for *every* coroutine (each
    ``await queue.get()`` too) and adds two GC-tracked tuples to each: +20-30% on a task-heavy workload.
    This records, per task, four plain entries in one flat list: the task's and its coroutine's hash (the
    default, identity-based one: an ``id()`` without ``id()``'s audit event), and the code object and
    instruction offset of the first frame outside asyncio, unittest and asynctestkit.  No tuple, no weak
    reference, no frame is kept per task: the line number is worked out only when a report asks.  A task
    is looked up by its hash, checked against its coroutine's.

    The list is cut into chunks of ``_CHUNK`` entries; a full chunk is frozen into a tuple, which the
    garbage collector stops tracking (it holds only ints and code objects), so a long test's record costs
    no collector time and never has to be copied to grow.  Past 65,536 tasks (and then whenever the record
    grows 4x), entries of tasks no longer pending are dropped: pruning asks ``asyncio.all_tasks()``, so it
    is kept rare enough to cost ~nothing per task.
    """

    __slots__ = ("__weakref__", "_chunks", "_fallback", "_index", "_indexed", "_loop", "_prune_at", "log")
    _PRUNE_FROM = 65536  # tasks (about 6 MB) before the first pruning; then 4x what was kept

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Weak: the loop's reference is the key of _TASK_SITES, which holds this record.  How creation_site()
        # finds it: no attribute of the loop is read.
        self._loop = ref = weakref.ref(loop, _forget_sites)
        _TASK_SITES[ref] = self
        #: The open chunk, appended to by :func:`record_task` (4 entries per task, see the class docstring).
        self.log: list[Any] = []
        self._chunks: list[tuple[Any, ...]] = []  # full chunks, oldest first
        self._fallback: dict[int, Site | None] = {}  # tasks created by a callback with no user frame
        self._index: dict[int, tuple[int, int]] = {}  # task hash -> (chunk number, position); lazily built
        self._indexed = 0  # entries of the record already in _index
        self._prune_at = self._PRUNE_FROM

    def __len__(self) -> int:
        """The number of tasks recorded (and not pruned)."""
        return (len(self._chunks) * _CHUNK + len(self.log)) // 4

    def roll(self) -> None:
        """The open chunk is full: freeze it (called as a task is recorded), pruning when the record is large."""
        self._chunks.append(tuple(self.log))
        self.log = []
        if len(self) > self._prune_at:
            self._prune()

    def _entries(self, first: int) -> Iterable[tuple[int, int, int]]:
        """``(chunk number, position, task hash)`` of every entry from the *first*-th task on."""
        chunks = [*self._chunks, self.log]
        per_chunk = _CHUNK // 4
        for number in range(first // per_chunk, len(chunks)):
            chunk = chunks[number]
            start = (first - number * per_chunk) * 4 if number == first // per_chunk else 0
            for position in range(start, len(chunk), 4):
                yield number, position, chunk[position]

    def site_of(self, task: asyncio.Future[Any]) -> Site | None:
        """Where *task* was created, if this registry recorded it."""
        index = self._index
        total = len(self)
        if self._indexed < total:
            for number, position, key in self._entries(self._indexed):
                index[key] = (number, position)  # a later task with a recycled hash wins
            self._indexed = total
        where = index.get(hash(task))
        if where is None or not isinstance(task, asyncio.Task):
            return None
        number, position = where
        chunk = self._chunks[number] if number < len(self._chunks) else self.log
        if chunk[position + 1] != hash(task.get_coro()):
            return None
        code = chunk[position + 2]
        if code is None:
            return self._fallback.get(hash(task))
        return (code.co_filename, _line_at(code, chunk[position + 3]), code.co_name)

    def _prune(self) -> None:
        loop = self._loop()
        pending = {hash(task) for task in asyncio.all_tasks(loop)} if loop is not None else set()
        kept: list[Any] = []
        for chunk in [*self._chunks, self.log]:
            for position in range(0, len(chunk), 4):
                if chunk[position] in pending:
                    kept += chunk[position:position + 4]
        self._chunks = [tuple(kept[i:i + _CHUNK]) for i in range(0, len(kept) - len(kept) % _CHUNK, _CHUNK)]
        self.log = kept[len(kept) - len(kept) % _CHUNK:]
        self._fallback = {k: v for k, v in self._fallback.items() if k in pending}
        self._index = {}
        self._indexed = 0
        self._prune_at = max(self._PRUNE_FROM, 4 * len(self))


#: The files :func:`record_task` found to be the user's (outside asyncio, unittest and asynctestkit): a loop's
#: ``create_task()`` tests its caller's file against this set and, when it is there, records the caller's
#: frame itself (see ``clock/_loop.py``), with no call and no walk: a task created straight from the
#: user's code costs one set test.  Every other caller is handed to :func:`record_task`.
USER_FILES: set[str] = set()


def record_task(sites: TaskSites, task: asyncio.Future[Any], coro: object, frame: types.FrameType | None,
                code: types.CodeType) -> None:
    """Remember where *task* is being created; *frame* is the caller of the loop's ``create_task()``, *code*
    its code; *frame* None records no site (the loop knows the task is the framework's: see ``_loop.py``).

    Called by a loop's ``create_task()`` when its caller is not known as the user's (:data:`USER_FILES`):
    ``asyncio.create_task``, ``gather``, ``ensure_future``, ``TaskGroup``, a file seen for the first time,
    unittest or the runner.  The site is the first frame outside asyncio, unittest and asynctestkit, found
    by a walk that classifies each frame by its file name once per file (a dict look-up per frame, no
    string test).  A task created by unittest (the runner's task for a test phase) gets no site: below
    unittest lie only the frames of whatever runs the suite.  A task created by a loop callback with no
    user frame gets its creating task's site.  The record takes four entries (see :class:`TaskSites`).
    """
    kinds = _WALK_KINDS
    site = frame
    while site is not None:
        try:
            kind = kinds[code.co_filename]
        except KeyError:
            kind = _walk_kind(code.co_filename)
        if kind == _INTERNAL:  # asyncio.create_task(), gather(), TaskGroup...: walk out to the user's frame
            site = site.f_back
            if site is not None:
                code = site.f_code
        elif kind == _USER:
            break
        elif kind == _UNITTEST:
            # The task is the framework's (the runner's task for a test phase, the runner's shutdown tasks):
            # below unittest lie only the frames of whatever runs the suite, never the code under test.
            # Stopping here spares walking them all (tens of frames, several tasks per test) and records
            # what running under ``python -m unittest`` always gave: no site.
            site = None
        elif code.co_name == "_run":  # a callback of the loop itself (_HANDLE_RUN)
            sites._fallback[hash(task)] = _current_task_site()
            site = None
        else:
            site = site.f_back
            if site is not None:
                code = site.f_code
    log = sites.log
    log.append(hash(task))
    log.append(hash(coro))
    if site is None:
        log.append(None)
        log.append(-1)
    else:
        log.append(code)
        log.append(site.f_lasti)
    if len(log) >= _CHUNK:
        sites.roll()


def creation_site(obj: object) -> Site | None:
    """Where *obj* (a task, a coroutine, or a future created in debug mode) was created, if known.

    Tasks answer from the record their loop's ``create_task()`` keeps (asynctestkit's loops: always);
    coroutines, and tasks of other loops, from ``cr_origin`` (coroutine origin tracking: the test case's
    ``coroutine_origins``, or asyncio's debug mode); objects created while asyncio's debug mode was on
    from their recorded creation traceback.
    """
    coro: Any = obj
    if isinstance(obj, asyncio.Task):
        sites = _TASK_SITES.get(weakref.ref(obj.get_loop()))
        site: Site | None = sites.site_of(obj) if sites is not None else None
        if site is not None:
            return site
        coro = obj.get_coro()
    origin = getattr(coro, "cr_origin", None) or getattr(coro, "ag_origin", None)
    if origin:
        return _first_user_site((f, ln, fn) for f, ln, fn in origin)
    return stack_site(_compat.source_traceback(obj))
