"""Instructions per test of the peer table's time-heavy suite (callgrind): asynctestkit against the other tools.

Usage (from the repository root; the peers' venv is the one ``peers.py`` makes)::

    python tests/benchmarks/peers_instructions.py atk solipsism-iatc --tests 10

Each KIND (a row of ``peers.py`` run as a unittest child: ``atk``, ``solipsism-iatc``, ``looptime-iatc``) runs
``--tests`` and half as many tests of one simulated hour each, in fresh children of the peers' venv
interpreter under ``valgrind --tool=callgrind`` (``PYTHONHASHSEED=0``); the difference divided by the number
of extra tests is the marginal cost of one test, start-up and imports cancelled out.  Printed with the ratio
to the first KIND; load-immune, unlike ``peers.py``'s wall times.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import peers  # noqa: E402  (sibling script)


def count(python: str, kind: str, tests: int) -> int:
    """Instructions executed by one child running *tests* tests of the suite under *kind*."""
    with tempfile.TemporaryDirectory(prefix="atk-peer-cg-") as tmp:
        script = Path(tmp, "child.py")
        script.write_text(peers.UNITTEST_CHILD.format(here=str(HERE), root=str(ROOT), kind=kind, tests=tests,
                                                      scale=1.0))
        proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", python,
                               str(script)], capture_output=True, text=True, cwd=tmp,
                              env={**os.environ, "PYTHONHASHSEED": "0"})
    found = re.findall(r"Collected\s*:\s*(\d+)", proc.stderr)
    if proc.returncode or not found:
        raise SystemExit(f"{kind} x {tests}: callgrind failed\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}")
    return int(found[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kinds", nargs="+", help="rows of peers.py (unittest children): atk, solipsism-iatc, ...")
    parser.add_argument("--tests", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    python = str(peers.venv_python())
    cells = [(kind, n) for kind in args.kinds for n in (args.tests, args.tests // 2)]
    with ThreadPoolExecutor(args.jobs) as pool:
        counts = list(pool.map(lambda cell: count(python, *cell), cells))
    extra = args.tests - args.tests // 2
    per = {kind: (counts[2 * i] - counts[2 * i + 1]) / extra for i, kind in enumerate(args.kinds)}
    first = per[args.kinds[0]]
    print(f"instructions per test, {args.tests} vs {args.tests // 2} tests of one simulated hour "
          f"(CPython {sys.version.split()[0]})")
    for kind in args.kinds:
        print(f"  {kind:16} {per[kind]:>14,.0f}  {per[kind] / first:.3f}x {args.kinds[0]}")


if __name__ == "__main__":
    main()
