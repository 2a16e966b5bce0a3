"""The bundled demo server (python -m devserver), checked with stdlib clients only."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # the demo server lives at the repository root

from devserver import BadRequest, DevServer, make_png, parse_multipart  # noqa: E402


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Running:
    proc: subprocess.Popen[str]
    http_port: int
    https_port: int
    ca_pem_path: Path
    data_dir: Path

    def plain(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)

    def tls(self, host: str = "127.0.0.1") -> http.client.HTTPSConnection:
        ctx = ssl.create_default_context(cafile=str(self.ca_pem_path))
        return http.client.HTTPSConnection(host, self.https_port, context=ctx, timeout=10)


def start_devserver(tmp: Path, *extra: str, stderr: int | None = None) -> Running:
    data_dir = tmp / "data"
    ca = tmp / "trust" / "ca.pem"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "src")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "devserver", "--http-port", "0", "--https-port", "0",
         "--data-dir", str(data_dir), "--ca-pem", str(ca), *extra],
        stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        proc.kill()
        pytest.fail(f"devserver did not start: {line!r}")
    fields = dict(kv.split("=") for kv in line.split()[1:])
    return Running(proc, int(fields["http"]), int(fields["https"]), ca, data_dir)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    r = start_devserver(tmp_path_factory.mktemp("devserver"))
    yield r
    r.proc.send_signal(signal.SIGTERM)
    assert r.proc.wait(timeout=10) == 0


def get(conn: http.client.HTTPConnection, path: str,
        headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    return resp, resp.read()


def test_ready_line_and_ca(dev: Running) -> None:
    assert dev.http_port > 0 and dev.https_port > 0 and dev.http_port != dev.https_port
    assert dev.ca_pem_path.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_manifest_and_files_over_http_and_https(dev: Running) -> None:
    conns: list[http.client.HTTPConnection] = [dev.plain(), dev.tls(), dev.tls("localhost")]
    resp, body = get(conns[0], "/files/manifest.json")
    files = json.loads(body)["files"]
    assert set(files) == {"empty.bin", "small.bin", "medium.bin", "big.bin", "image.png"}
    assert files["big.bin"]["size"] == 32 * 1024 * 1024
    for conn in conns:
        sock = None
        for info in files.values():
            resp, body = get(conn, info["url"])
            assert resp.status == 200
            assert resp.getheader("Content-Length") == str(info["size"])
            assert len(body) == info["size"] and sha(body) == info["sha256"]
            assert resp.getheader("X-Sha256") == info["sha256"]
            sock = sock or conn.sock
            assert conn.sock is sock  # keep-alive
        conn.close()


def test_head_and_chunked(dev: Running) -> None:
    conn = dev.plain()
    conn.request("HEAD", "/files/medium.bin")
    resp = conn.getresponse()
    assert resp.getheader("Content-Length") == str(1024 * 1024) and resp.read() == b""
    resp, body = get(conn, "/files/manifest.json")
    medium = json.loads(body)["files"]["medium.bin"]
    resp, body = get(conn, "/chunked/medium.bin")
    assert resp.chunked and resp.getheader("Content-Length") is None
    assert sha(body) == medium["sha256"]
    resp, body = get(conn, "/files/nope.bin")
    assert resp.status == 404


def test_png_is_valid(dev: Running) -> None:
    _, data = get(dev.plain(), "/files/image.png")
    assert data == make_png()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        payload = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + payload) & 0xFFFFFFFF
        chunks[kind] = payload
        pos += 12 + length
    w, h, depth, ctype = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (w, h, depth, ctype) == (256, 128, 8, 2)
    assert len(zlib.decompress(chunks[b"IDAT"])) == h * (1 + w * 3)
    assert b"IEND" in chunks


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "XyZ-b0und") -> bytes:
    out = bytearray()
    for name, filename, data in parts:
        out += f"--{boundary}\r\n".encode()
        disp = f'form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        out += f"Content-Disposition: {disp}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def test_multipart_upload(dev: Running) -> None:
    blob = os.urandom(700_000) + b"\r\n--XyZ-b0un"  # a near-boundary at the end of the data
    parts = [("field", None, b"value"), ("file", "a.bin", blob), ("empty", "e.txt", b"")]
    body = multipart(parts)
    ctype = "multipart/form-data; boundary=XyZ-b0und"
    for conn in (dev.plain(), dev.tls()):
        conn.request("POST", "/upload", body=body, headers={"Content-Type": ctype})
        got = json.loads(conn.getresponse().read())
        assert got["body_bytes"] == len(body)
        assert [(p["name"], p["filename"], p["size"], p["sha256"]) for p in got["parts"]] == [
            (n, f, len(d), sha(d)) for n, f, d in parts]
        # the same body, chunked, split into awkward pieces
        pieces = [body[i : i + 4093] for i in range(0, len(body), 4093)]
        conn.request("POST", "/upload", body=iter(pieces), encode_chunked=True,
                     headers={"Content-Type": ctype, "Transfer-Encoding": "chunked"})
        got2 = json.loads(conn.getresponse().read())
        assert got2["parts"] == got["parts"]


def test_multipart_malformed(dev: Running) -> None:
    conn = dev.plain()
    conn.request("POST", "/upload", body=b"--b\r\n\r\nno end",
                 headers={"Content-Type": "multipart/form-data; boundary=b"})
    resp = conn.getresponse()
    assert resp.status == 400 and "closing boundary" in json.loads(resp.read())["error"]
    conn = dev.plain()
    conn.request("POST", "/upload", body=b"x", headers={"Content-Type": "text/plain"})
    assert conn.getresponse().status == 400


def test_put_upload(dev: Running) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    conn = dev.plain()
    conn.request("PUT", "/upload/thing.bin", body=data)
    got = json.loads(conn.getresponse().read())
    assert got == {"name": "thing.bin", "size": len(data), "sha256": sha(data), "chunked": False}
    pieces = [data[i : i + 100_000] for i in range(0, len(data), 100_000)]
    conn.request("PUT", "/upload/thing.bin", body=iter(pieces), encode_chunked=True)
    got = json.loads(conn.getresponse().read())
    assert (got["size"], got["sha256"], got["chunked"]) == (len(data), sha(data), True)


def test_put_expect_continue(dev: Running) -> None:
    with socket.create_connection(("127.0.0.1", dev.http_port), timeout=5) as s:
        s.sendall(b"PUT /upload/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n")
        s.sendall(b"abc")
        data = b""
        while b'"sha256"' not in data:
            data += s.recv(4096)
        assert sha(b"abc").encode() in data


def test_redirects_status_gzip(dev: Running) -> None:
    conn = dev.plain()
    path, hops = "/redirect/3", 0
    while True:
        resp, body = get(conn, path)
        if resp.status != 302:
            break
        path = resp.getheader("Location") or ""
        hops += 1
    assert hops == 3 and resp.status == 200 and json.loads(body) == {"redirected": True}
    for code in (200, 201, 204, 304, 404, 418, 500, 503):
        resp, body = get(conn, f"/status/{code}")
        assert resp.status == code
        assert body == (b"" if code in (204, 304) else f"status {code}\n".encode())
    conn.request("POST", "/status/201", body=b"ignored")
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (201, b"status 201\n")
    conn.request("POST", "/nowhere", body=b"x" * 100_000)  # body drained: conn reusable
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 405
    resp, _ = get(conn, "/status/200")
    assert resp.status == 200
    resp, body = get(conn, "/gzip", {"Accept-Encoding": "gzip"})
    assert resp.getheader("Content-Encoding") == "gzip"
    plain = gzip.decompress(body)
    assert len(plain) == int(resp.getheader("X-Decoded-Length") or -1)
    assert sha(plain) == resp.getheader("X-Decoded-Sha256")
    assert json.loads(plain)["gzipped"] is True


def test_sigint_exits_cleanly(tmp_path: Path) -> None:
    r = start_devserver(tmp_path, "--big-size", "1000")
    conn = r.plain()
    get(conn, "/files/small.bin")  # leave an idle keep-alive connection open
    t0 = time.monotonic()
    r.proc.send_signal(signal.SIGINT)
    assert r.proc.wait(timeout=10) == 0
    assert time.monotonic() - t0 < 5


def test_openssl_backend_in_process(tmp_path: Path) -> None:
    srv = DevServer(tmp_path, big_size=10, tls_backend="openssl", ca_pem_path=tmp_path / "c.pem")
    srv.start()
    try:
        ctx = ssl.create_default_context(cafile=str(tmp_path / "c.pem"))
        for host in ("127.0.0.1", "localhost"):
            conn = http.client.HTTPSConnection(host, srv.https_port, context=ctx, timeout=5)
            resp, body = get(conn, "/files/big.bin")
            assert resp.status == 200 and len(body) == 10
            conn.close()
    finally:
        srv.stop()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.text("abcXYZ_", min_size=1, max_size=8), st.binary(max_size=3000)),
             min_size=0, max_size=5),
    st.integers(min_value=1, max_value=700),
)
def test_parse_multipart_any_split(parts: list[tuple[str, bytes]], step: int) -> None:
    triples: list[tuple[str, str | None, bytes]] = [(n, n + ".bin", d) for n, d in parts]
    body = multipart(triples, boundary="bnd")
    got = parse_multipart(iter([body[i : i + step] for i in range(0, len(body), step)]), "bnd")
    assert [(p.name, p.size, p.sha256) for p in got] == [(n, len(d), sha(d)) for n, _, d in
                                                        triples]


def test_parse_multipart_headerless_part_and_preamble() -> None:
    body = b"preamble\r\n--bnd\r\n\r\n\r\nbody\r\n--bnd\r\nX-A: 1\r\n\r\n\r\n--bnd--\r\nepi"
    got = parse_multipart(iter([body]), "bnd")
    assert [(p.name, p.size, p.sha256) for p in got] == [(None, 6, sha(b"\r\nbody")),
                                                        (None, 0, sha(b""))]


def test_parse_multipart_truncated() -> None:
    body = multipart([("a", None, b"x" * 100)], boundary="bnd")
    with pytest.raises(BadRequest, match="ended before its closing boundary"):
        parse_multipart(iter([body[:-10]]), "bnd")


def test_help_lists_the_endpoints() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "src")]))
    out = subprocess.run([sys.executable, "-m", "devserver", "--help"], capture_output=True,
                         text=True, env=env, timeout=30, check=True).stdout
    for endpoint in ("/files/manifest.json", "/chunked/<name>", "PUT  /upload/<name>",
                     "/redirect/<n>", "/status/<code>", "/gzip"):
        assert endpoint in out, endpoint


def test_a_client_that_goes_away_is_one_line(tmp_path: Path) -> None:
    r = start_devserver(tmp_path, "--big-size", "1000", stderr=subprocess.PIPE)
    untrusting = ssl.create_default_context()  # does not know the devserver's CA
    with socket.create_connection(("127.0.0.1", r.https_port), timeout=5) as raw, \
            pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        untrusting.wrap_socket(raw, server_hostname="localhost")
    time.sleep(0.5)  # the handler thread logs the abort
    r.proc.send_signal(signal.SIGINT)
    assert r.proc.wait(timeout=10) == 0
    assert r.proc.stderr is not None
    err = r.proc.stderr.read()
    assert "Traceback" not in err, err
    assert len([ln for ln in err.splitlines() if "went away" in ln]) == 1, err


def test_events_stream_numbered_and_resumes_after_last_event_id(dev: Running) -> None:
    from gdhttp.sse import parse

    resp, body = get(dev.plain(), "/events?count=4&interval_ms=0&retry=250")
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "text/event-stream"
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert body.startswith(b"retry: 250\n\n")
    events = parse(body)
    assert [e.last_event_id for e in events] == ["1", "2", "3", "4"]
    stamps = [json.loads(e.data)["t_ns"] for e in events]
    assert stamps == sorted(stamps) and all(0 < t <= time.monotonic_ns() for t in stamps)
    _, body = get(dev.plain(), "/events?count=6&interval_ms=0", {"Last-Event-ID": "4"})
    assert [json.loads(e.data)["n"] for e in parse(body)] == [5, 6]
    _, body = get(dev.plain(), "/events?count=9&interval_ms=0&close_after=2",
                  {"Last-Event-ID": "3"})
    assert [e.last_event_id for e in parse(body)] == ["4", "5"]
    _, body = get(dev.plain(), "/events?count=1&interval_ms=0&pad=10")
    assert json.loads(parse(body)[0].data)["pad"] == "x" * 10
    resp, _ = get(dev.plain(), "/events?count=-1")
    assert resp.status == 400
