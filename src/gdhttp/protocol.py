"""Sans-IO HTTP/1.1 for one client connection: request heads out, responses in.

Nothing here touches a socket or a clock. ``build_request_head`` turns the
Godot-style arguments into bytes (refusing anything that could split a
message); ``ResponseReader`` turns received bytes into a head and body bytes
by RFC 9112 framing, with every buffer bounded by ``gdhttp.limits``.

Body bytes have a direct path: when the reader's buffer is empty and the
framing says the next N bytes on the wire are pure body, ``direct_read_limit``
tells the caller so it can read them straight into its own buffer and report
them with ``consumed_direct``. That keeps per-byte Python work off the body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import NoReturn

from gdhttp import limits
from gdhttp._wire_request import (
    _FORBIDDEN_IN_FIELD as _FORBIDDEN_IN_FIELD,  # client.py, until it switches
)
from gdhttp._wire_request import (
    _TARGET_BAD as _TARGET_BAD,  # request.py, until it switches
)
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


# RFC 9110 token characters, for header names.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_STATUS_LINE = re.compile(rb"HTTP/(\d)\.(\d) (\d{3})(?: (.*))?")


# --------------------------------------------------------------------------- responses


class Framing(Enum):
    """How the body of a response is delimited on the wire."""

    NONE = "none"  # no body bytes follow the head
    LENGTH = "length"  # Content-Length bytes follow
    CHUNKED = "chunked"  # chunked transfer coding
    UNTIL_CLOSE = "until_close"  # everything until the server closes


@dataclass
class ResponseHead:
    """A parsed final response head."""

    http_version: tuple[int, int]
    status_code: int
    reason: str
    #: Header lines as received ("Name: value"), stripped, in order.
    header_lines: list[str]
    framing: Framing
    #: Content-Length if the response had one (also for HEAD/304), else -1.
    content_length: int
    chunked: bool
    keep_alive: bool


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


# Which states hold pure body bytes that may be read directly from the wire.
_DIRECT_STATES = frozenset({_State.LENGTH, _State.CHUNK_DATA, _State.UNTIL_CLOSE})


@dataclass
class ResponseReader:
    """Parses one response (skipping 1xx interim heads) from bytes fed to it.

    Usage: ``receive(data)``; ``read_head()`` until it returns a head; then
    ``take_body(n)`` / ``direct_read_limit`` + ``consumed_direct`` until
    ``done``. ``receive_eof()`` tells it the server closed. Errors raise
    ProtocolError and leave the reader in an error state.
    """

    head_request: bool = False
    connect_request: bool = False
    _buf: bytearray = field(default_factory=bytearray)
    _state: _State = _State.HEAD
    _scan_from: int = 0  # where to resume searching for the end of the head
    _remaining: int = 0  # bytes left in the body (LENGTH) or current chunk
    _interim_seen: int = 0
    _trailer_bytes: int = 0
    _eof: bool = False
    head: ResponseHead | None = None
    trailers: list[str] = field(default_factory=list)

    # ---- input

    def receive(self, data: bytes | bytearray | memoryview) -> None:
        self._buf += data

    def receive_eof(self) -> None:
        """The server closed its side. Ends an until-close body; else an error later."""
        self._eof = True
        if self._state is _State.UNTIL_CLOSE and not self._buf:
            self._state = _State.DONE

    @property
    def buffered(self) -> int:
        return len(self._buf)

    @property
    def done(self) -> bool:
        return self._state is _State.DONE

    @property
    def in_body(self) -> bool:
        return self._state not in (_State.HEAD, _State.DONE, _State.ERROR)

    @property
    def body_remaining(self) -> int:
        """Bytes left of a Content-Length body (-1 for other framings)."""
        return self._remaining if self._state is _State.LENGTH else -1

    def take_leftover(self) -> bytes:
        """Bytes received past the end of the message (a pipelining server)."""
        data = bytes(self._buf)
        self._buf.clear()
        return data

    # ---- head

    def read_head(self) -> ResponseHead | None:
        """Parse a complete final head from the buffer, or return None for more data."""
        while self._state is _State.HEAD:
            end, sep = self._find_head_end()
            if end < 0:
                if len(self._buf) > limits.MAX_HEADER_BLOCK:
                    self._fail(f"response head larger than {limits.MAX_HEADER_BLOCK} bytes")
                if self._eof:
                    self._fail("server closed the connection before the response head ended")
                return None
            block = bytes(self._buf[:end])
            del self._buf[: end + sep]
            self._scan_from = 0
            head = self._parse_head(block)
            if 100 <= head.status_code < 200:
                if head.status_code == 101:
                    self._fail("unsolicited 101 Switching Protocols")
                self._interim_seen += 1
                if self._interim_seen > limits.MAX_INTERIM_RESPONSES:
                    self._fail(f"more than {limits.MAX_INTERIM_RESPONSES} interim 1xx responses")
                continue
            self.head = head
            self._enter_body(head)
            return head
        return self.head

    def _find_head_end(self) -> tuple[int, int]:
        buf = self._buf
        start = max(0, self._scan_from - 3)
        # Leading empty lines before a status line are tolerated (RFC 9112 2.2).
        while buf[:2] == b"\r\n" or buf[:1] == b"\n":
            del buf[: 2 if buf[:1] == b"\r" else 1]
            start = 0
        limit = min(len(buf), limits.MAX_HEADER_BLOCK + 4)
        crlf = buf.find(b"\r\n\r\n", start, limit)
        lf = buf.find(b"\n\n", start, limit)
        self._scan_from = len(buf)
        if crlf >= 0 and (lf < 0 or crlf < lf):
            return crlf, 4
        if lf >= 0:
            return lf, 2
        return -1, 0

    def _parse_head(self, block: bytes) -> ResponseHead:
        raw_lines = block.split(b"\n")
        status = _STATUS_LINE.fullmatch(raw_lines[0].rstrip(b"\r"))
        if status is None:
            self._fail(f"malformed status line {raw_lines[0][:80]!r}")
        major, minor = int(status[1]), int(status[2])
        if major != 1:
            self._fail(f"unsupported HTTP version {major}.{minor}")
        code = int(status[3])
        if code < 100:
            self._fail(f"invalid status code {code:03d}")
        reason = _decode(status[4] or b"")
        lines: list[str] = []
        for raw in raw_lines[1:]:
            raw = raw.rstrip(b"\r")
            if not raw:
                continue
            if raw[:1] in (b" ", b"\t"):
                # obs-fold: RFC 9112 5.2 lets a client join it to the previous field.
                if not lines:
                    self._fail("header block starts with a continuation line")
                lines[-1] = lines[-1] + " " + _decode(raw.strip())
                continue
            colon = raw.find(b":")
            if colon <= 0 or not _TOKEN.fullmatch(raw[:colon]):
                self._fail(f"malformed header line {raw[:80]!r}")
            if b"\x00" in raw:
                self._fail("NUL byte in a header field")
            lines.append(_decode(raw.strip()))
            if len(lines) > limits.MAX_HEADER_FIELDS:
                self._fail(f"more than {limits.MAX_HEADER_FIELDS} header fields")
        return self._frame(major, minor, code, reason, lines)

    def _frame(
        self, major: int, minor: int, code: int, reason: str, lines: list[str]
    ) -> ResponseHead:
        lengths: set[int] = set()
        codings: list[str] = []
        connection: list[str] = []
        for line in lines:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            value = value.strip()
            if name == "content-length":
                for part in value.split(","):
                    part = part.strip()
                    if not part.isdigit() or not part.isascii() or len(part) > 18:
                        self._fail(f"invalid Content-Length {value[:40]!r}")
                    lengths.add(int(part))
            elif name == "transfer-encoding":
                codings.extend(c.strip().lower() for c in value.split(",") if c.strip())
            elif name == "connection":
                connection.extend(c.strip().lower() for c in value.split(","))
        if len(lengths) > 1:
            self._fail("conflicting Content-Length values")
        content_length = lengths.pop() if lengths else -1
        chunked = bool(codings) and codings[-1] == "chunked"
        if codings.count("chunked") > 1:
            self._fail("chunked transfer coding applied more than once")
        if codings and content_length >= 0:
            self._fail("both Transfer-Encoding and Content-Length (request smuggling guard)")
        if minor == 0:
            keep_alive = "keep-alive" in connection and "close" not in connection
        else:
            keep_alive = "close" not in connection

        no_body_status = code in (204, 304) or 100 <= code < 200
        if self.connect_request and 200 <= code < 300:
            framing = Framing.NONE
        elif self.head_request or no_body_status:
            # HEAD and 204/304 never carry a body, whatever the head claims.
            framing = Framing.LENGTH if (self.head_request or content_length >= 0) else Framing.NONE
            content_length = 0 if framing is Framing.LENGTH else -1
        elif chunked:
            framing = Framing.CHUNKED
        elif codings:
            framing = Framing.UNTIL_CLOSE  # RFC 9112 6.3: unknown final coding
            keep_alive = False
        elif content_length >= 0:
            framing = Framing.LENGTH
        elif not keep_alive:
            framing = Framing.UNTIL_CLOSE
        else:
            # The engine's rule: no length on a keep-alive connection means no body.
            framing = Framing.NONE
        return ResponseHead(
            (major, minor), code, reason, lines, framing, content_length, chunked, keep_alive
        )

    def _enter_body(self, head: ResponseHead) -> None:
        if head.framing is Framing.LENGTH:
            self._remaining = head.content_length
            self._state = _State.LENGTH if self._remaining > 0 else _State.DONE
        elif head.framing is Framing.CHUNKED:
            self._state = _State.CHUNK_SIZE
        elif head.framing is Framing.UNTIL_CLOSE:
            self._state = _State.UNTIL_CLOSE
            if self._eof and not self._buf:
                self._state = _State.DONE
        else:
            self._state = _State.DONE

    # ---- body

    def direct_read_limit(self, budget: int) -> int:
        """How many bytes may be read from the wire straight into the caller's buffer."""
        if self._buf or self._state not in _DIRECT_STATES:
            return 0
        if self._state is _State.UNTIL_CLOSE:
            return budget
        return min(budget, self._remaining)

    def consumed_direct(self, n: int) -> None:
        """Account for ``n`` body bytes the caller read directly (``n`` > 0)."""
        if self._state is _State.UNTIL_CLOSE:
            return
        self._remaining -= n
        if self._remaining == 0:
            self._state = _State.DONE if self._state is _State.LENGTH else _State.CHUNK_END

    def take_body(self, budget: int) -> bytes:
        """Return up to ``budget`` body bytes from the buffer, advancing the framing."""
        out: list[bytes] = []
        while budget > 0:
            state = self._state
            if state in _DIRECT_STATES:
                if not self._buf:
                    break
                n = len(self._buf) if state is _State.UNTIL_CLOSE else self._remaining
                n = min(n, budget, len(self._buf))
                out.append(bytes(self._buf[:n]))
                del self._buf[:n]
                budget -= n
                if state is not _State.UNTIL_CLOSE:
                    self.consumed_direct(n)
                elif self._eof and not self._buf:
                    self._state = _State.DONE
            elif state is _State.CHUNK_SIZE:
                if not self._chunk_size_line():
                    break
            elif state is _State.CHUNK_END:
                if not self._chunk_end():
                    break
            elif state is _State.TRAILERS:
                if not self._trailer_line():
                    break
            else:
                break
        # At EOF with budget left, whatever stays buffered is an incomplete unit
        # (a partial chunk line or terminator): no more bytes can ever complete it.
        # Bytes already taken are handed out first; the failure shows on the next call.
        if self._eof and budget > 0 and self._state not in (_State.DONE, _State.ERROR, _State.HEAD):
            if self._state is _State.UNTIL_CLOSE:
                self._state = _State.DONE
            elif not out:
                self._fail("server closed the connection before the body ended")
        return out[0] if len(out) == 1 else b"".join(out)

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
        size_text = line.split(b";", 1)[0].strip(b" \t")
        if not size_text or len(size_text) > 16 or not all(
            c in b"0123456789abcdefABCDEF" for c in size_text
        ):
            self._fail(f"invalid chunk size {line[:40]!r}")
        size = int(size_text, 16)
        if size > limits.MAX_CHUNK_SIZE:
            self._fail("chunk size out of range")
        if size == 0:
            self._state = _State.TRAILERS
            self._trailer_bytes = 0
        else:
            self._remaining = size
            self._state = _State.CHUNK_DATA
        return True

    def _chunk_end(self) -> bool:
        """Consume the CRLF (or bare LF) after chunk data; False while it is incomplete."""
        buf = self._buf
        if buf[:2] == b"\r\n":
            del buf[:2]
        elif buf[:1] == b"\n":
            del buf[:1]
        elif buf == b"\r" or not buf:
            return False
        else:
            self._fail("chunk data not followed by CRLF")
        self._state = _State.CHUNK_SIZE
        return True

    def _trailer_line(self) -> bool:
        line = self._line(limits.MAX_TRAILER_BLOCK, "trailer block")
        if line is None:
            return False
        self._trailer_bytes += len(line) + 2
        if self._trailer_bytes > limits.MAX_TRAILER_BLOCK:
            self._fail(f"trailer block larger than {limits.MAX_TRAILER_BLOCK} bytes")
        if not line.strip():
            self._state = _State.DONE
            return True
        colon = line.find(b":")
        if colon <= 0 or not _TOKEN.fullmatch(line[:colon]) or b"\x00" in line:
            self._fail(f"malformed trailer line {line[:80]!r}")
        self.trailers.append(_decode(line.strip()))
        return True

    def _fail(self, message: str) -> NoReturn:
        self._state = _State.ERROR
        raise ProtocolError(message)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
