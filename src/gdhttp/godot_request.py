"""``PyHTTPRequest``: the engine's HTTPRequest node, backed by ``gdhttp.request.HTTPRequest``.

A thin adapter, no HTTP logic: it forwards the engine's methods and
properties (paths go to ``gdhttp.paths``, which the engine backs), steps the
request from internal processing while one runs (with ``use_threads`` the network
work runs in the request's own worker thread and each step only delivers
its events), and turns the request's hooks into signals:

- ``request_completed(result, response_code, headers, body)``, delivered with
  ``call_deferred`` (end of the frame, main thread), as the engine does;
- ``download_progress(downloaded, total)`` and ``upload_progress(sent, total)``,
  emitted from the node's step (at most one of each per frame);
- ``body_chunk_received(chunk)`` with ``body_streaming`` on, emitted from the
  node's step as the body arrives (main thread, also with ``use_threads``).
"""

from __future__ import annotations

import logging
from typing import Any

from gdhttp.client import HTTPClient
from gdhttp.constants import Error, Method, Status
from gdhttp.gdnative import GodotObjectLike, export, exposed, signal
from gdhttp.gdnative.tags import MethodInfo, VariantType
from gdhttp.gdnative.variant import PoolStringList
from gdhttp.godot_classes import engine_user_agent
from gdhttp.godot_session import session_of
from gdhttp.request import HTTPRequest, MultipartForm
from gdhttp.session import default_session

log = logging.getLogger("gdhttp")

_PROPERTY_HINT_RANGE = 1
_PROPERTY_HINT_FILE = 13  # the editor shows a file picker (engine: download_file)
_NOTIFICATION_INTERNAL_PROCESS = 25  # Node.NOTIFICATION_INTERNAL_PROCESS


@exposed(base="Node")
class PyHTTPRequest:
    """``HTTPRequest`` for GDScript; Godot 3.5's surface plus gdhttp's extras."""

    owner: GodotObjectLike
    __gddoc_source__ = (HTTPRequest, HTTPClient)
    __gddoc_properties__ = {
        "download_file": "Write the body to this file (`user://`, `res://` in a project folder, "
                         "or an OS path) instead of `request_completed`'s body.",
        "download_chunk_size": "Bytes read from the network per step; also the size of "
                               "`download_file` writes.",
        "use_threads": "Run the network work in a thread of its own; signals still arrive on "
                       "the main thread.",
        "body_size_limit": "Largest body accepted (-1: no limit); a larger one ends with "
                           "`RESULT_BODY_SIZE_LIMIT_EXCEEDED`.",
        "max_redirects": "Redirects followed before `RESULT_REDIRECT_LIMIT_REACHED` (-1: no "
                         "limit).",
        "timeout": "Seconds the whole request may take (0: no limit); then `RESULT_TIMEOUT`.",
        "accept_gzip": "Ask for gzip/deflate and decode the body as it streams in.",
        "download_resume": "Continue a partial `download_file` with a validated Range request "
                           "(gdhttp only).",
        "body_streaming": "Emit `body_chunk_received` as the (decoded) body arrives instead of "
                          "keeping it; `request_completed` then has an empty body (gdhttp only).",
    }
    __gddoc_constants__ = (
        "Use the engine's own `HTTPRequest.RESULT_*` constants (Godot 3 numbering), whose "
        "values gdhttp shares (Python: `gdhttp.constants.Result`)."
    )

    request_completed = signal("result", "response_code", "headers", "body")
    download_progress = signal("downloaded", "total")
    upload_progress = signal("sent", "total")
    body_chunk_received = signal("chunk")

    def __init__(self) -> None:
        req = HTTPRequest()
        req.set_in_tree(False)  # until _enter_tree
        req.get_client().set_user_agent(engine_user_agent())
        req.request_completed.connect(self._on_completed)
        req.download_progress.connect(self._on_download_progress)
        req.upload_progress.connect(self._on_upload_progress)
        req.body_chunk_received.connect(self._on_body_chunk)
        self._req = req
        self._download_file = ""
        self._session: GodotObjectLike | None = None
        self._pending: list[tuple[int, int, list[str], bytes]] = []
        # The newest refusal (bridge or TLS setter) and the request's message then:
        # it is what get_error_message() says until the request has news of its own.
        self._refusal = ("", "")

    def _bridge_refused(self, message: str) -> None:
        self._refusal = (message, self._req.get_error_message())

    def _tls(self, err: Error) -> Error:
        if err != Error.OK:
            self._bridge_refused(self._req.get_client().get_error_message())
        return err

    def _destroy(self) -> None:
        self._req.cancel_request()  # joins a worker thread, closes the socket and file

    # --- engine callbacks ---

    def _ready(self) -> None:
        self._stepping(self._req.is_requesting())

    def _enter_tree(self) -> None:
        self._req.set_in_tree(True)

    def _exit_tree(self) -> None:
        self._req.set_in_tree(False)  # cancels silently, as the engine does
        self._stepping(False)

    def _notification(self, what: int) -> None:
        if what == _NOTIFICATION_INTERNAL_PROCESS:
            self._req.process(self.owner.get_process_delta_time())
            if not self._req.is_requesting():
                self._stepping(False)

    def _stepping(self, on: bool) -> None:
        # Internal processing, as the engine's HTTPRequest: a script's
        # set_process(false) on the node must not stall its request.
        self.owner.set_process_internal(on)

    def _request_done(self) -> None:
        # Deferred from _on_completed; registered by hand below (it starts with "_").
        if self._pending:
            result, code, headers, body = self._pending.pop(0)
            self.owner.emit_signal(
                "request_completed", result, code, PoolStringList(headers), body
            )

    # --- hooks from gdhttp.request.HTTPRequest (called inside process()) ---

    def _on_completed(self, result: int, code: int, headers: list[str], body: bytes) -> None:
        self._pending.append((result, code, headers, body))
        self.owner.call_deferred("_request_done")

    def _on_download_progress(self, downloaded: int, total: int) -> None:
        self.owner.emit_signal("download_progress", downloaded, total)

    def _on_upload_progress(self, sent: int, total: int) -> None:
        self.owner.emit_signal("upload_progress", sent, total)

    def _on_body_chunk(self, chunk: bytes) -> None:
        self.owner.emit_signal("body_chunk_received", chunk)

    def _started(self, err: Error) -> Error:
        # A request that failed to connect at once still completes (deferred) next frame.
        if self._req.is_requesting():
            self._stepping(True)
        return err

    # --- the engine's surface ---

    def request(
        self,
        url: str,
        custom_headers: list[str] | None = None,
        ssl_validate_domain: bool = True,
        method: int = Method.METHOD_GET,
        request_data: str = "",
    ) -> Error:
        return self._started(self._req.request(
            url, custom_headers or [], ssl_validate_domain, method, request_data
        ))  # fmt: skip

    def request_raw(
        self,
        url: str,
        custom_headers: list[str] | None = None,
        ssl_validate_domain: bool = True,
        method: int = Method.METHOD_GET,
        request_data_raw: bytes = b"",
    ) -> Error:
        return self._started(self._req.request_raw(
            url, custom_headers or [], ssl_validate_domain, method, request_data_raw
        ))  # fmt: skip

    def cancel_request(self) -> None:
        self._req.cancel_request()
        self._stepping(False)

    def get_http_client_status(self) -> Status:
        """The `HTTPClient.STATUS_*` of the connection the request is using."""
        return self._req.get_http_client_status()

    def get_downloaded_bytes(self) -> int:
        return self._req.get_downloaded_bytes()

    def get_body_size(self) -> int:
        return self._req.get_body_size()

    def set_http_proxy(self, host: str, port: int) -> None:
        self._req.set_http_proxy(host, port)

    def set_https_proxy(self, host: str, port: int) -> None:
        self._req.set_https_proxy(host, port)

    def set_download_file(self, path: str) -> Error:
        err = self._req.set_download_file(path)
        if err == Error.OK:
            self._download_file = path
        return err

    def get_download_file(self) -> str:
        return self._download_file

    def set_download_chunk_size(self, size: int) -> Error:
        return self._req.set_download_chunk_size(size)

    def get_download_chunk_size(self) -> int:
        return self._req.get_download_chunk_size()

    def set_use_threads(self, enable: bool) -> Error:
        return self._req.set_use_threads(enable)

    def is_using_threads(self) -> bool:
        return self._req.is_using_threads()

    def set_body_size_limit(self, bytes: int) -> Error:
        return self._req.set_body_size_limit(bytes)

    def get_body_size_limit(self) -> int:
        return self._req.get_body_size_limit()

    def set_max_redirects(self, amount: int) -> Error:
        return self._req.set_max_redirects(amount)

    def get_max_redirects(self) -> int:
        return self._req.get_max_redirects()

    def set_timeout(self, timeout: float) -> Error:
        return self._req.set_timeout(timeout)

    def get_timeout(self) -> float:
        return self._req.get_timeout()

    download_file = export(
        str, default="", getter=get_download_file, setter=set_download_file,
        hint=_PROPERTY_HINT_FILE,
    )  # fmt: skip
    download_chunk_size = export(
        int, default=65536, getter=get_download_chunk_size, setter=set_download_chunk_size,
        hint=_PROPERTY_HINT_RANGE, hint_string="256,16777216",
    )  # fmt: skip
    use_threads = export(bool, default=False, getter=is_using_threads, setter=set_use_threads)
    body_size_limit = export(
        int, default=-1, getter=get_body_size_limit, setter=set_body_size_limit,
        hint=_PROPERTY_HINT_RANGE, hint_string="-1,2000000000",
    )  # fmt: skip
    max_redirects = export(
        int, default=8, getter=get_max_redirects, setter=set_max_redirects,
        hint=_PROPERTY_HINT_RANGE, hint_string="-1,64",
    )  # fmt: skip
    timeout = export(
        float, default=0.0, getter=get_timeout, setter=set_timeout,
        hint=_PROPERTY_HINT_RANGE, hint_string="0,3600,0.1,or_greater",
    )  # fmt: skip

    # --- beyond the engine ---

    def set_accept_gzip(self, enable: bool) -> Error:
        return self._req.set_accept_gzip(enable)

    def is_accepting_gzip(self) -> bool:
        return self._req.is_accepting_gzip()

    def set_download_resume(self, enable: bool) -> Error:
        return self._req.set_download_resume(enable)

    def is_download_resume(self) -> bool:
        return self._req.is_download_resume()

    def set_body_streaming(self, enable: bool) -> Error:
        return self._req.set_body_streaming(enable)

    def is_body_streaming(self) -> bool:
        return self._req.is_body_streaming()

    accept_gzip = export(bool, default=True, getter=is_accepting_gzip, setter=set_accept_gzip)
    body_streaming = export(
        bool, default=False, getter=is_body_streaming, setter=set_body_streaming
    )
    download_resume = export(
        bool, default=False, getter=is_download_resume, setter=set_download_resume
    )

    def request_file(
        self,
        url: str,
        file_path: str,
        custom_headers: list[str] | None = None,
        ssl_validate_domain: bool = True,
        method: int = Method.METHOD_PUT,
    ) -> Error:
        """Upload a file as the body, streamed from disk (``upload_progress`` reports it)."""
        return self._started(self._req.request_file(
            url, file_path, custom_headers or [], ssl_validate_domain, method
        ))  # fmt: skip

    def request_multipart(
        self,
        url: str,
        fields: dict[Any, Any],
        files: dict[Any, Any],
        custom_headers: list[str] | None = None,
        ssl_validate_domain: bool = True,
        method: int = Method.METHOD_POST,
    ) -> Error:
        """POST ``multipart/form-data``: ``fields`` name -> String, ``files`` name -> path.

        Files are streamed from disk as the body is sent.
        """
        form = MultipartForm()
        for name, value in fields.items():
            if form.add_field(str(name), str(value)) != Error.OK:
                return Error.ERR_INVALID_PARAMETER
        for name, path in files.items():
            err = form.add_file(str(name), str(path))
            if err != Error.OK:
                log.error("gdhttp: PyHTTPRequest.request_multipart: can't add %r: %s", path, err)
                return err
        return self._started(self._req.request_stream(
            url, form, custom_headers or [], ssl_validate_domain, method
        ))  # fmt: skip

    def is_requesting(self) -> bool:
        return self._req.is_requesting()

    def get_redirect_count(self) -> int:
        return self._req.get_redirect_count()

    def get_error_message(self) -> str:
        message = self._req.get_error_message()
        refusal, seen = self._refusal
        return refusal if refusal and message == seen else message

    def set_user_agent(self, user_agent: str) -> None:
        self._req.get_client().set_user_agent(user_agent)

    def set_session(self, session: GodotObjectLike | None) -> Error:
        """Share `session` (a PyHTTPSession)'s connections and cookies; null: a fresh
        connection per request, as the engine. Nodes use the default session until then."""
        chosen = None if session is None else session_of(session)
        if session is not None and chosen is None:
            self._bridge_refused("set_session: needs a PyHTTPSession or null")
            log.error("gdhttp: PyHTTPRequest.set_session: needs a PyHTTPSession or null")
            return Error.ERR_INVALID_PARAMETER
        err = self._req.set_session(chosen)
        if err == Error.OK:
            self._session = session  # keeps the PyHTTPSession alive while in use
        return err

    def get_session(self) -> GodotObjectLike | None:
        """The PyHTTPSession set with `set_session()`; null for the default session or none."""
        return self._session

    def use_default_session(self) -> Error:
        """Go back to the process-wide default session (what a new node uses)."""
        err = self._req.set_session(default_session())
        if err == Error.OK:
            self._session = None
        return err

    def is_using_session(self) -> bool:
        """False when `set_session(null)` chose a fresh connection per request."""
        return self._req.get_session() is not None

    def get_session_stats(self) -> dict[str, int]:
        """`get_stats()` of the session in use (the default one unless set); {} if none."""
        session = self._req.get_session()
        return session.get_stats() if session is not None else {}

    def set_trusted_certificates(self, pem_or_path: str) -> Error:
        return self._tls(self._req.get_client().set_trusted_certificates(pem_or_path))

    def set_use_certifi(self, enabled: bool) -> Error:
        return self._tls(self._req.get_client().set_use_certifi(enabled))

    def set_pinned_public_keys(self, pins: list[str]) -> Error:
        return self._tls(self._req.get_client().set_pinned_public_keys(pins))

    def set_min_tls_version(self, version: str) -> Error:
        return self._tls(self._req.get_client().set_min_tls_version(version))

    def set_client_certificate(self, cert_path: str, key_path: str = "") -> Error:
        return self._tls(self._req.get_client().set_client_certificate(cert_path, key_path))

    def get_timings(self) -> dict[str, Any]:
        return self._req.get_timings()

    def get_tls_info(self) -> dict[str, Any]:
        return self._req.get_tls_info()

    def get_response_headers_as_dictionary(self) -> dict[str, str]:
        return self._req.get_response_headers_as_dictionary()


# The engine binds its deferred completion as "_request_done"; the decorator
# exposes only public names and engine callbacks, so register this one by hand.
PyHTTPRequest.__gdexposed__.methods.append(  # type: ignore[attr-defined]
    MethodInfo("_request_done", PyHTTPRequest._request_done, [], 0, 0, VariantType.NIL, False)
)
