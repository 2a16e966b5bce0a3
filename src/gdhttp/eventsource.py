"""``EventSource``: server-sent events for a program with its own frame loop.

Built on ``gdhttp.request.HTTPRequest`` with ``body_streaming`` on, so the
session (keep-alive, cookies, env proxies), proxies, TLS settings and HTTP/2
of that request apply; ``sse.SSEParser`` turns the body into events. Stepped
by ``poll(delta)`` like HTTPRequest's ``process``; events go to callbacks
(``opened``, ``event_received(type, data, last_event_id)``,
``error(result, message)``) and are also returned by ``poll``, so both a
callback style and a loop style work (``iter_events`` is the loop style for a
script that may block).

The connection follows the WHATWG EventSource model (HTML 9.2):

=====================================  =============================================
what happened                          readyState, then the event
=====================================  =============================================
open()                                 CONNECTING; request with Accept:
                                       text/event-stream, Cache-Control: no-store,
                                       Last-Event-ID when one is known
200 with Content-Type text/event-stream OPEN, ``opened``
any other status, or another type      CLOSED, ``error`` (no reconnection)
network error, or the body ended       CONNECTING, ``error``; reconnect after the
                                       retry delay (server's ``retry:``)
a TLS failure, too many redirects,     CLOSED, ``error``: trying again is futile
a line or event over its limit
close()                                CLOSED, nothing more is delivered
=====================================  =============================================

Events are handed out per poll until SSE_POLL_BUDGET_S has passed (or
MAX_SSE_EVENTS_PER_POLL); while parsed events wait, the request is not
stepped, so the socket, not memory, holds a server's flood.

Nothing raises out of a public method: mistakes return a Godot ``Error``,
a bug is logged and closes the source with ``RESULT_REQUEST_FAILED``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from enum import IntEnum
from typing import Any, Final, TypeVar

from gdhttp import limits, protocol
from gdhttp.constants import Error, Result
from gdhttp.events import Hook
from gdhttp.request import HTTPRequest
from gdhttp.session import Session
from gdhttp.sse import Event, SSEError, SSEParser
from gdhttp.urls import (
    header_value,
    parse_url,
    redact,
    redact_headers,
    url_problem,
    without_headers,
)

__all__ = ["Event", "EventSource", "ReadyState"]

log = logging.getLogger("gdhttp")

_T = TypeVar("_T")

#: Results after which reconnecting is futile: the same request would fail the same way.
_FATAL_RESULTS: Final = frozenset({
    Result.RESULT_SSL_HANDSHAKE_ERROR, Result.RESULT_REDIRECT_LIMIT_REACHED,
    Result.RESULT_BODY_SIZE_LIMIT_EXCEEDED, Result.RESULT_REQUEST_FAILED,
    Result.RESULT_DOWNLOAD_FILE_CANT_OPEN, Result.RESULT_DOWNLOAD_FILE_WRITE_ERROR,
})

EVENT_STREAM: Final = "text/event-stream"


class ReadyState(IntEnum):
    CONNECTING = 0
    OPEN = 1
    CLOSED = 2


def _boundary(fallback: Any) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """The one exception boundary: a bug is logged and closes the source."""

    def wrap(fn: Callable[..., _T]) -> Callable[..., _T]:
        @functools.wraps(fn)
        def guarded(self: EventSource, *args: Any, **kwargs: Any) -> _T:
            try:
                return fn(self, *args, **kwargs)
            except Exception as exc:
                log.exception("gdhttp: internal error in EventSource.%s", fn.__name__)
                try:
                    self._fail(Result.RESULT_REQUEST_FAILED,
                               redact(f"internal error in {fn.__name__}: {exc!r}"))
                except Exception:
                    log.exception("gdhttp: EventSource could not close cleanly")
                return fallback  # type: ignore[no-any-return]

        return guarded

    return wrap


def is_event_stream(content_type: str | None) -> bool:
    """The MIME type's essence is text/event-stream (parameters and case ignored)."""
    if content_type is None:
        return False
    return content_type.split(";", 1)[0].strip().lower() == EVENT_STREAM


class EventSource:
    """A server-sent events connection; see the module doc."""

    CONNECTING = ReadyState.CONNECTING
    OPEN = ReadyState.OPEN
    CLOSED = ReadyState.CLOSED

    def __init__(self, request: HTTPRequest | None = None,
                 session: Session | bool | None = True) -> None:
        req = request if request is not None else HTTPRequest(session=session)
        req.set_body_streaming(True)
        req.body_chunk_received.connect(self._on_chunk)
        req.request_completed.connect(self._on_completed)
        self._req = req
        self.opened = Hook("opened")
        self.event_received = Hook("event_received")
        self.error = Hook("error")
        self._state = ReadyState.CLOSED
        self._url = ""
        self._headers: list[str] = []
        self._last_event_id = ""
        self._retry_ms = limits.DEFAULT_SSE_RETRY_MS
        self._reconnect = True
        self._parser: SSEParser | None = None
        self._head_checked = False
        self._ended: tuple[Result, str] | None = None  # the response ended; events may wait
        self._backlogged = False  # parsed events still wait: don't read more yet
        self._reconnect_at: float | None = None
        self._generation = 0  # bumped by open/close/fail: stale callbacks do nothing
        self._error_message = ""
        self._connections = 0

    def __repr__(self) -> str:
        return f"<gdhttp.EventSource {self._state.name} {redact(self._url) or '-'}>"

    # ------------------------------------------------------------------ open / close

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def open(self, url: str, headers: Iterable[str] = ()) -> Error:
        """Start listening to ``url``; ERR_BUSY unless CLOSED, ERR_INVALID_PARAMETER for a
        bad URL or header list. Accept and Cache-Control are added unless given; a
        ``Last-Event-ID`` header given here seeds the last event ID (resuming a stream a
        previous run of the game left), which later reconnections replace."""
        if self._state != ReadyState.CLOSED:
            return self._refuse("open: the EventSource is open; close() it first", Error.ERR_BUSY)
        if not isinstance(url, str) or parse_url(url) is None:
            return self._refuse(f"open: invalid URL {url!r}: "
                                f"{url_problem(url) if isinstance(url, str) else 'not a String'}",
                                Error.ERR_INVALID_PARAMETER)
        if isinstance(headers, str) or not isinstance(headers, Iterable):
            return self._refuse("open: headers must be a list of Strings",
                                Error.ERR_INVALID_PARAMETER)
        given = list(headers)
        try:
            protocol.check_headers(given)
        except protocol.RequestError as exc:
            return self._refuse(redact_headers(f"open: {exc}", given), Error.ERR_INVALID_PARAMETER)
        # The last event ID starts empty, as in a new browser EventSource, or as given.
        self._last_event_id = (header_value(given, "last-event-id") or "").strip()
        given = without_headers(given, frozenset({"last-event-id"}))
        if header_value(given, "accept") is None:
            given.append(f"Accept: {EVENT_STREAM}")
        if header_value(given, "cache-control") is None:
            given.append("Cache-Control: no-store")
        self._url, self._headers = url, given
        self._error_message = ""
        return self._connect()

    @_boundary(None)
    def close(self) -> None:
        """Stop: CLOSED, the connection closed, no more events or errors delivered."""
        self._generation += 1
        self._state = ReadyState.CLOSED
        self._reset_stream()
        self._req.cancel_request()

    def _reset_stream(self) -> None:
        self._parser = None
        self._ended = None
        self._backlogged = False
        self._reconnect_at = None
        self._head_checked = False

    def _connect(self) -> Error:
        self._generation += 1
        self._reset_stream()
        self._state = ReadyState.CONNECTING
        headers = list(self._headers)
        if self._last_event_id:
            headers.append(f"Last-Event-ID: {self._last_event_id}")
        self._parser = SSEParser(self._last_event_id)
        err = self._req.request(self._url, headers)
        if err in (Error.OK, Error.ERR_CANT_CONNECT):
            self._connections += 1
            return Error.OK  # a failed connect completes (and reconnects) from poll()
        self._fail(Result.RESULT_REQUEST_FAILED, self._req.get_error_message())
        return err

    # ------------------------------------------------------------------ stepping

    @_boundary(None)
    def process(self, delta: float = 0.0) -> None:
        """One frame: step the connection, dispatch waiting events to the callbacks."""
        self._step(delta, None)

    @_boundary([])
    def poll(self, delta: float = 0.0) -> list[Event]:
        """``process``, returning the events dispatched (the loop style)."""
        out: list[Event] = []
        self._step(delta, out)
        return out

    def _step(self, delta: float, out: list[Event] | None) -> None:
        started = time.monotonic()
        if self._state == ReadyState.CLOSED:
            return
        if self._reconnect_at is not None:
            if started >= self._reconnect_at:
                self._connect()
            return
        if not self._backlogged and self._ended is None:
            self._req.process(delta)
            if self._state == ReadyState.CONNECTING and not self._head_checked:
                self._check_head()
        self._dispatch(started + limits.SSE_POLL_BUDGET_S, out)

    def _dispatch(self, deadline: float, out: list[Event] | None) -> None:
        # Events are only kept when the caller asked for them: a flood's events then die
        # young, instead of surviving into the older GC generations (full collections).
        parser = self._parser
        if parser is None or self._state == ReadyState.CLOSED:
            return
        generation = self._generation
        self._backlogged = False
        emit = self.event_received.emit
        count = 0
        try:
            while True:
                if count >= limits.MAX_SSE_EVENTS_PER_POLL or time.monotonic() >= deadline:
                    self._backlogged = True
                    break
                event = parser.next_event()
                if parser.retry is not None:
                    self._retry_ms = min(parser.retry, limits.MAX_SSE_RETRY_MS)
                if event is None:
                    break
                count += 1
                self._last_event_id = parser.last_event_id
                if out is not None:
                    out.append(event)
                emit(event.type, event.data, event.last_event_id)
                if self._generation != generation:
                    return  # a callback closed or reopened the source
        except SSEError as exc:
            self._fail(Result.RESULT_BODY_SIZE_LIMIT_EXCEEDED, str(exc))
            return
        self._last_event_id = parser.last_event_id
        if not self._backlogged and self._ended is not None:
            parser.end()
            result, message = self._ended
            self._stream_over(result, message)

    def iter_events(self, frame_s: float = 1 / 60, timeout_s: float | None = None
                    ) -> Iterator[Event]:
        """Poll every ``frame_s`` and yield events until CLOSED (or ``timeout_s``)."""
        end = None if timeout_s is None else time.monotonic() + timeout_s
        while self._state != ReadyState.CLOSED:
            yield from self.poll(frame_s)
            if end is not None and time.monotonic() >= end:
                return
            time.sleep(frame_s)

    # ------------------------------------------------------------------ the response

    def _check_head(self) -> bool:
        """Announce the connection or fail it, once the head is known; True if open."""
        if self._head_checked:
            return self._state == ReadyState.OPEN
        code = self._req.get_response_code()
        if code < 0 or (300 <= code < 400 and header_value(
                self._req.get_response_headers(), "location")):
            return False  # no head yet, or a redirect being followed
        self._head_checked = True
        content_type = header_value(self._req.get_response_headers(), "content-type")
        if code != 200:
            self._fail(Result.RESULT_REQUEST_FAILED,
                       f"HTTP {code}: an event stream needs status 200")
            return False
        if not is_event_stream(content_type):
            self._fail(Result.RESULT_REQUEST_FAILED,
                       f"Content-Type {content_type!r} is not {EVENT_STREAM}")
            return False
        self._state = ReadyState.OPEN
        generation = self._generation
        self.opened.emit()
        return self._generation == generation

    def _on_chunk(self, chunk: bytes) -> None:
        if self._parser is None or self._state == ReadyState.CLOSED or self._ended:
            return
        if self._check_head():
            self._parser.push(chunk)

    def _on_completed(self, result: int, code: int, headers: list[str], body: bytes) -> None:
        if self._parser is None or self._state == ReadyState.CLOSED:
            return
        message = self._req.get_error_message()
        if code > 0 and not self._head_checked:
            generation = self._generation
            self._check_head()
            if self._generation != generation:
                return  # failed (non-200 / wrong type), or a callback closed it
        self._ended = (Result(result), message)

    def _stream_over(self, result: Result, message: str) -> None:
        """The response ended and its events are out: reconnect, or fail if futile."""
        if result in _FATAL_RESULTS:
            self._fail(result, message)
            return
        if result == Result.RESULT_SUCCESS:
            message = "the server ended the stream"
        delay = self._retry_ms
        if not self._reconnect:
            self._fail(result, message)
            return
        self._reset_stream()
        self._state = ReadyState.CONNECTING
        self._reconnect_at = time.monotonic() + delay / 1000
        self._error_message = f"{message}; reconnecting in {delay} ms"
        self.error.emit(int(result), self._error_message)

    def _fail(self, result: Result, message: str) -> None:
        """Fail the connection: CLOSED, ``error``; never reconnects."""
        self._generation += 1
        self._state = ReadyState.CLOSED
        self._reset_stream()
        self._req.cancel_request()
        self._error_message = message
        log.info("gdhttp: EventSource %s: %s", result.name, message)
        self.error.emit(int(result), message)

    def _refuse(self, message: str, result: _T) -> _T:
        self._error_message = redact(message)
        log.error("gdhttp: EventSource.%s", self._error_message)
        return result

    # ------------------------------------------------------------------ getters / settings

    def get_ready_state(self) -> ReadyState:
        return self._state

    ready_state = property(get_ready_state)

    def get_url(self) -> str:
        return self._url

    url = property(get_url)

    def get_last_event_id(self) -> str:
        """The last event ID string (sent as Last-Event-ID when reconnecting)."""
        return self._last_event_id

    last_event_id = property(get_last_event_id)

    def get_error_message(self) -> str:
        return self._error_message

    def get_connection_count(self) -> int:
        """Requests made so far (1 + reconnections)."""
        return self._connections

    def get_request(self) -> HTTPRequest:
        """The HTTPRequest underneath (its client holds TLS, proxy and timeout settings)."""
        return self._req

    def get_retry_ms(self) -> int:
        """Reconnection delay in ms: the server's last ``retry:``, else the one set."""
        return self._retry_ms

    @_boundary(Error.ERR_INVALID_PARAMETER)
    def set_retry_ms(self, ms: int) -> Error:
        if not isinstance(ms, int) or isinstance(ms, bool) or not \
                0 <= ms <= limits.MAX_SSE_RETRY_MS:
            return self._refuse(f"set_retry_ms: needs an int in 0..{limits.MAX_SSE_RETRY_MS}",
                                Error.ERR_INVALID_PARAMETER)
        self._retry_ms = ms
        return Error.OK

    retry_ms = property(get_retry_ms, set_retry_ms)  # type: ignore[arg-type]

    def is_reconnecting(self) -> bool:
        """Whether a dropped stream is reopened (the spec's behaviour; default True)."""
        return self._reconnect

    def set_reconnecting(self, enable: bool) -> Error:
        self._reconnect = bool(enable)
        return Error.OK

    reconnecting = property(is_reconnecting, set_reconnecting)  # type: ignore[arg-type]

    def set_in_tree(self, in_tree: bool) -> None:
        """The node adapter's tree notifications: leaving the tree closes the source."""
        if not in_tree:
            self.close()
        self._req.set_in_tree(in_tree)
