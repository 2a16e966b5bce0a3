"""``HTTPRequest``: the logic of Godot 3.5's HTTPRequest node, engine-free.

A plain object stepped by ``process(delta)``. The Node adapter calls
``process`` every frame (also when ``use_threads`` is on: the network work
then runs in a worker thread, and ``process`` delivers its events and keeps
the timeout clock). A Python program with its own frame loop uses it the
same way. See ``docs/request.md``.

Events (the adapter turns them into signals) are ``Hook`` objects:
``request_completed(result, response_code, headers, body)``,
``download_progress(downloaded, total)`` and ``upload_progress(sent, total)``.
With ``body_streaming`` on, ``body_chunk_received(chunk)`` hands out the body
(decoded) as it arrives instead, and the completion's body is empty.
They are delivered from ``process()``, after the request's state has been
reset (like the engine's deferred ``_request_done``), so a callback may start
the next request.

The exchange itself lives in ``gdhttp.attempt``: one ``Attempt`` per URL,
replaced whole on a redirect; its step returns a ``Completion`` (or a
``Redirect``), never raises one. This module owns the engine surface: argument
checks (all before any state changes), properties, the timeout, the worker
thread and the event outbox.

Nothing raises out of a public method: caller mistakes return a Godot
``Error``; anything unexpected is caught in one place (``_boundary``), logged,
and ends a running request with ``RESULT_REQUEST_FAILED``. Messages never
carry URL userinfo or credential header values (``urls.redact``).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

from gdhttp import limits, paths, protocol
from gdhttp.attempt import Attempt, Completion, Options, Redirect
from gdhttp.client import HTTPClient, headers_as_dictionary
from gdhttp.constants import Error, HTTPRequestConstants, Method, Result, Status
from gdhttp.decoders import DECODE_STEP, DecodeError, Decoder
from gdhttp.events import Hook, Outbox
from gdhttp.multipart import BodySource, FileBody, MultipartForm
from gdhttp.resume import plan_resume
from gdhttp.session import Channel, Session, default_session
from gdhttp.urls import ParsedURL, header_value, parse_url, redact, redact_headers, url_problem
from gdhttp.worker import GO_ON, NAP, StepThread, Wait

__all__ = [
    "DECODE_STEP",
    "BodySource",
    "Completion",
    "DecodeError",
    "Decoder",
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

#: The engine's download_chunk_size range (also the client's read_chunk_size range).
MIN_DOWNLOAD_CHUNK_SIZE: Final = limits.MIN_READ_CHUNK_SIZE
MAX_DOWNLOAD_CHUNK_SIZE: Final = limits.MAX_READ_CHUNK_SIZE


def _boundary(fallback: Any) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """The one exception boundary: a bug becomes a logged fallback value, and a running
    request ends with RESULT_REQUEST_FAILED. Caller mistakes never get here: every
    argument is checked first."""

    def wrap(fn: Callable[..., _T]) -> Callable[..., _T]:
        @functools.wraps(fn)
        def guarded(self: HTTPRequest, *args: Any, **kwargs: Any) -> _T:
            try:
                return fn(self, *args, **kwargs)
            except Exception as exc:
                log.exception("gdhttp: internal error in HTTPRequest.%s", fn.__name__)
                try:
                    self._internal_error(fn.__name__, exc)
                except Exception:
                    log.exception("gdhttp: HTTPRequest could not end the request cleanly")
                return fallback  # type: ignore[no-any-return]

        return guarded

    return wrap


def _property(getter: Callable[[Any], Any], setter: Callable[[Any, Any], Error]) -> Any:
    """A property whose setter returns an Error (useful to Python callers) that '=' drops."""
    return property(getter, setter)  # type: ignore[arg-type]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class HTTPRequest(HTTPRequestConstants):
    """Godot 3.5 HTTPRequest logic; step it with ``process(delta)``. See module doc."""

    Result = Result  # and the members as constants (HTTPRequest.RESULT_SUCCESS), inherited

    def __init__(self, client: HTTPClient | None = None,
                 session: Session | bool | None = True) -> None:
        self._client = client if client is not None else HTTPClient()
        #: Keep-alive pool, cookies, env proxies; None: a fresh connection per request.
        self._session: Session | None = default_session() if session is True \
            else (session or None)
        self._client.set_read_chunk_size(65536)
        # _lock guards the request (held for a whole step, also by the worker thread);
        # the outbox's lock only the events and the timeout clock, so that process() on
        # the main thread never waits for a worker's step.
        self._lock = threading.RLock()
        self._outbox = Outbox()
        self.request_completed = Hook("request_completed")
        self.download_progress = Hook("download_progress")
        self.upload_progress = Hook("upload_progress")
        self.body_chunk_received = Hook("body_chunk_received")
        # Properties (engine names and defaults, then ours).
        self._download_file = ""
        self._download_chunk_size = 65536
        self._use_threads = False
        self._body_size_limit = -1
        self._max_redirects = 8
        self._timeout = 0.0
        self._accept_gzip = True
        self._download_resume = False
        self._body_streaming = False
        self._in_tree = True
        # The running (or last) attempt: its counters stay observable after completion.
        self._attempt: Attempt | None = None
        self._requesting = False
        self._connect_failed = False  # request() got ERR_CANT_CONNECT: complete next step
        self._request_timeout = 0.0
        self._elapsed = 0.0
        self._error_message = ""
        self._last_download_report = -1
        self._last_upload_report = -1
        self._worker: StepThread | None = None
        self._generation = 0

    def __repr__(self) -> str:
        state = "requesting" if self._requesting else "idle"
        url = self._attempt.url.geturl() if self._attempt else "-"
        return f"<gdhttp.HTTPRequest {state} {url}>"

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
        try:
            data = request_data.encode("utf-8")
        except UnicodeEncodeError:
            return self._refuse("request: request_data is not valid Unicode",
                                Error.ERR_INVALID_PARAMETER)
        return self._start(url, custom_headers, ssl_validate_domain, method, data, None)

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
        if not isinstance(body, BodySource) or not isinstance(body.content_type, str):
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

    def _start(self, url: str, custom_headers: Iterable[str], ssl_validate_domain: bool,
               method: int, body: bytes, source: BodySource | None) -> Error:
        # Every check before any state changes; the engine's order: tree, busy, URL.
        if not self._in_tree:
            return self._refuse("request: not inside the scene tree", Error.ERR_UNCONFIGURED)
        if self._requesting or self._outbox.completion_waiting:
            return self._refuse("request: HTTPRequest is processing a request; wait for "
                                "it to complete or cancel it", Error.ERR_BUSY)
        parsed = parse_url(url)
        if parsed is None:
            return self._refuse(f"request: invalid URL {url!r}: {url_problem(url)}",
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
            return self._refuse(redact_headers(f"request: {exc}", headers),
                                Error.ERR_INVALID_PARAMETER)
        if self._body_streaming and self._download_file:
            return self._refuse("request: body_streaming and download_file are exclusive; "
                                "clear one of them", Error.ERR_INVALID_PARAMETER)
        if source is not None and source.content_type and \
                header_value(headers, "content-type") is None:
            headers.append(f"Content-Type: {source.content_type}")
        options = Options(self._download_file, self._download_chunk_size,
                          self._body_size_limit, self._accept_gzip,
                          self._download_resume, bool(ssl_validate_domain),
                          chunk_sink=self._outbox.put_chunk if self._body_streaming else None)
        plan = plan_resume(self._download_file, headers) \
            if self._download_resume and self._download_file else None
        attempt = Attempt(self._client, parsed, Method(method), headers, body, source,
                          options, plan, session=self._session)

        if self._worker is not None:
            self._stop_worker()  # a finished request's worker may still be exiting
        with self._lock:
            self._attempt = attempt
            self._requesting = True
            self._connect_failed = False
            self._error_message = ""
            self._request_timeout = self._timeout
            self._elapsed = 0.0
            self._last_download_report = self._last_upload_report = -1
            self._generation += 1
            self._client.set_blocking_mode(False)  # a worker waits on the socket itself
            if self._use_threads:
                generation = self._generation
                self._worker = StepThread(lambda: self._worker_connect(generation),
                                          lambda: self._worker_step(generation))
                self._worker.start()
                return Error.OK
            if attempt.connect() != Error.OK:
                # Engine: deferred RESULT_CANT_CONNECT, and ERR_CANT_CONNECT now.
                self._error_message = redact(self._client.get_error_message())
                self._connect_failed = True
                return Error.ERR_CANT_CONNECT
            return Error.OK

    # ------------------------------------------------------------------ cancel / tree

    @_boundary(None)
    def cancel_request(self) -> None:
        """Stop the request (no completion is delivered). Idle: does nothing."""
        self._stop_worker()
        with self._lock:
            self._cleanup()
        self._outbox.clear()

    def _stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()

    def _cleanup(self, keep_busy: bool = False) -> None:
        """What the engine's cancel_request() does: close everything, keep counters."""
        self._generation += 1
        if not keep_busy:
            self._requesting = False
        self._connect_failed = False
        if self._attempt is not None:
            self._attempt.close()  # first: a reusable connection goes back to the session
        self._client.close()

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
        if not isinstance(delta, (int, float)) or isinstance(delta, bool) or delta != delta:
            delta = 0.0
        expired = False
        if self._requesting:
            with self._outbox.lock:
                self._elapsed += max(0.0, float(delta))
                timeout = self._request_timeout
                expired = timeout > 0 and self._elapsed >= timeout
        if expired:
            self._stop_worker()
            with self._lock:
                if self._requesting:
                    self._complete(Completion(
                        Result.RESULT_TIMEOUT,
                        message=f"timed out after {self._request_timeout:g} s"))
        elif self._requesting and self._worker is None:
            with self._lock:
                if self._requesting:
                    self._advance()
        self._flush()

    def _advance(self) -> bool:
        """One step of the running attempt (lock held); True if anything moved."""
        attempt = self._attempt
        assert attempt is not None
        if self._connect_failed:
            self._complete(Completion(Result.RESULT_CANT_CONNECT, message=self._error_message))
            return True
        outcome = attempt.step(time.monotonic() + limits.STEP_TIME_BUDGET_S)
        if isinstance(outcome, Completion):
            self._complete(outcome)
            return True
        if isinstance(outcome, Redirect):
            self._follow(attempt, outcome)
            return True
        self._note_progress()
        return attempt.progressed

    def _follow(self, attempt: Attempt, redirect: Redirect) -> None:
        if 0 <= self._max_redirects <= attempt.redirects:
            self._complete(Completion(Result.RESULT_REDIRECT_LIMIT_REACHED, redirect.code,
                                      redirect.headers,
                                      message=f"more than {self._max_redirects} redirects"))
            return
        self._note_progress()
        attempt.close()
        self._client.close()
        log.debug("gdhttp: redirect %d to %s", redirect.code, redirect.target.geturl())
        self._attempt = nxt = attempt.follow(redirect)
        self._last_download_report = -1
        if nxt.connect() != Error.OK:
            # The next step sees STATUS_DISCONNECTED and completes RESULT_CANT_CONNECT.
            self._error_message = redact(self._client.get_error_message())

    def _complete(self, completion: Completion) -> None:
        """Reset (the engine's cancel_request), then queue the completion for process()."""
        self._note_progress()
        if completion.message:
            self._error_message = completion.message
        if completion.result != Result.RESULT_SUCCESS:
            log.info("gdhttp: HTTPRequest %s: %s", completion.result.name, self._error_message)
        self._cleanup(keep_busy=True)
        # Not busy and completion queued in one step: a worker finishing between the
        # two would let is_requesting() say False with a completion still to deliver.
        self._outbox.put_completion(completion.signal_args(), self._not_busy)

    def _not_busy(self) -> None:
        self._requesting = False

    def _internal_error(self, where: str, exc: Exception) -> None:
        """The boundary's second half: record the bug; end a running request."""
        self._error_message = redact(f"internal error in {where}: {exc!r}")
        with self._lock:
            attempt = self._attempt
            if self._requesting and attempt is not None:
                self._complete(Completion(Result.RESULT_REQUEST_FAILED, max(attempt.code, 0),
                                          attempt.response_headers,
                                          message=self._error_message))

    @_boundary(False)
    def _worker_connect(self, generation: int) -> bool:
        with self._lock:
            attempt = self._attempt
            if generation != self._generation or not self._requesting or attempt is None:
                return False
            if attempt.connect() != Error.OK:
                self._error_message = redact(self._client.get_error_message())
                self._connect_failed = True
            return True

    @_boundary(None)
    def _worker_step(self, generation: int) -> Wait | None:
        """One step in the worker; None when the request is over, else what to wait on."""
        if self._outbox.chunk_backlog > limits.MAX_STREAM_BACKLOG:
            return NAP  # the main thread has not taken the streamed body yet
        with self._lock:
            if generation != self._generation or not self._requesting:
                return None
            progressed = self._advance()
            if not self._requesting:
                return None
            if progressed:
                return GO_ON
            client = self._channel()
            stream = client.get_connection()
            requesting = client.get_status() == Status.STATUS_REQUESTING
            sent, size = client.get_uploaded_bytes(), client.get_upload_size()
        if stream is None or (requesting and size < 0):
            return NAP
        return stream, requesting and sent < size

    # ------------------------------------------------------------------ events

    def _note_progress(self) -> None:
        attempt = self._attempt
        if not self._requesting or attempt is None:
            return
        client = attempt.client  # the HTTPClient, or an HTTP/2 stream of the session
        if attempt.sent and client.get_status() in (Status.STATUS_REQUESTING,
                                                    Status.STATUS_BODY,
                                                    Status.STATUS_CONNECTED):
            sent = client.get_uploaded_bytes()
            if sent != self._last_upload_report and (sent > 0 or client.get_upload_size() > 0):
                self._last_upload_report = sent
                self._outbox.put_upload(sent, client.get_upload_size())
        if attempt.has_head and attempt.downloaded != self._last_download_report:
            self._last_download_report = attempt.downloaded
            self._outbox.put_download(attempt.downloaded, attempt.body_len)

    def _flush(self) -> None:
        """Deliver queued events on the caller's thread: upload, download, completion."""
        self._outbox.flush(self.upload_progress, self.download_progress,
                           self.request_completed, self.body_chunk_received)

    # ------------------------------------------------------------------ getters

    def get_http_client_status(self) -> Status:
        """The client's Status; STATUS_CONNECTING while waiting for a session's slot."""
        attempt = self._attempt
        if self._requesting and attempt is not None and attempt.lease is not None \
                and attempt.lease.waiting:
            return Status.STATUS_CONNECTING
        if self._requesting and attempt is not None:
            return attempt.client.get_status()  # an HTTP/2 stream's, on h2
        return self._client.get_status()

    def get_downloaded_bytes(self) -> int:
        """Body bytes received for the current/last response (before decoding)."""
        return self._attempt.downloaded if self._attempt is not None else 0

    def get_body_size(self) -> int:
        """Content-Length of the current/last response, -1 if unknown or none yet."""
        return self._attempt.body_len if self._attempt is not None else -1

    def get_error_message(self) -> str:
        """Why the last request failed or the last call was refused ("" if it didn't).

        URL userinfo and credential header values are replaced by ``<redacted>``."""
        return self._error_message

    def is_requesting(self) -> bool:
        """True from request() until its completion has been delivered by process().

        With use_threads the worker may finish between two process() calls; the
        request still counts as running until the next process() delivers the
        completion, so a driver that stops calling process() once this is False
        never loses a completion.
        """
        with self._outbox.lock:
            return self._requesting or self._outbox.completion_waiting

    def get_redirect_count(self) -> int:
        """Redirects followed by the current/last request."""
        return self._attempt.redirects if self._attempt is not None else 0

    def get_response_code(self) -> int:
        """Status code of the current/last response once its head arrived (-1 before)."""
        attempt = self._attempt
        return attempt.code if attempt is not None and attempt.has_head else -1

    def get_response_headers(self) -> list[str]:
        """Header lines of the current/last response once its head arrived ([] before)."""
        attempt = self._attempt
        return list(attempt.response_headers) if attempt is not None else []

    def get_client(self) -> HTTPClient:
        """The HTTPClient used (TLS options, set_timeouts, user agent...)."""
        return self._client

    client = property(get_client)

    def get_timings(self) -> dict[str, Any]:
        """Phase timings of the last request's final hop (`HTTPClient.get_timings`)."""
        return self._channel().get_timings()

    def get_tls_info(self) -> dict[str, Any]:
        """TLS session of the last request's final hop ({} for plain HTTP)."""
        return self._channel().get_tls_info()

    def _channel(self) -> Channel:
        """What carried the last hop: this node's HTTPClient, or an HTTP/2 stream."""
        attempt = self._attempt
        return attempt.client if attempt is not None else self._client

    def get_response_headers_as_dictionary(self) -> dict[str, str]:
        """The last response's headers merged as HTTPClient merges them; not consumed."""
        return headers_as_dictionary(self._attempt.response_headers if self._attempt else ())

    def get_session(self) -> Session | None:
        """The session whose connections (and cookies) requests use; None: none."""
        return self._session

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_session(self, session: Session | None) -> Error:
        """Use ``session`` (None: a fresh connection per request, as the engine)."""
        return self._set("session", session, session is None or isinstance(session, Session),
                         "a gdhttp.Session or None")

    session = _property(get_session, set_session)

    @_boundary(None)
    def set_http_proxy(self, host: str, port: int) -> None:
        self._client.set_http_proxy(host, port)

    @_boundary(None)
    def set_https_proxy(self, host: str, port: int) -> None:
        self._client.set_https_proxy(host, port)

    # ------------------------------------------------------------------ properties

    def _refuse(self, message: str, result: _T) -> _T:
        self._error_message = redact(message)
        log.error("gdhttp: HTTPRequest.%s", self._error_message)
        return result

    def _set(self, name: str, value: object, valid: bool, need: str, busy: bool = True) -> Error:
        """The setters' shared rules: the type/range check first, then not while busy."""
        if not valid:
            return self._refuse(f"set_{name}: needs {need}, got {value!r}",
                                Error.ERR_INVALID_PARAMETER)
        if busy and self._requesting:
            return self._refuse(f"set_{name}: can't change {name} while a request is running",
                                Error.ERR_BUSY)
        setattr(self, "_" + name, value)
        return Error.OK

    def _set_flag(self, name: str, enable: object) -> Error:
        valid = isinstance(enable, int)  # bool is an int; 0/1 from GDScript too
        return self._set(name, bool(enable) if valid else enable, valid, "a bool")

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_download_file(self, path: str) -> Error:
        path = os.fspath(path) if isinstance(path, os.PathLike) else path
        return self._set("download_file", path, isinstance(path, str), "a String")

    def get_download_file(self) -> str:
        return self._download_file

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_download_chunk_size(self, size: int) -> Error:
        valid = _is_int(size) and MIN_DOWNLOAD_CHUNK_SIZE <= size <= MAX_DOWNLOAD_CHUNK_SIZE
        err = self._set("download_chunk_size", size, valid,
                        f"an int in {MIN_DOWNLOAD_CHUNK_SIZE}..{MAX_DOWNLOAD_CHUNK_SIZE}")
        if err == Error.OK:
            self._client.set_read_chunk_size(size)
        return err

    def get_download_chunk_size(self) -> int:
        return self._download_chunk_size

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_use_threads(self, enable: bool) -> Error:
        return self._set_flag("use_threads", enable)

    def is_using_threads(self) -> bool:
        return self._use_threads

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_body_size_limit(self, bytes: int) -> Error:
        return self._set("body_size_limit", bytes, _is_int(bytes), "an int")

    def get_body_size_limit(self) -> int:
        return self._body_size_limit

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_max_redirects(self, amount: int) -> Error:
        """Settable at any time, as in the engine; -1 means unlimited."""
        return self._set("max_redirects", amount, _is_int(amount), "an int", busy=False)

    def get_max_redirects(self) -> int:
        return self._max_redirects

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_timeout(self, timeout: float) -> Error:
        """Seconds for the whole request (0 = none); negative refused; ~0 becomes 0."""
        valid = isinstance(timeout, (int, float)) and not isinstance(timeout, bool) \
            and timeout == timeout and (timeout >= 0 or abs(timeout) < 1e-5)
        value = 0.0 if valid and abs(timeout) < 1e-5 else timeout
        return self._set("timeout", float(value) if valid else value, valid,
                         "a float >= 0", busy=False)

    def get_timeout(self) -> float:
        return self._timeout

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_accept_gzip(self, enable: bool) -> Error:
        return self._set_flag("accept_gzip", enable)

    def is_accepting_gzip(self) -> bool:
        return self._accept_gzip

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_download_resume(self, enable: bool) -> Error:
        return self._set_flag("download_resume", enable)

    def is_download_resume(self) -> bool:
        return self._download_resume

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_body_streaming(self, enable: bool) -> Error:
        """Emit ``body_chunk_received(chunk)`` as the body arrives instead of keeping it;
        ``request_completed`` then has an empty body. Exclusive with download_file."""
        return self._set_flag("body_streaming", enable)

    def is_body_streaming(self) -> bool:
        return self._body_streaming

    body_streaming = _property(is_body_streaming, set_body_streaming)
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
            if self._worker is not None:
                self._worker.stop()
            if self._attempt is not None:
                self._attempt.abandon()  # a queued or running request leaves the pool whole
            self._client.close()
        except Exception:  # interpreter shutdown: nothing left to report to
            pass
