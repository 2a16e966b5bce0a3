"""Self-tests of the loopback server fixtures, using only stdlib clients (never gdhttp)."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from servers import (
    BIG_HEADER_LEN,
    REDIRECT_CHAIN_MAX,
    REDIRECT_CODES,
    STANDARD_FILES,
    STATUS_CODES,
    Endpoint,
    NginxServer,
    ProxyServer,
    RawConnection,
    RawServer,
    TLSMaterial,
    blob_bytes,
    chunked,
    close,
    http_response,
    make_blob,
    read_exact,
    read_head,
    read_request,
    reset,
    send,
    sha256_file,
    silent,
)

REPO = Path(__file__).resolve().parent.parent


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def raw_exchange(host: str, port: int, request: bytes, timeout: float = 5.0) -> bytes:
    """Send `request`, read until the server closes (use Connection: close)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(request)
        out = bytearray()
        while chunk := s.recv(65536):
            out += chunk
        return bytes(out)


def split_head(resp: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = resp.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, body


def https_conn(ep: Endpoint, ctx: ssl.SSLContext | None = None) -> http.client.HTTPSConnection:
    if ctx is None:
        assert ep.ca_pem_path is not None
        ctx = ssl.create_default_context(cafile=str(ep.ca_pem_path))
    return http.client.HTTPSConnection(ep.host, ep.port, context=ctx, timeout=5)


def tls_ctx(ca: Path, min_v: ssl.TLSVersion, max_v: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.minimum_version = min_v
    ctx.maximum_version = max_v
    return ctx


# --- blobs ----------------------------------------------------------------------------------

def test_make_blob_is_deterministic_and_cached(tmp_path: Path) -> None:
    a = make_blob(tmp_path / "a", "x.bin", 3 * 1024 * 1024 + 7)
    b = make_blob(tmp_path / "b", "x.bin", 3 * 1024 * 1024 + 7)
    assert a.sha256 == b.sha256 == sha256_file(a.path)
    assert a.path.stat().st_size == 3 * 1024 * 1024 + 7
    t0 = time.monotonic()
    again = make_blob(tmp_path / "a", "x.bin", 3 * 1024 * 1024 + 7)
    assert again == a and time.monotonic() - t0 < 0.1
    z = make_blob(tmp_path, "z.bin", 5000, kind="zeros")
    assert z.sha256 == sha(bytes(5000))
    small = make_blob(tmp_path, "s.bin", 1000, seed=7)
    assert small.path.read_bytes() == blob_bytes(1000, seed=7)
    # Rotated blocks: the second MiB differs from the first.
    data = a.path.read_bytes()
    assert data[: 1 << 20] != data[1 << 20 : 2 << 20]


# --- nginx: plain HTTP ----------------------------------------------------------------------

def test_static_files_keepalive_and_sha(nginx_http: Endpoint) -> None:
    assert set(STANDARD_FILES) <= set(nginx_http.files)
    conn = http.client.HTTPConnection(nginx_http.host, nginx_http.port, timeout=5)
    first_sock = None
    for name, (size, digest) in nginx_http.files.items():
        conn.request("GET", f"/files/{name}")
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, name
        assert resp.getheader("Content-Length") == str(size)
        assert resp.getheader("Transfer-Encoding") is None
        assert len(body) == size and sha(body) == digest, name
        if first_sock is None:
            first_sock = conn.sock
        assert conn.sock is first_sock  # the same keep-alive connection throughout
    conn.close()


def test_head_and_404_and_index(nginx_http: Endpoint) -> None:
    conn = http.client.HTTPConnection(nginx_http.host, nginx_http.port, timeout=5)
    conn.request("HEAD", "/files/64k.bin")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Length") == "65536"
    assert resp.read() == b""
    conn.request("GET", "/no/such/file")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 404
    conn.request("GET", "/")
    resp = conn.getresponse()
    assert resp.read() == b"gdhttp nginx test server\n"
    conn.close()


@pytest.mark.parametrize("name", ["1k.bin", "odd-100003.bin", "1m.bin"])
def test_chunked_location_sends_chunked(nginx_http: Endpoint, name: str) -> None:
    req = (f"GET /chunked/{name} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").encode()
    status, headers, body = split_head(raw_exchange(nginx_http.host, nginx_http.port, req))
    assert status == "HTTP/1.1 200 OK"
    assert headers["transfer-encoding"] == "chunked"
    assert "content-length" not in headers
    assert body.endswith(b"\r\n0\r\n\r\n")
    conn = http.client.HTTPConnection(nginx_http.host, nginx_http.port, timeout=5)
    conn.request("GET", f"/chunked/{name}")
    resp = conn.getresponse()
    assert resp.chunked
    assert sha(resp.read()) == nginx_http.files[name][1]


def test_chunked_empty_file_has_content_length_zero(nginx_http: Endpoint) -> None:
    req = b"GET /chunked/empty.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    _, headers, body = split_head(raw_exchange(nginx_http.host, nginx_http.port, req))
    assert headers["content-length"] == "0" and body == b""


def test_gzip_location(nginx_http: Endpoint) -> None:
    conn = http.client.HTTPConnection(nginx_http.host, nginx_http.port, timeout=5)
    conn.request("GET", "/gzip/text-64k.txt", headers={"Accept-Encoding": "gzip"})
    resp = conn.getresponse()
    raw = resp.read()
    assert resp.getheader("Content-Encoding") == "gzip" and resp.chunked
    assert len(raw) < 65536
    assert sha(gzip.decompress(raw)) == nginx_http.files["text-64k.txt"][1]
    conn.request("GET", "/gzip/text-64k.txt")  # no Accept-Encoding: identity
    resp = conn.getresponse()
    assert resp.getheader("Content-Encoding") is None
    assert resp.getheader("Content-Length") == "65536"
    assert sha(resp.read()) == nginx_http.files["text-64k.txt"][1]


def test_close_location_closes(nginx_http: Endpoint) -> None:
    with socket.create_connection((nginx_http.host, nginx_http.port), timeout=5) as s:
        s.sendall(b"GET /close/1k.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        data = bytearray()
        while chunk := s.recv(65536):  # ends because the server closes
            data += chunk
    _, headers, body = split_head(bytes(data))
    assert headers["connection"] == "close" and len(body) == 1024


def test_slow_location_is_throttled(nginx_http: Endpoint) -> None:
    conn = http.client.HTTPConnection(nginx_http.host, nginx_http.port, timeout=5)
    t0 = time.monotonic()
    conn.request("GET", "/slow/odd-100003.bin")  # 64 KiB burst, then 64 KiB/s: ~0.5 s
    body = conn.getresponse().read()
    assert len(body) == 100_003 and time.monotonic() - t0 > 0.3


def test_redirects(nginx_http: Endpoint) -> None:
    conn = http.client.HTTPConnection(nginx_http.host, nginx_http.port, timeout=5)
    for code in REDIRECT_CODES:
        conn.request("GET", f"/redirect/{code}")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == code
        assert resp.getheader("Location") == nginx_http.url("/files/1k.bin")
        conn.request("GET", f"/redirect-rel/{code}")
        resp = conn.getresponse()
        resp.read()
        assert (resp.status, resp.getheader("Location")) == (code, "/files/1k.bin")
    conn.request("GET", "/redirect/307?to=https://127.0.0.1:1/elsewhere")
    resp = conn.getresponse()
    resp.read()
    assert resp.getheader("Location") == "https://127.0.0.1:1/elsewhere"
    path, hops = f"/redirect-chain/{REDIRECT_CHAIN_MAX}", 0
    while True:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 302:
            break
        loc = resp.getheader("Location") or ""
        path = loc.split(str(nginx_http.port), 1)[-1]
        hops += 1
    assert resp.status == 200 and hops == REDIRECT_CHAIN_MAX + 1
    conn.request("GET", "/redirect-loop")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 302 and (resp.getheader("Location") or "").endswith("/redirect-loop")


def test_status_codes(nginx_http: Endpoint) -> None:
    conn = http.client.HTTPConnection(nginx_http.host, nginx_http.port, timeout=5)
    for code in STATUS_CODES:
        conn.request("GET", f"/status/{code}")
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == code
        assert body == (b"" if code in (204, 304) else f"status {code}\n".encode())


def test_upload_put_and_post(nginx_http: Endpoint) -> None:
    assert nginx_http.upload_dir is not None
    payload = blob_bytes(300_000, seed=99)
    conn = http.client.HTTPConnection(nginx_http.host, nginx_http.port, timeout=5)
    conn.request("PUT", "/upload/sub/one.bin", body=payload)
    resp = conn.getresponse()
    resp.read()
    assert resp.status in (201, 204)
    stored = nginx_http.upload_dir / "sub" / "one.bin"
    assert sha256_file(stored) == sha(payload)
    # chunked request body
    conn.request("PUT", "/upload/two.bin", body=iter([payload[:1000], payload[1000:]]),
                 encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
    resp = conn.getresponse()
    resp.read()
    assert resp.status in (201, 204)
    assert sha256_file(nginx_http.upload_dir / "two.bin") == sha(payload)
    conn.request("GET", "/upload/two.bin")
    assert sha(conn.getresponse().read()) == sha(payload)
    conn.request("POST", "/post", body=payload)
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (200, b"ok\n")
    conn.request("GET", "/files/1k.bin")  # connection still usable after a discarded body
    assert len(conn.getresponse().read()) == 1024


def test_post_echo_and_store_read_whole_body_first(nginx_http: Endpoint) -> None:
    assert nginx_http.upload_dir is not None
    with socket.create_connection((nginx_http.host, nginx_http.port), timeout=5) as s:
        s.sendall(b"POST /post-echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
        s.settimeout(0.3)
        # No answer before the body is complete.
        with pytest.raises(TimeoutError, match="timed out"):
            s.recv(100)
        s.settimeout(5)
        s.sendall(b"67890")
        assert s.recv(1000).endswith(b"\r\n\r\nreceived 10\n")
    payload = blob_bytes(200_000, seed=5)
    conn = http.client.HTTPConnection(nginx_http.host, nginx_http.port, timeout=5)
    conn.request("POST", "/post-echo", body=iter([payload[:7], payload[7:]]),
                 encode_chunked=True)
    assert conn.getresponse().read() == b"received 200000\n"
    conn.request("POST", "/post-store/posted.bin", body=iter([payload]), encode_chunked=True)
    resp = conn.getresponse()
    resp.read()
    assert resp.status in (201, 204) and resp.getheader("Location") is None
    assert sha256_file(nginx_http.upload_dir / "posted.bin") == sha(payload)


def test_repeated_and_big_headers(nginx_http: Endpoint) -> None:
    conn = http.client.HTTPConnection(nginx_http.host, nginx_http.port, timeout=5)
    conn.request("GET", "/headers/repeated")
    resp = conn.getresponse()
    resp.read()
    assert resp.headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert resp.headers.get_all("X-Multi") == ["one", "two"]
    conn.request("GET", "/headers/big")
    resp = conn.getresponse()
    resp.read()
    assert resp.getheader("X-Big") == "a" * BIG_HEADER_LEN


def test_ipv6_listener(nginx_http: Endpoint) -> None:
    if not nginx_http.ipv6:
        pytest.skip("no ::1 on this machine")
    conn = http.client.HTTPConnection("::1", nginx_http.port, timeout=5)
    conn.request("GET", "/files/1k.bin")
    assert len(conn.getresponse().read()) == 1024


# --- nginx: TLS -----------------------------------------------------------------------------

def test_https_serves_and_verifies(nginx_https: Endpoint, tls_material: TLSMaterial) -> None:
    assert nginx_https.ca_pem_path == tls_material.ca_pem_path
    assert nginx_https.ca_pem and nginx_https.ca_pem.startswith(b"-----BEGIN CERTIFICATE")
    assert nginx_https.url("/x") == f"https://127.0.0.1:{nginx_https.port}/x"
    for host in ("127.0.0.1", "localhost"):
        ctx = ssl.create_default_context(cafile=str(nginx_https.ca_pem_path))
        conn = http.client.HTTPSConnection(host, nginx_https.port, context=ctx, timeout=5)
        conn.request("GET", "/files/64k.bin")
        assert sha(conn.getresponse().read()) == nginx_https.files["64k.bin"][1]
        conn.close()
    # Not trusted without the CA.
    conn = https_conn(nginx_https, ssl.create_default_context())
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        conn.request("GET", "/")


@pytest.mark.parametrize(
    ("fixture", "accepts"),
    [("nginx_https", {"1.2", "1.3"}), ("nginx_tls13", {"1.3"}), ("nginx_tls12", {"1.2"})],
)
def test_tls_protocol_sets(request: pytest.FixtureRequest, fixture: str,
                           accepts: set[str]) -> None:
    ep: Endpoint = request.getfixturevalue(fixture)
    assert ep.ca_pem_path is not None
    versions = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
    for name, v in versions.items():
        conn = https_conn(ep, tls_ctx(ep.ca_pem_path, v, v))
        if name in accepts:
            conn.request("GET", "/files/1k.bin")
            assert len(conn.getresponse().read()) == 1024
            assert conn.sock is not None
            assert conn.sock.version() == f"TLSv{name}"
        else:
            with pytest.raises(ssl.SSLError, match=r"(?i)version|protocol|alert"):
                conn.request("GET", "/")
        conn.close()


def test_nginx_tls_factory(nginx_tls_factory: Callable[..., NginxServer],
                           tls_material: TLSMaterial) -> None:
    leaf = tls_material.ca.issue_cert("localhost", "127.0.0.1")
    chain = b"".join(b.bytes() for b in leaf.cert_chain_pems)
    srv = nginx_tls_factory(chain, leaf.private_key_pem.bytes(), ["TLSv1.3"],
                            ca_pem=tls_material.ca_pem)
    assert srv.ca_pem_path is not None and srv.ca_pem == tls_material.ca_pem
    ctx = ssl.create_default_context(cafile=str(srv.ca_pem_path))
    conn = http.client.HTTPSConnection(srv.host, srv.port, context=ctx, timeout=5)
    conn.request("GET", "/files/1k.bin")
    assert len(conn.getresponse().read()) == 1024
    assert srv.url("/a") == f"https://127.0.0.1:{srv.port}/a"
    srv.stop()
    assert not srv.alive()


# --- tinyproxy ------------------------------------------------------------------------------

def test_tinyproxy_forwards_and_tunnels(tinyproxy: ProxyServer, nginx_http: Endpoint,
                                        nginx_https: Endpoint) -> None:
    assert tinyproxy.user is None and tinyproxy.password is None
    conn = http.client.HTTPConnection(tinyproxy.host, tinyproxy.port, timeout=5)
    conn.request("GET", nginx_http.url("/files/64k.bin"))
    resp = conn.getresponse()
    assert resp.status == 200 and sha(resp.read()) == nginx_http.files["64k.bin"][1]
    # CONNECT to a non-443 port is allowed.
    tconn = https_conn(nginx_https)
    tconn.set_tunnel(nginx_https.host, nginx_https.port)
    tconn.host, tconn.port = tinyproxy.host, tinyproxy.port
    tconn.request("GET", "/files/1k.bin")
    assert len(tconn.getresponse().read()) == 1024


def test_tinyproxy_auth(tinyproxy_auth: ProxyServer, nginx_http: Endpoint,
                        nginx_https: Endpoint) -> None:
    p = tinyproxy_auth
    assert p.user and p.password and p.proxy_authorization
    assert p.url(with_credentials=True) == f"http://{p.user}:{p.password}@{p.host}:{p.port}"
    conn = http.client.HTTPConnection(p.host, p.port, timeout=5)
    conn.request("GET", nginx_http.url("/files/1k.bin"))
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 407
    assert (resp.getheader("Proxy-Authenticate") or "").startswith("Basic")
    conn = http.client.HTTPConnection(p.host, p.port, timeout=5)
    conn.request("GET", nginx_http.url("/files/1k.bin"),
                 headers={"Proxy-Authorization": p.proxy_authorization})
    resp = conn.getresponse()
    assert resp.status == 200 and len(resp.read()) == 1024
    # CONNECT without / with wrong / with right credentials.
    req = f"CONNECT 127.0.0.1:{nginx_https.port} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    with socket.create_connection((p.host, p.port), timeout=5) as s:
        s.sendall(req)
        assert s.recv(4096).startswith(b"HTTP/1.0 407")
    tconn = https_conn(nginx_https)
    tconn.set_tunnel(nginx_https.host, nginx_https.port,
                     headers={"Proxy-Authorization": "Basic d3Jvbmc6d3Jvbmc="})
    tconn.host, tconn.port = p.host, p.port
    with pytest.raises(OSError, match="401"):  # tinyproxy: wrong credentials -> 401, not 407
        tconn.request("GET", "/")
    tconn = https_conn(nginx_https)
    tconn.set_tunnel(nginx_https.host, nginx_https.port,
                     headers={"Proxy-Authorization": p.proxy_authorization})
    tconn.host, tconn.port = p.host, p.port
    tconn.request("GET", "/files/64k.bin")
    assert sha(tconn.getresponse().read()) == nginx_https.files["64k.bin"][1]


# --- RawServer ------------------------------------------------------------------------------

def test_raw_server_script_records_request(raw_server: Callable[..., RawServer]) -> None:
    srv = raw_server([read_request(), send(http_response(200, b"hello")), close()])
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=5)
    conn.request("POST", "/x?y=1", body=b"abc", headers={"X-Test": "1"})
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (200, b"hello")
    (c,) = srv.wait_done(1)
    assert c.error is None
    assert srv.requests[0].startswith(b"POST /x?y=1 HTTP/1.1\r\n")
    assert srv.requests[0].endswith(b"\r\n\r\nabc")
    (req,) = srv.parsed_requests
    assert (req.method, req.target, req.body, req.header("x-test")) == ("POST", "/x?y=1",
                                                                        b"abc", "1")


def test_raw_server_chunked_request_and_response(raw_server: Callable[..., RawServer]) -> None:
    body = chunked(b"hel", b"lo", trailers=[("X-T", "1")])
    srv = raw_server([read_request(),
                      send(http_response(200, body, [("Transfer-Encoding", "chunked")],
                                         content_length=False))])
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=5)
    conn.request("PUT", "/up", body=iter([b"ab", b"cd"]), encode_chunked=True)
    assert conn.getresponse().read() == b"hello"
    srv.wait_done(1)
    req = srv.parsed_requests[0]
    assert req.body == b"abcd" and req.raw_body == b"2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n"


def test_raw_server_callable_and_per_connection(raw_server: Callable[..., RawServer]) -> None:
    def handler(c: RawConnection) -> None:
        c.recv_head()
        c.sendall(http_response(200, f"conn {c.index}".encode(), [("Connection", "close")]))

    srv = raw_server(handler)
    for i in range(3):
        resp = raw_exchange(srv.host, srv.port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        assert resp.endswith(f"conn {i}".encode())
    srv2 = raw_server(scripts=[[read_head(), send(b"first")], [read_head(), send(b"later")]])
    outs = [raw_exchange(srv2.host, srv2.port, b"GET / HTTP/1.1\r\n\r\n") for _ in range(3)]
    assert outs == [b"first", b"later", b"later"]


def test_raw_server_reset_and_silence(raw_server: Callable[..., RawServer]) -> None:
    srv = raw_server([read_head(), reset()])
    with socket.create_connection((srv.host, srv.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        with pytest.raises(ConnectionResetError, match="reset"):
            s.recv(10)
            s.recv(10)
    quiet = raw_server([read_head(), silent(10)])
    with socket.create_connection((quiet.host, quiet.port), timeout=0.3) as s:
        s.sendall(b"GET / HTTP/1.1\r\n\r\nmore")
        with pytest.raises(TimeoutError, match="timed out"):
            s.recv(10)
    c = quiet.wait_connections(1)[0]
    t0 = time.monotonic()
    quiet.close()  # bounded even with a script still in silent()
    assert time.monotonic() - t0 < 3
    assert c.done.wait(2)
    assert bytes(c.received) == b"GET / HTTP/1.1\r\n\r\nmore"


def test_raw_server_tls(raw_server: Callable[..., RawServer], tls_material: TLSMaterial) -> None:
    srv = raw_server([read_request(), send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")],
                     ssl_context=tls_material.server_context(),
                     ca_pem_path=tls_material.ca_pem_path)
    assert srv.url("/") == f"https://127.0.0.1:{srv.port}/"
    conn = http.client.HTTPSConnection(srv.host, srv.port, timeout=5,
                                       context=tls_material.client_context())
    conn.request("GET", "/tls")
    assert conn.getresponse().read() == b"ok"
    srv.wait_done(1)
    assert srv.requests[0].startswith(b"GET /tls HTTP/1.1\r\n")


def test_raw_server_tls_reset(raw_server: Callable[..., RawServer],
                              tls_material: TLSMaterial) -> None:
    srv = raw_server([read_head(), reset()], ssl_context=tls_material.server_context())
    with socket.create_connection((srv.host, srv.port), timeout=5) as raw, \
            tls_material.client_context().wrap_socket(raw, server_hostname="localhost",
                                                       suppress_ragged_eofs=False) as s:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        # OpenSSL 3 reports the RST (no close_notify) as an unexpected EOF.
        with pytest.raises((ConnectionResetError, ssl.SSLEOFError), match=r"(?i)reset|eof"):
            s.recv(10)


def test_raw_server_accept_loop_bounded() -> None:
    srv = RawServer([read_exact(1), close()], max_connections=1)
    raw_exchange(srv.host, srv.port, b"x")
    srv.wait_done(1)
    srv._accept_thread.join(2)
    assert not srv._accept_thread.is_alive()
    srv.close()


# --- pytest-httpbin -------------------------------------------------------------------------

def test_httpbin_fixtures(httpbin: object, httpbin_secure: object,
                          httpbin_ca_pem_path: str) -> None:
    host, port = httpbin.host, httpbin.port  # type: ignore[attr-defined]
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("GET", "/get?a=1")
    data = json.loads(conn.getresponse().read())
    assert data["args"] == {"a": "1"}
    ctx = ssl.create_default_context(cafile=httpbin_ca_pem_path)
    sconn = http.client.HTTPSConnection(httpbin_secure.host,  # type: ignore[attr-defined]
                                        httpbin_secure.port,  # type: ignore[attr-defined]
                                        context=ctx, timeout=5)
    sconn.request("POST", "/post", body=b"xyz")
    assert json.loads(sconn.getresponse().read())["data"] == "xyz"


# --- standalone CLI -------------------------------------------------------------------------

def test_cli_starts_and_stops(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tests.servers", "--dir", str(tmp_path)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        desc = json.loads(proc.stdout.readline())
        http_ep = desc["nginx"]["http"]
        conn = http.client.HTTPConnection(http_ep["host"], http_ep["port"], timeout=5)
        conn.request("GET", "/files/1k.bin")
        assert sha(conn.getresponse().read()) == http_ep["files"]["1k.bin"][1]
        assert Path(desc["ca_pem_path"]).is_file()
        assert desc["tinyproxy_auth"]["user"]
        conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        # Generous: CI runs this beside engine tests on two CPUs.
        assert proc.wait(timeout=30) == 0
