"""The engine's file system, for Python: ``res://`` through Godot's ``File`` API.

In an exported game the project's files live inside the ``.pck`` and
``ProjectSettings.globalize_path("res://x")`` is a relative path that names
nothing on disk. Python's ``open()`` cannot read them; Godot's ``File`` can.
``EngineFileSystem`` reads ``res://`` from disk when the project is a folder
(editor and development runs: plain files are faster) and through ``File``
otherwise; ``user://`` is always a real folder. ``ResModuleFinder`` imports
the game's Python modules the same way.

This is bridge code: it knows engine files, nothing about HTTP.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import io
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any, BinaryIO, cast

from gdhttp.gdnative.objects import GodotObject, singleton
from gdhttp.paths import PathError, local_size, open_local

RES, USER = "res://", "user://"
_FILE_READ = 1  # File.READ
_ERR_FILE_NOT_FOUND = 7
_READ_BUFFER = 64 * 1024  # one get_buffer() call per 64 KiB: each is an engine round trip


def _settings() -> GodotObject:
    return singleton("ProjectSettings")


def _new_file() -> GodotObject:
    # Scripts' File is registered as "_File" in Godot 3's ClassDB (the core
    # FileAccess has no script API); ask for that name first.
    classes = singleton("ClassDB")
    for name in ("_File", "File"):
        if classes.class_exists(name):
            obj = classes.instance(name)
            if isinstance(obj, GodotObject):
                return obj
    raise OSError("the engine cannot create a File object")


def on_disk(path: str) -> str | None:
    """The OS path behind an engine path, if the file system really has one."""
    if path.startswith(USER):
        return str(_settings().globalize_path(path))
    if path.startswith(RES):
        local = str(_settings().globalize_path(path))
        return local if os.path.isabs(local) and os.path.exists(local) else None
    return os.path.expanduser(path)


class _PackedReader(io.RawIOBase):
    """A ``File`` opened for reading, as a raw Python stream."""

    def __init__(self, handle: GodotObject, path: str) -> None:
        super().__init__()
        self._handle = handle
        self._left = int(handle.get_len())
        self.name = path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        # Ask for no more than is left: Godot 3.2's get_buffer() pads a short
        # read with zeros up to the length asked for.
        want = min(len(view), self._left)
        if want <= 0:
            return 0
        data = self._handle.get_buffer(want)
        n = min(len(data), want)
        view[:n] = data[:n]
        self._left -= n
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                self._handle.close()
            finally:
                super().close()


def _open_packed(path: str) -> GodotObject:
    handle = _new_file()
    err = handle.open(path, _FILE_READ)
    if err == _ERR_FILE_NOT_FOUND or (err and not handle.file_exists(path)):
        raise FileNotFoundError(2, "No such file or directory", path)
    if err:
        raise OSError(13, f"the engine cannot open it (error {err})", path)
    return handle


class EngineFileSystem:
    """``gdhttp.paths.FileSystem`` for code running inside Godot."""

    def open_read(self, path: str) -> BinaryIO:
        local = on_disk(path)
        if local is None:
            raw = _PackedReader(_open_packed(path), path)
            return cast(BinaryIO, io.BufferedReader(raw, _READ_BUFFER))
        return open_local(local, path)

    def file_size(self, path: str) -> int:
        local = on_disk(path)
        if local is None:
            handle = _open_packed(path)
            try:
                return int(handle.get_len())
            finally:
                handle.close()
        return local_size(local, path)

    def is_file(self, path: str) -> bool:
        local = on_disk(path)
        if local is None:
            return bool(_new_file().file_exists(path))
        return os.path.isfile(local)

    def writable_path(self, path: str) -> str:
        local = on_disk(path)
        if local is not None:
            return local
        if path.startswith(RES):
            local = str(_settings().globalize_path(path))
            if os.path.isabs(local):
                return local  # a new file in a project folder
        raise PathError(13, "res:// is read-only in an exported game; use user://", path)


class ResModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``name`` from ``res://name.py`` or ``res://name/__init__.py``.

    It sits after Python's own finders, so a project folder on ``sys.path``
    wins; in an exported game it is what finds the game's modules in the ``.pck``.
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        base = RES + fullname.replace(".", "/")
        files = _new_file()
        for candidate, package in ((base + ".py", False), (base + "/__init__.py", True)):
            if files.file_exists(candidate):
                spec = importlib.util.spec_from_loader(fullname, self, origin=candidate,
                                                       is_package=package)
                if spec is not None:
                    spec.has_location = True
                    if package:
                        spec.submodule_search_locations = [base]
                return spec
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        spec = module.__spec__
        assert spec is not None and spec.origin is not None
        handle = _open_packed(spec.origin)
        try:
            source = bytes(handle.get_buffer(int(handle.get_len())))
        finally:
            handle.close()
        module.__file__ = spec.origin
        code = compile(source, spec.origin, "exec", dont_inherit=True)
        exec(code, module.__dict__)


def install_finder() -> None:
    if not any(isinstance(f, ResModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(ResModuleFinder())
