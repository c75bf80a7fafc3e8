#!/usr/bin/env bash
# interop_pytest: AsyncTestCase classes run unchanged under pytest, with and without pytest-asyncio, and a real
# aiohttp client/server round trip passes on the virtual clock (tests/interop/check_pytest.py has the checks).
#
# Two virtual environments under /tmp, made with the newest interpreter ($PYTHON_VERSION, set by .ci/run) and
# reused while their pinned requirements are unchanged:
#   plain:   pytest 8 + aiohttp              -> mode plain  (no pytest-asyncio)
#   asyncio: pytest 9 + pytest-asyncio + aiohttp -> modes strict, auto, auto-session
# The package is built once into a wheel from a copy of the checkout and installed into both, so the checks run
# against the installed wheel, which must report asynctestkit.__version__.  Pins: bump them on purpose.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONDONTWRITEBYTECODE=1   # leave no __pycache__ in the checkout
start=$(date +%s)

: "${PYTHON_VERSION:?set PYTHON_VERSION to an interpreter from 'pyenv versions', e.g. 3.13.0}"
base_python() { if [ "$PYTHON_VERSION" = system ]; then python3 "$@"; else PYENV_VERSION=$PYTHON_VERSION python "$@"; fi; }

PLAIN_REQS="pytest==8.4.2 aiohttp==3.14.5 setuptools>=61 wheel"
ASYNCIO_REQS="pytest==9.2.0 pytest-asyncio==1.5.0 aiohttp==3.14.5"

log=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$work" "$log"' EXIT
fail() { echo "interop_pytest: FAILED: $*"; [ -s "$log" ] && { echo "--- log:"; tail -n 60 "$log"; }; exit 1; }

# make_venv DIR REQS: (re)create DIR unless it already holds exactly REQS for this interpreter.
make_venv() {
  local dir=$1 reqs=$2 stamp="$1/.atk-stamp"
  local want="$PYTHON_VERSION|$reqs"
  if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && "$dir/bin/python" -c pass 2>/dev/null; then
    echo "reusing $dir"
    return 0
  fi
  echo "creating $dir ($reqs)"
  rm -rf "$dir"
  base_python -m venv "$dir" >>"$log" 2>&1 || fail "python $PYTHON_VERSION -m venv $dir"
  # shellcheck disable=SC2086
  "$dir/bin/python" -m pip install -q --disable-pip-version-check $reqs >>"$log" 2>&1 || fail "pip install $reqs"
  echo "$want" >"$stamp"
}

plain=/tmp/atk-venv-pytest-$PYTHON_VERSION
asyncio_env=/tmp/atk-venv-pytest-asyncio-$PYTHON_VERSION
make_venv "$plain" "$PLAIN_REQS"
make_venv "$asyncio_env" "$ASYNCIO_REQS"

# Build the wheel from a copy of the checkout (the build must not write build/ or *.egg-info into it).
mkdir "$work/src"
for entry in * .[!.]*; do
  case "$entry" in .git|build|dist|*.egg-info|.mypy_cache|.ruff_cache|.venv*|'.[!.]*') continue ;; esac
  cp -r "$entry" "$work/src/"
done
"$plain/bin/python" -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" "$work/src" >>"$log" 2>&1 \
  || fail "building the wheel"
wheel=$(ls "$work"/dist/asynctestkit-*.whl)
echo "built $(basename "$wheel")"
for env in "$plain" "$asyncio_env"; do
  "$env/bin/python" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "$wheel" >>"$log" 2>&1 \
    || fail "installing $wheel into $env"
  (cd "$work" && "$env/bin/python" -c '
import importlib.metadata, sys, asynctestkit
installed = importlib.metadata.version("asynctestkit")
assert "site-packages" in asynctestkit.__file__, asynctestkit.__file__
if installed != asynctestkit.__version__:
    sys.exit(f"the wheel reports version {installed}, asynctestkit.__version__ is {asynctestkit.__version__}")
print(f"installed asynctestkit {installed} (wheel metadata == __version__) in", sys.prefix)
') || fail "version check in $env"
done

status=0
run_mode() {  # run_mode ENV MODE
  echo "== pytest interop, mode $2"
  if ! "$1/bin/python" tests/interop/check_pytest.py "$2" 2>&1; then
    status=1
  fi
}
run_mode "$plain" plain
run_mode "$asyncio_env" strict
run_mode "$asyncio_env" auto
run_mode "$asyncio_env" auto-session

# The golden traceback checks (the user's failing line, as plain IsolatedAsyncioTestCase shows it) on every
# other interpreter too: their traceback machinery differs by version.  pytest only, same wheel.
GOLDEN_REQS="pytest==8.4.2"
for other in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[0-9])\.[0-9]+$' | sort -V); do
  [ "$other" = "$PYTHON_VERSION" ] && continue
  env=/tmp/atk-venv-pytest-golden-$other
  PYTHON_VERSION=$other make_venv "$env" "$GOLDEN_REQS"
  "$env/bin/python" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "$wheel" >>"$log" 2>&1 \
    || fail "installing $wheel into $env"
  echo "== pytest golden tracebacks, python $other"
  if ! "$env/bin/python" tests/interop/check_pytest.py plain -k shows_the_same_failing_lines \
       -k show_the_line_that_called_them 2>&1; then
    status=1
  fi
done

elapsed=$(( $(date +%s) - start ))
if [ "$status" -ne 0 ]; then
  echo "interop_pytest: FAILED (${elapsed} s)"
  exit 1
fi
echo "interop_pytest: all modes passed (${elapsed} s)"
