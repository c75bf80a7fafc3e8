"""Interleaving exploration: run an async test under many schedules, find the one that breaks it, replay it.

asyncio runs ready callbacks in FIFO order, so a test sees one interleaving of its tasks: the one a quiet
machine produces.  Under a *schedule* (a strategy and a seed) the test's loop runs them in another allowed
order at every decision point, and optionally fires timers late (jitter); the same seed gives the same
interleaving on every run.  ``@explore`` runs a test under many schedules and reports the first that fails
with the line that replays it; see docs/explore.md.

Front door: :func:`explore`, :func:`replay_schedule`, :class:`ScheduleError` (also in ``asynctestkit``),
and :class:`Schedule`, :class:`Decision`, ``SCHEDULE_ENV`` for tools.
"""

from __future__ import annotations

from ._runner import ScheduleError
from ._schedule import ENV_VAR as SCHEDULE_ENV
from ._schedule import STRATEGIES, Decision, Schedule
from ._unittest import explore, replay_schedule

__all__ = ["SCHEDULE_ENV", "STRATEGIES", "Decision", "Schedule", "ScheduleError", "explore", "replay_schedule"]
