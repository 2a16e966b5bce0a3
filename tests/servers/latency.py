"""LatencyRelay: a TCP relay on loopback that delays each direction, as a long network would.

    with LatencyRelay((nginx.host, nginx.port), delay=0.020) as relay:  # a 40 ms round trip
        ...the client talks to relay.host:relay.port instead of nginx...

Every byte read from one side is written to the other side no earlier than ``delay`` seconds
after it was read (one-way delay; the round trip is twice that), in order, unchanged. `tc netem`
is not available on these machines, and this needs no privileges.

The client's own ``connect()`` to the relay completes at once (the kernel answers the SYN), so
a real handshake's round trip would be missing. With ``emulate_handshake`` (the default) the
relay makes up for it: nothing the client sends reaches the server before ``3 * delay`` after
the accept, and nothing from the server reaches the client before ``2 * delay``. Since an HTTP
or TLS client always speaks first, the first response arrives when it would on a real link:
one round trip for TCP, then the client's own.

Close and half-close travel with the data: a FIN read from one side becomes a
``shutdown(SHUT_WR)`` on the other once everything before it was delivered; the pair is closed
when both directions ended. A reset (or a write to a side that is gone) aborts the pair at once,
with an RST to the other side.

Bounded: at most ``buffer_limit`` bytes are held per direction (the relay stops reading that
side until the queue drains, as a full TCP window would), at most ``max_connections`` pairs are
open (more are refused with an RST), and the relay stops by itself after ``max_lifetime``
seconds or on ``close()``. One thread with a selector carries every connection.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import ipaddress
import itertools
import selectors
import socket
import struct
import threading
import time
from collections import deque
from types import TracebackType

from ._util import LOOPBACK

# Per direction: the most bytes queued before the relay stops reading (bounded memory). At a
# 20 ms one-way delay this still carries 200 MB/s, more than any test or bench row needs.
DEFAULT_BUFFER = 4 << 20
# One recv() at most: keeps one busy connection from starving the others in a loop turn.
READ_SIZE = 256 << 10
# Longest selector wait: close() and max_lifetime are noticed within this.
MAX_TICK = 0.05
# close() waits at most this long for the relay thread.
JOIN_TIMEOUT = 5.0


def _loopback_only(host: str) -> None:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ValueError(f"LatencyRelay: cannot resolve {host!r}: {exc}") from exc
    for info in infos:
        if not ipaddress.ip_address(str(info[4][0])).is_loopback:
            raise ValueError(f"LatencyRelay: {host!r} is not a loopback address")


def _abort(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER on, timeout 0)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class _Pipe:
    """One direction of a pair: bytes read from ``src``, due for ``dst`` at a given time."""

    def __init__(self, src: socket.socket, dst: socket.socket, not_before: float) -> None:
        self.src = src
        self.dst = dst
        self.not_before = not_before
        self.queue: deque[tuple[float, bytes | None]] = deque()  # None stands for the FIN
        self.queued = 0  # bytes in queue
        self.offset = 0  # bytes of queue[0] already written
        self.eof_read = False
        self.done = False  # the FIN was passed on
        self.blocked = False  # dst's send buffer is full: wait for it to be writable
        self.moved = 0  # bytes delivered


class _Pair:
    def __init__(self, client: socket.socket, upstream: socket.socket, accepted: float,
                 delay: float, handshake: bool) -> None:
        self.client = client
        self.upstream = upstream
        self.connecting = True
        extra_up = 3 * delay if handshake else 0.0
        extra_down = 2 * delay if handshake else 0.0
        self.up = _Pipe(client, upstream, accepted + extra_up)
        self.down = _Pipe(upstream, client, accepted + extra_down)
        self.closed = False


class LatencyRelay:
    """A loopback TCP relay to ``target`` adding ``delay`` seconds each way."""

    def __init__(self, target: tuple[str, int], delay: float = 0.020, *, host: str = LOOPBACK,
                 port: int = 0, emulate_handshake: bool = True,
                 buffer_limit: int = DEFAULT_BUFFER, max_connections: int = 1024,
                 max_lifetime: float = 120.0) -> None:
        if delay < 0 or buffer_limit < 1 or max_connections < 1 or max_lifetime <= 0:
            raise ValueError("LatencyRelay: delay >= 0, buffer_limit, max_connections and "
                             "max_lifetime > 0")
        _loopback_only(host)
        _loopback_only(target[0])
        self.target = target
        self.delay = delay
        self.emulate_handshake = emulate_handshake
        self.buffer_limit = buffer_limit
        self.max_connections = max_connections
        self.max_lifetime = max_lifetime
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(512)
        self._listener.setblocking(False)
        self.host: str = host
        self.port: int = self._listener.getsockname()[1]
        # Counters, written by the relay thread only.
        self.accepted = 0
        self.refused = 0
        self.failed_connects = 0
        self.aborted = 0
        self.finished = 0
        self.peak_active = 0
        self.peak_queued = 0  # most bytes ever held for one direction
        self.bytes_up = 0
        self.bytes_down = 0
        self._pairs: set[_Pair] = set()
        self._sel = selectors.DefaultSelector()
        self._masks: dict[socket.socket, int] = {}
        self._owner: dict[socket.socket, _Pair] = {}
        self._timers: list[tuple[float, int, _Pipe]] = []
        self._seq = itertools.count()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel.register(self._listener, selectors.EVENT_READ)
        self._sel.register(self._wake_r, selectors.EVENT_READ)
        self._deadline = time.monotonic() + max_lifetime
        self._thread = threading.Thread(target=self._run, name=f"latency-relay:{self.port}",
                                        daemon=True)
        self._thread.start()

    # --- public surface ---------------------------------------------------------------------
    @property
    def rtt(self) -> float:
        return 2 * self.delay

    @property
    def active(self) -> int:
        return len(self._pairs)

    def url(self, path: str = "/", scheme: str = "http", host: str | None = None) -> str:
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._thread.join(JOIN_TIMEOUT)
        for s in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                s.close()

    def __enter__(self) -> LatencyRelay:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- the relay thread -------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= self._deadline:
                    break
                self._fire_timers(now)
                timeout = MAX_TICK
                if self._timers:
                    timeout = min(timeout, max(0.0, self._timers[0][0] - now))
                for key, events in self._sel.select(timeout):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._listener:
                        self._accept()
                    elif sock is self._wake_r:
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(64)
                    else:
                        self._ready(sock, events)
        finally:
            for pair in list(self._pairs):
                self._close_pair(pair, reset=False)
            self._sel.close()
            with contextlib.suppress(OSError):
                self._listener.close()

    def _fire_timers(self, now: float) -> None:
        while self._timers and self._timers[0][0] <= now:
            _, _, pipe = heapq.heappop(self._timers)
            pair = self._owner.get(pipe.src)
            if pair is not None and not pipe.blocked:
                self._flush(pair, pipe, now)

    def _accept(self) -> None:
        for _ in range(64):  # bounded per turn; the rest waits for the next select
            try:
                client, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if len(self._pairs) >= self.max_connections:
                self.refused += 1
                _abort(client)
                continue
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            family = socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET
            upstream = socket.socket(family, socket.SOCK_STREAM)
            upstream.setblocking(False)
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            err = upstream.connect_ex(self.target)
            if err not in (0, errno.EINPROGRESS):
                self.failed_connects += 1
                _abort(client)
                upstream.close()
                continue
            pair = _Pair(client, upstream, time.monotonic(), self.delay, self.emulate_handshake)
            self.accepted += 1
            self._pairs.add(pair)
            self.peak_active = max(self.peak_active, len(self._pairs))
            self._owner[client] = pair
            self._owner[upstream] = pair
            self._update(pair)

    def _ready(self, sock: socket.socket, events: int) -> None:
        pair = self._owner.get(sock)
        if pair is None or pair.closed:
            return
        now = time.monotonic()
        if sock is pair.upstream and pair.connecting:
            if not events & selectors.EVENT_WRITE:
                return
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                self.failed_connects += 1
                self._close_pair(pair, reset=True)
                return
            pair.connecting = False
            self._flush(pair, pair.up, now)
            self._update(pair)
            return
        if events & selectors.EVENT_WRITE:
            pipe = pair.up if sock is pair.upstream else pair.down
            pipe.blocked = False
            self._flush(pair, pipe, now)
        if not pair.closed and events & selectors.EVENT_READ:
            self._read(pair, pair.up if sock is pair.client else pair.down, now)
        if not pair.closed:
            self._update(pair)

    def _read(self, pair: _Pair, pipe: _Pipe, now: float) -> None:
        try:
            data = pipe.src.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # reset by the peer: abort the pair, as a router would pass the RST
            self._close_pair(pair, reset=True)
            return
        due = max(now + self.delay, pipe.not_before)
        if data:
            pipe.queue.append((due, data))
            pipe.queued += len(data)
            self.peak_queued = max(self.peak_queued, pipe.queued)
        else:
            pipe.eof_read = True
            pipe.queue.append((due, None))
        heapq.heappush(self._timers, (due, next(self._seq), pipe))

    def _flush(self, pair: _Pair, pipe: _Pipe, now: float) -> None:
        """Write what is due, in order; stop at the first not-yet-due item or a full buffer."""
        if pipe is pair.up and pair.connecting:
            return
        while pipe.queue and pipe.queue[0][0] <= now:
            data = pipe.queue[0][1]
            if data is None:
                pipe.queue.popleft()
                pipe.done = True
                with contextlib.suppress(OSError):  # the peer may be gone already
                    pipe.dst.shutdown(socket.SHUT_WR)
                break
            try:
                sent = pipe.dst.send(memoryview(data)[pipe.offset:])
            except (BlockingIOError, InterruptedError):
                pipe.blocked = True
                break
            except OSError:  # the destination is gone: nothing can be delivered
                self._close_pair(pair, reset=True)
                return
            pipe.offset += sent
            pipe.moved += sent
            if pipe is pair.up:
                self.bytes_up += sent
            else:
                self.bytes_down += sent
            if pipe.offset < len(data):
                pipe.blocked = True
                break
            pipe.queue.popleft()
            pipe.queued -= len(data)
            pipe.offset = 0
        if pair.up.done and pair.down.done:
            self.finished += 1
            self._close_pair(pair, reset=False)
        else:
            self._update(pair)

    def _update(self, pair: _Pair) -> None:
        """Register each socket for what it waits for now (read room, blocked writes)."""
        if pair.closed:
            return
        for sock in (pair.client, pair.upstream):
            mask = 0
            if sock is pair.upstream and pair.connecting:
                mask = selectors.EVENT_WRITE
            else:
                inbound = pair.up if sock is pair.client else pair.down
                outbound = pair.down if sock is pair.client else pair.up
                if not inbound.eof_read and inbound.queued < self.buffer_limit:
                    mask |= selectors.EVENT_READ
                if outbound.blocked:
                    mask |= selectors.EVENT_WRITE
            old = self._masks.get(sock, 0)
            if mask == old:
                continue
            if old and mask:
                self._sel.modify(sock, mask)
            elif mask:
                self._sel.register(sock, mask)
            else:
                self._sel.unregister(sock)
            self._masks[sock] = mask

    def _close_pair(self, pair: _Pair, reset: bool) -> None:
        if pair.closed:
            return
        pair.closed = True
        if reset:
            self.aborted += 1
        self._pairs.discard(pair)
        for sock in (pair.client, pair.upstream):
            if self._masks.pop(sock, 0):
                with contextlib.suppress(KeyError, ValueError, OSError):
                    self._sel.unregister(sock)
            self._owner.pop(sock, None)
            if reset:
                _abort(sock)
            else:
                with contextlib.suppress(OSError):
                    sock.close()
