"""HTTP/2 sessions against a real nginx (`listen ... ssl http2`), and the fallbacks."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gdhttp.client import HTTPClient
from gdhttp.constants import Error, Method, Result, Status
from gdhttp.request import HTTPRequest
from gdhttp.session import Session, default_session
from h2util import MAX_CALL_CPU_S, drive, h2_requests

from servers.nginx import NginxServer, start_nginx
from servers.tlsutil import TLSMaterial


@pytest.fixture(scope="module")
def nginx_h2(tmp_path_factory: pytest.TempPathFactory, tls_material: TLSMaterial,
             blob_cache_dir: Path) -> Iterator[NginxServer]:
    server = start_nginx([("h2", "TLSv1.2 TLSv1.3"), ("h1", "TLSv1.2 TLSv1.3"), ("http", None)],
                         prefix=tmp_path_factory.mktemp("nginx-h2"), files_dir=blob_cache_dir,
                         cert_path=tls_material.cert_pem_path, key_path=tls_material.key_pem_path,
                         ca_pem_path=tls_material.ca_pem_path, http2=["h2"])
    yield server
    server.stop()


def _log_lines(server: NginxServer, marker: str, count: int) -> list[list[str]]:
    """Access-log lines holding ``marker``, split: [$connection, $connection_requests, ...]."""
    deadline = time.monotonic() + 5
    while True:
        lines = [ln.split() for ln in server.access_log.read_text().splitlines() if marker in ln]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def test_64_requests_share_one_connection(nginx_h2, tls_material) -> None:
    session, reqs = h2_requests(tls_material.ca_pem_path, 64)
    ep = nginx_h2.endpoints["h2"]
    run = drive(reqs, [ep.url(f"/files/1k.bin?many={i}") for i in range(64)])
    _, sha = ep.files["1k.bin"]
    assert {c[0] for c in run.completions} == {Result.RESULT_SUCCESS}
    assert all(hashlib.sha256(c[3]).hexdigest() == sha for c in run.completions)
    lines = _log_lines(nginx_h2, "many=", 64)
    assert len(lines) == 64
    assert {ln[0] for ln in lines} == {lines[0][0]}  # nginx's $connection: one connection
    assert all(ln[-1] == 'HTTP/2.0"' for ln in lines)
    stats = session.get_stats()
    assert (stats["h2_connections"], stats["h2_streams"], stats["opened"]) == (1, 64, 0)
    assert run.slowest_cpu <= MAX_CALL_CPU_S


def test_headers_come_in_canonical_case(nginx_h2, tls_material) -> None:
    _, reqs = h2_requests(tls_material.ca_pem_path, 1)
    run = drive(reqs, [nginx_h2.endpoints["h2"].url("/headers/repeated")])
    result, code, headers, body = run.completions[0]
    assert (result, code, body) == (Result.RESULT_SUCCESS, 200, b"repeated\n")
    assert "Content-Type: text/plain" in headers
    assert [h for h in headers if h.startswith("Set-Cookie:")] and \
        len([h for h in headers if h.startswith("X-Multi:")]) == 2
    assert not any(h.startswith(":") or h[0].islower() for h in headers)


def test_large_download_and_upload(nginx_h2, tls_material, tmp_path) -> None:
    ep = nginx_h2.endpoints["h2"]
    session, reqs = h2_requests(tls_material.ca_pem_path, 2)
    _, sha = ep.files["16m.bin"]
    # To a file: a 16 MiB in-memory body costs one long copy at completion (h1 alike).
    reqs[0].set_download_file(str(tmp_path / "16m.bin"))
    run = drive(reqs[:1], [ep.url("/files/16m.bin")])
    assert run.completions[0][0] == Result.RESULT_SUCCESS
    assert hashlib.sha256((tmp_path / "16m.bin").read_bytes()).hexdigest() == sha
    assert run.slowest_cpu <= MAX_CALL_CPU_S
    body = bytes(range(256)) * (32 * 4096)  # 32 MiB
    progress: list[tuple[int, int]] = []
    reqs[1].upload_progress.connect(lambda sent, total: progress.append((sent, total)))
    up = drive(reqs[1:], [ep.url("/upload/h2-32m.bin")], method=Method.METHOD_PUT, body=body)
    assert up.completions[0][:2] == (Result.RESULT_SUCCESS, 201)
    stored = ep.upload_dir / "h2-32m.bin"
    assert hashlib.sha256(stored.read_bytes()).digest() == hashlib.sha256(body).digest()
    assert len(progress) > 4 and progress[-1] == (len(body), len(body))
    assert [p[0] for p in progress] == sorted(p[0] for p in progress)
    assert session.get_stats()["h2_connections"] == 1


def test_streamed_upload_of_unknown_length(nginx_h2, tls_material, tmp_path) -> None:
    ep = nginx_h2.endpoints["h2"]
    _, reqs = h2_requests(tls_material.ca_pem_path, 1)
    src = tmp_path / "up.bin"
    src.write_bytes(b"s" * 3_000_000)
    done: list[tuple[int, int, list[str], bytes]] = []
    reqs[0].request_completed.connect(lambda *a: done.append(a))
    assert reqs[0].request_file(ep.url("/post-echo"), str(src), [], True,
                                Method.METHOD_POST) == Error.OK
    deadline = time.monotonic() + 20
    while not done and time.monotonic() < deadline:
        reqs[0].process(0.001)
        time.sleep(0.0005)
    assert done and done[0][:2] == (Result.RESULT_SUCCESS, 200)
    assert done[0][3] == b"received 3000000\n"


def test_mid_stream_cancel_resets_only_that_stream(nginx_h2, tls_material) -> None:
    ep = nginx_h2.endpoints["h2"]
    session, reqs = h2_requests(tls_material.ca_pem_path, 2)
    slow = reqs[0]
    assert slow.request(ep.url("/slow/16m.bin")) == Error.OK
    deadline = time.monotonic() + 10
    while slow.get_downloaded_bytes() < 65536 and time.monotonic() < deadline:
        slow.process(0.001)
        time.sleep(0.001)
    assert slow.get_downloaded_bytes() >= 65536
    slow.cancel_request()
    assert session.get_stats()["h2_resets"] == 1
    run = drive(reqs[1:], [ep.url("/files/64k.bin?after-cancel")])
    assert run.completions[0][0] == Result.RESULT_SUCCESS
    stats = session.get_stats()
    assert (stats["h2_connections"], stats["h2_open"]) == (1, 1)  # the connection lived on


def test_threads_share_the_connection_safely(nginx_h2, tls_material) -> None:
    session, reqs = h2_requests(tls_material.ca_pem_path, 16, use_threads=True)
    ep = nginx_h2.endpoints["h2"]
    run = drive(reqs, [ep.url(f"/files/1m.bin?t={i}") for i in range(16)])
    _, sha = ep.files["1m.bin"]
    assert all(c[0] == Result.RESULT_SUCCESS and hashlib.sha256(c[3]).hexdigest() == sha
               for c in run.completions)
    assert session.get_stats()["h2_connections"] == 1


def test_redirects_and_gzip_over_h2(nginx_h2, tls_material) -> None:
    ep = nginx_h2.endpoints["h2"]
    _, reqs = h2_requests(tls_material.ca_pem_path, 2)
    run = drive(reqs, [ep.url("/redirect/302"), ep.url("/gzip/text-64k.txt")])
    assert run.completions[0][:2] == (Result.RESULT_SUCCESS, 200)
    assert len(run.completions[0][3]) == 1024
    assert run.completions[1][0] == Result.RESULT_SUCCESS
    assert len(run.completions[1][3]) == 64 * 1024


def test_server_without_h2_falls_back_to_the_http1_pool(nginx_h2, tls_material) -> None:
    session, reqs = h2_requests(tls_material.ca_pem_path, 8)
    ep = nginx_h2.endpoints["h1"]
    run = drive(reqs, [ep.url(f"/files/1k.bin?fallback={i}") for i in range(8)])
    assert {c[0] for c in run.completions} == {Result.RESULT_SUCCESS}
    lines = _log_lines(nginx_h2, "fallback=", 8)
    assert all(ln[-1] == 'HTTP/1.1"' for ln in lines)
    stats = session.get_stats()
    assert stats["h2_fallbacks"] == 1 and stats["h2_connections"] == 0
    # The connection ALPN answered with http/1.1 went to the pool and was used; its first
    # request counts it as opened, not reused: every request either opened or reused one.
    assert stats["opened"] <= 6 and stats["reused"] >= 2
    assert stats["opened"] + stats["reused"] == 8


def test_plain_http_is_unchanged(nginx_h2, tls_material) -> None:
    session, reqs = h2_requests(tls_material.ca_pem_path, 2)
    ep = nginx_h2.endpoints["http"]
    run = drive(reqs, [ep.url("/files/1k.bin?plain=1"), ep.url("/files/1k.bin?plain=2")])
    assert {c[0] for c in run.completions} == {Result.RESULT_SUCCESS}
    assert all(ln[-1] == 'HTTP/1.1"' for ln in _log_lines(nginx_h2, "plain=", 2))
    stats = session.get_stats()
    assert stats["h2_connections"] == stats["h2_fallbacks"] == 0


def test_h2_by_default_for_new_sessions_not_for_the_nodes_default_one(
        nginx_h2, tls_material) -> None:
    assert Session().is_http2_enabled() and not default_session().is_http2_enabled()
    fresh = HTTPRequest(session=Session())
    req = HTTPRequest()  # the process-wide default session: the engine's HTTP/1.1
    for r in (fresh, req):
        r.get_client().set_trusted_certificates(str(tls_material.ca_pem_path))
    run = drive([fresh, req], [nginx_h2.endpoints["h2"].url("/files/1k.bin?new=1"),
                               nginx_h2.endpoints["h2"].url("/files/1k.bin?default=1")])
    assert {c[0] for c in run.completions} == {Result.RESULT_SUCCESS}
    assert _log_lines(nginx_h2, "new=1", 1)[0][-1] == 'HTTP/2.0"'
    client = HTTPClient()
    client.set_trusted_certificates(str(tls_material.ca_pem_path))
    ep = nginx_h2.endpoints["h2"]
    assert client.connect_to_host(ep.host, ep.port, True) == Error.OK
    deadline = time.monotonic() + 10
    while client.get_status() != Status.STATUS_CONNECTED and time.monotonic() < deadline:
        client.poll()
        time.sleep(0.001)
    assert client.request(Method.METHOD_GET, "/files/1k.bin?client=1", []) == Error.OK
    while client.get_status() == Status.STATUS_REQUESTING and time.monotonic() < deadline:
        client.poll()
        time.sleep(0.001)
    assert client.get_response_code() == 200
    client.close()
    assert _log_lines(nginx_h2, "default=1", 1)[0][-1] == 'HTTP/1.1"'
    assert _log_lines(nginx_h2, "client=1", 1)[0][-1] == 'HTTP/1.1"'


def test_h2_through_a_connect_proxy(nginx_h2, tls_material, tinyproxy) -> None:
    session, reqs = h2_requests(tls_material.ca_pem_path, 8)
    for r in reqs:
        r.set_https_proxy(tinyproxy.host, tinyproxy.port)
    ep = nginx_h2.endpoints["h2"]
    run = drive(reqs, [ep.url(f"/files/1k.bin?proxied={i}") for i in range(8)])
    assert {c[0] for c in run.completions} == {Result.RESULT_SUCCESS}, run.messages
    lines = _log_lines(nginx_h2, "proxied=", 8)
    assert {ln[-1] for ln in lines} == {'HTTP/2.0"'} and len({ln[0] for ln in lines}) == 1
    assert session.get_stats()["h2_connections"] == 1


def test_cancel_while_connecting_abandons_the_connection(nginx_h2, tls_material) -> None:
    session, reqs = h2_requests(tls_material.ca_pem_path, 2)
    ep = nginx_h2.endpoints["h2"]
    assert reqs[0].request(ep.url("/files/1k.bin?early-cancel")) == Error.OK
    assert reqs[0].get_http_client_status() in (Status.STATUS_RESOLVING,
                                                Status.STATUS_CONNECTING)
    assert session.get_stats()["h2_open"] == 1
    reqs[0].cancel_request()
    assert session.get_stats()["h2_open"] == 0  # nobody would step its handshake
    run = drive(reqs[1:], [ep.url("/files/1k.bin?after-early-cancel")])
    assert run.completions[0][0] == Result.RESULT_SUCCESS
    assert session.get_stats()["h2_connections"] == 1


def test_a_collected_request_resets_its_stream_later(nginx_h2, tls_material) -> None:
    import gc

    ep = nginx_h2.endpoints["h2"]
    session, reqs = h2_requests(tls_material.ca_pem_path, 2)
    slow = reqs.pop(0)
    assert slow.request(ep.url("/slow/16m.bin?collected")) == Error.OK
    deadline = time.monotonic() + 10
    while slow.get_downloaded_bytes() < 65536 and time.monotonic() < deadline:
        slow.process(0.001)
        time.sleep(0.001)
    del slow
    gc.collect()  # the finalizer only queues the stream: no lock taken there
    assert session.get_stats()["h2_resets"] == 0
    run = drive(reqs, [ep.url("/files/1k.bin?after-collected")])
    assert run.completions[0][0] == Result.RESULT_SUCCESS
    stats = session.get_stats()
    assert stats["h2_resets"] == 1 and stats["h2_connections"] == 1


def test_timings_and_tls_info_come_from_the_h2_stream(nginx_h2, tls_material) -> None:
    session, reqs = h2_requests(tls_material.ca_pem_path, 2)
    ep = nginx_h2.endpoints["h2"]
    drive(reqs[:1], [ep.url("/files/1k.bin?t=1")])
    first = reqs[0].get_timings()
    # The first stream waited for the shared connection: its setup phases are its own.
    assert first["reused"] is False and first["tls_ms"] > 0 and first["connect_ms"] > 0
    assert 0 < first["ttfb_ms"] <= first["total_ms"]
    info = reqs[0].get_tls_info()
    assert info["version"] in ("TLSv1.2", "TLSv1.3") and info["verified"] is True
    assert info["pin"].startswith("sha256/") and "O=gdhttp test CA" in info["issuer"]
    drive(reqs[1:], [ep.url("/files/1k.bin?t=2")])
    second = reqs[1].get_timings()
    assert second["reused"] is True and (second["dns_ms"], second["tls_ms"]) == (0.0, 0.0)
    assert second["ttfb_ms"] > 0
    assert reqs[1].get_tls_info()["pin"] == info["pin"]
    assert session.get_stats()["h2_connections"] == 1
