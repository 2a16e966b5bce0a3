"""Objects freed mid-flight in every way a game can, threads on and off: no crash, no leak."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.godot_harness import ensure_addon, run_suite

pytestmark = [
    pytest.mark.engine,
]


def test_free_queue_free_remove_and_quit_mid_request(nginx_http: Any, tmp_path: Path) -> None:
    ensure_addon()
    env = {
        # /slow/ keeps every download running while the nodes are freed.
        "GDHTTP_TEST_URL": f"http://127.0.0.1:{nginx_http.port}/slow/16m.bin",
        "GDHTTP_TEST_PORT": str(nginx_http.port),
        "GDHTTP_TEST_TMP": str(tmp_path),
    }
    for _ in range(3):  # thread timing differs from run to run
        run = run_suite("free_midflight.gd", env=env, timeout=90)
        assert run.returncode == 0, run.describe()
        assert "RESULT survived" in run.stdout and "FAIL" not in run.stdout, run.describe()
        assert run.script_errors() == [], run.describe()
