"""The settings half of ``HTTPClient``: read size, blocking, timeouts, proxies, TLS.

Each setter checks its arguments, then stores them in the client's
``ClientConfig`` (whole values, never half of one), which the client's
``Connection`` reads. A refused call changes nothing, sets
``get_error_message()`` and logs the reason, secrets redacted.
"""

from __future__ import annotations

import functools
import inspect
import logging
import ssl
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from gdhttp import limits, paths, protocol, tls
from gdhttp.config import ClientConfig, Proxy, parse_proxy, parse_timeout, redact
from gdhttp.constants import Error

__all__ = ["ClientSettings", "guard", "is_int"]

log = logging.getLogger("gdhttp")

_T = TypeVar("_T")


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def guard(fallback: Any) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """Last-resort guard for a public method: wrong arguments are refused, a bug is reported.

    Only the binding of the call's arguments is the caller's mistake; a TypeError
    raised inside our code is a bug like any other exception.
    """

    def wrap(fn: Callable[..., _T]) -> Callable[..., _T]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def guarded(self: ClientSettings, *args: Any, **kwargs: Any) -> _T:
            try:
                signature.bind(self, *args, **kwargs)
            except TypeError as exc:
                return self._refuse(f"{fn.__name__}: {exc}", fallback)  # type: ignore[no-any-return]
            try:
                return fn(self, *args, **kwargs)
            except Exception as exc:
                log.exception("gdhttp: internal error in %s", fn.__name__)
                self._error_message = redact(f"internal error in {fn.__name__}: {exc!r}")
                return fallback  # type: ignore[no-any-return]

        return guarded

    return wrap


class ClientSettings:
    """Setters and getters of HTTPClient that only touch its configuration."""

    _config: ClientConfig
    _read_chunk_size: int
    _blocking: bool
    _error_message: str

    def _refuse_file(self, setter: str, exc: Exception) -> Error:
        """A certificate argument that can't be used: missing file, bad path or bad PEM."""
        if isinstance(exc, FileNotFoundError):
            return self._refuse(f"{setter}: {paths.describe(exc)}", Error.ERR_FILE_NOT_FOUND)
        if isinstance(exc, paths.PathError):
            return self._refuse(f"{setter}: {exc}", Error.ERR_INVALID_PARAMETER)
        if isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError):
            return self._refuse(f"{setter}: {paths.describe(exc)}", Error.ERR_FILE_CANT_OPEN)
        return self._refuse(f"{setter}: {exc}", Error.ERR_INVALID_DATA)

    def _refuse(self, message: str, result: _T) -> _T:
        """A caller mistake: say why (like the engine's ERR_FAIL prints), change nothing."""
        self._error_message = redact(message)
        log.warning("gdhttp: %s", self._error_message)
        return result

    # ---- engine settings

    @guard(None)
    def set_read_chunk_size(self, bytes: int) -> None:
        if not is_int(bytes) or not (
                limits.MIN_READ_CHUNK_SIZE <= bytes <= limits.MAX_READ_CHUNK_SIZE):
            self._refuse(
                f"set_read_chunk_size: {bytes!r} is outside {limits.MIN_READ_CHUNK_SIZE}.."
                f"{limits.MAX_READ_CHUNK_SIZE}; keeping {self._read_chunk_size}", None)
            return
        self._read_chunk_size = bytes

    def get_read_chunk_size(self) -> int:
        return self._read_chunk_size

    @guard(None)
    def set_blocking_mode(self, enabled: bool) -> None:
        if not isinstance(enabled, (bool, int)):
            self._refuse("set_blocking_mode: enabled must be a bool", None)
            return
        self._blocking = bool(enabled)

    def is_blocking_mode_enabled(self) -> bool:
        return self._blocking

    @guard(None)
    def set_user_agent(self, user_agent: str) -> None:
        """The User-Agent sent when the request has none (the bridge sets the engine's)."""
        if not isinstance(user_agent, str) or protocol.has_forbidden_field_chars(user_agent):
            self._refuse("set_user_agent: needs a String without CR, LF or NUL", None)
            return
        self._config.user_agent = user_agent

    @guard(Error.ERR_INVALID_PARAMETER)
    def set_timeouts(self, connect: float, read: float) -> Error:
        """Connect timeout per address, and how long a server may stay silent (0: never)."""
        connect_s = parse_timeout(connect, allow_zero=False)
        read_s = parse_timeout(read, allow_zero=True)
        if connect_s is None or read_s is None:
            return self._refuse("set_timeouts: connect must be a finite number > 0 and read "
                                "a finite number >= 0", Error.ERR_INVALID_PARAMETER)
        self._config.connect_timeout, self._config.read_timeout = connect_s, read_s
        return Error.OK

    # ---- proxies

    @guard(None)
    def set_http_proxy(self, host: str, port: int) -> None:
        """Proxy for plain-HTTP targets. "user:pass@host" adds Basic auth. "" or -1 unsets."""
        self._config.http_proxy = self._proxy("set_http_proxy", host, port,
                                              self._config.http_proxy)

    @guard(None)
    def set_https_proxy(self, host: str, port: int) -> None:
        """Proxy (CONNECT tunnel) for HTTPS targets. "user:pass@host" adds Basic auth."""
        self._config.https_proxy = self._proxy("set_https_proxy", host, port,
                                               self._config.https_proxy)

    def _proxy(self, name: str, host: object, port: object, old: Proxy | None) -> Proxy | None:
        if not isinstance(host, str) or not is_int(port):
            return self._refuse(f"{name}: host must be a String and port an int", old)
        assert isinstance(port, int)
        try:
            return parse_proxy(host, port)
        except ValueError as exc:
            return self._refuse(f"{name}: {exc}", old)

    # ---- TLS options (beyond the engine)

    @guard(Error.ERR_INVALID_PARAMETER)
    def set_trusted_certificates(self, pem_or_path: str) -> Error:
        """Trust these CA certificates (PEM text or file) instead of the system store.

        "" goes back to the system store. Applies to the next connect_to_host().
        """
        if not isinstance(pem_or_path, str):
            return self._refuse("set_trusted_certificates: needs a String",
                                Error.ERR_INVALID_PARAMETER)
        if not pem_or_path:
            self._config.with_tls(ca_pem="")
            return Error.OK
        try:
            pem = tls.read_pem_argument(pem_or_path)
            tls.context_for(tls.TlsSettings(ca_pem=pem))
        except (OSError, ValueError) as exc:
            return self._refuse_file("set_trusted_certificates", exc)
        self._config.with_tls(ca_pem=pem)
        return Error.OK

    @guard(Error.ERR_INVALID_PARAMETER)
    def set_use_certifi(self, enabled: bool) -> Error:
        """Use certifi's CA bundle instead of the system store (certifi must be installed)."""
        if enabled:
            try:
                import certifi  # type: ignore[import-not-found, unused-ignore] # noqa: F401
            except ImportError:
                return self._refuse("set_use_certifi: certifi is not installed",
                                    Error.ERR_UNAVAILABLE)
        self._config.with_tls(use_certifi=bool(enabled))
        return Error.OK

    @guard(Error.ERR_INVALID_PARAMETER)
    def set_pinned_public_keys(self, pins: Iterable[str]) -> Error:
        """Accept only servers whose leaf key SPKI SHA-256 is one of ``pins``.

        Pins are "sha256/<base64>", base64 or hex. An empty list turns pinning off.
        """
        if isinstance(pins, str) or not isinstance(pins, Iterable):
            return self._refuse("set_pinned_public_keys: needs a list of Strings",
                                Error.ERR_INVALID_PARAMETER)
        normalized: set[str] = set()
        for pin in pins:
            value = tls.normalize_pin(pin) if isinstance(pin, str) else None
            if value is None:
                return self._refuse(f"set_pinned_public_keys: invalid pin {pin!r}",
                                    Error.ERR_INVALID_PARAMETER)
            normalized.add(value)
        self._config.with_tls(pins=frozenset(normalized))
        return Error.OK

    @guard(Error.ERR_INVALID_PARAMETER)
    def set_crl(self, pem_or_path: str, check_chain: bool = False) -> Error:
        """Refuse certificates revoked by this CRL (leaf, or the whole chain)."""
        if not isinstance(pem_or_path, str):
            return self._refuse("set_crl: needs a String", Error.ERR_INVALID_PARAMETER)
        if not pem_or_path:
            self._config.with_tls(crl_pem="", crl_check_chain=False)
            return Error.OK
        try:
            # Only the CRL blocks are kept; any other block (a CERTIFICATE would become
            # a trusted CA) refuses the whole text.
            pem = tls.crl_blocks(tls.read_pem_argument(pem_or_path))
        except (OSError, ValueError) as exc:
            return self._refuse_file("set_crl", exc)
        self._config.with_tls(crl_pem=pem, crl_check_chain=bool(check_chain))
        return Error.OK

    @guard(Error.ERR_INVALID_PARAMETER)
    def set_min_tls_version(self, version: str) -> Error:
        """Lowest TLS version accepted: "TLSv1.2" (default) or "TLSv1.3" (or older)."""
        parsed = tls.tls_version_from_name(version) if isinstance(version, str) else None
        if parsed is None:
            return self._refuse(f"set_min_tls_version: unknown version {version!r}",
                                Error.ERR_INVALID_PARAMETER)
        self._config.with_tls(min_version=parsed)
        return Error.OK

    @guard(Error.ERR_INVALID_PARAMETER)
    def set_client_certificate(self, cert_path: str, key_path: str = "") -> Error:
        """Present this client certificate (PEM file; key in it or in ``key_path``)."""
        if not isinstance(cert_path, str) or not isinstance(key_path, str):
            return self._refuse("set_client_certificate: needs Strings",
                                Error.ERR_INVALID_PARAMETER)
        if cert_path:
            try:
                tls.context_for(tls.TlsSettings(verify=False, client_cert_path=cert_path,
                                                client_key_path=key_path))
            except (OSError, ValueError) as exc:
                return self._refuse_file("set_client_certificate", exc)
        self._config.with_tls(client_cert_path=cert_path, client_key_path=key_path)
        return Error.OK

    read_chunk_size = property(get_read_chunk_size, set_read_chunk_size)
    blocking_mode_enabled = property(is_blocking_mode_enabled, set_blocking_mode)
