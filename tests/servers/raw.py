"""RawServer: a loopback socket server for malformed and adversarial HTTP traffic.

    srv = RawServer([read_request(), send(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nhi")])
    with srv:
        ...client talks to srv.url("/x")...
        srv.wait_connections(1)
        assert srv.requests[0].startswith(b"GET /x HTTP/1.1\\r\\n")

A script is either a list of actions (run in order, once per connection) or a callable
`handler(conn: RawConnection)`. RawConnection is socket-like (recv, sendall, close, settimeout,
.sock for the real socket) and records every byte it reads in `.received`. Use `scripts=[...]`
to give connection i its own script (the last one repeats for later connections).

When a script ends the connection is closed (FIN) unless close_at_end=False; use silent(s)
to hold it open. Closing while client bytes are still unread makes the kernel send an RST,
not a FIN: read what the client sends first if the test needs a clean close. An exception
in a script (client closed, timeout) ends it and is kept in `conn.error`.

Bounded everywhere: reads time out after `io_timeout`, the accept loop ends on close(), after
`max_connections` or after `max_lifetime` seconds, handler threads are daemons, and close()
shuts every socket and joins threads with a timeout.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from ._util import LOOPBACK

HEAD_LIMIT = 1 << 20  # a request head larger than this is a test bug; stop reading
READ_LIMIT = 64 << 20  # never buffer more than this from one connection


class RawConnection:
    """One accepted connection, socket-like, recording what the client sent."""

    def __init__(self, server: RawServer, sock: socket.socket, index: int, peer: object) -> None:
        self.server = server
        self.sock = sock
        self.index = index
        self.peer = peer
        self.received = bytearray()  # every byte read from the client, in order
        self.requests: list[RawRequest] = []  # parsed by read_request()
        self.error: BaseException | None = None  # what ended the script early, if anything
        self.closed_by_peer = False
        self.done = threading.Event()
        self._buf = bytearray()  # read but not yet consumed by recv_until/recv_exact

    # --- socket-like surface --------------------------------------------------------------
    def settimeout(self, t: float | None) -> None:
        self.sock.settimeout(t)

    def _read_some(self, n: int = 65536) -> bytes:
        data = self.sock.recv(n)
        if not data:
            self.closed_by_peer = True
        else:
            if len(self.received) + len(data) > READ_LIMIT:
                raise OSError("RawConnection: client sent more than READ_LIMIT bytes")
            self.received += data
        return data

    def recv(self, n: int = 65536) -> bytes:
        if self._buf:
            out = bytes(self._buf[:n])
            del self._buf[:n]
            return out
        return self._read_some(n)

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    send = sendall

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER on, timeout 0) instead of a FIN."""
        raw = self.sock
        with contextlib.suppress(OSError):
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if isinstance(raw, ssl.SSLSocket):
            # close the TCP socket underneath without a TLS close_notify
            with contextlib.suppress(OSError):
                fd = raw.detach()
                socket.socket(fileno=fd).close()
            return
        self.close()

    def shutdown_write(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    # --- framing helpers ------------------------------------------------------------------
    def recv_until(self, marker: bytes = b"\r\n\r\n", limit: int = HEAD_LIMIT) -> bytes:
        """Bytes up to and including `marker`; EOFError if the client closes first."""
        while True:
            i = self._buf.find(marker)
            if i >= 0:
                out = bytes(self._buf[: i + len(marker)])
                del self._buf[: i + len(marker)]
                return out
            if len(self._buf) > limit:
                raise OSError(f"no {marker!r} within {limit} bytes")
            data = self._read_some()
            if not data:
                raise EOFError(f"client closed before {marker!r}")
            self._buf += data

    def recv_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            data = self._read_some()
            if not data:
                raise EOFError(f"client closed after {len(self._buf)} of {n} bytes")
            self._buf += data
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def recv_head(self) -> bytes:
        return self.recv_until(b"\r\n\r\n")

    def recv_all(self) -> bytes:
        """Everything until the client closes (or io_timeout: socket.timeout)."""
        out = bytearray(self._buf)
        self._buf.clear()
        while True:
            data = self._read_some()
            if not data:
                return bytes(out)
            out += data

    def recv_request(self) -> RawRequest:
        """One full request: head, then a Content-Length or chunked body."""
        head = self.recv_head()
        req = RawRequest.parse_head(head)
        te = (req.header("transfer-encoding") or "").lower()
        if "chunked" in te:
            body = bytearray()
            raw = bytearray()
            while True:
                line = self.recv_until(b"\r\n", limit=64 * 1024)
                raw += line
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers until an empty line
                        t = self.recv_until(b"\r\n", limit=64 * 1024)
                        raw += t
                        if t == b"\r\n":
                            break
                    break
                chunk = self.recv_exact(size + 2)
                raw += chunk
                body += chunk[:-2]
            req.body = bytes(body)
            req.raw_body = bytes(raw)
        else:
            length = int(req.header("content-length") or "0")
            req.body = self.recv_exact(length) if length else b""
            req.raw_body = req.body
        self.requests.append(req)
        return req


@dataclass
class RawRequest:
    """A request as read by RawConnection.recv_request()."""

    head: bytes
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    raw_body: bytes = b""  # the body as framed on the wire (chunk lines included)

    @classmethod
    def parse_head(cls, head: bytes) -> RawRequest:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        method, target, version = [*parts, "", "", ""][:3]
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        return cls(head, method, target, version, headers)

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return None

    def header_all(self, name: str) -> list[str]:
        low = name.lower()
        return [v for k, v in self.headers if k.lower() == low]


# --- script actions -------------------------------------------------------------------------

@dataclass
class Action:
    name: str
    run: Callable[[RawConnection], object]

    def __call__(self, conn: RawConnection) -> None:
        self.run(conn)

    def __repr__(self) -> str:
        return f"<{self.name}>"


def read_head() -> Action:
    """Read the request head up to and including the blank line."""
    return Action("read_head", lambda c: c.recv_head())


def read_request() -> Action:
    """Read a whole request (head + Content-Length or chunked body); parsed into c.requests."""
    return Action("read_request", lambda c: c.recv_request())


def read_until(marker: bytes) -> Action:
    return Action(f"read_until({marker!r})", lambda c: c.recv_until(marker))


def read_exact(n: int) -> Action:
    return Action(f"read_exact({n})", lambda c: c.recv_exact(n))


def read_all() -> Action:
    """Read until the client closes (bounded by io_timeout)."""
    return Action("read_all", lambda c: c.recv_all())


def send(data: bytes) -> Action:
    return Action(f"send({len(data)} B)", lambda c: c.sendall(data))


def send_slowly(data: bytes, chunk: int = 1, delay: float = 0.01) -> Action:
    """Send `data` in pieces of `chunk` bytes with `delay` seconds between them."""
    def run(c: RawConnection) -> None:
        for i in range(0, len(data), chunk):
            c.sendall(data[i : i + chunk])
            time.sleep(delay)
    return Action(f"send_slowly({len(data)} B)", run)


def sleep(seconds: float) -> Action:
    return Action(f"sleep({seconds})", lambda c: time.sleep(seconds))


def silent(seconds: float) -> Action:
    """Keep the connection open without sending, for up to `seconds` or until the client
    closes; whatever the client sends meanwhile is recorded."""
    def run(c: RawConnection) -> None:
        deadline = time.monotonic() + seconds
        old = c.sock.gettimeout()
        try:
            while (left := deadline - time.monotonic()) > 0:
                c.sock.settimeout(min(left, 0.05))
                try:
                    if not c._read_some():
                        return
                except (TimeoutError, ssl.SSLWantReadError):
                    continue
        finally:
            with contextlib.suppress(OSError):
                c.sock.settimeout(old)
    return Action(f"silent({seconds})", run)


def close() -> Action:
    """Close normally (FIN; for TLS without close_notify unless the client waits for it)."""
    return Action("close", lambda c: c.close())


def shutdown_write() -> Action:
    """Half-close: send FIN, keep reading possible."""
    return Action("shutdown_write", lambda c: c.shutdown_write())


def reset() -> Action:
    """Abort the connection with a TCP RST (SO_LINGER 0). Over TLS no close_notify is sent;
    Python's ssl (OpenSSL 3) reports that as SSLEOFError, or b"" with suppress_ragged_eofs."""
    return Action("reset", lambda c: c.reset())


def call(fn: Callable[[RawConnection], None]) -> Action:
    return Action(getattr(fn, "__name__", "call"), fn)


def http_response(
    status: int = 200,
    body: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
    *,
    reason: str | None = None,
    content_length: bool = True,
    version: str = "HTTP/1.1",
) -> bytes:
    """Bytes of a well-formed response (Content-Length added unless content_length=False)."""
    reasons = {200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently",
               302: "Found", 304: "Not Modified", 400: "Bad Request", 404: "Not Found",
               500: "Internal Server Error"}
    r = reason if reason is not None else reasons.get(status, "Status")
    lines = [f"{version} {status} {r}"]
    lines += [f"{k}: {v}" for k, v in headers]
    if content_length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(*pieces: bytes, trailers: Sequence[tuple[str, str]] = ()) -> bytes:
    """A chunked body: each piece one chunk, then the last-chunk and optional trailers."""
    out = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p)
    out += b"0\r\n" + b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in trailers)
    return out + b"\r\n"


Script = Sequence[Action] | Callable[[RawConnection], None]


@dataclass
class _State:
    connections: list[RawConnection] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)


class RawServer:
    """Loopback server running a script per accepted connection (see module docstring).

    host, port, scheme, url(path); connections (RawConnection list, accept order);
    requests (bytes each connection sent so far); ca_pem_path (only if given).
    """

    def __init__(
        self,
        script: Script | None = None,
        *,
        scripts: Sequence[Script] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        ca_pem_path: Path | None = None,
        host: str = LOOPBACK,
        io_timeout: float = 5.0,
        max_connections: int = 256,
        max_lifetime: float = 120.0,
        close_at_end: bool = True,
        start: bool = True,
    ) -> None:
        if (script is None) == (scripts is None):
            raise ValueError("give exactly one of script= or scripts=")
        self._scripts: list[Script] = [script] if script is not None else list(scripts or [])
        if not self._scripts:
            raise ValueError("scripts must not be empty")
        self.ssl_context = ssl_context
        self.ca_pem_path = ca_pem_path
        self.io_timeout = io_timeout
        self.max_connections = max_connections
        self.max_lifetime = max_lifetime
        self.close_at_end = close_at_end
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(64)
        self._listener.settimeout(0.05)
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self.scheme = "https" if ssl_context is not None else "http"
        self._lock = threading.Lock()
        self._state = _State()
        self._stop = threading.Event()
        self._new_conn = threading.Condition(self._lock)
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"RawServer:{self.port}", daemon=True)
        if start:
            self.start()

    # --- public surface -------------------------------------------------------------------
    def start(self) -> None:
        if not self._accept_thread.is_alive():
            self._accept_thread.start()

    def url(self, path: str = "/", host: str | None = None) -> str:
        h = host if host is not None else self.host
        if ":" in h and not h.startswith("["):
            h = f"[{h}]"
        if path and not path.startswith("/"):
            path = "/" + path
        return f"{self.scheme}://{h}:{self.port}{path}"

    @property
    def connections(self) -> list[RawConnection]:
        with self._lock:
            return list(self._state.connections)

    @property
    def requests(self) -> list[bytes]:
        """Exactly what each connection's client sent so far (decrypted for TLS)."""
        return [bytes(c.received) for c in self.connections]

    @property
    def parsed_requests(self) -> list[RawRequest]:
        """All requests parsed by read_request()/recv_request(), across connections."""
        return [r for c in self.connections for r in c.requests]

    def wait_connections(self, n: int, timeout: float = 5.0) -> list[RawConnection]:
        """Wait until at least `n` connections were accepted; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._new_conn:
            while len(self._state.connections) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"RawServer: {len(self._state.connections)} of {n} connections")
                self._new_conn.wait(left)
            return list(self._state.connections)

    def wait_done(self, n: int = 1, timeout: float = 5.0) -> list[RawConnection]:
        """Wait until `n` connections exist and their scripts have finished."""
        deadline = time.monotonic() + timeout
        conns = self.wait_connections(n, timeout)
        for c in conns[:n]:
            if not c.done.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"RawServer: script of connection {c.index} still running")
        return conns

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        if self._accept_thread.is_alive() and threading.current_thread() is not self._accept_thread:
            self._accept_thread.join(timeout=2.0)
        with self._lock:
            conns = list(self._state.connections)
            threads = list(self._state.threads)
        for c in conns:
            with contextlib.suppress(OSError):
                c.sock.shutdown(socket.SHUT_RDWR)
            c.close()
        deadline = time.monotonic() + 2.0
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- internals ------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        started = time.monotonic()
        count = 0
        while not self._stop.is_set() and count < self.max_connections:
            if time.monotonic() - started > self.max_lifetime:
                break
            try:
                sock, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            sock.settimeout(self.io_timeout)
            conn = RawConnection(self, sock, count, peer)
            t = threading.Thread(target=self._run, args=(conn,), daemon=True,
                                 name=f"RawServer:{self.port}#{count}")
            with self._new_conn:
                self._state.connections.append(conn)
                self._state.threads.append(t)
                self._new_conn.notify_all()
            count += 1
            t.start()
        with contextlib.suppress(OSError):
            self._listener.close()

    def _run(self, conn: RawConnection) -> None:
        script = self._scripts[min(conn.index, len(self._scripts) - 1)]
        try:
            if self.ssl_context is not None:
                tls = self.ssl_context.wrap_socket(
                    conn.sock, server_side=True, do_handshake_on_connect=False)
                conn.sock = tls
                tls.do_handshake()
            if callable(script):
                script(conn)
            else:
                for action in script:
                    if self._stop.is_set():
                        break
                    action(conn)
        except (OSError, EOFError, ssl.SSLError, ValueError) as exc:
            conn.error = exc
        finally:
            if self.close_at_end or self._stop.is_set():
                conn.close()
            conn.done.set()
