"""1000 PyHTTPClient create/request/free cycles in the engine leak nothing."""

from __future__ import annotations

from typing import Any

import pytest

from engine.godot_harness import ensure_addon, run_suite

pytestmark = [
    pytest.mark.engine,
]


def test_create_request_free_cycles(nginx_http: Any) -> None:
    ensure_addon()
    run = run_suite(
        "cycles_suite.gd", env={"GDHTTP_PORT": str(nginx_http.port)}, verbose=True, timeout=180
    )
    assert run.returncode == 0 and not run.failed, run.describe()
    assert len(run.passed) == 5
    assert run.leak_reports() == [], run.describe()
