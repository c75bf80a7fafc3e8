"""What the leak check costs per trivial test, against plain IsolatedAsyncioTestCase.

Usage (from the repository root)::

    python tests/benchmarks/leak_overhead.py              # 2,000 tests per run, 5 runs per variant
    python tests/benchmarks/leak_overhead.py --tests 500 --repeat 3

Variants, each in a fresh child process running the same suite of trivial ``async def test_x(self): pass``
tests:

- ``iatc``        plain ``unittest.IsolatedAsyncioTestCase`` (asyncio debug on, as unittest sets it);
- ``iatc+checks`` ``LeakCheckMixin`` on plain ``IsolatedAsyncioTestCase``;
- ``atk-off``     ``AsyncTestCase`` with ``leak_checks = "off"``;
- ``atk``         ``AsyncTestCase`` with its defaults (leak checks on);
- ``atk-strict``  ``AsyncTestCase`` with ``leak_checks = "strict"``.

Each figure is process CPU time per test (robust on a busy machine, where wall time mostly measures the
other processes), the median of interleaved runs.  Printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = ("iatc", "iatc+checks", "atk-off", "atk", "atk-strict")


def child(variant: str, tests: int) -> float:
    """Run *tests* trivial tests of *variant*; return process CPU milliseconds per test.

    CPU time, not wall time: on a busy machine wall time mostly measures the other processes.
    """
    sys.path.insert(0, str(ROOT))
    import unittest

    from asynctestkit import AsyncTestCase, LeakCheckMixin

    bases: dict[str, tuple[type, dict[str, object]]] = {
        "iatc": (unittest.IsolatedAsyncioTestCase, {}),
        "iatc+checks": (type("Checked", (LeakCheckMixin, unittest.IsolatedAsyncioTestCase), {}), {}),
        "atk-off": (AsyncTestCase, {"leak_checks": "off"}),
        "atk": (AsyncTestCase, {}),
        "atk-strict": (AsyncTestCase, {"leak_checks": "strict"}),
    }
    base, attrs = bases[variant]

    async def trivial(self: object) -> None:
        pass

    namespace = dict(attrs, **{f"test_{i:05d}": trivial for i in range(tests)})
    case = type("Trivial", (base,), namespace)
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(case)
    warm = unittest.defaultTestLoader.loadTestsFromTestCase(type("Warm", (base,), dict(attrs, test_0=trivial)))
    warm.run(unittest.TestResult())
    result = unittest.TestResult()
    started = time.process_time()
    suite.run(result)
    elapsed = time.process_time() - started
    if not result.wasSuccessful():
        raise SystemExit(f"{variant}: {result.failures + result.errors}")
    return elapsed * 1000 / tests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=2000, help="trivial tests per run (default 2000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per variant (default 5)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(f"{child(args.child, args.tests):.6f}")
        return
    figures: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for run in range(args.repeat):
        order = VARIANTS if run % 2 == 0 else tuple(reversed(VARIANTS))
        for variant in order:
            out = subprocess.run([sys.executable, __file__, "--child", variant, "--tests", str(args.tests)],
                                 check=True, capture_output=True, text=True, cwd=ROOT).stdout
            figures[variant].append(float(out.strip().splitlines()[-1]))
    median = {v: statistics.median(f) for v, f in figures.items()}
    print(f"Python {sys.version.split()[0]}: {args.tests} trivial tests per run, median of {args.repeat} runs")
    for variant in VARIANTS:
        print(f"  {variant:<12} {median[variant]:.3f} ms/test (CPU)")
    print(f"  leak check on AsyncTestCase:     {median['atk'] - median['atk-off']:+.3f} ms/test "
          f"(strict {median['atk-strict'] - median['atk-off']:+.3f})")
    print(f"  leak check on IATC (the mixin):  {median['iatc+checks'] - median['iatc']:+.3f} ms/test")
    print(f"  AsyncTestCase with checks / plain IATC: {median['atk'] / median['iatc']:.2f}")


if __name__ == "__main__":
    main()
