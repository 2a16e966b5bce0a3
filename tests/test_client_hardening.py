"""Regression tests for the client-side bugs of issue 10 (8, 12, 13, 14, and the boundary).

Each test failed before the fix; the budgets of bugs 1 and 2 are in test_budgets.py.
"""

from __future__ import annotations

import io
import logging
import math
import time
import zlib
from collections.abc import Callable, Iterator

import pytest

from gdhttp.client import HTTPClient
from gdhttp.constants import Error, Method, Status

from clientutil import WAIT_S, connect
from hostile_cases import SplitStream
from servers import RawServer, raw

S = Status
RawFactory = Callable[..., RawServer]
OK_EMPTY = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


@pytest.fixture(autouse=True)
def _log_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gdhttp")


def adopted(response: bytes = OK_EMPTY) -> tuple[HTTPClient, SplitStream]:
    stream = SplitStream(response, close_at_end=False)
    client = HTTPClient()
    client.set_connection(stream)
    assert client.get_status() is S.STATUS_CONNECTED
    return client, stream


def finish(client: HTTPClient) -> None:
    deadline = time.monotonic() + WAIT_S
    while client.get_status() in (S.STATUS_REQUESTING, S.STATUS_BODY):
        assert time.monotonic() < deadline, "request did not finish"
        client.poll()
        if client.get_status() is S.STATUS_BODY:
            client.read_response_body_chunk()


# ---- bug 8: a chunked upload ends only at the end of the iterator


def test_empty_blocks_from_the_iterator_do_not_end_a_chunked_upload(
        raw_server: RawFactory) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB that compresses a little
    squeezer = zlib.compressobj()

    def compressed() -> Iterator[bytes]:
        # compress() returns b"" whenever zlib keeps the input buffered: routinely.
        for start in range(0, len(payload), 1000):
            yield squeezer.compress(payload[start : start + 1000])
        yield b""
        yield squeezer.flush()

    server = raw_server([raw.read_request(), raw.send(OK_EMPTY), raw.silent(5.0)])
    client = HTTPClient()
    assert connect(client, server.host, server.port) is S.STATUS_CONNECTED
    assert client.request_stream(Method.METHOD_PUT, "/up", [], compressed()) is Error.OK
    finish(client)
    assert client.get_status() is S.STATUS_CONNECTED, client.get_error_message()
    server.wait_connections(1)
    deadline = time.monotonic() + 5.0
    while not server.connections[0].requests and time.monotonic() < deadline:
        time.sleep(0.01)
    request = server.connections[0].requests[0]
    assert request.header("transfer-encoding") == "chunked"
    assert zlib.decompress(request.body) == payload
    assert b"\r\n0\r\n\r\n" not in request.raw_body[:-5]  # one last chunk, at the very end
    assert client.get_uploaded_bytes() == len(request.body)


def test_an_iterator_of_endless_empty_blocks_keeps_each_poll_short() -> None:
    def empties() -> Iterator[bytes]:
        while True:
            yield b""

    client, stream = adopted()
    assert client.request_stream(Method.METHOD_POST, "/x", ["Host: h"], empties()) is Error.OK
    longest = 0.0
    for _ in range(50):
        start = time.perf_counter()
        client.poll()
        longest = max(longest, time.perf_counter() - start)
    assert client.get_status() is S.STATUS_REQUESTING  # still waiting for the body's end
    assert longest < 0.02
    assert not stream.sent.endswith(b"0\r\n\r\n")


# ---- bug 12: a refused request has sent nothing


def _not_bytes() -> Iterator[str]:
    yield "text"


REFUSED: dict[str, tuple[object, ...]] = {
    "bad_method": (99, "/u", [], io.BytesIO(b"x")),
    "url_with_newline": (Method.METHOD_PUT, "/u\r\nX: y", [], io.BytesIO(b"x")),
    "header_with_cr": (Method.METHOD_PUT, "/u", ["X-A: b\rc"], io.BytesIO(b"x")),
    "header_not_a_string": (Method.METHOD_PUT, "/u", [7], io.BytesIO(b"x")),
    "source_is_str": (Method.METHOD_PUT, "/u", [], "not a source"),
    "source_is_int": (Method.METHOD_PUT, "/u", [], 5),
    "content_length_header_with_unknown_length": (
        Method.METHOD_PUT, "/u", ["Content-Length: 3"], io.BytesIO(b"abc")),
    "lone_surrogate_in_header": (Method.METHOD_PUT, "/u", ["X-A: \ud800"], io.BytesIO(b"x")),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_refused_request_stream_sends_nothing(name: str) -> None:
    client, stream = adopted()
    assert client.request_stream(*REFUSED[name]) is Error.ERR_INVALID_PARAMETER  # type: ignore[arg-type]
    assert client.get_error_message().startswith("request_stream: ")
    assert "internal error" not in client.get_error_message()
    assert client.get_status() is S.STATUS_CONNECTED
    client.poll()
    assert stream.sent == b"", bytes(stream.sent)


def test_bad_length_and_wrong_arity_are_refused_before_anything_is_sent() -> None:
    client, stream = adopted()
    assert client.request_stream(Method.METHOD_PUT, "/u", [], io.BytesIO(b"x"),
                                 -2) is Error.ERR_INVALID_PARAMETER
    assert client.request_stream(Method.METHOD_PUT, "/u") is Error.ERR_INVALID_PARAMETER  # type: ignore[call-arg]
    assert "missing a required argument" in client.get_error_message()
    assert stream.sent == b"" and client.get_status() is S.STATUS_CONNECTED


class _Exploding(io.RawIOBase):
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        raise self.exc


def test_request_stream_never_refuses_after_sending_the_head() -> None:
    """Bug 12 as found: the source's TypeError came back as ERR_INVALID_PARAMETER from
    request_stream(), in STATUS_REQUESTING, with the head already on the wire."""
    client, stream = adopted()
    result = client.request_stream(Method.METHOD_PUT, "/up", ["Host: h"],
                                   _Exploding(TypeError("bad read")))
    assert result is Error.OK  # accepted: the source is first read by poll()
    assert client.get_status() is S.STATUS_REQUESTING
    client.poll()
    assert stream.sent.startswith(b"PUT /up HTTP/1.1\r\n")
    assert client.get_status() is S.STATUS_CONNECTION_ERROR
    assert client.get_error_message() == "upload source raised TypeError: bad read"


@pytest.mark.parametrize("exc", [TypeError("bad read"), ValueError("closed file"),
                                 OSError("disk gone")], ids=lambda e: type(e).__name__)
def test_the_upload_sources_own_errors_are_upload_source_errors(
        exc: Exception, caplog: pytest.LogCaptureFixture) -> None:
    client, _ = adopted()
    assert client.request_stream(Method.METHOD_PUT, "/u", ["Host: h"], _Exploding(exc)) is Error.OK
    assert client.poll() is Error.ERR_CONNECTION_ERROR
    assert client.get_status() is S.STATUS_CONNECTION_ERROR
    message = client.get_error_message()
    assert message == f"upload source raised {type(exc).__name__}: {exc}"
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "internal error" not in logged and "caller" not in logged
    assert "upload source raised" in logged


def test_a_source_yielding_text_is_an_upload_source_error() -> None:
    client, _ = adopted()
    assert client.request_stream(Method.METHOD_PUT, "/u", ["Host: h"], _not_bytes()) is Error.OK
    client.poll()
    assert client.get_status() is S.STATUS_CONNECTION_ERROR
    assert client.get_error_message() == "upload source yielded str, not bytes"


def test_a_type_error_inside_the_client_is_an_internal_error_not_a_refusal(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The guard no longer takes every TypeError for a caller's wrong arguments."""
    client, _ = adopted()

    def broken(*args: object, **kwargs: object) -> bytes:
        raise TypeError("bug inside gdhttp")

    monkeypatch.setattr("gdhttp.protocol.build_request_head", broken)
    assert client.request(Method.METHOD_GET, "/", ["Host: h"]) is Error.ERR_INVALID_PARAMETER
    assert client.get_error_message() == "internal error in request: TypeError('bug inside gdhttp')"
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)


# ---- bug 13: caller mistakes give an Error and a message, never an exception


def test_read_into_a_released_view_or_nothing_is_refused() -> None:
    client, _ = adopted(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    assert client.request(Method.METHOD_GET, "/", ["Host: h"]) is Error.OK
    finish_head_deadline = time.monotonic() + WAIT_S
    while client.get_status() is S.STATUS_REQUESTING:
        assert time.monotonic() < finish_head_deadline
        client.poll()
    view = memoryview(bytearray(16))
    view.release()
    assert client.read_response_body_chunk_into(view) == 0
    assert "released" in client.get_error_message()
    assert client.read_response_body_chunk_into() == 0
    assert "needs a writable buffer" in client.get_error_message()
    assert client.read_response_body_chunk_into(b"read-only") == 0
    assert "read-only" in client.get_error_message()
    assert client.get_status() is S.STATUS_BODY  # nothing was consumed
    buf = bytearray(16)
    assert client.read_response_body_chunk_into(buf) == 5 and buf[:5] == b"hello"


@pytest.mark.parametrize("read", [10**400, math.inf, math.nan, -1, "5", True],
                         ids=["10**400", "inf", "nan", "negative", "string", "bool"])
def test_set_timeouts_refuses_what_is_not_a_finite_number(read: object) -> None:
    client = HTTPClient()
    assert client.set_timeouts(1, read) is Error.ERR_INVALID_PARAMETER  # type: ignore[arg-type]
    assert client.set_timeouts(read, 1) is Error.ERR_INVALID_PARAMETER  # type: ignore[arg-type]
    assert client.get_error_message().startswith("set_timeouts: ")
    assert client.set_timeouts(1, 0) is Error.OK


# ---- bug 14: secrets never reach messages or logs


SECRET = "s3cr3t-Pa55"


def _assert_hidden(client: HTTPClient, caplog: pytest.LogCaptureFixture) -> None:
    assert client.get_error_message()
    assert SECRET not in client.get_error_message()
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert logged and SECRET not in logged


def test_a_refused_proxy_does_not_show_its_password(caplog: pytest.LogCaptureFixture) -> None:
    client = HTTPClient()
    client.set_http_proxy(f"user:{SECRET}@proxy host", 3128)
    assert client.get_error_message() == "set_http_proxy: invalid proxy host 'proxy host'"
    _assert_hidden(client, caplog)
    client.set_http_proxy(f"user:{SECRET}@proxy", 99999)
    assert client.get_error_message() == "set_http_proxy: invalid proxy '<redacted>@proxy':99999"
    _assert_hidden(client, caplog)
    client.set_https_proxy(f"user:{SECRET}@proxy\r\n", 3128)
    _assert_hidden(client, caplog)


def test_a_refused_url_does_not_show_its_userinfo(caplog: pytest.LogCaptureFixture) -> None:
    client = HTTPClient()
    assert client.connect_to_host(f"http://user:{SECRET}@example.com") is \
        Error.ERR_INVALID_PARAMETER
    _assert_hidden(client, caplog)
    adopted_client, _ = adopted()
    assert adopted_client.request(Method.METHOD_GET, f"http://u:{SECRET}@h/ x", []) is \
        Error.ERR_INVALID_PARAMETER
    _assert_hidden(adopted_client, caplog)


@pytest.mark.parametrize("name", ["Authorization", "Proxy-Authorization"])
def test_a_refused_authorization_value_is_not_shown(
        name: str, caplog: pytest.LogCaptureFixture) -> None:
    client, stream = adopted()
    header = f"{name}: Bearer {SECRET}\x00"
    assert client.request(Method.METHOD_GET, "/", [header]) is Error.ERR_INVALID_PARAMETER
    _assert_hidden(client, caplog)
    assert stream.sent == b""


def test_a_proxy_failure_does_not_show_the_proxy_password(
        raw_server: RawFactory, caplog: pytest.LogCaptureFixture) -> None:
    server = raw_server([raw.read_head(),
                         raw.send(b"HTTP/1.1 407 Who\r\nContent-Length: 0\r\n\r\n"),
                         raw.silent(2.0)])
    client = HTTPClient()
    client.set_https_proxy(f"user:{SECRET}@{server.host}", server.port)
    assert connect(client, "example.com", 443, True) is S.STATUS_CANT_CONNECT
    assert "407" in client.get_error_message()
    _assert_hidden(client, caplog)
    # The password did go to the proxy, as Basic credentials.
    assert b"Proxy-Authorization: Basic " in server.connections[0].received


def test_a_traceback_in_the_log_is_redacted(monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError(f"bug while writing Authorization: Bearer {SECRET}")

    monkeypatch.setattr("gdhttp.protocol.build_request_head", broken)
    client, _ = adopted()
    assert client.request(Method.METHOD_GET, "/", ["Host: h"]) is Error.ERR_INVALID_PARAMETER
    assert "Authorization: <redacted>" in client.get_error_message()
    assert "Traceback" in caplog.text and "RuntimeError" in caplog.text
    assert SECRET not in caplog.text
    _assert_hidden(client, caplog)
