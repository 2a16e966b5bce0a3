"""Request-side wire formats: request heads, CONNECT heads, chunked bodies, query strings.

Part of ``gdhttp.protocol`` (import the names from there). Every line that
goes out is checked here first: nothing a caller passes may split a message.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote

from gdhttp import limits

__all__ = [
    "ChunkedWriter",
    "RequestError",
    "absolute_form_target",
    "build_connect_head",
    "build_request_head",
    "check_headers",
    "check_request_target",
    "has_forbidden_field_chars",
    "has_forbidden_target_chars",
    "host_header_value",
    "http_escape",
    "query_string_from_dict",
    "stringify",
]


class RequestError(ValueError):
    """The caller asked for a request that cannot be sent safely."""


# RFC 9110 token characters, for header names.
_TOKEN_STR = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Anything that could end a line or a field early.
_FORBIDDEN_IN_FIELD = re.compile(r"[\r\n\x00]")
# A request target is visible ASCII only (RFC 9112 3.2); no spaces, no controls.
_TARGET_BAD = re.compile(r"[\x00-\x20\x7f]")


def has_forbidden_field_chars(text: str) -> bool:
    """True if ``text`` holds CR, LF or NUL: it could end a header line early."""
    return _FORBIDDEN_IN_FIELD.search(text) is not None


def has_forbidden_target_chars(text: str) -> bool:
    """True if ``text`` holds a space or a control character (not a valid target)."""
    return _TARGET_BAD.search(text) is not None


def check_request_target(method_verb: str, url: str) -> None:
    """Apply the engine's URL shape rule (3.5 ``_check_request_url``) plus safety.

    Raises RequestError with a message naming the problem.
    """
    if not url:
        raise RequestError("empty URL")
    if len(url) > limits.MAX_URL_LENGTH:
        raise RequestError(f"URL longer than {limits.MAX_URL_LENGTH} characters")
    if _TARGET_BAD.search(url):
        raise RequestError("URL contains a space, CR, LF, NUL or another control character")
    if method_verb == "CONNECT":
        colon = url.find(":")
        if colon <= 0 or colon == len(url) - 1:
            raise RequestError("CONNECT needs an authority-form target 'host:port'")
        return
    if method_verb == "OPTIONS" and url == "*":
        return
    if not (url.startswith("/") or url.startswith("http://") or url.startswith("https://")):
        raise RequestError("URL must start with '/', 'http://' or 'https://'")


def check_headers(headers: Sequence[str]) -> None:
    """Refuse header lines that are empty, have no name, or could inject a line."""
    for index, header in enumerate(headers):
        if not isinstance(header, str):
            raise RequestError(f"header {index} is not a string")
        # Messages name the field, never its value: it may be a credential.
        colon = header.find(":")
        name = header[:colon] if 0 < colon <= 64 else "?"
        if _FORBIDDEN_IN_FIELD.search(header):
            raise RequestError(f"header {index} ({name!r}) contains CR, LF or NUL")
        if not header.strip():
            raise RequestError(f"header {index} is empty")
        if colon <= 0:
            raise RequestError(f"header {index} has no 'Name:' part")
        if not _TOKEN_STR.fullmatch(header[:colon]):
            raise RequestError(f"header {index} has an invalid field name {name!r}")


def _has_header(headers: Sequence[str], name: str) -> bool:
    # The engine's rule: a case-insensitive match of "Name:" at position 0.
    prefix = name.lower() + ":"
    return any(h[: len(prefix)].lower() == prefix for h in headers)


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def host_header_value(host: str, port: int, use_tls: bool) -> str:
    """``Host`` as the engine writes it, with IPv6 literals bracketed (RFC 9110 7.2)."""
    shown = _bracketed(host)
    if (use_tls and port == 443) or (not use_tls and port == 80):
        return shown
    return f"{shown}:{port}"


def absolute_form_target(host: str, port: int, use_tls: bool, path: str) -> str:
    """The absolute-form target sent to a plain-HTTP forward proxy (RFC 9112 3.2.2).

    The engine always names the port, even the default one; ``use_tls`` picks the
    scheme (only plain HTTP goes through a forward proxy, but the shape is total).
    """
    scheme = "https" if use_tls else "http"
    return f"{scheme}://{_bracketed(host)}:{port}{path}"


def build_connect_head(
    host: str, port: int, *, user_agent: str, extra_headers: Sequence[str] = ()
) -> bytes:
    """The CONNECT request that opens a tunnel through a proxy (RFC 9110 9.3.6).

    The target and ``Host`` are both the authority ``host:port`` (IPv6 bracketed);
    ``extra_headers`` are whole lines such as ``Proxy-Authorization: Basic ...``.
    """
    if not host or has_forbidden_target_chars(host):
        raise RequestError("proxy tunnel host is empty or contains a space or control character")
    if not 0 < port <= 65535:
        raise RequestError(f"proxy tunnel port {port} is out of range")
    if has_forbidden_field_chars(user_agent):
        raise RequestError("User-Agent contains CR, LF or NUL")
    check_headers(extra_headers)
    authority = f"{_bracketed(host)}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}", f"User-Agent: {user_agent}"]
    lines.extend(extra_headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def build_request_head(
    verb: str,
    target: str,
    headers: Sequence[str],
    *,
    host: str,
    body_length: int | None,
    user_agent: str,
    extra_headers: Iterable[str] = (),
) -> bytes:
    """Serialize a request head in the engine's header order.

    ``body_length`` None means the body is streamed with chunked coding;
    0 means no body (the engine sends no Content-Length then).
    User headers come first, verbatim; then Host, Content-Length, User-Agent
    and Accept unless the caller supplied them (``extra_headers`` such as
    Proxy-Authorization are added after those).
    """
    check_request_target(verb, target)
    check_headers(headers)
    extra = list(extra_headers)
    check_headers(extra)
    if has_forbidden_field_chars(user_agent) or has_forbidden_field_chars(host):
        raise RequestError("Host or User-Agent contains CR, LF or NUL")
    lines = [f"{verb} {target} HTTP/1.1"]
    lines.extend(headers)
    if host and not _has_header(headers, "Host"):
        lines.append(f"Host: {host}")
    user_length = _has_header(headers, "Content-Length")
    user_te = _has_header(headers, "Transfer-Encoding")
    if body_length is None:
        if user_length:
            raise RequestError("Content-Length given for a body of unknown length")
        if not user_te:
            lines.append("Transfer-Encoding: chunked")
    elif user_length:
        for h in headers:
            if h.split(":", 1)[0].strip().lower() == "content-length":
                declared = h.split(":", 1)[1].strip()
                if not declared.isdigit() or int(declared) != body_length:
                    raise RequestError(
                        f"Content-Length header says {declared!r} but the body has "
                        f"{body_length} bytes"
                    )
    elif body_length > 0 and not user_te:
        lines.append(f"Content-Length: {body_length}")
    if not _has_header(headers, "User-Agent"):
        lines.append(f"User-Agent: {user_agent}")
    if not _has_header(headers, "Accept"):
        lines.append("Accept: */*")
    lines.extend(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


class ChunkedWriter:
    """Chunked transfer coding for a streamed upload (RFC 9112 7.1).

    ``frame(block)`` returns the pieces to send in order: ``[size line, block,
    CRLF]``, the block itself unchanged at index 1 (so a caller can count body
    bytes apart from framing). An empty block frames to ``[]``: a zero-size chunk
    would end the body, and iterators (zlib's ``compress()``) yield ``b""`` mid-stream.
    Only ``end()`` ends the body.
    """

    __slots__ = ("finished",)

    def __init__(self) -> None:
        self.finished = False

    def frame(self, data: bytes | memoryview) -> list[bytes | memoryview]:
        if self.finished:
            raise RequestError("chunked body already ended")
        size = len(data) if isinstance(data, bytes) else data.nbytes
        if size == 0:
            return []
        return [b"%x\r\n" % size, data, b"\r\n"]

    def end(self, trailers: Sequence[str] = ()) -> bytes:
        """The last chunk, trailer lines (checked like headers) and the final CRLF."""
        if self.finished:
            raise RequestError("chunked body already ended")
        check_headers(trailers)
        self.finished = True
        return ("0\r\n" + "".join(f"{t}\r\n" for t in trailers) + "\r\n").encode("utf-8")


# --------------------------------------------------------------------------- query strings


def http_escape(text: str) -> str:
    """Godot's ``String.http_escape`` (3.5): UTF-8, unreserved kept, ``%XX`` upper-case."""
    return quote(text, safe="-._~")


def _num(value: float) -> str:
    # Godot's String::num: up to 14 significant digits, trailing zeros dropped.
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    integer_digits = len(str(int(abs(value)))) if abs(value) >= 1 else 0
    decimals = max(0, 14 - integer_digits)
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def stringify(value: object) -> str:
    """Godot 3 ``Variant`` -> ``String`` conversion for the types a script can pass."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return "[" + ", ".join(str(b) for b in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(f"{stringify(k)}:{stringify(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(stringify(v) for v in value) + "]"
    return str(value)


def query_string_from_dict(fields: Mapping[object, object]) -> str:
    """The engine's ``query_string_from_dict``: arrays repeat the key, null drops ``=``."""
    parts: list[str] = []
    for key, value in fields.items():
        name = http_escape(stringify(key))
        if isinstance(value, (list, tuple)):
            parts.extend(f"{name}={http_escape(stringify(v))}" for v in value)
        elif value is None:
            parts.append(name)
        else:
            parts.append(f"{name}={http_escape(stringify(value))}")
    return "&".join(parts)
