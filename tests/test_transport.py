"""The transport layer on real loopback sockets: poll-based readiness, one error boundary.

Bug 11: ``select.select`` cannot watch a file descriptor >= 1024, so a game that
had opened many files could not connect at all, and the swallowed ValueError
grew the error message by one line per poll. These tests open descriptors past
1024 first, then connect, wait and exchange bytes.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import ssl
import time
from collections.abc import Callable, Iterator

import pytest

from gdhttp.client import HTTPClient
from gdhttp.constants import Error, Method, Status
from gdhttp.transport import (
    Connector,
    Resolver,
    SocketStream,
    TlsHandshake,
    TransportError,
    literal_addresses,
)

from servers import RawServer, raw
from servers.tlsutil import TLSMaterial

#: Enough descriptors that every new one is >= 1024 (select.select's FD_SETSIZE).
HIGH_FD = 1100
WAIT_S = 10.0


@pytest.fixture
def high_fds() -> Iterator[None]:
    """Occupy descriptors up to HIGH_FD, so the sockets under test get numbers above it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = HIGH_FD + 256
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            pytest.fail(f"RLIMIT_NOFILE hard limit {hard} is below {want}: cannot test bug 11")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    opened: list[int] = []
    try:
        while not opened or opened[-1] < HIGH_FD:
            opened.append(os.open(os.devnull, os.O_RDONLY))
        yield
    finally:
        for fd in opened:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    sock.settimeout(WAIT_S)
    yield sock
    sock.close()


def connect(port: int, timeout: float = WAIT_S) -> socket.socket:
    connector = Connector(literal_addresses("127.0.0.1", port), timeout)
    deadline = time.monotonic() + WAIT_S
    while True:
        sock = connector.step()
        if sock is not None:
            return sock
        assert time.monotonic() < deadline, "connect did not finish"
        time.sleep(0.001)


def test_connect_wait_and_exchange_above_fd_1024(high_fds: None, listener: socket.socket) -> None:
    sock = connect(listener.getsockname()[1])
    assert sock.fileno() >= 1024
    peer, _ = listener.accept()
    with contextlib.closing(peer):
        stream = SocketStream(sock)
        started = time.monotonic()
        stream.wait(False, 0.2)  # nothing to read: a real wait, not an instant error
        assert time.monotonic() - started >= 0.15
        peer.sendall(b"ping")
        stream.wait(False, WAIT_S)
        assert stream.recv(16) == b"ping"
        stream.wait(True, WAIT_S)
        assert stream.send(b"pong") == 4
        assert peer.recv(16) == b"pong"
        assert stream.is_alive()
        peer.close()
        stream.wait(False, WAIT_S)
        assert not stream.is_alive()
        stream.close()


def test_http_request_above_fd_1024(high_fds: None,
                                    raw_server: Callable[..., RawServer]) -> None:
    server = raw_server([raw.read_head(), raw.send(raw.http_response(200, b"hello")),
                         raw.sleep(0.5)])
    client = HTTPClient()
    assert client.connect_to_host("127.0.0.1", server.port) is Error.OK
    deadline = time.monotonic() + WAIT_S
    polls = 0
    while client.get_status() in (Status.STATUS_RESOLVING, Status.STATUS_CONNECTING):
        assert time.monotonic() < deadline, client.get_error_message()
        client.poll()
        polls += 1
        time.sleep(0.001)
    assert client.get_status() is Status.STATUS_CONNECTED, client.get_error_message()
    assert client.request(Method.METHOD_GET, "/", []) is Error.OK
    body = b""
    while client.get_status() in (Status.STATUS_REQUESTING, Status.STATUS_BODY):
        assert time.monotonic() < deadline
        client.poll()
        body += client.read_response_body_chunk()
        time.sleep(0.001)
    assert body == b"hello" and client.get_response_code() == 200


def test_refused_connect_names_each_address_once(high_fds: None) -> None:
    """One line per failed address, however many polls the failure took."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    connector = Connector(literal_addresses("127.0.0.1", port) * 2, WAIT_S)
    deadline = time.monotonic() + WAIT_S
    with pytest.raises(TransportError, match="Connection refused") as info:
        while connector.step() is None:
            assert time.monotonic() < deadline
            time.sleep(0.001)
    assert str(info.value).count("refused") == 2 and len(str(info.value)) < 200


def test_connect_timeout_message_does_not_grow(high_fds: None) -> None:
    """A connect that never completes: many polls, one timeout line at the end."""
    # A listener that never accepts, with its backlog filled, leaves SYNs unanswered.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        connector = Connector(literal_addresses("127.0.0.1", port), 0.3)
        polls = 0
        with pytest.raises(TransportError, match=r"timed out|refused") as info:
            for polls in range(100_000):  # noqa: B007
                if connector.step() is not None:
                    pytest.fail("connected to a full backlog")
                time.sleep(0.001)
        assert polls > 10 and len(str(info.value)) < 200
    finally:
        for filler in fillers:
            filler.close()
        server.close()


def test_stream_raises_only_transport_errors(listener: socket.socket) -> None:
    """The layer's boundary: a closed socket is a TransportError, never ValueError/OSError."""
    sock = connect(listener.getsockname()[1])
    peer, _ = listener.accept()
    peer.close()
    stream = SocketStream(sock)
    sock.close()
    with pytest.raises(TransportError, match=r"Bad file descriptor|closed"):
        stream.recv(10)
    with pytest.raises(TransportError, match=r"Bad file descriptor|closed"):
        stream.send(b"x")
    with pytest.raises(TransportError, match=r"Bad file descriptor|closed"):
        stream.recv_into(memoryview(bytearray(10)))
    stream.wait(False, 0.01)  # returns, does not raise
    assert not stream.is_alive() and not stream.pending_input()


# ---- bug 7: an EOF without TLS close_notify is reported as such


def _tls_stream(port: int, material: TLSMaterial) -> SocketStream:
    handshake = TlsHandshake(connect(port), material.client_context(), "localhost")
    deadline = time.monotonic() + WAIT_S
    while not handshake.step():
        assert time.monotonic() < deadline, "handshake did not finish"
        time.sleep(0.001)
    return SocketStream(handshake.sock)


def _read_to_eof(stream: SocketStream) -> bytes:
    data = b""
    deadline = time.monotonic() + WAIT_S
    while True:
        assert time.monotonic() < deadline, "no EOF"
        stream.wait(False, 0.1)
        got = stream.recv(65536)
        if got == b"":
            return data
        data += got or b""


@pytest.mark.parametrize("close_notify", [False, True], ids=["bare_fin", "close_notify"])
def test_tls_eof_says_whether_close_notify_came(
        close_notify: bool, tls_material: TLSMaterial,
        raw_server: Callable[..., RawServer]) -> None:
    def handler(conn: raw.RawConnection) -> None:
        conn.sendall(b"x" * 50_000)
        if close_notify and isinstance(conn.sock, ssl.SSLSocket):
            conn.sock.settimeout(2.0)
            with contextlib.suppress(OSError, ValueError):
                conn.sock.unwrap()

    server = raw_server(handler, ssl_context=tls_material.server_context())
    stream = _tls_stream(server.port, tls_material)
    assert _read_to_eof(stream) == b"x" * 50_000
    assert stream.truncated is (not close_notify)
    stream.close()


# Each fails inside the resolver call itself (label too long, not encodable): no DNS query.
@pytest.mark.parametrize("host", ["a" * 300, "bad\udcffhost", "x" * 64 + ".example"])
def test_resolver_future_holds_only_transport_errors(host: str) -> None:
    future = Resolver.resolve(host, 80)
    with pytest.raises(TransportError, match=r"\w") as info:
        future.result(timeout=WAIT_S)
    assert "Errno" not in str(info.value)


def test_resolver_finds_loopback() -> None:
    addresses = Resolver.resolve("127.0.0.1", 8080).result(timeout=WAIT_S)
    assert addresses and addresses[0][4][:2] == ("127.0.0.1", 8080)


def test_a_closed_socket_cannot_become_a_stream() -> None:
    sock = socket.socket()
    sock.close()
    with pytest.raises(TransportError, match="unusable socket"):
        SocketStream(sock)
