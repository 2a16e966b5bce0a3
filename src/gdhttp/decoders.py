"""Incremental gzip / deflate decoding in bounded pieces.

The caller ``push``es wire bytes only when nothing is ``pending``, then
``pull``s at most ``max_out`` decoded bytes per call; what zlib has not
consumed yet (``unconsumed_tail``) waits for the next pull. So one call's
work and memory are bounded by ``max_out``, whatever the compression ratio,
and the caller decides when to stop (its time budget, its size limits).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any, Final

__all__ = ["DECODE_STEP", "ENCODINGS", "DecodeError", "Decoder"]

#: Most bytes one pull() produces: inflating this much takes well under a
#: millisecond, so a bomb can't stall a frame, and memory per call stays bounded.
DECODE_STEP: Final = 64 * 1024

#: Most gzip members in one body: concatenated members are legal, but a body
#: of thousands of empty members is only a way to burn CPU.
MAX_GZIP_MEMBERS: Final = 64

#: Content-Encoding values decoded (case-insensitive).
ENCODINGS: Final = frozenset({"gzip", "x-gzip", "deflate"})


class DecodeError(Exception):
    """The compressed body is corrupt, truncated, or abusive."""


class Decoder:
    """gzip (members in sequence) or deflate (zlib-wrapped or raw, told apart by its header)."""

    def __init__(self, encoding: str) -> None:
        self.gzip = encoding.lower() in ("gzip", "x-gzip")
        self._obj: Any = None
        self._input = b""  # pushed bytes zlib has not consumed yet
        self._members = 0
        self.consumed = 0  # compressed bytes pushed so far
        self.produced = 0  # decoded bytes pulled so far

    @property
    def pending(self) -> bool:
        """Pushed input is still waiting to be decoded: pull() before pushing more."""
        if not self._input:
            return False
        # deflate needs two bytes to tell zlib-wrapped from raw
        return self._obj is not None or self.gzip or len(self._input) >= 2

    def push(self, data: bytes) -> None:
        self._input += data
        self.consumed += len(data)

    def _start(self) -> None:
        first = self._input
        if self.gzip:
            self._members += 1
            if self._members > MAX_GZIP_MEMBERS:
                raise DecodeError(f"more than {MAX_GZIP_MEMBERS} gzip members")
            self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif first[0] & 0x0F == 8 and ((first[0] << 8) | first[1]) % 31 == 0:
            self._obj = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            self._obj = zlib.decompressobj(-zlib.MAX_WBITS)

    def pull(self, max_out: int = DECODE_STEP) -> bytes:
        """At most ``max_out`` decoded bytes (b"" when more input is needed)."""
        try:
            # Bounded: each pass either produces output, finishes a member (at most
            # MAX_GZIP_MEMBERS), or consumes all input.
            while self.pending:
                if self._obj is None or self._obj.eof:
                    if self._obj is not None and not self.gzip:
                        raise DecodeError("data after the end of the deflate stream")
                    self._start()
                obj = self._obj
                out: bytes = obj.decompress(self._input, max_out)
                self._input = obj.unused_data if obj.eof else obj.unconsumed_tail
                if out:
                    self.produced += len(out)
                    return out
            return b""
        except zlib.error as exc:
            raise DecodeError(f"corrupt compressed body: {exc}") from exc

    def finish(self) -> bytes:
        """Call once the body ended and nothing is pending; raises if the stream is incomplete."""
        if self._obj is None:
            if self._input:
                raise DecodeError("compressed body too short")
            return b""
        if not self._obj.eof:
            raise DecodeError("compressed body ended before the end of its stream")
        return b""

    def feed(self, data: bytes, max_out: int = DECODE_STEP) -> Iterator[bytes]:
        """push(data), then every piece it decodes to (for callers without a budget)."""
        self.push(data)
        while self.pending:
            piece = self.pull(max_out)
            if not piece and self.pending:
                continue
            if piece:
                yield piece
