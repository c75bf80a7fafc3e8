#!/usr/bin/env bash
# CI smoke for the benchmark suite: `python tests/benchmarks/run.py --quick` must run to the end.
# It fails only when the script crashes or a workload's own sanity check fails (a benchmark test that
# did not pass, a lost callback); timings are printed for the log and never judged here.
# PYTHON_VERSION (e.g. 3.13.0, passed by .ci/run) selects the pyenv interpreter; unset: the default python.
set -eu
cd "$(dirname "$0")/../.."
export PYENV_VERSION="${PYTHON_VERSION:-}"
[ -n "$PYENV_VERSION" ] || unset PYENV_VERSION
PY=python
command -v "$PY" >/dev/null 2>&1 || PY=python3
start=$(date +%s)
timeout 120 "$PY" tests/benchmarks/run.py --quick
echo "benchmarks smoke: ok in $(( $(date +%s) - start )) s (timings are informational)"
