"""The longest single call while a hostile server streams at the client.

Each stream runs against ``HTTPClient`` (``poll()`` and
``read_response_body_chunk()``) and against ``HTTPRequest.process()``, the
way a game frame drives them. The number reported is the longest single call
in milliseconds: the frame hitch a player would see. The goal is 5 ms.

Every server sends for at most ``STREAM_SECONDS`` or ``STREAM_BYTES`` and the
drivers stop after ``DRIVE_SECONDS``: bounded on both sides, loopback only.
"""

from __future__ import annotations

import gzip
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from gdhttp import HTTPClient, Status
from gdhttp.request import HTTPRequest

from servers import RawConnection, RawServer, read_head

STREAM_SECONDS = 3.0
STREAM_BYTES = 64 << 20
DRIVE_SECONDS = 4.0
FRAME_S = 1 / 60
WRITE_BLOCK = 64 * 1024


def _stream(prefix: bytes, unit: bytes, suffix: bytes = b"") -> Callable[[RawConnection], None]:
    """Send ``prefix``, then ``unit`` over and over (bounded), then ``suffix``."""
    block = unit * max(1, WRITE_BLOCK // max(1, len(unit)))

    def handler(conn: RawConnection) -> None:
        read_head()(conn)
        conn.sock.settimeout(1.0)
        conn.sendall(prefix)
        sent, end = 0, time.monotonic() + STREAM_SECONDS
        try:
            while block and sent < STREAM_BYTES and time.monotonic() < end:
                conn.sendall(block)
                sent += len(block)
            conn.sendall(suffix)
        except OSError:
            pass  # the client gave up: that is an acceptable outcome here

    return handler


def _gzip_bomb() -> Callable[[RawConnection], None]:
    # 512 MiB of zeros is about 0.5 MB on the wire.
    body = gzip.compress(b"\0" * (512 << 20), compresslevel=9)
    head = (f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()

    def handler(conn: RawConnection) -> None:
        read_head()(conn)
        conn.sock.settimeout(2.0)
        try:
            conn.sendall(head + body)
            time.sleep(1.0)
        except OSError:
            pass

    return handler


def _interim_storm() -> Callable[[RawConnection], None]:
    # Each 1xx head is as large as a head may be (64 KiB of fields).
    fields = b"".join(b"X-F%03d: %s\r\n" % (i, b"v" * 200) for i in range(250))
    unit = b"HTTP/1.1 100 Continue\r\n" + fields + b"\r\n"
    return _stream(b"", unit, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


def _fold_storm() -> Callable[[RawConnection], None]:
    folds = b"".join(b" folded-%05d\r\n" % i for i in range(4000))
    head = b"HTTP/1.1 200 OK\r\nX-Fold: start\r\n" + folds + b"Content-Length: 0\r\n\r\n"
    return _stream(head[:-1], b"", head[-1:])


STREAMS: dict[str, Callable[[], Callable[[RawConnection], None]]] = {
    "CRLF flood": lambda: _stream(b"", b"\r\n"),
    "1-byte chunks": lambda: _stream(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"1\r\nx\r\n", b"0\r\n\r\n"),
    "chunk-extension flood": lambda: _stream(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"1;" + b"e" * 4000 + b"\r\nx\r\n", b"0\r\n\r\n"),
    "gzip bomb": _gzip_bomb,
    "1xx storm": _interim_storm,
    "obs-fold storm": _fold_storm,
}


@dataclass
class Outcome:
    longest_ms: float  # wall clock: what a frame sees, preemption included
    longest_cpu_ms: float  # this thread's CPU time: the work itself, robust to a busy machine
    calls: int
    ended: str


class _Longest:
    """The longest single call, by wall clock and by this thread's CPU time."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self.calls = 0

    def time(self, fn: Callable[[], object]) -> None:
        w0, c0 = time.perf_counter(), time.thread_time()
        fn()
        self.cpu = max(self.cpu, time.thread_time() - c0)
        self.wall = max(self.wall, time.perf_counter() - w0)
        self.calls += 1


_WAITING = (Status.STATUS_RESOLVING, Status.STATUS_CONNECTING, Status.STATUS_REQUESTING,
            Status.STATUS_CONNECTED)


def drive_client(port: int, read_chunk_size: int = 65536) -> Outcome:
    client = HTTPClient()
    client.set_read_chunk_size(read_chunk_size)
    client.set_timeouts(2.0, 2.0)
    longest = _Longest()
    timed = longest.time
    end = time.monotonic() + DRIVE_SECONDS
    client.connect_to_host("127.0.0.1", port)
    requested = False
    while time.monotonic() < end:
        status = client.get_status()
        if status is Status.STATUS_CONNECTED and not requested:
            client.request(HTTPClient.METHOD_GET, "/", [])
            requested = True
        elif status is Status.STATUS_BODY:
            timed(client.read_response_body_chunk)
        elif status not in _WAITING or (requested and status is Status.STATUS_CONNECTED):
            break  # the response ended (or failed): the run is over
        timed(client.poll)
        time.sleep(0.0005)
    ended = client.get_status().name
    client.close()
    return Outcome(longest.wall * 1000, longest.cpu * 1000, longest.calls, ended)


def drive_request(port: int, download_chunk_size: int = 65536) -> Outcome:
    req = HTTPRequest()
    req.set_timeout(3.0)
    req.set_download_chunk_size(download_chunk_size)
    results: list[int] = []
    req.request_completed.connect(lambda result, *rest: results.append(result))
    req.request(f"http://127.0.0.1:{port}/")
    longest = _Longest()
    end = time.monotonic() + DRIVE_SECONDS
    while not results and time.monotonic() < end:
        longest.time(lambda: req.process(FRAME_S))
        time.sleep(0.001)
    req.cancel_request()
    ended = f"result {results[0]}" if results else "running"
    return Outcome(longest.wall * 1000, longest.cpu * 1000, longest.calls, ended)


def longest_call(stream: str, driver: str) -> Outcome:
    """One run: the longest call of ``driver`` against ``stream``."""
    server = RawServer(STREAMS[stream](), max_connections=4, io_timeout=5.0)
    try:
        port = server.port
        if driver == "HTTPClient poll/read":
            outcome = drive_client(port)
        elif driver == "HTTPClient read_chunk 16 MiB":
            outcome = drive_client(port, 1 << 24)
        elif driver == "HTTPRequest.process":
            outcome = drive_request(port)
        else:
            outcome = drive_request(port, 1 << 24)
    finally:
        server.close()
    return outcome


DRIVERS = ("HTTPClient poll/read", "HTTPClient read_chunk 16 MiB", "HTTPRequest.process",
           "HTTPRequest.process chunk 16 MiB")


def self_check() -> None:
    """``python -m bench.hostile``: one run of every row, printed."""
    socket.setdefaulttimeout(10)
    for stream in STREAMS:
        for driver in DRIVERS:
            o = longest_call(stream, driver)
            print(f"{stream:<24} {driver:<34} wall {o.longest_ms:8.2f} ms  cpu "
                  f"{o.longest_cpu_ms:6.2f} ms  {o.calls} calls, {o.ended}", flush=True)


if __name__ == "__main__":
    self_check()
