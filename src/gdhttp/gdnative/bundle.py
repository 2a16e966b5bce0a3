"""The self-contained Python runtime that ships inside ``addons/gdhttp/bin/``.

Everything lives flat in one folder, because Godot's export copies a
``.gdnlib``'s dependencies flat next to the game binary:

- ``libgdhttp.so``: the bridge (built by ``build.py``), RUNPATH ``$ORIGIN``;
- ``libpython3.X.so.1.0``, stripped, its build prefix neutralised;
- ``pythonXY.zip``: the standard library as ``.pyc``, pruned of what a game
  never uses;
- ``gdhttp.zip``: ``gdhttp`` and its runtime dependencies (``cffi``, ...), as
  ``.pyc`` plus sources (tracebacks show source lines);
- the extension modules and the shared libraries they need that a player's
  machine may lack (OpenSSL, libffi, zlib, ...), all with RUNPATH ``$ORIGIN``.

The bridge's constructor configures the interpreter from the folder it was
loaded from (see ``build.py``), so no file refers to the build machine.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent.parent
REPO = SRC.parent
PACKAGE = SRC / "gdhttp"
STAMPS = HERE / "_build"

VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
STDLIB_ZIP = f"python{sys.version_info.major}{sys.version_info.minor}.zip"
APP_ZIP = "gdhttp.zip"
NOTICES = "THIRD_PARTY_LICENSES.txt"  # not loaded; shipped beside the addon
LIBPYTHON = str(sysconfig.get_config_var("INSTSONAME"))
EXT_SUFFIX = str(sysconfig.get_config_var("EXT_SUFFIX"))
# Files the bridge checks before it starts Python (an incomplete copy then
# fails with one line instead of CPython's fatal error).
REQUIRED = (STDLIB_ZIP, APP_ZIP, "_cffi_backend" + EXT_SUFFIX)

# Standard library parts a game never uses (or that need libraries we do not ship).
_SKIP_DIRS = {
    "test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "ensurepip",
    "lib2to3", "pydoc_data", "site-packages", "lib-dynload", "__pycache__", "venv",
    "distutils", "sqlite3", "curses", "dbm",
}  # fmt: skip
_SKIP_FILES = {"turtle.py", "antigravity.py", "this.py"}
_SKIP_EXT = re.compile(
    r"^(_test|_ctypes_test|_xx|xx|_tkinter|_curses|readline|nis|_crypt|spwd|ossaudiodev|"
    r"_sqlite3|_dbm|_gdbm)"
)
# Libraries every glibc system has; everything else an extension needs is shipped.
_SYSTEM_LIBS = re.compile(r"^(linux-vdso|ld-linux|libc\.|libm\.|libpthread\.|libdl\.|librt\.)")

# Two-second zip timestamps start in 1980; a fixed one keeps archives reproducible.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def build_paths() -> list[str]:
    """Absolute paths of this machine that must not appear in the shipped files."""
    paths = {
        str(REPO), sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
        os.path.realpath(sys.base_prefix),
    }  # fmt: skip
    home = os.environ.get("HOME", "")
    if len(home) > 1:
        paths.add(home)
    return sorted((p for p in paths if p and p != "/"), key=len, reverse=True)


def find_build_paths(root: Path) -> list[tuple[str, str]]:
    """(file, path) for every build path found in a file under root, zips opened."""
    needles = [p.encode() for p in build_paths()]
    found: list[tuple[str, str]] = []

    def scan(name: str, data: bytes) -> None:
        for n in needles:
            if n in data:
                found.append((name, n.decode()))

    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        data = f.read_bytes()
        scan(str(f.relative_to(root)), data)
        if f.suffix == ".zip":
            with zipfile.ZipFile(f) as z:
                for info in z.infolist():
                    scan(f"{f.relative_to(root)}:{info.filename}", z.read(info))
    return found


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def _zip_write(z: zipfile.ZipFile, name: str, data: bytes) -> None:
    # Stored, not deflated: every import at engine start skips an inflate (measured
    # about 10% of the addon's start time); the addon archive compresses them anyway.
    info = zipfile.ZipInfo(name, _ZIP_TIME)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    z.writestr(info, data)


def _compile(source: Path, dfile: str, tmp: Path) -> bytes:
    # Unchecked hash-based .pyc: zipimport never compares it with a source (it
    # cannot write a cache anyway), and dfile is the name tracebacks show.
    out = tmp / "c.pyc"
    py_compile.compile(
        str(source), cfile=str(out), dfile=dfile, doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )  # fmt: skip
    return out.read_bytes()


def _stdlib_files(stdlib: Path) -> Iterator[tuple[Path, str]]:
    for dirpath, dirnames, filenames in os.walk(stdlib):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and "-" not in d)
        for name in sorted(filenames):
            if name.endswith(".py") and name not in _SKIP_FILES:
                path = Path(dirpath) / name
                if not name.startswith("_sysconfigdata"):
                    yield path, path.relative_to(stdlib).as_posix()


def _sysconfigdata() -> tuple[str, str]:
    """A copy of ``_sysconfigdata_*.py`` without the variables naming build paths."""
    name = sysconfig._get_sysconfigdata_name()  # type: ignore[attr-defined]
    module = __import__(name)
    needles = build_paths()
    keep = {
        k: v
        for k, v in module.build_time_vars.items()
        if not (isinstance(v, str) and any(n in v for n in needles))
    }
    text = (
        "# Build-time variables of the bundled CPython; path-valued ones are dropped\n"
        "# because they named the build machine.\n"
        f"build_time_vars = {keep!r}\n"
    )
    return name + ".py", text


def write_stdlib_zip(dest: Path) -> None:
    stdlib = Path(sysconfig.get_path("stdlib"))
    tag = STDLIB_ZIP
    staged = dest.with_name(dest.name + ".tmp")
    with tempfile.TemporaryDirectory() as tmp_s, zipfile.ZipFile(staged, "w") as z:
        tmp = Path(tmp_s)
        for path, rel in _stdlib_files(stdlib):
            _zip_write(z, rel + "c", _compile(path, f"{tag}/{rel}", tmp))
        name, text = _sysconfigdata()
        src = tmp / name
        src.write_text(text)
        _zip_write(z, name + "c", _compile(src, f"{tag}/{name}", tmp))
    os.replace(staged, dest)


def _runtime_distributions() -> list[importlib.metadata.Distribution]:
    """gdhttp's unconditional requirements, transitively (extras excluded)."""
    out: dict[str, importlib.metadata.Distribution] = {}
    todo = list(_requirements("gdhttp"))
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in out:
            continue
        dist = importlib.metadata.distribution(name)
        out[key] = dist
        todo.extend(_requirements(name))
    return [out[k] for k in sorted(out)]


def _requirements(name: str) -> Iterator[str]:
    for req in importlib.metadata.requires(name) or []:
        if ";" in req:
            continue  # extras and environment-specific requirements
        m = re.match(r"[A-Za-z0-9_.\-]+", req)
        if m:
            yield m.group(0)


def app_sources() -> list[tuple[Path, str]]:
    """(file, name in gdhttp.zip) for gdhttp and its runtime requirements' Python files."""
    files = [
        (p, p.relative_to(SRC).as_posix())
        for p in sorted(PACKAGE.rglob("*"))
        if p.is_file() and p.suffix in (".py", ".typed")
        and "_build" not in p.parts and "__pycache__" not in p.parts
    ]  # fmt: skip
    for dist in _runtime_distributions():
        for f in dist.files or []:
            if f.suffix == ".py" and ".dist-info" not in str(f) and "__pycache__" not in f.parts:
                files.append((Path(str(f.locate())), f.as_posix()))
    return files


def app_extensions() -> list[Path]:
    """Extension modules of gdhttp's runtime requirements (``_cffi_backend``)."""
    out = []
    for dist in _runtime_distributions():
        for f in dist.files or []:
            if f.name.endswith(".so"):
                out.append(Path(str(f.locate())))
    return out


def write_app_zip(dest: Path) -> None:
    staged = dest.with_name(dest.name + ".tmp")
    with tempfile.TemporaryDirectory() as tmp_s, zipfile.ZipFile(staged, "w") as z:
        tmp = Path(tmp_s)
        for path, rel in app_sources():
            _zip_write(z, rel, path.read_bytes())
            if rel.endswith(".py"):
                _zip_write(z, rel + "c", _compile(path, f"{APP_ZIP}/{rel}", tmp))
    os.replace(staged, dest)


def _needed(binary: Path) -> list[tuple[str, str]]:
    """(soname, resolved path) of the non-system libraries a binary loads."""
    out = []
    for line in _run("ldd", str(binary)).splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m and not _SYSTEM_LIBS.match(m.group(1)):
            out.append((m.group(1), m.group(2)))
    return out


def _neutralise_prefix(data: bytes) -> bytes:
    """Overwrite build paths inside libpython's string literals, same length.

    Only the directory part is replaced; the last component (e.g. ``3.11.7``)
    is kept, because the linker may share a literal's tail with another
    string. With ``home`` and ``module_search_paths`` set, CPython never reads
    these fallback values.
    """
    for path in build_paths():
        needle = path.encode()
        keep = len(needle) - len(needle.rsplit(b"/", 1)[-1])
        filler = (b"/" + b"gdhttp-unused-prefix-" * 8)[: keep - 1] + b"/"
        data = data.replace(needle, filler + needle[keep:])
    return data


def _install_binary(src: Path, dest: Path, patch: bool = False) -> None:
    staged = dest.with_name(dest.name + ".tmp")
    shutil.copyfile(src, staged)
    staged.chmod(0o755)
    _run("strip", "--strip-unneeded", str(staged))
    _run("patchelf", "--set-rpath", "$ORIGIN", str(staged))
    if patch:
        staged.write_bytes(_neutralise_prefix(staged.read_bytes()))
    # A new inode: an engine that has the old file mapped keeps working.
    os.replace(staged, dest)


def write_native(bin_dir: Path) -> list[str]:
    """libpython, the extension modules and their libraries into bin_dir; their names."""
    names: list[str] = []
    libdir = Path(str(sysconfig.get_config_var("LIBDIR")))
    _install_binary(libdir / LIBPYTHON, bin_dir / LIBPYTHON, patch=True)
    names.append(LIBPYTHON)
    dynload = Path(str(sysconfig.get_config_var("DESTSHARED")))
    exts = [p for p in sorted(dynload.glob("*.so")) if not _SKIP_EXT.match(p.name)]
    libs: dict[str, str] = {}
    for ext in [*exts, *app_extensions()]:
        _install_binary(ext, bin_dir / ext.name)
        names.append(ext.name)
        libs.update(_needed(ext))
    for soname, path in sorted(libs.items()):
        if soname == LIBPYTHON:
            continue
        _install_binary(Path(path), bin_dir / soname)
        names.append(soname)
        for dep, dep_path in _needed(Path(path)):
            if dep not in libs and dep not in names:
                _install_binary(Path(dep_path), bin_dir / dep)
                names.append(dep)
    return names


def third_party_notices(libs: Iterable[str]) -> str:
    """License texts of CPython and of the Debian libraries shipped in bin/."""
    parts = []
    lic = Path(sysconfig.get_path("stdlib")) / "LICENSE.txt"
    if lic.exists():
        parts.append(f"==== CPython {sys.version.split()[0]} ====\n\n{lic.read_text()}")
    for soname in libs:
        try:
            owner = _run("dpkg", "-S", soname).split(":", 1)[0]
        except (OSError, subprocess.CalledProcessError):
            continue
        copyright_file = Path("/usr/share/doc") / owner / "copyright"
        if copyright_file.exists():
            parts.append(f"==== {soname} (Debian package {owner}) ====\n\n"
                         + copyright_file.read_text(errors="replace"))  # fmt: skip
    return "\n\n".join(parts)


def runtime_key() -> dict[str, str]:
    """What the native part of the runtime depends on; a change rebuilds it."""
    bundle_mtime = str(Path(__file__).stat().st_mtime_ns)
    return {"python": sys.version, "base_prefix": sys.base_prefix, "bundle": bundle_mtime}


def _stamp(name: str) -> Path:
    return STAMPS / f"{name}.json"


def ensure_runtime(bin_dir: Path, force: bool = False) -> list[str]:
    """The native runtime and the stdlib zip (slow, rebuilt only when the key changed)."""
    stamp = _stamp("runtime")
    key = runtime_key()
    if not force and stamp.exists() and (bin_dir / STDLIB_ZIP).exists():
        try:
            saved = json.loads(stamp.read_text())
        except ValueError:
            saved = {}
        files = saved.get("files", [])
        if saved.get("key") == key and all((bin_dir / f).exists() for f in files):
            return list(files)
    print("build: assembling the Python runtime (first build takes a minute)")
    bin_dir.mkdir(parents=True, exist_ok=True)
    natives = write_native(bin_dir)
    write_stdlib_zip(bin_dir / STDLIB_ZIP)
    # libpython is CPython's (its license comes first), not the Debian package's.
    notices = third_party_notices(n for n in natives if n.startswith("lib") and n != LIBPYTHON)
    (bin_dir / NOTICES).write_text(notices)
    files = [*natives, STDLIB_ZIP]
    STAMPS.mkdir(exist_ok=True)
    stamp.write_text(json.dumps({"key": key, "files": files}, indent=1))
    return files


def ensure_app_zip(bin_dir: Path, force: bool = False) -> bool:
    """gdhttp.zip, rebuilt when any packaged source is newer or the file set changed."""
    dest = bin_dir / APP_ZIP
    sources = app_sources()
    names = sorted(rel for _, rel in sources)
    stamp = _stamp("app")
    if not force and dest.exists() and stamp.exists():
        built = dest.stat().st_mtime_ns
        try:
            saved = json.loads(stamp.read_text())
        except ValueError:
            saved = None
        if saved == names and all(p.stat().st_mtime_ns < built for p, _ in sources):
            return False
    write_app_zip(dest)
    STAMPS.mkdir(exist_ok=True)
    stamp.write_text(json.dumps(names))
    return True


def gdnlib_text(runtime_files: Iterable[str]) -> str:
    deps = ", ".join(f'"res://addons/gdhttp/bin/{f}"' for f in sorted(runtime_files))
    return (
        "[general]\n\nsingleton=false\nload_once=true\nsymbol_prefix=\"godot_\"\n"
        "reloadable=false\n\n[entry]\n\n"
        'Server.64="res://addons/gdhttp/bin/libgdhttp.so"\n'
        'X11.64="res://addons/gdhttp/bin/libgdhttp.so"\n\n[dependencies]\n\n'
        f"Server.64=[ {deps} ]\nX11.64=[ {deps} ]\n"
    )
