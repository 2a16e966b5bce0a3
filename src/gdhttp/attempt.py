"""One attempt of an HTTPRequest: one URL, one connection, one response.

An ``Attempt`` holds everything that belongs to a single request/response
exchange (target, headers, body source, decoder, where the body goes,
counters). A redirect makes a new ``Attempt`` (``follow``); nothing is reset
field by field. ``step(deadline)`` advances it and returns a ``Completion``,
a ``Redirect`` for the caller to follow, or None (call again next frame).

One step, by ``HTTPClient`` status (one row may chain into the next within
the step, bounded by MAX_TRANSITIONS_PER_STEP and the deadline):

================================  ==============================================
(session) slot not granted yet    wait; once granted attach the pooled/fresh one
DISCONNECTED, head handled        the body ended with the connection: complete it
DISCONNECTED, head unhandled      a response whose connection is spent: complete it
DISCONNECTED, nothing             complete RESULT_CANT_CONNECT
RESOLVING / CONNECTING            client.poll()
REQUESTING                        client.poll() (writes the body, reads the head)
CANT_RESOLVE / CANT_CONNECT /     complete RESULT_CANT_RESOLVE / _CANT_CONNECT /
CONNECTION_ERROR / SSL_HANDSHAKE  _CONNECTION_ERROR / _SSL_HANDSHAKE_ERROR, unless
                                  a reused connection failed unanswered: an
                                  idempotent request is sent once more, fresh
CONNECTED, request not sent       send it (error: RESULT_CONNECTION_ERROR)
CONNECTED, head not handled       redirect, or complete (bodiless response)
CONNECTED, body ended             drain the decoder, then complete
BODY, head not handled            redirect / resume checks / choose the sink
BODY                              read and decode until the deadline
================================  ==============================================

Every read is bounded by time, not by body bytes: the slice handed to the
client shrinks when a read was slow (1-byte chunks, long chunk extensions)
and grows back when reads are fast, and decoded output comes out in
DECODE_STEP pieces with the deadline checked between them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, Final
from urllib.parse import urljoin

from gdhttp import limits, paths
from gdhttp.client import HTTPClient
from gdhttp.constants import Error, Method, Result, Status
from gdhttp.decoders import DECODE_STEP, ENCODINGS, DecodeError, Decoder
from gdhttp.multipart import BodySource
from gdhttp.resume import ResumePlan, forget_validator, record_validator
from gdhttp.session import Channel, Lease, Session
from gdhttp.urls import ParsedURL, header_value, parse_url, redact, without_headers

__all__ = ["Attempt", "Completion", "Options", "Redirect"]

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

_FAILURES: Final = {
    Status.STATUS_CANT_RESOLVE: Result.RESULT_CANT_RESOLVE,
    Status.STATUS_CANT_CONNECT: Result.RESULT_CANT_CONNECT,
    Status.STATUS_CONNECTION_ERROR: Result.RESULT_CONNECTION_ERROR,
    Status.STATUS_SSL_HANDSHAKE_ERROR: Result.RESULT_SSL_HANDSHAKE_ERROR,
}


@dataclass(frozen=True)
class Completion:
    """How a request ended: the ``request_completed`` arguments and the error message."""

    result: Result
    code: int = 0
    headers: tuple[str, ...] = ()
    body: bytes = b""
    message: str = ""

    def signal_args(self) -> tuple[int, int, list[str], bytes]:
        return int(self.result), int(self.code), list(self.headers), self.body


@dataclass(frozen=True)
class Redirect:
    """A redirect response; the caller checks max_redirects and calls ``Attempt.follow``."""

    target: ParsedURL
    code: int
    headers: tuple[str, ...]


@dataclass(frozen=True)
class Options:
    """The node's properties, frozen for one request (the engine's are too)."""

    download_file: str = ""
    chunk_size: int = limits.DEFAULT_READ_CHUNK_SIZE
    body_size_limit: int = -1
    accept_gzip: bool = True
    resume: bool = False
    validate: bool = True
    #: Body streaming: each delivered (decoded) piece goes here instead of memory.
    chunk_sink: Callable[[bytes], None] | None = None


Outcome = Completion | Redirect | bool  # bool: no end yet; True if anything moved


class Attempt:
    """One request/response exchange over ``client``; see the module doc."""

    def __init__(self, client: HTTPClient, url: ParsedURL, method: Method, headers: list[str],
                 body: bytes, source: BodySource | None, options: Options,
                 plan: ResumePlan | None = None, redirects: int = 0,
                 session: Session | None = None) -> None:
        #: The request's HTTPClient; ``client`` is what this attempt talks to: the
        #: same, or an HTTP/2 stream the session's Lease hands out (docs/http2.md).
        self.http_client = client
        self.client: Channel = client
        self.session = session
        self.lease: Lease | None = None  # set by connect() when a session is used
        self.url = url
        self.method = method
        self.headers = headers  # the caller's, checked; per-attempt additions in _send
        self.body = body
        self.source = source
        self.options = options
        self.plan = plan
        self.redirects = redirects
        self.sent = False
        self.progressed = False  # the last step moved something (the worker naps if not)
        self.code = -1
        self.response_headers: tuple[str, ...] = ()
        self.body_len = -1
        self.downloaded = 0  # body bytes off the wire (before decoding)
        self.delivered = 0  # body bytes after decoding (what the limits count)
        self.has_head = False
        self._stream: Any = None  # the opened upload source
        self._decoder: Decoder | None = None
        self._file: IO[bytes] | None = None
        self._memory = bytearray()
        self._in_place = False  # _memory is preallocated to Content-Length
        self._cap = -1  # most delivered bytes accepted (-1: none)
        self._cap_reason = ""
        self._expected = -1  # body bytes a validated 206 must have
        self._buffer = bytearray()
        self._slice = min(limits.MIN_READ_SLICE, options.chunk_size)

    # ------------------------------------------------------------------ lifecycle

    def connect(self) -> Error:
        url = self.url
        if self.session is None:
            return self.http_client.connect_to_host(url.host, url.port, url.use_ssl,
                                                    self.options.validate)
        self.http_client.close()
        self.lease = Lease(self.session, self.http_client, url, self.method, self.options.validate)
        if self.lease.waiting:
            return Error.OK  # queued: step() attaches once the pool grants the slot
        err = self.lease.attach()
        self.client = self.lease.channel
        return err

    def follow(self, redirect: Redirect) -> Attempt:
        """The next attempt, for ``redirect`` (RFC 9110's method rules, credentials kept
        only within the origin). The client must have been closed."""
        headers = self.headers
        if redirect.target.origin != self.url.origin:
            headers = without_headers(headers, CREDENTIAL_HEADERS)
        method, body, source = self.method, self.body, self.source
        code = redirect.code
        if (code == 303 and method != Method.METHOD_HEAD) or (
                code in (301, 302) and method == Method.METHOD_POST):
            method, body, source = Method.METHOD_GET, b"", None
            headers = without_headers(headers, CONTENT_HEADERS)
        return Attempt(self.http_client, redirect.target, method, list(headers), body, source,
                       self.options, self.plan, self.redirects + 1, self.session)

    def close(self) -> None:
        """Release the upload source, the download file and the session's slot (with the
        connection if reusable); without a session the client is the caller's."""
        if self.lease is not None:
            self.lease.release()
        self._close_files()

    def abandon(self) -> None:
        """From a finalizer: give the session's slot back later, close the files now."""
        if self.lease is not None:
            self.lease.abandon()
        self._close_files()

    def _close_files(self) -> None:
        self._close_source()
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError:
                pass

    def _close_source(self) -> None:
        stream, self._stream = self._stream, None
        close = getattr(stream, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # the caller's object: its failure must not hide ours
                pass

    def _done(self, result: Result, message: str = "", body: bytes = b"") -> Completion:
        """Complete with this response's code and headers (the caller then calls close())."""
        self._close_files()
        return Completion(result, max(self.code, 0), self.response_headers, body,
                          redact(message))

    def _failed(self, result: Result, message: str) -> Completion:
        """Complete without a response (code 0, no headers), as the engine does."""
        self._close_files()
        return Completion(result, message=redact(message))

    # ------------------------------------------------------------------ stepping

    def step(self, deadline: float) -> Completion | Redirect | None:
        """Advance until something ends, nothing moves, or ``deadline`` (monotonic)."""
        self.progressed = False
        for _ in range(limits.MAX_TRANSITIONS_PER_STEP):
            outcome = self._update(deadline)
            if not isinstance(outcome, bool):
                return outcome
            self.progressed = self.progressed or outcome
            if not outcome or time.monotonic() >= deadline:
                break
        return None

    def _update(self, deadline: float) -> Outcome:
        if self.lease is not None:
            channel = self.lease.channel  # h2 falls back to HTTP/1.1 by ALPN here
            if self.sent and channel is not self.client and channel is self.lease.client:
                # Handed to the h2 link during its handshake, never sent: send it again.
                self._close_source()
                self.sent = False
            self.client = channel
            if not self.lease.attached:
                if self.lease.waiting:
                    return False
                self.lease.attach()  # a failure shows in the status, completed by its row
                return True
        client = self.client
        status = client.get_status()
        S = Status
        if status == S.STATUS_DISCONNECTED:
            if self.has_head:  # the body ended with the connection (read until close)
                return self._finish_body(deadline)
            if self.sent and client.has_response():  # answered early, connection spent
                head = self._on_head(has_body=False)
                return head if head is not None else self._done(Result.RESULT_SUCCESS)
            return self._failed(Result.RESULT_CANT_CONNECT, client.get_error_message())
        if status in (S.STATUS_RESOLVING, S.STATUS_CONNECTING):
            if not self.sent and getattr(client, "accepts_early_request", False):
                return self._send()  # an h2 stream: sent as soon as the handshake ends
            client.poll()
            return client.get_status() != status
        if status == S.STATUS_REQUESTING:
            before = client.get_uploaded_bytes()
            client.poll()
            return client.get_status() != status or client.get_uploaded_bytes() != before
        if status in _FAILURES:
            if self.sent and not self.has_head and self._retry():
                return True
            return self._failed(_FAILURES[status], client.get_error_message())
        if status == S.STATUS_CONNECTED:
            if not self.sent:
                return self._send()
            if not self.has_head:
                head = self._on_head(has_body=False)
                return head if head is not None else self._done(Result.RESULT_SUCCESS)
            return self._finish_body(deadline)
        if status == S.STATUS_BODY:
            if not self.has_head:
                head = self._on_head(has_body=True)
                if head is not None:
                    return head
            return self._read_body(deadline)
        return False

    def _send(self) -> Outcome:
        client, url = self.client, self.url
        headers = list(self.headers)
        if self.lease is not None:
            headers = self.lease.cookie_headers(headers)
        if self.plan is not None:
            headers += self.plan.request_headers()
        elif self.options.accept_gzip and not self.options.resume \
                and header_value(headers, "accept-encoding") is None:
            headers.append(ACCEPT_ENCODING_HEADER)
        if self.source is not None:
            try:
                size = self.source.size()
                self._stream = self.source.open()
            except (OSError, ValueError) as exc:
                return self._failed(Result.RESULT_REQUEST_FAILED,
                                    f"can't read the request body: {exc}")
            err = client.request_stream(self.method, url.path, headers, self._stream, size)
        else:
            err = client.request_raw(self.method, url.path, headers, self.body)
        if err != Error.OK:
            if self._retry():
                return True
            return self._failed(Result.RESULT_CONNECTION_ERROR, client.get_error_message())
        self.sent = True
        return True

    def _retry(self) -> bool:
        """Send once more on a fresh connection if the session allows it (RFC 9110 9.2.2)."""
        lease = self.lease
        if lease is None or not lease.may_retry():
            return False
        self._close_source()  # reopened by _send
        self.sent = False
        lease.retry()
        return True

    # ------------------------------------------------------------------ the head

    def _on_head(self, has_body: bool) -> Completion | Redirect | None:
        """Take the response head: a redirect, an early end, or None with the sink chosen."""
        client = self.client
        if not client.has_response():
            return self._failed(Result.RESULT_NO_RESPONSE, "the response had no header fields")
        self.has_head = True
        self.code = code = client.get_response_code()
        self.response_headers = headers = tuple(client.get_response_headers())
        if self.lease is not None:
            self.lease.store_cookies(headers)
        if code in REDIRECT_CODES:
            location = header_value(headers, "location")
            if location:
                target = parse_url(urljoin(self.url.geturl(), location))
                if target is not None:
                    # As the engine: a redirect's body length is never read, so
                    # get_body_size() stays -1 (also at the redirect limit).
                    return Redirect(target, code, headers)
        self.body_len = client.get_response_body_length()
        if self.plan is not None:
            early = self._check_resume(code, headers)
            if early is not None:
                return early
        if self.options.resume and self.options.download_file and code not in (200, 206):
            # Not the file's bytes: keep the partial file, hold a bounded error body.
            limit = self.options.body_size_limit
            self._cap = limits.MAX_RESUME_ERROR_BODY if limit < 0 else \
                min(limit, limits.MAX_RESUME_ERROR_BODY)
            self._cap_reason = f"error body during resume larger than {self._cap} bytes"
        if not has_body:
            return None
        return self._choose_sink(code, headers)

    def _check_resume(self, code: int, headers: tuple[str, ...]) -> Completion | None:
        plan = self.plan
        assert plan is not None
        if code == 416:  # decided by the head alone; the body is never read
            why = plan.check_unsatisfiable(headers)
            if why:
                return self._done(Result.RESULT_REQUEST_FAILED, why)
            forget_validator(plan.target)
            return self._done(Result.RESULT_SUCCESS)
        if code == 206:
            self._expected, why = plan.check_partial(headers, self.body_len)
            if why:
                return self._done(Result.RESULT_REQUEST_FAILED, why)
        return None

    def _choose_sink(self, code: int, headers: tuple[str, ...]) -> Completion | None:
        options = self.options
        limit = options.body_size_limit
        if limit >= 0 and self.body_len > limit:
            return self._done(Result.RESULT_BODY_SIZE_LIMIT_EXCEEDED,
                              f"Content-Length {self.body_len} exceeds body_size_limit")
        if self._cap < 0:
            self._cap = limit
            self._cap_reason = f"body larger than body_size_limit ({limit} bytes)"
        if options.download_file and not (options.resume and code not in (200, 206)):
            append = self.plan is not None and code == 206
            try:
                target = paths.writable_path(options.download_file)
                self._file = open(target, "ab" if append else "wb")  # noqa: SIM115
            except (OSError, ValueError) as exc:
                return self._done(Result.RESULT_DOWNLOAD_FILE_CANT_OPEN,
                                  f"can't open {options.download_file!r}: {exc}")
            if options.resume and code == 200:
                record_validator(target, headers)
        elif self._cap >= 0 and 0 <= self._cap < self.body_len:
            return self._done(Result.RESULT_BODY_SIZE_LIMIT_EXCEEDED, self._cap_reason)
        encoding = (header_value(headers, "content-encoding") or "").lower()
        if options.accept_gzip and encoding in ENCODINGS:
            self._decoder = Decoder(encoding)
        elif self._file is None and options.chunk_sink is None and \
                0 < self.body_len <= limits.MAX_PREALLOCATED_BODY:
            self._memory = bytearray(self.body_len)  # read in place: see _read_wire
            self._in_place = True
        return None

    # ------------------------------------------------------------------ the body

    def _read_body(self, deadline: float) -> Outcome:
        client = self.client
        client.poll()
        progressed = False
        while True:
            decoder = self._decoder
            if decoder is not None and decoder.pending:
                try:
                    piece = decoder.pull(DECODE_STEP)
                except DecodeError as exc:
                    return self._done(Result.RESULT_REQUEST_FAILED, str(exc))
                done = self._deliver(piece)
                if done is not None:
                    return done
                progressed = True
            else:
                if client.get_status() != Status.STATUS_BODY:
                    return self._body_ended(deadline)
                n = self._read_wire()
                if not n:
                    if client.get_status() != Status.STATUS_BODY:
                        return self._body_ended(deadline)
                    return progressed
                progressed = True
                done = self._take(n)
                if done is not None:
                    return done
            if time.monotonic() >= deadline:
                return progressed

    def _read_wire(self) -> int:
        """One client read into a slice sized so that it stays short (see module doc)."""
        size = self._slice
        if len(self._buffer) < size:
            # Grown with the slice: a 16 MiB download_chunk_size is never zeroed in one go.
            self._buffer = bytearray(size)
        started = time.monotonic()
        if self._in_place:
            # Straight into the preallocated body: no copy, no regrowth. The client
            # never reads past Content-Length, and the limit was checked.
            start = self.downloaded
            n = self.client.read_response_body_chunk_into(
                memoryview(self._memory)[start : start + size])
            self.delivered += n
        else:
            n = self.client.read_response_body_chunk_into(memoryview(self._buffer)[:size])
        took = time.monotonic() - started
        if took > limits.READ_SLICE_SLOW_S:
            self._slice = max(limits.MIN_READ_SLICE, self._slice // 2)
        elif n == size and took < limits.READ_SLICE_SLOW_S / 2:
            self._slice = min(self._slice * 2, self.options.chunk_size)
        self.downloaded += n
        return n

    def _take(self, n: int) -> Completion | None:
        if self._in_place:
            return None
        data = bytes(self._buffer[:n])
        if self._decoder is not None:
            self._decoder.push(data)
            return None
        return self._deliver(data)

    def _deliver(self, data: bytes) -> Completion | None:
        if not data:
            return None
        self.delivered += len(data)
        cap = self._cap
        if 0 <= cap < self.delivered:
            return self._done(Result.RESULT_BODY_SIZE_LIMIT_EXCEEDED, self._cap_reason)
        if cap < 0 and self.delivered > limits.DECODE_RATIO_MIN_OUTPUT and \
                self.delivered > limits.MAX_DECODE_RATIO * max(self.downloaded, 1):
            return self._done(Result.RESULT_BODY_SIZE_LIMIT_EXCEEDED,
                              f"decompression ratio above {limits.MAX_DECODE_RATIO}:1 "
                              "(a compression bomb?); set body_size_limit to allow it")
        if self._file is not None:
            try:
                self._file.write(data)
            except (OSError, ValueError) as exc:
                return self._done(Result.RESULT_DOWNLOAD_FILE_WRITE_ERROR,
                                  f"can't write {self.options.download_file!r}: {exc}")
        elif self.options.chunk_sink is not None:
            self.options.chunk_sink(data)
        else:
            self._memory += data
        return None

    def _body_ended(self, deadline: float) -> Outcome:
        status = self.client.get_status()
        if status == Status.STATUS_CONNECTED or (
                status == Status.STATUS_DISCONNECTED and self.body_len < 0):
            return self._finish_body(deadline)
        return True  # error statuses are completed by the next row

    def _finish_body(self, deadline: float) -> Outcome:
        if self.body_len >= 0 and self.downloaded != self.body_len:
            return self._done(Result.RESULT_CHUNKED_BODY_SIZE_MISMATCH)
        decoder = self._decoder
        if decoder is not None and self.downloaded > 0:
            try:
                while decoder.pending:
                    done = self._deliver(decoder.pull(DECODE_STEP))
                    if done is not None:
                        return done
                    if time.monotonic() >= deadline:
                        return True  # the rest next step (status stays CONNECTED)
                decoder.finish()
            except DecodeError as exc:
                return self._done(Result.RESULT_REQUEST_FAILED, str(exc))
        if self._expected >= 0 and self.downloaded != self._expected:
            return self._done(Result.RESULT_REQUEST_FAILED,
                              f"206 body has {self.downloaded} bytes, its Content-Range "
                              f"{self._expected}")
        if self._file is None:
            return self._done(Result.RESULT_SUCCESS, body=bytes(self._memory))
        file, self._file = self._file, None
        try:
            file.close()
        except OSError as exc:
            return self._done(Result.RESULT_DOWNLOAD_FILE_WRITE_ERROR,
                              f"can't write {self.options.download_file!r}: {exc}")
        if self.options.resume:
            forget_validator(paths.writable_path(self.options.download_file))
        return self._done(Result.RESULT_SUCCESS)
