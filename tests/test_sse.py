"""The WHATWG event-stream processing rules as a table, each stream fed whole and byte by byte."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from gdhttp import limits
from gdhttp.sse import Event, SSEError, SSEParser, parse


@dataclass(frozen=True)
class Case:
    name: str
    stream: bytes
    events: list[tuple[str, str, str]]  # (type, data, last_event_id)
    last_id: str = ""
    retry: int | None = None
    start_id: str = ""


M = "message"
CASES = [
    Case("simple", b"data: hello\n\n", [(M, "hello", "")]),
    Case("comment ignored", b": keep-alive\n:\ndata: x\n\n", [(M, "x", "")]),
    Case("comment only is no event", b": just a comment\n\n", []),
    Case("field without colon is an empty value", b"data\n\n", [(M, "", "")]),
    Case("field without colon, two of them", b"data\ndata\n\n", [(M, "\n", "")]),
    Case("multi-line data joined by LF", b"data: a\ndata: b\ndata:  c\n\n", [(M, "a\nb\n c", "")]),
    Case("only one leading space removed", b"data:   x\n\n", [(M, "  x", "")]),
    Case("no space after colon", b"data:x\n\n", [(M, "x", "")]),
    Case("colon in the value kept", b"data: a:b: c\n\n", [(M, "a:b: c", "")]),
    Case("named event", b"event: add\ndata: 1\n\n", [("add", "1", "")]),
    Case("type resets after dispatch", b"event: add\ndata: 1\n\ndata: 2\n\n",
         [("add", "1", ""), (M, "2", "")]),
    Case("empty event name is message", b"event:\ndata: 1\n\n", [(M, "1", "")]),
    Case("event without data not dispatched", b"event: add\n\ndata: 2\n\n", [(M, "2", "")]),
    Case("id persists across events", b"id: 7\ndata: a\n\ndata: b\n\n",
         [(M, "a", "7"), (M, "b", "7")], last_id="7"),
    Case("empty id resets", b"id: 7\ndata: a\n\nid\ndata: b\n\n",
         [(M, "a", "7"), (M, "b", "")], last_id=""),
    Case("id containing NUL ignored", b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
         [(M, "a", "1"), (M, "b", "1")], last_id="1"),
    Case("id without data still sets the last id", b"id: 9\n\n", [], last_id="9"),
    Case("id of an undispatched trailing event never applies", b"data: a\n\nid: 5\ndata: b",
         [(M, "a", "")], last_id=""),
    Case("retry digits", b"retry: 1500\n\n", [], retry=1500),
    Case("retry with non-digits ignored", b"retry: 1500\n\nretry: 15x0\n\nretry: -1\n\n"
         b"retry: 1.5\n\nretry: \n\nretry: \xd9\xa3\n\n", [], retry=1500),
    Case("retry applies without a dispatch", b"retry: 10\ndata: x", [], retry=10),
    Case("trailing event without blank line dropped", b"data: a\n\ndata: b\n", [(M, "a", "")]),
    Case("trailing partial line dropped", b"data: a\n\ndata: b", [(M, "a", "")]),
    Case("CRLF lines", b"data: a\r\ndata: b\r\n\r\n", [(M, "a\nb", "")]),
    Case("CR lines", b"data: a\rdata: b\r\r", [(M, "a\nb", "")]),
    Case("mixed endings", b"data: a\r\ndata: b\rdata: c\n\r\n", [(M, "a\nb\nc", "")]),
    Case("CR CR is a blank line", b"data: a\r\rdata: b\r\n\r\n", [(M, "a", ""), (M, "b", "")]),
    Case("LF CR is two line ends", b"data: a\n\rdata: b\n\n", [(M, "a", ""), (M, "b", "")]),
    Case("BOM dropped", b"\xef\xbb\xbfdata: a\n\n", [(M, "a", "")]),
    Case("only one BOM dropped", b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n", []),
    Case("BOM later is data", b"data: \xef\xbb\xbfa\n\n", [(M, "\ufeffa", "")]),
    Case("UTF-8 data", "data: héllo ✓ 🎮\n\n".encode(), [(M, "héllo ✓ 🎮", "")]),
    Case("invalid UTF-8 replaced", b"data: a\xffb\n\n", [(M, "a\ufffdb", "")]),
    Case("unknown field ignored", b"foo: bar\ndata: a\n\n", [(M, "a", "")]),
    Case("field names are case-sensitive", b"Data: a\nDATA: b\n\n", []),
    Case("field name with space is another field", b"data : a\ndata: b\n\n", [(M, "b", "")]),
    Case("empty data line", b"data:\n\n", [(M, "", "")]),
    Case("data ending in a newline", b"data: a\ndata:\n\n", [(M, "a\n", "")]),
    Case("resumed id seeds the buffer", b"data: a\n\n", [(M, "a", "41")], last_id="41",
         start_id="41"),
    Case("many events", b"".join(b"id: %d\ndata: %d\n\n" % (i, i) for i in range(50)),
         [(M, str(i), str(i)) for i in range(50)], last_id="49"),
]


def _run(case: Case, pieces: list[bytes]) -> SSEParser:
    parser = SSEParser(case.start_id)
    got: list[Event] = []
    for piece in pieces:
        parser.push(piece)
        while (event := parser.next_event()) is not None:
            got.append(event)
    parser.end()
    assert parser.next_event() is None
    assert [(e.type, e.data, e.last_event_id) for e in got] == case.events
    assert parser.last_event_id == case.last_id
    assert parser.retry == case.retry
    return parser


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rule_whole(case: Case) -> None:
    _run(case, [case.stream])


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rule_byte_by_byte(case: Case) -> None:
    _run(case, [case.stream[i:i + 1] for i in range(len(case.stream))])


def test_parse_helper_matches_the_parser() -> None:
    assert parse(b"id: 3\ndata: x\n\n") == [Event("message", "x", "3")]


def test_cr_at_the_end_of_one_push_and_lf_at_the_start_of_the_next_are_one_line_end() -> None:
    parser = SSEParser()
    parser.push(b"data: a\r")
    assert parser.next_event() is None
    parser.push(b"\n")
    assert parser.next_event() is None  # the LF closed nothing more
    parser.push(b"\r\n")
    assert parser.next_event() == Event("message", "a", "")


def test_nothing_is_taken_after_end() -> None:
    parser = SSEParser()
    parser.end()
    parser.push(b"data: a\n\n")
    assert parser.next_event() is None


def test_endless_line_breaks_the_line_limit_whole_and_in_pieces() -> None:
    parser = SSEParser(max_line=1000)
    parser.push(b"data: " + b"x" * 2000 + b"\n\n")
    with pytest.raises(SSEError, match="line longer than 1000"):
        parser.next_event()
    parser = SSEParser(max_line=1000)
    with pytest.raises(SSEError, match="line longer than 1000"):
        for _ in range(100):
            parser.push(b"x" * 100)
            parser.next_event()


def test_event_size_limit_counts_all_data_lines() -> None:
    parser = SSEParser(max_line=100, max_event=250)
    parser.push(b"data: " + b"y" * 90 + b"\n" * 1)
    parser.push(b"data: " + b"y" * 90 + b"\n")
    assert parser.next_event() is None
    parser.push(b"data: " + b"y" * 90 + b"\n\n")
    with pytest.raises(SSEError, match="event data longer than 250"):
        parser.next_event()


def test_default_limits_are_the_named_ones() -> None:
    parser = SSEParser()
    assert (parser.max_line, parser.max_event) == (limits.MAX_SSE_LINE, limits.MAX_SSE_EVENT)


def test_each_next_event_call_stays_short_on_a_flood_of_tiny_events() -> None:
    # A backlog of events is handed out one per call: a caller's budget bounds the work.
    parser = SSEParser()
    parser.push(b"data:x\n\n" * 200_000)
    longest = 0.0
    count = 0
    while True:
        started = time.perf_counter()
        event = parser.next_event()
        longest = max(longest, time.perf_counter() - started)
        if event is None:
            break
        count += 1
    assert count == 200_000
    assert longest < 0.005
