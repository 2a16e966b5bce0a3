"""Client settings that outlive a connection: TLS, proxies, timeouts, User-Agent.

``HTTPClient`` validates what a script passes and stores it here; its
``Connection`` reads it: proxies when it is created, TLS settings when the
handshake starts, timeouts whenever it checks them (as the engine does).
Also here: the log filter that passes every ``gdhttp`` record through
``gdhttp.redaction.redact`` (re-exported as ``config.redact``).
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote

from gdhttp import limits, protocol, tls
from gdhttp.redaction import redact

__all__ = ["DEFAULT_USER_AGENT", "ClientConfig", "Proxy", "RedactingFilter", "parse_proxy",
           "parse_timeout", "redact"]

DEFAULT_USER_AGENT: Final = "GodotEngine/3.5.stable.gdhttp (Python)"


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    #: "Proxy-Authorization: Basic ..." or "" (never shown: see __repr__).
    authorization: str = field(default="", repr=False)


@dataclass
class ClientConfig:
    tls: tls.TlsSettings = field(default_factory=tls.TlsSettings)
    http_proxy: Proxy | None = None
    https_proxy: Proxy | None = None
    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = limits.DEFAULT_CONNECT_TIMEOUT_S
    read_timeout: float = limits.DEFAULT_READ_TIMEOUT_S

    def with_tls(self, **changes: Any) -> None:
        self.tls = dataclasses.replace(self.tls, **changes)


def parse_proxy(host: str, port: int) -> Proxy | None:
    """``"user:pass@host"``, port -> Proxy (None unsets). ValueError names no secret."""
    if not host or port == -1:
        return None
    if not 0 < port <= 65535 or protocol.has_forbidden_field_chars(host):
        raise ValueError(f"invalid proxy {redact(host)!r}:{port}")
    for prefix in ("http://", "https://"):
        if host.lower().startswith(prefix):
            host = host[len(prefix):]
    authorization = ""
    if "@" in host:
        credentials, host = host.rsplit("@", 1)
        user, _, password = credentials.partition(":")
        token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
        authorization = f"Proxy-Authorization: Basic {token}"
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ValueError("empty proxy host")
    if any(c in host for c in " \t/?#@"):
        raise ValueError(f"invalid proxy host {host!r}")
    return Proxy(host, port, authorization)


def parse_timeout(value: object, *, allow_zero: bool) -> float | None:
    """A finite, non-negative number of seconds as a float, or None if it is not one."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        seconds = float(value)  # OverflowError for ints beyond a double (10**400)
    except OverflowError:
        return None
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        return None
    return seconds


class RedactingFilter(logging.Filter):
    """Redacts every record of the ``gdhttp`` logger, tracebacks included."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True
