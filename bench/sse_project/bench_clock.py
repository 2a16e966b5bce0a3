"""``BenchClock``: the engine side of the SSE latency rows reads the server's clock.

CLOCK_MONOTONIC is one clock for every process on a Linux machine, so an event
stamped with ``time.monotonic_ns()`` by the devserver and read here at the
signal gives the write-to-signal latency without any clock sync.
"""

from __future__ import annotations

import time

from gdhttp.gdnative import GodotObjectLike, exposed


@exposed(base="Reference")
class BenchClock:
    owner: GodotObjectLike

    def now_ns(self) -> int:
        return time.monotonic_ns()
