"""HTTPClient against real nginx on loopback: framings, keep-alive, uploads, blocking mode."""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path

import pytest

from gdhttp.client import HTTPClient
from gdhttp.constants import Error, Method, Status

from clientutil import WAIT_S, connect, exchange, fetch
from servers import Endpoint

S = Status


@pytest.mark.parametrize("name", ["empty.bin", "1k.bin", "64k.bin", "odd-100003.bin", "1m.bin"])
def test_static_files_content_length(nginx_http: Endpoint, name: str) -> None:
    size, digest = nginx_http.files[name]
    got = fetch(nginx_http.host, nginx_http.port, f"/files/{name}")
    assert got.code == 200 and got.body_length == size and not got.chunked
    assert got.sha256 == digest
    assert got.final is S.STATUS_CONNECTED
    # IP literal: no RESOLVING; the engine's sequence.
    assert got.statuses[:3] == [S.STATUS_CONNECTING, S.STATUS_CONNECTED, S.STATUS_REQUESTING]
    assert got.statuses[-1] is S.STATUS_CONNECTED


def test_host_name_resolves_first(nginx_http: Endpoint) -> None:
    got = fetch("localhost", nginx_http.port, "/files/1k.bin")
    assert got.statuses[:3] == [S.STATUS_RESOLVING, S.STATUS_CONNECTING, S.STATUS_CONNECTED]
    assert got.sha256 == nginx_http.files["1k.bin"][1]


@pytest.mark.parametrize("chunk_size", [256, 4096, 65536, 1 << 20])
def test_chunked_body_bounded_by_read_chunk_size(nginx_http: Endpoint, chunk_size: int) -> None:
    client = HTTPClient()
    client.set_read_chunk_size(chunk_size)
    assert connect(client, nginx_http.host, nginx_http.port) is S.STATUS_CONNECTED
    client.request(Method.METHOD_GET, "/chunked/1m.bin", [])
    while client.get_status() is S.STATUS_REQUESTING:
        client.poll()
    assert client.is_response_chunked() and client.get_response_body_length() == -1
    body = bytearray()
    deadline = time.monotonic() + WAIT_S
    while client.get_status() is S.STATUS_BODY and time.monotonic() < deadline:
        client.poll()
        chunk = client.read_response_body_chunk()
        assert len(chunk) <= chunk_size
        body += chunk
    assert hashlib.sha256(body).hexdigest() == nginx_http.files["1m.bin"][1]
    assert client.get_status() is S.STATUS_CONNECTED


def test_connection_close_reads_until_eof_or_length(nginx_http: Endpoint) -> None:
    got = fetch(nginx_http.host, nginx_http.port, "/close/64k.bin")
    assert got.code == 200 and got.sha256 == nginx_http.files["64k.bin"][1]
    # nginx sends Content-Length with Connection: close: body ends, server closes later.
    assert got.final in (S.STATUS_CONNECTED, S.STATUS_CONNECTION_ERROR)
    assert any(h.lower() == "connection: close" for h in got.headers)


def test_server_closing_idle_connection_is_reported(nginx_http: Endpoint) -> None:
    client = HTTPClient()
    connect(client, nginx_http.host, nginx_http.port)
    exchange(client, Method.METHOD_GET, "/close/1k.bin")
    deadline = time.monotonic() + WAIT_S
    while client.get_status() is S.STATUS_CONNECTED and time.monotonic() < deadline:
        client.poll()
        time.sleep(0.001)
    assert client.get_status() is S.STATUS_CONNECTION_ERROR
    assert client.poll() is Error.ERR_CONNECTION_ERROR


def test_head_request(nginx_http: Endpoint) -> None:
    got = fetch(nginx_http.host, nginx_http.port, "/files/64k.bin", method=Method.METHOD_HEAD)
    assert got.code == 200 and got.body_length == 0 and got.body == b""
    assert S.STATUS_BODY in got.statuses and got.final is S.STATUS_CONNECTED


def test_keep_alive_many_requests_one_connection(nginx_http: Endpoint) -> None:
    client = HTTPClient()
    connect(client, nginx_http.host, nginx_http.port)
    stream = client.get_connection()
    for i in range(200):
        path = "/files/1k.bin" if i % 2 else "/chunked/1k.bin"
        got = exchange(client, Method.METHOD_GET, path)
        assert got.code == 200 and got.sha256 == nginx_http.files["1k.bin"][1], i
        assert client.get_connection() is stream  # same connection throughout
    assert client.get_status() is S.STATUS_CONNECTED


def test_status_codes_and_empty_bodies(nginx_http: Endpoint) -> None:
    client = HTTPClient()
    connect(client, nginx_http.host, nginx_http.port)
    for code in (404, 204, 304, 418, 500):
        got = exchange(client, Method.METHOD_GET, f"/status/{code}")
        assert got.code == code
        if code in (204, 304):
            assert got.body == b""
    got = exchange(client, Method.METHOD_GET, "/redirect/301")
    assert got.code == 301  # HTTPClient never follows redirects
    assert any(h.startswith("Location: ") for h in got.headers)


def test_repeated_headers_merge_in_dictionary(nginx_http: Endpoint) -> None:
    client = HTTPClient()
    connect(client, nginx_http.host, nginx_http.port)
    client.request(Method.METHOD_GET, "/headers/repeated", [])
    while client.get_status() is S.STATUS_REQUESTING:
        client.poll()
    headers = client.get_response_headers_as_dictionary()
    assert "; " in headers["Set-Cookie"]
    assert client.get_response_headers() == []  # consumed


def test_post_and_put_upload(nginx_http: Endpoint, tmp_path: Path) -> None:
    client = HTTPClient()
    connect(client, nginx_http.host, nginx_http.port)
    got = exchange(client, Method.METHOD_POST, "/post", ["Content-Type: text/plain"], "héllo")
    assert got.code == 200 and got.body == b"ok\n"
    # nginx answers /post before reading the body; the client stops sending, and the
    # connection cannot carry another request: it ends DISCONNECTED, response kept.
    assert got.final is S.STATUS_DISCONNECTED or got.final is S.STATUS_CONNECTED
    client = HTTPClient()
    connect(client, nginx_http.host, nginx_http.port)
    payload = bytes(range(256)) * 4096  # 1 MiB
    got = exchange(client, Method.METHOD_PUT, "/upload/put-test.bin", [], payload)
    assert got.code in (201, 204)
    stored = nginx_http.upload_dir / "put-test.bin"
    assert stored.read_bytes() == payload


def test_streamed_upload_from_file(nginx_http: Endpoint, tmp_path: Path) -> None:
    source = tmp_path / "src.bin"
    data = hashlib.sha256(b"seed").digest() * 100_000  # 3.2 MB
    source.write_bytes(data)
    client = HTTPClient()
    connect(client, nginx_http.host, nginx_http.port)
    for name, length in (("streamed-len.bin", len(data)), ("streamed-chunked.bin", -1)):
        with source.open("rb") as fh:
            assert client.request_stream(Method.METHOD_PUT, f"/upload/{name}", [], fh,
                                         length) is Error.OK
            progress = []
            deadline = time.monotonic() + WAIT_S
            while client.get_status() is S.STATUS_REQUESTING and time.monotonic() < deadline:
                client.poll()
                progress.append(client.get_uploaded_bytes())
        assert progress[-1] == len(data) and progress == sorted(progress)
        assert client.get_response_code() in (201, 204)
        while client.get_status() is S.STATUS_BODY:
            client.poll()
            client.read_response_body_chunk()
        assert (nginx_http.upload_dir / name).read_bytes() == data


def test_request_returns_at_once_for_a_100_mib_body(nginx_http: Endpoint) -> None:
    client = HTTPClient()
    connect(client, nginx_http.host, nginx_http.port)
    body = b"\xab" * (100 * 1024 * 1024)
    start = time.perf_counter()
    assert client.request_raw(Method.METHOD_PUT, "/upload/100m.bin", [], body) is Error.OK
    elapsed = time.perf_counter() - start
    assert elapsed < 0.05, f"request() took {elapsed * 1000:.1f} ms"
    longest = 0.0
    deadline = time.monotonic() + 60
    while client.get_status() is S.STATUS_REQUESTING and time.monotonic() < deadline:
        t = time.perf_counter()
        client.poll()
        longest = max(longest, time.perf_counter() - t)
    assert client.get_response_code() in (201, 204)
    assert client.get_uploaded_bytes() == len(body)
    assert longest < 0.02, f"longest poll() {longest * 1000:.1f} ms"


def test_blocking_mode_reads_full_chunks(nginx_http: Endpoint) -> None:
    client = HTTPClient()
    client.set_blocking_mode(True)
    client.set_read_chunk_size(100_000)
    connect(client, nginx_http.host, nginx_http.port)
    client.request(Method.METHOD_GET, "/files/1m.bin", [])
    client.poll()  # in blocking mode one poll reads the whole head
    assert client.get_status() is S.STATUS_BODY
    sizes = []
    while client.get_status() is S.STATUS_BODY:
        sizes.append(len(client.read_response_body_chunk()))
    assert sizes[:-1] == [100_000] * 10 and sum(sizes) == 1 << 20


def test_read_into_buffer_large_file(nginx_http: Endpoint) -> None:
    client = HTTPClient()
    connect(client, nginx_http.host, nginx_http.port)
    client.request(Method.METHOD_GET, "/files/16m.bin", [])
    while client.get_status() is S.STATUS_REQUESTING:
        client.poll()
    buf = bytearray(1 << 20)
    digest = hashlib.sha256()
    deadline = time.monotonic() + WAIT_S
    while client.get_status() is S.STATUS_BODY and time.monotonic() < deadline:
        n = client.read_response_body_chunk_into(buf)
        digest.update(memoryview(buf)[:n])
    assert digest.hexdigest() == nginx_http.files["16m.bin"][1]


def test_cant_connect_to_closed_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = HTTPClient()
    assert connect(client, "127.0.0.1", port) is S.STATUS_CANT_CONNECT
    assert client.poll() is Error.ERR_CANT_CONNECT
    assert "refused" in client.get_error_message().lower()


def test_cant_resolve() -> None:
    client = HTTPClient()
    assert connect(client, "no-such-host.invalid", 80) is S.STATUS_CANT_RESOLVE
    assert client.poll() is Error.ERR_CANT_RESOLVE


def test_close_mid_body_and_reuse_the_object(nginx_http: Endpoint) -> None:
    client = HTTPClient()
    connect(client, nginx_http.host, nginx_http.port)
    client.request(Method.METHOD_GET, "/files/16m.bin", [])
    while client.get_status() is S.STATUS_REQUESTING:
        client.poll()
    client.read_response_body_chunk()
    client.close()
    assert client.get_status() is S.STATUS_DISCONNECTED
    assert client.get_response_body_length() == -1 and client.get_response_code() == 0
    got = fetch(nginx_http.host, nginx_http.port, "/files/1k.bin", client=client)
    assert got.sha256 == nginx_http.files["1k.bin"][1]


def test_request_while_body_pending_is_refused(nginx_http: Endpoint) -> None:
    client = HTTPClient()
    connect(client, nginx_http.host, nginx_http.port)
    client.request(Method.METHOD_GET, "/files/1m.bin", [])
    assert client.request(Method.METHOD_GET, "/", []) is Error.ERR_INVALID_PARAMETER
    client.close()
