"""HTTPRequest against real loopback servers: every Result a server can cause, and the extras.

The servers here are small stdlib socket servers owned by this file (one request per
connection, then close), so each test states exactly what goes over the wire.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdhttp import limits
from gdhttp.attempt import Attempt
from gdhttp.constants import Error, Method, Result, Status
from gdhttp.request import BodySource, FileBody, HTTPRequest, MultipartForm

Completion = tuple[int, int, list[str], bytes]

# ---------------------------------------------------------------- servers


@dataclass
class Req:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        found = None
        for key, value in self.headers:
            if key.lower() == name.lower():
                found = value
        return found

    def has(self, name: str) -> bool:
        return self.header(name) is not None


def _read_request(conn: socket.socket, delay: float = 0.0) -> Req | None:
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = conn.recv(65536)
        if not data:
            return None
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = [(k.strip(), v.strip()) for k, v in (line.split(":", 1) for line in lines[1:])]
    req = Req(method, target, headers, b"")
    length = req.header("Content-Length")
    if length is not None:
        while len(rest) < int(length):
            time.sleep(delay)  # a slow reader, so uploads take several frames
            data = conn.recv(65536 if delay else 1 << 20)
            if not data:
                break
            rest += data
        req.body = rest[: int(length)]
    elif (req.header("Transfer-Encoding") or "").lower() == "chunked":
        body = b""
        while True:
            while b"\r\n" not in rest:
                rest += conn.recv(65536)
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(rest) < size + 2:
                rest += conn.recv(1 << 20)
            body += rest[:size]
            rest = rest[size + 2 :]
            if size == 0:
                break
        req.body = body
    return req


Handler = Callable[[Req, socket.socket], bytes | None]


@dataclass
class Server:
    handler: Handler
    tls: ssl.SSLContext | None = None
    recv_delay: float = 0.0
    requests: list[Req] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def url(self, path: str = "/") -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            req = _read_request(conn, self.recv_delay)
            if req is None:
                return
            self.requests.append(req)
            reply = self.handler(req, conn)
            if reply:
                conn.sendall(reply)
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                conn.shutdown(socket.SHUT_WR)
                time.sleep(0.01)
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()
        self.thread.join(2)


def response(
    code: int = 200,
    body: bytes = b"",
    headers: tuple[str, ...] = (),
    framing: str = "length",
) -> bytes:
    lines = [f"HTTP/1.1 {code} X", *headers]
    if framing == "length":
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    elif framing == "chunked":
        lines.append("Transfer-Encoding: chunked")
        payload = b"".join(
            f"{len(body[i:i + 1000]):x}\r\n".encode() + body[i : i + 1000] + b"\r\n"
            for i in range(0, len(body), 1000)
        ) + b"0\r\n\r\n"
    else:  # until close
        lines.append("Connection: close")
        payload = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(
        handler: Handler | dict[str, Any],
        tls: ssl.SSLContext | None = None,
        recv_delay: float = 0.0,
    ) -> Server:
        if isinstance(handler, dict):
            routes = handler

            def by_path(req: Req, conn: socket.socket) -> bytes | None:
                reply = routes.get(req.target.split("?")[0], response(404, b"not found"))
                return reply(req, conn) if callable(reply) else reply  # type: ignore[no-any-return]

            handler = by_path
        server = Server(handler, tls, recv_delay)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


# ---------------------------------------------------------------- driving


class Recorder:
    def __init__(self, r: HTTPRequest) -> None:
        self.completions: list[Completion] = []
        self.downloads: list[tuple[int, int]] = []
        self.uploads: list[tuple[int, int]] = []
        self.threads: set[int] = set()
        r.request_completed.connect(self._done)
        r.download_progress.connect(lambda d, t: self.downloads.append((d, t)))
        r.upload_progress.connect(lambda s, t: self.uploads.append((s, t)))

    def _done(self, result: int, code: int, headers: list[str], body: bytes) -> None:
        self.threads.add(threading.get_ident())
        self.completions.append((result, code, headers, body))


def run(
    r: HTTPRequest, start: Callable[[], Error], limit_s: float = 15.0, real_delta: bool = True
) -> tuple[Completion, Recorder, int]:
    """Start a request, step it like a frame loop until it completes; (completion, rec, steps)."""
    rec = Recorder(r)
    assert start() == Error.OK, r.get_error_message()
    steps = 0
    last = time.monotonic()
    deadline = last + limit_s
    while not rec.completions:
        assert time.monotonic() < deadline, "request did not complete"
        now = time.monotonic()
        r.process(now - last if real_delta else 0.016)
        last = now
        steps += 1
        time.sleep(0.001)
    assert len(rec.completions) == 1
    assert not r.is_requesting()
    assert r.get_http_client_status() == Status.STATUS_DISCONNECTED
    return rec.completions[0], rec, steps


def get(r: HTTPRequest, url: str, headers: list[str] | None = None,
        limit_s: float = 15.0) -> tuple[Completion, Recorder, int]:
    return run(r, lambda: r.request(url, headers or []), limit_s)


def header_names(headers: list[str]) -> list[str]:
    return [h.split(":", 1)[0].strip().lower() for h in headers]


BLOB = hashlib.sha256(b"seed").digest() * 4096  # 128 KiB, deterministic

# ---------------------------------------------------------------- success paths


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_success_with_every_framing(serve: Callable[..., Server], framing: str) -> None:
    srv = serve(lambda req, c: response(200, BLOB, ("Server: Test",), framing))
    r = HTTPRequest()
    (result, code, headers, body), rec, _ = get(r, srv.url("/data?x=1#frag"))
    assert (result, code, body) == (Result.RESULT_SUCCESS, 200, BLOB)
    assert "Server: Test" in headers
    assert srv.requests[0].target == "/data?x=1#frag"  # query and fragment kept, as 3.x
    assert r.get_downloaded_bytes() == len(BLOB)
    assert r.get_body_size() == (len(BLOB) if framing == "length" else -1)
    assert rec.downloads[-1] == (len(BLOB), r.get_body_size())
    downloaded = [d for d, _ in rec.downloads]
    assert downloaded == sorted(downloaded)


def test_404_is_a_success_with_its_body(serve: Callable[..., Server]) -> None:
    srv = serve({})
    (result, code, _, body), _, _ = get(HTTPRequest(), srv.url("/missing"))
    assert (result, code, body) == (Result.RESULT_SUCCESS, 404, b"not found")


def test_bodiless_and_empty_responses(serve: Callable[..., Server]) -> None:
    srv = serve({"/empty": response(200, b""), "/nocontent": b"HTTP/1.1 204 No\r\nA: b\r\n\r\n"})
    r = HTTPRequest()
    assert get(r, srv.url("/empty"))[0] == (Result.RESULT_SUCCESS, 200, ["Content-Length: 0"],
                                            b"")
    assert get(r, srv.url("/nocontent"))[0] == (Result.RESULT_SUCCESS, 204, ["A: b"], b"")
    done = run(r, lambda: r.request(srv.url("/empty"), [], True, Method.METHOD_HEAD))[0]
    assert done[:2] == (Result.RESULT_SUCCESS, 200) and done[3] == b""
    assert srv.requests[-1].method == "HEAD"


def test_request_sends_string_and_raw_bodies(serve: Callable[..., Server]) -> None:
    srv = serve(lambda req, c: response(200, req.body))
    r = HTTPRequest()
    done = run(r, lambda: r.request(srv.url(), ["Content-Type: text/plain"], True,
                                    Method.METHOD_POST, "héllo"))[0]
    assert done[3] == "héllo".encode()
    assert srv.requests[0].method == "POST"
    done = run(r, lambda: r.request_raw(srv.url(), [], True, Method.METHOD_PUT,
                                        b"\x00\xff"))[0]
    assert done[3] == b"\x00\xff" and srv.requests[1].method == "PUT"


def test_no_response_when_the_head_has_no_fields(serve: Callable[..., Server]) -> None:
    srv = serve(lambda req, c: b"HTTP/1.0 200 OK\r\n\r\nhello")
    assert get(HTTPRequest(), srv.url())[0] == (Result.RESULT_NO_RESPONSE, 0, [], b"")


def test_connection_error_when_the_body_is_cut_short(serve: Callable[..., Server]) -> None:
    srv = serve(lambda req, c: b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
    assert get(HTTPRequest(), srv.url())[0] == (Result.RESULT_CONNECTION_ERROR, 0, [], b"")


# ---------------------------------------------------------------- connection failures


def test_cant_connect_to_a_closed_port() -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    r = HTTPRequest()
    assert get(r, f"http://127.0.0.1:{port}/")[0] == (Result.RESULT_CANT_CONNECT, 0, [], b"")
    assert r.get_error_message()


def test_cant_resolve_an_invalid_name() -> None:
    done = get(HTTPRequest(), "http://gdhttp-test.invalid/", limit_s=30)[0]
    assert done == (Result.RESULT_CANT_RESOLVE, 0, [], b"")


def test_tls_handshake_error_with_an_untrusted_ca(
    serve: Callable[..., Server], ca: trustme.CA
) -> None:
    srv = serve(lambda req, c: response(200, b"secret"), tls=tls_context(ca))
    done = get(HTTPRequest(), srv.url())[0]
    assert done == (Result.RESULT_SSL_HANDSHAKE_ERROR, 0, [], b"")


def test_tls_success_when_trusted_and_when_not_validating(
    serve: Callable[..., Server], ca: trustme.CA
) -> None:
    srv = serve(lambda req, c: response(200, b"secret"), tls=tls_context(ca))
    r = HTTPRequest()
    assert r.client.set_trusted_certificates(ca.cert_pem.bytes().decode()) == Error.OK
    assert get(r, srv.url())[0][3] == b"secret"
    r2 = HTTPRequest()
    done = run(r2, lambda: r2.request(srv.url(), [], False))[0]
    assert done[:2] == (Result.RESULT_SUCCESS, 200)


def test_timeout_with_a_silent_server(serve: Callable[..., Server]) -> None:
    release = threading.Event()

    def silent(req: Req, conn: socket.socket) -> None:
        release.wait(10)

    srv = serve(silent)
    r = HTTPRequest()
    r.timeout = 0.3
    started = time.monotonic()
    done = get(r, srv.url())[0]
    release.set()
    assert done == (Result.RESULT_TIMEOUT, 0, [], b"")
    assert 0.25 <= time.monotonic() - started < 5


# ---------------------------------------------------------------- redirects


def test_redirect_chain_with_relative_locations(serve: Callable[..., Server]) -> None:
    srv = serve({
        "/a/start": response(302, b"", ("Location: next",)),
        "/a/next": response(301, b"moved", ("Location: /final?q=1",)),
        "/final": response(200, b"done"),
    })
    r = HTTPRequest()
    (result, code, _headers, body), _, _ = get(r, srv.url("/a/start"))
    assert (result, code, body) == (Result.RESULT_SUCCESS, 200, b"done")
    assert [q.target for q in srv.requests] == ["/a/start", "/a/next", "/final?q=1"]
    assert r.get_redirect_count() == 2


@pytest.mark.parametrize("limit", [0, 3])
def test_redirect_limit(serve: Callable[..., Server], limit: int) -> None:
    srv = serve(lambda req, c: response(302, b"again", ("Location: /loop",)))
    r = HTTPRequest()
    r.max_redirects = limit
    result, code, headers, body = get(r, srv.url("/loop"))[0]
    assert (result, code, body) == (Result.RESULT_REDIRECT_LIMIT_REACHED, 302, b"")
    assert "Location: /loop" in headers
    assert len(srv.requests) == limit + 1


def test_3xx_without_location_is_the_final_response(serve: Callable[..., Server]) -> None:
    srv = serve(lambda req, c: response(302, b"stay"))
    assert get(HTTPRequest(), srv.url())[0][:2] == (Result.RESULT_SUCCESS, 302)


@pytest.mark.parametrize(
    ("code", "method", "expect_method", "keeps_body"),
    [
        (303, Method.METHOD_POST, "GET", False),
        (303, Method.METHOD_PUT, "GET", False),
        (302, Method.METHOD_POST, "GET", False),
        (301, Method.METHOD_POST, "GET", False),
        (302, Method.METHOD_PUT, "PUT", True),
        (307, Method.METHOD_POST, "POST", True),
        (308, Method.METHOD_PUT, "PUT", True),
    ],
)
def test_redirect_method_rules(
    serve: Callable[..., Server], code: int, method: Method, expect_method: str, keeps_body: bool
) -> None:
    srv = serve({
        "/form": response(code, b"", ("Location: /after",)),
        "/after": lambda req, c: response(200, req.method.encode() + b" " + req.body),
    })
    r = HTTPRequest()
    done = run(r, lambda: r.request(srv.url("/form"), ["Content-Type: text/plain", "X-Keep: 1"],
                                     True, method, "a=1"))[0]
    assert done[:2] == (Result.RESULT_SUCCESS, 200)
    second = srv.requests[1]
    assert second.method == expect_method
    assert second.header("X-Keep") == "1"
    if keeps_body:
        assert second.body == b"a=1" and second.header("Content-Type") == "text/plain"
    else:
        assert second.body == b""
        assert not second.has("Content-Type") and not second.has("Content-Length")


def test_307_resends_a_streamed_file(serve: Callable[..., Server], tmp_path: Path) -> None:
    path = tmp_path / "up.bin"
    path.write_bytes(BLOB)
    srv = serve({
        "/put": lambda req, c: response(307, b"", ("Location: /store",)),
        "/store": lambda req, c: response(201, hashlib.sha256(req.body).hexdigest().encode()),
    })
    r = HTTPRequest()
    done = run(r, lambda: r.request_file(srv.url("/put"), str(path)))[0]
    assert done[:2] == (Result.RESULT_SUCCESS, 201)
    assert done[3] == hashlib.sha256(BLOB).hexdigest().encode()
    assert [q.method for q in srv.requests] == ["PUT", "PUT"]
    assert srv.requests[0].body == BLOB


def test_credentials_dropped_when_leaving_the_origin(serve: Callable[..., Server]) -> None:
    other = serve(lambda req, c: response(200, b"other"))
    srv = serve({
        "/same": response(302, b"", ("Location: /here",)),
        "/here": response(302, b"", (f"Location: {other.url('/there')}",)),
    })
    r = HTTPRequest()
    secret = ["Authorization: Bearer s3cret", "Cookie: session=1", "X-Keep: yes",
              "Proxy-Authorization: Basic eA=="]
    done = get(r, srv.url("/same"), secret)[0]
    assert done[:2] == (Result.RESULT_SUCCESS, 200) and done[3] == b"other"
    here = srv.requests[1]  # same origin: everything kept
    assert here.header("Authorization") == "Bearer s3cret" and here.header("Cookie") == "session=1"
    there = other.requests[0]
    assert there.header("X-Keep") == "yes"
    assert not there.has("Authorization") and not there.has("Cookie")
    assert not there.has("Proxy-Authorization")
    assert there.header("Host") == f"127.0.0.1:{other.port}"


# ---------------------------------------------------------------- limits


def test_body_size_limit_with_content_length(serve: Callable[..., Server]) -> None:
    srv = serve(lambda req, c: response(200, BLOB, ("X: y",)))
    r = HTTPRequest()
    r.body_size_limit = 1000
    result, code, headers, body = get(r, srv.url())[0]
    assert (result, code, body) == (Result.RESULT_BODY_SIZE_LIMIT_EXCEEDED, 200, b"")
    assert "X: y" in headers
    assert r.get_body_size() == len(BLOB)


def test_body_size_limit_without_content_length(serve: Callable[..., Server]) -> None:
    srv = serve(lambda req, c: response(200, BLOB, (), "chunked"))
    r = HTTPRequest()
    r.body_size_limit = 5000
    assert get(r, srv.url())[0][:2] == (Result.RESULT_BODY_SIZE_LIMIT_EXCEEDED, 200)
    r.body_size_limit = len(BLOB)  # exactly the size is fine
    assert get(r, srv.url())[0][3] == BLOB


def test_body_size_limit_applies_to_decoded_bytes(serve: Callable[..., Server]) -> None:
    bomb = gzip.compress(b"\0" * (20 << 20))  # ~20 KiB on the wire, 20 MiB decoded
    srv = serve(lambda req, c: response(200, bomb, ("Content-Encoding: gzip",)))
    r = HTTPRequest()
    r.body_size_limit = 1 << 20
    (result, code, _, body), _, _ = get(r, srv.url())
    assert (result, code, body) == (Result.RESULT_BODY_SIZE_LIMIT_EXCEEDED, 200, b"")
    assert r.get_downloaded_bytes() <= len(bomb)


# ---------------------------------------------------------------- gzip


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda d: (lambda c: c.compress(d) + c.flush())(
            zlib.compressobj(wbits=-zlib.MAX_WBITS))),
    ],
)
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_gzip_and_deflate_decoded_as_they_stream(
    serve: Callable[..., Server], encoding: str, encode: Callable[[bytes], bytes], framing: str
) -> None:
    data = BLOB * 8
    wire = encode(data)
    srv = serve(lambda req, c: response(200, wire, (f"Content-Encoding: {encoding}",), framing))
    r = HTTPRequest()
    r.download_chunk_size = 256  # many small reads through the decoder
    (result, code, headers, body), _rec, _ = get(r, srv.url())
    assert (result, code) == (Result.RESULT_SUCCESS, 200)
    assert body == data
    assert srv.requests[0].header("Accept-Encoding") == "gzip, deflate"
    assert r.get_downloaded_bytes() == len(wire)  # counts bytes on the wire
    assert f"Content-Encoding: {encoding}" in headers


def test_accept_encoding_rules(serve: Callable[..., Server]) -> None:
    wire = gzip.compress(b"hello")
    srv = serve(lambda req, c: response(200, wire, ("Content-Encoding: gzip",)))
    r = HTTPRequest()
    assert get(r, srv.url(), ["accept-encoding: identity"])[0][3] == b"hello"
    assert [k for k, _ in srv.requests[0].headers if k.lower() == "accept-encoding"] == \
        ["accept-encoding"]
    r.accept_gzip = False
    assert get(r, srv.url())[0][3] == wire  # returned as received, like 3.x
    assert not srv.requests[1].has("Accept-Encoding")


def test_corrupt_gzip_is_request_failed(serve: Callable[..., Server]) -> None:
    srv = serve(lambda req, c: response(200, b"\x1f\x8bnot really gzip",
                                        ("Content-Encoding: gzip",)))
    result, code, _headers, body = get(HTTPRequest(), srv.url())[0]
    assert (result, code, body) == (Result.RESULT_REQUEST_FAILED, 200, b"")


# ---------------------------------------------------------------- download_file


def test_download_file_success(serve: Callable[..., Server], tmp_path: Path) -> None:
    srv = serve(lambda req, c: response(200, BLOB))
    r = HTTPRequest()
    target = tmp_path / "out.bin"
    r.download_file = str(target)
    done = get(r, srv.url())[0]
    assert done[:2] == (Result.RESULT_SUCCESS, 200) and done[3] == b""
    assert target.read_bytes() == BLOB


def test_download_file_cant_open(serve: Callable[..., Server], tmp_path: Path) -> None:
    srv = serve(lambda req, c: response(200, BLOB, ("X: y",)))
    r = HTTPRequest()
    r.download_file = str(tmp_path / "missing-dir" / "out.bin")  # not created, as the engine
    result, code, headers, body = get(r, srv.url())[0]
    assert (result, code, body) == (Result.RESULT_DOWNLOAD_FILE_CANT_OPEN, 200, b"")
    assert "X: y" in headers
    assert not (tmp_path / "missing-dir").exists()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("size", [100, len(BLOB)])
def test_download_file_write_error(serve: Callable[..., Server], size: int) -> None:
    srv = serve(lambda req, c: response(200, BLOB[:size]))
    r = HTTPRequest()
    r.download_file = "/dev/full"
    assert get(r, srv.url())[0][:2] == (Result.RESULT_DOWNLOAD_FILE_WRITE_ERROR, 200)


def _range_server(serve: Callable[..., Server], honour: str) -> Server:
    def handler(req: Req, conn: socket.socket) -> bytes:
        wanted = req.header("Range")
        if wanted and honour == "206":
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            return response(206, BLOB[start:],
                            (f"Content-Range: bytes {start}-{len(BLOB) - 1}/{len(BLOB)}",))
        if wanted and honour == "416":
            return response(416, b"", (f"Content-Range: bytes */{len(BLOB)}",))
        return response(200, BLOB)

    return serve(handler)


@pytest.mark.parametrize("honour", ["206", "200", "416"])
def test_download_resume(serve: Callable[..., Server], tmp_path: Path, honour: str) -> None:
    srv = _range_server(serve, honour)
    target = tmp_path / "partial.bin"
    target.write_bytes(BLOB[:50_000] if honour != "416" else BLOB)
    r = HTTPRequest()
    r.download_file = str(target)
    r.download_resume = True
    done = get(r, srv.url())[0]
    assert done[0] == Result.RESULT_SUCCESS
    assert done[1] == int(honour)
    sent = srv.requests[0]
    assert sent.header("Range") == ("bytes=50000-" if honour != "416" else f"bytes={len(BLOB)}-")
    assert not sent.has("Accept-Encoding")  # resumable bytes are the bytes on the wire
    assert target.read_bytes() == BLOB
    # No partial file: a plain request, no Range.
    target.unlink()
    assert get(r, srv.url())[0][:2] == (Result.RESULT_SUCCESS, 200)
    assert not srv.requests[1].has("Range") and target.read_bytes() == BLOB


# ---------------------------------------------------------------- uploads


def test_request_file_streams_with_progress(serve: Callable[..., Server], tmp_path: Path) -> None:
    payload = os.urandom(16 << 20)  # more than the loopback socket buffers hold
    path = tmp_path / "big.bin"
    path.write_bytes(payload)
    srv = serve(lambda req, c: response(200, hashlib.sha256(req.body).hexdigest().encode()),
                recv_delay=0.0005)
    r = HTTPRequest()
    (result, code, _, body), rec, _ = run(r, lambda: r.request_file(
        srv.url("/upload"), str(path), ["Content-Type: application/octet-stream"]))
    assert (result, code) == (Result.RESULT_SUCCESS, 200)
    assert body == hashlib.sha256(payload).hexdigest().encode()
    assert srv.requests[0].method == "PUT"
    assert srv.requests[0].header("Content-Length") == str(len(payload))
    assert len(rec.uploads) >= 2
    assert rec.uploads[-1] == (len(payload), len(payload))
    sent = [s for s, _ in rec.uploads]
    assert sent == sorted(sent) and all(t == len(payload) for _, t in rec.uploads)


def test_multipart_form_upload(serve: Callable[..., Server], tmp_path: Path) -> None:
    path = tmp_path / "pic.png"
    path.write_bytes(BLOB)
    srv = serve(lambda req, c: response(200, b"ok"))
    form = MultipartForm()
    form.add_field("title", "demo")
    form.add_file("file", str(path), content_type="image/png")
    r = HTTPRequest()
    done = run(r, lambda: r.request_stream(srv.url("/form"), form))[0]
    assert done[:2] == (Result.RESULT_SUCCESS, 200)
    sent = srv.requests[0]
    assert sent.method == "POST"
    assert sent.header("Content-Type") == form.content_type
    assert sent.header("Content-Length") == str(form.size())
    assert BLOB in sent.body and b'name="title"\r\n\r\ndemo\r\n' in sent.body


class _UnknownSize:
    content_type = "text/plain"

    def size(self) -> int:
        return -1

    def open(self) -> Iterator[bytes]:
        return iter([b"part1-", b"part2"])


def test_stream_of_unknown_size_is_sent_chunked(serve: Callable[..., Server]) -> None:
    srv = serve(lambda req, c: response(200, req.body))
    r = HTTPRequest()
    source: BodySource = _UnknownSize()
    done = run(r, lambda: r.request_stream(srv.url(), source, [], True, Method.METHOD_PATCH))[0]
    assert done[3] == b"part1-part2"
    assert srv.requests[0].header("Transfer-Encoding") == "chunked"
    assert srv.requests[0].header("Content-Type") == "text/plain"


def test_file_body_via_request_stream(serve: Callable[..., Server], tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"abc")
    srv = serve(lambda req, c: response(200, req.body))
    r = HTTPRequest()
    done = run(r, lambda: r.request_stream(srv.url(), FileBody(tmp_path / "a.txt", "text/x")))[0]
    assert done[3] == b"abc" and srv.requests[0].header("Content-Type") == "text/x"


# ---------------------------------------------------------------- stepping


def test_read_budget_is_not_one_chunk_per_frame(serve: Callable[..., Server]) -> None:
    big = BLOB * 128  # 16 MiB
    srv = serve(lambda req, c: response(200, big))
    r = HTTPRequest()
    (result, _, _, body), rec, steps = get(r, srv.url())
    assert result == Result.RESULT_SUCCESS and body == big
    per_step = [b - a for (a, _), (b, _) in zip(rec.downloads, rec.downloads[1:], strict=False)]
    assert max(per_step) > 4 * r.download_chunk_size
    assert steps < len(big) // r.download_chunk_size


def test_completion_callback_may_start_the_next_request(serve: Callable[..., Server]) -> None:
    srv = serve(lambda req, c: response(200, req.target.encode()))
    r = HTTPRequest()
    results: list[bytes] = []

    def again(result: int, code: int, headers: list[str], body: bytes) -> None:
        results.append(body)
        if len(results) == 1:
            assert r.request(srv.url("/second")) == Error.OK

    r.request_completed.connect(again)
    assert r.request(srv.url("/first")) == Error.OK
    deadline = time.monotonic() + 10
    while len(results) < 2 and time.monotonic() < deadline:
        r.process(0.016)
        time.sleep(0.001)
    assert results == [b"/first", b"/second"]


def test_internal_error_becomes_request_failed(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = serve(lambda req, c: response(200, b"data"))
    r = HTTPRequest()

    def broken(*args: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(Attempt, "_choose_sink", broken)
    result, code, _, body = get(r, srv.url())[0]
    assert (result, code, body) == (Result.RESULT_REQUEST_FAILED, 200, b"")
    assert "bug" in r.get_error_message()


# ---------------------------------------------------------------- use_threads


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_use_threads_success_delivered_on_the_caller_thread(
    serve: Callable[..., Server], framing: str
) -> None:
    srv = serve(lambda req, c: response(200, BLOB * 8, (), framing))
    r = HTTPRequest()
    r.use_threads = True
    (result, code, _, body), rec, _ = get(r, srv.url())
    assert (result, code, body) == (Result.RESULT_SUCCESS, 200, BLOB * 8)
    assert rec.threads == {threading.get_ident()}
    assert rec.downloads[-1][0] == len(BLOB) * 8


def test_use_threads_connect_failure_and_timeout(serve: Callable[..., Server]) -> None:
    r = HTTPRequest()
    r.use_threads = True
    # Threaded: request() returns OK and the failure comes as a completion.
    assert get(r, "http://[::1]:80/")[0] == (Result.RESULT_CANT_CONNECT, 0, [], b"")
    release = threading.Event()
    srv = serve(lambda req, c: release.wait(10) and None)
    r.timeout = 0.3
    assert get(r, srv.url())[0] == (Result.RESULT_TIMEOUT, 0, [], b"")
    release.set()


def test_use_threads_cancel_is_prompt_and_silent(serve: Callable[..., Server]) -> None:
    release = threading.Event()
    srv = serve(lambda req, c: release.wait(10) and None)
    r = HTTPRequest()
    r.use_threads = True
    rec = Recorder(r)
    assert r.request(srv.url()) == Error.OK
    time.sleep(0.1)
    started = time.monotonic()
    r.cancel_request()
    assert time.monotonic() - started < 1
    r.process(0.1)
    release.set()
    assert rec.completions == [] and not r.is_requesting()


# ---------------------------------------------------------------- a real server


def test_against_httpbin(httpbin: Any) -> None:
    r = HTTPRequest()
    done = get(r, httpbin.url + "/gzip")[0]
    assert done[:2] == (Result.RESULT_SUCCESS, 200) and b'"gzipped": true' in done[3]
    done = get(r, httpbin.url + "/redirect/3")[0]
    assert done[:2] == (Result.RESULT_SUCCESS, 200) and r.get_redirect_count() == 3
    r.max_redirects = 2
    assert get(r, httpbin.url + "/redirect/3")[0][:2] == \
        (Result.RESULT_REDIRECT_LIMIT_REACHED, 302)


def test_switching_use_threads_between_requests(serve: Callable[..., Server]) -> None:
    srv = serve(lambda req, c: response(200, req.target.encode()))
    r = HTTPRequest()
    for threaded in (True, False, True, False):
        assert r.set_use_threads(threaded) == Error.OK
        assert get(r, srv.url(f"/{threaded}"))[0][3] == f"/{threaded}".encode()


def test_resume_at_the_wrong_offset_leaves_the_file(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    srv = serve(lambda req, c: response(206, BLOB[10:], (f"Content-Range: bytes 10-{len(BLOB) - 1}"
                                                          f"/{len(BLOB)}",)))
    target = tmp_path / "partial.bin"
    target.write_bytes(BLOB[:500])
    r = HTTPRequest()
    r.download_file = str(target)
    r.download_resume = True
    assert get(r, srv.url())[0][:2] == (Result.RESULT_REQUEST_FAILED, 206)
    assert target.read_bytes() == BLOB[:500]


def test_use_threads_completion_waits_for_process(serve: Callable[..., Server]) -> None:
    srv = serve(lambda req, c: response(200, b"done"))
    r = HTTPRequest()
    r.use_threads = True
    rec = Recorder(r)
    assert r.request(srv.url()) == Error.OK
    deadline = time.monotonic() + 10
    while r.get_http_client_status() != Status.STATUS_DISCONNECTED or r._requesting:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    # The worker has finished; the completion waits for the caller's process().
    assert r.is_requesting() and rec.completions == []
    assert r.request(srv.url()) == Error.ERR_BUSY
    r.process(0.0)
    assert rec.completions == [(Result.RESULT_SUCCESS, 200, ["Content-Length: 4"], b"done")]
    assert not r.is_requesting()


_HEADS = st.sampled_from([
    b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 302 Found\r\nLocation: /again\r\n",
    b"HTTP/1.1 303 See\r\nLocation: http://127.0.0.1:1/\r\n", b"HTTP/1.0 200 OK\r\n",
    b"HTTP/1.1 206 Partial\r\nContent-Range: bytes 0-1/2\r\n", b"",
])
_FIELDS = st.lists(st.sampled_from([
    b"Content-Length: 5\r\n", b"Content-Length: 0\r\n", b"Transfer-Encoding: chunked\r\n",
    b"Content-Encoding: gzip\r\n", b"Content-Encoding: deflate\r\n", b"Connection: close\r\n",
    b"Location: \r\n", b"X: y\r\n",
]), max_size=4)
_BODIES = st.one_of(
    st.binary(max_size=64),
    st.just(b"5\r\nhello\r\n0\r\n\r\n"),
    st.just(gzip.compress(b"hello")),
    st.just(zlib.compress(b"hello")),
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(head=_HEADS, fields=_FIELDS, body=_BODIES, limit=st.sampled_from([-1, 0, 3]))
def test_any_response_completes_with_a_result(
    serve: Callable[..., Server], caplog: pytest.LogCaptureFixture,
    head: bytes, fields: list[bytes], body: bytes, limit: int,
) -> None:
    reply = head + b"".join(fields) + b"\r\n" + body
    srv = serve(lambda req, c: reply)
    r = HTTPRequest()
    r.body_size_limit = limit
    r.max_redirects = 2
    caplog.clear()
    result, _code, _, got = get(r, srv.url(), limit_s=20)[0]
    assert result in set(Result)
    assert result != Result.RESULT_REQUEST_FAILED or "internal error" not in r.get_error_message()
    assert "internal error" not in caplog.text
    if result == Result.RESULT_SUCCESS and limit >= 0:
        assert len(got) <= limit


def test_large_content_length_is_not_preallocated(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_PREALLOCATED_BODY", 1000)
    srv = serve(lambda req, c: response(200, BLOB))
    r = HTTPRequest()
    assert get(r, srv.url())[0][3] == BLOB


def test_use_threads_streamed_uploads(serve: Callable[..., Server], tmp_path: Path) -> None:
    payload = os.urandom(4 << 20)
    (tmp_path / "up.bin").write_bytes(payload)
    srv = serve(lambda req, c: response(200, hashlib.sha256(req.body).hexdigest().encode()),
                recv_delay=0.0002)
    r = HTTPRequest()
    r.use_threads = True
    done, rec, _ = run(r, lambda: r.request_file(srv.url(), str(tmp_path / "up.bin")))
    assert done[3] == hashlib.sha256(payload).hexdigest().encode()
    assert rec.uploads[-1] == (len(payload), len(payload))

    class Chunks:
        content_type = ""

        def size(self) -> int:
            return -1

        def open(self) -> Iterator[bytes]:
            return (payload[i : i + 100_000] for i in range(0, len(payload), 100_000))

    done, rec, _ = run(r, lambda: r.request_stream(srv.url(), Chunks()))
    assert done[3] == hashlib.sha256(payload).hexdigest().encode()
    assert srv.requests[1].header("Transfer-Encoding") == "chunked"
