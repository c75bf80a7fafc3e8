#!/usr/bin/env bash
# Leak checks against the real aiohttp (sessions and connectors left open; closed ones stay quiet).
#
# Makes (or reuses) a virtual environment, installs aiohttp and this checkout into it, and runs
# tests/interop/test_aiohttp_leaks.py against the *installed* package.  The package itself stays
# standard-library only; aiohttp exists only in this environment.  Exits non-zero when a test fails.
#
#   tests/interop/run_aiohttp.sh                       # venv in /tmp/atk-interop-venv, python3
#   PYTHON_VERSION=3.12.1 tests/interop/run_aiohttp.sh # a pyenv interpreter
#   ATK_INTEROP_VENV=/tmp/other tests/interop/run_aiohttp.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${ATK_INTEROP_VENV:-/tmp/atk-interop-venv}"
export PYTHONDONTWRITEBYTECODE=1

base_python() {
  if [ -n "${PYTHON_VERSION:-}" ] && [ "${PYTHON_VERSION}" != system ]; then
    PYENV_VERSION="$PYTHON_VERSION" python "$@"
  else
    python3 "$@"
  fi
}

if ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "creating $venv"
  rm -rf "$venv"
  base_python -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check aiohttp
# Install from a copy: building in the checkout would leave build/ and *.egg-info behind.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar -C "$root" --exclude=.git --exclude=build --exclude='*.egg-info' -cf - . | tar -C "$work" -xf -
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$work"

# Run from the test folder so that `import asynctestkit` finds the installed package, not the checkout.
# (The folder has no __init__.py on purpose, so it is its own top-level directory for discovery.)
cd "$root/tests/interop"
"$venv/bin/python" -c 'import aiohttp, asynctestkit; print("aiohttp", aiohttp.__version__, "asynctestkit",
asynctestkit.__version__, "from", asynctestkit.__file__)'
exec "$venv/bin/python" -m unittest discover -s . -t . -p 'test_aiohttp*.py' -v
