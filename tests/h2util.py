"""Helpers for the HTTP/2 tests: h2 sessions, a driver that measures every process() call."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from gdhttp.constants import Error
from gdhttp.request import HTTPRequest
from gdhttp.session import Session

Completion = tuple[int, int, list[str], bytes]

#: Longest CPU time one process() call may take (the house's ~5 ms frame promise).
MAX_CALL_CPU_S = 0.005


@dataclass
class Run:
    completions: list[Completion]
    elapsed: float
    slowest_cpu: float  # the longest process() call, CPU seconds of this thread
    slowest_wall: float
    messages: list[str] = field(default_factory=list)


def h2_requests(ca_pem_path: object, count: int, session: Session | None = None,
                **settings: object) -> tuple[Session, list[HTTPRequest]]:
    session = session if session is not None else Session(http2=True)
    reqs = []
    for _ in range(count):
        r = HTTPRequest(session=session)
        assert r.get_client().set_trusted_certificates(str(ca_pem_path)) == Error.OK
        for name, value in settings.items():
            getattr(r, f"set_{name}")(value)
        reqs.append(r)
    return session, reqs


def drive(requests: Sequence[HTTPRequest], urls: Sequence[str], *, method: int = 0,
          body: bytes | str = b"", headers: Sequence[str] = (), limit_s: float = 30.0) -> Run:
    """Start every request at once and step them all until each has completed."""
    got: dict[int, Completion] = {}
    for i, (r, url) in enumerate(zip(requests, urls, strict=True)):
        r.request_completed.connect(
            lambda res, code, hdrs, data, i=i: got.__setitem__(i, (res, code, hdrs, data)))
        if isinstance(body, bytes) and body:
            err = r.request_raw(url, list(headers), True, method, body)
        else:
            err = r.request(url, list(headers), True, method, body or "")
        assert err == Error.OK, r.get_error_message()
    started = last = time.monotonic()
    deadline = started + limit_s
    cpu = wall = 0.0
    while len(got) < len(requests):
        assert time.monotonic() < deadline, f"only {len(got)} of {len(requests)} completed"
        now = time.monotonic()
        for r in requests:
            c0, w0 = time.thread_time(), time.monotonic()
            r.process(now - last)
            cpu = max(cpu, time.thread_time() - c0)
            wall = max(wall, time.monotonic() - w0)
        last = now
        time.sleep(0.0005)
    return Run([got[i] for i in range(len(requests))], time.monotonic() - started, cpu, wall,
               [r.get_error_message() for r in requests])
