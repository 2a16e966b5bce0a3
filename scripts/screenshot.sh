#!/usr/bin/env bash
# Regenerate docs/screenshot.png: the demo run by the windowed godot3 under
# Xvfb against the bundled demo server; the scene saves its own viewport.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GDHTTP_DEMO_SCREENSHOT="$ROOT/docs/screenshot.png" "$ROOT/scripts/demo.sh"
echo "screenshot: $ROOT/docs/screenshot.png"
