"""``HTTPClient``: the Godot 3.5 surface, glue between transport and protocol.

Every public method returns a Godot ``Error``, a ``Status`` or a plain value
and never raises: the transport and protocol layers raise their own
exceptions, and this module turns them into statuses in ``_fail`` (the one
error boundary of this layer). Status changes go through ``gdhttp.states``.

Nothing blocks unless ``blocking_mode_enabled`` is set: DNS runs on a worker
thread, connect and the TLS handshake are stepped by ``poll()``, and the
request head and body are written by ``poll()`` in ``STATUS_REQUESTING``.
"""

from __future__ import annotations

import functools
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import IO, Any, Final, TypeVar

from gdhttp import limits, paths, protocol, tls
from gdhttp.constants import (
    METHOD_VERBS,
    Error,
    HTTPClientConstants,
    Method,
    ResponseCode,
    Status,
)
from gdhttp.protocol import Framing, ProtocolError, RequestError, ResponseReader
from gdhttp.states import POLL_ON_ENTRY, Event, next_state
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

__all__ = ["DEFAULT_USER_AGENT", "HTTPClient"]

log = logging.getLogger("gdhttp")

DEFAULT_USER_AGENT: Final = "GodotEngine/3.5.stable.gdhttp (Python)"

_T = TypeVar("_T")
_StatusEnum = Status  # the class attribute below shadows the name in the class body

# Send-queue item kinds: whether an item's bytes count as request body payload.
_HEAD, _BODY, _FRAME = 0, 1, 2


@dataclass(frozen=True)
class _Proxy:
    host: str
    port: int
    authorization: str  # "Proxy-Authorization: Basic ..." or ""


def _boundary(fallback: Any) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """Last-resort guard for public methods: a bug becomes a message, not an exception."""

    def wrap(fn: Callable[..., _T]) -> Callable[..., _T]:
        @functools.wraps(fn)
        def guarded(self: HTTPClient, *args: Any, **kwargs: Any) -> _T:
            try:
                return fn(self, *args, **kwargs)
            except TypeError as exc:
                # Wrong arity or keyword from the caller.
                return self._refuse(f"{fn.__name__}: {exc}", fallback)  # type: ignore[no-any-return]
            except Exception as exc:
                log.exception("gdhttp: internal error in %s", fn.__name__)
                self._error_message = f"internal error in {fn.__name__}: {exc!r}"
                return fallback  # type: ignore[no-any-return]

        return guarded

    return wrap


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _ListSink:
    """Collects body bytes as ``bytes`` objects (read_response_body_chunk)."""

    __slots__ = ("parts", "size")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)

    def direct(self, stream: Stream, n: int) -> int | None:
        data = stream.recv(n)
        if data is None:
            return None
        if data:
            self.parts.append(data)
            self.size += len(data)
        return len(data)

    def result(self) -> bytes:
        return self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)


class _BufferSink:
    """Writes body bytes into a caller's buffer (read_response_body_chunk_into)."""

    __slots__ = ("recv_into", "size", "view")

    def __init__(self, view: memoryview, stream: Stream) -> None:
        self.view = view
        self.size = 0
        self.recv_into: Callable[[memoryview], int | None] | None = getattr(
            stream, "recv_into", None
        )

    def add(self, data: bytes) -> None:
        self.view[self.size : self.size + len(data)] = data
        self.size += len(data)

    def direct(self, stream: Stream, n: int) -> int | None:
        if self.recv_into is None:
            data = stream.recv(n)
            if data:
                self.add(data)
            return None if data is None else len(data)
        # Loop here, not in the caller: TLS hands out one record (<= 16 KiB) per
        # read, so a 1 MiB chunk is dozens of reads; each should cost only a slice.
        recv_into, view, start = self.recv_into, self.view, self.size
        total = 0
        while total < n:
            got = recv_into(view[start + total : start + n])
            if not got:
                if total:
                    break
                return got
            total += got
        self.size += total
        return total


class HTTPClient(HTTPClientConstants):
    """Godot 3.5's HTTPClient in Python; see the module and ``docs/`` for details."""

    # The enums as in GDScript: HTTPClient.Status, and HTTPClient.STATUS_BODY (inherited).
    Method = Method
    Status = Status
    ResponseCode = ResponseCode

    def __init__(self) -> None:
        self._status = Status.STATUS_DISCONNECTED
        self._read_chunk_size: int = limits.DEFAULT_READ_CHUNK_SIZE
        self._blocking = False
        self._http_proxy: _Proxy | None = None
        self._https_proxy: _Proxy | None = None
        self._user_agent = DEFAULT_USER_AGENT
        self._tls_settings = tls.TlsSettings()
        self._connect_timeout = limits.DEFAULT_CONNECT_TIMEOUT_S
        self._read_timeout = limits.DEFAULT_READ_TIMEOUT_S
        self._error_message = ""
        self._chunked = False  # like the engine, close() keeps the last value
        self._stream: Stream | None = None
        self._reset()

    def __repr__(self) -> str:
        return f"<gdhttp.HTTPClient {self._status.name} {self._host or '-'}:{self._port}>"

    # ------------------------------------------------------------------ helpers

    def _reset(self) -> None:
        """Forget the connection and the response (what the engine's close() clears)."""
        self._host = ""
        self._port = -1
        self._use_tls = False
        self._verify = True
        self._proxy_kind = ""  # "", "http" or "https"
        self._proxy: _Proxy | None = None
        self._resolving: Future[list[Address]] | None = None
        self._connector: Connector | None = None
        self._handshake: TlsHandshake | None = None
        self._tunnel: ResponseReader | None = None
        self._out: deque[tuple[memoryview, int]] = deque()
        self._upload: IO[bytes] | Iterable[bytes] | None = None
        self._upload_iter: Any = None
        self._upload_left = -1  # bytes still expected from a fixed-length source
        self._upload_chunked = False
        self._uploaded = 0
        self._upload_size = -1
        self._reader: ResponseReader | None = None
        self._headers: list[str] = []
        self._trailers: list[str] = []
        self._response_code = 0
        self._body_length = -1
        self._framing = Framing.NONE
        self._last_io = 0.0
        self._spent = False  # the server answered before the whole body was sent

    def _drop(self) -> None:
        for part in (self._connector, self._handshake, self._stream):
            if part is not None:
                part.close()
        if self._resolving is not None:
            self._resolving.cancel()
        self._connector = self._handshake = None
        self._stream = None
        self._resolving = None

    def _go(self, event: Event) -> Error:
        self._status, code = next_state(self._status, event)
        return code

    def _fail(self, event: Event, message: str) -> Error:
        """The error boundary: record why, release the socket, move the Status."""
        self._error_message = message
        log.info("gdhttp: %s (%s)", message, event.name)
        status = self._status
        self._drop()
        self._reset()
        self._status = status
        return self._go(event)

    def _refuse_file(self, setter: str, exc: Exception) -> Error:
        """A certificate argument that can't be used: missing file, bad path or bad PEM."""
        if isinstance(exc, FileNotFoundError):
            return self._refuse(f"{setter}: {paths.describe(exc)}", Error.ERR_FILE_NOT_FOUND)
        if isinstance(exc, paths.PathError):
            return self._refuse(f"{setter}: {exc}", Error.ERR_INVALID_PARAMETER)
        if isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError):
            return self._refuse(f"{setter}: {paths.describe(exc)}", Error.ERR_FILE_CANT_OPEN)
        return self._refuse(f"{setter}: {exc}", Error.ERR_INVALID_DATA)

    def _refuse(self, message: str, result: _T) -> _T:
        """A caller mistake: say why (like the engine's ERR_FAIL prints), change nothing."""
        self._error_message = message
        log.warning("gdhttp: %s", message)
        return result

    # ------------------------------------------------------------------ connecting

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def connect_to_host(
        self, host: str, port: int = -1, use_ssl: bool = False, verify_host: bool = True
    ) -> Error:
        """Start connecting; progress with poll(). Returns OK or a Godot Error."""
        self.close()
        if not isinstance(host, str) or not _is_int(port):
            return self._refuse("connect_to_host: host must be a String and port an int",
                                Error.ERR_INVALID_PARAMETER)
        use_tls = bool(use_ssl)
        lowered = host.lower()
        if lowered.startswith("http://"):
            host = host[7:]
        elif lowered.startswith("https://"):
            host = host[8:]
            use_tls = True
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if len(host) < limits.MIN_HOST_LENGTH or len(host) > limits.MAX_HOST_LENGTH:
            return self._refuse(f"connect_to_host: invalid host {host!r}",
                                Error.ERR_INVALID_PARAMETER)
        if any(c in host for c in "\r\n\x00 /?#@") or (":" in host and not is_ip_literal(host)):
            return self._refuse(f"connect_to_host: invalid host {host!r}",
                                Error.ERR_INVALID_PARAMETER)
        if port < 0:
            port = 443 if use_tls else 80
        if port > 65535:
            return self._refuse(f"connect_to_host: invalid port {port}",
                                Error.ERR_INVALID_PARAMETER)
        self._host, self._port, self._use_tls = host, port, use_tls
        self._verify = bool(verify_host)
        proxy = self._https_proxy if use_tls else self._http_proxy
        if proxy is not None:
            self._proxy, self._proxy_kind = proxy, ("https" if use_tls else "http")
            dial_host, dial_port = proxy.host, proxy.port
        else:
            dial_host, dial_port = host, port
        self._last_io = time.monotonic()
        if is_ip_literal(dial_host):
            try:
                self._connector = Connector(
                    literal_addresses(dial_host, dial_port), self._connect_timeout
                )
            except OSError as exc:
                return self._fail(Event.CONNECT_FAILED, f"cannot connect: {exc}")
            return self._go(Event.CONNECT_STARTED)
        self._resolving = Resolver.resolve(dial_host, dial_port)
        return self._go(Event.RESOLVE_STARTED)

    def poll(self) -> Error:
        """Advance the connection: resolve, connect, handshake, send, read the head."""
        status = self._status
        on_entry = POLL_ON_ENTRY.get(status)
        if on_entry is not None:
            return on_entry
        try:
            if status is Status.STATUS_BODY:
                return self._poll_body()
            if status is Status.STATUS_CONNECTED:
                return self._poll_connected()
            if status is Status.STATUS_REQUESTING:
                return self._poll_requesting()
            if status is Status.STATUS_CONNECTING:
                return self._poll_connecting()
            return self._poll_resolving()
        except TlsError as exc:
            return self._fail(Event.HANDSHAKE_FAILED, str(exc))
        except Exception as exc:
            if isinstance(exc, (TransportError, ProtocolError, RequestError, OSError)):
                message = _message(exc)
            else:  # a bug of ours: the traceback goes to the log, the caller gets a Status
                log.exception("gdhttp: internal error in poll()")
                message = f"internal error in poll(): {exc!r}"
            connecting = status in (Status.STATUS_RESOLVING, Status.STATUS_CONNECTING)
            event = Event.CONNECT_FAILED if connecting else Event.CONNECTION_LOST
            return self._fail(event, message)

    def _poll_resolving(self) -> Error:
        future = self._resolving
        assert future is not None
        if not future.done():
            # A caller spinning on poll() holds the GIL; without a yield the
            # resolver thread waits out the 5 ms switch interval, twice.
            time.sleep(0)
            return Error.OK
        self._resolving = None
        try:
            addresses = future.result()
        except Exception as exc:
            return self._fail(Event.RESOLVE_FAILED, f"cannot resolve {self._dial_name()}: {exc}")
        if not addresses:
            return self._fail(Event.RESOLVE_FAILED, f"no address for {self._dial_name()}")
        self._connector = Connector(addresses, self._connect_timeout)
        # Like the engine, report CONNECTING for at least one poll.
        return self._go(Event.RESOLVED)

    def _dial_name(self) -> str:
        return self._proxy.host if self._proxy is not None else self._host

    def _poll_connecting(self) -> Error:
        if self._connector is not None:
            sock = self._connector.step()
            if sock is None:
                return Error.OK
            self._connector = None
            self._stream = SocketStream(sock)
            self._last_io = time.monotonic()
            if self._proxy_kind == "https":
                self._start_tunnel()
            elif self._use_tls:
                self._start_tls(sock)
        if self._tunnel is not None:
            if not self._step_tunnel():
                return Error.OK
            assert isinstance(self._stream, SocketStream)
            self._start_tls(self._stream.sock)
        if self._handshake is not None:
            if not self._handshake.step():
                try:
                    self._check_silence("TLS handshake")
                except TransportError as exc:
                    raise TlsError(str(exc)) from exc
                return Error.OK
            sock = self._handshake.sock
            self._handshake = None
            # Pins hold even with verify_host=false: pinning a self-signed key is
            # exactly how such a server is trusted safely.
            if self._tls_settings.pins:
                problem = tls.check_pins(sock, self._tls_settings.pins)
                if problem is not None:
                    sock.close()
                    return self._fail(Event.HANDSHAKE_FAILED, problem)
            self._stream = SocketStream(sock)
        return self._go(Event.READY)

    def _start_tls(self, sock: Any) -> None:
        settings = self._tls_settings
        if settings.verify != self._verify:
            settings = tls.TlsSettings(**{**settings.__dict__, "verify": self._verify})
        try:
            context = tls.context_for(settings)
        except (OSError, ValueError) as exc:
            raise TlsError(f"cannot build the TLS context: {exc}") from exc
        self._stream = None  # the TLS socket takes over the file descriptor
        self._handshake = TlsHandshake(sock, context, self._host)

    def _start_tunnel(self) -> None:
        proxy = self._proxy
        assert proxy is not None
        authority = protocol.host_header_value(self._host, self._port, False)
        if ":" not in authority.rsplit("]", 1)[-1]:
            authority = f"{authority}:{self._port}"
        lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}",
                 f"User-Agent: {self._user_agent}"]
        if proxy.authorization:
            lines.append(proxy.authorization)
        self._out.append((memoryview(("\r\n".join(lines) + "\r\n\r\n").encode()), _HEAD))
        self._tunnel = ResponseReader(connect_request=True)

    def _step_tunnel(self) -> bool:
        reader, stream = self._tunnel, self._stream
        assert reader is not None and stream is not None
        self._pump_send()
        if self._out:
            return False
        head = self._receive_head(reader, stream)
        if head is None:
            self._check_silence("proxy CONNECT reply")
            return False
        if not 200 <= head.status_code < 300:
            raise TransportError(
                f"proxy refused CONNECT to {self._host}:{self._port}: "
                f"{head.status_code} {head.reason}"
            )
        if reader.buffered:
            raise TransportError("proxy sent data after its CONNECT reply")
        self._tunnel = None
        return True

    def _receive_head(self, reader: ResponseReader, stream: Stream) -> protocol.ResponseHead | None:
        """Read what is available and try to complete a response head.

        Parsing waits until the socket is drained (or another FRAMING_READ_SIZE
        arrived), so a server trickling one byte per packet costs one parse, not one
        per byte; the buffer still stays within two framing reads of the head limit.
        """
        unparsed = 0
        while True:
            data = stream.recv(limits.FRAMING_READ_SIZE)
            if data is None:
                break
            self._last_io = time.monotonic()
            if not data:
                reader.receive_eof()
                head = reader.read_head()
                if head is None:
                    raise ProtocolError("server closed the connection before the response head")
                return head
            reader.receive(data)
            unparsed += len(data)
            if unparsed >= limits.FRAMING_READ_SIZE:
                unparsed = 0
                head = reader.read_head()
                if head is not None:
                    return head
        return reader.read_head()

    def _check_silence(self, waiting_for: str) -> None:
        timeout = self._read_timeout
        if timeout > 0 and time.monotonic() - self._last_io > timeout:
            raise TransportError(f"no data for {timeout:g} s while waiting for the {waiting_for}")

    # ------------------------------------------------------------------ connected

    def _poll_connected(self) -> Error:
        stream = self._stream
        is_alive = getattr(stream, "is_alive", None)
        if is_alive is not None and not is_alive():
            return self._fail(Event.CONNECTION_LOST, "server closed the connection")
        return Error.OK

    def _poll_body(self) -> Error:
        # Body bytes are read by read_response_body_chunk(); here only the clock.
        if self._read_timeout > 0 and time.monotonic() - self._last_io > self._read_timeout:
            return self._fail(
                Event.CONNECTION_LOST, f"no body data for {self._read_timeout:g} s"
            )
        return Error.OK

    # ------------------------------------------------------------------ requests

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def request(
        self, method: int, url: str, headers: Iterable[str], body: str | bytes = ""
    ) -> Error:
        """Send a request with a String body (UTF-8 encoded). Returns at once.

        Bytes-like bodies are accepted too and go out as ``request_raw`` sends them.
        """
        if isinstance(body, str):
            return self._start(method, url, headers, body.encode("utf-8"), None, -1)
        return self.request_raw(method, url, headers, body)

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def request_raw(
        self, method: int, url: str, headers: Iterable[str], body: bytes | memoryview
    ) -> Error:
        """Send a request with a raw byte body, sent byte-exact. Returns at once.

        A ``memoryview`` (or bytearray) body is sent from its memory without a
        copy: don't change it until the request is sent.
        """
        if isinstance(body, bytearray):
            body = memoryview(body)
        if isinstance(body, memoryview):
            try:
                body = body.cast("B")
            except TypeError:
                return self._refuse("request_raw: body must be contiguous bytes",
                                    Error.ERR_INVALID_PARAMETER)
        elif not isinstance(body, bytes):
            return self._refuse("request_raw: body must be bytes", Error.ERR_INVALID_PARAMETER)
        return self._start(method, url, headers, body, None, -1)

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def request_stream(
        self,
        method: int,
        url: str,
        headers: Iterable[str],
        source: IO[bytes] | Iterable[bytes],
        length: int = -1,
    ) -> Error:
        """Send a body pulled from ``source`` as poll() goes (never read whole).

        ``source`` is a binary file object (``read(n)``) or an iterable of
        bytes. With ``length`` >= 0 it is sent with Content-Length and must
        yield exactly that many bytes; with -1, chunked transfer coding.
        """
        if not _is_int(length) or length < -1:
            return self._refuse("request_stream: length must be an int >= -1",
                                Error.ERR_INVALID_PARAMETER)
        if not (hasattr(source, "read") or isinstance(source, Iterable)) or isinstance(
            source, (str, bytes)
        ):
            return self._refuse("request_stream: source must be a binary file or an iterable "
                                "of bytes", Error.ERR_INVALID_PARAMETER)
        return self._start(method, url, headers, b"", source, length)

    def _start(
        self,
        method: int,
        url: str,
        headers: Iterable[str],
        body: bytes | memoryview,
        source: IO[bytes] | Iterable[bytes] | None,
        length: int,
    ) -> Error:
        if not _is_int(method) or not 0 <= method < Method.METHOD_MAX:
            return self._refuse(f"request: invalid method {method!r}", Error.ERR_INVALID_PARAMETER)
        if not isinstance(url, str):
            return self._refuse("request: url must be a String", Error.ERR_INVALID_PARAMETER)
        if isinstance(headers, str) or not isinstance(headers, Iterable):
            return self._refuse("request: headers must be a list of Strings",
                                Error.ERR_INVALID_PARAMETER)
        header_list = list(headers)
        verb = METHOD_VERBS[method]
        try:
            protocol.check_request_target(verb, url)
        except RequestError as exc:
            return self._refuse(f"request: {exc}", Error.ERR_INVALID_PARAMETER)
        if self._status is not Status.STATUS_CONNECTED:
            return self._refuse(
                f"request: not connected (status {self._status.name})",
                Error.ERR_INVALID_PARAMETER,
            )
        if self._stream is None:
            return self._refuse("request: no connection", Error.ERR_INVALID_DATA)
        pending = getattr(self._stream, "pending_input", None)
        if pending is not None and pending():
            # RFC 9112 6.3: bytes nobody asked for must never become the next response.
            self._fail(Event.CONNECTION_LOST,
                       "server sent data nobody asked for (stray bytes after the last response)")
            return Error.FAILED
        target = url
        if self._proxy_kind == "http" and url.startswith("/"):
            # Absolute form for a forward proxy; the engine always names the port.
            shown = f"[{self._host}]" if ":" in self._host else self._host
            target = f"http://{shown}:{self._port}{url}"
        extra = [self._proxy.authorization] if (
            self._proxy_kind == "http" and self._proxy is not None and self._proxy.authorization
        ) else []
        try:
            head = protocol.build_request_head(
                verb,
                target,
                header_list,
                # An adopted stream has no known host: the caller supplies Host then.
                host=protocol.host_header_value(self._host, self._port, self._use_tls)
                if self._host else "",
                body_length=None if (source is not None and length < 0) else
                (length if source is not None else len(body)),
                user_agent=self._user_agent,
                extra_headers=extra,
            )
        except RequestError as exc:
            return self._refuse(f"request: {exc}", Error.ERR_INVALID_PARAMETER)

        self._out.clear()
        self._out.append((memoryview(head), _HEAD))
        if len(body):
            self._out.append((memoryview(body), _BODY))
        self._upload = source
        self._upload_iter = None
        self._upload_chunked = source is not None and length < 0
        self._upload_left = length if source is not None else -1
        self._uploaded = 0
        self._upload_size = len(body) if source is None else length
        self._reader = ResponseReader(head_request=method == Method.METHOD_HEAD)
        self._headers, self._trailers = [], []
        self._response_code, self._body_length = 0, -1
        self._spent = False
        self._last_io = time.monotonic()
        self._go(Event.REQUEST_STARTED)
        try:
            if self._blocking:
                self._send_all_blocking()
            else:
                self._pump_send()
        except (TransportError, RequestError, OSError) as exc:
            self._fail(Event.CONNECTION_LOST, f"cannot send the request: {_message(exc)}")
            return Error.FAILED
        return Error.OK

    # ---- sending

    def _refill(self) -> bool:
        """Queue the next block of a streamed upload; False once it is exhausted."""
        source = self._upload
        if source is None:
            return False
        want = limits.UPLOAD_BLOCK_SIZE
        if self._upload_left >= 0:
            want = min(want, self._upload_left)
        block: bytes = b""
        if want > 0:
            read = getattr(source, "read", None)
            if read is not None:
                block = read(want) or b""
            else:
                if self._upload_iter is None:
                    self._upload_iter = iter(source)
                block = next(self._upload_iter, b"")
            if not isinstance(block, (bytes, bytearray, memoryview)):
                raise RequestError("upload source yielded something that is not bytes")
            block = bytes(block)
        if self._upload_left >= 0:
            if len(block) > self._upload_left:
                raise RequestError("upload source yielded more bytes than its length")
            if not block and self._upload_left > 0:
                raise RequestError(
                    f"upload source ended {self._upload_left} bytes short of its length"
                )
            self._upload_left -= len(block)
            if block:
                self._out.append((memoryview(block), _BODY))
            if self._upload_left == 0:
                self._upload = None
            return bool(block) or self._upload is None
        if not block:
            self._out.append((memoryview(b"0\r\n\r\n"), _FRAME))
            self._upload = None
            return True
        if self._upload_chunked:
            self._out.append((memoryview(f"{len(block):x}\r\n".encode()), _FRAME))
            self._out.append((memoryview(block), _BODY))
            self._out.append((memoryview(b"\r\n"), _FRAME))
        return True

    def _pump_send(self) -> None:
        """Write queued bytes until the socket is full or the frame budget is spent."""
        stream = self._stream
        if stream is None:
            return
        out = self._out
        deadline = time.monotonic() + limits.POLL_SEND_BUDGET_S
        while True:
            if not out and not (self._upload is not None and self._refill()):
                return
            if not out:
                return
            view, kind = out[0]
            # Bounded per call: one send of a huge view could copy megabytes at once.
            sent = stream.send(view[: limits.MAX_SEND_SIZE])
            if sent <= 0:
                return
            self._last_io = time.monotonic()
            if kind == _BODY:
                self._uploaded += sent
            if sent >= len(view):
                out.popleft()
            else:
                out[0] = (view[sent:], kind)
            if self._last_io >= deadline:
                return

    def _send_all_blocking(self) -> None:
        stream = self._stream
        while stream is not None and (self._out or self._upload is not None):
            before = len(self._out), self._uploaded
            self._pump_send()
            if (len(self._out), self._uploaded) == before and self._out:
                wait_stream(stream, True, 0.05)
                self._check_silence("server to accept the request")

    def _poll_requesting(self) -> Error:
        stream, reader = self._stream, self._reader
        assert stream is not None and reader is not None
        if self._out or self._upload is not None:
            self._pump_send()
        while True:
            head = self._receive_head(reader, stream)
            if head is not None:
                return self._on_head(head)
            if not self._blocking:
                if not self._out:
                    self._check_silence("response")
                return Error.OK
            self._check_silence("response")
            if self._out or self._upload is not None:
                self._pump_send()
                wait_stream(stream, bool(self._out), 0.05)
            else:
                wait_stream(stream, False, 0.05)

    def _on_head(self, head: protocol.ResponseHead) -> Error:
        if self._out or self._upload is not None:
            # The server answered before the body was sent (e.g. 413): stop sending;
            # the connection can't carry another request.
            self._out.clear()
            self._upload = None
            self._spent = True
        self._response_code = head.status_code
        self._headers = list(head.header_lines)
        self._chunked = head.chunked
        self._framing = head.framing
        self._body_length = head.content_length if not head.chunked else -1
        if head.framing is Framing.NONE:
            if self._spent:
                self._drop()  # keep the response, release the unusable connection
                return self._go(Event.SPENT)
            return self._go(Event.HEAD_WITHOUT_BODY)
        return self._go(Event.HEAD_WITH_BODY)

    # ------------------------------------------------------------------ body

    def read_response_body_chunk(self) -> bytes:
        """Up to read_chunk_size body bytes (b"" if none yet or not in STATUS_BODY)."""
        if self._status is not Status.STATUS_BODY:
            return self._refuse("read_response_body_chunk: no body to read (status "
                                f"{self._status.name})", b"")
        sink = _ListSink()
        self._read_body(sink, self._read_chunk_size)
        return sink.result()

    def read_response_body_chunk_into(self, buffer: Any) -> int:
        """Like read_response_body_chunk but writes into ``buffer``; returns the count.

        Reads at most ``len(buffer)`` bytes (not bounded by read_chunk_size),
        straight from the socket when the framing allows: no extra copy.
        """
        if self._status is not Status.STATUS_BODY:
            return self._refuse("read_response_body_chunk_into: no body to read", 0)
        try:
            view = memoryview(buffer).cast("B")
        except TypeError:
            return self._refuse("read_response_body_chunk_into: needs a writable buffer", 0)
        if view.readonly:
            return self._refuse("read_response_body_chunk_into: buffer is read-only", 0)
        stream, reader = self._stream, self._reader
        assert stream is not None and reader is not None
        sink = _BufferSink(view, stream)
        # Fast path for the common case (plain body bytes next on the wire, a
        # non-blocking read): one direct read, no framing pass. A script pulling
        # 64 KiB per frame pays a few microseconds of Python, not a full loop.
        if sink.recv_into is not None and not self._blocking:
            limit = reader.direct_read_limit(len(view))
            if limit:
                try:
                    got = sink.direct(stream, limit)
                except (TransportError, OSError) as exc:
                    self._fail(Event.CONNECTION_LOST, _message(exc))
                    return 0
                if got:
                    reader.consumed_direct(got)
                    self._last_io = time.monotonic()
                    if reader.done:
                        self._finish_body(reader)
                    return got
                if got is None:  # nothing right now; an EOF (0) goes the general way below
                    try:
                        self._check_silence("response body")
                    except TransportError as exc:
                        self._fail(Event.CONNECTION_LOST, _message(exc))
                    return 0
        self._read_body(sink, len(view))
        return sink.size

    def _read_body(self, sink: _ListSink | _BufferSink, budget: int) -> None:
        reader, stream = self._reader, self._stream
        assert reader is not None and stream is not None
        try:
            while True:
                left = budget - sink.size
                if left > 0 and reader.buffered:
                    data = reader.take_body(left)
                    if data:
                        sink.add(data)
                        left = budget - sink.size
                if reader.done or left <= 0:
                    break
                direct = reader.direct_read_limit(left)
                got: int | None
                if direct > 0:
                    got = sink.direct(stream, direct)
                    if got:
                        reader.consumed_direct(got)
                else:
                    framing_bytes = stream.recv(limits.FRAMING_READ_SIZE)
                    got = None if framing_bytes is None else len(framing_bytes)
                    if framing_bytes:
                        reader.receive(framing_bytes)
                if got is None:
                    if not self._blocking:
                        self._check_silence("response body")
                        break
                    self._check_silence("response body")
                    wait_stream(stream, False, 0.05)
                    continue
                if not got:
                    reader.receive_eof()
                    # Raises if the body is incomplete; else ends an until-close body.
                    tail = reader.take_body(left)
                    if tail:
                        sink.add(tail)
                    continue
                self._last_io = time.monotonic()
        except (TransportError, ProtocolError, OSError) as exc:
            self._fail(Event.CONNECTION_LOST, _message(exc))
            return
        except Exception as exc:
            log.exception("gdhttp: internal error while reading the body")
            self._fail(Event.CONNECTION_LOST, f"internal error reading the body: {exc!r}")
            return
        if reader.done:
            self._finish_body(reader)

    def _finish_body(self, reader: ResponseReader) -> None:
        """The body is complete: keep the trailers and move the Status on."""
        self._trailers = list(reader.trailers)
        if self._framing is Framing.UNTIL_CLOSE:
            # The engine: end of a read-until-close body is a close().
            chunked = self._chunked
            self._drop()
            self._reset()
            self._chunked = chunked
            self._go(Event.BODY_EOF)
        elif self._spent:
            self._drop()
            self._go(Event.SPENT)
        else:
            self._go(Event.BODY_DONE)

    # ------------------------------------------------------------------ response getters

    def has_response(self) -> bool:
        return bool(self._headers)

    def is_response_chunked(self) -> bool:
        return self._chunked

    def get_response_code(self) -> int:
        return self._response_code

    def get_response_headers(self) -> list[str]:
        """The header lines, in order. Like the engine, this consumes them."""
        headers, self._headers = self._headers, []
        return headers

    def get_response_headers_as_dictionary(self) -> dict[str, str]:
        """Headers as a dict (consumes them). Repeated keys merge as "v1; v2"."""
        result: dict[str, str] = {}
        for line in self.get_response_headers():
            if ":" not in line:
                continue
            key, value = line.split(":", 1)
            key, value = key.strip(), value.strip()
            result[key] = f"{result[key]}; {value}" if key in result else value
        return result

    def get_response_trailers(self) -> list[str]:
        """Trailer fields of the last chunked response (the engine discards them)."""
        return list(self._trailers)

    def get_response_body_length(self) -> int:
        return self._body_length

    def get_status(self) -> _StatusEnum:
        return self._status

    def get_error_message(self) -> str:
        """Why the last call was refused or the connection failed ("" if nothing)."""
        return self._error_message

    def get_uploaded_bytes(self) -> int:
        """Request body bytes written so far (upload progress)."""
        return self._uploaded

    def get_upload_size(self) -> int:
        """Request body size, or -1 for a streamed body of unknown length."""
        return self._upload_size

    # ------------------------------------------------------------------ settings

    @_boundary(None)
    def set_read_chunk_size(self, bytes: int) -> None:
        if not _is_int(bytes) or not (
            limits.MIN_READ_CHUNK_SIZE <= bytes <= limits.MAX_READ_CHUNK_SIZE
        ):
            self._refuse(
                f"set_read_chunk_size: {bytes!r} is outside {limits.MIN_READ_CHUNK_SIZE}.."
                f"{limits.MAX_READ_CHUNK_SIZE}; keeping {self._read_chunk_size}",
                None,
            )
            return
        self._read_chunk_size = bytes

    def get_read_chunk_size(self) -> int:
        return self._read_chunk_size

    @_boundary(None)
    def set_blocking_mode(self, enabled: bool) -> None:
        if not isinstance(enabled, (bool, int)):
            self._refuse("set_blocking_mode: enabled must be a bool", None)
            return
        self._blocking = bool(enabled)

    def is_blocking_mode_enabled(self) -> bool:
        return self._blocking

    read_chunk_size = property(get_read_chunk_size, set_read_chunk_size)
    blocking_mode_enabled = property(is_blocking_mode_enabled, set_blocking_mode)

    @_boundary(None)
    def set_user_agent(self, user_agent: str) -> None:
        """The User-Agent sent when the request has none (the bridge sets the engine's)."""
        if not isinstance(user_agent, str) or protocol._FORBIDDEN_IN_FIELD.search(user_agent):
            self._refuse("set_user_agent: needs a String without CR, LF or NUL", None)
            return
        self._user_agent = user_agent

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_timeouts(self, connect: float, read: float) -> Error:
        """Connect timeout per address, and how long a server may stay silent (0: never)."""
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
                   for v in (connect, read)) or connect == 0:
            return self._refuse("set_timeouts: connect must be > 0 and read >= 0",
                                Error.ERR_INVALID_PARAMETER)
        self._connect_timeout, self._read_timeout = float(connect), float(read)
        return Error.OK

    # ---- proxies

    @_boundary(None)
    def set_http_proxy(self, host: str, port: int) -> None:
        """Proxy for plain-HTTP targets. "user:pass@host" adds Basic auth. "" or -1 unsets."""
        self._http_proxy = self._parse_proxy("set_http_proxy", host, port, self._http_proxy)

    @_boundary(None)
    def set_https_proxy(self, host: str, port: int) -> None:
        """Proxy (CONNECT tunnel) for HTTPS targets. "user:pass@host" adds Basic auth."""
        self._https_proxy = self._parse_proxy("set_https_proxy", host, port, self._https_proxy)

    def _parse_proxy(self, name: str, host: str, port: int, old: _Proxy | None) -> _Proxy | None:
        if not isinstance(host, str) or not _is_int(port):
            return self._refuse(f"{name}: host must be a String and port an int", old)
        if not host or port == -1:
            return None
        if not 0 < port <= 65535 or protocol._FORBIDDEN_IN_FIELD.search(host):
            return self._refuse(f"{name}: invalid proxy {host!r}:{port}", old)
        for prefix in ("http://", "https://"):
            if host.lower().startswith(prefix):
                host = host[len(prefix):]
        authorization = ""
        if "@" in host:
            import base64
            from urllib.parse import unquote

            credentials, host = host.rsplit("@", 1)
            user, _, password = credentials.partition(":")
            token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
            authorization = f"Proxy-Authorization: Basic {token}"
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not host:
            return self._refuse(f"{name}: empty proxy host", old)
        return _Proxy(host, port, authorization)

    # ---- TLS options (beyond the engine)

    def _set_tls(self, **changes: Any) -> None:
        self._tls_settings = tls.TlsSettings(**{**self._tls_settings.__dict__, **changes})

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_trusted_certificates(self, pem_or_path: str) -> Error:
        """Trust these CA certificates (PEM text or file) instead of the system store.

        "" goes back to the system store. Applies to the next connect_to_host().
        """
        if not isinstance(pem_or_path, str):
            return self._refuse("set_trusted_certificates: needs a String",
                                Error.ERR_INVALID_PARAMETER)
        if not pem_or_path:
            self._set_tls(ca_pem="")
            return Error.OK
        try:
            pem = tls.read_pem_argument(pem_or_path)
            tls.context_for(tls.TlsSettings(ca_pem=pem))
        except (OSError, ValueError) as exc:
            return self._refuse_file("set_trusted_certificates", exc)
        self._set_tls(ca_pem=pem)
        return Error.OK

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_use_certifi(self, enabled: bool) -> Error:
        """Use certifi's CA bundle instead of the system store (certifi must be installed)."""
        if enabled:
            try:
                import certifi  # type: ignore[import-not-found, unused-ignore] # noqa: F401
            except ImportError:
                return self._refuse("set_use_certifi: certifi is not installed",
                                    Error.ERR_UNAVAILABLE)
        self._set_tls(use_certifi=bool(enabled))
        return Error.OK

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_pinned_public_keys(self, pins: Iterable[str]) -> Error:
        """Accept only servers whose leaf key SPKI SHA-256 is one of ``pins``.

        Pins are "sha256/<base64>", base64 or hex. An empty list turns pinning off.
        """
        if isinstance(pins, str) or not isinstance(pins, Iterable):
            return self._refuse("set_pinned_public_keys: needs a list of Strings",
                                Error.ERR_INVALID_PARAMETER)
        normalized: set[str] = set()
        for pin in pins:
            value = tls.normalize_pin(pin) if isinstance(pin, str) else None
            if value is None:
                return self._refuse(f"set_pinned_public_keys: invalid pin {pin!r}",
                                    Error.ERR_INVALID_PARAMETER)
            normalized.add(value)
        self._set_tls(pins=frozenset(normalized))
        return Error.OK

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_crl(self, pem_or_path: str, check_chain: bool = False) -> Error:
        """Refuse certificates revoked by this CRL (leaf, or the whole chain)."""
        if not isinstance(pem_or_path, str):
            return self._refuse("set_crl: needs a String", Error.ERR_INVALID_PARAMETER)
        if not pem_or_path:
            self._set_tls(crl_pem="", crl_check_chain=False)
            return Error.OK
        try:
            pem = tls.read_pem_argument(pem_or_path)
        except (OSError, ValueError) as exc:
            return self._refuse_file("set_crl", exc)
        if "X509 CRL" not in pem:
            return self._refuse("set_crl: no PEM CRL found", Error.ERR_INVALID_DATA)
        self._set_tls(crl_pem=pem, crl_check_chain=bool(check_chain))
        return Error.OK

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_min_tls_version(self, version: str) -> Error:
        """Lowest TLS version accepted: "TLSv1.2" (default) or "TLSv1.3" (or older)."""
        parsed = tls.tls_version_from_name(version) if isinstance(version, str) else None
        if parsed is None:
            return self._refuse(f"set_min_tls_version: unknown version {version!r}",
                                Error.ERR_INVALID_PARAMETER)
        self._set_tls(min_version=parsed)
        return Error.OK

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_client_certificate(self, cert_path: str, key_path: str = "") -> Error:
        """Present this client certificate (PEM file; key in it or in ``key_path``)."""
        if not isinstance(cert_path, str) or not isinstance(key_path, str):
            return self._refuse("set_client_certificate: needs Strings",
                                Error.ERR_INVALID_PARAMETER)
        if cert_path:
            try:
                tls.context_for(tls.TlsSettings(verify=False, client_cert_path=cert_path,
                                                client_key_path=key_path))
            except (OSError, ValueError) as exc:
                return self._refuse_file("set_client_certificate", exc)
        self._set_tls(client_cert_path=cert_path, client_key_path=key_path)
        return Error.OK

    # ------------------------------------------------------------------ connection seam

    @_boundary(None)
    def set_connection(self, connection: Any) -> None:
        """Adopt a ready stream (see ``gdhttp.transport.Stream``) or a connected socket."""
        import socket as _socket

        if connection is None:
            self._refuse("set_connection: connection is null", None)
            return
        if connection is self._stream:
            return
        if isinstance(connection, _socket.socket):
            connection = SocketStream(connection)
        if not all(callable(getattr(connection, m, None)) for m in ("recv", "send", "close")):
            self._refuse("set_connection: needs recv(n), send(data) and close()", None)
            return
        self.close()
        self._stream = connection
        self._last_io = time.monotonic()
        self._go(Event.ADOPTED)

    def get_connection(self) -> Stream | None:
        return self._stream

    connection = property(get_connection, set_connection)

    # ------------------------------------------------------------------ misc

    def close(self) -> None:
        """Drop the connection and the response; status becomes STATUS_DISCONNECTED."""
        try:
            self._drop()
        finally:
            chunked = self._chunked
            self._reset()
            self._chunked = chunked
            self._status = Status.STATUS_DISCONNECTED

    @_boundary("")
    def query_string_from_dict(self, fields: Mapping[Any, Any]) -> str:
        """``{"a": 1, "b": None, "c": [1, 2]}`` -> ``"a=1&b&c=1&c=2"``, as the engine."""
        if not isinstance(fields, Mapping):
            return self._refuse("query_string_from_dict: needs a Dictionary", "")
        return protocol.query_string_from_dict(fields)

    def __del__(self) -> None:
        try:
            self._drop()
        except Exception:
            pass


def _message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
