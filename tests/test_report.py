"""Per-request timings and TLS info (``gdhttp.report``) on HTTPClient and HTTPRequest,
against nginx, behind a latency relay (so each phase has a known lower bound) and
through tinyproxy. The certificate description is checked against ``cryptography``."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from gdhttp.client import HTTPClient
from gdhttp.constants import Error, Method, Result, Status
from gdhttp.report import describe_certificate
from gdhttp.request import HTTPRequest

from clientutil import connect, exchange
from servers import Endpoint, LatencyRelay, ProxyServer, TLSMaterial

DELAY = 0.020  # one way, through the relay
PHASES = ("dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "total_ms")


def drive(r: HTTPRequest, start: Callable[[], Error]) -> tuple[int, int, bytes]:
    """Start a request and step it to its completion (bounded)."""
    got: list[tuple[int, int, bytes]] = []
    r.request_completed.connect(lambda result, code, _h, body: got.append((result, code, body)))
    assert start() == Error.OK, r.get_error_message()
    deadline = time.monotonic() + 20
    while not got:
        assert time.monotonic() < deadline, "request did not complete"
        r.process(0.001)
        time.sleep(0.001)
    return got[0]


def trusting(ep: Endpoint) -> HTTPClient:
    client = HTTPClient()
    assert client.set_trusted_certificates(str(ep.ca_pem_path)) is Error.OK
    return client


@pytest.fixture
def relay(nginx_https: Endpoint) -> Iterator[LatencyRelay]:
    with LatencyRelay((nginx_https.host, nginx_https.port), DELAY, max_lifetime=60.0) as r:
        yield r


def test_every_phase_of_a_fresh_tls_connection(nginx_https: Endpoint,
                                               relay: LatencyRelay) -> None:
    client = trusting(nginx_https)
    assert connect(client, "localhost", relay.port, True) is Status.STATUS_CONNECTED
    got = exchange(client, Method.METHOD_GET, "/files/64k.bin")
    assert got.code == 200 and len(got.body) == 64 * 1024
    t = client.get_timings()
    assert set(t) == {*PHASES, "reused"} and t["reused"] is False
    assert 0 < t["dns_ms"] < 5000  # "localhost" goes through the resolver thread
    assert t["connect_ms"] > 0
    # The relay holds the ClientHello 3 delays, the reply one more: 4 one-way delays
    # at least; the request's answer comes back after a round trip at least.
    assert t["tls_ms"] >= 4 * DELAY * 1000 * 0.95, t
    assert t["ttfb_ms"] >= 2 * DELAY * 1000 * 0.95, t
    parts = t["dns_ms"] + t["connect_ms"] + t["tls_ms"] + t["ttfb_ms"]
    assert parts <= t["total_ms"] < parts + 5000, t
    # Frozen once complete: a later read says the same.
    time.sleep(0.02)
    assert client.get_timings() == t


def test_a_reused_connection_reports_zero_setup(nginx_http: Endpoint) -> None:
    client = HTTPClient()
    assert connect(client, nginx_http.host, nginx_http.port) is Status.STATUS_CONNECTED
    exchange(client, Method.METHOD_GET, "/files/1k.bin")
    first = client.get_timings()
    assert first["reused"] is False and first["connect_ms"] > 0
    assert first["dns_ms"] == 0  # an IP literal is never resolved
    second = exchange(client, Method.METHOD_GET, "/files/1k.bin")
    assert second.code == 200
    t = client.get_timings()
    assert t["reused"] is True
    assert (t["dns_ms"], t["connect_ms"], t["tls_ms"]) == (0, 0, 0)
    assert 0 < t["ttfb_ms"] <= t["total_ms"]
    assert client.get_tls_info() == {}  # plain HTTP


def test_timings_count_up_while_running_and_stop_at_close(nginx_http: Endpoint) -> None:
    client = HTTPClient()
    assert connect(client, nginx_http.host, nginx_http.port) is Status.STATUS_CONNECTED
    assert client.request(Method.METHOD_GET, "/slow/1m.bin", []) is Error.OK
    deadline = time.monotonic() + 10
    while client.get_status() is Status.STATUS_REQUESTING and time.monotonic() < deadline:
        client.poll()
    assert client.get_status() is Status.STATUS_BODY
    early = client.get_timings()["total_ms"]
    time.sleep(0.05)
    later = client.get_timings()["total_ms"]
    assert later >= early + 40
    client.close()
    closed = client.get_timings()["total_ms"]
    time.sleep(0.03)
    assert client.get_timings()["total_ms"] == closed


def test_tls_info_matches_the_certificate(nginx_https: Endpoint,
                                          tls_material: TLSMaterial) -> None:
    client = trusting(nginx_https)
    assert connect(client, "localhost", nginx_https.port, True) is Status.STATUS_CONNECTED
    info = client.get_tls_info()
    stream = client.get_connection()
    sock = getattr(stream, "sock", None)
    assert isinstance(sock, ssl.SSLSocket)
    cert = x509.load_der_x509_certificate(sock.getpeercert(binary_form=True) or b"")
    assert info["version"] == sock.version() and info["version"] in ("TLSv1.2", "TLSv1.3")
    assert info["cipher"] == sock.cipher()[0]  # type: ignore[index]
    assert info["verified"] is True
    assert info["subject"] == ", ".join(
        f"{a.rfc4514_attribute_name}={a.value!s}" for a in cert.subject
    ).replace("organizationName", "O")
    assert "gdhttp test CA" in info["issuer"]
    assert info["not_after"] == cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert info["not_before"] == cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The pin is in the form the pinning option takes: pinning it connects.
    pinned = trusting(nginx_https)
    assert pinned.set_pinned_public_keys([info["pin"]]) is Error.OK
    assert connect(pinned, "localhost", nginx_https.port, True) is Status.STATUS_CONNECTED
    other = trusting(nginx_https)
    assert other.set_pinned_public_keys(["sha256/" + "A" * 43 + "="]) is Error.OK
    assert connect(other, "localhost", nginx_https.port, True) \
        is Status.STATUS_SSL_HANDSHAKE_ERROR


def test_tls_info_without_verification(nginx_https: Endpoint) -> None:
    """getpeercert() is empty when verification is off; the dock must still show the key."""
    client = HTTPClient()
    assert connect(client, nginx_https.host, nginx_https.port, True, verify_host=False) \
        is Status.STATUS_CONNECTED
    info = client.get_tls_info()
    assert info["verified"] is False
    assert info["pin"].startswith("sha256/") and len(info["pin"]) == 7 + 44
    assert info["subject"] and info["not_after"].endswith("Z")


def test_describe_certificate_against_cryptography(tls_material: TLSMaterial) -> None:
    leaf = tls_material.ca.issue_cert("dock.example", organization_name="Dock Ltd",
                                      organization_unit_name="QA")
    der = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes()).public_bytes(
        Encoding.DER)
    cert = x509.load_der_x509_certificate(der)
    got = describe_certificate(der)
    assert "O=Dock Ltd" in got["subject"] and "OU=QA" in got["subject"]
    assert got["issuer"].startswith("O=gdhttp test CA")
    assert got["not_after"] == cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(ValueError, match="truncated DER"):
        describe_certificate(der[:200])


def test_through_an_https_proxy_tunnel(nginx_https: Endpoint, tinyproxy: ProxyServer) -> None:
    client = trusting(nginx_https)
    client.set_https_proxy(tinyproxy.host, tinyproxy.port)
    assert connect(client, "localhost", nginx_https.port, True) is Status.STATUS_CONNECTED
    got = exchange(client, Method.METHOD_GET, "/files/1k.bin")
    assert got.code == 200
    t = client.get_timings()
    assert t["dns_ms"] == 0  # the proxy is an IP literal; the target is the proxy's to resolve
    assert t["connect_ms"] > 0 and t["tls_ms"] > 0
    assert client.get_tls_info()["version"].startswith("TLSv1.")


def test_http_request_reports_the_last_request(nginx_https: Endpoint) -> None:
    r = HTTPRequest(session=None)
    assert r.client.set_trusted_certificates(str(nginx_https.ca_pem_path)) == Error.OK
    url = nginx_https.url("/files/64k.bin", host="localhost")
    result, code, body = drive(r, lambda: r.request(url))
    assert (result, code, len(body)) == (Result.RESULT_SUCCESS, 200, 64 * 1024)
    t = r.get_timings()
    assert t["tls_ms"] > 0 and t["dns_ms"] > 0 and t["reused"] is False
    assert t["total_ms"] >= t["tls_ms"] + t["ttfb_ms"]
    assert r.get_tls_info()["pin"].startswith("sha256/")
    # A failure to connect replaces the report: no stale TLS details.
    assert drive(r, lambda: r.request("http://127.0.0.1:9/"))[0] == Result.RESULT_CANT_CONNECT
    assert r.get_tls_info() == {}


def test_http_request_with_a_session_reuses(nginx_http: Endpoint) -> None:
    r = HTTPRequest()  # the default session keeps the connection alive
    for _ in range(2):
        result, code, _ = drive(r, lambda: r.request(nginx_http.url("/files/1k.bin")))
        assert (result, code) == (Result.RESULT_SUCCESS, 200)
    t = r.get_timings()
    assert t["reused"] is True and t["connect_ms"] == 0 and t["ttfb_ms"] > 0


def test_http_request_headers_dictionary_merges_repeats(nginx_http: Endpoint) -> None:
    r = HTTPRequest()
    assert r.get_response_headers_as_dictionary() == {}
    result, code, _ = drive(r, lambda: r.request(nginx_http.url("/headers/repeated")))
    assert (result, code) == (Result.RESULT_SUCCESS, 200)
    headers = r.get_response_headers_as_dictionary()
    assert headers["X-Multi"] == "one; two"
    assert headers["Set-Cookie"] == "a=1; Path=/; b=2; Path=/"
    assert r.get_response_headers_as_dictionary() == headers  # not consumed


def test_a_failed_connect_leaves_no_old_report(nginx_https: Endpoint) -> None:
    client = trusting(nginx_https)
    assert connect(client, "localhost", nginx_https.port, True) is Status.STATUS_CONNECTED
    assert client.get_tls_info()["version"]
    assert client.connect_to_host("127.0.0.1", 9) is Error.OK  # nothing listens: refused
    deadline = time.monotonic() + 10
    while client.get_status() in (Status.STATUS_RESOLVING, Status.STATUS_CONNECTING):
        assert time.monotonic() < deadline
        client.poll()
    assert client.get_status() is Status.STATUS_CANT_CONNECT
    assert client.get_tls_info() == {}
    assert client.get_timings()["tls_ms"] == 0


def test_an_adopted_stream_reports_no_setup(nginx_http: Endpoint) -> None:
    import socket

    client = HTTPClient()
    sock = socket.create_connection((nginx_http.host, nginx_http.port), 5)
    client.set_connection(sock)
    got = exchange(client, Method.METHOD_GET, "/files/1k.bin",
                   [f"Host: {nginx_http.host}:{nginx_http.port}"])
    assert got.code == 200
    t = client.get_timings()
    assert (t["dns_ms"], t["connect_ms"], t["tls_ms"], t["reused"]) == (0, 0, 0, False)
    assert 0 < t["ttfb_ms"] <= t["total_ms"]
