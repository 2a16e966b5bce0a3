"""Per-client TLS settings: trust, minimum version, CRLs, client certificates, pins.

Contexts are built once per distinct settings and shared, because loading a
trust store costs milliseconds and connects should not.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import ssl
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache

from gdhttp import limits, paths

__all__ = [
    "TlsSettings",
    "check_pins",
    "context_for",
    "crl_blocks",
    "spki_sha256",
    "tls_version_from_name",
]

_VERSIONS = {
    "tlsv1": ssl.TLSVersion.TLSv1,
    "tlsv1.0": ssl.TLSVersion.TLSv1,
    "tlsv1.1": ssl.TLSVersion.TLSv1_1,
    "tlsv1.2": ssl.TLSVersion.TLSv1_2,
    "tlsv1.3": ssl.TLSVersion.TLSv1_3,
}


def tls_version_from_name(name: str) -> ssl.TLSVersion | None:
    """Map "1.2", "TLSv1.3", "tls1.2" ... to a TLSVersion; None if unknown."""
    key = name.strip().lower().replace("tls", "")
    key = "tlsv" + key.lstrip("v")
    return _VERSIONS.get(key)


@dataclass(frozen=True)
class TlsSettings:
    """Everything that decides how a client's TLS context is built."""

    verify: bool = True
    #: PEM text of CA certificates to trust instead of the system store.
    ca_pem: str = ""
    #: Use certifi's bundle instead of the system store (if certifi is installed).
    use_certifi: bool = False
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    crl_pem: str = ""
    crl_check_chain: bool = False
    client_cert_path: str = ""
    client_key_path: str = ""
    pins: frozenset[str] = field(default_factory=frozenset)
    #: ALPN protocols offered, most wanted first (empty: no ALPN, as the engine).
    alpn: tuple[str, ...] = ()


@lru_cache(maxsize=32)
def context_for(settings: TlsSettings) -> ssl.SSLContext:
    """Build (once) the SSLContext for these settings.

    Raises ssl.SSLError/OSError, or ValueError for CRL data that is not only CRLs.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = settings.min_version
    if settings.min_version < ssl.TLSVersion.TLSv1_2:
        # OpenSSL's default security level refuses TLS < 1.2 even when asked.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    if not settings.verify:
        # The engine's verify_host=false: no chain and no name check at all.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.check_hostname = True
        if settings.ca_pem:
            ctx.load_verify_locations(cadata=settings.ca_pem)
        elif settings.use_certifi:
            import certifi  # type: ignore[import-not-found, unused-ignore]

            ctx.load_verify_locations(cafile=certifi.where())
        else:
            ctx.load_default_certs()
        if settings.crl_pem:
            _load_crl(ctx, settings.crl_pem)
            chain = settings.crl_check_chain
            ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_CHAIN if chain else ssl.VERIFY_CRL_CHECK_LEAF
    if settings.alpn:
        ctx.set_alpn_protocols(list(settings.alpn))
    if settings.client_cert_path:
        _load_client_cert(ctx, settings.client_cert_path, settings.client_key_path)
    return ctx


_PEM_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL
)


def crl_blocks(pem: str) -> str:
    """Only the ``X509 CRL`` blocks of ``pem``; ValueError if it holds anything else.

    CRLs reach us from a file or over plain HTTP, and OpenSSL's loader takes
    certificates from the same file as trust anchors: a CERTIFICATE block
    smuggled into a "CRL" would make its CA trusted. So any other block is
    refused, and only the CRL blocks are ever handed to OpenSSL.
    """
    blocks = _PEM_BLOCK.findall(pem)
    others = sorted({label for label, _ in blocks if label != "X509 CRL"})
    if others:
        raise ValueError(
            f"CRL data holds {', '.join(others)} PEM block(s); only X509 CRL blocks are "
            "accepted (a certificate there would become a trusted CA)"
        )
    crls = [f"-----BEGIN X509 CRL-----\n{body}-----END X509 CRL-----\n" for _, body in blocks]
    if not crls:
        raise ValueError("no PEM X509 CRL block found")
    return "".join(crls)


def _load_crl(ctx: ssl.SSLContext, pem: str) -> None:
    # OpenSSL reads CRLs only from files (cadata takes certificates only).
    with tempfile.NamedTemporaryFile("w", suffix=".pem", prefix="gdhttp-crl-") as fh:
        fh.write(crl_blocks(pem))
        fh.flush()
        ctx.load_verify_locations(cafile=fh.name)


def _load_client_cert(ctx: ssl.SSLContext, cert_path: str, key_path: str) -> None:
    # OpenSSL loads key pairs only from files; res:// may live inside a .pck, so the
    # PEM goes through gdhttp.paths into a private file that exists for this call only.
    cert = paths.read_bytes(cert_path, limits.MAX_PEM_FILE)
    key = paths.read_bytes(key_path, limits.MAX_PEM_FILE) if key_path else b""
    with tempfile.TemporaryDirectory(prefix="gdhttp-cert-") as folder:
        cert_file = os.path.join(folder, "cert.pem")
        key_file = os.path.join(folder, "key.pem")
        for name, data in ((cert_file, cert), (key_file, key)):
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        ctx.load_cert_chain(cert_file, key_file if key_path else None)


def read_pem_argument(value: str) -> str:
    """Accept PEM text or a path (OS, res:// or user://) to a PEM file; return the PEM text."""
    if "-----BEGIN" in value:
        return value
    return paths.read_text(value, limits.MAX_PEM_FILE, "ascii")


# ---- pinning: SHA-256 of the DER SubjectPublicKeyInfo, as HPKP and curl do


def _der_item(data: bytes, pos: int) -> tuple[int, int, int]:
    """Return (tag, content start, content end) of the DER item at ``pos``."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def spki_sha256(cert_der: bytes) -> bytes:
    """SHA-256 of the certificate's SubjectPublicKeyInfo (DER)."""
    _, start, _ = _der_item(cert_der, 0)  # Certificate
    _, pos, end = _der_item(cert_der, start)  # TBSCertificate
    tag, _, item_end = _der_item(cert_der, pos)
    if tag == 0xA0:  # explicit [0] version
        pos = item_end
    # serial, signature, issuer, validity, subject, then subjectPublicKeyInfo
    for _ in range(5):
        _, _, pos = _der_item(cert_der, pos)
    tag, _content, spki_end = _der_item(cert_der, pos)
    if tag != 0x30 or spki_end > end:
        raise ValueError("no SubjectPublicKeyInfo")
    return hashlib.sha256(cert_der[pos:spki_end]).digest()


def normalize_pin(pin: str) -> str | None:
    """Accept "sha256/<base64>", plain base64 or hex; return base64, None if invalid."""
    text = pin.strip()
    if text.lower().startswith("sha256/"):
        text = text[7:]
    hex_text = text.replace(":", "")
    if len(hex_text) == 64:
        try:
            return base64.b64encode(bytes.fromhex(hex_text)).decode()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return None
    return text if len(raw) == 32 else None


def check_pins(sock: ssl.SSLSocket, pins: frozenset[str]) -> str | None:
    """None if the leaf's SPKI matches a pin, else a message naming what was seen."""
    der = sock.getpeercert(binary_form=True)
    if not der:
        return "server sent no certificate to check against the pins"
    try:
        seen = base64.b64encode(spki_sha256(der)).decode()
    except (ValueError, IndexError):
        return "could not read the server certificate's public key"
    if seen in pins:
        return None
    return f"certificate pin mismatch: server key is sha256/{seen}, expected one of " + ", ".join(
        f"sha256/{p}" for p in sorted(pins)
    )


def der_item(data: bytes, pos: int) -> tuple[int, int, int]:
    """Public name of the DER reader (``gdhttp.report`` describes certificates with it)."""
    return _der_item(data, pos)
