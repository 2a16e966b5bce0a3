"""``HTTPClient``: the Godot 3.5 surface over one ``Connection``.

Every public method returns a Godot ``Error``, a ``Status`` or a plain value
and never raises. Arguments are checked before any state changes; a refusal
sets ``get_error_message()`` and logs it. Failures of the connection (the
transport's, the protocol's, the caller's upload source's) become a Status in
``_fail``, the one error boundary for them. A bug of ours is caught last, by
``guard``, and reported as an internal error. The setters live in
``client_settings``. Status changes go through the
table in ``gdhttp.states``; messages pass through ``config.redact``.

Nothing blocks unless ``blocking_mode_enabled`` is set, and no call works
longer than ``limits.POLL_TIME_BUDGET_S`` (plus one socket read) whatever the
server sends: the budgets live in ``Connection``.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

from gdhttp import limits, protocol
from gdhttp.bodyio import BufferSink, ListSink, UploadSource, UploadSourceError, is_upload_source
from gdhttp.client_settings import ClientSettings, guard, is_int
from gdhttp.config import DEFAULT_USER_AGENT, ClientConfig, RedactingFilter, redact
from gdhttp.connection import Connection, Phase, ResolveError
from gdhttp.constants import METHOD_VERBS, Error, HTTPClientConstants, Method, ResponseCode, Status
from gdhttp.protocol import Framing, ProtocolError, RequestError, ResponseHead
from gdhttp.report import RequestTimings
from gdhttp.states import POLL_ON_ENTRY, Event, next_state
from gdhttp.transport import (
    SocketStream,
    Stream,
    TlsError,
    TransportError,
    is_ip_literal,
    wait_stream,
)

__all__ = ["DEFAULT_USER_AGENT", "HTTPClient", "headers_as_dictionary"]

log = logging.getLogger("gdhttp")
if not any(isinstance(f, RedactingFilter) for f in log.filters):
    log.addFilter(RedactingFilter())  # what reaches Godot's error output is redacted too

_StatusEnum = Status  # the class attribute below shadows the name in the class body

#: What a live connection can raise; each becomes a Status in ``_fail``.
_CONNECTION_ERRORS = (TransportError, ProtocolError, RequestError, UploadSourceError, OSError)


def headers_as_dictionary(lines: Iterable[str]) -> dict[str, str]:
    """Header lines as a dict; repeated keys merge as "v1; v2" (the class reference's rule)."""
    result: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if sep:
            key, value = key.strip(), value.strip()
            result[key] = f"{result[key]}; {value}" if key in result else value
    return result


def _message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class HTTPClient(ClientSettings, HTTPClientConstants):
    """Godot 3.5's HTTPClient in Python; see the module and ``docs/client.md``."""

    # The enums as in GDScript: HTTPClient.Status, and HTTPClient.STATUS_BODY (inherited).
    Method = Method
    Status = Status
    ResponseCode = ResponseCode

    def __init__(self) -> None:
        self._status = Status.STATUS_DISCONNECTED
        self._config = ClientConfig()
        self._read_chunk_size: int = limits.DEFAULT_READ_CHUNK_SIZE
        self._blocking = False
        self._error_message = ""
        self._conn: Connection | None = None
        self._chunked = False  # like the engine, close() keeps the last value
        #: The last failure hit a reused connection before any response byte (see
        #: ``failed_unanswered``): a session may retry an idempotent request.
        self._unanswered = False
        #: The current or last request's clock and connection report (kept by close()).
        self._timings = RequestTimings()
        self._forget_response()

    def __repr__(self) -> str:
        conn = self._conn
        return f"<gdhttp.HTTPClient {self._status.name} {conn!r}>"

    # ------------------------------------------------------------------ boundaries

    def _forget_response(self) -> None:
        self._headers: list[str] = []
        self._trailers: list[str] = []
        self._response_code = 0
        self._body_length = -1
        self._uploaded = 0
        self._upload_size = -1

    def _go(self, event: Event) -> Error:
        self._status, code = next_state(self._status, event)
        if self._status not in (Status.STATUS_REQUESTING, Status.STATUS_BODY):
            self._timings.finish()  # every end of a request passes here (or close())
        return code

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._uploaded, self._upload_size = conn.uploaded, conn.upload_size
            conn.close()

    def _fail(self, event: Event, message: str) -> Error:
        """The error boundary: record why, drop the connection, move the Status."""
        self._error_message = redact(message)
        log.info("gdhttp: %s (%s)", self._error_message, event.name)
        conn = self._conn
        self._unanswered = conn is not None and conn.reused and conn.response_bytes == 0 \
            and self._status in (Status.STATUS_CONNECTED, Status.STATUS_REQUESTING)
        self._release()
        self._forget_response()  # as the engine's close() on an error
        return self._go(event)

    # ------------------------------------------------------------------ connecting

    @guard(Error.ERR_INVALID_PARAMETER)
    def connect_to_host(self, host: str, port: int = -1, use_ssl: bool = False,
                        verify_host: bool = True) -> Error:
        """Start connecting; progress with poll(). Returns OK or a Godot Error."""
        target = self._parse_target(host, port, use_ssl)
        self.close()  # the engine closes first, also when it then refuses
        if isinstance(target, str):
            return self._refuse(target, Error.ERR_INVALID_PARAMETER)
        host, port, use_tls = target
        self._timings = RequestTimings()  # a connect that fails at once reports nothing old
        try:
            self._conn = Connection(host, port, use_tls, bool(verify_host),
                                    self._config)
        except _CONNECTION_ERRORS as exc:
            return self._fail(Event.CONNECT_FAILED, f"cannot connect: {_message(exc)}")
        self._timings = RequestTimings(self._conn.report)
        if self._conn.phase is Phase.RESOLVING:
            return self._go(Event.RESOLVE_STARTED)
        return self._go(Event.CONNECT_STARTED)

    def attach(self, make: Callable[[ClientConfig], Connection], host: str, port: int,
               use_tls: bool) -> Error:
        """Use the Connection ``make(config)`` returns for ``host``: a fresh one
        (connecting) or a pooled idle one (ready). The session's seam; the target is
        checked as ``connect_to_host`` (the engine's) checks it."""
        self.close()
        self._unanswered = False
        if isinstance(target := self._parse_target(host, port, use_tls), str):
            return self._refuse(target, Error.ERR_INVALID_PARAMETER)
        self._timings = RequestTimings()
        try:
            conn = self._conn = make(self._config)
        except _CONNECTION_ERRORS as exc:
            return self._fail(Event.CONNECT_FAILED, f"cannot connect: {_message(exc)}")
        self._timings = RequestTimings(conn.report)
        if conn.phase is Phase.RESOLVING:
            return self._go(Event.RESOLVE_STARTED)
        if conn.phase is Phase.READY:
            return self._go(Event.ADOPTED)
        return self._go(Event.CONNECT_STARTED)

    def detach(self) -> Connection | None:
        """Hand over the connection if it can carry another request (else close it);
        the client ends DISCONNECTED, as after ``close()``."""
        conn = self._conn
        if self._status is Status.STATUS_CONNECTED and conn is not None and conn.is_reusable:
            self._conn = None
        else:
            conn = None
        self.close()
        return conn

    @property
    def failed_unanswered(self) -> bool:
        """The last failure hit a reused connection before any response byte arrived."""
        return self._unanswered

    @staticmethod
    def _parse_target(host: object, port: object, use_ssl: object) -> tuple[str, int, bool] | str:
        """(host, port, use_tls) or the reason the arguments are refused."""
        if not isinstance(host, str) or not is_int(port):
            return "connect_to_host: host must be a String and port an int"
        assert isinstance(port, int)
        use_tls = bool(use_ssl)
        lowered = host.lower()
        if lowered.startswith("http://"):
            host = host[7:]
        elif lowered.startswith("https://"):
            host, use_tls = host[8:], True
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if (not limits.MIN_HOST_LENGTH <= len(host) <= limits.MAX_HOST_LENGTH
                or any(c in host for c in "\r\n\x00 /?#@")
                or (":" in host and not is_ip_literal(host))):
            return f"connect_to_host: invalid host {host!r}"
        if port < 0:
            port = 443 if use_tls else 80
        if port > 65535:
            return f"connect_to_host: invalid port {port}"
        return host, port, use_tls

    def poll(self) -> Error:
        """Advance the connection: resolve, connect, handshake, send, read the head."""
        status = self._status
        on_entry = POLL_ON_ENTRY.get(status)
        if on_entry is not None:
            return on_entry
        conn = self._conn
        try:
            assert conn is not None, f"no connection in {status.name}"
            if status is Status.STATUS_BODY:
                # Body bytes are read by read_response_body_chunk(); here only the clock,
                # which runs while the parser starves (cheap test first: this is hot).
                timeout = self._config.read_timeout
                if timeout > 0 and time.monotonic() - conn.last_io > timeout and not (
                        conn.reader is not None and conn.reader.has_pending_input):
                    conn.check_silence("response body")
                return Error.OK
            if status is Status.STATUS_CONNECTED:
                if not conn.is_alive():
                    return self._fail(Event.CONNECTION_LOST, "server closed the connection")
                return Error.OK
            if status is Status.STATUS_REQUESTING:
                return self._poll_requesting(conn)
            return self._poll_connecting(conn, status)
        except _CONNECTION_ERRORS as exc:
            return self._fail(self._failure_event(status, exc), _message(exc))
        except Exception as exc:  # a bug of ours: the traceback to the log, a Status back
            log.exception("gdhttp: internal error in poll()")
            event = self._failure_event(status, exc)
            return self._fail(event, f"internal error in poll(): {exc!r}")

    @staticmethod
    def _failure_event(status: _StatusEnum, exc: Exception) -> Event:
        if status not in (Status.STATUS_RESOLVING, Status.STATUS_CONNECTING):
            return Event.CONNECTION_LOST
        if isinstance(exc, ResolveError):
            return Event.RESOLVE_FAILED
        if isinstance(exc, TlsError):
            return Event.HANDSHAKE_FAILED
        return Event.CONNECT_FAILED

    def _poll_connecting(self, conn: Connection, status: _StatusEnum) -> Error:
        phase: Phase = conn.step_connect()
        if status is Status.STATUS_RESOLVING:
            if phase is not Phase.RESOLVING:  # like the engine, CONNECTING for one poll at least
                return self._go(Event.RESOLVED)
        elif phase is Phase.READY:
            return self._go(Event.READY)
        return Error.OK

    # ------------------------------------------------------------------ requests

    @guard(Error.ERR_INVALID_PARAMETER)
    def request(self, method: int, url: str, headers: Iterable[str],
                body: str | bytes = "") -> Error:
        """Send a request with a String body (UTF-8 encoded). Returns at once.

        Bytes-like bodies are accepted too and go out as ``request_raw`` sends them.
        """
        if isinstance(body, str):
            try:
                data = body.encode("utf-8")
            except UnicodeError:
                return self._refuse("request: body is not valid Unicode",
                                    Error.ERR_INVALID_PARAMETER)
            return self._start("request", method, url, headers, data, None)
        return self.request_raw(method, url, headers, body)

    @guard(Error.ERR_INVALID_PARAMETER)
    def request_raw(self, method: int, url: str, headers: Iterable[str],
                    body: bytes | memoryview) -> Error:
        """Send a request with a raw byte body, sent byte-exact. Returns at once.

        A ``memoryview`` (or bytearray) body is sent from its memory without a
        copy: don't change it until the request is sent.
        """
        if isinstance(body, (bytearray, memoryview)):
            try:
                body = memoryview(body).cast("B")
            except (TypeError, ValueError):
                return self._refuse("request_raw: body must be contiguous bytes",
                                    Error.ERR_INVALID_PARAMETER)
        elif not isinstance(body, bytes):
            return self._refuse("request_raw: body must be bytes", Error.ERR_INVALID_PARAMETER)
        return self._start("request_raw", method, url, headers, body, None)

    @guard(Error.ERR_INVALID_PARAMETER)
    def request_stream(self, method: int, url: str, headers: Iterable[str],
                       source: IO[bytes] | Iterable[bytes], length: int = -1) -> Error:
        """Send a body pulled from ``source`` by poll() (never read whole).

        ``source`` is a binary file object (``read(n)``) or an iterable of
        bytes. With ``length`` >= 0 it is sent with Content-Length and must
        yield exactly that many bytes; with -1, chunked transfer coding. The
        source is first read by poll(); what it raises ends the request in
        STATUS_CONNECTION_ERROR with an "upload source" message.
        """
        if not is_int(length) or length < -1:
            return self._refuse("request_stream: length must be an int >= -1",
                                Error.ERR_INVALID_PARAMETER)
        if not is_upload_source(source):
            return self._refuse("request_stream: source must be a binary file or an iterable "
                                "of bytes", Error.ERR_INVALID_PARAMETER)
        return self._start("request_stream", method, url, headers, b"",
                           UploadSource(source, length))

    def _start(self, name: str, method: int, url: str, headers: Iterable[str],
               body: bytes | memoryview, upload: UploadSource | None) -> Error:
        """Check everything, then queue the head: a refused request has sent nothing."""
        head = self._build_head(name, method, url, headers, body, upload)
        if isinstance(head, str):
            return self._refuse(head, Error.ERR_INVALID_PARAMETER)
        conn = self._conn
        if self._status is not Status.STATUS_CONNECTED or conn is None:
            return self._refuse(f"{name}: not connected (status {self._status.name})",
                                Error.ERR_INVALID_PARAMETER)
        if conn.has_stray_input():
            # RFC 9112 6.3: bytes nobody asked for must never become the next response.
            self._fail(Event.CONNECTION_LOST,
                       "server sent data nobody asked for (stray bytes after the last response)")
            return Error.FAILED
        conn.start_request(head, body, upload, head_request=method == Method.METHOD_HEAD)
        # A connection's second request (kept alive, or pooled) skipped its setup phases.
        self._timings = RequestTimings(conn.report, reused=conn.requests > 1,
                                       started=time.monotonic())
        self._forget_response()
        self._upload_size = conn.upload_size
        self._go(Event.REQUEST_STARTED)
        try:
            if self._blocking:
                conn.send_all_blocking()
            elif upload is None:  # the caller's source is first read by poll(), never here
                conn.step_send(time.monotonic() + limits.POLL_TIME_BUDGET_S)
        except _CONNECTION_ERRORS as exc:
            self._fail(Event.CONNECTION_LOST, f"cannot send the request: {_message(exc)}")
            return Error.FAILED
        return Error.OK

    def _build_head(self, name: str, method: int, url: str, headers: Iterable[str],
                    body: bytes | memoryview, upload: UploadSource | None) -> bytes | str:
        """The request head, or why the arguments are refused."""
        if not is_int(method) or not 0 <= method < Method.METHOD_MAX:
            return f"{name}: invalid method {method!r}"
        if not isinstance(url, str):
            return f"{name}: url must be a String"
        if isinstance(headers, (str, bytes)) or not isinstance(headers, Iterable):
            return f"{name}: headers must be a list of Strings"
        try:
            header_list = list(headers)
        except Exception as exc:
            return f"{name}: headers could not be read ({type(exc).__name__})"
        conn = self._conn
        host, port, use_tls = (conn.host, conn.port, conn.use_tls) if conn else ("", -1, False)
        proxy = conn.proxy if conn is not None and not use_tls else None
        target = url
        if proxy is not None and url.startswith("/"):
            target = protocol.absolute_form_target(host, port, False, url)
        try:
            return protocol.build_request_head(
                METHOD_VERBS[method], target, header_list,
                # An adopted stream has no known host: the caller supplies Host then.
                host=protocol.host_header_value(host, port, use_tls) if host else "",
                body_length=len(body) if upload is None else (None if upload.left < 0
                                                              else upload.left),
                user_agent=self._config.user_agent,
                extra_headers=[proxy.authorization] if proxy and proxy.authorization else [],
            )
        except (RequestError, UnicodeError) as exc:
            return f"{name}: {exc}"

    def _poll_requesting(self, conn: Connection) -> Error:
        deadline = time.monotonic() + limits.POLL_TIME_BUDGET_S
        while True:
            # The response is read once the body is out or the server stopped taking
            # it (a 413 sent early): reading it sooner would cut a healthy upload.
            if conn.sending and not conn.step_send(deadline) and not self._blocking:
                return Error.OK
            head = conn.read_head(deadline)
            if head is not None:
                return self._on_head(conn, head)
            assert conn.reader is not None
            if not conn.sending and not conn.reader.has_pending_input:
                conn.check_silence("response")
            if not self._blocking:
                return Error.OK
            if not conn.reader.has_pending_input:
                assert conn.stream is not None
                wait_stream(conn.stream, conn.sending, 0.05)
            deadline = time.monotonic() + limits.POLL_TIME_BUDGET_S

    def _on_head(self, conn: Connection, head: ResponseHead) -> Error:
        self._timings.first_byte = conn.first_byte_at or time.monotonic()
        self._response_code = head.status_code
        self._headers = list(head.header_lines)
        self._chunked = head.chunked
        self._body_length = head.content_length if not head.chunked else -1
        if head.framing is Framing.NONE:
            if conn.spent:
                self._release()  # keep the response, release the unusable connection
                return self._go(Event.SPENT)
            return self._go(Event.HEAD_WITHOUT_BODY)
        return self._go(Event.HEAD_WITH_BODY)

    # ------------------------------------------------------------------ body

    def read_response_body_chunk(self) -> bytes:
        """Up to read_chunk_size body bytes (b"" if none yet or not in STATUS_BODY)."""
        if self._status is not Status.STATUS_BODY:
            return self._refuse("read_response_body_chunk: no body to read (status "
                                f"{self._status.name})", b"")
        sink = ListSink()
        self._read_body(sink, self._read_chunk_size)
        return sink.result()

    def read_response_body_chunk_into(self, buffer: Any = None) -> int:
        """Like read_response_body_chunk but writes into ``buffer``; returns the count.

        Reads at most ``len(buffer)`` bytes (not bounded by read_chunk_size),
        straight from the socket when the framing allows: no extra copy. A
        missing, released or read-only buffer reads nothing: 0, and
        get_error_message() says why.
        """
        if self._status is not Status.STATUS_BODY:
            return self._refuse("read_response_body_chunk_into: no body to read", 0)
        try:
            view = memoryview(buffer).cast("B")
        except (TypeError, ValueError) as exc:  # no buffer, not contiguous, released
            return self._refuse(f"read_response_body_chunk_into: needs a writable buffer "
                                f"({exc})", 0)
        if view.readonly:
            return self._refuse("read_response_body_chunk_into: buffer is read-only", 0)
        conn = self._conn
        assert conn is not None and conn.stream is not None
        sink = BufferSink(view, conn.stream)
        self._read_body(sink, len(view))
        return sink.size

    def _read_body(self, sink: ListSink | BufferSink, budget: int) -> None:
        conn = self._conn
        try:
            assert conn is not None
            conn.read_body(sink, budget, time.monotonic() + limits.POLL_TIME_BUDGET_S,
                           self._blocking)
        except _CONNECTION_ERRORS as exc:
            self._fail(Event.CONNECTION_LOST, _message(exc))
            return
        except Exception as exc:
            log.exception("gdhttp: internal error while reading the body")
            self._fail(Event.CONNECTION_LOST, f"internal error reading the body: {exc!r}")
            return
        if conn.body_done:
            self._finish_body(conn)

    def _finish_body(self, conn: Connection) -> None:
        """The body is complete: keep the trailers and move the Status on."""
        assert conn.reader is not None and conn.reader.head is not None
        self._trailers = list(conn.reader.trailers)
        if conn.reader.head.framing is Framing.UNTIL_CLOSE:
            self._release()  # the engine: the end of a read-until-close body is a close()
            self._forget_response()
            self._go(Event.BODY_EOF)
        elif conn.spent:
            self._release()
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
        return headers_as_dictionary(self.get_response_headers())

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
        return self._conn.uploaded if self._conn is not None else self._uploaded

    def get_upload_size(self) -> int:
        """Request body size, or -1 for a streamed body of unknown length."""
        return self._upload_size

    # ------------------------------------------------------------------ connection seam

    @guard(None)
    def set_connection(self, connection: Any) -> None:
        """Adopt a ready stream (see ``gdhttp.transport.Stream``) or a connected socket."""
        if connection is None:
            self._refuse("set_connection: connection is null", None)
            return
        if connection is self.get_connection():
            return
        if isinstance(connection, socket.socket):
            connection = SocketStream(connection)
        if not all(callable(getattr(connection, m, None)) for m in ("recv", "send", "close")):
            self._refuse("set_connection: needs recv(n), send(data) and close()", None)
            return
        self.close()
        self._conn = Connection.adopt(connection, self._config)
        self._timings = RequestTimings(self._conn.report)
        self._go(Event.ADOPTED)

    def get_connection(self) -> Stream | None:
        return self._conn.stream if self._conn is not None else None

    connection = property(get_connection, set_connection)

    # ------------------------------------------------------------------ misc

    def close(self) -> None:
        """Drop the connection and the response; status becomes STATUS_DISCONNECTED."""
        try:
            self._release()
        finally:
            self._forget_response()
            self._status = Status.STATUS_DISCONNECTED
            self._timings.finish()

    @guard("")
    def query_string_from_dict(self, fields: Mapping[Any, Any]) -> str:
        """``{"a": 1, "b": None, "c": [1, 2]}`` -> ``"a=1&b&c=1&c=2"``, as the engine."""
        if not isinstance(fields, Mapping):
            return self._refuse("query_string_from_dict: needs a Dictionary", "")
        return protocol.query_string_from_dict(fields)

    # ------------------------------------------------------------------ report

    def get_timings(self) -> dict[str, Any]:
        """The current or last request's phases in ms: `dns_ms`, `connect_ms` (TCP and
        any proxy tunnel), `tls_ms`, `ttfb_ms` (request sent to first response byte),
        `total_ms` (their sum plus the body), and `reused` (the connection served a
        request before: its setup phases are 0). A running request counts up to now."""
        return self._timings.as_dict()

    def get_tls_info(self) -> dict[str, Any]:
        """The TLS session of the current or last connection ({} for plain HTTP):
        `version`, `cipher`, `verified`, and the leaf certificate's `subject`,
        `issuer`, `not_before`, `not_after` (ISO 8601 UTC) and `pin`
        (`sha256/<base64>`, as `set_pinned_public_keys()` takes it)."""
        return dict(self._timings.conn.tls)

    def __del__(self) -> None:
        try:
            self._release()
        except Exception:
            pass
