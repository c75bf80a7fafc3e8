#!/usr/bin/env bash
# Leak checks against the real aiohttp (ClientSession / connector leaks and clean closes), in a venv of the
# newest interpreter; the package stays stdlib-only.  See tests/interop/run_aiohttp.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
export ATK_INTEROP_VENV="/tmp/atk-venv-aiohttp-${PYTHON_VERSION:-system}"
exec bash tests/interop/run_aiohttp.sh
