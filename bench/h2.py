"""HTTP/2 rows (issue 13): ``GDHTTP_BENCH_ONLY=h2 make bench``.

- In one engine run (bench/engine_project/session.gd, mode "h2"), through the latency
  relay at 40 ms RTT: 64 PyHTTPRequest nodes at once on an h2 session, on the HTTP/1.1
  pool (the default session) and 64 native HTTPRequest nodes; each with new connections
  (idle ones closed first) and, for the Python pools, with pooled ones.
- Pure Python on loopback: one 256 MiB download over h2 and over HTTP/1.1 with TLS, to
  /dev/null, in 1 MiB reads.

nginx serves its own h2 block here (``http2_chunk_size 16k``: nginx's 8k default halves
the DATA frames and doubles h2's per-frame work).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from gdhttp.constants import Error, Result
from gdhttp.request import HTTPRequest
from gdhttp.session import Session

from servers import LatencyRelay, start_nginx
from servers.blobs import make_blob
from servers.tlsutil import TLSMaterial

MIB = 1 << 20
DOWNLOAD = "256m.bin"
RELAY_DELAY = 0.020  # one way: 40 ms RTT


def download_rate(url: str, ca: str, http2: bool, size: int) -> float:
    """MB/s of one download through a PyHTTPRequest, stepped as fast as it goes."""
    req = HTTPRequest(session=Session(http2=http2))
    req.get_client().set_trusted_certificates(ca)
    req.set_download_file("/dev/null")
    req.set_download_chunk_size(MIB)
    done: list[tuple[int, int]] = []
    req.request_completed.connect(lambda res, code, *_: done.append((res, code)))
    started = time.perf_counter()
    assert req.request(url) == Error.OK, req.get_error_message()
    deadline = time.monotonic() + 300
    while not done and time.monotonic() < deadline:
        req.process(0.0)
    took = time.perf_counter() - started
    if not done or done[0] != (Result.RESULT_SUCCESS, 200) or req.get_downloaded_bytes() != size:
        raise RuntimeError(f"download {url}: {done} {req.get_error_message()}")
    return size / took / 1e6


def run(runs: int, tls: TLSMaterial, files_dir: Path, godot: str) -> list[dict[str, Any]]:
    from bench import engine

    server = start_nginx([("h2", "TLSv1.2 TLSv1.3")], prefix=Path(tempfile.mkdtemp(
        prefix="gdbench-h2-")), files_dir=files_dir, cert_path=tls.cert_pem_path,
        key_path=tls.key_pem_path, ca_pem_path=tls.ca_pem_path, http2=["h2"],
        extra={"h2": "        http2_chunk_size 16k;"})
    rows: list[dict[str, Any]] = []
    try:
        ep = server.endpoints["h2"]
        make_blob(ep.root, DOWNLOAD, 256 * MIB)
        ca = str(tls.ca_pem_path)
        with LatencyRelay((ep.host, ep.port), RELAY_DELAY, max_lifetime=3600.0) as relay:
            print(f"h2: engine bursts through the relay ({relay.rtt * 1000:g} ms RTT)", flush=True)
            rows += engine.run_h2((ep.host, ep.port), relay.port, relay.rtt * 1000, ca, runs,
                                  godot)
        url = ep.url(f"/files/{DOWNLOAD}")
        workload = "256 MiB download HTTPS, loopback, pure Python"
        samples: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(runs):
            for http2 in (False, True):  # round-robin: a noisy moment hits both
                samples[http2].append(download_rate(url, ca, http2, 256 * MIB))
        for http2, impl in ((True, "gdhttp h2 session"), (False, "gdhttp HTTP/1.1 session")):
            rows.append({"workload": workload, "impl": impl, "unit": "MB/s",
                         "samples": samples[http2]})
    finally:
        server.stop()
    return rows
