"""Property-based fuzzing of response parsing, through the ``connection`` seam and directly.

* Valid responses (generated heads and bodies, every framing, 1xx interim heads,
  bare-LF or CRLF lines, chunk extensions, trailers) parse to exactly the generated
  body and headers whatever the split points of the bytes.
* Arbitrary and mutated bytes never raise out of ``poll()`` /
  ``read_response_body_chunk()``, always end within a bounded number of polls, and
  keep the parser's buffer within the named limits.
* ``ResponseReader`` alone: only ``ProtocolError`` ever escapes, it never stalls.

Budget: ``GDHTTP_FUZZ_EXAMPLES`` examples per property (default 300, derandomized so
``make test`` is deterministic); ``make fuzz`` sets it to 200000 and explores randomly.
Inputs that once broke the client stay here as ``@example`` regressions.
"""

from __future__ import annotations

import os
import string
import tracemalloc
from dataclasses import dataclass

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gdhttp import limits
from gdhttp.client import HTTPClient
from gdhttp.constants import Error, Method, Status
from gdhttp.protocol import ProtocolError, ResponseReader

from hostile_cases import SplitStream

S = Status

_ENV = os.environ.get("GDHTTP_FUZZ_EXAMPLES")
EXAMPLES = int(_ENV) if _ENV else 300
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=_ENV is None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: What the parser may hold at once: a head up to the limit plus one framing read.
BUFFER_BOUND = limits.MAX_HEADER_BLOCK + 2 * limits.FRAMING_READ_SIZE
#: Most bytes one read_head() call may consume: one head and the empty lines before it.
HEAD_CALL_BOUND = limits.MAX_HEADER_BLOCK + 2 * limits.MAX_LEADING_EMPTY_LINES
#: Most framing bytes one take_body() call may consume besides the body bytes it returns.
BODY_CALL_FRAMING_BOUND = (limits.MAX_FRAMING_STEPS * (limits.MAX_CHUNK_LINE + 3)
                           + limits.MAX_TRAILER_BLOCK)

FRAMING_NAMES = {"content-length", "transfer-encoding", "connection"}
TOKEN = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
VISIBLE = "".join(chr(c) for c in range(0x21, 0x7F))

names = st.text(TOKEN, min_size=1, max_size=16).filter(lambda n: n.lower() not in FRAMING_NAMES)
values = st.text(VISIBLE + " \t", max_size=40).map(lambda v: v.strip(" \t"))
splits = st.lists(st.integers(0, 64), min_size=1, max_size=8).filter(lambda s: any(s))


@dataclass(frozen=True)
class Generated:
    data: bytes
    code: int
    body: bytes
    headers: list[str]  # the non-framing header lines, as the client reports them
    until_close: bool


@st.composite
def valid_responses(draw: st.DrawFn) -> Generated:
    eol = draw(st.sampled_from([b"\r\n", b"\n"]))
    framing = draw(st.sampled_from(["length", "chunked", "close", "http10"]))
    code = draw(st.sampled_from([200, 201, 203, 206, 299, 301, 400, 404, 418, 500, 599]))
    reason = draw(st.text(VISIBLE + " ", max_size=20)).encode()
    body = draw(st.binary(max_size=3000))
    header_pairs = draw(st.lists(st.tuples(names, values), max_size=10))
    interim = draw(st.lists(st.sampled_from([100, 102, 103]), max_size=3))
    out = bytearray(draw(st.sampled_from([b"", b"\r\n", b"\n", b"\r\n\r\n"])))
    for status in interim:
        out += b"HTTP/1.1 %d Info" % status + eol
        if draw(st.booleans()):
            out += b"Link: </x>" + eol
        out += eol
    version = b"HTTP/1.0" if framing == "http10" else b"HTTP/1.1"
    out += version + b" %d" % code + ((b" " + reason) if reason or draw(st.booleans()) else b"")
    out += eol
    lines = [f"{n}: {v}".strip() for n, v in header_pairs]
    framing_lines: list[str] = []
    if framing == "length":
        framing_lines.append(f"Content-Length: {len(body)}")
    elif framing == "chunked":
        framing_lines.append(draw(st.sampled_from(
            ["Transfer-Encoding: chunked", "transfer-encoding: Chunked",
             "Transfer-Encoding: CHUNKED"])))
    elif framing == "close":
        framing_lines.append("Connection: close")
    position = draw(st.integers(0, len(lines)))
    all_lines = lines[:position] + framing_lines + lines[position:]
    for line in all_lines:
        out += line.encode() + eol
    out += eol
    if framing == "chunked":
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=8)))
        start = 0
        for cut in [*cuts, len(body)]:
            piece = body[start:cut]
            start = cut
            if not piece:
                continue
            size = f"{len(piece):x}"
            size = draw(st.sampled_from([size, size.upper(), "0" + size]))
            ext = draw(st.sampled_from(["", ";a=b", ";name", ' ;q="x y"']))
            out += size.encode() + ext.encode() + eol + piece + eol
        out += b"0" + eol
        for name, value in draw(st.lists(st.tuples(names, values), max_size=3)):
            out += f"{name}: {value}".strip().encode() + eol
        out += eol
    else:
        out += body
    return Generated(bytes(out), code, body, lines, framing in ("close", "http10"))


FRAGMENTS = [
    b"HTTP/1.1 ", b"HTTP/1.0 ", b"HTTP/2 ", b"200 OK", b"100 Continue", b"101 Up", b"204 ",
    b"304", b"\r\n", b"\n", b"\r", b"\r\n\r\n", b"Content-Length: ", b"Content-Length: 5",
    b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip", b"Connection: close",
    b"0", b"5", b"a", b"ffffffffffffffff", b"-1", b"+3", b";ext=", b":", b" ", b"\t", b"\x00",
    b"hello", b"X-A: b", b"\xff\xfe", b"0\r\n\r\n",
]

hostile_bytes = st.one_of(
    st.binary(max_size=2048),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=6)), max_size=80)
    .map(b"".join),
)


@st.composite
def mutated_responses(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(valid_responses()).data)
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup"]))
        if op == "flip":
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.sampled_from(FRAGMENTS))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "truncate":
            del data[at:]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 40))]
    return bytes(data)


# --------------------------------------------------------------------------- the client


@dataclass
class Run:
    final: Status
    code: int
    body: bytes
    headers: list[str]
    error: str
    polls: int


def run_seam(data: bytes, sizes: list[int], *, close_at_end: bool, method: Method,
             chunk_size: int, into: int) -> Run:
    """Adopt a SplitStream, request, poll to the end; assert bounded polls and buffers."""
    client = HTTPClient()
    client.set_timeouts(5, 0)  # no clock: termination must come from the bytes alone
    client.set_read_chunk_size(chunk_size)
    stream = SplitStream(data, sizes, close_at_end=close_at_end)
    client.set_connection(stream)
    assert client.request(method, "/fuzz", []) is Error.OK
    zeros = sizes.count(0)
    limit = (len(data) + 4) * (zeros + 2) + 100
    polls = 0
    parts: list[bytes] = []
    headers: list[str] = []
    buffer = bytearray(max(into, 1))
    code = 0
    while client.get_status() in (S.STATUS_REQUESTING, S.STATUS_BODY):
        if not close_at_end and stream.pos >= len(data) and polls > limit // 2:
            break  # everything delivered and the stream stays open: waiting is right
        assert polls < limit, f"no end after {polls} polls ({client.get_status().name})"
        polls += 1
        assert isinstance(client.poll(), Error)
        # Like the engine, the end of a read-until-close body clears the response: note
        # the code while it is there.
        code = client.get_response_code() or code
        if client.has_response() and not headers:
            headers = client.get_response_headers()
        if client.get_status() is S.STATUS_BODY:
            if into:
                n = client.read_response_body_chunk_into(buffer)
                parts.append(bytes(buffer[:n]))
            else:
                chunk = client.read_response_body_chunk()
                assert len(chunk) <= chunk_size
                parts.append(chunk)
        conn = getattr(client, "_conn", None)  # white-box: the parser's buffer
        if conn is not None and conn.reader is not None:
            assert conn.reader.buffered <= BUFFER_BOUND
    error = client.get_error_message()
    assert "internal error" not in error, error
    return Run(client.get_status(), client.get_response_code() or code, b"".join(parts), headers,
               error, polls)


@FUZZ
@given(resp=valid_responses(), sizes=splits, keep_open=st.booleans(),
       chunk_size=st.integers(limits.MIN_READ_CHUNK_SIZE, 5000),
       into=st.sampled_from([0, 0, 1, 7, 4096]))
def test_valid_responses_parse_exactly_whatever_the_splits(
        resp: Generated, sizes: list[int], keep_open: bool, chunk_size: int, into: int) -> None:
    close_at_end = resp.until_close or not keep_open
    got = run_seam(resp.data, sizes, close_at_end=close_at_end, method=Method.METHOD_GET,
                   chunk_size=chunk_size, into=into)
    expected_final = S.STATUS_DISCONNECTED if resp.until_close else S.STATUS_CONNECTED
    assert got.final is expected_final, got.error
    assert got.code == resp.code
    assert got.body == resp.body
    reported = [h for h in got.headers if h.split(":", 1)[0].strip().lower() not in FRAMING_NAMES]
    assert reported == resp.headers


@FUZZ
@given(resp=valid_responses(), sizes=splits)
def test_head_requests_never_read_a_body(resp: Generated, sizes: list[int]) -> None:
    got = run_seam(resp.data, sizes, close_at_end=False, method=Method.METHOD_HEAD,
                   chunk_size=4096, into=0)
    assert got.body == b""
    assert got.code == resp.code
    assert got.final is S.STATUS_CONNECTED, got


@FUZZ
@given(data=st.one_of(hostile_bytes, mutated_responses()), sizes=splits,
       keep_open=st.booleans(), method=st.sampled_from([Method.METHOD_GET, Method.METHOD_HEAD]),
       into=st.sampled_from([0, 3, 1000]))
@example(data=b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3", sizes=[1],
         keep_open=False, method=Method.METHOD_GET, into=0)
@example(data=b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3",
         sizes=[64], keep_open=False, method=Method.METHOD_GET, into=0)
@example(data=b"\r\n" * 5000, sizes=[3], keep_open=False, method=Method.METHOD_GET, into=0)
@example(data=b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", sizes=[0, 1], keep_open=False,
         method=Method.METHOD_GET, into=1000)
def test_arbitrary_bytes_never_raise_and_always_end(
        data: bytes, sizes: list[int], keep_open: bool, method: Method, into: int) -> None:
    got = run_seam(data, sizes, close_at_end=not keep_open, method=method, chunk_size=256,
                   into=into)
    assert len(got.body) <= len(data)
    if not keep_open:
        assert got.final in (S.STATUS_CONNECTED, S.STATUS_DISCONNECTED,
                             S.STATUS_CONNECTION_ERROR), got
        if got.final is S.STATUS_CONNECTION_ERROR:
            assert got.error


def test_big_hostile_input_keeps_memory_bounded() -> None:
    """A megabyte of headers-without-end and a megabyte of chunk-size line, 4 KiB per recv."""
    for data in (b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 130_000,
                 b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * (1 << 20)):
        tracemalloc.start()
        try:
            got = run_seam(data, [4096], close_at_end=True, method=Method.METHOD_GET,
                           chunk_size=65536, into=0)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert got.final is S.STATUS_CONNECTION_ERROR
        # The input itself (1 MiB) is held by the test stream; the client adds little.
        assert peak < len(data) // 4 + 2 * BUFFER_BOUND, peak


# --------------------------------------------------------------------------- the reader


def drive_reader(data: bytes, sizes: list[int], *, head_request: bool, budget: int,
                 direct: bool) -> tuple[str, bytes]:
    """Feed ``data`` to a ResponseReader in ``sizes`` pieces; 'done' or 'error' and the body."""
    reader = ResponseReader(head_request=head_request)
    body = bytearray()
    pos, turn, eof = 0, 0, False
    try:
        for _ in range(4 * len(data) + 64 * (len(sizes) + 1) + 100):
            # Parse while the reader says it can progress without new bytes ...
            if reader.head is None:
                if reader.has_pending_input:
                    before = reader.buffered
                    reader.read_head()
                    assert before - reader.buffered <= HEAD_CALL_BOUND  # one head per call
                    continue
            else:
                if reader.done:
                    return "done", bytes(body)
                if reader.has_pending_input:
                    before = reader.buffered
                    body += reader.take_body(budget)
                    assert before - reader.buffered <= budget + BODY_CALL_FRAMING_BOUND
                    continue
                limit = reader.direct_read_limit(budget) if direct else 0
                if limit > 0 and pos < len(data):
                    piece = data[pos : pos + limit]
                    pos += len(piece)
                    body += piece
                    reader.consumed_direct(len(piece))
                    continue
            # ... then feed it; after EOF it must finish or fail, never wait.
            if pos < len(data):
                size = sizes[turn % len(sizes)]
                turn += 1
                reader.receive(data[pos : pos + size])
                pos += size
            else:
                assert not eof, "reader stalled after EOF"
                reader.receive_eof()
                eof = True
            assert reader.buffered <= BUFFER_BOUND
    except ProtocolError:
        return "error", bytes(body)
    raise AssertionError("reader did not finish")


@FUZZ
@given(resp=valid_responses(), sizes=splits.filter(lambda s: all(s)),
       budget=st.integers(1, 5000), direct=st.booleans())
def test_reader_parses_valid_responses(resp: Generated, sizes: list[int], budget: int,
                                       direct: bool) -> None:
    outcome, body = drive_reader(resp.data, sizes, head_request=False, budget=budget,
                                 direct=direct)
    assert outcome == "done"
    assert body == resp.body
    assert reader_code(resp.data) == resp.code


def reader_code(data: bytes) -> int:
    reader = ResponseReader()
    reader.receive(data)
    reader.receive_eof()
    head = None
    for _ in range(limits.MAX_INTERIM_RESPONSES + 2):
        head = reader.read_head()
        if head is not None:
            break
    assert head is not None
    return head.status_code


@FUZZ
@given(data=st.one_of(hostile_bytes, mutated_responses()),
       sizes=splits.filter(lambda s: all(s)), head_request=st.booleans(),
       budget=st.integers(1, 5000), direct=st.booleans())
def test_reader_only_raises_protocol_error(data: bytes, sizes: list[int], head_request: bool,
                                           budget: int, direct: bool) -> None:
    outcome, body = drive_reader(data, sizes, head_request=head_request, budget=budget,
                                 direct=direct)
    assert outcome in ("done", "error")
    assert len(body) <= len(data)
