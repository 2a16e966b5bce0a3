"""Engine classes: thin adapters from the bridge to ``gdhttp``'s Python classes.

No HTTP logic lives here: each method forwards to ``gdhttp.client.HTTPClient``
with the engine's names, argument order, defaults and GDScript types (the
bridge converts by the annotations: ``list[str]`` is a PoolStringArray,
``bytes`` a PoolByteArray, ``Error`` an int whose failure fallback is an Error).
"""

from __future__ import annotations

from typing import Any

from gdhttp import paths
from gdhttp.client import HTTPClient
from gdhttp.constants import Error
from gdhttp.gdnative import GodotObjectLike, export, exposed
from gdhttp.gdnative.engine_files import EngineFileSystem
from gdhttp.gdnative.tags import PoolByteArrayLike
from gdhttp.gdnative.variant import fill_pool_byte_array


def engine_init() -> None:
    """Called by the bridge inside the engine: every path a script hands over
    (certificates, uploads, downloads) resolves through Godot from now on, since
    res:// may live inside an exported .pck."""
    paths.install(EngineFileSystem())

_user_agent: str | None = None


def engine_user_agent() -> str:
    """``GodotEngine/3.2.3.stable.custom_build (Server)``, as the engine's HTTPClient sends."""
    global _user_agent
    if _user_agent is None:
        from gdhttp.gdnative.objects import singleton

        info = singleton("Engine").get_version_info()
        version = f"{info['major']}.{info['minor']}"
        if info.get("patch"):
            version += f".{info['patch']}"
        os_name = singleton("OS").get_name()
        _user_agent = f"GodotEngine/{version}.{info['status']}.{info['build']} ({os_name})"
    return _user_agent


@exposed(base="Reference")
class PyHTTPClient:
    """``HTTPClient`` for GDScript, backed by ``gdhttp.HTTPClient``: Godot 3.5's surface plus
    gdhttp's TLS, proxy, upload-progress and error-message extras. It speaks HTTP/1.1 only,
    as the engine's HTTPClient: HTTP/2 is for PyHTTPRequest nodes on a PyHTTPSession
    (on by default there)."""

    owner: GodotObjectLike
    __gddoc_source__ = HTTPClient
    __gddoc_properties__ = {
        "read_chunk_size": "Most bytes one `read_response_body_chunk()` returns (chunked bodies "
                           "too), 256 B to 16 MiB.",
        "blocking_mode_enabled": "When true, `poll()` and body reads wait for the network "
                                 "instead of returning at once.",
    }
    __gddoc_constants__ = (
        "NativeScript classes cannot register constants: use the engine's own "
        "`HTTPClient.METHOD_*`, `HTTPClient.STATUS_*` and `HTTPClient.RESPONSE_*`, whose "
        "values gdhttp shares (Python: `gdhttp.Method`, `gdhttp.Status`, `gdhttp.ResponseCode`)."
    )

    def __init__(self) -> None:
        self._client = HTTPClient()
        self._client.set_user_agent(engine_user_agent())
        # The bridge's last refusal, and the client's message when it happened: the
        # refusal is the newest news until the client says something else.
        self._refusal = ("", "")

    def _bridge_refused(self, message: str) -> None:
        self._refusal = (message, self._client.get_error_message())

    def _destroy(self) -> None:
        self._client.close()  # free the socket now, not when Python collects

    # --- the engine's surface ---

    def connect_to_host(
        self, host: str, port: int = -1, use_ssl: bool = False, verify_host: bool = True
    ) -> Error:
        return self._client.connect_to_host(host, port, use_ssl, verify_host)

    def poll(self) -> Error:
        return self._client.poll()

    def get_status(self) -> int:
        """The connection's `HTTPClient.STATUS_*` value."""
        return self._client.get_status()

    def request(self, method: int, url: str, headers: list[str], body: str = "") -> Error:
        return self._client.request(method, url, headers, body)

    def request_raw(self, method: int, url: str, headers: list[str], body: memoryview) -> Error:
        # A view of the script's PoolByteArray: a 100 MiB upload is not copied.
        return self._client.request_raw(method, url, headers, body)

    def has_response(self) -> bool:
        """True once a response head has arrived (until its headers are read)."""
        return self._client.has_response()

    def is_response_chunked(self) -> bool:
        """True when the response body uses chunked transfer coding."""
        return self._client.is_response_chunked()

    def get_response_code(self) -> int:
        """The status code of the last response head (0 before one arrives)."""
        return self._client.get_response_code()

    def get_response_headers(self) -> list[str]:
        return self._client.get_response_headers()

    def get_response_headers_as_dictionary(self) -> dict[str, str]:
        return self._client.get_response_headers_as_dictionary()

    def get_response_body_length(self) -> int:
        """The response's Content-Length; -1 when unknown (chunked, until close), 0 for HEAD."""
        return self._client.get_response_body_length()

    def read_response_body_chunk(self) -> PoolByteArrayLike:
        # The body goes from the socket straight into the PoolByteArray's memory.
        client = self._client
        return fill_pool_byte_array(
            client.get_read_chunk_size(), client.read_response_body_chunk_into
        )

    def set_read_chunk_size(self, bytes: int) -> None:
        self._client.set_read_chunk_size(bytes)

    def get_read_chunk_size(self) -> int:
        return self._client.get_read_chunk_size()

    def set_blocking_mode(self, enabled: bool) -> None:
        self._client.set_blocking_mode(enabled)

    def is_blocking_mode_enabled(self) -> bool:
        return self._client.is_blocking_mode_enabled()

    def close(self) -> None:
        self._client.close()

    def query_string_from_dict(self, fields: dict[Any, Any]) -> str:
        return self._client.query_string_from_dict(fields)

    def set_http_proxy(self, host: str, port: int) -> None:
        self._client.set_http_proxy(host, port)

    def set_https_proxy(self, host: str, port: int) -> None:
        self._client.set_https_proxy(host, port)

    read_chunk_size = export(
        int, default=65536, getter=get_read_chunk_size, setter=set_read_chunk_size
    )
    blocking_mode_enabled = export(
        bool, default=False, getter=is_blocking_mode_enabled, setter=set_blocking_mode
    )

    # --- beyond the engine ---

    def get_error_message(self) -> str:
        """Why the last call was refused or the connection failed ("" if nothing did)."""
        message = self._client.get_error_message()
        refusal, seen = self._refusal
        return refusal if refusal and message == seen else message

    def get_response_trailers(self) -> list[str]:
        return self._client.get_response_trailers()

    def get_uploaded_bytes(self) -> int:
        return self._client.get_uploaded_bytes()

    def get_upload_size(self) -> int:
        return self._client.get_upload_size()

    def set_user_agent(self, user_agent: str) -> None:
        self._client.set_user_agent(user_agent)

    def set_timeouts(self, connect: float, read: float) -> Error:
        return self._client.set_timeouts(connect, read)

    def set_trusted_certificates(self, pem_or_path: str) -> Error:
        return self._client.set_trusted_certificates(pem_or_path)

    def set_use_certifi(self, enabled: bool) -> Error:
        return self._client.set_use_certifi(enabled)

    def set_pinned_public_keys(self, pins: list[str]) -> Error:
        return self._client.set_pinned_public_keys(pins)

    def set_crl(self, pem_or_path: str, check_chain: bool = False) -> Error:
        return self._client.set_crl(pem_or_path, check_chain)

    def set_min_tls_version(self, version: str) -> Error:
        return self._client.set_min_tls_version(version)

    def set_client_certificate(self, cert_path: str, key_path: str = "") -> Error:
        return self._client.set_client_certificate(cert_path, key_path)

    def get_timings(self) -> dict[str, Any]:
        return self._client.get_timings()

    def get_tls_info(self) -> dict[str, Any]:
        return self._client.get_tls_info()
