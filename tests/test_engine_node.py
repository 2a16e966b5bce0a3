"""PyHTTPRequest as a node: behaviour a script relies on beyond the request itself."""

from __future__ import annotations

from typing import Any

import pytest

from engine.godot_harness import ensure_addon, run_suite

pytestmark = [pytest.mark.engine]


def test_set_process_false_does_not_stall_a_request(nginx_http: Any) -> None:
    ensure_addon()
    run = run_suite("process_flags.gd", env={"GDHTTP_URL": nginx_http.url("/files/1k.bin")})
    assert run.returncode == 0 and not run.failed, run.describe()
    assert len(run.passed) == 12, run.describe()  # 3 checks x 2 classes x threads on/off


def test_pyhttprequestnode_subclass_is_an_httprequest(nginx_http: Any) -> None:
    ensure_addon()
    run = run_suite("subclass_suite.gd", env={"GDHTTP_URL": nginx_http.url("").rstrip("/")})
    assert run.returncode == 0 and not run.failed, run.describe()
    assert len(run.passed) == 18, run.describe()
