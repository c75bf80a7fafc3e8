"""The leak checker: find what a test left behind, report it, clean it up.

Front door of the leak subsystem.  Everything but ``_unittest`` works without unittest (a
:class:`LeakTracker` can watch any loop); the private modules:

- ``_tracker``: :class:`LeakTracker`, which owns the parts below and runs the check;
- ``_registries``: what the loop's creation methods made (transports, servers, processes, executor jobs);
- ``_recorder``: what happens while the tracker is attached (tasks, warnings, loop errors, threads);
- ``_cleanup``: closing and cancelling what leaked, with bounded waits;
- ``_hooks``: the process-wide hooks (warnings, logging, threading) shared by every attached tracker;
- ``_kinds``: the leak kinds, severities, presets and allow-lists; ``_report``: :class:`Leak`,
  :class:`LeakReport`, :class:`LeakError`; ``_describe``: one line per leaked object;
- ``_resources``: registered resource types (``track_resource``, ``register_resource_type``);
- ``_unittest``: :class:`LeakCheckMixin` and ``@allow_leaks``, the one module that knows unittest.

The contract with the loop (how the tracker sees what the loop creates) is ``clock/_creation.py``: one
recorder slot per loop, which the registries fill while attached; see docs/architecture.md.
"""

from __future__ import annotations

from ._report import Leak, LeakError, LeakReport
from ._resources import register_resource_type, unregister_resource_type
from ._tracker import LeakTracker, track_resource
from ._unittest import LeakCheckMixin, allow_leaks

__all__ = [
    "Leak",
    "LeakCheckMixin",
    "LeakError",
    "LeakReport",
    "LeakTracker",
    "allow_leaks",
    "register_resource_type",
    "track_resource",
    "unregister_resource_type",
]
