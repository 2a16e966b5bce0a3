"""The keep-alive pool against real nginx (connections counted from its access log) and
raw servers that close idle connections at chosen moments."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gdhttp.constants import Method, Result, Status
from gdhttp.request import HTTPRequest
from gdhttp.session import Session, default_session
from gdhttp.tls import spki_sha256
from sessionutil import nginx_connections, run_all, run_one

from servers.nginx import NginxServer, start_nginx
from servers.raw import close, http_response, read_request, send, send_slowly
from servers.raw import sleep as time_pause

OK = int(Result.RESULT_SUCCESS)


@pytest.fixture(scope="module")
def short_nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxServer]:
    """nginx that closes idle connections after 1 s and after 3 requests on one connection."""
    server = start_nginx(
        [("http", None)], prefix=tmp_path_factory.mktemp("nginx-short"),
        extra={"http": "        keepalive_timeout 1s; keepalive_requests 3;"})
    yield server
    server.stop()


def test_default_session_is_shared() -> None:
    assert HTTPRequest().get_session() is default_session()
    assert HTTPRequest().get_session() is HTTPRequest().get_session()
    assert HTTPRequest(session=None).get_session() is None


def test_sequential_requests_reuse_one_connection(short_nginx: NginxServer) -> None:
    session = Session()
    r = HTTPRequest(session=session)
    for i in range(3):
        result, code, _, body = run_one(r, short_nginx.url(f"/files/1k.bin?seq={i}"))
        assert (result, code, len(body)) == (OK, 200, 1024)
    seen = nginx_connections(short_nginx.access_log, "seq=")
    assert len(seen) == 3 and len(set(seen)) == 1, seen
    stats = session.get_stats()
    assert (stats["opened"], stats["reused"], stats["idle"]) == (1, 2, 0)  # 3rd closes it


def test_server_limits_match_session_stats(short_nginx: NginxServer) -> None:
    """keepalive_requests 3: 7 requests need 3 connections; the session saw the same."""
    session = Session()
    r = HTTPRequest(session=session)
    for i in range(7):
        assert run_one(r, short_nginx.url(f"/?limit={i}"))[0] == OK
    seen = nginx_connections(short_nginx.access_log, "limit=")
    assert len(seen) == 7
    assert session.get_stats()["opened"] == len(set(seen)) == 3
    assert session.get_stats()["reused"] == 4


def test_idle_connection_closed_by_server_is_not_reused(short_nginx: NginxServer) -> None:
    session = Session()
    r = HTTPRequest(session=session)
    assert run_one(r, short_nginx.url("/?idle=1"))[0] == OK
    time.sleep(1.6)  # nginx's keepalive_timeout is 1 s: it closed the idle connection
    assert run_one(r, short_nginx.url("/?idle=2"))[0] == OK
    seen = nginx_connections(short_nginx.access_log, "idle=")
    assert len(set(seen)) == 2
    stats = session.get_stats()
    assert (stats["opened"], stats["reused"], stats["retried"]) == (2, 0, 0)


def test_idle_expiry_closes_without_asking(short_nginx: NginxServer) -> None:
    session = Session(idle_timeout=0.2)
    r = HTTPRequest(session=session)
    assert run_one(r, short_nginx.url("/?expiry=1"))[0] == OK
    assert session.get_stats()["idle"] == 1
    time.sleep(0.3)
    assert run_one(r, short_nginx.url("/?expiry=2"))[0] == OK
    stats = session.get_stats()
    assert (stats["opened"], stats["reused"], stats["expired"]) == (2, 0, 1)


def test_many_nodes_queue_fifo_within_the_origin_limit(short_nginx: NginxServer) -> None:
    session = Session(max_per_origin=2)
    nodes = [HTTPRequest(session=session) for _ in range(8)]
    results = run_all(nodes, [short_nginx.url(f"/files/1k.bin?many={i}") for i in range(8)])
    assert all(res == OK and code == 200 and len(body) == 1024
               for res, code, _, body in results)
    stats = session.get_stats()
    assert stats["queued"] == 6 and stats["waiting"] == 0 and stats["active"] == 0
    seen = nginx_connections(short_nginx.access_log, "many=")
    assert len(seen) == 8 and stats["opened"] == len(set(seen)) <= 4  # 2 at once, 3 req each
    assert stats["opened"] + stats["reused"] == 8


def test_no_session_opens_one_connection_per_request(short_nginx: NginxServer) -> None:
    r = HTTPRequest(session=None)
    for i in range(2):
        assert run_one(r, short_nginx.url(f"/?nosession={i}"))[0] == OK
    assert len(set(nginx_connections(short_nginx.access_log, "nosession="))) == 2


def test_cancel_while_queued_frees_the_queue(short_nginx: NginxServer) -> None:
    session = Session(max_per_origin=1)
    first, queued, third = (HTTPRequest(session=session) for _ in range(3))
    assert first.request(short_nginx.url("/slow/64k.bin?q=1")) == 0
    assert queued.request(short_nginx.url("/?q=2")) == 0
    assert session.get_stats()["waiting"] == 1
    queued.cancel_request()
    assert session.get_stats()["waiting"] == 0
    first.cancel_request()  # mid-request: the connection is closed, the slot freed
    assert session.get_stats()["active"] == 0
    assert run_one(third, short_nginx.url("/?q=3"))[0] == OK
    assert not queued.is_requesting()


def test_freed_nodes_leave_the_pool_consistent(short_nginx: NginxServer) -> None:
    session = Session(max_per_origin=1)
    running, waiting = HTTPRequest(session=session), HTTPRequest(session=session)
    assert running.request(short_nginx.url("/slow/64k.bin?free=1")) == 0
    assert waiting.request(short_nginx.url("/?free=2")) == 0
    del running, waiting  # as a freed node: __del__ gives everything back
    stats = session.get_stats()
    assert (stats["active"], stats["waiting"]) == (0, 0)
    assert run_one(HTTPRequest(session=session), short_nginx.url("/?free=3"))[0] == OK


def test_timeout_while_queued(short_nginx: NginxServer) -> None:
    session = Session(max_per_origin=1)
    busy, late = HTTPRequest(session=session), HTTPRequest(session=session)
    late.set_timeout(0.2)
    assert busy.request(short_nginx.url("/slow/1m.bin?t=1")) == 0
    result = run_one(late, short_nginx.url("/?t=2"))
    assert result[0] == int(Result.RESULT_TIMEOUT)
    assert session.get_stats()["waiting"] == 0
    busy.cancel_request()


def _stale_script(answer_second: bool) -> list[Any]:
    """Connection 0 answers once, then reads the next request and closes unanswered."""
    ok = http_response(200, b"first")
    return [[read_request(), send(ok), read_request(), close()],
            [read_request(), send(http_response(200, b"again"))]]


def test_stale_connection_is_retried_once_for_get(raw_server: Callable[..., Any]) -> None:
    srv = raw_server(scripts=_stale_script(True))
    session = Session()
    r = HTTPRequest(session=session)
    assert run_one(r, srv.url("/a"))[3] == b"first"
    result, code, _, body = run_one(r, srv.url("/b"))
    assert (result, code, body) == (OK, 200, b"again")
    assert len(srv.connections) == 2
    stats = session.get_stats()
    assert (stats["opened"], stats["reused"], stats["retried"]) == (2, 1, 1)


@pytest.mark.parametrize("method", [Method.METHOD_POST, Method.METHOD_PATCH])
def test_non_idempotent_request_is_never_retried(raw_server: Callable[..., Any],
                                                 method: Method) -> None:
    srv = raw_server(scripts=_stale_script(True))
    session = Session()
    r = HTTPRequest(session=session)
    assert run_one(r, srv.url("/a"))[0] == OK
    result, code, _, _ = run_one(r, srv.url("/b"), method=int(method), body="x=1")
    assert (result, code) == (int(Result.RESULT_CONNECTION_ERROR), 0)
    time.sleep(0.2)
    assert len(srv.connections) == 1  # nothing sent a second time
    assert session.get_stats()["retried"] == 0


def test_fresh_connection_failure_is_not_retried(raw_server: Callable[..., Any]) -> None:
    srv = raw_server(scripts=[[read_request(), close()]])
    r = HTTPRequest(session=Session())
    assert run_one(r, srv.url("/x"))[0] != OK
    time.sleep(0.2)
    assert len(srv.connections) == 1


def test_closed_before_reuse_is_caught_by_the_liveness_check(
        raw_server: Callable[..., Any]) -> None:
    srv = raw_server(scripts=[[read_request(), send(http_response(200, b"one")), close()],
                              [read_request(), send(http_response(200, b"two"))]])
    session = Session()
    r = HTTPRequest(session=session)
    assert run_one(r, srv.url("/1"))[3] == b"one"
    srv.wait_done(1)
    time.sleep(0.05)
    assert run_one(r, srv.url("/2"))[3] == b"two"
    stats = session.get_stats()
    assert (stats["opened"], stats["reused"], stats["retried"]) == (2, 0, 0)


def test_tls_settings_separate_keys(nginx_https: Any) -> None:
    """Two sessions never share; in one session, pinned / unpinned / unverified differ."""
    ca = Path(nginx_https.ca_pem_path).read_text()
    session = Session()

    def node(**tls: Any) -> HTTPRequest:
        r = HTTPRequest(session=session)
        client = r.get_client()
        assert client.set_trusted_certificates(ca) == 0
        if "pins" in tls:
            assert client.set_pinned_public_keys(tls["pins"]) == 0
        return r

    ctx = ssl.create_default_context(cafile=str(nginx_https.ca_pem_path))
    with socket.create_connection((nginx_https.host, nginx_https.port), 5) as raw, \
            ctx.wrap_socket(raw, server_hostname=nginx_https.host) as tls_sock:
        pin = spki_sha256(tls_sock.getpeercert(binary_form=True) or b"").hex()
    url = nginx_https.url("/?tls=1")
    assert run_one(node(), url)[0] == OK
    assert run_one(node(pins=[pin]), url)[0] == OK
    assert run_one(node(), url)[0] == OK  # the unpinned one again: reused
    stats = session.get_stats()
    assert (stats["opened"], stats["reused"]) == (2, 1)
    other = Session()
    r = HTTPRequest(session=other)
    r.get_client().set_trusted_certificates(ca)
    assert run_one(r, url)[0] == OK
    assert other.get_stats()["opened"] == 1 and session.get_stats()["reused"] == 1


class _CountingStream:
    """Wraps a pooled connection's stream and counts every call made on it."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0

    def __getattr__(self, name: str) -> Any:
        self.calls += 1
        return getattr(self.inner, name)


def test_idle_connections_cost_nothing_per_frame(short_nginx: NginxServer,
                                                 raw_server: Callable[..., Any]) -> None:
    session = Session()
    r = HTTPRequest(session=session)
    assert run_one(r, short_nginx.url("/?frames=1"))[0] == OK
    ((conn, _),) = [item for queue in session.pool._idle.values() for item in queue]
    counting = _CountingStream(conn.stream)
    conn.stream = counting  # type: ignore[assignment]
    # Another origin's request stepped over many frames, and idle nodes processed.
    slow = raw_server([read_request(), time_pause(0.3), send(http_response(200, b"late"))])
    other = HTTPRequest(session=session)
    assert run_one(other, slow.url("/late"))[3] == b"late"
    for _ in range(100):
        r.process(0.016)
    assert counting.calls == 0
    # It is looked at (one liveness peek) only when a request asks for its origin.
    assert run_one(r, short_nginx.url("/?frames=2"))[0] == OK
    assert counting.calls > 0 and session.get_stats()["reused"] == 1


def test_stray_bytes_on_an_idle_connection_are_never_a_response(
        raw_server: Callable[..., Any]) -> None:
    forged = http_response(200, b"forged")
    srv = raw_server(scripts=[[read_request(), send(http_response(200, b"one") + forged),
                               read_request(), send(http_response(200, b"two"))],
                              [read_request(), send(http_response(200, b"fresh"))]])
    session = Session()
    r = HTTPRequest(session=session)
    assert run_one(r, srv.url("/1"))[3] == b"one"
    time.sleep(0.05)
    result, code, _, body = run_one(r, srv.url("/2"))
    assert (result, code, body) == (OK, 200, b"fresh")
    assert session.get_stats()["reused"] == 0


def test_queued_request_reports_connecting(short_nginx: NginxServer) -> None:
    session = Session(max_per_origin=1)
    busy, queued = HTTPRequest(session=session), HTTPRequest(session=session)
    assert busy.request(short_nginx.url("/slow/odd-100003.bin?status=1")) == 0
    assert queued.request(short_nginx.url("/?status=2")) == 0
    assert queued.get_http_client_status() == Status.STATUS_CONNECTING  # as a fresh connect
    busy.cancel_request()
    queued.cancel_request()
    assert queued.get_http_client_status() == Status.STATUS_DISCONNECTED


@pytest.mark.parametrize("partial", [b"H", b"HTTP/1.1 200 OK\r\nContent-Le"])
@pytest.mark.parametrize("slowly", [False, True])
def test_no_retry_once_a_response_byte_arrived(raw_server: Callable[..., Any], partial: bytes,
                                               slowly: bool) -> None:
    """The retry rule's edge: one byte of an answer means the server saw the request."""
    answer = send_slowly(partial, 1, 0.005) if slowly else send(partial)
    srv = raw_server(scripts=[[read_request(), send(http_response(200, b"first")),
                               read_request(), answer, close()],
                              [read_request(), send(http_response(200, b"again"))]])
    session = Session()
    r = HTTPRequest(session=session)
    assert run_one(r, srv.url("/a"))[3] == b"first"
    result = run_one(r, srv.url("/b"))
    assert result[:2] == (int(Result.RESULT_CONNECTION_ERROR), 0)
    time.sleep(0.1)
    assert len(srv.connections) == 1 and session.get_stats()["retried"] == 0
