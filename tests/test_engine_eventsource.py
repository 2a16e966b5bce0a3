"""PyEventSource and PyHTTPRequest.body_streaming inside the real engine, against the devserver."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.godot_harness import ensure_addon, run_suite

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from devserver import DevServer  # noqa: E402

pytestmark = [pytest.mark.engine]


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    srv = DevServer(tmp_path_factory.mktemp("dev"), big_size=1024)
    srv.start()
    yield srv
    srv.stop()


def test_eventsource_suite(dev: DevServer) -> None:
    ensure_addon()
    before = len(dev.http.sse_last_ids)
    run = run_suite("eventsource_suite.gd", timeout=120, env={
        "GDHTTP_URL": f"http://127.0.0.1:{dev.http_port}",
        "GDHTTP_MEDIUM_SHA256": dev.files["medium.bin"].sha256,
    })
    assert run.returncode == 0 and not run.failed, run.describe()
    assert len(run.passed) == 42, run.describe()
    assert run.script_errors() == [], run.describe()
    # The server saw the resumptions: Last-Event-ID 3 and 6 for the close_after=3 stream.
    seen = dev.http.sse_last_ids[before:]
    assert "5" in seen  # the basic stream's reconnection
    assert "3" in seen and "6" in seen
