"""HTTPRequest pieces that need no network: URL parsing, properties, refusals, bodies, decoding."""

from __future__ import annotations

import gzip
import os
import socket
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdhttp.constants import Error, Method, Result, Status
from gdhttp.decoders import DECODE_STEP, DecodeError, Decoder
from gdhttp.request import FileBody, HTTPRequest, MultipartForm, ParsedURL, parse_url

# ---------------------------------------------------------------- parse_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://foo.com:8080", ParsedURL(False, "foo.com", 8080, "/")),
        ("http://foo.com", ParsedURL(False, "foo.com", 80, "/")),
        ("https://foo.com", ParsedURL(True, "foo.com", 443, "/")),
        ("HTTPS://Foo.COM/Path", ParsedURL(True, "foo.com", 443, "/Path")),
        ("http://user:pw@foo.com/a?b=1#frag", ParsedURL(False, "foo.com", 80, "/a?b=1#frag")),
        ("http://[::1]:8080/x", ParsedURL(False, "::1", 8080, "/x")),
        ("https://[2001:db8::1]/", ParsedURL(True, "2001:db8::1", 443, "/")),
        ("http://foo.com?q=1", ParsedURL(False, "foo.com", 80, "/?q=1")),
        ("http://foo.com:65535/", ParsedURL(False, "foo.com", 65535, "/")),
    ],
)
def test_parse_url_accepts(url: str, expected: ParsedURL) -> None:
    assert parse_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://foo.com:8080:433", "ftp://foo.com", "foo.com/x", "http://", "http:///x",
        "http://foo.com:0/", "http://foo.com:65536/", "http://foo.com:80a/", "http://foo.com:/",
        "http://[::1/", "http://[::1]x/", "http://foo.com/a b", "http://foo.com/\r\nX: y", "",
        "http://foo.com:٣/",
    ],
)
def test_parse_url_refuses(url: str) -> None:
    assert parse_url(url) is None


# ---------------------------------------------------------------- request() refusals


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A loopback listener that never accepts: connects (kernel backlog), never answers."""
    sock = socket.create_server(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    sock.close()


def test_defaults_match_the_engine() -> None:
    r = HTTPRequest()
    assert r.download_file == ""
    assert r.download_chunk_size == 65536
    assert r.use_threads is False
    assert r.body_size_limit == -1
    assert r.max_redirects == 8
    assert r.timeout == 0.0 and isinstance(r.timeout, float)
    assert r.accept_gzip is True
    assert r.download_resume is False
    assert r.get_body_size() == -1
    assert r.get_downloaded_bytes() == 0
    assert r.get_http_client_status() == Status.STATUS_DISCONNECTED
    assert getattr(HTTPRequest, "RESULT_TIMEOUT") == 12  # noqa: B009 - set via locals()
    assert int(HTTPRequest.Result.RESULT_REQUEST_FAILED) == 8


def test_not_in_tree_is_unconfigured_and_silent() -> None:
    r = HTTPRequest()
    r.in_tree = False
    got: list[object] = []
    r.request_completed.connect(lambda *a: got.append(a))
    assert r.request("http://127.0.0.1:1/") == Error.ERR_UNCONFIGURED
    r.process(0.1)
    assert got == []
    r.enter_tree()
    assert r.is_in_tree()


@pytest.mark.parametrize("url", ["http://foo.com:8080:433", "ftp://foo.com", "/relative", ""])
def test_bad_url_is_invalid_parameter_and_silent(url: str) -> None:
    r = HTTPRequest()
    got: list[object] = []
    r.request_completed.connect(lambda *a: got.append(a))
    assert r.request(url) == Error.ERR_INVALID_PARAMETER
    r.process(0.1)
    assert got == [] and not r.is_requesting()


@pytest.mark.parametrize(
    "headers", [["Bad\r\nX-Injected: 1"], [""], ["NoColon"], [":x"], "Accept: x", [3]]
)
def test_bad_headers_are_refused(headers: object) -> None:
    assert HTTPRequest().request("http://127.0.0.1:9/", headers) == Error.ERR_INVALID_PARAMETER


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.request(42),
        lambda r: r.request("http://127.0.0.1:9/", [], True, 99),
        lambda r: r.request("http://127.0.0.1:9/", [], True, Method.METHOD_GET, b"x"),
        lambda r: r.request_raw("http://127.0.0.1:9/", [], True, Method.METHOD_GET, "x"),
        lambda r: r.request("http://127.0.0.1:9/", bogus_keyword=1),
        lambda r: r.request_stream("http://127.0.0.1:9/", object()),
        lambda r: r.request_file("http://127.0.0.1:9/", 5),
    ],
)
def test_bad_types_return_errors_never_raise(call: object) -> None:
    r = HTTPRequest()
    assert call(r) == Error.ERR_INVALID_PARAMETER  # type: ignore[operator]
    assert r.get_error_message()


def test_request_file_missing_is_file_not_found(tmp_path: Path) -> None:
    r = HTTPRequest()
    assert r.request_file("http://127.0.0.1:9/", str(tmp_path / "nope")) == \
        Error.ERR_FILE_NOT_FOUND


def test_short_host_is_cant_connect_now_and_completion_later() -> None:
    # "[::1]" gives the host "::1", shorter than the engine's 4-character minimum:
    # connect_to_host fails at once -> ERR_CANT_CONNECT, then a RESULT_CANT_CONNECT.
    r = HTTPRequest()
    got: list[tuple[object, ...]] = []
    r.request_completed.connect(lambda *a: got.append(a))
    assert r.request("http://[::1]:80/") == Error.ERR_CANT_CONNECT
    assert r.request("http://127.0.0.1:9/") == Error.ERR_BUSY  # until it is delivered
    r.process(0.016)
    assert got == [(Result.RESULT_CANT_CONNECT, 0, [], b"")]
    assert not r.is_requesting()


def test_timeout_covers_the_whole_request_on_frame_time(silent_url: str) -> None:
    # Godot 4's test: timeout 1, a stuck request, one frame of 2 s -> RESULT_TIMEOUT.
    r = HTTPRequest()
    r.timeout = 1.0
    got: list[tuple[object, ...]] = []
    r.request_completed.connect(lambda *a: got.append(a))
    assert r.request(silent_url) == Error.OK  # never answered
    r.process(2.0)
    assert got == [(Result.RESULT_TIMEOUT, 0, [], b"")]
    assert r.get_http_client_status() == Status.STATUS_DISCONNECTED


def test_setters_follow_the_engine_rules(silent_url: str) -> None:
    r = HTTPRequest()
    assert r.set_timeout(-1.0) == Error.ERR_INVALID_PARAMETER and r.timeout == 0.0
    assert r.set_timeout(0.000001) == Error.OK and r.timeout == 0.0
    assert r.set_timeout(2) == Error.OK and r.timeout == 2.0
    assert r.set_download_chunk_size(255) == Error.ERR_INVALID_PARAMETER
    assert r.set_download_chunk_size(1 << 24) == Error.OK
    assert r.get_client().get_read_chunk_size() == 1 << 24
    assert r.set_body_size_limit("x") == Error.ERR_INVALID_PARAMETER
    assert r.set_use_threads(True) == Error.OK and r.use_threads
    assert r.request(silent_url) == Error.OK
    for setter, value in [
        (r.set_download_file, "x"), (r.set_download_chunk_size, 4096),
        (r.set_use_threads, False), (r.set_body_size_limit, 10),
        (r.set_accept_gzip, False), (r.set_download_resume, True),
    ]:
        assert setter(value) == Error.ERR_BUSY
    assert r.set_max_redirects(3) == Error.OK  # settable any time
    assert r.set_timeout(5.0) == Error.OK
    r.cancel_request()
    assert not r.is_requesting()
    assert r.set_download_file("x") == Error.OK


def test_cancel_when_idle_and_busy_is_silent(silent_url: str) -> None:
    r = HTTPRequest()
    got: list[object] = []
    r.request_completed.connect(lambda *a: got.append(a))
    r.cancel_request()
    assert r.request(silent_url) == Error.OK
    r.process(0.01)
    r.cancel_request()
    r.process(0.01)
    assert got == []
    assert r.request(silent_url) == Error.OK  # not busy any more
    r.exit_tree()  # leaving the tree cancels silently
    r.process(0.01)
    assert got == [] and not r.is_requesting()


def test_hook_callbacks_that_raise_do_not_escape() -> None:
    r = HTTPRequest()
    calls: list[object] = []

    def boom(*_: object) -> None:
        raise RuntimeError("callback bug")

    assert r.request_completed.connect(boom) == Error.OK
    assert r.request_completed.connect(boom) == Error.ERR_INVALID_PARAMETER
    r.request_completed.connect(lambda *a: calls.append(a))
    assert r.request("http://[::1]:80/") == Error.ERR_CANT_CONNECT
    r.process(0.0)
    assert len(calls) == 1
    r.request_completed.disconnect(boom)
    assert not r.request_completed.is_connected(boom)


# ---------------------------------------------------------------- bodies


def _read_all(source: object) -> bytes:
    stream = source.open()  # type: ignore[attr-defined]
    if hasattr(stream, "read"):
        with stream:
            return bytes(stream.read())
    return b"".join(stream)


def test_file_body(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc" * 1000)
    body = FileBody(path, "application/x-test")
    assert body.size() == 3000 and body.content_type == "application/x-test"
    assert _read_all(body) == b"abc" * 1000


def test_multipart_form_streams_files_and_sizes_exactly(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    payload = os.urandom(600_000)
    path.write_bytes(payload)
    form = MultipartForm(boundary="XyZ")
    assert form.add_field("title", "héllo") == Error.OK
    assert form.add_field('we"ird\nname', b"\x00\x01", "application/octet-stream") == Error.OK
    assert form.add_file("upload", path, "pic.bin", "image/png") == Error.OK
    assert form.add_file("missing", tmp_path / "nope") == Error.ERR_FILE_NOT_FOUND
    assert form.add_field(1, "x") == Error.ERR_INVALID_PARAMETER  # type: ignore[arg-type]
    assert form.content_type == "multipart/form-data; boundary=XyZ"
    data = _read_all(form)
    assert len(data) == form.size()
    assert data.startswith(b'--XyZ\r\nContent-Disposition: form-data; name="title"\r\n\r\n')
    assert 'héllo'.encode() in data
    assert b'name="we%22ird%0Aname"' in data
    assert b'filename="pic.bin"\r\nContent-Type: image/png\r\n\r\n' + payload + b"\r\n" in data
    assert data.endswith(b"--XyZ--\r\n")
    # Parsed back by the standard library's MIME parser.
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + form.content_type.encode() + b"\r\n\r\n" + data
    )
    parts = list(message.iter_parts())
    assert [p.get_param("name", header="content-disposition") for p in parts] == \
        ["title", 'we%22ird%0Aname', "upload"]
    assert parts[2].get_payload(decode=True) == payload
    assert len(MultipartForm().boundary) > 20


# ---------------------------------------------------------------- decoding


def _decode_in_pieces(encoding: str, data: bytes, piece: int) -> bytes:
    decoder = Decoder(encoding)
    out = bytearray()
    for i in range(0, len(data), piece):
        for chunk in decoder.feed(data[i : i + piece]):
            assert len(chunk) <= DECODE_STEP
            out += chunk
    out += decoder.finish()
    return bytes(out)


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=5000), st.integers(1, 700))
def test_decoders_roundtrip_in_any_pieces(data: bytes, piece: int) -> None:
    assert _decode_in_pieces("gzip", gzip.compress(data), piece) == data
    assert _decode_in_pieces("deflate", zlib.compress(data), piece) == data
    assert _decode_in_pieces("deflate", _raw_deflate(data), piece) == data


def test_decoder_bounds_each_step_and_handles_members() -> None:
    bomb = gzip.compress(b"\0" * (5 * DECODE_STEP))
    pieces = list(Decoder("gzip").feed(bomb))
    assert len(pieces) >= 5 and all(len(p) <= DECODE_STEP for p in pieces)
    two = gzip.compress(b"one ") + gzip.compress(b"two")
    assert _decode_in_pieces("x-gzip", two, 7) == b"one two"


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("gzip", b"not gzip at all"),
        ("gzip", gzip.compress(b"hello world" * 10)[:-6]),  # truncated
        ("deflate", zlib.compress(b"x" * 100) + b"trailing"),
        ("deflate", b"x"),
    ],
)
def test_decoder_errors(encoding: str, data: bytes) -> None:
    with pytest.raises(DecodeError, match=r"corrupt|short|ended|after the end"):
        _decode_in_pieces(encoding, data, 5)


@pytest.mark.parametrize(("url", "reason"), [
    ("http://example.com:0/", "port 0 is out of range (1-65535)"),
    ("http://example.com:99999/x", "port 99999 is out of range (1-65535)"),
    ("https://[::1]:70000/", "port 70000 is out of range (1-65535)"),
    ("http://example.com:8o/", "invalid port '8o'"),
    ("ftp://example.com/", "must start with http:// or https://"),
    ("http:///path", "no valid host"),
])
def test_refused_url_says_why(url: str, reason: str) -> None:
    r = HTTPRequest()
    r.set_in_tree(True)
    assert r.request(url) == Error.ERR_INVALID_PARAMETER
    assert reason in r.get_error_message()
