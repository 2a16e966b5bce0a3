"""Body bytes in and out of a ``Connection``.

``UploadSource`` pulls a streamed request body from the caller's file object
or iterable; whatever that code raises becomes ``UploadSourceError``, so it is
reported as the caller's source failing, never as a caller argument mistake
or as a bug of ours. ``ListSink`` and ``BufferSink`` receive response body
bytes, the second straight from the socket into the caller's buffer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO

from gdhttp import limits
from gdhttp.transport import Stream

__all__ = ["BufferSink", "ListSink", "UploadSource", "UploadSourceError", "is_upload_source"]


class UploadSourceError(Exception):
    """The caller's upload source raised, yielded a non-bytes block, or broke its length."""


def is_upload_source(source: object) -> bool:
    """A binary file object (``read(n)``) or an iterable of bytes-like blocks."""
    if isinstance(source, (str, bytes, bytearray, memoryview)):
        return False
    return callable(getattr(source, "read", None)) or isinstance(source, Iterable)


class UploadSource:
    """The next blocks of a streamed body; ``length`` -1 means unknown (chunked)."""

    def __init__(self, source: IO[bytes] | Iterable[bytes], length: int) -> None:
        self._read: Callable[[int], object] | None = getattr(source, "read", None)
        self._source = source
        self._iter: Iterator[object] | None = None
        self.left = length  # bytes still owed by a fixed-length source (-1: unknown)
        self.ended = False

    def next_block(self) -> bytes | None:
        """The next non-empty block, b"" at the end, None if none is ready this call.

        An iterator's empty blocks (``zlib`` often yields b"") are skipped: only
        the end of the iterator ends the body. For a file, ``read()`` -> b"" is EOF.
        """
        want = limits.UPLOAD_BLOCK_SIZE if self.left < 0 else min(limits.UPLOAD_BLOCK_SIZE,
                                                                 self.left)
        if want == 0:
            return self._end()
        for _ in range(limits.MAX_EMPTY_UPLOAD_BLOCKS):
            block = self._pull(want)
            if block is None:
                return self._end()
            if block:
                return self._account(block)
            if self._read is not None:
                return self._end()
        return None  # a run of empty blocks: try again on the next poll()

    def _pull(self, want: int) -> bytes | None:
        try:
            if self._read is not None:
                raw = self._read(want)
            else:
                if self._iter is None:
                    self._iter = iter(self._source)
                raw = next(self._iter, None)
                if raw is None:
                    return None
        except Exception as exc:
            raise UploadSourceError(f"upload source raised {type(exc).__name__}: {exc}") from exc
        if raw is None:
            raw = b""  # a non-blocking file with nothing yet reads as None; treat as EOF
        if not isinstance(raw, (bytes, bytearray, memoryview)):
            raise UploadSourceError(
                f"upload source yielded {type(raw).__name__}, not bytes")
        return bytes(raw)

    def _account(self, block: bytes) -> bytes:
        if self.left >= 0:
            if len(block) > self.left:
                raise UploadSourceError("upload source yielded more bytes than its length")
            self.left -= len(block)
        return block

    def _end(self) -> bytes:
        if self.left > 0:
            raise UploadSourceError(f"upload source ended {self.left} bytes short of its length")
        self.ended = True
        return b""


class ListSink:
    """Collects body bytes as ``bytes`` objects (read_response_body_chunk)."""

    __slots__ = ("parts", "size")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)

    def direct(self, stream: Stream, n: int, deadline: float) -> int | None:
        data = stream.recv(n)
        if data:
            self.add(data)
        return None if data is None else len(data)

    def result(self) -> bytes:
        return self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)


class BufferSink:
    """Writes body bytes into a caller's buffer (read_response_body_chunk_into)."""

    __slots__ = ("recv_into", "size", "view")

    def __init__(self, view: memoryview, stream: Stream) -> None:
        self.view = view
        self.size = 0
        self.recv_into: Callable[[memoryview], int | None] | None = getattr(
            stream, "recv_into", None)

    def add(self, data: bytes) -> None:
        self.view[self.size : self.size + len(data)] = data
        self.size += len(data)

    def direct(self, stream: Stream, n: int, deadline: float) -> int | None:
        if self.recv_into is None:
            data = stream.recv(n)
            if data:
                self.add(data)
            return None if data is None else len(data)
        # Loop here: TLS hands out one record (<= 16 KiB) per read, so a 16 MiB
        # buffer is a thousand reads; the deadline keeps the call short anyway.
        recv_into, view, start = self.recv_into, self.view, self.size
        total = 0
        while total < n:
            if total and time.monotonic() >= deadline:
                break
            got = recv_into(view[start + total : start + n])
            if not got:
                if total:
                    break
                return got
            total += got
        self.size += total
        return total
