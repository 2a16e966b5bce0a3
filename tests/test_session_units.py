"""The pool's bookkeeping with real Connections over socket pairs: FIFO across origins,
the total limit, eviction, limits raised while requests wait, abandoned tickets."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gdhttp import limits
from gdhttp.config import ClientConfig
from gdhttp.connection import Connection
from gdhttp.constants import Error
from gdhttp.pool import Pool, PoolKey, TicketState
from gdhttp.request import HTTPRequest
from gdhttp.session import Session
from gdhttp.transport import SocketStream
from sessionutil import run_one

from servers.raw import close, read_request, send, send_slowly

A = PoolKey("http", "a.test", 80, None, None)
B = PoolKey("http", "b.test", 80, None, None)


@pytest.fixture
def pairs() -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    made: list[tuple[socket.socket, socket.socket]] = []
    yield made
    for ours, theirs in made:
        ours.close()
        theirs.close()


def connection(pairs: list[tuple[socket.socket, socket.socket]]) -> Connection:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    pairs.append((ours, theirs))
    conn = Connection.adopt(SocketStream(ours), ClientConfig())
    conn.requests = 1  # checked in after carrying a request, as the pool sees them
    return conn


def test_fifo_across_origins_under_the_total_limit(pairs: list[tuple[socket.socket,
                                                                     socket.socket]]) -> None:
    pool = Pool(per_origin=2, total=2)
    first, second = pool.checkout(A), pool.checkout(A)
    waiting_b, waiting_a = pool.checkout(B), pool.checkout(A)
    assert [t.state for t in (first, second, waiting_b, waiting_a)] == [
        TicketState.GRANTED, TicketState.GRANTED, TicketState.WAITING, TicketState.WAITING]
    pool.checkin(first, None)  # the oldest waiter (B) goes first, though A asked again
    assert (waiting_b.state, waiting_a.state) == (TicketState.GRANTED, TicketState.WAITING)
    pool.checkin(second, connection(pairs))  # an idle A connection: handed to the A waiter
    assert waiting_a.state is TicketState.GRANTED and waiting_a.conn is not None
    assert pool.stats()["reused"] == 1 and pool.stats()["queued"] == 2


def test_idle_connection_of_another_origin_is_evicted_for_room(
        pairs: list[tuple[socket.socket, socket.socket]]) -> None:
    pool = Pool(per_origin=4, total=1)
    ticket = pool.checkout(A)
    conn = connection(pairs)
    pool.checkin(ticket, conn)
    assert pool.stats()["idle"] == 1
    b = pool.checkout(B)
    assert b.state is TicketState.GRANTED and b.conn is None
    assert pool.stats()["idle"] == 0 and conn.stream is None  # closed


def test_dead_idle_connection_is_dropped_at_checkout(
        pairs: list[tuple[socket.socket, socket.socket]]) -> None:
    pool = Pool()
    ticket = pool.checkout(A)
    conn = connection(pairs)
    pool.checkin(ticket, conn)
    pairs[-1][1].close()  # the server side goes away while idle
    again = pool.checkout(A)
    assert again.state is TicketState.GRANTED and again.conn is None
    assert conn.stream is None and pool.stats()["reused"] == 0


def test_raising_the_limit_serves_waiters_and_cancel_leaves_the_queue() -> None:
    session = Session(max_per_origin=1)
    pool = session.pool
    held, w1, w2 = pool.checkout(A), pool.checkout(A), pool.checkout(A)
    pool.cancel(w1)
    assert w1.state is TicketState.DONE and pool.stats()["waiting"] == 1
    assert session.set_max_per_origin(2) == 0
    assert w2.state is TicketState.GRANTED
    for t in (held, w2):
        pool.checkin(t, None)
    assert pool.stats()["active"] == 0


def test_abandoned_tickets_are_settled_at_the_next_call() -> None:
    pool = Pool(per_origin=1)
    held, waiting = pool.checkout(A), pool.checkout(A)
    pool.abandon(held)
    assert held.state is TicketState.GRANTED  # nothing done in the finalizer itself
    assert pool.stats()["waiting"] == 0 and waiting.state is TicketState.GRANTED
    pool.checkin(waiting, None)
    pool.checkin(waiting, None)  # twice: harmless
    assert pool.stats()["active"] == 0


@pytest.mark.parametrize("bad", [0, -1, 1025, True, 2.5, "3"])
def test_session_limits_refuse_bad_values(bad: object) -> None:
    session = Session()
    assert session.set_max_per_origin(bad) != 0  # type: ignore[arg-type]
    assert session.set_max_total(bad) != 0  # type: ignore[arg-type]
    assert (session.get_max_per_origin(), session.get_max_total()) == (6, 64)


@pytest.mark.parametrize("bad", [-1, float("inf"), float("nan"), True, "1"])
def test_idle_timeout_refuses_bad_values(bad: object) -> None:
    session = Session()
    assert session.set_idle_timeout(bad) != 0  # type: ignore[arg-type]
    assert session.get_idle_timeout() == 30.0


def test_set_session_checks_type_and_busy() -> None:
    r = HTTPRequest(session=None)
    assert r.set_session("default") == Error.ERR_INVALID_PARAMETER  # type: ignore[arg-type]
    assert "gdhttp.Session" in r.get_error_message()
    session = Session(max_per_origin=1)
    blocker = session.pool.checkout(PoolKey("http", "127.0.0.1", 9, None, None))
    assert r.set_session(session) == Error.OK and r.session is session
    assert r.request("http://127.0.0.1:9/") == Error.OK  # queued behind the blocker
    assert r.set_session(None) == Error.ERR_BUSY
    r.cancel_request()
    assert session.get_stats()["waiting"] == 0
    session.pool.checkin(blocker, None)
    assert r.set_session(None) == Error.OK and r.get_session() is None


@pytest.mark.parametrize("slowly", [False, True])
@pytest.mark.parametrize("session", [None, "own"])
def test_close_delimited_body_ending_at_the_step_deadline(
        raw_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, slowly: bool,
        session: str | None) -> None:
    """Every step out of time at once: the read that meets the close ends the step, and
    the next one must finish the body, not report RESULT_CANT_CONNECT (a race once)."""
    body = b"until-close " * 20
    head = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
    answer = send_slowly(head + body, 7, 0.001) if slowly else send(head + body)
    srv = raw_server([read_request(), answer, close()])
    monkeypatch.setattr(limits, "STEP_TIME_BUDGET_S", 0.0)
    r = HTTPRequest(session=Session() if session else None)
    result, code, _, got = run_one(r, srv.url("/"))
    assert (result, code, got) == (0, 200, body)


def test_a_connection_that_never_carried_a_request_is_not_counted_as_reused(
        pairs: list[tuple[socket.socket, socket.socket]]) -> None:
    # An HTTP/2 attempt that ALPN answered with HTTP/1.1 hands its ready connection over.
    pool = Pool(per_origin=2, total=2)
    fresh = connection(pairs)
    fresh.requests = 0
    pool.adopt_idle(A, fresh)
    ticket = pool.checkout(A)
    assert ticket.state is TicketState.GRANTED and ticket.conn is fresh
    assert (pool.stats()["opened"], pool.stats()["reused"]) == (1, 0)
    pool.checkin(ticket, fresh)
    fresh.requests = 1
    again = pool.checkout(A)
    assert again.conn is fresh and pool.stats()["reused"] == 1
