"""HTTPClient driven through its ``connection`` seam, with scripted server bytes.

The scripted stream hands out the server's bytes whole or one byte per
``recv`` call, so every state of the client sees partial input. This is the
one place a test double stands in for a server: no real server can split its
bytes on demand.
"""

from __future__ import annotations

import pytest

from gdhttp.client import DEFAULT_USER_AGENT, HTTPClient
from gdhttp.constants import Error, Method, Status

SPLITS = ["whole", "bytewise"]


class ScriptedStream:
    """Implements gdhttp.transport.Stream over canned response bytes."""

    def __init__(self, incoming: bytes, split: str, *, close_at_end: bool = True) -> None:
        self.incoming = incoming
        self.offset = 0
        self.step = len(incoming) if split == "whole" else 1
        self.close_at_end = close_at_end
        self.sent = bytearray()
        self.closed = False
        self.send_limit = 1 << 30
        self.respond_after = 0  # the server answers once it has this many bytes
        self.accept_total = 1 << 40  # the server stops reading after this many bytes

    def recv(self, n: int, /) -> bytes | None:
        if len(self.sent) < self.respond_after:
            return None
        if self.offset >= len(self.incoming):
            return b"" if self.close_at_end else None
        size = min(n, self.step, len(self.incoming) - self.offset)
        data = self.incoming[self.offset : self.offset + size]
        self.offset += size
        return data

    def send(self, data: bytes | memoryview, /) -> int:
        n = min(len(data), self.send_limit, self.accept_total - len(self.sent))
        self.sent += bytes(data[:n])
        return n

    def close(self) -> None:
        self.closed = True


def drive(client: HTTPClient, limit: int = 100_000) -> list[Status]:
    """Poll until the client leaves REQUESTING; return the distinct statuses seen."""
    seen = [client.get_status()]
    for _ in range(limit):
        if client.get_status() is not Status.STATUS_REQUESTING:
            break
        client.poll()
        if client.get_status() is not seen[-1]:
            seen.append(client.get_status())
    return seen


def read_all(client: HTTPClient, limit: int = 100_000) -> bytes:
    body = bytearray()
    for _ in range(limit):
        if client.get_status() is not Status.STATUS_BODY:
            break
        client.poll()
        body += client.read_response_body_chunk()
    return bytes(body)


def adopted(incoming: bytes, split: str, **kw: bool) -> tuple[HTTPClient, ScriptedStream]:
    client = HTTPClient()
    stream = ScriptedStream(incoming, split, **kw)
    client.set_connection(stream)
    assert client.get_status() is Status.STATUS_CONNECTED
    assert client.get_connection() is stream
    return client, stream


@pytest.mark.parametrize("split", SPLITS)
def test_get_with_content_length(split: str) -> None:
    client, stream = adopted(
        b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-Test: yes\r\n\r\nhello world", split,
        close_at_end=False,
    )
    assert client.request(Method.METHOD_GET, "/path?q=1", ["X-Mine: 1"]) is Error.OK
    assert drive(client) == [Status.STATUS_REQUESTING, Status.STATUS_BODY]
    assert stream.sent.startswith(b"GET /path?q=1 HTTP/1.1\r\nX-Mine: 1\r\n")
    assert client.get_response_code() == 200
    assert client.get_response_body_length() == 11
    assert not client.is_response_chunked()
    assert client.has_response()
    assert read_all(client) == b"hello world"
    assert client.get_status() is Status.STATUS_CONNECTED


@pytest.mark.parametrize("split", SPLITS)
def test_chunked_response_and_trailers(split: str) -> None:
    client, _ = adopted(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Sum: 9\r\n\r\n",
        split,
        close_at_end=False,
    )
    client.request(Method.METHOD_GET, "/", [])
    drive(client)
    assert client.is_response_chunked() and client.get_response_body_length() == -1
    assert read_all(client) == b"Wikipedia"
    assert client.get_response_trailers() == ["X-Sum: 9"]
    assert client.get_status() is Status.STATUS_CONNECTED


@pytest.mark.parametrize("split", SPLITS)
def test_read_until_close_ends_disconnected(split: str) -> None:
    client, _ = adopted(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nrest of it", split)
    client.request(Method.METHOD_GET, "/", [])
    drive(client)
    assert client.get_response_body_length() == -1
    assert read_all(client) == b"rest of it"
    assert client.get_status() is Status.STATUS_DISCONNECTED


@pytest.mark.parametrize("split", SPLITS)
def test_truncated_body_is_a_connection_error(split: str) -> None:
    client, _ = adopted(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", split)
    client.request(Method.METHOD_GET, "/", [])
    drive(client)
    body = read_all(client)
    assert body == b"only this"
    assert client.get_status() is Status.STATUS_CONNECTION_ERROR
    assert "closed" in client.get_error_message()
    assert client.poll() is Error.ERR_CONNECTION_ERROR


@pytest.mark.parametrize("split", SPLITS)
def test_head_request_reports_zero_length(split: str) -> None:
    client, _ = adopted(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", split,
                        close_at_end=False)
    client.request(Method.METHOD_HEAD, "/", [])
    assert drive(client)[-1] is Status.STATUS_BODY
    assert client.get_response_body_length() == 0
    assert client.read_response_body_chunk() == b""
    assert client.get_status() is Status.STATUS_CONNECTED


@pytest.mark.parametrize("split", SPLITS)
def test_no_length_keep_alive_goes_straight_to_connected(split: str) -> None:
    client, _ = adopted(b"HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n", split,
                        close_at_end=False)
    client.request(Method.METHOD_DELETE, "/thing", [])
    assert drive(client) == [Status.STATUS_REQUESTING, Status.STATUS_CONNECTED]
    assert client.get_response_code() == 204
    assert client.get_response_body_length() == -1


@pytest.mark.parametrize("split", SPLITS)
def test_garbage_response_is_a_connection_error(split: str) -> None:
    client, _ = adopted(b"SSH-2.0-OpenSSH_9.2\r\n\r\n", split)
    client.request(Method.METHOD_GET, "/", [])
    assert drive(client)[-1] is Status.STATUS_CONNECTION_ERROR
    assert "status line" in client.get_error_message()


@pytest.mark.parametrize("split", SPLITS)
def test_keep_alive_two_requests(split: str) -> None:
    one = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
    client, stream = adopted(one, split, close_at_end=False)
    client.request(Method.METHOD_GET, "/1", [])
    drive(client)
    assert read_all(client) == b"one"
    stream.incoming, stream.offset = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo", 0
    assert client.request(Method.METHOD_GET, "/2", []) is Error.OK
    drive(client)
    assert read_all(client) == b"two"
    assert stream.sent.count(b"GET /") == 2


def test_body_is_written_by_poll_with_partial_writes() -> None:
    client, stream = adopted(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "whole",
                             close_at_end=False)
    stream.send_limit = 7
    body = bytes(range(256)) * 40
    stream.respond_after = len(body) + 100
    assert client.request_raw(Method.METHOD_POST, "/up", ["Content-Type: x/y"], body) is Error.OK
    total = len(stream.sent)
    assert 0 < total < len(body)  # request() returned with most of the body still queued
    sizes = []
    for _ in range(10_000):
        if client.get_status() is not Status.STATUS_REQUESTING:
            break
        client.poll()
        sizes.append(client.get_uploaded_bytes())
    assert stream.sent.endswith(body)
    assert b"Content-Length: 10240\r\n" in stream.sent
    assert client.get_uploaded_bytes() == len(body) == client.get_upload_size()
    assert sizes == sorted(sizes)
    assert client.get_status() is Status.STATUS_BODY


def test_early_response_stops_the_upload_and_spends_the_connection() -> None:
    client, stream = adopted(b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n", "whole",
                             close_at_end=False)
    stream.accept_total = 5000
    assert client.request_raw(Method.METHOD_POST, "/up", [], b"x" * 100_000) is Error.OK
    drive(client)
    client.read_response_body_chunk()
    assert client.get_response_code() == 413
    assert client.get_status() is Status.STATUS_DISCONNECTED
    assert len(stream.sent) < 100_000 and stream.closed


def test_streamed_upload_unknown_length_is_chunked() -> None:
    import io

    client, stream = adopted(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", "whole",
                             close_at_end=False)
    source = io.BytesIO(b"z" * 700_000)
    assert client.request_stream(Method.METHOD_PUT, "/f", [], source) is Error.OK
    drive(client)
    assert client.get_response_code() == 201
    sent = bytes(stream.sent)
    assert b"Transfer-Encoding: chunked" in sent and sent.endswith(b"0\r\n\r\n")
    assert client.get_uploaded_bytes() == 700_000 and client.get_upload_size() == -1


def test_streamed_upload_short_source_is_an_error() -> None:
    import io

    client, _ = adopted(b"", "whole", close_at_end=False)
    short = io.BytesIO(b"abc")
    # The source is first read by poll(): request_stream() itself runs no caller code.
    assert client.request_stream(Method.METHOD_PUT, "/f", [], short, 10) is Error.OK
    assert client.poll() is Error.ERR_CONNECTION_ERROR
    assert client.get_status() is Status.STATUS_CONNECTION_ERROR
    assert "upload source ended 7 bytes short" in client.get_error_message()


def test_blocking_mode_reads_a_full_chunk() -> None:
    client, _ = adopted(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"b" * 1000, "bytewise",
        close_at_end=False,
    )
    client.set_blocking_mode(True)
    client.set_read_chunk_size(600)
    client.request(Method.METHOD_GET, "/", [])
    client.poll()  # blocking: one poll completes the head
    assert client.get_status() is Status.STATUS_BODY
    assert len(client.read_response_body_chunk()) == 600
    assert len(client.read_response_body_chunk()) == 400
    assert client.get_status() is Status.STATUS_CONNECTED


def test_read_into_buffer() -> None:
    client, _ = adopted(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef", "whole",
                        close_at_end=False)
    client.request(Method.METHOD_GET, "/", [])
    drive(client)
    buf = bytearray(4)
    assert client.read_response_body_chunk_into(buf) == 4 and buf == b"abcd"
    assert client.read_response_body_chunk_into(buf) == 2 and buf[:2] == b"ef"
    assert client.get_status() is Status.STATUS_CONNECTED


def test_headers_are_consumed_and_repeats_merge() -> None:
    client, _ = adopted(
        b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX: y\r\n"
        b"Content-Length: 0\r\n\r\n",
        "whole",
        close_at_end=False,
    )
    client.request(Method.METHOD_GET, "/", [])
    drive(client)
    assert client.get_response_headers_as_dictionary() == {
        "Set-Cookie": "a=1; b=2", "X": "y", "Content-Length": "0",
    }
    assert not client.has_response()
    assert client.get_response_headers() == []


def test_silent_server_times_out() -> None:
    import time

    client, _ = adopted(b"", "whole", close_at_end=False)
    assert client.set_timeouts(5, 0.2) is Error.OK
    client.request(Method.METHOD_GET, "/", [])
    start = time.monotonic()
    while client.get_status() is Status.STATUS_REQUESTING and time.monotonic() - start < 5:
        client.poll()
        time.sleep(0.01)
    assert client.get_status() is Status.STATUS_CONNECTION_ERROR
    assert "no data" in client.get_error_message()
    assert time.monotonic() - start < 2


def test_stream_that_raises_becomes_connection_error() -> None:
    class Broken(ScriptedStream):
        def recv(self, n: int, /) -> bytes | None:
            raise ConnectionResetError(104, "Connection reset by peer")

    client = HTTPClient()
    client.set_connection(Broken(b"", "whole"))
    client.request(Method.METHOD_GET, "/", [])
    assert client.poll() is Error.ERR_CONNECTION_ERROR
    assert client.get_status() is Status.STATUS_CONNECTION_ERROR


def test_get_with_body_sends_it_with_length() -> None:
    # Spec §9.5: the body goes out for any method, Content-Length only when non-empty.
    client, stream = adopted(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "whole",
                             close_at_end=False)
    client.request(Method.METHOD_GET, "/q", ["Host: x"], "abc")
    drive(client)
    assert stream.sent.endswith(b"Content-Length: 3\r\nUser-Agent: "
                                + DEFAULT_USER_AGENT.encode() + b"\r\nAccept: */*\r\n\r\nabc")


@pytest.mark.parametrize("split", SPLITS)
def test_content_length_zero_is_body_then_connected(split: str) -> None:
    # Spec §9.6: Content-Length: 0 behaves like HEAD: STATUS_BODY, one empty read.
    client, _ = adopted(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", split,
                        close_at_end=False)
    client.request(Method.METHOD_GET, "/", [])
    assert drive(client)[-1] is Status.STATUS_BODY
    assert client.get_response_body_length() == 0
    assert client.read_response_body_chunk() == b""
    assert client.get_status() is Status.STATUS_CONNECTED
