"""Hostile HTTP/2 servers (tests/servers/h2hostile.py): each ends in a clear result, in time,
with bounded memory, and no process() call longer than ~5 ms of CPU."""

from __future__ import annotations

import resource
from collections.abc import Iterator

import pytest

from gdhttp.constants import Result
from gdhttp.h2conn import LinkState
from gdhttp.session import Session
from h2util import MAX_CALL_CPU_S, Run, drive, h2_requests

from servers.h2hostile import h2_server
from servers.raw import RawServer
from servers.tlsutil import TLSMaterial

#: Peak RSS may grow at most this much in one hostile case (16 MiB bombs stay far below).
MAX_RSS_GROWTH_KB = 64 * 1024


@pytest.fixture
def serve(tls_material: TLSMaterial) -> Iterator[object]:
    servers: list[RawServer] = []

    def start(*names: str) -> RawServer:
        srv = h2_server(tls_material, *names)
        servers.append(srv)
        return srv
    yield start
    for srv in servers:
        srv.close()


def _run(tls: TLSMaterial, srv: RawServer, count: int = 1, path: str = "/x", *,
         session: Session | None = None, limit_s: float = 20.0, **kwargs: object) -> Run:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    session, reqs = h2_requests(tls.ca_pem_path, count, session)
    run = drive(reqs, [srv.url(f"{path}{i}") for i in range(count)], limit_s=limit_s, **kwargs)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(f"\n{path}: {run.elapsed * 1000:.0f} ms, slowest process() "
          f"{run.slowest_cpu * 1000:.2f} ms CPU / {run.slowest_wall * 1000:.2f} ms wall, "
          f"rss +{grown} KiB, results {[c[0] for c in run.completions]}: {run.messages[0]!r}")
    assert run.slowest_cpu <= MAX_CALL_CPU_S, run.slowest_cpu
    assert grown < MAX_RSS_GROWTH_KB
    return run


def _results(run: Run) -> set[int]:
    return {c[0] for c in run.completions}


def test_well_behaved_server_multiplexes_on_one_connection(serve, tls_material) -> None:
    srv = serve("ok")
    run = _run(tls_material, srv, 16, "/ok")
    assert _results(run) == {Result.RESULT_SUCCESS}
    assert [c[3] for c in run.completions] == [b"ok /ok%d" % i for i in range(16)]
    assert len(srv.connections) == 1


def test_rapid_reset_fails_each_stream_clearly(serve, tls_material) -> None:
    srv = serve("rapid_reset")
    run = _run(tls_material, srv, 32, "/reset")
    assert _results(run) == {Result.RESULT_CONNECTION_ERROR}
    assert all("reset the HTTP/2 stream (CANCEL)" in m for m in run.messages)
    assert len(srv.connections) == 1


def test_refused_streams_are_retried_a_bounded_number_of_times(serve, tls_material) -> None:
    srv = serve("refuse_all")
    session = Session(http2=True)
    run = _run(tls_material, srv, 4, "/refused", session=session)
    assert _results(run) == {Result.RESULT_CONNECTION_ERROR}
    assert all("refused the HTTP/2 stream (REFUSED_STREAM)" in m for m in run.messages)
    # Each request: the first try and H2_MAX_RETRIES more, all on the one connection.
    assert session.get_stats()["h2_retried"] == 4 * 2
    assert session.get_stats()["h2_streams"] == 4 * 3


def test_zero_window_upload_ends_by_the_request_timeout(serve, tls_material) -> None:
    srv = serve("zero_window")
    _, reqs = h2_requests(tls_material.ca_pem_path, 1, timeout=1.0)
    run = drive(reqs, [srv.url("/upload")], method=2, body=b"u" * 100_000, limit_s=10)
    assert run.completions[0][0] == Result.RESULT_TIMEOUT
    assert 1.0 <= run.elapsed < 3.0
    assert reqs[0].get_client().get_uploaded_bytes() == 0  # the HTTPClient sent nothing
    assert run.slowest_cpu <= MAX_CALL_CPU_S


@pytest.mark.parametrize("behaviour", ["huge_hpack", "header_bomb"])
def test_header_attacks_end_in_a_protocol_error(serve, tls_material, behaviour) -> None:
    srv = serve(behaviour)
    run = _run(tls_material, srv, 1, f"/{behaviour}")
    assert run.completions[0][0] == Result.RESULT_CONNECTION_ERROR
    assert "HTTP/2 protocol error" in run.messages[0]
    assert run.elapsed < 5


@pytest.mark.parametrize("behaviour,frame", [("settings_flood", "SETTINGS"),
                                             ("ping_flood", "PING")])
def test_control_frame_floods_close_the_connection(serve, tls_material, behaviour,
                                                   frame) -> None:
    srv = serve(behaviour)
    session = Session(http2=True)
    run = _run(tls_material, srv, 2, f"/{behaviour}", session=session)
    assert _results(run) == {Result.RESULT_CONNECTION_ERROR}
    assert f"HTTP/2 {frame} flood" in run.messages[0]
    assert session.get_stats()["h2_open"] == 0
    assert run.elapsed < 5


def test_flood_after_fast_data_is_fed_in_small_slices(serve, tls_material) -> None:
    srv = serve("data_then_ping_flood")
    run = _run(tls_material, srv, 1, "/fast-then-flood")
    assert run.completions[0][0] == Result.RESULT_CONNECTION_ERROR
    assert "HTTP/2 PING flood" in run.messages[0]


def test_goaway_mid_stream_finishes_the_last_stream_and_retries_the_rest(
        serve, tls_material) -> None:
    srv = serve("goaway_mid_stream", "ok")
    session = Session(http2=True)
    run = _run(tls_material, srv, 4, "/goaway", session=session)
    assert _results(run) == {Result.RESULT_SUCCESS}
    # The processed stream (whichever request went first) completes across the GOAWAY;
    # the others were answered by the second connection.
    bodies = [c[3] for c in run.completions]
    assert bodies.count(b"x" * 20_000) == 1
    assert sorted(b for b in bodies if b != b"x" * 20_000) == \
        sorted(b"ok /goaway%d" % i for i in range(4) if bodies[i] != b"x" * 20_000)
    stats = session.get_stats()
    assert stats["h2_connections"] == 2 and stats["h2_retried"] == 3
    assert len(srv.connections) == 2


def test_data_after_end_stream_keeps_the_complete_response(serve, tls_material) -> None:
    srv = serve("data_after_end")
    session = Session(http2=True)
    first = _run(tls_material, srv, 1, "/first", session=session)
    second = _run(tls_material, srv, 1, "/second", session=session)
    assert first.completions[0][:2] == (Result.RESULT_SUCCESS, 200)
    assert first.completions[0][3] == b"ok /first0"
    assert second.completions[0][3] == b"ok /second0"  # the connection survived
    assert session.get_stats()["h2_connections"] == 1


def test_push_promise_with_push_disabled_is_a_protocol_error(serve, tls_material) -> None:
    srv = serve("push_promise")
    session = Session(http2=True)
    run = _run(tls_material, srv, 1, "/push", session=session)
    assert run.completions[0][0] == Result.RESULT_CONNECTION_ERROR
    assert "HTTP/2 protocol error: Received pushed stream" in run.messages[0]
    # Our GOAWAY(PROTOCOL_ERROR) reached the server.
    conn = srv.wait_done(1, timeout=10)[0]
    assert b"\x00\x00\x00\x01" in bytes(conn.received)  # error code 1 = PROTOCOL_ERROR


def test_invalid_preface_is_a_protocol_error(serve, tls_material) -> None:
    srv = serve("invalid_preface")
    session = Session(http2=True)
    run = _run(tls_material, srv, 3, "/preface", session=session)
    assert _results(run) == {Result.RESULT_CONNECTION_ERROR}
    assert "HTTP/2 protocol error: invalid preface" in run.messages[0]
    assert all(link.state is LinkState.CLOSED for link in session.h2._links.values())


def test_idle_connection_closed_by_the_server_is_replaced(serve, tls_material) -> None:
    srv = serve("one_then_close", "ok")
    session = Session(http2=True)
    first = _run(tls_material, srv, 1, "/first", session=session)
    srv.wait_done(1, timeout=10)  # the server closed its end (no GOAWAY)
    second = _run(tls_material, srv, 1, "/second", session=session)
    assert first.completions[0][3] == b"ok /first0"
    assert second.completions[0][3] == b"ok /second0"
    stats = session.get_stats()
    assert stats["h2_connections"] == 2 and stats["h2_retried"] == 0


@pytest.mark.parametrize("method,result", [(0, Result.RESULT_SUCCESS),
                                           (2, Result.RESULT_CONNECTION_ERROR)])
def test_dropped_unanswered_request_is_retried_only_if_idempotent(
        serve, tls_material, method, result) -> None:
    srv = serve("close_on_second", "ok")
    session, reqs = h2_requests(tls_material.ca_pem_path, 2)
    first = drive(reqs[:1], [srv.url("/first")])
    assert first.completions[0][0] == Result.RESULT_SUCCESS
    second = drive(reqs[1:], [srv.url("/second")], method=method, body=b"x" if method else b"")
    assert second.completions[0][0] == result, second.messages
    assert session.get_stats()["h2_retried"] == (1 if method == 0 else 0)


def test_server_stream_limit_queues_the_excess(serve, tls_material) -> None:
    srv = serve("four_streams")
    session = Session(http2=True)
    # One first, so the SETTINGS are known (before them a client may open 100, and this
    # strict server would fail on the fifth instead of refusing it).
    _run(tls_material, srv, 1, "/first", session=session)
    run = _run(tls_material, srv, 16, "/four", session=session)
    assert [c[3] for c in run.completions] == [b"ok /four%d" % i for i in range(16)]
    stats = session.get_stats()
    assert stats["h2_connections"] == 1 and stats["h2_streams"] == 17
    assert stats["h2_queued"] >= 1  # some waited for a free stream
    assert srv.connections[0].error is None  # h2 on the server saw no fifth stream


def test_server_header_list_limit_refuses_a_larger_request(serve, tls_material) -> None:
    srv = serve("small_header_list")
    session = Session(http2=True)
    first = _run(tls_material, srv, 1, "/small", session=session)  # brings the SETTINGS
    assert first.completions[0][0] == Result.RESULT_SUCCESS
    second = _run(tls_material, srv, 1, "/big", session=session,
                  headers=["X-Big: " + "b" * 800])
    assert second.completions[0][0] == Result.RESULT_CONNECTION_ERROR
    assert "exceeds the server's SETTINGS_MAX_HEADER_LIST_SIZE (600)" in second.messages[0]
    third = _run(tls_material, srv, 1, "/small-again", session=session)
    assert third.completions[0][3] == b"ok /small-again0"  # the connection is fine
