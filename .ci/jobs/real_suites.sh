#!/usr/bin/env bash
# real_suites: the own asyncio test suites of widely used libraries, run twice - as released (baseline) and with
# unittest.IsolatedAsyncioTestCase swapped for asynctestkit.AsyncTestCase (their code unedited) - and compared:
# every test that got worse is listed and classified (true leak / clock / other); the job fails on a clock
# regression or on anything unclassified.  See docs/real-suites.md; the libraries and pins are in
# tests/interop/real_suites/suites.json, the classifications in known_leaks.txt and classified.txt beside it.
#
# Per library: a venv under /tmp keyed by interpreter + pins (reused while they are unchanged), the sdist from
# PyPI (`pip download --no-binary :all: --no-deps`, cached under /tmp by pin) for the test files, then the runs
# with no package index (PIP_NO_INDEX) and a fresh unpacked copy each.  The swapped run imports asynctestkit
# from this checkout (PYTHONPATH), or from ATK_REAL_SUITES_WHEEL when set (a built wheel installed into the venv).
#
#   PYTHON_VERSION=3.13.0 bash .ci/jobs/real_suites.sh           # all libraries
#   PYTHON_VERSION=3.13.0 bash .ci/jobs/real_suites.sh pexpect   # some of them (the comparison covers all listed)
#   ATK_REAL_SUITES_KEEP=/tmp/rs bash .ci/jobs/real_suites.sh    # keep results and logs in /tmp/rs
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
export PYTHONDONTWRITEBYTECODE=1
start=$(date +%s)

: "${PYTHON_VERSION:?set PYTHON_VERSION to an interpreter from 'pyenv versions', e.g. 3.13.0}"
base_python() { if [ "$PYTHON_VERSION" = system ]; then python3 "$@"; else PYENV_VERSION=$PYTHON_VERSION python "$@"; fi; }

here=tests/interop/real_suites
if [ -n "${ATK_REAL_SUITES_KEEP:-}" ]; then
  work=$ATK_REAL_SUITES_KEEP; rm -rf "$work"; mkdir -p "$work"
else
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fi
sdists=/tmp/atk-real-suites-sdists
mkdir -p "$sdists"
fail() { echo "real_suites: FAILED: $*" >&2; exit 1; }

# make_venv DIR REQS: (re)create DIR unless it already holds exactly REQS for this interpreter.
make_venv() {
  local dir=$1 reqs=$2 stamp="$1/.atk-stamp" log="$work/pip-$(basename "$1").log"
  local want="$PYTHON_VERSION|$reqs"
  if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && "$dir/bin/python" -c pass 2>/dev/null; then
    echo "  reusing $dir"; return 0
  fi
  echo "  creating $dir"
  rm -rf "$dir"
  base_python -m venv "$dir" >"$log" 2>&1 || { cat "$log"; fail "python $PYTHON_VERSION -m venv $dir"; }
  if [ "$reqs" != "-" ]; then
    # shellcheck disable=SC2086
    "$dir/bin/python" -m pip install -q --disable-pip-version-check $reqs >>"$log" 2>&1 \
      || { tail -n 30 "$log"; fail "pip install $reqs"; }
  fi
  echo "$want" >"$stamp"
}

# get_sdist PIN: path of the sdist archive of PIN (name==version), downloaded once.
get_sdist() {
  local pin=$1 dir="$sdists/$1" file
  file=$(ls "$dir"/*.tar.gz 2>/dev/null | head -n 1)
  if [ -z "$file" ]; then
    rm -rf "$dir"; mkdir -p "$dir"
    base_python -m pip download -q --disable-pip-version-check --no-binary :all: --no-deps "$pin" -d "$dir" \
      >"$work/download.log" 2>&1 || { cat "$work/download.log" >&2; fail "pip download $pin"; }
    file=$(ls "$dir"/*.tar.gz 2>/dev/null | head -n 1)
    [ -n "$file" ] || fail "no sdist (.tar.gz) for $pin"
  fi
  echo "$file"
}

wheel=""
if [ -n "${ATK_REAL_SUITES_WHEEL:-}" ]; then
  wheel=$(cd "$(dirname "$ATK_REAL_SUITES_WHEEL")" && pwd)/$(basename "$ATK_REAL_SUITES_WHEEL")
  [ -f "$wheel" ] || fail "ATK_REAL_SUITES_WHEEL=$ATK_REAL_SUITES_WHEEL is not a file"
fi

# The comparer must still be able to fail: check it first (a second, stdlib only).
base_python -m unittest "$here/check_compare.py" >"$work/check_compare.log" 2>&1 \
  || { cat "$work/check_compare.log"; fail "the comparer's self-check ($here/check_compare.py)"; }
echo "comparer self-check: $(grep -E '^Ran ' "$work/check_compare.log")"

selected=" $* "
listing=$(base_python "$here/realsuites.py" list) || fail "reading $here/suites.json"
while IFS=$'\t' read -r name pin reqs modules timeout flags; do
  if [ -n "${*:-}" ] && [[ "$selected" != *" $name "* ]]; then continue; fi
  echo "== $name ($([ "$pin" = - ] && echo "Python $PYTHON_VERSION's own" || echo "$pin"))"
  venv="/tmp/atk-venv-real-$name-$PYTHON_VERSION"
  make_venv "$venv" "$reqs"
  archive=""
  if [ "$pin" != - ]; then archive=$(get_sdist "$pin") || exit 1; fi
  [ "$flags" = - ] && flags=""
  out="$work/$name"; mkdir -p "$out"
  "$venv/bin/python" -m pip freeze --disable-pip-version-check >"$out/freeze.txt" 2>&1
  echo "  installed: $(grep -v '^asynctestkit' "$out/freeze.txt" | tr '\n' ' ')"
  if [ -n "$wheel" ]; then
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "$wheel" \
      >"$out/wheel.log" 2>&1 || { cat "$out/wheel.log"; fail "installing $wheel into $venv"; }
    atk_path=""
  else
    "$venv/bin/python" -m pip uninstall -q -y asynctestkit >/dev/null 2>&1 || true
    atk_path=$root
  fi
  for mode in baseline swapped; do
    src="$out/src-$mode"; mkdir -p "$src"
    if [ -n "$archive" ]; then
      tar -xzf "$archive" -C "$src" || fail "unpacking $archive"
      srcroot=$(find "$src" -mindepth 1 -maxdepth 1 -type d | head -n 1)
    else
      srcroot=$src  # tests that come with the interpreter: run from an empty folder
    fi
    pypath=""; [ "$mode" = swapped ] && pypath=$atk_path
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    (cd "$srcroot" && PIP_NO_INDEX=1 PYTHONPATH=$pypath timeout -k 10 "$timeout" \
        "$venv/bin/python" "$root/$here/runner.py" --mode "$mode" --out "$out/$mode.jsonl" $flags $modules) \
        >"$out/$mode.log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >"$out/$mode.wall"
    summary=$(grep -o "^$mode: .*" "$out/$mode.log" | tail -n 1)
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      echo "  $mode: killed after ${timeout} s (tests that did not finish count as failures); last lines:"
      grep -v '\.\.\.$' "$out/$mode.log" | tail -n 5 | sed 's/^/    /'
    else
      echo "  $mode: $(cat "$out/$mode.wall") s, rc $rc ${summary#*: }"
    fi
  done
done <<<"$listing"

echo
base_python "$here/realsuites.py" compare "$work"
status=$?
echo "real_suites: wall time $(( $(date +%s) - start )) s (results in $work$([ -z "${ATK_REAL_SUITES_KEEP:-}" ] && echo ', removed'))"
exit $status
