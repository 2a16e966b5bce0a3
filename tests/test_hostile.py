"""Hostile servers: every case of ``hostile_cases.CASES`` over a real loopback socket.

Each case asserts the terminal Status, that no client call raised, that the case
ended within its time bound, and (for floods and endless streams) that the
tracemalloc peak stayed under a bound set by ``gdhttp.limits``. The simple cases
run a second time through the ``connection`` seam, one byte per ``recv``.
"""

from __future__ import annotations

import dataclasses
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from gdhttp.client import HTTPClient
from gdhttp.constants import Error, Method, Status

from hostile_cases import CASES, CLOSE, OK_HEAD, OPEN, Case, SplitStream, resp
from servers import RawServer, raw

S = Status
RawFactory = Callable[..., RawServer]

#: Hard cap on poll() calls per phase: a loop that would spin longer is a hang.
MAX_POLLS = 2_000_000
#: Grace on top of a case's own bound before the harness gives up waiting.
HARD_GRACE_S = 3.0

ACTIVE = (S.STATUS_RESOLVING, S.STATUS_CONNECTING, S.STATUS_REQUESTING, S.STATUS_BODY)


@dataclass
class Outcome:
    final: Status = S.STATUS_DISCONNECTED
    code: int = 0
    body: bytes = b""
    error: str = ""
    elapsed: float = 0.0
    peak: int = 0
    polls: int = 0
    request_result: Error | None = None
    statuses: list[Status] = field(default_factory=list)


def _note(out: Outcome, client: HTTPClient) -> None:
    status = client.get_status()
    if not out.statuses or out.statuses[-1] is not status:
        out.statuses.append(status)


def drive(client: HTTPClient, out: Outcome, deadline: float, *, read: bool = True) -> None:
    """Poll (and read the body) until the client leaves the active states; bounded."""
    parts: list[bytes] = [out.body] if out.body else []
    while client.get_status() in ACTIVE:
        assert out.polls < MAX_POLLS, f"more than {MAX_POLLS} polls: {out.statuses}"
        assert time.monotonic() < deadline, f"still {client.get_status().name}: hang"
        out.polls += 1
        client.poll()
        got = b""
        if read and client.get_status() is S.STATUS_BODY:
            got = client.read_response_body_chunk()
            if got:
                parts.append(got)
        if client.get_response_code():
            out.code = client.get_response_code()
        _note(out, client)
        if not got:
            time.sleep(0.0002)
    out.body = b"".join(parts)


def run_client(case: Case, connect: Callable[[HTTPClient], Error]) -> Outcome:
    """Connect (or adopt), request, and read to the end; measure time and memory."""
    out = Outcome()
    client = HTTPClient()
    assert client.set_timeouts(2, case.read_timeout) is Error.OK
    measure = case.max_memory is not None
    if measure:
        tracemalloc.start()
    start = time.monotonic()
    deadline = start + case.max_seconds + HARD_GRACE_S
    try:
        assert connect(client) is Error.OK, client.get_error_message()
        _note(out, client)
        drive(client, out, deadline)
        if client.get_status() is S.STATUS_CONNECTED and not case.tls:
            out.request_result = client.request(case.method, "/hostile", ["X-Case: " + case.name])
            _note(out, client)
            drive(client, out, deadline)
        out.elapsed = time.monotonic() - start
        if measure:
            out.peak = tracemalloc.get_traced_memory()[1]
    finally:
        if measure:
            tracemalloc.stop()
    out.final = client.get_status()
    out.error = client.get_error_message()
    # A finished client stays quiet: poll() returns a code and never raises.
    assert isinstance(client.poll(), Error)
    client.close()
    return out


def check(case: Case, out: Outcome) -> None:
    detail = f"{case.name}: {out.statuses} error={out.error!r} code={out.code}"
    assert out.final is case.expect or (case.race is not None and out.final is case.race), detail
    if case.error:
        assert case.error.lower() in out.error.lower(), detail
    if case.body is not None:
        assert out.body == case.body, detail
    if case.code is not None:
        assert out.code == case.code, detail
    assert out.elapsed < case.max_seconds, f"{detail}: took {out.elapsed:.2f} s"
    if case.max_memory is not None:
        assert out.peak < case.max_memory, f"{detail}: peak {out.peak} B"


def _params(cases: list[Case]) -> list[Any]:
    return [
        pytest.param(c, id=c.name, marks=[pytest.mark.xfail(strict=True, reason=c.bug)]
                     if c.bug else [])
        for c in cases
    ]


@pytest.mark.parametrize("case", _params(CASES))
def test_hostile_server(case: Case, raw_server: RawFactory) -> None:
    server = raw_server(case.build_script(), io_timeout=5.0)

    def connect(client: HTTPClient) -> Error:
        return client.connect_to_host(server.host, server.port, case.tls, True)

    out = run_client(case, connect)
    check(case, out)


# ---- the same bytes through the seam, one byte per recv


def _seam_eligible(case: Case) -> bool:
    return case.simple and not case.tls and case.end in (CLOSE, OPEN) and case.read_timeout >= 1


SEAM_CASES = [c for c in CASES if _seam_eligible(c)]


@pytest.mark.parametrize("case", _params(SEAM_CASES))
def test_hostile_bytes_through_the_seam_bytewise(case: Case) -> None:
    stream = SplitStream(case.response, (1,), close_at_end=case.end == CLOSE)

    def adopt(client: HTTPClient) -> Error:
        client.set_connection(stream)
        return Error.OK if client.get_status() is S.STATUS_CONNECTED else Error.FAILED

    # One byte per recv is CPU-bound: memory is measured over the real socket instead,
    # and the time bound is the case's own plus the Python cost of 64 KiB of single bytes.
    case = dataclasses.replace(case, max_memory=None, max_seconds=case.max_seconds + 3.0)
    out = run_client(case, adopt)
    check(case, out)
    assert out.request_result is Error.OK
    assert stream.sent.startswith(b"GET /hostile HTTP/1.1\r\n") or case.method != Method.METHOD_GET


def test_the_seam_replays_the_framing_cases_bytewise() -> None:
    """The cases whose outcome depends on where a read splits the bytes all run bytewise."""
    names = {c.name for c in SEAM_CASES}
    split_sensitive = {"leading_crlf_before_status", "bare_lf_head", "obs_fold_is_joined",
                       "many_tiny_chunks", "chunk_without_crlf_terminator", "close_in_trailers",
                       "interim_responses_at_limit", "pipelined_extra_bytes_after_response"}
    assert split_sensitive <= names, split_sensitive - names


# ---- two requests on one connection: stray bytes must never become a response


FORGED = b"HTTP/1.1 299 Forged\r\nContent-Length: 4\r\n\r\nevil"
REAL = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal"


def _exchange(client: HTTPClient, method: Method, deadline: float) -> Outcome:
    out = Outcome()
    out.request_result = client.request(method, "/next", [])
    _note(out, client)
    if out.request_result is Error.OK:
        drive(client, out, deadline)
    out.final = client.get_status()
    out.code = client.get_response_code() or out.code
    out.error = client.get_error_message()
    return out


FIRST_RESPONSES = {
    # A body sent for HEAD, shaped like a whole response.
    "body_on_head": (Method.METHOD_HEAD, resp("Content-Length: 4"), FORGED),
    # More bytes than Content-Length said.
    "excess_after_length": (Method.METHOD_GET, resp("Content-Length: 2", body=b"hi"), FORGED),
    # A body on a 204.
    "body_after_204": (Method.METHOD_GET, b"HTTP/1.1 204 No Content\r\n\r\n", FORGED),
    # Bytes after the last chunk.
    "excess_after_chunked": (Method.METHOD_GET,
                             resp("Transfer-Encoding: chunked", body=b"2\r\nhi\r\n0\r\n\r\n"),
                             FORGED),
}


@pytest.mark.parametrize("same_segment", [True, False], ids=["same_segment", "late"])
@pytest.mark.parametrize("kind", sorted(FIRST_RESPONSES))
def test_stray_bytes_are_never_a_response(kind: str, same_segment: bool,
                                          raw_server: RawFactory,
                                          request: pytest.FixtureRequest) -> None:
    """RFC 9112 6.3: a client MUST NOT process extra data as a separate response.

    The server answers the first request, then sends a forged response nobody asked
    for (in the same segment, or 0.3 s later), then answers the second request.
    The forged response (code 299, body "evil") must never reach the caller: stray
    bytes read along with the first response are dropped with it and the real answer
    is read; stray bytes that arrive while idle make the next request() fail.
    """
    method, first, stray = FIRST_RESPONSES[kind]
    if same_segment:
        script = [raw.read_head(), raw.send(first + stray), raw.read_head(), raw.send(REAL),
                  raw.silent(5.0)]
    else:
        script = [raw.read_head(), raw.send(first), raw.sleep(0.3), raw.send(stray),
                  raw.read_head(), raw.send(REAL), raw.silent(5.0)]
    server = raw_server(script)
    client = HTTPClient()
    client.set_timeouts(2, 2)
    deadline = time.monotonic() + 8.0
    assert client.connect_to_host(server.host, server.port) is Error.OK
    drive(client, Outcome(), deadline)
    one = _exchange(client, method, deadline)
    assert one.final is S.STATUS_CONNECTED, one
    # Wait for the stray bytes to be on the wire, polling like a game loop does.
    settle = time.monotonic() + 0.6
    while time.monotonic() < settle:
        client.poll()
        time.sleep(0.01)
    two = _exchange(client, Method.METHOD_GET, deadline)
    assert two.code != 299 and b"evil" not in two.body, two
    if same_segment:
        # Read with the first response: dropped with that response's reader.
        assert two.final is S.STATUS_CONNECTED, two
        assert two.code == 200 and two.body == b"real", two
    else:
        # Arrived while idle: the next request() finds them and gives up the connection.
        assert two.final is S.STATUS_CONNECTION_ERROR, two
        assert two.request_result is Error.FAILED
        assert "stray bytes" in two.error


def test_head_then_get_on_a_clean_connection(raw_server: RawFactory) -> None:
    """The control for the test above: a HEAD without a body leaves the connection usable."""
    server = raw_server([raw.read_head(), raw.send(resp("Content-Length: 4")), raw.read_head(),
                        raw.send(REAL), raw.silent(5.0)])
    client = HTTPClient()
    deadline = time.monotonic() + 5.0
    client.connect_to_host(server.host, server.port)
    drive(client, Outcome(), deadline)
    one = _exchange(client, Method.METHOD_HEAD, deadline)
    assert one.final is S.STATUS_CONNECTED and one.code == 200 and one.body == b""
    two = _exchange(client, Method.METHOD_GET, deadline)
    assert two.final is S.STATUS_CONNECTED and two.body == b"real"
    assert len(server.connections) == 1


def test_server_closing_an_idle_keep_alive_connection(raw_server: RawFactory) -> None:
    """A server that drops an idle connection: poll() in CONNECTED notices, nothing raises."""
    server = raw_server([raw.read_head(), raw.send(resp("Content-Length: 2", body=b"hi")),
                         raw.sleep(0.1), raw.close()])
    client = HTTPClient()
    deadline = time.monotonic() + 5.0
    client.connect_to_host(server.host, server.port)
    drive(client, Outcome(), deadline)
    one = _exchange(client, Method.METHOD_GET, deadline)
    assert one.final is S.STATUS_CONNECTED and one.body == b"hi"
    while client.get_status() is S.STATUS_CONNECTED:
        assert time.monotonic() < deadline
        client.poll()
        time.sleep(0.01)
    assert client.get_status() is S.STATUS_CONNECTION_ERROR
    assert client.poll() is Error.ERR_CONNECTION_ERROR


def test_expected_outcomes_are_spread() -> None:
    """The table covers errors, clean keep-alive ends, until-close ends and TLS failures."""
    finals = {c.expect for c in CASES}
    assert finals >= {S.STATUS_CONNECTION_ERROR, S.STATUS_CONNECTED, S.STATUS_DISCONNECTED,
                      S.STATUS_SSL_HANDSHAKE_ERROR}
    assert OK_HEAD.startswith(b"HTTP/1.1")
