"""Soak and leaks (10,000 requests against nginx) and request-smuggling guards.

The soak mixes keep-alive requests (Content-Length, chunked, HEAD, 204) with forced
reconnects (a ``/close/`` response, an explicit ``close()``, a client dropped without
``close()``); open file descriptors and Python memory are compared between the end of
the first thousand requests and the end of the last thousand.

The guards send CR, LF and NUL in every place a caller controls (header names and
values, URLs, the User-Agent, proxy hosts, the host) and check two things: the call
is refused with ``ERR_INVALID_PARAMETER``, and nothing of it reaches the wire (a
RawServer records every byte; only the control request that follows arrives).
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from collections.abc import Callable

import pytest

from gdhttp.client import HTTPClient
from gdhttp.constants import Error, Method, Status

from servers import Endpoint, RawServer, raw

S = Status
SOAK_REQUESTS = 10_000
WINDOW = 1_000
RECONNECT_EVERY = 97  # a prime, so reconnects drift across the request kinds
WAIT_S = 10.0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _connect(client: HTTPClient, host: str, port: int) -> None:
    assert client.connect_to_host(host, port) is Error.OK
    deadline = time.monotonic() + WAIT_S
    while client.get_status() in (S.STATUS_RESOLVING, S.STATUS_CONNECTING):
        assert time.monotonic() < deadline
        client.poll()
    assert client.get_status() is S.STATUS_CONNECTED, client.get_error_message()


def _request(client: HTTPClient, method: Method, path: str) -> tuple[int, int]:
    """One exchange on a connected client: (response code, body bytes)."""
    assert client.request(method, path, []) is Error.OK, client.get_error_message()
    deadline = time.monotonic() + WAIT_S
    size = 0
    while client.get_status() in (S.STATUS_REQUESTING, S.STATUS_BODY):
        assert time.monotonic() < deadline, f"{path}: stuck in {client.get_status().name}"
        client.poll()
        if client.get_status() is S.STATUS_BODY:
            size += len(client.read_response_body_chunk())
    code = client.get_response_code()
    assert client.get_status() in (S.STATUS_CONNECTED, S.STATUS_DISCONNECTED), (
        path, client.get_status(), client.get_error_message())
    return code, size


KINDS: list[tuple[Method, str, int, int]] = [
    (Method.METHOD_GET, "/files/1k.bin", 200, 1024),
    (Method.METHOD_GET, "/chunked/1k.bin", 200, 1024),
    (Method.METHOD_HEAD, "/files/64k.bin", 200, 0),
    (Method.METHOD_GET, "/status/204", 204, 0),
    (Method.METHOD_GET, "/files/empty.bin", 200, 0),
]


def test_soak_10000_requests_fds_and_memory_flat(nginx_http: Endpoint) -> None:
    gc.collect()
    tracemalloc.start()
    client = HTTPClient()
    _connect(client, nginx_http.host, nginx_http.port)
    marks: dict[str, tuple[int, int]] = {}
    reconnects = 0
    started = time.monotonic()
    try:
        for i in range(1, SOAK_REQUESTS + 1):
            if i % RECONNECT_EVERY == 0:
                way = (i // RECONNECT_EVERY) % 3
                if way == 0:
                    # The server closes: Connection: close after a Content-Length body.
                    code, size = _request(client, Method.METHOD_GET, "/close/1k.bin")
                    assert (code, size) == (200, 1024)
                    client.close()
                elif way == 1:
                    client.close()
                else:
                    client = HTTPClient()  # the old one is dropped without close()
                _connect(client, nginx_http.host, nginx_http.port)
                reconnects += 1
            else:
                method, path, want_code, want_size = KINDS[i % len(KINDS)]
                assert _request(client, method, path) == (want_code, want_size), i
            if i in (WINDOW, SOAK_REQUESTS):
                gc.collect()
                marks[str(i)] = (open_fds(), tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
        client.close()
    elapsed = time.monotonic() - started
    print(f"soak: {SOAK_REQUESTS} requests, {reconnects} reconnects, {elapsed:.1f} s, "
          f"(fds, traced bytes) at request {WINDOW} and {SOAK_REQUESTS}: {marks}")
    fds_first, mem_first = marks[str(WINDOW)]
    fds_last, mem_last = marks[str(SOAK_REQUESTS)]
    assert reconnects >= SOAK_REQUESTS // RECONNECT_EVERY - 1
    assert fds_last <= fds_first + 1, marks
    assert mem_last - mem_first < 256 * 1024, marks
    assert elapsed < 120, f"soak took {elapsed:.1f} s"


# --------------------------------------------------------------------------- smuggling

BAD = ["\r\nX-Injected: 1", "\nX-Injected: 1", "\rX-Injected: 1", "\x00X-Injected"]


def _bad_headers() -> list[list[str]]:
    cases: list[list[str]] = []
    for bad in BAD:
        cases.append([f"X-Value: a{bad}"])
        cases.append([f"X-Na{bad}me: v"])
        cases.append(["Accept: */*", f"Cookie: s=1{bad}"])
        cases.append([f"Host: example.test{bad}"])
        cases.append([f"User-Agent: me{bad}"])
    cases += [["\r\n"], [""], ["NoColon"], [": no name"], ["Bad Name: v"]]
    return cases


def _bad_urls() -> list[str]:
    urls = []
    for bad in BAD:
        urls += [f"/a{bad}", f"/a?q=1{bad}", f"http://example.test/{bad}", bad]
    return [*urls, "/a b", "/a\tb", "/a\x7f"]


BODY_SENDERS: dict[str, Callable[[HTTPClient, Method, str, list[str]], Error]] = {
    "request": lambda c, m, u, h: c.request(m, u, h, "body"),
    "request_raw": lambda c, m, u, h: c.request_raw(m, u, h, b"body"),
    "request_stream": lambda c, m, u, h: c.request_stream(m, u, h, iter([b"body"])),
}


def _control_server(raw_server: Callable[..., RawServer]) -> RawServer:
    return raw_server([raw.read_request(),
                       raw.send(raw.http_response(200, b"ok")), raw.silent(5.0)])


def _finish_control(client: HTTPClient, server: RawServer) -> bytes:
    """Send the one legitimate request and return everything the server received."""
    assert client.get_status() is S.STATUS_CONNECTED
    code, size = _request(client, Method.METHOD_GET, "/control")
    assert (code, size) == (200, 2)
    server.wait_connections(1)
    return server.requests[0]


@pytest.mark.parametrize("sender", sorted(BODY_SENDERS))
def test_injection_is_refused_and_nothing_is_sent(sender: str,
                                                  raw_server: Callable[..., RawServer]) -> None:
    server = _control_server(raw_server)
    client = HTTPClient()
    _connect(client, server.host, server.port)
    send = BODY_SENDERS[sender]
    refused = 0
    for method in (Method.METHOD_GET, Method.METHOD_POST, Method.METHOD_PUT):
        for headers in _bad_headers():
            assert send(client, method, "/x", headers) is Error.ERR_INVALID_PARAMETER, headers
            assert client.get_status() is S.STATUS_CONNECTED
            refused += 1
        for url in _bad_urls():
            assert send(client, method, url, []) is Error.ERR_INVALID_PARAMETER, repr(url)
            assert client.get_status() is S.STATUS_CONNECTED
            refused += 1
    time.sleep(0.05)
    wire = _finish_control(client, server)
    assert wire.startswith(b"GET /control HTTP/1.1\r\n")
    assert wire.count(b"HTTP/1.1\r\n") == 1
    assert b"Injected" not in wire and b"body" not in wire
    assert refused > 100


def test_user_agent_injection_is_refused(raw_server: Callable[..., RawServer]) -> None:
    server = _control_server(raw_server)
    client = HTTPClient()
    for bad in BAD:
        client.set_user_agent(f"agent{bad}")
        assert client.get_error_message() == \
            "set_user_agent: needs a String without CR, LF or NUL"
    _connect(client, server.host, server.port)
    wire = _finish_control(client, server)
    assert b"Injected" not in wire and b"User-Agent: GodotEngine" in wire


@pytest.mark.parametrize("setter", ["set_http_proxy", "set_https_proxy"])
def test_proxy_host_injection_is_refused(setter: str,
                                         raw_server: Callable[..., RawServer]) -> None:
    """A refused proxy is not used: the client still talks to the origin directly."""
    server = _control_server(raw_server)
    client = HTTPClient()
    for bad in BAD:
        getattr(client, setter)(f"127.0.0.1{bad}", 3128)
        assert "invalid proxy" in client.get_error_message()
        getattr(client, setter)(f"user:pa{bad}ss@127.0.0.1", 3128)
        assert "invalid proxy" in client.get_error_message()
    _connect(client, server.host, server.port)
    wire = _finish_control(client, server)
    assert wire.startswith(b"GET /control HTTP/1.1\r\n")  # origin form: no proxy in use
    assert b"Injected" not in wire and b"Proxy-Authorization" not in wire


def test_host_injection_is_refused() -> None:
    client = HTTPClient()
    for bad in BAD:
        for host in (f"example.test{bad}", f"http://example.test{bad}", f"127.0.0.1{bad}"):
            assert client.connect_to_host(host, 80) is Error.ERR_INVALID_PARAMETER, repr(host)
            assert client.get_status() is S.STATUS_DISCONNECTED
