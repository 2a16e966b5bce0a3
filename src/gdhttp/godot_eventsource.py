"""``PyEventSource``: server-sent events as a Node, backed by ``gdhttp.eventsource.EventSource``.

A thin adapter, no HTTP logic: it forwards ``open``/``close`` and the
settings, steps the source from internal processing while it is not CLOSED
(so a script's ``set_process(false)`` does not stall it, as with
PyHTTPRequest), and turns the source's hooks into signals emitted from that
step: ``opened``, ``event_received(type, data, last_event_id)``,
``error(result, message)``. Leaving the tree or being freed closes it.
"""

from __future__ import annotations

import logging

from gdhttp.constants import Error
from gdhttp.eventsource import EventSource
from gdhttp.gdnative import GodotObjectLike, export, exposed, signal
from gdhttp.godot_classes import engine_user_agent
from gdhttp.godot_session import session_of
from gdhttp.request import HTTPRequest
from gdhttp.session import default_session

__all__ = ["PyEventSource"]

log = logging.getLogger("gdhttp")

_PROPERTY_HINT_RANGE = 1
_NOTIFICATION_INTERNAL_PROCESS = 25  # Node.NOTIFICATION_INTERNAL_PROCESS


@exposed(base="Node")
class PyEventSource:
    """Server-sent events (`text/event-stream`) following the WHATWG EventSource model:
    reconnects with `Last-Event-ID`, honours `retry:`, fails on a non-200 status or
    another Content-Type."""

    owner: GodotObjectLike
    __gddoc_source__ = (EventSource, HTTPRequest)
    __gddoc_properties__ = {
        "retry_ms": "Milliseconds before reconnecting after the stream drops; a server's "
                    "`retry:` field replaces it.",
        "reconnecting": "Reopen a dropped stream (the spec's behaviour); false: a drop "
                        "closes the source.",
    }
    __gddoc_constants__ = (
        "NativeScript classes cannot register constants: `get_ready_state()` returns 0 "
        "(CONNECTING), 1 (OPEN) or 2 (CLOSED), as the browser's `readyState`. `error`'s "
        "`result` is an `HTTPRequest.RESULT_*` value."
    )

    opened = signal()
    event_received = signal("type", "data", "last_event_id")
    error = signal("result", "message")

    def __init__(self) -> None:
        req = HTTPRequest()
        req.get_client().set_user_agent(engine_user_agent())
        es = EventSource(req)
        es.set_in_tree(False)  # until _enter_tree
        es.opened.connect(self._on_opened)
        es.event_received.connect(self._on_event)
        es.error.connect(self._on_error)
        self._es = es
        self._session: GodotObjectLike | None = None
        self._gone = False  # freed: nothing may touch the owner any more

    def _destroy(self) -> None:
        self._gone = True
        self._es.close()  # closes the socket; no signal follows

    # --- engine callbacks ---

    def _enter_tree(self) -> None:
        self._es.set_in_tree(True)

    def _exit_tree(self) -> None:
        self._es.set_in_tree(False)  # closes it, silently
        self._stepping(False)

    def _notification(self, what: int) -> None:
        if what == _NOTIFICATION_INTERNAL_PROCESS:
            self._es.process(self.owner.get_process_delta_time())
            if not self._gone and self._es.get_ready_state() == EventSource.CLOSED:
                self._stepping(False)

    def _stepping(self, on: bool) -> None:
        if not self._gone:
            self.owner.set_process_internal(on)

    # --- hooks (called inside process(); a handler may close or free the node) ---

    def _on_opened(self) -> None:
        if not self._gone:
            self.owner.emit_signal("opened")

    def _on_event(self, kind: str, data: str, last_event_id: str) -> None:
        if not self._gone:  # call(): no per-event method proxy (a flood's hot path)
            self.owner.call("emit_signal", "event_received", kind, data, last_event_id)

    def _on_error(self, result: int, message: str) -> None:
        if not self._gone:
            self.owner.emit_signal("error", result, message)

    # --- the surface ---

    def open(self, url: str, headers: list[str] | None = None) -> Error:
        """Connect to `url` (extra request headers optional; a `Last-Event-ID` header resumes
        after that id); ERR_BUSY unless closed, ERR_UNCONFIGURED outside the scene tree."""
        if not self._es.get_request().is_in_tree():
            log.error("gdhttp: PyEventSource.open: not inside the scene tree")
            return Error.ERR_UNCONFIGURED
        err = self._es.open(url, headers or [])
        if err == Error.OK:
            self._stepping(True)
        return err

    def close(self) -> None:
        """Stop listening: the connection closes, readyState becomes CLOSED, no signal
        follows."""
        self._es.close()
        self._stepping(False)

    def get_ready_state(self) -> int:
        """0 CONNECTING, 1 OPEN, 2 CLOSED."""
        return int(self._es.get_ready_state())

    def get_url(self) -> str:
        return self._es.get_url()

    def get_last_event_id(self) -> str:
        return self._es.get_last_event_id()

    def get_error_message(self) -> str:
        return self._es.get_error_message()

    def get_connection_count(self) -> int:
        return self._es.get_connection_count()

    def set_retry_ms(self, ms: int) -> Error:
        return self._es.set_retry_ms(ms)

    def get_retry_ms(self) -> int:
        return self._es.get_retry_ms()

    def set_reconnecting(self, enable: bool) -> Error:
        return self._es.set_reconnecting(enable)

    def is_reconnecting(self) -> bool:
        return self._es.is_reconnecting()

    retry_ms = export(
        int, default=3000, getter=get_retry_ms, setter=set_retry_ms,
        hint=_PROPERTY_HINT_RANGE, hint_string="0,3600000",
    )  # fmt: skip
    reconnecting = export(bool, default=True, getter=is_reconnecting, setter=set_reconnecting)

    # --- the request's settings (sessions, proxies, TLS, timeouts) ---

    def set_session(self, session: GodotObjectLike | None) -> Error:
        """Use `session` (a PyHTTPSession)'s connections, cookies and proxy rules; null: a
        fresh connection each time. The default session until set."""
        chosen = None if session is None else session_of(session)
        if session is not None and chosen is None:
            log.error("gdhttp: PyEventSource.set_session: needs a PyHTTPSession or null")
            return Error.ERR_INVALID_PARAMETER
        err = self._es.get_request().set_session(chosen)
        if err == Error.OK:
            self._session = session
        return err

    def get_session(self) -> GodotObjectLike | None:
        """The PyHTTPSession set with `set_session()`; null for the default session or none."""
        return self._session

    def use_default_session(self) -> Error:
        """Go back to the process-wide default session."""
        err = self._es.get_request().set_session(default_session())
        if err == Error.OK:
            self._session = None
        return err

    def set_http_proxy(self, host: str, port: int) -> None:
        self._es.get_request().set_http_proxy(host, port)

    def set_https_proxy(self, host: str, port: int) -> None:
        self._es.get_request().set_https_proxy(host, port)

    def set_timeouts(self, connect: float, read: float) -> Error:
        """Connect timeout, and how long the server may stay silent (0: never) before the
        stream counts as dropped and is reopened."""
        return self._es.get_request().get_client().set_timeouts(connect, read)

    def set_user_agent(self, user_agent: str) -> None:
        self._es.get_request().get_client().set_user_agent(user_agent)

    def set_trusted_certificates(self, pem_or_path: str) -> Error:
        return self._es.get_request().get_client().set_trusted_certificates(pem_or_path)

    def set_use_certifi(self, enabled: bool) -> Error:
        return self._es.get_request().get_client().set_use_certifi(enabled)

    def set_pinned_public_keys(self, pins: list[str]) -> Error:
        return self._es.get_request().get_client().set_pinned_public_keys(pins)

    def set_min_tls_version(self, version: str) -> Error:
        return self._es.get_request().get_client().set_min_tls_version(version)

    def set_client_certificate(self, cert_path: str, key_path: str = "") -> Error:
        return self._es.get_request().get_client().set_client_certificate(cert_path, key_path)
