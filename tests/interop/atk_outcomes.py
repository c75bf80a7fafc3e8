"""A tiny pytest plugin for tests/interop/check_pytest.py: writes each test's final outcome to a JSON file.

Loaded with ``-p atk_outcomes`` (this directory on PYTHONPATH); the file is named by ``ATK_OUTCOMES``.
Outcomes: passed, failed, skipped, xfailed, xpassed, error (setup/teardown failure outside the test call).
"""

from __future__ import annotations

import json
import os
from typing import Any

_outcomes: dict[str, str] = {}


def pytest_runtest_logreport(report: Any) -> None:
    nodeid = report.nodeid
    if report.when == "call":
        outcome = report.outcome
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.skipped else "xpassed"
        if _outcomes.get(nodeid) != "error":
            _outcomes[nodeid] = outcome
    elif report.failed:
        _outcomes[nodeid] = "error"
    elif report.skipped:  # skipped during setup (skip marks, unittest class skips handled by pytest)
        _outcomes[nodeid] = "xfailed" if hasattr(report, "wasxfail") else "skipped"


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    path = os.environ.get("ATK_OUTCOMES")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(_outcomes, fh, indent=1, sort_keys=True)
