"""HTTPRequest body streaming: ``body_chunk_received`` against nginx (every framing, gzip,
body_size_limit, use_threads) and the refusals. Fixtures come from tests/conftest.py."""

from __future__ import annotations

import hashlib
import socket
import time
from typing import Any

import pytest

from gdhttp import limits
from gdhttp.constants import Error, Result
from gdhttp.request import HTTPRequest

Completion = tuple[int, int, list[str], bytes]


class Streamed:
    """A request driven like a frame loop, recording chunks, the completion and the
    longest process() call (wall clock, informative)."""

    def __init__(self, r: HTTPRequest) -> None:
        self.r = r
        self.chunks: list[bytes] = []
        self.completions: list[Completion] = []
        self.longest = 0.0
        self.chunks_at_completion = -1
        r.body_chunk_received.connect(self.chunks.append)
        r.request_completed.connect(self._done)

    def _done(self, result: int, code: int, headers: list[str], body: bytes) -> None:
        self.chunks_at_completion = len(self.chunks)
        self.completions.append((result, code, headers, body))

    def run(self, url: str, headers: list[str] | None = None, limit_s: float = 30.0) -> Completion:
        assert self.r.request(url, headers or []) == Error.OK, self.r.get_error_message()
        deadline = time.monotonic() + limit_s
        while not self.completions:
            assert time.monotonic() < deadline, "request did not complete"
            started = time.perf_counter()
            self.r.process(1 / 60)
            self.longest = max(self.longest, time.perf_counter() - started)
            time.sleep(0.001)
        return self.completions[0]

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


def streaming(threads: bool = False) -> HTTPRequest:
    r = HTTPRequest()
    assert r.set_body_streaming(True) == Error.OK
    assert r.set_use_threads(threads) == Error.OK
    return r


@pytest.mark.parametrize("threads", [False, True], ids=["polled", "threads"])
@pytest.mark.parametrize("path", ["/files/1m.bin", "/chunked/1m.bin", "/close/1m.bin"])
def test_every_framing_streams_the_whole_body_then_completes_empty(
        nginx_http: Any, path: str, threads: bool) -> None:
    s = Streamed(streaming(threads))
    result, code, _, body = s.run(nginx_http.url(path))
    assert (result, code, body) == (Result.RESULT_SUCCESS, 200, b"")
    assert hashlib.sha256(s.body).hexdigest() == nginx_http.files["1m.bin"][1]
    assert len(s.chunks) > 1  # it arrived in pieces, not as one body at the end
    assert all(len(c) <= limits.STREAM_CHUNK_MERGE for c in s.chunks)
    assert s.chunks_at_completion == len(s.chunks)  # every chunk before the completion
    assert len(s.completions) == 1


def test_gzip_is_decoded_as_it_streams(nginx_http: Any) -> None:
    s = Streamed(streaming())
    result, code, headers, body = s.run(nginx_http.url("/gzip/text-1m.txt"))
    assert (result, code, body) == (Result.RESULT_SUCCESS, 200, b"")
    assert any(h.lower() == "content-encoding: gzip" for h in headers)
    assert hashlib.sha256(s.body).hexdigest() == nginx_http.files["text-1m.txt"][1]
    assert s.r.get_downloaded_bytes() < len(s.body)


def test_gzip_off_streams_the_bytes_as_sent(nginx_http: Any) -> None:
    r = streaming()
    r.accept_gzip = False
    s = Streamed(r)
    assert s.run(nginx_http.url("/files/text-1m.txt"))[:2] == (Result.RESULT_SUCCESS, 200)
    assert hashlib.sha256(s.body).hexdigest() == nginx_http.files["text-1m.txt"][1]


@pytest.mark.parametrize("path", ["/files/1m.bin", "/chunked/1m.bin", "/gzip/text-1m.txt"])
def test_body_size_limit_still_applies(nginx_http: Any, path: str) -> None:
    r = streaming()
    r.body_size_limit = 100_000
    s = Streamed(r)
    result, _, _, body = s.run(nginx_http.url(path))
    assert (result, body) == (Result.RESULT_BODY_SIZE_LIMIT_EXCEEDED, b"")
    assert len(s.body) <= 100_000  # never more than the limit handed out


def test_slow_body_arrives_in_chunks_long_before_it_ends(nginx_http: Any) -> None:
    # /slow/ sends 64 KiB at once, then 64 KiB/s: 1 MiB would take 15 s.
    r = streaming()
    chunks: list[bytes] = []
    r.body_chunk_received.connect(chunks.append)
    assert r.request(nginx_http.url("/slow/1m.bin")) == Error.OK
    started = time.monotonic()
    longest = 0.0
    while sum(map(len, chunks)) < 96 * 1024:
        assert time.monotonic() - started < 5, "no streamed chunks"
        t = time.thread_time()  # this thread's CPU: the step's own work, not the machine's load
        r.process(1 / 60)
        longest = max(longest, time.thread_time() - t)
        time.sleep(0.002)
    assert r.is_requesting()  # the body is still arriving
    r.cancel_request()
    data = b"".join(chunks)
    assert data == (nginx_http.root / "1m.bin").read_bytes()[:len(data)]
    assert len(chunks) >= 2
    assert longest < 0.005  # the ~5 ms promise


def test_download_file_and_streaming_are_exclusive(tmp_path: Any) -> None:
    r = streaming()
    r.download_file = str(tmp_path / "x.bin")
    assert r.request("http://127.0.0.1:9/") == Error.ERR_INVALID_PARAMETER
    assert "exclusive" in r.get_error_message()
    assert not r.is_requesting()


def test_streaming_flag_is_checked_and_refused_while_busy(nginx_http: Any) -> None:
    r = HTTPRequest()
    assert r.set_body_streaming("yes") == Error.ERR_INVALID_PARAMETER  # type: ignore[arg-type]
    assert not r.is_body_streaming()
    assert r.request(nginx_http.url("/slow/64k.bin")) == Error.OK
    assert r.set_body_streaming(True) == Error.ERR_BUSY
    r.cancel_request()
    assert r.set_body_streaming(True) == Error.OK
    assert r.body_streaming is True


def test_cancel_from_a_chunk_callback_stops_delivery(nginx_http: Any) -> None:
    r = streaming()
    r.download_chunk_size = 256
    seen: list[int] = []
    completed: list[int] = []

    def on_chunk(chunk: bytes) -> None:
        seen.append(len(chunk))
        r.cancel_request()

    r.body_chunk_received.connect(on_chunk)
    r.request_completed.connect(lambda *a: completed.append(a[0]))
    assert r.request(nginx_http.url("/files/1m.bin")) == Error.OK
    deadline = time.monotonic() + 10
    while r.is_requesting() and time.monotonic() < deadline:
        r.process(0.016)
        time.sleep(0.001)
    for _ in range(10):
        r.process(0.016)
    assert len(seen) == 1
    assert completed == []


def test_without_streaming_the_body_is_kept_as_before(nginx_http: Any) -> None:
    r = HTTPRequest()
    chunks: list[bytes] = []
    r.body_chunk_received.connect(chunks.append)
    s = Streamed(r)
    result, _, _, body = s.run(nginx_http.url("/files/64k.bin"))
    assert result == Result.RESULT_SUCCESS
    assert len(body) == 64 * 1024
    assert chunks == []


def test_one_byte_frames_are_merged_not_one_signal_per_byte(raw_server: Any) -> None:
    payload = bytes(range(256)) * 8  # 2 KiB, each byte its own chunk of a chunked body

    def handler(c: Any) -> None:
        c.recv_request()
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        for i in range(len(payload)):
            c.sendall(b"1\r\n" + payload[i:i + 1] + b"\r\n")
            if i % 64 == 0:
                time.sleep(0.001)
        c.sendall(b"0\r\n\r\n")

    srv = raw_server(handler, max_connections=1)
    srv.start()
    s = Streamed(streaming())
    result, code, _, body = s.run(srv.url("/"))
    assert (result, code, body) == (Result.RESULT_SUCCESS, 200, b"")
    assert s.body == payload
    assert len(s.chunks) < len(payload) // 8  # merged per frame, not per byte
