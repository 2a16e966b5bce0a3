"""Response heads: the status line, and how the body after the head is framed.

Part of ``gdhttp.protocol`` (import the names from there). RFC 9112 section 6
decides the framing; where the engine differs on purpose it says so.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import NoReturn

from gdhttp._wire_fields import FieldError, decode, parse_fields

__all__ = ["Framing", "ResponseHead", "parse_head"]

# h11's status-line grammar: one digit each side of the dot, three-digit code,
# optional reason (control characters are refused before this runs).
_STATUS_LINE = re.compile(rb"HTTP/([0-9])\.([0-9]) ([0-9]{3})(?: (.*))?", re.DOTALL)


class Framing(Enum):
    """How the body of a response is delimited on the wire."""

    NONE = "none"  # no body bytes follow the head
    LENGTH = "length"  # Content-Length bytes follow
    CHUNKED = "chunked"  # chunked transfer coding
    UNTIL_CLOSE = "until_close"  # everything until the server closes


class ResponseHead:
    """A parsed response head (final or interim)."""

    __slots__ = (
        "chunked", "content_length", "framing", "header_lines", "http_version", "keep_alive",
        "reason", "status_code",
    )

    def __init__(
        self, http_version: tuple[int, int], status_code: int, reason: str,
        header_lines: list[str], framing: Framing, content_length: int, chunked: bool,
        keep_alive: bool,
    ) -> None:
        self.http_version = http_version
        self.status_code = status_code
        self.reason = reason
        #: Header lines as received ("Name: value"), ends stripped, obs-folds joined.
        self.header_lines = header_lines
        self.framing = framing
        #: Content-Length if the response had one (also for HEAD/304), else -1.
        self.content_length = content_length
        self.chunked = chunked
        self.keep_alive = keep_alive

    def __repr__(self) -> str:
        return f"<ResponseHead {self.status_code} {self.framing.name} {self.header_lines!r}>"


def parse_head(block: bytes, *, head_request: bool, connect_request: bool) -> ResponseHead:
    """Parse a whole head (ending in its empty line) and decide how its body is framed.

    ``head_request``/``connect_request`` say what was asked: a HEAD response has
    no body, a 2xx to CONNECT starts a tunnel. Raises FieldError.
    """
    try:
        first, fields = parse_fields(block, status_line=True)
    except FieldError as exc:
        raise FieldError(f"{exc} in the response head") from None
    status = _STATUS_LINE.fullmatch(first)
    if status is None:
        _fail(f"malformed status line {first[:80]!r}")
    major, minor = int(status[1]), int(status[2])
    if major != 1:
        _fail(f"unsupported HTTP version {major}.{minor}")
    code = int(status[3])
    if code < 100:
        _fail(f"invalid status code {code:03d}")
    reason = decode(status[4] or b"")
    return _frame(major, minor, code, reason, fields, head_request, connect_request)


def _frame(
    major: int, minor: int, code: int, reason: str, lines: list[str], head_request: bool,
    connect_request: bool,
) -> ResponseHead:
    lengths: set[int] = set()
    codings: list[str] = []
    connection: list[str] = []
    for line in lines:
        name, _, value = line.partition(":")
        name = name.lower()
        if name == "content-length":
            for part in value.split(","):
                part = part.strip(" \t")
                if not part.isascii() or not part.isdigit() or len(part) > 18:
                    _fail(f"invalid Content-Length {value.strip()[:40]!r}")
                lengths.add(int(part))
        elif name == "transfer-encoding":
            codings.extend(c.strip(" \t").lower() for c in value.split(",") if c.strip(" \t"))
        elif name == "connection":
            connection.extend(c.strip(" \t").lower() for c in value.split(","))
    if len(lengths) > 1:
        _fail("conflicting Content-Length values")
    content_length = lengths.pop() if lengths else -1
    if codings:
        # Only chunked is decoded; any other coding (gzip, identity...) would hand
        # the caller bytes it cannot tell apart from the body it asked for.
        if codings != ["chunked"]:
            _fail(f"unsupported Transfer-Encoding {', '.join(codings)[:60]!r}")
        if content_length >= 0:
            _fail("both Transfer-Encoding and Content-Length (request smuggling guard)")
        if minor == 0:
            # RFC 9112 6.1: HTTP/1.0 with Transfer-Encoding is faulty framing.
            _fail("HTTP/1.0 response with Transfer-Encoding")
    chunked = bool(codings)
    if minor == 0:
        keep_alive = "keep-alive" in connection and "close" not in connection
    else:
        keep_alive = "close" not in connection

    if connect_request and 200 <= code < 300:
        framing = Framing.NONE
    elif head_request or code in (204, 304) or code < 200:
        # HEAD and 204/304 never carry a body, whatever the head claims.
        framing = Framing.LENGTH if (head_request or content_length >= 0) else Framing.NONE
        content_length = 0 if framing is Framing.LENGTH else -1
    elif chunked:
        framing = Framing.CHUNKED
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


def _fail(message: str) -> NoReturn:
    raise FieldError(message)
