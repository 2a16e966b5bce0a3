"""PyHTTPSession and the default session in the real engine (tests/engine/project/
session_suite.gd): many nodes at once, nodes freed while queued, queue_free mid-request,
cookies against pytest-httpbin, and the counters checked against nginx's access log."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from engine.godot_harness import GODOT, ensure_addon, run_suite
from sessionutil import nginx_connections

from servers.nginx import NginxServer

pytestmark = [
    pytest.mark.engine,
    pytest.mark.skipif(shutil.which(GODOT) is None, reason="godot3-server is not installed"),
]


def test_session_suite(nginx_servers: NginxServer, nginx_http: Any, httpbin: Any) -> None:
    ensure_addon()
    env = {"GDHTTP_TEST_URL": f"http://127.0.0.1:{nginx_http.port}",
           "GDHTTP_TEST_HTTPBIN": httpbin.url}
    run = run_suite("session_suite.gd", env=env, timeout=100)
    assert run.returncode == 0, run.describe()
    assert not run.failed and run.result_line.endswith(" failed=0"), run.describe()
    assert run.script_errors() == [], run.describe()
    # What the session counted is what nginx saw: 16 requests over at most 3 connections.
    seen = nginx_connections(nginx_servers.access_log, "many=")
    assert len(seen) == 16 and len(set(seen)) <= 3, seen
