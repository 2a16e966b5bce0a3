"""The TLS matrix: real nginx servers, certificates made here, one documented Status each.

Certificates come from a CA made by trustme for this module (plus an unknown CA, an
intermediate CA and a self-signed leaf built with cryptography); CRLs are built with
cryptography and signed by the CA's own key. Every case ends in its documented
Status (``STATUS_CONNECTED`` or ``STATUS_SSL_HANDSHAKE_ERROR``), never an exception.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import ipaddress
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gdhttp import tls
from gdhttp.client import HTTPClient
from gdhttp.constants import Error, Method, Status

from servers import NginxServer, ProxyServer, RawServer, raw

S = Status
Factory = Callable[..., NginxServer]
NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)
NAMES = ("localhost", "127.0.0.1")
WAIT_S = 10.0


# --------------------------------------------------------------------------- material


@dataclass(frozen=True)
class ServerCert:
    chain_pem: bytes  # leaf first, then intermediates
    key_pem: bytes

    @property
    def leaf_der(self) -> bytes:
        leaf = x509.load_pem_x509_certificate(self.chain_pem)
        return leaf.public_bytes(serialization.Encoding.DER)


def _from_trustme(leaf: Any) -> ServerCert:
    return ServerCert(b"".join(p.bytes() for p in leaf.cert_chain_pems),
                      leaf.private_key_pem.bytes())


def _self_signed(*names: str) -> ServerCert:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 30 * DAY)
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return ServerCert(cert.public_bytes(serialization.Encoding.PEM), key_pem)


def _serial(cert_pem: bytes) -> int:
    return x509.load_pem_x509_certificate(cert_pem).serial_number


def make_crl(ca: Any, revoked: tuple[int, ...] = ()) -> bytes:
    """A CRL issued by ``ca`` (a trustme.CA) revoking these serial numbers."""
    issuer = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(NOW - DAY)
        .next_update(NOW + 7 * DAY)
    )
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial)
            .revocation_date(NOW - DAY).build()
        )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def pin_of(der: bytes) -> str:
    cert = x509.load_der_x509_certificate(der)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256/" + base64.b64encode(hashlib.sha256(spki).digest()).decode()


@dataclass(frozen=True)
class Pki:
    directory: Path
    root: Any
    intermediate: Any
    root_pem_path: Path
    certs: dict[str, ServerCert]
    crls: dict[str, Path]
    client_cert_path: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("tls-matrix")
    root = trustme.CA(organization_name="gdhttp matrix CA")
    intermediate = root.create_child_ca()
    stranger = trustme.CA(organization_name="someone else")
    certs = {
        "valid": _from_trustme(root.issue_cert(*NAMES)),
        "expired": _from_trustme(root.issue_cert(*NAMES, not_before=NOW - 30 * DAY,
                                                 not_after=NOW - DAY)),
        "not_yet_valid": _from_trustme(root.issue_cert(*NAMES, not_before=NOW + DAY,
                                                       not_after=NOW + 30 * DAY)),
        "wrong_host": _from_trustme(root.issue_cert("other.example")),
        "unknown_ca": _from_trustme(stranger.issue_cert(*NAMES)),
        "self_signed": _self_signed(*NAMES),
        "intermediate": _from_trustme(intermediate.issue_cert(*NAMES)),
        "revoked": _from_trustme(root.issue_cert(*NAMES)),
    }
    root_pem_path = d / "root.pem"
    root.cert_pem.write_to_path(str(root_pem_path))
    revoked_serial = _serial(certs["revoked"].chain_pem)
    intermediate_serial = _serial(intermediate.cert_pem.bytes())
    crl_texts = {
        "root_revokes_leaf": make_crl(root, (revoked_serial,)),
        "root_clean": make_crl(root),
        "root_revokes_intermediate": make_crl(root, (intermediate_serial,)),
        "intermediate_clean": make_crl(intermediate),
    }
    crls: dict[str, Path] = {}
    for name, text in crl_texts.items():
        crls[name] = d / f"{name}.crl.pem"
        crls[name].write_bytes(text)
    # Combined CRL files (one per CA in the chain), as check_chain needs.
    crls["chain_revokes_intermediate"] = d / "chain1.crl.pem"
    crls["chain_revokes_intermediate"].write_bytes(
        crl_texts["intermediate_clean"] + crl_texts["root_revokes_intermediate"])
    crls["chain_clean"] = d / "chain2.crl.pem"
    crls["chain_clean"].write_bytes(crl_texts["intermediate_clean"] + crl_texts["root_clean"])
    client = root.issue_cert("gdhttp-client@example.test")
    client_cert_path = d / "client.pem"
    client.private_key_and_cert_chain_pem.write_to_path(str(client_cert_path))
    return Pki(d, root, intermediate, root_pem_path, certs, crls, client_cert_path)


# --------------------------------------------------------------------------- driving


@dataclass
class Result:
    status: Status
    error: str
    code: int = 0
    body: bytes = b""
    version: str = ""


def run(client: HTTPClient, host: str, port: int, verify: bool = True,
        path: str = "/files/1k.bin") -> Result:
    """Connect with TLS; once connected, GET ``path``. Bounded; nothing may raise."""
    assert client.connect_to_host(host, port, True, verify) is Error.OK, client.get_error_message()
    deadline = time.monotonic() + WAIT_S
    while client.get_status() in (S.STATUS_RESOLVING, S.STATUS_CONNECTING):
        assert time.monotonic() < deadline, "TLS connect did not finish"
        client.poll()
        time.sleep(0.0005)
    result = Result(client.get_status(), client.get_error_message())
    if result.status is not S.STATUS_CONNECTED:
        assert client.poll() is Error.ERR_CONNECTION_ERROR
        return result
    sock = getattr(client.get_connection(), "sock", None)
    if isinstance(sock, ssl.SSLSocket):
        result.version = sock.version() or ""
    if client.request(Method.METHOD_GET, path, []) is not Error.OK:
        # Sending failed (e.g. a TLS 1.3 alert already waiting): a status, not an exception.
        result.status, result.error = client.get_status(), client.get_error_message()
        assert result.status is not S.STATUS_CONNECTED, result
        return result
    parts = []
    while client.get_status() in (S.STATUS_REQUESTING, S.STATUS_BODY):
        assert time.monotonic() < deadline, "response did not finish"
        client.poll()
        if client.get_status() is S.STATUS_BODY:
            parts.append(client.read_response_body_chunk())
        time.sleep(0.0002)
    result.status = client.get_status()
    result.error = client.get_error_message()
    result.code = client.get_response_code()
    result.body = b"".join(parts)
    return result


def trusting(pki: Pki, *, crl: str = "", check_chain: bool = False,
             pins: list[str] | None = None, min_version: str = "") -> HTTPClient:
    client = HTTPClient()
    assert client.set_trusted_certificates(str(pki.root_pem_path)) is Error.OK
    if crl:
        assert client.set_crl(str(pki.crls[crl]), check_chain) is Error.OK
    if pins is not None:
        assert client.set_pinned_public_keys(pins) is Error.OK, client.get_error_message()
    if min_version:
        assert client.set_min_tls_version(min_version) is Error.OK
    return client


def serve(factory: Factory, cert: ServerCert, protocols: tuple[str, ...] = ("TLSv1.2", "TLSv1.3"),
          **kwargs: Any) -> int:
    server = factory(cert.chain_pem, cert.key_pem, protocols, **kwargs)
    return next(iter(server.endpoints.values())).port


def ok(result: Result) -> None:
    assert result.status is S.STATUS_CONNECTED, result.error
    assert result.code == 200 and len(result.body) == 1024, result


def refused(result: Result, *fragments: str) -> None:
    assert result.status is S.STATUS_SSL_HANDSHAKE_ERROR, result
    message = result.error.lower()
    assert any(f.lower() in message for f in fragments), result.error


# --------------------------------------------------------------------------- the matrix


@dataclass(frozen=True)
class Row:
    name: str
    cert: str
    expect: Status
    fragments: tuple[str, ...] = ()
    host: str = "localhost"
    verify: bool = True
    crl: str = ""
    check_chain: bool = False
    system_store: bool = False


MATRIX = [
    Row("valid_chain", "valid", S.STATUS_CONNECTED),
    Row("valid_chain_ip_san", "valid", S.STATUS_CONNECTED, host="127.0.0.1"),
    Row("intermediate_chain", "intermediate", S.STATUS_CONNECTED),
    Row("expired", "expired", S.STATUS_SSL_HANDSHAKE_ERROR, ("expired",)),
    Row("not_yet_valid", "not_yet_valid", S.STATUS_SSL_HANDSHAKE_ERROR, ("not yet valid",)),
    Row("wrong_host_name", "wrong_host", S.STATUS_SSL_HANDSHAKE_ERROR,
        ("hostname", "mismatch", "localhost")),
    Row("wrong_ip", "wrong_host", S.STATUS_SSL_HANDSHAKE_ERROR, ("ip address", "mismatch"),
        host="127.0.0.1"),
    Row("self_signed", "self_signed", S.STATUS_SSL_HANDSHAKE_ERROR, ("self-signed", "self signed")),
    Row("unknown_ca", "unknown_ca", S.STATUS_SSL_HANDSHAKE_ERROR, ("issuer",)),
    Row("test_ca_unknown_to_system_store", "valid", S.STATUS_SSL_HANDSHAKE_ERROR, ("issuer",),
        system_store=True),
    Row("revoked_by_crl", "revoked", S.STATUS_SSL_HANDSHAKE_ERROR, ("revoked",),
        crl="root_revokes_leaf"),
    Row("crl_not_listing_the_leaf", "valid", S.STATUS_CONNECTED, crl="root_revokes_leaf"),
    Row("clean_crl", "revoked", S.STATUS_CONNECTED, crl="root_clean"),
    # check_chain needs a CRL from every CA in the chain:
    Row("chain_check_revoked_intermediate", "intermediate", S.STATUS_SSL_HANDSHAKE_ERROR,
        ("revoked",), crl="chain_revokes_intermediate", check_chain=True),
    Row("leaf_check_ignores_revoked_intermediate", "intermediate", S.STATUS_CONNECTED,
        crl="chain_revokes_intermediate"),
    Row("chain_check_without_root_crl", "intermediate", S.STATUS_SSL_HANDSHAKE_ERROR,
        ("crl",), crl="intermediate_clean", check_chain=True),
    Row("chain_check_all_clean", "intermediate", S.STATUS_CONNECTED, crl="chain_clean",
        check_chain=True),
    Row("leaf_check_without_issuer_crl", "intermediate", S.STATUS_SSL_HANDSHAKE_ERROR,
        ("crl",), crl="root_clean"),
    # verify_host=false: nothing is verified (as in the engine).
    Row("unverified_expired", "expired", S.STATUS_CONNECTED, verify=False),
    Row("unverified_not_yet_valid", "not_yet_valid", S.STATUS_CONNECTED, verify=False),
    Row("unverified_self_signed", "self_signed", S.STATUS_CONNECTED, verify=False),
    Row("unverified_wrong_host", "wrong_host", S.STATUS_CONNECTED, verify=False),
    Row("unverified_unknown_ca", "unknown_ca", S.STATUS_CONNECTED, verify=False),
    Row("unverified_revoked", "revoked", S.STATUS_CONNECTED, verify=False,
        crl="root_revokes_leaf"),
]


@pytest.mark.parametrize("row", MATRIX, ids=[r.name for r in MATRIX])
def test_certificate_matrix(row: Row, pki: Pki, nginx_tls_factory: Factory) -> None:
    port = serve(nginx_tls_factory, pki.certs[row.cert])
    if row.system_store:
        client = HTTPClient()
    else:
        client = trusting(pki, crl=row.crl, check_chain=row.check_chain)
    result = run(client, row.host, port, row.verify)
    if row.expect is S.STATUS_CONNECTED:
        ok(result)
    else:
        refused(result, *row.fragments)


# ---- pins


def test_pin_match(pki: Pki, nginx_tls_factory: Factory) -> None:
    cert = pki.certs["valid"]
    port = serve(nginx_tls_factory, cert)
    ok(run(trusting(pki, pins=[pin_of(cert.leaf_der)]), "localhost", port))


def test_pin_one_of_several_in_hex(pki: Pki, nginx_tls_factory: Factory) -> None:
    cert = pki.certs["valid"]
    port = serve(nginx_tls_factory, cert)
    digest = base64.b64decode(pin_of(cert.leaf_der)[7:])
    other = "sha256/" + base64.b64encode(hashlib.sha256(b"backup key").digest()).decode()
    ok(run(trusting(pki, pins=[other, digest.hex()]), "localhost", port))


def test_pin_mismatch_names_the_pin(pki: Pki, nginx_tls_factory: Factory) -> None:
    cert = pki.certs["valid"]
    port = serve(nginx_tls_factory, cert)
    wrong = "sha256/" + base64.b64encode(hashlib.sha256(b"not the key").digest()).decode()
    result = run(trusting(pki, pins=[wrong]), "localhost", port)
    refused(result, "pin")
    assert wrong in result.error and pin_of(cert.leaf_der) in result.error


def test_pin_of_the_ca_does_not_match_the_leaf(pki: Pki, nginx_tls_factory: Factory) -> None:
    """Pins name the leaf key: pinning the CA's key refuses the server."""
    port = serve(nginx_tls_factory, pki.certs["intermediate"])
    ca_der = x509.load_pem_x509_certificate(pki.root.cert_pem.bytes()).public_bytes(
        serialization.Encoding.DER)
    refused(run(trusting(pki, pins=[pin_of(ca_der)]), "localhost", port), "pin")


def test_pins_are_checked_even_without_verification(pki: Pki,
                                                    nginx_tls_factory: Factory) -> None:
    """A pin is an explicit request: it holds with verify_host=false too (as curl does).

    That is how a self-signed server is trusted safely: no CA, but its key pinned.
    """
    cert = pki.certs["self_signed"]
    port = serve(nginx_tls_factory, cert)
    wrong = "sha256/" + base64.b64encode(hashlib.sha256(b"x").digest()).decode()
    refused(run(trusting(pki, pins=[wrong]), "localhost", port, verify=False), "pin")
    ok(run(trusting(pki, pins=[pin_of(cert.leaf_der)]), "localhost", port, verify=False))


# ---- protocol versions


def test_tls13_only_server_is_fine_by_default(pki: Pki, nginx_tls_factory: Factory) -> None:
    port = serve(nginx_tls_factory, pki.certs["valid"], ("TLSv1.3",))
    result = run(trusting(pki), "localhost", port)
    ok(result)
    assert result.version == "TLSv1.3"


def test_tls12_only_server_with_minimum_13(pki: Pki, nginx_tls_factory: Factory) -> None:
    port = serve(nginx_tls_factory, pki.certs["valid"], ("TLSv1.2",))
    result = run(trusting(pki), "localhost", port)
    ok(result)
    assert result.version == "TLSv1.2"
    refused(run(trusting(pki, min_version="TLSv1.3"), "localhost", port),
            "version", "protocol", "handshake")


LEGACY_CIPHERS = "DEFAULT:@SECLEVEL=0"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("protocol", ["TLSv1", "TLSv1.1"])
def test_legacy_tls_server_is_refused_by_default(protocol: str, pki: Pki,
                                                 nginx_tls_factory: Factory) -> None:
    """A TLS 1.0/1.1-only nginx (Debian's OpenSSL 3 at SECLEVEL=0) is refused by default.

    The control proves the server really speaks that version: a client that lowers
    its minimum to it connects.
    """
    port = serve(nginx_tls_factory, pki.certs["valid"], (protocol,), ciphers=LEGACY_CIPHERS)
    refused(run(trusting(pki), "localhost", port), "version", "protocol", "handshake")
    control = run(trusting(pki, min_version=protocol), "localhost", port)
    ok(control)
    assert control.version == protocol


# ---- client certificates (a RawServer: the nginx factory has no ssl_verify_client)


def _client_auth_server(raw_server: Callable[..., RawServer], pki: Pki,
                        version: ssl.TLSVersion) -> RawServer:
    cert = pki.certs["valid"]
    cert_path, key_path = pki.directory / "srv-chain.pem", pki.directory / "srv-key.pem"
    cert_path.write_bytes(cert.chain_pem)
    key_path.write_bytes(cert.key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert_path), str(key_path))
    ctx.load_verify_locations(cafile=str(pki.root_pem_path))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.minimum_version = ctx.maximum_version = version

    def handler(conn: raw.RawConnection) -> None:
        peer = conn.sock.getpeercert() if isinstance(conn.sock, ssl.SSLSocket) else None
        conn.recv_head()
        subject = repr(peer.get("subjectAltName", ())) if peer else "none"
        body = subject.encode()
        conn.sendall(raw.http_response(200, body))

    return raw_server(handler, ssl_context=ctx)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3],
                         ids=["tls12", "tls13"])
def test_client_certificate_presented(version: ssl.TLSVersion, pki: Pki,
                                      raw_server: Callable[..., RawServer]) -> None:
    server = _client_auth_server(raw_server, pki, version)
    client = trusting(pki)
    assert client.set_client_certificate(str(pki.client_cert_path)) is Error.OK
    result = run(client, "localhost", server.port, path="/whoami")
    assert result.status is S.STATUS_CONNECTED and result.code == 200, result
    assert b"gdhttp-client@example.test" in result.body


def test_client_certificate_missing_tls12(pki: Pki, raw_server: Callable[..., RawServer]) -> None:
    """TLS 1.2: the server's refusal comes inside the handshake."""
    server = _client_auth_server(raw_server, pki, ssl.TLSVersion.TLSv1_2)
    refused(run(trusting(pki), "localhost", server.port), "certificate", "handshake")


def test_client_certificate_missing_tls13(pki: Pki, raw_server: Callable[..., RawServer]) -> None:
    """TLS 1.3: the client's side of the handshake ends before the server checks the
    certificate, so the refusal (an alert) arrives with the first read: the request
    ends in STATUS_CONNECTION_ERROR naming the alert, or the handshake error if the
    alert was already there. Never a response, never an exception."""
    server = _client_auth_server(raw_server, pki, ssl.TLSVersion.TLSv1_3)
    result = run(trusting(pki), "localhost", server.port)
    assert result.status in (S.STATUS_CONNECTION_ERROR, S.STATUS_SSL_HANDSHAKE_ERROR), result
    assert result.code == 0 and result.body == b""


def test_missing_client_certificate_message_is_a_tls_reason(
        pki: Pki, raw_server: Callable[..., RawServer]) -> None:
    """The send fails after the server's alert and close: the message should say so in
    TLS terms (an alert or an EOF), not as an unrelated OS error."""
    server = _client_auth_server(raw_server, pki, ssl.TLSVersion.TLSv1_3)
    message = run(trusting(pki), "localhost", server.port).error.lower()
    assert "exec format error" not in message and "operation not permitted" not in message
    assert "certificate" in message or "eof" in message, message


def test_plain_reply_message_names_the_tls_reason(raw_server: Callable[..., RawServer]) -> None:
    server = raw_server([raw.read_exact(5), raw.send(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
                         raw.sleep(0.2), raw.close()])
    result = run(HTTPClient(), "127.0.0.1", server.port)
    refused(result, "wrong version number")


# ---- through an HTTPS proxy tunnel (tinyproxy)


def test_tunnel_valid_chain(pki: Pki, nginx_tls_factory: Factory, tinyproxy: ProxyServer) -> None:
    port = serve(nginx_tls_factory, pki.certs["valid"])
    client = trusting(pki)
    client.set_https_proxy(tinyproxy.host, tinyproxy.port)
    ok(run(client, "localhost", port))


@pytest.mark.parametrize("cert", ["expired", "wrong_host", "unknown_ca"])
def test_tunnel_still_verifies(cert: str, pki: Pki, nginx_tls_factory: Factory,
                               tinyproxy: ProxyServer) -> None:
    """The proxy only carries bytes: the certificate is checked end to end."""
    port = serve(nginx_tls_factory, pki.certs[cert])
    client = trusting(pki)
    client.set_https_proxy(tinyproxy.host, tinyproxy.port)
    refused(run(client, "localhost", port), "certificate", "hostname", "mismatch", "issuer")


def test_tunnel_pin_mismatch(pki: Pki, nginx_tls_factory: Factory,
                             tinyproxy: ProxyServer) -> None:
    port = serve(nginx_tls_factory, pki.certs["valid"])
    wrong = "sha256/" + base64.b64encode(hashlib.sha256(b"y").digest()).decode()
    client = trusting(pki, pins=[wrong])
    client.set_https_proxy(tinyproxy.host, tinyproxy.port)
    refused(run(client, "localhost", port), "pin")


# ---- bug 7: a close-delimited body needs the server's close_notify


BIG = bytes(range(256)) * 400  # 100 KiB: several TLS records


def _truncating_server(raw_server: Callable[..., RawServer], pki: Pki, response: bytes, *,
                       close_notify: bool) -> RawServer:
    """Send ``response`` over TLS, then end with close_notify or with a bare FIN."""
    cert = pki.certs["valid"]
    cert_path, key_path = pki.directory / "trunc-chain.pem", pki.directory / "trunc-key.pem"
    cert_path.write_bytes(cert.chain_pem)
    key_path.write_bytes(cert.key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert_path), str(key_path))

    def handler(conn: raw.RawConnection) -> None:
        conn.recv_head()
        conn.sendall(response)
        if close_notify and isinstance(conn.sock, ssl.SSLSocket):
            conn.sock.settimeout(2.0)
            with contextlib.suppress(OSError, ValueError):
                conn.sock.unwrap()  # sends close_notify; the client's own may never come
        # else: RawServer closes the TCP socket: a FIN without close_notify

    return raw_server(handler, ssl_context=ctx)


UNTIL_CLOSE = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + BIG


def test_until_close_body_cut_by_bare_fin_is_an_error(
        pki: Pki, raw_server: Callable[..., RawServer]) -> None:
    server = _truncating_server(raw_server, pki, UNTIL_CLOSE, close_notify=False)
    result = run(trusting(pki), "localhost", server.port, path="/")
    assert result.status is S.STATUS_CONNECTION_ERROR, result
    assert "close_notify" in result.error and "truncated" in result.error


def test_until_close_body_with_close_notify_is_complete(
        pki: Pki, raw_server: Callable[..., RawServer]) -> None:
    server = _truncating_server(raw_server, pki, UNTIL_CLOSE, close_notify=True)
    result = run(trusting(pki), "localhost", server.port, path="/")
    # Like the engine, the end of a close-delimited body is a close() (code reset).
    assert result.status is S.STATUS_DISCONNECTED, result
    assert result.body == BIG


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_framed_body_then_bare_fin_is_fine(framing: str, pki: Pki,
                                           raw_server: Callable[..., RawServer]) -> None:
    """The framing says where the body ends: a missing close_notify afterwards is harmless."""
    if framing == "length":
        response = raw.http_response(200, BIG)
    else:
        response = raw.http_response(200, headers=[("Transfer-Encoding", "chunked")],
                                     content_length=False) + raw.chunked(BIG[:5000], BIG[5000:])
    server = _truncating_server(raw_server, pki, response, close_notify=False)
    result = run(trusting(pki), "localhost", server.port, path="/")
    assert result.status is S.STATUS_CONNECTED, result
    assert result.code == 200 and result.body == BIG


# ---- bug 6: a CRL file adds no trust


def test_crl_blocks_keeps_only_crls(pki: Pki) -> None:
    crl = pki.crls["root_clean"].read_text()
    assert tls.crl_blocks("junk before\n" + crl + "trailing text\n") == crl.strip() + "\n"
    two = pki.crls["chain_clean"].read_text()
    assert tls.crl_blocks(two).count("BEGIN X509 CRL") == 2
    with pytest.raises(ValueError, match="no PEM X509 CRL block"):
        tls.crl_blocks("not a pem")


def test_crl_carrying_a_certificate_is_refused(pki: Pki) -> None:
    stranger = trustme.CA(organization_name="smuggled into a CRL")
    bad = pki.crls["root_clean"].read_text() + stranger.cert_pem.bytes().decode()
    with pytest.raises(ValueError, match=r"CERTIFICATE PEM block\(s\); only X509 CRL blocks"):
        tls.crl_blocks(bad)
    settings = tls.TlsSettings(ca_pem=pki.root_pem_path.read_text(), crl_pem=bad)
    with pytest.raises(ValueError, match="would become a trusted CA"):
        tls.context_for(settings)


def test_crl_file_carrying_a_ca_does_not_make_it_trusted(
        pki: Pki, nginx_tls_factory: Factory, tmp_path: Path) -> None:
    """Bug 6: the smuggled CA's server must not become reachable."""
    stranger = trustme.CA(organization_name="smuggled into a CRL")
    port = serve(nginx_tls_factory, _from_trustme(stranger.issue_cert(*NAMES)))
    crl_path = tmp_path / "evil.crl.pem"
    # The stranger's own clean CRL too, so that leaf CRL checking alone would pass it.
    crl_path.write_bytes(pki.crls["root_clean"].read_bytes() + make_crl(stranger)
                         + stranger.cert_pem.bytes())
    client = trusting(pki)
    assert client.set_crl(str(crl_path)) is Error.ERR_INVALID_DATA
    assert "CERTIFICATE PEM block" in client.get_error_message()
    refused(run(client, "localhost", port), "issuer")
