"""One resolver for every path a script hands to gdhttp.

Scripts name files three ways: OS paths, ``res://`` (the project; in an
exported game these files exist only inside the ``.pck``) and ``user://`` (the
game's writable data folder). CA bundles, CRLs, client certificates, upload
sources and download targets all go through this module, so ``PyHTTPClient``,
``PyHTTPRequest`` and Python callers resolve a path the same way.

The file system behind it is pluggable. Outside the engine it is the OS, with
``res://`` and ``user://`` mapped to folders given to ``set_roots`` (refused
until then). Inside the engine the adapter layer installs one that reads
``res://`` through Godot's ``File`` API, so reads work inside a ``.pck``.

Errors are ``OSError`` subclasses carrying the script's path as given:
``FileNotFoundError`` for a missing file, ``PathError`` for a path that can
never name a file (NUL, wrong type, writing into ``res://`` of an export).
"""

from __future__ import annotations

import os
from typing import BinaryIO, Protocol

__all__ = [
    "FileSystem",
    "OsFileSystem",
    "PathError",
    "file_size",
    "install",
    "is_engine_path",
    "is_file",
    "open_read",
    "read_bytes",
    "read_text",
    "set_roots",
    "writable_path",
]

RES, USER = "res://", "user://"


class PathError(OSError):
    """A path that cannot name a file: wrong type, NUL, or not writable by design."""


class FileSystem(Protocol):
    """What gdhttp needs from a file system; paths are already checked strings."""

    def open_read(self, path: str) -> BinaryIO: ...

    def file_size(self, path: str) -> int: ...

    def is_file(self, path: str) -> bool: ...

    def writable_path(self, path: str) -> str: ...


def is_engine_path(path: str) -> bool:
    return path.startswith((RES, USER))


def check(path: object) -> str:
    """The path as a string, or PathError saying why it can never name a file."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        raise PathError(f"a path must be a String, not {type(path).__name__}")
    if not path:
        raise PathError("empty path")
    if "\x00" in path:
        raise PathError(f"path contains a NUL character: {path!r}")
    return path


def open_local(local: str, shown: str) -> BinaryIO:
    """Open the OS file ``local``; errors name ``shown``, the path as the script wrote it."""
    if os.path.isdir(local):
        raise IsADirectoryError(21, "Is a directory", shown)
    try:
        return open(local, "rb")
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror, shown) from None


def local_size(local: str, shown: str) -> int:
    try:
        return os.stat(local).st_size
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror, shown) from None


class OsFileSystem:
    """The OS file system; ``res://``/``user://`` map to the folders given, if any."""

    def __init__(self, res_root: str = "", user_root: str = "") -> None:
        self.res_root = res_root
        self.user_root = user_root

    def local(self, path: str) -> str:
        for prefix, root in ((RES, self.res_root), (USER, self.user_root)):
            if path.startswith(prefix):
                if not root:
                    raise FileNotFoundError(
                        2, f"{prefix} paths need a Godot project (gdhttp.paths.set_roots)", path
                    )
                return os.path.join(root, path[len(prefix) :])
        return os.path.expanduser(path)

    def open_read(self, path: str) -> BinaryIO:
        return open_local(self.local(path), path)

    def file_size(self, path: str) -> int:
        return local_size(self.local(path), path)

    def is_file(self, path: str) -> bool:
        try:
            return os.path.isfile(self.local(path))
        except OSError:
            return False

    def writable_path(self, path: str) -> str:
        return self.local(path)


_fs: FileSystem = OsFileSystem()


def install(fs: FileSystem) -> FileSystem:
    """Use ``fs`` for every path from now on; returns the previous one."""
    global _fs
    previous, _fs = _fs, fs
    return previous


def current() -> FileSystem:
    return _fs


def set_roots(res: str = "", user: str = "") -> None:
    """Outside the engine: map ``res://`` and ``user://`` to these folders."""
    install(OsFileSystem(*(os.path.abspath(r) if r else "" for r in (res, user))))


def open_read(path: object) -> BinaryIO:
    """A binary reader for ``path`` (the caller closes it)."""
    return _fs.open_read(check(path))


def file_size(path: object) -> int:
    return _fs.file_size(check(path))


def is_file(path: object) -> bool:
    try:
        return _fs.is_file(check(path))
    except OSError:
        return False


def read_bytes(path: object, limit: int = -1) -> bytes:
    """The whole file (at most ``limit`` bytes when >= 0; more is an error)."""
    with open_read(path) as fh:
        data = fh.read() if limit < 0 else fh.read(limit + 1)
    if 0 <= limit < len(data):
        raise PathError(f"{path}: larger than {limit} bytes")
    return data


def read_text(path: object, limit: int = -1, encoding: str = "utf-8") -> str:
    data = read_bytes(path, limit)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise PathError(f"{path}: not {encoding} text ({exc.reason})") from None


def writable_path(path: object) -> str:
    """An OS path a download may be written to (``user://`` globalized)."""
    return _fs.writable_path(check(path))


def describe(exc: OSError) -> str:
    """``"No such file or directory: 'res://x.pem'"``, without an errno prefix."""
    what = exc.strerror or str(exc)
    return f"{what}: {exc.filename!r}" if exc.filename else what
