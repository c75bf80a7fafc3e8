"""Write docs/failures.md: every report asynctestkit raises or logs, produced by running small failing tests.

    python docs/gen_failures.py           # rewrite docs/failures.md (run it with Python 3.12)
    python docs/gen_failures.py --check   # exit 1 when docs/failures.md is not what the code produces

The failing tests live in ``tests/report_gallery.py``; ``tests/test_report_gallery.py`` checks each report's
structure on every interpreter and, on Python 3.12, that this page is current.  Nothing on the page is typed
by hand: change a report, then run this script.
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(ROOT, "docs", "failures.md")
INTERPRETER = (3, 12)  # the page is generated with, and checked on, this Python version

_HEADER = """\
# What a failure looks like

Every report asynctestkit can raise or log, as the user reads it, each under the small test that produces it.
This page is **generated**: `python docs/gen_failures.py` (with Python {major}.{minor}) runs the failing tests of
`tests/report_gallery.py` and writes it; `tests/test_report_gallery.py` fails when the page is out of date.
Only the report is shown, not the traceback above it (its frames depend on where the code lives).  What changes from run to run is replaced by a placeholder: ports (`PORT`), task numbers
(`Task-N`), process ids (`PID`), real durations (`N.NNN`) and object addresses (`0xADDR`).

Every report follows one shape: what was expected or what happened first, with the virtual time; then each
task as `task 'name' (coroutine())` with the lines `created at`, `suspended at`, `raised at`, `scheduled at`
(paths relative to the current directory); then a hint and how to allow it on purpose
(see [leaks.md](leaks.md), [clock.md](clock.md), [assertions.md](assertions.md)).

"""


def render_page(reports: dict[str, str] | None = None) -> str:
    """The page text, from running every example (the working directory must be the repository root).

    *reports* maps example slugs to reports already rendered (normalized), to avoid running them twice.
    """
    from tests import report_gallery as gallery

    parts = [_HEADER.format(major=INTERPRETER[0], minor=INTERPRETER[1]), "## Contents\n\n"]
    examples = [example for example in gallery.EXAMPLES if example.available]
    parts += [f"- [{example.title}](#{example.slug})\n" for example in examples]
    for example in examples:
        report = reports[example.slug] if reports and example.slug in reports else \
            gallery.normalize(gallery.render(example))
        where = "logged on the `asynctestkit.leaks` logger" if example.delivered == "log" else "the failure"
        parts.append(f'\n<a id="{example.slug}"></a>\n## {example.title}\n\n{example.about}\n\n'
                     f"```python\n{example.source.rstrip()}\n```\n\n{where.capitalize()}:\n\n"
                     f"```text\n{report}\n```\n")
    return "".join(parts)


def main(argv: list[str]) -> int:
    os.chdir(ROOT)
    sys.path.insert(0, ROOT)
    if sys.version_info[:2] != INTERPRETER:
        print(f"run this with Python {INTERPRETER[0]}.{INTERPRETER[1]} (reports differ slightly between "
              f"versions), e.g. PYENV_VERSION=3.12.1 python docs/gen_failures.py", file=sys.stderr)
        return 2
    page = render_page()
    if "--check" in argv:
        with open(PAGE, encoding="utf-8") as existing:
            if existing.read() == page:
                return 0
        print("docs/failures.md is out of date: run python docs/gen_failures.py", file=sys.stderr)
        return 1
    with open(PAGE, "w", encoding="utf-8") as out:
        out.write(page)
    print(f"wrote {os.path.relpath(PAGE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
