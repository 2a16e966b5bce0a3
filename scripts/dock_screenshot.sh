#!/usr/bin/env bash
# Regenerate docs/editor-dock.png: the HTTP dock in the windowed godot3 editor under
# Xvfb, showing a JSON response from a loopback HTTPS server and its timings; the
# editor saves its own viewport (tests/editor_dock/driver.gd, case_screenshot).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
.venv/bin/python tests/editor_dock/screenshot.py "$ROOT/docs/editor-dock.png"
