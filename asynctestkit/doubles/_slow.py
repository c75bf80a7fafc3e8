"""SlowCall: a scripted, slow and flaky async call to put behind any ``AsyncMock``.

Why a ``side_effect`` and not an ``AsyncMock`` subclass: ``unittest.mock`` builds the children of a
spec'd or autospec'd mock itself (``NonCallableMock._get_child_mock`` makes a plain ``AsyncMock`` for
every async method, whatever the parent's class; ``create_autospec`` does the same, and ``patch`` refuses
``autospec=`` together with ``new_callable=``).  A subclass would therefore be lost exactly where users
need it, on ``create_autospec(Session).get``.  Every ``AsyncMock`` however awaits its ``side_effect``
when that is a coroutine function (``AsyncMockMixin._execute_mock_call``) after it has recorded the await
(``await_count``, ``await_args``), so a side effect keeps ``spec=``, ``autospec`` and ``assert_awaited_*``
working unchanged, on any mock.  A side effect that returns ``mock.DEFAULT`` makes the mock return its
``return_value``.

Every call waits its latency with ``asyncio.sleep`` on the running loop and stamps its start and end with
``loop.time()``: on an :class:`~asynctestkit.AsyncTestCase` that is virtual time (instant and exact), on a
plain ``IsolatedAsyncioTestCase`` real time.  On cancellation the call records ``'cancelled'`` and
re-raises.
"""

from __future__ import annotations

import asyncio
import math
import reprlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from .. import _diagnostics, _validate

if TYPE_CHECKING:
    import random
    from unittest import mock

# ``unittest.mock`` and ``random`` are imported where they are first needed, not here: ``import asynctestkit``
# imports this module, and a test suite that never uses a SlowCall should not carry their modules (measured:
# the extra heap made the marginal instructions of a trivial test 10% higher under callgrind, W1 quick, 3.12).

__all__ = ["CallRecord", "SlowCall"]

# unittest cuts a failure's traceback at the first frame of a module that sets ``__unittest`` after the
# user's frames (as it does for its own assert methods and for unittest.mock): a failing
# ``fake.assert_peak_concurrency(...)`` ends at the user's line, not inside this module.
__unittest = True

_REPR = reprlib.Repr()
_REPR.maxstring = 40
_REPR.maxother = 40


class _Special:
    """A scripted outcome that is not a value or an exception (``SlowCall.HANG``, ``SlowCall.TIMEOUT``)."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"SlowCall.{self._name}"


_HANG: Final = _Special("HANG")
_TIMEOUT: Final = _Special("TIMEOUT")


class CallRecord:
    """One call of a :class:`SlowCall`: its arguments, virtual start and end, latency and outcome.

    ``outcome`` is ``'running'`` while the call is in flight (a ``HANG`` call stays there until it is
    cancelled), then ``'returned'``, ``'raised'`` or ``'cancelled'``.  ``start``/``end`` are the running
    loop's ``loop.time()``; ``end`` is ``None`` while running.  ``random`` is the fake's seeded
    ``random.Random`` (for a latency callable: ``lambda call: call.random.uniform(0.1, 0.5)``).
    """

    __slots__ = ("_fake", "args", "end", "exception", "kwargs", "latency", "number", "outcome", "result", "start")

    def __init__(self, fake: SlowCall, number: int, args: tuple[Any, ...], kwargs: dict[str, Any],
                 start: float) -> None:
        self.number = number
        self.args = args
        self.kwargs = kwargs
        self.start = start
        self.end: float | None = None
        self.latency = 0.0
        self.outcome = "running"
        self.result: object = None
        self.exception: BaseException | None = None
        self._fake = fake

    @property
    def random(self) -> random.Random:
        """The fake's seeded random generator; using it puts the seed into the fake's failure messages."""
        self._fake._random_used = True
        return self._fake._random

    @property
    def duration(self) -> float | None:
        """``end - start`` (rounded to the nanosecond), ``None`` while the call runs."""
        return None if self.end is None else round(self.end - self.start, 9)

    def describe(self) -> str:
        """``call #2 get('/a') started at t=1.500s, raised ConnectionError after 0.500s``."""
        parts = [_REPR.repr(a) for a in self.args] + [f"{k}={_REPR.repr(v)}" for k, v in self.kwargs.items()]
        head = f"call #{self.number} {self._fake.name}({', '.join(parts)}) started at t={self.start:.3f}s"
        if self.outcome == "running":
            return f"{head}, still running"
        what = self.outcome
        if self.outcome == "raised" and self.exception is not None:
            what = f"raised {type(self.exception).__name__}"
        return f"{head}, {what} after {self.duration:.3f}s"

    def __repr__(self) -> str:
        return f"<CallRecord {self.describe()}>"


LatencySpec = float | int | Sequence[float | int] | Callable[[CallRecord], float]


class SlowCall:
    """A scripted async call with virtual latency: the ``side_effect`` of any ``AsyncMock``.

    *outcomes* scripts the calls in order, one item per call: a value is returned, an exception (class
    or instance) is raised, ``SlowCall.HANG`` never answers (until cancelled), ``SlowCall.TIMEOUT``
    raises ``asyncio.TimeoutError`` (the builtin ``TimeoutError`` on 3.11+) after its latency, and
    ``unittest.mock.DEFAULT`` returns the mock's ``return_value``; an endless iterator
    (``itertools.cycle``) is fine, one item is taken per call.  Without *outcomes* every call returns
    the mock's ``return_value``.  A call beyond the script raises ``RuntimeError`` saying so.

    *latency* is how long each call takes before its outcome: a number of seconds, a sequence (one per
    call), or a callable given the :class:`CallRecord` (use ``call.random`` for a seeded random latency:
    *seed*, printed in failure messages so a run can be replayed; chosen at random when omitted).

    Use it as ``AsyncMock(side_effect=fake.side_effect)``, ``fake.attach(create_autospec(...).get)`` or
    ``fake.mock(spec=...)``.  It records every call (``calls``, ``start_times``, ``end_times``) and the
    peak number of calls in flight at once (``peak_concurrency``).

    Example: a session that fails twice, then answers after 0.5 s::

        fake = SlowCall([ConnectionError(), ConnectionError(), {"ok": True}], latency=[0.1, 0.1, 0.5])
        session.get = fake.mock()
        ...
        fake.assert_start_times([0.0, 1.1, 3.1])
    """

    HANG: Final = _HANG
    TIMEOUT: Final = _TIMEOUT

    def __init__(self, outcomes: Iterable[object] | None = None, *, latency: LatencySpec = 0.0,
                 seed: int | None = None, name: str = "fake") -> None:
        if outcomes is not None and (isinstance(outcomes, (str, bytes)) or not isinstance(outcomes, Iterable)):
            raise TypeError("SlowCall(outcomes=...) must be a list of per-call outcomes or None, "
                            f"got {_validate.given(outcomes)}")
        # Pulled one per call, so an endless script (itertools.cycle, repeat) works as with AsyncMock.
        self._outcomes: Iterator[object] | None = None if outcomes is None else iter(outcomes)
        self._scripted = 0
        self._latency = _check_latency(latency)
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise TypeError(f"SlowCall(seed=...) must be an int or None, got {_validate.given(seed)}")
        if not isinstance(name, str):
            raise TypeError(f"SlowCall(name=...) must be a str, got {_validate.given(name)}")
        self.name = name
        import random  # lazily: see the imports at the top

        self.seed: int = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self._random = random.Random(self.seed)
        self._random_used = False
        self.calls: list[CallRecord] = []
        self.in_flight = 0
        self.peak_concurrency = 0
        self._peak_calls: list[CallRecord] = []
        self._running: list[CallRecord] = []

    def __repr__(self) -> str:
        seed = f", seed={self.seed}" if self._random_used else ""
        return f"<SlowCall {self.name!r}: {len(self.calls)} calls, peak concurrency {self.peak_concurrency}{seed}>"

    # -- wiring ------------------------------------------------------------------------------------------

    def __next__(self) -> object:
        # AsyncMock(side_effect=fake) (the fake itself, not fake.side_effect) makes the mock treat it as an
        # iterator of results and call next() on it at the first await: say what to write instead.
        raise TypeError(f"SlowCall {self.name!r} was given to an AsyncMock as side_effect; pass "
                        "side_effect=fake.side_effect, or use fake.attach(mock) or fake.mock()")

    @property
    def side_effect(self) -> Callable[..., Any]:
        """The coroutine function to give an ``AsyncMock`` as ``side_effect`` (a bound ``async def``)."""
        return self._await_call

    def attach(self, target: mock.AsyncMock) -> mock.AsyncMock:
        """Make *target* (an ``AsyncMock``, e.g. a child of ``create_autospec``) call this fake; returns it."""
        from unittest import mock  # lazily: see the imports at the top

        if not isinstance(target, mock.AsyncMock):
            raise TypeError(f"SlowCall.attach(target) needs an AsyncMock, got {_validate.given(target)}")
        target.side_effect = self._await_call
        return target

    def mock(self, **kwargs: Any) -> mock.AsyncMock:
        """A new ``AsyncMock(**kwargs)`` (``spec=``, ``return_value=``, ...) whose every await is this fake."""
        from unittest import mock  # lazily: see the imports at the top

        return self.attach(mock.AsyncMock(**kwargs))

    # -- what was recorded -------------------------------------------------------------------------------

    @property
    def start_times(self) -> list[float]:
        """When each call started (``loop.time()``, rounded to the nanosecond), in call order."""
        return [round(c.start, 9) for c in self.calls]

    @property
    def end_times(self) -> list[float | None]:
        """When each call ended, ``None`` for a call still running."""
        return [None if c.end is None else round(c.end, 9) for c in self.calls]

    def assert_start_times(self, expected: Sequence[float]) -> None:
        """Fail unless the calls started exactly at *expected* (to the nanosecond), naming the first miss."""
        actual = self.start_times
        if len(actual) == len(expected) and all(
                math.isclose(a, e, abs_tol=1e-9) for a, e in zip(actual, expected, strict=True)):
            return
        lines = [f"{self.name}: calls started at {actual}, expected {list(expected)}"]
        for call, want in zip(self.calls, expected, strict=False):
            if not math.isclose(call.start, want, abs_tol=1e-9):
                lines.append(f"  first difference: call #{call.number} started at t={call.start:.3f}s, "
                             f"expected t={want:.3f}s")
                break
        else:
            lines.append(f"  {len(actual)} calls were made, {len(expected)} expected")
        lines.extend("  " + c.describe() for c in self.calls[:10])
        raise AssertionError("\n".join(lines + self._seed_lines()))

    def assert_peak_concurrency(self, at_most: int) -> None:
        """Fail if more than *at_most* calls were ever in flight at once, listing the calls at the peak."""
        if not isinstance(at_most, int) or isinstance(at_most, bool):
            raise TypeError(f"assert_peak_concurrency(at_most=...) must be an int >= 1, got {_validate.given(at_most)}")
        if at_most < 1:
            raise ValueError(f"assert_peak_concurrency(at_most=...) must be an int >= 1, got {at_most}")
        if self.peak_concurrency <= at_most:
            return
        last = max(c.start for c in self._peak_calls)
        lines = [f"{self.name}: {self.peak_concurrency} calls in flight at once, expected at most {at_most} "
                 f"(reached at t={last:.3f}s)"]
        lines.extend("  " + c.describe() for c in self._peak_calls[:10])
        raise AssertionError("\n".join(lines + self._seed_lines()))

    def _seed_lines(self) -> list[str]:
        if not self._random_used:
            return []
        return [f"  random latencies: seed={self.seed} (replay with SlowCall(..., seed={self.seed}))"]

    # -- the call ----------------------------------------------------------------------------------------

    async def _await_call(self, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        record = CallRecord(self, len(self.calls) + 1, args, kwargs, loop.time())
        self.calls.append(record)
        self.in_flight += 1
        self._running.append(record)
        if self.in_flight > self.peak_concurrency:
            self.peak_concurrency = self.in_flight
            self._peak_calls = list(self._running)
        try:
            outcome = self._scripted_outcome(record)
            if outcome is _HANG:
                never: asyncio.Future[None] = loop.create_future()
                _diagnostics.describe_wait(
                    never, lambda: f"{self.name} call #{record.number}: scripted SlowCall.HANG")
                await never
            record.latency = self._latency_of(record)
            await asyncio.sleep(record.latency)
            if outcome is _TIMEOUT:
                raise asyncio.TimeoutError(
                    f"{self.name} call #{record.number} timed out after {record.latency:.3f}s (scripted)")
            if isinstance(outcome, BaseException) or (isinstance(outcome, type)
                                                       and issubclass(outcome, BaseException)):
                raise outcome
        except asyncio.CancelledError:
            record.outcome = "cancelled"
            raise
        except BaseException as exc:
            record.outcome = "raised"
            record.exception = exc
            raise
        else:
            record.outcome = "returned"
            record.result = outcome
            return outcome
        finally:
            record.end = loop.time()
            self.in_flight -= 1
            self._running.remove(record)

    def _scripted_outcome(self, record: CallRecord) -> object:
        if self._outcomes is None:
            from unittest import mock  # lazily: see the imports at the top

            return mock.DEFAULT
        try:
            outcome = next(self._outcomes)
        except StopIteration:
            raise RuntimeError(f"{self.name} call #{record.number} has no scripted outcome: "
                               f"SlowCall(outcomes=...) scripts {self._scripted} calls") from None
        self._scripted += 1
        return outcome

    def _latency_of(self, record: CallRecord) -> float:
        spec = self._latency
        if isinstance(spec, float):
            return spec
        if isinstance(spec, list):
            if record.number > len(spec):
                raise RuntimeError(f"{self.name} call #{record.number} has no latency: "
                                   f"SlowCall(latency=[...]) gives {len(spec)} values")
            return spec[record.number - 1]
        value = spec(record)
        return _validate.duration(f"SlowCall(latency=...) returned for call #{record.number}, which", value)


def _check_latency(latency: object) -> float | list[float] | Callable[[CallRecord], float]:
    """Check *latency* where it is given: a duration, a sequence of durations, or a callable."""
    if isinstance(latency, (int, float)) and not isinstance(latency, bool):
        return _validate.duration("SlowCall(latency=...)", latency)
    if isinstance(latency, Sequence) and not isinstance(latency, (str, bytes)):
        return [_validate.duration(f"SlowCall(latency=[...]) item {i}", v) for i, v in enumerate(latency)]
    if callable(latency):
        return latency
    raise TypeError("SlowCall(latency=...) must be seconds, a sequence of seconds (one per call) or a "
                    f"callable given the CallRecord, got {_validate.given(latency)}")
