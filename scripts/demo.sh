#!/usr/bin/env bash
# make demo: start the bundled demo server (python -m devserver) on free
# loopback ports, run demo_project headless against it, stop the server.
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
[ -f addons/gdhttp/bin/libgdhttp.so ] || { echo "demo: addons/gdhttp/bin/libgdhttp.so missing; run 'make build'" >&2; exit 2; }
# The addon is a symlink into the repository; recreate it if a checkout lost it.
[ -e demo_project/addons ] || ln -s ../addons demo_project/addons

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

echo "demo: running demo_project headless ($GODOT)..."
mkdir -p "$WORK/home"
set +e
HOME="$WORK/home" LC_ALL=C.UTF-8 timeout --kill-after=10 "$LIMIT" \
    "${GODOT_CMD[@]}" --path demo_project 2>"$WORK/godot.err" | tee "$WORK/godot.out"
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
