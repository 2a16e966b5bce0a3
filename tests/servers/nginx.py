"""nginx on loopback as a foreground child process with a generated config.

One process serves several server blocks (plain HTTP, TLS 1.2+1.3, TLS 1.3 only, TLS 1.2 only),
all with the same locations (see LOCATIONS_DOC). It runs with `daemon off; master_process off;`,
prefix, pid, logs and temp paths in its own directory, so it works as root and as a user.
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from ._util import LOOPBACK, ChildProcess, ServerStartError, free_port, require_binary
from .blobs import make_blob, make_standard_files
from .endpoint import Endpoint

REDIRECT_CODES = (301, 302, 303, 307, 308)
STATUS_CODES = (200, 201, 202, 204, 304, 400, 401, 403, 404, 405, 410, 418, 429, 500, 502, 503)
REDIRECT_CHAIN_MAX = 10
# A needle that never occurs in the served files: sub_filter then changes nothing but drops
# Content-Length, which makes nginx send the body with Transfer-Encoding: chunked (HTTP/1.1).
_NO_MATCH = "gdhttp-no-such-text-7f3a9c1e5b2d4068a1c3e5f7091b2d4f"
BIG_HEADER_LEN = 4000  # nginx config tokens are limited to ~4 KiB
SLOW_RATE = "64k"  # bytes per second on /slow/ (the first second's worth goes out at once)

LOCATIONS_DOC = f"""\
Locations served by every nginx test server (plain and TLS alike):
  /                       index.html, "gdhttp nginx test server\\n" (Content-Length, keep-alive)
  /files/<name>           static files, Content-Length framing, keep-alive, Range supported,
                          HEAD gives headers only; names/sizes/sha256 in Endpoint.files
  /chunked/<name>         the same files with Transfer-Encoding: chunked (no Content-Length;
                          sub_filter trick). Exception: a 0-byte file gets Content-Length: 0.
                          An HTTP/1.0 request gets close-delimited instead.
  /gzip/<name>            the same files; with "Accept-Encoding: gzip" the body is gzip
                          (Content-Encoding: gzip, chunked); without it, identity+Content-Length
  /close/<name>           the same files with "Connection: close" (keepalive_timeout 0)
  /slow/<name>            the same files, throttled to {SLOW_RATE}B/s after an initial
                          burst of the same size (timeouts, progress)
  /redirect/<code>        code in {REDIRECT_CODES}; Location is absolute
                          http(s)://<Host>/files/1k.bin, or the raw query value of ?to=<url>
  /redirect-rel/<code>    as /redirect/ but Location is the relative path /files/1k.bin
  /redirect-chain/<n>     n in 0..{REDIRECT_CHAIN_MAX}: 302 to /redirect-chain/<n-1>;
                          /redirect-chain/0 -> 302 /files/1k.bin
  /redirect-loop          302 to itself forever
  /status/<code>          code in {STATUS_CODES}: that status, body "status <code>\\n"
                          (no body for 204 and 304)
  /upload/<name>          WebDAV PUT (201 new / 204 overwrite; chunked request bodies OK),
                          DELETE; GET returns what was stored. Files land in Endpoint.upload_dir.
  /post                   any method incl. POST/PUT: 200 "ok\\n" sent at once, the body
                          is discarded as it arrives (the answer may precede the upload!)
  /post-echo              any method: nginx reads the WHOLE body first (request buffering,
                          proxied to an internal block), then 200 "received <N>\\n" with N
                          the body length (Content-Length or chunked request bodies)
  /post-store/<name>      any method with a body (POST too): whole body read first, then
                          stored as Endpoint.upload_dir/<name>; 201 new / 204 overwrite
  /headers/repeated       two Set-Cookie and two X-Multi headers, body "repeated\\n"
  /headers/big            X-Big header of {BIG_HEADER_LEN} 'a' characters, body "big\\n"
  anything else           404
keepalive_requests 100000, keepalive_timeout 75 s, client_max_body_size unlimited.
access.log lines: "$connection $connection_requests $status \"$request\"".
"""

_MIME = """
    types {
        text/html html;
        text/plain txt;
        application/json json;
        image/png png;
        application/octet-stream bin;
    }
    default_type application/octet-stream;
"""


def _locations(www: Path, upload_parent: Path) -> str:
    files = www / "files"
    lines: list[str] = []
    a = lines.append
    a(f"        root {www};")
    a("        location = / { try_files /index.html =404; }")
    a("        location /files/ { }")
    a(f"        location /chunked/ {{ alias {files}/; sub_filter '{_NO_MATCH}' '';")
    a("            sub_filter_types *; sub_filter_once on; }")
    a(f"        location /gzip/ {{ alias {files}/; gzip on; gzip_types *; gzip_min_length 0;")
    a("            gzip_proxied any; gzip_vary on; gzip_http_version 1.0; }")
    a(f"        location /close/ {{ alias {files}/; keepalive_timeout 0; }}")
    a(f"        location /slow/ {{ alias {files}/; limit_rate {SLOW_RATE}; limit_rate_after 0; }}")
    for code in REDIRECT_CODES:
        a(f"        location = /redirect/{code} {{ if ($arg_to) {{ return {code} $arg_to; }}")
        a(f"            return {code} /files/1k.bin; }}")
        a(f"        location = /redirect-rel/{code} {{ absolute_redirect off;")
        a(f"            return {code} /files/1k.bin; }}")
    a("        location = /redirect-chain/0 { return 302 /files/1k.bin; }")
    for n in range(1, REDIRECT_CHAIN_MAX + 1):
        a(f"        location = /redirect-chain/{n} {{ return 302 /redirect-chain/{n - 1}; }}")
    a("        location = /redirect-loop { return 302 /redirect-loop; }")
    for code in STATUS_CODES:
        if code in (204, 304):
            a(f"        location = /status/{code} {{ return {code}; }}")
        else:
            a(f"        location = /status/{code} {{ default_type text/plain;")
            a(f'            return {code} "status {code}\\n"; }}')
    a(f"        location /upload/ {{ root {upload_parent}; dav_methods PUT DELETE;")
    a("            create_full_put_path on; dav_access user:rw group:r all:r; }")
    a('        location = /post { default_type text/plain; return 200 "ok\\n"; }')
    a("        location = /post-echo { proxy_pass http://gdhttp_internal/_echo_length;")
    a("            proxy_request_buffering on; proxy_set_header Host localhost; }")
    a("        location /post-store/ { proxy_pass http://gdhttp_internal/upload/;")
    a("            proxy_method PUT; proxy_request_buffering on; proxy_hide_header Location;")
    a("            proxy_set_header Host localhost; }")
    a("        location = /headers/repeated { default_type text/plain;")
    a('            add_header Set-Cookie "a=1; Path=/" always;')
    a('            add_header Set-Cookie "b=2; Path=/" always;')
    a('            add_header X-Multi "one" always; add_header X-Multi "two" always;')
    a('            return 200 "repeated\\n"; }')
    a("        location = /headers/big { default_type text/plain;")
    a(f'            add_header X-Big "{"a" * BIG_HEADER_LEN}" always;')
    a('            return 200 "big\\n"; }')
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ServerBlock:
    """One `server {}` to generate: name, port, and TLS settings (cert/key None = plain)."""

    name: str
    port: int
    cert_path: Path | None = None
    key_path: Path | None = None
    protocols: tuple[str, ...] = ()
    ciphers: str | None = None
    extra: str = ""
    http2: bool = False  # `listen ... ssl http2` (nginx-light has the module)


def _ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _config(prefix: Path, www: Path, upload_parent: Path, blocks: Sequence[ServerBlock],
            ipv6: bool, internal_port: int) -> str:
    out = [
        "daemon off;",
        "master_process off;",
        "worker_processes 1;",
        f"pid {prefix}/nginx.pid;",
        f"error_log {prefix}/error.log warn;",
        "events { worker_connections 1024; }",
        "http {",
        _MIME,
        # $connection: the serial number of the TCP connection (connection reuse tests).
        "    log_format gdhttp '$connection $connection_requests $status \"$request\"';",
        f"    access_log {prefix}/access.log gdhttp;",
        f"    client_body_temp_path {prefix}/tmp/body;",
        f"    proxy_temp_path {prefix}/tmp/proxy;",
        f"    fastcgi_temp_path {prefix}/tmp/fastcgi;",
        f"    uwsgi_temp_path {prefix}/tmp/uwsgi;",
        f"    scgi_temp_path {prefix}/tmp/scgi;",
        "    sendfile on; tcp_nopush on; tcp_nodelay on;",
        "    keepalive_requests 100000; keepalive_timeout 75s;",
        "    client_max_body_size 0;",
        "    server_tokens off;",
        "    ssl_session_cache shared:gdhttp:1m;",
    ]
    locations = _locations(www, upload_parent)
    # An internal block the /post-echo and /post-store locations proxy to.
    out.append(f"    upstream gdhttp_internal {{ server {LOOPBACK}:{internal_port}; }}")
    out.append("    server {")
    out.append(f"        listen {LOOPBACK}:{internal_port};")
    out.append("        location = /_echo_length { default_type text/plain;")
    out.append('            return 200 "received $content_length\\n"; }')
    out.append(f"        location /upload/ {{ root {upload_parent}; dav_methods PUT;")
    out.append("            create_full_put_path on; dav_access user:rw group:r all:r; }")
    out.append("    }")
    for b in blocks:
        ssl = " ssl" if b.cert_path is not None else ""
        if b.http2 and b.cert_path is not None:
            ssl += " http2"
        out.append("    server {")
        out.append(f"        listen {LOOPBACK}:{b.port}{ssl};")
        if ipv6:
            out.append(f"        listen [::1]:{b.port}{ssl};")
        out.append("        server_name localhost;")
        if b.cert_path is not None:
            out.append(f"        ssl_certificate {b.cert_path};")
            out.append(f"        ssl_certificate_key {b.key_path};")
            out.append(f"        ssl_protocols {' '.join(b.protocols)};")
            if b.ciphers:
                out.append(f"        ssl_ciphers {b.ciphers};")
        if b.extra:
            out.append(b.extra)
        out.append(locations)
        out.append("    }")
    out.append("}")
    return "\n".join(out) + "\n"


class NginxServer:
    """A running nginx with one Endpoint per server block.

    `endpoints` maps block names to Endpoints. host/port/url()/ca_pem_path/ca_pem delegate to
    the first block, so a one-block server (start_nginx_tls) reads like an Endpoint.
    """

    def __init__(self, prefix: Path, process: ChildProcess, endpoints: Mapping[str, Endpoint]):
        self.prefix = prefix
        self.process = process
        self.endpoints = dict(endpoints)
        self.primary = next(iter(self.endpoints.values()))

    # Endpoint-like surface of the first server block.
    @property
    def host(self) -> str:
        return self.primary.host

    @property
    def port(self) -> int:
        return self.primary.port

    @property
    def scheme(self) -> str:
        return self.primary.scheme

    @property
    def ca_pem_path(self) -> Path | None:
        return self.primary.ca_pem_path

    @property
    def ca_pem(self) -> bytes | None:
        return self.primary.ca_pem

    @property
    def files(self) -> Mapping[str, tuple[int, str]]:
        return self.primary.files

    def url(self, path: str = "/", host: str | None = None) -> str:
        return self.primary.url(path, host)

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    @property
    def access_log(self) -> Path:
        return self.prefix / "access.log"

    def alive(self) -> bool:
        return self.process.alive()

    def stop(self) -> None:
        self.process.stop()

    def __enter__(self) -> NginxServer:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _prepare_www(www: Path, files_dir: Path | None) -> dict[str, tuple[int, str]]:
    (www / "files").mkdir(parents=True, exist_ok=True)
    (www / "index.html").write_bytes(b"gdhttp nginx test server\n")
    target = www / "files"
    if files_dir is None:
        return make_standard_files(target)
    # Reuse a shared cache of blobs: symlink them into this server's root.
    infos = make_standard_files(files_dir)
    for name in infos:
        link = target / name
        if not link.exists():
            link.symlink_to(Path(files_dir) / name)
    return infos


def start_nginx(
    blocks: Iterable[tuple[str, str | None]],
    *,
    prefix: Path | None = None,
    files_dir: Path | None = None,
    cert_path: Path | None = None,
    key_path: Path | None = None,
    ca_pem_path: Path | None = None,
    ciphers: str | None = None,
    ipv6: bool | None = None,
    attempts: int = 3,
    extra: Mapping[str, str] | None = None,
    http2: Iterable[str] = (),
) -> NginxServer:
    """Start one nginx with the given server blocks.

    blocks: (name, protocols) pairs; protocols None = plain HTTP, else the ssl_protocols value
    such as "TLSv1.2 TLSv1.3". TLS blocks use cert_path/key_path (required then).
    files_dir: shared blob cache (standard files are created there once and symlinked).
    Free ports are picked automatically; a port race is retried `attempts` times.
    extra: block name -> config lines added to that server block (e.g. keepalive limits).
    http2: names of TLS blocks that also speak HTTP/2 (ALPN h2).
    """
    exe = require_binary("nginx", "nginx-light")
    blocks = list(blocks)
    h2_names = set(http2)
    if prefix is None:
        prefix = Path(tempfile.mkdtemp(prefix="gdhttp-nginx-"))
    prefix.mkdir(parents=True, exist_ok=True)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    www = prefix / "www"
    upload_parent = prefix
    upload_dir = upload_parent / "upload"
    upload_dir.mkdir(parents=True, exist_ok=True)
    infos = _prepare_www(www, files_dir)
    if ipv6 is None:
        ipv6 = _ipv6_loopback_available()
    last_error: ServerStartError | None = None
    for _ in range(max(1, attempts)):
        sblocks: list[ServerBlock] = []
        for name, protocols in blocks:
            port = free_port()
            more = (extra or {}).get(name, "")
            if protocols is None:
                sblocks.append(ServerBlock(name, port, extra=more))
            else:
                if cert_path is None or key_path is None:
                    raise ValueError("TLS server blocks need cert_path and key_path")
                sblocks.append(ServerBlock(name, port, cert_path, key_path,
                                           tuple(protocols.split()), ciphers, extra=more,
                                           http2=name in h2_names))
        conf = prefix / "nginx.conf"
        internal_port = free_port()
        conf.write_text(_config(prefix, www, upload_parent, sblocks, ipv6, internal_port))
        error_log = prefix / "error.log"
        proc = ChildProcess(
            [exe, "-p", str(prefix), "-c", str(conf), "-e", str(error_log)],
            name="nginx", log_path=prefix / "stdout.log", cwd=prefix,
        )
        try:
            proc.wait_for_ports([b.port for b in sblocks] + [internal_port],
                                extra_log=error_log)
        except ServerStartError as exc:
            proc.stop()
            last_error = exc
            if "Address already in use" in str(exc):
                continue
            raise
        endpoints = {
            b.name: Endpoint(
                scheme="https" if b.cert_path else "http",
                host=LOOPBACK,
                port=b.port,
                ca_pem_path=ca_pem_path if b.cert_path else None,
                files=infos,
                root=www / "files",
                upload_dir=upload_dir,
                protocols=b.protocols,
                ipv6=ipv6,
            )
            for b in sblocks
        }
        return NginxServer(prefix, proc, endpoints)
    assert last_error is not None
    raise last_error


def start_nginx_tls(
    cert_pem: bytes,
    key_pem: bytes,
    protocols: Sequence[str] = ("TLSv1.2", "TLSv1.3"),
    *,
    ca_pem: bytes | None = None,
    ciphers: str | None = None,
    prefix: Path | None = None,
    files_dir: Path | None = None,
) -> NginxServer:
    """Start an extra nginx with a single TLS server block using the given cert chain and key.

    cert_pem: PEM certificate chain (leaf first); key_pem: PEM private key; protocols: nginx
    ssl_protocols names ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"); ca_pem, if given, is
    written next to them and exposed as .ca_pem_path. Same locations as every nginx here.
    Stop it with .stop() (or use it as a context manager).
    """
    if prefix is None:
        prefix = Path(tempfile.mkdtemp(prefix="gdhttp-nginx-tls-"))
    tls_dir = prefix / "tls"
    tls_dir.mkdir(parents=True, exist_ok=True)
    cert_path = tls_dir / "cert-chain.pem"
    key_path = tls_dir / "key.pem"
    cert_path.write_bytes(cert_pem)
    key_path.write_bytes(key_pem)
    key_path.chmod(0o600)
    ca_path: Path | None = None
    if ca_pem is not None:
        ca_path = tls_dir / "ca.pem"
        ca_path.write_bytes(ca_pem)
    return start_nginx(
        [("tls", " ".join(protocols))],
        prefix=prefix, files_dir=files_dir, cert_path=cert_path, key_path=key_path,
        ca_pem_path=ca_path, ciphers=ciphers,
    )


def add_blob(endpoint: Endpoint, name: str, size: int, **kwargs: object) -> tuple[int, str]:
    """Create an extra file in a running server's /files/ root (served at once)."""
    if endpoint.root is None:
        raise ValueError("endpoint has no static root")
    b = make_blob(endpoint.root, name, size, **kwargs)  # type: ignore[arg-type]
    return b.size, b.sha256
