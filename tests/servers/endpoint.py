"""The object every test server fixture hands out: where it is and how to trust it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Endpoint:
    """One listening server on loopback.

    scheme       "http" or "https"
    host         "127.0.0.1" (IPv4 loopback; use url(host="localhost") for name-based tests)
    port         TCP port
    ca_pem_path  CA certificate that signed the server certificate (TLS only, else None)
    files        name -> (size, sha256) of the static files under /files/ (nginx only)
    root         directory holding those files (write more there: they are served at once)
    upload_dir   where PUT /upload/<name> stores bodies (nginx only)
    protocols    TLS protocol names the server accepts, e.g. ("TLSv1.2", "TLSv1.3")
    ipv6         the same service also listens on [::1]:port
    """

    scheme: str
    host: str
    port: int
    ca_pem_path: Path | None = None
    files: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    root: Path | None = None
    upload_dir: Path | None = None
    protocols: tuple[str, ...] = ()
    ipv6: bool = False

    @property
    def ca_pem(self) -> bytes | None:
        return self.ca_pem_path.read_bytes() if self.ca_pem_path is not None else None

    @property
    def is_tls(self) -> bool:
        return self.scheme == "https"

    @property
    def origin(self) -> str:
        return self.url("")

    def url(self, path: str = "/", host: str | None = None) -> str:
        h = host if host is not None else self.host
        if ":" in h and not h.startswith("["):
            h = f"[{h}]"
        if path and not path.startswith("/"):
            path = "/" + path
        return f"{self.scheme}://{h}:{self.port}{path}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly description (for handing to other processes, e.g. godot3-server)."""
        return {
            "scheme": self.scheme,
            "host": self.host,
            "port": self.port,
            "url": self.url("/"),
            "ca_pem_path": str(self.ca_pem_path) if self.ca_pem_path else None,
            "files": {k: list(v) for k, v in self.files.items()},
            "root": str(self.root) if self.root else None,
            "upload_dir": str(self.upload_dir) if self.upload_dir else None,
            "protocols": list(self.protocols),
            "ipv6": self.ipv6,
        }
