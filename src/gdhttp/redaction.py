"""Secrets out of messages and logs: one rule for every layer.

Error messages and log lines quote what the caller passed (a URL, a proxy
string, a refused header) or what failed (a traceback). Before any of it is
stored in ``get_error_message()`` or logged, ``redact`` replaces URL userinfo,
``user:pass@`` in proxy strings, and the values of credential header fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["REDACTED", "SECRET_HEADERS", "redact", "redact_headers"]

#: Header names whose values are secrets: never echoed in messages or logs.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})

REDACTED = "<redacted>"

# "scheme://user:pass@" -> "scheme://<redacted>@"; also bare "user:pass@host" (proxy strings).
_USERINFO = re.compile(r"(?i)([a-z][a-z0-9+.-]*://)[^/?#@\s'\"]*@")
_BARE_USERINFO = re.compile(r"(?<![\w/])[^\s/@:'\"]+:[^\s/@'\"]*@(?=[\w\[])")
# "Authorization: Basic abc" as it may appear inside a message or a repr().
_SECRET_FIELD = re.compile(
    r"(?i)\b(authorization|proxy-authorization|cookie)(\s*:\s*)([^'\"\r\n\\]*)")


def redact(text: str) -> str:
    """``text`` without URL userinfo or credential header values."""
    if "@" in text:
        text = _USERINFO.sub(lambda m: m.group(1) + REDACTED + "@", text)
        text = _BARE_USERINFO.sub(REDACTED + "@", text)
    return _SECRET_FIELD.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)


def _header_name(line: str) -> str:
    return line.split(":", 1)[0].strip().lower()


def redact_headers(text: str, headers: Iterable[object]) -> str:
    """``redact(text)``, and also any secret header value of ``headers`` quoted in it."""
    for line in headers:
        if isinstance(line, str) and ":" in line and _header_name(line) in SECRET_HEADERS:
            value = line.split(":", 1)[1].strip()
            if value:
                for form in (repr(value)[1:-1], value):
                    text = text.replace(form, REDACTED)
    return redact(text)
