"""The keep-alive pool: idle ``Connection`` objects per origin, slots and a FIFO queue.

A request takes a ``Ticket`` from ``Pool.checkout``. A granted ticket holds a
slot of its origin: with an idle connection (``ticket.conn``, reused) or
without (the caller opens a fresh one). When every slot of the origin (or of
the pool) is taken, the ticket waits in one FIFO shared by all origins, so
nodes are served in the order they asked. ``checkin`` gives the slot back,
with the connection if it can carry another request; ``cancel`` withdraws a
waiting or granted ticket. Both hand freed slots to the oldest waiters.

The pool does no I/O per frame: idle connections are only looked at when a
request asks for their origin (one non-blocking peek), and expire by their
timestamps. One lock makes it safe for ``use_threads`` workers. A request
collected by the garbage collector may run at any allocation, even inside the
lock: it only queues its ticket (``abandon``), and the next call settles it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from gdhttp import limits
from gdhttp.connection import Connection

__all__ = ["Pool", "PoolKey", "Ticket", "TicketState"]


@dataclass(frozen=True)
class PoolKey:
    """What two requests must share to share a connection."""

    scheme: str
    host: str
    port: int
    #: The TLS settings (``tls.TlsSettings``, verify applied) for https, else None:
    #: a pinned and an unpinned origin never share.
    tls: Any
    #: The proxy (``config.Proxy``) the connection goes through, or None.
    proxy: Any


class TicketState(Enum):
    WAITING = "waiting"
    GRANTED = "granted"
    DONE = "done"  # checked in or cancelled


@dataclass(eq=False)
class Ticket:
    key: PoolKey
    state: TicketState = TicketState.WAITING
    #: An idle connection handed over with the grant (None: open a fresh one).
    conn: Connection | None = None
    queued_at: float = field(default_factory=time.monotonic)


class Pool:
    """Slots and idle connections per ``PoolKey``; see the module doc."""

    def __init__(self, per_origin: int = limits.DEFAULT_POOL_PER_ORIGIN,
                 total: int = limits.DEFAULT_POOL_TOTAL,
                 idle_timeout: float = limits.DEFAULT_POOL_IDLE_S) -> None:
        self.per_origin, self.total, self.idle_timeout = per_origin, total, idle_timeout
        self._lock = threading.Lock()
        self._idle: dict[PoolKey, deque[tuple[Connection, float]]] = {}
        self._busy: dict[PoolKey, int] = {}  # granted tickets per key
        self._waiting: deque[Ticket] = deque()
        self._abandoned: deque[Ticket] = deque()  # appended without the lock (GC)
        self.opened = self.reused = self.queued = self.retried = self.expired = 0

    # ------------------------------------------------------------------ counts

    def _open_count(self, key: PoolKey) -> int:
        return self._busy.get(key, 0) + len(self._idle.get(key, ()))

    def _total_count(self) -> int:
        return sum(self._busy.values()) + sum(len(q) for q in self._idle.values())

    def stats(self) -> dict[str, int]:
        self.settle()
        with self._lock:
            return {
                "opened": self.opened, "reused": self.reused, "queued": self.queued,
                "retried": self.retried, "expired": self.expired,
                "active": sum(self._busy.values()),
                "idle": sum(len(q) for q in self._idle.values()),
                "waiting": len(self._waiting),
            }

    # ------------------------------------------------------------------ requests

    def checkout(self, key: PoolKey) -> Ticket:
        """A ticket for ``key``: granted now (maybe with an idle connection) or waiting."""
        ticket = Ticket(key)
        doomed: list[Connection] = []
        self.settle()
        with self._lock:
            self._expire(time.monotonic(), doomed)
            if self._waiting or not self._grant(ticket, doomed):
                self._waiting.append(ticket)
                self.queued += 1
                self._serve(doomed)  # the queue may have been empty only for this key
        _close_all(doomed)
        return ticket

    def checkin(self, ticket: Ticket, conn: Connection | None) -> None:
        """Give a granted ticket's slot back, with ``conn`` if it can be reused."""
        doomed: list[Connection] = []
        with self._lock:
            if ticket.state is TicketState.WAITING:
                self._waiting.remove(ticket)
            elif ticket.state is TicketState.GRANTED:
                self._busy[ticket.key] -= 1
                if conn is not None and conn.is_reusable and self.idle_timeout > 0:
                    self._idle.setdefault(ticket.key, deque()).append((conn, time.monotonic()))
                    conn = None
            ticket.state, ticket.conn = TicketState.DONE, None
            self._serve(doomed)
        if conn is not None:
            doomed.append(conn)
        _close_all(doomed)

    def abandon(self, ticket: Ticket) -> None:
        """From a finalizer: withdraw ``ticket`` at the next pool call (its connection
        is closed by its own client)."""
        self._abandoned.append(ticket)

    def settle(self) -> None:
        """Withdraw the abandoned tickets (cheap when there are none)."""
        while self._abandoned:
            try:
                ticket = self._abandoned.popleft()
            except IndexError:
                return
            self.cancel(ticket)  # an attached connection is its client's to close

    def cancel(self, ticket: Ticket) -> None:
        """Withdraw a ticket (waiting or granted); an unused handed-over connection is kept."""
        self.checkin(ticket, ticket.conn)

    def adopt_idle(self, key: PoolKey, conn: Connection) -> None:
        """A ready connection opened outside the pool (an HTTP/2 attempt that ALPN
        answered with HTTP/1.1) joins the idle ones, if there is room."""
        doomed: list[Connection] = []
        with self._lock:
            self.opened += 1
            if self.idle_timeout > 0 and self._total_count() < self.total:
                self._idle.setdefault(key, deque()).append((conn, time.monotonic()))
            else:
                doomed.append(conn)
            self._serve(doomed)
        _close_all(doomed)

    def count_opened(self, retry: bool = False) -> None:
        with self._lock:
            self.opened += 1
            self.retried += retry

    def clear(self) -> None:
        """Close every idle connection (running requests keep theirs)."""
        with self._lock:
            doomed = [conn for queue in self._idle.values() for conn, _ in queue]
            self._idle.clear()
            self._serve(doomed)
        _close_all(doomed)

    # ------------------------------------------------------------------ under the lock

    def _grant(self, ticket: Ticket, doomed: list[Connection]) -> bool:
        """Grant ``ticket`` if its origin and the pool have room (lock held)."""
        key = ticket.key
        idle = self._idle.get(key)
        while idle:
            conn, _ = idle.pop()  # the most recent one: the least likely to be closed
            # Liveness check: one non-blocking peek, only when a request asks for it.
            if conn.is_alive() and not conn.has_stray_input():
                self._busy[key] = self._busy.get(key, 0) + 1
                # conn before state: a worker thread reads state without the lock.
                ticket.conn = conn
                ticket.state = TicketState.GRANTED
                # One adopted from an HTTP/2 attempt (ALPN chose HTTP/1.1) carries its
                # first request now: counted as opened, not as reused.
                self.reused += conn.requests > 0
                return True
            doomed.append(conn)
        if self._open_count(key) >= self.per_origin:
            return False
        if self._total_count() >= self.total and not self._evict_one(doomed):
            return False
        self._busy[key] = self._busy.get(key, 0) + 1
        ticket.state = TicketState.GRANTED
        return True

    def _evict_one(self, doomed: list[Connection]) -> bool:
        """Close the oldest idle connection of any origin to free a slot of the pool."""
        oldest: tuple[float, PoolKey] | None = None
        for key, queue in self._idle.items():
            if queue and (oldest is None or queue[0][1] < oldest[0]):
                oldest = (queue[0][1], key)
        if oldest is None:
            return False
        doomed.append(self._idle[oldest[1]].popleft()[0])
        return True

    def _serve(self, doomed: list[Connection]) -> None:
        """Grant waiting tickets in FIFO order while they fit (lock held)."""
        if not self._waiting:
            return
        keep: deque[Ticket] = deque()
        blocked: set[PoolKey] = set()
        for ticket in self._waiting:
            # Once an origin's oldest waiter is refused, its younger ones wait too (FIFO).
            if ticket.key in blocked or not self._grant(ticket, doomed):
                blocked.add(ticket.key)
                keep.append(ticket)
        self._waiting = keep

    def _expire(self, now: float, doomed: list[Connection]) -> None:
        for key in list(self._idle):
            queue = self._idle[key]
            while queue and now - queue[0][1] >= self.idle_timeout:
                doomed.append(queue.popleft()[0])
                self.expired += 1
            if not queue:
                del self._idle[key]

    def set_limits(self, per_origin: int, total: int) -> None:
        doomed: list[Connection] = []
        with self._lock:
            self.per_origin, self.total = per_origin, total
            self._serve(doomed)
        _close_all(doomed)


def _close_all(conns: list[Connection]) -> None:
    for conn in conns:  # outside the lock: closing a TLS socket may take a moment
        conn.close()
