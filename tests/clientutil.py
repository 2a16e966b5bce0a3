"""Poll loops for tests: bounded, with the Status sequence recorded."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from gdhttp.client import HTTPClient
from gdhttp.constants import Error, Method, Status

_R = TypeVar("_R")

#: Any single test wait ends after this long.
WAIT_S = 20.0


@dataclass
class Fetched:
    statuses: list[Status] = field(default_factory=list)
    code: int = 0
    headers: list[str] = field(default_factory=list)
    body: bytes = b""
    body_length: int = -1
    chunked: bool = False
    final: Status = Status.STATUS_DISCONNECTED
    error: str = ""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def record(client: HTTPClient, seen: list[Status]) -> None:
    status = client.get_status()
    if not seen or seen[-1] is not status:
        seen.append(status)


def connect(client: HTTPClient, host: str, port: int, use_ssl: bool = False,
            verify_host: bool = True, seen: list[Status] | None = None) -> Status:
    seen = seen if seen is not None else []
    assert client.connect_to_host(host, port, use_ssl, verify_host) is Error.OK, (
        client.get_error_message()
    )
    record(client, seen)
    deadline = time.monotonic() + WAIT_S
    while client.get_status() in (Status.STATUS_RESOLVING, Status.STATUS_CONNECTING):
        assert time.monotonic() < deadline, "connect did not finish"
        client.poll()
        record(client, seen)
        time.sleep(0.0005)
    return client.get_status()


def exchange(client: HTTPClient, method: int, path: str, headers: list[str] | None = None,
             body: bytes | str = b"", seen: list[Status] | None = None) -> Fetched:
    """request() on a connected client, then read the whole response."""
    out = Fetched(statuses=seen if seen is not None else [])
    if isinstance(body, str):
        code = client.request(method, path, headers or [], body)
    else:
        code = client.request_raw(method, path, headers or [], body)
    assert code is Error.OK, client.get_error_message()
    record(client, out.statuses)
    deadline = time.monotonic() + WAIT_S
    while client.get_status() is Status.STATUS_REQUESTING:
        assert time.monotonic() < deadline, "no response head"
        client.poll()
        record(client, out.statuses)
    out.code = client.get_response_code()
    out.body_length = client.get_response_body_length()
    out.chunked = client.is_response_chunked()
    out.headers = client.get_response_headers()
    body_parts = []
    while client.get_status() is Status.STATUS_BODY:
        assert time.monotonic() < deadline, "body did not finish"
        client.poll()
        chunk = client.read_response_body_chunk()
        if chunk:
            body_parts.append(chunk)
        record(client, out.statuses)
    out.body = b"".join(body_parts)
    out.final = client.get_status()
    out.error = client.get_error_message()
    return out


def fetch(host: str, port: int, path: str, *, use_ssl: bool = False, verify_host: bool = True,
          method: int = Method.METHOD_GET, headers: list[str] | None = None,
          body: bytes | str = b"", client: HTTPClient | None = None) -> Fetched:
    client = client or HTTPClient()
    seen: list[Status] = []
    status = connect(client, host, port, use_ssl, verify_host, seen)
    if status is not Status.STATUS_CONNECTED:
        return Fetched(statuses=seen, final=status, error=client.get_error_message())
    return exchange(client, method, path, headers, body, seen)


# ---- the longest single call (budgets)


@dataclass
class CallTimes:
    """The longest single client call while driving one exchange, wall clock and CPU."""

    calls: int = 0
    longest_wall_s: float = 0.0
    longest_cpu_s: float = 0.0
    longest_name: str = ""
    elapsed_s: float = 0.0
    body_bytes: int = 0
    final: Status = Status.STATUS_DISCONNECTED
    error: str = ""
    statuses: list[Status] = field(default_factory=list)


def timed_call(times: CallTimes, name: str, fn: Callable[[], _R]) -> _R:
    """Run one client call and keep the longest (CPU time is immune to a loaded machine)."""
    wall, cpu = time.perf_counter(), time.thread_time()
    result = fn()
    cpu = time.thread_time() - cpu
    wall = time.perf_counter() - wall
    times.calls += 1
    if cpu > times.longest_cpu_s:
        times.longest_cpu_s, times.longest_name = cpu, name
    times.longest_wall_s = max(times.longest_wall_s, wall)
    return result


def drive_timed(client: HTTPClient, times: CallTimes, limit_s: float = WAIT_S) -> CallTimes:
    """poll() and read the body until the client settles, timing every call; bounded."""
    start = time.monotonic()
    deadline = start + limit_s
    active = (Status.STATUS_RESOLVING, Status.STATUS_CONNECTING, Status.STATUS_REQUESTING,
              Status.STATUS_BODY)
    while client.get_status() in active:
        assert time.monotonic() < deadline, f"still {client.get_status().name}: hang"
        timed_call(times, "poll", client.poll)
        got = 0
        if client.get_status() is Status.STATUS_BODY:
            got = len(timed_call(times, "read_response_body_chunk",
                                 client.read_response_body_chunk))
            times.body_bytes += got
        record(client, times.statuses)
        if not got:
            time.sleep(0.0002)
    times.elapsed_s += time.monotonic() - start
    times.final = client.get_status()
    times.error = client.get_error_message()
    return times
