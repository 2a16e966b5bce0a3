"""Shared pytest fixtures: real loopback servers (see tests/servers/README.md).

Session-scoped: tls_material, nginx_servers, nginx_http, nginx_https, nginx_tls13,
nginx_tls12, tinyproxy, tinyproxy_auth, blob_cache_dir, httpbin_ca_pem_path (plus
pytest-httpbin's own httpbin / httpbin_secure).
Function-scoped factories: raw_server, nginx_tls_factory.

A missing binary (nginx, tinyproxy) is an error naming the Debian package to install; set
GDHTTP_SKIP_MISSING_SERVERS=1 to turn that into a skip instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from servers import (  # noqa: E402
    PROXY_PASSWORD,
    PROXY_USER,
    STANDARD_NGINX_BLOCKS,
    Endpoint,
    NginxServer,
    ProxyServer,
    RawServer,
    ServerStartError,
    TLSMaterial,
    make_tls_material,
    start_nginx,
    start_nginx_tls,
    start_tinyproxy,
)


def _start_or_skip(start: Callable[[], Any]) -> Any:
    try:
        return start()
    except ServerStartError as exc:
        if os.environ.get("GDHTTP_SKIP_MISSING_SERVERS") == "1" and "not found" in str(exc):
            pytest.skip(str(exc))
        raise


@pytest.fixture(scope="session")
def blob_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Per-session directory of deterministic blobs (servers symlink their files from here)."""
    return tmp_path_factory.mktemp("blobs")


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> TLSMaterial:
    """trustme CA + leaf for localhost/127.0.0.1/::1 (.ca, .ca_pem_path, .ca_pem,
    .cert_pem_path, .key_pem_path, .client_context(), .server_context())."""
    return make_tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def nginx_servers(
    tmp_path_factory: pytest.TempPathFactory, tls_material: TLSMaterial, blob_cache_dir: Path
) -> Iterator[NginxServer]:
    """The one session nginx; .endpoints has "http", "https", "tls13", "tls12"."""
    server: NginxServer = _start_or_skip(lambda: start_nginx(
        STANDARD_NGINX_BLOCKS,
        prefix=tmp_path_factory.mktemp("nginx"),
        files_dir=blob_cache_dir,
        cert_path=tls_material.cert_pem_path,
        key_path=tls_material.key_pem_path,
        ca_pem_path=tls_material.ca_pem_path,
    ))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nginx_http(nginx_servers: NginxServer) -> Endpoint:
    """Plain HTTP nginx."""
    return nginx_servers.endpoints["http"]


@pytest.fixture(scope="session")
def nginx_https(nginx_servers: NginxServer) -> Endpoint:
    """nginx with TLS 1.2 and 1.3."""
    return nginx_servers.endpoints["https"]


@pytest.fixture(scope="session")
def nginx_tls13(nginx_servers: NginxServer) -> Endpoint:
    """nginx with TLS 1.3 only."""
    return nginx_servers.endpoints["tls13"]


@pytest.fixture(scope="session")
def nginx_tls12(nginx_servers: NginxServer) -> Endpoint:
    """nginx with TLS 1.2 only."""
    return nginx_servers.endpoints["tls12"]


@pytest.fixture
def nginx_tls_factory(
    tmp_path_factory: pytest.TempPathFactory, blob_cache_dir: Path
) -> Iterator[Callable[..., NginxServer]]:
    """Factory: start_nginx_tls(cert_pem, key_pem, protocols=(...), ca_pem=None,
    ciphers=None) -> NginxServer; every server started is stopped at test teardown."""
    started: list[NginxServer] = []

    def factory(cert_pem: bytes, key_pem: bytes,
                protocols: Sequence[str] = ("TLSv1.2", "TLSv1.3"),
                **kwargs: Any) -> NginxServer:
        kwargs.setdefault("prefix", tmp_path_factory.mktemp("nginx-tls"))
        kwargs.setdefault("files_dir", blob_cache_dir)
        srv: NginxServer = _start_or_skip(
            lambda: start_nginx_tls(cert_pem, key_pem, protocols, **kwargs))
        started.append(srv)
        return srv

    yield factory
    for srv in started:
        srv.stop()


@pytest.fixture(scope="session")
def tinyproxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyServer]:
    """Open forward proxy (CONNECT allowed to any port)."""
    proxy: ProxyServer = _start_or_skip(
        lambda: start_tinyproxy(prefix=tmp_path_factory.mktemp("tinyproxy")))
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def tinyproxy_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyServer]:
    """Forward proxy requiring Basic auth (.user / .password)."""
    proxy: ProxyServer = _start_or_skip(lambda: start_tinyproxy(
        prefix=tmp_path_factory.mktemp("tinyproxy-auth"),
        user=PROXY_USER, password=PROXY_PASSWORD))
    yield proxy
    proxy.stop()


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    """Factory: raw_server(script_or_handler, **RawServer kwargs) -> RawServer (started);
    all are closed at test teardown."""
    servers: list[RawServer] = []

    def factory(script: Any = None, **kwargs: Any) -> RawServer:
        srv = RawServer(script, **kwargs)
        servers.append(srv)
        return srv

    yield factory
    for srv in servers:
        srv.close()


@pytest.fixture(scope="session")
def httpbin_ca_pem_path() -> str:
    """CA bundle that verifies pytest-httpbin's `httpbin_secure` (127.0.0.1/localhost/::1)."""
    import pytest_httpbin.certs

    path: str = pytest_httpbin.certs.where()
    return path
