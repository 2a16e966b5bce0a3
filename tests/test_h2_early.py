"""Requests given while the HTTP/2 connection is still connecting (bench/h2.py's burst):
encoded at once, sent with the preface in the handshake's last flight; and hpack's
Huffman cache."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import hpack
import pytest

from gdhttp import h2conn, limits
from gdhttp.constants import Error, Result, Status
from gdhttp.request import HTTPRequest
from gdhttp.transport import SocketStream
from h2util import MAX_CALL_CPU_S, drive, h2_requests

from servers import LatencyRelay
from servers.nginx import NginxServer, start_nginx
from servers.tlsutil import TLSMaterial

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HEADERS = 0x1


@pytest.fixture(scope="module")
def nginx_h2(tmp_path_factory: pytest.TempPathFactory, tls_material: TLSMaterial,
             blob_cache_dir: Path) -> Iterator[NginxServer]:
    server = start_nginx([("h2", "TLSv1.2 TLSv1.3"), ("h1", "TLSv1.2 TLSv1.3")],
                         prefix=tmp_path_factory.mktemp("nginx-h2-early"),
                         files_dir=blob_cache_dir, cert_path=tls_material.cert_pem_path,
                         key_path=tls_material.key_pem_path,
                         ca_pem_path=tls_material.ca_pem_path, http2=["h2"])
    yield server
    server.stop()


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every plaintext block handed to a TLS socket, in order."""
    seen: list[bytes] = []
    real = SocketStream.send

    def send(self: SocketStream, data: bytes | memoryview) -> int:
        sent = real(self, data)
        if sent > 0:
            seen.append(bytes(data[:sent]))
        return sent

    monkeypatch.setattr(SocketStream, "send", send)
    return seen


def _frame_types(block: bytes) -> list[int]:
    """Frame types in ``block`` after the preface (whole frames only)."""
    assert block.startswith(PREFACE), block[:24]
    pos, kinds = len(PREFACE), []
    while len(block) - pos >= 9:
        length = int.from_bytes(block[pos : pos + 3], "big")
        kinds.append(block[pos + 3])
        pos += 9 + length
    assert pos == len(block), "the write ends on a frame boundary"
    return kinds


def test_requests_given_while_connecting_leave_with_the_preface(nginx_h2, tls_material,
                                                                sends) -> None:
    session, reqs = h2_requests(tls_material.ca_pem_path, 16)
    ep = nginx_h2.endpoints["h2"]
    # 80 ms of handshake through the relay: every request is given while it runs.
    with LatencyRelay((ep.host, ep.port), 0.020, max_lifetime=30.0) as relay:
        _burst_over(reqs, f"https://{ep.host}:{relay.port}/files/1k.bin?early=")
    # The first write on the connection: preface, SETTINGS, WINDOW_UPDATE, then all 16 HEADERS.
    kinds = _frame_types(sends[0])
    assert kinds.count(HEADERS) == 16, kinds
    stats = session.get_stats()
    assert (stats["h2_connections"], stats["h2_streams"]) == (1, 16)


def _burst_over(reqs: list[HTTPRequest], url: str) -> None:
    for i, r in enumerate(reqs):
        assert r.request(f"{url}{i}") == Error.OK
        r.process(0.0)  # the Attempt hands its request to the connecting link
        # The request is encoded, not sent: the status still says the link connects.
        assert r.get_http_client_status() in (Status.STATUS_RESOLVING, Status.STATUS_CONNECTING)
    session = reqs[0].get_session()
    assert session is not None and session.get_stats()["h2_streams"] == 0  # counted once sent
    done: dict[int, tuple[int, int]] = {}
    for i, r in enumerate(reqs):
        r.request_completed.connect(lambda res, code, *_, i=i: done.__setitem__(i, (res, code)))
    deadline = time.monotonic() + 30
    while len(done) < len(reqs):
        assert time.monotonic() < deadline, f"only {len(done)} of {len(reqs)} completed"
        for r in reqs:
            r.process(0.0)
        time.sleep(0.0005)
    assert set(done.values()) == {(Result.RESULT_SUCCESS, 200)}


def test_early_requests_go_again_over_http1_when_alpn_says_so(nginx_h2, tls_material,
                                                             sends) -> None:
    session, reqs = h2_requests(tls_material.ca_pem_path, 4)
    ep = nginx_h2.endpoints["h1"]
    run = drive(reqs, [ep.url(f"/files/1k.bin?early-h1={i}") for i in range(4)])
    assert [c[:2] for c in run.completions] == [(Result.RESULT_SUCCESS, 200)] * 4
    assert not any(block.startswith(PREFACE) for block in sends)  # h2's buffer was dropped
    assert all(block.startswith(b"GET /files/1k.bin?early-h1=") for block in sends)
    stats = session.get_stats()
    assert (stats["h2_fallbacks"], stats["h2_connections"], stats["h2_streams"]) == (1, 0, 0)
    assert run.slowest_cpu <= MAX_CALL_CPU_S


def test_huffman_cache_decodes_as_hpack_does() -> None:
    long_value = b"v" * (limits.H2_HUFFMAN_CACHE_MAX_LEN * 2)
    headers = [(b"etag", b'"5f8a-400"'), (b"x-long", long_value)]
    h2conn._huffman_cached.cache_clear()
    for _ in range(3):  # fresh tables: the strings come Huffman-coded every time
        block = hpack.Encoder().encode(headers, huffman=True)
        assert hpack.Decoder().decode(block, raw=True) == headers
    info = h2conn._huffman_cached.cache_info()
    # "x-long" and the etag are kept (hit twice each); the long value is never cached.
    assert (info.currsize, info.hits, info.misses) == (2, 4, 2)


def test_invalid_huffman_still_raises() -> None:
    # A literal field "a" whose Huffman-coded value holds the EOS symbol (30 one bits).
    bad = b"\xff\xff\xff\xff"
    block = b"\x00\x01a" + bytes([0x80 | len(bad)]) + bad
    for _ in range(2):  # the second time the cache is consulted first: still refused
        with pytest.raises(hpack.HPACKDecodingError, match=r"(?i)huffman|eos|padding|invalid"):
            hpack.Decoder().decode(block, raw=True)
