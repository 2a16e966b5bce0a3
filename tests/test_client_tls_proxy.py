"""TLS (1.2, 1.3, verification, pins) and proxies (tinyproxy, with and without auth)."""

from __future__ import annotations

import base64
import hashlib
import ssl

import pytest

from gdhttp.client import HTTPClient
from gdhttp.constants import Error, Method, Status
from gdhttp.tls import spki_sha256

from clientutil import connect, exchange, fetch
from servers import Endpoint, ProxyServer, TLSMaterial

S = Status


def trusting(ep: Endpoint) -> HTTPClient:
    client = HTTPClient()
    assert ep.ca_pem_path is not None
    assert client.set_trusted_certificates(str(ep.ca_pem_path)) is Error.OK
    return client


@pytest.mark.parametrize("which", ["nginx_https", "nginx_tls13", "nginx_tls12"])
def test_tls_download_verified(which: str, request: pytest.FixtureRequest) -> None:
    ep: Endpoint = request.getfixturevalue(which)
    got = fetch("localhost", ep.port, "/files/64k.bin", use_ssl=True, client=trusting(ep))
    assert got.final is S.STATUS_CONNECTED, got.error
    assert got.sha256 == ep.files["64k.bin"][1]
    assert got.statuses[:3] == [S.STATUS_RESOLVING, S.STATUS_CONNECTING, S.STATUS_CONNECTED]


def test_tls13_is_negotiated(nginx_tls13: Endpoint) -> None:
    client = trusting(nginx_tls13)
    assert connect(client, "localhost", nginx_tls13.port, True) is S.STATUS_CONNECTED
    stream = client.get_connection()
    assert isinstance(getattr(stream, "sock", None), ssl.SSLSocket)
    assert stream.sock.version() == "TLSv1.3"  # type: ignore[union-attr]


def test_https_prefix_and_ip_san(nginx_https: Endpoint) -> None:
    got = fetch(f"https://{nginx_https.host}", nginx_https.port, "/files/1k.bin",
                client=trusting(nginx_https))
    assert got.sha256 == nginx_https.files["1k.bin"][1]


def test_unknown_ca_is_a_handshake_error(nginx_https: Endpoint) -> None:
    client = HTTPClient()  # system store: does not know the test CA
    assert connect(client, "localhost", nginx_https.port, True) is S.STATUS_SSL_HANDSHAKE_ERROR
    assert "certificate" in client.get_error_message()
    assert client.poll() is Error.ERR_CONNECTION_ERROR


def test_handshake_failure_poll_returns_cant_connect(nginx_https: Endpoint) -> None:
    client = HTTPClient()
    client.connect_to_host("localhost", nginx_https.port, True)
    codes = []
    for _ in range(20_000):
        codes.append(client.poll())
        if client.get_status() is S.STATUS_SSL_HANDSHAKE_ERROR:
            break
    assert codes[-1] is Error.ERR_CANT_CONNECT  # spec §9.9


def test_verify_host_false_accepts_anything(nginx_https: Endpoint) -> None:
    got = fetch("localhost", nginx_https.port, "/files/1k.bin", use_ssl=True, verify_host=False)
    assert got.sha256 == nginx_https.files["1k.bin"][1]


def test_wrong_host_name_is_refused(nginx_tls_factory, tls_material: TLSMaterial) -> None:  # type: ignore[no-untyped-def]
    leaf = tls_material.ca.issue_cert("other.example")
    server = nginx_tls_factory(leaf.cert_chain_pems[0].bytes(), leaf.private_key_pem.bytes())
    ep = next(iter(server.endpoints.values()))
    client = HTTPClient()
    client.set_trusted_certificates(str(tls_material.ca_pem_path))
    assert connect(client, "localhost", ep.port, True) is S.STATUS_SSL_HANDSHAKE_ERROR
    assert "localhost" in client.get_error_message() or "match" in client.get_error_message()
    # The same server passes without verification, as in the engine.
    assert connect(HTTPClient(), "localhost", ep.port, True, False) is S.STATUS_CONNECTED


def test_min_tls_version_13_refuses_a_12_only_server(nginx_tls12: Endpoint) -> None:
    client = trusting(nginx_tls12)
    client.set_min_tls_version("TLSv1.3")
    assert connect(client, "localhost", nginx_tls12.port, True) is S.STATUS_SSL_HANDSHAKE_ERROR


def _leaf_pin(ep: Endpoint) -> str:
    der = ssl.PEM_cert_to_DER_cert(
        ssl.get_server_certificate(("127.0.0.1", ep.port))
    )
    return "sha256/" + base64.b64encode(spki_sha256(der)).decode()


def test_pin_match_and_mismatch(nginx_https: Endpoint) -> None:
    client = trusting(nginx_https)
    assert client.set_pinned_public_keys([_leaf_pin(nginx_https)]) is Error.OK
    got = fetch("localhost", nginx_https.port, "/files/1k.bin", use_ssl=True, client=client)
    assert got.sha256 == nginx_https.files["1k.bin"][1]

    wrong = "sha256/" + base64.b64encode(hashlib.sha256(b"other key").digest()).decode()
    client = trusting(nginx_https)
    client.set_pinned_public_keys([wrong])
    assert connect(client, "localhost", nginx_https.port, True) is S.STATUS_SSL_HANDSHAKE_ERROR
    assert "pin" in client.get_error_message() and wrong in client.get_error_message()


def test_spki_hash_matches_openssl_definition(tls_material: TLSMaterial) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    cert = x509.load_pem_x509_certificate(tls_material.cert_pem)
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    der = cert.public_bytes(Encoding.DER)
    assert spki_sha256(der) == hashlib.sha256(spki).digest()


def test_plain_garbage_to_tls_client_is_a_handshake_error(raw_server) -> None:  # type: ignore[no-untyped-def]
    from servers import raw

    server = raw_server([raw.send(b"HTTP/1.1 200 OK\r\n\r\nnot tls at all"), raw.close()])
    client = HTTPClient()
    assert connect(client, server.host, server.port, True) is S.STATUS_SSL_HANDSHAKE_ERROR


# ---- proxies


def test_http_proxy_absolute_form(tinyproxy: ProxyServer, nginx_http: Endpoint) -> None:
    client = HTTPClient()
    client.set_http_proxy(tinyproxy.host, tinyproxy.port)
    got = fetch(nginx_http.host, nginx_http.port, "/files/64k.bin", client=client)
    assert got.code == 200 and got.sha256 == nginx_http.files["64k.bin"][1]


def test_http_proxy_auth(tinyproxy_auth: ProxyServer, nginx_http: Endpoint) -> None:
    client = HTTPClient()
    client.set_http_proxy(tinyproxy_auth.host, tinyproxy_auth.port)
    got = fetch(nginx_http.host, nginx_http.port, "/files/1k.bin", client=client)
    assert got.code == 407

    client = HTTPClient()
    client.set_http_proxy(f"{tinyproxy_auth.user}:{tinyproxy_auth.password}@{tinyproxy_auth.host}",
                          tinyproxy_auth.port)
    got = fetch(nginx_http.host, nginx_http.port, "/files/1k.bin", client=client)
    assert got.code == 200 and got.sha256 == nginx_http.files["1k.bin"][1]


def test_https_proxy_tunnel(tinyproxy: ProxyServer, nginx_https: Endpoint) -> None:
    client = trusting(nginx_https)
    client.set_https_proxy(tinyproxy.host, tinyproxy.port)
    got = fetch("localhost", nginx_https.port, "/files/64k.bin", use_ssl=True, client=client)
    assert got.code == 200 and got.sha256 == nginx_https.files["64k.bin"][1], got.error


def test_https_proxy_auth(tinyproxy_auth: ProxyServer, nginx_https: Endpoint) -> None:
    client = trusting(nginx_https)
    client.set_https_proxy(tinyproxy_auth.host, tinyproxy_auth.port)
    assert connect(client, "localhost", nginx_https.port, True) is S.STATUS_CANT_CONNECT
    assert "407" in client.get_error_message()

    client = trusting(nginx_https)
    client.set_https_proxy(
        f"{tinyproxy_auth.user}:{tinyproxy_auth.password}@{tinyproxy_auth.host}",
        tinyproxy_auth.port,
    )
    got = fetch("localhost", nginx_https.port, "/files/1k.bin", use_ssl=True, client=client)
    assert got.sha256 == nginx_https.files["1k.bin"][1], got.error


def test_proxy_kinds_are_not_interchangeable(tinyproxy: ProxyServer, nginx_http: Endpoint) -> None:
    client = HTTPClient()
    client.set_https_proxy("127.0.0.1", 1)  # would fail if used for a plain-HTTP target
    got = fetch(nginx_http.host, nginx_http.port, "/files/1k.bin", client=client)
    assert got.code == 200


def test_connect_request_has_correct_host(raw_server) -> None:  # type: ignore[no-untyped-def]
    from servers import raw

    server = raw_server([raw.read_request(), raw.send(b"HTTP/1.1 403 Forbidden\r\n\r\n"),
                         raw.close()])
    client = HTTPClient()
    client.set_https_proxy(server.host, server.port)
    assert connect(client, "example.test", 8443, True) is S.STATUS_CANT_CONNECT
    server.wait_done(1, 5)
    head = server.parsed_requests[0]
    assert head.method == "CONNECT" and head.target == "example.test:8443"
    assert head.header("Host") == "example.test:8443"


# ---- httpbin (a real WSGI application)


def test_httpbin_echoes_what_we_send(httpbin) -> None:  # type: ignore[no-untyped-def]
    import json

    client = HTTPClient()
    client.set_user_agent("gdhttp-test/1")
    connect(client, httpbin.host, httpbin.port)
    query = client.query_string_from_dict({"a": "x y", "n": [1, 2], "flag": None})
    got = exchange(client, Method.METHOD_POST, f"/post?{query}",
                   ["Content-Type: application/json", "X-Custom: yes"], '{"k": "é"}')
    assert got.code == 200
    echoed = json.loads(got.body)
    assert echoed["json"] == {"k": "é"}
    assert echoed["args"] == {"a": "x y", "n": ["1", "2"], "flag": ""}
    assert echoed["headers"]["User-Agent"] == "gdhttp-test/1"
    assert echoed["headers"]["X-Custom"] == "yes"
    assert echoed["headers"]["Host"] == f"{httpbin.host}:{httpbin.port}"


def test_httpbin_secure(httpbin_secure, httpbin_ca_pem_path: str) -> None:  # type: ignore[no-untyped-def]
    client = HTTPClient()
    client.set_trusted_certificates(httpbin_ca_pem_path)
    got = fetch("localhost", httpbin_secure.port, "/bytes/5000?seed=1", use_ssl=True, client=client)
    assert got.code == 200 and len(got.body) == 5000


def test_httpbin_chunked_stream(httpbin) -> None:  # type: ignore[no-untyped-def]
    got = fetch(httpbin.host, httpbin.port, "/stream-bytes/20000?chunk_size=1000&seed=3")
    assert got.code == 200 and len(got.body) == 20000


def test_http_proxy_target_names_the_port(raw_server) -> None:  # type: ignore[no-untyped-def]
    # Spec §9.11: absolute-form target with an explicit port, even 80; Host as usual.
    from servers import raw

    server = raw_server([raw.read_request(),
                         raw.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
                         raw.silent(2)])
    client = HTTPClient()
    client.set_http_proxy(server.host, server.port)
    got = fetch("example.test", 80, "/a?b=1", client=client)
    assert got.code == 200 and got.body == b"ok"
    head = server.parsed_requests[0]
    assert head.target == "http://example.test:80/a?b=1"
    assert head.header("Host") == "example.test"
