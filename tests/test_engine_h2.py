"""HTTP/2 sessions in the real engine (tests/engine/project/h2_suite.gd): PyHTTPRequest
nodes on a PyHTTPSession with set_http2_enabled(true) against nginx's http2 listener."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.godot_harness import GODOT, ensure_addon, run_suite

from servers.nginx import NginxServer, start_nginx
from servers.tlsutil import TLSMaterial

pytestmark = [
    pytest.mark.engine,
    pytest.mark.skipif(shutil.which(GODOT) is None, reason="godot3-server is not installed"),
]


@pytest.fixture(scope="module")
def nginx_h2(tmp_path_factory: pytest.TempPathFactory, tls_material: TLSMaterial,
             blob_cache_dir: Path) -> Iterator[NginxServer]:
    server = start_nginx([("h2", "TLSv1.2 TLSv1.3")],
                         prefix=tmp_path_factory.mktemp("nginx-engine-h2"),
                         files_dir=blob_cache_dir, cert_path=tls_material.cert_pem_path,
                         key_path=tls_material.key_pem_path,
                         ca_pem_path=tls_material.ca_pem_path, http2=["h2"])
    yield server
    server.stop()


def _protocols(server: NginxServer, marker: str) -> list[tuple[str, str]]:
    deadline = time.monotonic() + 5
    while True:
        lines = [ln.split() for ln in server.access_log.read_text().splitlines()
                 if marker in ln]
        if lines or time.monotonic() > deadline:
            return [(ln[0], ln[-1]) for ln in lines]
        time.sleep(0.02)


def test_h2_suite(nginx_h2: NginxServer, tls_material: TLSMaterial) -> None:
    ensure_addon()
    env = {"GDHTTP_TEST_H2_URL": f"https://localhost:{nginx_h2.port}",
           "GDHTTP_TEST_CA": str(tls_material.ca_pem_path)}
    run = run_suite("h2_suite.gd", env=env, timeout=100)
    assert run.returncode == 0, run.describe()
    assert not run.failed and run.result_line.endswith(" failed=0"), run.describe()
    assert run.script_errors() == [], run.describe()
    many = _protocols(nginx_h2, "enginemany=")
    assert len(many) == 32 and {p for _, p in many} == {'HTTP/2.0"'}
    assert len({c for c, _ in many}) == 1  # nginx saw one connection
    assert _protocols(nginx_h2, "enginedefault=1")[0][1] == 'HTTP/1.1"'
