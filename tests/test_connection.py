"""``Connection`` on its own: the unit a pool will hold, and its budgets by wire bytes.

The wire-byte budgets are checked with a far deadline so that only the bytes can
stop a call: the results do not depend on the machine's speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from gdhttp import limits, protocol
from gdhttp.bodyio import ListSink, UploadSource, UploadSourceError
from gdhttp.config import ClientConfig
from gdhttp.connection import Connection, Phase, ResolveError
from gdhttp.protocol import ProtocolError
from gdhttp.transport import TransportError

from hostile_cases import SplitStream
from servers import RawServer, raw

FAR = 1e9  # a deadline that never comes: only wire bytes may end the call
OK5 = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


class CountingStream(SplitStream):
    """Counts the bytes handed out, to check a call's wire budget."""

    def __init__(self, data: bytes, *, close_at_end: bool = False) -> None:
        super().__init__(data, (limits.FRAMING_READ_SIZE,), close_at_end=close_at_end)

    @property
    def taken(self) -> int:
        return self.pos


def _adopted(data: bytes, *, close_at_end: bool = False) -> tuple[Connection, CountingStream]:
    stream = CountingStream(data, close_at_end=close_at_end)
    conn = Connection.adopt(stream, ClientConfig())
    head = protocol.build_request_head("GET", "/", ["Host: h"], host="", body_length=0,
                                       user_agent="test")
    conn.start_request(head, b"", None, head_request=False)
    assert conn.step_send(FAR)
    return conn, stream


def test_a_connection_to_a_real_server_carries_two_requests(
        raw_server: Callable[..., RawServer]) -> None:
    server = raw_server([raw.read_head(), raw.send(OK5), raw.read_head(), raw.send(OK5),
                         raw.silent(3.0)])
    conn = Connection(server.host, server.port, False, True, ClientConfig())
    assert conn.phase is Phase.CONNECTING  # an IP literal: no resolving
    deadline = time.monotonic() + 5.0
    while conn.step_connect() is not Phase.READY:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    assert conn.is_reusable  # connected, nothing asked yet
    for _ in range(2):
        head = protocol.build_request_head("GET", "/", [], host="h", body_length=0,
                                           user_agent="test")
        conn.start_request(head, b"", None, head_request=False)
        assert not conn.is_reusable  # a request is in flight
        got = None
        while got is None:
            assert time.monotonic() < deadline
            conn.step_send(time.monotonic() + 0.002)
            got = conn.read_head(time.monotonic() + 0.002)
        sink = ListSink()
        while not conn.body_done:
            assert time.monotonic() < deadline
            conn.read_body(sink, 1024, time.monotonic() + 0.002)
        assert (got.status_code, sink.result()) == (200, b"hello")
        assert conn.is_reusable
    conn.close()
    conn.close()  # idempotent
    assert conn.stream is None and not conn.is_reusable
    assert len(server.connections) == 1


def test_an_unresolvable_name_is_a_resolve_error() -> None:
    conn = Connection("name.invalid", 80, False, True, ClientConfig())
    assert conn.phase is Phase.RESOLVING
    deadline = time.monotonic() + 20.0
    with pytest.raises(ResolveError, match=r"cannot resolve name\.invalid"):
        while time.monotonic() < deadline:
            conn.step_connect()
            time.sleep(0.005)
    conn.close()


def test_one_interim_head_per_call() -> None:
    storm = b"HTTP/1.1 100 Continue\r\n\r\n" * 5 + OK5
    conn, _ = _adopted(storm)
    calls = 0
    head = None
    while head is None:
        calls += 1
        head = conn.read_head(FAR)
    assert calls == 6 and head.status_code == 200


def test_a_head_flood_fails_in_one_call_having_read_little_more_than_the_head_limit() -> None:
    flood = b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 100_000
    conn, stream = _adopted(flood)
    with pytest.raises(ProtocolError, match="larger than"):
        conn.read_head(FAR)
    assert stream.taken <= limits.MAX_HEADER_BLOCK + 2 * limits.FRAMING_READ_SIZE


def test_a_body_read_stops_at_the_wire_budget_not_the_body_budget() -> None:
    chunks = b"1\r\nx\r\n" * 200_000 + b"0\r\n\r\n"
    conn, stream = _adopted(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
    assert conn.read_head(FAR) is not None
    body = bytearray()
    calls = 0
    while not conn.body_done:
        calls += 1
        assert calls < 10_000
        before = stream.taken
        sink = ListSink()
        conn.read_body(sink, limits.MAX_READ_CHUNK_SIZE, FAR)
        assert stream.taken - before <= limits.POLL_WIRE_BUDGET + limits.FRAMING_READ_SIZE
        body += sink.result()
    assert body == b"x" * 200_000
    assert calls >= len(chunks) // (limits.POLL_WIRE_BUDGET + limits.FRAMING_READ_SIZE)


def test_the_socket_is_not_read_while_the_parser_holds_bytes() -> None:
    conn, _ = _adopted(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       + b"1\r\nx\r\n" * 100_000 + b"0\r\n\r\n")
    assert conn.read_head(FAR) is not None
    assert conn.reader is not None
    for _ in range(200):
        conn.read_body(ListSink(), 1 << 20, time.monotonic() + 0.0001)
        # What the reader buffers never grows past one framing read beyond the budget.
        assert conn.reader.buffered <= limits.POLL_WIRE_BUDGET + limits.FRAMING_READ_SIZE


def test_an_until_close_body_ends_the_reuse() -> None:
    conn, _ = _adopted(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbye", close_at_end=True)
    assert conn.read_head(FAR) is not None
    sink = ListSink()
    while not conn.body_done:
        conn.read_body(sink, 1024, FAR)
    assert sink.result() == b"bye" and not conn.is_reusable


def test_an_early_answer_spends_the_connection() -> None:
    stream = CountingStream(OK5)
    stream.send = lambda data, /: 0  # type: ignore[method-assign]  # the server stopped reading
    conn = Connection.adopt(stream, ClientConfig())
    head = protocol.build_request_head("PUT", "/", ["Host: h"], host="", body_length=3,
                                       user_agent="t")
    conn.start_request(head, b"abc", None, head_request=False)
    assert conn.step_send(FAR)  # the socket is full
    assert conn.read_head(FAR) is not None
    assert conn.spent and not conn.sending and not conn.is_reusable


def test_silence_is_a_transport_error() -> None:
    conn, _ = _adopted(b"")
    conn.config.read_timeout = 0.05
    time.sleep(0.1)
    with pytest.raises(TransportError, match=r"no data for 0\.05 s"):
        conn.check_silence("response")


def test_upload_source_counts_and_refuses_a_wrong_length() -> None:
    source = UploadSource(iter([b"ab", b"", b"cd"]), 4)
    assert [source.next_block(), source.next_block(), source.next_block()] == [b"ab", b"cd", b""]
    assert source.ended
    with pytest.raises(UploadSourceError, match="more bytes than its length"):
        UploadSource(iter([b"abcdef"]), 4).next_block()
    short = UploadSource(iter([b"ab"]), 4)
    assert short.next_block() == b"ab"
    with pytest.raises(UploadSourceError, match="ended 2 bytes short"):
        short.next_block()
