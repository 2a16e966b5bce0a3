"""The sans-IO response reader and request builder, fed whole and one byte at a time."""

from __future__ import annotations

import time

import pytest

from gdhttp import limits
from gdhttp.protocol import (
    ChunkedWriter,
    Framing,
    ProtocolError,
    RequestError,
    ResponseHead,
    ResponseReader,
    absolute_form_target,
    build_connect_head,
    build_request_head,
    check_headers,
    check_request_target,
    has_forbidden_field_chars,
)

SPLITS = ["whole", "bytewise"]


def drain(reader: ResponseReader, head: ResponseHead | None) -> tuple[ResponseHead | None, bytes]:
    """Call the reader the way a client does: until it has nothing more to parse."""
    body = bytearray()
    for _ in range(100_000):  # bounded: every call consumes input or stalls
        if head is None:
            head = reader.read_head()
            if head is None and not reader.has_pending_input:
                break
        elif not reader.done and reader.has_pending_input:
            body += reader.take_body(1 << 30)
        else:
            break
    return head, bytes(body)


def run_reader(
    data: bytes, split: str, *, head_request: bool = False, eof: bool = True
) -> tuple[ResponseHead, bytes, ResponseReader]:
    """Feed ``data`` to a reader, the way the client would, and collect the body."""
    reader = ResponseReader(head_request=head_request)
    pieces = [data] if split == "whole" else [data[i : i + 1] for i in range(len(data))]
    head: ResponseHead | None = None
    body = bytearray()
    for piece in pieces:
        reader.receive(piece)
        head, more = drain(reader, head)
        body += more
    if eof:
        reader.receive_eof()
        head, more = drain(reader, head)
        body += more
    assert head is not None
    return head, bytes(body), reader


@pytest.mark.parametrize("split", SPLITS)
def test_content_length_body(split: str) -> None:
    head, body, reader = run_reader(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello", split, eof=False
    )
    assert head.status_code == 200 and head.reason == "OK"
    assert head.header_lines == ["Content-Length: 5", "X-A: 1"]
    assert head.framing is Framing.LENGTH and head.content_length == 5
    assert body == b"hello" and reader.done


@pytest.mark.parametrize("split", SPLITS)
def test_chunked_with_extensions_and_trailers(split: str) -> None:
    data = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n"
        b"1\r\n \r\n"
        b"A ; x\r\n0123456789\r\n"
        b"0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
    )
    head, body, reader = run_reader(data, split, eof=False)
    assert head.chunked and head.framing is Framing.CHUNKED and head.content_length == -1
    assert body == b"hello 0123456789"
    assert reader.trailers == ["X-Checksum: abc", "X-Other: 1"]
    assert reader.done


@pytest.mark.parametrize("split", SPLITS)
def test_interim_responses_are_skipped(split: str) -> None:
    data = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
    )
    head, body, _ = run_reader(data, split, eof=False)
    assert head.status_code == 201 and body == b"ok"


@pytest.mark.parametrize("split", SPLITS)
def test_read_until_close(split: str) -> None:
    head, body, reader = run_reader(
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it", split
    )
    assert head.framing is Framing.UNTIL_CLOSE and not head.keep_alive
    assert body == b"all of it" and reader.done


@pytest.mark.parametrize("split", SPLITS)
def test_http10_without_length_reads_until_close(split: str) -> None:
    head, body, _ = run_reader(b"HTTP/1.0 200 OK\r\n\r\nold", split)
    assert head.framing is Framing.UNTIL_CLOSE and body == b"old"


def test_keep_alive_without_length_has_no_body() -> None:
    head, body, reader = run_reader(b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", "whole", eof=False)
    assert head.framing is Framing.NONE and body == b"" and reader.done


@pytest.mark.parametrize("code", [204, 304])
def test_no_body_statuses(code: int) -> None:
    head, body, reader = run_reader(
        f"HTTP/1.1 {code} X\r\nContent-Length: 10\r\n\r\n".encode(), "whole", eof=False
    )
    assert head.content_length == 0 and body == b"" and reader.done


def test_head_request_ignores_length() -> None:
    head, body, reader = run_reader(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", "whole", head_request=True, eof=False
    )
    assert head.framing is Framing.LENGTH and head.content_length == 0
    assert body == b"" and reader.done


def test_bare_lf_line_endings() -> None:
    head, body, _ = run_reader(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", "bytewise", eof=False)
    assert head.header_lines == ["Content-Length: 2"] and body == b"hi"


def test_obs_fold_is_joined() -> None:
    head, _, _ = run_reader(
        b"HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\nContent-Length: 0\r\n\r\n", "whole", eof=False
    )
    assert head.header_lines[0] == "X-Long: a b"


def test_repeated_equal_content_length_is_accepted() -> None:
    head, _, _ = run_reader(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc",
        "whole",
        eof=False,
    )
    assert head.content_length == 3


BAD_HEADS = {
    "garbage status line": (b"HELLO THERE\r\n\r\n", "status line"),
    "http2 status": (b"HTTP/2.0 200 OK\r\n\r\n", "HTTP version"),
    "two digit code": (b"HTTP/1.1 20 OK\r\n\r\n", "status line"),
    "four digit code": (b"HTTP/1.1 2000 OK\r\n\r\n", "status line"),
    "two digit version": (b"HTTP/1.11 200 OK\r\n\r\n", "status line"),
    "double space": (b"HTTP/1.1  200 OK\r\n\r\n", "status line"),
    "lower-case name": (b"http/1.1 200 OK\r\n\r\n", "status line"),
    "header without colon": (b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", "header line"),
    "space in name": (b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "header line"),
    "space before colon": (b"HTTP/1.1 200 OK\r\nName : x\r\n\r\n", "header line"),
    "tab before colon": (b"HTTP/1.1 200 OK\r\nName\t: x\r\n\r\n", "header line"),
    "empty name": (b"HTTP/1.1 200 OK\r\n: x\r\n\r\n", "header line"),
    "separator in name": (b"HTTP/1.1 200 OK\r\n(x): y\r\n\r\n", "header line"),
    "NUL in header": (b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n", "NUL"),
    "NUL in status line": (b"HTTP/1.1 200 O\x00K\r\n\r\n", "NUL"),
    "conflicting lengths": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "conflicting"),
    "negative length": (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length"),
    "non-numeric length": (b"HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n", "Content-Length"),
    "TE and CL": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", "smuggling"),
    "unsolicited 101": (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", "101"),
    "fold first": (b"HTTP/1.1 200 OK\r\n folded\r\n\r\n", "continuation"),
}


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", sorted(BAD_HEADS))
def test_malformed_heads_are_refused(name: str, split: str) -> None:
    data, message = BAD_HEADS[name]
    with pytest.raises(ProtocolError, match=message):
        run_reader(data, split, eof=False)


BAD_CHUNKS = {
    "non-hex size": (b"zz\r\nab\r\n0\r\n\r\n", "chunk size"),
    "negative size": (b"-5\r\nabcde\r\n0\r\n\r\n", "chunk size"),
    "empty size": (b"\r\nab\r\n0\r\n\r\n", "chunk size"),
    "leading space": (b" 2\r\nab\r\n0\r\n\r\n", "chunk size"),
    "huge size": (b"fffffffffffffffffff\r\n", "out of range"),
    "too many digits": (b"1" * 21 + b"\r\n", "chunk size"),
    "CTL in extension": (b"2;a=\x01\r\nab\r\n0\r\n\r\n", "chunk size"),
    "bare CR in extension": (b"2;a\rb\r\nab\r\n0\r\n\r\n", "chunk size"),
    "bad terminator": (b"2\r\nabXY1\r\nc\r\n0\r\n\r\n", "CRLF"),
    "endless size line": (b"1" + b" " * (limits.MAX_CHUNK_LINE + 10), "chunk-size line"),
}


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", sorted(BAD_CHUNKS))
def test_invalid_chunks_are_refused(name: str, split: str) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    data, message = BAD_CHUNKS[name]
    with pytest.raises(ProtocolError, match=message):
        run_reader(head + data, split, eof=False)


def test_oversized_head_is_refused_with_bounded_buffer() -> None:
    reader = ResponseReader()
    reader.receive(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(ProtocolError, match="larger than"):
        for _ in range(limits.MAX_HEADER_BLOCK // 1000 + 2):
            reader.receive(b"X-Pad: " + b"a" * 991 + b"\r\n")
            assert reader.read_head() is None
    assert reader.buffered <= limits.MAX_HEADER_BLOCK + 2000


def test_header_flood_is_refused() -> None:
    flood = b"".join(b"X-%d: 1\r\n" % i for i in range(limits.MAX_HEADER_FIELDS + 1))
    with pytest.raises(ProtocolError, match="header fields"):
        run_reader(b"HTTP/1.1 200 OK\r\n" + flood + b"\r\n", "whole", eof=False)


def test_interim_flood_is_refused() -> None:
    flood = b"HTTP/1.1 100 Continue\r\n\r\n" * (limits.MAX_INTERIM_RESPONSES + 1)
    with pytest.raises(ProtocolError, match="interim"):
        run_reader(flood, "whole", eof=False)


@pytest.mark.parametrize("split", SPLITS)
def test_truncated_length_body_is_an_error(split: str) -> None:
    with pytest.raises(ProtocolError, match="before the body ended"):
        run_reader(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", split)


@pytest.mark.parametrize("split", SPLITS)
def test_truncated_chunked_body_is_an_error(split: str) -> None:
    with pytest.raises(ProtocolError, match="before the body ended"):
        run_reader(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", split)


def test_eof_before_head_is_an_error() -> None:
    with pytest.raises(ProtocolError, match="before the response head ended"):
        run_reader(b"HTTP/1.1 200 OK\r\nContent-", "whole")


def test_direct_read_path_accounts_bytes() -> None:
    reader = ResponseReader()
    reader.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
    assert reader.read_head() is not None
    assert reader.direct_read_limit(100) == 10
    assert reader.direct_read_limit(4) == 4
    reader.consumed_direct(4)
    assert reader.body_remaining == 6
    reader.consumed_direct(6)
    assert reader.done


def test_chunk_data_can_be_read_directly() -> None:
    reader = ResponseReader()
    reader.receive(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n")
    assert reader.read_head() is not None
    assert reader.take_body(100) == b""
    assert reader.direct_read_limit(100) == 8
    reader.consumed_direct(8)
    reader.receive(b"\r\n0\r\n\r\n")
    assert reader.take_body(100) == b"" and reader.done


# ---- issue 10: hostile input costs bounded work, and the grammar is RFC 9112's


def feed_timed(reader: ResponseReader, data: bytes, piece: int) -> tuple[float, str]:
    """Feed ``data`` in ``piece``-byte reads, parsing as a client would.

    Returns the longest single call (s) and the ProtocolError message ("" if none);
    feeding stops at the first error."""
    longest = 0.0
    head: ResponseHead | None = None
    try:
        for start in range(0, len(data), piece):
            reader.receive(data[start : start + piece])
            for _ in range(10_000):
                t0 = time.perf_counter()
                try:
                    if head is None:
                        head = reader.read_head()
                    else:
                        reader.take_body(1 << 24)
                finally:
                    longest = max(longest, time.perf_counter() - t0)
                if not reader.has_pending_input or reader.done:
                    break
    except ProtocolError as exc:
        return longest, str(exc)
    return longest, ""


#: Longest one parsing call may take on hostile input. The goal is 5 ms per poll;
#: this leaves room for a loaded 2-core machine, while the quadratic and unbounded
#: paths these tests guard against took 0.1 s to several seconds.
CALL_BOUND_S = 0.02


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("eol", [b"\r\n", b"\n"])
@pytest.mark.parametrize("connect", [False, True])
def test_leading_empty_lines_are_bounded(split: str, eol: bytes, connect: bool) -> None:
    """Bug 1: empty lines before a status line are few; an endless stream fails."""
    reply = b"HTTP/1.1 200 Connection established\r\n\r\n"
    ok = eol * limits.MAX_LEADING_EMPTY_LINES + reply
    reader = ResponseReader(connect_request=connect)
    pieces = [ok] if split == "whole" else [ok[i : i + 1] for i in range(len(ok))]
    head = None
    for piece in pieces:
        reader.receive(piece)
        head = drain(reader, head)[0]
    assert head is not None and head.status_code == 200
    too_many = eol * (limits.MAX_LEADING_EMPTY_LINES + 1) + reply
    with pytest.raises(ProtocolError, match="empty lines before the status line"):
        run_reader(too_many, split, eof=False)


@pytest.mark.parametrize("eol", [b"\r\n", b"\n"])
def test_empty_line_flood_fails_at_once(eol: bytes) -> None:
    """Bug 1: 4 MiB of CRLF in 64 KiB reads: refused on the first read, cheaply."""
    reader = ResponseReader()
    longest, error = feed_timed(reader, eol * ((4 << 20) // len(eol)), limits.FRAMING_READ_SIZE)
    assert "empty lines" in error and reader.failed
    assert longest < CALL_BOUND_S


def test_one_head_per_call() -> None:
    """Bug 2: a 1xx storm yields between heads; has_pending_input says "call again"."""
    reader = ResponseReader()
    reader.receive(b"HTTP/1.1 100 Continue\r\n\r\n" * 3 + b"HTTP/1.1 204 No\r\n\r\n")
    results = []
    while reader.has_pending_input and len(results) < 10:
        results.append(reader.read_head())
    assert results[:3] == [None, None, None]
    assert reader.interim is not None and reader.interim.status_code == 100
    final = results[3]
    assert final is not None and final.status_code == 204 and len(results) == 4
    assert reader.read_head() is final


def test_incomplete_head_has_no_pending_input() -> None:
    reader = ResponseReader()
    reader.receive(b"HTTP/1.1 200 OK\r\nX: 1\r\n")
    assert reader.has_pending_input
    assert reader.read_head() is None
    assert not reader.has_pending_input
    reader.receive(b"\r\n")
    assert reader.has_pending_input and reader.read_head() is not None


def test_obs_fold_storm_is_linear_and_bounded() -> None:
    """Bug 2: 2 MiB of obs-fold lines cost linear work and fail at the head limit."""
    reader = ResponseReader()
    data = b"HTTP/1.1 200 OK\r\nX-Fold: a\r\n" + b" b\r\n" * ((2 << 20) // 4)
    longest, error = feed_timed(reader, data, limits.FRAMING_READ_SIZE)
    assert "larger than" in error and reader.failed
    assert longest < CALL_BOUND_S


def test_obs_folds_are_joined_once_per_field() -> None:
    folds = limits.MAX_HEADER_LINES - 4
    head, _, _ = run_reader(
        b"HTTP/1.1 200 OK\r\nX-Fold: a\r\n" + b"\t b\r\n" * folds + b"Content-Length: 0\r\n\r\n",
        "whole", eof=False,
    )
    assert head.header_lines[0] == "X-Fold: a" + " b" * folds
    assert head.header_lines[1] == "Content-Length: 0"


def test_big_fold_head_parses_in_one_short_call() -> None:
    """The largest head the limits allow still parses in one bounded call."""
    line = b" " + b"v" * 250 + b"\r\n"
    data = b"HTTP/1.1 200 OK\r\nX: a\r\n" + line * ((limits.MAX_HEADER_BLOCK - 100) // len(line))
    reader = ResponseReader()
    reader.receive(data + b"Content-Length: 0\r\n\r\n")
    t0 = time.perf_counter()
    head = reader.read_head()
    assert time.perf_counter() - t0 < CALL_BOUND_S
    assert head is not None and len(head.header_lines) == 2


@pytest.mark.parametrize("ext", [b"", b";" + b"e" * (limits.MAX_CHUNK_LINE - 8)])
def test_one_byte_chunks_cost_bounded_calls(ext: bytes) -> None:
    """Bug 2: 1-byte chunks (with 4 KiB extensions) are parsed in bounded steps."""
    count = 20_000 if not ext else 400
    data = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + (b"1" + ext + b"\r\nx\r\n") * count + b"0\r\n\r\n")
    reader = ResponseReader()
    reader.receive(data)
    assert reader.read_head() is not None
    body, calls, longest = bytearray(), 0, 0.0
    while reader.has_pending_input and calls < 10 * count:
        t0 = time.perf_counter()
        body += reader.take_body(1 << 24)
        longest = max(longest, time.perf_counter() - t0)
        calls += 1
    assert body == b"x" * count and reader.done
    assert calls >= 3 * count // limits.MAX_FRAMING_STEPS  # each call stopped at its step budget
    assert longest < CALL_BOUND_S


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("end", [b"\r\n\r\n", b"\n\n", b"\n\r\n", b"\r\n\n"])
def test_head_ends_at_the_first_empty_line(split: str, end: bytes) -> None:
    """Bug 9: whatever mix of CRLF and LF, the first empty line ends the head."""
    body = b"Set-Cookie: session=attacker\r\n\r\n"
    data = b"HTTP/1.1 200 OK\r\nContent-Length: %d" % len(body) + end + body
    head, got, reader = run_reader(data, split, eof=False)
    assert head.header_lines == [f"Content-Length: {len(body)}"]
    assert got == body and reader.done


@pytest.mark.parametrize("split", SPLITS)
def test_blank_line_inside_head_ends_it(split: str) -> None:
    """Bug 9: nothing after the first empty line is a header, even if it looks like one."""
    data = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nX-Evil: 1\r\n\r\nrest"
    head, body, _ = run_reader(data, split)
    assert head.header_lines == ["Connection: close"]
    assert body == b"X-Evil: 1\r\n\r\nrest"


CONTROL_HEADS = {
    "bare CR in value": (b"X: a\rb", "bare CR"),
    "bare CR at end of value": (b"X: ab\r\r", "bare CR"),
    "NUL after obs-fold": (b"X: a\r\n \x00b", "NUL"),
    "NUL in fold only": (b"X: a\r\n\t\x00", "NUL"),
    "SOH in value": (b"X: a\x01b", "control character"),
    "DEL in value": (b"X: a\x7fb", "control character"),
    "VT in value": (b"X: a\x0bb", "control character"),
    "ESC in reason": (b"", "control character"),
    "whitespace-only line": (b"X: a\r\n   ", "whitespace-only"),
}


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", sorted(CONTROL_HEADS))
def test_control_characters_are_refused(split: str, name: str) -> None:
    """Bug 10: RFC 9112 forbids CTLs (but HTAB) and bare CR in a head, folds included."""
    line, message = CONTROL_HEADS[name]
    status = b"HTTP/1.1 200 O\x1bK\r\n" if name == "ESC in reason" else b"HTTP/1.1 200 OK\r\n"
    data = status + (line + b"\r\n" if line else b"") + b"Content-Length: 0\r\n\r\n"
    with pytest.raises(ProtocolError, match=message):
        run_reader(data, split, eof=False)


@pytest.mark.parametrize("split", SPLITS)
def test_htab_and_obs_text_are_allowed(split: str) -> None:
    data = (b"HTTP/1.1 200 R\xe9ason \tok\r\nX: a\tb \xff\r\nY:\r\nZ:\t z\t\r\n"
            b"Content-Length: 0\r\n\r\n")
    head, _, _ = run_reader(data, split, eof=False)
    assert head.reason == "R\xe9ason \tok"
    assert head.header_lines[:3] == ["X: a\tb \xff", "Y:", "Z:\t z"]


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize(
    "coding", [b"gzip, chunked", b"gzip", b"chunked, gzip", b"identity", b"deflate,chunked"]
)
def test_transfer_codings_other_than_chunked_are_refused(split: str, coding: bytes) -> None:
    """Bug 10: a coding we would not decode must not reach the caller as body bytes."""
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: " + coding + b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    with pytest.raises(ProtocolError, match="unsupported Transfer-Encoding"):
        run_reader(data, split)


@pytest.mark.parametrize("split", SPLITS)
def test_http10_with_transfer_encoding_is_faulty_framing(split: str) -> None:
    """Bug 10, RFC 9112 6.1: HTTP/1.0 plus Transfer-Encoding is refused."""
    data = b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    with pytest.raises(ProtocolError, match=r"HTTP/1\.0 response with Transfer-Encoding"):
        run_reader(data, split)


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("blank", [b" \r\n", b"\t\r\n", b"  \n"])
def test_whitespace_only_trailer_lines_are_malformed(split: str, blank: bytes) -> None:
    """Bug 10: a whitespace-only line is not the end of the trailers."""
    for trailers in [blank + b"X-Evil: 1\r\n\r\n", b"X-T: 1\r\n" + blank + b"\r\n"]:
        with pytest.raises(ProtocolError, match="trailers"):
            run_reader(CHUNKED_HEAD + trailers, split, eof=False)


@pytest.mark.parametrize("split", SPLITS)
def test_trailers_follow_the_header_grammar(split: str) -> None:
    _, body, reader = run_reader(
        CHUNKED_HEAD + b"X-T: 1\r\n folded\r\nX-U:\tu\n\r\nNEXT", split, eof=False
    )
    assert body == b"hello" and reader.done
    assert reader.trailers == ["X-T: 1 folded", "X-U:\tu"]
    assert reader.take_leftover() == b"NEXT"
    with pytest.raises(ProtocolError, match="NUL byte in a header line in the trailers"):
        run_reader(CHUNKED_HEAD + b"X-T: \x00\r\n\r\n", split, eof=False)


def test_errors_are_sticky() -> None:
    reader = ResponseReader()
    reader.receive(b"HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n")
    with pytest.raises(ProtocolError, match="malformed header line") as first:
        reader.read_head()
    calls = [
        reader.read_head, lambda: reader.take_body(10), lambda: reader.receive(b"HTTP/1.1 200 OK"),
        reader.receive_eof, lambda: reader.direct_read_limit(10), reader.take_leftover,
        lambda: reader.consumed_direct(1),
    ]
    for call in calls:
        with pytest.raises(ProtocolError, match="malformed header line") as again:
            call()
        assert str(again.value) == str(first.value)
    assert reader.failed and not reader.has_pending_input


@pytest.mark.parametrize(
    ("line", "code", "reason"),
    [(b"HTTP/1.1 200 OK", 200, "OK"), (b"HTTP/1.1 200", 200, ""), (b"HTTP/1.1 200 ", 200, ""),
     (b"HTTP/1.0 404 Not  Found ", 404, "Not  Found "),
     (b"HTTP/1.1 599 \xe9t\xe9", 599, "\xe9t\xe9"),
     (b"HTTP/1.1 999 x", 999, "x")],
)
def test_status_line_grammar(line: bytes, code: int, reason: str) -> None:
    for split in SPLITS:
        head, _, _ = run_reader(line + b"\r\nContent-Length: 0\r\n\r\n", split, eof=False)
        assert (head.status_code, head.reason) == (code, reason)


@pytest.mark.parametrize("split", SPLITS)
def test_unauthenticated_close_cannot_end_a_close_delimited_body(split: str) -> None:
    """Bug 7: a TLS EOF without close_notify (truncated=True) cannot end such a body."""
    data = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"balance\": 10"
    reader = ResponseReader()
    pieces = [data] if split == "whole" else [data[i : i + 1] for i in range(len(data))]
    head, body = None, b""
    for piece in pieces:
        reader.receive(piece)
        head, more = drain(reader, head)
        body += more
    with pytest.raises(ProtocolError, match="without close_notify"):
        reader.receive_eof(truncated=True)
        drain(reader, head)
    assert reader.failed and body == b'{"balance": 10'


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("framed", [
    b"Content-Length: 5\r\n\r\nhello",
    b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
])
def test_unauthenticated_close_after_a_framed_body_is_fine(split: str, framed: bytes) -> None:
    reader = ResponseReader()
    data = b"HTTP/1.1 200 OK\r\n" + framed
    pieces = [data] if split == "whole" else [data[i : i + 1] for i in range(len(data))]
    head, body = None, b""
    for piece in pieces:
        reader.receive(piece)
        head, more = drain(reader, head)
        body += more
    reader.receive_eof(truncated=True)
    assert reader.done and body == b"hello"


# ---- requests


def head(**kw: object) -> str:
    args: dict[str, object] = {
        "host": "example.com",
        "body_length": 0,
        "user_agent": "UA/1",
    }
    args.update(kw)
    headers = args.pop("headers", [])
    verb = args.pop("verb", "GET")
    target = args.pop("target", "/x")
    return build_request_head(verb, target, headers, **args).decode()  # type: ignore[arg-type]


def test_request_head_engine_order() -> None:
    text = head(verb="POST", headers=["Content-Type: text/plain"], body_length=3,
                host="example.com:8080")
    assert text == (
        "POST /x HTTP/1.1\r\nContent-Type: text/plain\r\nHost: example.com:8080\r\n"
        "Content-Length: 3\r\nUser-Agent: UA/1\r\nAccept: */*\r\n\r\n"
    )


def test_empty_body_has_no_content_length() -> None:
    assert "Content-Length" not in head(verb="POST", body_length=0)


def test_user_headers_suppress_automatic_ones() -> None:
    text = head(headers=["host: other", "user-agent: me", "ACCEPT: x/y"])
    assert text.count("Host") + text.count("host") == 1
    assert "UA/1" not in text and "*/*" not in text


def test_streamed_body_uses_chunked_coding() -> None:
    assert "Transfer-Encoding: chunked" in head(verb="PUT", body_length=None)


@pytest.mark.parametrize(
    "header",
    ["X: a\r\nInjected: 1", "X: a\nb", "X: a\rb", "X: \x00", "", "   ", "NoColon", ": empty name",
     "Bad Name: x"],
)
def test_bad_headers_are_refused(header: str) -> None:
    with pytest.raises(RequestError, match=r"^header 0 "):
        check_headers([header])


def test_refusals_never_echo_a_header_value() -> None:
    for bad in ["Authorization: Bearer s3cret\r\nX: 1", "Bearer s3cret"]:
        with pytest.raises(RequestError, match="header 0") as info:
            check_headers([bad])
        assert "s3cret" not in str(info.value)


def test_mismatched_content_length_is_refused() -> None:
    with pytest.raises(RequestError, match="Content-Length"):
        head(verb="POST", headers=["Content-Length: 10"], body_length=3)


@pytest.mark.parametrize(
    ("verb", "url", "ok"),
    [
        ("GET", "/", True),
        ("GET", "http://a/b", True),
        ("GET", "https://a/b", True),
        ("GET", "a/b", False),
        ("GET", "", False),
        ("GET", "/a b", False),
        ("GET", "/a\r\nX: y", False),
        ("GET", "/\x00", False),
        ("OPTIONS", "*", True),
        ("GET", "*", False),
        ("CONNECT", "host:443", True),
        ("CONNECT", ":443", False),
        ("CONNECT", "host:", False),
    ],
)
def test_request_target_rules(verb: str, url: str, ok: bool) -> None:
    if ok:
        check_request_target(verb, url)
    else:
        with pytest.raises(RequestError, match=r"URL|CONNECT"):
            check_request_target(verb, url)


@pytest.mark.parametrize(
    ("host", "port", "authority"),
    [("example.com", 443, "example.com:443"), ("example.com", 80, "example.com:80"),
     ("::1", 8443, "[::1]:8443"), ("10.0.0.1", 8080, "10.0.0.1:8080")],
)
def test_connect_head_names_the_authority_twice(host: str, port: int, authority: str) -> None:
    text = build_connect_head(host, port, user_agent="UA/1",
                              extra_headers=["Proxy-Authorization: Basic dTpw"]).decode()
    assert text == (
        f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: UA/1\r\n"
        "Proxy-Authorization: Basic dTpw\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("host", "ua", "extra"),
    [("a.com\r\nX: 1", "UA", ()), ("a.com", "UA\nX: 1", ()), ("a.com", "UA", ("P: a\x00",)),
     ("a.com", "UA", ("P: a\r\n",))],
)
def test_connect_head_refuses_line_breaks(host: str, ua: str, extra: tuple[str, ...]) -> None:
    with pytest.raises(RequestError, match=r"control character|CR, LF or NUL"):
        build_connect_head(host, 443, user_agent=ua, extra_headers=extra)


def test_absolute_form_always_names_the_port() -> None:
    assert absolute_form_target("example.com", 80, False, "/a?b") == "http://example.com:80/a?b"
    assert absolute_form_target("::1", 8080, False, "/") == "http://[::1]:8080/"
    assert absolute_form_target("h.io", 443, True, "/x") == "https://h.io:443/x"


def test_chunked_writer_never_ends_on_an_empty_block() -> None:
    writer = ChunkedWriter()
    wire = b""
    for block in [b"abc", b"", memoryview(b""), b"0123456789abcdef"]:
        pieces = writer.frame(block)
        if not len(block):
            assert pieces == []
        else:
            assert pieces[1] is block
        wire += b"".join(bytes(p) for p in pieces)
    wire += writer.end(["X-Sum: 1"])
    assert wire == b"3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Sum: 1\r\n\r\n"
    with pytest.raises(RequestError, match="already ended"):
        writer.frame(b"x")


def test_chunked_writer_output_parses_back() -> None:
    writer = ChunkedWriter()
    body = b"".join(b"".join(bytes(p) for p in writer.frame(bytes([65 + i]) * i)) for i in range(9))
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body + writer.end()
    for split in SPLITS:
        _, got, reader = run_reader(data, split, eof=False)
        assert got == b"".join(bytes([65 + i]) * i for i in range(9)) and reader.done


def test_forbidden_field_chars() -> None:
    assert has_forbidden_field_chars("a\rb") and has_forbidden_field_chars("\x00")
    assert not has_forbidden_field_chars("a\tb ~")
