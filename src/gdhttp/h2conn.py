"""HTTP/2 for sessions: one shared connection per origin, many request streams.

Three parts:

- ``H2Link``: one TLS connection (connected by a ``Connection``, ALPN h2) and
  its ``h2.connection.H2Connection``. It is pumped by whichever of its streams
  polls: bounded in wire bytes (``POLL_WIRE_BUDGET``) and time
  (``POLL_TIME_BUDGET_S``), read in slices that shrink when slow, at most
  ``H2_MAX_FRAMES_PER_FEED`` frames per h2 call; plain DATA frames skip h2 (see
  ``_take_data``). One re-entrant lock guards it (``use_threads`` workers share
  links).
- ``H2Exchange``: one request/response on a link, offering the part of the
  ``HTTPClient`` surface an ``Attempt`` uses (status, request, head, body
  reads). The session's ``Lease`` hands it out instead of its HTTP/1.1 client.
- ``H2Registry``: a session's links by ``PoolKey``. The first request to an
  origin opens a link; the others join it while it connects. If the server's
  ALPN picks HTTP/1.1 the connection is handed to the HTTP/1.1 pool as an idle
  one and the origin is remembered: those requests go the HTTP/1.1 way.

Errors: h2's ProtocolError, transport errors and our own flood checks end the
link (every stream on it fails with a message); a stream reset ends one
stream. Streams the server never processed (above a GOAWAY's last stream id,
REFUSED_STREAM) say so in ``failed_unanswered``: the Lease sends them again on
a new link (RFC 9113 8.7 makes that safe for any method).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from enum import Enum
from typing import IO, Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import h2.stream
import hpack.hpack
import hyperframe.frame
from hpack.huffman_table import decode_huffman as _huffman

from gdhttp import limits
from gdhttp.bodyio import UploadSource, UploadSourceError, is_upload_source
from gdhttp.config import ClientConfig, redact
from gdhttp.connection import Connection, Phase, ResolveError
from gdhttp.constants import METHOD_VERBS, Error, Method, Status
from gdhttp.h2wire import (
    H2_ALPN,
    H2_COUNTERS,
    authority_for,
    canonical_name,
    request_fields,
    response_lines,
)
from gdhttp.pool import Pool, PoolKey
from gdhttp.protocol import RequestError
from gdhttp.report import RequestTimings
from gdhttp.transport import SocketStream, Stream, TlsError, TransportError

__all__ = ["H2Exchange", "H2Link", "H2Registry"]

log = logging.getLogger("gdhttp")

_S = h2.settings.SettingCodes


def _data_repr(self: hyperframe.frame.Frame) -> str:
    return f"<{len(getattr(self, 'data', b''))} bytes>"


# h2 formats every received frame for its trace log, logging on or not; for DATA that
# was a hex dump of the payload: 18% of a download's CPU. A length says enough.
hyperframe.frame.DataFrame._body_repr = _data_repr  # type: ignore[method-assign]


@functools.lru_cache(maxsize=limits.H2_HUFFMAN_CACHE)
def _huffman_cached(data: bytes) -> bytes:
    return _huffman(data)


def _decode_huffman(huffman_string: bytes | bytearray | memoryview | None) -> bytes:
    data = huffman_string
    if data is not None and len(data) <= limits.H2_HUFFMAN_CACHE_MAX_LEN:
        return _huffman_cached(bytes(data))
    return _huffman(data)


# hpack decodes every Huffman string in pure Python, per bit; responses to one burst
# repeat the same strings (date, type, etag): decode each once (invalid ones still raise).
hpack.hpack.decode_huffman = _decode_huffman  # type: ignore[attr-defined]
_DATA, _SETTINGS, _GOAWAY = 0x0, 0x4, 0x7  # frame types (RFC 9113 6)
#: Stream states in which the server may send DATA (h2's own table).
_DATA_STATES = frozenset({h2.stream.StreamState.OPEN, h2.stream.StreamState.HALF_CLOSED_LOCAL})
_WAITING = (Status.STATUS_RESOLVING, Status.STATUS_CONNECTING)
_ERRORS = (TransportError, h2.exceptions.H2Error, UploadSourceError, OSError, ValueError)


class LinkState(Enum):
    CONNECTING = "connecting"
    OPEN = "open"
    DRAINING = "draining"  # GOAWAY received or sent: no new streams
    HTTP1 = "http1"  # ALPN chose HTTP/1.1: the connection went to the HTTP/1.1 pool
    CLOSED = "closed"


class _LinkFailure(Exception):
    """Ends a link: every stream on it fails with this message."""


def _new_h2() -> h2.connection.H2Connection:
    config = h2.config.H2Configuration(client_side=True, header_encoding=None)
    conn = h2.connection.H2Connection(config)
    # Set before the preface: our values are in force at once, not after the ACK.
    conn.local_settings = h2.settings.Settings(client=True, initial_values={
        _S.ENABLE_PUSH: 0,
        _S.INITIAL_WINDOW_SIZE: limits.H2_STREAM_WINDOW,
        _S.MAX_HEADER_LIST_SIZE: limits.H2_MAX_HEADER_LIST,
        _S.HEADER_TABLE_SIZE: limits.H2_HEADER_TABLE_SIZE,
        _S.MAX_CONCURRENT_STREAMS: 100,
    })
    conn.decoder.max_header_list_size = limits.H2_MAX_HEADER_LIST
    conn.decoder.max_allowed_table_size = limits.H2_HEADER_TABLE_SIZE
    conn.initiate_connection()
    conn.increment_flow_control_window(limits.H2_CONNECTION_WINDOW - 65535)
    return conn


class H2Link:
    """One shared HTTP/2 connection; see the module doc. Callers hold ``lock``."""

    def __init__(self, key: PoolKey, conn: Connection, registry: H2Registry) -> None:
        self.key, self.conn, self.registry = key, conn, registry
        self.lock = threading.RLock()
        self.state = LinkState.CONNECTING
        # Made now, not at READY: requests submitted during the handshake (idle round
        # trips) are HPACK-encoded at once and leave with the preface in one write.
        self.h2: h2.connection.H2Connection | None = _new_h2()
        self.streams: dict[int, H2Exchange] = {}
        self._uploading: set[int] = set()  # stream ids with request body left to queue
        self.members: list[H2Exchange] = []  # attached, not yet given a stream id
        self.queue: deque[H2Exchange] = deque()  # sent, waiting for a free stream
        self.failure = ""
        self.fail_status = Status.STATUS_CONNECTION_ERROR
        self.idle_since = time.monotonic()
        self.completed = 0  # responses received whole
        self._got_settings = False
        self._outbox = bytearray()
        self._feed = limits.H2_FEED_MIN
        self._inbuf = bytearray()  # received bytes not handled yet (a partial frame at most)
        self._frames = 0  # 0 until the first frame (which must be SETTINGS) is seen
        self._control = 0
        self._control_since = time.monotonic()
        self._idle_at = 0.0  # when a pump last found nothing to do
        self.last_io = time.monotonic()

    @classmethod
    def adopt(cls, key: PoolKey, stream: Stream, registry: H2Registry,
              config: ClientConfig) -> H2Link:
        """A link over a ready stream that already speaks h2 (tests, tunnels)."""
        link = cls(key, Connection.adopt(stream, config), registry)
        link.state = LinkState.OPEN
        return link

    def __repr__(self) -> str:
        return f"<H2Link {self.state.value} {self.key.host}:{self.key.port} {len(self.streams)}>"

    @property
    def stream(self) -> Stream | None:
        return self.conn.stream

    # ------------------------------------------------------------------ pumping

    def pump(self, deadline: float, force: bool = False) -> None:
        """Connect, write, read and dispatch within the budgets; never raises.

        Unless ``force``d, a pump right after one that found nothing to do is skipped:
        64 streams polling an idle connection would otherwise cost 64 passes (and
        64 handshake syscalls while it connects) per frame."""
        if self.state in (LinkState.CLOSED, LinkState.HTTP1):
            return
        now = time.monotonic()
        if not force and now - self._idle_at < limits.H2_IDLE_PUMP_INTERVAL_S:
            return
        self._idle_at = now  # until something moves
        try:
            if self.state is LinkState.CONNECTING and not self._step_connect():
                return
            moved = self._write(deadline)
            moved = self._read(deadline) or moved
            self._start_queued()
            moved = self._write(deadline) or moved
            if moved:
                self._idle_at = 0.0
        except (_LinkFailure, *_ERRORS) as exc:
            self._fail(str(exc) or type(exc).__name__, exc)
        except Exception as exc:  # a bug of ours (or h2's): contained to this link
            log.exception("gdhttp: internal error in the HTTP/2 connection")
            self._fail(f"internal error in the HTTP/2 connection: {exc!r}", exc)

    def _step_connect(self) -> bool:
        """True once the connection speaks h2."""
        phase = self.conn.phase
        if self.conn.step_connect() is not Phase.READY:
            if self.conn.phase is not phase:
                self._idle_at = 0.0  # a step forward: the next poll goes on at once
            return False
        stream = self.conn.stream
        sock = stream.sock if isinstance(stream, SocketStream) else None
        chosen = getattr(sock, "selected_alpn_protocol", lambda: None)()
        if chosen != "h2":
            self.state = LinkState.HTTP1
            self.registry._went_http1(self)
            # Early requests never left (h2's buffer is dropped): the Lease sends them again.
            for member in [*self.members, *self.streams.values(), *self.queue]:
                member.fallback = True
            self.members.clear()
            self.streams.clear()
            self.queue.clear()
            self.h2 = None
            return False
        self.state = LinkState.OPEN
        self.last_io = time.monotonic()
        self.registry.count("h2_connections")
        self.registry.count("h2_streams", len(self.streams))  # given early, sent now
        return True

    def _write(self, deadline: float) -> int:
        """Bytes written."""
        stream, h2c = self.conn.stream, self.h2
        if stream is None or h2c is None:
            return 0
        self._fill_uploads()
        self._outbox += h2c.data_to_send()
        sent_any = 0
        while self._outbox:
            view = memoryview(self._outbox)[: limits.MAX_SEND_SIZE]
            try:
                sent = stream.send(view)
            finally:
                view.release()
            if sent <= 0:
                break
            del self._outbox[:sent]
            sent_any += sent
            if time.monotonic() >= deadline:
                break
            if not self._outbox:
                self._fill_uploads()
                self._outbox += h2c.data_to_send()
        if sent_any:
            self.last_io = time.monotonic()
        return sent_any

    def _fill_uploads(self) -> None:
        """Queue DATA for streams with body left, within their flow-control windows."""
        h2c = self.h2
        assert h2c is not None
        if not self._uploading or len(self._outbox) >= limits.H2_MAX_OUTBOX // 2:
            return
        for sid in sorted(self._uploading):
            ex = self.streams.get(sid)
            if ex is None or ex.upload_done or sid not in h2c.streams:
                self._uploading.discard(sid)
                continue
            if ex._ended:  # answered in full before the body went out: stop sending it
                ex._body = ex._source = None
                ex.upload_done = True
                continue
            if not self._got_settings:
                return  # the server's SETTINGS may shrink the windows: wait for them
            room = min(h2c.local_flow_control_window(sid), limits.H2_UPLOAD_SLICE)
            while room > 0:
                block = ex._next_upload(min(room, h2c.max_outbound_frame_size))
                if block is None:
                    break
                if block:
                    h2c.send_data(sid, block)
                    ex.uploaded += len(block)
                    room -= len(block)
                if ex.upload_done:
                    h2c.end_stream(sid)
                    break

    def _read(self, deadline: float) -> int:
        """Receive and handle frames within the wire budget and the deadline.

        Complete frames are taken off ``_inbuf``: plain DATA frames of our open
        streams directly (``_take_data``: h2 would copy each payload three times
        and walk two state machines per frame), everything else through h2, at
        most H2_MAX_FRAMES_PER_FEED frames per call and never past a GOAWAY.
        """
        stream, h2c = self.conn.stream, self.h2
        assert stream is not None and h2c is not None
        wire = 0
        while len(self._outbox) < limits.H2_MAX_OUTBOX:
            started = time.monotonic()
            if not self._has_frame():
                if wire >= limits.POLL_WIRE_BUDGET:
                    return wire
                data = stream.recv(self._feed)
                if data is None:
                    return wire
                if not data:
                    raise _LinkFailure("server closed the HTTP/2 connection")
                if len(data) < self._feed:
                    data = self._gather(stream, data)
                self.last_io = time.monotonic()
                wire += len(data)
                self._inbuf += data
            self._handle_frames(h2c)
            took = time.monotonic() - started
            if took > limits.H2_FEED_SLOW_S:
                self._feed = max(limits.H2_FEED_MIN, self._feed // 2)
            elif not self._has_frame():
                self._feed = min(self._feed * 2, limits.H2_FEED_MAX)
            if self.state is LinkState.CLOSED or time.monotonic() >= deadline:
                return wire or 1
            self._outbox += h2c.data_to_send()
        return wire

    def _has_frame(self) -> bool:
        buf = self._inbuf
        return len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big")

    def _gather(self, stream: Stream, data: bytes) -> bytes:
        """More of what is ready, up to the feed size: TLS hands out one record (16 KiB)
        per read, and every pass over the frames costs."""
        parts, size = [data], len(data)
        while size < self._feed:
            more = stream.recv(self._feed - size)
            if not more:
                break  # nothing now, or the EOF: the next recv() reports it again
            parts.append(more)
            size += len(more)
        return data if len(parts) == 1 else b"".join(parts)

    def _handle_frames(self, h2c: h2.connection.H2Connection) -> None:
        """Handle the complete frames at the front of ``_inbuf`` (one h2 batch at most)."""
        buf = self._inbuf
        pos, end, batch_start, batch = 0, len(buf), -1, 0
        goaway = False
        while end - pos >= 9:
            length = int.from_bytes(buf[pos : pos + 3], "big")
            kind, flags = buf[pos + 3], buf[pos + 4]
            self._check_frame_head(h2c, length, kind)
            if end - pos < 9 + length:
                break  # a frame still arriving; its size was checked above
            sid = int.from_bytes(buf[pos + 5 : pos + 9], "big") & 0x7FFFFFFF
            if kind == _DATA and not flags and batch_start < 0 and length and \
                    self._take_data(h2c, sid, buf, pos + 9, length):
                pos += 9 + length
                continue
            if batch_start < 0:
                batch_start = pos
            pos += 9 + length
            batch += 1
            if kind == _GOAWAY:
                goaway = True
                break
            if batch >= limits.H2_MAX_FRAMES_PER_FEED:
                break
            nxt = pos
            if end - nxt >= 9 and buf[nxt + 3] == _DATA and not buf[nxt + 4]:
                break  # let the fast path take the next DATA frame
        if batch_start >= 0:
            chunk = bytes(buf[batch_start:pos])
            del buf[:pos]
            for event in h2c.receive_data(chunk):
                self._dispatch(event)
            if goaway and self.streams:
                # h2 closes its state machine on GOAWAY and would refuse the frames
                # of the streams the server still finishes (RFC 9113 6.8): reopen it;
                # DRAINING keeps us from starting new streams.
                h2c.state_machine.state = h2.connection.ConnectionState.CLIENT_OPEN
        elif pos:
            del buf[:pos]

    def _take_data(self, h2c: h2.connection.H2Connection, sid: int, buf: bytearray,
                   start: int, length: int) -> bool:
        """A plain DATA frame (no padding, not the last) of an open stream of ours, with
        h2's own accounting (flow-control windows, content length); False: not such a
        frame, h2 takes it."""
        ex = self.streams.get(sid)
        stream = h2c.streams.get(sid)
        if ex is None or stream is None or not self._got_settings or \
                h2c.state_machine.state is not h2.connection.ConnectionState.CLIENT_OPEN or \
                stream.state_machine.state not in _DATA_STATES or \
                not stream.state_machine.headers_received:
            return False
        try:
            h2c._inbound_flow_control_window_manager.window_consumed(length)
            stream._inbound_window_manager.window_consumed(length)
            stream._track_content_length(length, False)
        except h2.exceptions.ProtocolError as exc:  # as h2 would: GOAWAY with the code
            h2c.close_connection(exc.error_code)
            raise
        ex._on_data(bytes(buf[start : start + length]), length)
        return True

    def _check_frame_head(self, h2c: h2.connection.H2Connection, length: int,
                          kind: int) -> None:
        """Refuse at the header what h2 would buffer whole first (up to 16 MiB)."""
        problem, code = "", h2.errors.ErrorCodes.PROTOCOL_ERROR
        if self._frames == 0 and kind != _SETTINGS:
            problem = "invalid preface: the server did not start with a SETTINGS frame"
        elif length > h2c.max_inbound_frame_size:
            problem = (f"frame of {length} bytes exceeds SETTINGS_MAX_FRAME_SIZE "
                       f"({h2c.max_inbound_frame_size})")
            code = h2.errors.ErrorCodes.FRAME_SIZE_ERROR
        if problem:
            h2c.close_connection(code)
            raise h2.exceptions.ProtocolError(problem)
        if self._frames == 0:
            self._frames = 1

    def _control_frame(self, what: str) -> None:
        now = time.monotonic()
        if now - self._control_since > limits.H2_FLOOD_WINDOW_S:
            self._control, self._control_since = 0, now
        self._control += 1
        if self._control > limits.H2_MAX_CONTROL_FRAMES:
            assert self.h2 is not None
            self.h2.close_connection(h2.errors.ErrorCodes.ENHANCE_YOUR_CALM)
            raise _LinkFailure(f"HTTP/2 {what} flood: more than {limits.H2_MAX_CONTROL_FRAMES} "
                               f"control frames in {limits.H2_FLOOD_WINDOW_S:g} s")

    def _dispatch(self, event: h2.events.Event) -> None:
        ev = h2.events
        if not self._got_settings:
            if not isinstance(event, ev.RemoteSettingsChanged):
                raise _LinkFailure("invalid HTTP/2 preface: the server did not start with "
                                   "SETTINGS")
            self._got_settings = True
        if isinstance(event, ev.DataReceived):
            if not event.data and event.stream_ended is None:
                self._control_frame("empty DATA")  # costs a frame, carries nothing
            ex = self.streams.get(event.stream_id or 0)
            if ex is None:  # a stream we already closed: give the window back
                if event.stream_id in (self.h2.streams if self.h2 else {}):
                    self._ack(event.flow_controlled_length or 0, event.stream_id or 0)
                return
            ex._on_data(event.data or b"", event.flow_controlled_length or 0)
        elif isinstance(event, ev.ResponseReceived):
            ex = self.streams.get(event.stream_id or 0)
            if ex is not None:
                ex._on_head(event.headers or [], bool(event.stream_ended))
        elif isinstance(event, ev.TrailersReceived):
            ex = self.streams.get(event.stream_id or 0)
            if ex is not None:
                ex._on_trailers(event.headers or [])
        elif isinstance(event, ev.StreamEnded):
            ex = self.streams.get(event.stream_id or 0)
            if ex is not None:
                ex._on_end()
        elif isinstance(event, ev.StreamReset):
            ex = self.streams.pop(event.stream_id or 0, None)
            if ex is None:
                self._control_frame("RST_STREAM")
            else:
                ex._on_reset(int(event.error_code or 0))
        elif isinstance(event, ev.ConnectionTerminated):
            self._on_goaway(event)
        elif isinstance(event, ev.PushedStreamReceived):
            assert self.h2 is not None
            self.h2.close_connection(h2.errors.ErrorCodes.PROTOCOL_ERROR)
            raise _LinkFailure("HTTP/2 protocol error: PUSH_PROMISE received with push "
                               "disabled")
        elif isinstance(event, ev.PingReceived):
            self._control_frame("PING")
        elif isinstance(event, ev.RemoteSettingsChanged):
            self._control_frame("SETTINGS")
        elif isinstance(event, ev.UnknownFrameReceived):
            self._control_frame("unknown frame")

    def _on_goaway(self, event: h2.events.ConnectionTerminated) -> None:
        last = event.last_stream_id or 0
        code = event.error_code
        self.state = LinkState.DRAINING
        self.registry._forget(self)
        for sid, ex in list(self.streams.items()):
            if sid > last:
                del self.streams[sid]
                ex._unprocessed(f"server's GOAWAY ({_error_name(int(code or 0))}) came "
                                "before it processed the request")
        for ex in list(self.queue):
            ex._unprocessed("server's GOAWAY came before the request was sent")
        self.queue.clear()
        if not self.streams:
            self.close()

    def _start_queued(self) -> None:
        """Open streams for queued requests while the server's limit allows."""
        h2c = self.h2
        while self.queue and h2c is not None and self.state is LinkState.OPEN \
                and h2c.open_outbound_streams < self.max_streams:
            ex = self.queue.popleft()
            self._open_stream(ex)

    @property
    def max_streams(self) -> int:
        assert self.h2 is not None
        if not self._got_settings:
            return limits.H2_ASSUMED_MAX_STREAMS
        return min(self.h2.remote_settings.max_concurrent_streams, limits.H2_MAX_STREAMS)

    def _open_stream(self, ex: H2Exchange) -> None:
        h2c = self.h2
        assert h2c is not None and ex.fields is not None
        sid = h2c.get_next_available_stream_id()
        end = ex.upload_done
        h2c.send_headers(sid, ex.fields, end_stream=end)
        if not end:
            self._uploading.add(sid)
        ex.stream_id = sid
        ex.last_io = time.monotonic()
        self.streams[sid] = ex
        if self.state is not LinkState.CONNECTING:  # early ones count once sent
            self.registry.count("h2_streams")

    # ------------------------------------------------------------------ streams

    def submit(self, ex: H2Exchange) -> None:
        """Send ``ex``'s request now, or queue it until a stream is free (lock held)."""
        if ex in self.members:
            self.members.remove(ex)
        h2c = self.h2
        assert h2c is not None
        remote_limit = h2c.remote_settings.max_header_list_size
        assert ex.fields is not None
        size = sum(len(n) + len(v) + 32 for n, v in ex.fields)
        if remote_limit is not None and size > remote_limit:
            raise RequestError(f"request header list ({size} bytes) exceeds the server's "
                               f"SETTINGS_MAX_HEADER_LIST_SIZE ({remote_limit})")
        if self.queue or h2c.open_outbound_streams >= self.max_streams:
            self.queue.append(ex)
            self.registry.count("h2_queued")
        else:
            self._open_stream(ex)

    def _ack(self, size: int, sid: int) -> None:
        h2c = self.h2
        if size and h2c is not None and self.state is not LinkState.CLOSED:
            try:
                h2c.acknowledge_received_data(size, sid)
            except h2.exceptions.StreamClosedError:
                pass  # closed meanwhile: h2 still opened the connection window

    def release(self, ex: H2Exchange) -> None:
        """``ex`` is done with the link: reset its stream if it is still open (lock held)."""
        if ex in self.members:
            self.members.remove(ex)
        if ex in self.queue:
            self.queue.remove(ex)
        sid = ex.stream_id
        h2c = self.h2
        open_here = sid is not None and self.streams.pop(sid, None) is ex
        queued = False  # a frame for the server: RST_STREAM or WINDOW_UPDATE
        if open_here and h2c is not None and self.state is not LinkState.CLOSED \
                and not ex.closed_cleanly:
            assert sid is not None
            try:
                h2c.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
            except h2.exceptions.H2Error:
                pass  # already closed on h2's side
            else:
                queued = True
                self.registry.count("h2_resets")
        if sid is not None and h2c is not None:
            # What was received and never read still holds the connection's window:
            # give it back, or cancelled downloads would shrink it for good.
            unread, ex._unacked = ex._unacked + ex._buffered, 0
            ex._chunks.clear()
            ex._buffered = 0
            self._ack(unread, sid)
            queued = queued or unread > 0
        if queued:  # out now: a link nobody polls any more would keep it
            self.pump(time.monotonic() + limits.POLL_SEND_BUDGET_S, force=True)
        if not self.streams and not self.queue and not self.members:
            self.idle_since = time.monotonic()
            # Draining: done. Connecting: nobody would step the handshake any more.
            if self.state in (LinkState.DRAINING, LinkState.CONNECTING):
                self.close()

    def _fail(self, message: str, exc: BaseException | None = None) -> None:
        if self.state is LinkState.CLOSED:
            return
        if isinstance(exc, ResolveError):
            self.fail_status = Status.STATUS_CANT_RESOLVE
        elif isinstance(exc, TlsError) and self.state is LinkState.CONNECTING:
            self.fail_status = Status.STATUS_SSL_HANDSHAKE_ERROR
        elif self.state is LinkState.CONNECTING:
            self.fail_status = Status.STATUS_CANT_CONNECT
        elif isinstance(exc, h2.exceptions.ProtocolError) and self.h2 is not None:
            message = f"HTTP/2 protocol error: {message}"
            try:  # h2 queued its GOAWAY: one best-effort write
                self._outbox += self.h2.data_to_send()
                if self.conn.stream is not None:
                    self.conn.stream.send(bytes(self._outbox[: limits.MAX_SEND_SIZE]))
            except (TransportError, OSError):
                pass
        self.failure = redact(message)
        log.info("gdhttp: HTTP/2 connection to %s:%s ended: %s", self.key.host, self.key.port,
                 self.failure)
        self.close()

    def close(self) -> None:
        """Close the socket; every unfinished stream fails (idempotent, lock held)."""
        if self.state is LinkState.CLOSED:
            return
        if self.state is not LinkState.HTTP1:
            self.conn.close()
        self.state = LinkState.CLOSED
        self.registry._forget(self)
        message = self.failure or "the HTTP/2 connection was closed"
        for ex in [*self.streams.values(), *self.queue, *self.members]:
            # Dropped unanswered on a connection that had served: an idempotent request
            # may go again, as on a reused HTTP/1.1 connection.
            ex.unanswered = not ex._has_head and self.completed > 0
            ex._lost(self.fail_status, message)
        self.streams.clear()
        self.queue.clear()
        self.members.clear()


class H2Exchange:
    """One request on an ``H2Link``, as an ``Attempt`` sees an ``HTTPClient``."""

    def __init__(self, link: H2Link, config: ClientConfig) -> None:
        self.link = link
        self._config = config
        self.stream_id: int | None = None
        self.fields: list[tuple[bytes, bytes]] | None = None
        self.fallback = False  # the server chose HTTP/1.1: the Lease takes over
        self.unprocessed = False
        #: The connection ended before any response to it (no GOAWAY said why).
        self.unanswered = False
        self.closed_cleanly = False
        self.uploaded = 0
        self._upload_size = -1
        self._body: memoryview | None = None
        self._source: UploadSource | None = None
        self.upload_done = True
        self._status = Status.STATUS_CONNECTED if link.state is LinkState.OPEN \
            else Status.STATUS_CONNECTING
        self._error = ""
        self._code = 0
        self._headers: list[str] = []
        self._trailers: list[str] = []
        self._has_head = False
        self._length = -1
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._ended = False
        self._unacked = 0
        self.last_io = time.monotonic()
        # A request that joins an open link skipped its setup: its DNS/connect/TLS are 0.
        self._joined_open = link.state is LinkState.OPEN
        self._timings = RequestTimings(link.conn.report, reused=self._joined_open)

    def __repr__(self) -> str:
        return f"<H2Exchange {self.stream_id} {self._status.name}>"

    # ------------------------------------------------------------------ link callbacks

    def _on_head(self, fields: list[tuple[bytes, bytes]], ended: bool) -> None:
        try:
            self._code, self._headers = response_lines(fields)
        except ValueError as exc:
            self._lost(Status.STATUS_CONNECTION_ERROR, f"invalid HTTP/2 response: {exc}")
            return
        self._has_head = True
        self.last_io = time.monotonic()
        self._timings.first_byte = self.last_io
        for line in self._headers:
            name, _, value = line.partition(":")
            if name.lower() == "content-length" and value.strip().isdigit():
                self._length = int(value.strip())
        if ended:
            self._ended = True
            self.closed_cleanly = self.upload_done
            self.link.completed += 1
        self._status = Status.STATUS_CONNECTED if ended else Status.STATUS_BODY

    def _on_data(self, data: bytes, flow_length: int) -> None:
        self.last_io = time.monotonic()
        if data:
            self._chunks.append(data)
            self._buffered += len(data)
        # Padding counts against the window but is never read: give it back now.
        self._unacked += flow_length - len(data)
        self._give_back()

    def _on_trailers(self, fields: list[tuple[bytes, bytes]]) -> None:
        self._trailers = [line for line in _lines(fields)]

    def _on_end(self) -> None:
        self._ended = True
        self._timings.finish()
        self.closed_cleanly = self.upload_done
        self.link.completed += 1
        if self._status is Status.STATUS_REQUESTING and not self._has_head:
            self._lost(Status.STATUS_CONNECTION_ERROR, "HTTP/2 stream ended without a response")
        elif self._buffered == 0 and self._status is Status.STATUS_BODY:
            self._status = Status.STATUS_CONNECTED

    def _on_reset(self, code: int) -> None:
        if self._ended and self._has_head:
            # A reset after the whole response (e.g. NO_ERROR to stop our upload): keep it.
            self.closed_cleanly = True
            return
        name = _error_name(code)
        if code == h2.errors.ErrorCodes.REFUSED_STREAM and not self._has_head:
            self._unprocessed(f"server refused the HTTP/2 stream ({name})")
        else:
            self._lost(Status.STATUS_CONNECTION_ERROR, f"server reset the HTTP/2 stream ({name})")

    def _unprocessed(self, message: str) -> None:
        self.unprocessed = True
        self._lost(Status.STATUS_CONNECTION_ERROR, message)

    def _lost(self, status: Status, message: str) -> None:
        if self._status in (Status.STATUS_CONNECTED, Status.STATUS_DISCONNECTED) \
                and self._has_head and self._ended:
            return  # complete already: nothing is lost
        self._status = status
        self._error = redact(message)
        self._timings.finish()
        self._unacked += self._buffered  # given back to the connection by release()
        self._chunks.clear()
        self._buffered = 0

    def _give_back(self) -> None:
        """Open the stream's window by what was read (h2 batches the WINDOW_UPDATEs)."""
        if self._unacked and self.stream_id is not None:
            self.link._ack(self._unacked, self.stream_id)
            self._unacked = 0

    def _next_upload(self, room: int) -> bytes | None:
        """Up to ``room`` body bytes; b"" when none left (upload_done set), None: later."""
        body = self._body
        if body is not None:
            block = bytes(body[:room])
            self._body = body[room:] if len(body) > room else None
            if self._body is None and self._source is None:
                self.upload_done = True
            return block
        source = self._source
        if source is None:
            self.upload_done = True
            return b""
        pulled = source.next_block()
        if pulled is None:
            return None
        block = pulled
        if not block:
            self._source = None
            self.upload_done = True
            return b""
        if len(block) > room:
            self._body = memoryview(block)[room:]
            block = block[:room]
        return block

    # ------------------------------------------------------------------ HTTPClient surface

    def get_status(self) -> Status:
        return self._status

    def get_error_message(self) -> str:
        return self._error

    @property
    def failed_unanswered(self) -> bool:
        return self.unprocessed

    def get_connection(self) -> Stream | None:
        return self.link.stream

    def poll(self) -> Error:
        link = self.link
        with link.lock:
            # In STATUS_BODY the reads pump (as HTTPClient.poll() only checks the clock
            # there): one step then never pumps twice.
            if self._status is not Status.STATUS_BODY:
                link.pump(time.monotonic() + limits.POLL_TIME_BUDGET_S)
            self._sync(link)
        return Error.OK

    def _sync(self, link: H2Link) -> None:
        """Take the link's state into this stream's status (lock held)."""
        status = self._status
        if status in (Status.STATUS_RESOLVING, Status.STATUS_CONNECTING):
            if link.state is LinkState.CLOSED:
                self._lost(link.fail_status, link.failure or "connection failed")
            elif link.state is LinkState.OPEN:
                self._status = Status.STATUS_CONNECTED if self.fields is None \
                    else Status.STATUS_REQUESTING
            elif link.conn.phase is Phase.CONNECTING:
                self._status = Status.STATUS_CONNECTING
            return
        if status in (Status.STATUS_REQUESTING, Status.STATUS_BODY):
            timeout = self._config.read_timeout
            if timeout > 0 and self._buffered == 0 and \
                    time.monotonic() - max(self.last_io, link.last_io) > timeout:
                what = "response" if status is Status.STATUS_REQUESTING else "response body"
                self._lost(Status.STATUS_CONNECTION_ERROR,
                           f"no data for {timeout:g} s while waiting for the {what}")
                link.release(self)

    @property
    def accepts_early_request(self) -> bool:
        """The link is still connecting and no request was given yet: one given now is
        encoded at once and leaves with the preface, in the handshake's last flight."""
        return self.fields is None and self.link.state is LinkState.CONNECTING and \
            self._status in _WAITING

    def request(self, method: int, url: str, headers: Iterable[str], body: str | bytes = "") \
            -> Error:
        data = body.encode("utf-8") if isinstance(body, str) else body
        return self.request_raw(method, url, headers, data)

    def request_raw(self, method: int, url: str, headers: Iterable[str],
                    body: bytes | memoryview) -> Error:
        view = memoryview(body).cast("B")
        return self._start(method, url, headers, view if len(view) else None, None, len(view))

    def request_stream(self, method: int, url: str, headers: Iterable[str],
                       source: IO[bytes] | Iterable[bytes], length: int = -1) -> Error:
        if not is_upload_source(source):
            self._error = "request_stream: source must be a binary file or an iterable of bytes"
            return Error.ERR_INVALID_PARAMETER
        return self._start(method, url, headers, None, UploadSource(source, length), length)

    def _start(self, method: int, url: str, headers: Iterable[str], body: memoryview | None,
               source: UploadSource | None, size: int) -> Error:
        link = self.link
        with link.lock:
            if self._status in _WAITING:
                self._sync(link)  # another thread's pump may have opened (or ended) it
                if self._status not in _WAITING and self._status is not Status.STATUS_CONNECTED:
                    return Error.OK  # it failed: the Attempt reads that status, as without us
            early = self.accepts_early_request
            if not early and (self._status is not Status.STATUS_CONNECTED
                              or link.state is not LinkState.OPEN):
                self._error = f"request: not connected (status {self._status.name})"
                return Error.ERR_INVALID_PARAMETER
            try:
                verb = METHOD_VERBS[Method(method)]
                self.fields = request_fields(
                    verb, url, authority_for(link.key.host, link.key.port), list(headers),
                    user_agent=self._config.user_agent,
                    body_length=None if size < 0 else size)
                self._body, self._source = body, source
                self.upload_done = body is None and source is None
                self._upload_size = size
                self.uploaded = 0
                link.submit(self)
            except (RequestError, ValueError, UnicodeError) as exc:
                self._error = f"request: {exc}"
                return Error.ERR_INVALID_PARAMETER
            except h2.exceptions.H2Error as exc:
                link._fail(str(exc), exc)
                self._error = link.failure
                return Error.FAILED
            # Given during the handshake: the link's phase until it is open (see _sync).
            self._status = Status.STATUS_REQUESTING if not early else \
                Status.STATUS_RESOLVING if link.conn.phase is Phase.RESOLVING \
                else Status.STATUS_CONNECTING
            self.last_io = time.monotonic()
            self._timings = RequestTimings(link.conn.report, reused=self._joined_open,
                                           started=self.last_io)
            link.pump(time.monotonic() + limits.POLL_TIME_BUDGET_S, force=True)
        return Error.OK

    def get_uploaded_bytes(self) -> int:
        return self.uploaded

    def get_upload_size(self) -> int:
        return self._upload_size

    def has_response(self) -> bool:
        return bool(self._headers) or (self._has_head and self._code > 0)

    def get_response_code(self) -> int:
        return self._code

    def get_response_headers(self) -> list[str]:
        """Header lines in canonical case (``Content-Type: ...``); consumes them, as 1.1."""
        headers, self._headers = self._headers, []
        return headers

    def get_response_headers_as_dictionary(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for line in self.get_response_headers():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            result[key] = f"{result[key]}; {value}" if key in result else value
        return result

    def get_response_trailers(self) -> list[str]:
        return list(self._trailers)

    def get_response_body_length(self) -> int:
        return self._length

    def is_response_chunked(self) -> bool:
        return False

    def read_response_body_chunk(self) -> bytes:
        buffer = bytearray(limits.DEFAULT_READ_CHUNK_SIZE)
        n = self.read_response_body_chunk_into(buffer)
        return bytes(buffer[:n])

    def read_response_body_chunk_into(self, buffer: Any = None) -> int:
        """Buffered DATA into ``buffer``; the window opens by what was taken."""
        if self._status is not Status.STATUS_BODY:
            return 0
        view = memoryview(buffer).cast("B")
        link = self.link
        with link.lock:
            if not self._chunks:
                link.pump(time.monotonic() + limits.POLL_TIME_BUDGET_S)
            n = 0
            while self._chunks and n < len(view):
                chunk = self._chunks[0]
                take = min(len(chunk), len(view) - n)
                view[n : n + take] = chunk[:take]
                n += take
                if take == len(chunk):
                    self._chunks.popleft()
                else:
                    self._chunks[0] = chunk[take:]
            self._buffered -= n
            self._unacked += n
            if self._unacked >= limits.H2_UPLOAD_SLICE or self._buffered == 0:
                self._give_back()
            if self._buffered == 0 and self._ended and self._status is Status.STATUS_BODY:
                self._status = Status.STATUS_CONNECTED
            if n == 0:
                self._sync(link)
        return n

    def abandon(self) -> None:
        """From a finalizer: no lock here; the registry releases it at its next call."""
        self.link.registry._abandoned.append(self)

    def close(self) -> None:
        """Leave the link: RST_STREAM(CANCEL) if the stream is still open."""
        link = self.link
        with link.lock:
            link.release(self)
        self._timings.finish()
        if self._status not in (Status.STATUS_CONNECTED,) or not self._ended:
            self._status = Status.STATUS_DISCONNECTED

    def get_timings(self) -> dict[str, Any]:
        """As ``HTTPClient.get_timings``: the shared connection's setup phases count for
        the streams that waited for it; a stream on an open link reports them as 0."""
        return self._timings.as_dict()

    def get_tls_info(self) -> dict[str, Any]:
        """As ``HTTPClient.get_tls_info``: the shared connection's TLS session."""
        return dict(self.link.conn.report.tls)


class _NoStream:
    """The stream of a connection that could not even start (``H2Registry.exchange``)."""

    def recv(self, n: int, /) -> bytes | None:
        return b""

    def send(self, data: bytes | memoryview, /) -> int:
        return 0

    def close(self) -> None:
        pass


def _lines(fields: list[tuple[bytes, bytes]]) -> list[str]:
    return [f"{canonical_name(n.decode('latin-1'))}: {v.decode('latin-1')}"
            for n, v in fields if not n.startswith(b":")]


def _error_name(code: int) -> str:
    try:
        return h2.errors.ErrorCodes(code).name
    except ValueError:
        return f"error code {code}"


class H2Registry:
    """A session's HTTP/2 links by ``PoolKey``; see the module doc."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self._lock = threading.Lock()
        self._links: dict[PoolKey, H2Link] = {}
        self._http1: set[PoolKey] = set()
        self._counts: dict[str, int] = dict.fromkeys(H2_COUNTERS, 0)
        self._abandoned: deque[H2Exchange] = deque()  # appended without a lock (GC)

    def settle(self) -> None:
        """Release the exchanges of collected requests (cheap when there are none)."""
        while self._abandoned:
            try:
                ex = self._abandoned.popleft()
            except IndexError:
                return
            with ex.link.lock:
                ex.link.release(ex)

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:  # links count from their own locks (threads)
            self._counts[name] += n

    def stats(self) -> dict[str, int]:
        with self._lock:
            stats = dict(self._counts)
            stats["h2_open"] = len(self._links)
        return stats

    def speaks_http1(self, key: PoolKey) -> bool:
        return key in self._http1

    def exchange(self, key: PoolKey, config: ClientConfig,
                 make: Callable[[ClientConfig], Connection]) -> H2Exchange:
        """A new exchange on ``key``'s link, opening the link if there is none."""
        doomed: list[H2Link] = []
        self.settle()
        with self._lock:
            self._expire(time.monotonic(), doomed)
            idle = self._links.get(key)
        for old in doomed:
            with old.lock:
                old.close()
        if idle is not None and idle.state is LinkState.OPEN:
            with idle.lock:  # news first: a GOAWAY or a close of the idle connection
                idle.pump(time.monotonic() + limits.POLL_SEND_BUDGET_S, force=True)
        failure: Exception | None = None
        with self._lock:
            link = self._links.get(key)
            if link is None or link.state not in (LinkState.CONNECTING, LinkState.OPEN):
                tls = dataclasses.replace(config.tls, alpn=H2_ALPN)
                try:
                    conn = make(dataclasses.replace(config, tls=tls))
                except _ERRORS as exc:
                    conn, failure = Connection.adopt(_NoStream(), config), exc
                link = H2Link(key, conn, self)
                if failure is None:
                    self._links[key] = link
        with link.lock:
            ex = H2Exchange(link, config)
            if failure is not None:
                link.members.append(ex)
                link._fail(f"cannot connect: {failure}", failure)
            elif link.state is LinkState.CONNECTING:
                link.members.append(ex)
                if link.conn.phase is Phase.RESOLVING:
                    ex._status = Status.STATUS_RESOLVING
            elif link.state is not LinkState.OPEN:  # closed since we looked: send elsewhere
                ex._unprocessed("the HTTP/2 connection closed before the request was sent")
        return ex

    def _went_http1(self, link: H2Link) -> None:
        """ALPN chose HTTP/1.1: remember it and give the ready connection to the pool."""
        with self._lock:
            self._http1.add(link.key)
            if self._links.get(link.key) is link:
                del self._links[link.key]
            self._counts["h2_fallbacks"] += 1  # the lock is held: not count()
        link.conn.config = dataclasses.replace(
            link.conn.config, tls=dataclasses.replace(link.conn.config.tls, alpn=()))
        self.pool.adopt_idle(link.key, link.conn)

    def _forget(self, link: H2Link) -> None:
        with self._lock:
            if self._links.get(link.key) is link:
                del self._links[link.key]

    def _expire(self, now: float, doomed: list[H2Link]) -> None:
        timeout = self.pool.idle_timeout
        for key, link in list(self._links.items()):
            if link.state is LinkState.OPEN and not link.streams and not link.queue \
                    and not link.members and now - link.idle_since >= timeout:
                del self._links[key]
                doomed.append(link)

    def close_idle(self) -> None:
        with self._lock:
            doomed = [link for link in self._links.values()
                      if not link.streams and not link.queue and not link.members]
        for link in doomed:
            with link.lock:
                if link.h2 is not None and link.state is LinkState.OPEN:
                    try:
                        link.h2.close_connection()
                        link._write(time.monotonic() + limits.POLL_SEND_BUDGET_S)
                    except (*_ERRORS,):
                        pass
                link.close()

    def forget_protocols(self) -> None:
        with self._lock:
            self._http1.clear()
