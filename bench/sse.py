"""SSE rows (issue 14): events/s delivered to GDScript and server-write-to-signal latency,
PyEventSource beside the native HTTPClient polled and parsed in GDScript, one engine run.

The devserver (``/events``) stamps each event with ``time.monotonic_ns()`` when it writes
it; the engine reads the same CLOCK_MONOTONIC through ``bench/sse_project/bench_clock.py``
in the handler, so latency needs no clock sync. Also a pure-Python row: EventSource
alone, no engine, on the same burst.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PROJECT = Path(__file__).resolve().parent / "sse_project"
BURST = int(os.environ.get("GDHTTP_BENCH_SSE_BURST", "100000"))
LATENCY_EVENTS = 300
INTERVAL_MS = 20


def _devserver(tmp: str) -> Any:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from devserver import DevServer

    srv = DevServer(Path(tmp) / "dev", big_size=1024)
    srv.start()
    return srv


def _python_rate(port: int) -> float:
    """Events/s through gdhttp.eventsource.EventSource in a plain Python loop."""
    from gdhttp.eventsource import EventSource

    es = EventSource()
    es.reconnecting = False
    got = [0]
    es.event_received.connect(lambda t, d, i: got.__setitem__(0, got[0] + 1))
    started = time.perf_counter()
    es.open(f"http://127.0.0.1:{port}/events?count={BURST}&interval_ms=0")
    deadline = time.monotonic() + 120
    while got[0] < BURST and time.monotonic() < deadline:
        es.process(1 / 60)
    took = time.perf_counter() - started
    es.close()
    return BURST / took if got[0] == BURST else -1.0


def run(runs: int, godot: str) -> list[dict[str, Any]]:
    from bench import engine

    with tempfile.TemporaryDirectory(prefix="gdbench-sse-") as tmp:
        srv = _devserver(tmp)
        try:
            rows = [{"workload": f"sse {BURST} tiny events: delivered (no engine)",
                     "impl": "gdhttp.EventSource (Python)", "unit": "ev/s",
                     "samples": [v for v in (_python_rate(srv.http_port) for _ in range(runs))
                                 if v > 0]}]
            config = Path(tmp) / "config.json"
            config.write_text(json.dumps({
                "host": "127.0.0.1", "port": srv.http_port, "runs": runs, "burst": BURST,
                "latency_events": LATENCY_EVENTS, "interval_ms": INTERVAL_MS}))
            env = {**os.environ, "GDHTTP_BENCH_CONFIG": str(config), "HOME": tmp,
                   "LC_ALL": "C.UTF-8"}
            proc = subprocess.run([godot, "--path", str(PROJECT), "-s", "sse.gd"],
                                  capture_output=True, text=True, errors="replace", env=env,
                                  timeout=3600, check=False)
        finally:
            srv.stop()
    engine._ended(proc)
    return rows + engine._rows_from(proc.stdout)
