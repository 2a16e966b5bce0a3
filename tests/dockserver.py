"""Loopback HTTP and HTTPS servers for the HTTP dock's tests (tests/test_editor_dock.py,
tests/test_dock_snippets.py, the dock screenshot): JSON, echo, upload digest, image,
redirect, a trickle, a server that never answers, a large body. Every handler is
bounded in time, and the servers stop by themselves after SERVER_LIFETIME_S.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from servers import TLSMaterial

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # the demo server lives at the repository root

from devserver import make_png  # noqa: E402

#: The large download (bytes) whose frames are timed; 1 GiB as the issue asks.
BIG_SIZE = int(os.environ.get("GDHTTP_DOCK_BIG_SIZE", str(1 << 30)))
SERVER_LIFETIME_S = 900.0
JSON_BODY = {"name": "gdhttp", "items": [1, 2, 3], "nested": {"ok": True, "pi": 3.5}}
PNG = make_png(64, 32)
PLAYER = {"id": 4211, "name": "Ada", "level": 17, "guild": {"name": "Lighthouse", "rank": 2},
          "inventory": [{"item": "lantern", "count": 1}, {"item": "rope", "count": 3}],
          "online": True}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dock-test"
    big_size = BIG_SIZE
    zeros = bytes(1 << 20)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, code: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
              ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_GET(self) -> None:
        path = self.path
        if path == "/json":
            self._send(200, json.dumps(JSON_BODY).encode(), "application/json", {
                "X-Echo-Test": self.headers.get("X-Test", "-"),
                "X-Saw-Auth": self.headers.get("Authorization", "-"),
            })  # fmt: skip
        elif path == "/player":  # the screenshot's example
            self._send(200, json.dumps(PLAYER).encode(), "application/json; charset=utf-8",
                       {"Cache-Control": "no-store", "X-Request-Id": "7f3c9a12"})
        elif path == "/image.png":
            self._send(200, PNG, "image/png")
        elif path == "/redirect":
            self._send(302, b"", "text/plain", {"Location": "/json"})
        elif path == "/slow":
            self._trickle()
        elif path == "/hang":
            self._hang()
        elif path == "/big":
            self._big()
        else:
            self._send(404, b"no such thing\n", "text/plain")

    def do_POST(self) -> None:
        body = self._read_body()
        self._send(200, body, "text/plain; charset=utf-8", {"X-Body-Length": str(len(body)),
                                                            "X-Method": self.command})

    def do_PUT(self) -> None:
        if self.path != "/upload":
            self.do_POST()
            return
        body = self._read_body()
        summary = {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
        self._send(200, json.dumps(summary).encode(), "application/json")

    def _trickle(self) -> None:
        """Headers, then 100 bytes every 50 ms of a 10 MB body; bounded to 30 s."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(10_000_000))
        self.end_headers()
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                self.wfile.write(b"s" * 100)
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass
        self.close_connection = True

    def _hang(self) -> None:
        """Never answer (until 20 s pass or the client leaves)."""
        self.connection.settimeout(20)
        try:
            self.connection.recv(1)
        except OSError:
            pass
        self.close_connection = True

    def _big(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(self.big_size))
        self.end_headers()
        left = self.big_size
        try:
            while left > 0:
                n = min(left, len(self.zeros))
                self.wfile.write(self.zeros[:n])
                left -= n
        except OSError:
            pass


class Servers:
    def __init__(self, tls: TLSMaterial) -> None:
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.https = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = tls.server_context()
        self.https.socket = context.wrap_socket(self.https.socket, server_side=True)
        for server in (self.http, self.https):
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                             daemon=True).start()
        self.ca_file = str(tls.ca_pem_path)
        # Stops by itself even if nobody calls close().
        self._timer = threading.Timer(SERVER_LIFETIME_S, self.close)
        self._timer.daemon = True
        self._timer.start()

    def url(self, tls: bool = False) -> str:
        server = self.https if tls else self.http
        host = "localhost" if tls else "127.0.0.1"
        return f"{'https' if tls else 'http'}://{host}:{server.server_address[1]}"

    def close(self) -> None:
        self._timer.cancel()
        for server in (self.http, self.https):
            server.shutdown()
            server.server_close()


