"""HTTP/2 field conversions, without I/O: request fields out, response fields back.

Scripts speak HTTP/1.1 header lines (``"Content-Type: text/plain"``); h2 speaks
lowercase name/value pairs with pseudo-fields. This module maps one to the
other, refusing what RFC 9113 forbids instead of sending it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from gdhttp._wire_fields import decode
from gdhttp._wire_request import RequestError, check_headers, host_header_value

__all__ = ["H2_ALPN", "canonical_name", "request_fields", "response_lines"]

#: What a session offers in the TLS handshake when HTTP/2 is on, h2 first.
H2_ALPN: Final = ("h2", "http/1.1")

#: Connection-specific fields RFC 9113 8.2.2 forbids in HTTP/2; dropped from requests.
_HOP_BY_HOP: Final = frozenset({"connection", "keep-alive", "proxy-connection",
                                "transfer-encoding", "upgrade", "host"})

#: Names whose usual HTTP/1.1 spelling is not plain capitalisation of each word.
_SPECIAL: Final = {"etag": "ETag", "www-authenticate": "WWW-Authenticate", "te": "TE",
                   "content-md5": "Content-MD5", "x-xss-protection": "X-XSS-Protection",
                   "dnt": "DNT", "sourcemap": "SourceMap", "expect-ct": "Expect-CT"}

#: The session counters of HTTP/2 (``Session.get_stats``); here, not in h2conn, so a
#: session reports them as 0 without importing the h2 library it has not needed yet.
H2_COUNTERS: Final = ("h2_connections", "h2_streams", "h2_queued", "h2_resets",
                      "h2_fallbacks", "h2_retried")


def canonical_name(name: str) -> str:
    """``content-type`` -> ``Content-Type``: the case HTTP/1.1 scripts expect."""
    special = _SPECIAL.get(name)
    if special is not None:
        return special
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def request_fields(verb: str, path: str, authority: str, headers: Sequence[str], *,
                   user_agent: str, body_length: int | None) -> list[tuple[bytes, bytes]]:
    """The request's HTTP/2 field list (pseudo-fields first); RequestError if refused.

    ``Host`` becomes ``:authority``; connection-specific fields are dropped;
    ``TE`` is kept only as ``trailers``. Content-Length is added for a known body
    size unless the caller set one (the server checks it against the DATA).
    """
    check_headers(headers)
    if not path.startswith("/") and not (verb == "OPTIONS" and path == "*"):
        raise RequestError("request target must start with '/'")
    if any(c in path for c in "\r\n\x00 "):
        raise RequestError("request target holds a space or control character")
    fields: list[tuple[bytes, bytes]] = []
    seen: set[str] = set()
    for line in headers:
        name, _, value = line.partition(":")
        lowered = name.strip().lower()
        value = value.strip()
        if lowered == "host":
            authority = value
        if lowered in _HOP_BY_HOP or (lowered == "te" and value.lower() != "trailers"):
            continue
        seen.add(lowered)
        fields.append((lowered.encode("latin-1"), value.encode("utf-8")))
    if "user-agent" not in seen and user_agent:
        fields.append((b"user-agent", user_agent.encode("utf-8")))
    if body_length is not None and "content-length" not in seen and (
            body_length > 0 or verb in ("POST", "PUT", "PATCH")):
        fields.append((b"content-length", str(body_length).encode()))
    pseudo = [(b":method", verb.encode()), (b":scheme", b"https"),
              (b":authority", authority.encode("utf-8")), (b":path", path.encode("utf-8"))]
    return pseudo + fields


def authority_for(host: str, port: int) -> str:
    return host_header_value(host, port, True)


def response_lines(fields: Sequence[tuple[bytes, bytes]]) -> tuple[int, list[str]]:
    """(status code, ``Name: value`` lines in canonical case); pseudo-fields left out.

    ValueError if ``:status`` is missing or not three digits (h2 checks the rest).
    """
    status = -1
    lines: list[str] = []
    for raw_name, raw_value in fields:
        if raw_name.startswith(b":"):
            if raw_name == b":status":
                text = raw_value.decode("latin-1")
                if len(text) != 3 or not text.isdigit():
                    raise ValueError(f"invalid :status {text!r}")
                status = int(text)
            continue
        lines.append(f"{canonical_name(raw_name.decode('latin-1'))}: {decode(raw_value)}")
    if status < 0:
        raise ValueError("response without :status")
    return status, lines
