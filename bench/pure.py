"""Pure-Python workloads: gdhttp beside a raw socket loop and Python's HTTP clients.

Each function performs one run and returns its figure (seconds, or a count);
``__main__`` repeats them and takes medians. Every run talks to the local
nginx only.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Callable

from gdhttp.client import HTTPClient
from gdhttp.constants import Method, Status

CHUNK = 1 << 20


def _head_end(sock: socket.socket, buf: memoryview) -> tuple[int, int]:
    """Read until the end of the response head; return (bytes after head, length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        n = sock.recv_into(buf)
        if n == 0:
            raise ConnectionError("closed in head")
        data += bytes(buf[:n])
    head, _, rest = data.partition(b"\r\n\r\n")
    length = -1
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return len(rest), length


def raw_download(host: str, port: int, path: str, size: int, tls_ctx: ssl.SSLContext | None,
                 ) -> None:
    """The floor: one blocking socket, recv_into a reusable 1 MiB buffer."""
    sock = socket.create_connection((host, port))
    if tls_ctx is not None:
        sock = tls_ctx.wrap_socket(sock, server_hostname="localhost")
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    buf = memoryview(bytearray(CHUNK))
    got, length = _head_end(sock, buf)
    assert length == size
    while got < size:
        n = sock.recv_into(buf)
        if n == 0:
            raise ConnectionError("closed in body")
        got += n
    sock.close()


def _gd_connect(host: str, port: int, tls: bool, ca: str | None) -> HTTPClient:
    client = HTTPClient()
    if ca:
        client.set_trusted_certificates(ca)
    client.connect_to_host(host, port, tls)
    deadline = time.monotonic() + 10
    while client.get_status() in (Status.STATUS_RESOLVING, Status.STATUS_CONNECTING):
        client.poll()
        if time.monotonic() > deadline:
            raise TimeoutError("connect")
    if client.get_status() is not Status.STATUS_CONNECTED:
        raise ConnectionError(client.get_error_message())
    return client


def gdhttp_download(host: str, port: int, path: str, size: int, tls: bool, ca: str | None,
                    ) -> None:
    client = _gd_connect(host, port, tls, ca)
    client.set_blocking_mode(True)  # a plain Python program has no frame to keep
    client.request(Method.METHOD_GET, path, [])
    client.poll()
    buf = bytearray(CHUNK)
    got = 0
    while client.get_status() is Status.STATUS_BODY:
        got += client.read_response_body_chunk_into(buf)
    assert got == size, (got, client.get_error_message())
    client.close()


def urllib3_download(url: str, size: int, ca: str | None) -> None:
    import urllib3

    with urllib3.PoolManager(ca_certs=ca) as pool:
        resp = pool.request("GET", url, preload_content=False)
        got = 0
        for chunk in resp.stream(CHUNK, decode_content=False):
            got += len(chunk)
        resp.release_conn()
    assert got == size


def httpx_download(url: str, size: int, ca: str | None) -> None:
    import httpx

    with httpx.Client(verify=ca or True) as client, client.stream("GET", url) as resp:
        got = sum(len(c) for c in resp.iter_raw(CHUNK))
    assert got == size


def aiohttp_download(url: str, size: int, ca: str | None) -> None:
    import aiohttp

    async def go() -> int:
        ctx = ssl.create_default_context(cafile=ca) if ca else None
        async with aiohttp.ClientSession(auto_decompress=False) as session, \
                session.get(url, ssl=ctx if ctx else True) as resp:
            got = 0
            async for chunk in resp.content.iter_chunked(CHUNK):
                got += len(chunk)
            return got

    assert asyncio.run(go()) == size


def h11_download(host: str, port: int, path: str, size: int) -> None:
    """h11 driven the plain way: every received block goes through the parser."""
    import h11

    sock = socket.create_connection((host, port))
    conn = h11.Connection(h11.CLIENT)
    sock.sendall(conn.send(h11.Request(method="GET", target=path,
                                       headers=[("Host", "localhost")])))
    sock.sendall(conn.send(h11.EndOfMessage()))
    got = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(sock.recv(CHUNK))
        elif isinstance(event, h11.Data):
            got += len(event.data)
        elif isinstance(event, h11.EndOfMessage):
            break
    sock.close()
    assert got == size


# ---- 1000 keep-alive GETs


def gdhttp_keepalive(host: str, port: int, path: str, count: int) -> None:
    client = _gd_connect(host, port, False, None)
    buf = bytearray(65536)
    for _ in range(count):
        client.request(Method.METHOD_GET, path, [])
        while client.get_status() is Status.STATUS_REQUESTING:
            client.poll()
        while client.get_status() is Status.STATUS_BODY:
            client.read_response_body_chunk_into(buf)
    assert client.get_status() is Status.STATUS_CONNECTED
    client.close()


def raw_keepalive(host: str, port: int, path: str, count: int) -> None:
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
    buf = memoryview(bytearray(65536))
    for _ in range(count):
        sock.sendall(req)
        got, length = _head_end(sock, buf)
        while got < length:
            got += sock.recv_into(buf)
    sock.close()


def urllib3_keepalive(url: str, count: int) -> None:
    import urllib3

    with urllib3.PoolManager() as pool:
        for _ in range(count):
            pool.request("GET", url).data  # noqa: B018


def httpx_keepalive(url: str, count: int) -> None:
    import httpx

    with httpx.Client() as client:
        for _ in range(count):
            client.get(url).read()


def aiohttp_keepalive(url: str, count: int) -> None:
    import aiohttp

    async def go() -> None:
        async with aiohttp.ClientSession() as session:
            for _ in range(count):
                async with session.get(url) as resp:
                    await resp.read()

    asyncio.run(go())


def h11_keepalive(host: str, port: int, path: str, count: int) -> None:
    import h11

    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = h11.Connection(h11.CLIENT)
    for _ in range(count):
        sock.sendall(conn.send(h11.Request(method="GET", target=path,
                                           headers=[("Host", "localhost")])))
        sock.sendall(conn.send(h11.EndOfMessage()))
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(sock.recv(65536))
                continue
            if isinstance(event, h11.EndOfMessage):
                break
        conn.start_next_cycle()
    sock.close()


# ---- TLS connect + handshake


def gdhttp_tls_connect(host: str, port: int, ca: str) -> None:
    _gd_connect(host, port, True, ca).close()


def raw_tls_connect(host: str, port: int, ctx: ssl.SSLContext) -> None:
    with socket.create_connection((host, port)) as sock, \
            ctx.wrap_socket(sock, server_hostname="localhost"):
        pass


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
