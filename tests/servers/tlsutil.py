"""TLS material for the test servers: a trustme CA and a leaf for localhost/127.0.0.1/::1."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import trustme
except ImportError as exc:  # pragma: no cover - trustme is in the dev extra
    raise ImportError("tests need `trustme` (pip install -e '.[dev]')") from exc

LEAF_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class TLSMaterial:
    """A CA and one server leaf, written as PEM files in `directory`.

    ca:             the trustme.CA object (issue more certs with ca.issue_cert(...))
    ca_pem_path:    CA certificate (what clients trust)
    cert_pem_path:  leaf certificate chain (leaf first) for localhost, 127.0.0.1, ::1
    key_pem_path:   leaf private key
    """

    ca: Any
    directory: Path
    ca_pem_path: Path
    cert_pem_path: Path
    key_pem_path: Path

    @property
    def ca_pem(self) -> bytes:
        return self.ca_pem_path.read_bytes()

    @property
    def cert_pem(self) -> bytes:
        return self.cert_pem_path.read_bytes()

    @property
    def key_pem(self) -> bytes:
        return self.key_pem_path.read_bytes()

    def client_context(self) -> ssl.SSLContext:
        """A stdlib client context trusting this CA (hostname checking on)."""
        return ssl.create_default_context(cafile=str(self.ca_pem_path))

    def server_context(self) -> ssl.SSLContext:
        """A stdlib server context presenting the leaf (for RawServer TLS cases)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.cert_pem_path), str(self.key_pem_path))
        return ctx


def make_tls_material(directory: str | Path, names: tuple[str, ...] = LEAF_NAMES) -> TLSMaterial:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="gdhttp test CA")
    leaf = ca.issue_cert(*names)
    ca_path = d / "ca.pem"
    cert_path = d / "server-chain.pem"
    key_path = d / "server.key"
    ca.cert_pem.write_to_path(str(ca_path))
    cert_path.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key_path))
    return TLSMaterial(ca, d, ca_path, cert_path, key_path)
