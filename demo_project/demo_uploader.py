"""A demo script written in Python, running inside Godot through gdhttp's bridge.

``StreamUploader`` is a Node: ``put_file(url, path, ca_pem)`` streams a file
from disk with a ``PUT`` (never read whole), polling ``gdhttp.HTTPClient``
from ``_process``; it emits ``progress(sent, total)`` and
``finished(ok, response_code, body_text)``. Listed in the project setting
``gdhttp/python/modules``; ``StreamUploader.gdns`` names the class.
"""

from __future__ import annotations

import time
from typing import IO

from gdhttp import HTTPClient, paths
from gdhttp.constants import Error, Method, Status
from gdhttp.gdnative import GodotObjectLike, exposed, signal
from gdhttp.request import parse_url

POLL_BUDGET_S = 0.004  # per frame: a quarter of a 60 fps frame spent moving bytes


@exposed(base="Node")
class StreamUploader:
    owner: GodotObjectLike
    progress = signal("sent", "total")
    finished = signal("ok", "response_code", "body")

    def __init__(self) -> None:
        self._client = HTTPClient()
        self._file: IO[bytes] | None = None
        self._target = ""
        self._body = bytearray()
        self._size = 0
        self._last_sent = -1

    def _destroy(self) -> None:
        self._client.close()
        self._close_file()

    def _ready(self) -> None:
        self.owner.set_process(False)

    def put_file(self, url: str, path: str, ca_pem: str = "") -> Error:
        parsed = parse_url(url)
        if parsed is None:
            return Error.ERR_INVALID_PARAMETER
        try:  # res://, user:// or an OS path, read through the engine where needed
            self._size = paths.file_size(path)
            self._file = paths.open_read(path)
        except OSError:
            return Error.ERR_FILE_CANT_OPEN
        if ca_pem:
            self._client.set_trusted_certificates(ca_pem)
        err = self._client.connect_to_host(parsed.host, parsed.port, parsed.use_ssl, True)
        if err != Error.OK:
            self._close_file()
            return err
        self._target = parsed.path
        self._body = bytearray()
        self._last_sent = -1
        self.owner.set_process(True)
        return Error.OK

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _done(self, ok: bool, code: int) -> None:
        self.owner.set_process(False)
        self._client.close()
        self._close_file()
        self.owner.emit_signal("finished", ok, code, self._body.decode("utf-8", "replace"))

    def _process(self, delta: float) -> None:
        # The HTTPClient poll loop: connect, send the head and the body, read the answer.
        client = self._client
        deadline = time.monotonic() + POLL_BUDGET_S
        while time.monotonic() < deadline:
            status = client.get_status()
            if status in (Status.STATUS_RESOLVING, Status.STATUS_CONNECTING,
                          Status.STATUS_REQUESTING):
                client.poll()
            elif status == Status.STATUS_CONNECTED:
                if client.has_response():  # a bodiless answer
                    self._done(True, client.get_response_code())
                    return
                headers = ["Content-Type: application/octet-stream"]
                assert self._file is not None
                client.request_stream(Method.METHOD_PUT, self._target, headers, self._file,
                                      self._size)
            elif status == Status.STATUS_BODY:
                client.poll()
                self._body += client.read_response_body_chunk()
                if client.get_status() != Status.STATUS_BODY:
                    self._done(True, client.get_response_code())
                    return
            else:  # DISCONNECTED, CANT_RESOLVE, CANT_CONNECT, CONNECTION_ERROR, SSL error
                print(f"StreamUploader: {client.get_error_message()}")
                self._done(False, client.get_response_code())
                return
            sent = client.get_uploaded_bytes()
            if sent != self._last_sent and client.get_upload_size() > 0:
                self._last_sent = sent
                self.owner.emit_signal("progress", sent, client.get_upload_size())
            if status == Status.STATUS_BODY and client.get_status() == Status.STATUS_BODY:
                break  # waiting for more response bytes: next frame
