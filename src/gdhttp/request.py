"""``HTTPRequest``: the logic of Godot 3.5's HTTPRequest node, engine-free.

A plain object stepped by ``process(delta)``. The Node adapter calls
``process`` from ``_process`` every frame (also when ``use_threads`` is on:
the network work then runs in a worker thread, and ``process`` delivers its
events and keeps the timeout clock). A Python program with its own frame loop
uses it the same way. See ``docs/request.md``.

Events (the adapter turns them into signals) are ``Hook`` objects:
``request_completed(result, response_code, headers, body)``,
``download_progress(downloaded, total)`` and ``upload_progress(sent, total)``.
They are delivered from ``process()``, after the request's state has been
reset (like the engine's deferred ``_request_done``), so a callback may start
the next request.

Nothing raises out of a public method: caller mistakes return a Godot
``Error``, and anything unexpected inside a step is logged and ends the
request with ``RESULT_REQUEST_FAILED``.

One ``process`` step, by ``HTTPClient`` status (``_update``; one row may
chain into the next within the same step, bounded by the step budgets):

================================  ==============================================
DISCONNECTED                      complete RESULT_CANT_CONNECT
RESOLVING / CONNECTING            client.poll()
REQUESTING                        client.poll() (writes the body, reads the head)
CANT_RESOLVE / CANT_CONNECT /     complete RESULT_CANT_RESOLVE / _CANT_CONNECT /
CONNECTION_ERROR / SSL_HANDSHAKE  _CONNECTION_ERROR / _SSL_HANDSHAKE_ERROR
CONNECTED, request not sent       send it (error: RESULT_CONNECTION_ERROR)
CONNECTED, bodiless response      redirect, or RESULT_SUCCESS with an empty body
CONNECTED, body ended             RESULT_SUCCESS (or _CHUNKED_BODY_SIZE_MISMATCH)
BODY, head not handled yet        redirect / limit / open download_file
BODY                              read while data flows, within the step budgets
================================  ==============================================
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Final, NoReturn, Protocol, TypeVar, runtime_checkable
from urllib.parse import urljoin

from gdhttp import limits, paths, protocol
from gdhttp.client import HTTPClient
from gdhttp.constants import Error, HTTPRequestConstants, Method, Result, Status
from gdhttp.transport import wait_stream

__all__ = [
    "BodySource",
    "FileBody",
    "HTTPRequest",
    "Hook",
    "MultipartForm",
    "ParsedURL",
    "parse_url",
]

log = logging.getLogger("gdhttp")

_T = TypeVar("_T")
_ResultEnum = Result  # the class attribute HTTPRequest.Result shadows the name in the class body

# ---------------------------------------------------------------------- limits

#: Most body bytes one process() step reads: a fast link can't hitch a frame
#: or grow memory by more than this per frame, yet is not capped by the frame rate.
STEP_READ_BYTE_BUDGET: Final = 8 * 1024 * 1024

#: Longest one process() step keeps reading or stepping the client: 2 ms is
#: an eighth of a 60 fps frame.
STEP_TIME_BUDGET_S: Final = 0.002

#: Most client status changes handled in one step (connect, send, head, body
#: in one frame when the network is fast), so a step can never loop.
MAX_TRANSITIONS_PER_STEP: Final = 16

#: Most bytes one zlib call may produce: a decompression bomb is stopped within
#: this much of body_size_limit, and memory per call stays bounded.
DECODE_STEP: Final = 256 * 1024

#: Most gzip members in one body: concatenated members are legal, but a body
#: of thousands of empty members is only a way to burn CPU.
MAX_GZIP_MEMBERS: Final = 64

#: How long the worker thread (use_threads) waits for the socket when a step
#: made no progress: bounds cancel_request() latency and idle CPU use.
THREAD_IDLE_WAIT_S: Final = 0.005

#: The engine's download_chunk_size range (also the client's read_chunk_size range).
MIN_DOWNLOAD_CHUNK_SIZE: Final = limits.MIN_READ_CHUNK_SIZE
MAX_DOWNLOAD_CHUNK_SIZE: Final = limits.MAX_READ_CHUNK_SIZE

#: Largest in-memory body reserved up front from its Content-Length (then read
#: in place, no regrowth): a Content-Length is only a claim, so never reserve
#: more than this before the bytes have arrived.
MAX_PREALLOCATED_BODY: Final = 64 * 1024 * 1024

#: Block size read from files when streaming a multipart body.
MULTIPART_READ_BLOCK: Final = limits.UPLOAD_BLOCK_SIZE

#: Status codes followed as redirects (RFC 9110 15.4; the engine: 301, 302 only).
REDIRECT_CODES: Final = frozenset({301, 302, 303, 307, 308})

#: Request headers dropped when a redirect leaves the origin (scheme, host, port).
CREDENTIAL_HEADERS: Final = frozenset({"authorization", "cookie", "proxy-authorization", "host"})

#: Headers describing the request content, dropped when a redirect turns the
#: request into a body-less GET (RFC 9110 15.4).
CONTENT_HEADERS: Final = frozenset({
    "content-type", "content-length", "content-encoding", "content-language",
    "content-location", "transfer-encoding", "digest", "last-modified",
})

ACCEPT_ENCODING_HEADER: Final = "Accept-Encoding: gzip, deflate"


# ---------------------------------------------------------------------- hooks


class Hook:
    """A minimal signal: ``connect(fn)``, ``disconnect(fn)``; emitted by HTTPRequest."""

    __slots__ = ("_callbacks", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> Error:
        if not callable(callback):
            return Error.ERR_INVALID_PARAMETER
        if callback in self._callbacks:
            return Error.ERR_INVALID_PARAMETER
        self._callbacks.append(callback)
        return Error.OK

    def disconnect(self, callback: Callable[..., Any]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def is_connected(self, callback: Callable[..., Any]) -> bool:
        return callback in self._callbacks

    def emit(self, *args: Any) -> None:
        """Call every callback; one that raises is logged and the others still run."""
        for callback in list(self._callbacks):
            try:
                callback(*args)
            except Exception:
                log.exception("gdhttp: %s callback %r raised", self.name, callback)


# ---------------------------------------------------------------------- URLs


@dataclass(frozen=True)
class ParsedURL:
    """What HTTPRequest needs from a URL: where to connect and what to ask for."""

    use_ssl: bool
    host: str  # lower-cased, IPv6 without brackets
    port: int
    path: str  # from the first "/" on, query and fragment kept verbatim

    @property
    def origin(self) -> tuple[bool, str, int]:
        return (self.use_ssl, self.host, self.port)

    def geturl(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.use_ssl else 'http'}://{shown}:{self.port}{self.path}"


def parse_url(url: str) -> ParsedURL | None:
    """Parse like 3.5's ``String.parse_url`` + HTTPRequest's scheme check; None if invalid.

    Scheme http or https (any case); ``user:pass@`` stripped; ``[v6]``
    literals; port 1-65535 (default 80/443); path from the first "/" with
    query and fragment kept (a "?" or "#" right after the authority also ends
    it, RFC 3986); host lower-cased. Spaces and control characters refused.
    """
    if not isinstance(url, str) or not url or protocol._TARGET_BAD.search(url):
        return None
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        return None
    cut = len(rest)
    for mark in "/?#":
        at = rest.find(mark)
        if 0 <= at < cut:
            cut = at
    authority, path = rest[:cut], rest[cut:]
    if not path.startswith("/"):
        path = "/" + path
    authority = authority.rpartition("@")[2]
    use_ssl = scheme == "https"
    port_text = ""
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return None
        host, tail = authority[1:end], authority[end + 1 :]
        if tail:
            if not tail.startswith(":"):
                return None
            port_text = tail[1:]
        if not host or ":" not in host:
            return None
    else:
        if authority.count(":") > 1:
            return None
        host, _, port_text = authority.partition(":")
        if ":" in authority and not port_text:
            return None
    if not host:
        return None
    port = 443 if use_ssl else 80
    if port_text or (":" in authority.rpartition("]")[2]):
        if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) <= 65535:
            return None
        port = int(port_text)
    return ParsedURL(use_ssl, host.lower(), port, path)


# ---------------------------------------------------------------------- bodies


@runtime_checkable
class BodySource(Protocol):
    """A request body streamed from somewhere: sized, re-openable (for 307/308)."""

    content_type: str

    def size(self) -> int:
        """Bytes open() will produce, or -1 if unknown (sent chunked)."""
        ...

    def open(self) -> IO[bytes] | Iterator[bytes]:
        """A fresh stream of the whole body (a binary file or an iterator of bytes)."""
        ...


class FileBody:
    """A file (OS path, ``res://`` or ``user://``) as a request body, read as it is sent."""

    def __init__(self, path: str | os.PathLike[str], content_type: str = "") -> None:
        self.path = os.fspath(path)
        self.content_type = content_type

    def size(self) -> int:
        return paths.file_size(self.path)

    def open(self) -> IO[bytes]:
        return paths.open_read(self.path)  # closed by HTTPRequest


def _quote_param(value: str) -> str:
    # HTML's multipart/form-data encoding of names: escape ", CR and LF.
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class MultipartForm:
    """A multipart/form-data body whose files are streamed from disk.

    ``add_field(name, value)`` and ``add_file(name, path)`` in order, then
    pass the form to ``HTTPRequest.request_stream`` (it supplies the
    Content-Type with the boundary and an exact Content-Length).
    """

    def __init__(self, boundary: str = "") -> None:
        self.boundary = boundary or f"gdhttp-{secrets.token_hex(16)}"
        # Each part: (header bytes, inline data or None, file path or None).
        self._parts: list[tuple[bytes, bytes | None, str | None]] = []

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def add_field(self, name: str, value: str | bytes, content_type: str = "") -> Error:
        if not isinstance(name, str) or not isinstance(value, (str, bytes)):
            return Error.ERR_INVALID_PARAMETER
        data = value.encode("utf-8") if isinstance(value, str) else value
        head = f'Content-Disposition: form-data; name="{_quote_param(name)}"\r\n'
        if content_type:
            head += f"Content-Type: {_quote_param(content_type)}\r\n"
        self._parts.append((head.encode("utf-8"), data, None))
        return Error.OK

    def add_file(
        self,
        name: str,
        path: str | os.PathLike[str],
        filename: str = "",
        content_type: str = "application/octet-stream",
    ) -> Error:
        """Add a file part (read when sent). ERR_FILE_NOT_FOUND if it isn't a file now."""
        if not isinstance(name, str) or not isinstance(filename, str):
            return Error.ERR_INVALID_PARAMETER
        try:
            path = paths.check(path)
        except OSError:
            return Error.ERR_INVALID_PARAMETER
        if not paths.is_file(path):
            return Error.ERR_FILE_NOT_FOUND
        shown = filename or path.rsplit("/", 1)[-1]
        head = (
            f'Content-Disposition: form-data; name="{_quote_param(name)}"; '
            f'filename="{_quote_param(shown)}"\r\n'
            f"Content-Type: {_quote_param(content_type)}\r\n"
        )
        self._parts.append((head.encode("utf-8"), None, path))
        return Error.OK

    def _delimiter(self) -> bytes:
        return f"--{self.boundary}\r\n".encode("ascii")

    def _closing(self) -> bytes:
        return f"--{self.boundary}--\r\n".encode("ascii")

    def size(self) -> int:
        total = len(self._closing())
        for head, data, path in self._parts:
            total += len(self._delimiter()) + len(head) + 2  # blank line
            total += len(data) if data is not None else paths.file_size(path or "")
            total += 2  # CRLF after the content
        return total

    def open(self) -> Iterator[bytes]:
        return self._generate()

    def _generate(self) -> Iterator[bytes]:
        for head, data, path in self._parts:
            yield self._delimiter() + head + b"\r\n"
            if data is not None:
                if data:
                    yield data
            else:
                with paths.open_read(path or "") as handle:
                    while block := handle.read(MULTIPART_READ_BLOCK):
                        yield block
            yield b"\r\n"
        yield self._closing()


# ---------------------------------------------------------------------- decoding


class _DecodeError(Exception):
    pass


class _Decoder:
    """Incremental gzip / deflate (zlib-wrapped or raw) decoding in bounded steps."""

    def __init__(self, encoding: str) -> None:
        self.gzip = encoding in ("gzip", "x-gzip")
        self._obj: Any = None
        self._head = b""  # deflate: first bytes, to tell zlib-wrapped from raw
        self._members = 0

    def _new(self, first: bytes) -> None:
        if self.gzip:
            self._members += 1
            if self._members > MAX_GZIP_MEMBERS:
                raise _DecodeError(f"more than {MAX_GZIP_MEMBERS} gzip members")
            self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif first[0] & 0x0F == 8 and ((first[0] << 8) | first[1]) % 31 == 0:
            self._obj = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            self._obj = zlib.decompressobj(-zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decoded pieces of at most DECODE_STEP bytes (raises _DecodeError)."""
        if self._obj is None:
            self._head += data
            if not self.gzip and len(self._head) < 2:
                return
            data, self._head = self._head, b""
            if not data:
                return
            self._new(data)
        try:
            while data:
                obj = self._obj
                if obj.eof:
                    if not self.gzip:
                        raise _DecodeError("data after the end of the deflate stream")
                    self._new(data)
                    obj = self._obj
                out = obj.decompress(data, DECODE_STEP)
                if out:
                    yield out
                data = obj.unused_data if obj.eof else obj.unconsumed_tail
        except zlib.error as exc:
            raise _DecodeError(f"corrupt compressed body: {exc}") from exc

    def finish(self) -> bytes:
        """The rest, once the body ended; raises if the stream is incomplete."""
        if self._obj is None:
            if self._head:
                raise _DecodeError("compressed body too short")
            return b""
        if not self._obj.eof:
            raise _DecodeError("compressed body ended before the end of its stream")
        try:
            return bytes(self._obj.flush())
        except zlib.error as exc:
            raise _DecodeError(f"corrupt compressed body: {exc}") from exc


# ---------------------------------------------------------------------- helpers


def _boundary(fallback: Any) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """Public-method guard: wrong arguments or bugs become a logged fallback value."""

    def wrap(fn: Callable[..., _T]) -> Callable[..., _T]:
        @functools.wraps(fn)
        def guarded(self: HTTPRequest, *args: Any, **kwargs: Any) -> _T:
            try:
                return fn(self, *args, **kwargs)
            except TypeError as exc:
                self._error_message = f"{fn.__name__}: {exc}"
                log.error("gdhttp: HTTPRequest.%s: %s", fn.__name__, exc)
                return fallback  # type: ignore[no-any-return]
            except Exception as exc:
                log.exception("gdhttp: internal error in HTTPRequest.%s", fn.__name__)
                self._error_message = f"internal error in {fn.__name__}: {exc!r}"
                return fallback  # type: ignore[no-any-return]

        return guarded

    return wrap


def _property(getter: Callable[[Any], Any], setter: Callable[[Any, Any], Error]) -> Any:
    """A property whose setter returns an Error (useful to Python callers) that '=' drops."""
    return property(getter, setter)  # type: ignore[arg-type]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _header_name(line: str) -> str:
    return line.split(":", 1)[0].strip().lower()


def _header_value(headers: Iterable[str], name: str) -> str | None:
    """The value of the last header ``name`` (case-insensitive), or None."""
    found = None
    for line in headers:
        if ":" in line and _header_name(line) == name:
            found = line.split(":", 1)[1].strip()
    return found


def _without(headers: Iterable[str], names: frozenset[str]) -> list[str]:
    return [h for h in headers if _header_name(h) not in names]


def _content_range_start(value: str | None) -> int:
    """``bytes 100-199/200`` -> 100; -1 if absent or malformed."""
    if not value:
        return -1
    unit, _, spec = value.strip().partition(" ")
    first = spec.split("-", 1)[0].strip()
    if unit.lower() != "bytes" or not first.isdigit():
        return -1
    return int(first)


class _Finished(Exception):
    """Internal: the request has completed; unwind the step."""


# ---------------------------------------------------------------------- HTTPRequest


class HTTPRequest(HTTPRequestConstants):
    """Godot 3.5 HTTPRequest logic; step it with ``process(delta)``. See module doc."""

    Result = Result  # and the members as constants (HTTPRequest.RESULT_SUCCESS), inherited

    def __init__(self, client: HTTPClient | None = None) -> None:
        self._client = client if client is not None else HTTPClient()
        self._client.set_read_chunk_size(65536)
        # _lock guards the request's state machine (held for a whole step, also by the
        # worker thread); _events_lock only the outbox and the timeout clock, so that
        # process() on the main thread never waits for a worker's step.
        self._lock = threading.RLock()
        self._events_lock = threading.Lock()
        self.request_completed = Hook("request_completed")
        self.download_progress = Hook("download_progress")
        self.upload_progress = Hook("upload_progress")
        # Properties (engine names and defaults, then ours).
        self._download_file = ""
        self._download_chunk_size = 65536
        self._use_threads = False
        self._body_size_limit = -1
        self._max_redirects = 8
        self._timeout = 0.0
        self._accept_gzip = True
        self._download_resume = False
        self._in_tree = True
        # Observable state kept across requests (engine: not reset at completion).
        self._body_len = -1
        self._downloaded = 0
        self._error_message = ""
        # Outbox: events waiting for the next process() (coalesced per kind).
        self._out_upload: tuple[int, int] | None = None
        self._out_download: tuple[int, int] | None = None
        self._out_completion: tuple[int, int, list[str], bytes] | None = None
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._generation = 0
        self._reset_request()

    def __repr__(self) -> str:
        state = "requesting" if self._requesting else "idle"
        return f"<gdhttp.HTTPRequest {state} {self._url.geturl() if self._url else '-'}>"

    def _reset_request(self) -> None:
        self._requesting = False
        self._url: ParsedURL | None = None
        self._method = Method.METHOD_GET
        self._headers: list[str] = []
        self._body = b""
        self._source: BodySource | None = None
        self._open_source: Any = None
        self._validate = True
        self._request_timeout = 0.0
        self._elapsed = 0.0
        self._sent = False
        self._got_response = False
        self._response_code = -1
        self._response_headers: list[str] = []
        self._redirections = 0
        self._received = bytearray()
        self._in_place = False  # _received is preallocated to Content-Length
        self._delivered = 0  # body bytes after decoding (what body_size_limit counts)
        self._buffer = bytearray()
        self._file: IO[bytes] | None = None
        self._decoder: _Decoder | None = None
        self._resume_offset = 0
        self._connect_failed = False  # request() got ERR_CANT_CONNECT: complete next step
        self._last_download_report = -1
        self._last_upload_report = -1

    # ------------------------------------------------------------------ requests

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def request(
        self,
        url: str,
        custom_headers: Iterable[str] = (),
        ssl_validate_domain: bool = True,
        method: int = Method.METHOD_GET,
        request_data: str = "",
    ) -> Error:
        """Start a request with a String body (sent as UTF-8). Engine return values."""
        if not isinstance(request_data, str):
            return self._refuse("request: request_data must be a String",
                                Error.ERR_INVALID_PARAMETER)
        return self._start(url, custom_headers, ssl_validate_domain, method,
                           request_data.encode("utf-8"), None)

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def request_raw(
        self,
        url: str,
        custom_headers: Iterable[str] = (),
        ssl_validate_domain: bool = True,
        method: int = Method.METHOD_GET,
        request_data_raw: bytes = b"",
    ) -> Error:
        """Start a request with a raw byte body. Engine return values."""
        if isinstance(request_data_raw, (bytearray, memoryview)):
            request_data_raw = bytes(request_data_raw)
        if not isinstance(request_data_raw, bytes):
            return self._refuse("request_raw: request_data_raw must be bytes",
                                Error.ERR_INVALID_PARAMETER)
        return self._start(url, custom_headers, ssl_validate_domain, method,
                           request_data_raw, None)

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def request_stream(
        self,
        url: str,
        body: BodySource,
        custom_headers: Iterable[str] = (),
        ssl_validate_domain: bool = True,
        method: int = Method.METHOD_POST,
    ) -> Error:
        """Start a request whose body is streamed from ``body`` (FileBody, MultipartForm...).

        Adds ``Content-Type: <body.content_type>`` unless the caller gave one.
        """
        if not isinstance(body, BodySource):
            return self._refuse("request_stream: body needs content_type, size() and open()",
                                Error.ERR_INVALID_PARAMETER)
        return self._start(url, custom_headers, ssl_validate_domain, method, b"", body)

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def request_file(
        self,
        url: str,
        file_path: str,
        custom_headers: Iterable[str] = (),
        ssl_validate_domain: bool = True,
        method: int = Method.METHOD_PUT,
    ) -> Error:
        """Upload the file at ``file_path`` as the body, streamed from disk.

        ERR_FILE_NOT_FOUND / ERR_FILE_CANT_OPEN if it can't be read now.
        """
        if not isinstance(file_path, (str, os.PathLike)):
            return self._refuse("request_file: file_path must be a String",
                                Error.ERR_INVALID_PARAMETER)
        try:
            path = paths.check(file_path)
        except OSError as exc:
            return self._refuse(f"request_file: {exc}", Error.ERR_INVALID_PARAMETER)
        if not paths.is_file(path):
            return self._refuse(f"request_file: no such file {path!r}", Error.ERR_FILE_NOT_FOUND)
        try:
            paths.open_read(path).close()
        except OSError as exc:
            return self._refuse(f"request_file: can't read {path!r}: {paths.describe(exc)}",
                                Error.ERR_FILE_CANT_OPEN)
        return self._start(url, custom_headers, ssl_validate_domain, method, b"",
                           FileBody(path))

    def _start(
        self,
        url: str,
        custom_headers: Iterable[str],
        ssl_validate_domain: bool,
        method: int,
        body: bytes,
        source: BodySource | None,
    ) -> Error:
        # The engine's order: tree, busy, (timer), URL.
        if not self._in_tree:
            return self._refuse("request: not inside the scene tree", Error.ERR_UNCONFIGURED)
        if self._requesting or self._out_completion is not None:
            return self._refuse("request: HTTPRequest is processing a request; wait for "
                                "it to complete or cancel it", Error.ERR_BUSY)
        parsed = parse_url(url)
        if parsed is None:
            return self._refuse(f"request: invalid URL {url!r} (http:// or https:// needed)",
                                Error.ERR_INVALID_PARAMETER)
        if not _is_int(method) or not 0 <= method < Method.METHOD_MAX:
            return self._refuse(f"request: invalid method {method!r}",
                                Error.ERR_INVALID_PARAMETER)
        if isinstance(custom_headers, str) or not isinstance(custom_headers, Iterable):
            return self._refuse("request: custom_headers must be a list of Strings",
                                Error.ERR_INVALID_PARAMETER)
        headers = list(custom_headers)
        try:
            protocol.check_headers(headers)
        except protocol.RequestError as exc:
            return self._refuse(f"request: {exc}", Error.ERR_INVALID_PARAMETER)
        if source is not None and source.content_type and \
                _header_value(headers, "content-type") is None:
            headers.append(f"Content-Type: {source.content_type}")

        if self._worker is not None:
            self._stop_worker()  # a finished request's worker may still be exiting
        with self._lock:
            self._reset_request()
            self._error_message = ""
            self._requesting = True
            self._url = parsed
            self._method = Method(method)
            self._headers = headers
            self._body = body
            self._source = source
            self._validate = bool(ssl_validate_domain)
            self._request_timeout = self._timeout
            self._body_len = -1
            self._downloaded = 0
            self._buffer = bytearray(self._download_chunk_size)
            self._plan_resume()
            self._generation += 1
            client = self._client
            if self._use_threads:
                client.set_blocking_mode(False)  # the worker waits on the socket itself
                self._stop.clear()
                worker = threading.Thread(target=self._run_worker, args=(self._generation,),
                                          name="gdhttp-HTTPRequest", daemon=True)
                self._worker = worker
                worker.start()
                return Error.OK
            client.set_blocking_mode(False)
            err = client.connect_to_host(parsed.host, parsed.port, parsed.use_ssl,
                                         self._validate)
            if err != Error.OK:
                # Engine: deferred RESULT_CANT_CONNECT, and ERR_CANT_CONNECT now.
                self._error_message = client.get_error_message()
                self._connect_failed = True
                return Error.ERR_CANT_CONNECT
            return Error.OK

    def _plan_resume(self) -> None:
        if not (self._download_resume and self._download_file):
            return
        if _header_value(self._headers, "range") is not None:
            return
        try:
            size = os.path.getsize(paths.writable_path(self._download_file))
        except OSError:
            return
        if size > 0:
            self._resume_offset = size
            self._headers.append(f"Range: bytes={size}-")

    def _attempt_headers(self) -> list[str]:
        headers = list(self._headers)
        if (self._accept_gzip and not self._download_resume
                and _header_value(headers, "accept-encoding") is None):
            headers.append(ACCEPT_ENCODING_HEADER)
        return headers

    # ------------------------------------------------------------------ cancel / tree

    @_boundary(None)
    def cancel_request(self) -> None:
        """Stop the request (no completion is delivered). Idle: does nothing."""
        self._stop_worker()
        with self._lock:
            self._cleanup()
        with self._events_lock:
            self._out_completion = None
            self._out_download = self._out_upload = None

    def _stop_worker(self) -> None:
        worker = self._worker
        if worker is None:
            return
        self._stop.set()
        if worker is not threading.current_thread():
            worker.join()
        self._worker = None

    def _cleanup(self) -> None:
        """What the engine's cancel_request() does: close everything, keep counters."""
        self._generation += 1
        self._client.close()
        self._close_source()
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
        kept = self._body_len, self._downloaded, self._error_message, self._redirections
        self._reset_request()
        self._body_len, self._downloaded, self._error_message, self._redirections = kept

    def _close_source(self) -> None:
        stream, self._open_source = self._open_source, None
        close = getattr(stream, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                log.debug("gdhttp: closing the upload source failed", exc_info=True)

    def is_in_tree(self) -> bool:
        return self._in_tree

    @_boundary(None)
    def set_in_tree(self, in_tree: bool) -> None:
        """The adapter's tree notifications. Leaving the tree cancels silently."""
        self._in_tree = bool(in_tree)
        if not self._in_tree:
            self.cancel_request()

    in_tree = property(is_in_tree, set_in_tree)

    def enter_tree(self) -> None:
        self.set_in_tree(True)

    def exit_tree(self) -> None:
        self.set_in_tree(False)

    # ------------------------------------------------------------------ stepping

    @_boundary(None)
    def process(self, delta: float = 0.0) -> None:
        """One frame: advance the request (unless a worker thread does), deliver events."""
        if not isinstance(delta, (int, float)) or isinstance(delta, bool):
            delta = 0.0
        expired = False
        if self._requesting:
            with self._events_lock:
                self._elapsed += max(0.0, float(delta))
                timeout = self._request_timeout
                expired = timeout > 0 and self._elapsed >= timeout
        if expired:
            self._stop_worker()
            with self._lock:
                if self._requesting:
                    self._error_message = f"timed out after {self._request_timeout:g} s"
                    try:
                        self._finish(Result.RESULT_TIMEOUT)
                    except _Finished:
                        pass
        elif self._requesting and self._worker is None:
            with self._lock:
                if self._requesting:
                    self._run_step()
        self._flush()

    def _run_step(self) -> bool:
        try:
            return self._step()
        except _Finished:
            return True
        except Exception as exc:
            log.exception("gdhttp: internal error in HTTPRequest.process()")
            self._error_message = f"internal error: {exc!r}"
            try:
                self._finish(Result.RESULT_REQUEST_FAILED, self._response_code_or_zero(),
                             self._response_headers)
            except _Finished:
                pass
            return True

    def _response_code_or_zero(self) -> int:
        return max(self._response_code, 0)

    def _step(self) -> bool:
        if self._connect_failed:
            self._finish(Result.RESULT_CANT_CONNECT)
        deadline = time.monotonic() + STEP_TIME_BUDGET_S
        progressed_any = False
        for _ in range(MAX_TRANSITIONS_PER_STEP):
            try:
                progressed = self._update(deadline)
            except _Finished:
                progressed = True  # completed, or a redirect started a new connection
            self._note_progress()
            progressed_any = progressed_any or progressed
            if not progressed or not self._requesting or time.monotonic() >= deadline:
                break
        return progressed_any

    def _run_worker(self, generation: int) -> None:
        """use_threads: connect, then step until done; events wait for process()."""
        try:
            with self._lock:
                if generation != self._generation or not self._requesting:
                    return
                url = self._url
                assert url is not None
                if self._client.connect_to_host(url.host, url.port, url.use_ssl,
                                                self._validate) != Error.OK:
                    self._error_message = self._client.get_error_message()
                    self._connect_failed = True
            while not self._stop.is_set():
                with self._lock:
                    if generation != self._generation or not self._requesting:
                        return
                    progressed = self._run_step()
                    if not self._requesting:
                        return
                    client = self._client
                    stream = client.get_connection()
                    requesting = client.get_status() == Status.STATUS_REQUESTING
                    sent, size = client.get_uploaded_bytes(), client.get_upload_size()
                if progressed:
                    continue
                if stream is None or (requesting and size < 0):
                    # Connecting, or a chunked upload whose end we can't see: nap briefly.
                    self._stop.wait(THREAD_IDLE_WAIT_S / 5)
                else:
                    # Wait until the socket can take more of the upload, or has data.
                    wait_stream(stream, requesting and sent < size, THREAD_IDLE_WAIT_S)
        except Exception:
            log.exception("gdhttp: internal error in the HTTPRequest worker thread")
        finally:
            with self._lock:
                if self._worker is threading.current_thread():
                    self._worker = None

    # ---- one row of the table

    def _update(self, deadline: float) -> bool:
        client = self._client
        status = client.get_status()
        S = Status
        if status == S.STATUS_DISCONNECTED:
            self._finish(Result.RESULT_CANT_CONNECT)
        if status in (S.STATUS_RESOLVING, S.STATUS_CONNECTING):
            client.poll()
            return client.get_status() != status
        if status == S.STATUS_REQUESTING:
            before = client.get_uploaded_bytes()
            client.poll()
            return client.get_status() != status or client.get_uploaded_bytes() != before
        failures = {
            S.STATUS_CANT_RESOLVE: Result.RESULT_CANT_RESOLVE,
            S.STATUS_CANT_CONNECT: Result.RESULT_CANT_CONNECT,
            S.STATUS_CONNECTION_ERROR: Result.RESULT_CONNECTION_ERROR,
            S.STATUS_SSL_HANDSHAKE_ERROR: Result.RESULT_SSL_HANDSHAKE_ERROR,
        }
        if status in failures:
            self._error_message = client.get_error_message()
            self._finish(failures[status])
        if status == S.STATUS_CONNECTED:
            if not self._sent:
                self._send()
                return True
            if not self._got_response:
                self._handle_response()  # finishes or redirects unless it's the final one
                self._finish(Result.RESULT_SUCCESS, self._response_code, self._response_headers)
            self._finish_body()
        if status == S.STATUS_BODY:
            progressed = False
            if not self._got_response:
                self._handle_response()
                self._start_body()
                progressed = True
            return self._read_body(deadline) or progressed
        return False

    def _send(self) -> None:
        client, url = self._client, self._url
        assert url is not None
        headers = self._attempt_headers()
        source = self._source
        if source is not None:
            self._close_source()
            try:
                size = source.size()
                self._open_source = source.open()
            except OSError as exc:
                self._error_message = f"can't read the request body: {exc}"
                self._finish(Result.RESULT_REQUEST_FAILED)
            err = client.request_stream(self._method, url.path, headers, self._open_source, size)
        else:
            err = client.request_raw(self._method, url.path, headers, self._body)
        if err != Error.OK:
            self._error_message = client.get_error_message()
            self._finish(Result.RESULT_CONNECTION_ERROR)
        self._sent = True

    def _handle_response(self) -> None:
        """Take the response head; follow a redirect or return for the final response."""
        client = self._client
        if not client.has_response():
            self._error_message = "the response had no header fields"
            self._finish(Result.RESULT_NO_RESPONSE)
        self._got_response = True
        self._response_code = client.get_response_code()
        self._response_headers = client.get_response_headers()
        self._body_len = client.get_response_body_length()
        self._downloaded = 0
        self._last_download_report = -1
        code = self._response_code
        if code not in REDIRECT_CODES or self._url is None:
            return
        location = _header_value(self._response_headers, "location")
        if not location:
            return
        target = parse_url(urljoin(self._url.geturl(), location))
        if target is None:
            log.info("gdhttp: not following redirect to %r", location)
            return
        if 0 <= self._max_redirects <= self._redirections:
            self._error_message = f"more than {self._max_redirects} redirects"
            self._finish(Result.RESULT_REDIRECT_LIMIT_REACHED, code, self._response_headers)
        self._follow(target, code)

    def _follow(self, target: ParsedURL, code: int) -> None:
        assert self._url is not None
        client = self._client
        client.close()
        self._close_source()
        if target.origin != self._url.origin:
            self._headers = _without(self._headers, CREDENTIAL_HEADERS)
        becomes_get = (code == 303 and self._method != Method.METHOD_HEAD) or (
            code in (301, 302) and self._method == Method.METHOD_POST
        )
        if becomes_get:
            self._method = Method.METHOD_GET
            self._body = b""
            self._source = None
            self._headers = _without(self._headers, CONTENT_HEADERS)
        log.debug("gdhttp: redirect %d to %s", code, target.geturl())
        self._url = target
        self._redirections += 1
        self._sent = self._got_response = False
        self._body_len = -1
        self._downloaded = 0
        self._delivered = 0
        self._received = bytearray()
        self._in_place = False
        self._response_code = -1
        self._response_headers = []
        if client.connect_to_host(target.host, target.port, target.use_ssl,
                                  self._validate) != Error.OK:
            self._error_message = client.get_error_message()
        raise _Finished  # end this row; the next one sees the new connection

    def _start_body(self) -> None:
        """First BODY step of the final response: limits, download file, decoder."""
        code, headers = self._response_code, self._response_headers
        if not self._client.is_response_chunked() and self._body_len == 0:
            self._finish(Result.RESULT_SUCCESS, code, headers)
        limit = self._body_size_limit
        if limit >= 0 and self._body_len > limit:
            self._error_message = f"Content-Length {self._body_len} exceeds body_size_limit"
            self._finish(Result.RESULT_BODY_SIZE_LIMIT_EXCEEDED, code, headers)
        if self._download_file and not (self._resume_offset > 0 and code == 416):
            append = False
            if self._resume_offset > 0 and code == 206:
                start = _content_range_start(_header_value(headers, "content-range"))
                if start != self._resume_offset:
                    self._error_message = (f"server resumed at byte {start}, expected "
                                           f"{self._resume_offset}")
                    self._finish(Result.RESULT_REQUEST_FAILED, code, headers)
                append = True
            try:
                target = paths.writable_path(self._download_file)
                self._file = open(target, "ab" if append else "wb")  # noqa: SIM115
            except OSError as exc:
                self._error_message = f"can't open {self._download_file!r}: {exc}"
                self._finish(Result.RESULT_DOWNLOAD_FILE_CANT_OPEN, code, headers)
        encoding = (_header_value(headers, "content-encoding") or "").lower()
        if self._accept_gzip and encoding in ("gzip", "x-gzip", "deflate"):
            self._decoder = _Decoder(encoding)
        elif self._file is None and 0 < self._body_len <= MAX_PREALLOCATED_BODY:
            self._received = bytearray(self._body_len)  # read in place: see _read_body
            self._in_place = True

    def _read_body(self, deadline: float) -> bool:
        client = self._client
        client.poll()
        if client.get_status() != Status.STATUS_BODY:
            return self._body_ended()
        buffer = self._buffer
        view = memoryview(buffer)
        chunk = len(buffer)
        whole = memoryview(self._received) if self._in_place else None
        read_now = 0
        progressed = False
        while True:
            if whole is not None:
                # Straight into the preallocated body: no copy, no regrowth. The
                # client never reads past Content-Length, and the limit was checked.
                start = self._downloaded
                n = client.read_response_body_chunk_into(whole[start : start + chunk])
                self._delivered += n
            else:
                n = client.read_response_body_chunk_into(buffer)
            if n:
                progressed = True
                self._downloaded += n
                read_now += n
                if whole is None:
                    self._consume(view[:n])
            if client.get_status() != Status.STATUS_BODY:
                return self._body_ended()
            if 0 <= self._body_len <= self._downloaded:
                self._finish_body()
            if not n or read_now >= STEP_READ_BYTE_BUDGET or time.monotonic() >= deadline:
                return progressed

    def _body_ended(self) -> bool:
        status = self._client.get_status()
        if status == Status.STATUS_CONNECTED or (
            status == Status.STATUS_DISCONNECTED and self._body_len < 0
        ):
            self._finish_body()
        return True  # error statuses are completed by the next row

    def _consume(self, data: memoryview) -> None:
        decoder = self._decoder
        if decoder is None:
            self._deliver(data)
            return
        try:
            for piece in decoder.feed(bytes(data)):
                self._deliver(piece)
        except _DecodeError as exc:
            self._error_message = str(exc)
            self._finish(Result.RESULT_REQUEST_FAILED, self._response_code,
                         self._response_headers)

    def _deliver(self, data: bytes | memoryview) -> None:
        self._delivered += len(data)
        limit = self._body_size_limit
        if limit >= 0 and self._delivered > limit:
            self._error_message = f"body larger than body_size_limit ({limit} bytes)"
            self._finish(Result.RESULT_BODY_SIZE_LIMIT_EXCEEDED, self._response_code,
                         self._response_headers)
        if self._file is not None:
            try:
                self._file.write(data)
            except (OSError, ValueError) as exc:
                self._error_message = f"can't write {self._download_file!r}: {exc}"
                self._finish(Result.RESULT_DOWNLOAD_FILE_WRITE_ERROR, self._response_code,
                             self._response_headers)
        else:
            self._received += data

    def _finish_body(self) -> None:
        code, headers = self._response_code, self._response_headers
        if self._body_len >= 0 and self._downloaded != self._body_len:
            self._finish(Result.RESULT_CHUNKED_BODY_SIZE_MISMATCH, code, headers)
        if self._decoder is not None and self._downloaded > 0:
            try:
                rest = self._decoder.finish()
            except _DecodeError as exc:
                self._error_message = str(exc)
                self._finish(Result.RESULT_REQUEST_FAILED, code, headers)
            if rest:
                self._deliver(rest)
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError as exc:
                self._error_message = f"can't write {self._download_file!r}: {exc}"
                self._finish(Result.RESULT_DOWNLOAD_FILE_WRITE_ERROR, code, headers)
            self._finish(Result.RESULT_SUCCESS, code, headers)
        self._finish(Result.RESULT_SUCCESS, code, headers, bytes(self._received))

    def _finish(
        self, result: _ResultEnum, code: int = 0, headers: list[str] | None = None,
        body: bytes = b"",
    ) -> NoReturn:
        """Complete: reset (engine's cancel_request), queue the completion, unwind."""
        self._note_progress()
        if result != Result.RESULT_SUCCESS:
            log.info("gdhttp: HTTPRequest %s: %s", result.name, self._error_message)
        self._cleanup()
        with self._events_lock:
            self._out_completion = (int(result), int(code), list(headers or []), body)
        raise _Finished

    # ------------------------------------------------------------------ events

    def _note_progress(self) -> None:
        if not self._requesting:
            return
        client = self._client
        if self._sent and client.get_status() in (Status.STATUS_REQUESTING,
                                                  Status.STATUS_BODY,
                                                  Status.STATUS_CONNECTED):
            sent = client.get_uploaded_bytes()
            if sent != self._last_upload_report and (sent > 0 or client.get_upload_size() > 0):
                self._last_upload_report = sent
                with self._events_lock:
                    self._out_upload = (sent, client.get_upload_size())
        if self._got_response and self._downloaded != self._last_download_report:
            self._last_download_report = self._downloaded
            with self._events_lock:
                self._out_download = (self._downloaded, self._body_len)

    def _flush(self) -> None:
        """Deliver queued events on the caller's thread: upload, download, completion."""
        with self._events_lock:
            upload, self._out_upload = self._out_upload, None
            download, self._out_download = self._out_download, None
            completion, self._out_completion = self._out_completion, None
        if upload is not None:
            self.upload_progress.emit(*upload)
        if download is not None:
            self.download_progress.emit(*download)
        if completion is not None:
            self.request_completed.emit(*completion)

    # ------------------------------------------------------------------ getters

    def get_http_client_status(self) -> Status:
        return self._client.get_status()

    def get_downloaded_bytes(self) -> int:
        """Body bytes received for the current/last response (before decoding)."""
        return self._downloaded

    def get_body_size(self) -> int:
        """Content-Length of the current/last response, -1 if unknown or none yet."""
        return self._body_len

    def get_error_message(self) -> str:
        """Why the last request failed or the last call was refused ("" if it didn't)."""
        return self._error_message

    def is_requesting(self) -> bool:
        """True from request() until its completion has been delivered by process().

        With use_threads the worker may finish between two process() calls; the
        request still counts as running until the next process() delivers the
        completion, so a driver that stops calling process() once this is False
        never loses a completion.
        """
        return self._requesting or self._out_completion is not None

    def get_redirect_count(self) -> int:
        """Redirects followed by the current/last request."""
        return self._redirections

    def get_client(self) -> HTTPClient:
        """The HTTPClient used (TLS options, set_timeouts, user agent...)."""
        return self._client

    client = property(get_client)

    @_boundary(None)
    def set_http_proxy(self, host: str, port: int) -> None:
        self._client.set_http_proxy(host, port)

    @_boundary(None)
    def set_https_proxy(self, host: str, port: int) -> None:
        self._client.set_https_proxy(host, port)

    # ------------------------------------------------------------------ properties

    def _refuse(self, message: str, result: _T) -> _T:
        self._error_message = message
        log.error("gdhttp: HTTPRequest.%s", message)
        return result

    def _busy_setter(self, name: str) -> bool:
        if self._requesting:
            self._refuse(f"set_{name}: can't change {name} while a request is running", None)
            return True
        return False

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_download_file(self, path: str) -> Error:
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str):
            return self._refuse("set_download_file: needs a String", Error.ERR_INVALID_PARAMETER)
        if self._busy_setter("download_file"):
            return Error.ERR_BUSY
        self._download_file = path
        return Error.OK

    def get_download_file(self) -> str:
        return self._download_file

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_download_chunk_size(self, size: int) -> Error:
        if not _is_int(size) or not MIN_DOWNLOAD_CHUNK_SIZE <= size <= MAX_DOWNLOAD_CHUNK_SIZE:
            return self._refuse(f"set_download_chunk_size: {size!r} is outside "
                                f"{MIN_DOWNLOAD_CHUNK_SIZE}..{MAX_DOWNLOAD_CHUNK_SIZE}",
                                Error.ERR_INVALID_PARAMETER)
        if self._busy_setter("download_chunk_size"):
            return Error.ERR_BUSY
        self._download_chunk_size = size
        self._client.set_read_chunk_size(size)
        return Error.OK

    def get_download_chunk_size(self) -> int:
        return self._download_chunk_size

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_use_threads(self, enable: bool) -> Error:
        if not isinstance(enable, (bool, int)):
            return self._refuse("set_use_threads: needs a bool", Error.ERR_INVALID_PARAMETER)
        if self._busy_setter("use_threads"):
            return Error.ERR_BUSY
        self._use_threads = bool(enable)
        return Error.OK

    def is_using_threads(self) -> bool:
        return self._use_threads

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_body_size_limit(self, bytes: int) -> Error:
        if not _is_int(bytes):
            return self._refuse("set_body_size_limit: needs an int", Error.ERR_INVALID_PARAMETER)
        if self._busy_setter("body_size_limit"):
            return Error.ERR_BUSY
        self._body_size_limit = bytes
        return Error.OK

    def get_body_size_limit(self) -> int:
        return self._body_size_limit

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_max_redirects(self, amount: int) -> Error:
        """Settable at any time, as in the engine; -1 means unlimited."""
        if not _is_int(amount):
            return self._refuse("set_max_redirects: needs an int", Error.ERR_INVALID_PARAMETER)
        self._max_redirects = amount
        return Error.OK

    def get_max_redirects(self) -> int:
        return self._max_redirects

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_timeout(self, timeout: float) -> Error:
        """Seconds for the whole request (0 = none); negative refused; ~0 becomes 0."""
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or \
                timeout != timeout:
            return self._refuse("set_timeout: needs a float", Error.ERR_INVALID_PARAMETER)
        if abs(timeout) < 1e-5:
            timeout = 0.0
        if timeout < 0:
            return self._refuse("set_timeout: timeout must be >= 0",
                                Error.ERR_INVALID_PARAMETER)
        self._timeout = float(timeout)
        return Error.OK

    def get_timeout(self) -> float:
        return self._timeout

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_accept_gzip(self, enable: bool) -> Error:
        if not isinstance(enable, (bool, int)):
            return self._refuse("set_accept_gzip: needs a bool", Error.ERR_INVALID_PARAMETER)
        if self._busy_setter("accept_gzip"):
            return Error.ERR_BUSY
        self._accept_gzip = bool(enable)
        return Error.OK

    def is_accepting_gzip(self) -> bool:
        return self._accept_gzip

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_download_resume(self, enable: bool) -> Error:
        if not isinstance(enable, (bool, int)):
            return self._refuse("set_download_resume: needs a bool",
                                Error.ERR_INVALID_PARAMETER)
        if self._busy_setter("download_resume"):
            return Error.ERR_BUSY
        self._download_resume = bool(enable)
        return Error.OK

    def is_download_resume(self) -> bool:
        return self._download_resume

    download_file = _property(get_download_file, set_download_file)
    download_chunk_size = _property(get_download_chunk_size, set_download_chunk_size)
    use_threads = _property(is_using_threads, set_use_threads)
    body_size_limit = _property(get_body_size_limit, set_body_size_limit)
    max_redirects = _property(get_max_redirects, set_max_redirects)
    timeout = _property(get_timeout, set_timeout)
    accept_gzip = _property(is_accepting_gzip, set_accept_gzip)
    download_resume = _property(is_download_resume, set_download_resume)

    def __del__(self) -> None:
        try:
            self._stop.set()
            self._client.close()
        except Exception:
            pass
