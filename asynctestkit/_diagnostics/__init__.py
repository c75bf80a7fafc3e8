"""Where things were created and where they are stuck: the facts every report is made of.

The virtual clock (deadlock reports), the leak checker (pending tasks) and the assertions (task names in
failure messages) all describe asyncio objects the same way, through the helpers here:

- a *site* is ``(filename, lineno, function)``; :func:`format_site` renders it as
  ``tests/test_client.py:42 in test_fetch`` with the path relative to the current directory;
- :func:`creation_site` says where a task or coroutine was created: for a task, from the record its
  loop's ``create_task()`` keeps (:class:`TaskSites`, asynctestkit's loops); else from the coroutine's
  ``cr_origin`` (coroutine origin tracking, opt-in: ``coroutine_origins``) or the creation traceback
  asyncio records in debug mode;
- :func:`suspended_at` walks a task's await chain down to the innermost frame outside asyncio, which is the
  line a user recognises (``await asyncio.sleep(30)``), and :func:`awaiting` names what that frame waits for;
- :func:`describe_task` and :func:`format_task` turn those facts into the report lines shown in failures.

This is the one vocabulary of every report (hangs, leaks, assertion failures); use it rather than a local
format:

- a task is ``task 'fetch-3' (fetch())`` (:func:`describe_task`); a callback or job ``Poller.poll``
  (:func:`callable_name`), always without the enclosing function's ``<locals>``;
- a place is one line, label padded to one column: ``created at   tests/test_x.py:12 in test_x``,
  ``suspended at app.py:88 in fetch: await asyncio.sleep(30)  (awaiting sleep())``, ``raised at ...``,
  ``scheduled at ...`` (:func:`site_line`; :func:`detail_line` for a label with other text);
- the user's frame is found by one walker (:func:`caller_site`, :func:`call_sites` for a live stack,
  :func:`raised_at` for a traceback, :func:`stack_site` for a recorded stack): the innermost frame outside
  asyncio, unittest and asynctestkit, with paths relative to the current directory (:func:`relpath`).

Nothing here knows unittest, the clock or the leak checker.  ``_sites`` holds the sites and the frame
walker, ``_tasks`` the task lines; this front door re-exports both.
"""

from __future__ import annotations

from ._sites import (
    ASYNCIO_DIR,
    PACKAGE_DIR,
    TASK_SITES_CHUNK,
    USER_FILES,
    Site,
    Sites,
    TaskSites,
    call_sites,
    callable_name,
    caller_site,
    creation_site,
    definition_site,
    detail_line,
    format_site,
    frame_site,
    is_internal_file,
    is_library_file,
    raised_at,
    record_task,
    relpath,
    short_name,
    site_line,
    source_line,
    stack_site,
    stack_sites,
)
from ._tasks import (
    await_chain,
    awaiting,
    coroutine_suspended_at,
    describe_task,
    describe_wait,
    format_task,
    format_tasks,
    suspended_at,
    suspended_line,
)
from ._timelines import register_timeline, timeline_lines

__all__ = [
    "ASYNCIO_DIR",
    "PACKAGE_DIR",
    "TASK_SITES_CHUNK",
    "USER_FILES",
    "Site",
    "Sites",
    "TaskSites",
    "await_chain",
    "awaiting",
    "call_sites",
    "callable_name",
    "caller_site",
    "coroutine_suspended_at",
    "creation_site",
    "definition_site",
    "describe_task",
    "describe_wait",
    "detail_line",
    "format_site",
    "format_task",
    "format_tasks",
    "frame_site",
    "is_internal_file",
    "is_library_file",
    "raised_at",
    "record_task",
    "register_timeline",
    "relpath",
    "short_name",
    "site_line",
    "source_line",
    "stack_site",
    "stack_sites",
    "suspended_at",
    "suspended_line",
    "timeline_lines",
]
