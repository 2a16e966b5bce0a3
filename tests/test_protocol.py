"""The sans-IO response reader and request builder, fed whole and one byte at a time."""

from __future__ import annotations

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
        if head is None:
            head = reader.read_head()
        if head is not None:
            body += reader.take_body(1 << 30)
    if eof:
        reader.receive_eof()
        if head is None:
            head = reader.read_head()
        body += reader.take_body(1 << 30)
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
    "garbage status line": b"HELLO THERE\r\n\r\n",
    "http2 status": b"HTTP/2.0 200 OK\r\n\r\n",
    "two digit code": b"HTTP/1.1 20 OK\r\n\r\n",
    "header without colon": b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
    "space before colon": b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
    "NUL in header": b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
    "conflicting lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
    "negative length": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    "non-numeric length": b"HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n",
    "TE and CL": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
    "unsolicited 101": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
    "fold first": b"HTTP/1.1 200 OK\r\n folded\r\n\r\n",
}


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", sorted(BAD_HEADS))
def test_malformed_heads_are_refused(name: str, split: str) -> None:
    with pytest.raises(ProtocolError):
        run_reader(BAD_HEADS[name], split, eof=False)


BAD_CHUNKS = {
    "non-hex size": b"zz\r\nab\r\n0\r\n\r\n",
    "negative size": b"-5\r\nabcde\r\n0\r\n\r\n",
    "empty size": b"\r\nab\r\n0\r\n\r\n",
    "huge size": b"fffffffffffffffffff\r\n",
    "bad terminator": b"2\r\nabXY1\r\nc\r\n0\r\n\r\n",
    "endless size line": b"1" + b" " * (limits.MAX_CHUNK_LINE + 10),
}


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", sorted(BAD_CHUNKS))
def test_invalid_chunks_are_refused(name: str, split: str) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    with pytest.raises(ProtocolError):
        run_reader(head + BAD_CHUNKS[name], split, eof=False)


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
    with pytest.raises(ProtocolError):
        run_reader(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", split)


def test_eof_before_head_is_an_error() -> None:
    with pytest.raises(ProtocolError):
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
