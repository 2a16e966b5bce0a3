"""Helpers for the session tests: drive HTTPRequests on one loop, read nginx's access log."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from gdhttp.constants import Error
from gdhttp.request import HTTPRequest

Completion = tuple[int, int, list[str], bytes]
LIMIT_S = 30.0


def run_all(requests: Sequence[HTTPRequest], urls: Sequence[str], *,
            headers: Sequence[str] = (), method: int = 0, body: str = "",
            limit_s: float = LIMIT_S) -> list[Completion]:
    """Start one request per node at once, step them all, return completions in order.

    Also checks the budget: no single process() call may take more than ~5 ms (plus noise).
    """
    got: dict[int, Completion] = {}
    for i, (r, url) in enumerate(zip(requests, urls, strict=True)):
        r.request_completed.connect(
            lambda res, code, hdrs, data, i=i: got.__setitem__(i, (res, code, hdrs, data)))
        assert r.request(url, list(headers), True, method, body) == Error.OK, \
            r.get_error_message()
    deadline = time.monotonic() + limit_s
    last = time.monotonic()
    slowest = 0.0
    while len(got) < len(requests):
        assert time.monotonic() < deadline, f"only {len(got)} of {len(requests)} completed"
        now = time.monotonic()
        for r in requests:
            started = time.monotonic()
            r.process(now - last)
            slowest = max(slowest, time.monotonic() - started)
        last = now
        time.sleep(0.0005)
    assert slowest < 0.05, f"a process() call took {slowest * 1000:.1f} ms"
    return [got[i] for i in range(len(requests))]


def run_one(r: HTTPRequest, url: str, **kwargs: object) -> Completion:
    return run_all([r], [url], **kwargs)[0]  # type: ignore[arg-type]


def nginx_connections(access_log: Path, marker: str) -> list[int]:
    """The $connection serial of each logged request whose line contains ``marker``."""
    deadline = time.monotonic() + 5
    while True:
        lines = [line for line in access_log.read_text().splitlines() if marker in line]
        if lines or time.monotonic() > deadline:
            return [int(line.split()[0]) for line in lines]
        time.sleep(0.02)
