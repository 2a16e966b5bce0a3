#!/usr/bin/env bash
# make demo: package the addon (python -m gdhttp.addon build: dist/gdhttp-*.zip),
# install that archive into a fresh copy of demo_project (python -m gdhttp.addon
# install), start the bundled demo server (python -m devserver) on free
# loopback ports, run the copy headless against it, stop the server. The game runs
# on the packaged addon, never on the checkout's development build.
# Exits with the demo's code (0: every checksum verified).
#
#   GDHTTP_DEMO_URL / GDHTTP_DEMO_HTTPS_URL / GDHTTP_DEMO_CA set: use that server
#       instead of starting one (GDHTTP_DEMO_CA: the PEM of the CA to trust).
#   GDHTTP_GODOT: the engine binary (default godot3-server).
#   GDHTTP_DEMO_SCREENSHOT=<png>: run the windowed godot3 under xvfb-run instead
#       and save the window there after the run (scripts/screenshot.sh).
#   GDHTTP_DEMO_TIMEOUT: seconds before the run is stopped (default 300).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
GODOT="${GDHTTP_GODOT:-godot3-server}"
LIMIT="${GDHTTP_DEMO_TIMEOUT:-300}"
cd "$ROOT"

[ -x "$PY" ] || { echo "demo: $PY missing; run 'make setup build' (or 'make demo')" >&2; exit 2; }
if [ -n "${GDHTTP_DEMO_SCREENSHOT:-}" ]; then
    GODOT="${GDHTTP_GODOT_EDITOR:-godot3}"
    command -v xvfb-run >/dev/null || { echo "demo: xvfb-run not found (Debian package xvfb)" >&2; exit 2; }
    GODOT_CMD=(xvfb-run -a -s "-screen 0 960x560x24" "$GODOT")
    export GDHTTP_DEMO_AUTORUN=1
else
    GODOT_CMD=("$GODOT")
fi
command -v "$GODOT" >/dev/null || { echo "demo: $GODOT not found (Debian package godot3-server)" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gdhttp-demo.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo "demo: packaging the addon (python -m gdhttp.addon build)..."
"$PY" -m gdhttp.addon build >"$WORK/addon.out" 2>&1 || { cat "$WORK/addon.out" >&2; exit 2; }
ARCHIVE="$(sed -n 's/^addon: wrote \(.*\.zip\) .*/\1/p' "$WORK/addon.out")"
[ -f "$ARCHIVE" ] || { echo "demo: no archive written" >&2; cat "$WORK/addon.out" >&2; exit 2; }
# A fresh copy of the project without the checkout's addons/ link, then the archive in it.
GAME="$WORK/demo_project"
mkdir -p "$GAME"
tar -C demo_project --exclude=./addons --exclude=./.import -cf - . | tar -C "$GAME" -xf -
"$PY" -m gdhttp.addon install "$GAME" --archive "$ARCHIVE" >/dev/null
echo "demo: installed $(basename "$ARCHIVE") into a copy of demo_project"

if [ -z "${GDHTTP_DEMO_URL:-}" ]; then
    echo "demo: starting the demo server (python -m devserver)..."
    "$PY" -m devserver --http-port 0 --https-port 0 --data-dir "$WORK/data" \
        --ca-pem "$WORK/ca.pem" >"$WORK/server.out" 2>"$WORK/server.err" &
    SERVER_PID=$!
    for _ in $(seq 1 300); do  # up to 30 s (the 32 MiB blob is generated first)
        grep -q '^READY' "$WORK/server.out" 2>/dev/null && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    READY="$(grep -m1 '^READY' "$WORK/server.out" || true)"
    if [ -z "$READY" ]; then
        echo "demo: the demo server did not start:" >&2
        cat "$WORK/server.err" >&2
        exit 1
    fi
    HTTP_PORT="$(sed -E 's/.*http=([0-9]+).*/\1/' <<<"$READY")"
    HTTPS_PORT="$(sed -E 's/.*https=([0-9]+).*/\1/' <<<"$READY")"
    export GDHTTP_DEMO_URL="http://127.0.0.1:$HTTP_PORT"
    export GDHTTP_DEMO_HTTPS_URL="https://localhost:$HTTPS_PORT"
    export GDHTTP_DEMO_CA="$WORK/ca.pem"
    echo "demo: server ready: $GDHTTP_DEMO_URL and $GDHTTP_DEMO_HTTPS_URL (CA $GDHTTP_DEMO_CA)"
else
    export GDHTTP_DEMO_HTTPS_URL="${GDHTTP_DEMO_HTTPS_URL:-${GDHTTP_DEMO_URL/http:/https:}}"
    echo "demo: using $GDHTTP_DEMO_URL and $GDHTTP_DEMO_HTTPS_URL"
fi

echo "demo: running demo_project headless ($GODOT) on the packaged addon..."
mkdir -p "$WORK/home"
set +e
HOME="$WORK/home" LC_ALL=C.UTF-8 timeout --kill-after=10 "$LIMIT" \
    "${GODOT_CMD[@]}" --path "$GAME" 2>"$WORK/godot.err" | tee "$WORK/godot.out"
CODE=${PIPESTATUS[0]}
set -e
if [ "$CODE" -ne 0 ]; then
    echo "demo: FAILED (exit $CODE); engine errors:" >&2
    grep -E 'ERROR|SCRIPT ERROR|Traceback|Error' "$WORK/godot.err" | tail -30 >&2 || true
    exit "$CODE"
fi
if ! grep -q '^DEMO PASSED' "$WORK/godot.out"; then
    echo "demo: FAILED (no 'DEMO PASSED' line)" >&2
    exit 1
fi
echo "demo: OK, every download and upload verified by sha256"
