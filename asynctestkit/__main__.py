"""``python -m asynctestkit <command>``: the command-line tools.

- ``explore <test id> --schedules N [--strategy random|pct] [--depth D] [--jitter J] [--seed S]``: run one
  test under N schedules; print the pass rate, the first failing seed and the line that replays it
  (docs/explore.md).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

_USAGE = "usage: python -m asynctestkit explore <test id> [--schedules N] [--strategy random|pct] [...]"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_USAGE + "\n\ncommands:\n  explore    run one test under many schedules (see docs/explore.md)")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "explore":
        from .explore._cli import main as explore_main

        return explore_main(rest)
    print(f"{_USAGE}\npython -m asynctestkit: unknown command {command!r} (known: explore)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
