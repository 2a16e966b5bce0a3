"""Hostile HTTP/2 servers: h2's server side over a raw TLS socket (RawServer + ALPN h2).

    with h2_server(tls_material, "ping_flood") as srv:
        ...client requests srv.url("/x") on an h2 session...

Every behaviour is a handler for one connection (see BEHAVIOURS); `h2_server(..., scripts=[a,
b])` gives connection i behaviour i (the last repeats). Bounded like RawServer: socket reads
time out (io_timeout), every loop counts its frames or its time, the server stops on close().
Frames h2 refuses to send (a PUSH_PROMISE to a client that disabled push, DATA after
END_STREAM) are built with hyperframe and written raw.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    HeadersFrame,
    PingFrame,
    PushPromiseFrame,
    SettingsFrame,
)

from .raw import RawConnection, RawServer
from .tlsutil import TLSMaterial

Handler = Callable[[RawConnection], None]

FLOOD_FRAMES = 20_000  # more than the client's cap many times over
HANDLER_LIMIT_S = 20.0  # no behaviour runs longer than this


class Peer:
    """The server end of one connection: an h2 server connection over a RawConnection."""

    def __init__(self, conn: RawConnection, settings: dict[int, int] | None = None,
                 send_preface: bool = True) -> None:
        self.conn = conn
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.h2 = h2.connection.H2Connection(config)
        if settings:
            self.h2.local_settings = h2.settings.Settings(client=False, initial_values=settings)
        self.requests: dict[int, dict[bytes, bytes]] = {}
        self.ended: list[int] = []  # streams whose request is complete, in order
        self.resets: list[int] = []
        self.started = time.monotonic()
        if send_preface:
            self.h2.initiate_connection()
            self.flush()

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.conn.sendall(data)

    def step(self) -> bool:
        """Read once and handle the events; False once the client closed (or time is up)."""
        if time.monotonic() - self.started > HANDLER_LIMIT_S:
            return False
        try:
            data = self.conn.recv(65536)
        except TimeoutError:
            return True
        if not data:
            return False
        for event in self.h2.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                self.requests[event.stream_id or 0] = dict(event.headers or [])
            elif isinstance(event, h2.events.StreamEnded):
                self.ended.append(event.stream_id or 0)
            elif isinstance(event, h2.events.DataReceived):
                self.h2.acknowledge_received_data(event.flow_controlled_length or 0,
                                                  event.stream_id or 0)
            elif isinstance(event, h2.events.StreamReset):
                self.resets.append(event.stream_id or 0)
        self.flush()
        return True

    def next_request(self) -> int | None:
        """The next complete request's stream id (None if the client went away)."""
        while not self.ended:
            if not self.step():
                return None
        return self.ended.pop(0)

    def respond(self, sid: int, body: bytes, extra: list[tuple[str, str]] | None = None) -> None:
        headers = [(":status", "200"), ("content-length", str(len(body))),
                   ("content-type", "text/plain"), *(extra or [])]
        self.h2.send_headers(sid, headers, end_stream=not body)
        if body:
            self.h2.send_data(sid, body, end_stream=True)
        self.flush()

    def path(self, sid: int) -> bytes:
        return self.requests.get(sid, {}).get(b":path", b"")

    def drain(self, seconds: float = 2.0) -> None:
        """Keep reading (answering PINGs, taking RSTs) until the client closes or time is up."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and self.step():
            pass


def serve_ok(conn: RawConnection) -> None:
    """A well-behaved server: 200 "ok <path>" for every request, until the client closes."""
    peer = Peer(conn)
    for _ in range(10_000):
        sid = peer.next_request()
        if sid is None:
            return
        peer.respond(sid, b"ok " + peer.path(sid))


def four_streams(conn: RawConnection) -> None:
    """SETTINGS_MAX_CONCURRENT_STREAMS 4 and answers in batches of 4 (or what came within
    0.3 s), 50 ms after the batch: a client that opened a fifth stream would make h2 here
    raise."""
    peer = Peer(conn, settings={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 4})
    for _ in range(1000):
        batch: list[int] = []
        until = time.monotonic() + 0.3
        while len(batch) < 4 and time.monotonic() < until:
            if peer.ended:
                batch.append(peer.ended.pop(0))
            elif not peer.step():
                return
        # Held a moment: the client's next loop must find every stream busy and queue
        # (answered at once, a thread switch could free one before the fifth is sent).
        time.sleep(0.05)
        for sid in batch:
            peer.respond(sid, b"ok " + peer.path(sid))


def small_header_list(conn: RawConnection) -> None:
    """SETTINGS_MAX_HEADER_LIST_SIZE 600, otherwise well-behaved."""
    peer = Peer(conn, settings={h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 600})
    for _ in range(1000):
        sid = peer.next_request()
        if sid is None:
            return
        peer.respond(sid, b"ok " + peer.path(sid))


def rapid_reset(conn: RawConnection) -> None:
    """Every stream gets its response HEADERS and at once RST_STREAM(CANCEL)."""
    peer = Peer(conn)
    for _ in range(10_000):
        sid = peer.next_request()
        if sid is None:
            return
        peer.h2.send_headers(sid, [(":status", "200")])
        peer.h2.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        peer.flush()


def refuse_all(conn: RawConnection) -> None:
    """Every stream is refused unprocessed (REFUSED_STREAM): safe to retry, but forever."""
    peer = Peer(conn)
    for _ in range(10_000):
        sid = peer.next_request()
        if sid is None:
            return
        peer.h2.reset_stream(sid, h2.errors.ErrorCodes.REFUSED_STREAM)
        peer.flush()


def zero_window(conn: RawConnection) -> None:
    """INITIAL_WINDOW_SIZE 0 and never a WINDOW_UPDATE: no upload byte may be sent."""
    peer = Peer(conn, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    peer.h2.acknowledge_received_data = lambda *a, **k: None  # type: ignore[method-assign]
    peer.drain(HANDLER_LIMIT_S)


def huge_hpack(conn: RawConnection) -> None:
    """A 1 MiB header value: HEADERS plus CONTINUATIONs past every header limit."""
    peer = Peer(conn)
    sid = peer.next_request()
    if sid is None:
        return
    # Without Huffman coding (h2's pure-Python coder needs seconds per MiB), as raw frames.
    block = peer.h2.encoder.encode([(":status", "200"), ("x-huge", "a" * (1 << 20))],
                                   huffman=False)
    size = 16_384
    frames: list[Any] = [HeadersFrame(sid, block[:size], flags=["END_STREAM"])]
    for at in range(size, len(block), size):
        frames.append(ContinuationFrame(sid, block[at : at + size]))
    frames[-1].flags.add("END_HEADERS")
    try:
        for frame in frames:
            conn.sendall(frame.serialize())
    except OSError:
        return  # the client gave up on us: the expected end
    peer.drain()


def header_bomb(conn: RawConnection) -> None:
    """An HPACK bomb: one 4 KiB field in the dynamic table, then 4000 one-byte references
    to it (a 5 KiB block that decodes to 16 MiB)."""
    peer = Peer(conn)
    sid = peer.next_request()
    if sid is None:
        return
    peer.h2.send_headers(sid, [(":status", "200"), *[("x-bomb", "b" * 4000)] * 4000],
                         end_stream=True)
    peer.flush()
    peer.drain()


def _flood(conn: RawConnection, frame: Any) -> None:
    peer = Peer(conn)
    sid = peer.next_request()
    if sid is None:
        return
    raw = frame.serialize()
    batch = raw * 500
    try:
        for _ in range(FLOOD_FRAMES // 500):
            conn.sendall(batch)
    except OSError:
        return  # the client gave up on us: the expected end
    peer.drain()


def settings_flood(conn: RawConnection) -> None:
    """SETTINGS frames, each of which the client must acknowledge, by the thousand."""
    _flood(conn, SettingsFrame(0))


def ping_flood(conn: RawConnection) -> None:
    """PING frames, each of which the client must answer, by the thousand."""
    _flood(conn, PingFrame(0, b"12345678"))


def data_then_ping_flood(conn: RawConnection) -> None:
    """1 MiB of body at full speed (the client's read slices grow), then a PING flood on the
    same stream's connection without ever ending the body."""
    peer = Peer(conn)
    sid = peer.next_request()
    if sid is None:
        return
    peer.h2.send_headers(sid, [(":status", "200")])
    try:
        for _ in range(64):
            peer.h2.send_data(sid, b"d" * 16_384)
            peer.flush()
        batch = PingFrame(0, b"12345678").serialize() * 500
        for _ in range(FLOOD_FRAMES // 500):
            conn.sendall(batch)
    except OSError:
        return  # the client gave up on us: the expected end
    peer.drain()


def goaway_mid_stream(conn: RawConnection) -> None:
    """Waits for 4 requests; answers the first one in two halves with a GOAWAY naming it
    as the last processed stream in between, then closes: the other three must be retried."""
    peer = Peer(conn)
    sids: list[int] = []
    while len(sids) < 4:
        sid = peer.next_request()
        if sid is None:
            return
        sids.append(sid)
    first = min(sids)
    body = b"x" * 20_000
    peer.h2.send_headers(first, [(":status", "200"), ("content-length", str(len(body)))])
    peer.h2.send_data(first, body[:10_000])
    peer.h2.close_connection(h2.errors.ErrorCodes.NO_ERROR, last_stream_id=first)
    peer.flush()
    time.sleep(0.2)
    # h2 refuses to send after its own GOAWAY: the rest as raw frames.
    conn.sendall(DataFrame(first, body[10_000:], flags=["END_STREAM"]).serialize())
    time.sleep(0.2)


def data_after_end(conn: RawConnection) -> None:
    """A complete response, then one more DATA frame on the closed stream."""
    peer = Peer(conn)
    for _ in range(100):
        sid = peer.next_request()
        if sid is None:
            return
        peer.respond(sid, b"ok " + peer.path(sid))
        conn.sendall(DataFrame(sid, b"stray bytes after END_STREAM").serialize())


def push_promise(conn: RawConnection) -> None:
    """A PUSH_PROMISE although the client's SETTINGS said ENABLE_PUSH 0."""
    peer = Peer(conn)
    sid = peer.next_request()
    if sid is None:
        return
    block = peer.h2.encoder.encode([(":method", "GET"), (":scheme", "https"),
                                    (":authority", "localhost"), (":path", "/pushed")])
    frame = PushPromiseFrame(sid, promised_stream_id=2, data=block, flags=["END_HEADERS"])
    conn.sendall(frame.serialize())
    peer.drain()


def one_then_close(conn: RawConnection) -> None:
    """Answers one request, then closes the connection without a GOAWAY."""
    peer = Peer(conn)
    sid = peer.next_request()
    if sid is not None:
        peer.respond(sid, b"ok " + peer.path(sid))
        time.sleep(0.2)


def close_on_second(conn: RawConnection) -> None:
    """Answers one request; reads the next one and closes without a GOAWAY or an answer."""
    peer = Peer(conn)
    sid = peer.next_request()
    if sid is None:
        return
    peer.respond(sid, b"ok " + peer.path(sid))
    peer.next_request()


def invalid_preface(conn: RawConnection) -> None:
    """An HTTP/1.1 answer where the server's SETTINGS frame belongs."""
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
    time.sleep(0.5)


BEHAVIOURS: dict[str, Handler] = {
    "ok": serve_ok,
    "rapid_reset": rapid_reset,
    "four_streams": four_streams,
    "small_header_list": small_header_list,
    "refuse_all": refuse_all,
    "zero_window": zero_window,
    "huge_hpack": huge_hpack,
    "header_bomb": header_bomb,
    "settings_flood": settings_flood,
    "ping_flood": ping_flood,
    "data_then_ping_flood": data_then_ping_flood,
    "goaway_mid_stream": goaway_mid_stream,
    "data_after_end": data_after_end,
    "push_promise": push_promise,
    "invalid_preface": invalid_preface,
    "one_then_close": one_then_close,
    "close_on_second": close_on_second,
}


def h2_context(tls: TLSMaterial, alpn: tuple[str, ...] = ("h2",)) -> ssl.SSLContext:
    ctx = tls.server_context()
    ctx.set_alpn_protocols(list(alpn))
    return ctx


def h2_server(tls: TLSMaterial, *names: str, io_timeout: float = 0.2,
              max_lifetime: float = 60.0) -> RawServer:
    """A RawServer speaking h2 with the named behaviours (connection i runs names[i])."""
    return RawServer(scripts=[BEHAVIOURS[n] for n in names], ssl_context=h2_context(tls),
                     ca_pem_path=tls.ca_pem_path, io_timeout=io_timeout,
                     max_lifetime=max_lifetime, max_connections=16)
