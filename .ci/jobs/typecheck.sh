#!/usr/bin/env bash
# typecheck: the package and its runnable examples are mypy --strict clean, the public API types are what an
# IDE should see (tests/typecheck/public_api_types.py), and ruff finds nothing in the package.
#
# mypy runs twice: for Python 3.10 (the oldest supported; pyproject.toml's python_version) and for the newest
# interpreter's version ($PYTHON_VERSION, set by .ci/run), because the package has version-dependent code.
# Tools live in a virtual environment under /tmp, made with the newest interpreter and reused while the pins
# below are unchanged; bump the pins on purpose (a new mypy or ruff release may add checks).
set -uo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)

: "${PYTHON_VERSION:?set PYTHON_VERSION to an interpreter from 'pyenv versions', e.g. 3.13.0}"
base_python() { if [ "$PYTHON_VERSION" = system ]; then python3 "$@"; else PYENV_VERSION=$PYTHON_VERSION python "$@"; fi; }

REQS="mypy==2.4.1 ruff==0.17.6"
venv=/tmp/atk-venv-typecheck-$PYTHON_VERSION
cache=/tmp/atk-typecheck-cache-$PYTHON_VERSION
log=$(mktemp)
trap 'rm -f "$log"' EXIT

stamp="$venv/.atk-stamp"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$PYTHON_VERSION|$REQS" ] \
   && "$venv/bin/python" -c pass 2>/dev/null; then
  echo "reusing $venv"
else
  echo "creating $venv ($REQS)"
  rm -rf "$venv"
  # shellcheck disable=SC2086
  if ! { base_python -m venv "$venv" && "$venv/bin/python" -m pip install -q --disable-pip-version-check $REQS; } \
       >"$log" 2>&1; then
    echo "typecheck: FAILED: could not create the tool environment"; tail -n 40 "$log"; exit 1
  fi
  echo "$PYTHON_VERSION|$REQS" >"$stamp"
fi

newest=$(base_python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
targets=(asynctestkit docs/examples tests/typecheck)
failed=()

for pyver in 3.10 "$newest"; do
  echo "== mypy --strict --python-version $pyver ${targets[*]}"
  if ! "$venv/bin/mypy" --strict --python-version "$pyver" --cache-dir "$cache/mypy" --no-error-summary \
       --show-error-codes "${targets[@]}" >"$log" 2>&1; then
    grep -v ': note: ' "$log"
    echo "   $(grep -c ': error: ' "$log") mypy error(s) for Python $pyver"
    failed+=("mypy-$pyver")
  else
    echo "   clean"
  fi
done

echo "== ruff check asynctestkit"
if ! "$venv/bin/ruff" check --cache-dir "$cache/ruff" --output-format=concise asynctestkit >"$log" 2>&1; then
  cat "$log"
  failed+=("ruff")
else
  echo "   clean"
fi

elapsed=$(( $(date +%s) - start ))
echo "tools: $("$venv/bin/mypy" --version), ruff $("$venv/bin/ruff" --version | cut -d' ' -f2)"
if [ "${#failed[@]}" -ne 0 ]; then
  echo "typecheck: FAILED: ${failed[*]} (${elapsed} s)"
  exit 1
fi
echo "typecheck: mypy --strict (3.10 and $newest) and ruff clean (${elapsed} s)"
