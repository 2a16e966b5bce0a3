"""URLs and header lines as HTTPRequest sees them: parsing, lookups, redaction.

``parse_url`` follows Godot 3.5's ``String.parse_url`` plus HTTPRequest's
scheme check. ``redact`` removes secrets (URL userinfo, credential header
values) from any text before it reaches ``get_error_message()`` or a log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gdhttp.redaction import redact, redact_headers

__all__ = [
    "ParsedURL",
    "header_name",
    "header_value",
    "parse_url",
    "redact",
    "redact_headers",
    "without_headers",
]

# Spaces and control characters can't appear in a URL we send (request-line injection).
_URL_BAD = re.compile(r"[\x00-\x20\x7f]")



@dataclass(frozen=True)
class ParsedURL:
    """What HTTPRequest needs from a URL: where to connect and what to ask for."""

    use_ssl: bool
    host: str  # lower-cased, IPv6 without brackets
    port: int
    path: str  # from the first "/" on, query and fragment kept verbatim

    @property
    def origin(self) -> tuple[bool, str, int]:
        return (self.use_ssl, self.host, self.port)

    def geturl(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.use_ssl else 'http'}://{shown}:{self.port}{self.path}"


def parse_url(url: object) -> ParsedURL | None:
    """Parse like 3.5's ``String.parse_url`` + HTTPRequest's scheme check; None if invalid.

    Scheme http or https (any case); ``user:pass@`` stripped; ``[v6]``
    literals; port 1-65535 (default 80/443); path from the first "/" with
    query and fragment kept (a "?" or "#" right after the authority also ends
    it, RFC 3986); host lower-cased. Spaces and control characters refused.
    """
    if not isinstance(url, str) or not url or _URL_BAD.search(url):
        return None
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        return None
    cut = len(rest)
    for mark in "/?#":
        at = rest.find(mark)
        if 0 <= at < cut:
            cut = at
    authority, path = rest[:cut], rest[cut:]
    if not path.startswith("/"):
        path = "/" + path
    authority = authority.rpartition("@")[2]
    use_ssl = scheme == "https"
    port_text = ""
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return None
        host, tail = authority[1:end], authority[end + 1 :]
        if tail:
            if not tail.startswith(":"):
                return None
            port_text = tail[1:]
        if not host or ":" not in host:
            return None
    else:
        if authority.count(":") > 1:
            return None
        host, _, port_text = authority.partition(":")
        if ":" in authority and not port_text:
            return None
    if not host:
        return None
    port = 443 if use_ssl else 80
    if port_text or (":" in authority.rpartition("]")[2]):
        if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) <= 65535:
            return None
        port = int(port_text)
    return ParsedURL(use_ssl, host.lower(), port, path)


def url_problem(url: object) -> str:
    """Why ``parse_url`` refused ``url``, in words a script author can act on."""
    if not isinstance(url, str):
        return "the URL must be a String"
    if not url:
        return "empty URL"
    if _URL_BAD.search(url):
        return "the URL contains a space or a control character"
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return "the URL must start with http:// or https://"
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
    host_port = authority.rpartition("]")[2]  # after an IPv6 literal, or all of it
    if host_port.count(":") == 1:
        port_text = host_port.partition(":")[2]
        if not port_text.isascii() or not port_text.isdigit():
            return f"invalid port {port_text!r}"
        if not 0 < int(port_text) <= 65535:
            return f"port {int(port_text)} is out of range (1-65535)"
    return "no valid host"


def header_name(line: str) -> str:
    return line.split(":", 1)[0].strip().lower()


def header_value(headers: Iterable[str], name: str) -> str | None:
    """The value of the last header ``name`` (case-insensitive), or None."""
    found = None
    for line in headers:
        if ":" in line and header_name(line) == name:
            found = line.split(":", 1)[1].strip()
    return found


def without_headers(headers: Iterable[str], names: frozenset[str]) -> list[str]:
    return [h for h in headers if header_name(h) not in names]
