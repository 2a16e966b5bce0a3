"""Deterministic test files with known size and sha256, created fast and cached.

`make_blob(directory, name, size)` writes `directory/name` (pseudo-random bytes derived from a
seed, so the same name/size/seed always gives the same content) and returns a `Blob` with its
sha256. A sidecar `name.sha256` caches the digest: a second call with an existing file of the
right size and seed returns at once. Large sizes (256 MiB, 1 GiB for the bench) take roughly
disk-write time plus one sha256 pass (~1-3 s per GiB).
"""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

_BLOCK = 1 * MiB
# Each 1 MiB block is the seed block rotated by a different offset, so the content never
# repeats with a short period (compressors and dedup see "random" data), yet it costs only a
# memcpy per block to produce.
_ROTATE_STEP = 4099

Kind = Literal["random", "zeros", "text"]


@dataclass(frozen=True)
class Blob:
    path: Path
    size: int
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


def _seed_for(name: str, seed: int | None) -> int:
    if seed is not None:
        return seed
    return zlib.crc32(name.encode("utf-8"))


def _text_block(rng: random.Random) -> bytes:
    words = [
        "godot", "http", "client", "poll", "chunk", "body", "header", "request", "response",
        "keep", "alive", "socket", "tls", "proxy", "tunnel", "upload", "download", "progress",
        "status", "error", "frame", "engine", "script", "node",
    ]
    out: list[str] = []
    size = 0
    line: list[str] = []
    while size < _BLOCK:
        w = rng.choice(words)
        line.append(w)
        if len(line) >= 12:
            s = " ".join(line) + "\n"
            out.append(s)
            size += len(s)
            line = []
    return "".join(out).encode("ascii")[:_BLOCK]


def blob_bytes(size: int, *, seed: int, kind: Kind = "random") -> bytes:
    """The exact bytes `make_blob` writes (in memory: keep it for small sizes).

    `make_blob(d, name, size)` uses seed `zlib.crc32(name.encode())` unless given one."""
    return b"".join(_ChunkIter(size, seed, kind))


class _ChunkIter:
    def __init__(self, size: int, seed: int, kind: Kind) -> None:
        self.remaining = size
        self.kind = kind
        self.index = 0
        rng = random.Random(seed)
        if kind == "zeros":
            self.block = bytes(_BLOCK)
        elif kind == "text":
            self.block = _text_block(rng)
        else:
            self.block = rng.randbytes(_BLOCK)

    def __iter__(self) -> _ChunkIter:
        return self

    def __next__(self) -> bytes:
        if self.remaining <= 0:
            raise StopIteration
        n = min(self.remaining, _BLOCK)
        if self.kind == "zeros" or self.index == 0:
            chunk = self.block[:n]
        else:
            off = (self.index * _ROTATE_STEP) % _BLOCK
            chunk = (self.block[off:] + self.block[:off])[:n]
        self.index += 1
        self.remaining -= n
        return chunk


def make_blob(
    directory: str | os.PathLike[str],
    name: str,
    size: int,
    *,
    seed: int | None = None,
    kind: Kind = "random",
) -> Blob:
    """Create (or reuse) `directory/name` with `size` deterministic bytes; return its sha256.

    kind: "random" (incompressible), "text" (compressible ASCII lines), "zeros".
    For "zeros" the file is created sparse with os.truncate (instant), only hashed.
    """
    if size < 0:
        raise ValueError("size must be >= 0")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    path = d / name
    real_seed = _seed_for(name, seed)
    tag = f"{size} {real_seed} {kind}"
    sidecar = d / (name + ".sha256")
    if path.is_file() and path.stat().st_size == size and sidecar.is_file():
        parts = sidecar.read_text().split(maxsplit=1)
        if len(parts) == 2 and parts[1].strip() == tag:
            return Blob(path, size, parts[0])
    h = hashlib.sha256()
    tmp = path.with_name(path.name + ".part")
    if kind == "zeros":
        with open(tmp, "wb") as f:
            os.truncate(f.fileno(), size)
        for chunk in _ChunkIter(size, real_seed, kind):
            h.update(chunk)
    else:
        with open(tmp, "wb") as f:
            for chunk in _ChunkIter(size, real_seed, kind):
                h.update(chunk)
                f.write(chunk)
    os.replace(tmp, path)
    digest = h.hexdigest()
    sidecar.write_text(f"{digest} {tag}\n")
    return Blob(path, size, digest)


# The standard files every static test server carries: name -> (size, kind).
STANDARD_FILES: Mapping[str, tuple[int, Kind]] = {
    "empty.bin": (0, "random"),
    "1k.bin": (1 * KiB, "random"),
    "64k.bin": (64 * KiB, "random"),
    "odd-100003.bin": (100_003, "random"),
    "1m.bin": (1 * MiB, "random"),
    "16m.bin": (16 * MiB, "random"),
    "text-64k.txt": (64 * KiB, "text"),
    "text-1m.txt": (1 * MiB, "text"),
}


def make_standard_files(directory: str | os.PathLike[str]) -> dict[str, tuple[int, str]]:
    """Create STANDARD_FILES in `directory`; return name -> (size, sha256)."""
    out: dict[str, tuple[int, str]] = {}
    for name, (size, kind) in STANDARD_FILES.items():
        b = make_blob(directory, name, size, kind=kind)
        out[name] = (b.size, b.sha256)
    return out


def shared_blob_dir() -> Path:
    """A blob cache that outlives one test session (for the bench's 256 MiB / 1 GiB files):
    $GDHTTP_BLOB_DIR, else <tmp>/gdhttp-blobs."""
    env = os.environ.get("GDHTTP_BLOB_DIR")
    d = Path(env) if env else Path(tempfile.gettempdir()) / "gdhttp-blobs"
    d.mkdir(parents=True, exist_ok=True)
    return d


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_BLOCK):
            h.update(chunk)
    return h.hexdigest()
