"""The latency relay (tests/servers/latency.py): delay, exact bytes, many connections, closes.

Every upstream here is a RawServer on loopback; every wait is bounded by a socket timeout.
"""

from __future__ import annotations

import hashlib
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from servers import LatencyRelay, MiB, RawConnection, RawServer, blob_bytes, free_port

DELAY = 0.020  # one way: a 40 ms round trip
# The relay's timer and the machine's load only ever add time: a generous upper bound, a
# tight lower one (no byte may arrive early).
SLACK = 0.030
IO_TIMEOUT = 10.0

RawFactory = Callable[..., RawServer]


@pytest.fixture
def relays() -> Iterator[Callable[..., LatencyRelay]]:
    made: list[LatencyRelay] = []

    def factory(server: RawServer, delay: float = DELAY, **kw: object) -> LatencyRelay:
        relay = LatencyRelay((server.host, server.port), delay, max_lifetime=60.0,
                             **kw)  # type: ignore[arg-type]
        made.append(relay)
        return relay

    yield factory
    for relay in made:
        relay.close()


def echo(conn: RawConnection) -> None:
    """Echo until the client half-closes, then close."""
    conn.settimeout(IO_TIMEOUT)
    while data := conn.recv(65536):
        conn.sendall(data)


def dial(relay: LatencyRelay) -> socket.socket:
    sock = socket.create_connection((relay.host, relay.port), timeout=IO_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def round_trip(sock: socket.socket, payload: bytes = b"ping") -> float:
    t0 = time.monotonic()
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        part = sock.recv(65536)
        assert part, "relay closed mid round trip"
        got += part
    assert got == payload
    return time.monotonic() - t0


def test_round_trip_is_twice_the_delay(raw_server: RawFactory,
                                       relays: Callable[..., LatencyRelay]) -> None:
    relay = relays(raw_server(echo))
    with dial(relay) as sock:
        first = round_trip(sock)
        rtts = [round_trip(sock, b"x%d" % i) for i in range(10)]
    # The first exchange pays the emulated TCP handshake too: two round trips.
    assert 4 * DELAY <= first <= 4 * DELAY + 2 * SLACK, first  # one sample: more slack
    assert min(rtts) >= 2 * DELAY, rtts
    assert statistics.median(rtts) <= 2 * DELAY + SLACK, rtts
    assert relay.rtt == pytest.approx(2 * DELAY)


def test_without_handshake_emulation_the_first_exchange_is_one_round_trip(
        raw_server: RawFactory, relays: Callable[..., LatencyRelay]) -> None:
    relay = relays(raw_server(echo), emulate_handshake=False)
    with dial(relay) as sock:
        first = round_trip(sock)
    assert 2 * DELAY <= first <= 2 * DELAY + 2 * SLACK, first


def test_zero_delay_is_fast(raw_server: RawFactory,
                            relays: Callable[..., LatencyRelay]) -> None:
    relay = relays(raw_server(echo), delay=0.0)
    with dial(relay) as sock:
        rtts = [round_trip(sock, b"y%d" % i) for i in range(20)]
    assert statistics.median(rtts) < 0.010, rtts


def test_32_mib_each_way_arrive_exact(raw_server: RawFactory,
                                      relays: Callable[..., LatencyRelay]) -> None:
    size = 32 * MiB
    up, down = blob_bytes(size, seed=11), blob_bytes(size, seed=12)
    seen: dict[str, str] = {}

    def handler(conn: RawConnection) -> None:
        conn.settimeout(IO_TIMEOUT)
        sender = threading.Thread(target=conn.sendall, args=(down,), daemon=True)
        sender.start()
        h, n = hashlib.sha256(), 0
        while n < size and (data := conn.sock.recv(1 << 20)):
            h.update(data)
            n += len(data)
        seen["server"] = h.hexdigest()
        sender.join(IO_TIMEOUT)

    relay = relays(raw_server(handler, io_timeout=IO_TIMEOUT), delay=0.005)
    with dial(relay) as sock:
        sender = threading.Thread(target=sock.sendall, args=(up,), daemon=True)
        sender.start()
        h, n = hashlib.sha256(), 0
        while n < size and (data := sock.recv(1 << 20)):
            h.update(data)
            n += len(data)
        sender.join(IO_TIMEOUT)
    deadline = time.monotonic() + IO_TIMEOUT
    while "server" not in seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert n == size
    assert h.hexdigest() == hashlib.sha256(down).hexdigest()
    assert seen.get("server") == hashlib.sha256(up).hexdigest()
    assert relay.bytes_up == size and relay.bytes_down == size


@pytest.mark.parametrize("whole", [True, False], ids=["whole", "bytewise"])
def test_order_is_kept_whole_and_one_byte_at_a_time(raw_server: RawFactory,
                                                    relays: Callable[..., LatencyRelay],
                                                    whole: bool) -> None:
    payload = bytes(range(256)) * 4
    relay = relays(raw_server(echo), delay=0.002)
    with dial(relay) as sock:
        if whole:
            sock.sendall(payload)
        else:
            for i in range(len(payload)):
                sock.sendall(payload[i:i + 1])
        sock.shutdown(socket.SHUT_WR)
        got = b""
        while data := sock.recv(65536):
            got += data
    assert got == payload


def test_64_connections_at_once(raw_server: RawFactory,
                                relays: Callable[..., LatencyRelay]) -> None:
    count = 64
    relay = relays(raw_server(echo, max_connections=count * 2))
    socks = [dial(relay) for _ in range(count)]
    t0 = time.monotonic()
    try:
        for i, s in enumerate(socks):
            s.sendall(b"conn-%03d" % i)
        for i, s in enumerate(socks):
            want = b"conn-%03d" % i
            got = b""
            while len(got) < len(want):
                part = s.recv(64)
                assert part
                got += part
            assert got == want
        elapsed = time.monotonic() - t0
    finally:
        for s in socks:
            s.close()
    assert relay.peak_active >= count
    # Side by side, not one after another: 64 handshake + exchange times would be 2.5 s.
    assert elapsed < 4 * DELAY + 0.5, elapsed


def test_half_close_each_way(raw_server: RawFactory,
                             relays: Callable[..., LatencyRelay]) -> None:
    """The client's FIN reaches the server, which still answers; then the server's FIN."""
    def handler(conn: RawConnection) -> None:
        conn.settimeout(IO_TIMEOUT)
        got = conn.recv_all()  # until the client's FIN
        conn.sendall(b"got %d" % len(got))
        conn.shutdown_write()

    srv = raw_server(handler)
    relay = relays(srv)
    with dial(relay) as sock:
        sock.sendall(b"hello")
        sock.shutdown(socket.SHUT_WR)
        t0 = time.monotonic()
        reply = b""
        while data := sock.recv(64):
            reply += data
        elapsed = time.monotonic() - t0
    assert reply == b"got 5"
    assert elapsed >= 2 * DELAY  # the FIN was delayed like the data
    assert srv.wait_done(1, IO_TIMEOUT)
    deadline = time.monotonic() + IO_TIMEOUT
    while relay.active and time.monotonic() < deadline:
        time.sleep(0.01)
    assert relay.active == 0 and relay.finished == 1 and relay.aborted == 0


def test_server_close_reaches_the_client(raw_server: RawFactory,
                                         relays: Callable[..., LatencyRelay]) -> None:
    def handler(conn: RawConnection) -> None:
        conn.settimeout(IO_TIMEOUT)
        conn.recv_exact(3)
        conn.sendall(b"bye")
        conn.close()

    relay = relays(raw_server(handler))
    with dial(relay) as sock:
        sock.sendall(b"hi!")
        got = b""
        while data := sock.recv(64):
            got += data
    assert got == b"bye"


def test_reset_reaches_the_client(raw_server: RawFactory,
                                  relays: Callable[..., LatencyRelay]) -> None:
    def handler(conn: RawConnection) -> None:
        conn.settimeout(IO_TIMEOUT)
        conn.recv_exact(3)
        conn.reset()

    relay = relays(raw_server(handler))
    with dial(relay) as sock:
        sock.sendall(b"hi!")
        with pytest.raises(ConnectionResetError, match="reset"):
            while sock.recv(64):
                pass
    assert relay.aborted == 1


def test_unreachable_target_resets_the_client() -> None:
    port = free_port()
    relay = LatencyRelay(("127.0.0.1", port), DELAY, max_lifetime=30.0)
    try:
        # The RST can win the race with connect() itself, or come at the first read.
        with pytest.raises(ConnectionResetError, match="reset"), dial(relay) as sock:
            while sock.recv(64):
                pass
        assert relay.failed_connects == 1
    finally:
        relay.close()


def test_memory_per_direction_is_bounded(raw_server: RawFactory,
                                         relays: Callable[..., LatencyRelay]) -> None:
    """A server that never reads: the relay stops reading at its buffer limit."""
    limit = 256 * 1024
    release = threading.Event()
    srv = raw_server(lambda conn: release.wait(5.0))
    relay = relays(srv, delay=0.001, buffer_limit=limit)
    block = b"z" * 65536
    sent = 0
    with dial(relay) as sock:
        sock.setblocking(False)
        deadline = time.monotonic() + 1.5
        while sent < 256 * MiB and time.monotonic() < deadline:
            try:
                sent += sock.send(block)
            except BlockingIOError:
                time.sleep(0.01)
        release.set()
    assert relay.peak_queued <= limit + 256 * 1024  # one read past the limit at most
    assert sent < 64 * MiB  # the sender was held back, not buffered without end


def test_close_stops_it_and_ends_open_connections(raw_server: RawFactory) -> None:
    srv = raw_server(echo)
    relay = LatencyRelay((srv.host, srv.port), DELAY, max_lifetime=30.0)
    sock = dial(relay)
    try:
        round_trip(sock)
        relay.close()
        assert not relay.alive()
        assert sock.recv(64) == b""  # the open pair was closed with a FIN
    finally:
        sock.close()
    with pytest.raises(ConnectionRefusedError, match="refused"):
        socket.create_connection((relay.host, relay.port), timeout=1.0)


def test_it_stops_by_itself(raw_server: RawFactory) -> None:
    srv = raw_server(echo)
    relay = LatencyRelay((srv.host, srv.port), DELAY, max_lifetime=0.3)
    try:
        deadline = time.monotonic() + 3.0
        while relay.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not relay.alive()
    finally:
        relay.close()


def test_only_loopback() -> None:
    with pytest.raises(ValueError, match="not a loopback address"):
        LatencyRelay(("192.0.2.1", 80), DELAY)
    with pytest.raises(ValueError, match="delay >= 0"):
        LatencyRelay(("127.0.0.1", 80), -1.0)
