"""What a trivial test leaves for the cyclic garbage collector, and which reference chains hold it together.

Usage (from the repository root)::

    python tests/benchmarks/garbage.py                  # AsyncTestCase and plain IATC (debug off), 20 tests each
    python tests/benchmarks/garbage.py --tests 50 --cycles 8 --variant b
    python tests/benchmarks/garbage.py --json garbage.json

How it works.  Each variant runs in a fresh child process.  The child warms up (a few tests, then
``gc.collect()``), switches the collector off (``gc.disable()``), sets ``gc.DEBUG_SAVEALL`` and runs *K*
trivial tests (``async def test(self): await asyncio.sleep(0)``) through a ``unittest.TestSuite``, which drops
each test case after running it, as ``python -m unittest`` does.  Whatever is left unreachable is then
found by one ``gc.collect()`` and, because of ``DEBUG_SAVEALL``, kept in ``gc.garbage`` instead of freed.
Nothing else was running, so every object there is what K tests left behind: ``per test = count / K``.

The garbage is split into *cycles* (strongly connected components of the reference graph restricted to
the garbage: these are what only the cyclic collector can free) and objects merely hanging off a cycle
(freed by reference counting as soon as the cycles are broken).  For each kind of cycle (grouped by the
types of its members; one test's cycles repeat K times) the script prints the shortest reference chain
through its most telling member (a ``TestCase``, a ``Runner``, an event loop, a clock, a task, ...), with
the attribute, key, index or closure cell of each edge, e.g.::

    Bench.test_00003 -.__dict__-> dict -['_asyncioRunner']-> Runner -.__dict__-> dict
      -['_loop_factory']-> method -.__self__-> Bench.test_00003

It uses only public names of ``asynctestkit`` (``AsyncTestCase``) and generic ``gc`` walking, so it keeps
working when the package's modules move.  The plain baseline (``IsolatedAsyncioTestCase`` with asyncio
debug mode off) comes from ``workloads.PlainNoDebug``.  Printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import types
import unittest
from collections import Counter, deque
from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from memory import base_class  # noqa: E402  (the sibling script: which base class each variant names)

VARIANTS = {
    "b": "asynctestkit.AsyncTestCase (defaults: virtual clock, leak checks on)",
    "a0": "plain IsolatedAsyncioTestCase, asyncio debug off",
    "a": "plain IsolatedAsyncioTestCase (debug on, as unittest sets it)",
}

#: Types (by name) most telling as the start of a printed chain, best first.
_ANCHORS = ("TestCase", "Runner", "EventLoop", "Loop", "Clock", "Tracker", "Task", "Future", "Exception",
            "Error", "traceback", "frame", "method", "function", "cell")


# --- in the child: run the tests with the collector off ------------------------------------------------

async def _trivial(self: unittest.TestCase) -> None:
    await asyncio.sleep(0)


async def _busy(self: unittest.TestCase) -> None:
    """A less trivial body: a child task, a timeout that fires, and an exception caught and kept on self."""
    await asyncio.create_task(asyncio.sleep(1))
    try:
        await asyncio.wait_for(asyncio.sleep(10), 1)
    except asyncio.TimeoutError as error:
        self.caught = error


BODIES = {"trivial": _trivial, "busy": _busy}


def _suite(base: type[unittest.TestCase], count: int, prefix: str, body: str = "trivial") -> unittest.TestSuite:
    names = [f"{prefix}_{i:05d}" for i in range(count)]
    cls = type("Bench", (base,), {name: BODIES[body] for name in names})
    return unittest.TestSuite(cls(name) for name in names)


def _run(suite: unittest.TestSuite) -> None:
    result = unittest.TestResult()
    suite.run(result)
    if not result.wasSuccessful() or (result.testsRun != suite.countTestCases() and result.testsRun == 0):
        raise SystemExit(f"the benchmark tests did not pass: {result.failures + result.errors}")


def describe(obj: Any) -> str:
    """A short name for *obj* in a chain: its type, plus the test id or function name when it has one."""
    if isinstance(obj, unittest.TestCase):
        return f"{type(obj).__name__}.{getattr(obj, '_testMethodName', '?')}"
    if isinstance(obj, types.MethodType):
        return f"method {getattr(obj.__func__, '__qualname__', '?')}"
    if isinstance(obj, types.FunctionType):
        return f"function {obj.__qualname__}"
    if isinstance(obj, types.FrameType):
        return f"frame {obj.f_code.co_qualname if hasattr(obj.f_code, 'co_qualname') else obj.f_code.co_name}"
    if isinstance(obj, types.CellType):
        return "cell"
    if isinstance(obj, asyncio.Task):
        return f"Task {obj.get_name()} ({getattr(obj.get_coro(), '__qualname__', '?')})"
    module = type(obj).__module__
    name = type(obj).__qualname__
    return name if module in ("builtins",) else f"{module.rsplit('.', 1)[-1]}.{name}"


def edge(src: Any, dst: Any) -> str:
    """How *src* refers to *dst*: ``.attr``, ``['key']``, ``[index]``, ``.cell_contents``... (best effort)."""
    if isinstance(src, dict):
        for key, value in src.items():
            if value is dst:
                return f"[{key!r}]" if isinstance(key, str) else f"[{type(key).__name__} key]"
            if key is dst:
                return "(key)"
    if isinstance(src, (list, tuple, deque)):
        for index, value in enumerate(src):
            if value is dst:
                return f"[{index}]"
    if isinstance(src, types.CellType):
        return ".cell_contents"
    if isinstance(src, types.FrameType):
        if src.f_back is dst:
            return ".f_back"
        for key, value in src.f_locals.items():
            if value is dst:
                return f".f_locals[{key!r}]"
    if isinstance(src, types.FunctionType):
        if src.__closure__ and dst in src.__closure__:
            names = src.__code__.co_freevars
            return f".__closure__({names[src.__closure__.index(dst)]})"
        for attr in ("__globals__", "__defaults__", "__kwdefaults__", "__dict__"):
            if getattr(src, attr, None) is dst:
                return f".{attr}"
    try:
        attrs = vars(src)
    except TypeError:
        attrs = {}
    for key, value in attrs.items():
        if value is dst:
            return f".{key}"
    for attr in ("__self__", "__func__", "__dict__", "__traceback__", "__context__", "__cause__", "tb_frame",
                 "tb_next", "f_back", "cr_frame", "gi_frame", "__closure__", "__class__"):
        try:
            if getattr(src, attr, None) is dst:
                return f".{attr}"
        except Exception:
            continue
    slots: Iterable[str] = getattr(type(src), "__slots__", ())
    for attr in ([slots] if isinstance(slots, str) else slots):
        if getattr(src, attr, None) is dst:
            return f".{attr}"
    return "->"


def strongly_connected(ids: list[int], graph: dict[int, list[int]]) -> list[list[int]]:
    """Tarjan's algorithm, iterative (garbage graphs can be deep)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for root in ids:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    out.append(component)
    return out


def shortest_cycle(start: int, members: set[int], graph: dict[int, list[int]]) -> list[int]:
    """The shortest path start -> ... -> start inside one component (BFS)."""
    parent: dict[int, int] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for child in graph[node]:
            if child not in members:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if child not in seen:
                seen.add(child)
                parent[child] = node
                queue.append(child)
    return [start]


def anchor_rank(obj: Any) -> int:
    names = [c.__name__ for c in type(obj).__mro__]
    if isinstance(obj, unittest.TestCase):
        return 0
    for rank, word in enumerate(_ANCHORS):
        if any(word in name for name in names):
            return rank
    return len(_ANCHORS)


def analyse(variant: str, tests: int, max_cycles: int, body: str = "trivial") -> dict[str, Any]:
    """Run *tests* trivial tests of *variant* with the collector off; describe what they left behind."""
    base = base_class(variant)
    _run(_suite(base, 5, "test_warmup", body))
    gc.collect()
    suite = _suite(base, tests, "test", body)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        _run(suite)
        del suite
        found = gc.collect()
        garbage = list(gc.garbage)
        gc.garbage.clear()
    finally:
        gc.set_debug(0)
        gc.enable()
    by_id = {id(obj): obj for obj in garbage}
    graph = {key: [id(r) for r in gc.get_referents(obj) if id(r) in by_id] for key, obj in by_id.items()}
    components = strongly_connected(list(by_id), graph)
    cyclic = [c for c in components if len(c) > 1 or c[0] in graph[c[0]]]
    in_cycles = {member for comp in cyclic for member in comp}
    kinds: Counter[tuple[str, ...]] = Counter()
    examples: dict[tuple[str, ...], list[int]] = {}
    for comp in cyclic:
        signature = tuple(sorted(Counter(describe_type(by_id[m]) for m in comp).elements()))
        kinds[signature] += 1
        examples.setdefault(signature, comp)
    report: dict[str, Any] = {
        "variant": variant, "label": VARIANTS[variant], "tests": tests, "body": body, "python": sys.version.split()[0],
        "collected": found, "per_test": found / tests,
        "in_cycles_per_test": len(in_cycles) / tests,
        "cycles_per_test": len(cyclic) / tests,
        "types_per_test": {name: count / tests for name, count in
                           Counter(describe_type(o) for o in garbage).most_common()},
        "types_in_cycles_per_test": {name: count / tests for name, count in
                                     Counter(describe_type(by_id[m]) for m in in_cycles).most_common()},
        "cycles": [],
    }
    for signature, count in kinds.most_common(max_cycles):
        comp = examples[signature]
        members = set(comp)
        start = min(comp, key=lambda m: anchor_rank(by_id[m]))
        # One shortest cycle through each telling member (a big component is several cycles sharing objects),
        # each printed once.
        chains: list[str] = []
        seen_edges: set[frozenset[tuple[int, int]]] = set()
        for member in sorted(comp, key=lambda m: (anchor_rank(by_id[m]), describe(by_id[m]))):
            if describe_type(by_id[member]) in ("dict", "cell", "tuple", "list") and member != start:
                continue
            path = shortest_cycle(member, members, graph)
            edges = frozenset(pairwise(path))
            if not edges or any(edges <= other or other <= edges for other in seen_edges):
                continue
            seen_edges.add(edges)
            chain = describe(by_id[path[0]])
            for src, dst in pairwise(path):
                chain += f" -{edge(by_id[src], by_id[dst])}-> {describe(by_id[dst])}"
            chains.append(chain)
            if len(chains) >= 12:
                break
        # Members that are not plumbing (dict, cell, tuple, list): the objects the cycle really ties together.
        notable = Counter(describe(by_id[m]) for m in comp
                          if describe_type(by_id[m]) not in ("dict", "cell", "tuple", "list"))
        report["cycles"].append({"per_test": count / tests, "size": len(comp), "chains": chains,
                                 "members": dict(notable.most_common(12))})
    garbage.clear()  # the objects themselves: freed with this frame, after the report is built
    return report


def describe_type(obj: Any) -> str:
    cls = type(obj)
    if isinstance(obj, unittest.TestCase):
        return "TestCase(" + next((c.__name__ for c in cls.__mro__[1:] if c.__module__ != "__main__"
                                   and c.__name__ != "Bench"), cls.__name__) + ")"
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


# --- in the parent ------------------------------------------------------------------------------------

def print_report(report: dict[str, Any], top: int) -> None:
    print(f"\n== {report['label']} (Python {report['python']}, {report['tests']} {report['body']} tests, "
          f"collector off)")
    print(f"  gc.collect() found {report['collected']} objects: {report['per_test']:.1f} per test; "
          f"{report['in_cycles_per_test']:.1f} per test are members of {report['cycles_per_test']:.1f} cycles "
          f"per test, the rest hangs off them")
    if not report["collected"]:
        return
    print(f"  garbage per test by type (top {top}):")
    for name, per in list(report["types_per_test"].items())[:top]:
        cyc = report["types_in_cycles_per_test"].get(name, 0.0)
        print(f"    {per:7.2f}  {name}" + (f"   ({cyc:.2f} in cycles)" if cyc else ""))
    print("  cycles (one line per kind; 'per test' = how many such cycles each test leaves):")
    for number, cycle in enumerate(report["cycles"], 1):
        members = ", ".join(f"{n}x {name}" if n > 1 else name for name, n in cycle["members"].items())
        note = ("  (the test class this script builds for the run, freed once per run: not per-test garbage)"
                if set(cycle["members"]) == {"type"} else "")
        print(f"  [{number}] {cycle['per_test']:.2f} per test, {cycle['size']} objects: {members}{note}")
        for chain in cycle["chains"]:
            print(f"      chain: {chain}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=20, help="trivial tests per variant (default 20)")
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS),
                        help="variants to analyse (default: b and a0)")
    parser.add_argument("--cycles", type=int, default=12, help="kinds of cycle printed per variant (default 12)")
    parser.add_argument("--top", type=int, default=25, help="types listed per variant (default 25)")
    parser.add_argument("--body", choices=sorted(BODIES), default="trivial",
                        help="test body: trivial (await sleep(0)) or busy (a child task, a timeout that fires, "
                             "an exception kept on self)")
    parser.add_argument("--json", metavar="FILE", help="also write the reports to FILE")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(analyse(args.child, args.tests, args.cycles, args.body)))
        return 0
    reports = []
    for variant in args.variant or ["b", "a0"]:
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", variant,
                               "--tests", str(args.tests), "--cycles", str(args.cycles), "--body", args.body],
                              capture_output=True, text=True, cwd=str(ROOT), timeout=600,
                              env={**__import__("os").environ, "PYTHONHASHSEED": "0"})
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if proc.returncode or not lines:
            raise SystemExit(f"garbage child {variant} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n"
                             f"{proc.stderr[-2000:]}")
        report = json.loads(lines[-1][len("RESULT "):])
        reports.append(report)
        print_report(report, args.top)
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
