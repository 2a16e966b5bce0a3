"""Sans-IO HTTP/1.1 for one client connection: request heads out, responses in.

Nothing here touches a socket or a clock. The request side (heads, CONNECT,
absolute-form targets, the chunked writer, query strings) lives in
``_wire_request`` and is re-exported here; ``ResponseReader`` turns received
bytes into a head and body bytes by RFC 9112 framing, with every buffer
bounded by ``gdhttp.limits``.

Work per call is bounded by wire bytes, never by what the bytes claim:
``read_head()`` parses at most one head, ``take_body()`` handles at most
``limits.MAX_FRAMING_STEPS`` framing units, and every search resumes where the
last one stopped, so feeding N bytes costs O(N) however they are split.

Body bytes have a direct path: when the reader's buffer is empty and the
framing says the next N bytes on the wire are pure body, ``direct_read_limit``
tells the caller so it can read them straight into its own buffer and report
them with ``consumed_direct``. That keeps per-byte Python work off the body.

The only exceptions raised here are ``ProtocolError`` (the server's fault) and
``RequestError`` (the caller's). A ``ProtocolError`` is sticky: every later call
that parses raises it again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import Enum
from typing import NoReturn

from gdhttp import limits
from gdhttp._wire_fields import FieldError, find_block_end, parse_fields
from gdhttp._wire_head import Framing, ResponseHead, parse_head
from gdhttp._wire_request import (
    ChunkedWriter,
    RequestError,
    absolute_form_target,
    build_connect_head,
    build_request_head,
    check_headers,
    check_request_target,
    has_forbidden_field_chars,
    has_forbidden_target_chars,
    host_header_value,
    http_escape,
    query_string_from_dict,
    stringify,
)

__all__ = [
    "ChunkedWriter",
    "Framing",
    "ProtocolError",
    "RequestError",
    "ResponseHead",
    "ResponseReader",
    "absolute_form_target",
    "build_connect_head",
    "build_request_head",
    "check_headers",
    "check_request_target",
    "has_forbidden_field_chars",
    "has_forbidden_target_chars",
    "host_header_value",
    "http_escape",
    "query_string_from_dict",
    "stringify",
]


class ProtocolError(Exception):
    """The server sent something that is not a valid HTTP/1.1 response."""


# chunk-size, optional BWS, optional extensions; CTLs are refused separately.
_CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,20})[ \t]*(;.*)?", re.DOTALL)
# Bytes a chunk line may hold (its line end already cut off): no CTL but HTAB.
_CHUNK_LINE_OK = bytes(b for b in range(256) if (b >= 0x20 and b != 0x7F) or b == 0x09)


class _State(Enum):
    HEAD = "head"
    LENGTH = "length"
    CHUNK_SIZE = "chunk_size"
    CHUNK_DATA = "chunk_data"
    CHUNK_END = "chunk_end"
    TRAILERS = "trailers"
    UNTIL_CLOSE = "until_close"
    DONE = "done"
    ERROR = "error"

    # Members are singletons: identity hashing keeps dict/set lookups in C (the hot
    # path looks a state up once per framing unit).
    __hash__ = object.__hash__


# Which states hold pure body bytes that may be read directly from the wire.
_DIRECT_STATES = frozenset({_State.LENGTH, _State.CHUNK_DATA, _State.UNTIL_CLOSE})


class ResponseReader:
    """Parses one response (skipping 1xx interim heads) from bytes fed to it.

    Usage: ``receive(data)``; ``read_head()`` until it returns the final head;
    then ``take_body(n)`` / ``direct_read_limit`` + ``consumed_direct`` until
    ``done``. ``receive_eof()`` tells it the server closed.

    Bounded work: ``read_head()`` parses at most one head per call and returns
    None after an interim (1xx) head; ``take_body()`` stops after
    ``limits.MAX_FRAMING_STEPS`` framing units. While ``has_pending_input`` is
    True another call can make progress without reading the socket; a caller
    keeps its own time budget between calls.
    """

    def __init__(self, *, head_request: bool = False, connect_request: bool = False) -> None:
        self.head_request = head_request
        self.connect_request = connect_request
        self._buf = bytearray()
        self._state = _State.HEAD
        self._error: str | None = None
        self._scan_from = 0  # where the search for the end of a block resumes
        self._leading = 0  # empty lines skipped before the current status line
        self._remaining = 0  # bytes left in the body (LENGTH) or current chunk
        self._interim_seen = 0
        self._eof = False
        self._truncated = False
        # False once a call stopped for lack of bytes; receive() sets it again.
        self._progress = False
        self.head: ResponseHead | None = None
        #: The last interim (1xx) head, e.g. for ``100 Continue``.
        self.interim: ResponseHead | None = None
        self.trailers: list[str] = []

    # ---- input

    def receive(self, data: bytes | bytearray | memoryview) -> None:
        self._check()
        if data:
            self._buf += data
            self._progress = True

    def receive_eof(self, *, truncated: bool = False) -> None:
        """The server closed its side. Ends an until-close body; else an error later.

        ``truncated``: the close was not authenticated (TLS without close_notify,
        ``SocketStream.truncated``); then a close-delimited body is an error, since
        anyone on the path can inject that FIN. Framed bodies are not affected.
        """
        self._check()
        self._eof = True
        self._truncated = truncated
        self._progress = True
        if self._state is _State.UNTIL_CLOSE and not self._buf:
            self._end_until_close()

    @property
    def buffered(self) -> int:
        return len(self._buf)

    @property
    def has_pending_input(self) -> bool:
        """True when a parsing call could make progress without new bytes."""
        if not self._progress or self._state is _State.ERROR or self._state is _State.DONE:
            return False
        return bool(self._buf) or self._eof

    @property
    def done(self) -> bool:
        return self._state is _State.DONE

    @property
    def failed(self) -> bool:
        return self._state is _State.ERROR

    @property
    def in_body(self) -> bool:
        return self._state not in (_State.HEAD, _State.DONE, _State.ERROR)

    @property
    def body_remaining(self) -> int:
        """Bytes left of a Content-Length body (-1 for other framings)."""
        return self._remaining if self._state is _State.LENGTH else -1

    def take_leftover(self) -> bytes:
        """Bytes received past the end of the message (a pipelining server)."""
        self._check()
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def _check(self) -> None:
        if self._error is not None:
            raise ProtocolError(self._error)

    def _fail(self, message: str) -> NoReturn:
        self._state = _State.ERROR
        self._error = message
        raise ProtocolError(message)

    # ---- head

    def read_head(self) -> ResponseHead | None:
        """Parse at most one head from the buffer.

        Returns the final head once it is complete (and again on later calls);
        None when more bytes are needed or after an interim 1xx head was
        consumed (``has_pending_input`` then says whether to call again).
        """
        self._check()
        if self._state is not _State.HEAD:
            return self.head
        if not self._skip_leading_empty_lines():
            self._need_more("the response head")
            return None
        end = find_block_end(self._buf, self._scan_from, limits.MAX_HEADER_BLOCK)
        if end < 0:
            self._scan_from = max(0, len(self._buf) - 2)
            if len(self._buf) > limits.MAX_HEADER_BLOCK:
                self._fail(f"response head larger than {limits.MAX_HEADER_BLOCK} bytes")
            self._need_more("the response head")
            return None
        block = bytes(self._buf[:end])
        del self._buf[:end]
        self._scan_from = self._leading = 0
        head = self._parse_head(block)
        if head.status_code >= 200:
            self.head = head
            self._enter_body(head)
            return head
        if head.status_code == 101:
            self._fail("unsolicited 101 Switching Protocols")
        self._interim_seen += 1
        if self._interim_seen > limits.MAX_INTERIM_RESPONSES:
            self._fail(f"more than {limits.MAX_INTERIM_RESPONSES} interim 1xx responses")
        self.interim = head
        return None

    def _need_more(self, what: str) -> None:
        if self._eof:
            self._fail(f"server closed the connection before {what} ended")
        self._progress = False

    def _skip_leading_empty_lines(self) -> bool:
        """Drop empty lines before a status line (RFC 9112 2.2), a few at most.

        False while the buffer holds nothing but (part of) such lines.
        """
        if self._scan_from:
            return True  # inside a head already
        buf, pos = self._buf, 0
        while True:
            if buf.startswith(b"\n", pos):
                step = 1
            elif buf.startswith(b"\r\n", pos):
                step = 2
            else:
                break
            pos += step
            self._leading += 1
            if self._leading > limits.MAX_LEADING_EMPTY_LINES:
                self._fail(
                    f"more than {limits.MAX_LEADING_EMPTY_LINES} empty lines before the status line"
                )
        if pos:
            del buf[:pos]
        if not buf or buf == b"\r":
            return False
        # Fail fast on something that is not HTTP at all, instead of buffering 64 KiB.
        if not b"HTTP/".startswith(bytes(buf[:5])):
            self._fail(f"malformed status line {bytes(buf[:40])!r}")
        return True

    def _parse_head(self, block: bytes) -> ResponseHead:
        try:
            return parse_head(
                block, head_request=self.head_request, connect_request=self.connect_request
            )
        except FieldError as exc:
            self._fail(str(exc))

    def _enter_body(self, head: ResponseHead) -> None:
        if head.framing is Framing.LENGTH:
            self._remaining = head.content_length
            self._state = _State.LENGTH if self._remaining > 0 else _State.DONE
        elif head.framing is Framing.CHUNKED:
            self._state = _State.CHUNK_SIZE
        elif head.framing is Framing.UNTIL_CLOSE:
            self._state = _State.UNTIL_CLOSE
            if self._eof and not self._buf:
                self._end_until_close()
        else:
            self._state = _State.DONE

    # ---- body

    def direct_read_limit(self, budget: int) -> int:
        """How many bytes may be read from the wire straight into the caller's buffer."""
        self._check()
        if self._buf or self._state not in _DIRECT_STATES:
            return 0
        if self._state is _State.UNTIL_CLOSE:
            return budget
        return min(budget, self._remaining)

    def consumed_direct(self, n: int) -> None:
        """Account for ``n`` body bytes the caller read directly (``n`` > 0)."""
        self._check()
        if self._state is _State.UNTIL_CLOSE:
            return
        self._remaining -= n
        if self._remaining == 0:
            self._state = _State.DONE if self._state is _State.LENGTH else _State.CHUNK_END

    def take_body(self, budget: int) -> bytes:
        """Return up to ``budget`` body bytes from the buffer, advancing the framing.

        Handles at most ``limits.MAX_FRAMING_STEPS`` chunk lines, terminators and
        trailer blocks per call; ``has_pending_input`` says whether to call again.
        """
        self._check()
        out: list[bytes] = []
        steps = limits.MAX_FRAMING_STEPS
        stalled = False
        while budget > 0 and steps > 0:
            state = self._state
            if state in _DIRECT_STATES:
                if not self._buf:
                    stalled = True
                    break
                n = len(self._buf) if state is _State.UNTIL_CLOSE else self._remaining
                n = min(n, budget, len(self._buf))
                out.append(bytes(self._buf[:n]))
                del self._buf[:n]
                budget -= n
                if state is not _State.UNTIL_CLOSE:
                    self.consumed_direct(n)
                elif self._eof and not self._buf:
                    self._end_until_close()
            else:
                step = _FRAMING_STEPS.get(state)
                if step is None:
                    break
                before = len(self._buf)
                if not step(self):
                    stalled = True
                    break
                # A long chunk line costs like several short ones: the cost is in bytes.
                steps -= (before - len(self._buf)) // 1024
            steps -= 1
        if stalled:
            self._progress = False
            # At EOF, whatever stays buffered is an incomplete unit (a partial chunk
            # line or terminator): no more bytes can ever complete it. Bytes already
            # taken are handed out first; the failure shows on the next call.
            if self._eof and self._state is _State.UNTIL_CLOSE:
                self._end_until_close()
            elif self._eof and not out:
                self._fail("server closed the connection before the body ended")
        return out[0] if len(out) == 1 else b"".join(out)

    def _end_until_close(self) -> None:
        if self._truncated:
            self._fail(
                "the server closed the TLS connection without close_notify: "
                "the body may be truncated"
            )
        self._state = _State.DONE

    def _line(self, limit: int, what: str) -> bytes | None:
        nl = self._buf.find(b"\n", 0, limit + 1)
        if nl < 0:
            if len(self._buf) > limit:
                self._fail(f"{what} longer than {limit} bytes")
            return None
        line = bytes(self._buf[:nl])
        del self._buf[: nl + 1]
        return line[:-1] if line.endswith(b"\r") else line

    def _chunk_size_line(self) -> bool:
        line = self._line(limits.MAX_CHUNK_LINE, "chunk-size line")
        if line is None:
            return False
        match = _CHUNK_LINE.fullmatch(line)
        if match is None or line.translate(None, _CHUNK_LINE_OK):
            self._fail(f"invalid chunk size line {line[:40]!r}")
        size = int(match[1], 16)
        if size > limits.MAX_CHUNK_SIZE:
            self._fail("chunk size out of range")
        if size == 0:
            self._state = _State.TRAILERS
            self._scan_from = 0
        else:
            self._remaining = size
            self._state = _State.CHUNK_DATA
        return True

    def _chunk_end(self) -> bool:
        """Consume the CRLF (or bare LF) after chunk data; False while it is incomplete."""
        buf = self._buf
        if buf.startswith(b"\r\n"):
            del buf[:2]
        elif buf.startswith(b"\n"):
            del buf[:1]
        elif buf == b"\r" or not buf:
            return False
        else:
            self._fail("chunk data not followed by CRLF")
        self._state = _State.CHUNK_SIZE
        return True

    def _trailers(self) -> bool:
        """The trailer section, parsed whole like a head once its empty line arrived."""
        buf = self._buf
        if not self._scan_from:
            if buf.startswith(b"\r\n") or buf.startswith(b"\n"):
                del buf[: 2 if buf[0] == 13 else 1]
                self._state = _State.DONE
                return True
            if buf == b"\r":
                return False
        end = find_block_end(buf, self._scan_from, limits.MAX_TRAILER_BLOCK)
        if end < 0:
            self._scan_from = max(1, len(buf) - 2) if buf else 0
            if len(buf) > limits.MAX_TRAILER_BLOCK:
                self._fail(f"trailer block larger than {limits.MAX_TRAILER_BLOCK} bytes")
            return False
        block = bytes(buf[:end])
        del buf[:end]
        self._scan_from = 0
        try:
            _, self.trailers = parse_fields(block, status_line=False)
        except FieldError as exc:
            self._fail(f"{exc} in the trailers")
        self._state = _State.DONE
        return True


# The framing units take_body() steps through, by state (transitions as data).
_FRAMING_STEPS: dict[_State, Callable[[ResponseReader], bool]] = {
    _State.CHUNK_SIZE: ResponseReader._chunk_size_line,
    _State.CHUNK_END: ResponseReader._chunk_end,
    _State.TRAILERS: ResponseReader._trailers,
}
