#!/bin/sh
# Installs what gdhttp's tests, demo and benchmark need on a Debian bookworm machine:
# Debian packages (engine, servers, X for the editor) and the virtual environment at .venv/.
# Idempotent: every step checks before it installs.
set -eu
cd "$(dirname "$0")/.."

# patchelf, binutils (strip, readelf), gcc: the self-contained addon runtime (make build, make addon).
# curl: the editor dock test runs its "Copy as curl" commands.
DEBS="godot3-server godot3 nginx-light tinyproxy xvfb xauth openssl patchelf zip unzip binutils gcc libc6-dev strace curl"
missing=""
for p in $DEBS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup: installing Debian packages:$missing"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

# The bridge embeds the interpreter, so it needs a Python built with a shared libpython.
PYTHON="${GDHTTP_PYTHON:-}"
if [ -z "$PYTHON" ]; then
    for cand in python3.11 python3.12 python3.13 python3; do
        if command -v "$cand" >/dev/null 2>&1 && \
           "$cand" -c 'import sys, sysconfig; sys.exit(0 if sys.version_info >= (3, 11) and sysconfig.get_config_var("Py_ENABLE_SHARED") else 1)' 2>/dev/null; then
            PYTHON="$cand"; break
        fi
    done
fi
if [ -z "$PYTHON" ]; then
    echo "setup: no Python >= 3.11 with a shared libpython found; installing Debian's python3"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-dev libpython3-dev >/dev/null
    PYTHON=/usr/bin/python3
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $PYTHON"
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev,bench]'
echo "setup: ok ($(.venv/bin/python --version))"
