"""``make demo``'s script end to end: demo server, demo_project headless, verified summary."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GODOT = os.environ.get("GDHTTP_GODOT", shutil.which("godot3-server") or "/usr/bin/godot3-server")

pytestmark = [
    pytest.mark.engine,
    pytest.mark.skipif(shutil.which(GODOT) is None, reason="godot3-server is not installed"),
]


def _run_demo(env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    from engine.godot_harness import ensure_addon

    ensure_addon()
    return subprocess.run(
        ["scripts/demo.sh"], cwd=REPO, capture_output=True, text=True, errors="replace",
        timeout=300, env={**os.environ, "GDHTTP_DEMO_TIMEOUT": "240", **(env or {})},
        check=False,
    )  # fmt: skip


def test_demo_passes_with_verified_summary() -> None:
    proc = _run_demo()
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-4000:]
    assert "DEMO PASSED: 6/6 steps verified" in out
    # The game ran on the archive make addon ships, installed into a copy of the project.
    assert re.search(r"^demo: installed gdhttp-[\d.]+-linux-x86_64\.zip into a copy", out, re.M)
    assert len(re.findall(r"^CHECK ok ", out, re.M)) == 6
    assert not re.findall(r"^CHECK FAIL", out, re.M)
    for what in ("big.bin downloaded", "image.png over HTTPS", "multipart/form-data POST",
                 "streamed PUT over HTTPS", "live events over HTTPS"):
        line = next(ln for ln in out.splitlines() if ln.startswith("  [ok] ") and what in ln)
        assert "verified" in line, line
    # Progress was reported while bytes moved, for the download and both uploads.
    for kind in ("download big.bin", "upload multipart", "upload PUT"):
        percents = [int(p) for p in re.findall(rf"^PROGRESS {kind}\s+(\d+)%", out, re.M)]
        assert len(percents) >= 3 and percents[-1] == 100, (kind, percents)
    # The live events panel: every event, no gap, across the server's stream ends.
    assert re.search(r"^EVENTS 40 received, 0 gaps, 0 repeats, [3-9] connections", out, re.M), \
        out[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]


def test_demo_fails_when_the_server_is_unreachable() -> None:
    proc = _run_demo({"GDHTTP_DEMO_URL": "http://127.0.0.1:1",
                      "GDHTTP_DEMO_HTTPS_URL": "https://127.0.0.1:1"})  # fmt: skip
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "DEMO FAILED" in proc.stdout
