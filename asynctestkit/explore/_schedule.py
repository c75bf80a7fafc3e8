"""What a schedule is: a strategy, a seed and its options, and the choices it makes at each decision point.

A *decision point* is a moment where the loop could run one of several callbacks next (see ``_ready.py``):
the candidates are listed in the order plain asyncio would run them, so candidate 0 is always the FIFO
choice.  A schedule answers each decision point with the index of the candidate to run:

- ``fifo``: always 0, exactly asyncio's order (what every test gets without a seed);
- ``random``: a uniformly random candidate (a random walk through the interleavings);
- ``pct``: probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010): every task gets a random
  priority when first seen, the candidate of the highest priority runs, and at ``depth - 1`` randomly chosen
  decision points the priority of the task just chosen drops below every other (a bug that needs *d*
  ordering constraints is found with probability at least ``1 / (n * k**(d-1))`` per run);
- a *script* (``departures={point: index}``): the given choices at the given points, FIFO elsewhere; what
  shrinking produces and what the simplest failing schedule replays with.

Optionally (``jitter``), every timer armed with a positive delay fires later by up to ``jitter`` times that
delay (a ``sleep(1)`` with ``jitter=0.5`` lasts between 1 and 1.5 virtual seconds): latency variance, the
other half of what makes real schedules differ.  Timers only ever fire late, never early, as on a real loop.

Every random number comes from ``random.Random`` seeded with a string (``"<seed>:order"``, ``"<seed>:delay"``):
the same on every run, every interpreter and every ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from .. import _validate

__all__ = ["STRATEGIES", "Decision", "Schedule", "Strategy"]

#: The strategies an exploration can use (``fifo`` and scripts are for replays).
STRATEGIES = ("random", "pct")
DEFAULT_DEPTH = 3


class Decision(NamedTuple):
    """One place where a schedule departed from asyncio's FIFO order.

    ``kind`` is ``"order"`` (at decision point ``point``, candidate ``choice`` ran instead of candidate 0:
    ``ran`` instead of ``instead_of``) or ``"delay"`` (timer number ``point`` fired ``extra`` virtual seconds
    late: ``ran`` names its callback).  ``at`` is the virtual time since the clock's start.  ``tasks`` names
    the tasks involved (the one that ran, the one it overtook), which the report's timeline is about.
    """

    kind: str
    point: int
    choice: int
    ran: str
    instead_of: str
    at: float
    extra: float = 0.0
    tasks: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for a failure report."""
        if self.kind == "delay":
            return (f"timer {self.point} ({self.ran}) armed at virtual t={self.at:.3f}s fired "
                    f"{self.extra:.6g} s late")
        return f"decision {self.point} at virtual t={self.at:.3f}s: ran {self.ran} before {self.instead_of}"


def _check_int(where: str, value: object, *, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{where} must be an int >= {low}, got {_validate.given(value)}")
    if value < low:
        raise ValueError(f"{where} must be an int >= {low}, got {value!r}")
    return value


def check_strategy(where: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{where} must be one of {', '.join(map(repr, STRATEGIES))}, got {_validate.given(value)}")
    if value not in STRATEGIES:
        raise ValueError(f"{where} must be one of {', '.join(map(repr, STRATEGIES))}, got {value!r}")
    return value


def check_jitter(where: str, value: object) -> float:
    """A jitter factor: a finite number >= 0 (a timer fires up to ``jitter`` times its delay late)."""
    allowed = "a finite number >= 0 (a timer fires up to jitter x its delay late; 0: no jitter)"
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{where} must be {allowed}, got {_validate.given(value)}")
    try:
        jitter = float(value)
    except OverflowError:  # an int beyond the float range
        jitter = math.inf
    if not math.isfinite(jitter) or jitter < 0:
        shown = repr(value) if len(repr(value)) <= 80 else _validate.given(value)
        raise ValueError(f"{where} must be {allowed}, got {shown}")
    return jitter


_NONE: Mapping[Any, Any] = MappingProxyType({})


class Schedule(NamedTuple):
    """A reproducible schedule: a strategy with its seed and options, or a script of departures from FIFO.

    Build one with :meth:`seeded` (an exploration's runs), :meth:`script` (a shrunk schedule) or
    :meth:`fifo`; :meth:`replay_line` is the decorator that replays it on a test, :meth:`env_value` the
    value of ``ASYNCTESTKIT_SCHEDULE`` that does the same from the command line (seeded schedules only).
    """

    strategy: str = "fifo"                 # "fifo", "random", "pct" or "script"
    seed: int | None = None
    depth: int = DEFAULT_DEPTH             # pct: d, the number of priority-change points plus one
    steps: int = 0                         # pct: decision points in a run (0: taken from the FIFO run)
    jitter: float = 0.0                    # timers fire up to jitter * delay late
    departures: Mapping[int, int] = _NONE   # script: decision point -> candidate
    delays: Mapping[int, float] = _NONE     # script: timer number -> extra seconds

    @classmethod
    def fifo(cls) -> Schedule:
        return cls()

    @classmethod
    def seeded(cls, strategy: str, seed: int, *, depth: int = DEFAULT_DEPTH, steps: int = 0,
               jitter: float = 0.0) -> Schedule:
        check_strategy("strategy", strategy)
        _check_int("seed", seed, low=0)
        _check_int("depth", depth, low=1)
        _check_int("steps", steps, low=0)
        return cls(strategy, seed, depth, steps, check_jitter("jitter", jitter))

    @classmethod
    def script(cls, departures: Mapping[int, int], delays: Mapping[int, float] | None = None) -> Schedule:
        for point, index in departures.items():
            _check_int("a decision point of departures", point, low=0)
            _check_int(f"departures[{point}]", index, low=0)
        for number, extra in (delays or {}).items():
            _check_int("a timer number of delays", number, low=0)
            _validate.duration(f"delays[{number}]", extra)
        return cls("script", departures=dict(departures), delays=dict(delays or {}))

    def strategy_for_run(self) -> Strategy:
        """A fresh strategy object for one run (its random state starts from the seed)."""
        if self.strategy == "random":
            return RandomWalk(self)
        if self.strategy == "pct":
            return PCT(self)
        if self.strategy == "script":
            return Script(self)
        return Strategy(self)

    def describe(self) -> str:
        """``strategy 'pct' (depth 3, 40 steps), seed 17``: how reports name the schedule."""
        if self.strategy == "fifo":
            return "the default FIFO schedule"
        if self.strategy == "script":
            count = len(self.departures) + len(self.delays)
            return f"a script of {count} departure{'' if count == 1 else 's'} from FIFO"
        options = []
        if self.strategy == "pct":
            options += [f"depth {self.depth}", f"{self.steps} steps"]
        if self.jitter:
            options.append(f"jitter {self.jitter:g}")
        return f"strategy {self.strategy!r}{' (' + ', '.join(options) + ')' if options else ''}, seed {self.seed}"

    def replay_line(self) -> str:
        """The decorator that replays this schedule: ``@asynctestkit.replay_schedule(seed=17, strategy="pct", ...)``."""
        if self.strategy == "script":
            args = [f"departures={dict(sorted(self.departures.items()))!r}"]
            if self.delays:
                args.append(f"delays={dict(sorted(self.delays.items()))!r}")
        elif self.strategy == "fifo":
            args = ["departures={}"]
        else:
            args = [f"seed={self.seed}", f"strategy={self.strategy!r}".replace("'", '"')]
            if self.strategy == "pct":
                args += [f"depth={self.depth}", f"steps={self.steps}"]
            if self.jitter:
                args.append(f"jitter={self.jitter!r}")
        return f"@asynctestkit.replay_schedule({', '.join(args)})"

    def env_value(self, test_id: str) -> str | None:
        """``<test id>:<seed>[:<strategy>[:depth=3,steps=40,jitter=0.1]]`` for ``ASYNCTESTKIT_SCHEDULE``."""
        if self.seed is None:
            return None
        value = f"{test_id}:{self.seed}"
        options = []
        if self.strategy == "pct":
            options += [f"depth={self.depth}", f"steps={self.steps}"]
        if self.jitter:
            options.append(f"jitter={self.jitter!r}")
        if self.strategy != "random" or options:
            value += f":{self.strategy}"
        if options:
            value += ":" + ",".join(options)
        return value


ENV_VAR = "ASYNCTESTKIT_SCHEDULE"


def parse_env(value: str) -> tuple[str, Schedule]:
    """``(test id, schedule)`` from the value of ``ASYNCTESTKIT_SCHEDULE`` (see :meth:`Schedule.env_value`)."""
    shape = (f"{ENV_VAR} must be '<test id>:<seed>[:<strategy>[:depth=3,steps=40,jitter=0.1]]' "
             f"(e.g. tests.test_bank.TestBank.test_deposit:17), got {value!r}")
    parts = value.split(":")
    if len(parts) < 2 or len(parts) > 4 or not parts[0] or not parts[1].isdigit():
        raise ValueError(shape)
    strategy = parts[2] if len(parts) > 2 else "random"
    options: dict[str, Any] = {}
    if len(parts) == 4:
        for item in parts[3].split(","):
            key, _, text = item.partition("=")
            try:
                if key in ("depth", "steps"):
                    options[key] = int(text)
                elif key == "jitter":
                    options[key] = float(text)
                else:
                    raise ValueError(key)
            except ValueError:
                raise ValueError(f"{shape}: unknown or bad option {item!r} (known: depth, steps, jitter)") from None
    try:
        return parts[0], Schedule.seeded(strategy, int(parts[1]), **options)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{ENV_VAR}={value!r}: {error}") from None


# -- strategies ------------------------------------------------------------------------------------------

def _rng(seed: str) -> Any:
    """A ``random.Random`` seeded with *seed* (imported here: ``import asynctestkit`` does not load ``random``)."""
    import random

    return random.Random(seed)


class Strategy:
    """FIFO: always the first candidate, no delay.  The base of every strategy (one object per run)."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self._delays = _rng(f"{schedule.seed}:delay") if schedule.jitter else None

    def choose(self, point: int, agents: Sequence[object]) -> int:
        """The index of the candidate to run at decision point *point*; *agents* are their tasks (or handles)."""
        return 0

    def delay(self, number: int, seconds: float) -> float:
        """Extra virtual seconds for timer number *number*, armed *seconds* ahead (0: on time)."""
        if self._delays is None:
            return 0.0
        return float(seconds * self.schedule.jitter * self._delays.random())


class RandomWalk(Strategy):
    """A uniformly random candidate at every decision point."""

    def __init__(self, schedule: Schedule) -> None:
        super().__init__(schedule)
        self._random = _rng(f"{schedule.seed}:order").random

    def choose(self, point: int, agents: Sequence[object]) -> int:
        return int(self._random() * len(agents))


class PCT(Strategy):
    """Random priorities per task; the highest runs; ``depth - 1`` change points lower the chosen one."""

    def __init__(self, schedule: Schedule) -> None:
        super().__init__(schedule)
        rng = _rng(f"{schedule.seed}:order")
        self._random = rng.random
        steps = max(1, schedule.steps)
        # Change point i (1-based) at a decision point drawn uniformly from [0, steps): the task chosen there
        # gets priority i, below every initial priority (those are > depth).
        self._changes: dict[int, int] = {}
        for i in range(1, schedule.depth):
            self._changes.setdefault(int(rng.random() * steps), i)
        # Weak keys: the run outlives its loop, and a strong reference to a task would keep the loop alive.
        self._priority: weakref.WeakKeyDictionary[object, float] = weakref.WeakKeyDictionary()

    def _priority_of(self, agent: object) -> float:
        priority = self._priority.get(agent)
        if priority is None:
            priority = self._priority[agent] = self.schedule.depth + self._random()
        return priority

    def choose(self, point: int, agents: Sequence[object]) -> int:
        priorities = [self._priority_of(agent) for agent in agents]
        best = max(range(len(agents)), key=priorities.__getitem__)
        change = self._changes.get(point)
        if change is not None:
            self._priority[agents[best]] = float(change)
        return best


class Script(Strategy):
    """The scripted choices at their decision points (FIFO where the script says nothing or cannot apply)."""

    def choose(self, point: int, agents: Sequence[object]) -> int:
        index = self.schedule.departures.get(point, 0)
        return index if index < len(agents) else 0

    def delay(self, number: int, seconds: float) -> float:
        return self.schedule.delays.get(number, 0.0)
