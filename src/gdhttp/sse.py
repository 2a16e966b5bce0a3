"""Server-sent events: a sans-IO parser for ``text/event-stream`` (WHATWG HTML 9.2.5-9.2.6).

No sockets, no clocks: ``push(bytes)`` takes body bytes as they arrive,
``next_event()`` returns the next dispatched ``Event`` or None when it needs
more bytes, ``end()`` is the end of the stream. The caller decides how many
events it takes per frame, so a flood of tiny events costs only what the
caller lets it cost; whatever stays buffered is bounded by the caller not
pushing more while ``pending`` is large.

The processing model, line by line:

======================  ==================================================
line                    effect
======================  ==================================================
empty                   dispatch: last_event_id = id buffer; if the data
                        buffer is empty, clear data and type, nothing
                        dispatched; else strip one trailing LF and emit
``:...``                comment, ignored
``name:value``          field ``name``, value without one leading space
``name``                field ``name`` with an empty value
field ``event``         type buffer = value
field ``data``          data buffer += value + LF
field ``id``            id buffer = value, unless it contains NUL
field ``retry``         retry = int(value) if it is ASCII digits only
other fields            ignored
======================  ==================================================

Lines end with CRLF, LF or CR (a CR at the end of one push and an LF at the
start of the next are one line end). Bytes are UTF-8, invalid sequences become
U+FFFD, and one leading BOM is dropped. At the end of the stream an unfinished
line and an event without its blank line are discarded.

The last event ID buffer is not cleared by a dispatch; a reconnecting
``EventSource`` starts the new stream's buffer from the last event ID
(``SSEParser(last_event_id=...)``), as browsers do, so a resumed stream whose
events carry no ``id`` keeps reporting the ID it resumed from.
"""

from __future__ import annotations

import codecs
import collections
import re
from dataclasses import dataclass
from typing import Final

from gdhttp import limits

__all__ = ["Event", "SSEError", "SSEParser", "parse"]

_ENDS: Final = ("\n", "\r")
_DIGITS: Final = re.compile(r"[0-9]+")
_BOM: Final = "\ufeff"


@dataclass(frozen=True, slots=True)
class Event:
    """One dispatched event: ``type`` ("message" unless named), ``data``, ``last_event_id``."""

    type: str
    data: str
    last_event_id: str


class SSEError(Exception):
    """The stream broke a limit (a line or an event too long): the connection must end."""


class SSEParser:
    """Incremental event-stream parser; see the module doc."""

    def __init__(self, last_event_id: str = "", max_line: int = limits.MAX_SSE_LINE,
                 max_event: int = limits.MAX_SSE_EVENT) -> None:
        self.max_line = max_line
        self.max_event = max_event
        #: The event source's last event ID string (updated when an event is dispatched).
        self.last_event_id = last_event_id
        #: The newest valid ``retry:`` value in milliseconds (None: none seen yet).
        self.retry: int | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._text = ""  # decoded, not yet split into lines
        self._raw: collections.deque[bytes] = collections.deque()  # pushed, not decoded yet
        self._raw_size = 0
        self._pos = 0  # where the unprocessed part of _text starts
        # Per line-end character (LF, CR): where it was last found in _text, and how far
        # _text is known to be free of it. str.find is memchr-fast where a regex is 50x
        # slower, and the memory keeps an LF-only stream from rescanning for CR per line.
        self._hit = [-1, -1]
        self._seen = [0, 0]
        self._started = False  # the BOM check is done
        self._skip_lf = False  # the last line ended with CR: an LF next is part of it
        self._data: list[str] = []
        self._data_size = 0
        self._type = ""
        self._id = last_event_id
        self._ended = False

    @property
    def pending(self) -> int:
        """Bytes pushed and characters decoded but not processed yet."""
        return len(self._text) - self._pos + self._raw_size

    def push(self, data: bytes) -> None:
        """Add body bytes (nothing after ``end()``). Cheap: decoding waits for next_event."""
        if self._ended or not data:
            return
        self._raw.append(bytes(data))
        self._raw_size += len(data)

    def _take(self) -> str:
        """Decode at most SSE_DECODE_STEP more pushed bytes onto the unprocessed text, so
        one call's work stays small however much one frame's read brought."""
        budget = limits.SSE_DECODE_STEP
        pieces = []
        while self._raw and budget > 0:
            piece = self._raw.popleft()
            if len(piece) > budget:
                self._raw.appendleft(piece[budget:])
                piece = piece[:budget]
            pieces.append(piece)
            budget -= len(piece)
            self._raw_size -= len(piece)
        text = self._decoder.decode(b"".join(pieces))
        if not self._started and text:
            self._started = True
            if text.startswith(_BOM):
                text = text[1:]
        pos = self._pos
        for i in (0, 1):
            self._hit[i] = self._hit[i] - pos if self._hit[i] >= pos else -1
            self._seen[i] = max(0, self._seen[i] - pos)
        self._text = self._text[pos:] + text
        self._pos = 0
        return self._text

    def end(self) -> None:
        """The stream ended: an unfinished line and an undispatched event are discarded."""
        self._ended = True
        self._text, self._pos = "", 0
        self._hit, self._seen = [-1, -1], [0, 0]
        self._raw.clear()
        self._raw_size = 0
        self._clear_event()

    def next_event(self) -> Event | None:
        """Process lines until one dispatches an event; None when a whole line is missing.

        Raises ``SSEError`` when a line or the event being built outgrows its limit.
        """
        text = self._text
        while True:
            pos = self._pos
            if self._skip_lf and pos < len(text):
                self._skip_lf = False
                if text[pos] == "\n":
                    pos += 1
                    self._pos = pos
            lf, cr = self._find(text, pos, 0), self._find(text, pos, 1)
            if lf < 0 and cr < 0:
                if len(text) - pos > self.max_line:
                    raise SSEError(f"event-stream line longer than {self.max_line} characters")
                if not self._raw:
                    return None
                text = self._take()
                continue
            end = lf if cr < 0 or 0 <= lf < cr else cr
            if end - pos > self.max_line:
                raise SSEError(f"event-stream line longer than {self.max_line} characters")
            if text[end] == "\r":
                if end + 1 < len(text):
                    self._pos = end + 2 if text[end + 1] == "\n" else end + 1
                else:
                    self._pos = end + 1
                    self._skip_lf = True
            else:
                self._pos = end + 1
            event = self._line(text[pos:end])
            if event is not None:
                return event

    def _find(self, text: str, start: int, i: int) -> int:
        """Index of the first _ENDS[i] at or after ``start`` in ``text``, -1 if none."""
        hit = self._hit[i]
        if hit >= start:
            return hit
        hit = text.find(_ENDS[i], max(start, self._seen[i]))
        self._hit[i] = hit
        self._seen[i] = len(text) if hit < 0 else hit
        return hit

    def _line(self, line: str) -> Event | None:
        if not line:
            return self._dispatch()
        colon = line.find(":")
        if colon == 0:
            return None  # a comment
        if colon < 0:
            name, value = line, ""
        else:
            name, value = line[:colon], line[colon + 1:]
            if value.startswith(" "):
                value = value[1:]
        if name == "data":
            self._data_size += len(value) + 1
            if self._data_size > self.max_event:
                raise SSEError(f"event data longer than {self.max_event} characters")
            self._data.append(value)
        elif name == "event":
            self._type = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and _DIGITS.fullmatch(value):
            self.retry = int(value)
        return None

    def _dispatch(self) -> Event | None:
        self.last_event_id = self._id
        if not self._data:
            self._clear_event()
            return None
        event = Event(self._type or "message", "\n".join(self._data), self.last_event_id)
        self._clear_event()
        return event

    def _clear_event(self) -> None:
        self._data.clear()  # reused: one list per event would be GC churn in a flood
        self._data_size = 0
        self._type = ""


def parse(stream: bytes, last_event_id: str = "") -> list[Event]:
    """Every event of a whole stream (tests, small bodies): push, drain, end."""
    parser = SSEParser(last_event_id)
    parser.push(stream)
    events = []
    while (event := parser.next_event()) is not None:
        events.append(event)
    parser.end()
    return events
