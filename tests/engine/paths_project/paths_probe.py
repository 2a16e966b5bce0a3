"""Drives gdhttp's engine file system the way an exported game uses it.

``PackedOnly`` takes the route a .pck forces (the engine's File API) even though
this project is a folder, so the test covers it without exporting.
"""

from __future__ import annotations

import hashlib

from gdhttp import paths
from gdhttp.gdnative import GodotObjectLike, exposed
from gdhttp.gdnative.engine_files import EngineFileSystem, ResModuleFinder


class PackedOnly(EngineFileSystem):
    def open_read(self, path: str):  # type: ignore[no-untyped-def]
        from gdhttp.gdnative import engine_files

        real = engine_files.on_disk
        engine_files.on_disk = lambda p: None if p.startswith("res://") else real(p)
        try:
            return super().open_read(path)
        finally:
            engine_files.on_disk = real


@exposed(base="Reference")
class PathsProbe:
    owner: GodotObjectLike

    def packed_sha256(self, path: str) -> str:
        """sha256 of a res:// file read in 1000-byte steps through the File API."""
        digest = hashlib.sha256()
        with PackedOnly().open_read(path) as fh:
            while block := fh.read(1000):
                digest.update(block)
        return digest.hexdigest()

    def packed_missing(self, path: str) -> str:
        try:
            PackedOnly().open_read(path).close()
        except FileNotFoundError as exc:
            return paths.describe(exc)
        return "opened"

    def import_packed(self, name: str) -> str:
        """Import ``name`` with the .pck finder only; returns its ANSWER or 'missing'."""
        finder = ResModuleFinder()
        spec = finder.find_spec(name, None)
        if spec is None:
            return "missing"
        module = type(paths)(name)
        module.__spec__ = spec
        finder.exec_module(module)
        return f"{module.ANSWER} from {module.__file__}"

    def installed_file_system(self) -> str:
        return type(paths.current()).__name__
