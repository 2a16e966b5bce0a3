"""The shippable addon: ``python -m gdhttp.addon build`` and ``install PROJECT``.

``build`` (``make addon``) writes ``dist/gdhttp-<version>-linux-x86_64.zip``,
laid out like a Godot Asset Library download: ``addons/gdhttp/`` at its root,
with the bridge and its own CPython runtime in ``addons/gdhttp/bin/``, plus
``LICENSE``.

``install PROJECT`` puts that addon into a Godot project (replacing an older
copy), enables the editor plugin and, for projects never opened in the editor,
declares gdhttp's class names (``gdhttp.project_file``). The archive comes
from ``--archive``, else from the checkout's ``dist/``, else it is built on the
spot (in a checkout).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from gdhttp import __version__, project_file
from gdhttp.gdnative import bundle

SRC = Path(__file__).resolve().parent.parent
REPO = SRC.parent
ADDON_DIR = "addons/gdhttp"
PLATFORM = "linux-x86_64"
ARCHIVE_NAME = f"gdhttp-{__version__}-{PLATFORM}.zip"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class AddonError(Exception):
    """A problem the command reports in one line (exit code 1)."""


def in_checkout() -> bool:
    return (REPO / "pyproject.toml").exists() and (REPO / ADDON_DIR / "plugin.cfg").exists()


def _add(z: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, _ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o755 if executable else 0o644) << 16
    z.writestr(info, data, compresslevel=9)


def archive_members() -> list[tuple[str, Path]]:
    """(name in the archive, file) for everything the addon ships; builds bin/ first."""
    from gdhttp.gdnative import build

    build.build()
    addon = REPO / ADDON_DIR
    members = [
        (f"{ADDON_DIR}/{p.relative_to(addon).as_posix()}", p)
        for p in sorted(addon.rglob("*"))
        if p.is_file() and "bin" not in p.relative_to(addon).parts
    ]
    bin_dir = build.OUT.parent
    for name in ["libgdhttp.so", *build.runtime_files()]:
        members.append((f"{ADDON_DIR}/bin/{name}", bin_dir / name))
    notices = bin_dir / bundle.NOTICES
    if notices.exists():
        members.append((f"{ADDON_DIR}/{bundle.NOTICES}", notices))
    members.append(("LICENSE", REPO / "LICENSE"))
    return members


def make_archive(dist: Path | None = None) -> Path:
    """Write the one archive into dist/ (older gdhttp archives there are removed)."""
    if not in_checkout():
        raise AddonError("building the addon needs the gdhttp source checkout (make addon)")
    dist = dist or REPO / "dist"
    dist.mkdir(parents=True, exist_ok=True)
    out = dist / ARCHIVE_NAME
    staged = out.with_name(out.name + ".tmp")
    members = archive_members()
    with tempfile.TemporaryDirectory() as tmp:
        # The shipped bytes must not name this machine; checked, not assumed.
        for name, path in members:
            (Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(tmp) / name)
        leaks = bundle.find_build_paths(Path(tmp))
    if leaks:
        raise AddonError(f"build-machine paths in the addon: {leaks[:5]}")
    with zipfile.ZipFile(staged, "w") as z:
        for name, path in members:
            _add(z, name, path.read_bytes(), executable=".so" in path.name)
    for old in dist.glob(f"gdhttp-*-{PLATFORM}.zip"):
        old.unlink()
    staged.replace(out)
    return out


def find_archive(explicit: Path | None) -> Path:
    if explicit is not None:
        if not explicit.is_file():
            raise AddonError(f"archive not found: {explicit}")
        return explicit
    if in_checkout():
        candidate = REPO / "dist" / ARCHIVE_NAME
        return candidate if candidate.is_file() else make_archive()
    raise AddonError("no addon archive: pass --archive gdhttp-<version>-linux-x86_64.zip")


def install(project: Path, archive: Path | None = None, enable: bool = True) -> Path:
    """Unpack the addon into project/addons/gdhttp; the installed folder."""
    godot = project / "project.godot"
    if not godot.is_file():
        raise AddonError(f"not a Godot project (no project.godot): {project}")
    source = find_archive(archive)
    target = project / ADDON_DIR
    with zipfile.ZipFile(source) as z, tempfile.TemporaryDirectory(dir=project) as tmp:
        names = [n for n in z.namelist() if n.startswith(ADDON_DIR + "/") and ".." not in n]
        if f"{ADDON_DIR}/gdhttp.gdnlib" not in names:
            raise AddonError(f"{source} is not a gdhttp addon archive")
        for n in names:
            z.extract(n, tmp)
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(Path(tmp) / ADDON_DIR), target)
    if enable:
        try:
            godot.write_text(project_file.register(godot.read_text()))
        except project_file.ProjectFileError as exc:
            raise AddonError(f"{godot}: {exc}") from None
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gdhttp.addon",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write dist/" + ARCHIVE_NAME)
    b.add_argument("--dist", type=Path, default=None, help="output folder (default: dist/)")
    i = sub.add_parser("install", help="install the addon into a Godot project")
    i.add_argument("project", type=Path, help="the folder holding project.godot")
    i.add_argument("--archive", type=Path, default=None, help="the addon archive to install")
    i.add_argument("--no-enable", action="store_true", help="leave project.godot unchanged")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            out = make_archive(args.dist)
            print(f"addon: wrote {out} ({out.stat().st_size / 2**20:.1f} MiB)")
        else:
            target = install(args.project, args.archive, enable=not args.no_enable)
            print(f"addon: installed {target}")
    except (AddonError, OSError, zipfile.BadZipFile) as exc:
        print(f"addon: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
