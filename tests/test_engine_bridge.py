"""The GDNative bridge inside the real engine (godot3-server)."""

from __future__ import annotations

import pytest

from engine.godot_harness import ensure_addon, run_suite

pytestmark = [
    pytest.mark.engine,
]


@pytest.fixture(scope="module", autouse=True)
def addon() -> None:
    ensure_addon()


def test_bridge_suite() -> None:
    run = run_suite("bridge_suite.gd", verbose=True)
    assert run.returncode == 0 and not run.failed, run.describe()
    assert run.result_line.startswith("RESULT passed=") and len(run.passed) == 72
    # The error paths print through Godot's error output, with the Python traceback.
    assert "RuntimeError: raised on purpose by the bridge suite" in run.stderr
    assert "takes 4 arguments, got 1" in run.stderr
    assert "expected PoolByteArray, got null" in run.stderr
    # --verbose makes the engine list every leaked object and resource at exit.
    assert run.leak_reports() == [], run.describe()
    assert "Exception ignored" not in run.output  # nothing escaped the error boundary


def test_no_python_output_on_stdout_without_errors() -> None:
    run = run_suite("bridge_quiet.gd")
    assert run.returncode == 0, run.describe()
    assert "Traceback" not in run.output and "gdhttp" not in run.stderr, run.describe()
