"""HTTP/2 without sockets: field conversions, and server frames fed whole and byte by byte."""

from __future__ import annotations

import subprocess
import sys
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import pytest
from hyperframe.frame import DataFrame

from gdhttp.config import ClientConfig
from gdhttp.constants import Error, Method, Status
from gdhttp.h2conn import H2Exchange, H2Link, H2Registry, LinkState
from gdhttp.h2wire import canonical_name, request_fields, response_lines
from gdhttp.pool import Pool, PoolKey
from gdhttp.protocol import RequestError

KEY = PoolKey("https", "example.test", 443, None, None)


def test_canonical_names() -> None:
    assert canonical_name("content-type") == "Content-Type"
    assert canonical_name("x-request-id") == "X-Request-Id"
    assert canonical_name("etag") == "ETag"
    assert canonical_name("www-authenticate") == "WWW-Authenticate"
    assert canonical_name("server") == "Server"


def test_request_fields_map_http1_lines() -> None:
    fields = request_fields("POST", "/a?b=1", "example.test",
                            ["Host: other.test:8443", "Connection: keep-alive",
                             "TE: trailers", "Transfer-Encoding: chunked", "X-One: 1"],
                            user_agent="gdhttp-test", body_length=5)
    assert fields[:4] == [(b":method", b"POST"), (b":scheme", b"https"),
                          (b":authority", b"other.test:8443"), (b":path", b"/a?b=1")]
    assert (b"x-one", b"1") in fields and (b"te", b"trailers") in fields
    assert (b"content-length", b"5") in fields and (b"user-agent", b"gdhttp-test") in fields
    names = [n for n, _ in fields]
    assert b"connection" not in names and b"transfer-encoding" not in names
    assert b"host" not in names


@pytest.mark.parametrize("path,headers,why", [
    ("/x", ["Bad\r\nInjected: 1"], "header"),
    ("x", [], "must start with '/'"),
    ("/x y", [], "space or control"),
])
def test_request_fields_refuse_what_http2_forbids(path, headers, why) -> None:
    with pytest.raises(RequestError, match=why):
        request_fields("GET", path, "example.test", headers, user_agent="", body_length=None)


def test_response_lines() -> None:
    code, lines = response_lines([(b":status", b"204"), (b"set-cookie", b"a=1"),
                                  (b"set-cookie", b"b=2"), (b"content-type", b"text/plain")])
    assert code == 204
    assert lines == ["Set-Cookie: a=1", "Set-Cookie: b=2", "Content-Type: text/plain"]
    with pytest.raises(ValueError, match="without :status"):
        response_lines([(b"server", b"x")])
    with pytest.raises(ValueError, match="invalid :status"):
        response_lines([(b":status", b"20x")])


class FakeStream:
    """A socket-like stream: what the server side wrote, handed out in pieces of ``piece``."""

    def __init__(self, piece: int) -> None:
        self.piece = piece
        self.inbound = bytearray()
        self.outbound = bytearray()
        self.closed = False

    def recv(self, n: int) -> bytes | None:
        if not self.inbound:
            return None
        size = min(n, self.piece)
        data = bytes(self.inbound[:size])
        del self.inbound[:size]
        return data

    def send(self, data: bytes | memoryview) -> int:
        self.outbound += data
        return len(data)

    def close(self) -> None:
        self.closed = True


class Server:
    def __init__(self, stream: FakeStream) -> None:
        self.stream = stream
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None))
        self.h2.initiate_connection()
        self.flush()
        self.requests: list[int] = []

    def take(self) -> list[h2.events.Event]:
        data, self.stream.outbound = bytes(self.stream.outbound), bytearray()
        events = self.h2.receive_data(data)
        self.requests += [e.stream_id for e in events
                          if isinstance(e, h2.events.RequestReceived)]
        self.flush()
        return events

    def flush(self) -> None:
        self.stream.inbound += self.h2.data_to_send()


def _link(piece: int) -> tuple[H2Link, FakeStream, Server]:
    stream = FakeStream(piece)
    server = Server(stream)
    link = H2Link.adopt(KEY, stream, H2Registry(Pool()), ClientConfig())
    return link, stream, server


def _pump_until(ex: H2Exchange, status: Status, server: Server, limit: int = 20_000) -> None:
    for _ in range(limit):
        if ex.get_status() == status:
            return
        ex.poll()
        server.take()
    raise AssertionError(f"still {ex.get_status().name}: {ex.get_error_message()}")


def _pump(ex: H2Exchange) -> None:
    """Step the shared connection (in STATUS_BODY the exchange's poll() leaves it to reads)."""
    with ex.link.lock:
        ex.link.pump(time.monotonic() + 0.05)


def _read_all(ex: H2Exchange, server: Server) -> bytes:
    out = bytearray()
    buf = bytearray(7)  # odd-sized reads: chunk boundaries never line up with frames
    for _ in range(200_000):
        if ex.get_status() != Status.STATUS_BODY:
            break
        n = ex.read_response_body_chunk_into(buf)
        out += buf[:n]
        server.take()
    return bytes(out)


@pytest.mark.parametrize("piece", [1 << 16, 1], ids=["whole", "byte-by-byte"])
def test_response_frames_whole_and_byte_by_byte(piece: int) -> None:
    link, _, server = _link(piece)
    ex = H2Exchange(link, ClientConfig())
    assert ex.request_raw(Method.METHOD_POST, "/up", ["X-A: 1"], b"hello") == Error.OK
    assert ex.get_status() == Status.STATUS_REQUESTING
    _pump_until(ex, Status.STATUS_REQUESTING, server)
    for _ in range(100):
        ex.poll()
        server.take()
        if server.requests:
            break
    sid = server.requests[0]
    server.h2.send_headers(sid, [(b":status", b"200"), (b"content-type", b"text/plain"),
                                 (b"x-multi", b"1"), (b"x-multi", b"2")])
    server.h2.send_data(sid, b"first part, ", pad_length=10)
    server.h2.send_data(sid, b"second part")
    server.h2.send_headers(sid, [(b"x-checksum", b"abc")], end_stream=True)
    server.flush()
    _pump_until(ex, Status.STATUS_BODY, server)
    assert ex.get_response_code() == 200
    assert ex.get_response_headers() == ["Content-Type: text/plain", "X-Multi: 1", "X-Multi: 2"]
    assert _read_all(ex, server) == b"first part, second part"
    assert ex.get_status() == Status.STATUS_CONNECTED
    assert ex.get_response_trailers() == ["X-Checksum: abc"]
    assert ex.get_uploaded_bytes() == 5
    ex.close()
    assert link.state is LinkState.OPEN and not link.streams


@pytest.mark.parametrize("piece", [1 << 16, 1], ids=["whole", "byte-by-byte"])
def test_goaway_then_data_of_the_processed_stream(piece: int) -> None:
    link, stream, server = _link(piece)
    first, second = H2Exchange(link, ClientConfig()), H2Exchange(link, ClientConfig())
    assert first.request(Method.METHOD_GET, "/1", []) == Error.OK
    assert second.request(Method.METHOD_GET, "/2", []) == Error.OK
    for _ in range(100):
        first.poll()
        server.take()
        if len(server.requests) == 2:
            break
    sid1 = server.requests[0]
    assert len(server.requests) == 2
    server.h2.send_headers(sid1, [(b":status", b"200")])
    server.h2.close_connection(h2.errors.ErrorCodes.NO_ERROR, last_stream_id=sid1)
    server.flush()
    stream.inbound += DataFrame(sid1, b"after the goaway", flags=["END_STREAM"]).serialize()
    _pump_until(first, Status.STATUS_BODY, server)
    assert second.get_status() == Status.STATUS_CONNECTION_ERROR
    assert second.failed_unanswered and "GOAWAY (NO_ERROR)" in second.get_error_message()
    assert _read_all(first, server) == b"after the goaway"
    assert first.get_status() == Status.STATUS_CONNECTED
    first.close()
    second.close()
    assert link.state is LinkState.CLOSED  # drained: nothing left on it


@pytest.mark.parametrize("piece", [1 << 16, 1], ids=["whole", "byte-by-byte"])
def test_window_opens_only_as_the_consumer_reads(piece: int) -> None:
    link, _, server = _link(piece)
    ex = H2Exchange(link, ClientConfig())
    assert ex.request(Method.METHOD_GET, "/big", []) == Error.OK
    for _ in range(100):
        ex.poll()
        server.take()
        if server.requests:
            break
    sid = server.requests[0]
    server.h2.send_headers(sid, [(b":status", b"200")])
    server.flush()
    _pump_until(ex, Status.STATUS_BODY, server)
    sent = 0
    for _ in range(10_000 if piece > 1 else 40):
        room = server.h2.local_flow_control_window(sid)
        if room == 0:
            break
        chunk = min(room, server.h2.max_outbound_frame_size)
        server.h2.send_data(sid, b"z" * chunk)
        sent += chunk
        server.flush()
        _pump(ex)
        server.take()
    if piece == 1:
        return  # byte by byte is too slow to fill megabytes: the frames path is covered above
    assert sent == link.h2.local_settings.initial_window_size  # the stream window, no more
    assert ex._buffered == sent  # buffered, unread: the server is blocked
    buf = bytearray(1 << 20)
    assert ex.read_response_body_chunk_into(buf) == 1 << 20
    _pump(ex)
    server.take()
    assert server.h2.local_flow_control_window(sid) == 1 << 20  # reopened by what was read


def test_cancelled_streams_give_their_unread_window_back() -> None:
    link, _, server = _link(1 << 16)
    stream_window = link.h2.local_settings.initial_window_size
    for i in range(6):  # 6 x 4 MiB unread: more than the 16 MiB connection window
        ex = H2Exchange(link, ClientConfig())
        assert ex.request(Method.METHOD_GET, f"/c{i}", []) == Error.OK
        for _ in range(100):
            ex.poll()
            server.take()
            if len(server.requests) > i:
                break
        sid = server.requests[i]
        server.h2.send_headers(sid, [(b":status", b"200")])
        room = min(server.h2.local_flow_control_window(sid), stream_window)
        assert room == stream_window, f"stream {i}: the server may send only {room}"
        for at in range(0, room, 16384):
            server.h2.send_data(sid, b"c" * min(16384, room - at))
        server.flush()
        for _ in range(2000):
            _pump(ex)
            if ex._buffered == room:
                break
        assert ex._buffered == room
        ex.close()  # unread: RST_STREAM(CANCEL), and the window comes back
        server.take()
    assert link.registry.stats()["h2_resets"] == 6


def _open_streams(link: H2Link, server: Server, count: int) -> list[H2Exchange]:
    exchanges = [H2Exchange(link, ClientConfig()) for _ in range(count)]
    for i, ex in enumerate(exchanges):
        assert ex.request(Method.METHOD_GET, f"/s{i}", []) == Error.OK
    for _ in range(100):
        exchanges[0].poll()
        server.take()
        if len(server.requests) == count:
            return exchanges
    raise AssertionError(f"the server saw {len(server.requests)} requests")


@pytest.mark.parametrize("piece", [1 << 16, 1], ids=["whole", "byte-by-byte"])
def test_interleaved_data_of_two_streams(piece: int) -> None:
    link, _, server = _link(piece)
    a, b = _open_streams(link, server, 2)
    sid_a, sid_b = server.requests
    for sid in (sid_a, sid_b):
        server.h2.send_headers(sid, [(b":status", b"200")])
    for i in range(6):  # plain DATA frames (the fast path), alternating streams
        server.h2.send_data(sid_a, b"A%d" % i)
        server.h2.send_data(sid_b, b"B%d" % i)
    server.h2.end_stream(sid_a)
    server.h2.send_data(sid_b, b"end", end_stream=True)  # END_STREAM: through h2
    server.flush()
    _pump_until(a, Status.STATUS_BODY, server)
    _pump_until(b, Status.STATUS_BODY, server)
    assert _read_all(a, server) == b"A0A1A2A3A4A5"
    assert _read_all(b, server) == b"B0B1B2B3B4B5end"
    assert a.get_status() == b.get_status() == Status.STATUS_CONNECTED


def test_body_longer_than_content_length_is_a_protocol_error() -> None:
    link, stream, server = _link(1 << 16)
    (ex,) = _open_streams(link, server, 1)
    sid = server.requests[0]
    server.h2.send_headers(sid, [(b":status", b"200"), (b"content-length", b"5")])
    server.flush()
    _pump_until(ex, Status.STATUS_BODY, server)
    stream.inbound += DataFrame(sid, b"0123456789").serialize()  # no END_STREAM: fast path
    _pump(ex)
    assert ex.get_status() == Status.STATUS_CONNECTION_ERROR
    assert "HTTP/2 protocol error" in ex.get_error_message()
    assert link.state is LinkState.CLOSED


def test_data_beyond_the_window_is_a_protocol_error() -> None:
    link, stream, server = _link(1 << 16)
    (ex,) = _open_streams(link, server, 1)
    sid = server.requests[0]
    server.h2.send_headers(sid, [(b":status", b"200")])
    server.flush()
    _pump_until(ex, Status.STATUS_BODY, server)
    window = link.h2.local_settings.initial_window_size
    frame = DataFrame(sid, b"w" * 16384).serialize()
    for _ in range(window // 16384 + 1):  # raw: the server's h2 would refuse to send it
        stream.inbound += frame
    for _ in range(200):
        _pump(ex)
        if ex.get_status() == Status.STATUS_CONNECTION_ERROR:
            break
    assert ex.get_status() == Status.STATUS_CONNECTION_ERROR
    assert "HTTP/2 protocol error" in ex.get_error_message()
    assert ex._buffered == 0  # nothing kept of a broken connection


def test_polls_of_an_idle_connection_are_coalesced() -> None:
    link, stream, server = _link(1 << 16)
    exchanges = _open_streams(link, server, 8)
    for _ in range(5):  # take what the server sent so far (SETTINGS, its ACK)
        _pump(exchanges[0])
        server.take()
        time.sleep(0.001)
    assert not stream.inbound
    calls = 0
    recv = stream.recv

    def counting(n: int) -> bytes | None:
        nonlocal calls
        calls += 1
        return recv(n)
    stream.recv = counting  # type: ignore[method-assign]
    started = time.monotonic()
    for _ in range(8):  # a frame's worth of polls: the server has nothing to say
        for ex in exchanges:
            ex.poll()
    if time.monotonic() - started < 0.0002:  # all within the coalescing interval
        assert calls == 1
    assert calls < 64
    server.h2.send_headers(server.requests[0], [(b":status", b"204")], end_stream=True)
    server.flush()
    _pump_until(exchanges[0], Status.STATUS_CONNECTED, server)  # news still get through


def test_h2_is_imported_only_when_a_session_needs_it() -> None:
    # The engine's start pays for every import: games that never turn HTTP/2 on skip h2.
    code = ("import sys, gdhttp.godot_classes, gdhttp.godot_request, gdhttp.godot_session, "
            "gdhttp.godot_eventsource, gdhttp.session as s\n"
            "x = s.Session(); stats = x.get_stats()\n"
            "assert stats['h2_open'] == 0 and stats['h2_streams'] == 0, stats\n"
            "assert 'h2' not in sys.modules and 'gdhttp.h2conn' not in sys.modules\n"
            "x.set_http2_enabled(True)\n"
            "assert x.uses_http2(s.PoolKey('https', 'a', 443, None, None))\n"
            "assert 'gdhttp.h2conn' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
