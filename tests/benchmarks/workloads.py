"""The benchmark workloads: the coroutines under test and the drivers that run them on each base.

Every workload is one coroutine (or one trivial test body) run unchanged on up to four *variants*:

``a``   plain ``unittest.IsolatedAsyncioTestCase``: what users have today (asyncio debug mode on, as
        ``IsolatedAsyncioTestCase`` always sets it);
``a0``  the same base with asyncio debug mode off, to show what debug mode itself costs;
``b``   ``asynctestkit.AsyncTestCase`` with its defaults (virtual clock on, leak checks on once they exist);
``bs``  ``AsyncTestCase`` with every leak check on (``leak_checks = "strict"``);
``b0``  ``AsyncTestCase`` with leak checks switched off (``leak_checks = "off"``);
``c``   the floor: the same coroutine under a bare ``asyncio.run`` (W1, W3) or, for timer-heavy code, under
        asyncio's own selector loop driven by the cheapest possible virtual clock (W4, see ``floor.py``).

This module is imported only by the child process that measures one (workload, variant) pair, so the
parent's imports and heap never leak into a measurement.  Each driver returns a dict of plain floats
(seconds unless the key says otherwise).
"""

from __future__ import annotations

import asyncio
import gc
import io
import random
import sys
import time
import unittest
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from floor import run_on_jump_clock
from hour import SIMULATED_SECONDS, simulate_hour

import asynctestkit

Metrics = dict[str, float]

PY311 = sys.version_info >= (3, 11)

#: Tests run before the timed region of every per-test workload, so lazy imports and first-call caches
#: are paid outside the measurement.
WARMUP_TESTS = 20


#: Set by ``run.py --profile``: a ``cProfile.Profile`` switched on for the timed region only.
PROFILER: Any = None


class BenchmarkError(RuntimeError):
    """A workload did not do what it claims (a test failed, a count is wrong): the figures would lie."""


@contextmanager
def timed(*, profile: bool = True) -> Iterator[Metrics]:
    """Time the block: wall (``perf_counter``) and CPU (``process_time``) seconds, into the yielded dict.

    The collector runs first, so garbage left by building the workload is not collected inside the
    measurement; it stays enabled during the block, because real suites run with it and its cost is part
    of a test's cost.  Under ``--profile`` the profiler covers exactly this block (unless *profile* is
    False, for warm-ups).
    """
    metrics: Metrics = {}
    profiler = PROFILER if profile else None
    gc.collect()
    full0 = gc.get_stats()[2]["collections"]
    if profiler is not None:
        profiler.enable()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    try:
        yield metrics
    finally:
        metrics["wall"] = time.perf_counter() - wall0
        metrics["cpu"] = time.process_time() - cpu0
        if profiler is not None:
            profiler.disable()
        # Full (oldest-generation) collections, automatic or gc.collect() calls: each one walks the whole heap.
        metrics["full_collections"] = gc.get_stats()[2]["collections"] - full0


# --- the bases ------------------------------------------------------------------------------------------

class PlainNoDebug(unittest.IsolatedAsyncioTestCase):
    """``IsolatedAsyncioTestCase`` with asyncio debug mode off (benchmark-only, uses its private set-up hook).

    ``IsolatedAsyncioTestCase`` hard-codes ``debug=True``; the private method that builds its runner
    (3.11+: ``_setupAsyncioRunner``, 3.10: ``_setupAsyncioLoop``) is the only place to change that.
    """

    if PY311:
        def _setupAsyncioRunner(self) -> None:
            self._asyncioRunner = asyncio.Runner(  # type: ignore[attr-defined]
                debug=False, loop_factory=getattr(self, "loop_factory", None))
    else:  # pragma: no cover - 3.10
        def _setupAsyncioLoop(self) -> None:
            super()._setupAsyncioLoop()  # type: ignore[misc]
            self._asyncioTestLoop.set_debug(False)  # type: ignore[attr-defined]


def leak_check_preset(name: str) -> dict[str, Any] | None:
    """Class attributes selecting AsyncTestCase's leak-check preset *name*, or None while there are none.

    Presets (``leakcase.py``): "default", "strict" (every kind fails: every check on), "off".  Looked up
    on the class, not hard-coded to a version, so the benchmark follows the package.
    """
    if not hasattr(asynctestkit.AsyncTestCase, "leak_checks"):
        return None
    return {"leak_checks": name}


def base_for(variant: str) -> type[unittest.TestCase]:
    """The test case base class that *variant* measures."""
    if variant == "a":
        return unittest.IsolatedAsyncioTestCase
    if variant == "a0":
        return PlainNoDebug
    if variant == "b":
        return asynctestkit.AsyncTestCase
    if variant in ("b0", "bs"):
        preset = leak_check_preset("off" if variant == "b0" else "strict")
        if preset is None:
            raise BenchmarkError("AsyncTestCase has no leak checks to configure yet")
        return type(f"AsyncTestCase_{preset['leak_checks']}", (asynctestkit.AsyncTestCase,), preset)
    raise ValueError(f"variant {variant!r} is not a unittest base")


def make_suite(base: type[unittest.TestCase], body: Callable[..., Awaitable[None]], count: int,
               prefix: str = "test") -> unittest.TestSuite:
    """A suite of *count* tests on *base*; each is its own method (own name) running *body(self)*."""
    namespace: dict[str, Any] = {}
    names = []
    for index in range(count):
        name = f"{prefix}_{index:05d}"

        async def method(self: unittest.TestCase, _body: Any = body) -> None:
            await _body(self)

        method.__name__ = name
        method.__qualname__ = f"Bench.{name}"
        namespace[name] = method
        names.append(name)
    cls = type("Bench", (base,), namespace)
    return unittest.TestSuite(cls(name) for name in names)


def run_suite(suite: unittest.TestSuite, *, warmup: bool = False) -> Metrics:
    """Run *suite* the way ``python -m unittest`` does, with the output thrown away, and time it."""
    count = suite.countTestCases()
    runner = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0)
    with timed(profile=not warmup) as metrics:
        result = runner.run(suite)
    problems = result.failures + result.errors
    if problems or result.testsRun != count:
        detail = problems[0][1] if problems else f"ran {result.testsRun} of {count} tests"
        raise BenchmarkError(f"the benchmark suite did not pass:\n{detail}")
    metrics.update(tests=count, per_test_ms=metrics["wall"] / count * 1e3)
    return metrics


# --- W1 per-test overhead (and W5, which is W1 under a larger heap) ----------------------------------

async def trivial_test(self: unittest.TestCase) -> None:
    """The body of a trivial async test: one trip through the loop."""
    await asyncio.sleep(0)


async def _trivial_main() -> None:
    await asyncio.sleep(0)


def w1(variant: str, tests: int, heap: int = 0, chunks: int = 1) -> Metrics:
    """*tests* trivial async tests, each with a fresh loop; *heap* live objects are held meanwhile (W5).

    With *chunks* > 1 the tests run as that many consecutive suites, each timed on its own, and
    ``per_test_ms_med`` is the median chunk's per-test time: a burst of load from another process spoils
    a chunk or two, not the figure.  ``per_test_ms`` is always the whole run's total / tests.
    """
    held = [[i] for i in range(heap)]  # lists stay tracked by the collector, so they load every full collection
    per_chunk = [tests // chunks + (1 if i < tests % chunks else 0) for i in range(chunks)]
    chunk_ms: list[float] = []
    total: Metrics = {"wall": 0.0, "cpu": 0.0, "full_collections": 0}
    if variant == "c":
        for _ in range(WARMUP_TESTS):
            asyncio.run(_trivial_main())
        for size in per_chunk:
            with timed() as metrics:
                for _ in range(size):
                    asyncio.run(_trivial_main())
            chunk_ms.append(metrics["wall"] / size * 1e3)
            for key in total:
                total[key] += metrics[key]
    else:
        base = base_for(variant)
        run_suite(make_suite(base, trivial_test, WARMUP_TESTS, prefix="test_warmup"), warmup=True)
        suites = [make_suite(base, trivial_test, size, prefix=f"test_{i}") for i, size in enumerate(per_chunk)]
        for size, suite in zip(per_chunk, suites, strict=True):
            metrics = run_suite(suite)
            chunk_ms.append(metrics["wall"] / size * 1e3)
            for key in total:
                total[key] += metrics[key]
    total.update(tests=tests, per_test_ms=total["wall"] / tests * 1e3,
                 per_test_ms_med=sorted(chunk_ms)[len(chunk_ms) // 2], heap_objects=len(held))
    del held
    return total


# --- W2 time-heavy: an hour of sleeps and timeouts per test ----------------------------------------

# The hour itself (simulate_hour) lives in hour.py, which imports nothing but asyncio: the peer benchmark
# (peers.py) runs the same coroutine under pytest and other frameworks without importing asynctestkit.


def w2(variant: str, tests: int, scale: float) -> Metrics:
    """*tests* tests of one simulated hour each; the plain base runs them at *scale* in real time."""
    async def body(self: unittest.TestCase) -> None:
        await simulate_hour(scale)

    metrics = run_suite(make_suite(base_for(variant), body, tests))
    metrics["simulated_s_per_test"] = SIMULATED_SECONDS
    metrics["scale"] = scale
    real_sleep = SIMULATED_SECONDS * scale * tests
    # What the same tests cost at full scale in real time: the hour itself plus everything that did not
    # scale (CPU work and timer rounding), measured as the run's excess over its scaled sleeping.
    metrics["overhead_per_test_s"] = (metrics["wall"] - real_sleep) / tests
    metrics["real_s_per_test"] = SIMULATED_SECONDS + metrics["overhead_per_test_s"] if scale < 1 else 0.0
    return metrics


# --- W3 callback-heavy inside one test ------------------------------------------------------------

async def callback_heavy(calls: int, tasks: int, items: int) -> Metrics:
    """*calls* ``call_soon`` callbacks, *tasks* tasks gathered, *items* through a bounded queue; timed by phase.

    The callbacks come half as a chain (each schedules the next, so every one is its own loop iteration)
    and half in bursts of 1,000 (many callbacks per iteration), the two shapes real code produces.
    """
    loop = asyncio.get_running_loop()
    cpu0 = time.process_time()
    t0 = time.perf_counter()

    chain_left = calls // 2
    chain_done = loop.create_future()

    def chain() -> None:
        nonlocal chain_left
        chain_left -= 1
        if chain_left:
            loop.call_soon(chain)
        else:
            chain_done.set_result(None)

    loop.call_soon(chain)
    await chain_done
    scheduled = calls // 2
    counted = bursts = 0

    def count() -> None:
        nonlocal counted
        counted += 1

    while scheduled < calls:
        size = min(1000, calls - scheduled)
        scheduled += size
        bursts += 1
        burst_done = loop.create_future()
        for _ in range(size - 1):
            loop.call_soon(count)
        loop.call_soon(burst_done.set_result, None)  # the burst's last callback wakes this coroutine
        await burst_done
    if chain_left or counted + bursts + calls // 2 != calls:
        raise BenchmarkError("callback count mismatch")
    t1 = time.perf_counter()

    async def job(i: int) -> int:
        await asyncio.sleep(0)
        return i

    results = await asyncio.gather(*[loop.create_task(job(i)) for i in range(tasks)])
    if len(results) != tasks:
        raise BenchmarkError("gather lost results")
    t2 = time.perf_counter()

    queue: asyncio.Queue[int | None] = asyncio.Queue(maxsize=100)
    total = 0

    async def producer() -> None:
        for i in range(items):
            await queue.put(i)
        await queue.put(None)

    async def consumer() -> None:
        nonlocal total
        while (item := await queue.get()) is not None:
            total += item

    await asyncio.gather(producer(), consumer())
    if total != items * (items - 1) // 2:
        raise BenchmarkError("queue lost items")
    t3 = time.perf_counter()
    return {"body": t3 - t0, "call_soon": t1 - t0, "tasks": t2 - t1, "queue": t3 - t2,
            "body_cpu": time.process_time() - cpu0}


# --- W4 timer-heavy -------------------------------------------------------------------------------

def timer_plan(timers: int, sleepers: int, sleeps_each: int, spread: float, seed: int = 4) -> tuple[
        list[float], list[list[float]]]:
    """Random delays, drawn before the clock starts: one per ``call_later``, *sleeps_each* per sleeper."""
    rnd = random.Random(seed)
    delays = [rnd.uniform(0.001, spread) for _ in range(timers)]
    naps = [[rnd.uniform(0.001, spread / sleeps_each) for _ in range(sleeps_each)] for _ in range(sleepers)]
    return delays, naps


async def timer_heavy(delays: list[float], naps: list[list[float]]) -> Metrics:
    """``call_later`` for every delay, then one task per sleeper sleeping its naps; timed by phase."""
    loop = asyncio.get_running_loop()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    fired = 0
    all_fired = loop.create_future()
    expected = len(delays)

    def tick() -> None:
        nonlocal fired
        fired += 1
        if fired == expected:
            all_fired.set_result(None)

    for delay in delays:
        loop.call_later(delay, tick)
    if expected:
        await all_fired
    t1 = time.perf_counter()

    async def sleeper(mine: list[float]) -> None:
        for nap in mine:
            await asyncio.sleep(nap)

    await asyncio.gather(*[loop.create_task(sleeper(mine)) for mine in naps])
    t2 = time.perf_counter()
    return {"body": t2 - t0, "call_later": t1 - t0, "sleepers": t2 - t1, "body_cpu": time.process_time() - cpu0}


# --- running one coroutine workload on a variant ---------------------------------------------------

def run_coroutine(variant: str, make: Callable[[], Awaitable[Metrics]], *, floor: str = "asyncio.run",
                  inner: int = 1) -> Metrics:
    """Run the coroutine *make()* *inner* times on *variant* and keep the fastest of each ``body*`` figure.

    On a test case base each repetition is its own test (its own fresh loop); on the floor, its own
    ``asyncio.run``.  ``body*`` figures are timed inside the coroutine (the loop's own speed) and the
    minimum over the repetitions is kept: noise from other processes only ever adds time, so the
    minimum is the most repeatable estimate of the work itself.  ``wall``/``cpu`` are the mean per
    repetition of the whole thing, including what the variant costs around the coroutine (loop set-up
    and teardown, leak checks).
    """
    box: list[Metrics] = []
    if variant == "ct":
        # The floor plus what AsyncTestCase.coroutine_origins = True switches on: origin tracking, 1 frame.
        sys.set_coroutine_origin_tracking_depth(1)
        try:
            return run_coroutine("c", make, floor=floor, inner=inner)
        finally:
            sys.set_coroutine_origin_tracking_depth(0)
    if variant == "c":
        with timed() as around:
            for _ in range(inner):
                if floor == "jump-clock":
                    box.append(run_on_jump_clock(make))
                else:
                    box.append(asyncio.run(make()))  # type: ignore[arg-type]
    else:
        async def body(self: unittest.TestCase) -> None:
            box.append(await make())

        around = run_suite(make_suite(base_for(variant), body, inner))
    if len(box) != inner:
        raise BenchmarkError(f"{len(box)} of {inner} repetitions reported")
    metrics = {key: min(run[key] for run in box) for key in box[0]}
    metrics["wall"], metrics["cpu"] = around["wall"] / inner, around["cpu"] / inner
    metrics["inner"] = inner
    return metrics


def w3(variant: str, calls: int, tasks: int, items: int, inner: int = 1) -> Metrics:
    return run_coroutine(variant, lambda: callback_heavy(calls, tasks, items), inner=inner)


def w4(variant: str, timers: int, sleepers: int, sleeps_each: int, spread: float, inner: int = 1) -> Metrics:
    delays, naps = timer_plan(timers, sleepers, sleeps_each, spread)
    return run_coroutine(variant, lambda: timer_heavy(delays, naps), floor="jump-clock", inner=inner)


def w4_real(variant: str, timers: int, spacing: float, inner: int = 1) -> Metrics:
    """Cross-check of the W4 floor: *timers* ``call_later`` spaced *spacing* s apart, on a real clock too.

    Variant ``c`` here is a genuine ``asyncio.run`` that really sleeps; its CPU time (``body_cpu``) is
    the cost asyncio pays for these timers when nothing is virtual.  ``j`` runs the same delays on the
    jump-clock floor that W4 uses, ``b`` on AsyncTestCase.  The spacing keeps consecutive deadlines
    further apart than epoll's 1 ms timeout granularity, so each timer fires in its own iteration on
    every variant, as it would in production.
    """
    rnd = random.Random(7)
    delays = [(i + rnd.uniform(0.25, 0.75)) * spacing for i in range(timers)]
    rnd.shuffle(delays)
    if variant == "c":
        return run_coroutine("c", lambda: timer_heavy(delays, []), inner=inner)
    if variant == "j":
        return run_coroutine("c", lambda: timer_heavy(delays, []), floor="jump-clock", inner=inner)
    return run_coroutine(variant, lambda: timer_heavy(delays, []), inner=inner)


async def task_mix(rounds: int, width: int) -> Metrics:
    """Task creation the way application code does it: *rounds* x (gather of coroutines, ensure_future, create_task).

    Each round creates ``4 * width`` tasks: ``gather(*coroutines)`` (which wraps each in a task through
    ``ensure_future``), ``ensure_future(coroutine)`` children gathered, ``create_task`` children gathered,
    and a nested ``gather`` whose children each gather two grandchildren.  Every child yields once.  This
    is the mix where recording each task's creation site costs the most (W3 only uses ``create_task``).
    """
    loop = asyncio.get_running_loop()
    cpu0 = time.process_time()
    t0 = time.perf_counter()

    async def leaf(i: int) -> int:
        await asyncio.sleep(0)
        return i

    async def parent(i: int) -> int:
        a, b = await asyncio.gather(leaf(i), leaf(i))
        return a + b

    total = 0
    for _ in range(rounds):
        total += sum(await asyncio.gather(*[leaf(i) for i in range(width)]))
        total += sum(await asyncio.gather(*[asyncio.ensure_future(leaf(i)) for i in range(width)]))
        total += sum(await asyncio.gather(*[loop.create_task(leaf(i)) for i in range(width)]))
        total += sum(await asyncio.gather(*[parent(i) for i in range(width // 3)]))
    expected = rounds * (3 * width * (width - 1) // 2 + 2 * ((width // 3) * (width // 3 - 1) // 2))
    if total != expected:
        raise BenchmarkError(f"task mix lost results: {total} != {expected}")
    return {"body": time.perf_counter() - t0, "body_cpu": time.process_time() - cpu0}


def w3_tasks(variant: str, rounds: int, width: int, inner: int = 1) -> Metrics:
    return run_coroutine(variant, lambda: task_mix(rounds, width), inner=inner)


WORKLOADS: dict[str, Callable[..., Metrics]] = {
    "W3T": w3_tasks,
    "W1": w1, "W2": w2, "W3": w3, "W4": w4, "W4R": w4_real, "W5": w1,
}
