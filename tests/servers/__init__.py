"""Loopback test servers for gdhttp: nginx (HTTP + TLS variants), tinyproxy, a raw socket
server for malformed traffic, deterministic blobs with known sha256. See README.md here.

Importable as `servers` from tests (tests/ is on sys.path via conftest.py) and as
`tests.servers` from the repository root (e.g. the bench). `python -m tests.servers` starts
the standard set and prints their description as JSON, for use from other processes.
"""

from ._util import LOOPBACK, ServerStartError, free_port, port_is_open, require_binary
from .blobs import (
    STANDARD_FILES,
    Blob,
    GiB,
    KiB,
    MiB,
    blob_bytes,
    make_blob,
    make_standard_files,
    sha256_file,
    shared_blob_dir,
)
from .endpoint import Endpoint
from .latency import LatencyRelay
from .nginx import (
    BIG_HEADER_LEN,
    LOCATIONS_DOC,
    REDIRECT_CHAIN_MAX,
    REDIRECT_CODES,
    SLOW_RATE,
    STATUS_CODES,
    NginxServer,
    add_blob,
    start_nginx,
    start_nginx_tls,
)
from .raw import (
    Action,
    RawConnection,
    RawRequest,
    RawServer,
    call,
    chunked,
    close,
    http_response,
    read_all,
    read_exact,
    read_head,
    read_request,
    read_until,
    reset,
    send,
    send_slowly,
    shutdown_write,
    silent,
    sleep,
)
from .tinyproxy import ProxyServer, start_tinyproxy
from .tlsutil import TLSMaterial, make_tls_material

STANDARD_NGINX_BLOCKS: list[tuple[str, str | None]] = [
    ("http", None),
    ("https", "TLSv1.2 TLSv1.3"),
    ("tls13", "TLSv1.3"),
    ("tls12", "TLSv1.2"),
]
PROXY_USER = "gdhttp"
PROXY_PASSWORD = "proxy-secret-42"

__all__ = [
    "BIG_HEADER_LEN",
    "LOCATIONS_DOC",
    "LOOPBACK",
    "PROXY_PASSWORD",
    "PROXY_USER",
    "REDIRECT_CHAIN_MAX",
    "REDIRECT_CODES",
    "SLOW_RATE",
    "STANDARD_FILES",
    "STANDARD_NGINX_BLOCKS",
    "STATUS_CODES",
    "Action",
    "Blob",
    "Endpoint",
    "GiB",
    "KiB",
    "LatencyRelay",
    "MiB",
    "NginxServer",
    "ProxyServer",
    "RawConnection",
    "RawRequest",
    "RawServer",
    "ServerStartError",
    "TLSMaterial",
    "add_blob",
    "blob_bytes",
    "call",
    "chunked",
    "close",
    "free_port",
    "http_response",
    "make_blob",
    "make_standard_files",
    "make_tls_material",
    "port_is_open",
    "read_all",
    "read_exact",
    "read_head",
    "read_request",
    "read_until",
    "require_binary",
    "reset",
    "send",
    "send_slowly",
    "sha256_file",
    "shared_blob_dir",
    "shutdown_write",
    "silent",
    "sleep",
    "start_nginx",
    "start_nginx_tls",
    "start_tinyproxy",
]
