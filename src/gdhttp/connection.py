"""``Connection``: one connect's stream, response reader and send queue.

A Connection is created by ``connect_to_host()`` (or adopted from a ready
stream) and dropped whole: ``HTTPClient`` never resets one field by field, and
a future pool can hold idle ones. It knows HTTP only through ``protocol`` and
sockets only through ``transport``; it raises ``TransportError`` (including
``TlsError`` and ``ResolveError``), ``ProtocolError``, ``RequestError`` and
``UploadSourceError``, which the client turns into a Status in one place.

Every step is bounded by a deadline (``limits.POLL_TIME_BUDGET_S`` from the
caller) and by wire bytes (``limits.POLL_WIRE_BUDGET``), never by body bytes:
whatever a server sends, one call returns in a few milliseconds.
"""

from __future__ import annotations

import math
import time
from collections import deque
from concurrent.futures import Future
from enum import Enum
from typing import Any

from gdhttp import limits, protocol, tls
from gdhttp.bodyio import BufferSink, ListSink, UploadSource
from gdhttp.config import ClientConfig, Proxy
from gdhttp.protocol import Framing, ResponseHead, ResponseReader
from gdhttp.report import ConnectReport, tls_session_info
from gdhttp.transport import (
    Address,
    Connector,
    Resolver,
    SocketStream,
    Stream,
    TlsError,
    TlsHandshake,
    TransportError,
    is_ip_literal,
    literal_addresses,
    wait_stream,
)

__all__ = ["Connection", "Phase", "ResolveError"]

# Send-queue item kinds: whether an item's bytes count as request body payload.
_HEAD, _BODY, _FRAME = 0, 1, 2


def _truncated(stream: Stream) -> bool:
    """The EOF was not authenticated (TLS without close_notify): see ``SocketStream``."""
    return bool(getattr(stream, "truncated", False))


class ResolveError(TransportError):
    """The host name (of the server or of the proxy) did not resolve."""


class Phase(Enum):
    RESOLVING = "resolving"
    CONNECTING = "connecting"  # TCP, then the proxy tunnel, then TLS
    READY = "ready"


class Connection:
    """One connection: connect it with ``step_connect()``, then one request at a time."""

    def __init__(self, host: str, port: int, use_tls: bool, verify: bool,
                 config: ClientConfig, *, stream: Stream | None = None) -> None:
        self.host, self.port, self.use_tls, self.verify = host, port, use_tls, verify
        self.config = config
        self.proxy: Proxy | None = config.https_proxy if use_tls else config.http_proxy
        self.stream: Stream | None = stream
        self.reader: ResponseReader | None = None
        self.last_io = time.monotonic()
        self.uploaded = 0
        self.upload_size = -1
        #: The server answered before the whole body was sent: no further request.
        self.spent = False
        #: Served a request before (came from a pool); response bytes of the current one.
        self.reused = False
        self.response_bytes = 0
        self._resolving: Future[list[Address]] | None = None
        self._connector: Connector | None = None
        self._handshake: TlsHandshake | None = None
        self._tunnel: ResponseReader | None = None
        self._out: deque[tuple[memoryview, int]] = deque()
        self._upload: UploadSource | None = None
        self._chunker: protocol.ChunkedWriter | None = None
        self.phase = Phase.CONNECTING
        #: Setup marks and TLS peer (``gdhttp.report``); requests started on this connection
        #: and when the current one's first response byte came (timings).
        self.report = ConnectReport()
        self.requests = 0
        self.first_byte_at = 0.0
        if stream is not None:
            self.proxy, self.phase = None, Phase.READY
            return
        dial_host, dial_port = (self.proxy.host, self.proxy.port) if self.proxy else (host, port)
        if is_ip_literal(dial_host):
            self.report.resolved = self.report.opened
            self._connector = Connector(literal_addresses(dial_host, dial_port),
                                        config.connect_timeout)
        else:
            self.phase = Phase.RESOLVING
            self._resolving = Resolver.resolve(dial_host, dial_port)

    @classmethod
    def adopt(cls, stream: Stream, config: ClientConfig) -> Connection:
        """A connection around a ready stream (the ``set_connection`` seam); no known host."""
        return cls("", -1, False, True, config, stream=stream)

    def __repr__(self) -> str:
        return f"<Connection {self.phase.value} {self.host or '-'}:{self.port}>"

    @property
    def dial_name(self) -> str:
        return self.proxy.host if self.proxy is not None else self.host

    # ------------------------------------------------------------------ connecting

    def step_connect(self) -> Phase:
        """Advance resolve -> TCP -> proxy tunnel -> TLS by what is ready now."""
        if self.phase is Phase.RESOLVING:
            self._step_resolve()  # the caller sees CONNECTING for at least one step
        elif self.phase is Phase.CONNECTING and self._step_connecting():
            self.phase = Phase.READY
        return self.phase

    def _step_resolve(self) -> None:
        future = self._resolving
        assert future is not None
        if not future.done():
            # A caller spinning on poll() holds the GIL; without a yield the
            # resolver thread waits out the 5 ms switch interval, twice.
            time.sleep(0)
            return
        self._resolving = None
        self.report.resolved = time.monotonic()
        try:
            addresses = future.result()
        except TransportError as exc:
            raise ResolveError(f"cannot resolve {self.dial_name}: {exc}") from exc
        if not addresses:
            raise ResolveError(f"no address for {self.dial_name}")
        self._connector = Connector(addresses, self.config.connect_timeout)
        self.phase = Phase.CONNECTING

    def _step_connecting(self) -> bool:
        if self._connector is not None:
            sock = self._connector.step()
            if sock is None:
                return False
            self._connector = None
            self.stream = SocketStream(sock)
            self.last_io = self.report.connected = time.monotonic()
            if self.proxy is not None and self.use_tls:
                self._start_tunnel()
            elif self.use_tls:
                self._start_tls(sock)
        if self._tunnel is not None:
            if not self._step_tunnel():
                return False
            assert isinstance(self.stream, SocketStream)
            self.report.connected = time.monotonic()  # the tunnel counts as connecting
            self._start_tls(self.stream.sock)
        if self._handshake is not None:
            if not self._handshake.step():
                try:
                    self.check_silence("TLS handshake")
                except TransportError as exc:
                    raise TlsError(str(exc)) from exc
                return False
            sock = self._handshake.sock
            self._handshake = None
            self.stream = SocketStream(sock)
            self.report.secured = time.monotonic()
            self.report.tls = tls_session_info(sock, self.verify)
            # Pins hold even with verify_host=false: pinning a self-signed key is
            # exactly how such a server is trusted safely.
            if self.config.tls.pins:
                problem = tls.check_pins(sock, self.config.tls.pins)
                if problem is not None:
                    raise TlsError(problem)
        return True

    def _start_tls(self, sock: Any) -> None:
        settings = self.config.tls
        if settings.verify != self.verify:
            settings = tls.TlsSettings(**{**settings.__dict__, "verify": self.verify})
        try:
            context = tls.context_for(settings)
        except (OSError, ValueError) as exc:
            raise TlsError(f"cannot build the TLS context: {exc}") from exc
        self.stream = None  # the TLS socket takes over the file descriptor
        self._handshake = TlsHandshake(sock, context, self.host)

    def _start_tunnel(self) -> None:
        assert self.proxy is not None
        extra = [self.proxy.authorization] if self.proxy.authorization else []
        head = protocol.build_connect_head(self.host, self.port,
                                           user_agent=self.config.user_agent,
                                           extra_headers=extra)
        self._out.append((memoryview(head), _HEAD))
        self._tunnel = ResponseReader(connect_request=True)

    def _step_tunnel(self) -> bool:
        reader = self._tunnel
        assert reader is not None
        deadline = time.monotonic() + limits.POLL_TIME_BUDGET_S
        self.step_send(deadline)
        if self._out:
            return False
        head = self._read_head(reader, deadline)
        if head is None:
            if not reader.has_pending_input:
                self.check_silence("proxy CONNECT reply")
            return False
        if not 200 <= head.status_code < 300:
            raise TransportError(f"proxy refused CONNECT to {self.host}:{self.port}: "
                                 f"{head.status_code} {head.reason}")
        if reader.buffered:
            raise TransportError("proxy sent data after its CONNECT reply")
        self._tunnel = None
        return True

    # ------------------------------------------------------------------ requests

    def start_request(self, head: bytes, body: bytes | memoryview, upload: UploadSource | None,
                      *, head_request: bool) -> None:
        """Queue a checked request head and its body; poll() sends them (``step_send``)."""
        self._out.clear()
        self._out.append((memoryview(head), _HEAD))
        if len(body):
            self._out.append((memoryview(body), _BODY))
        self._upload = upload
        self._chunker = protocol.ChunkedWriter() if upload is not None and upload.left < 0 \
            else None
        self.uploaded = 0
        self.upload_size = len(body) if upload is None else upload.left
        self.reader = ResponseReader(head_request=head_request)
        self.response_bytes = 0
        self.spent = False
        self.last_io = time.monotonic()
        self.requests += 1
        self.first_byte_at = 0.0

    @property
    def sending(self) -> bool:
        return bool(self._out) or self._upload is not None

    def _refill(self) -> bool:
        """Queue the next block of a streamed upload; False if none is ready now."""
        upload = self._upload
        assert upload is not None
        block = upload.next_block()
        if block is None:
            return False
        if block:
            if self._chunker is None:
                self._out.append((memoryview(block), _BODY))
            else:
                size_line, data, crlf = self._chunker.frame(block)
                self._out.extend(((memoryview(size_line), _FRAME), (memoryview(data), _BODY),
                                  (memoryview(crlf), _FRAME)))
        else:
            if self._chunker is not None:
                self._out.append((memoryview(self._chunker.end()), _FRAME))
            self._upload = None
        return True

    def step_send(self, deadline: float) -> bool:
        """Write queued bytes until the socket is full or the send budget is spent.

        True when the socket took all it could (full), or there is nothing to send.
        """
        stream, out = self.stream, self._out
        if stream is None:
            return True
        deadline = min(deadline, time.monotonic() + limits.POLL_SEND_BUDGET_S)
        while out or (self._upload is not None and self._refill()):
            if not out:
                continue
            view, kind = out[0]
            # Bounded per call: one send of a huge view could copy megabytes at once.
            sent = stream.send(view[: limits.MAX_SEND_SIZE])
            if sent <= 0:
                return True
            self.last_io = time.monotonic()
            if kind == _BODY:
                self.uploaded += sent
            if sent >= len(view):
                out.popleft()
            else:
                out[0] = (view[sent:], kind)
            if self.last_io >= deadline:
                return False
        return not self.sending

    def send_all_blocking(self) -> None:
        """Blocking mode: write the whole request, waiting on the socket."""
        stream = self.stream
        while stream is not None and self.sending:
            before = len(self._out), self.uploaded
            self.step_send(time.monotonic() + limits.POLL_SEND_BUDGET_S)
            if (len(self._out), self.uploaded) == before and self._out:
                wait_stream(stream, True, 0.05)
                self.check_silence("server to accept the request")

    def read_head(self, deadline: float) -> ResponseHead | None:
        """The final response head once complete; at most one interim head per call."""
        assert self.reader is not None
        head = self._read_head(self.reader, deadline)
        if head is not None and self.sending:
            # The server answered before the body was sent (e.g. 413): stop sending;
            # the connection can't carry another request.
            self._out.clear()
            self._upload = None
            self.spent = True
        return head

    def _read_head(self, reader: ResponseReader, deadline: float) -> ResponseHead | None:
        stream = self.stream
        assert stream is not None
        wire = 0
        while True:
            interim = reader.interim
            head = reader.read_head()
            if head is not None or reader.interim is not interim:
                return head  # one interim (1xx) head per call: a storm costs one each
            if wire >= limits.POLL_WIRE_BUDGET or time.monotonic() >= deadline:
                return None
            data = stream.recv(limits.FRAMING_READ_SIZE)
            if data is None:
                return None
            self.last_io = time.monotonic()
            if data:
                reader.receive(data)
                wire += len(data)
                self.response_bytes += len(data)
                self.first_byte_at = self.first_byte_at or self.last_io
            else:  # the next read_head() returns the head, an interim one, or raises
                reader.receive_eof(truncated=_truncated(stream))

    def read_body(self, sink: ListSink | BufferSink, budget: int, deadline: float,
                  blocking: bool = False) -> None:
        """Up to ``budget`` body bytes into ``sink``, within the deadline and wire budget.

        ``blocking`` (the caller's blocking mode) waits for bytes and reads the
        whole budget: no deadline, no wire budget, only the read timeout.
        """
        if blocking:
            deadline = math.inf
        reader, stream = self.reader, self.stream
        assert reader is not None and stream is not None
        wire = 0
        while not reader.done and sink.size < budget:
            left = budget - sink.size
            if reader.has_pending_input:
                data = reader.take_body(left)
                if data:
                    sink.add(data)
                if time.monotonic() >= deadline:
                    return
                continue
            direct = reader.direct_read_limit(left)
            got: int | None
            if direct > 0:
                got = sink.direct(stream, direct, deadline)
                if got:
                    reader.consumed_direct(got)
            elif wire >= limits.POLL_WIRE_BUDGET and not blocking:
                return
            else:
                framing = stream.recv(limits.FRAMING_READ_SIZE)
                got = None if framing is None else len(framing)
                if framing:
                    reader.receive(framing)
                    wire += len(framing)
            if got is None:
                # Starving (nothing buffered, nothing on the wire): the idle clock runs.
                self.check_silence("response body")
                if not blocking:
                    return
                wait_stream(stream, False, 0.05)
                continue
            now = self.last_io = time.monotonic()
            if not got:
                reader.receive_eof(truncated=_truncated(stream))
            elif now >= deadline:
                return

    @property
    def body_done(self) -> bool:
        return self.reader is not None and self.reader.done

    @property
    def is_reusable(self) -> bool:
        """True when a finished response left the connection ready for another request."""
        reader = self.reader
        return (self.phase is Phase.READY and self.stream is not None and not self.spent
                and not self.sending and (reader is None or (
                    # Bytes after the response (read with it) were never asked for.
                    reader.done and not reader.buffered
                    and reader.head is not None and reader.head.keep_alive
                    and reader.head.framing is not Framing.UNTIL_CLOSE)))

    # ------------------------------------------------------------------ liveness

    def check_silence(self, waiting_for: str) -> None:
        timeout = self.config.read_timeout
        if timeout > 0 and time.monotonic() - self.last_io > timeout:
            raise TransportError(f"no data for {timeout:g} s while waiting for the {waiting_for}")

    def is_alive(self) -> bool:
        is_alive = getattr(self.stream, "is_alive", None)
        return is_alive is None or bool(is_alive())

    def has_stray_input(self) -> bool:
        pending = getattr(self.stream, "pending_input", None)
        return pending is not None and bool(pending())

    def close(self) -> None:
        """Release the socket and any connect in progress (idempotent)."""
        if self._resolving is not None:
            self._resolving.cancel()
        for part in (self._connector, self._handshake, self.stream):
            if part is not None:
                part.close()
        self._resolving = self._connector = self._handshake = None
        self.stream = None
        self._out.clear()
        self._upload = None
