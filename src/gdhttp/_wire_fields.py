"""Field blocks (a response head or a trailer section): where they end, what is in them.

Part of ``gdhttp.protocol``. Grammar as in RFC 9112 and h11: field-name is a
token directly followed by ":"; values are visible characters, obs-text, SP
and HTAB; obs-fold continuation lines are joined with one space. Control
characters, a bare CR and whitespace-only lines are refused. The whole block
is checked with one C-speed pass, then split once, so the cost is linear in
its size and the Python loop runs at most once per line.
"""

from __future__ import annotations

import re

from gdhttp import limits

__all__ = ["FieldError", "decode", "find_block_end", "parse_fields"]


class FieldError(ValueError):
    """A field block breaks the grammar; the message says how."""


# The first empty line ends a block, whatever mix of CRLF and LF is used.
_BLOCK_END = re.compile(rb"\n\r?\n")
# Bytes a head may hold: everything but the CTLs other than HTAB, CR and LF (a CR
# is checked apart to be followed by LF). One C-speed translate() finds the others.
_ALLOWED = bytes(b for b in range(256) if (b >= 0x20 and b != 0x7F) or b in b"\t\r\n")
_FIELD_START = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+:")


def find_block_end(buf: bytearray, start: int, limit: int) -> int:
    """Index just past the first empty line at or after ``start``, or -1.

    Only the first ``limit`` bytes are searched. A caller resumes at
    ``len(buf) - 2`` (the terminator is at most three bytes), so the total
    search work stays linear in the bytes received.
    """
    match = _BLOCK_END.search(buf, start, limit)
    return match.end() if match is not None else -1


def parse_fields(block: bytes, *, status_line: bool) -> tuple[bytes, list[str]]:
    """Split a block ending in its empty line into (first line, field lines).

    With ``status_line`` the first line is returned apart (else ``b""``).
    Field lines are decoded ("Name: value", ends stripped, folds joined).
    """
    bad = block.translate(None, _ALLOWED)  # what is left: the forbidden bytes, in order
    if bad:
        what = "NUL byte" if bad[0] == 0 else f"control character {bad[:1]!r}"
        raise FieldError(f"{what} in a header line")
    if block.count(b"\r") != block.count(b"\r\n"):
        raise FieldError("bare CR in a header line")
    if block.count(b"\n") > limits.MAX_HEADER_LINES + 2:
        raise FieldError(f"more than {limits.MAX_HEADER_LINES} lines")
    # Every CR is now part of a CRLF: line ends are LF, and plain splits stay in C.
    lines = block.replace(b"\r\n", b"\n").split(b"\n")
    del lines[-2:]  # the line break before the empty line, and the empty line
    first = lines[0] if status_line else b""
    fields: list[str] = []
    parts: list[bytes] = []
    for raw in lines[1:] if status_line else lines:
        if raw[:1] in (b" ", b"\t"):
            # obs-fold (RFC 9112 5.2): a client may join it to the previous field.
            value = raw.lstrip(b" \t")
            if not value:
                # Looks empty but is not: the shape of a smuggled end of head.
                raise FieldError("whitespace-only header line")
            if not parts:
                raise FieldError("continuation line before any header line")
            parts.append(value)
            continue
        if parts:
            fields.append(_join(parts))
        if _FIELD_START.match(raw) is None:
            raise FieldError(f"malformed header line {raw[:80]!r}")
        parts = [raw]
    if parts:
        fields.append(_join(parts))
    if len(fields) > limits.MAX_HEADER_FIELDS:
        raise FieldError(f"more than {limits.MAX_HEADER_FIELDS} header fields")
    return first, fields


def _join(parts: list[bytes]) -> str:
    # One join per field: repeated concatenation made 2 MiB of folds quadratic.
    raw = parts[0] if len(parts) == 1 else b" ".join(parts)
    return decode(raw.rstrip(b" \t"))


def decode(raw: bytes) -> str:
    """Header text as str: UTF-8 when it is valid, else latin-1 (byte for byte)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
