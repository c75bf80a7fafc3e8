#!/usr/bin/env bash
# trace_browser: the task timeline's HTML/SVG page renders in a real headless browser (not blank, the bars drawn).
#
# A small traced scenario (producer, worker, a cancelled watchdog) is run with asynctestkit from this checkout; its
# page (asynctestkit.trace.write_html) and its Chrome Trace JSON are written to a temporary folder; headless
# Chromium screenshots the page; a standard-library PNG decoder then checks that the picture is not blank and
# shows the colours of the running bars, the waiting bars and the text.  Chromium comes from the system
# (chromium or chromium-headless-shell on PATH), else from Debian's package (apt-get, as root).  Without a
# browser and without a way to install one, the job says so and is skipped (exit 0).
set -uo pipefail
cd "$(dirname "$0")/../.."
export PYTHONDONTWRITEBYTECODE=1   # leave no __pycache__ in the checkout
start=$(date +%s)

: "${PYTHON_VERSION:?set PYTHON_VERSION to an interpreter from 'pyenv versions', e.g. 3.13.0}"
base_python() { if [ "$PYTHON_VERSION" = system ]; then python3 "$@"; else PYENV_VERSION=$PYTHON_VERSION python "$@"; fi; }

work=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$work" "$log"' EXIT

find_browser() {
  for name in chromium chromium-headless-shell chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  done
  return 1
}

browser=$(find_browser)
if [ -z "$browser" ]; then
  echo "no headless browser on PATH: installing Debian's chromium (apt-get)"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
     && { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } \
        >"$log" 2>&1; then
    browser=$(find_browser)
  fi
fi
if [ -z "$browser" ]; then
  echo "trace_browser: SKIPPED: no headless browser, and chromium could not be installed (not root, no apt-get, or no"
  echo "network: see the log below); the page itself is still checked by tests/trace/test_export.py"
  tail -n 5 "$log"
  exit 0
fi
echo "browser: $browser ($("$browser" --version 2>/dev/null | head -n 1))"

# 1. the page and the JSON of a real traced run
if ! PYTHONPATH=. base_python - "$work" >"$log" 2>&1 <<'PY'
import asyncio, json, os, sys

from asynctestkit import VirtualClockLoop, record_timeline
from asynctestkit.trace import write_chrome_trace, write_html

async def main():
    queue = asyncio.Queue()

    async def producer():
        for item in range(4):
            await asyncio.sleep(1)
            await queue.put(item)

    async def worker():
        for _ in range(4):
            await queue.get()
            await asyncio.sleep(0.3)

    async def watchdog():
        await asyncio.sleep(60)

    dog = asyncio.create_task(watchdog(), name="watchdog")
    await asyncio.gather(asyncio.create_task(producer(), name="producer"), asyncio.create_task(worker(), name="worker"))
    dog.cancel()
    await asyncio.gather(dog, return_exceptions=True)

loop = VirtualClockLoop()
trace = record_timeline(loop, "full")
loop.run_until_complete(main())
loop.close()
folder = sys.argv[1]
write_html(trace, os.path.join(folder, "page.html"), title="trace_browser check")
write_chrome_trace(trace, os.path.join(folder, "trace.json"))
with open(os.path.join(folder, "trace.json")) as file:
    events = json.load(file)["traceEvents"]
print(f"{len(trace)} events recorded, {len(events)} trace events written")
PY
then
  echo "trace_browser: FAILED: could not write the page"; cat "$log"; exit 1
fi
cat "$log"

# 2. the screenshot (a fresh profile; --no-sandbox: CI runs as root)
if ! timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
     --user-data-dir="$work/profile" --window-size=1300,500 --screenshot="$work/page.png" \
     "file://$work/page.html" >"$log" 2>&1 || [ ! -s "$work/page.png" ]; then
  echo "trace_browser: FAILED: the browser made no screenshot"; tail -n 30 "$log"; exit 1
fi

# 3. not blank: enough non-white pixels, and the colours of the bars (running, waiting) and of the text
if ! base_python - "$work/page.png" <<'PY'
import struct, sys, zlib

def decode(path):
    """RGB(A) rows of an 8-bit non-interlaced PNG (what Chromium writes), with the five row filters undone."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _c, _f, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unexpected PNG format {header}"
    bpp = 3 if colour == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1: line[i] = (line[i] + left) & 255
            elif kind == 2: line[i] = (line[i] + up) & 255
            elif kind == 3: line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append(line)
        prev = line
    return width, height, bpp, rows

width, height, bpp, rows = decode(sys.argv[1])
pixels = [tuple(row[i:i + 3]) for row in rows for i in range(0, len(row), bpp)]
inked = sum(1 for p in pixels if p != (255, 255, 255))
colours = set(pixels)
def near(target):
    return sum(1 for p in pixels if all(abs(a - b) <= 12 for a, b in zip(p, target)))
running, waiting = near((0x2B, 0x6C, 0xB0)), near((0xCB, 0xD5, 0xE0))
print(f"screenshot {width}x{height}: {inked / len(pixels):.1%} of pixels drawn, {len(colours)} colours, "
      f"{running} running-bar pixels, {waiting} waiting-bar pixels")
problems = []
if inked < 0.02 * len(pixels): problems.append("the page is (almost) blank")
if running < 20: problems.append("no running bars drawn")
if waiting < 500: problems.append("no waiting bars drawn")
if problems:
    sys.exit("; ".join(problems))
PY
then
  echo "trace_browser: FAILED: the screenshot does not show the timeline"; exit 1
fi
echo "trace_browser: passed ($(( $(date +%s) - start )) s)"
