#!/usr/bin/env bash
# CI smoke for the benchmark suite: `python tests/benchmarks/run.py --quick` must run to the end, and so
# must `tests/benchmarks/instructions.py --quick --only W4` when valgrind is installed (skipped, said so,
# when it is not).
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
if command -v valgrind >/dev/null 2>&1; then
  timeout 300 "$PY" tests/benchmarks/instructions.py --quick --only W4
else
  echo "benchmarks smoke: valgrind not installed, instructions.py not run"
fi
echo "benchmarks smoke: ok in $(( $(date +%s) - start )) s (timings are informational)"
