"""Request bodies streamed as they are sent: ``FileBody`` and ``MultipartForm``.

Any object with ``content_type``, ``size()`` and ``open()`` (``BodySource``)
can be given to ``HTTPRequest.request_stream``; it is re-opened for a
307/308 redirect. Files are opened through ``gdhttp.paths`` (OS paths,
``res://``, ``user://``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import IO, Final, Protocol, runtime_checkable

from gdhttp import limits, paths
from gdhttp.constants import Error

__all__ = ["BodySource", "FileBody", "MultipartForm"]

#: Block size read from files when streaming a multipart body.
MULTIPART_READ_BLOCK: Final = limits.UPLOAD_BLOCK_SIZE


@runtime_checkable
class BodySource(Protocol):
    """A request body streamed from somewhere: sized, re-openable (for 307/308)."""

    content_type: str

    def size(self) -> int:
        """Bytes open() will produce, or -1 if unknown (sent chunked)."""
        ...

    def open(self) -> IO[bytes] | Iterator[bytes]:
        """A fresh stream of the whole body (a binary file or an iterator of bytes)."""
        ...


class FileBody:
    """A file (OS path, ``res://`` or ``user://``) as a request body, read as it is sent."""

    def __init__(self, path: str | os.PathLike[str], content_type: str = "") -> None:
        self.path = os.fspath(path)
        self.content_type = content_type

    def size(self) -> int:
        return paths.file_size(self.path)

    def open(self) -> IO[bytes]:
        return paths.open_read(self.path)  # closed by HTTPRequest


def _quote_param(value: str) -> str:
    # HTML's multipart/form-data encoding of names: escape ", CR and LF.
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class MultipartForm:
    """A multipart/form-data body whose files are streamed from disk.

    ``add_field(name, value)`` and ``add_file(name, path)`` in order, then
    pass the form to ``HTTPRequest.request_stream`` (it supplies the
    Content-Type with the boundary and an exact Content-Length).
    """

    def __init__(self, boundary: str = "") -> None:
        self.boundary = boundary or f"gdhttp-{secrets.token_hex(16)}"
        # Each part: (header bytes, inline data or None, file path or None).
        self._parts: list[tuple[bytes, bytes | None, str | None]] = []

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def add_field(self, name: str, value: str | bytes, content_type: str = "") -> Error:
        """Add a text (UTF-8) or bytes part. ERR_INVALID_PARAMETER for other types or text
        that is not valid Unicode (a lone surrogate); the form is then unchanged."""
        if not isinstance(name, str) or not isinstance(content_type, str) \
                or not isinstance(value, (str, bytes, bytearray)):
            return Error.ERR_INVALID_PARAMETER
        head = f'Content-Disposition: form-data; name="{_quote_param(name)}"\r\n'
        if content_type:
            head += f"Content-Type: {_quote_param(content_type)}\r\n"
        try:
            data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
            head_bytes = head.encode("utf-8")
        except UnicodeEncodeError:
            return Error.ERR_INVALID_PARAMETER
        self._parts.append((head_bytes, data, None))
        return Error.OK

    def add_file(
        self,
        name: str,
        path: str | os.PathLike[str],
        filename: str = "",
        content_type: str = "application/octet-stream",
    ) -> Error:
        """Add a file part (read when sent). ERR_FILE_NOT_FOUND if it isn't a file now."""
        if not isinstance(name, str) or not isinstance(filename, str) \
                or not isinstance(content_type, str):
            return Error.ERR_INVALID_PARAMETER
        try:
            path = paths.check(path)
        except OSError:
            return Error.ERR_INVALID_PARAMETER
        if not paths.is_file(path):
            return Error.ERR_FILE_NOT_FOUND
        shown = filename or path.rsplit("/", 1)[-1]
        head = (
            f'Content-Disposition: form-data; name="{_quote_param(name)}"; '
            f'filename="{_quote_param(shown)}"\r\n'
            f"Content-Type: {_quote_param(content_type)}\r\n"
        )
        try:
            head_bytes = head.encode("utf-8")
        except UnicodeEncodeError:
            return Error.ERR_INVALID_PARAMETER
        self._parts.append((head_bytes, None, path))
        return Error.OK

    def _delimiter(self) -> bytes:
        return f"--{self.boundary}\r\n".encode("ascii")

    def _closing(self) -> bytes:
        return f"--{self.boundary}--\r\n".encode("ascii")

    def size(self) -> int:
        total = len(self._closing())
        for head, data, path in self._parts:
            total += len(self._delimiter()) + len(head) + 2  # blank line
            total += len(data) if data is not None else paths.file_size(path or "")
            total += 2  # CRLF after the content
        return total

    def open(self) -> Iterator[bytes]:
        return self._generate()

    def _generate(self) -> Iterator[bytes]:
        for head, data, path in self._parts:
            yield self._delimiter() + head + b"\r\n"
            if data is not None:
                if data:
                    yield data
            else:
                with paths.open_read(path or "") as handle:
                    while block := handle.read(MULTIPART_READ_BLOCK):
                        yield block
            yield b"\r\n"
        yield self._closing()
