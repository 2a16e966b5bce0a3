"""The bundled local demo server: HTTP and HTTPS on loopback, standard library only.

Not part of the library: it lives at the repository root and runs from there.

    python -m devserver --http-port 8080 --https-port 8443 --data-dir /tmp/gd \\
        [--ca-pem /tmp/gd/ca.pem] [--host 127.0.0.1] [--big-size 33554432] [--verbose]

Port 0 picks a free port. Once both listeners are up it prints one line on stdout:
``READY http=<port> https=<port>``; it exits with status 0 on SIGTERM or SIGINT.

The HTTPS certificate is issued at start by a fresh CA (with the ``trustme`` library when it
is importable, else with the ``openssl`` command line tool) for localhost, 127.0.0.1 and ::1;
the CA certificate is written to ``--ca-pem`` (default ``<data-dir>/ca.pem``) so a client
can trust it.

Endpoints (same on both listeners; HTTP/1.1 keep-alive; GET also answers HEAD):
  GET  /                      JSON index of these endpoints
  GET  /files/manifest.json   {"files": {name: {"size", "sha256", "url"}}}
  GET  /files/<name>          deterministic blobs (Content-Length): empty.bin, small.bin
                              (1 KiB), medium.bin (1 MiB), big.bin (32 MiB by default),
                              image.png (a 256x128 gradient PNG)
  GET  /chunked/<name>        the same files with Transfer-Encoding: chunked
  POST /upload                multipart/form-data, parsed while streaming; responds JSON
                              {"parts": [{"name", "filename", "content_type", "size",
                              "sha256"}], "body_bytes"}
  PUT  /upload/<name>         streamed body (Content-Length or chunked); responds JSON
                              {"name", "size", "sha256", "chunked"}
  GET  /redirect/<n>          302 to /redirect/<n-1>; /redirect/0 answers 200 JSON
  ANY  /status/<code>         that status code (200..599), short text body (none for
                              204 and 304)
  GET  /gzip                  a gzip-encoded JSON body (Content-Encoding: gzip) with
                              X-Decoded-Length and X-Decoded-Sha256 headers
  GET  /events                server-sent events (text/event-stream), numbered 1..count:
                              "id: <n>" and data {"n": <n>, "t_ns": <time.monotonic_ns()
                              at the write>}; query count (default 10), interval_ms
                              (default 100), close_after (end the response after that
                              many events; a client reconnects), retry (sent first, ms),
                              pad (data bytes added). A Last-Event-ID request header
                              resumes after that id. Chunked; the connection closes after.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import http.server
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

# Limits, each with its reason.
MAX_CHUNK_LINE = 4096  # a chunk-size line longer than this is not a real client
MAX_PART_HEADERS = 16 * 1024  # multipart part header block; real ones are a few hundred bytes
MAX_PARTS = 1000  # multipart parts per request; bounds the JSON answer
MAX_REDIRECTS = 100  # /redirect/<n>: keeps a typo from looping a client for long
MAX_EVENTS = 10_000_000  # /events count: a stream that ends within minutes at full speed
MAX_EVENT_INTERVAL_MS = 60_000  # /events interval_ms: a minute between events at most
MAX_EVENT_PAD = 64 * 1024  # /events pad: data bytes per event, for throughput runs
SSE_BATCH = 64 * 1024  # bytes gathered per write when events are sent back to back
READ_SIZE = 256 * 1024  # bytes per read or write while streaming bodies
IDLE_TIMEOUT = 30.0  # seconds a keep-alive connection may sit idle before it is closed
DEFAULT_BIG_SIZE = 32 * 1024 * 1024

_BLOCK = 1024 * 1024
_ROTATE_STEP = 4099


# --- data: blobs, PNG, manifest --------------------------------------------------------------

def _blob_chunks(size: int, seed: int) -> Iterator[bytes]:
    """Deterministic pseudo-random bytes: a 1 MiB seed block, rotated differently per MiB."""
    block = random.Random(seed).randbytes(_BLOCK)
    index = 0
    remaining = size
    while remaining > 0:
        n = min(remaining, _BLOCK)
        off = (index * _ROTATE_STEP) % _BLOCK
        yield (block[off:] + block[:off])[:n]
        index += 1
        remaining -= n


def make_png(width: int = 256, height: int = 128) -> bytes:
    """A valid 8-bit RGB PNG: red rises left to right, green top to bottom, blue fixed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type None
        g = (y * 255) // max(1, height - 1)
        for x in range(width):
            rows += bytes(((x * 255) // max(1, width - 1), g, 128))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


@dataclass(frozen=True)
class FileInfo:
    name: str
    path: Path
    size: int
    sha256: str
    content_type: str


def _write_blob(path: Path, size: int, seed: int) -> str:
    """Write the blob (or reuse it when the sidecar says it is already there); its sha256."""
    sidecar = path.with_name(path.name + ".sha256")
    tag = f"{size} {seed}"
    if path.is_file() and path.stat().st_size == size and sidecar.is_file():
        parts = sidecar.read_text().split(maxsplit=1)
        if len(parts) == 2 and parts[1].strip() == tag:
            return parts[0]
    h = hashlib.sha256()
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        for piece in _blob_chunks(size, seed):
            h.update(piece)
            f.write(piece)
    os.replace(tmp, path)
    digest = h.hexdigest()
    sidecar.write_text(f"{digest} {tag}\n")
    return digest


def prepare_files(data_dir: Path, big_size: int = DEFAULT_BIG_SIZE) -> dict[str, FileInfo]:
    """Create the served files under data_dir/files; return name -> FileInfo."""
    files_dir = data_dir / "files"
    files_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, FileInfo] = {}
    blobs = {"empty.bin": 0, "small.bin": 1024, "medium.bin": 1024 * 1024, "big.bin": big_size}
    for name, size in blobs.items():
        path = files_dir / name
        digest = _write_blob(path, size, zlib.crc32(name.encode("ascii")))
        out[name] = FileInfo(name, path, size, digest, "application/octet-stream")
    png = make_png()
    png_path = files_dir / "image.png"
    if not png_path.is_file() or png_path.read_bytes() != png:
        png_path.write_bytes(png)
    out["image.png"] = FileInfo("image.png", png_path, len(png),
                                hashlib.sha256(png).hexdigest(), "image/png")
    return out


def manifest(files: dict[str, FileInfo]) -> dict[str, Any]:
    return {"files": {f.name: {"size": f.size, "sha256": f.sha256, "url": f"/files/{f.name}"}
                      for f in files.values()}}


# --- TLS material ----------------------------------------------------------------------------

LEAF_NAMES = ("localhost", "127.0.0.1", "::1")


def _tls_with_trustme(out_dir: Path) -> tuple[bytes, Path, Path] | None:
    try:
        import trustme
    except ImportError:
        return None
    ca = trustme.CA(organization_name="gdhttp devserver CA")
    leaf = ca.issue_cert(*LEAF_NAMES)
    cert_path = out_dir / "server-chain.pem"
    key_path = out_dir / "server.key"
    cert_path.write_bytes(b"".join(p.bytes() for p in leaf.cert_chain_pems))
    key_path.write_bytes(leaf.private_key_pem.bytes())
    ca_pem: bytes = ca.cert_pem.bytes()
    return ca_pem, cert_path, key_path


def _tls_with_openssl(out_dir: Path) -> tuple[bytes, Path, Path]:
    exe = shutil.which("openssl")
    if exe is None:
        raise RuntimeError("need the `trustme` Python package or the `openssl` command for HTTPS")

    def run(*args: str) -> None:
        subprocess.run([exe, *args], cwd=out_dir, check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
        "-subj", "/O=gdhttp devserver CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost")
    (out_dir / "leaf.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "30", "-extfile", "leaf.ext")
    return (out_dir / "ca.pem").read_bytes(), out_dir / "server.pem", out_dir / "server.key"


def make_server_tls(out_dir: Path, ca_pem_path: Path, prefer: str = "auto") -> ssl.SSLContext:
    """Issue a CA and leaf, write the CA PEM to ca_pem_path, return a server SSLContext.

    prefer: "auto" (trustme if importable, else openssl), "trustme" or "openssl"."""
    out_dir.mkdir(parents=True, exist_ok=True)
    got = _tls_with_trustme(out_dir) if prefer in ("auto", "trustme") else None
    if got is None:
        if prefer == "trustme":
            raise RuntimeError("trustme is not importable")
        got = _tls_with_openssl(out_dir)
    ca_pem, cert_path, key_path = got
    ca_pem_path.parent.mkdir(parents=True, exist_ok=True)
    ca_pem_path.write_bytes(ca_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_path), str(key_path))
    return ctx


# --- request bodies --------------------------------------------------------------------------

class BadRequest(Exception):
    """The request body is malformed; answered with 400 and the connection closed."""


def iter_body(rfile: Any, headers: Any) -> Iterator[bytes]:
    """The request body as chunks, framed by Content-Length or Transfer-Encoding: chunked."""
    te = (headers.get("Transfer-Encoding") or "").lower()
    if "chunked" in te:
        while True:
            line = rfile.readline(MAX_CHUNK_LINE + 1)
            if not line.endswith(b"\n") or len(line) > MAX_CHUNK_LINE:
                raise BadRequest("bad or truncated chunk-size line")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError as exc:
                raise BadRequest(f"bad chunk size {size_text!r}") from exc
            if size < 0:
                raise BadRequest("negative chunk size")
            if size == 0:
                for _ in range(100):  # trailer section, bounded
                    t = rfile.readline(MAX_CHUNK_LINE + 1)
                    if t in (b"\r\n", b"\n"):
                        return
                    if not t:
                        raise BadRequest("truncated trailers")
                raise BadRequest("too many trailer lines")
            while size > 0:
                data = rfile.read(min(size, READ_SIZE))
                if not data:
                    raise BadRequest("body ended inside a chunk")
                size -= len(data)
                yield data
            if rfile.read(2) not in (b"\r\n",):
                raise BadRequest("chunk not followed by CRLF")
        return
    length_text = headers.get("Content-Length")
    if length_text is None:
        raise BadRequest("length required")
    try:
        remaining = int(length_text)
    except ValueError as exc:
        raise BadRequest("bad Content-Length") from exc
    if remaining < 0:
        raise BadRequest("bad Content-Length")
    while remaining > 0:
        data = rfile.read(min(remaining, READ_SIZE))
        if not data:
            raise BadRequest("body shorter than Content-Length")
        remaining -= len(data)
        yield data


@dataclass
class Part:
    name: str | None
    filename: str | None
    content_type: str | None
    size: int = 0
    sha256: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "filename": self.filename, "content_type": self.content_type,
                "size": self.size, "sha256": self.sha256}


_PARAM_RE = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def _header_params(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, raw in _PARAM_RE.findall(";" + value.split(";", 1)[1] if ";" in value else ""):
        v = raw.strip()
        if v.startswith('"') and v.endswith('"') and len(v) >= 2:
            v = re.sub(r"\\(.)", r"\1", v[1:-1])
        out[key.lower()] = v
    return out


def multipart_boundary(content_type: str) -> str:
    if content_type.split(";", 1)[0].strip().lower() != "multipart/form-data":
        raise BadRequest("expected multipart/form-data")
    boundary = _header_params(content_type).get("boundary")
    if not boundary or len(boundary) > 200:
        raise BadRequest("missing or bad multipart boundary")
    return boundary


def parse_multipart(chunks: Iterator[bytes], boundary: str) -> list[Part]:
    """Stream-parse a multipart/form-data body; hashes each part, keeps none in memory."""
    delim = b"\r\n--" + boundary.encode("latin-1")
    buf = bytearray(b"\r\n")  # lets the first boundary match the same pattern as the rest
    parts: list[Part] = []
    state = "preamble"
    current: Part | None = None
    hasher = hashlib.sha256()
    eof = False

    def fill() -> bool:
        nonlocal eof
        if eof:
            return False
        try:
            buf.extend(next(chunks))
        except StopIteration:
            eof = True
            return False
        return True

    while True:
        if state in ("preamble", "body"):
            i = buf.find(delim)
            if i < 0:
                keep = len(delim) - 1
                if state == "body" and current is not None and len(buf) > keep:
                    data = bytes(buf[: len(buf) - keep])
                    hasher.update(data)
                    current.size += len(data)
                    del buf[: len(buf) - keep]
                elif state == "preamble" and len(buf) > keep:
                    del buf[: len(buf) - keep]
                if not fill():
                    raise BadRequest("multipart body ended before its closing boundary")
                continue
            if state == "body" and current is not None:
                data = bytes(buf[:i])
                hasher.update(data)
                current.size += len(data)
                current.sha256 = hasher.hexdigest()
                parts.append(current)
                current = None
            del buf[: i + len(delim)]
            state = "after_delim"
        elif state == "after_delim":
            while len(buf) < 2 and fill():
                pass
            if buf[:2] == b"--":
                return parts  # the epilogue, if any, is ignored (the body is still drained)
            j = buf.find(b"\r\n")
            if j < 0:
                if len(buf) > 256 or not fill():
                    raise BadRequest("bad multipart boundary line")
                continue
            if buf[:j].strip(b" \t"):
                raise BadRequest("garbage after multipart boundary")
            del buf[: j + 2]
            state = "headers"
        elif state == "headers":
            while len(buf) < 2 and fill():
                pass
            if buf.startswith(b"\r\n"):  # a part with no headers at all
                block = ""
                del buf[:2]
            else:
                j = buf.find(b"\r\n\r\n")
                if j < 0:
                    if len(buf) > MAX_PART_HEADERS or not fill():
                        raise BadRequest("bad or oversized multipart part headers")
                    continue
                block = bytes(buf[:j]).decode("utf-8", "replace")
                del buf[: j + 4]
            if len(parts) >= MAX_PARTS:
                raise BadRequest("too many multipart parts")
            current = Part(None, None, None)
            for line in block.split("\r\n"):
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key == "content-disposition":
                    params = _header_params(value)
                    current.name = params.get("name")
                    current.filename = params.get("filename")
                elif key == "content-type":
                    current.content_type = value.strip()
            hasher = hashlib.sha256()
            state = "body"


# --- HTTP handler ----------------------------------------------------------------------------

class DevHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gdhttp-devserver/1.0"
    timeout = IDLE_TIMEOUT
    server: DevHTTPServer

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    # -- response helpers
    def _send(self, code: int, body: bytes = b"", content_type: str = "text/plain",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        has_body = code >= 200 and code not in (204, 304)
        if has_body:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if has_body and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        body = (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode("utf-8")
        self._send(code, body, "application/json", headers)

    def _error(self, code: int, message: str) -> None:
        self._json(code, {"error": message, "status": code})

    def _path(self) -> str:
        return unquote(urlsplit(self.path).path)

    # -- methods
    def do_GET(self) -> None:
        self._route()

    def do_HEAD(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def do_PUT(self) -> None:
        self._route()

    def do_DELETE(self) -> None:
        self._route()

    def do_PATCH(self) -> None:
        self._route()

    def do_OPTIONS(self) -> None:
        self._route()

    def _route(self) -> None:
        path = self._path()
        method = self.command
        try:
            if path == "/upload" and method == "POST":
                return self._upload_multipart()
            if path.startswith("/upload/") and method == "PUT":
                return self._upload_put(path[len("/upload/"):])
            self._drain()  # everything below ignores a request body: read it, keep the conn
            if path.startswith("/status/"):
                return self._status(path[len("/status/"):])
            if method not in ("GET", "HEAD"):
                return self._error(405, f"{method} not allowed on {path}")
            if path == "/":
                return self._json(200, {"endpoints": INDEX})
            if path == "/files/manifest.json":
                return self._json(200, manifest(self.server.files))
            if path.startswith("/files/"):
                return self._file(path[len("/files/"):], chunked=False)
            if path.startswith("/chunked/"):
                return self._file(path[len("/chunked/"):], chunked=True)
            if path.startswith("/redirect/"):
                return self._redirect(path[len("/redirect/"):])
            if path == "/gzip":
                return self._gzip()
            if path == "/events":
                return self._events()
            return self._error(404, f"no such resource: {path}")
        except BadRequest as exc:
            self.close_connection = True
            return self._error(400, str(exc))

    def _drain(self) -> None:
        """Read and drop a request body so the connection can be reused."""
        if self.headers.get("Content-Length") or self.headers.get("Transfer-Encoding"):
            for _ in iter_body(self.rfile, self.headers):
                pass

    def _status(self, code_text: str) -> None:
        if not code_text.isdigit() or not 200 <= int(code_text) <= 599:
            return self._error(400, "status must be 200..599")
        code = int(code_text)
        self._send(code, f"status {code}\n".encode())

    def _redirect(self, n_text: str) -> None:
        if not n_text.isdigit() or int(n_text) > MAX_REDIRECTS:
            return self._error(400, f"redirect count must be 0..{MAX_REDIRECTS}")
        n = int(n_text)
        if n == 0:
            return self._json(200, {"redirected": True})
        self._send(302, f"redirecting to /redirect/{n - 1}\n".encode(),
                   headers={"Location": f"/redirect/{n - 1}"})

    def _gzip(self) -> None:
        payload = json.dumps({"gzipped": True, "text": "gdhttp " * 200}).encode()
        body = gzip.compress(payload, mtime=0)
        self._send(200, body, "application/json", headers={
            "Content-Encoding": "gzip",
            "X-Decoded-Length": str(len(payload)),
            "X-Decoded-Sha256": hashlib.sha256(payload).hexdigest(),
        })

    def _events(self) -> None:
        query = parse_qs(urlsplit(self.path).query)

        def number(name: str, default: int, top: int) -> int:
            text = query.get(name, [str(default)])[0]
            if not text.isdigit() or int(text) > top:
                raise BadRequest(f"{name} must be 0..{top}")
            return int(text)

        count = number("count", 10, MAX_EVENTS)
        interval = number("interval_ms", 100, MAX_EVENT_INTERVAL_MS) / 1000
        close_after = number("close_after", 0, MAX_EVENTS)
        retry = query.get("retry", [""])[0]
        pad = number("pad", 0, MAX_EVENT_PAD)
        extra = f', "pad": "{"x" * pad}"' if pad else ""
        last = (self.headers.get("Last-Event-ID") or "").strip()
        self.server.sse_last_ids.append(last or None)
        first = int(last) + 1 if last.isdigit() else 1
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        # Chunked, as real event-stream servers frame it: a proxy that drops the
        # hop-by-hop Connection header can't turn the stream into a bodiless response.
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return

        def write(data: bytes | bytearray) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        if retry.isdigit():
            write(f"retry: {retry}\n\n".encode())
        batch = bytearray()
        last_n = count if not close_after else min(count, first + close_after - 1)
        for n in range(first, last_n + 1):
            data = f'{{"n": {n}, "t_ns": {time.monotonic_ns()}{extra}}}'
            batch += f"id: {n}\ndata: {data}\n\n".encode()
            if interval > 0 or len(batch) >= SSE_BATCH:
                write(batch)
                batch.clear()
                if interval > 0 and n < last_n:
                    time.sleep(interval)
        if batch:
            write(batch)
        self.wfile.write(b"0\r\n\r\n")

    def _file(self, name: str, *, chunked: bool) -> None:
        info = self.server.files.get(name)
        if info is None:
            return self._error(404, f"no such file: {name}")
        self.send_response(200)
        self.send_header("Content-Type", info.content_type)
        self.send_header("X-Sha256", info.sha256)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(info.size))
        self.end_headers()
        if self.command == "HEAD":
            return
        with open(info.path, "rb") as f:
            if not chunked:
                if isinstance(self.connection, ssl.SSLSocket):
                    while data := f.read(READ_SIZE):  # sendfile() would write 8 KiB records
                        self.wfile.write(data)
                else:
                    self.connection.sendfile(f)
                return
            while data := f.read(READ_SIZE):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.write(b"0\r\n\r\n")

    def _upload_put(self, name: str) -> None:
        if not name or "/" in name:
            self._drain()
            return self._error(400, "PUT /upload/<name> with a plain name")
        h = hashlib.sha256()
        size = 0
        for data in iter_body(self.rfile, self.headers):
            h.update(data)
            size += len(data)
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        self._json(200, {"name": name, "size": size, "sha256": h.hexdigest(),
                         "chunked": chunked})

    def _upload_multipart(self) -> None:
        boundary = multipart_boundary(self.headers.get("Content-Type") or "")
        counted = 0

        def counting() -> Iterator[bytes]:
            nonlocal counted
            for data in iter_body(self.rfile, self.headers):
                counted += len(data)
                yield data

        body = counting()
        parts = parse_multipart(body, boundary)
        for _ in body:  # drain the epilogue so the connection stays usable
            pass
        self._json(200, {"parts": [p.as_dict() for p in parts], "body_bytes": counted})


INDEX = {
    "GET /files/manifest.json": "name -> size, sha256, url",
    "GET /files/<name>": "deterministic blobs and image.png (Content-Length)",
    "GET /chunked/<name>": "the same files, Transfer-Encoding: chunked",
    "POST /upload": "multipart/form-data; JSON per part: name, filename, size, sha256",
    "PUT /upload/<name>": "streamed body; JSON size and sha256",
    "GET /redirect/<n>": "302 chain of n hops, then 200",
    "ANY /status/<code>": "that status code",
    "GET /gzip": "gzip-encoded JSON",
    "GET /events": "server-sent events ?count=&interval_ms=&close_after=&retry=&pad=, "
                   "resumes after Last-Event-ID",
}


# --- servers ---------------------------------------------------------------------------------

class DevHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], files: dict[str, FileInfo],
                 ssl_context: ssl.SSLContext | None = None, verbose: bool = False) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.files = files
        self.sse_last_ids: list[str | None] = []  # /events: each request's Last-Event-ID
        self.ssl_context = ssl_context
        self.verbose = verbose
        super().__init__(address, DevHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        if self.ssl_context is not None:
            # The handshake happens in the handler thread (DevHandler.setup), so one slow
            # client never stalls the accept loop.
            sock.settimeout(IDLE_TIMEOUT)
            sock = self.ssl_context.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, TimeoutError)):
            # A client that went away (an unknown CA, a reset after a cancel) is routine
            # for a demo server: one line, not a traceback.
            host, port = client_address[:2]
            print(f"devserver: client {host}:{port} went away: {exc}", file=sys.stderr,
                  flush=True)
            return
        super().handle_error(request, client_address)  # a bug of ours: the traceback

    @property
    def port(self) -> int:
        port: int = self.server_address[1]
        return port


class DevServer:
    """Both listeners, started in background threads; stop() shuts them down."""

    def __init__(self, data_dir: Path, *, host: str = "127.0.0.1", http_port: int = 0,
                 https_port: int = 0, ca_pem_path: Path | None = None,
                 big_size: int = DEFAULT_BIG_SIZE, tls_backend: str = "auto",
                 verbose: bool = False) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.ca_pem_path = ca_pem_path or data_dir / "ca.pem"
        self.files = prepare_files(data_dir, big_size)
        ctx = make_server_tls(data_dir / "tls", self.ca_pem_path, tls_backend)
        self.http = DevHTTPServer((host, http_port), self.files, None, verbose)
        self.https = DevHTTPServer((host, https_port), self.files, ctx, verbose)
        self._threads = [
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2},
                             name=f"devserver-{n}", daemon=True)
            for n, s in (("http", self.http), ("https", self.https))
        ]

    @property
    def http_port(self) -> int:
        return self.http.port

    @property
    def https_port(self) -> int:
        return self.https.port

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        for s in (self.http, self.https):
            s.shutdown()
            s.server_close()
        for t in self._threads:
            t.join(timeout=5)


def _endpoints_help() -> str:
    """The endpoint list of this module's docstring, for --help."""
    doc = __doc__ or ""
    start = doc.find("Endpoints")
    return doc[start:].rstrip() if start >= 0 else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m devserver",
        description="gdhttp's local demo server (HTTP and HTTPS on loopback)",
        epilog=_endpoints_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--http-port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--https-port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="where blobs and TLS files go (default: a new temporary dir)")
    ap.add_argument("--ca-pem", type=Path, default=None,
                    help="write the CA certificate here (default: <data-dir>/ca.pem)")
    ap.add_argument("--big-size", type=int, default=DEFAULT_BIG_SIZE,
                    help="size of /files/big.bin in bytes")
    ap.add_argument("--tls-backend", choices=("auto", "trustme", "openssl"), default="auto")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    data_dir: Path = args.data_dir or Path(tempfile.mkdtemp(prefix="gdhttp-devserver-"))
    try:
        server = DevServer(data_dir, host=args.host, http_port=args.http_port,
                           https_port=args.https_port, ca_pem_path=args.ca_pem,
                           big_size=args.big_size, tls_backend=args.tls_backend,
                           verbose=args.verbose)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        print(f"devserver: cannot start: {exc}", file=sys.stderr)
        return 1
    server.start()
    print(f"READY http={server.http_port} https={server.https_port}", flush=True)
    if args.verbose:
        print(f"devserver: CA at {server.ca_pem_path}, data in {data_dir}", file=sys.stderr)
    while not stop.wait(0.5):
        pass
    with contextlib.suppress(Exception):
        server.stop()
    return 0
