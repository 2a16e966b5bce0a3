"""A refused call explains itself on the engine's error output, as the engine's ERR_FAIL does."""

from __future__ import annotations

import pytest

from engine.godot_harness import ensure_addon, run_suite

pytestmark = [
    pytest.mark.engine,
]


def test_refusal_is_printed_through_godot() -> None:
    ensure_addon()
    run = run_suite("refusal_print.gd", timeout=60)
    assert run.returncode == 0, run.describe()
    assert "RESULT chunk=65536" in run.stdout  # the old value is kept
    assert "set_read_chunk_size: 10 is outside 256..16777216" in run.stderr, run.describe()
    # Not "At: python:0": the engine method the script called (3.2 and 3.6 lay it out
    # differently: "ERROR: <function>: ... At: <file>:0" and "at: <function> (<file>:0)").
    assert "PyHTTPClient.set_read_chunk_size" in run.stderr, run.stderr
    assert "called from a script" in run.stderr and "python:0" not in run.stderr, run.stderr
