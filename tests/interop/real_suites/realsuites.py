"""Configuration and comparison for the real-suites CI job (``.ci/jobs/real_suites.sh``).

Two commands, standard library only, run with the job's base interpreter::

    python realsuites.py list                 # one tab-separated line per library, for the shell script
    python realsuites.py compare WORKDIR      # read WORKDIR/<library>/{baseline,swapped}.jsonl, print the report

``compare`` prints, per library, the number of tests, the baseline and swapped outcomes and wall times, then every
test that got worse with the swap (passed on the baseline and failed, errored, was skipped or did not finish when
swapped, or became much slower: more than ``2 x baseline + 2 s`` of wall time), each classified:

``leak``
    asynctestkit's leak check reported a real leak.  Only tests listed in ``known_leaks.txt`` (read and confirmed
    by hand, with the reason) whose swapped failure *is* a ``LeakError`` get this class.
``clock``
    a virtual-clock regression.  Listed in ``classified.txt`` with the reason when understood; an unlisted
    failure that looks like one (a hang report, a timeout, a much slower test) is ``clock?``.
``not-for-swapped-base`` / ``other``
    listed in ``classified.txt`` with the explanation.
``unclassified``
    anything else, including an unconfirmed leak report (``leak?``).

Exit status 1 when any regression is ``clock``, ``clock?``, ``leak?`` or ``unclassified``, when a run crashed or
did not finish, when the swap reached no test, or when a baseline run passed nothing (a broken setup would
otherwise look like "no regressions").  Listed entries that no longer regress are printed as notes.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "suites.json"
KNOWN_LEAKS = HERE / "known_leaks.txt"
CLASSIFIED = HERE / "classified.txt"

PASSING = {"pass", "xfail"}
FAILING = {"fail", "error", "xpass", "missing"}
LISTABLE_CLASSES = {"clock", "other", "not-for-swapped-base"}
FAILING_CLASSES = {"clock", "clock?", "leak?", "unclassified"}
SLOW_FACTOR, SLOW_GRACE = 2.0, 2.0  # "much slower": swapped > 2 x baseline + 2 s of wall time

# Text of a swapped failure that points at the clock: asynctestkit's hang reports, a virtual time in a message,
# a timeout raised by asyncio or by the library (pexpect.TIMEOUT), the job's own timeout.
_CLOCK_HINT = re.compile(r"HangError|DeadlockError|LivelockError|virtual t=|TimeoutError|\bTIMEOUT\b|timed out|"
                         r"did not finish")


@dataclass
class Run:
    """One run (baseline or swapped) of one library: per-test results and the summary line."""

    tests: dict[str, dict[str, Any]] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    crash: str | None = None
    wall: float | None = None


def load_config(path: Path = CONFIG) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    libraries: list[dict[str, Any]] = data["libraries"]
    return libraries


def _read_listing(path: Path, fields: int) -> dict[tuple[str, str], list[str]]:
    """Lines ``library | test id | ... | reason``; ``#`` comments and blank lines ignored."""
    entries: dict[tuple[str, str], list[str]] = {}
    if not path.exists():
        return entries
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split("|", fields - 1)]
        if len(parts) != fields or not all(parts):
            raise SystemExit(f"{path.name}:{number}: expected {fields} fields separated by '|', got: {raw!r}")
        entries[(parts[0], parts[1])] = parts[2:]
    return entries


def load_run(path: Path) -> Run:
    run = Run()
    if not path.exists():
        return run
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if "id" in record:
            run.tests[record["id"]] = record
        elif "summary" in record:
            run.summary = record["summary"]
        elif "crash" in record:
            run.crash = record["crash"]
    wall = path.with_suffix(".wall")
    if wall.exists():
        run.wall = float(wall.read_text().strip() or "nan")
    return run


def _count(run: Run, ids: list[str]) -> tuple[int, int, int]:
    outcomes = [str(run.tests[i]["outcome"]) if i in run.tests else "missing" for i in ids]
    return (sum(o in PASSING for o in outcomes), sum(o in FAILING for o in outcomes),
            sum(o == "skip" for o in outcomes))


def _headline(detail: str) -> str:
    """The most telling line of a failure: the exception line (the last one that names an error), shortened."""
    lines = [line.strip() for line in detail.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("asynctestkit.", "LeakError", "HangError")):
            return line[:240]
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if re.match(r"^[\w.]+(Error|Exception|TIMEOUT|EOF)\b", line) or line.startswith("AssertionError"):
            # A bare "pexpect.exceptions.TIMEOUT:" says little: add the lines of its message that follow.
            text = " / ".join(lines[index : index + 4]) if line.endswith(":") else line
            return text[:240]
    return (lines[-1] if lines else "")[:240]


@dataclass
class Regression:
    library: str
    test: str
    kind: str          # "fails" | "skipped" | "slower"
    klass: str
    reason: str
    evidence: str


def compare(workdir: Path, *, config: Path = CONFIG, known_leaks: Path = KNOWN_LEAKS,
            classified_file: Path = CLASSIFIED) -> int:
    """Print the report for the runs under *workdir*; 1 when the job must fail (see the module docstring)."""
    leaks = _read_listing(known_leaks, 3)
    classified = _read_listing(classified_file, 4)
    for key, (klass, _reason) in classified.items():
        if klass not in LISTABLE_CLASSES:
            raise SystemExit(f"{classified_file.name}: {key[0]} {key[1]}: class {klass!r}, allowed: "
                             f"{', '.join(sorted(LISTABLE_CLASSES))}")
    problems: list[str] = []
    regressions: list[Regression] = []
    improved: list[str] = []
    rows: list[list[str]] = []
    seen: set[tuple[str, str]] = set()

    for library in load_config(config):
        name = str(library["name"])
        if not (workdir / name).is_dir():
            continue  # not selected for this run
        base = load_run(workdir / name / "baseline.jsonl")
        swap = load_run(workdir / name / "swapped.jsonl")
        for mode, run in (("baseline", base), ("swapped", swap)):
            if run.crash:
                problems.append(f"{name} {mode}: the runner crashed:\n{run.crash}")
            elif run.summary is None:
                problems.append(f"{name} {mode}: the run did not finish (timeout or crash; see its log)")
        ids = sorted(set(base.tests) | set(swap.tests))
        b_pass, b_fail, b_skip = _count(base, ids)
        s_pass, s_fail, s_skip = _count(swap, ids)
        if b_pass == 0:
            problems.append(f"{name}: the baseline run passed no test: the setup is broken")
        if swap.summary is not None and not swap.summary.get("on_swapped_base"):
            problems.append(f"{name}: no test ran on asynctestkit.AsyncTestCase: the swap did not reach the suite")
        speed = (f"{base.wall / swap.wall:.1f}x" if base.wall and swap.wall else "-")
        version = (str(library["sdist"]).split("==")[-1] if library["sdist"]
                   else f"py{(base.summary or {}).get('python', '?')}")
        rows.append([name, version, str(len(ids)), f"{b_pass}/{b_fail}/{b_skip}",
                     f"{s_pass}/{s_fail}/{s_skip}", f"{base.wall:.1f}" if base.wall else "-",
                     f"{swap.wall:.1f}" if swap.wall else "-", speed])

        for test in ids:
            b = base.tests.get(test)
            s = swap.tests.get(test)
            b_out = str(b["outcome"]) if b else "missing"
            s_out = str(s["outcome"]) if s else "missing"
            detail = str(s["detail"]) if s else "did not finish (the swapped run was killed or crashed first)"
            if b_out in FAILING and s_out in PASSING:
                improved.append(f"{name}  {test}  ({b_out} -> {s_out})")
            if b_out not in PASSING:
                continue
            if s_out in FAILING:
                kind = "fails"
            elif s_out == "skip":
                kind, detail = "skipped", f"skipped when swapped: {detail}"
            elif b and s and float(s["seconds"]) > SLOW_FACTOR * float(b["seconds"]) + SLOW_GRACE:
                kind = "slower"
                detail = f"wall {float(b['seconds']):.2f} s -> {float(s['seconds']):.2f} s"
            else:
                continue
            key = (name, test)
            seen.add(key)
            evidence = _headline(detail) if kind == "fails" else detail
            if kind == "fails" and "LeakError" in detail and key in leaks:
                klass, reason = "leak", leaks[key][0]
            elif key in classified:
                klass, reason = classified[key]
            elif kind == "fails" and "LeakError" in detail:
                klass, reason = "leak?", "leak report not confirmed yet: read it, then list it in known_leaks.txt"
            elif kind == "slower" or _CLOCK_HINT.search(detail):
                klass, reason = "clock?", "looks like a clock regression (hang report, timeout or slowdown)"
            else:
                klass, reason = "unclassified", "not listed: read it and classify it"
            regressions.append(Regression(name, test, kind, klass, reason, evidence))

    if not rows:
        problems.append(f"no library results under {workdir}")
    _print_table(rows)
    print()
    if regressions:
        print(f"Regressions with the swap ({len(regressions)}):")
        by_class: dict[str, int] = {}
        for reg in regressions:
            by_class[reg.klass] = by_class.get(reg.klass, 0) + 1
            print(f"  [{reg.klass}] {reg.library}  {reg.test}  ({reg.kind})")
            print(f"      evidence: {reg.evidence}")
            print(f"      reason:   {reg.reason}")
        print("  by class: " + ", ".join(f"{k} {v}" for k, v in sorted(by_class.items())))
    else:
        print("Regressions with the swap: none")
    if improved:
        print(f"Better with the swap ({len(improved)}):")
        for line in improved:
            print(f"  {line}")
    ran = {row[0] for row in rows}
    stale = sorted(key for key in (set(leaks) | set(classified)) - seen if key[0] in ran)
    if stale:
        print(f"Listed but not regressing now ({len(stale)}; remove the line once the fix has landed):")
        for library_name, test in stale:
            print(f"  {library_name}  {test}")
    for problem in problems:
        print(f"PROBLEM: {problem}")

    failing = [reg for reg in regressions if reg.klass in FAILING_CLASSES]
    clock = sum(reg.klass.startswith("clock") for reg in regressions)
    print(f"real_suites: {len(rows)} libraries, {len(regressions)} regressions, {clock} clock, "
          f"{len(failing) - clock} unclassified, {len(problems)} problems")
    return 1 if failing or problems else 0


def _print_table(rows: list[list[str]]) -> None:
    header = ["library", "version", "tests", "baseline p/f/s", "swapped p/f/s", "wall base s", "wall swap s",
              "speed-up"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def main(argv: list[str]) -> int:
    if argv[:1] == ["list"]:
        for library in load_config():
            # "-" stands for an empty field: the shell splits on tabs, and `read` merges empty ones.
            flags = "--optional-modules" if library.get("optional_modules") else "-"
            print("\t".join([str(library["name"]), library["sdist"] or "-",
                             " ".join(library["requirements"]) or "-", " ".join(library["modules"]),
                             str(library["timeout"]), flags]))
        return 0
    if len(argv) == 2 and argv[0] == "compare":
        return compare(Path(argv[1]))
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
