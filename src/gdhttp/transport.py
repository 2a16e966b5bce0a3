"""Bytes in and out without blocking: resolver thread, TCP connect, TLS, streams.

This layer knows no HTTP. It turns OS and ssl errors (and the ValueError of a
closed socket) into ``TransportError`` (or ``TlsError``) in one place each, so
the client only deals with those. Readiness is asked of ``select.poll``, which
works for any file descriptor (``select.select`` fails at 1024 and above).

The ``Stream`` protocol is the ``connection`` seam of ``HTTPClient``: any
object with these three methods can carry the HTTP traffic (a test script
feeding one byte per call, a socket wrapper of the caller's, ...).
"""

from __future__ import annotations

import errno
import os
import select
import socket
import ssl
import time
from concurrent.futures import Future, ThreadPoolExecutor
from threading import Lock
from typing import Protocol, runtime_checkable

from gdhttp import limits

__all__ = [
    "Connector",
    "Resolver",
    "SocketStream",
    "Stream",
    "TlsError",
    "TlsHandshake",
    "TransportError",
    "is_ip_literal",
    "wait_stream",
]

Address = tuple[int, int, int, str, tuple[object, ...]]


class TransportError(Exception):
    """The connection failed or broke (refused, reset, timed out...)."""


class TlsError(TransportError):
    """TLS could not be set up: handshake, verification or pin failure."""


_WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


@runtime_checkable
class Stream(Protocol):
    """What HTTPClient needs from a connection.

    ``recv(n)`` returns up to n bytes, ``b""`` once the peer has closed, or
    ``None`` when nothing is available right now. ``send(data)`` returns how
    many bytes were accepted (0 when the stream cannot take more right now).
    ``SocketStream`` raises only ``TransportError``; a caller's own stream may
    also raise OSError, which the client treats the same way.
    """

    def recv(self, n: int, /) -> bytes | None: ...

    def send(self, data: bytes | memoryview, /) -> int: ...

    def close(self) -> None: ...


def wait_stream(stream: Stream, for_write: bool, timeout: float) -> None:
    """Wait until ``stream`` is likely ready (blocking mode), at most ``timeout`` s."""
    wait = getattr(stream, "wait", None)
    if wait is not None:
        wait(for_write, timeout)
    else:
        time.sleep(min(timeout, 0.001))


class SocketStream:
    """A non-blocking socket (plain or TLS) seen as a ``Stream``.

    Small ``recv_into`` reads on plain TCP go through a read-ahead buffer: one
    large syscall, then the next few calls are served from memory. A script
    reading 64 KiB per call would otherwise pay a syscall per call.
    """

    def __init__(self, sock: socket.socket) -> None:
        try:
            sock.setblocking(False)
            # Registered once: an idle liveness check is then one poll(2) call, no exception.
            self._poller = select.poll()
            self._poller.register(sock.fileno(), select.POLLIN | select.POLLPRI | select.POLLRDHUP)
        except (OSError, ValueError) as exc:
            raise TransportError(f"unusable socket: {_describe(exc)}") from exc
        self.sock = sock
        self.is_tls = isinstance(sock, ssl.SSLSocket)
        #: True once a TLS peer closed without close_notify (a bare FIN, maybe an
        #: attacker's): the EOF is reported as usual, and whoever knows the framing
        #: decides whether the data before it can be trusted to be complete.
        self.truncated = False
        self._ahead = bytearray()  # allocated on first use (limits.READAHEAD_SIZE)
        self._ahead_view = memoryview(self._ahead)
        self._ahead_start = 0
        self._ahead_end = 0

    def fileno(self) -> int:
        return self.sock.fileno()

    @property
    def buffered(self) -> int:
        """Bytes received from the socket but not yet handed out."""
        return self._ahead_end - self._ahead_start

    def _ahead_buffer(self) -> memoryview:
        if not self._ahead:
            self._ahead_view.release()
            self._ahead = bytearray(limits.READAHEAD_SIZE)
            self._ahead_view = memoryview(self._ahead)
        return self._ahead_view

    def _take(self, n: int) -> memoryview:
        start = self._ahead_start
        end = min(self._ahead_end, start + n)
        if end == self._ahead_end:
            self._ahead_start = self._ahead_end = 0
        else:
            self._ahead_start = end
        return self._ahead_view[start:end]

    def _keep(self, data: bytes) -> None:
        """Put bytes read early (a TLS liveness probe) back in front of the stream."""
        view = self._ahead_buffer()
        view[: len(data)] = data
        self._ahead_start, self._ahead_end = 0, len(data)

    def recv(self, n: int, /) -> bytes | None:
        if self._ahead_end:
            return bytes(self._take(n))
        try:
            return self.sock.recv(n)
        except _WOULD_BLOCK:
            return None
        except ssl.SSLZeroReturnError:
            return b""
        except ssl.SSLEOFError:
            self.truncated = True
            return b""
        except (OSError, ValueError) as exc:
            raise TransportError(_describe(exc)) from exc

    def recv_into(self, buffer: memoryview, /) -> int | None:
        """Like recv, into ``buffer``: the body fast path (no intermediate bytes)."""
        if self._ahead_end:
            chunk = self._take(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)
        # TLS hands out one record (<= 16 KiB) per read anyway: read-ahead can't help.
        direct = self.is_tls or len(buffer) >= limits.DIRECT_READ_MIN
        try:
            if direct:
                return self.sock.recv_into(buffer)
            view = self._ahead_buffer()
            got = self.sock.recv_into(view)
        except _WOULD_BLOCK:
            return None
        except ssl.SSLZeroReturnError:
            return 0
        except ssl.SSLEOFError:
            self.truncated = True
            return 0
        except (OSError, ValueError) as exc:
            raise TransportError(_describe(exc)) from exc
        n = min(got, len(buffer))
        buffer[:n] = view[:n]
        if n < got:
            self._ahead_start, self._ahead_end = n, got
        return n

    def send(self, data: bytes | memoryview, /) -> int:
        try:
            return self.sock.send(data)
        except _WOULD_BLOCK:
            return 0
        except (OSError, ValueError) as exc:
            raise TransportError(_describe(exc)) from exc

    def wait(self, for_write: bool, timeout: float) -> None:
        if not for_write and (self._ahead_end or (self.is_tls and self._tls_pending())):
            return
        fd = self.sock.fileno()
        if fd < 0:
            return
        _poll_once(fd, select.POLLOUT if for_write else select.POLLIN, timeout)

    def _tls_pending(self) -> int:
        assert isinstance(self.sock, ssl.SSLSocket)
        try:
            return self.sock.pending()
        except (OSError, ValueError):
            return 0

    def _probe(self) -> bytes | None:
        """What waits on the socket: None (nothing), b"" (the peer closed) or data.

        Plain sockets peek; TLS sockets cannot, so a byte read here is kept and
        handed out by the next ``recv``. OSError means the connection is broken.
        """
        if self._ahead_end:
            return b"x"
        if not self._poller.poll(0):
            return None  # one syscall, no exception: the idle case of every poll()
        try:
            if self.is_tls:
                if self._tls_pending():
                    return b"x"
                data = self.sock.recv(1)
                if data:
                    self._keep(data)
                return data
            return self.sock.recv(1, socket.MSG_PEEK)
        except _WOULD_BLOCK:
            return None  # e.g. a TLS 1.3 session ticket: no application data

    def pending_input(self) -> bool:
        """True if the peer sent bytes nobody asked for."""
        try:
            return bool(self._probe())
        except (OSError, ValueError):
            return False

    def is_alive(self) -> bool:
        """False once the peer has closed or reset the connection."""
        try:
            return self._probe() != b""
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _poll_once(fd: int, events: int, timeout: float) -> int:
    """Wait up to ``timeout`` s for ``events`` on ``fd``; the events seen (0 if none).

    Errors and hang-ups are reported as events too: the caller's next I/O call
    then meets the actual error and reports it.
    """
    poller = select.poll()
    try:
        poller.register(fd, events | select.POLLERR | select.POLLHUP)
        ready = poller.poll(max(0, int(timeout * 1000)))
    except (OSError, ValueError):
        return select.POLLERR
    return ready[0][1] if ready else 0


def _describe(exc: BaseException) -> str:
    # An SSLError's errno is an OpenSSL code, not an OS one: its text is the message.
    if isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError) and exc.errno is not None:
        return f"{os.strerror(exc.errno)} (errno {exc.errno})"
    return str(exc) or type(exc).__name__


def is_ip_literal(host: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
            return True
        except (OSError, ValueError):
            continue
    return False


class Resolver:
    """getaddrinfo on a worker thread, so a slow DNS server never stalls a frame.

    The returned Future raises only ``TransportError`` from ``result()``.
    """

    _pool: ThreadPoolExecutor | None = None
    _lock = Lock()

    @classmethod
    def _executor(cls) -> ThreadPoolExecutor:
        with cls._lock:
            if cls._pool is None:
                cls._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="gdhttp-dns")
            return cls._pool

    @classmethod
    def resolve(cls, host: str, port: int) -> Future[list[Address]]:
        return cls._executor().submit(_getaddrinfo, host, port)


def _getaddrinfo(host: str, port: int) -> list[Address]:
    """Resolve on the worker thread; the Future then holds a TransportError, nothing else."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        # Its errno is a resolver (EAI_*) code, not an OS one: the text is the message.
        raise TransportError(exc.strerror or str(exc)) from exc
    except (OSError, UnicodeError, ValueError) as exc:
        raise TransportError(_describe(exc)) from exc
    return [(f, t, p, c, tuple(a)) for f, t, p, c, a in infos]


def literal_addresses(host: str, port: int) -> list[Address]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockaddr: tuple[object, ...] = (host, port, 0, 0) if family == socket.AF_INET6 else (host, port)
    return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]


class Connector:
    """Non-blocking TCP connect that tries each resolved address in order.

    Each address that fails adds one line to the final message, however many
    polls it took.
    """

    def __init__(self, addresses: list[Address], timeout: float) -> None:
        self._addresses = list(addresses)
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._deadline = 0.0
        self._errors: list[str] = []
        self._start_next()

    def _start_next(self) -> None:
        while self._addresses:
            family, type_, proto, _, sockaddr = self._addresses.pop(0)
            try:
                sock = socket.socket(family, type_, proto)
            except OSError as exc:
                self._errors.append(_describe(exc))
                continue
            try:
                sock.setblocking(False)
                code = sock.connect_ex(sockaddr)
            except (OSError, ValueError, TypeError) as exc:
                code, detail = -1, _describe(exc)
            else:
                detail = os.strerror(code)
            if code in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
                self._sock = sock
                self._deadline = time.monotonic() + self._timeout
                return
            self._errors.append(f"{sockaddr[0]}: {detail}")
            sock.close()
        self._sock = None

    def step(self) -> socket.socket | None:
        """Return the connected socket, None while pending; raise when all failed."""
        while self._sock is not None:
            sock = self._sock
            if _poll_once(sock.fileno(), select.POLLOUT, 0):
                try:
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if code == 0:
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        self._sock = None
                        return sock
                    self._errors.append(os.strerror(code))
                except OSError as exc:
                    self._errors.append(_describe(exc))
            elif time.monotonic() < self._deadline:
                return None
            else:
                self._errors.append(f"connect timed out after {self._timeout:g} s")
            sock.close()
            self._start_next()
        raise TransportError("; ".join(self._errors) or "no address to connect to")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._addresses.clear()


class TlsHandshake:
    """A TLS handshake stepped by poll() over an already connected socket."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, server_name: str) -> None:
        try:
            self.sock: ssl.SSLSocket = context.wrap_socket(
                sock,
                server_hostname=server_name or None,
                do_handshake_on_connect=False,
                # A bare FIN must not pass for the end of a close-delimited body.
                suppress_ragged_eofs=False,
            )
        except (ssl.SSLError, OSError, ValueError) as exc:
            sock.close()
            raise TlsError(f"TLS setup failed: {exc}") from exc

    def step(self) -> bool:
        """True once the handshake is complete; raise TlsError on failure."""
        try:
            self.sock.do_handshake()
            return True
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return False
        except ssl.SSLCertVerificationError as exc:
            raise TlsError(f"certificate verification failed: {exc.verify_message}") from exc
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise TlsError(f"TLS handshake failed: {_describe(exc)}") from exc

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
